//! Fetching a run's pages from the Leader: a page of changes, then the images this database
//! lacks (by content hash), stored at once. Pages are fetched (and their images stored) ahead,
//! by a task of their own, while the current one is applied: the Leader, the network and two
//! of this database's backends work at once.

use super::client::LeaderClient;
use super::error::SyncError;
use super::ChangePage;
use crate::images::insert_images;
use sqlx::PgPool;

/// Images per request: a page's worth (about 12 MB of 8 KB JPEGs with their thumbnails), one
/// request per page.
const IMAGE_BATCH: usize = 1000;

/// A page of changes, and how many images its photos needed that this database lacked (they
/// are stored by the time the page is returned).
pub(super) type Fetched = (ChangePage, i64);

/// Chosen dossiers of the Leader's list as they are now, with the images this database lacks.
pub(super) async fn fetch_chosen(
    pool: &PgPool,
    client: &LeaderClient,
    list: i64,
    ids: &[i64],
) -> Result<Fetched, SyncError> {
    let page = client.dossiers(list, ids).await?;
    let images = store_missing_images(pool, client, &page).await?;
    Ok((page, images))
}

/// Pages fetched ahead. A task of its own walks the run's pages from the first one (fetched and
/// checked by the caller), stores each page's missing images and hands the page over, staying
/// at most `AHEAD` pages in front of the one being applied; dropped (a failed run), it stops.
pub(super) struct Fetcher {
    pages: tokio::sync::mpsc::Receiver<Result<Fetched, SyncError>>,
    task: tokio::task::JoinHandle<()>,
}

/// Pages a fetcher may hold for the applier: enough that the Leader, the network and this
/// database's two backends rarely wait for each other, few enough to bound the memory.
const AHEAD: usize = 2;

impl Fetcher {
    pub(super) fn start(
        pool: &PgPool,
        client: &LeaderClient,
        list: i64,
        since: i64,
        first: ChangePage,
    ) -> Self {
        let (sender, pages) = tokio::sync::mpsc::channel(AHEAD);
        let (pool, client) = (pool.clone(), client.clone());
        let until = Some(first.until);
        let task = tokio::spawn(async move {
            let mut page = first;
            loop {
                let next_after = page.next_after;
                let stored = store_missing_images(&pool, &client, &page).await;
                let failed = stored.is_err();
                if sender.send(stored.map(|n| (page, n))).await.is_err() || failed {
                    return;
                }
                let Some(after) = next_after else { return };
                page = match client.changes(list, since, until, after).await {
                    Ok(next) => next,
                    Err(e) => {
                        let _ = sender.send(Err(e)).await;
                        return;
                    }
                };
            }
        });
        Self { pages, task }
    }

    /// The next page with its images stored, or `None` after the last one.
    pub(super) async fn next(&mut self) -> Option<Result<Fetched, SyncError>> {
        self.pages.recv().await
    }
}

impl Drop for Fetcher {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Fetches the images of the page's photos this database lacks and stores them, in a
/// transaction of their own: images are keyed by their content, so one stored before its page
/// is applied is the same image the page will point at. If the run dies in between, the
/// resumed run finds it present and does not fetch it again.
async fn store_missing_images(
    pool: &PgPool,
    client: &LeaderClient,
    page: &ChangePage,
) -> Result<i64, SyncError> {
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
    if images.is_empty() {
        return Ok(0);
    }
    let mut tx = pool.begin().await?;
    super::apply::durable_later(&mut tx).await?;
    insert_images(&mut tx, &images.iter().collect::<Vec<_>>()).await?;
    tx.commit().await?;
    Ok(images.len() as i64)
}
