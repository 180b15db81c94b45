//! How user input is read, whatever sent it (a browser form, JSON, the command line): boolean
//! flags as browsers send them, and trimmed text fields with a length limit.

use crate::error::{Error, Result};
use serde::{Deserialize, Deserializer, Serialize};

/// A boolean form field. A browser sends a checked checkbox as `on` and omits an unchecked one;
/// API callers send `true`/`false`. Omitted means false.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
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
            Raw::Text(t) => match t.as_str() {
                "on" | "true" | "1" | "yes" => Ok(Flag(true)),
                "" | "off" | "false" | "0" | "no" => Ok(Flag(false)),
                other => Err(serde::de::Error::custom(format!(
                    "expected true or false, got {other:?}"
                ))),
            },
        }
    }
}

/// A required text field of at most `max` characters, trimmed.
pub fn required_text(field: &str, value: &str, max: usize) -> Result<String> {
    let value = optional_text(field, value, max)?;
    if value.is_empty() {
        return Err(Error::invalid(field, "must not be empty"));
    }
    Ok(value)
}

/// An optional text field of at most `max` characters, trimmed.
pub fn optional_text(field: &str, value: &str, max: usize) -> Result<String> {
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
}
