//! The Leader's history as Subscribers rely on it: which installation this is, the epoch its
//! revisions belong to, and the watermark under which every revision is committed.
//!
//! A Subscriber's cursor is a revision of the Leader: it means something only as long as the
//! Leader's history only goes forward. When the history may have gone back, the epoch changes,
//! and a Subscriber whose cursor belongs to another epoch resyncs from scratch. The Leader
//! notices from inside its database alone (`sync_current_epoch()`, run at start-up, with every
//! `/sync/leader/info` and with every watermark), because a restore brings back every row,
//! including any row that would remember the newer past:
//! - it remembers *where* its rows live (the cluster's system identifier, the WAL timeline, the
//!   database's and the revision sequence's OIDs): a dump restored re-creates every object (new
//!   OIDs), a base backup restored by archive recovery or a promoted standby ends on a new
//!   timeline, a re-initialised cluster has a new identifier;
//! - it remembers the highest revision it handed out: a sequence set back is below it.
//!
//! What it cannot notice alone (a base backup restored by crash recovery, on the same timeline)
//! the Subscriber notices while its cursor is ahead of the Leader's counter, and the daily digest
//! comparison catches whatever still slips through. The installation id is data, so a dump keeps
//! it: a restored Leader is the same Leader in a new epoch, while a re-created database is
//! another installation, which a replica follows only once an Administrator confirms.

use crate::error::Result;
use sqlx::PgPool;

/// Who this installation is, as `/sync/leader/info` tells it: its id, its current epoch
/// (checked against the database's storage and revision counter, see the migration
/// `leader_identity`) and the last revision handed out.
pub async fn identity(pool: &PgPool) -> Result<(String, String, i64)> {
    let row = sqlx::query!(
        r#"SELECT (SELECT id FROM installation) AS "installation!", sync_current_epoch() AS "epoch!",
                  (SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM sync_revision)
                      AS "revision!""#
    )
    .fetch_one(pool)
    .await?;
    Ok((row.installation, row.epoch, row.revision))
}

/// The epoch as the start-up log reports it: checked now, with when and why it began.
pub struct Epoch {
    pub installation: String,
    pub epoch: String,
    pub since: chrono::DateTime<chrono::Utc>,
    pub reason: String,
}

/// Checks the Leader's history (see [`identity`]) and says which epoch it is in.
pub async fn epoch(pool: &PgPool) -> Result<Epoch> {
    let (installation, epoch, _) = identity(pool).await?;
    let row = sqlx::query!("SELECT epoch_started_at, epoch_reason FROM sync_feed_state")
        .fetch_one(pool)
        .await?;
    Ok(Epoch {
        installation,
        epoch,
        since: row.epoch_started_at,
        reason: row.epoch_reason,
    })
}

/// This installation's id (created with its database).
pub async fn installation_id(pool: &PgPool) -> Result<String> {
    Ok(sqlx::query_scalar!("SELECT id FROM installation")
        .fetch_one(pool)
        .await?)
}

/// The last revision handed out, committed or not: one row read, no lock taken.
pub async fn last_revision(pool: &PgPool) -> Result<i64> {
    Ok(sqlx::query_scalar!(
        r#"SELECT CASE WHEN is_called THEN last_value ELSE 0 END AS "revision!" FROM sync_revision"#
    )
    .fetch_one(pool)
    .await?)
}

/// The highest revision below which every change is committed, and the epoch it belongs to.
/// Taking the writers' lock exclusively waits for the transactions in flight; new ones wait
/// an instant for us.
pub async fn watermark(pool: &PgPool) -> Result<(i64, String)> {
    let mut tx = pool.begin().await?;
    let until = lock_watermark(&mut tx).await?;
    tx.commit().await?;
    Ok(until)
}

/// Waits for the writers in flight and reads the last revision and the epoch; the writers'
/// lock stays held until the transaction ends, so nothing can commit under the watermark
/// meanwhile.
pub(super) async fn lock_watermark(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
) -> Result<(i64, String)> {
    sqlx::query(crate::locks::FEED_WRITERS_EXCLUSIVE)
        .execute(&mut **tx)
        .await?;
    let row = sqlx::query!(
        r#"SELECT (SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM sync_revision)
                      AS "revision!",
                  sync_current_epoch() AS "epoch!""#
    )
    .fetch_one(&mut **tx)
    .await?;
    Ok((row.revision, row.epoch))
}
