//! Monitoring, what the replicas are for: cameras post what they see ([`ingest`]), each face is
//! matched against the active dossiers of the active watch lists ([`matching`], through the
//! nearest-neighbour [`index`]), and the outcome is an event, matched or not ([`store`]). Lists
//! with `acknowledge` wait for an operator; lists with `notify` alert the pages ([`live`]) and
//! the installation's [`webhooks`].

pub mod archive;
pub mod verdicts;
pub mod webhooks;

use crate::error::{Error, Result};
use crate::faces::FaceBox;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// How confident a match must be where its list sets no threshold (`FACE_THRESHOLD`).
pub const DEFAULT_THRESHOLD: f32 = 0.75;
/// Events are kept this many days unless `EVENTS_RETENTION_DAYS` says otherwise.
pub const DEFAULT_RETENTION_DAYS: i32 = 30;
/// A camera's clock may run this far ahead of the server's.
pub const CLOCK_SKEW_SECONDS: i64 = 300;
/// Events per page.
pub const PAGE_SIZE: i64 = 50;
/// Counting what awaits acknowledgement stops here ("100+"): each page counts, and a count
/// of thousands would cost more than the page.
pub const AWAITING_COUNT_CAP: i64 = 100;
/// Longest camera name.
pub const MAX_CAMERA_LENGTH: usize = 128;

/// One face a camera saw, and what it matched.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Event {
    pub id: i64,
    #[serde(deserialize_with = "crate::time::rfc3339")]
    pub captured_at: DateTime<Utc>,
    #[serde(deserialize_with = "crate::time::rfc3339")]
    pub received_at: DateTime<Utc>,
    /// The camera's name: the name of the installation's camera it came from (as that camera
    /// is called now), else the name it was posted with.
    pub camera: String,
    /// The installation's camera it came from, if it is one.
    #[serde(default)]
    pub camera_id: Option<i64>,
    /// When the person was last seen, for an event of a watched camera (it is a whole track:
    /// from `captured_at` to this).
    #[serde(default, deserialize_with = "crate::time::rfc3339_option")]
    pub last_seen_at: Option<DateTime<Utc>>,
    /// The quality (0–1) of the shot kept, for an event of a watched camera.
    #[serde(default)]
    pub quality: Option<f32>,
    /// Where the face was in the posted photo (or the frame); none for posted vectors.
    pub face_box: Option<FaceBox>,
    /// Whether the face was kept as a picture (`/events/{id}/face`).
    pub has_face: bool,
    /// Whether the frame it was seen in was kept (`/events/{id}/frame`).
    #[serde(default)]
    pub has_frame: bool,
    /// Whether the event kept its face's vector, to search the other events with
    /// (`events/similar`).
    #[serde(default)]
    pub searchable: bool,
    /// An operator's verdict on the match.
    #[serde(default)]
    pub verdict: Option<verdicts::Judgement>,
    /// None: nobody on the active lists resembles the face closely enough.
    pub matched: Option<EventMatch>,
    /// The list asked for an operator's acknowledgement.
    pub needs_ack: bool,
    pub acknowledged: Option<Acknowledgement>,
    /// The Subscriber it came from, for a site's event on its Leader; none: seen here.
    #[serde(default)]
    pub site: Option<EventSite>,
}

/// The site an event came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct EventSite {
    pub id: i64,
    pub name: String,
}

/// Whose events the page shows: this installation's own, or one site's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SiteFilter {
    Here,
    Site(i64),
}

impl SiteFilter {
    /// `here`, or a site's id; empty means every site's and this installation's.
    pub fn parse(text: &str) -> Result<Option<Self>> {
        match text.trim() {
            "" => Ok(None),
            "here" => Ok(Some(Self::Here)),
            id => id
                .parse::<i64>()
                .map(|id| Some(Self::Site(id)))
                .map_err(|_| {
                    Error::invalid("site", format!("{id:?} is not a site id (or \"here\")"))
                }),
        }
    }
}

/// The dossier an event's face matched, and the list that made it a match.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct EventMatch {
    pub dossier_id: i64,
    /// As it was when the event was made.
    pub dossier_name: String,
    /// The dossier's photo that resembled the face most (its face picture is
    /// `/photos/{sha256}/face`); none if the photo is gone since.
    pub photo_sha256: Option<String>,
    pub watch_list_id: i64,
    /// The list's name and colour now; none if the list is gone since.
    pub watch_list_name: Option<String>,
    pub color: Option<String>,
    pub confidence: f32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Acknowledgement {
    pub by: String,
    #[serde(deserialize_with = "crate::time::rfc3339")]
    pub at: DateTime<Utc>,
}

/// Which events the page shows.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EventFilter {
    pub camera: Option<String>,
    pub watch_list: Option<i64>,
    /// Some(true): matches only; Some(false): unmatched only.
    pub matched: Option<bool>,
    /// Some(false): awaiting acknowledgement; Some(true): acknowledged.
    pub acknowledged: Option<bool>,
    #[serde(default, deserialize_with = "crate::time::rfc3339_option")]
    pub from: Option<DateTime<Utc>>,
    #[serde(default, deserialize_with = "crate::time::rfc3339_option")]
    pub to: Option<DateTime<Utc>>,
    /// Only this installation's own events, or one site's.
    #[serde(default)]
    pub site: Option<SiteFilter>,
}

impl EventFilter {
    /// The filter as a form or an API caller types it: empty means any. `matched` is `yes` or
    /// `no`; `acknowledged` is `awaiting` or `done`; times are RFC 3339 or a form's
    /// `YYYY-MM-DDTHH:MM` (UTC).
    pub fn parse(
        camera: &str,
        watch_list: &str,
        matched: &str,
        acknowledged: &str,
        from: &str,
        to: &str,
    ) -> Result<Self> {
        let camera = match camera.trim() {
            "" => None,
            c => Some(check_camera(c)?),
        };
        let watch_list = match watch_list.trim() {
            "" => None,
            l => Some(l.parse::<i64>().map_err(|_| {
                Error::invalid("watch_list", format!("{l:?} is not a watch list id"))
            })?),
        };
        let matched = match matched.trim() {
            "" => None,
            "yes" | "true" => Some(true),
            "no" | "false" => Some(false),
            other => {
                return Err(Error::invalid(
                    "matched",
                    format!("{other:?}: expected yes or no"),
                ))
            }
        };
        let acknowledged = match acknowledged.trim() {
            "" => None,
            "awaiting" | "false" => Some(false),
            "done" | "true" => Some(true),
            other => {
                return Err(Error::invalid(
                    "acknowledged",
                    format!("{other:?}: expected awaiting or done"),
                ))
            }
        };
        let (from, to) = (parse_time("from", from)?, parse_time("to", to)?);
        if let (Some(from), Some(to)) = (from, to) {
            if from >= to {
                return Err(Error::invalid("to", "must be after from"));
            }
        }
        Ok(Self {
            camera,
            watch_list,
            matched,
            acknowledged,
            from,
            to,
            site: None,
        })
    }

    /// The filter, of one site's events only (see [`SiteFilter::parse`]).
    pub fn with_site(self, site: &str) -> Result<Self> {
        Ok(Self {
            site: SiteFilter::parse(site)?,
            ..self
        })
    }

    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

fn parse_time(field: &str, text: &str) -> Result<Option<DateTime<Utc>>> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(Some(t.with_timezone(&Utc)));
    }
    ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"]
        .iter()
        .find_map(|f| chrono::NaiveDateTime::parse_from_str(text, f).ok())
        .map(|t| Some(t.and_utc()))
        .ok_or_else(|| {
            Error::invalid(
                field,
                format!("{text:?} is not a time such as 2026-11-24T08:00 (UTC)"),
            )
        })
}

/// Where a page of events starts: after the event captured at `captured_at` with `id`, newest
/// first. Written `<microseconds since 1970>-<id>` in links.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventCursor {
    pub captured_at_micros: i64,
    pub id: i64,
}

impl EventCursor {
    pub fn of(event: &Event) -> Self {
        Self {
            captured_at_micros: event.captured_at.timestamp_micros(),
            id: event.id,
        }
    }

    pub fn parse(text: &str) -> Result<Self> {
        let bad = || Error::invalid("before", format!("{text:?} is not a page of events"));
        let (micros, id) = text.split_once('-').ok_or_else(bad)?;
        Ok(Self {
            captured_at_micros: micros.parse().map_err(|_| bad())?,
            id: id.parse().map_err(|_| bad())?,
        })
    }
}

impl std::fmt::Display for EventCursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}", self.captured_at_micros, self.id)
    }
}

/// A page of events, newest first, and where the next one starts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct EventPage {
    pub events: Vec<Event>,
    pub next: Option<String>,
    /// Events of this filter still awaiting acknowledgement (all pages).
    pub awaiting: i64,
}

/// A camera's name: what the events page filters on.
pub fn check_camera(camera: &str) -> Result<String> {
    let camera = camera.trim();
    if camera.is_empty() {
        return Err(Error::invalid("camera", "is required"));
    }
    if camera.chars().count() > MAX_CAMERA_LENGTH {
        return Err(Error::invalid(
            "camera",
            format!("must be at most {MAX_CAMERA_LENGTH} characters"),
        ));
    }
    if camera.chars().any(char::is_control) {
        return Err(Error::invalid(
            "camera",
            "must not contain control characters",
        ));
    }
    Ok(camera.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_read_back() {
        let c = EventCursor {
            captured_at_micros: 1_764_000_000_123_456,
            id: 42,
        };
        assert_eq!(EventCursor::parse(&c.to_string()).unwrap(), c);
        assert!(EventCursor::parse("42").is_err());
        assert!(EventCursor::parse("x-1").is_err());
    }

    #[test]
    fn filters_are_read_as_typed() {
        let f =
            EventFilter::parse(" gate ", "3", "yes", "awaiting", "2026-11-24T08:00", "").unwrap();
        assert_eq!(f.camera.as_deref(), Some("gate"));
        assert_eq!(
            (f.watch_list, f.matched, f.acknowledged),
            (Some(3), Some(true), Some(false))
        );
        assert_eq!(f.from.unwrap().to_rfc3339(), "2026-11-24T08:00:00+00:00");
        assert!(EventFilter::parse("", "", "", "", "", "")
            .unwrap()
            .is_empty());
        assert!(EventFilter::parse("", "x", "", "", "", "").is_err());
        assert!(EventFilter::parse("", "", "maybe", "", "", "").is_err());
        assert!(EventFilter::parse("", "", "", "", "tomorrow", "").is_err());
        let backwards = EventFilter::parse("", "", "", "", "2026-11-24T09:00", "2026-11-24T08:00");
        assert_eq!(backwards.unwrap_err().field(), Some("to"));
    }

    #[test]
    fn camera_names_are_checked() {
        assert_eq!(check_camera(" gate 1 ").unwrap(), "gate 1");
        assert!(check_camera("").is_err());
        assert!(check_camera("a\u{7}b").is_err());
        assert!(check_camera(&"x".repeat(129)).is_err());
    }
}
