//! Webhooks: where an installation posts the events of lists with `notify`. Each delivery is a
//! JSON body signed with the webhook's secret (`X-Dossier-Signature: sha256=<hex HMAC-SHA256 of
//! the body>`), written in the event's own transaction and sent by a worker of its own
//! ([`sender`]), retried with backoff; the deliveries are the log.

use crate::error::{Error, Result};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The header carrying a delivery's signature.
pub const SIGNATURE_HEADER: &str = "X-Dossier-Signature";
/// Attempts before a delivery is given up as failed.
pub const MAX_ATTEMPTS: i32 = 8;

/// A webhook as the Administrator's page shows it (never its secret).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Webhook {
    pub id: i64,
    pub url: String,
    /// Only events of these lists (empty: every list with `notify`).
    pub watch_lists: Vec<i64>,
    /// Only events of these cameras (empty: every camera).
    pub cameras: Vec<String>,
    pub min_confidence: f32,
    /// Unmatched faces from these cameras are posted too (`face.unknown`); empty: none.
    pub unknown_cameras: Vec<String>,
    pub active: bool,
    pub delivered: i64,
    pub pending: i64,
    pub failed: i64,
}

/// One event sent (or being sent) to one webhook.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Delivery {
    pub id: i64,
    pub event_id: i64,
    /// pending, delivered or failed.
    pub state: String,
    pub attempts: i32,
    /// The receiver's HTTP status at the last attempt, if it answered.
    pub last_status: Option<i32>,
    pub last_error: Option<String>,
    #[serde(deserialize_with = "crate::time::rfc3339")]
    pub created_at: DateTime<Utc>,
    #[serde(default, deserialize_with = "crate::time::rfc3339_option")]
    pub next_attempt_at: Option<DateTime<Utc>>,
}

/// A webhook to add, as typed.
#[derive(Debug, Clone, Default)]
pub struct NewWebhook {
    pub url: String,
    /// Empty: one is made (and shown once).
    pub secret: String,
    pub watch_lists: Vec<i64>,
    pub cameras: Vec<String>,
    pub min_confidence: f32,
    pub unknown_cameras: Vec<String>,
}

/// Camera names as typed (empty ones dropped), each checked; a refusal names `field`.
fn camera_names(field: &str, names: &[String]) -> Result<Vec<String>> {
    names
        .iter()
        .filter(|c| !c.trim().is_empty())
        .map(|c| super::check_camera(c).map_err(|e| Error::invalid(field, e.message())))
        .collect()
}

impl NewWebhook {
    /// The webhook checked: an http(s) URL, a secret of 16–256 characters, cameras named as
    /// cameras are, a confidence from 0 to 1.
    pub fn check(mut self) -> Result<Self> {
        self.url = self.url.trim().to_string();
        let scheme_ok = self.url.starts_with("http://") || self.url.starts_with("https://");
        let host = self
            .url
            .split_once("://")
            .map(|(_, rest)| rest.split(['/', '?', '#']).next().unwrap_or_default())
            .unwrap_or_default();
        if !scheme_ok || host.is_empty() || self.url.chars().any(char::is_whitespace) {
            return Err(Error::invalid("url", "must be an http:// or https:// URL"));
        }
        if self.url.len() > 2048 {
            return Err(Error::invalid("url", "must be at most 2048 characters"));
        }
        let secret_length = self.secret.chars().count();
        if secret_length != 0 && !(16..=256).contains(&secret_length) {
            return Err(Error::invalid(
                "secret",
                "must be 16 to 256 characters (or empty, to have one made)",
            ));
        }
        if self.secret.chars().any(char::is_control) {
            return Err(Error::invalid(
                "secret",
                "must not contain control characters",
            ));
        }
        if !(0.0..=1.0).contains(&self.min_confidence) {
            return Err(Error::invalid("min_confidence", "must be between 0 and 1"));
        }
        self.cameras = camera_names("cameras", &self.cameras)?;
        self.unknown_cameras = camera_names("unknown_cameras", &self.unknown_cameras)?;
        self.watch_lists.sort_unstable();
        self.watch_lists.dedup();
        Ok(self)
    }
}

/// The body posted for one event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Payload {
    /// "face.matched", or "face.unknown" for a face nobody on the lists resembles (from a
    /// camera the webhook names in `unknown_cameras`).
    pub kind: String,
    /// The installation that saw it (`SITE_NAME`).
    pub installation: String,
    pub event: PayloadEvent,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PayloadEvent {
    pub id: i64,
    pub captured_at: String,
    pub camera: String,
    /// The match; none for an unknown face.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confidence: Option<f32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dossier: Option<PayloadRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub watch_list: Option<PayloadRef>,
    pub needs_ack: bool,
    /// Where the face is, relative to the installation's address (logged-in users only).
    pub face: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PayloadRef {
    pub id: i64,
    pub name: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hook(url: &str) -> NewWebhook {
        NewWebhook {
            url: url.into(),
            ..Default::default()
        }
    }

    #[test]
    fn webhooks_are_checked() {
        assert!(hook("https://example.com/hook").check().is_ok());
        assert!(hook(" http://10.0.0.1:9000 ").check().is_ok());
        for bad in ["", "ftp://x", "http://", "https:///path", "http://a b"] {
            assert!(hook(bad).check().is_err(), "{bad:?}");
        }
        let short = NewWebhook {
            secret: "short".into(),
            ..hook("http://x")
        };
        assert!(short.check().is_err());
        let confident = NewWebhook {
            min_confidence: 1.5,
            ..hook("http://x")
        };
        assert!(confident.check().is_err());
        let cameras = NewWebhook {
            cameras: vec!["gate".into(), " ".into()],
            ..hook("http://x")
        };
        assert_eq!(cameras.check().unwrap().cameras, vec!["gate".to_string()]);
        let unknown = NewWebhook {
            unknown_cameras: vec!["yard".into(), "x".repeat(200)],
            ..hook("http://x")
        };
        assert_eq!(
            unknown.check().unwrap_err().field(),
            Some("unknown_cameras")
        );
    }
}
