//! The SQL of user accounts.

use crate::error::{Error, Result};
use domain::users::UserAccount;
use sqlx::{Connection, PgConnection, PgPool};

fn not_found(id: i64) -> Error {
    Error::not_found(format!("user {id} does not exist"))
}

/// Every user, or only `id`: one query for both, so the columns are written once.
async fn select(pool: &PgPool, id: Option<i64>) -> Result<Vec<UserAccount>> {
    Ok(sqlx::query_as!(
        UserAccount,
        r#"SELECT u.id, u.username, g.name AS "group", u.active, u.created_at,
                  (SELECT count(*) FROM api_tokens t WHERE t.user_id = u.id) AS "api_tokens!"
           FROM users u JOIN groups g ON g.id = u.group_id
           WHERE $1::bigint IS NULL OR u.id = $1
           ORDER BY u.username"#,
        id
    )
    .fetch_all(pool)
    .await?)
}

pub async fn list(pool: &PgPool) -> Result<Vec<UserAccount>> {
    select(pool, None).await
}

pub async fn get(pool: &PgPool, id: i64) -> Result<UserAccount> {
    select(pool, Some(id))
        .await?
        .pop()
        .ok_or_else(|| not_found(id))
}

// The writes take a connection (the caller's audited transaction).

pub async fn set_group(db: &mut PgConnection, id: i64, group: &str) -> Result<()> {
    let group_id = sqlx::query_scalar!("SELECT id FROM groups WHERE name = $1", group)
        .fetch_optional(&mut *db)
        .await?;
    let group_id =
        group_id.ok_or_else(|| Error::invalid("group", format!("unknown group {group:?}")))?;
    let updated = sqlx::query!("UPDATE users SET group_id = $2 WHERE id = $1", id, group_id)
        .execute(db)
        .await?;
    if updated.rows_affected() == 0 {
        return Err(not_found(id));
    }
    Ok(())
}

pub async fn set_active(db: &mut PgConnection, id: i64, active: bool) -> Result<()> {
    let mut tx = db.begin().await?;
    let updated = sqlx::query!("UPDATE users SET active = $2 WHERE id = $1", id, active)
        .execute(&mut *tx)
        .await?;
    if updated.rows_affected() == 0 {
        return Err(not_found(id));
    }
    if !active {
        // A deactivated user is logged out everywhere at once.
        sqlx::query!("DELETE FROM sessions WHERE user_id = $1", id)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(())
}
