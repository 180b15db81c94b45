//! Hits flowing up: what a Subscriber sends its Leader (`POST /sync/leader/events`: the events
//! that matched the Leader's lists, and how the site is), what the Leader answers (its
//! acknowledgements of the site's events), and what the pages show of both ends (the Leader's
//! Sites, the Subscriber's backlog per Leader).

use crate::error::{Error, Result};
use crate::monitoring::{check_camera, CLOCK_SKEW_SECONDS};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Events per delivery at most: a site catching up after days away sends many small batches,
/// one at a time, rather than one the Leader must swallow whole.
pub const MAX_BATCH: usize = 100;
/// The largest face picture an event carries.
pub const MAX_FACE_JPEG: usize = 1 << 20;
/// The longest face code an event may carry (`events.face_code`).
pub const MAX_FACE_CODE: usize = 8192;
/// A site that has not reported for this long is flagged as quiet (it reports every
/// [`HEARTBEAT_SECONDS`] when it has nothing to send).
pub const QUIET_SECONDS: i64 = 120;
/// How often a site with nothing to send still reports to its Leader.
pub const HEARTBEAT_SECONDS: i64 = 15;

/// One delivery from a site.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct HitBatch {
    pub site: SiteReport,
    /// The Leader installation the site believes it talks to: another one at this address
    /// refuses the batch (a re-created database is not the Leader the site's lists came from).
    #[serde(default)]
    pub leader_installation: Option<String>,
    /// The Leader's acknowledgements the site has taken so far (see [`HitReceipt::ack_cursor`]).
    #[serde(default)]
    pub ack_cursor: i64,
    pub events: Vec<SiteEvent>,
}

/// How a site describes itself with every delivery.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SiteReport {
    pub installation: String,
    pub name: String,
    pub address: String,
    pub face_model: String,
    pub version: String,
    /// The Leader's lists it replicates.
    pub lists: Vec<SiteList>,
    /// Events it holds for this Leader that still wait once this batch is taken.
    pub backlog: i64,
    #[serde(default, deserialize_with = "crate::time::rfc3339_option")]
    pub oldest_pending_at: Option<DateTime<Utc>>,
}

/// One of the Leader's lists as a site replicates it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SiteList {
    /// The Leader's list id.
    pub list: i64,
    /// The last completed sync at the site.
    #[serde(default, deserialize_with = "crate::time::rfc3339_option")]
    pub last_sync_at: Option<DateTime<Utc>>,
    /// The replica's state there (idle, running, failed, held).
    pub state: String,
}

/// A site's event, with the Leader's own ids for the dossier and the list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SiteEvent {
    /// The site's epoch when the event was made, and the event's id there: its key.
    pub epoch: String,
    pub id: i64,
    #[serde(deserialize_with = "crate::time::rfc3339")]
    pub captured_at: DateTime<Utc>,
    /// When the site stored it: the delivery lag starts here.
    #[serde(deserialize_with = "crate::time::rfc3339")]
    pub received_at: DateTime<Utc>,
    #[serde(default, deserialize_with = "crate::time::rfc3339_option")]
    pub last_seen_at: Option<DateTime<Utc>>,
    pub camera: String,
    #[serde(default, with = "crate::bytes::base64_option")]
    pub face_jpeg: Option<Vec<u8>>,
    /// The face's vector as the site's event keeps it (one signed byte per float), for the
    /// Leader's archive search across its sites.
    #[serde(default, with = "crate::bytes::base64_option")]
    pub face_code: Option<Vec<u8>>,
    #[serde(default)]
    pub quality: Option<f32>,
    pub dossier_id: i64,
    pub dossier_name: String,
    pub watch_list_id: i64,
    pub confidence: f32,
    #[serde(default)]
    pub acknowledged: Option<crate::monitoring::Acknowledgement>,
    /// The site operators' last judgement of the match (none: never judged).
    #[serde(default)]
    pub judged: Option<SiteJudgement>,
}

/// A verdict on a site's match, or its withdrawal (`verdict` none), as it travels up: the
/// later judgement of an event wins on the Leader.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SiteJudgement {
    pub verdict: Option<crate::monitoring::verdicts::Verdict>,
    pub by: String,
    #[serde(deserialize_with = "crate::time::rfc3339")]
    pub at: DateTime<Utc>,
}

/// The Leader's answer to a delivery.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct HitReceipt {
    /// The Leader's installation and epoch: a new epoch means it lost history, and the site
    /// sends again what it had delivered.
    pub installation: String,
    pub epoch: String,
    /// What the Leader calls itself (`SITE_NAME`): acknowledgements made there say it.
    pub name: String,
    /// Of the batch, the events it had not held before.
    pub stored: u64,
    /// Acknowledgements made on the Leader of this site's events, after the batch's cursor.
    pub acks: Vec<SiteAck>,
    /// The cursor to send next time.
    pub ack_cursor: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SiteAck {
    pub epoch: String,
    pub id: i64,
    pub acknowledgement: crate::monitoring::Acknowledgement,
}

/// A Subscriber as its Leader sees it (the Sites page).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Site {
    pub id: i64,
    pub installation: String,
    pub name: String,
    pub address: String,
    pub face_model: String,
    pub version: String,
    pub lists: Vec<SiteListShown>,
    pub backlog: i64,
    #[serde(default, deserialize_with = "crate::time::rfc3339_option")]
    pub oldest_pending_at: Option<DateTime<Utc>>,
    pub lag_seconds: Option<f32>,
    /// Its events held here.
    pub events: i64,
    #[serde(deserialize_with = "crate::time::rfc3339")]
    pub last_contact_at: DateTime<Utc>,
    #[serde(default, deserialize_with = "crate::time::rfc3339_option")]
    pub last_events_at: Option<DateTime<Utc>>,
    /// Not heard from for [`QUIET_SECONDS`].
    pub quiet: bool,
}

/// A list a site replicates, with this Leader's name for it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SiteListShown {
    pub list: i64,
    pub name: Option<String>,
    #[serde(default, deserialize_with = "crate::time::rfc3339_option")]
    pub last_sync_at: Option<DateTime<Utc>>,
    pub state: String,
}

/// What a Subscriber holds for one Leader (its Replication page, `/metrics`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Backlog {
    pub leader_url: String,
    /// Events not yet delivered, and when the oldest of them was queued.
    pub pending: i64,
    #[serde(default, deserialize_with = "crate::time::rfc3339_option")]
    pub oldest_pending_at: Option<DateTime<Utc>>,
    pub delivered: i64,
    /// Pending events that aged out before the Leader took them.
    pub undelivered: i64,
    #[serde(default, deserialize_with = "crate::time::rfc3339_option")]
    pub last_delivery_at: Option<DateTime<Utc>>,
    #[serde(default, deserialize_with = "crate::time::rfc3339_option")]
    pub last_contact_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    /// No replica follows this Leader any more: what is pending is its last delivery.
    pub orphaned: bool,
}

/// A short text field of a site's report: present, at most `max` characters, no control
/// characters.
fn check_text(field: &str, text: &str, max: usize) -> Result<()> {
    if text.trim().is_empty() {
        return Err(Error::invalid(field, "is required"));
    }
    if text.chars().count() > max {
        return Err(Error::invalid(
            field,
            format!("must be at most {max} characters"),
        ));
    }
    if text.chars().any(char::is_control) {
        return Err(Error::invalid(field, "must not contain control characters"));
    }
    Ok(())
}

impl HitBatch {
    /// Every field checked, before anything is stored: a batch is taken whole or not at all.
    pub fn check(&self, now: DateTime<Utc>) -> Result<()> {
        let site = &self.site;
        check_text("site.installation", &site.installation, 64)?;
        check_text("site.name", &site.name, 200)?;
        check_text("site.address", &site.address, 2048)?;
        check_text("site.face_model", &site.face_model, 100)?;
        check_text("site.version", &site.version, 64)?;
        if site.lists.len() > 10_000 {
            return Err(Error::invalid("site.lists", "holds more than 10000 lists"));
        }
        for (i, l) in site.lists.iter().enumerate() {
            check_text(&format!("site.lists[{i}].state"), &l.state, 32)?;
        }
        if site.backlog < 0 || self.ack_cursor < 0 {
            return Err(Error::invalid("site.backlog", "must not be negative"));
        }
        if self.events.len() > MAX_BATCH {
            return Err(Error::invalid(
                "events",
                format!(
                    "holds {} events; a batch holds at most {MAX_BATCH}",
                    self.events.len()
                ),
            ));
        }
        for (i, e) in self.events.iter().enumerate() {
            let at = |f: &str| format!("events[{i}].{f}");
            check_text(&at("epoch"), &e.epoch, 64)?;
            if e.id <= 0 || e.dossier_id <= 0 || e.watch_list_id <= 0 {
                return Err(Error::invalid(&at("id"), "ids must be positive"));
            }
            check_camera(&e.camera)
                .map_err(|err| Error::invalid(&at("camera"), err.to_string()))?;
            check_text(&at("dossier_name"), &e.dossier_name, 500)?;
            if !(0.0..=1.0).contains(&e.confidence) {
                return Err(Error::invalid(&at("confidence"), "must be from 0 to 1"));
            }
            if e.quality.is_some_and(|q| !(0.0..=1.0).contains(&q)) {
                return Err(Error::invalid(&at("quality"), "must be from 0 to 1"));
            }
            if e.captured_at > now + chrono::Duration::seconds(CLOCK_SKEW_SECONDS) {
                return Err(Error::invalid(&at("captured_at"), "is in the future"));
            }
            if let Some(face) = &e.face_jpeg {
                if face.len() > MAX_FACE_JPEG || !face.starts_with(&[0xFF, 0xD8]) {
                    return Err(Error::invalid(
                        &at("face_jpeg"),
                        format!("must be a JPEG of at most {MAX_FACE_JPEG} bytes"),
                    ));
                }
            }
            if e.face_code
                .as_ref()
                .is_some_and(|c| c.is_empty() || c.len() > MAX_FACE_CODE)
            {
                return Err(Error::invalid(
                    &at("face_code"),
                    format!("must be 1 to {MAX_FACE_CODE} bytes"),
                ));
            }
            if let Some(j) = &e.judged {
                check_text(&at("judged.by"), &j.by, 300)?;
            }
            if let Some(a) = &e.acknowledged {
                check_text(&at("acknowledged.by"), &a.by, 300)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch() -> HitBatch {
        let now = Utc::now();
        HitBatch {
            site: SiteReport {
                installation: "site-1".into(),
                name: "Gate".into(),
                address: "http://gate:3000/".into(),
                face_model: "dlib".into(),
                version: "1.0".into(),
                lists: vec![SiteList {
                    list: 1,
                    last_sync_at: None,
                    state: "idle".into(),
                }],
                backlog: 1,
                oldest_pending_at: Some(now),
            },
            leader_installation: None,
            ack_cursor: 0,
            events: vec![SiteEvent {
                epoch: "e".into(),
                id: 7,
                captured_at: now,
                received_at: now,
                last_seen_at: None,
                camera: "door".into(),
                face_jpeg: Some(vec![0xFF, 0xD8, 0xFF]),
                face_code: Some(vec![1, 255, 3]),
                quality: Some(0.5),
                dossier_id: 3,
                dossier_name: "Joe".into(),
                watch_list_id: 1,
                confidence: 0.9,
                acknowledged: None,
                judged: None,
            }],
        }
    }

    #[test]
    fn a_good_batch_passes_and_a_bad_field_is_named() {
        let now = Utc::now();
        assert!(batch().check(now).is_ok());
        let mut b = batch();
        b.events[0].confidence = 1.5;
        assert_eq!(
            b.check(now).unwrap_err().field(),
            Some("events[0].confidence")
        );
        let mut b = batch();
        b.events[0].face_jpeg = Some(b"GIF89a".to_vec());
        assert_eq!(
            b.check(now).unwrap_err().field(),
            Some("events[0].face_jpeg")
        );
        let mut b = batch();
        b.events[0].face_code = Some(Vec::new());
        assert_eq!(
            b.check(now).unwrap_err().field(),
            Some("events[0].face_code")
        );
        let mut b = batch();
        b.site.name = "a\u{7}".into();
        assert_eq!(b.check(now).unwrap_err().field(), Some("site.name"));
        let mut b = batch();
        b.events = vec![b.events[0].clone(); MAX_BATCH + 1];
        assert_eq!(b.check(now).unwrap_err().field(), Some("events"));
        let mut b = batch();
        b.events[0].captured_at = now + chrono::Duration::hours(1);
        assert_eq!(
            b.check(now).unwrap_err().field(),
            Some("events[0].captured_at")
        );
    }

    #[test]
    fn faces_travel_as_base64() {
        let b = batch();
        let text = serde_json::to_string(&b).unwrap();
        assert!(text.contains("\"face_jpeg\":\"/9j/\""), "{text}");
        let back: HitBatch = serde_json::from_str(&text).unwrap();
        assert_eq!(back, b);
    }
}
