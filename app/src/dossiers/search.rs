//! The dossier search page: filters by name, list and active flag, newest first, keyset-paged
//! through links (so paging works without JavaScript).

use super::{lists_by_id, search_dossiers, DossierSummary};
use crate::auth::{use_current_user, Permission};
use crate::watch_lists::{list_watch_list_labels, ColorLabel, WatchListLabel};
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

#[component]
pub fn DossiersPage() -> impl IntoView {
    let query = use_query_map();
    let filters = Memo::new(move |_| {
        query.with(|q| {
            (
                q.get("q").unwrap_or_default(),
                q.get("watch_list").and_then(|v| v.parse::<i64>().ok()),
                q.get("active").unwrap_or_default(),
                q.get("after").and_then(|v| v.parse::<i64>().ok()),
            )
        })
    });
    let page = Resource::new(
        move || filters.get(),
        |(q, list, active, after)| search_dossiers(q, list, active, after, None),
    );
    let lists = Resource::new(|| (), |_| list_watch_list_labels());
    let can_edit = use_current_user().is_some_and(|u| u.can(Permission::Edit));
    view! {
        <section class="page">
            <header class="page-header">
                <crate::site::PageTitle text="Dossiers" />
                <h1>"Dossiers"</h1>
                <Show when=move || can_edit>
                    <a class="button primary" href="/dossiers/new">"New dossier"</a>
                </Show>
            </header>
            <Suspense fallback=|| view! { <p class="loading">"Loading dossiers…"</p> }>
                {move || Suspend::new(async move {
                    let (q, list, active, after) = filters.get();
                    let lists = lists.await.unwrap_or_default();
                    let page = page.await;
                    view! {
                        <SearchForm q=q.clone() list active=active.clone() lists=lists.clone() />
                        {list.map(|id| view! {
                            <p class="export"><a href=format!("/watch-lists/{id}/export.csv") download="" data-testid="export-list">"Export this list's dossiers (CSV)"</a></p>
                        })}
                        {match page {
                            Err(e) => view! { <p class="form-error" role="alert">{e.to_string()}</p> }.into_any(),
                            Ok(page) if page.dossiers.is_empty() => view! {
                                <div class="empty-state">
                                    <p>{if after.is_some() { "No more dossiers." } else if q.is_empty() && list.is_none() && active.is_empty() { "No dossiers yet." } else { "No dossier matches these filters." }}</p>
                                </div>
                            }.into_any(),
                            Ok(page) => {
                                let next = page.next_after.map(|n| page_link(&q, list, &active, Some(n)));
                                let first = after.map(|_| page_link(&q, list, &active, None));
                                view! {
                                    <DossierTable dossiers=page.dossiers lists />
                                    <nav class="pager" aria-label="More results">
                                        {first.map(|href| view! { <a href=href>"« First page"</a> })}
                                        {next.map(|href| view! { <a href=href rel="next">"Next page »"</a> })}
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

fn page_link(q: &str, list: Option<i64>, active: &str, after: Option<i64>) -> String {
    crate::forms::link(
        "/dossiers",
        &[
            ("q", q.to_string()),
            (
                "watch_list",
                list.map(|l| l.to_string()).unwrap_or_default(),
            ),
            ("active", active.to_string()),
            ("after", after.map(|a| a.to_string()).unwrap_or_default()),
        ],
    )
}

/// A plain GET form, so that searching works before the WASM loads and every result page has
/// its own URL.
#[component]
fn SearchForm(
    q: String,
    list: Option<i64>,
    active: String,
    lists: Vec<WatchListLabel>,
) -> impl IntoView {
    view! {
        <form method="get" action="/dossiers" class="search-form" role="search">
            <label>
                "Name"
                <input type="search" name="q" value=q placeholder="Search by name" />
            </label>
            <label>
                "Watch list"
                <select name="watch_list">
                    <option value="" selected=list.is_none()>"All lists"</option>
                    {lists.into_iter().map(|l| view! {
                        <option value=l.id selected=list == Some(l.id)>{l.name}</option>
                    }).collect_view()}
                </select>
            </label>
            <label>
                "Active"
                <select name="active">
                    <option value="" selected=active.is_empty()>"Any"</option>
                    <option value="true" selected=active == "true">"Active"</option>
                    <option value="false" selected=active == "false">"Inactive"</option>
                </select>
            </label>
            <button type="submit">"Search"</button>
        </form>
    }
}

#[component]
fn DossierTable(dossiers: Vec<DossierSummary>, lists: Vec<WatchListLabel>) -> impl IntoView {
    view! {
        <table class="data-table" tabindex="0" data-testid="dossiers">
            <thead>
                <tr>
                    <th><span class="sr-only">"Photo"</span></th>
                    <th>"Name"</th>
                    <th>"Watch lists"</th>
                    <th>"Active"</th>
                    <th class="num">"Photos"</th>
                    <th>"Modified"</th>
                </tr>
            </thead>
            <tbody>
                {dossiers.into_iter().map(|d| {
                    let labels = lists_by_id(&lists, &d.watch_lists);
                    view! {
                        <tr data-testid="dossier-row">
                            <td class="thumb">
                                {match d.thumbnail {
                                    Some(sha) => view! { <img src=format!("/photos/{sha}/face") alt="" width="48" height="48" loading="lazy" /> }.into_any(),
                                    None => view! { <span class="no-photo" title="No photo">"—"</span> }.into_any(),
                                }}
                            </td>
                            <td><a href=format!("/dossiers/{}", d.id)>{d.name}</a></td>
                            <td class="labels">{labels.into_iter().map(|l| view! { <ColorLabel color=l.color name=l.name /> }).collect_view()}</td>
                            <td>{if d.active { "yes" } else { "no" }}</td>
                            <td class="num">{d.photo_count}</td>
                            <td><time datetime=d.modified_at.to_rfc3339()>{d.modified_at.format("%Y-%m-%d %H:%M").to_string()}</time></td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
    }
}
