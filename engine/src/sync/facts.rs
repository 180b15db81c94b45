//! What a run asks the database and the Leader for, to decide (`plan`): whether the local list
//! has members, how many, and how many of them the Leader's list lacks.

use super::client::LeaderClient;
use super::error::SyncError;
use super::state::RunState;
use sqlx::PgPool;
use std::collections::HashSet;

pub(super) async fn has_members(pool: &PgPool, list: i64) -> Result<bool, SyncError> {
    Ok(sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM dossier_watch_lists WHERE watch_list_id = $1) AS "any!""#,
        list
    )
    .fetch_one(pool)
    .await?)
}

pub(super) async fn members(pool: &PgPool, list: i64) -> Result<i64, SyncError> {
    Ok(sqlx::query_scalar!(
        r#"SELECT count(*) AS "count!" FROM dossier_watch_lists WHERE watch_list_id = $1"#,
        list
    )
    .fetch_one(pool)
    .await?)
}

/// How many dossiers of the replica the Leader's list does not have: exactly what the replica
/// loses once the run has converged.
pub(super) async fn exact_removals(
    pool: &PgPool,
    client: &LeaderClient,
    state: &RunState,
) -> Result<i64, SyncError> {
    let leader: HashSet<i64> = client
        .members(state.remote_list_id)
        .await?
        .into_iter()
        .collect();
    let local: Vec<Option<i64>> = sqlx::query_scalar!(
        "SELECT r.remote_id AS \"remote_id?\" FROM dossier_watch_lists m
         LEFT JOIN remote_dossiers r ON r.dossier_id = m.dossier_id AND r.remote_url = $2
         WHERE m.watch_list_id = $1",
        state.watch_list_id,
        state.remote_url
    )
    .fetch_all(pool)
    .await?;
    Ok(local
        .into_iter()
        .filter(|id| id.is_none_or(|id| !leader.contains(&id)))
        .count() as i64)
}
