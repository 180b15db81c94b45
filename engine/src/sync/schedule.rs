//! The replication schedule: an RFC 5545 RRULE (`SYNC_SCHEDULE`) read in a time zone
//! (`SYNC_TIMEZONE`). DTSTART is optional in the setting; without it the rule starts at
//! midnight today in that zone, which is what "every day at 03:00" means to a user.

use chrono::{DateTime, TimeZone, Utc};
use rrule::{Frequency, NWeekday, RRuleSet, Tz};

pub const DEFAULT_SCHEDULE: &str = "FREQ=DAILY;BYHOUR=3;BYMINUTE=0;BYSECOND=0";

#[derive(Debug, Clone)]
pub struct SyncSchedule {
    text: String,
    rules: RRuleSet,
    zone: chrono_tz::Tz,
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
            zone,
        })
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    /// The schedule in words for the common rules ("every day at 03:00 UTC"); `None` for a rule
    /// these words would not say exactly (the page then shows the RRULE alone).
    pub fn in_words(&self) -> Option<String> {
        let [rule] = self.rules.get_rrule().as_slice() else {
            return None;
        };
        if !self.rules.get_exrule().is_empty()
            || !self.rules.get_rdate().is_empty()
            || !rule.get_by_set_pos().is_empty()
            || !rule.get_by_month().is_empty()
            || !rule.get_by_month_day().is_empty()
        {
            return None;
        }
        let n = rule.get_interval();
        let every = |one: &str, many: &str| match n {
            1 => format!("every {one}"),
            _ => format!("every {n} {many}"),
        };
        let times = || clock_times(rule.get_by_hour(), rule.get_by_minute());
        let words = match rule.get_freq() {
            Frequency::Daily if rule.get_by_weekday().is_empty() => {
                format!("{} at {}", every("day", "days"), times()?)
            }
            Frequency::Daily | Frequency::Weekly => {
                let days = weekdays(rule.get_by_weekday())?;
                match (rule.get_freq(), n) {
                    (Frequency::Daily, 1) | (Frequency::Weekly, 1) => {
                        format!("every {days} at {}", times()?)
                    }
                    _ => format!("{} on {days} at {}", every("week", "weeks"), times()?),
                }
            }
            Frequency::Hourly => match rule.get_by_minute() {
                [minute] => format!("{} at :{minute:02}", every("hour", "hours")),
                _ => return None,
            },
            Frequency::Minutely => every("minute", "minutes"),
            _ => return None,
        };
        Some(format!("{words} ({})", self.zone.name()))
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

/// "03:00" or "03:00 and 15:30"; `None` for more than four times of day.
fn clock_times(hours: &[u8], minutes: &[u8]) -> Option<String> {
    let mut times: Vec<String> = hours
        .iter()
        .flat_map(|h| minutes.iter().map(move |m| format!("{h:02}:{m:02}")))
        .collect();
    times.sort();
    if times.is_empty() || times.len() > 4 {
        return None;
    }
    Some(and_list(times))
}

/// "Monday and Thursday"; `None` for "the 2nd Monday" and the like.
fn weekdays(days: &[NWeekday]) -> Option<String> {
    let names = days
        .iter()
        .map(|d| match d {
            NWeekday::Every(day) => Some(
                match day {
                    chrono::Weekday::Mon => "Monday",
                    chrono::Weekday::Tue => "Tuesday",
                    chrono::Weekday::Wed => "Wednesday",
                    chrono::Weekday::Thu => "Thursday",
                    chrono::Weekday::Fri => "Friday",
                    chrono::Weekday::Sat => "Saturday",
                    chrono::Weekday::Sun => "Sunday",
                }
                .to_string(),
            ),
            NWeekday::Nth(..) => None,
        })
        .collect::<Option<Vec<_>>>()?;
    (!names.is_empty()).then(|| and_list(names))
}

fn and_list(mut items: Vec<String>) -> String {
    match items.len() {
        0 | 1 => items.pop().unwrap_or_default(),
        _ => {
            let last = items.pop().unwrap_or_default();
            format!("{} and {last}", items.join(", "))
        }
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
    fn common_rules_read_in_words() {
        let now = at("2026-11-22T10:00:00Z");
        let words = |rule: &str, zone| SyncSchedule::parse(rule, zone, now).unwrap().in_words();
        assert_eq!(
            words(DEFAULT_SCHEDULE, chrono_tz::UTC).as_deref(),
            Some("every day at 03:00 (UTC)")
        );
        assert_eq!(
            words(
                "FREQ=WEEKLY;BYDAY=MO,TH;BYHOUR=22;BYMINUTE=30",
                chrono_tz::Europe::Berlin
            )
            .as_deref(),
            Some("every Monday and Thursday at 22:30 (Europe/Berlin)")
        );
        assert_eq!(
            words("FREQ=HOURLY;INTERVAL=6;BYMINUTE=15", chrono_tz::UTC).as_deref(),
            Some("every 6 hours at :15 (UTC)")
        );
        assert_eq!(
            words("FREQ=MINUTELY;INTERVAL=10", chrono_tz::UTC).as_deref(),
            Some("every 10 minutes (UTC)")
        );
        assert_eq!(
            words("FREQ=DAILY;BYHOUR=3,15;BYMINUTE=0", chrono_tz::UTC).as_deref(),
            Some("every day at 03:00 and 15:00 (UTC)")
        );
        // What the words would not say exactly stays an RRULE.
        assert_eq!(words("FREQ=MONTHLY;BYDAY=2MO", chrono_tz::UTC), None);
        assert_eq!(words("FREQ=YEARLY", chrono_tz::UTC), None);
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
