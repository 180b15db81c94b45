//! Operators' verdicts on matches, and a list's calibration: the server functions, the
//! verdict buttons of an event, a dossier's verdicts and the calibration page
//! (`/watch-lists/<id>/calibration`), all plain forms and links rendered on the server.

use crate::auth::use_current_user;
#[cfg(feature = "ssr")]
use crate::auth::Permission;
use crate::error::AppResult;
pub use domain::monitoring::verdicts::{Calibration, Judgement, Verdict};
use domain::monitoring::Event;
use leptos::prelude::*;
use leptos_router::hooks::{use_params_map, use_query_map};

/// Records an operator's verdict on a match: `verdict` is `confirmed`, `rejected` (not this
/// person) or empty to withdraw it; who and when are recorded, and the audit log says so.
/// `back` is the events view to return to.
#[server(prefix = "/api", endpoint = "events/judge", input_derive = (Clone, serde::Serialize, serde::Deserialize, utoipa::ToSchema))]
pub async fn judge_event(
    id: i64,
    #[server(default)] verdict: String,
    #[server(default)] back: String,
) -> AppResult<Option<Verdict>> {
    let (state, me) = crate::caller::require(Permission::Edit, "judge matches").await?;
    let verdict = Verdict::parse_field(&verdict)?;
    let by = me.username.clone();
    crate::caller::write(&state, &me, async |db| {
        engine::monitoring::verdicts::judge(db, id, verdict, &by).await
    })
    .await?;
    let done = match verdict {
        Some(Verdict::Confirmed) => "match-confirmed",
        Some(Verdict::Rejected) => "match-rejected",
        None => "verdict-withdrawn",
    };
    let to = if back.starts_with("/dossiers/") && !back.contains("//") {
        back
    } else {
        crate::events::events_view(&back)
    };
    crate::notice::redirect(&to, done);
    Ok(verdict)
}

/// A list's judged matches: the confidences of the confirmed and the rejected ones, the
/// threshold now, and the one that would have kept `keep` of the confirmed (0–1 or a
/// percentage; 95 % when omitted) while rejecting the most false ones.
#[server(prefix = "/api", endpoint = "watch-lists/calibration", input_derive = (Clone, serde::Serialize, serde::Deserialize, utoipa::ToSchema))]
pub async fn list_calibration(id: i64, #[server(default)] keep: String) -> AppResult<Calibration> {
    let (state, _) = crate::caller::require(Permission::Read, "see watch lists").await?;
    let keep = domain::monitoring::verdicts::parse_keep(&keep)?;
    let default = state.installation.settings.monitoring.threshold();
    Ok(engine::monitoring::verdicts::calibration(&state.pool, id, keep, default).await?)
}

/// Sets a list's threshold (Administrators: the calibration proposes, a person decides). A
/// replicated list follows its Leader's threshold and refuses it.
#[server(prefix = "/api", endpoint = "watch-lists/apply-threshold", input_derive = (Clone, serde::Serialize, serde::Deserialize, utoipa::ToSchema))]
pub async fn apply_threshold(id: i64, threshold: String) -> AppResult<f32> {
    let (state, me) = crate::caller::require(Permission::Admin, "set a list's threshold").await?;
    engine::sync::guard::lists_writable(&state.pool, &[id]).await?;
    let value = threshold
        .trim()
        .parse::<f32>()
        .ok()
        .filter(|t| t.is_finite() && (0.0..=1.0).contains(t))
        .ok_or_else(|| domain::Error::invalid("threshold", "must be a number from 0 to 1"))?;
    crate::caller::write(&state, &me, async |db| {
        engine::monitoring::verdicts::apply_threshold(db, id, value).await
    })
    .await?;
    crate::notice::redirect(
        &format!("/watch-lists/{id}/calibration"),
        "threshold-applied",
    );
    Ok(value)
}

/// The latest verdicts on a dossier's matches, newest first (at most 20).
#[server(prefix = "/api", endpoint = "dossiers/verdicts", input_derive = (Clone, serde::Serialize, serde::Deserialize, utoipa::ToSchema))]
pub async fn dossier_verdicts(id: i64) -> AppResult<Vec<Event>> {
    let (state, _) = crate::caller::require(Permission::Read, "see events").await?;
    Ok(engine::monitoring::verdicts::of_dossier(&state.pool, id, 20).await?)
}

/// What an operator sees of a match's verdict, and (for those who may) the buttons that give
/// or withdraw it; `back` is the page to return to.
#[component]
pub fn VerdictCell(event_id: i64, verdict: Option<Judgement>, back: String) -> impl IntoView {
    let judge = ServerAction::<JudgeEvent>::new();
    let can_judge = use_current_user().is_some_and(|u| u.can(domain::access::Permission::Edit));
    let said = verdict.as_ref().map(|j| {
        let (class, words) = match j.verdict {
            Verdict::Confirmed => ("verdict confirmed", "Confirmed"),
            Verdict::Rejected => ("verdict rejected", "Not this person"),
        };
        view! { <span class=class data-testid="verdict" title=format!("{} · {}", j.by, j.at.format("%Y-%m-%d %H:%M UTC"))>{words}</span> }
    });
    let button = move |value: &'static str, words: &'static str| {
        let back = back.clone();
        view! {
            <ActionForm action=judge attr:class="inline-form">
                <input type="hidden" name="id" value=event_id />
                <input type="hidden" name="verdict" value=value />
                <input type="hidden" name="back" value=back />
                <button type="submit" class="small">{words}</button>
            </ActionForm>
        }
    };
    let buttons = can_judge.then(|| match verdict.as_ref().map(|j| j.verdict) {
        None => view! { {button("confirmed", "Confirm")} {button("rejected", "Not this person")} }
            .into_any(),
        Some(_) => button("", "Withdraw").into_any(),
    });
    view! {
        <div class="verdict-cell">
            {said}{buttons}
            <crate::forms::FormError error=crate::forms::last_error(judge.value()) />
        </div>
    }
}

/// A dossier's judged matches, under its gallery.
#[component]
pub fn DossierVerdicts(dossier: Memo<Option<i64>>) -> impl IntoView {
    let verdicts = Resource::new(
        move || dossier.get(),
        |id| async move {
            match id {
                Some(id) => dossier_verdicts(id).await,
                None => Ok(Vec::new()),
            }
        },
    );
    view! {
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                let events = verdicts.await.unwrap_or_default();
                if events.is_empty() {
                    return ().into_any();
                }
                let confirmed = events.iter().filter(|e| e.verdict.as_ref().is_some_and(|j| j.verdict == Verdict::Confirmed)).count();
                let rejected = events.len() - confirmed;
                view! {
                    <section class="card verdicts" data-testid="dossier-verdicts">
                        <h2>"Verdicts on its matches"</h2>
                        <p class="hint">{format!("{confirmed} confirmed, {rejected} not this person (latest {}).", events.len())}</p>
                        <ul>
                            {events.into_iter().map(|e| {
                                let j = e.verdict.clone();
                                let words = match j.as_ref().map(|j| j.verdict) {
                                    Some(Verdict::Confirmed) => "confirmed",
                                    _ => "not this person",
                                };
                                view! {
                                    <li data-testid="dossier-verdict">
                                        {e.has_face.then(|| view! { <img class="face" src=format!("/events/{}/face", e.id) alt="Face seen" width="40" height="40" /> })}
                                        {format!("{} · {} · {:.2} · {words} by {}", e.captured_at.format("%Y-%m-%d %H:%M UTC"), e.camera, e.matched.map(|m| m.confidence).unwrap_or_default(), j.map(|j| j.by).unwrap_or_default())}
                                    </li>
                                }
                            }).collect_view()}
                        </ul>
                    </section>
                }.into_any()
            })}
        </Suspense>
    }
}

#[component]
pub fn CalibrationPage() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let asked = move || {
        (
            params.with(|p| {
                p.get("id")
                    .and_then(|id| id.parse::<i64>().ok())
                    .unwrap_or_default()
            }),
            query.with(|q| q.get("keep").unwrap_or_default()),
        )
    };
    let calibration = Resource::new(asked, |(id, keep)| list_calibration(id, keep));
    let is_admin = use_current_user().is_some_and(|u| u.can(domain::access::Permission::Admin));
    view! {
        <section class="page calibration-page">
            <crate::site::PageTitle text="Calibration" />
            <Suspense fallback=|| view! { <h1>"Calibration"</h1><p class="loading">"Reading the verdicts…"</p> }>
                {move || Suspend::new(async move {
                    let (id, keep) = asked();
                    match calibration.await {
                        Err(e) => view! { <h1>"Calibration"</h1><p class="form-error" role="alert">{e.to_string()}</p> }.into_any(),
                        Ok(c) => view! { <CalibrationView c keep id is_admin /> }.into_any(),
                    }
                })}
            </Suspense>
        </section>
    }
}

#[component]
fn CalibrationView(c: Calibration, keep: String, id: i64, is_admin: bool) -> impl IntoView {
    let where_from = if c.own_threshold {
        "the list's own"
    } else {
        "the installation's default"
    };
    let above = |values: &[f32], t: f32| values.iter().filter(|v| **v >= t).count();
    let now = format!(
        "At the current threshold, {:.2} ({where_from}): {} confirmed and {} rejected matches were made.",
        c.threshold,
        above(&c.confirmed, c.threshold),
        above(&c.rejected, c.threshold)
    );
    // Every judged match as a mark on a scale from 0 to 1, with the thresholds.
    let mark = |v: f32, class: &'static str| {
        view! { <span class=class style=format!("left:{:.2}%", v.clamp(0.0, 1.0) * 100.0) title=format!("{v:.3}")></span> }
    };
    let marks = c
        .confirmed
        .iter()
        .map(|v| mark(*v, "mark confirmed"))
        .chain(c.rejected.iter().map(|v| mark(*v, "mark rejected")))
        .collect_view();
    let proposal = c.proposal;
    let keep_percent = format!("{:.0}", c.keep * 100.0);
    view! {
        <h1>{format!("Calibration · {}", c.watch_list_name)}</h1>
        <p class="hint">"Matches operators confirmed or marked \"not this person\", by their confidence. Matches below the threshold were never made, so what follows can raise the threshold, not tell how far to lower it."</p>
        <p data-testid="calibration-now">{now}</p>
        {if c.confirmed.is_empty() && c.rejected.is_empty() {
            view! { <p class="empty-state" data-testid="no-verdicts">"No verdicts yet. Confirm matches, or mark them \"Not this person\", on the Events page."</p> }.into_any()
        } else {
            view! {
                <div class="scale" aria-hidden="true">
                    {marks}
                    <span class="line current" style=format!("left:{:.2}%", c.threshold * 100.0)></span>
                    {proposal.map(|p| view! { <span class="line proposed" style=format!("left:{:.2}%", p.threshold * 100.0)></span> })}
                </div>
                <table class="data-table" tabindex="0" data-testid="calibration-verdicts">
                    <thead><tr><th>"Verdict"</th><th class="num">"Matches"</th><th>"Confidences, highest first"</th></tr></thead>
                    <tbody>
                        <tr><td>"Confirmed"</td><td class="num" data-testid="confirmed-count">{c.confirmed.len()}</td><td>{c.confirmed.iter().map(|v| format!("{v:.2}")).collect::<Vec<_>>().join(", ")}</td></tr>
                        <tr><td>"Not this person"</td><td class="num" data-testid="rejected-count">{c.rejected.len()}</td><td>{c.rejected.iter().map(|v| format!("{v:.2}")).collect::<Vec<_>>().join(", ")}</td></tr>
                    </tbody>
                </table>
            }.into_any()
        }}
        <form method="get" action=format!("/watch-lists/{id}/calibration") class="search-form">
            <label>"Keep this share of the confirmed (%)" <input name="keep" inputmode="decimal" size="4" value=if keep.is_empty() { keep_percent.clone() } else { keep } /></label>
            <button type="submit">"Propose"</button>
        </form>
        {match proposal {
            None => view! { <p class="muted">"Nothing to propose without confirmed matches."</p> }.into_any(),
            Some(p) => view! {
                <p data-testid="proposal">
                    {format!("Proposed threshold: {:.3}. It would have kept {} of {} confirmed matches and {} of {} rejected ones.", p.threshold, p.confirmed_kept, c.confirmed.len(), p.rejected_kept, c.rejected.len())}
                </p>
                {is_admin.then(|| view! { <ApplyThreshold id threshold=p.threshold /> })}
            }.into_any(),
        }}
        <p><a href="/watch-lists">"← Watch lists"</a></p>
    }
}

/// An Administrator's form that sets the proposed threshold.
#[component]
fn ApplyThreshold(id: i64, threshold: f32) -> impl IntoView {
    let apply = ServerAction::<ApplyThreshold>::new();
    view! {
        <ActionForm action=apply attr:class="inline-form" attr:data-testid="apply-threshold">
            <input type="hidden" name="id" value=id />
            <input type="hidden" name="threshold" value=format!("{threshold:.3}") />
            <button type="submit" class="primary">{format!("Apply {threshold:.3} to this list")}</button>
        </ActionForm>
        <crate::forms::FormError error=crate::forms::last_error(apply.value()) />
    }
}
