//! How this installation replicates: the `SYNC_*` settings.

use super::schedule::{SyncSchedule, DEFAULT_SCHEDULE};
use super::SyncToken;
use crate::settings::{Bounded, Share};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer};
use std::time::Duration;

#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct SyncSettings {
    /// Shared secret of the Leader and its Subscribers, at least 16 characters; never logged
    /// or shown. Empty: replication is off.
    #[serde(rename = "SYNC_TOKEN")]
    pub token: SyncToken,
    /// When replicas run: an RFC 5545 RRULE, DTSTART optional (midnight today in the zone).
    #[serde(rename = "SYNC_SCHEDULE")]
    pub schedule: ScheduleRule,
    /// The IANA zone the schedule is read in (daylight-saving changes are followed).
    #[serde(rename = "SYNC_TIMEZONE", deserialize_with = "zone")]
    pub timezone: chrono_tz::Tz,
    /// Sync every replica when the server starts.
    #[serde(rename = "SYNC_AT_STARTUP")]
    pub at_startup: bool,
    /// Sync a replica as soon as it is created.
    #[serde(rename = "SYNC_AT_CREATION")]
    pub at_creation: bool,
    /// Show the replication screens (the API works either way).
    #[serde(rename = "SYNC_WEB_UI")]
    pub web_ui: bool,
    /// Replicas this process runs at once, one at a time per Leader, so that one slow Leader
    /// does not hold back the others.
    #[serde(rename = "SYNC_CONCURRENCY")]
    pub concurrency: Bounded<1, 64>,
    /// The largest share of a replica (of more than [`GUARDED_REPLICA_SIZE`] dossiers) a run
    /// may remove before it is held for an Administrator: a Leader list emptied by mistake
    /// must not empty every site on the next schedule.
    #[serde(rename = "SYNC_MAX_DELETE_RATIO")]
    pub max_delete_ratio: Share,
    /// How long one request to a Leader may take during a run (not a setting: tests shorten it).
    #[serde(skip)]
    pub request_timeout: Duration,
    /// Dossiers per page of changes asked from a Leader. A page has fixed costs (two requests,
    /// a transaction, a dozen statements); a thousand halves them against 500, for about 20 MB
    /// in flight per page. Not a setting: tests use small pages to have many with few dossiers.
    #[serde(skip)]
    pub page_size: i64,
    /// When the settings were read: a schedule without DTSTART starts at midnight of that day,
    /// so that "every other day" counts from the same day for the life of the process.
    #[serde(skip, default = "Utc::now")]
    pub read_at: DateTime<Utc>,
}

/// Replicas up to this size are not guarded: removing most of a handful is ordinary editing.
pub const GUARDED_REPLICA_SIZE: i64 = 100;

impl Default for SyncSettings {
    fn default() -> Self {
        Self {
            token: SyncToken::default(),
            schedule: ScheduleRule(DEFAULT_SCHEDULE.into()),
            timezone: chrono_tz::UTC,
            at_startup: false,
            at_creation: true,
            web_ui: true,
            concurrency: Bounded::new(4),
            max_delete_ratio: Share(0.5),
            request_timeout: Duration::from_secs(30),
            page_size: 1000,
            read_at: Utc::now(),
        }
    }
}

impl SyncSettings {
    /// The schedule, read in its zone.
    pub fn schedule(&self) -> SyncSchedule {
        SyncSchedule::parse(&self.schedule.0, self.timezone, self.read_at).unwrap_or_else(|e| {
            // The rule was checked when it was read; only a zone that moves its midnight out
            // of existence could fail here, and the default schedule is the safe answer.
            tracing::error!(error = %e, "the schedule cannot be read; using the default");
            SyncSchedule::parse(DEFAULT_SCHEDULE, self.timezone, self.read_at)
                .expect("the default schedule parses in every zone")
        })
    }

    /// The next scheduled run after `now`, if the schedule has one.
    pub fn next_run(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.schedule().next_runs(now, 1).into_iter().next()
    }
}

/// An RRULE as written in `SYNC_SCHEDULE`, checked to be one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleRule(pub String);

impl<'de> Deserialize<'de> for ScheduleRule {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        SyncSchedule::parse(&text, chrono_tz::UTC, Utc::now()).map_err(serde::de::Error::custom)?;
        Ok(Self(text.trim().to_string()))
    }
}

fn zone<'de, D: Deserializer<'de>>(deserializer: D) -> Result<chrono_tz::Tz, D::Error> {
    let text = String::deserialize(deserializer)?;
    text.trim().parse().map_err(|_| {
        serde::de::Error::custom(format!(
            "{text:?} is not an IANA time zone such as Europe/Berlin or UTC"
        ))
    })
}
