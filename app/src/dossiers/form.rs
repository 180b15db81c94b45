//! Creating, editing and deleting a dossier: the forms are islands (a refused submission shows
//! its errors beside the fields and keeps what was typed); deleting asks first, on a page.

use super::{
    id_param, load_dossier, CreateDossier, DeleteDossier, DossierFormValues, UpdateDossier,
};
use crate::error::AppError;
use crate::forms::{last_error, FieldError, FormError, Typed};
use crate::watch_lists::{list_watch_list_labels, ColorLabel, WatchListLabel};
use leptos::prelude::*;

#[component]
fn DossierFields(
    values: DossierFormValues,
    lists: Vec<WatchListLabel>,
    error: Signal<Option<AppError>>,
) -> impl IntoView {
    let DossierFormValues {
        name,
        comment,
        active,
        meta,
        watch_lists: chosen,
    } = values;
    view! {
        <label>
            "Name"
            <input name="name" value=name required maxlength="256" autofocus />
        </label>
        <FieldError error field="name" />
        <label>
            "Comment"
            <textarea name="comment" maxlength="2048" rows="3">{comment}</textarea>
        </label>
        <FieldError error field="comment" />
        <fieldset class="checks">
            <legend>"Watch lists"</legend>
            {if lists.is_empty() {
                view! { <p>"There are no watch lists yet: " <a href="/watch-lists/new">"create one first"</a> "."</p> }.into_any()
            } else {
                // Replicated lists are filled by their Leader only.
                lists.into_iter().filter(|l| l.replica_of.is_none()).map(|l| {
                    let checked = chosen.contains(&l.id);
                    view! {
                        <label>
                            <input type="checkbox" name="watch_lists[]" value=l.id checked=checked />
                            " " <ColorLabel color=l.color name=l.name />
                        </label>
                    }
                }).collect_view().into_any()
            }}
        </fieldset>
        <FieldError error field="watch_lists" />
        <label class="inline">
            <input type="checkbox" name="active" value="true" checked=active />
            " Active"
        </label>
        <label>
            "Meta (a JSON object)"
            <textarea name="meta" rows="4" class="mono">{meta}</textarea>
        </label>
        <FieldError error field="meta" />
        <FormError error fields=&["name", "comment", "watch_lists", "meta"] />
    }
}

/// The form's values, or what was typed into it if the server refused it (without JavaScript).
fn as_typed(values: DossierFormValues) -> DossierFormValues {
    let typed = Typed::from_query();
    let lists = values.watch_lists.iter().map(i64::to_string).collect();
    DossierFormValues {
        name: typed.text("name", values.name),
        comment: typed.text("comment", values.comment),
        active: typed.ticked("active", values.active),
        meta: typed.text("meta", values.meta),
        watch_lists: typed
            .all("watch_lists[]", lists)
            .iter()
            .filter_map(|id| id.parse().ok())
            .collect(),
    }
}

#[component]
pub fn NewDossierPage() -> impl IntoView {
    let lists = Resource::new(|| (), |_| list_watch_list_labels());
    view! {
        <section class="page narrow">
            <crate::site::PageTitle text="New dossier" />
            <h1>"New dossier"</h1>
            <p class="hint">"Photos are added on the dossier's page once it is created."</p>
            <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    let lists = lists.await.unwrap_or_default();
                    let values = as_typed(DossierFormValues { active: true, meta: "{}".into(), ..Default::default() });
                    view! { <NewDossierForm lists values /> }
                })}
            </Suspense>
        </section>
    }
}

/// An island, as every form with fields is: a rejected submission shows its errors beside the
/// fields and keeps what the user typed.
#[island]
fn NewDossierForm(lists: Vec<WatchListLabel>, values: DossierFormValues) -> impl IntoView {
    let create = ServerAction::<CreateDossier>::new();
    let error = last_error(create.value());
    view! {
        <ActionForm action=create attr:class="card form">
            <DossierFields values lists error />
            <div class="form-actions">
                <button type="submit" class="primary">"Create"</button>
                <a href="/dossiers">"Cancel"</a>
            </div>
        </ActionForm>
    }
}

#[component]
pub fn EditDossierPage() -> impl IntoView {
    let id = id_param();
    let dossier = Resource::new(move || id.get(), load_dossier);
    let lists = Resource::new(|| (), |_| list_watch_list_labels());
    view! {
        <section class="page narrow">
            <crate::site::PageTitle text="Edit dossier" />
            <h1>"Edit dossier"</h1>
            <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    let lists = lists.await.unwrap_or_default();
                    match dossier.await {
                        Err(e) => view! { <p class="form-error" role="alert">{e.to_string()}</p> }.into_any(),
                        Ok(dossier) => view! { <EditDossierForm id=dossier.id values=as_typed(dossier.into()) lists /> }.into_any(),
                    }
                })}
            </Suspense>
        </section>
    }
}

#[island]
fn EditDossierForm(
    id: i64,
    values: DossierFormValues,
    lists: Vec<WatchListLabel>,
) -> impl IntoView {
    let update = ServerAction::<UpdateDossier>::new();
    let error = last_error(update.value());
    view! {
        <ActionForm action=update attr:class="card form">
            <input type="hidden" name="id" value=id />
            <DossierFields values lists error />
            <div class="form-actions">
                <button type="submit" class="primary">"Save"</button>
                <a href=format!("/dossiers/{id}")>"Cancel"</a>
            </div>
        </ActionForm>
    }
}

#[component]
pub fn DeleteDossierPage() -> impl IntoView {
    let id = id_param();
    let dossier = Resource::new(move || id.get(), load_dossier);
    let refusal = Resource::new(move || id.get(), super::deletable);
    let delete = ServerAction::<DeleteDossier>::new();
    let error = last_error(delete.value());
    view! {
        <section class="page narrow">
            <crate::site::PageTitle text="Delete dossier" />
            <h1>"Delete dossier"</h1>
            <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    let refusal = refusal.await;
                    match dossier.await {
                        Err(e) => view! { <p class="form-error" role="alert">{e.to_string()}</p> }.into_any(),
                        Ok(d) => match refusal {
                            Err(e) => view! { <p class="form-error" role="alert">{e.to_string()}</p> }.into_any(),
                            Ok(Some(reason)) => view! {
                                <div class="card">
                                    <p class="form-error" role="alert" data-testid="not-deletable">{reason}</p>
                                    <p><a href=format!("/dossiers/{}", d.id)>"Back to the dossier"</a></p>
                                </div>
                            }.into_any(),
                            Ok(None) => view! {
                            <ActionForm action=delete attr:class="card form confirm">
                                <input type="hidden" name="id" value=d.id />
                                <p>
                                    "Delete the dossier " <strong>{d.name.clone()}</strong>
                                    {match d.photos.len() {
                                        0 => "?".to_string(),
                                        n => format!(" and its {}?", crate::forms::count(n as i64, "photo", "photos")),
                                    }}
                                    {if d.replica_of.is_some() {
                                        " It is a replica of its Leader's dossier: the next successful sync with the Leader brings it back."
                                    } else {
                                        " This cannot be undone."
                                    }}
                                </p>
                                <FormError error />
                                <div class="form-actions">
                                    <button type="submit" class="danger">"Delete"</button>
                                    <a href=format!("/dossiers/{}", d.id)>"Cancel"</a>
                                </div>
                            </ActionForm>
                        }.into_any(),
                        },
                    }
                })}
            </Suspense>
        </section>
    }
}
