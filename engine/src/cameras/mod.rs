//! Cameras in PostgreSQL: what an Administrator sets of them (audited, in the caller's
//! transaction), their live status and latest frame as their video worker reports them, and
//! the leases by which workers share them out ([`leases`]).

pub mod leases;

use crate::error::{Error, OnConstraint, Result};
use domain::cameras::{
    shown_url, Camera, CameraInput, CameraSettings, CameraState, CameraStatus, Region,
};
use sqlx::types::Text;
use sqlx::{PgConnection, PgPool};

pub fn not_found(id: i64) -> Error {
    Error::not_found(format!("camera {id} does not exist"))
}

fn name_taken() -> Error {
    Error::conflict("name", "a camera with this name already exists")
}

struct Row {
    id: i64,
    name: String,
    url: String,
    enabled: bool,
    fps: f32,
    min_face: i32,
    min_quality: f32,
    region: Option<Vec<f32>>,
    created_at: chrono::DateTime<chrono::Utc>,
    state: Option<Text<CameraState>>,
    detail: Option<String>,
    measured_fps: Option<f32>,
    faces_per_minute: Option<f32>,
    width: Option<i32>,
    height: Option<i32>,
    last_frame_at: Option<chrono::DateTime<chrono::Utc>>,
    next_retry_at: Option<chrono::DateTime<chrono::Utc>>,
    worker: Option<String>,
    has_snapshot: bool,
}

impl From<Row> for Camera {
    fn from(r: Row) -> Self {
        let state = match (r.enabled, r.state) {
            (false, _) => CameraState::Disabled,
            (true, Some(Text(state))) if state != CameraState::Disabled => state,
            (true, _) => CameraState::Waiting,
        };
        Self {
            id: r.id,
            settings: CameraSettings {
                name: r.name,
                enabled: r.enabled,
                fps: r.fps,
                min_face: r.min_face,
                min_quality: r.min_quality,
                region: r.region.as_deref().and_then(Region::from_slice),
            },
            url: shown_url(&r.url),
            status: CameraStatus {
                state,
                detail: r.detail.filter(|_| r.enabled),
                fps: r.measured_fps,
                faces_per_minute: r.faces_per_minute,
                width: r.width,
                height: r.height,
                last_frame_at: r.last_frame_at,
                next_retry_at: r.next_retry_at.filter(|_| state == CameraState::Failed),
                worker: r.worker,
                has_snapshot: r.has_snapshot,
            },
            created_at: r.created_at,
        }
    }
}

/// Every camera by name, or only `id`: one query for both.
async fn select(pool: &PgPool, id: Option<i64>) -> Result<Vec<Camera>> {
    let rows = sqlx::query_as!(
        Row,
        r#"SELECT c.id, c.name, c.url, c.enabled, c.fps, c.min_face, c.min_quality, c.region,
                  c.created_at, s.state AS "state?: Text<CameraState>", s.detail,
                  s.fps AS measured_fps, s.faces_per_minute, s.width, s.height,
                  s.last_frame_at, s.next_retry_at,
                  CASE WHEN s.leased_until > now() THEN s.leased_by END AS worker,
                  s.snapshot IS NOT NULL AS "has_snapshot!"
           FROM cameras c LEFT JOIN camera_status s ON s.camera_id = c.id
           WHERE $1::bigint IS NULL OR c.id = $1
           ORDER BY c.name, c.id"#,
        id
    )
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(Camera::from).collect())
}

pub async fn list(pool: &PgPool) -> Result<Vec<Camera>> {
    select(pool, None).await
}

pub async fn get(pool: &PgPool, id: i64) -> Result<Camera> {
    select(pool, Some(id))
        .await?
        .pop()
        .ok_or_else(|| not_found(id))
}

/// Adds a camera (in the caller's audited transaction); its stream is required.
pub async fn create(db: &mut PgConnection, input: &CameraInput) -> Result<i64> {
    let url = input
        .url
        .as_deref()
        .ok_or_else(|| Error::invalid("url", "is required: the camera's stream"))?;
    let s = &input.settings;
    let id = sqlx::query_scalar!(
        "INSERT INTO cameras (name, url, enabled, fps, min_face, min_quality, region)
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        s.name,
        url,
        s.enabled,
        s.fps,
        s.min_face,
        s.min_quality,
        s.region.map(|r| r.to_array().to_vec()) as Option<Vec<f32>>,
    )
    .fetch_one(&mut *db)
    .await
    .on_constraint("cameras_name_key", name_taken)?;
    Ok(id)
}

/// Changes a camera's settings, and its stream when one is given. The worker holding it sees
/// the change at its next lease renewal and opens the stream anew.
pub async fn update(db: &mut PgConnection, id: i64, input: &CameraInput) -> Result<()> {
    let s = &input.settings;
    let updated = sqlx::query!(
        "UPDATE cameras SET name = $2, url = coalesce($3, url), enabled = $4, fps = $5,
             min_face = $6, min_quality = $7, region = $8, modified_at = now()
         WHERE id = $1",
        id,
        s.name,
        input.url,
        s.enabled,
        s.fps,
        s.min_face,
        s.min_quality,
        s.region.map(|r| r.to_array().to_vec()) as Option<Vec<f32>>,
    )
    .execute(db)
    .await
    .on_constraint("cameras_name_key", name_taken)?;
    if updated.rows_affected() == 0 {
        return Err(not_found(id));
    }
    Ok(())
}

/// Deletes a camera; its events stay, with its name.
pub async fn delete(db: &mut PgConnection, id: i64) -> Result<()> {
    let deleted = sqlx::query!("DELETE FROM cameras WHERE id = $1", id)
        .execute(db)
        .await?;
    if deleted.rows_affected() == 0 {
        return Err(not_found(id));
    }
    Ok(())
}

/// The latest frame of a camera, as its worker last sent it (a JPEG).
pub async fn snapshot(pool: &PgPool, id: i64) -> Result<Option<Vec<u8>>> {
    Ok(sqlx::query_scalar!(
        "SELECT snapshot FROM camera_status WHERE camera_id = $1",
        id
    )
    .fetch_optional(pool)
    .await?
    .flatten())
}
