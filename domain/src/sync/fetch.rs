//! Fetching a run's pages from the Leader: a page of changes, then the images this database
//! lacks (by content hash), and the next page fetched in the background while the current one
//! is applied.

use super::client::LeaderClient;
use super::error::SyncError;
use super::replicas::ReplicaRow;
use super::ChangePage;
use crate::error::Error;
use crate::images::ProcessedImage;
use sqlx::PgPool;

/// Images per request: a page's worth (about 6 MB), one request per page.
const IMAGE_BATCH: usize = 500;

/// One page of changes after `replica.run_after`, with the images this database lacks.
pub(super) async fn fetch_page(
    pool: &PgPool,
    client: &LeaderClient,
    replica: &ReplicaRow,
    since: i64,
) -> Result<(ChangePage, Vec<ProcessedImage>), SyncError> {
    let page = client
        .changes(
            replica.remote_list_id,
            since,
            replica.run_until,
            replica.run_after,
        )
        .await?;
    let images = fetch_missing_images(pool, client, &page).await?;
    Ok((page, images))
}

/// Chosen dossiers of the Leader's list as they are now, with the images this database lacks.
pub(super) async fn fetch_chosen(
    pool: &PgPool,
    client: &LeaderClient,
    list: i64,
    ids: &[i64],
) -> Result<(ChangePage, Vec<ProcessedImage>), SyncError> {
    let page = client.dossiers(list, ids).await?;
    let images = fetch_missing_images(pool, client, &page).await?;
    Ok((page, images))
}

/// A page being fetched in the background; dropped (a failed run), it stops fetching.
pub(super) struct Prefetch(
    pub(super) tokio::task::JoinHandle<Result<(ChangePage, Vec<ProcessedImage>), SyncError>>,
);

impl Prefetch {
    pub(super) async fn result(mut self) -> Result<(ChangePage, Vec<ProcessedImage>), SyncError> {
        (&mut self.0).await.map_err(|e| {
            SyncError::Local(Error::Internal {
                message: format!("fetching a page stopped: {e}"),
            })
        })?
    }
}

impl Drop for Prefetch {
    fn drop(&mut self) {
        self.0.abort();
    }
}

async fn fetch_missing_images(
    pool: &PgPool,
    client: &LeaderClient,
    page: &ChangePage,
) -> Result<Vec<ProcessedImage>, SyncError> {
    let mut wanted: Vec<Vec<u8>> = page
        .upserts
        .iter()
        .flat_map(|d| d.photos.iter())
        .filter_map(|p| hex::decode(&p.sha256).ok())
        .collect();
    wanted.sort();
    wanted.dedup();
    let missing = sqlx::query_scalar!(
        r#"SELECT encode(h, 'hex') AS "sha256!" FROM UNNEST($1::bytea[]) AS h
           WHERE NOT EXISTS (SELECT 1 FROM images i WHERE i.sha256 = h)"#,
        &wanted
    )
    .fetch_all(pool)
    .await?;
    let mut images = Vec::new();
    for batch in missing.chunks(IMAGE_BATCH) {
        let got = client.images(batch).await?;
        if got.len() != batch.len() {
            return Err(SyncError::Leader {
                status: 200,
                message: format!("asked for {} image(s), got {}", batch.len(), got.len()),
            });
        }
        images.extend(got);
    }
    Ok(images)
}
