//! Cancelling a replica: a confirmation page of its own, so it works before the WASM loads and
//! cannot be done by a stray click.

use super::{replication_overview, CancelReplica};
use crate::error::{AppError, Error};
use crate::forms::{last_error, FormError};
use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

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
            <crate::site::PageTitle text="Cancel replica" />
            <h1>"Cancel replica"</h1>
            <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    let found = overview.await.and_then(|o| {
                        o.replicas
                            .into_iter()
                            .map(|v| v.replica)
                            .find(|r| Some(r.id) == id.get())
                            .ok_or_else(|| AppError::from(Error::not_found("no such replica")))
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
