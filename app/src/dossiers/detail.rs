//! One dossier: its fields, lists, meta and the photo gallery.

use super::{deletable, id_param, lists_by_id, load_dossier};
use crate::auth::{use_current_user, Permission};
use crate::photos::DossierPhotos;
use crate::watch_lists::{list_watch_list_labels, ColorLabel, ReplicaBadge};
use leptos::prelude::*;

#[component]
pub fn DossierPage() -> impl IntoView {
    let id = id_param();
    let dossier = Resource::new(move || id.get(), load_dossier);
    let lists = Resource::new(|| (), |_| list_watch_list_labels());
    let can_edit = use_current_user().is_some_and(|u| u.can(Permission::Edit));
    // Asked only of those who may delete: it reaches out to the Leader of a replicated dossier.
    let refusal = Resource::new(
        move || (can_edit, id.get()),
        |(can_edit, id)| async move {
            if can_edit {
                deletable(id).await
            } else {
                Ok(Some(String::new()))
            }
        },
    );
    view! {
        <section class="page">
            <Suspense fallback=|| view! { <p class="loading">"Loading dossier…"</p> }>
                {move || Suspend::new(async move {
                    let lists = lists.await.unwrap_or_default();
                    let refusal = refusal.await.unwrap_or_else(|e| Some(e.to_string()));
                    match dossier.await {
                        Err(e) => view! { <p class="form-error" role="alert">{e.to_string()}</p> }.into_any(),
                        Ok(d) => {
                            let labels = lists_by_id(&lists, &d.watch_lists);
                            let meta = serde_json::to_string_pretty(&d.meta).unwrap_or_default();
                            // A replicated dossier is edited on its Leader; it may be deleted
                            // here only while the Leader is unreachable.
                            let editable = can_edit && d.replica_of.is_none();
                            let deletable = can_edit && refusal.is_none();
                            view! {
                                <header class="page-header">
                                    <crate::site::PageTitle text=d.name.clone() />
                                    <h1 data-testid="dossier-name">{d.name.clone()}</h1>
                                    {d.replica_of.clone().map(|url| view! { <ReplicaBadge leader=url /> })}
                                    {can_edit.then(|| view! {
                                        <div class="actions">
                                            {editable.then(|| view! { <a class="button" href=format!("/dossiers/{}/edit", d.id)>"Edit"</a> })}
                                            {deletable.then(|| view! { <a class="button danger" href=format!("/dossiers/{}/delete", d.id)>"Delete"</a> })}
                                        </div>
                                    })}
                                </header>
                                <dl class="facts">
                                    <dt>"Watch lists"</dt>
                                    <dd class="labels">{labels.into_iter().map(|l| view! { <ColorLabel color=l.color name=l.name /> }).collect_view()}</dd>
                                    <dt>"Active"</dt><dd>{if d.active { "yes" } else { "no" }}</dd>
                                    <dt>"Comment"</dt><dd class="comment">{d.comment.clone()}</dd>
                                    <dt>"Meta"</dt><dd><pre>{meta}</pre></dd>
                                    {d.external_key.clone().map(|key| view! { <dt>"External key"</dt><dd data-testid="external-key"><code>{key}</code></dd> })}
                                    <dt>"Modified"</dt><dd>{d.modified_at.format("%Y-%m-%d %H:%M:%S UTC").to_string()}</dd>
                                </dl>
                                <h2>"Photos"</h2>
                                <DossierPhotos dossier_id=d.id photos=d.photos.clone() editable />
                            }.into_any()
                        }
                    }
                })}
            </Suspense>
            <crate::verdicts::DossierVerdicts dossier=id />
        </section>
    }
}
