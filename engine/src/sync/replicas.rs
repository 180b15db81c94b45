//! Replicas on the Subscriber: creating one (after checking everything that can be checked
//! first), listing them with their runs, "sync now", cancelling. A run's own view of a replica
//! is `state::RunState`.

use super::client::{normalize_url, LeaderClient};
use super::error::SyncError;
use super::plan::{check_model, check_not_self};
use super::Replication;
use super::{
    Hold, HoldKind, LeaderInfo, RemoteList, Replica, ReplicaState, RunOutcomeKind, SyncRun,
};
use crate::error::{Error, OnConstraint, Result};
use chrono::{DateTime, Utc};
use domain::audit::Actor;
use sqlx::types::Text;
use sqlx::PgPool;
use std::time::Duration;

/// A replica's row as listed: `Replica` with its hold in two columns.
struct Listed {
    id: i64,
    remote_dossier_list: i64,
    remote_url: String,
    remote_list_name: Option<String>,
    slave_dossier_list: i64,
    local_list_name: String,
    state: Text<ReplicaState>,
    cursor: i64,
    items_done: i64,
    items_total: Option<i64>,
    photos_done: i64,
    last_success_at: Option<DateTime<Utc>>,
    last_error: Option<String>,
    last_error_at: Option<DateTime<Utc>>,
    next_run_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    leader_installation: Option<String>,
    hold_kind: Option<Text<HoldKind>>,
    hold_message: Option<String>,
}

impl From<Listed> for Replica {
    fn from(r: Listed) -> Self {
        let hold = match (r.hold_kind, r.hold_message) {
            (Some(Text(kind)), Some(message)) => Some(Hold { kind, message }),
            _ => None,
        };
        Self {
            id: r.id,
            remote_dossier_list: r.remote_dossier_list,
            remote_url: r.remote_url,
            remote_list_name: r.remote_list_name,
            slave_dossier_list: r.slave_dossier_list,
            local_list_name: r.local_list_name,
            state: r.state.0,
            cursor: r.cursor,
            items_done: r.items_done,
            items_total: r.items_total,
            photos_done: r.photos_done,
            last_success_at: r.last_success_at,
            last_error: r.last_error,
            last_error_at: r.last_error_at,
            next_run_at: r.next_run_at,
            created_at: r.created_at,
            leader_installation: r.leader_installation,
            hold,
        }
    }
}

/// Every replica, or only `id`: one query for both, so the columns are written once.
async fn select(pool: &PgPool, id: Option<i64>) -> Result<Vec<Replica>> {
    let rows = sqlx::query_as!(
        Listed,
        r#"SELECT r.id, r.remote_list_id AS remote_dossier_list, r.remote_url, r.remote_list_name,
                  r.watch_list_id AS slave_dossier_list, w.name AS local_list_name,
                  r.state AS "state: Text<ReplicaState>", r.cursor, r.items_done, r.items_total,
                  r.photos_done, r.last_success_at, r.last_error, r.last_error_at,
                  r.next_run_at, r.created_at, r.leader_installation,
                  r.hold_kind AS "hold_kind: Text<HoldKind>", r.hold_message
           FROM replicas r JOIN watch_lists w ON w.id = r.watch_list_id
           WHERE $1::bigint IS NULL OR r.id = $1
           ORDER BY r.id"#,
        id
    )
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(Replica::from).collect())
}

pub async fn replicas(pool: &PgPool) -> Result<Vec<Replica>> {
    select(pool, None).await
}

pub async fn replica(pool: &PgPool, id: i64) -> Result<Replica> {
    select(pool, Some(id))
        .await?
        .pop()
        .ok_or_else(|| Error::not_found(format!("replica {id} does not exist")))
}

/// The latest `limit` runs of every replica, newest first, in one query (an index range scan
/// per replica), keyed by replica.
pub async fn histories(
    pool: &PgPool,
    limit: i64,
) -> Result<std::collections::HashMap<i64, Vec<SyncRun>>> {
    let rows = sqlx::query!(
        r#"SELECT r.id AS replica_id, s.id AS "id!", s.full_resync AS "full_resync!",
                  s.cursor_from AS "cursor_from!", s.cursor_to, s.started_at AS "started_at!",
                  s.finished_at, s.outcome AS "outcome!: Text<RunOutcomeKind>",
                  s.dossiers AS "dossiers!", s.removals AS "removals!", s.photos AS "photos!",
                  s.restored AS "restored!", s.reason, s.error
           FROM replicas r
           CROSS JOIN LATERAL (SELECT * FROM sync_runs WHERE replica_id = r.id
                               ORDER BY id DESC LIMIT $1) s
           ORDER BY r.id, s.id DESC"#,
        limit
    )
    .fetch_all(pool)
    .await?;
    let mut runs: std::collections::HashMap<i64, Vec<SyncRun>> = Default::default();
    for row in rows {
        runs.entry(row.replica_id).or_default().push(SyncRun {
            id: row.id,
            full_resync: row.full_resync,
            cursor_from: row.cursor_from,
            cursor_to: row.cursor_to,
            started_at: row.started_at,
            finished_at: row.finished_at,
            outcome: row.outcome.0,
            dossiers: row.dossiers,
            removals: row.removals,
            photos: row.photos,
            restored: row.restored,
            reason: row.reason,
            error: row.error,
        });
    }
    Ok(runs)
}

/// What creating a replica asks for.
#[derive(Debug, Clone)]
pub struct NewReplica {
    pub remote_url: String,
    pub remote_list: i64,
    pub local_list: i64,
}

/// Creates a replica after checking everything that can be checked first: the local list
/// exists, is empty and is not a replica; the URL answers as a Leader that accepts our token,
/// uses our face model and has the remote list. Nothing is written when a check fails.
pub async fn create(sync: &Replication, actor: &Actor, new: NewReplica) -> Result<Replica> {
    let pool = &sync.pool;
    let url = normalize_url(&new.remote_url).map_err(|m| Error::invalid("remote_url", m))?;
    let local = sqlx::query!(
        r#"SELECT w.name,
                  (SELECT count(*) FROM dossier_watch_lists m WHERE m.watch_list_id = w.id)
                      AS "count!"
           FROM watch_lists w WHERE w.id = $1"#,
        new.local_list
    )
    .fetch_optional(pool)
    .await?
    .map(|r| (r.name, r.count));
    let (name, count) = local.ok_or_else(|| {
        Error::invalid(
            "slave_dossier_list",
            format!("watch list {} does not exist here", new.local_list),
        )
    })?;
    if let Some(existing) = super::guard::replica_of(pool, new.local_list).await? {
        return Err(Error::conflict(
            "slave_dossier_list",
            format!(
                "watch list {} ({name:?}) is already {existing}",
                new.local_list
            ),
        ));
    }
    if count > 0 {
        return Err(Error::conflict(
            "slave_dossier_list",
            format!(
                "watch list {} ({name:?}) holds {count} dossier(s); a replica needs an empty list, so the sync is cancelled",
                new.local_list
            ),
        ));
    }
    let (info, lists) = leader(sync, &url).await?;
    let Some(list) = lists.iter().find(|l| l.id == new.remote_list) else {
        return Err(Error::invalid(
            "remote_dossier_list",
            format!("the Leader at {url} has no watch list {}", new.remote_list),
        ));
    };
    let own = super::history::installation_id(pool).await?;
    if list.upstream.contains(&own) {
        return Err(Error::invalid(
            "remote_dossier_list",
            format!(
                "list {} ({:?}) of the Leader at {url} is itself replicated from this installation; replicating it here would make a loop",
                list.id, list.name
            ),
        ));
    }
    let next_run = if sync.settings.at_creation {
        Some(Utc::now())
    } else {
        sync.settings.next_run(Utc::now())
    };
    let mut tx = crate::audit::begin(pool, actor).await?;
    let id = sqlx::query_scalar!(
        "INSERT INTO replicas (watch_list_id, remote_url, remote_list_id, next_run_at,
                               leader_installation, leader_upstream, remote_list_name)
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        new.local_list,
        url,
        new.remote_list,
        next_run,
        info.installation_id,
        &list.upstream,
        list.name,
    )
    .fetch_one(&mut *tx)
    .await
    .on_constraint("replicas_watch_list_id_key", || {
        Error::conflict(
            "slave_dossier_list",
            format!("watch list {} is already a replica", new.local_list),
        )
    })?;
    tx.commit().await?;
    if sync.settings.at_creation {
        sync.bell.wake();
    }
    replica(pool, id).await
}

/// The lists a Leader offers, asked live, after checking that the URL answers as a Leader that
/// accepts our token and uses our face model. Every failure is about `remote_url`.
pub async fn leader_lists(sync: &Replication, url: &str) -> Result<Vec<RemoteList>> {
    Ok(leader(sync, url).await?.1)
}

/// What a Leader says about itself and its lists, after the checks of [`leader_lists`] and one
/// more: the URL is not this installation itself.
async fn leader(sync: &Replication, url: &str) -> Result<(LeaderInfo, Vec<RemoteList>)> {
    let about_url = |e: SyncError| Error::invalid("remote_url", e.to_string());
    let client =
        LeaderClient::new(url, &sync.settings.token, Duration::from_secs(10)).map_err(about_url)?;
    let info = client.info().await.map_err(about_url)?;
    check_model(&info, &sync.face_model).map_err(about_url)?;
    check_not_self(&info, &super::history::installation_id(&sync.pool).await?)
        .map_err(about_url)?;
    let lists = client.lists().await.map_err(about_url)?;
    Ok((info, lists))
}

/// Local lists that could become replicas: empty, and not replicas already.
pub async fn empty_lists(pool: &PgPool) -> Result<Vec<(i64, String)>> {
    let lists = sqlx::query!(
        "SELECT w.id, w.name FROM watch_lists w
         WHERE NOT EXISTS (SELECT 1 FROM dossier_watch_lists m WHERE m.watch_list_id = w.id)
           AND NOT EXISTS (SELECT 1 FROM replicas r WHERE r.watch_list_id = w.id)
         ORDER BY w.name",
    )
    .fetch_all(pool)
    .await?;
    Ok(lists.into_iter().map(|l| (l.id, l.name)).collect())
}

/// What this installation holds of replication: replicas of Leaders' lists, and sites that
/// sent it their hits (it is their Leader).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Held {
    pub replicas: i64,
    pub sites: i64,
}

/// How many replicas and sites this installation holds.
pub async fn held(pool: &PgPool) -> Result<Held> {
    let row = sqlx::query!(
        r#"SELECT (SELECT count(*) FROM replicas) AS "replicas!",
                  (SELECT count(*) FROM sites) AS "sites!""#
    )
    .fetch_one(pool)
    .await?;
    Ok(Held {
        replicas: row.replicas,
        sites: row.sites,
    })
}

/// Cancels a replica: the local list keeps its dossiers and becomes editable again.
pub async fn cancel(pool: &PgPool, actor: &Actor, id: i64) -> Result<()> {
    let mut tx = crate::audit::begin(pool, actor).await?;
    let deleted = sqlx::query!("DELETE FROM replicas WHERE id = $1", id)
        .execute(&mut *tx)
        .await?;
    if deleted.rows_affected() == 0 {
        return Err(Error::not_found(format!("replica {id} does not exist")));
    }
    tx.commit().await?;
    Ok(())
}

/// Asks for a run as soon as possible.
pub async fn sync_now(sync: &Replication, actor: &Actor, id: i64) -> Result<Replica> {
    let pool = &sync.pool;
    let mut tx = crate::audit::begin(pool, actor).await?;
    let updated = sqlx::query!("UPDATE replicas SET next_run_at = now() WHERE id = $1", id)
        .execute(&mut *tx)
        .await?;
    if updated.rows_affected() == 0 {
        return Err(Error::not_found(format!("replica {id} does not exist")));
    }
    let subject = ("replica", Some(id.to_string()));
    crate::audit::record(&mut *tx, actor, "sync_now", subject, "sync started").await?;
    tx.commit().await?;
    sync.bell.wake();
    replica(pool, id).await
}
