//! "Where else was this person seen?": the archive search's server functions and its page.
//! From an event ("Find this person elsewhere" on the Events page) the page is a plain GET of
//! `/events/similar?event=<id>&…`, rendered on the server, so it works without JavaScript; a
//! photo is searched with through the API (`events/similar-to-photo`).

#[cfg(feature = "ssr")]
use crate::auth::Permission;
use crate::error::AppResult;
pub use domain::monitoring::archive::{Appearance, ArchiveSearch};
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;
use server_fn::codec::{MultipartData, MultipartFormData};

/// The events whose faces resemble event `event`'s, the closest first. Optional, as typed:
/// `camera` (a name), `site` (`here` or a site's id), `from`/`to` (RFC 3339 or
/// `YYYY-MM-DDTHH:MM`, UTC; default: every kept day until now), `min_confidence` (0–1; default:
/// the installation's threshold) and `limit` (1–500, default 50).
// A server function's arguments are its API's fields, one each.
#[allow(clippy::too_many_arguments)]
#[server(prefix = "/api", endpoint = "events/similar", input_derive = (Clone, serde::Serialize, serde::Deserialize, utoipa::ToSchema))]
pub async fn similar_events(
    event: i64,
    #[server(default)] camera: String,
    #[server(default)] site: String,
    #[server(default)] from: String,
    #[server(default)] to: String,
    #[server(default)] min_confidence: String,
    #[server(default)] limit: String,
) -> AppResult<ArchiveSearch> {
    use domain::monitoring::archive::ArchiveScope;
    use engine::monitoring::archive::search::{search, Wanted};
    let (state, _) = crate::caller::require(Permission::Read, "search the events").await?;
    let scope = ArchiveScope::parse(&camera, &site, &from, &to, &min_confidence, &limit)?;
    Ok(search(&state.monitoring, Wanted::Event(event), &scope).await?)
}

/// The events whose faces resemble the largest face in a photo, the closest first. Multipart
/// fields: `image`, and optionally the scope of `events/similar` (`camera`, `site`, `from`,
/// `to`, `min_confidence`, `limit`).
#[server(prefix = "/api", endpoint = "events/similar-to-photo", input = MultipartFormData)]
pub async fn events_similar_to_photo(data: MultipartData) -> AppResult<ArchiveSearch> {
    use domain::monitoring::archive::ArchiveScope;
    use engine::monitoring::archive::search::{search, Wanted};
    let (state, _) = crate::caller::require(Permission::Read, "search the events").await?;
    let fields = crate::photos::multipart::read(data, state.web.upload_limit).await?;
    let field = |name: &str| fields.extra.get(name).cloned().unwrap_or_default();
    let scope = ArchiveScope::parse(
        &field("camera"),
        &field("site"),
        &field("from"),
        &field("to"),
        &field("min_confidence"),
        &field("limit"),
    )?;
    let image = fields
        .image
        .filter(|b| !b.is_empty())
        .ok_or_else(|| domain::Error::invalid("image", "choose a photo to search with"))?;
    Ok(search(&state.monitoring, Wanted::Photo(image), &scope).await?)
}

/// The search as the page's address carries it.
#[derive(Clone, PartialEq, Default)]
struct Asked {
    event: String,
    camera: String,
    from: String,
    to: String,
    min_confidence: String,
}

#[component]
pub fn SimilarEventsPage() -> impl IntoView {
    let query = use_query_map();
    let asked = move || {
        query.with(|q| {
            let get = |k: &str| q.get(k).unwrap_or_default();
            Asked {
                event: get("event"),
                camera: get("camera"),
                from: get("from"),
                to: get("to"),
                min_confidence: get("min_confidence"),
            }
        })
    };
    let found = Resource::new(asked, |a| async move {
        let event = a.event.trim().parse::<i64>().map_err(|_| {
            crate::error::AppError::from(domain::Error::invalid(
                "event",
                "choose an event on the Events page, then \"Find this person elsewhere\"",
            ))
        })?;
        similar_events(
            event,
            a.camera,
            String::new(),
            a.from,
            a.to,
            a.min_confidence,
            String::new(),
        )
        .await
    });
    view! {
        <section class="page similar-page">
            <crate::site::PageTitle text="Seen elsewhere" />
            <h1>"Seen elsewhere"</h1>
            <Suspense fallback=|| view! { <p class="loading">"Searching the events…"</p> }>
                {move || Suspend::new(async move {
                    let a = asked();
                    let outcome = found.await;
                    view! {
                        <SearchedWith asked=a.clone() />
                        {match outcome {
                            Err(e) => view! { <p class="form-error" role="alert">{e.to_string()}</p> }.into_any(),
                            Ok(s) => view! { <Appearances search=s /> }.into_any(),
                        }}
                    }
                })}
            </Suspense>
        </section>
    }
}

/// The face searched with, and the scope as a GET form that searches again.
#[component]
fn SearchedWith(asked: Asked) -> impl IntoView {
    let face = (!asked.event.is_empty()).then(|| {
        view! { <img class="face" src=format!("/events/{}/face", asked.event) alt="The face searched for" width="96" height="96" /> }
    });
    view! {
        <div class="searched-with">
            {face}
            <form method="get" action="/events/similar" class="search-form" data-testid="similar-scope">
                <input type="hidden" name="event" value=asked.event.clone() />
                <label>"Camera" <input name="camera" value=asked.camera placeholder="any" /></label>
                <label>"From (UTC)" <input type="datetime-local" name="from" value=asked.from /></label>
                <label>"To (UTC)" <input type="datetime-local" name="to" value=asked.to /></label>
                <label>"Confidence at least" <input name="min_confidence" inputmode="decimal" size="4" value=asked.min_confidence placeholder="threshold" /></label>
                <button type="submit">"Search again"</button>
                <a href="/events">"Back to the events"</a>
            </form>
        </div>
    }
}

#[component]
fn Appearances(search: ArchiveSearch) -> impl IntoView {
    let range = format!(
        "{} events' faces compared, {} – {}, at least {:.2} confident.",
        search.compared,
        search.from.format("%Y-%m-%d %H:%M"),
        search.to.format("%Y-%m-%d %H:%M UTC"),
        search.min_confidence
    );
    if search.appearances.is_empty() {
        return view! {
            <p class="empty-state" data-testid="no-appearances">"Not seen anywhere else in this range. Lower the confidence or widen the range to see more."</p>
            <p class="hint">{range}</p>
        }
        .into_any();
    }
    view! {
        <p class="hint" data-testid="compared">{range}</p>
        <table class="data-table events" data-testid="appearances">
            <thead><tr><th>"Seen"</th><th>"Camera"</th><th>"Face"</th><th class="num">"Same person"</th><th>"Matched"</th></tr></thead>
            <tbody>
                {search.appearances.into_iter().map(|a| {
                    let e = a.event;
                    let face = e.has_face.then(|| view! { <img class="face" src=format!("/events/{}/face", e.id) alt="Face seen" width="64" height="64" /> });
                    let matched = match e.matched {
                        Some(m) => view! { <a href=format!("/dossiers/{}", m.dossier_id)>{m.dossier_name}</a> }.into_any(),
                        None => view! { <span class="muted">"no match"</span> }.into_any(),
                    };
                    view! {
                        <tr data-testid="appearance" data-event-id=e.id>
                            <td data-testid="seen">{e.captured_at.format("%Y-%m-%d %H:%M:%S UTC").to_string()}</td>
                            <td data-testid="camera">{e.camera}{e.site.map(|s| view! { <br /><span class="site">{format!("at {}", s.name)}</span> })}</td>
                            <td>{face}</td>
                            <td class="num" data-testid="confidence">{format!("{:.2}", a.confidence)}</td>
                            <td>{matched}</td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
    }
    .into_any()
}
