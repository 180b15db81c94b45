//! The audit log page (Administrator only): who changed what, from where and when, filtered by
//! actor, action or subject, newest first, keyset-paged through links so that it works without
//! JavaScript. The entries themselves are written by `engine::audit`.

#[cfg(feature = "ssr")]
use crate::auth::Permission;
use crate::error::AppResult;
pub use domain::audit::{AuditEntry, AuditPage, SUBJECT_KINDS};
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

/// A page of the audit log; every filter is optional (empty means any). `before` pages back
/// from an entry id; `limit` is 1 to 500 (50 when omitted).
#[server(prefix = "/api", endpoint = "audit/entries", input_derive = (Clone, serde::Serialize, serde::Deserialize, utoipa::ToSchema))]
pub async fn audit_entries(
    #[server(default)] actor: String,
    #[server(default)] action: String,
    #[server(default)] subject_kind: String,
    #[server(default)] subject_id: String,
    #[server(default)] before: Option<i64>,
    #[server(default)] limit: Option<i64>,
) -> AppResult<AuditPage> {
    let (state, _) = crate::caller::require(Permission::Admin, "read the audit log").await?;
    let filter = domain::audit::AuditFilter::parse(
        &actor,
        &action,
        &subject_kind,
        &subject_id,
        before,
        limit,
    )?;
    Ok(engine::audit::page(&state.pool, &filter).await?)
}

/// The filters as the page's address carries them.
#[derive(Clone, PartialEq, Default)]
struct Filters {
    actor: String,
    action: String,
    subject_kind: String,
    subject_id: String,
}

impl Filters {
    fn link(&self, before: Option<i64>) -> String {
        crate::forms::link(
            "/audit",
            &[
                ("actor", self.actor.clone()),
                ("action", self.action.clone()),
                ("subject_kind", self.subject_kind.clone()),
                ("subject_id", self.subject_id.clone()),
                ("before", before.map(|b| b.to_string()).unwrap_or_default()),
            ],
        )
    }

    fn any(&self) -> bool {
        [
            &self.actor,
            &self.action,
            &self.subject_kind,
            &self.subject_id,
        ]
        .iter()
        .any(|f| !f.is_empty())
    }
}

#[component]
pub fn AuditLogPage() -> impl IntoView {
    let query = use_query_map();
    let request = Memo::new(move |_| {
        query.with(|q| {
            let text = |k: &str| q.get(k).unwrap_or_default();
            (
                Filters {
                    actor: text("actor"),
                    action: text("action"),
                    subject_kind: text("subject_kind"),
                    subject_id: text("subject_id"),
                },
                q.get("before").and_then(|v| v.parse::<i64>().ok()),
            )
        })
    });
    let page = Resource::new(
        move || request.get(),
        |(f, before)| {
            audit_entries(
                f.actor,
                f.action,
                f.subject_kind,
                f.subject_id,
                before,
                None,
            )
        },
    );
    view! {
        <section class="page">
            <crate::site::PageTitle text="Audit log" />
            <h1>"Audit log"</h1>
            <Suspense fallback=|| view! { <p class="loading">"Loading the audit log…"</p> }>
                {move || Suspend::new(async move {
                    let (filters, before) = request.get();
                    let page = page.await;
                    view! {
                        <FilterForm filters=filters.clone() />
                        {match page {
                            Err(e) => view! { <p class="form-error" role="alert">{e.to_string()}</p> }.into_any(),
                            Ok(page) if page.entries.is_empty() => view! {
                                <p class="empty-state">{if before.is_some() { "No older entries." } else if filters.any() { "No entry matches these filters." } else { "Nothing has been recorded yet." }}</p>
                            }.into_any(),
                            Ok(page) => {
                                let older = page.next_before.map(|b| filters.link(Some(b)));
                                let newest = before.map(|_| filters.link(None));
                                view! {
                                    <EntryTable entries=page.entries />
                                    <nav class="pager" aria-label="More results">
                                        {newest.map(|href| view! { <a href=href>"« Newest"</a> })}
                                        {older.map(|href| view! { <a href=href rel="next">"Older entries »"</a> })}
                                    </nav>
                                }.into_any()
                            }
                        }}
                    }
                })}
            </Suspense>
        </section>
    }
}

/// A plain GET form: the filters become the page's address, so a filtered view can be shared.
#[component]
fn FilterForm(filters: Filters) -> impl IntoView {
    let kinds = SUBJECT_KINDS
        .iter()
        .map(|k| view! { <option value=*k selected=filters.subject_kind == *k>{k.replace('_', " ")}</option> })
        .collect_view();
    view! {
        <form method="get" action="/audit" class="card form inline-fields" data-testid="audit-filters">
            <label>"Who" <input name="actor" value=filters.actor.clone() placeholder="username" /></label>
            <label>"Action" <input name="action" value=filters.action.clone() placeholder="create, update, delete, login…" /></label>
            <label>"Subject"
                <select name="subject_kind">
                    <option value="">"any"</option>
                    {kinds}
                </select>
            </label>
            <label>"Subject id" <input name="subject_id" value=filters.subject_id.clone() inputmode="numeric" /></label>
            <button type="submit">"Filter"</button>
            {filters.any().then(|| view! { <a href="/audit">"Clear filters"</a> })}
        </form>
    }
}

#[component]
fn EntryTable(entries: Vec<AuditEntry>) -> impl IntoView {
    view! {
        <table class="data-table" tabindex="0" data-testid="audit-log">
            <thead><tr><th>"When"</th><th>"Who"</th><th>"From"</th><th>"Action"</th><th>"Subject"</th><th>"What changed"</th></tr></thead>
            <tbody>
                {entries.into_iter().map(|e| {
                    let subject = subject_view(&e);
                    view! {
                        <tr data-testid="audit-entry">
                            <td>{e.at.format("%Y-%m-%d %H:%M:%S UTC").to_string()}</td>
                            <td>{e.actor.clone()}</td>
                            <td>{e.address.clone().unwrap_or_else(|| "—".into())}</td>
                            <td data-testid="audit-action">{action_words(&e.action)}</td>
                            <td data-testid="audit-subject">{subject}</td>
                            <td><Changes entry=e /></td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
    }
}

/// "dossier 517 · Jane Roe", linked to the subject's page where it has one.
fn subject_view(e: &AuditEntry) -> AnyView {
    let kind = e.subject_kind.replace('_', " ");
    let Some(id) = e.subject_id.clone() else {
        return view! { <span>{kind}</span> }.into_any();
    };
    let page = match e.subject_kind.as_str() {
        "dossier" | "membership" => Some(format!("/dossiers/{id}")),
        "watch_list" => Some(format!("/watch-lists/{id}/edit")),
        _ => None,
    };
    let name = e
        .subject_name
        .clone()
        .map(|n| view! { " · " <strong>{n}</strong> });
    match page {
        Some(href) => view! { <a href=href>{format!("{kind} {id}")}</a>{name} }.into_any(),
        None => view! { <span>{format!("{kind} {id}")}</span>{name} }.into_any(),
    }
}

/// What an action is called in words.
fn action_words(action: &str) -> String {
    match action {
        "create" => "created".into(),
        "update" => "changed".into(),
        "delete" => "deleted".into(),
        "show_secret" => "secret shown".into(),
        "confirm" => "match confirmed".into(),
        "reject" => "marked not this person".into(),
        "withdraw_verdict" => "verdict withdrawn".into(),
        "login" => "logged in".into(),
        "logout" => "logged out".into(),
        "login_failed" => "login failed".into(),
        "login_refused" => "login refused".into(),
        other => other.replace('_', " "),
    }
}

/// Bookkeeping columns that entries written before they were left out may still carry.
const BOOKKEEPING: &[&str] = &["revision", "name_folded", "image_sha256", "face_box"];

/// Each changed field with its value before and after; or the entry's words.
#[component]
fn Changes(entry: AuditEntry) -> impl IntoView {
    let show = |v: Option<&serde_json::Value>| match v {
        None | Some(serde_json::Value::Null) => "—".to_string(),
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    };
    let fields: Vec<(String, String, String)> = entry
        .changes
        .as_object()
        .map(|map| {
            map.iter()
                .filter(|(field, _)| !BOOKKEEPING.contains(&field.as_str()))
                .map(|(field, change)| {
                    (
                        field.replace('_', " "),
                        show(change.get("before")),
                        show(change.get("after")),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    view! {
        {(!entry.summary.is_empty()).then(|| view! { <p>{entry.summary.clone()}</p> })}
        {(!fields.is_empty()).then(|| view! {
            <dl class="changes">
                {fields.into_iter().map(|(field, before, after)| view! {
                    <dt>{field}</dt>
                    <dd>{match entry.action.as_str() {
                        "create" => after,
                        "delete" => before,
                        _ => format!("{before} → {after}"),
                    }}</dd>
                }).collect_view()}
            </dl>
        })}
    }
}
