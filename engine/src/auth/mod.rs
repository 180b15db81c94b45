//! Accounts and their secrets: password hashing (argon2, on the blocking pool: it is slow on
//! purpose and would stall the async workers), sessions (`sessions`) and API tokens (stored
//! only as SHA-256, looked up by it), the built-in groups, creating users, and the throttle on
//! failed logins (`throttle`). How a request carries its secret (cookie, `Authorization`
//! header) is the HTTP adapter's business.

pub mod sessions;
pub mod throttle;

/// How accounts' sessions are kept.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(default)]
pub struct AccountSettings {
    /// A browser session ends after this many minutes without a request (0: only after its
    /// 14 days).
    #[serde(rename = "SESSION_IDLE_MINUTES")]
    pub session_idle_minutes: crate::settings::Bounded<0, 525_600>,
}

impl Default for AccountSettings {
    fn default() -> Self {
        Self {
            // A working day.
            session_idle_minutes: crate::settings::Bounded::new(8 * 60),
        }
    }
}

impl AccountSettings {
    pub fn idle_minutes(&self) -> i32 {
        self.session_idle_minutes.get() as i32
    }
}

use crate::error::{Error, Result};
use argon2::password_hash::{rand_core::OsRng, rand_core::RngCore, SaltString};
use argon2::{Argon2, PasswordHash, PasswordHasher, PasswordVerifier};
use domain::access::{CurrentUser, Permission, GROUPS};
use sha2::{Digest, Sha256};
use sqlx::PgPool;

/// Runs password hashing or verification on the blocking pool.
async fn off_the_workers<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(work).await.map_err(|e| {
        tracing::error!(error = %e, "password hashing task failed");
        Error::internal()
    })
}

pub async fn hash_password(password: &str) -> Result<String> {
    let password = password.to_owned();
    off_the_workers(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
    })
    .await?
    .map_err(|e| {
        tracing::error!(error = %e, "password hashing failed");
        Error::internal()
    })
}

/// A fresh random secret (256 bits, hex) for a session or an API token.
pub fn new_secret() -> String {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}

pub(crate) fn digest(secret: &str) -> Vec<u8> {
    Sha256::digest(secret.as_bytes()).to_vec()
}

struct UserRow {
    id: i64,
    username: String,
    group_name: String,
    permissions: Vec<String>,
}

impl From<UserRow> for CurrentUser {
    fn from(row: UserRow) -> Self {
        let permissions = Permission::ALL
            .into_iter()
            .filter(|p| row.permissions.iter().any(|s| s == p.as_str()))
            .collect();
        CurrentUser {
            id: row.id,
            username: row.username,
            group: row.group_name,
            permissions,
            replication_screens: false,
        }
    }
}

/// How a user is looked up: by id, or by the secret a request carries. The one query of
/// [`active_user`] serves all three. A session also ends after `idle_minutes` without a
/// request (0: never).
pub enum UserKey<'a> {
    Id(i64),
    ApiToken(&'a str),
    Session { secret: &'a str, idle_minutes: i32 },
}

/// The active user behind a key. A secret is looked up by its SHA-256, an exact-match index
/// probe, so no secret is ever compared byte by byte; CASE evaluates only the branch taken.
/// A session found usable is also noted as used (for the idle timeout) in the same statement,
/// at most once a minute: no second round trip on every page.
pub async fn active_user(pool: &PgPool, key: UserKey<'_>) -> Result<Option<CurrentUser>> {
    let (kind, id, secret, idle_minutes) = match key {
        UserKey::Id(id) => ("id", Some(id), None, 0),
        UserKey::ApiToken(secret) => ("api_token", None, Some(digest(secret)), 0),
        UserKey::Session {
            secret,
            idle_minutes,
        } => ("session", None, Some(digest(secret)), idle_minutes),
    };
    let row = sqlx::query_as!(
        UserRow,
        r#"WITH session AS (
               SELECT s.user_id, s.last_seen_at < now() - interval '1 minute' AS stale
               FROM sessions s
               WHERE $1::text = 'session' AND s.token_sha256 = $3 AND s.expires_at > now()
                 AND ($4 = 0 OR s.last_seen_at > now() - make_interval(mins => $4))
           ), touched AS (
               UPDATE sessions SET last_seen_at = now()
               WHERE token_sha256 = $3 AND EXISTS (SELECT 1 FROM session WHERE stale)
           )
           SELECT u.id, u.username, g.name AS group_name,
                  ARRAY(SELECT permission FROM group_permissions p WHERE p.group_id = g.id)
                      AS "permissions!"
           FROM users u JOIN groups g ON g.id = u.group_id
           WHERE u.active AND u.id = CASE $1::text
               WHEN 'id' THEN $2::bigint
               WHEN 'api_token' THEN
                   (SELECT t.user_id FROM api_tokens t WHERE t.token_sha256 = $3)
               WHEN 'session' THEN (SELECT user_id FROM session)
           END"#,
        kind,
        id,
        secret,
        idle_minutes,
    )
    .fetch_optional(pool)
    .await?;
    Ok(row.map(Into::into))
}

/// The active user with this name and password, if any.
pub async fn verify_password(
    pool: &PgPool,
    username: &str,
    password: &str,
) -> Result<Option<CurrentUser>> {
    let row = sqlx::query!(
        "SELECT id, password_hash, active FROM users WHERE username = $1",
        username
    )
    .fetch_optional(pool)
    .await?;
    // Hash even for an unknown user so that response time does not reveal which names exist.
    const UNKNOWN: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$ZVwoRD0wpLIhpQBRNpmZnFdGlxb0GfMwTcbgiKyKDKA";
    let (id, hash, active) = row
        .map(|r| (Some(r.id), r.password_hash, r.active))
        .unwrap_or((None, UNKNOWN.to_string(), false));
    let password = password.to_owned();
    let matches = off_the_workers(move || {
        PasswordHash::new(&hash).map(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
    })
    .await?
    .map_err(|_| Error::internal())?;
    match id {
        Some(id) if matches && active => active_user(pool, UserKey::Id(id)).await,
        _ => Ok(None),
    }
}

/// Creates the built-in groups and their permissions; running it again changes nothing.
pub async fn create_groups(pool: &PgPool) -> Result<()> {
    let mut tx = pool.begin().await?;
    for (name, permissions) in GROUPS {
        sqlx::query!(
            "INSERT INTO groups (name) VALUES ($1) ON CONFLICT (name) DO NOTHING",
            name
        )
        .execute(&mut *tx)
        .await?;
        let permissions: Vec<&str> = permissions.iter().map(|p| p.as_str()).collect();
        sqlx::query!(
            "INSERT INTO group_permissions (group_id, permission)
             SELECT g.id, p FROM groups g, UNNEST($2::text[]) AS p WHERE g.name = $1
             ON CONFLICT DO NOTHING",
            name,
            &permissions as &[&str],
        )
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

pub fn check_username(username: &str) -> Result<()> {
    let len = username.chars().count();
    if len == 0 || len > 150 {
        return Err(Error::invalid(
            "username",
            format!("must be 1 to 150 characters, got {len}"),
        ));
    }
    domain::input::check_characters("username", username, domain::input::Lines::One)?;
    if username.chars().any(char::is_whitespace) {
        return Err(Error::invalid("username", "must not contain spaces"));
    }
    Ok(())
}

pub fn check_password(password: &str) -> Result<()> {
    // Any character may be in a password except NUL, which PostgreSQL cannot store (nor
    // argon2's PHC string carry reliably): refused rather than silently cut.
    if password.contains('\0') {
        return Err(Error::invalid(
            "password",
            "must not contain a NUL character",
        ));
    }
    if password.chars().count() < 8 {
        return Err(Error::invalid("password", "must be at least 8 characters"));
    }
    Ok(())
}

/// Creates a user in one of the built-in groups (in the caller's audited transaction, or on
/// a plain connection from the command line); returns the new id.
pub async fn create_user(
    db: &mut sqlx::PgConnection,
    username: &str,
    password: &str,
    group: &str,
) -> Result<i64> {
    check_username(username)?;
    check_password(password)?;
    let hash = hash_password(password).await?;
    let id = sqlx::query_scalar!(
        "INSERT INTO users (username, password_hash, group_id)
         SELECT $1, $2, id FROM groups WHERE name = $3 RETURNING id",
        username,
        hash,
        group,
    )
    .fetch_optional(db)
    .await?;
    id.ok_or_else(|| {
        let groups: Vec<&str> = GROUPS.iter().map(|(name, _)| *name).collect();
        Error::invalid(
            "group",
            format!(
                "unknown group {group:?} (run create-groups; the groups are {})",
                groups.join(", ")
            ),
        )
    })
}

/// Issues a new API token for a user; the secret is returned once and stored only hashed.
pub async fn issue_token(db: &mut sqlx::PgConnection, user_id: i64) -> Result<String> {
    let token = new_secret();
    sqlx::query!(
        "INSERT INTO api_tokens (user_id, token_sha256) VALUES ($1, $2)",
        user_id,
        digest(&token),
    )
    .execute(db)
    .await?;
    Ok(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_and_passwords_are_checked_before_hashing() {
        assert!(check_username("ann").is_ok());
        assert_eq!(check_username("a b").unwrap_err().field(), Some("username"));
        assert!(check_username("").is_err());
        assert!(check_password("1234567").is_err());
        assert!(check_password("12345678").is_ok());
    }

    #[tokio::test]
    async fn a_hash_verifies_its_password_only() {
        let hash = hash_password("correct horse").await.unwrap();
        let parsed = PasswordHash::new(&hash).unwrap();
        assert!(Argon2::default()
            .verify_password(b"correct horse", &parsed)
            .is_ok());
        assert!(Argon2::default()
            .verify_password(b"wrong horse", &parsed)
            .is_err());
        assert_ne!(new_secret(), new_secret());
    }
}
