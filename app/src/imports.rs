//! Bulk imports on the web (Administrator only): a ZIP of a CSV and its photos uploaded as a
//! plain multipart form (it works without JavaScript: the server answers with the import's
//! page, or with the Imports page saying why the ZIP was refused), the latest imports, and an
//! import's page with its live progress and the rows it refused. The import itself runs in
//! the server's background (`engine::imports`).

#[cfg(feature = "ssr")]
use crate::auth::Permission;
use crate::error::AppResult;
use crate::site::PageTitle;
pub use domain::imports::{Import, ImportState, Refusal};
use leptos::prelude::*;
use leptos_router::hooks::{use_params_map, use_query_map};
use serde::{Deserialize, Serialize};
use server_fn::codec::{MultipartData, MultipartFormData};

/// Imports a ZIP of people: a CSV (columns `name`, and optionally `external_key`, `comment`,
/// `active`, `lists`, `meta`, `meta.<field>`, `photos`) with the photos its `photos` column
/// names. Multipart fields: `file` (the ZIP), `create_lists` (`true` to create the lists the
/// rows name that do not exist), `list` (a list every row joins). Answers the queued import
/// (or the one already importing the same CSV); a browser's form is sent to its page instead
/// (the answer is then `null`). Administrator only.
#[server(prefix = "/api", endpoint = "imports/upload", input = MultipartFormData)]
pub async fn upload_import(data: MultipartData) -> AppResult<Option<Import>> {
    let (state, user) = crate::caller::require(Permission::Admin, "import dossiers").await?;
    let from_page = crate::caller::from_page()?;
    let actor = crate::caller::actor(&user)?;
    let received = receive::upload(&state.imports, data, actor).await;
    if from_page {
        match received {
            Ok((id, already)) => {
                let done = if already {
                    "import-running"
                } else {
                    "import-queued"
                };
                crate::notice::redirect(&format!("/imports/{id}"), done);
            }
            Err(e) => {
                let kept = state.imports.refused.keep(user.id, e.to_string());
                leptos_axum::redirect(&format!("/imports?refused={kept}"));
            }
        }
        return Ok(None);
    }
    let (id, _) = received?;
    Ok(Some(engine::imports::record::get(&state.pool, id).await?))
}

/// The latest imports, newest first, and (for the page a refused upload was sent back to)
/// why it was refused.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ImportsView {
    pub imports: Vec<Import>,
    pub refused: Option<String>,
}

/// The 50 latest imports; `refused` is the key a refused upload from the page was given.
/// Administrator only.
#[server(prefix = "/api", endpoint = "imports/list", input_derive = (Clone, serde::Serialize, serde::Deserialize, utoipa::ToSchema))]
pub async fn list_imports(#[server(default)] refused: String) -> AppResult<ImportsView> {
    let (state, user) = crate::caller::require(Permission::Admin, "see imports").await?;
    let refused = (!refused.is_empty())
        .then(|| state.imports.refused.get(user.id, &refused))
        .flatten()
        .map(|why| why.as_ref().clone());
    Ok(ImportsView {
        imports: engine::imports::record::latest(&state.pool, 50).await?,
        refused,
    })
}

/// One import, with its counts so far. Administrator only.
#[server(prefix = "/api", endpoint = "imports/get", input_derive = (Clone, serde::Serialize, serde::Deserialize, utoipa::ToSchema))]
pub async fn get_import(id: i64) -> AppResult<Import> {
    let (state, _) = crate::caller::require(Permission::Admin, "see imports").await?;
    Ok(engine::imports::record::get(&state.pool, id).await?)
}

/// The first 100 rows an import refused, in the file's order; the whole report is
/// `/imports/{id}/report.csv`. Administrator only.
#[server(prefix = "/api", endpoint = "imports/refusals", input_derive = (Clone, serde::Serialize, serde::Deserialize, utoipa::ToSchema))]
pub async fn import_refusals(id: i64) -> AppResult<Vec<Refusal>> {
    let (state, _) = crate::caller::require(Permission::Admin, "see imports").await?;
    engine::imports::record::get(&state.pool, id).await?;
    Ok(engine::imports::record::refusals(&state.pool, id, 100).await?)
}

#[cfg(feature = "ssr")]
mod receive {
    //! An upload's multipart fields: the ZIP streamed to `IMPORT_DIR` as it comes, the options
    //! read as text.

    use crate::error::AppResult;
    use crate::multipart::malformed;
    use domain::audit::Actor;
    use domain::imports::ImportOptions;
    use domain::Error;
    use engine::imports::Imports;
    use server_fn::codec::MultipartData;

    fn flag(text: &str) -> Result<bool, Error> {
        domain::input::Flag::parse(text.trim())
            .map(|f| f.0)
            .ok_or_else(|| {
                Error::invalid(
                    "create_lists",
                    format!("must be true or false, got {:?}", text.trim()),
                )
            })
    }

    pub async fn upload(
        imports: &Imports,
        data: MultipartData,
        actor: Actor,
    ) -> AppResult<(i64, bool)> {
        let mut multipart = data.into_inner().ok_or_else(Error::internal)?;
        let (mut file, mut name) = (None, String::new());
        let (mut create_lists, mut list) = (String::new(), String::new());
        let outcome: AppResult<()> = async {
            while let Some(mut field) = multipart.next_field().await.map_err(malformed)? {
                match field.name().unwrap_or_default() {
                    "file" if file.is_none() => {
                        name = field.file_name().unwrap_or_default().to_string();
                        let mut part = imports.new_part().await?;
                        loop {
                            let chunk = match field.chunk().await {
                                Ok(Some(chunk)) => chunk,
                                Ok(None) => break,
                                Err(e) => {
                                    part.discard();
                                    return Err(malformed(e).into());
                                }
                            };
                            if let Err(e) = part.write(&chunk).await {
                                part.discard();
                                return Err(e.into());
                            }
                        }
                        file = Some(part.finish().await?);
                    }
                    "create_lists" => create_lists = field.text().await.map_err(malformed)?,
                    "list" => list = field.text().await.map_err(malformed)?,
                    _ => {}
                }
            }
            Ok(())
        }
        .await;
        let discard = |file: &Option<(std::path::PathBuf, u64)>| {
            if let Some((path, _)) = file {
                let _ = std::fs::remove_file(path);
            }
        };
        let options = outcome.and_then(|()| {
            let create = flag(&create_lists)?;
            Ok(ImportOptions::parse(create, &list)?)
        });
        let options = match (options, &file) {
            (Ok(_), None) | (Ok(_), Some((_, 0))) => {
                discard(&file);
                return Err(Error::invalid("file", "choose the ZIP to import").into());
            }
            (Ok(options), Some(_)) => options,
            (Err(e), _) => {
                discard(&file);
                return Err(e);
            }
        };
        let (path, _) = file.ok_or_else(Error::internal)?;
        let name = std::path::Path::new(&name)
            .file_name()
            .map(|n| n.to_string_lossy().chars().take(200).collect::<String>())
            .filter(|n| !n.trim().is_empty())
            .unwrap_or_else(|| "upload.zip".into());
        Ok(imports.accept(path, name, actor, options).await?)
    }
}

#[component]
pub fn ImportsPage() -> impl IntoView {
    let query = use_query_map();
    let refused = query.with_untracked(|q| q.get("refused").unwrap_or_default());
    let view_data = Resource::new(move || refused.clone(), list_imports);
    view! {
        <section class="page">
            <PageTitle text="Imports" />
            <h1>"Imports"</h1>
            <Suspense fallback=|| view! { <p class="loading">"Loading imports…"</p> }>
                {move || Suspend::new(async move {
                    match view_data.await {
                        Err(e) => view! { <p class="form-error" role="alert">{e.to_string()}</p> }.into_any(),
                        Ok(data) => view! {
                            {data.refused.map(|why| view! { <p class="form-error" role="alert" data-testid="import-refused">{format!("The ZIP was not imported: {why}")}</p> })}
                            <UploadForm />
                            <ImportsTable imports=data.imports />
                        }.into_any(),
                    }
                })}
            </Suspense>
        </section>
    }
}

/// The upload: a plain multipart form.
#[component]
fn UploadForm() -> impl IntoView {
    view! {
        <form method="post" action="/api/imports/upload" enctype="multipart/form-data" class="card form" data-testid="import-form">
            <h2>"Import dossiers from a ZIP"</h2>
            <p class="hint">"The ZIP holds one CSV, a row per person, and the photos it names. Its first line names the columns: "
                <code>"name"</code> " (required), " <code>"external_key"</code> " (your id of the person: importing again updates that dossier instead of adding one), "
                <code>"comment"</code> ", " <code>"active"</code> ", " <code>"lists"</code> " (names, separated by ;), " <code>"meta"</code> " (a JSON object) or "
                <code>"meta.<field>"</code> " columns, and " <code>"photos"</code> " (file names in the ZIP, separated by ;)."</p>
            <label>"ZIP file" <input type="file" name="file" accept=".zip,application/zip" required /></label>
            <label class="check"><input type="checkbox" name="create_lists" value="true" /> " Create the lists the file names that do not exist (otherwise their rows are refused)"</label>
            <label>"Also add everyone to the list" <input name="list" placeholder="none (a list's name)" maxlength="256" /></label>
            <button type="submit" class="primary">"Import"</button>
            <p class="hint">"Rows that cannot be imported (no face in the photo, two faces, too small, unreadable, an unknown list…) are refused one by one, each with its line and reason in the import's report; the rest are imported."</p>
        </form>
    }
}

fn state_text(i: &Import) -> String {
    match (i.state, i.interrupted) {
        (ImportState::Running, true) => "interrupted".into(),
        (ImportState::Running, false) => match i.percent() {
            Some(p) => format!("running ({p}%)"),
            None => "running".into(),
        },
        (state, _) => state.label().into(),
    }
}

#[component]
fn ImportsTable(imports: Vec<Import>) -> impl IntoView {
    if imports.is_empty() {
        return view! { <p class="empty-state">"No imports yet."</p> }.into_any();
    }
    view! {
        <h2>"Latest imports"</h2>
        <table class="data-table" tabindex="0" data-testid="imports">
            <thead><tr>
                <th>"Import"</th><th>"File"</th><th>"By"</th><th>"Started"</th><th>"State"</th>
                <th class="num">"Created"</th><th class="num">"Updated"</th><th class="num">"Unchanged"</th><th class="num">"Refused"</th><th class="num">"Photos"</th>
            </tr></thead>
            <tbody>
                {imports.into_iter().map(|i| view! {
                    <tr>
                        <td><a href=format!("/imports/{}", i.id)>{format!("#{}", i.id)}</a></td>
                        <td>{i.file_name.clone()}</td>
                        <td>{i.started_by.clone()}</td>
                        <td>{i.started_at.format("%Y-%m-%d %H:%M UTC").to_string()}</td>
                        <td>{state_text(&i)}</td>
                        <td class="num">{i.created}</td>
                        <td class="num">{i.updated}</td>
                        <td class="num">{i.unchanged}</td>
                        <td class="num">{i.refused}</td>
                        <td class="num">{i.photos}</td>
                    </tr>
                }).collect_view()}
            </tbody>
        </table>
    }
    .into_any()
}

#[component]
pub fn ImportPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.with(|p| p.get("id").and_then(|v| v.parse::<i64>().ok()));
    let import = Resource::new(id, |id| async move {
        match id {
            Some(id) => get_import(id).await,
            None => Err(domain::Error::not_found("no such import").into()),
        }
    });
    let refusals = Resource::new(id, |id| async move {
        match id {
            Some(id) => import_refusals(id).await,
            None => Ok(Vec::new()),
        }
    });
    view! {
        <section class="page">
            <Suspense fallback=|| view! { <p class="loading">"Loading the import…"</p> }>
                {move || Suspend::new(async move {
                    let import = match import.await {
                        Ok(import) => import,
                        Err(e) => return view! { <PageTitle text="Import" /><p class="form-error" role="alert">{e.to_string()}</p> }.into_any(),
                    };
                    let refusals = refusals.await.unwrap_or_default();
                    view! {
                        <PageTitle text=format!("Import {}", import.id) />
                        <h1>{format!("Import #{} · {}", import.id, import.file_name)}</h1>
                        <p class="hint">{format!("Started by {} at {}.", import.started_by, import.started_at.format("%Y-%m-%d %H:%M UTC"))}</p>
                        <LiveImport import=import.clone() />
                        <Refusals import refusals />
                        <p><a href="/imports">"All imports"</a></p>
                    }.into_any()
                })}
            </Suspense>
        </section>
    }
}

/// An import's state and counts; while it runs, asked for again every second, and the page
/// reloaded when it ends (to show its report).
#[island]
fn LiveImport(import: Import) -> impl IntoView {
    let import = RwSignal::new(import);
    #[cfg(feature = "hydrate")]
    {
        let id = import.with_untracked(|i| i.id);
        let handle = set_interval_with_handle(
            move || {
                if import.with_untracked(|i| i.finished() || i.interrupted) {
                    return;
                }
                leptos::task::spawn_local(async move {
                    match get_import(id).await {
                        Ok(now) if now.finished() => {
                            let _ = window().location().reload();
                        }
                        Ok(now) => import.set(now),
                        // A failed poll is tried again on the next tick.
                        Err(_) => {}
                    }
                });
            },
            std::time::Duration::from_secs(1),
        );
        if let Ok(handle) = handle {
            on_cleanup(move || handle.clear());
        }
    }
    move || {
        let i = import.get();
        let total = i.rows_total.unwrap_or(0);
        let running =
            matches!(i.state, ImportState::Queued | ImportState::Running) && !i.interrupted;
        view! {
            <div class="card" data-testid="import-state" data-state=i.state.label()>
                <p><strong>{state_text(&i)}</strong>
                    {i.rows_total.map(|t| format!(" · {} of {t} rows read", i.rows_done))}</p>
                {running.then(|| view! { <progress max=total.max(1) value=i.rows_done aria-label="Rows read"></progress> })}
                {i.interrupted.then(|| view! { <p class="hint">"Nobody is running this import now (its process stopped). An upload goes on when the server starts again; a command-line import when the same command is run again."</p> })}
                {i.error.clone().map(|e| view! { <p class="form-error" role="alert">{format!("The file could not be imported, and nothing of it was: {e}")}</p> })}
                <dl class="counts" data-testid="import-counts">
                    <dt>"Created"</dt><dd>{i.created}</dd>
                    <dt>"Updated"</dt><dd>{i.updated}</dd>
                    <dt>"Unchanged"</dt><dd>{i.unchanged}</dd>
                    <dt>"Refused"</dt><dd data-testid="refused-count">{i.refused}</dd>
                    <dt>"Photos added"</dt><dd>{i.photos}</dd>
                </dl>
                {(!i.lists_created.is_empty()).then(|| view! { <p>{format!("Lists created: {}.", i.lists_created.join(", "))}</p> })}
                {running.then(|| view! { <p class="hint"><a href=format!("/imports/{}", i.id)>"Refresh"</a> " (this page follows the import by itself once its script has loaded)"</p> })}
            </div>
        }
    }
}

#[component]
fn Refusals(import: Import, refusals: Vec<Refusal>) -> impl IntoView {
    if import.refused == 0 {
        return view! { <p class="empty-state">"No row refused so far."</p> }.into_any();
    }
    let report = format!("/imports/{}/report.csv", import.id);
    let shown = if import.refused as usize > refusals.len() {
        format!(
            "The first {} of {} refused rows:",
            refusals.len(),
            import.refused
        )
    } else {
        format!("{} refused rows:", import.refused)
    };
    view! {
        <h2>"Refused rows"</h2>
        <p><a href=report download data-testid="import-report">"Download the report (CSV)"</a> " · " {shown}</p>
        <table class="data-table" tabindex="0" data-testid="refusals">
            <thead><tr><th class="num">"Line"</th><th>"External key"</th><th>"Name"</th><th>"Reason"</th></tr></thead>
            <tbody>
                {refusals.into_iter().map(|r| view! {
                    <tr>
                        <td class="num">{r.line}</td>
                        <td>{r.external_key.unwrap_or_default()}</td>
                        <td>{r.name.unwrap_or_default()}</td>
                        <td>{r.reason}</td>
                    </tr>
                }).collect_view()}
            </tbody>
        </table>
    }
    .into_any()
}
