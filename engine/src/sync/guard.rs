//! Replicated lists are read-only: the Leader is their source of truth. This is the check every
//! write path runs, and the one exception (deleting a dossier while the Leader is unreachable).

use super::client::LeaderClient;
use super::error::SyncError;
use super::Replication;
use crate::error::{Error, Result};
use sqlx::PgPool;
use std::time::Duration;

/// How long "is the Leader reachable?" may take when a user asks to delete.
const REACHABILITY_TIMEOUT: Duration = Duration::from_secs(2);

/// "a replica of list N of <Leader URL>", if the local list is one.
pub async fn replica_of(pool: &PgPool, list: i64) -> Result<Option<String>> {
    let row = sqlx::query!(
        "SELECT remote_url, remote_list_id FROM replicas WHERE watch_list_id = $1",
        list
    )
    .fetch_optional(pool)
    .await?;
    Ok(row.map(|r| {
        format!(
            "a replica of list {} of the Leader {}",
            r.remote_list_id, r.remote_url
        )
    }))
}

/// The first of these lists that is a replica, with the Leader it follows.
async fn first_replica(pool: &PgPool, lists: &[i64]) -> Result<Option<(i64, String, i64)>> {
    let row = sqlx::query!(
        "SELECT watch_list_id, remote_url, remote_list_id FROM replicas
         WHERE watch_list_id = ANY($1) ORDER BY watch_list_id LIMIT 1",
        lists
    )
    .fetch_optional(pool)
    .await?;
    Ok(row.map(|r| (r.watch_list_id, r.remote_url, r.remote_list_id)))
}

fn read_only(list: i64, url: &str, remote: i64) -> Error {
    Error::forbidden(format!(
        "watch list {list} is a read-only replica of list {remote} of the Leader {url}; change it there"
    ))
}

/// Refuses a write that touches any of these lists if one is a replica.
pub async fn lists_writable(pool: &PgPool, lists: &[i64]) -> Result<()> {
    match first_replica(pool, lists).await? {
        Some((list, url, remote)) => Err(read_only(list, &url, remote)),
        None => Ok(()),
    }
}

async fn lists_of_dossier(pool: &PgPool, dossier: i64) -> Result<Vec<i64>> {
    Ok(sqlx::query_scalar!(
        "SELECT watch_list_id FROM dossier_watch_lists WHERE dossier_id = $1",
        dossier
    )
    .fetch_all(pool)
    .await?)
}

/// Refuses a change to a dossier that belongs to a replicated list.
pub async fn dossier_writable(pool: &PgPool, dossier: i64) -> Result<()> {
    lists_writable(pool, &lists_of_dossier(pool, dossier).await?).await
}

/// Deleting a replicated dossier is allowed only while its Leader cannot be reached (to stop an
/// alert, say); the next successful sync restores it.
pub async fn dossier_deletable(sync: &Replication, dossier: i64) -> Result<()> {
    let lists = lists_of_dossier(&sync.pool, dossier).await?;
    let Some((list, url, remote)) = first_replica(&sync.pool, &lists).await? else {
        return Ok(());
    };
    let reachable = match LeaderClient::new(&url, &sync.settings.token, REACHABILITY_TIMEOUT) {
        Ok(client) => !matches!(client.info().await, Err(SyncError::Unreachable { .. })),
        Err(_) => false,
    };
    if reachable {
        return Err(Error::forbidden(format!(
            "watch list {list} is a read-only replica of list {remote} of the Leader {url}, which is reachable: delete the dossier there"
        )));
    }
    Ok(())
}
