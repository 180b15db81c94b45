//! Search by photo: the page (an island, so that the photo uploads with progress and its faces
//! are framed on it) and its server function `faces/search`.

#[cfg(feature = "ssr")]
use crate::auth::Permission;
use crate::error::{AppError, AppResult};
use crate::watch_lists::{list_watch_list_labels, WatchListLabel};
pub use domain::faces::{FaceBox, FaceMatch, FaceSearchResult, FoundFace};
use leptos::prelude::*;
use server_fn::codec::{MultipartData, MultipartFormData};

/// Finds every face in a photo and, for each, the dossiers it resembles most. Multipart
/// fields: `image`, and optionally `watch_list` (an id), `min_confidence` (0–1, default 0.5)
/// and `matches` (per face, default 5, at most 50).
#[server(prefix = "/api", endpoint = "faces/search", input = MultipartFormData)]
pub async fn search_faces(data: MultipartData) -> AppResult<FaceSearchResult> {
    use domain::faces::{search::SearchFilter, DEFAULT_MATCHES};
    use domain::Error;
    let (state, _) = crate::caller::require(Permission::Read, "search by photo").await?;
    let fields = crate::photos::multipart::read(data, state.settings.upload_limit).await?;
    let image = fields
        .image
        .filter(|b| !b.is_empty())
        .ok_or_else(|| Error::invalid("image", "choose a photo to search with"))?;
    let number = |field: &str, value: Option<&String>| -> Result<Option<f64>, Error> {
        match value.map(|v| v.trim()).filter(|v| !v.is_empty()) {
            None => Ok(None),
            Some(v) => v
                .parse::<f64>()
                .ok()
                .filter(|n| n.is_finite())
                .map(Some)
                .ok_or_else(|| Error::invalid(field, format!("must be a number, got {v:?}"))),
        }
    };
    let watch_list = number("watch_list", fields.extra.get("watch_list"))?;
    if watch_list.is_some_and(|l| l.fract() != 0.0 || l < 1.0) {
        return Err(Error::invalid("watch_list", "must be a watch list id").into());
    }
    let matches = number("matches", fields.extra.get("matches"))?.unwrap_or(DEFAULT_MATCHES as f64);
    if matches.fract() != 0.0 || !(1.0..=domain::faces::MAX_MATCHES as f64).contains(&matches) {
        return Err(Error::invalid(
            "matches",
            format!(
                "must be a whole number from 1 to {}",
                domain::faces::MAX_MATCHES
            ),
        )
        .into());
    }
    let filter = SearchFilter {
        watch_list: watch_list.map(|l| l as i64),
        min_confidence: number("min_confidence", fields.extra.get("min_confidence"))?.unwrap_or(0.5)
            as f32,
        matches: matches as usize,
    };
    Ok(domain::faces::search::search(&state, image, &filter).await?)
}

#[component]
pub fn FaceSearchPage() -> impl IntoView {
    let lists = Resource::new(|| (), |_| list_watch_list_labels());
    view! {
        <section class="page">
            <header class="page-header">
                <h1>"Search by photo"</h1>
            </header>
            <p class="hint">
                "Every face in the photo is compared with every dossier photo. Confidence 0.5 is the "
                "model's own threshold (distance 0.6); 0.75 is stricter (distance 0.53)."
            </p>
            <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    let lists = lists.await.unwrap_or_default();
                    view! { <FaceSearch lists /> }
                })}
            </Suspense>
        </section>
    }
}

/// The search form and its results. Needs the WASM: a file cannot travel in a link.
#[island]
fn FaceSearch(lists: Vec<WatchListLabel>) -> impl IntoView {
    let progress = RwSignal::new(None::<u32>);
    let error = RwSignal::new(None::<AppError>);
    let result = RwSignal::new(None::<FaceSearchResult>);
    let preview = RwSignal::new(None::<String>);
    let ready = RwSignal::new(false);
    Effect::new(move |_| ready.set(true));
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        #[cfg(feature = "hydrate")]
        {
            error.set(None);
            result.set(None);
            let chosen =
                crate::uploads::send(&ev, "/api/faces/search", progress, move |answer, _| {
                    match answer.and_then(|body| {
                        serde_json::from_str::<FaceSearchResult>(&body).map_err(|e| {
                            AppError(domain::Error::Internal {
                                message: format!("the answer is unreadable: {e}"),
                            })
                        })
                    }) {
                        Ok(found) => result.set(Some(found)),
                        Err(e) => error.set(Some(e)),
                    }
                });
            crate::uploads::forget_preview(preview.get_untracked());
            preview.set(chosen);
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = ev;
    };
    view! {
        <form class="card form search-by-photo" method="post" action="/api/faces/search"
            enctype="multipart/form-data" on:submit=on_submit data-testid="face-search"
            data-ready=move || ready.get().then_some("true")>
            <label>
                "Photo"
                <input type="file" name="image" accept="image/jpeg,image/png,image/webp,image/gif" required />
            </label>
            <label>
                "Watch list"
                <select name="watch_list">
                    <option value="">"All lists"</option>
                    {lists.into_iter().map(|l| view! { <option value=l.id>{l.name}</option> }).collect_view()}
                </select>
            </label>
            <label>
                "Minimum confidence"
                <input type="number" name="min_confidence" min="0" max="1" step="0.05" value="0.5" />
            </label>
            {move || progress.get().map(|p| view! {
                <progress max="100" value=p aria-label="Upload progress">{format!("{p}%")}</progress>
            })}
            {move || error.get().map(|e| view! { <p class="form-error" role="alert">{e.to_string()}</p> })}
            <button type="submit" class="primary" disabled=move || progress.get().is_some()>"Search"</button>
        </form>
        {move || result.get().map(|r| view! { <Results result=r preview=preview.get() /> })}
    }
}

#[component]
fn Results(result: FaceSearchResult, preview: Option<String>) -> impl IntoView {
    let FaceSearchResult {
        width,
        height,
        faces,
        compared,
    } = result;
    if faces.is_empty() {
        return view! {
            <p class="empty-state" data-testid="no-faces">"No face was found in this photo."</p>
        }
        .into_any();
    }
    let boxes: Vec<FaceBox> = faces.iter().map(|f| f.bounds).collect();
    let summary = format!(
        "{} {} found, compared with {compared} dossier photos.",
        faces.len(),
        if faces.len() == 1 { "face" } else { "faces" }
    );
    view! {
        <div class="face-results" data-testid="face-results">
            {preview.map(|src| view! { <crate::uploads::FacePreview src width height faces=boxes numbered=true /> })}
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
