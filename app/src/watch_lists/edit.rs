//! Creating, editing (or, for a replicated list, renaming) and deleting a watch list.

use super::{
    count_exclusive_dossiers, get_watch_list, ColorLabel, CreateWatchList, DeleteWatchList,
    RenameWatchList, UpdateWatchList, WatchList, WatchListInput,
};
use crate::error::{AppError, AppResult};
use crate::forms::{last_error, FieldError, FormError, Typed};
use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

/// The inputs of the create and edit forms.
#[component]
fn WatchListFields(
    list: WatchListInput,
    typed: Typed,
    error: Signal<Option<AppError>>,
) -> impl IntoView {
    let threshold = list
        .settings
        .confidence_threshold
        .map(|t| t.to_string())
        .unwrap_or_default();
    view! {
        <label>
            "Name"
            <input name="name" value=typed.text("name", list.name) required maxlength="256" autofocus />
        </label>
        <FieldError error field="name" />
        <label>
            "Comment"
            <textarea name="comment" maxlength="2048" rows="3">{typed.text("comment", list.settings.comment)}</textarea>
        </label>
        <FieldError error field="comment" />
        <label>
            "Colour"
            <input type="color" name="color" value=typed.text("color", list.settings.color) />
        </label>
        <FieldError error field="color" />
        <label>
            "Confidence threshold (0–1, empty for the default)"
            <input
                name="confidence_threshold"
                inputmode="decimal"
                value=typed.text("confidence_threshold", threshold)
            />
        </label>
        <FieldError error field="confidence_threshold" />
        <fieldset class="checks">
            <label><input type="checkbox" name="active" value="true" checked=typed.ticked("active", list.settings.active) />" Active"</label>
            <label><input type="checkbox" name="acknowledge" value="true" checked=typed.ticked("acknowledge", list.settings.acknowledge) />" Matches need acknowledgement"</label>
            <label><input type="checkbox" name="notify" value="true" checked=typed.ticked("notify", list.settings.notify) />" Notify on match"</label>
        </fieldset>
        <FormError error fields=&["name", "comment", "color", "confidence_threshold"] />
    }
}

#[component]
pub fn NewWatchListPage() -> impl IntoView {
    view! {
        <section class="page narrow">
            <crate::site::PageTitle text="New watch list" />
            <h1>"New watch list"</h1>
            <NewWatchListForm typed=Typed::from_query() />
        </section>
    }
}

/// An island, as every form with fields is: a rejected submission shows its errors beside the
/// fields and keeps what the user typed.
#[island]
fn NewWatchListForm(typed: Typed) -> impl IntoView {
    let create = ServerAction::<CreateWatchList>::new();
    let error = last_error(create.value());
    view! {
        <ActionForm action=create attr:class="card form">
            <WatchListFields list=WatchListInput::default() typed error />
            <div class="form-actions">
                <button type="submit" class="primary">"Create"</button>
                <a href="/watch-lists">"Cancel"</a>
            </div>
        </ActionForm>
    }
}

#[island]
fn EditWatchListForm(id: i64, list: WatchListInput, typed: Typed) -> impl IntoView {
    let update = ServerAction::<UpdateWatchList>::new();
    let error = last_error(update.value());
    view! {
        <ActionForm action=update attr:class="card form">
            <input type="hidden" name="id" value=id />
            <WatchListFields list typed error />
            <div class="form-actions">
                <button type="submit" class="primary">"Save"</button>
                <a href="/watch-lists">"Cancel"</a>
            </div>
        </ActionForm>
    }
}

/// A replicated list: only its name is edited here; the settings it follows are shown, with
/// where they come from.
#[island]
fn RenameReplicaForm(id: i64, list: WatchList, typed: Typed) -> impl IntoView {
    let rename = ServerAction::<RenameWatchList>::new();
    let error = last_error(rename.value());
    let leader = list.replica_of.clone().unwrap_or_default();
    let threshold = list
        .settings
        .confidence_threshold
        .map(|t| format!("{t:.2}"))
        .unwrap_or_else(|| "the installation's default".into());
    let yes_no = |b: bool| if b { "yes" } else { "no" };
    view! {
        <ActionForm action=rename attr:class="card form">
            <input type="hidden" name="id" value=id />
            <label>
                "Name (this installation's own)"
                <input name="name" value=typed.text("name", list.name.clone()) required maxlength="256" autofocus />
            </label>
            <FieldError error field="name" />
            <FormError error fields=&["name"] />
            <div class="hint" data-testid="leader-settings">
                <p>{format!("These settings follow the Leader's list ({leader}) after each sync:")}</p>
                <dl>
                    <dt>"Comment"</dt><dd>{list.settings.comment.clone()}</dd>
                    <dt>"Colour"</dt><dd><ColorLabel color=list.settings.color.clone() name=list.settings.color.clone() /></dd>
                    <dt>"Confidence threshold"</dt><dd>{threshold}</dd>
                    <dt>"Active"</dt><dd>{yes_no(list.settings.active)}</dd>
                    <dt>"Matches need acknowledgement"</dt><dd>{yes_no(list.settings.acknowledge)}</dd>
                    <dt>"Notify on match"</dt><dd>{yes_no(list.settings.notify)}</dd>
                </dl>
            </div>
            <div class="form-actions">
                <button type="submit" class="primary">"Rename"</button>
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
            <crate::site::PageTitle text="Edit watch list" />
            <h1>"Edit watch list"</h1>
            <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match list.await {
                        Err(e) => view! { <p class="form-error" role="alert">{e.to_string()}</p> }.into_any(),
                        Ok(list) if list.replica_of.is_some() => view! { <RenameReplicaForm id=list.id list typed=Typed::from_query() /> }.into_any(),
                        Ok(list) => view! { <EditWatchListForm id=list.id list=list.into() typed=Typed::from_query() /> }.into_any(),
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
            <crate::site::PageTitle text="Delete watch list" />
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
                                    {match exclusive {
                                        0 => "No dossier is deleted with it.".to_string(),
                                        1 => "1 dossier belongs to no other list and will be deleted with it.".to_string(),
                                        n => format!("{n} dossiers belong to no other list and will be deleted with it."),
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
