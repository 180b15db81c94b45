//! The reference as a page people read: every endpoint by tag, with who may call it, its
//! arguments and its answer, then the schemas. Rendered once from the OpenAPI document, so the
//! page and the JSON never disagree. Plain HTML with the site's stylesheet; Leptos escapes
//! every text.

use leptos::prelude::*;
use utoipa::openapi::{
    path::{Operation, PathItem},
    schema::{ArrayItems, Schema, SchemaType},
    OpenApi, RefOr,
};

pub fn render(doc: &OpenApi) -> String {
    let title = format!("{} {} — API reference", doc.info.title, doc.info.version);
    let tags = doc.tags.clone().unwrap_or_default();
    let sections = tags
        .into_iter()
        .map(|tag| {
            let operations = operations(doc)
                .filter(|(_, _, op)| op.tags.as_ref().is_some_and(|t| t.contains(&tag.name)))
                .map(|(method, path, op)| operation_view(doc, method, path, op))
                .collect_view();
            let id = format!("tag-{}", tag.name);
            view! {
                <section class="api-tag">
                    <h2 id=id>{tag.name.clone()}</h2>
                    <p>{prose(&tag.description.clone().unwrap_or_default())}</p>
                    {operations}
                </section>
            }
        })
        .collect_view();
    let contents = doc
        .tags
        .iter()
        .flatten()
        .map(|tag| {
            let href = format!("#tag-{}", tag.name);
            view! { <li><a href=href>{tag.name.clone()}</a></li> }
        })
        .collect_view();
    let schemas = doc
        .components
        .iter()
        .flat_map(|c| c.schemas.iter())
        .map(|(name, schema)| schema_view(doc, name, schema))
        .collect_view();
    let overview = doc
        .info
        .description
        .iter()
        .flat_map(|text| text.split("\n\n"))
        .map(|paragraph| view! { <p>{prose(paragraph)}</p> })
        .collect_view();
    let body = view! {
        <header class="topbar"><a class="brand" href="/">"Dossier database"</a></header>
        <main class="page api-docs">
            <p><a href="/" data-testid="back-to-app">"← Back to the app"</a></p>
            <h1>{title.clone()}</h1>
            {overview}
            <p>
                "The same reference as an OpenAPI 3.1 document: "
                <a href="/api-docs/openapi.json">"/api-docs/openapi.json"</a>"."
            </p>
            <nav><ul>{contents}<li><a href="#schemas">"schemas"</a></li></ul></nav>
            {sections}
            <section class="api-schemas">
                <h2 id="schemas">"Schemas"</h2>
                {schemas}
            </section>
        </main>
    };
    let page = view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <title>{title}</title>
                <link rel="stylesheet" href="/pkg/dossier.css"/>
            </head>
            <body>{body}</body>
        </html>
    };
    page.to_html()
}

fn operations(doc: &OpenApi) -> impl Iterator<Item = (&'static str, &str, &Operation)> {
    doc.paths.paths.iter().flat_map(|(path, item)| {
        methods(item)
            .into_iter()
            .map(move |(method, op)| (method, path.as_str(), op))
    })
}

fn methods(item: &PathItem) -> Vec<(&'static str, &Operation)> {
    [
        ("GET", item.get.as_ref()),
        ("POST", item.post.as_ref()),
        ("PUT", item.put.as_ref()),
        ("DELETE", item.delete.as_ref()),
        ("PATCH", item.patch.as_ref()),
    ]
    .into_iter()
    .filter_map(|(method, op)| op.map(|op| (method, op)))
    .collect()
}

fn operation_view(
    doc: &OpenApi,
    method: &'static str,
    path: &str,
    op: &Operation,
) -> impl IntoView {
    let access = match op.security.as_deref() {
        None | Some([]) => "Anyone.".to_string(),
        Some(requirements) => {
            let names: Vec<String> = requirements
                .iter()
                .filter_map(|r| serde_json::to_value(r).ok())
                .filter_map(|v| v.as_object().and_then(|o| o.keys().next().cloned()))
                .collect();
            format!("Authenticate with: {}.", names.join(" or "))
        }
    };
    let parameters = op
        .parameters
        .iter()
        .flatten()
        .filter_map(|p| match p {
            RefOr::T(p) => Some(p),
            RefOr::Ref(_) => None,
        })
        .map(|p| {
            let kind = p.schema.as_ref().map(type_name).unwrap_or_default();
            let place = words(&p.parameter_in);
            view! {
                <tr>
                    <td><code>{p.name.clone()}</code></td>
                    <td>{kind}</td>
                    <td>{place}</td>
                    <td>{prose(&p.description.clone().unwrap_or_default())}</td>
                </tr>
            }
        })
        .collect_view();
    let body = op.request_body.as_ref().and_then(|body| match body {
        RefOr::T(body) => Some(body),
        RefOr::Ref(_) => None,
    });
    let body = body.map(|body| {
        let kinds: Vec<String> = body.content.keys().cloned().collect();
        let fields = body
            .content
            .values()
            .next()
            .and_then(content_schema)
            .map(|schema| fields_view(doc, schema));
        view! {
            <p>"Body (" {kinds.join(" or ")} "):"</p>
            {fields}
        }
    });
    let answers = op
        .responses
        .responses
        .iter()
        .map(|(status, response)| {
            let (description, kind) = match response {
                RefOr::T(r) => (
                    r.description.clone(),
                    r.content
                        .iter()
                        .next()
                        .map(|(media, c)| match content_schema(c) {
                            Some(s) => format!("{media}: {}", type_name(s)),
                            None => media.clone(),
                        })
                        .unwrap_or_default(),
                ),
                RefOr::Ref(r) => (r.ref_location.clone(), String::new()),
            };
            view! { <li><code>{status.clone()}</code>" " {prose(&description)} " " <em>{kind}</em></li> }
        })
        .collect_view();
    let id = op.operation_id.clone().unwrap_or_default();
    view! {
        <article class="card api-operation" id=id>
            <h3><code>{format!("{method} {path}")}</code></h3>
            <p>{prose(&op.description.clone().or_else(|| op.summary.clone()).unwrap_or_default())}</p>
            <p class="access">{access}</p>
            // Focusable: on a phone a table scrolls inside its box, and a keyboard must reach it.
            {(!op.parameters.as_ref().is_none_or(Vec::is_empty)).then(|| view! {
                <table class="data-table" tabindex="0"><thead><tr><th>"parameter"</th><th>"type"</th><th>"in"</th><th>"about"</th></tr></thead>
                <tbody>{parameters}</tbody></table>
            })}
            {body}
            <ul class="answers">{answers}</ul>
        </article>
    }
}

fn content_schema(content: &RefOr<utoipa::openapi::Content>) -> Option<&RefOr<Schema>> {
    match content {
        RefOr::T(content) => content.schema.as_ref(),
        RefOr::Ref(_) => None,
    }
}

/// The schema a reference names, from the document's components; any other schema as it is.
fn resolved<'a>(doc: &'a OpenApi, schema: &'a RefOr<Schema>) -> &'a RefOr<Schema> {
    let RefOr::Ref(reference) = schema else {
        return schema;
    };
    let name = reference
        .ref_location
        .rsplit('/')
        .next()
        .unwrap_or_default();
    doc.components
        .as_ref()
        .and_then(|c| c.schemas.get(name))
        .unwrap_or(schema)
}

/// An object's fields as a table (a reference to one is looked up); any other schema as its
/// type.
fn fields_view(doc: &OpenApi, schema: &RefOr<Schema>) -> AnyView {
    let RefOr::T(Schema::Object(object)) = resolved(doc, schema) else {
        return view! { <p>{type_name(schema)}</p> }.into_any();
    };
    if object.properties.is_empty() {
        return view! { <p>"No fields."</p> }.into_any();
    }
    let rows = object
        .properties
        .iter()
        .map(|(name, field)| {
            let required = if object.required.contains(name) {
                "required"
            } else {
                "optional"
            };
            view! {
                <tr>
                    <td><code>{name.clone()}</code></td>
                    <td>{type_name(field)}</td>
                    <td>{required}</td>
                    <td>{prose(&description(field))}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <table class="data-table" tabindex="0"><thead><tr><th>"field"</th><th>"type"</th><th>"required"</th><th>"about"</th></tr></thead>
        <tbody>{rows}</tbody></table>
    }
    .into_any()
}

fn schema_view(doc: &OpenApi, name: &str, schema: &RefOr<Schema>) -> impl IntoView {
    let id = format!("schema-{name}");
    view! {
        <article class="card api-schema" id=id>
            <h3><code>{name.to_string()}</code></h3>
            <p>{prose(&description(schema))}</p>
            {fields_view(doc, schema)}
        </article>
    }
}

/// The descriptions' Markdown as the page shows it: `code` in code type, the rest as text
/// (escaped, like every text of the page). Nothing else of Markdown is used in them.
fn prose(text: &str) -> impl IntoView {
    text.split('`')
        .enumerate()
        .map(|(i, part)| {
            if i % 2 == 1 {
                view! { <code>{part.to_string()}</code> }.into_any()
            } else {
                part.to_string().into_any()
            }
        })
        .collect_view()
}

fn description(schema: &RefOr<Schema>) -> String {
    match schema {
        RefOr::T(Schema::Object(o)) => o.description.clone(),
        RefOr::T(Schema::Array(a)) => a.description.clone(),
        RefOr::T(Schema::OneOf(o)) => o.description.clone(),
        RefOr::T(Schema::AllOf(o)) => o.description.clone(),
        RefOr::T(Schema::AnyOf(o)) => o.description.clone(),
        RefOr::Ref(r) => Some(r.description.clone()),
        _ => None,
    }
    .unwrap_or_default()
}

/// A schema's type in words: `integer`, `string or null`, `array of Dossier`…
fn type_name(schema: &RefOr<Schema>) -> String {
    match schema {
        RefOr::Ref(r) => r
            .ref_location
            .rsplit('/')
            .next()
            .unwrap_or_default()
            .to_string(),
        RefOr::T(Schema::Object(o)) => {
            let base = schema_type(&o.schema_type);
            if o.properties.is_empty() {
                base
            } else {
                format!(
                    "{base} {{{}}}",
                    o.properties.keys().cloned().collect::<Vec<_>>().join(", ")
                )
            }
        }
        RefOr::T(Schema::Array(a)) => {
            if !a.prefix_items.is_empty() {
                let items: Vec<String> = a
                    .prefix_items
                    .iter()
                    .map(|s| type_name(&RefOr::T(s.clone())))
                    .collect();
                return format!("[{}]", items.join(", "));
            }
            match &a.items {
                ArrayItems::RefOrSchema(item) => format!("array of {}", type_name(item)),
                _ => "array".into(),
            }
        }
        RefOr::T(Schema::OneOf(o)) => alternatives(&o.items),
        RefOr::T(Schema::AnyOf(o)) => alternatives(&o.items),
        RefOr::T(Schema::AllOf(o)) => alternatives(&o.items),
        _ => "any".into(),
    }
}

fn alternatives(items: &[RefOr<Schema>]) -> String {
    items.iter().map(type_name).collect::<Vec<_>>().join(" or ")
}

fn schema_type(kind: &SchemaType) -> String {
    match kind {
        SchemaType::Type(t) => words(t),
        SchemaType::Array(types) => types.iter().map(words).collect::<Vec<_>>().join(" or "),
        SchemaType::AnyValue => "any".into(),
    }
}

/// A unit enum of the document as the document spells it (`integer`, `path`…).
fn words<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}
