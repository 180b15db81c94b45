//! A dossier's photos on the page (the gallery and the upload with progress, an island) and
//! their server functions. Images and their checks are `engine::images` and `domain::photos`.

#[cfg(feature = "ssr")]
use crate::auth::Permission;
use crate::error::{AppError, AppResult};
use crate::forms::{last_error, FormError};
pub use domain::photos::PhotoInfo;
use leptos::prelude::*;
use server_fn::codec::{MultipartData, MultipartFormData};

/// Adds a photo to a dossier. Multipart fields: `dossier_id`, `image` (the file), and optionally
/// `vector` (a JSON array of floats) with `model` (the name of the model that produced it).
/// A face the engine finds too small or too blurred is refused (422, with the value measured)
/// unless `force` is `true`.
#[server(prefix = "/api", endpoint = "photos/upload", input = MultipartFormData)]
pub async fn upload_photo(data: MultipartData) -> AppResult<PhotoInfo> {
    use engine::photos::{store, NewPhoto};
    let (state, user) = crate::caller::require(Permission::Edit, "add photos").await?;
    let fields = multipart::read(data, state.web.upload_limit).await?;
    let faces = &state.faces;
    let photo = NewPhoto::parse(fields, &faces.model, faces.engine.as_ref(), &faces.gate).await?;
    engine::sync::guard::dossier_writable(&state.pool, photo.dossier_id).await?;
    let id = crate::caller::write(&state, &user, async |db| store::insert(db, photo).await).await?;
    Ok(store::get(&state.pool, id).await?)
}

/// Deletes a photo of a dossier. Answers `null`.
#[server(prefix = "/api", endpoint = "photos/delete", input_derive = (Clone, serde::Serialize, serde::Deserialize, utoipa::ToSchema))]
pub async fn delete_photo(id: i64) -> AppResult<()> {
    use engine::photos::store;
    let (state, user) = crate::caller::require(Permission::Edit, "delete photos").await?;
    let photo = store::get(&state.pool, id).await?;
    engine::sync::guard::dossier_writable(&state.pool, photo.dossier_id).await?;
    crate::caller::write(&state, &user, async |db| store::delete(db, id).await).await?;
    Ok(())
}

#[cfg(feature = "ssr")]
pub(crate) mod multipart {
    //! An upload's multipart fields, as the photo upload and the search by photo send them.

    use crate::error::AppResult;
    use crate::multipart::{read as read_form, Unknown};
    use domain::photos::UploadFields;
    use domain::Error;
    use server_fn::codec::MultipartData;

    /// The text fields read besides the image: the upload's own, and a search's filters.
    const TEXTS: &[&str] = &[
        "dossier_id",
        "vector",
        "model",
        "watch_list",
        "min_confidence",
        "matches",
        "force",
    ];

    pub async fn read(data: MultipartData, limit: usize) -> AppResult<UploadFields> {
        let data = data.into_inner().ok_or_else(Error::internal)?;
        let mut form = read_form(data, limit, TEXTS, Unknown::Skip).await?;
        Ok(UploadFields {
            dossier_id: form.take("dossier_id"),
            vector: form.take("vector"),
            model: form.take("model"),
            image: form.image,
            extra: form.texts,
        })
    }
}

/// A dossier's photos: an island, so that uploading shows progress and the gallery follows
/// uploads and removals without reloading the page.
#[island]
pub fn DossierPhotos(dossier_id: i64, photos: Vec<PhotoInfo>, editable: bool) -> impl IntoView {
    let photos = RwSignal::new(photos);
    view! {
        <PhotoGallery photos can_edit=editable />
        {editable.then(|| view! {
            <PhotoUpload dossier_id on_uploaded=move |photo| photos.update(|p| p.push(photo)) />
        })}
    }
}

#[component]
fn PhotoGallery(photos: RwSignal<Vec<PhotoInfo>>, can_edit: bool) -> impl IntoView {
    move || {
        if photos.with(Vec::is_empty) {
            return view! { <p class="empty-state">"No photos yet."</p> }.into_any();
        }
        view! {
            <ul class="gallery" data-testid="gallery">
                {photos.get().into_iter().map(|p| {
                    let id = p.id;
                    view! {
                        <li>
                            <a href=format!("/photos/{}", p.sha256) target="_blank">
                                <img src=format!("/photos/{}/face", p.sha256) alt="Photo (its face; opens the whole photo)" loading="lazy" />
                            </a>
                            <span class="caption">
                                {format!("{}×{}", p.width, p.height)}
                                {p.face_model.map(|m| format!(" · vector: {m}"))}
                            </span>
                            {can_edit.then(|| view! {
                                <RemovePhoto id on_removed=move || photos.update(|p| p.retain(|p| p.id != id)) />
                            })}
                        </li>
                    }
                }).collect_view()}
            </ul>
        }
        .into_any()
    }
}

#[component]
fn RemovePhoto(id: i64, on_removed: impl Fn() + Send + Sync + 'static) -> impl IntoView {
    let delete = ServerAction::<DeletePhoto>::new();
    Effect::new(move |_| {
        if matches!(delete.value().get(), Some(Ok(()))) {
            on_removed();
        }
    });
    let error = last_error(delete.value());
    view! {
        // Asked before it is done, without a script (the Content-Security-Policy allows no
        // inline handler, so a `confirm()` in one would never run).
        <details class="confirm">
            <summary>"Remove…"</summary>
            <ActionForm action=delete attr:class="inline-form">
                <input type="hidden" name="id" value=id />
                <span>"Remove this photo?"</span>
                <button type="submit" class="danger">"Remove photo"</button>
            </ActionForm>
        </details>
        <FormError error />
    }
}

/// The upload form. Without WASM it is a plain multipart POST (the server sends the browser
/// back to the page); with WASM it uploads through XMLHttpRequest to show progress, and when
/// the photo does not show exactly one face it shows the faces the server found on it.
#[component]
fn PhotoUpload(
    dossier_id: i64,
    on_uploaded: impl Fn(PhotoInfo) + Clone + Send + Sync + 'static,
) -> impl IntoView {
    let progress = RwSignal::new(None::<u32>);
    let error = RwSignal::new(None::<AppError>);
    let preview = RwSignal::new(None::<String>);
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        #[cfg(feature = "hydrate")]
        {
            error.set(None);
            let on_uploaded = on_uploaded.clone();
            let chosen =
                crate::uploads::send(&ev, "/api/photos/upload", progress, move |answer, form| {
                    match answer.and_then(|body| {
                        serde_json::from_str::<PhotoInfo>(&body).map_err(|e| {
                            AppError(domain::Error::Internal {
                                message: format!(
                                    "the upload worked but its answer is unreadable: {e}"
                                ),
                            })
                        })
                    }) {
                        Ok(photo) => {
                            form.reset();
                            on_uploaded(photo);
                        }
                        Err(e) => error.set(Some(e)),
                    }
                });
            crate::uploads::forget_preview(preview.get_untracked());
            preview.set(chosen);
        }
        #[cfg(not(feature = "hydrate"))]
        {
            let _ = (ev, &on_uploaded);
        }
    };
    // The faces the server found when it refused the photo for not showing exactly one.
    let faces = move || {
        let src = preview.get()?;
        match error.get()?.0 {
            domain::Error::Faces {
                found,
                width,
                height,
                ..
            } => Some(view! {
                <crate::uploads::FacePreview src width height faces=found />
            }),
            _ => None,
        }
    };
    view! {
        <form class="card form upload" method="post" action="/api/photos/upload"
            enctype="multipart/form-data" on:submit=on_submit data-testid="photo-upload">
            <h3>"Add a photo"</h3>
            <p class="hint">"The photo must show one face, big and sharp enough to match reliably: the server finds it, measures it and computes its vector."</p>
            <input type="hidden" name="dossier_id" value=dossier_id />
            <label>
                "Image (JPEG, PNG, WebP or GIF)"
                <input type="file" name="image" accept="image/jpeg,image/png,image/webp,image/gif" required />
            </label>
            <label class="check">
                <input type="checkbox" name="force" value="true" />
                "Keep it even if the face is small or blurred (it may match strangers)"
            </label>
            <details>
                <summary>"Face vector from an external extractor (optional)"</summary>
                <label>"Model" <input name="model" /></label>
                <label>"Vector (JSON array)" <textarea name="vector" rows="2" class="mono"></textarea></label>
            </details>
            {move || progress.get().map(|p| view! {
                <progress max="100" value=p aria-label="Upload progress">{format!("{p}%")}</progress>
            })}
            {move || error.get().map(|e| view! { <p class="form-error" role="alert">{e.to_string()}</p> })}
            {faces}
            <button type="submit" class="primary" disabled=move || progress.get().is_some()>"Upload"</button>
        </form>
    }
}
