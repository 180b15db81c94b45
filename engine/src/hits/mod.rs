//! Hits flow up: a Subscriber's matches on the lists it replicates reach those lists' Leader,
//! exactly once in effect, and acknowledgements travel both ways.
//!
//! On the Subscriber, the `events_queue_hit` trigger (migration `hits_up`) queues each such
//! event in the [`outbox`] in the transaction that writes it, and queues it again when it
//! changes (a better shot, an acknowledgement). The [`delivery`] worker sends each Leader its
//! pending events, oldest first, in bounded batches, continuously, backing off while the Leader
//! is away; each answer brings back the Leader's acknowledgements of the site's events, and its
//! epoch: a Leader restored from an older backup is sent again everything it was sent.
//!
//! On the Leader, [`sites`] takes a batch whole or not at all, stores each event with the site
//! it came from under the key it has there (so a batch sent twice changes nothing), alerts for
//! its lists with `notify`, and keeps what each site said of itself for the Sites page.

pub mod delivery;
pub mod outbox;
pub mod sites;

use crate::sync::SyncToken;
use sqlx::PgPool;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

/// What the delivery of hits needs, and nothing of the installation beyond it.
#[derive(Clone)]
pub struct Hits {
    pub pool: PgPool,
    pub token: SyncToken,
    pub site: Arc<SiteIdentity>,
    /// Rung when an event was queued, so that delivery need not wait its tick.
    pub bell: Arc<Notify>,
    /// Longest wait for a Leader's answer to one batch.
    pub timeout: Duration,
}

/// How this installation describes itself to its Leaders.
#[derive(Debug, Clone)]
pub struct SiteIdentity {
    /// `SITE_NAME`.
    pub name: String,
    /// `EXTERNAL_ADDRESS`.
    pub address: String,
    pub face_model: String,
    pub version: String,
}
