//! Events live in one partition per day (UTC). A day's partition is made before its first
//! event (the housekeeping makes today's and tomorrow's; ingest makes any other day it needs),
//! and the retention purge drops whole days.

use crate::error::Result;
use chrono::{DateTime, Days, NaiveDate, Utc};
use sqlx::PgPool;
use std::collections::HashSet;
use std::sync::Mutex;

/// The days this process knows to have a partition, so that ingest asks the database once.
#[derive(Default)]
pub struct KnownDays(Mutex<HashSet<NaiveDate>>);

impl KnownDays {
    /// Makes sure the day of `at` has its partition.
    pub async fn ensure(&self, pool: &PgPool, at: DateTime<Utc>) -> Result<()> {
        let day = at.date_naive();
        if self
            .0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains(&day)
        {
            return Ok(());
        }
        sqlx::query!("SELECT events_partition($1)", day)
            .execute(pool)
            .await?;
        self.0.lock().unwrap_or_else(|e| e.into_inner()).insert(day);
        Ok(())
    }

    /// Forgets days the purge dropped.
    fn forget_before(&self, day: NaiveDate) {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|d| *d >= day);
    }
}

/// The first day whose events are kept, `retention_days` back from now.
pub fn oldest_kept(retention_days: i32) -> NaiveDate {
    Utc::now()
        .date_naive()
        .checked_sub_days(Days::new(retention_days.max(1) as u64))
        .unwrap_or(NaiveDate::MIN)
}

/// Today's and tomorrow's partitions made, days older than the retention dropped (with their
/// webhook deliveries); returns how many days were dropped.
pub async fn tidy(pool: &PgPool, known: &KnownDays, retention_days: i32) -> Result<u64> {
    let now = Utc::now();
    known.ensure(pool, now).await?;
    known.ensure(pool, now + chrono::Duration::days(1)).await?;
    let oldest = oldest_kept(retention_days);
    let days: Vec<String> = sqlx::query_scalar!(
        r#"SELECT c.relname AS "name!" FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
           WHERE i.inhparent = 'events'::regclass"#
    )
    .fetch_all(pool)
    .await?;
    let mut dropped = 0;
    for name in days {
        let Some(day) = name
            .strip_prefix("events_")
            .and_then(|d| NaiveDate::parse_from_str(d, "%Y%m%d").ok())
        else {
            continue;
        };
        if day < oldest {
            let mut tx = pool.begin().await?;
            sqlx::query(crate::locks::EVENTS_PARTITIONS)
                .execute(&mut *tx)
                .await?;
            // The name comes from the catalogue and matched events_YYYYMMDD.
            sqlx::query(&format!("DROP TABLE IF EXISTS \"{name}\""))
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            dropped += 1;
        }
    }
    known.forget_before(oldest);
    sqlx::query!(
        "DELETE FROM webhook_deliveries WHERE created_at < $1::date",
        oldest
    )
    .execute(pool)
    .await?;
    Ok(dropped)
}
