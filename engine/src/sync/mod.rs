//! Replication of watch lists from a Leader to Subscribers.
//!
//! Outside (what the app and the server see): the Leader's feed (`feed`, over its revision log
//! `history`), the Subscriber's replicas (`replicas`), an Administrator's decision on a held run
//! (`hold`), the scheduler that runs them (`scheduler`, rung through its `Bell`), the read-only
//! policy for replicated lists (`guard`), and [`Replication`], what every operation on a replica
//! is given. Inside, one run is planned, then acted on: `plan` decides every step from the
//! replica's state and what the Leader answered (pure, tested in memory), `run` acts (the
//! `client` asks the Leader, `facts` the database, `fetch` brings pages and missing images
//! ahead, `apply` writes a page, `restore` puts back what was deleted here, `verify` computes
//! the replica's digest), and `state` keeps the run's state and record, loaded and saved in one
//! place. The protocol is pull-only, so a killed run resumes after the last page it committed,
//! and a run ends by moving the cursor to the watermark.

mod apply;
mod bell;
pub mod client;
pub mod error;
mod facts;
pub mod feed;
mod fetch;
pub mod frames;
pub mod guard;
pub mod history;
pub mod hold;
pub mod plan;
pub mod replicas;
pub mod restore;
pub mod run;
pub mod schedule;
pub mod scheduler;
mod settings;
pub mod state;
mod token;
mod verify;

pub use bell::Bell;
pub use settings::{ScheduleRule, SyncSettings, GUARDED_REPLICA_SIZE};
pub use token::SyncToken;

use domain::sync::*;
use sqlx::PgPool;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// Replication as the rest of the engine holds it: what every operation on a replica needs,
/// and nothing of the installation beyond it.
#[derive(Clone)]
pub struct Replication {
    pub pool: PgPool,
    pub settings: Arc<SyncSettings>,
    /// The face model this installation stores: a Leader of another one is refused.
    pub face_model: String,
    /// Rung when a replica becomes due now; the scheduler listens.
    pub bell: Arc<Bell>,
    /// Cancelled when the installation stops: a run ends after the page it is applying.
    pub stop: CancellationToken,
}
