//! "Where else was this person seen?": the archive search's server functions and its page.
//! From an event ("Find this person elsewhere" on the Events page) the page is a plain GET of
//! `/events/similar?event=<id>&…`, rendered on the server, so it works without JavaScript. A
//! photo is a plain multipart post to `events/similar-to-photo`: for a browser the server
//! keeps the face it found and sends it to `/events/similar?face=<id>&…` (Post/Redirect/Get),
//! where the filters can change without the photo being sent again.

#[cfg(feature = "ssr")]
use crate::auth::Permission;
use crate::error::AppResult;
pub use domain::monitoring::archive::{Appearance, ArchiveSearch};
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;
use server_fn::codec::{MultipartData, MultipartFormData};

/// The events whose faces resemble event `event`'s (or, from the page, the face `face` a photo
/// search kept), the closest first. Optional, as typed:
/// `camera` (a name), `site` (`here` or a site's id), `from`/`to` (RFC 3339 or
/// `YYYY-MM-DDTHH:MM`, UTC; default: every kept day until now), `min_confidence` (0–1; default:
/// the installation's threshold) and `limit` (1–500, default 50).
// A server function's arguments are its API's fields, one each.
#[allow(clippy::too_many_arguments)]
#[server(prefix = "/api", endpoint = "events/similar", input_derive = (Clone, serde::Serialize, serde::Deserialize, utoipa::ToSchema))]
pub async fn similar_events(
    #[server(default)] event: Option<i64>,
    #[server(default)] face: String,
    #[server(default)] camera: String,
    #[server(default)] site: String,
    #[server(default)] from: String,
    #[server(default)] to: String,
    #[server(default)] min_confidence: String,
    #[server(default)] limit: String,
) -> AppResult<ArchiveSearch> {
    use domain::monitoring::archive::ArchiveScope;
    use engine::monitoring::archive::search::{search, Wanted};
    let (state, user) = crate::caller::require(Permission::Read, "search the events").await?;
    let scope = ArchiveScope::parse(&camera, &site, &from, &to, &min_confidence, &limit)?;
    let wanted = match (event, face.trim()) {
        (Some(event), _) => Wanted::Event(event),
        (None, "") => {
            return Err(domain::Error::invalid(
                "event",
                "is required: the event whose face to search with",
            )
            .into())
        }
        (None, id) => {
            let kept = state.monitoring.searched_faces.get(user.id, id).ok_or_else(|| {
                domain::Error::not_found("that photo's search is over (they are kept an hour): search with the photo again")
            })?;
            match &kept.found {
                Ok((vector, n)) => Wanted::Face(vector.clone(), *n),
                Err(why) => return Err(domain::Error::invalid("image", why.clone()).into()),
            }
        }
    };
    Ok(search(&state.monitoring, wanted, &scope).await?)
}

/// The events whose faces resemble the largest face in a photo, the closest first. Multipart
/// fields: `image`, and optionally the scope of `events/similar` (`camera`, `site`, `from`,
/// `to`, `min_confidence`, `limit`).
#[server(prefix = "/api", endpoint = "events/similar-to-photo", input = MultipartFormData)]
pub async fn events_similar_to_photo(data: MultipartData) -> AppResult<ArchiveSearch> {
    use domain::monitoring::archive::ArchiveScope;
    use engine::monitoring::archive::search::{search, Wanted};
    let (state, user) = crate::caller::require(Permission::Read, "search the events").await?;
    let from_page = crate::caller::from_page()?;
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
        .ok_or_else(|| domain::Error::invalid("image", "choose a photo to search with"));
    if from_page {
        // The face (or why there is none) kept for the page, which then searches with it.
        let found = match image {
            Ok(image) => engine::monitoring::archive::search::photo_face(&state.monitoring, image)
                .await
                .map(|(_, vector, n)| (vector, n))
                .map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        let id = state
            .monitoring
            .searched_faces
            .keep(user.id, engine::faces::recent::KeptFace { found });
        let mut params = vec![("face", id)];
        for name in ["camera", "from", "to", "min_confidence"] {
            params.push((name, field(name)));
        }
        leptos_axum::redirect(&crate::forms::link("/events/similar", &params));
        return Ok(ArchiveSearch::default());
    }
    Ok(search(&state.monitoring, Wanted::Photo(image?), &scope).await?)
}

/// The search as the page's address carries it.
#[derive(Clone, PartialEq, Default)]
struct Asked {
    event: String,
    face: String,
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
                face: get("face"),
                camera: get("camera"),
                from: get("from"),
                to: get("to"),
                min_confidence: get("min_confidence"),
            }
        })
    };
    let found = Resource::new(asked, |a| async move {
        if a.event.is_empty() && a.face.is_empty() {
            return Ok(None);
        }
        let event = match a.event.trim() {
            "" => None,
            e => Some(e.parse::<i64>().map_err(|_| {
                crate::error::AppError::from(domain::Error::invalid("event", "is not an event id"))
            })?),
        };
        similar_events(
            event,
            a.face,
            a.camera,
            String::new(),
            a.from,
            a.to,
            a.min_confidence,
            String::new(),
        )
        .await
        .map(Some)
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
                        {match outcome {
                            Ok(None) => view! {
                                <p class="empty-state" data-testid="no-search">"Search the events with a photo below, or from an event: \"Find this person elsewhere\" on the Events page."</p>
                            }.into_any(),
                            Err(e) => view! { <SearchedWith asked=a.clone() /><p class="form-error" role="alert">{e.to_string()}</p> }.into_any(),
                            Ok(Some(s)) => view! { <SearchedWith asked=a.clone() /><Appearances search=s /> }.into_any(),
                        }}
                        <PhotoForm />
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
                {(!asked.event.is_empty()).then(|| view! { <input type="hidden" name="event" value=asked.event.clone() /> })}
                {(!asked.face.is_empty()).then(|| view! { <input type="hidden" name="face" value=asked.face.clone() /> })}
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

/// A photo to search the events with: a plain multipart form (it works without JavaScript).
#[component]
fn PhotoForm() -> impl IntoView {
    view! {
        <form method="post" action="/api/events/similar-to-photo" enctype="multipart/form-data" class="card form inline-fields" data-testid="similar-photo">
            <h2>"Search the events with a photo"</h2>
            <label>"Photo" <input type="file" name="image" accept="image/*" required /></label>
            <label>"Camera" <input name="camera" placeholder="any" /></label>
            <button type="submit">"Search the events"</button>
            <p class="hint">"The largest face in the photo is searched for, in every event kept."</p>
        </form>
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
        <table class="data-table events" tabindex="0" data-testid="appearances">
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
