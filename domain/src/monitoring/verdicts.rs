//! Operators' verdicts on matches, and what a list learns from them: the threshold that would
//! have kept a chosen share of the confirmed matches while rejecting the most false ones.

use crate::error::{Error, Result};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

crate::named_enum! {
    /// What an operator says of a match.
    pub enum Verdict {
        /// It is this person.
        Confirmed = "confirmed",
        /// It is not this person.
        Rejected = "rejected",
    }
}

impl Verdict {
    /// `confirmed`, `rejected`, or empty (the verdict withdrawn).
    pub fn parse_field(text: &str) -> Result<Option<Self>> {
        match text.trim() {
            "" => Ok(None),
            t => t.parse::<Self>().map(Some).map_err(|_| {
                Error::invalid(
                    "verdict",
                    format!("{t:?}: expected confirmed, rejected, or empty to withdraw it"),
                )
            }),
        }
    }
}

/// A verdict as an event shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Judgement {
    pub verdict: Verdict,
    pub by: String,
    #[serde(deserialize_with = "crate::time::rfc3339")]
    pub at: DateTime<Utc>,
}

/// The share of confirmed matches a proposed threshold keeps, unless asked otherwise.
pub const DEFAULT_KEEP: f64 = 0.95;

/// A list's judged matches at its current threshold, and the threshold they suggest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Calibration {
    pub watch_list_id: i64,
    pub watch_list_name: String,
    /// The threshold matches are made at now: the list's, else the installation's.
    pub threshold: f32,
    /// Whether that is the list's own (else the installation's `FACE_THRESHOLD`).
    pub own_threshold: bool,
    /// The confidences of the confirmed and of the rejected matches, highest first.
    pub confirmed: Vec<f32>,
    pub rejected: Vec<f32>,
    /// The share of confirmed matches the proposal keeps (0–1).
    pub keep: f64,
    pub proposal: Option<Proposal>,
}

/// A threshold, and what it would have done to the judged matches.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Proposal {
    pub threshold: f32,
    pub confirmed_kept: usize,
    pub rejected_kept: usize,
}

/// The highest threshold that keeps at least `keep` of the confirmed matches (the most
/// rejected ones fall below it), put halfway between the lowest confirmed match it keeps and
/// the highest rejected one below that, so that it sits in the gap rather than on a match.
/// None without confirmed matches. Matches below the current threshold were never made, so
/// the proposal can raise a threshold, not tell how far to lower it.
pub fn propose(confirmed: &[f32], rejected: &[f32], keep: f64) -> Option<Proposal> {
    let mut confirmed = confirmed.to_vec();
    confirmed.sort_by(|a, b| b.total_cmp(a));
    let needed = ((keep.clamp(0.0, 1.0) * confirmed.len() as f64).ceil() as usize)
        .clamp(1, confirmed.len().max(1));
    let lowest_kept = *confirmed.get(needed - 1)?;
    let below = rejected
        .iter()
        .copied()
        .filter(|r| *r < lowest_kept)
        .max_by(f32::total_cmp);
    let threshold = match below {
        Some(r) => (r + lowest_kept) / 2.0,
        None => lowest_kept,
    };
    Some(Proposal {
        threshold,
        confirmed_kept: confirmed.iter().filter(|c| **c >= threshold).count(),
        rejected_kept: rejected.iter().filter(|r| **r >= threshold).count(),
    })
}

/// The share of confirmed matches to keep, as typed (0–1, or a percentage such as `95%`).
pub fn parse_keep(text: &str) -> Result<f64> {
    let t = text.trim();
    if t.is_empty() {
        return Ok(DEFAULT_KEEP);
    }
    let (number, scale) = match t.strip_suffix('%') {
        Some(p) => (p.trim(), 100.0),
        None => (t, 1.0),
    };
    number
        .parse::<f64>()
        .ok()
        .map(|n| n / scale)
        .filter(|n| *n > 0.0 && *n <= 1.0)
        .ok_or_else(|| {
            Error::invalid(
                "keep",
                format!("{t:?}: expected a share above 0 and at most 1 (or a percentage)"),
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_proposal_sits_between_the_rejected_and_the_confirmed() {
        let p = propose(&[0.93, 0.97, 0.9], &[0.8, 0.84], 1.0).unwrap();
        assert!((p.threshold - 0.87).abs() < 1e-6, "{p:?}");
        assert_eq!((p.confirmed_kept, p.rejected_kept), (3, 0));
        // Keeping two of three lets the threshold climb past the lowest confirmed one.
        let p = propose(&[0.93, 0.97, 0.9], &[0.8, 0.91], 0.6).unwrap();
        assert!((p.threshold - 0.92).abs() < 1e-6, "{p:?}");
        assert_eq!((p.confirmed_kept, p.rejected_kept), (2, 0));
        // A rejected match above every confirmed one cannot be rejected by any threshold
        // that keeps them.
        let p = propose(&[0.9], &[0.99], 1.0).unwrap();
        assert_eq!(p.threshold, 0.9);
        assert_eq!((p.confirmed_kept, p.rejected_kept), (1, 1));
        assert_eq!(propose(&[], &[0.8], 0.95), None);
    }

    #[test]
    fn verdicts_and_shares_are_read_as_typed() {
        assert_eq!(
            Verdict::parse_field("confirmed").unwrap(),
            Some(Verdict::Confirmed)
        );
        assert_eq!(Verdict::parse_field(" ").unwrap(), None);
        assert_eq!(
            Verdict::parse_field("maybe").unwrap_err().field(),
            Some("verdict")
        );
        assert_eq!(parse_keep("").unwrap(), DEFAULT_KEEP);
        assert_eq!(parse_keep("90%").unwrap(), 0.9);
        assert_eq!(parse_keep("0.5").unwrap(), 0.5);
        for bad in ["0", "1.5", "x", "-3%"] {
            assert_eq!(parse_keep(bad).unwrap_err().field(), Some("keep"));
        }
    }
}
