//! The watch list pages and their server functions: the list of lists, create, edit, delete.

// A server function takes one argument per form field, and a watch list has seven.
#![allow(clippy::too_many_arguments)]

use crate::auth::{use_current_user, Permission};
use crate::error::{AppError, AppResult};
use crate::forms::{last_error, FieldError, FormError};
use domain::input::Flag;
pub use domain::watch_lists::{WatchList, WatchListInput, WatchListLabel};
use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

#[server(prefix = "/api", endpoint = "watch-lists/list")]
pub async fn list_watch_lists() -> AppResult<Vec<WatchList>> {
    let (state, _) = crate::caller::require(Permission::Read, "see watch lists").await?;
    Ok(domain::watch_lists::store::list(&state.pool).await?)
}

/// The lists' labels without their dossier counts: every dossier page needs them, and counting
/// the members of big lists on each page view would cost more than the page itself.
#[server(prefix = "/api", endpoint = "watch-lists/labels")]
pub async fn list_watch_list_labels() -> AppResult<Vec<WatchListLabel>> {
    let (state, _) = crate::caller::require(Permission::Read, "see watch lists").await?;
    Ok(domain::watch_lists::store::labels(&state.pool).await?)
}

#[server(prefix = "/api", endpoint = "watch-lists/get")]
pub async fn get_watch_list(id: i64) -> AppResult<WatchList> {
    let (state, _) = crate::caller::require(Permission::Read, "see watch lists").await?;
    Ok(domain::watch_lists::store::get(&state.pool, id).await?)
}

#[server(prefix = "/api", endpoint = "watch-lists/create")]
pub async fn create_watch_list(
    #[server(default)] name: String,
    #[server(default)] comment: String,
    #[server(default)] color: String,
    #[server(default)] active: Flag,
    #[server(default)] acknowledge: Flag,
    #[server(default)] notify: Flag,
    #[server(default)] confidence_threshold: String,
) -> AppResult<WatchList> {
    let (state, _) = crate::caller::require(Permission::Edit, "create watch lists").await?;
    let input = WatchListInput::parse(
        &name,
        &comment,
        &color,
        active,
        acknowledge,
        notify,
        &confidence_threshold,
    )?;
    let list = domain::watch_lists::store::insert(&state.pool, &input).await?;
    leptos_axum::redirect("/watch-lists");
    Ok(list)
}

#[server(prefix = "/api", endpoint = "watch-lists/update")]
pub async fn update_watch_list(
    id: i64,
    #[server(default)] name: String,
    #[server(default)] comment: String,
    #[server(default)] color: String,
    #[server(default)] active: Flag,
    #[server(default)] acknowledge: Flag,
    #[server(default)] notify: Flag,
    #[server(default)] confidence_threshold: String,
) -> AppResult<WatchList> {
    let (state, _) = crate::caller::require(Permission::Edit, "edit watch lists").await?;
    domain::sync::guard::lists_writable(&state.pool, &[id]).await?;
    let input = WatchListInput::parse(
        &name,
        &comment,
        &color,
        active,
        acknowledge,
        notify,
        &confidence_threshold,
    )?;
    let list = domain::watch_lists::store::update(&state.pool, id, &input).await?;
    leptos_axum::redirect("/watch-lists");
    Ok(list)
}

/// Deletes a watch list, and the dossiers that belong to no other list (a dossier always belongs
/// to at least one list). Returns how many dossiers were deleted with it.
#[server(prefix = "/api", endpoint = "watch-lists/delete")]
pub async fn delete_watch_list(id: i64) -> AppResult<u64> {
    let (state, _) = crate::caller::require(Permission::Edit, "delete watch lists").await?;
    domain::sync::guard::lists_writable(&state.pool, &[id]).await?;
    let deleted = domain::watch_lists::store::delete(&state.pool, id).await?;
    leptos_axum::redirect("/watch-lists");
    Ok(deleted)
}

/// How many dossiers belong only to this list, and so would be deleted with it.
#[server(prefix = "/api", endpoint = "watch-lists/exclusive-dossiers")]
pub async fn count_exclusive_dossiers(id: i64) -> AppResult<i64> {
    let (state, _) = crate::caller::require(Permission::Read, "see watch lists").await?;
    Ok(domain::watch_lists::store::exclusive_dossier_count(&state.pool, id).await?)
}

/// Marks a list or dossier that is a read-only replica of a Leader's.
#[component]
pub fn ReplicaBadge(leader: String) -> impl IntoView {
    view! {
        <span class="badge replica" data-testid="replica-badge" title=format!("Replicated from {leader}; edit it there")>
            "Read-only replica"
        </span>
    }
}

/// The colour label of a list.
#[component]
pub fn ColorLabel(color: String, name: String) -> impl IntoView {
    view! {
        <span class="list-label">
            <span class="swatch" style:background-color=color></span>
            {name}
        </span>
    }
}

#[component]
pub fn WatchListsPage() -> impl IntoView {
    let lists = Resource::new(|| (), |_| list_watch_lists());
    let can_edit = use_current_user().is_some_and(|u| u.can(Permission::Edit));
    view! {
        <section class="page">
            <header class="page-header">
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
        <table class="data-table" data-testid="watch-lists">
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
                                    <ColorLabel color=list.color name=list.name />
                                </a>
                            </td>
                            <td class="num">{list.dossier_count}</td>
                            <td>{if list.active { "yes" } else { "no" }}</td>
                            <td>{list.confidence_threshold.map(|t| format!("{t:.2}")).unwrap_or_else(|| "default".into())}</td>
                            <td class="comment">
                                {list.replica_of.clone().map(|url| view! { <ReplicaBadge leader=url /> })}
                                {list.comment}
                            </td>
                            {can_edit.then(|| match list.replica_of {
                                Some(_) => view! { <td class="actions muted">"Read-only"</td> }.into_any(),
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

/// The inputs of the create and edit forms.
#[component]
fn WatchListFields(list: WatchListInput, error: Signal<Option<AppError>>) -> impl IntoView {
    view! {
        <label>
            "Name"
            <input name="name" value=list.name required maxlength="256" autofocus />
        </label>
        <FieldError error field="name" />
        <label>
            "Comment"
            <textarea name="comment" maxlength="2048" rows="3">{list.comment}</textarea>
        </label>
        <FieldError error field="comment" />
        <label>
            "Colour"
            <input type="color" name="color" value=list.color />
        </label>
        <FieldError error field="color" />
        <label>
            "Confidence threshold (0–1, empty for the default)"
            <input
                name="confidence_threshold"
                inputmode="decimal"
                value=list.confidence_threshold.map(|t| t.to_string()).unwrap_or_default()
            />
        </label>
        <FieldError error field="confidence_threshold" />
        <fieldset class="checks">
            <label><input type="checkbox" name="active" value="true" checked=list.active />" Active"</label>
            <label><input type="checkbox" name="acknowledge" value="true" checked=list.acknowledge />" Matches need acknowledgement"</label>
            <label><input type="checkbox" name="notify" value="true" checked=list.notify />" Notify on match"</label>
        </fieldset>
        <FormError error fields=&["name", "comment", "color", "confidence_threshold"] />
    }
}

#[component]
pub fn NewWatchListPage() -> impl IntoView {
    view! {
        <section class="page narrow">
            <h1>"New watch list"</h1>
            <NewWatchListForm />
        </section>
    }
}

/// An island, as every form with fields is: a rejected submission shows its errors beside the
/// fields and keeps what the user typed.
#[island]
fn NewWatchListForm() -> impl IntoView {
    let create = ServerAction::<CreateWatchList>::new();
    let error = last_error(create.value());
    view! {
        <ActionForm action=create attr:class="card form">
            <WatchListFields list=WatchListInput::default() error />
            <div class="form-actions">
                <button type="submit" class="primary">"Create"</button>
                <a href="/watch-lists">"Cancel"</a>
            </div>
        </ActionForm>
    }
}

#[island]
fn EditWatchListForm(id: i64, list: WatchListInput) -> impl IntoView {
    let update = ServerAction::<UpdateWatchList>::new();
    let error = last_error(update.value());
    view! {
        <ActionForm action=update attr:class="card form">
            <input type="hidden" name="id" value=id />
            <WatchListFields list error />
            <div class="form-actions">
                <button type="submit" class="primary">"Save"</button>
                <a href="/watch-lists">"Cancel"</a>
            </div>
        </ActionForm>
    }
}

fn id_param() -> Memo<Option<i64>> {
    let params = use_params_map();
    Memo::new(move |_| params.with(|p| p.get("id").and_then(|id| id.parse().ok())))
}

async fn load_list(id: Option<i64>) -> AppResult<WatchList> {
    match id {
        Some(id) => get_watch_list(id).await,
        None => Err(domain::Error::not_found("no such watch list").into()),
    }
}

#[component]
pub fn EditWatchListPage() -> impl IntoView {
    let id = id_param();
    let list = Resource::new(move || id.get(), load_list);
    view! {
        <section class="page narrow">
            <h1>"Edit watch list"</h1>
            <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match list.await {
                        Err(e) => view! { <p class="form-error" role="alert">{e.to_string()}</p> }.into_any(),
                        Ok(list) => view! { <EditWatchListForm id=list.id list=list.into() /> }.into_any(),
                    }
                })}
            </Suspense>
        </section>
    }
}

/// The confirmation step before a watch list is deleted: a page of its own, so that it works
/// before the WASM loads and cannot be skipped by a stray click.
#[component]
pub fn DeleteWatchListPage() -> impl IntoView {
    let id = id_param();
    let details = Resource::new(
        move || id.get(),
        |id| async move {
            let list = load_list(id).await?;
            let exclusive = count_exclusive_dossiers(list.id).await?;
            Ok::<_, AppError>((list, exclusive))
        },
    );
    let delete = ServerAction::<DeleteWatchList>::new();
    let error = last_error(delete.value());
    view! {
        <section class="page narrow">
            <h1>"Delete watch list"</h1>
            <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match details.await {
                        Err(e) => view! { <p class="form-error" role="alert">{e.to_string()}</p> }.into_any(),
                        Ok((list, exclusive)) => view! {
                            <ActionForm action=delete attr:class="card form confirm">
                                <input type="hidden" name="id" value=list.id />
                                <p>
                                    "Delete the watch list " <strong>{list.name.clone()}</strong> "? "
                                    {if exclusive > 0 {
                                        format!("{exclusive} dossier(s) belong to no other list and will be deleted with it.")
                                    } else {
                                        "No dossier is deleted with it.".to_string()
                                    }}
                                </p>
                                <FormError error />
                                <div class="form-actions">
                                    <button type="submit" class="danger">"Delete"</button>
                                    <a href="/watch-lists">"Cancel"</a>
                                </div>
                            </ActionForm>
                        }.into_any(),
                    }
                })}
            </Suspense>
        </section>
    }
}
