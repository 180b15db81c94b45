//! The installation's PostgreSQL database: connecting, the migrations shipped with this binary,
//! and whether the database answers.

use sqlx::{postgres::PgPoolOptions, PgPool};
use std::time::Duration;

/// The migrations in `migrations/`, built into the binary.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations");

/// A pool of connections: enough for the server's requests and its workers, each of which
/// waits at most five seconds for a connection before saying the database is away.
pub async fn connect(database_url: &str) -> Result<PgPool, sqlx::Error> {
    PgPoolOptions::new()
        .max_connections(16)
        .acquire_timeout(Duration::from_secs(5))
        .connect(database_url)
        .await
}

/// Whether every migration shipped with this binary has been applied.
pub async fn is_migrated(pool: &PgPool) -> Result<bool, sqlx::Error> {
    let applied: Option<i64> = sqlx::query_scalar(
        "SELECT count(*) FROM _sqlx_migrations WHERE success AND to_regclass('_sqlx_migrations') IS NOT NULL",
    )
    .fetch_optional(pool)
    .await
    .unwrap_or(Some(0));
    Ok(applied.unwrap_or(0) as usize >= MIGRATOR.iter().count())
}

/// Whether the database answers within `limit` (for `/healthz`).
pub async fn answers(pool: &PgPool, limit: Duration) -> bool {
    let check = tokio::time::timeout(
        limit,
        sqlx::query_scalar::<_, i32>("SELECT 1").fetch_one(pool),
    )
    .await;
    matches!(check, Ok(Ok(_)))
}
