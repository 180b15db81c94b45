//! New events as they happen, for the pages that show them live (server-sent events). A page
//! that falls behind skips what it missed and reloads; nothing here is the record (that is the
//! events table).

use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;

/// What a live page is told of a new event: enough to decide whether to alert.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LiveEvent {
    pub id: i64,
    pub camera: String,
    pub dossier_name: Option<String>,
    pub watch_list_id: Option<i64>,
    pub confidence: Option<f32>,
    pub needs_ack: bool,
    /// The list alerts: the page plays a sound and shows a notification.
    pub notify: bool,
}

/// The installation's stream of new events.
pub struct Live(broadcast::Sender<LiveEvent>);

impl Default for Live {
    fn default() -> Self {
        Self(broadcast::channel(1024).0)
    }
}

impl Live {
    pub fn publish(&self, event: LiveEvent) {
        // No page listening is fine.
        let _ = self.0.send(event);
    }

    pub fn subscribe(&self) -> broadcast::Receiver<LiveEvent> {
        self.0.subscribe()
    }
}

/// Everything monitoring keeps in memory for one server process.
pub struct Monitor {
    pub index: std::sync::Arc<super::index::MatchIndex>,
    pub live: Live,
    pub days: super::partitions::KnownDays,
    /// Rung when deliveries were written, so that the webhook sender need not wait for its tick.
    pub deliveries: tokio::sync::Notify,
}

impl Monitor {
    pub fn new(model: &str, index_dir: Option<std::path::PathBuf>) -> Self {
        Self {
            index: std::sync::Arc::new(super::index::MatchIndex::new(model, index_dir)),
            live: Live::default(),
            days: Default::default(),
            deliveries: tokio::sync::Notify::new(),
        }
    }
}
