//! Hits flowing up, as the pages show them: on a Leader, the Sites page (every Subscriber
//! that reported, its lists, backlog, delivery lag and last contact, a quiet one flagged); on
//! a Subscriber, the hits it holds for each Leader (on the Replication page).

#[cfg(feature = "ssr")]
use crate::auth::Permission;
use crate::error::AppResult;
use chrono::{DateTime, Utc};
pub use domain::hits::{Backlog, Site};
use leptos::prelude::*;

/// Every Subscriber that has delivered hits to (or reported to) this Leader.
#[server(prefix = "/api", endpoint = "sites/list", input_derive = (Clone, serde::Serialize, serde::Deserialize, utoipa::ToSchema))]
pub async fn list_sites() -> AppResult<Vec<Site>> {
    let (state, _) = crate::caller::require(Permission::Admin, "see the sites").await?;
    Ok(engine::hits::sites::list(&state.pool).await?)
}

/// The sites whose events this installation holds, by name: what the Events page filters on.
#[server(prefix = "/api", endpoint = "sites/labels", input_derive = (Clone, serde::Serialize, serde::Deserialize, utoipa::ToSchema))]
pub async fn list_site_labels() -> AppResult<Vec<domain::monitoring::EventSite>> {
    let (state, _) = crate::caller::require(Permission::Read, "see events").await?;
    Ok(engine::hits::sites::labels(&state.pool).await?)
}

/// What this Subscriber holds for each Leader: events not yet delivered, the oldest, the last
/// delivery, the last error.
#[server(prefix = "/api", endpoint = "sites/backlog", input_derive = (Clone, serde::Serialize, serde::Deserialize, utoipa::ToSchema))]
pub async fn hit_backlog() -> AppResult<Vec<Backlog>> {
    let (state, _) = crate::caller::require(Permission::Admin, "manage replication").await?;
    Ok(engine::hits::outbox::backlogs(&state.pool).await?)
}

fn when(at: Option<DateTime<Utc>>) -> String {
    at.map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_else(|| "—".into())
}

#[component]
pub fn SitesPage() -> impl IntoView {
    let sites = Resource::new(|| (), |_| list_sites());
    view! {
        <section class="page">
            <crate::site::PageTitle text="Sites" />
            <h1>"Sites"</h1>
            <p class="hint">"The Subscribers that replicate this installation's lists and send their matches here. A site reports every few seconds while it can reach this Leader."</p>
            <Suspense fallback=|| view! { <p class="loading">"Loading sites…"</p> }>
                {move || Suspend::new(async move {
                    match sites.await {
                        Err(e) => view! { <p class="form-error" role="alert">{e.to_string()}</p> }.into_any(),
                        Ok(sites) if sites.is_empty() => view! {
                            <p class="empty-state">"No site has reported yet. A Subscriber reports here once it replicates one of this installation's lists (with the same SYNC_TOKEN)."</p>
                        }.into_any(),
                        Ok(sites) => view! { <SiteTable sites /> }.into_any(),
                    }
                })}
            </Suspense>
        </section>
    }
}

#[component]
fn SiteTable(sites: Vec<Site>) -> impl IntoView {
    view! {
        <table class="data-table" tabindex="0" data-testid="sites">
            <thead><tr>
                <th>"Site"</th><th>"Lists it replicates"</th><th class="num">"Backlog"</th>
                <th>"Delivery lag"</th><th class="num">"Events here"</th><th>"Last contact"</th>
            </tr></thead>
            <tbody>
                {sites.into_iter().map(|s| {
                    let lists = s.lists.iter().map(|l| {
                        let name = l.name.clone().unwrap_or_else(|| format!("list {} (deleted)", l.list));
                        view! { <li>{name} " · " {l.state.clone()} " · last sync " {when(l.last_sync_at)}</li> }
                    }).collect_view();
                    let backlog = match s.oldest_pending_at {
                        Some(oldest) if s.backlog > 0 => format!("{} (oldest {})", s.backlog, when(Some(oldest))),
                        _ => s.backlog.to_string(),
                    };
                    let lag = s.lag_seconds.map(|l| format!("{l:.1} s")).unwrap_or_else(|| "—".into());
                    view! {
                        <tr data-testid="site-row" class=if s.quiet { "quiet" } else { "" }>
                            <td>
                                <strong data-testid="site-name">{s.name.clone()}</strong>
                                {s.quiet.then(|| view! { " " <span class="badge warning" data-testid="quiet">"quiet"</span> })}
                                <br /><span class="muted">{s.address.clone()}</span>
                                <br /><span class="muted">{format!("installation {} · {} · version {}", s.installation, s.face_model, s.version)}</span>
                            </td>
                            <td><ul class="plain">{lists}</ul></td>
                            <td class="num" data-testid="backlog">{backlog}</td>
                            <td>{lag}</td>
                            <td class="num"><a href=format!("/events?site={}", s.id)>{s.events}</a></td>
                            <td data-testid="last-contact">{when(Some(s.last_contact_at))}</td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
    }
}

/// The Replication page's account of hits owed to each Leader (`hit_backlog`, loaded with the
/// page).
#[component]
pub fn HitBacklog(backlog: AppResult<Vec<Backlog>>) -> impl IntoView {
    view! {
        <h2>"Matches sent to Leaders"</h2>
        {match backlog {
            Err(e) => view! { <p class="form-error" role="alert">{e.to_string()}</p> }.into_any(),
            Ok(b) if b.is_empty() => view! { <p class="empty-state">"No Leader to send matches to: matches of replicated lists go to their Leader."</p> }.into_any(),
            Ok(b) => view! {
                <table class="data-table" tabindex="0" data-testid="hit-backlog">
                    <thead><tr><th>"Leader"</th><th class="num">"Backlog"</th><th>"Oldest waiting"</th><th class="num">"Delivered"</th><th>"Last delivery"</th><th>"Last contact"</th><th>"Last error"</th></tr></thead>
                    <tbody>
                        {b.into_iter().map(|l| view! {
                            <tr data-testid="hit-leader">
                                <td>{l.leader_url.clone()}
                                    {(l.orphaned && l.pending > 0).then(|| view! { <br /><span class="muted">"No replica follows this Leader any more; what waits is sent when it answers."</span> })}
                                    {(l.undelivered > 0).then(|| view! { <br /><span class="form-error">{format!("{} events were never delivered (older than EVENTS_RETENTION_DAYS before the Leader took them)", l.undelivered)}</span> })}
                                </td>
                                <td class="num" data-testid="pending">{l.pending}</td>
                                <td>{when(l.oldest_pending_at)}</td>
                                <td class="num">{l.delivered}</td>
                                <td data-testid="last-delivery">{when(l.last_delivery_at)}</td>
                                <td>{when(l.last_contact_at)}</td>
                                <td>{l.last_error.clone().unwrap_or_else(|| "—".into())}</td>
                            </tr>
                        }).collect_view()}
                    </tbody>
                </table>
            }.into_any(),
        }}
    }
}
