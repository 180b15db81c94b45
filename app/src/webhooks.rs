//! The webhooks page (Administrator only): where the events of lists with `notify` are posted,
//! with each webhook's recent deliveries (failures and retries included). Rendered on the
//! server with plain forms. The secret is typed by the Administrator (the form offers a fresh
//! random one) because the receiver needs the same secret to check the signatures.

#[cfg(feature = "ssr")]
use crate::auth::Permission;
use crate::error::AppResult;
use crate::forms::{last_error, FormError};
pub use domain::monitoring::webhooks::{Delivery, Webhook};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// Deliveries shown per webhook.
#[cfg(feature = "ssr")]
const RECENT: i64 = 20;

/// What the page shows: every webhook with its recent deliveries, and a secret to offer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct WebhooksView {
    pub webhooks: Vec<(Webhook, Vec<Delivery>)>,
    pub suggested_secret: String,
}

/// The webhooks, each with its recent deliveries. Administrator only.
#[server(prefix = "/api", endpoint = "webhooks/list", input_derive = (Clone, serde::Serialize, serde::Deserialize, utoipa::ToSchema))]
pub async fn list_webhooks() -> AppResult<WebhooksView> {
    let (state, _) = crate::caller::require(Permission::Admin, "manage webhooks").await?;
    use engine::monitoring::webhooks::store;
    let hooks = store::list(&state.pool).await?;
    let mut recent = store::recent_deliveries(&state.pool, RECENT).await?;
    let webhooks = hooks
        .into_iter()
        .map(|w| {
            let mine: Vec<Delivery> = recent
                .iter()
                .filter(|(id, _)| *id == w.id)
                .map(|(_, d)| d.clone())
                .collect();
            recent.retain(|(id, _)| *id != w.id);
            (w, mine)
        })
        .collect();
    Ok(WebhooksView {
        webhooks,
        suggested_secret: engine::auth::new_secret(),
    })
}

/// Adds a webhook. `watch_lists` (ids: an array, or comma-separated) and `cameras`
/// (comma-separated) are empty for all; `unknown_cameras` (comma-separated) asks also for the
/// faces nobody on the lists resembles from those cameras (`face.unknown`);
/// `secret` may be left empty to have one made. Returns the webhook's id and its secret.
#[server(prefix = "/api", endpoint = "webhooks/create", input_derive = (Clone, serde::Serialize, serde::Deserialize, utoipa::ToSchema))]
pub async fn create_webhook(
    url: String,
    #[server(default)] secret: String,
    #[server(default)] watch_lists: domain::input::IdList,
    #[server(default)] cameras: String,
    #[server(default)] min_confidence: String,
    #[server(default)] unknown_cameras: String,
) -> AppResult<(i64, String)> {
    let (state, me) = crate::caller::require(Permission::Admin, "manage webhooks").await?;
    let watch_lists = watch_lists.parse("watch_lists", "a watch list id")?;
    let min_confidence = match min_confidence.trim() {
        "" => 0.0,
        c => c.parse::<f32>().map_err(|_| {
            domain::Error::invalid(
                "min_confidence",
                format!("{c:?} is not a number from 0 to 1"),
            )
        })?,
    };
    let hook = domain::monitoring::webhooks::NewWebhook {
        url,
        secret,
        watch_lists,
        cameras: names(&cameras),
        min_confidence,
        unknown_cameras: names(&unknown_cameras),
    };
    let created = crate::caller::write(&state, &me, async |db| {
        engine::monitoring::webhooks::store::create(db, hook).await
    })
    .await?;
    crate::notice::redirect("/webhooks", "webhook-created");
    Ok(created)
}

/// Camera names typed comma-separated.
#[cfg(feature = "ssr")]
fn names(text: &str) -> Vec<String> {
    text.split(',').map(|c| c.trim().to_string()).collect()
}

/// Deletes a webhook and its delivery log. Answers `null`. Administrator only.
#[server(prefix = "/api", endpoint = "webhooks/delete", input_derive = (Clone, serde::Serialize, serde::Deserialize, utoipa::ToSchema))]
pub async fn delete_webhook(id: i64) -> AppResult<()> {
    let (state, me) = crate::caller::require(Permission::Admin, "manage webhooks").await?;
    crate::caller::write(&state, &me, async |db| {
        engine::monitoring::webhooks::store::delete(db, id).await
    })
    .await?;
    crate::notice::redirect("/webhooks", "webhook-deleted");
    Ok(())
}

#[component]
pub fn WebhooksPage() -> impl IntoView {
    let view_data = Resource::new(|| (), |_| list_webhooks());
    let lists = Resource::new(|| (), |_| crate::watch_lists::list_watch_list_labels());
    let create = ServerAction::<CreateWebhook>::new();
    let delete = ServerAction::<DeleteWebhook>::new();
    let error = Signal::derive(move || {
        last_error(create.value())
            .get()
            .or_else(|| last_error(delete.value()).get())
    });
    view! {
        <section class="page">
            <crate::site::PageTitle text="Webhooks" />
            <h1>"Webhooks"</h1>
            <p class="hint">"Matches on lists with " <em>"notify"</em> " are posted as JSON to each webhook whose filters they pass, signed with its secret: the header "
                <code>"X-Dossier-Signature: sha256=<hex>"</code> " is the HMAC-SHA256 of the body. A failed delivery is retried with growing waits, up to 8 attempts."</p>
            <FormError error />
            <Suspense fallback=|| view! { <p class="loading">"Loading webhooks…"</p> }>
                {move || Suspend::new(async move {
                    let lists = lists.await.unwrap_or_default();
                    let choices = if lists.is_empty() {
                        view! { <p class="hint">"No watch lists yet: the webhook will get the matches of every list."</p> }.into_any()
                    } else {
                        lists.iter().map(|l| view! {
                            <label><input type="checkbox" name="watch_lists[]" value=l.id /> " " <crate::watch_lists::ColorLabel color=l.color.clone() name=l.name.clone() /></label>
                        }).collect_view().into_any()
                    };
                    match view_data.await {
                        Err(e) => view! { <p class="form-error" role="alert">{e.to_string()}</p> }.into_any(),
                        Ok(data) => view! {
                            <ActionForm action=create attr:class="card form inline-fields" attr:data-testid="new-webhook">
                                <h2>"New webhook"</h2>
                                <label>"URL" <input name="url" type="url" required placeholder="https://receiver.example/dossier" /></label>
                                <label>"Secret" <input name="secret" value=data.suggested_secret.clone() minlength="16" maxlength="256" required aria-describedby="secret-hint" /></label>
                                <p class="hint" id="secret-hint" data-testid="secret-hint">"Copy this secret now and give it to the receiver: it checks each post's signature with it, and this page never shows it again. A fresh one is offered each time."</p>
                                <fieldset class="checks">
                                    <legend>"Watch lists (none chosen: all)"</legend>
                                    {choices}
                                </fieldset>
                                <label>"Cameras" <input name="cameras" placeholder="all (or e.g. gate-1, lobby)" /></label>
                                <label>"Minimum confidence" <input name="min_confidence" inputmode="decimal" placeholder="0" /></label>
                                <label>"Unknown faces from cameras" <input name="unknown_cameras" placeholder="none (or e.g. yard, after-hours areas)" aria-describedby="unknown-hint" /></label>
                                <p class="hint" id="unknown-hint">"Faces nobody on the lists resembles, seen by these cameras, are posted too (kind face.unknown)."</p>
                                <button type="submit" class="primary">"Add webhook"</button>
                            </ActionForm>
                            {if data.webhooks.is_empty() {
                                view! { <p class="empty-state">"No webhooks yet: matches alert only on the Events page."</p> }.into_any()
                            } else {
                                data.webhooks.into_iter().map(|(w, deliveries)| view! { <WebhookCard webhook=w deliveries delete lists=lists.clone() /> }).collect_view().into_any()
                            }}
                        }.into_any(),
                    }
                })}
            </Suspense>
        </section>
    }
}

#[component]
fn WebhookCard(
    webhook: Webhook,
    deliveries: Vec<Delivery>,
    delete: ServerAction<DeleteWebhook>,
    lists: Vec<domain::watch_lists::WatchListLabel>,
) -> impl IntoView {
    let all_or = |v: Vec<String>| {
        if v.is_empty() {
            "all".to_string()
        } else {
            v.join(", ")
        }
    };
    // Lists by name (a deleted one by its id).
    let lists = all_or(
        webhook
            .watch_lists
            .iter()
            .map(|id| {
                lists
                    .iter()
                    .find(|l| l.id == *id)
                    .map_or_else(|| format!("list {id} (deleted)"), |l| l.name.clone())
            })
            .collect(),
    );
    view! {
        <article class="card" data-testid="webhook">
            <h2><code>{webhook.url.clone()}</code></h2>
            <p>{format!("Lists: {lists} · cameras: {} · from confidence {:.2}", all_or(webhook.cameras.clone()), webhook.min_confidence)}</p>
            {(!webhook.unknown_cameras.is_empty()).then(|| view! {
                <p data-testid="webhook-unknown">{format!("Unknown faces from: {}", webhook.unknown_cameras.join(", "))}</p>
            })}
            <p data-testid="webhook-counts">{format!("{} delivered · {} pending · {} failed", webhook.delivered, webhook.pending, webhook.failed)}</p>
            {if deliveries.is_empty() {
                view! { <p class="empty-state">"Nothing delivered yet."</p> }.into_any()
            } else {
                view! {
                    <table class="data-table" tabindex="0" data-testid="deliveries">
                        <thead><tr><th>"Event"</th><th>"State"</th><th class="num">"Attempts"</th><th>"Last answer"</th><th>"Next attempt"</th></tr></thead>
                        <tbody>
                            {deliveries.into_iter().map(|d| view! {
                                <tr class=format!("delivery {}", d.state) data-testid="delivery">
                                    <td>{d.event_id}</td>
                                    <td>{d.state.clone()}</td>
                                    <td class="num">{d.attempts}</td>
                                    <td>{d.last_error.clone().or_else(|| d.last_status.map(|s| format!("HTTP {s}"))).unwrap_or_else(|| "—".into())}</td>
                                    <td>{d.next_attempt_at.map(|t| t.format("%H:%M:%S UTC").to_string()).unwrap_or_else(|| "—".into())}</td>
                                </tr>
                            }).collect_view()}
                        </tbody>
                    </table>
                }.into_any()
            }}
            <details class="confirm">
                <summary>"Delete…"</summary>
                <ActionForm action=delete attr:class="inline-form">
                    <input type="hidden" name="id" value=webhook.id />
                    <span>"Delete this webhook and its delivery log? Pending deliveries are dropped."</span>
                    <button type="submit" class="danger">"Delete webhook"</button>
                </ActionForm>
            </details>
        </article>
    }
}
