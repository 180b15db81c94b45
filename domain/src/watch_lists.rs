//! Watch lists: named, coloured lists of dossiers, with the settings monitoring reads (active,
//! confidence threshold, acknowledge, notify). A list that is a replica here is read-only.

use crate::error::{Error, Result};
use crate::input::{multiline_text, required_text, Flag};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct WatchList {
    pub id: i64,
    pub name: String,
    #[serde(flatten)]
    pub settings: ListSettings,
    pub dossier_count: i64,
    /// The Leader URL if this list is a read-only replica here.
    pub replica_of: Option<String>,
    #[serde(deserialize_with = "crate::time::rfc3339")]
    pub created_at: DateTime<Utc>,
    #[serde(deserialize_with = "crate::time::rfc3339")]
    pub modified_at: DateTime<Utc>,
}

pub const DEFAULT_COLOR: &str = "#1f77b4";

/// A list's settings: every one but its name. Monitoring reads them (active, threshold,
/// acknowledge, notify), the pages show them (colour, comment), and a replica follows its
/// Leader's list's (its name stays local).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ListSettings {
    pub comment: String,
    pub color: String,
    pub active: bool,
    pub acknowledge: bool,
    pub notify: bool,
    pub confidence_threshold: Option<f32>,
}

impl Default for ListSettings {
    /// A new list's settings.
    fn default() -> Self {
        Self {
            comment: String::new(),
            color: DEFAULT_COLOR.into(),
            active: true,
            acknowledge: false,
            notify: false,
            confidence_threshold: None,
        }
    }
}

/// A watch list's editable fields, validated; also what the edit form starts from.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct WatchListInput {
    pub name: String,
    #[serde(flatten)]
    pub settings: ListSettings,
}

impl From<WatchList> for WatchListInput {
    fn from(list: WatchList) -> Self {
        Self {
            name: list.name,
            settings: list.settings,
        }
    }
}

impl WatchListInput {
    // One argument per form field, as the forms and the API send them.
    #[allow(clippy::too_many_arguments)]
    pub fn parse(
        name: &str,
        comment: &str,
        color: &str,
        active: Flag,
        acknowledge: Flag,
        notify: Flag,
        confidence_threshold: &str,
    ) -> Result<Self> {
        let name = required_text("name", name, 256)?;
        let comment = multiline_text("comment", comment, 2048)?;
        let color = match color.trim() {
            "" => DEFAULT_COLOR.to_string(),
            c => {
                let hex = c.strip_prefix('#').unwrap_or(c);
                if hex.len() != 6 || !hex.chars().all(|ch| ch.is_ascii_hexdigit()) {
                    return Err(Error::invalid(
                        "color",
                        format!("must be a colour like #1f77b4, got {c:?}"),
                    ));
                }
                format!("#{}", hex.to_ascii_lowercase())
            }
        };
        let confidence_threshold = match confidence_threshold.trim() {
            "" => None,
            t => match t.parse::<f32>() {
                Ok(v) if (0.0..=1.0).contains(&v) => Some(v),
                _ => {
                    return Err(Error::invalid(
                        "confidence_threshold",
                        format!("must be a number from 0 to 1, or empty; got {t:?}"),
                    ))
                }
            },
        };
        Ok(Self {
            name,
            settings: ListSettings {
                comment,
                color,
                active: active.0,
                acknowledge: acknowledge.0,
                notify: notify.0,
                confidence_threshold,
            },
        })
    }
}

/// What the dossier pages show of a list: its label, and whether it is a read-only replica.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct WatchListLabel {
    pub id: i64,
    pub name: String,
    pub color: String,
    pub replica_of: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(color: &str, threshold: &str) -> Result<WatchListInput> {
        WatchListInput::parse(
            " Wanted ",
            "",
            color,
            Flag(true),
            Flag(false),
            Flag(true),
            threshold,
        )
    }

    #[test]
    fn a_list_is_read_from_its_form_fields() {
        let list = parse("#1F77B4", "0.75").unwrap();
        assert_eq!(list.name, "Wanted");
        let settings = &list.settings;
        assert_eq!(settings.color, "#1f77b4");
        assert_eq!(settings.confidence_threshold, Some(0.75));
        assert!(settings.active && !settings.acknowledge && settings.notify);
        // Empty colour and threshold take the defaults.
        let list = parse("", "").unwrap().settings;
        assert_eq!(
            (list.color.as_str(), list.confidence_threshold),
            (DEFAULT_COLOR, None)
        );
    }

    #[test]
    fn bad_fields_are_named() {
        assert_eq!(parse("red", "").unwrap_err().field(), Some("color"));
        for threshold in ["1.5", "-0.1", "high"] {
            let error = parse("", threshold).unwrap_err();
            assert_eq!(error.field(), Some("confidence_threshold"), "{threshold}");
        }
    }
}
