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
