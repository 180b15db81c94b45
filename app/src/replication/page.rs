//! The Replication page: each replica with its state, live progress, next runs and history,
//! "sync now", and the form that creates a replica from a Leader's lists.

use super::{
    leader_lists, replication_overview, ConfirmReplicaHold, CreateReplica, RejectReplicaHold,
    ReplicaView, RunProgress, SyncReplicaNow,
};
use crate::error::AppResult;
use crate::forms::{last_error, FieldError, FormError, Typed};
use chrono::{DateTime, Utc};
use domain::sync::{Hold, HoldKind, RemoteList, SyncRun};
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

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
    let backlog = Resource::new(|| (), |_| crate::sites::hit_backlog());
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
            <crate::site::PageTitle text="Replication" />
            <h1>"Replication"</h1>
            <Suspense fallback=|| view! { <p class="loading">"Loading replicas…"</p> }>
                {move || {
                    let leader = leader.clone();
                    Suspend::new(async move {
                    let backlog = backlog.await;
                    match overview.await {
                        Err(e) => view! { <p class="form-error" role="alert">{e.to_string()}</p> }.into_any(),
                        Ok(o) if !o.web_ui => view! {
                            <p class="empty-state">"The replication screens are switched off (SYNC_WEB_UI=false); the /sync/ API still works."</p>
                        }.into_any(),
                        Ok(o) => view! {
                            {(!o.token_set).then(|| view! {
                                <p class="form-error" role="alert">"SYNC_TOKEN is not set on this installation: replication is off."</p>
                            })}
                            <p class="hint" data-testid="schedule">
                                "Schedule: "
                                {o.schedule_words.clone().map(|words| view! { <strong>{words}</strong> " " })}
                                <code>{o.schedule.clone()}</code>
                                {(!o.next_runs.is_empty()).then(|| format!(
                                    " · next runs {}",
                                    o.next_runs.iter().map(|t| when(Some(*t))).collect::<Vec<_>>().join(", ")
                                ))}
                            </p>
                            <ReplicaTable replicas=o.replicas.clone() sync_now />
                            <crate::sites::HitBacklog backlog />
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
        <table class="data-table" tabindex="0" data-testid="replicas">
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
    // Running, or about to: another "sync now" would change nothing.
    let busy = RunProgress::from(&r).busy;
    view! {
                        <tr data-testid="replica-row">
                            <td><a href=format!("/dossiers?watch_list={}", r.slave_dossier_list)>{r.local_list_name.clone()}</a></td>
                            <td data-testid="replica-leader">{match &r.remote_list_name {
                                Some(name) => format!("“{name}” on {}", r.remote_url),
                                None => format!("list {} on {}", r.remote_dossier_list, r.remote_url),
                            }}</td>
                            <td>
                                <span class=format!("badge state-{}", r.state) data-testid="replica-state">{r.state.as_str()}</span>
                                {r.last_error.clone().map(|e| view! { <p class="field-error" data-testid="replica-error">{e}</p> })}
                                {r.hold.clone().map(|hold| view! { <HoldDecision id hold /> })}
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
                                    <button
                                        type="submit"
                                        disabled=busy
                                        title=if busy { "A run of this replica is in progress or about to start" } else { "Run this replica now" }
                                    >"Sync now"</button>
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

/// Why a replica is held, and the Administrator's two answers. Both are plain forms, so they
/// work before (and without) the WASM.
#[component]
fn HoldDecision(id: i64, hold: Hold) -> impl IntoView {
    let confirm = ServerAction::<ConfirmReplicaHold>::new();
    let reject = ServerAction::<RejectReplicaHold>::new();
    let go_ahead = match hold.kind {
        HoldKind::LeaderChanged => "Accept the new Leader and resync from it",
        HoldKind::MassRemoval => "Confirm the removals",
    };
    let error = last_error(confirm.value());
    let reject_error = last_error(reject.value());
    view! {
        <div class="hold" role="alert" data-testid="replica-hold">
            <p>{hold.message}</p>
            <ActionForm action=confirm attr:class="inline-form">
                <input type="hidden" name="id" value=id />
                <button type="submit" class="danger">{go_ahead}</button>
            </ActionForm>
            <ActionForm action=reject attr:class="inline-form">
                <input type="hidden" name="id" value=id />
                <button type="submit">"Keep the replica as it is"</button>
            </ActionForm>
            <FormError error />
            <FormError error=reject_error />
        </div>
    }
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
                    match super::replica_progress(id).await {
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
            <summary>{match runs.len() {
                1 => "History (the latest run)".to_string(),
                n => format!("History (the {n} latest runs)"),
            }}</summary>
            <table class="data-table compact" tabindex="0">
                <thead><tr><th>"Started"</th><th>"Finished"</th><th>"Outcome"</th><th>"Kind"</th><th>"Why"</th><th class="num">"Dossiers"</th><th class="num">"Removals"</th><th class="num">"Restored"</th><th class="num">"Photos"</th><th>"Error"</th></tr></thead>
                <tbody>
                    {runs.into_iter().map(|run| view! {
                        <tr>
                            <td>{when(Some(run.started_at))}</td>
                            <td>{when(run.finished_at)}</td>
                            <td>{run.outcome.as_str()}</td>
                            <td>{if run.full_resync { "full" } else { "incremental" }}</td>
                            <td data-testid="run-reason">{run.reason.unwrap_or_default()}</td>
                            <td class="num">{run.dossiers}</td>
                            <td class="num">{run.removals}</td>
                            <td class="num" data-testid="run-restored">{run.restored}</td>
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
    // What was chosen, if the server refused the form (sent without JavaScript).
    let typed = Typed::from_query();
    let chosen_remote = typed.text("remote_dossier_list", String::new());
    let chosen_local = typed.text("slave_dossier_list", String::new());
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
                                        <option value=l.id selected=chosen_remote == l.id.to_string()>{format!("{} ({})", l.name, crate::forms::count(l.dossier_count, "dossier", "dossiers"))}</option>
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
                                            {empty_lists.into_iter().map(|(id, name)| view! { <option value=id selected=chosen_local == id.to_string()>{name}</option> }).collect_view()}
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
