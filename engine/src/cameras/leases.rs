//! How video workers share the cameras out, through PostgreSQL: a worker holds a camera until
//! its lease runs out and renews it every few seconds while it runs, so that a worker that dies
//! loses its cameras to another within [`LEASE`], and a worker that cannot renew (its database
//! or its server away) stops its cameras before their lease runs out, so that no camera is ever
//! analysed by two workers at once. Only the holder writes a camera's status and snapshot.

use crate::error::Result;
use domain::cameras::{CameraState, LeasedCamera, Region, StreamReport};
use sqlx::types::Text;
use sqlx::PgPool;
use std::time::Duration;

/// How long a lease lasts: the bound on how long a dead worker's cameras wait for another.
pub const LEASE: Duration = Duration::from_secs(15);
/// How often a worker renews its leases (and reports its cameras).
pub const RENEW_EVERY: Duration = Duration::from_secs(4);
/// A worker that could not renew for this long stops its cameras: before their leases run out,
/// whatever the renewal's round trip.
pub const GIVE_UP_AFTER: Duration = Duration::from_secs(10);

struct Held {
    id: i64,
    name: String,
    url: String,
    fps: f32,
    min_face: i32,
    min_quality: f32,
    region: Option<Vec<f32>>,
    lease: i64,
    modified_at: chrono::DateTime<chrono::Utc>,
}

/// Renews the leases `worker` holds on enabled cameras, gives up those of cameras switched
/// off, takes free cameras up to `capacity` in all, and returns every camera it holds now.
pub async fn hold(pool: &PgPool, worker: &str, capacity: usize) -> Result<Vec<LeasedCamera>> {
    let seconds = LEASE.as_secs_f64();
    let mut tx = pool.begin().await?;
    sqlx::query!(
        "UPDATE camera_status s SET leased_by = NULL, leased_until = NULL, state = 'disabled',
             detail = NULL
         FROM cameras c
         WHERE c.id = s.camera_id AND s.leased_by = $1 AND NOT c.enabled",
        worker
    )
    .execute(&mut *tx)
    .await?;
    let renewed = sqlx::query!(
        "UPDATE camera_status SET leased_until = now() + make_interval(secs => $2)
         WHERE leased_by = $1 AND leased_until > now()",
        worker,
        seconds
    )
    .execute(&mut *tx)
    .await?
    .rows_affected() as i64;
    let free = capacity as i64 - renewed;
    if free > 0 {
        sqlx::query!(
            "UPDATE camera_status s SET leased_by = $1,
                 leased_until = now() + make_interval(secs => $2), lease = s.lease + 1,
                 state = 'connecting', detail = NULL, next_retry_at = NULL
             WHERE s.camera_id IN (
                 SELECT q.camera_id FROM camera_status q JOIN cameras c ON c.id = q.camera_id
                 WHERE c.enabled AND (q.leased_until IS NULL OR q.leased_until <= now())
                 ORDER BY q.camera_id LIMIT $3 FOR UPDATE OF q SKIP LOCKED)",
            worker,
            seconds,
            free
        )
        .execute(&mut *tx)
        .await?;
    }
    let held = sqlx::query_as!(
        Held,
        "SELECT c.id, c.name, c.url, c.fps, c.min_face, c.min_quality, c.region, s.lease,
                c.modified_at
         FROM camera_status s JOIN cameras c ON c.id = s.camera_id
         WHERE s.leased_by = $1 AND s.leased_until > now()
         ORDER BY c.id",
        worker
    )
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(held
        .into_iter()
        .map(|h| LeasedCamera {
            id: h.id,
            name: h.name,
            url: h.url,
            fps: h.fps,
            min_face: h.min_face,
            min_quality: h.min_quality,
            region: h.region.as_deref().and_then(Region::from_slice),
            lease: h.lease,
            revision: h.modified_at,
        })
        .collect())
}

/// Writes what `worker` says of the cameras it holds (those it does not hold stay as they are).
pub async fn report(pool: &PgPool, worker: &str, reports: &[StreamReport]) -> Result<()> {
    if reports.is_empty() {
        return Ok(());
    }
    let column = |f: &dyn Fn(&StreamReport) -> Option<f32>| -> Vec<Option<f32>> {
        reports.iter().map(f).collect()
    };
    let cameras: Vec<i64> = reports.iter().map(|r| r.camera).collect();
    let states: Vec<Text<CameraState>> = reports.iter().map(|r| Text(r.state)).collect();
    let details: Vec<Option<String>> = reports.iter().map(|r| r.detail.clone()).collect();
    let fps = column(&|r| r.fps);
    let faces = column(&|r| r.faces_per_minute);
    let widths: Vec<Option<i32>> = reports.iter().map(|r| r.width).collect();
    let heights: Vec<Option<i32>> = reports.iter().map(|r| r.height).collect();
    let frames: Vec<Option<chrono::DateTime<chrono::Utc>>> =
        reports.iter().map(|r| r.last_frame_at).collect();
    let retries: Vec<Option<chrono::DateTime<chrono::Utc>>> =
        reports.iter().map(|r| r.next_retry_at).collect();
    sqlx::query(
        "UPDATE camera_status s SET state = r.state, detail = r.detail, fps = r.fps,
             faces_per_minute = r.faces, width = r.width, height = r.height,
             last_frame_at = coalesce(r.frame, s.last_frame_at), next_retry_at = r.retry,
             reported_at = now()
         FROM unnest($2::bigint[], $3::text[], $4::text[], $5::real[], $6::real[], $7::int[],
                     $8::int[], $9::timestamptz[], $10::timestamptz[])
              AS r(camera, state, detail, fps, faces, width, height, frame, retry)
         WHERE s.camera_id = r.camera AND s.leased_by = $1",
    )
    .bind(worker)
    .bind(&cameras)
    .bind(&states)
    .bind(&details)
    .bind(&fps)
    .bind(&faces)
    .bind(&widths)
    .bind(&heights)
    .bind(&frames)
    .bind(&retries)
    .execute(pool)
    .await?;
    Ok(())
}

/// Keeps the latest frame of a camera `worker` holds (a JPEG), for its page.
pub async fn snapshot(pool: &PgPool, worker: &str, camera: i64, jpeg: &[u8]) -> Result<()> {
    sqlx::query!(
        "UPDATE camera_status SET snapshot = $3, snapshot_at = now()
         WHERE camera_id = $1 AND leased_by = $2",
        camera,
        worker,
        jpeg
    )
    .execute(pool)
    .await?;
    Ok(())
}

/// Whether `worker` still holds `camera` (a report from a worker that lost it is refused).
pub async fn holds(pool: &PgPool, worker: &str, camera: i64) -> Result<bool> {
    Ok(sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM camera_status
                          WHERE camera_id = $1 AND leased_by = $2 AND leased_until > now())
           AS "held!""#,
        camera,
        worker
    )
    .fetch_one(pool)
    .await?)
}

/// Gives up every camera `worker` holds (it stops): another worker may take them at once.
pub async fn release(pool: &PgPool, worker: &str) -> Result<()> {
    sqlx::query!(
        "UPDATE camera_status SET leased_by = NULL, leased_until = NULL, state = 'waiting',
             detail = 'its video worker stopped'
         WHERE leased_by = $1",
        worker
    )
    .execute(pool)
    .await?;
    Ok(())
}
