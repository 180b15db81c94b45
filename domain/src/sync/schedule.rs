//! The replication schedule: an RFC 5545 RRULE (`SYNC_SCHEDULE`) read in a time zone
//! (`SYNC_TIMEZONE`). DTSTART is optional in the setting; without it the rule starts at
//! midnight today in that zone, which is what "every day at 03:00" means to a user.

use chrono::{DateTime, TimeZone, Utc};
use rrule::{RRuleSet, Tz};

pub const DEFAULT_SCHEDULE: &str = "FREQ=DAILY;BYHOUR=3;BYMINUTE=0;BYSECOND=0";

#[derive(Debug, Clone)]
pub struct SyncSchedule {
    text: String,
    rules: RRuleSet,
}

impl SyncSchedule {
    /// Parses the setting's text; the error says what is wrong with it.
    pub fn parse(text: &str, zone: chrono_tz::Tz, now: DateTime<Utc>) -> Result<Self, String> {
        let text = text.trim();
        if text.is_empty() {
            return Err("is empty; give an RRULE such as FREQ=DAILY;BYHOUR=3;BYMINUTE=0".into());
        }
        let mut lines: Vec<String> = text
            .split(['\n', '\r'])
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(|l| {
                if l.to_ascii_uppercase().starts_with("FREQ=") {
                    format!("RRULE:{l}")
                } else {
                    l.to_string()
                }
            })
            .collect();
        if !lines
            .iter()
            .any(|l| l.to_ascii_uppercase().starts_with("RRULE"))
        {
            return Err(format!(
                "{text:?} has no RRULE (expected e.g. FREQ=DAILY;BYHOUR=3)"
            ));
        }
        if !lines
            .iter()
            .any(|l| l.to_ascii_uppercase().starts_with("DTSTART"))
        {
            let midnight = now
                .with_timezone(&zone)
                .date_naive()
                .and_hms_opt(0, 0, 0)
                .expect("midnight exists");
            lines.insert(
                0,
                format!(
                    "DTSTART;TZID={}:{}",
                    zone.name(),
                    midnight.format("%Y%m%dT%H%M%S")
                ),
            );
        }
        let rules: RRuleSet = lines
            .join("\n")
            .parse()
            .map_err(|e| format!("{text:?} is not a valid RRULE: {e}"))?;
        Ok(Self {
            text: text.to_string(),
            rules,
        })
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    /// The next `count` run times strictly after `now` (fewer if the rule ends: UNTIL, COUNT).
    pub fn next_runs(&self, now: DateTime<Utc>, count: u16) -> Vec<DateTime<Utc>> {
        let after = Tz::UTC.from_utc_datetime(&now.naive_utc());
        self.rules
            .clone()
            .after(after)
            .all(count)
            .dates
            .into_iter()
            .filter(|d| d.with_timezone(&Utc) > now)
            .map(|d| d.with_timezone(&Utc))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn default_is_nightly_at_three_in_the_zone() {
        let now = at("2026-11-22T10:00:00Z");
        let s = SyncSchedule::parse(DEFAULT_SCHEDULE, chrono_tz::Europe::Berlin, now).unwrap();
        let runs = s.next_runs(now, 2);
        // 03:00 in Berlin (UTC+1 in November) is 02:00 UTC.
        assert_eq!(
            runs,
            vec![at("2026-11-23T02:00:00Z"), at("2026-11-24T02:00:00Z")]
        );
    }

    #[test]
    fn follows_daylight_saving_changes() {
        // Berlin moves to summer time on 2027-03-28: 03:00 local is 02:00 UTC before, 01:00 after.
        let now = at("2027-03-26T12:00:00Z");
        let s = SyncSchedule::parse(DEFAULT_SCHEDULE, chrono_tz::Europe::Berlin, now).unwrap();
        let runs = s.next_runs(now, 3);
        assert_eq!(
            runs,
            vec![
                at("2027-03-27T02:00:00Z"),
                at("2027-03-28T01:00:00Z"),
                at("2027-03-29T01:00:00Z")
            ]
        );
    }

    #[test]
    fn until_and_count_end_the_schedule() {
        let now = at("2026-11-22T10:00:00Z");
        let until = SyncSchedule::parse(
            "FREQ=DAILY;BYHOUR=3;BYMINUTE=0;BYSECOND=0;UNTIL=20261124T235959Z",
            chrono_tz::UTC,
            now,
        )
        .unwrap();
        assert_eq!(until.next_runs(now, 10).len(), 2);
        let count = SyncSchedule::parse(
            "DTSTART:20261122T000000Z\nRRULE:FREQ=HOURLY;COUNT=3",
            chrono_tz::UTC,
            now,
        )
        .unwrap();
        // The three occurrences are at 00:00, 01:00, 02:00, all before `now`.
        assert!(count.next_runs(now, 10).is_empty());
        let later = Utc.with_ymd_and_hms(2026, 11, 21, 0, 0, 0).unwrap();
        assert_eq!(count.next_runs(later, 10).len(), 3);
    }

    #[test]
    fn invalid_rules_are_refused_with_the_reason() {
        let now = at("2026-11-22T10:00:00Z");
        for bad in ["", "every night", "FREQ=SOMETIMES", "FREQ=DAILY;BYHOUR=25"] {
            let err = SyncSchedule::parse(bad, chrono_tz::UTC, now).unwrap_err();
            assert!(!err.is_empty(), "{bad:?} should be refused");
        }
    }
}
