//! Photos: one face each, the image stored once per content hash with a thumbnail, and
//! optionally that face's feature vector from the installation's model.

use crate::error::{AppError, AppResult};
use crate::forms::{last_error, FormError};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};
use server_fn::codec::{MultipartData, MultipartFormData};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct PhotoInfo {
    pub id: i64,
    pub dossier_id: i64,
    /// Hex SHA-256 of the image bytes; the photo's address under `/photos/`.
    pub sha256: String,
    pub content_type: String,
    pub width: i32,
    pub height: i32,
    pub face_model: Option<String>,
    pub has_vector: bool,
}

/// Adds a photo to a dossier. Multipart fields: `dossier_id`, `image` (the file), and optionally
/// `vector` (a JSON array of floats) with `model` (the name of the model that produced it).
#[server(prefix = "/api", endpoint = "photos/upload", input = MultipartFormData)]
pub async fn upload_photo(data: MultipartData) -> AppResult<PhotoInfo> {
    let (state, _) = crate::auth::ssr::require(crate::auth::Permission::Edit, "add photos").await?;
    let upload = ssr::read_upload(data, &state.settings).await?;
    crate::sync::guard::dossier_writable(&state.pool, upload.dossier_id).await?;
    ssr::store(&state.pool, upload).await
}

#[server(prefix = "/api", endpoint = "photos/delete")]
pub async fn delete_photo(id: i64) -> AppResult<()> {
    let (state, _) =
        crate::auth::ssr::require(crate::auth::Permission::Edit, "delete photos").await?;
    let photo = ssr::get(&state.pool, id).await?;
    crate::sync::guard::dossier_writable(&state.pool, photo.dossier_id).await?;
    ssr::delete(&state.pool, id).await
}

#[cfg(feature = "ssr")]
pub mod ssr {
    use super::PhotoInfo;
    use crate::error::{AppError, AppResult};
    use crate::state::AppSettings;
    use image::{ImageFormat, ImageReader};
    use server_fn::codec::MultipartData;
    use sha2::{Digest, Sha256};
    use sqlx::{PgPool, Postgres, Transaction};
    use std::io::Cursor;

    /// Longest side of a thumbnail, in pixels.
    const THUMBNAIL_SIZE: u32 = 160;

    /// A photo upload, read and checked, not yet stored.
    pub struct Upload {
        pub dossier_id: i64,
        pub image: ProcessedImage,
        pub vector: Option<(Vec<f32>, String)>,
    }

    pub struct ProcessedImage {
        pub sha256: Vec<u8>,
        pub content_type: &'static str,
        pub data: Vec<u8>,
        pub thumbnail: Vec<u8>,
        pub width: u32,
        pub height: u32,
    }

    /// Checks that the bytes are an image we accept and makes its thumbnail. CPU-heavy, so it
    /// runs on the blocking pool.
    pub async fn process_image(data: Vec<u8>) -> AppResult<ProcessedImage> {
        tokio::task::spawn_blocking(move || process_image_blocking(data))
            .await
            .map_err(|_| AppError::internal())?
    }

    fn process_image_blocking(data: Vec<u8>) -> AppResult<ProcessedImage> {
        let not_an_image = || AppError::invalid("image", "is not a JPEG, PNG, WebP or GIF image");
        let format = image::guess_format(&data).map_err(|_| not_an_image())?;
        let content_type = match format {
            ImageFormat::Jpeg => "image/jpeg",
            ImageFormat::Png => "image/png",
            ImageFormat::WebP => "image/webp",
            ImageFormat::Gif => "image/gif",
            _ => return Err(not_an_image()),
        };
        let decoded = ImageReader::with_format(Cursor::new(&data), format)
            .decode()
            .map_err(|e| AppError::invalid("image", format!("could not be decoded: {e}")))?;
        // Small pictures are not blown up: their thumbnail is the picture itself.
        let thumb = if decoded.width() > THUMBNAIL_SIZE || decoded.height() > THUMBNAIL_SIZE {
            decoded.thumbnail(THUMBNAIL_SIZE, THUMBNAIL_SIZE).to_rgb8()
        } else {
            decoded.to_rgb8()
        };
        let mut thumbnail = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut thumbnail, 80)
            .encode_image(&thumb)
            .map_err(|e| {
                tracing::error!(error = %e, "thumbnail encoding failed");
                AppError::internal()
            })?;
        Ok(ProcessedImage {
            sha256: Sha256::digest(&data).to_vec(),
            content_type,
            width: decoded.width(),
            height: decoded.height(),
            data,
            thumbnail,
        })
    }

    /// Parses and checks a face vector against the installation's model.
    pub fn parse_vector(
        vector: &str,
        model: Option<&str>,
        settings: &AppSettings,
    ) -> AppResult<(Vec<f32>, String)> {
        let values: Vec<f32> = serde_json::from_str(vector).map_err(|e| {
            AppError::invalid("vector", format!("must be a JSON array of numbers: {e}"))
        })?;
        let model = model
            .map(str::trim)
            .filter(|m| !m.is_empty())
            .ok_or_else(|| {
                AppError::invalid(
                    "model",
                    format!(
                        "name the model that produced the vector (this installation uses {:?})",
                        settings.face_model
                    ),
                )
            })?;
        if model != settings.face_model {
            return Err(AppError::invalid(
                "model",
                format!(
                    "vectors of model {model:?} are not comparable with this installation's model {:?}",
                    settings.face_model
                ),
            ));
        }
        if values.len() != settings.face_vector_length {
            return Err(AppError::invalid(
                "vector",
                format!(
                    "model {model:?} gives {} numbers, got {}",
                    settings.face_vector_length,
                    values.len()
                ),
            ));
        }
        if values.iter().any(|v| !v.is_finite()) {
            return Err(AppError::invalid("vector", "must hold finite numbers only"));
        }
        Ok((values, model.to_string()))
    }

    fn multipart_error(e: impl std::fmt::Display) -> AppError {
        AppError::BadRequest {
            message: format!("malformed multipart body: {e}"),
        }
    }

    /// Reads the multipart fields, stopping as soon as the image passes the upload limit.
    pub async fn read_upload(data: MultipartData, settings: &AppSettings) -> AppResult<Upload> {
        let mut data = data.into_inner().ok_or_else(AppError::internal)?;
        let mut dossier_id = None;
        let mut image = None;
        let mut vector = None;
        let mut model = None;
        while let Some(mut field) = data.next_field().await.map_err(multipart_error)? {
            let name = field.name().unwrap_or_default().to_string();
            match name.as_str() {
                "image" => {
                    let mut bytes = Vec::new();
                    while let Some(chunk) = field.chunk().await.map_err(multipart_error)? {
                        if bytes.len() + chunk.len() > settings.upload_limit {
                            return Err(AppError::TooLarge {
                                message: format!(
                                    "image: larger than the upload limit of {} bytes",
                                    settings.upload_limit
                                ),
                            });
                        }
                        bytes.extend_from_slice(&chunk);
                    }
                    image = Some(bytes);
                }
                "dossier_id" | "vector" | "model" => {
                    let text = field.text().await.map_err(multipart_error)?;
                    match name.as_str() {
                        "dossier_id" => dossier_id = Some(text),
                        "vector" => vector = Some(text),
                        _ => model = Some(text),
                    }
                }
                _ => {}
            }
        }
        let dossier_id = dossier_id
            .as_deref()
            .map(str::trim)
            .ok_or_else(|| AppError::invalid("dossier_id", "is required"))?
            .parse::<i64>()
            .map_err(|_| AppError::invalid("dossier_id", "must be a dossier id (a number)"))?;
        let image = image
            .filter(|b| !b.is_empty())
            .ok_or_else(|| AppError::invalid("image", "choose an image file"))?;
        let vector = match vector.as_deref().map(str::trim).filter(|v| !v.is_empty()) {
            Some(v) => Some(parse_vector(v, model.as_deref(), settings)?),
            None => None,
        };
        Ok(Upload {
            dossier_id,
            image: process_image(image).await?,
            vector,
        })
    }

    pub async fn store(pool: &PgPool, upload: Upload) -> AppResult<PhotoInfo> {
        let mut tx = pool.begin().await?;
        let exists: Option<i64> =
            sqlx::query_scalar("SELECT id FROM dossiers WHERE id = $1 FOR SHARE")
                .bind(upload.dossier_id)
                .fetch_optional(&mut *tx)
                .await?;
        if exists.is_none() {
            return Err(AppError::invalid(
                "dossier_id",
                format!("dossier {} does not exist", upload.dossier_id),
            ));
        }
        let img = &upload.image;
        insert_images(&mut tx, &[img]).await?;
        let (vector, model) = upload.vector.unzip();
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO photos (dossier_id, image_sha256, face_vector, face_model)
             VALUES ($1, $2, $3, $4) RETURNING id",
        )
        .bind(upload.dossier_id)
        .bind(&img.sha256)
        .bind(vector)
        .bind(model)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        get(pool, id).await
    }

    /// Stores images unless their hash is stored already (the bytes are then identical), in
    /// one statement however many there are.
    pub async fn insert_images(
        tx: &mut Transaction<'_, Postgres>,
        images: &[&ProcessedImage],
    ) -> AppResult<()> {
        if images.is_empty() {
            return Ok(());
        }
        let hashes: Vec<&[u8]> = images.iter().map(|i| i.sha256.as_slice()).collect();
        let types: Vec<&str> = images.iter().map(|i| i.content_type).collect();
        let data: Vec<&[u8]> = images.iter().map(|i| i.data.as_slice()).collect();
        let thumbnails: Vec<&[u8]> = images.iter().map(|i| i.thumbnail.as_slice()).collect();
        let widths: Vec<i32> = images.iter().map(|i| i.width as i32).collect();
        let heights: Vec<i32> = images.iter().map(|i| i.height as i32).collect();
        sqlx::query(
            "INSERT INTO images (sha256, content_type, data, thumbnail, width, height)
             SELECT * FROM UNNEST($1::bytea[], $2::text[], $3::bytea[], $4::bytea[], $5::int[], $6::int[])
             ON CONFLICT (sha256) DO NOTHING",
        )
        .bind(&hashes)
        .bind(&types)
        .bind(&data)
        .bind(&thumbnails)
        .bind(&widths)
        .bind(&heights)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    const COLUMNS: &str = "p.id, p.dossier_id, encode(p.image_sha256, 'hex') AS sha256,
        i.content_type, i.width, i.height, p.face_model, p.face_vector IS NOT NULL AS has_vector";

    pub async fn get(pool: &PgPool, id: i64) -> AppResult<PhotoInfo> {
        sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM photos p JOIN images i ON i.sha256 = p.image_sha256 WHERE p.id = $1"
        ))
        .bind(id)
        .fetch_optional(pool)
        .await?
        .ok_or_else(|| AppError::not_found(format!("photo {id} does not exist")))
    }

    pub async fn of_dossier(pool: &PgPool, dossier_id: i64) -> AppResult<Vec<PhotoInfo>> {
        Ok(sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM photos p JOIN images i ON i.sha256 = p.image_sha256
             WHERE p.dossier_id = $1 ORDER BY p.id"
        ))
        .bind(dossier_id)
        .fetch_all(pool)
        .await?)
    }

    pub async fn delete(pool: &PgPool, id: i64) -> AppResult<()> {
        let mut tx = pool.begin().await?;
        // Deleting the photo also marks its dossier changed (a trigger does, for replication).
        let image: Option<Vec<u8>> =
            sqlx::query_scalar("DELETE FROM photos WHERE id = $1 RETURNING image_sha256")
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?;
        let image =
            image.ok_or_else(|| AppError::not_found(format!("photo {id} does not exist")))?;
        delete_unused_images(&mut tx, &[image]).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Deletes those of these images that no photo uses any more. Callers name the images of
    /// the photos they removed, so the check is an index probe per image, not a scan of all.
    pub async fn delete_unused_images(
        tx: &mut Transaction<'_, Postgres>,
        hashes: &[Vec<u8>],
    ) -> AppResult<()> {
        if hashes.is_empty() {
            return Ok(());
        }
        sqlx::query(
            "DELETE FROM images i WHERE i.sha256 = ANY($1)
               AND NOT EXISTS (SELECT 1 FROM photos p WHERE p.image_sha256 = i.sha256)",
        )
        .bind(hashes)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    /// The image bytes (or thumbnail) for a hex hash, with its content type.
    pub async fn image_bytes(
        pool: &PgPool,
        sha256_hex: &str,
        thumbnail: bool,
    ) -> AppResult<Option<(String, Vec<u8>)>> {
        let Ok(sha) = hex::decode(sha256_hex) else {
            return Ok(None);
        };
        let row: Option<(String, Vec<u8>)> = if thumbnail {
            sqlx::query_as("SELECT 'image/jpeg', thumbnail FROM images WHERE sha256 = $1")
        } else {
            sqlx::query_as("SELECT content_type, data FROM images WHERE sha256 = $1")
        }
        .bind(sha)
        .fetch_optional(pool)
        .await?;
        Ok(row)
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
                                <img src=format!("/photos/{}/thumbnail", p.sha256) alt="Photo" loading="lazy" />
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
        <ActionForm action=delete attr:class="inline-form">
            <input type="hidden" name="id" value=id />
            <button type="submit" class="link danger" aria-label="Remove photo"
                onclick="return confirm('Remove this photo?')">"Remove"</button>
        </ActionForm>
        <FormError error />
    }
}

/// The upload form. Without WASM it is a plain multipart POST (the server sends the browser
/// back to the page); with WASM it uploads through XMLHttpRequest to show progress.
#[component]
fn PhotoUpload(
    dossier_id: i64,
    on_uploaded: impl Fn(PhotoInfo) + Clone + Send + Sync + 'static,
) -> impl IntoView {
    let progress = RwSignal::new(None::<u32>);
    let error = RwSignal::new(None::<AppError>);
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        #[cfg(feature = "hydrate")]
        {
            ev.prevent_default();
            upload_with_progress(ev, progress, error, on_uploaded.clone());
        }
        #[cfg(not(feature = "hydrate"))]
        {
            let _ = (ev, &on_uploaded);
        }
    };
    view! {
        <form class="card form upload" method="post" action="/api/photos/upload"
            enctype="multipart/form-data" on:submit=on_submit data-testid="photo-upload">
            <h3>"Add a photo"</h3>
            <input type="hidden" name="dossier_id" value=dossier_id />
            <label>
                "Image (JPEG, PNG, WebP or GIF)"
                <input type="file" name="image" accept="image/jpeg,image/png,image/webp,image/gif" required />
            </label>
            <details>
                <summary>"Face vector (optional)"</summary>
                <label>"Model" <input name="model" /></label>
                <label>"Vector (JSON array)" <textarea name="vector" rows="2" class="mono"></textarea></label>
            </details>
            {move || progress.get().map(|p| view! {
                <progress max="100" value=p aria-label="Upload progress">{format!("{p}%")}</progress>
            })}
            {move || error.get().map(|e| view! { <p class="form-error" role="alert">{e.to_string()}</p> })}
            <button type="submit" class="primary" disabled=move || progress.get().is_some()>"Upload"</button>
        </form>
    }
}

#[cfg(feature = "hydrate")]
fn upload_with_progress(
    ev: leptos::ev::SubmitEvent,
    progress: RwSignal<Option<u32>>,
    error: RwSignal<Option<AppError>>,
    on_uploaded: impl Fn(PhotoInfo) + Clone + 'static,
) {
    use server_fn::error::FromServerFnError;
    use wasm_bindgen::{closure::Closure, JsCast};
    use web_sys::{FormData, HtmlFormElement, ProgressEvent, XmlHttpRequest};

    let Some(form) = ev
        .target()
        .and_then(|t| t.dyn_into::<HtmlFormElement>().ok())
    else {
        return;
    };
    let (Ok(data), Ok(xhr)) = (FormData::new_with_form(&form), XmlHttpRequest::new()) else {
        return;
    };
    error.set(None);
    progress.set(Some(0));
    let _ = xhr.open("POST", "/api/photos/upload");
    let _ = xhr.set_request_header("Accept", "application/json");
    if let Ok(upload) = xhr.upload() {
        let on_progress = Closure::<dyn FnMut(ProgressEvent)>::new(move |e: ProgressEvent| {
            if e.length_computable() && e.total() > 0.0 {
                progress.set(Some((e.loaded() / e.total() * 100.0) as u32));
            }
        });
        upload.set_onprogress(Some(on_progress.as_ref().unchecked_ref()));
        on_progress.forget();
    }
    let request = xhr.clone();
    let on_done = Closure::<dyn FnMut()>::new(move || {
        progress.set(None);
        let status = request.status().unwrap_or(0);
        let body = request.response_text().ok().flatten().unwrap_or_default();
        if (200..300).contains(&status) {
            form.reset();
            match serde_json::from_str(&body) {
                Ok(photo) => on_uploaded(photo),
                Err(e) => error.set(Some(AppError::Internal {
                    message: format!("the upload worked but its answer is unreadable: {e}"),
                })),
            }
        } else {
            error.set(Some(match status {
                0 => AppError::Internal {
                    message: "the upload was interrupted".into(),
                },
                _ => AppError::de(body.into()),
            }));
        }
    });
    xhr.set_onloadend(Some(on_done.as_ref().unchecked_ref()));
    on_done.forget();
    if xhr.send_with_opt_form_data(Some(&data)).is_err() {
        progress.set(None);
    }
}
