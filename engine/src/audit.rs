//! The SQL of the audit log: the transaction that names its actor, explicit entries, the
//! keyset-paged reading, and the purge.

use crate::error::Result;
use domain::audit::{Actor, AuditEntry, AuditFilter, AuditPage};
use sqlx::{PgPool, Postgres, Transaction};

/// How long the audit log keeps its entries.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(default)]
pub struct AuditSettings {
    /// Audit entries older than this many days are deleted (hourly).
    #[serde(rename = "AUDIT_RETENTION_DAYS")]
    pub retention_days: crate::settings::Bounded<1, 36_500>,
}

impl Default for AuditSettings {
    fn default() -> Self {
        Self {
            // Two years, as long as a typical inquiry looks back.
            retention_days: crate::settings::Bounded::new(730),
        }
    }
}

/// The connection a write runs on (its audited transaction).
pub type Db = sqlx::PgConnection;

/// A transaction whose writes are recorded as made by its actor.
pub type AuditedTx = Transaction<'static, Postgres>;

/// Begins a transaction whose writes the audit triggers record as made by `actor`. The
/// setting is local to the transaction, so the pooled connection forgets it at commit.
pub async fn begin(pool: &PgPool, actor: &Actor) -> Result<AuditedTx> {
    let mut tx = pool.begin().await?;
    let who = serde_json::to_string(actor).unwrap_or_default();
    sqlx::query_scalar!("SELECT set_config('dossier.actor', $1, true)", who)
        .fetch_one(&mut *tx)
        .await?;
    Ok(tx)
}

/// Runs one write in a transaction recorded as `actor`'s and commits it: the changes and their
/// entries land together, or neither does.
pub async fn write<T>(
    pool: &PgPool,
    actor: &Actor,
    change: impl AsyncFnOnce(&mut Db) -> Result<T>,
) -> Result<T> {
    let mut tx = begin(pool, actor).await?;
    let done = change(&mut tx).await?;
    tx.commit().await?;
    Ok(done)
}

/// An event that changes no audited row: a login, a person starting a sync, a run's counts.
pub async fn record(
    db: impl sqlx::PgExecutor<'_>,
    actor: &Actor,
    action: &str,
    subject: (&str, Option<String>),
    summary: &str,
) -> Result<()> {
    sqlx::query!(
        "INSERT INTO audit_log (actor_id, actor, address, action, subject_kind, subject_id, summary)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
        actor.id,
        actor.name,
        actor.address,
        action,
        subject.0,
        subject.1,
        summary,
    )
    .execute(db)
    .await?;
    Ok(())
}

/// One page of entries, newest first. Each filter is an equality on an indexed column, so a
/// page costs an index range scan however long the log.
pub async fn page(pool: &PgPool, filter: &AuditFilter) -> Result<AuditPage> {
    let rows = sqlx::query_as!(
        AuditEntry,
        r#"SELECT id, at, actor_id, actor, address, action, subject_kind, subject_id,
                  subject_name, changes, summary
           FROM audit_log
           WHERE ($1::text IS NULL OR actor = $1)
             AND ($2::text IS NULL OR action = $2)
             AND ($3::text IS NULL OR subject_kind = $3)
             AND ($4::text IS NULL OR subject_id = $4)
             AND ($5::bigint IS NULL OR id < $5)
           ORDER BY id DESC
           LIMIT $6"#,
        filter.actor,
        filter.action,
        filter.subject_kind,
        filter.subject_id,
        filter.before,
        filter.limit + 1,
    )
    .fetch_all(pool)
    .await?;
    let (entries, next_before) = domain::input::keyset_page(rows, filter.limit, |e| e.id);
    Ok(AuditPage {
        entries,
        next_before,
    })
}

/// Deletes entries older than `days`; returns how many went.
pub async fn purge(pool: &PgPool, days: i32) -> Result<u64> {
    Ok(sqlx::query!(
        "DELETE FROM audit_log WHERE at < now() - make_interval(days => $1)",
        days
    )
    .execute(pool)
    .await?
    .rows_affected())
}
