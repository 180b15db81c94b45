//! The Subscriber's side: the client that talks to a Leader, the replicas (create, list,
//! cancel), and a run: fetch the changes page by page, apply each page in one transaction that
//! also records the progress, finish by moving the cursor, then compare digests.

use super::{
    ChangePage, LeaderInfo, ListDigest, RemoteList, Replica, SyncRun, SyncToken, LEADER_KIND,
};
use crate::error::{AppError, AppResult};
use crate::photos::ssr::{delete_unused_images, insert_images, ProcessedImage};
use crate::state::AppState;
use chrono::{DateTime, Utc};
use reqwest::StatusCode;
use sha2::{Digest, Sha256};
use sqlx::{PgPool, Postgres, Transaction};
use std::time::Duration;

/// Dossiers per page of changes.
const PAGE_SIZE: i64 = 500;
/// Images per request: a page's worth (about 6 MB), one request per page.
const IMAGE_BATCH: usize = 500;
/// Attempts per request before the run fails (with backoff in between).
const ATTEMPTS: u32 = 3;
/// Longest time between two verifications of a replica against the Leader's digest.
const VERIFY_EVERY_HOURS: i64 = 24;

/// Why a run (or a request to a Leader) failed. The messages are shown to administrators.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SyncError {
    #[error("the Leader at {url} cannot be reached: {reason}")]
    Unreachable { url: String, reason: String },
    #[error("the Leader rejected the sync token")]
    TokenRejected,
    #[error("{url} is not a dossier database Leader ({reason})")]
    NotALeader { url: String, reason: String },
    #[error("face models differ: the Leader uses {leader:?}, this installation uses {local:?}")]
    ModelMismatch { leader: String, local: String },
    #[error("the Leader can no longer serve changes since revision {0}")]
    CursorTooOld(i64),
    #[error("the Leader has no watch list {0}")]
    UnknownRemoteList(i64),
    #[error("the Leader answered {status}: {message}")]
    Leader { status: u16, message: String },
    #[error("replication is off here: SYNC_TOKEN is not set")]
    NoToken,
    #[error("{0}")]
    Local(AppError),
}

impl From<AppError> for SyncError {
    fn from(e: AppError) -> Self {
        Self::Local(e)
    }
}

impl From<sqlx::Error> for SyncError {
    fn from(e: sqlx::Error) -> Self {
        Self::Local(e.into())
    }
}

impl SyncError {
    /// Worth retrying the same request: the network or the Leader may recover.
    fn transient(&self) -> bool {
        matches!(self, Self::Unreachable { .. })
            || matches!(self, Self::Leader { status, .. } if *status >= 500)
    }
}

/// A Leader URL in one spelling (no trailing slash), so that two replicas of the same Leader
/// share their dossiers.
pub fn normalize_url(url: &str) -> Result<String, String> {
    let parsed = url::Url::parse(url.trim()).map_err(|e| format!("{url:?} is not a URL: {e}"))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host().is_none() {
        return Err(format!("{url:?} must be an http(s) URL with a host"));
    }
    Ok(parsed.as_str().trim_end_matches('/').to_string())
}

/// A decoded image record from the Leader.
pub struct ImageRecord(pub ProcessedImage);

#[derive(Clone)]
pub struct LeaderClient {
    http: reqwest::Client,
    url: String,
    token: SyncToken,
}

impl LeaderClient {
    pub fn new(url: &str, token: &SyncToken, timeout: Duration) -> Result<Self, SyncError> {
        if !token.is_set() {
            return Err(SyncError::NoToken);
        }
        let http = reqwest::Client::builder()
            .connect_timeout(timeout.min(Duration::from_secs(5)))
            .timeout(timeout)
            .build()
            .map_err(|e| {
                SyncError::Local(AppError::Internal {
                    message: e.to_string(),
                })
            })?;
        Ok(Self {
            http,
            url: url.trim_end_matches('/').to_string(),
            token: token.clone(),
        })
    }

    async fn send_once(&self, request: reqwest::RequestBuilder) -> Result<Vec<u8>, SyncError> {
        let unreachable = |e: reqwest::Error| SyncError::Unreachable {
            url: self.url.clone(),
            reason: e.without_url().to_string(),
        };
        let response = request
            .bearer_auth(self.token.expose())
            .send()
            .await
            .map_err(unreachable)?;
        let status = response.status();
        let body = response.bytes().await.map_err(unreachable)?.to_vec();
        match status {
            s if s.is_success() => Ok(body),
            StatusCode::UNAUTHORIZED => Err(SyncError::TokenRejected),
            StatusCode::GONE => Err(SyncError::CursorTooOld(0)),
            s => {
                let message = serde_json::from_slice::<AppError>(&body)
                    .map(|e| e.to_string())
                    .unwrap_or_else(|_| String::from_utf8_lossy(&body).chars().take(200).collect());
                Err(SyncError::Leader {
                    status: s.as_u16(),
                    message,
                })
            }
        }
    }

    /// Sends a request, retrying transient failures with backoff (0.25 s, then 1 s).
    async fn send(
        &self,
        build: impl Fn() -> reqwest::RequestBuilder,
    ) -> Result<Vec<u8>, SyncError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.send_once(build()).await {
                Err(e) if e.transient() && attempt < ATTEMPTS => {
                    tokio::time::sleep(Duration::from_millis(250 * 4u64.pow(attempt - 1))).await;
                }
                other => return other,
            }
        }
    }

    fn decode<T: serde::de::DeserializeOwned>(&self, body: &[u8]) -> Result<T, SyncError> {
        serde_json::from_slice(body).map_err(|e| SyncError::NotALeader {
            url: self.url.clone(),
            reason: format!("unexpected answer: {e}"),
        })
    }

    fn get(&self, path: &str) -> reqwest::RequestBuilder {
        self.http.get(format!("{}{path}", self.url))
    }

    /// Who answers at the URL; refuses anything that is not a Leader.
    pub async fn info(&self) -> Result<LeaderInfo, SyncError> {
        let body = self
            .send(|| self.get("/sync/leader/info"))
            .await
            .map_err(|e| match e {
                SyncError::Leader { status: 404, .. } => SyncError::NotALeader {
                    url: self.url.clone(),
                    reason: "it has no /sync/leader/info".into(),
                },
                other => other,
            })?;
        let info: LeaderInfo = self.decode(&body)?;
        if info.kind != LEADER_KIND {
            return Err(SyncError::NotALeader {
                url: self.url.clone(),
                reason: format!("it says it is {:?}", info.kind),
            });
        }
        Ok(info)
    }

    pub async fn lists(&self) -> Result<Vec<RemoteList>, SyncError> {
        let body = self
            .send(|| self.get("/sync/leader/dossier-lists/"))
            .await?;
        self.decode(&body)
    }

    pub async fn changes(
        &self,
        list: i64,
        since: i64,
        until: Option<i64>,
        after: i64,
    ) -> Result<ChangePage, SyncError> {
        let path = format!("/sync/leader/dossier-lists/{list}/changes");
        let mut query = vec![
            ("since", since.to_string()),
            ("after", after.to_string()),
            ("limit", PAGE_SIZE.to_string()),
        ];
        if let Some(until) = until {
            query.push(("until", until.to_string()));
        }
        let body = self
            .send(|| self.get(&path).query(&query))
            .await
            .map_err(|e| match e {
                SyncError::Leader { status: 404, .. } => SyncError::UnknownRemoteList(list),
                SyncError::CursorTooOld(_) => SyncError::CursorTooOld(since),
                other => other,
            })?;
        self.decode(&body)
    }

    pub async fn digest(&self, list: i64) -> Result<ListDigest, SyncError> {
        let path = format!("/sync/leader/dossier-lists/{list}/digest");
        let body = self.send(|| self.get(&path)).await?;
        self.decode(&body)
    }

    /// The images for these hashes; each is checked against its hash.
    pub async fn images(&self, hashes: &[String]) -> Result<Vec<ImageRecord>, SyncError> {
        let body = self
            .send(|| {
                self.http
                    .post(format!("{}/sync/leader/images", self.url))
                    .json(hashes)
            })
            .await?;
        parse_images(&body).ok_or_else(|| SyncError::NotALeader {
            url: self.url.clone(),
            reason: "its image answer is malformed or does not match the hashes".into(),
        })
    }
}

/// Reads the Leader's image framing (see `leader::images`), checking every hash.
fn parse_images(mut body: &[u8]) -> Option<Vec<ImageRecord>> {
    fn field<'a>(body: &mut &'a [u8]) -> Option<&'a [u8]> {
        let len = u32::from_be_bytes(body.get(..4)?.try_into().ok()?) as usize;
        let value = body.get(4..4 + len)?;
        *body = &body[4 + len..];
        Some(value)
    }
    let mut out = Vec::new();
    while !body.is_empty() {
        let sha = body.get(..32)?.to_vec();
        body = &body[32..];
        let content_type = std::str::from_utf8(field(&mut body)?).ok()?;
        let size = std::str::from_utf8(field(&mut body)?).ok()?;
        let (width, height) = size.split_once('x')?;
        let data = field(&mut body)?.to_vec();
        let thumbnail = field(&mut body)?.to_vec();
        if Sha256::digest(&data).as_slice() != sha.as_slice() {
            return None;
        }
        let content_type = match content_type {
            "image/jpeg" => "image/jpeg",
            "image/png" => "image/png",
            "image/webp" => "image/webp",
            "image/gif" => "image/gif",
            _ => return None,
        };
        out.push(ImageRecord(ProcessedImage {
            sha256: sha,
            content_type,
            data,
            thumbnail,
            width: width.parse().ok()?,
            height: height.parse().ok()?,
        }));
    }
    Some(out)
}

// ---------------------------------------------------------------------------------------------
// Replicas

const REPLICA_COLUMNS: &str = "r.id, r.remote_list_id AS remote_dossier_list, r.remote_url,
    r.watch_list_id AS slave_dossier_list, w.name AS local_list_name, r.state, r.cursor,
    r.items_done, r.items_total, r.photos_done, r.last_success_at, r.last_error, r.last_error_at,
    r.next_run_at, r.created_at";

pub async fn replicas(pool: &PgPool) -> AppResult<Vec<Replica>> {
    Ok(sqlx::query_as(&format!(
        "SELECT {REPLICA_COLUMNS} FROM replicas r JOIN watch_lists w ON w.id = r.watch_list_id ORDER BY r.id"
    ))
    .fetch_all(pool)
    .await?)
}

pub async fn replica(pool: &PgPool, id: i64) -> AppResult<Replica> {
    sqlx::query_as(&format!(
        "SELECT {REPLICA_COLUMNS} FROM replicas r JOIN watch_lists w ON w.id = r.watch_list_id WHERE r.id = $1"
    ))
    .bind(id)
    .fetch_optional(pool)
    .await?
    .ok_or_else(|| AppError::not_found(format!("replica {id} does not exist")))
}

pub async fn history(pool: &PgPool, replica: i64, limit: i64) -> AppResult<Vec<SyncRun>> {
    Ok(sqlx::query_as(
        "SELECT id, full_resync, cursor_from, cursor_to, started_at, finished_at, outcome,
                dossiers, removals, photos, error
         FROM sync_runs WHERE replica_id = $1 ORDER BY id DESC LIMIT $2",
    )
    .bind(replica)
    .bind(limit)
    .fetch_all(pool)
    .await?)
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
pub async fn create(state: &AppState, new: NewReplica) -> AppResult<Replica> {
    let pool = &state.pool;
    let url = normalize_url(&new.remote_url).map_err(|m| AppError::invalid("remote_url", m))?;
    let local: Option<(String, i64)> = sqlx::query_as(
        "SELECT w.name, (SELECT count(*) FROM dossier_watch_lists m WHERE m.watch_list_id = w.id)
         FROM watch_lists w WHERE w.id = $1",
    )
    .bind(new.local_list)
    .fetch_optional(pool)
    .await?;
    let (name, count) = local.ok_or_else(|| {
        AppError::invalid(
            "slave_dossier_list",
            format!("watch list {} does not exist here", new.local_list),
        )
    })?;
    if let Some(existing) = super::guard::replica_of(pool, new.local_list).await? {
        return Err(AppError::conflict(
            "slave_dossier_list",
            format!(
                "watch list {} ({name:?}) is already {existing}",
                new.local_list
            ),
        ));
    }
    if count > 0 {
        return Err(AppError::conflict(
            "slave_dossier_list",
            format!(
                "watch list {} ({name:?}) holds {count} dossier(s); a replica needs an empty list, so the sync is cancelled",
                new.local_list
            ),
        ));
    }
    let client = LeaderClient::new(&url, &state.settings.sync.token, Duration::from_secs(10))
        .map_err(|e| AppError::invalid("remote_url", e.to_string()))?;
    let info = client
        .info()
        .await
        .map_err(|e| AppError::invalid("remote_url", e.to_string()))?;
    check_model(&info, &state.settings.face_model)
        .map_err(|e| AppError::invalid("remote_url", e.to_string()))?;
    let lists = client
        .lists()
        .await
        .map_err(|e| AppError::invalid("remote_url", e.to_string()))?;
    if !lists.iter().any(|l| l.id == new.remote_list) {
        return Err(AppError::invalid(
            "remote_dossier_list",
            format!("the Leader at {url} has no watch list {}", new.remote_list),
        ));
    }
    let next_run = if state.settings.sync.at_creation {
        Some(Utc::now())
    } else {
        state.settings.sync.next_run(Utc::now())
    };
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO replicas (watch_list_id, remote_url, remote_list_id, next_run_at)
         VALUES ($1, $2, $3, $4) RETURNING id",
    )
    .bind(new.local_list)
    .bind(&url)
    .bind(new.remote_list)
    .bind(next_run)
    .fetch_one(pool)
    .await
    .map_err(
        |e| match e.as_database_error().and_then(|d| d.constraint()) {
            Some("replicas_watch_list_id_key") => AppError::conflict(
                "slave_dossier_list",
                format!("watch list {} is already a replica", new.local_list),
            ),
            _ => e.into(),
        },
    )?;
    if state.settings.sync.at_creation {
        super::scheduler::wake();
    }
    replica(pool, id).await
}

pub fn check_model(info: &LeaderInfo, local: &str) -> Result<(), SyncError> {
    if info.face_model != local {
        return Err(SyncError::ModelMismatch {
            leader: info.face_model.clone(),
            local: local.to_string(),
        });
    }
    Ok(())
}

/// Cancels a replica: the local list keeps its dossiers and becomes editable again.
pub async fn cancel(pool: &PgPool, id: i64) -> AppResult<()> {
    let deleted = sqlx::query("DELETE FROM replicas WHERE id = $1")
        .bind(id)
        .execute(pool)
        .await?;
    if deleted.rows_affected() == 0 {
        return Err(AppError::not_found(format!("replica {id} does not exist")));
    }
    Ok(())
}

/// Asks for a run as soon as possible.
pub async fn sync_now(pool: &PgPool, id: i64) -> AppResult<Replica> {
    let updated = sqlx::query("UPDATE replicas SET next_run_at = now() WHERE id = $1")
        .bind(id)
        .execute(pool)
        .await?;
    if updated.rows_affected() == 0 {
        return Err(AppError::not_found(format!("replica {id} does not exist")));
    }
    super::scheduler::wake();
    replica(pool, id).await
}

// ---------------------------------------------------------------------------------------------
// A run

#[derive(Clone, sqlx::FromRow)]
struct ReplicaRow {
    id: i64,
    watch_list_id: i64,
    remote_url: String,
    remote_list_id: i64,
    cursor: i64,
    run_id: Option<i64>,
    run_until: Option<i64>,
    run_after: i64,
    run_full: bool,
    /// When the replica last matched the Leader's digest.
    verified_at: Option<DateTime<Utc>>,
}

async fn load(pool: &PgPool, id: i64) -> Result<ReplicaRow, SyncError> {
    sqlx::query_as(
        "SELECT id, watch_list_id, remote_url, remote_list_id, cursor, run_id, run_until,
                run_after, run_full, verified_at
         FROM replicas WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(pool)
    .await?
    .ok_or_else(|| AppError::not_found(format!("replica {id} does not exist")).into())
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunOutcome {
    /// Another process is running this replica.
    Busy,
    /// Completed; the replica matches the Leader's digest (or the Leader moved on meanwhile).
    Done { cursor: i64 },
    /// Completed, but the digests differ: a full resync is scheduled at once.
    Diverged { cursor: i64 },
}

/// Runs one replica to completion, unless another process holds it. The claim is a session
/// advisory lock on a connection of its own: if this process dies, the connection closes and
/// the claim is gone with it.
pub async fn run(state: &AppState, id: i64) -> Result<RunOutcome, SyncError> {
    let mut claim = state.pool.acquire().await?.detach();
    let claimed: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock(7415, $1::int)")
        .bind(id as i32)
        .fetch_one(&mut claim)
        .await?;
    if !claimed {
        return Ok(RunOutcome::Busy);
    }
    // With the claim held, a run of this replica still marked running belongs to a process that
    // died; the startup sweep misses it when the dead process's connection outlives that sweep.
    sqlx::query(
        "UPDATE sync_runs SET outcome = 'interrupted', finished_at = now()
         WHERE replica_id = $1 AND outcome = 'running'",
    )
    .bind(id)
    .execute(&state.pool)
    .await?;
    let attempt: i64 = {
        let row = load(&state.pool, id).await?;
        sqlx::query_scalar(
            "INSERT INTO sync_runs (replica_id, full_resync, cursor_from) VALUES ($1, $2, $3) RETURNING id",
        )
        .bind(id)
        .bind(row.run_full || row.cursor == 0)
        .bind(row.cursor)
        .fetch_one(&state.pool)
        .await?
    };
    let result = run_claimed(state, id, attempt).await;
    if let Err(error) = &result {
        record_failure(state, id, attempt, error).await?;
    }
    // Closing the connection releases the claim.
    drop(claim);
    result
}

async fn run_claimed(state: &AppState, id: i64, attempt: i64) -> Result<RunOutcome, SyncError> {
    let pool = &state.pool;
    let mut replica = load(pool, id).await?;
    let client = LeaderClient::new(
        &replica.remote_url,
        &state.settings.sync.token,
        state.settings.sync.request_timeout,
    )?;
    let info = client.info().await?;
    check_model(&info, &state.settings.face_model)?;

    if replica.run_id.is_none() {
        // A new run: full when nothing has been synced yet (or a resync was asked for).
        let full = replica.cursor == 0;
        sqlx::query(
            "UPDATE replicas SET run_id = $2, run_full = $3, run_until = NULL, run_after = 0,
                 items_done = 0, items_total = NULL, photos_done = 0
             WHERE id = $1",
        )
        .bind(id)
        .bind(attempt)
        .bind(full)
        .execute(pool)
        .await?;
        replica = load(pool, id).await?;
    }
    sqlx::query("UPDATE replicas SET state = 'running' WHERE id = $1")
        .bind(id)
        .execute(pool)
        .await?;
    let run_id = replica.run_id.unwrap_or(attempt);

    // The next page (and its images) is fetched while the current one is applied, so the
    // Leader, the network and this database work at the same time.
    let mut prefetched: Option<Prefetch> = None;
    loop {
        let since = if replica.run_full { 0 } else { replica.cursor };
        let fetched = match prefetched.take() {
            Some(next) => next.result().await,
            None => fetch_page(pool, &client, &replica, since).await,
        };
        let (page, images) = match fetched {
            Err(SyncError::CursorTooOld(_)) if !replica.run_full => {
                tracing::warn!(replica = id, cursor = since, "cursor too old; full resync");
                sqlx::query(
                    "UPDATE replicas SET run_full = TRUE, run_until = NULL, run_after = 0 WHERE id = $1",
                )
                .bind(id)
                .execute(pool)
                .await?;
                sqlx::query("UPDATE sync_runs SET full_resync = TRUE WHERE id = $1")
                    .bind(attempt)
                    .execute(pool)
                    .await?;
                replica = load(pool, id).await?;
                continue;
            }
            other => other?,
        };
        if replica.run_until.is_none() {
            sqlx::query("UPDATE replicas SET run_until = $2, items_total = $3 WHERE id = $1")
                .bind(id)
                .bind(page.until)
                .bind(page.total)
                .execute(pool)
                .await?;
            replica.run_until = Some(page.until);
        }
        if let Some(next_after) = page.next_after {
            let next = ReplicaRow {
                run_after: next_after,
                ..replica.clone()
            };
            let (pool, client) = (pool.clone(), client.clone());
            prefetched = Some(Prefetch(tokio::spawn(async move {
                fetch_page(&pool, &client, &next, since).await
            })));
        }
        let mut tx = pool.begin().await?;
        let photos = images.len() as i64;
        insert_images(&mut tx, &images.iter().map(|i| &i.0).collect::<Vec<_>>()).await?;
        let (upserts, removals) = apply_page(&mut tx, &replica, run_id, &page).await?;
        let after = page.next_after.unwrap_or_else(|| {
            page.upserts
                .iter()
                .map(|d| d.id)
                .chain(page.removals.iter().copied())
                .max()
                .unwrap_or(replica.run_after)
        });
        sqlx::query(
            "UPDATE replicas SET run_after = $2, items_done = items_done + $3, photos_done = photos_done + $4
             WHERE id = $1",
        )
        .bind(id)
        .bind(after)
        .bind(upserts + removals)
        .bind(photos)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE sync_runs SET dossiers = dossiers + $2, removals = removals + $3, photos = photos + $4
             WHERE id = $1",
        )
        .bind(attempt)
        .bind(upserts)
        .bind(removals)
        .bind(photos)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        replica.run_after = after;
        if page.next_after.is_none() {
            break;
        }
    }

    let cursor = replica.run_until.unwrap_or(replica.cursor);
    let mut tx = pool.begin().await?;
    if replica.run_full {
        let swept = sweep_unseen(&mut tx, &replica, run_id).await?;
        sqlx::query("UPDATE sync_runs SET removals = removals + $2 WHERE id = $1")
            .bind(attempt)
            .bind(swept)
            .execute(&mut *tx)
            .await?;
    }
    sqlx::query(
        "UPDATE replicas SET cursor = $2, run_id = NULL, run_until = NULL, run_after = 0,
             run_full = FALSE, state = 'idle', last_success_at = now(), last_error = NULL,
             failures = 0, next_run_at = $3
         WHERE id = $1",
    )
    .bind(id)
    .bind(cursor)
    .bind(state.settings.sync.next_run(Utc::now()))
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "UPDATE sync_runs SET outcome = 'success', finished_at = now(), cursor_to = $2 WHERE id = $1",
    )
    .bind(attempt)
    .bind(cursor)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;

    // Verification reads the whole list on both sides: after a full resync, and otherwise
    // once a day, so that an incremental run costs what changed, not what the list holds.
    let due = replica.run_full
        || replica
            .verified_at
            .is_none_or(|at| Utc::now() - at > chrono::Duration::hours(VERIFY_EVERY_HOURS));
    if !due {
        return Ok(RunOutcome::Done { cursor });
    }
    // The Leader's digest is comparable only if nothing changed there since our watermark.
    // Both sides compute at once: each reads the whole list.
    let (remote, local) = tokio::join!(
        client.digest(replica.remote_list_id),
        local_digest(pool, &replica)
    );
    let remote = remote?;
    if remote.until == cursor {
        let local = local?;
        if local.dossiers != remote.dossiers || local.digest != remote.digest {
            let message = format!(
                "divergence after the run: the Leader has {} dossier(s) (digest {}), this replica {} (digest {}); a full resync follows",
                remote.dossiers, remote.digest, local.dossiers, local.digest
            );
            tracing::warn!(replica = id, "{message}");
            sqlx::query(
                "UPDATE replicas SET cursor = 0, last_error = $2, last_error_at = now(), next_run_at = now()
                 WHERE id = $1",
            )
            .bind(id)
            .bind(&message)
            .execute(pool)
            .await?;
            sqlx::query("UPDATE sync_runs SET error = $2 WHERE id = $1")
                .bind(attempt)
                .bind(&message)
                .execute(pool)
                .await?;
            super::scheduler::wake();
            return Ok(RunOutcome::Diverged { cursor });
        }
        sqlx::query("UPDATE replicas SET verified_at = now() WHERE id = $1")
            .bind(id)
            .execute(pool)
            .await?;
    }
    Ok(RunOutcome::Done { cursor })
}

/// After a failure: say what happened, keep the run's progress for the resume, and try again
/// after a backoff that doubles with each failure (30 s … 1 h).
async fn record_failure(
    state: &AppState,
    id: i64,
    attempt: i64,
    error: &SyncError,
) -> Result<(), SyncError> {
    let message = error.to_string();
    tracing::warn!(replica = id, error = %message, "replication run failed");
    let failures: Option<i32> = sqlx::query_scalar(
        "UPDATE replicas SET state = 'failed', last_error = $2, last_error_at = now(),
             failures = failures + 1
         WHERE id = $1 RETURNING failures",
    )
    .bind(id)
    .bind(&message)
    .fetch_optional(&state.pool)
    .await?;
    let next = Utc::now() + backoff(failures.unwrap_or(1));
    sqlx::query("UPDATE replicas SET next_run_at = $2 WHERE id = $1")
        .bind(id)
        .bind(next)
        .execute(&state.pool)
        .await?;
    sqlx::query(
        "UPDATE sync_runs SET outcome = 'failed', finished_at = now(), error = $2 WHERE id = $1",
    )
    .bind(attempt)
    .bind(&message)
    .execute(&state.pool)
    .await?;
    Ok(())
}

pub fn backoff(failures: i32) -> chrono::Duration {
    let seconds = 30i64 << failures.clamp(1, 8).saturating_sub(1);
    chrono::Duration::seconds(seconds.min(3600))
}

/// One page of changes after `replica.run_after`, with the images this database lacks.
async fn fetch_page(
    pool: &PgPool,
    client: &LeaderClient,
    replica: &ReplicaRow,
    since: i64,
) -> Result<(ChangePage, Vec<ImageRecord>), SyncError> {
    let page = client
        .changes(
            replica.remote_list_id,
            since,
            replica.run_until,
            replica.run_after,
        )
        .await?;
    let images = fetch_missing_images(pool, client, &page).await?;
    Ok((page, images))
}

/// A page being fetched in the background; dropped (a failed run), it stops fetching.
struct Prefetch(tokio::task::JoinHandle<Result<(ChangePage, Vec<ImageRecord>), SyncError>>);

impl Prefetch {
    async fn result(mut self) -> Result<(ChangePage, Vec<ImageRecord>), SyncError> {
        (&mut self.0).await.map_err(|e| {
            SyncError::Local(AppError::Internal {
                message: format!("fetching a page stopped: {e}"),
            })
        })?
    }
}

impl Drop for Prefetch {
    fn drop(&mut self) {
        self.0.abort();
    }
}

async fn fetch_missing_images(
    pool: &PgPool,
    client: &LeaderClient,
    page: &ChangePage,
) -> Result<Vec<ImageRecord>, SyncError> {
    let mut wanted: Vec<Vec<u8>> = page
        .upserts
        .iter()
        .flat_map(|d| d.photos.iter())
        .filter_map(|p| hex::decode(&p.sha256).ok())
        .collect();
    wanted.sort();
    wanted.dedup();
    let missing: Vec<String> = sqlx::query_scalar(
        "SELECT encode(h, 'hex') FROM UNNEST($1::bytea[]) AS h
         WHERE NOT EXISTS (SELECT 1 FROM images i WHERE i.sha256 = h)",
    )
    .bind(&wanted)
    .fetch_all(pool)
    .await?;
    let mut images = Vec::new();
    for batch in missing.chunks(IMAGE_BATCH) {
        let got = client.images(batch).await?;
        if got.len() != batch.len() {
            return Err(SyncError::Leader {
                status: 200,
                message: format!("asked for {} image(s), got {}", batch.len(), got.len()),
            });
        }
        images.extend(got);
    }
    Ok(images)
}

/// Applies one page in the caller's transaction, a few statements for the whole page.
async fn apply_page(
    tx: &mut Transaction<'_, Postgres>,
    replica: &ReplicaRow,
    run_id: i64,
    page: &ChangePage,
) -> Result<(i64, i64), SyncError> {
    let url = &replica.remote_url;
    if !page.upserts.is_empty() {
        let ids: Vec<i64> = page.upserts.iter().map(|d| d.id).collect();
        let names: Vec<&str> = page.upserts.iter().map(|d| d.name.as_str()).collect();
        let comments: Vec<&str> = page.upserts.iter().map(|d| d.comment.as_str()).collect();
        let actives: Vec<bool> = page.upserts.iter().map(|d| d.active).collect();
        let metas: Vec<serde_json::Value> = page.upserts.iter().map(|d| d.meta.clone()).collect();
        // Known dossiers: changed fields only (an unchanged row is not rewritten).
        sqlx::query(
            "UPDATE dossiers d SET name = i.name, comment = i.comment, active = i.active, meta = i.meta
             FROM UNNEST($2::bigint[], $3::text[], $4::text[], $5::bool[], $6::jsonb[])
                  AS i(remote_id, name, comment, active, meta)
             JOIN remote_dossiers r ON r.remote_url = $1 AND r.remote_id = i.remote_id
             WHERE d.id = r.dossier_id
               AND (d.name, d.comment, d.active, d.meta) IS DISTINCT FROM (i.name, i.comment, i.active, i.meta)",
        )
        .bind(url)
        .bind(&ids)
        .bind(&names)
        .bind(&comments)
        .bind(&actives)
        .bind(&metas)
        .execute(&mut **tx)
        .await?;
        // New dossiers: ids drawn first, so the mapping can be written in the same statement.
        sqlx::query(
            "WITH missing AS MATERIALIZED (
                SELECT i.*, nextval(pg_get_serial_sequence('dossiers', 'id')) AS new_id
                FROM UNNEST($2::bigint[], $3::text[], $4::text[], $5::bool[], $6::jsonb[])
                     AS i(remote_id, name, comment, active, meta)
                WHERE NOT EXISTS (SELECT 1 FROM remote_dossiers r
                                  WHERE r.remote_url = $1 AND r.remote_id = i.remote_id)
             ), inserted AS (
                INSERT INTO dossiers (id, name, comment, active, meta) OVERRIDING SYSTEM VALUE
                SELECT new_id, name, comment, active, meta FROM missing
                RETURNING id
             )
             INSERT INTO remote_dossiers (remote_url, remote_id, dossier_id)
             SELECT $1, m.remote_id, m.new_id FROM missing m JOIN inserted i ON i.id = m.new_id",
        )
        .bind(url)
        .bind(&ids)
        .bind(&names)
        .bind(&comments)
        .bind(&actives)
        .bind(&metas)
        .execute(&mut **tx)
        .await?;
        if replica.run_full {
            sqlx::query(
                "INSERT INTO replica_seen (replica_id, dossier_id, run_id)
                 SELECT $3, r.dossier_id, $4 FROM remote_dossiers r
                 WHERE r.remote_url = $1 AND r.remote_id = ANY($2)
                 ON CONFLICT (replica_id, dossier_id) DO UPDATE SET run_id = EXCLUDED.run_id",
            )
            .bind(url)
            .bind(&ids)
            .bind(replica.id)
            .bind(run_id)
            .execute(&mut **tx)
            .await?;
        }
        sqlx::query(
            "INSERT INTO dossier_watch_lists (watch_list_id, dossier_id)
             SELECT $3, r.dossier_id FROM remote_dossiers r
             WHERE r.remote_url = $1 AND r.remote_id = ANY($2)
             ON CONFLICT DO NOTHING",
        )
        .bind(url)
        .bind(&ids)
        .bind(replica.watch_list_id)
        .execute(&mut **tx)
        .await?;
        replace_photos(tx, url, page).await?;
    }
    let removed = if page.removals.is_empty() {
        0
    } else {
        let local: Vec<i64> = sqlx::query_scalar(
            "SELECT dossier_id FROM remote_dossiers WHERE remote_url = $1 AND remote_id = ANY($2)",
        )
        .bind(url)
        .bind(&page.removals)
        .fetch_all(&mut **tx)
        .await?;
        remove_from_list(tx, replica.watch_list_id, &local).await?
    };
    Ok((page.upserts.len() as i64, removed))
}

/// Makes the photos of the page's dossiers exactly the Leader's, in the Leader's order, when
/// they differ; unchanged photo sets are left alone.
async fn replace_photos(
    tx: &mut Transaction<'_, Postgres>,
    url: &str,
    page: &ChangePage,
) -> Result<(), SyncError> {
    let mut owners = Vec::new();
    let mut shas = Vec::new();
    let mut models = Vec::new();
    // All vectors of the page in one array; photo i's is `vectors[offsets[i]..][..lengths[i]]`.
    let mut vectors: Vec<f32> = Vec::new();
    let mut offsets: Vec<i32> = Vec::new();
    let mut lengths: Vec<Option<i32>> = Vec::new();
    for d in &page.upserts {
        for p in &d.photos {
            owners.push(d.id);
            shas.push(hex::decode(&p.sha256).map_err(|_| SyncError::Leader {
                status: 200,
                message: format!("photo hash {:?} of dossier {} is not hex", p.sha256, d.id),
            })?);
            models.push(p.face_model.clone());
            offsets.push(vectors.len() as i32);
            match &p.face_vector {
                None => lengths.push(None),
                Some(text) => {
                    let vector = super::decode_vector(text).ok_or_else(|| SyncError::Leader {
                        status: 200,
                        message: format!(
                            "the vector of photo {} of dossier {} is not base64 float32s",
                            p.sha256, d.id
                        ),
                    })?;
                    lengths.push(Some(vector.len() as i32));
                    vectors.extend(vector);
                }
            }
        }
    }
    let ids: Vec<i64> = page.upserts.iter().map(|d| d.id).collect();
    // The photo sets on both sides, vectors compared in binary; only dossiers whose set
    // differs are rewritten.
    let changed: Vec<i64> = sqlx::query_scalar(
        "WITH wanted AS (
            SELECT t.remote_id, string_agg(encode(t.sha, 'hex') || ':' || coalesce(t.model, '') || ':'
                       || coalesce(md5(array_send(($7::real[])[t.off + 1 : t.off + t.len])), ''),
                       ',' ORDER BY t.ord) AS photos
            FROM UNNEST($3::bigint[], $4::bytea[], $5::text[], $6::int[], $8::int[]) WITH ORDINALITY
                 AS t(remote_id, sha, model, off, len, ord)
            GROUP BY t.remote_id
         )
         SELECT r.dossier_id FROM UNNEST($2::bigint[]) AS i(remote_id)
         JOIN remote_dossiers r ON r.remote_url = $1 AND r.remote_id = i.remote_id
         LEFT JOIN wanted w ON w.remote_id = i.remote_id
         WHERE coalesce(w.photos, '') IS DISTINCT FROM coalesce((
            SELECT string_agg(encode(p.image_sha256, 'hex') || ':' || coalesce(p.face_model, '') || ':'
                       || coalesce(md5(array_send(p.face_vector)), ''), ',' ORDER BY p.id)
            FROM photos p WHERE p.dossier_id = r.dossier_id), '')",
    )
    .bind(url)
    .bind(&ids)
    .bind(&owners)
    .bind(&shas)
    .bind(&models)
    .bind(&offsets)
    .bind(&vectors)
    .bind(&lengths)
    .fetch_all(&mut **tx)
    .await?;
    if changed.is_empty() {
        return Ok(());
    }
    let old: Vec<Vec<u8>> =
        sqlx::query_scalar("DELETE FROM photos WHERE dossier_id = ANY($1) RETURNING image_sha256")
            .bind(&changed)
            .fetch_all(&mut **tx)
            .await?;
    sqlx::query(
        "INSERT INTO photos (dossier_id, image_sha256, face_model, face_vector)
         SELECT r.dossier_id, t.sha, t.model, ($6::real[])[t.off + 1 : t.off + t.len]
         FROM UNNEST($2::bigint[], $3::bytea[], $4::text[], $5::int[], $7::int[]) WITH ORDINALITY
              AS t(remote_id, sha, model, off, len, ord)
         JOIN remote_dossiers r ON r.remote_url = $1 AND r.remote_id = t.remote_id
         WHERE r.dossier_id = ANY($8)
         ORDER BY t.ord",
    )
    .bind(url)
    .bind(&owners)
    .bind(&shas)
    .bind(&models)
    .bind(&offsets)
    .bind(&vectors)
    .bind(&lengths)
    .bind(&changed)
    .execute(&mut **tx)
    .await?;
    delete_unused_images(tx, &old).await?;
    Ok(())
}

/// Takes local dossiers out of a replicated list; those left in no list are deleted.
async fn remove_from_list(
    tx: &mut Transaction<'_, Postgres>,
    list: i64,
    dossiers: &[i64],
) -> Result<i64, SyncError> {
    let removed = sqlx::query(
        "DELETE FROM dossier_watch_lists WHERE watch_list_id = $1 AND dossier_id = ANY($2)",
    )
    .bind(list)
    .bind(dossiers)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    let images: Vec<Vec<u8>> = sqlx::query_scalar(
        "SELECT p.image_sha256 FROM photos p WHERE p.dossier_id = ANY($1)
           AND NOT EXISTS (SELECT 1 FROM dossier_watch_lists m WHERE m.dossier_id = p.dossier_id)",
    )
    .bind(dossiers)
    .fetch_all(&mut **tx)
    .await?;
    sqlx::query(
        "DELETE FROM dossiers d WHERE d.id = ANY($1)
           AND NOT EXISTS (SELECT 1 FROM dossier_watch_lists m WHERE m.dossier_id = d.id)",
    )
    .bind(dossiers)
    .execute(&mut **tx)
    .await?;
    delete_unused_images(tx, &images).await?;
    Ok(removed as i64)
}

/// The end of a full resync: whatever the list holds that this run did not see is gone on the
/// Leader.
async fn sweep_unseen(
    tx: &mut Transaction<'_, Postgres>,
    replica: &ReplicaRow,
    run_id: i64,
) -> Result<i64, SyncError> {
    let unseen: Vec<i64> = sqlx::query_scalar(
        "SELECT m.dossier_id FROM dossier_watch_lists m
         WHERE m.watch_list_id = $1 AND NOT EXISTS (
            SELECT 1 FROM replica_seen s
            WHERE s.replica_id = $2 AND s.dossier_id = m.dossier_id AND s.run_id = $3)",
    )
    .bind(replica.watch_list_id)
    .bind(replica.id)
    .bind(run_id)
    .fetch_all(&mut **tx)
    .await?;
    sqlx::query("DELETE FROM replica_seen WHERE replica_id = $1")
        .bind(replica.id)
        .execute(&mut **tx)
        .await?;
    if unseen.is_empty() {
        return Ok(0);
    }
    remove_from_list(tx, replica.watch_list_id, &unseen).await
}

async fn local_digest(pool: &PgPool, replica: &ReplicaRow) -> Result<ListDigest, SyncError> {
    let (dossiers, digest): (i64, String) = sqlx::query_as(&super::leader::digest_sql(
        "FROM dossiers d JOIN dossier_watch_lists m ON m.dossier_id = d.id
         JOIN remote_dossiers r ON r.dossier_id = d.id AND r.remote_url = $2
         WHERE m.watch_list_id = $1",
        "r.remote_id",
    ))
    .bind(replica.watch_list_id)
    .bind(&replica.remote_url)
    .fetch_one(pool)
    .await?;
    Ok(ListDigest {
        until: replica.cursor,
        dossiers,
        digest,
    })
}

/// Marks runs that were in progress when this process stopped, so the history does not show
/// them running forever. Their replicas resume from their recorded progress.
pub async fn close_interrupted_runs(pool: &PgPool) -> AppResult<()> {
    // Only runs no live process holds: a run's claim is an advisory lock.
    sqlx::query(
        "UPDATE sync_runs s SET outcome = 'interrupted', finished_at = now()
         WHERE s.outcome = 'running' AND NOT EXISTS (
            SELECT 1 FROM pg_locks l
            WHERE l.locktype = 'advisory' AND l.classid = 7415 AND l.objid = s.replica_id::oid)",
    )
    .execute(pool)
    .await?;
    Ok(())
}
