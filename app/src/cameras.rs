//! The cameras page (Administrator only): the video streams this installation watches itself,
//! each with its live status (connecting, streaming at what rate, failed and why) and its
//! latest frame. Rendered on the server with plain forms; the status refreshes itself once
//! the WASM runs (an island asks every few seconds).

#[cfg(feature = "ssr")]
use crate::auth::Permission;
use crate::error::AppResult;
use crate::forms::{last_error, FormError, Typed};
pub use domain::cameras::{Camera, CameraState, CameraStatus};
use domain::input::Flag;
use leptos::prelude::*;

/// Every camera with its status. Administrator only.
#[server(prefix = "/api", endpoint = "cameras/list", input_derive = (Clone, serde::Serialize, serde::Deserialize, utoipa::ToSchema))]
pub async fn list_cameras() -> AppResult<Vec<Camera>> {
    let (state, _) = crate::caller::require(Permission::Admin, "manage cameras").await?;
    Ok(engine::cameras::list(&state.pool).await?)
}

/// One camera's live status, as its video worker last reported it. Administrator only.
#[server(prefix = "/api", endpoint = "cameras/status", input_derive = (Clone, serde::Serialize, serde::Deserialize, utoipa::ToSchema))]
pub async fn read_camera_status(id: i64) -> AppResult<CameraStatus> {
    let (state, _) = crate::caller::require(Permission::Admin, "manage cameras").await?;
    Ok(engine::cameras::get(&state.pool, id).await?.status)
}

/// Adds a camera: its name (what its events say), its stream (`rtsp://`, `http(s)://` or a
/// file path), whether it is watched, frames analysed per second (default 5), the smallest
/// face in pixels (80), the lowest quality 0–1 (0.3), and the region watched
/// (`left,top,width,height` as shares of the frame; empty: all of it). Returns its id.
#[server(prefix = "/api", endpoint = "cameras/create", input_derive = (Clone, serde::Serialize, serde::Deserialize, utoipa::ToSchema))]
#[allow(clippy::too_many_arguments)]
pub async fn create_camera(
    name: String,
    url: String,
    #[server(default)] enabled: Flag,
    #[server(default)] fps: String,
    #[server(default)] min_face: String,
    #[server(default)] min_quality: String,
    #[server(default)] region: String,
) -> AppResult<i64> {
    let (state, me) = crate::caller::require(Permission::Admin, "manage cameras").await?;
    let input = domain::cameras::CameraInput::parse(
        &name,
        &url,
        enabled,
        &fps,
        &min_face,
        &min_quality,
        &region,
    )?;
    let id = crate::caller::write(&state, &me, async |db| {
        engine::cameras::create(db, &input).await
    })
    .await?;
    crate::notice::redirect("/cameras", "camera-created");
    Ok(id)
}

/// Changes a camera; an empty `url` keeps its stream (the page never shows a stream's password
/// back). Its video worker opens the stream anew within seconds. Answers `null`.
#[server(prefix = "/api", endpoint = "cameras/update", input_derive = (Clone, serde::Serialize, serde::Deserialize, utoipa::ToSchema))]
#[allow(clippy::too_many_arguments)]
pub async fn update_camera(
    id: i64,
    name: String,
    #[server(default)] url: String,
    #[server(default)] enabled: Flag,
    #[server(default)] fps: String,
    #[server(default)] min_face: String,
    #[server(default)] min_quality: String,
    #[server(default)] region: String,
) -> AppResult<()> {
    let (state, me) = crate::caller::require(Permission::Admin, "manage cameras").await?;
    let input = domain::cameras::CameraInput::parse(
        &name,
        &url,
        enabled,
        &fps,
        &min_face,
        &min_quality,
        &region,
    )?;
    crate::caller::write(&state, &me, async |db| {
        engine::cameras::update(db, id, &input).await
    })
    .await?;
    crate::notice::redirect("/cameras", "camera-saved");
    Ok(())
}

/// Deletes a camera; its events stay, with its name. Answers `null`.
#[server(prefix = "/api", endpoint = "cameras/delete", input_derive = (Clone, serde::Serialize, serde::Deserialize, utoipa::ToSchema))]
pub async fn delete_camera(id: i64) -> AppResult<()> {
    let (state, me) = crate::caller::require(Permission::Admin, "manage cameras").await?;
    crate::caller::write(&state, &me, async |db| {
        engine::cameras::delete(db, id).await
    })
    .await?;
    crate::notice::redirect("/cameras", "camera-deleted");
    Ok(())
}

#[component]
pub fn CamerasPage() -> impl IntoView {
    let cameras = Resource::new(|| (), |_| list_cameras());
    let create = ServerAction::<CreateCamera>::new();
    let update = ServerAction::<UpdateCamera>::new();
    let delete = ServerAction::<DeleteCamera>::new();
    let error = Signal::derive(move || {
        last_error(create.value())
            .get()
            .or_else(|| last_error(update.value()).get())
            .or_else(|| last_error(delete.value()).get())
    });
    view! {
        <section class="page">
            <crate::site::PageTitle text="Cameras" />
            <h1>"Cameras"</h1>
            <p class="hint">"The video streams this installation watches itself. Each person seen is followed from frame to frame and makes one event, from the best shot: as soon as it matches a dossier, else when the person is gone. Faces smaller than a camera's minimum size, or of lower quality (blurred, small, turned away), make none."</p>
            <FormError error />
            // Outside the list's suspense, so that a refused form keeps what was typed into it.
            <NewCamera create typed=Typed::from_query() />
            <Suspense fallback=|| view! { <p class="loading">"Loading cameras…"</p> }>
                {move || Suspend::new(async move {
                    match cameras.await {
                        Err(e) => view! { <p class="form-error" role="alert">{e.to_string()}</p> }.into_any(),
                        Ok(cameras) => view! {
                            {if cameras.is_empty() {
                                view! { <p class="empty-state">"No cameras yet: add one above with its stream's address (an RTSP camera, an HTTP stream, or a recording's path)."</p> }.into_any()
                            } else {
                                cameras.into_iter().map(|c| view! { <CameraCard camera=c update delete /> }).collect_view().into_any()
                            }}
                        }.into_any(),
                    }
                })}
            </Suspense>
        </section>
    }
}

#[component]
fn NewCamera(create: ServerAction<CreateCamera>, typed: Typed) -> impl IntoView {
    // A refused form comes back with what was typed (a stream's password masked).
    let text = |name: &str| typed.text(name, String::new());
    let (name, url, fps, min_face, min_quality, region) = (
        text("name"),
        text("url"),
        text("fps"),
        text("min_face"),
        text("min_quality"),
        text("region"),
    );
    let enabled = typed.ticked("enabled", true);
    view! {
        <ActionForm action=create attr:class="card form inline-fields" attr:data-testid="new-camera">
            <h2>"New camera"</h2>
            <label>"Name" <input name="name" required maxlength="128" placeholder="gate-1" value=name /></label>
            <label>"Stream" <input name="url" required maxlength="2048" placeholder="rtsp://user:password@10.0.0.5/stream" value=url /></label>
            <CameraFields fps min_face min_quality region />
            <label class="check"><input type="checkbox" name="enabled" checked=enabled /> "Watched"</label>
            <button type="submit" class="primary">"Add camera"</button>
        </ActionForm>
    }
}

/// The settings a camera shares between its new and its edit form.
#[component]
fn CameraFields(
    fps: String,
    min_face: String,
    min_quality: String,
    region: String,
) -> impl IntoView {
    view! {
        <label>"Frames a second" <input name="fps" inputmode="decimal" value=fps placeholder=domain::cameras::DEFAULT_FPS.to_string() /></label>
        <label>"Smallest face (px)" <input name="min_face" inputmode="numeric" value=min_face placeholder=domain::cameras::DEFAULT_MIN_FACE.to_string() /></label>
        <label>"Lowest quality (0–1)" <input name="min_quality" inputmode="decimal" value=min_quality placeholder=domain::cameras::DEFAULT_MIN_QUALITY.to_string() /></label>
        <label>"Region" <input name="region" value=region placeholder="whole frame (or left,top,width,height e.g. 0.25,0,0.5,1)" /></label>
    }
}

#[component]
fn CameraCard(
    camera: Camera,
    update: ServerAction<UpdateCamera>,
    delete: ServerAction<DeleteCamera>,
) -> impl IntoView {
    let s = camera.settings.clone();
    let region = s.region.map(|r| r.text()).unwrap_or_default();
    view! {
        <article class="card camera" data-testid="camera">
            <h2>{s.name.clone()}</h2>
            <p><code data-testid="camera-url">{camera.url.clone()}</code></p>
            <p class="hint">{format!(
                "{} frames a second · faces from {} px · quality from {:.2} · {}",
                s.fps, s.min_face, s.min_quality,
                if region.is_empty() { "the whole frame".to_string() } else { format!("region {region}") }
            )}</p>
            <LiveStatus id=camera.id status=camera.status.clone() />
            <details>
                <summary>"Edit…"</summary>
                <ActionForm action=update attr:class="form inline-fields">
                    <input type="hidden" name="id" value=camera.id />
                    <label>"Name" <input name="name" required maxlength="128" value=s.name.clone() /></label>
                    <label>"Stream" <input name="url" maxlength="2048" placeholder="unchanged" /></label>
                    <CameraFields fps=s.fps.to_string() min_face=s.min_face.to_string() min_quality=s.min_quality.to_string() region=region.clone() />
                    <label class="check"><input type="checkbox" name="enabled" checked=s.enabled /> "Watched"</label>
                    <button type="submit" class="primary">"Save camera"</button>
                </ActionForm>
            </details>
            <details class="confirm">
                <summary>"Delete…"</summary>
                <ActionForm action=delete attr:class="inline-form">
                    <input type="hidden" name="id" value=camera.id />
                    <span>"Delete this camera? Its events stay, with its name."</span>
                    <button type="submit" class="danger">"Delete camera"</button>
                </ActionForm>
            </details>
        </article>
    }
}

/// What a status says in words.
fn status_text(s: &CameraStatus) -> String {
    let when = |t: Option<chrono::DateTime<chrono::Utc>>| {
        t.map(|t| t.format("%H:%M:%S UTC").to_string())
            .unwrap_or_else(|| "—".into())
    };
    match s.state {
        CameraState::Waiting => "Waiting for a video worker to take it.".into(),
        CameraState::Connecting => "Connecting…".into(),
        CameraState::Disabled => "Not watched (switched off).".into(),
        CameraState::Streaming => {
            format!(
            "Streaming{}: {:.1} frames analysed a second, {:.0} faces a minute, last frame at {}.",
            s.width.zip(s.height).map(|(w, h)| format!(" {w}×{h}")).unwrap_or_default(),
            s.fps.unwrap_or_default(),
            s.faces_per_minute.unwrap_or_default(),
            when(s.last_frame_at),
        )
        }
        CameraState::Failed => format!(
            "Failed: {}.{}",
            s.detail
                .clone()
                .unwrap_or_else(|| "no reason given".into())
                .trim_end_matches('.'),
            s.next_retry_at
                .map(|t| format!(" Next try at {}.", when(Some(t))))
                .unwrap_or_default(),
        ),
    }
}

/// A camera's status and latest frame; once the WASM runs, asked for again every few seconds.
#[island]
fn LiveStatus(id: i64, status: CameraStatus) -> impl IntoView {
    let status = RwSignal::new(status);
    #[cfg(not(feature = "hydrate"))]
    let _ = id;
    #[cfg(feature = "hydrate")]
    {
        let handle = set_interval_with_handle(
            move || {
                leptos::task::spawn_local(async move {
                    // A failed poll is tried again on the next tick.
                    if let Ok(now) = read_camera_status(id).await {
                        status.set(now);
                    }
                });
            },
            std::time::Duration::from_secs(3),
        );
        if let Ok(handle) = handle {
            on_cleanup(move || handle.clear());
        }
    }
    move || {
        let s = status.get();
        let stamp = s
            .last_frame_at
            .map(|t| t.timestamp_millis())
            .unwrap_or_default();
        view! {
            <p class=format!("camera-status {}", s.state.as_str()) data-testid="camera-status" data-state=s.state.as_str()>
                {status_text(&s)}
            </p>
            {s.worker.clone().map(|w| view! { <p class="hint">"Watched by " <code>{w}</code></p> })}
            {if s.has_snapshot {
                view! { <img class="snapshot" src=format!("/cameras/{id}/snapshot?at={stamp}") alt="The camera's latest frame" width="320" /> }.into_any()
            } else {
                view! { <p class="empty-state">"No frame yet."</p> }.into_any()
            }}
        }
    }
}
