//! Search by photo: the server function `faces/search` and the page. The page's form is a plain
//! multipart POST to it; for a browser the server keeps the results and sends it to
//! `/faces/search?result=<id>`, rendered here on the server: it works before (and without) the
//! WASM, and the results add nothing to the bundle.

#[cfg(feature = "ssr")]
use crate::auth::Permission;
use crate::error::AppResult;
use crate::uploads::FacePreview;
use crate::watch_lists::{list_watch_list_labels, WatchListLabel};
pub use domain::faces::{FaceBox, FaceMatch, FaceSearchResult, FoundFace};
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;
use serde::{Deserialize, Serialize};
use server_fn::codec::{MultipartData, MultipartFormData};

/// Finds every face in a photo and, for each, the dossiers it resembles most. Multipart
/// fields: `image`, and optionally `watch_list` (an id), `min_confidence` (0–1, default 0.5)
/// and `matches` (per face, default 5, at most 50). A browser's form post is answered with the
/// results page instead (its outcome, refusals included, kept for the page to show).
#[server(prefix = "/api", endpoint = "faces/search", input = MultipartFormData)]
pub async fn search_faces(data: MultipartData) -> AppResult<FaceSearchResult> {
    use engine::faces::recent::KeptSearch;
    let (state, user) = crate::caller::require(Permission::Read, "search by photo").await?;
    let from_page = crate::caller::from_page()?;
    let fields = crate::photos::multipart::read(data, state.web.upload_limit).await?;
    // The filters as typed, for the results page's form to show again.
    let asked = |field: &str| fields.extra.get(field).cloned().unwrap_or_default();
    let filters = (asked("watch_list"), asked("min_confidence"));
    let outcome = search(&state, fields, from_page).await;
    if !from_page {
        return Ok(outcome?.0);
    }
    let (outcome, preview) = match outcome {
        Ok((found, preview)) => (Ok(found), preview),
        Err(e) => (Err(e.to_string()), None),
    };
    let id = state.faces.recent.keep(
        user.id,
        KeptSearch {
            outcome,
            preview,
            watch_list: filters.0,
            min_confidence: filters.1,
        },
    );
    leptos_axum::redirect(&format!("/faces/search?result={id}"));
    // The browser follows the redirect and never reads this body.
    Ok(FaceSearchResult {
        width: 0,
        height: 0,
        faces: Vec::new(),
        compared: 0,
    })
}

/// Reads the search's fields and runs it.
#[cfg(feature = "ssr")]
async fn search(
    state: &crate::state::AppState,
    fields: domain::photos::UploadFields,
    preview: bool,
) -> AppResult<(FaceSearchResult, Option<Vec<u8>>)> {
    use domain::faces::{DEFAULT_MATCHES, MAX_MATCHES};
    use domain::Error;
    use engine::faces::search::SearchFilter;
    let image = fields
        .image
        .filter(|b| !b.is_empty())
        .ok_or_else(|| Error::invalid("image", "choose a photo to search with"))?;
    let number = |field: &str| -> Result<Option<f64>, Error> {
        match fields
            .extra
            .get(field)
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
        {
            None => Ok(None),
            Some(v) => v
                .parse::<f64>()
                .ok()
                .filter(|n| n.is_finite())
                .map(Some)
                .ok_or_else(|| Error::invalid(field, format!("must be a number, got {v:?}"))),
        }
    };
    let watch_list = number("watch_list")?;
    if watch_list.is_some_and(|l| l.fract() != 0.0 || l < 1.0 || l > i64::MAX as f64) {
        return Err(Error::invalid("watch_list", "must be a watch list id").into());
    }
    let matches = number("matches")?.unwrap_or(DEFAULT_MATCHES as f64);
    if matches.fract() != 0.0 || !(1.0..=MAX_MATCHES as f64).contains(&matches) {
        return Err(Error::invalid(
            "matches",
            format!("must be a whole number from 1 to {MAX_MATCHES}"),
        )
        .into());
    }
    let filter = SearchFilter {
        watch_list: watch_list.map(|l| l as i64),
        min_confidence: number("min_confidence")?.unwrap_or(0.5) as f32,
        matches: matches as usize,
    };
    Ok(engine::faces::search::search(&state.faces, image, &filter, preview).await?)
}

/// A kept search as its page shows it.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SearchOutcome {
    pub found: Option<FaceSearchResult>,
    pub refused: Option<String>,
    pub has_preview: bool,
    /// The filters the search was made with, as typed.
    pub watch_list: String,
    pub min_confidence: String,
}

/// The outcome of the caller's search `id` made from the page, while it is kept.
#[server(prefix = "/api", endpoint = "faces/searched", input_derive = (Clone, serde::Serialize, serde::Deserialize, utoipa::ToSchema))]
pub async fn searched_faces(id: String) -> AppResult<Option<SearchOutcome>> {
    let (state, user) = crate::caller::require(Permission::Read, "search by photo").await?;
    Ok(state.faces.recent.get(user.id, &id).map(|kept| {
        let (found, refused) = match &kept.outcome {
            Ok(found) => (Some(found.clone()), None),
            Err(why) => (None, Some(why.clone())),
        };
        SearchOutcome {
            found,
            refused,
            has_preview: kept.preview.is_some(),
            watch_list: kept.watch_list.clone(),
            min_confidence: kept.min_confidence.clone(),
        }
    }))
}

#[component]
pub fn FaceSearchPage() -> impl IntoView {
    let lists = Resource::new(|| (), |_| list_watch_list_labels());
    let query = use_query_map();
    let result_id = move || query.with(|q| q.get("result"));
    let outcome = Resource::new(result_id, |id| async move {
        match id {
            Some(id) => searched_faces(id.clone()).await.map(|o| o.map(|o| (id, o))),
            None => Ok(None),
        }
    });
    view! {
        <section class="page">
            <header class="page-header">
                <crate::site::PageTitle text="Search by photo" />
                <h1>"Search by photo"</h1>
            </header>
            <p class="hint">
                "Every face in the photo is compared with every dossier photo. Confidence 0.5 is the "
                "model's own threshold (distance 0.6); 0.75 is stricter (distance 0.53)."
            </p>
            <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    let lists = lists.await.unwrap_or_default();
                    let outcome = outcome.await;
                    // After a search the form keeps the filters that made its results.
                    let (watch_list, min_confidence) = match &outcome {
                        Ok(Some((_, o))) => (o.watch_list.clone(), o.min_confidence.clone()),
                        _ => (String::new(), String::new()),
                    };
                    view! {
                        <SearchForm lists watch_list min_confidence />
                        {match outcome {
                            Ok(Some((id, outcome))) => view! { <Outcome id outcome /> }.into_any(),
                            Ok(None) if result_id().is_some() => view! {
                                <p class="empty-state">"These results are no longer kept: search again."</p>
                            }.into_any(),
                            Ok(None) => ().into_any(),
                            Err(e) => view! { <p class="form-error" role="alert">{e.to_string()}</p> }.into_any(),
                        }}
                    }
                })}
            </Suspense>
        </section>
    }
}

/// A plain multipart form: the server answers it with the results page.
#[component]
fn SearchForm(
    lists: Vec<WatchListLabel>,
    watch_list: String,
    min_confidence: String,
) -> impl IntoView {
    let min_confidence = if min_confidence.trim().is_empty() {
        "0.5".to_string()
    } else {
        min_confidence
    };
    view! {
        <form class="card form search-by-photo" method="post" action="/api/faces/search"
            enctype="multipart/form-data" data-testid="face-search">
            <label>
                "Photo"
                <input type="file" name="image" accept="image/jpeg,image/png,image/webp,image/gif" required />
            </label>
            <label>
                "Watch list"
                <select name="watch_list">
                    <option value="">"All lists"</option>
                    {lists.into_iter().map(|l| {
                        let selected = l.id.to_string() == watch_list.trim();
                        view! { <option value=l.id selected=selected>{l.name}</option> }
                    }).collect_view()}
                </select>
            </label>
            <label>
                "Minimum confidence"
                <input type="number" name="min_confidence" min="0" max="1" step="0.05" value=min_confidence />
            </label>
            <button type="submit" class="primary">"Search"</button>
        </form>
    }
}

#[component]
fn Outcome(id: String, outcome: SearchOutcome) -> impl IntoView {
    if let Some(why) = outcome.refused {
        return view! { <p class="form-error" role="alert">{why}</p> }.into_any();
    }
    let Some(FaceSearchResult {
        width,
        height,
        faces,
        compared,
    }) = outcome.found
    else {
        return ().into_any();
    };
    if faces.is_empty() {
        return view! {
            <p class="empty-state" data-testid="no-faces">"No face was found in this photo."</p>
        }
        .into_any();
    }
    let boxes: Vec<FaceBox> = faces.iter().map(|f| f.bounds).collect();
    let summary = format!(
        "{} found, compared with {}.",
        crate::forms::count(faces.len() as i64, "face", "faces"),
        crate::forms::count(compared, "dossier photo", "dossier photos")
    );
    view! {
        <div class="face-results" data-testid="face-results">
            {outcome.has_preview.then(|| view! {
                <FacePreview src=format!("/faces/previews/{id}") width height faces=boxes numbered=true />
            })}
            <div>
                <p>{summary}</p>
                {faces.into_iter().enumerate().map(|(i, face)| view! {
                    <h2>{format!("Face {}", i + 1)}</h2>
                    <FaceMatches matches=face.matches />
                }).collect_view()}
            </div>
        </div>
    }
    .into_any()
}

#[component]
fn FaceMatches(matches: Vec<FaceMatch>) -> impl IntoView {
    if matches.is_empty() {
        return view! { <p class="empty-state">"No dossier resembles this face closely enough."</p> }.into_any();
    }
    view! {
        <ol class="matches" data-testid="matches">
            {matches.into_iter().map(|m| view! {
                <li>
                    <img src=format!("/photos/{}/face", m.photo_sha256) alt=format!("Face of {}", m.name)
                        class="face-thumb" loading="lazy" />
                    <a href=format!("/dossiers/{}", m.dossier_id)>{m.name}</a>
                    {(!m.active).then(|| view! { <span class="badge">"inactive"</span> })}
                    <span class="lists">{m.lists.join(", ")}</span>
                    <span class="confidence" title="0.5 is the model's own threshold">
                        {format!("confidence {:.2}", m.confidence)}
                    </span>
                </li>
            }).collect_view()}
        </ol>
    }
    .into_any()
}
