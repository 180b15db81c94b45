//! The Replication screen (Administrator): replicas with their state, live progress, last
//! success and error, next runs and history; creating one from a Leader's lists; "sync now";
//! cancelling. Hidden with `SYNC_WEB_UI=false` (the `/sync/` API works either way).

mod cancel;
mod page;

pub use cancel::CancelReplicaPage;
pub use page::ReplicationPage;

#[cfg(feature = "ssr")]
use crate::auth::Permission;
use crate::error::AppResult;
#[cfg(feature = "ssr")]
use crate::error::Error;
use chrono::{DateTime, Utc};
use domain::sync::{RemoteList, Replica, ReplicaState, SyncRun};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ReplicaView {
    pub replica: Replica,
    /// The next five times the schedule gives (the replica may also run sooner: "sync now",
    /// a retry after a failure).
    #[serde(deserialize_with = "domain::time::rfc3339_list")]
    pub next_runs: Vec<DateTime<Utc>>,
    pub history: Vec<SyncRun>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ReplicationStatus {
    pub web_ui: bool,
    pub token_set: bool,
    pub schedule: String,
    /// The schedule in words, when the rule is a common one.
    pub schedule_words: Option<String>,
    /// The next times the schedule gives.
    #[serde(deserialize_with = "domain::time::rfc3339_list")]
    pub next_runs: Vec<DateTime<Utc>>,
    pub replicas: Vec<ReplicaView>,
    /// Local lists that could become replicas: empty and not replicas already.
    pub empty_lists: Vec<(i64, String)>,
}

/// The replication page's data: the replicas, their state and last runs, and the lists that
/// may become replicas.
#[server(prefix = "/api", endpoint = "replication/overview", input_derive = (Clone, serde::Serialize, serde::Deserialize, utoipa::ToSchema))]
pub async fn replication_overview() -> AppResult<ReplicationStatus> {
    use engine::sync::replicas;
    let (state, _) = crate::caller::require(Permission::Admin, "manage replication").await?;
    let now = Utc::now();
    let mut histories = replicas::histories(&state.pool, 10).await?;
    let schedule = state.replication.settings.schedule();
    let next_runs = schedule.next_runs(now, 5);
    let views = replicas::replicas(&state.pool)
        .await?
        .into_iter()
        .map(|replica| ReplicaView {
            next_runs: next_runs.clone(),
            history: histories.remove(&replica.id).unwrap_or_default(),
            replica,
        })
        .collect();
    Ok(ReplicationStatus {
        web_ui: state.replication.settings.web_ui,
        token_set: state.replication.settings.token.is_set(),
        schedule: schedule.text().to_string(),
        schedule_words: schedule.in_words(),
        next_runs: schedule.next_runs(now, 3),
        replicas: views,
        empty_lists: replicas::empty_lists(&state.pool).await?,
    })
}

/// The lists a Leader offers, fetched live.
#[server(prefix = "/api", endpoint = "replication/leader-lists", input_derive = (Clone, serde::Serialize, serde::Deserialize, utoipa::ToSchema))]
pub async fn leader_lists(remote_url: String) -> AppResult<Vec<RemoteList>> {
    use engine::sync::{client::normalize_url, replicas};
    let (state, _) = crate::caller::require(Permission::Admin, "manage replication").await?;
    let url = normalize_url(&remote_url).map_err(|m| Error::invalid("remote_url", m))?;
    Ok(replicas::leader_lists(&state.replication, &url).await?)
}

/// Makes an empty local list a replica of a Leader's list (as `POST /sync/dossier-lists/`).
#[server(prefix = "/api", endpoint = "replication/create", input_derive = (Clone, serde::Serialize, serde::Deserialize, utoipa::ToSchema))]
pub async fn create_replica(
    remote_url: String,
    #[server(default)] remote_dossier_list: Option<i64>,
    #[server(default)] slave_dossier_list: Option<i64>,
) -> AppResult<Replica> {
    use engine::sync::replicas::{self, NewReplica};
    let (state, user) = crate::caller::require(Permission::Admin, "manage replication").await?;
    let remote_list = remote_dossier_list
        .ok_or_else(|| Error::invalid("remote_dossier_list", "choose the Leader's list"))?;
    let local_list = slave_dossier_list
        .ok_or_else(|| Error::invalid("slave_dossier_list", "choose an empty local list"))?;
    let new = NewReplica {
        remote_url,
        remote_list,
        local_list,
    };
    let replica = replicas::create(&state.replication, &crate::caller::actor(&user)?, new).await?;
    crate::notice::redirect("/replication", "replica-created");
    Ok(replica)
}

/// Lets a held run go ahead (the new Leader, or the removals, are accepted).
#[server(prefix = "/api", endpoint = "replication/confirm", input_derive = (Clone, serde::Serialize, serde::Deserialize, utoipa::ToSchema))]
pub async fn confirm_replica_hold(id: i64) -> AppResult<Replica> {
    let (state, user) = crate::caller::require(Permission::Admin, "manage replication").await?;
    let actor = crate::caller::actor(&user)?;
    let replica = engine::sync::hold::confirm_hold(&state.replication, &actor, id).await?;
    crate::notice::redirect("/replication", "hold-confirmed");
    Ok(replica)
}

/// Keeps a held replica as it is until its next scheduled run.
#[server(prefix = "/api", endpoint = "replication/reject", input_derive = (Clone, serde::Serialize, serde::Deserialize, utoipa::ToSchema))]
pub async fn reject_replica_hold(id: i64) -> AppResult<Replica> {
    let (state, user) = crate::caller::require(Permission::Admin, "manage replication").await?;
    let actor = crate::caller::actor(&user)?;
    let replica = engine::sync::hold::reject_hold(&state.replication, &actor, id).await?;
    crate::notice::redirect("/replication", "hold-rejected");
    Ok(replica)
}

/// Starts a replica's run now.
#[server(prefix = "/api", endpoint = "replication/sync-now", input_derive = (Clone, serde::Serialize, serde::Deserialize, utoipa::ToSchema))]
pub async fn sync_replica_now(id: i64) -> AppResult<Replica> {
    let (state, user) = crate::caller::require(Permission::Admin, "manage replication").await?;
    let actor = crate::caller::actor(&user)?;
    let replica = engine::sync::replicas::sync_now(&state.replication, &actor, id).await?;
    crate::notice::redirect("/replication", "sync-started");
    Ok(replica)
}

/// How far a replica's current run is: what the progress cell polls while a run goes on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RunProgress {
    pub items_done: i64,
    pub items_total: i64,
    pub photos_done: i64,
    /// Running, or due to start now: the cell keeps polling.
    pub busy: bool,
}

impl From<&Replica> for RunProgress {
    fn from(r: &Replica) -> Self {
        Self {
            items_done: r.items_done,
            items_total: r.items_total.unwrap_or(0).max(r.items_done),
            photos_done: r.photos_done,
            busy: r.state == ReplicaState::Running
                || r.next_run_at.is_some_and(|t| t <= Utc::now()),
        }
    }
}

/// How far a replica's running sync has come.
#[server(prefix = "/api", endpoint = "replication/progress", input_derive = (Clone, serde::Serialize, serde::Deserialize, utoipa::ToSchema))]
pub async fn replica_progress(id: i64) -> AppResult<RunProgress> {
    let (state, _) = crate::caller::require(Permission::Admin, "manage replication").await?;
    let replica = engine::sync::replicas::replica(&state.pool, id).await?;
    Ok(RunProgress::from(&replica))
}

/// Stops replicating a list; the list and its dossiers stay, and become editable.
#[server(prefix = "/api", endpoint = "replication/cancel", input_derive = (Clone, serde::Serialize, serde::Deserialize, utoipa::ToSchema))]
pub async fn cancel_replica(id: i64) -> AppResult<()> {
    let (state, user) = crate::caller::require(Permission::Admin, "manage replication").await?;
    let actor = crate::caller::actor(&user)?;
    engine::sync::replicas::cancel(&state.pool, &actor, id).await?;
    crate::notice::redirect("/replication", "replica-cancelled");
    Ok(())
}
