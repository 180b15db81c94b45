//! The list of watch lists, with each list's count, settings and the actions the caller may take.

use super::{list_watch_lists, ColorLabel, ReplicaBadge, WatchList};
use crate::auth::{use_current_user, Permission};
use leptos::prelude::*;

#[component]
pub fn WatchListsPage() -> impl IntoView {
    let lists = Resource::new(|| (), |_| list_watch_lists());
    let can_edit = use_current_user().is_some_and(|u| u.can(Permission::Edit));
    view! {
        <section class="page">
            <header class="page-header">
                <crate::site::PageTitle text="Watch lists" />
                <h1>"Watch lists"</h1>
                <Show when=move || can_edit>
                    <a class="button primary" href="/watch-lists/new">"New watch list"</a>
                </Show>
            </header>
            <Suspense fallback=|| view! { <p class="loading">"Loading watch lists…"</p> }>
                {move || Suspend::new(async move {
                    match lists.await {
                        Err(e) => view! { <p class="form-error" role="alert">{e.to_string()}</p> }.into_any(),
                        Ok(lists) if lists.is_empty() => view! {
                            <div class="empty-state">
                                <p>"No watch lists yet."</p>
                                {can_edit.then(|| view! { <a class="button primary" href="/watch-lists/new">"Create the first watch list"</a> })}
                            </div>
                        }.into_any(),
                        Ok(lists) => view! { <WatchListTable lists can_edit /> }.into_any(),
                    }
                })}
            </Suspense>
        </section>
    }
}

#[component]
fn WatchListTable(lists: Vec<WatchList>, can_edit: bool) -> impl IntoView {
    view! {
        <table class="data-table" tabindex="0" data-testid="watch-lists">
            <thead>
                <tr>
                    <th>"Name"</th>
                    <th class="num">"Dossiers"</th>
                    <th>"Active"</th>
                    <th>"Threshold"</th>
                    <th>"Comment"</th>
                    {can_edit.then(|| view! { <th><span class="sr-only">"Actions"</span></th> })}
                </tr>
            </thead>
            <tbody>
                {lists.into_iter().map(|list| {
                    let id = list.id;
                    view! {
                        <tr data-testid="watch-list-row">
                            <td>
                                <a href=format!("/dossiers?watch_list={id}")>
                                    <ColorLabel color=list.settings.color name=list.name />
                                </a>
                            </td>
                            <td class="num">{list.dossier_count}</td>
                            <td>{if list.settings.active { "yes" } else { "no" }}</td>
                            <td>
                                {list.settings.confidence_threshold.map(|t| format!("{t:.2}")).unwrap_or_else(|| "default".into())}
                                " " <a class="small-link" href=format!("/watch-lists/{id}/calibration")>"Calibrate"</a>
                            </td>
                            <td class="comment">
                                {list.replica_of.clone().map(|url| view! { <ReplicaBadge leader=url /> })}
                                {list.settings.comment}
                            </td>
                            {can_edit.then(|| match list.replica_of {
                                Some(_) => view! {
                                    <td class="actions">
                                        <a href=format!("/watch-lists/{id}/edit")>"Rename"</a>
                                    </td>
                                }.into_any(),
                                None => view! {
                                    <td class="actions">
                                        <a href=format!("/watch-lists/{id}/edit")>"Edit"</a>
                                        <a href=format!("/watch-lists/{id}/delete") class="danger">"Delete"</a>
                                    </td>
                                }.into_any(),
                            })}
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
    }
}
