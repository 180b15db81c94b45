//! How user input is read, whatever sent it (a browser form, JSON, the command line): boolean
//! flags as browsers send them, and trimmed text fields with a length limit and no control
//! characters. A NUL would otherwise reach PostgreSQL, which refuses it in text and JSON alike;
//! the others have no business in a name and only hide what a reader sees.

use crate::error::{Error, Result};
use serde::{Deserialize, Deserializer, Serialize};

/// A boolean form field. A browser sends a checked checkbox as `on` and omits an unchecked one;
/// API callers send `true`/`false`. Omitted means false.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(transparent)]
pub struct Flag(pub bool);

impl<'de> Deserialize<'de> for Flag {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Bool(bool),
            Text(String),
        }
        match Raw::deserialize(deserializer)? {
            Raw::Bool(b) => Ok(Flag(b)),
            Raw::Text(t) => Flag::parse(&t).ok_or_else(|| {
                serde::de::Error::custom(format!("expected true or false, got {t:?}"))
            }),
        }
    }
}

impl Flag {
    /// A checkbox's or a caller's text: `on`/`true`/`1`/`yes`, or empty/`off`/`false`/`0`/`no`.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "on" | "true" | "1" | "yes" => Some(Flag(true)),
            "" | "off" | "false" | "0" | "no" => Some(Flag(false)),
            _ => None,
        }
    }
}

/// A list of ids as a form or an API caller sends it: checkboxes (`watch_lists[]=3&…`), a JSON
/// array (`[3, 7]`), or comma-separated text (`"3, 7"`). Kept as sent until `parse` says which
/// entry is not an id.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct IdList(pub Vec<String>);

/// In the reference it is what callers should send: an array of ids.
impl utoipa::PartialSchema for IdList {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        <Vec<i64> as utoipa::PartialSchema>::schema()
    }
}

impl utoipa::ToSchema for IdList {}

impl<'de> Deserialize<'de> for IdList {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum One {
            Number(i64),
            Text(String),
        }
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Text(String),
            Many(Vec<One>),
        }
        let entries = match Raw::deserialize(deserializer)? {
            Raw::Text(text) => text.split(',').map(str::to_string).collect(),
            Raw::Many(many) => many
                .into_iter()
                .map(|one| match one {
                    One::Number(n) => n.to_string(),
                    One::Text(t) => t,
                })
                .collect(),
        };
        Ok(IdList(entries))
    }
}

impl IdList {
    /// The ids, blanks left out; the first entry that is not one is refused, by `field`.
    pub fn parse(&self, field: &str, what: &str) -> Result<Vec<i64>> {
        self.0
            .iter()
            .map(|entry| entry.trim())
            .filter(|entry| !entry.is_empty())
            .map(|entry| {
                entry
                    .parse::<i64>()
                    .map_err(|_| Error::invalid(field, format!("{entry:?} is not {what}")))
            })
            .collect()
    }
}

/// A required one-line text field of at most `max` characters, trimmed.
pub fn required_text(field: &str, value: &str, max: usize) -> Result<String> {
    let value = optional_text(field, value, max)?;
    if value.is_empty() {
        return Err(Error::invalid(field, "must not be empty"));
    }
    Ok(value)
}

/// An optional one-line text field of at most `max` characters, trimmed.
pub fn optional_text(field: &str, value: &str, max: usize) -> Result<String> {
    check_characters(field, value, Lines::One)?;
    limited(field, value, max)
}

/// An optional text of several lines (a comment): tabs and line breaks are kept.
pub fn multiline_text(field: &str, value: &str, max: usize) -> Result<String> {
    check_characters(field, value, Lines::Many)?;
    limited(field, value, max)
}

/// Whether a text may hold tabs and line breaks.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Lines {
    One,
    Many,
}

/// Refuses control characters (NUL, escape, DEL, the C1 range…), naming the field and the
/// character; a text of several lines may hold tabs and line breaks.
pub fn check_characters(field: &str, value: &str, lines: Lines) -> Result<()> {
    let allowed = |c: char| lines == Lines::Many && matches!(c, '\t' | '\n' | '\r');
    match value.chars().find(|&c| c.is_control() && !allowed(c)) {
        None => Ok(()),
        Some(c) => Err(Error::invalid(
            field,
            format!(
                "must not contain control characters (found U+{:04X}{})",
                c as u32,
                if lines == Lines::One && c.is_whitespace() {
                    ", a line break or tab in a one-line field"
                } else {
                    ""
                }
            ),
        )),
    }
}

/// Checks every key and string of a JSON value (a dossier's meta), naming the path of the
/// first bad one, e.g. `meta.case`.
pub fn check_json_characters(field: &str, value: &serde_json::Value) -> Result<()> {
    use serde_json::Value;
    match value {
        Value::String(text) => check_characters(field, text, Lines::Many),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .try_for_each(|(i, item)| check_json_characters(&format!("{field}[{i}]"), item)),
        Value::Object(map) => map.iter().try_for_each(|(key, item)| {
            check_characters(field, key, Lines::One)?;
            check_json_characters(&format!("{field}.{key}"), item)
        }),
        Value::Null | Value::Bool(_) | Value::Number(_) => Ok(()),
    }
}

/// A page size asked for (`limit`): `default` when omitted, refused outside 1 to `max`.
pub fn page_size(limit: Option<i64>, default: i64, max: i64) -> Result<i64> {
    let limit = limit.unwrap_or(default);
    if !(1..=max).contains(&limit) {
        return Err(Error::invalid(
            "limit",
            format!("must be 1 to {max}, got {limit}"),
        ));
    }
    Ok(limit)
}

/// Cuts rows fetched with `LIMIT limit + 1` to `limit`, and says where the next page starts
/// (the key of the last row kept) if there is one: keyset paging's one extra row.
pub fn keyset_page<T>(
    mut rows: Vec<T>,
    limit: i64,
    key: impl Fn(&T) -> i64,
) -> (Vec<T>, Option<i64>) {
    if rows.len() as i64 > limit {
        rows.truncate(limit as usize);
        let next = rows.last().map(key);
        (rows, next)
    } else {
        (rows, None)
    }
}

fn limited(field: &str, value: &str, max: usize) -> Result<String> {
    let value = value.trim();
    let len = value.chars().count();
    if len > max {
        return Err(Error::invalid(
            field,
            format!("must be at most {max} characters, got {len}"),
        ));
    }
    Ok(value.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_lists_read_arrays_checkboxes_and_comma_separated_text() {
        let read = |json: &str| serde_json::from_str::<IdList>(json).unwrap();
        let ids = |list: IdList| list.parse("watch_lists", "a watch list id");
        assert_eq!(ids(read("[3, 7]")).unwrap(), [3, 7]);
        assert_eq!(ids(read(r#"["3", "7"]"#)).unwrap(), [3, 7]);
        assert_eq!(ids(read(r#""3, 7,""#)).unwrap(), [3, 7]);
        assert_eq!(ids(read(r#""""#)).unwrap(), Vec::<i64>::new());
        let refused = ids(read(r#""3, seven""#)).unwrap_err();
        assert!(
            refused
                .to_string()
                .contains("\"seven\" is not a watch list id"),
            "{refused}"
        );
    }

    #[test]
    fn flags_read_what_browsers_and_api_callers_send() {
        let read = |json: &str| serde_json::from_str::<Flag>(json);
        assert_eq!(read(r#""on""#).unwrap(), Flag(true));
        assert_eq!(read("true").unwrap(), Flag(true));
        assert_eq!(read(r#""""#).unwrap(), Flag(false));
        assert_eq!(read(r#""no""#).unwrap(), Flag(false));
        assert!(read(r#""maybe""#).is_err());
    }

    #[test]
    fn text_is_trimmed_and_limited_in_characters() {
        assert_eq!(required_text("name", "  Ann  ", 3).unwrap(), "Ann");
        assert_eq!(
            required_text("name", "   ", 3).unwrap_err(),
            Error::invalid("name", "must not be empty")
        );
        // Four characters, more bytes: the limit counts characters.
        assert!(optional_text("comment", "äöüß", 4).is_ok());
        let too_long = optional_text("comment", "abcde", 4).unwrap_err();
        assert_eq!(too_long.field(), Some("comment"));
        assert_eq!(optional_text("comment", "", 4).unwrap(), "");
    }

    #[test]
    fn control_characters_are_refused_naming_the_field() {
        let nul = required_text("name", "A\u{0}B", 10).unwrap_err();
        assert_eq!(nul.field(), Some("name"));
        assert!(nul.message().contains("U+0000"), "{nul}");
        assert!(optional_text("name", "a\u{1b}[31m", 20).is_err());
        assert!(optional_text("name", "two\nlines", 20).is_err());
        assert_eq!(
            multiline_text("comment", "two\n\tlines", 20).unwrap(),
            "two\n\tlines"
        );
        assert!(multiline_text("comment", "bell\u{7}", 20).is_err());
        assert!(multiline_text("comment", "c1\u{85}", 20).is_err());
        let meta = serde_json::json!({"case": ["ok", "bad\u{0}"]});
        let error = check_json_characters("meta", &meta).unwrap_err();
        assert_eq!(error.field(), Some("meta.case[1]"));
        assert!(check_json_characters("meta", &serde_json::json!({"k\u{0}": 1})).is_err());
        assert!(check_json_characters("meta", &serde_json::json!({"k": "é\n"})).is_ok());
    }
}
