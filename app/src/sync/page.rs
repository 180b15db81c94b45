//! The Replication screen (Administrator): replicas with their state, live progress, last
//! success and error, next runs and history; creating one from a Leader's lists; "sync now";
//! cancelling. Hidden with `SYNC_WEB_UI=false` (the `/sync/` API works either way).

use super::{RemoteList, Replica, SyncRun};
use crate::error::{AppError, AppResult};
use crate::forms::{last_error, FieldError, FormError};
use chrono::{DateTime, Utc};
use leptos::prelude::*;
use leptos_router::hooks::{use_params_map, use_query_map};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReplicaView {
    pub replica: Replica,
    /// The next five times the schedule gives (the replica may also run sooner: "sync now",
    /// a retry after a failure).
    pub next_runs: Vec<DateTime<Utc>>,
    pub history: Vec<SyncRun>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReplicationStatus {
    pub web_ui: bool,
    pub token_set: bool,
    pub schedule: String,
    pub replicas: Vec<ReplicaView>,
    /// Local lists that could become replicas: empty and not replicas already.
    pub empty_lists: Vec<(i64, String)>,
}

#[server(prefix = "/api", endpoint = "replication/overview")]
pub async fn replication_overview() -> AppResult<ReplicationStatus> {
    let (state, _) =
        crate::auth::ssr::require(crate::auth::Permission::Admin, "manage replication").await?;
    let now = Utc::now();
    let mut replicas = Vec::new();
    for replica in super::subscriber::replicas(&state.pool).await? {
        let history = super::subscriber::history(&state.pool, replica.id, 10).await?;
        replicas.push(ReplicaView {
            next_runs: state.settings.sync.schedule.next_runs(now, 5),
            replica,
            history,
        });
    }
    let empty_lists: Vec<(i64, String)> = sqlx::query_as(
        "SELECT w.id, w.name FROM watch_lists w
         WHERE NOT EXISTS (SELECT 1 FROM dossier_watch_lists m WHERE m.watch_list_id = w.id)
           AND NOT EXISTS (SELECT 1 FROM replicas r WHERE r.watch_list_id = w.id)
         ORDER BY w.name",
    )
    .fetch_all(&state.pool)
    .await?;
    Ok(ReplicationStatus {
        web_ui: state.settings.sync_web_ui,
        token_set: state.settings.sync.token.is_set(),
        schedule: state.settings.sync.schedule.text().to_string(),
        replicas,
        empty_lists,
    })
}

/// The lists a Leader offers, fetched live.
#[server(prefix = "/api", endpoint = "replication/leader-lists")]
pub async fn leader_lists(remote_url: String) -> AppResult<Vec<RemoteList>> {
    let (state, _) =
        crate::auth::ssr::require(crate::auth::Permission::Admin, "manage replication").await?;
    let url = super::subscriber::normalize_url(&remote_url)
        .map_err(|m| AppError::invalid("remote_url", m))?;
    let client = super::subscriber::LeaderClient::new(
        &url,
        &state.settings.sync.token,
        std::time::Duration::from_secs(10),
    )
    .map_err(|e| AppError::invalid("remote_url", e.to_string()))?;
    let info = client
        .info()
        .await
        .map_err(|e| AppError::invalid("remote_url", e.to_string()))?;
    super::subscriber::check_model(&info, &state.settings.face_model)
        .map_err(|e| AppError::invalid("remote_url", e.to_string()))?;
    client
        .lists()
        .await
        .map_err(|e| AppError::invalid("remote_url", e.to_string()))
}

#[server(prefix = "/api", endpoint = "replication/create")]
pub async fn create_replica(
    #[server(default)] remote_url: String,
    #[server(default)] remote_dossier_list: Option<i64>,
    #[server(default)] slave_dossier_list: Option<i64>,
) -> AppResult<Replica> {
    let (state, _) =
        crate::auth::ssr::require(crate::auth::Permission::Admin, "manage replication").await?;
    let remote_list = remote_dossier_list
        .ok_or_else(|| AppError::invalid("remote_dossier_list", "choose the Leader's list"))?;
    let local_list = slave_dossier_list
        .ok_or_else(|| AppError::invalid("slave_dossier_list", "choose an empty local list"))?;
    let replica = super::subscriber::create(
        &state,
        super::subscriber::NewReplica {
            remote_url,
            remote_list,
            local_list,
        },
    )
    .await?;
    leptos_axum::redirect("/replication");
    Ok(replica)
}

#[server(prefix = "/api", endpoint = "replication/sync-now")]
pub async fn sync_replica_now(id: i64) -> AppResult<Replica> {
    let (state, _) =
        crate::auth::ssr::require(crate::auth::Permission::Admin, "manage replication").await?;
    super::subscriber::sync_now(&state.pool, id).await
}

/// How far a replica's current run is: what the progress cell polls while a run goes on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunProgress {
    pub items_done: i64,
    pub items_total: i64,
    pub photos_done: i64,
    /// Running, or due to start now: the cell keeps polling.
    pub busy: bool,
}

impl From<&Replica> for RunProgress {
    fn from(r: &Replica) -> Self {
        Self {
            items_done: r.items_done,
            items_total: r.items_total.unwrap_or(0).max(r.items_done),
            photos_done: r.photos_done,
            busy: r.state == "running" || r.next_run_at.is_some_and(|t| t <= Utc::now()),
        }
    }
}

#[server(prefix = "/api", endpoint = "replication/progress")]
pub async fn replica_progress(id: i64) -> AppResult<RunProgress> {
    let (state, _) =
        crate::auth::ssr::require(crate::auth::Permission::Admin, "manage replication").await?;
    let replica = super::subscriber::replica(&state.pool, id).await?;
    Ok(RunProgress::from(&replica))
}

#[server(prefix = "/api", endpoint = "replication/cancel")]
pub async fn cancel_replica(id: i64) -> AppResult<()> {
    let (state, _) =
        crate::auth::ssr::require(crate::auth::Permission::Admin, "manage replication").await?;
    super::subscriber::cancel(&state.pool, id).await?;
    leptos_axum::redirect("/replication");
    Ok(())
}

fn when(at: Option<DateTime<Utc>>) -> String {
    at.map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_else(|| "—".into())
}

/// Rendered on the server, so its forms work before (and without) the WASM; only the progress
/// of a running sync is an island, which follows it live and reloads the page when it ends.
#[component]
pub fn ReplicationPage() -> impl IntoView {
    let sync_now = ServerAction::<SyncReplicaNow>::new();
    let create = ServerAction::<CreateReplica>::new();
    let overview = Resource::new(|| (), |_| replication_overview());
    let leader = use_query_map().with_untracked(|q| q.get("leader").unwrap_or_default());
    let asked = leader.clone();
    let remote = Resource::new(
        move || asked.clone(),
        |url| async move {
            if url.is_empty() {
                Ok(None)
            } else {
                leader_lists(url.clone())
                    .await
                    .map(|lists| Some((url, lists)))
            }
        },
    );
    view! {
        <section class="page">
            <h1>"Replication"</h1>
            <Suspense fallback=|| view! { <p class="loading">"Loading replicas…"</p> }>
                {move || {
                    let leader = leader.clone();
                    Suspend::new(async move {
                    match overview.await {
                        Err(e) => view! { <p class="form-error" role="alert">{e.to_string()}</p> }.into_any(),
                        Ok(o) if !o.web_ui => view! {
                            <p class="empty-state">"The replication screens are switched off (SYNC_WEB_UI=false); the /sync/ API still works."</p>
                        }.into_any(),
                        Ok(o) => view! {
                            {(!o.token_set).then(|| view! {
                                <p class="form-error" role="alert">"SYNC_TOKEN is not set on this installation: replication is off."</p>
                            })}
                            <p class="hint">"Schedule: " <code>{o.schedule.clone()}</code></p>
                            <ReplicaTable replicas=o.replicas.clone() sync_now />
                            <NewReplica leader remote=remote.await empty_lists=o.empty_lists.clone() create />
                        }.into_any(),
                    }
                })}}
            </Suspense>
        </section>
    }
}

#[component]
fn ReplicaTable(
    replicas: Vec<ReplicaView>,
    sync_now: ServerAction<SyncReplicaNow>,
) -> impl IntoView {
    if replicas.is_empty() {
        return view! {
            <div class="empty-state"><p>"No replicas yet. Subscribe an empty local list to a Leader's list below."</p></div>
        }
        .into_any();
    }
    let sync_error = last_error(sync_now.value());
    view! {
        <FormError error=sync_error />
        <table class="data-table" data-testid="replicas">
            <thead>
                <tr>
                    <th>"Local list"</th>
                    <th>"Leader"</th>
                    <th>"State"</th>
                    <th>"Progress"</th>
                    <th>"Last success"</th>
                    <th>"Next runs"</th>
                    <th><span class="sr-only">"Actions"</span></th>
                </tr>
            </thead>
            <tbody>
                {replicas.into_iter().map(|v| view! { <ReplicaRows replica=v sync_now /> }).collect_view()}
            </tbody>
        </table>
    }
    .into_any()
}

/// One replica: its row and, below it, its run history.
#[component]
fn ReplicaRows(replica: ReplicaView, sync_now: ServerAction<SyncReplicaNow>) -> impl IntoView {
    let v = replica;
    let r = v.replica;
    let id = r.id;
    view! {
                        <tr data-testid="replica-row">
                            <td><a href=format!("/dossiers?watch_list={}", r.slave_dossier_list)>{r.local_list_name.clone()}</a></td>
                            <td>{format!("{} · list {}", r.remote_url, r.remote_dossier_list)}</td>
                            <td>
                                <span class=format!("badge state-{}", r.state) data-testid="replica-state">{r.state.clone()}</span>
                                {r.last_error.clone().map(|e| view! { <p class="field-error" data-testid="replica-error">{e}</p> })}
                            </td>
                            <td><LiveProgress id progress=RunProgress::from(&r) /></td>
                            <td data-testid="replica-last-success">{when(r.last_success_at)}</td>
                            <td>
                                <span title="Next run of this replica">{when(r.next_run_at)}</span>
                                <details>
                                    <summary>"Schedule"</summary>
                                    <ul class="plain">{v.next_runs.iter().map(|t| view! { <li>{when(Some(*t))}</li> }).collect_view()}</ul>
                                </details>
                            </td>
                            <td class="actions">
                                <ActionForm action=sync_now attr:class="inline-form">
                                    <input type="hidden" name="id" value=id />
                                    <button type="submit">"Sync now"</button>
                                </ActionForm>
                                <a class="danger" href=format!("/replication/{id}/cancel")>"Cancel"</a>
                            </td>
                        </tr>
                        <tr class="history">
                            <td colspan="7">
                                <RunHistory runs=v.history />
                            </td>
                        </tr>
                    }
    .into_any()
}

/// A replica's progress. While a run goes on (or is due) it asks the server every second;
/// when the run is over it reloads the page, which then shows its outcome everywhere.
#[island]
fn LiveProgress(id: i64, progress: RunProgress) -> impl IntoView {
    let progress = RwSignal::new(progress);
    #[cfg(not(feature = "hydrate"))]
    let _ = id;
    #[cfg(feature = "hydrate")]
    {
        let handle = set_interval_with_handle(
            move || {
                if !progress.with_untracked(|p| p.busy) {
                    return;
                }
                leptos::task::spawn_local(async move {
                    match replica_progress(id).await {
                        Ok(now) if now.busy => progress.set(now),
                        Ok(_) => {
                            let _ = window().location().reload();
                        }
                        // A failed poll is retried on the next tick.
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
        let p = progress.get();
        view! {
            {p.busy.then(|| view! { <progress max=p.items_total.max(1) value=p.items_done></progress> })}
            <span data-testid="replica-progress">{format!("{} of {} items, {} photos", p.items_done, p.items_total, p.photos_done)}</span>
        }
    }
}

/// The latest runs of a replica.
#[component]
fn RunHistory(runs: Vec<SyncRun>) -> impl IntoView {
    view! {
        <details>
            <summary>{format!("History ({} latest runs)", runs.len())}</summary>
            <table class="data-table compact">
                <thead><tr><th>"Started"</th><th>"Finished"</th><th>"Outcome"</th><th>"Kind"</th><th class="num">"Dossiers"</th><th class="num">"Removals"</th><th class="num">"Photos"</th><th>"Error"</th></tr></thead>
                <tbody>
                    {runs.into_iter().map(|run| view! {
                        <tr>
                            <td>{when(Some(run.started_at))}</td>
                            <td>{when(run.finished_at)}</td>
                            <td>{run.outcome}</td>
                            <td>{if run.full_resync { "full" } else { "incremental" }}</td>
                            <td class="num">{run.dossiers}</td>
                            <td class="num">{run.removals}</td>
                            <td class="num">{run.photos}</td>
                            <td>{run.error.unwrap_or_default()}</td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
        </details>
    }
    .into_any()
}

/// Two steps: a GET form names the Leader (so its lists are fetched live, with or without
/// WASM), then the subscription form picks a remote list and an empty local list.
#[component]
fn NewReplica(
    /// The Leader named in the page's address, if any.
    leader: String,
    /// Its lists, once asked.
    remote: AppResult<Option<(String, Vec<RemoteList>)>>,
    empty_lists: Vec<(i64, String)>,
    create: ServerAction<CreateReplica>,
) -> impl IntoView {
    let error = last_error(create.value());
    view! {
        <div class="card form" data-testid="new-replica">
            <h2>"New replica"</h2>
            <form method="get" action="/replication" class="inline-form">
                <label for="leader-url">"Leader URL"</label>
                <input id="leader-url" name="leader" type="url" placeholder="http://leader:3000" value=leader required />
                <button type="submit">"Load the Leader's lists"</button>
            </form>
            {match remote {
                Ok(None) => ().into_any(),
                Err(e) => view! { <p class="form-error" role="alert">{e.to_string()}</p> }.into_any(),
                Ok(Some((url, lists))) => {
                    view! {
                        <ActionForm action=create attr:class="form">
                            <input type="hidden" name="remote_url" value=url />
                            <label>
                                "Leader's list"
                                <select name="remote_dossier_list" required>
                                    {lists.into_iter().map(|l| view! {
                                        <option value=l.id>{format!("{} ({} dossiers)", l.name, l.dossier_count)}</option>
                                    }).collect_view()}
                                </select>
                            </label>
                            <FieldError error field="remote_dossier_list" />
                            {if empty_lists.is_empty() {
                                view! {
                                    <p class="form-error" role="alert">
                                        "There is no empty local list to replicate into: "
                                        <a href="/watch-lists/new">"create one"</a> " first."
                                    </p>
                                }.into_any()
                            } else {
                                view! {
                                    <label>
                                        "Empty local list"
                                        <select name="slave_dossier_list" required>
                                            {empty_lists.into_iter().map(|(id, name)| view! { <option value=id>{name}</option> }).collect_view()}
                                        </select>
                                    </label>
                                }.into_any()
                            }}
                            <FieldError error field="slave_dossier_list" />
                            <FormError error fields=&["remote_dossier_list", "slave_dossier_list"] />
                            <button type="submit" class="primary">"Create replica"</button>
                        </ActionForm>
                    }.into_any()
                }
            }}
        </div>
    }
}

/// Confirmation before a replica is cancelled.
#[component]
pub fn CancelReplicaPage() -> impl IntoView {
    let params = use_params_map();
    let id = Memo::new(move |_| params.with(|p| p.get("id").and_then(|id| id.parse::<i64>().ok())));
    let overview = Resource::new(|| (), |_| replication_overview());
    let cancel = ServerAction::<CancelReplica>::new();
    let error = last_error(cancel.value());
    view! {
        <section class="page narrow">
            <h1>"Cancel replica"</h1>
            <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    let found = overview.await.and_then(|o| {
                        o.replicas
                            .into_iter()
                            .map(|v| v.replica)
                            .find(|r| Some(r.id) == id.get())
                            .ok_or_else(|| AppError::not_found("no such replica"))
                    });
                    match found {
                        Err(e) => view! { <p class="form-error" role="alert">{e.to_string()}</p> }.into_any(),
                        Ok(r) => view! {
                            <ActionForm action=cancel attr:class="card form confirm">
                                <input type="hidden" name="id" value=r.id />
                                <p>
                                    "Stop replicating list " {r.remote_dossier_list} " of " <strong>{r.remote_url.clone()}</strong>
                                    " into " <strong>{r.local_list_name.clone()}</strong>
                                    "? The local list keeps its dossiers and becomes editable."
                                </p>
                                <FormError error />
                                <div class="form-actions">
                                    <button type="submit" class="danger">"Cancel replica"</button>
                                    <a href="/replication">"Keep it"</a>
                                </div>
                            </ActionForm>
                        }.into_any(),
                    }
                })}
            </Suspense>
        </section>
    }
}
