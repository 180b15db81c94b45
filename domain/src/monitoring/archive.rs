//! The event archive searched by face: "where else was this person seen?" A face (an event's
//! own, or one found in a photo) is compared with every kept event's face in a time range and,
//! optionally, one camera or site; the closest above a confidence come first.

use super::{Event, EventFilter, SiteFilter};
use crate::error::{Error, Result};
use crate::faces::FaceBox;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Appearances a search returns unless asked for fewer or more.
pub const DEFAULT_APPEARANCES: usize = 50;
/// The most appearances one search returns.
pub const MAX_APPEARANCES: usize = 500;

/// Where and how an archive search looks.
#[derive(Debug, Clone, PartialEq)]
pub struct ArchiveScope {
    pub camera: Option<String>,
    pub site: Option<SiteFilter>,
    /// None: from the oldest event kept.
    pub from: Option<DateTime<Utc>>,
    /// None: until now.
    pub to: Option<DateTime<Utc>>,
    /// None: the installation's threshold.
    pub min_confidence: Option<f32>,
    pub limit: usize,
}

impl ArchiveScope {
    /// The scope as a form or an API caller types it: empty means any (times as the Events
    /// page takes them, a confidence from 0 to 1, a limit from 1 to [`MAX_APPEARANCES`]).
    pub fn parse(
        camera: &str,
        site: &str,
        from: &str,
        to: &str,
        min_confidence: &str,
        limit: &str,
    ) -> Result<Self> {
        let times = EventFilter::parse(camera, "", "", "", from, to)?;
        let min_confidence = match min_confidence.trim() {
            "" => None,
            c => Some(
                c.parse::<f32>()
                    .ok()
                    .filter(|c| (0.0..=1.0).contains(c))
                    .ok_or_else(|| {
                        Error::invalid(
                            "min_confidence",
                            format!("{c:?}: expected a number from 0 to 1"),
                        )
                    })?,
            ),
        };
        let limit = match limit.trim() {
            "" => DEFAULT_APPEARANCES,
            l => l
                .parse::<usize>()
                .ok()
                .filter(|l| (1..=MAX_APPEARANCES).contains(l))
                .ok_or_else(|| {
                    Error::invalid(
                        "limit",
                        format!("{l:?}: expected a whole number from 1 to {MAX_APPEARANCES}"),
                    )
                })?,
        };
        Ok(Self {
            camera: times.camera,
            site: SiteFilter::parse(site)?,
            from: times.from,
            to: times.to,
            min_confidence,
            limit,
        })
    }
}

/// An event whose face resembles the one searched for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Appearance {
    pub event: Event,
    /// How confident (0–1) it is the same person.
    pub confidence: f32,
}

/// What an archive search found.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ArchiveSearch {
    /// The closest first.
    pub appearances: Vec<Appearance>,
    /// How many events' faces were compared.
    pub compared: u64,
    /// The range searched.
    #[serde(deserialize_with = "crate::time::rfc3339")]
    pub from: DateTime<Utc>,
    #[serde(deserialize_with = "crate::time::rfc3339")]
    pub to: DateTime<Utc>,
    /// The confidence an appearance had to reach.
    pub min_confidence: f32,
    /// Where the face searched for was in the photo (a search by photo).
    #[serde(default)]
    pub face_box: Option<FaceBox>,
    /// How many faces the photo had (the largest was searched for).
    #[serde(default)]
    pub faces_in_photo: usize,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scope_is_read_as_typed_and_refused_with_the_field_named() {
        let s = ArchiveScope::parse(" gate ", "here", "2026-12-01T08:00", "", "0.8", "20").unwrap();
        assert_eq!(s.camera.as_deref(), Some("gate"));
        assert_eq!(s.site, Some(SiteFilter::Here));
        assert_eq!(s.from.unwrap().to_rfc3339(), "2026-12-01T08:00:00+00:00");
        assert_eq!((s.to, s.min_confidence, s.limit), (None, Some(0.8), 20));
        let empty = ArchiveScope::parse("", "", "", "", "", "").unwrap();
        assert_eq!(
            (empty.limit, empty.min_confidence),
            (DEFAULT_APPEARANCES, None)
        );
        for (fields, field) in [
            (["", "", "", "", "1.5", ""], "min_confidence"),
            (["", "", "", "", "", "0"], "limit"),
            (["", "", "", "", "", "501"], "limit"),
            (["", "x", "", "", "", ""], "site"),
            (["", "", "yesterday", "", "", ""], "from"),
            (
                ["", "", "2026-12-02T00:00", "2026-12-01T00:00", "", ""],
                "to",
            ),
        ] {
            let [c, s, f, t, m, l] = fields;
            match ArchiveScope::parse(c, s, f, t, m, l) {
                Err(Error::Invalid { field: got, .. }) => assert_eq!(got, field),
                other => panic!("{fields:?}: {other:?}"),
            }
        }
    }
}
