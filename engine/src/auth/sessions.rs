//! Browser sessions: a random secret in the cookie, its SHA-256 in `sessions`. A session ends
//! when the user logs out, after [`SESSION_DAYS`], after the installation's idle timeout, when
//! the user (or an Administrator) logs out everywhere, or when the user is deactivated.

use super::{digest, new_secret};
use crate::error::Result;
use sqlx::PgPool;

/// Two weeks at most, however active the session.
pub const SESSION_DAYS: i32 = 14;

/// Starts a session for the user; returns its secret (for the cookie), stored only hashed.
pub async fn start(pool: &PgPool, user_id: i64) -> Result<String> {
    let token = new_secret();
    sqlx::query!(
        "INSERT INTO sessions (token_sha256, user_id, expires_at)
         VALUES ($1, $2, now() + make_interval(days => $3))",
        digest(&token),
        user_id,
        SESSION_DAYS,
    )
    .execute(pool)
    .await?;
    Ok(token)
}

pub async fn end(pool: &PgPool, token: &str) -> Result<()> {
    sqlx::query!(
        "DELETE FROM sessions WHERE token_sha256 = $1",
        digest(token)
    )
    .execute(pool)
    .await?;
    Ok(())
}

/// Ends every session of a user ("log out everywhere"); returns how many there were.
pub async fn end_all(pool: &PgPool, user_id: i64) -> Result<u64> {
    Ok(
        sqlx::query!("DELETE FROM sessions WHERE user_id = $1", user_id)
            .execute(pool)
            .await?
            .rows_affected(),
    )
}

/// Deletes sessions that can no longer be used: expired, or idle longer than `idle_minutes`
/// (0: no idle limit). Returns how many went.
pub async fn prune(pool: &PgPool, idle_minutes: i32) -> Result<u64> {
    Ok(sqlx::query!(
        "DELETE FROM sessions
         WHERE expires_at <= now()
            OR ($1 > 0 AND last_seen_at <= now() - make_interval(mins => $1))",
        idle_minutes
    )
    .execute(pool)
    .await?
    .rows_affected())
}
