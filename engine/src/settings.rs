//! The kinds of value the engine's settings are made of, each checked where it is read, and
//! the error that names a bad one's key. Each part owns one `Deserialize` struct of its keys
//! (`sync::SyncSettings`, `faces::FaceSettings`, `monitoring::MonitoringSettings`,
//! `auth::AccountSettings`, `audit::AuditSettings`), its defaults in its `Default`, each key
//! one field with its doc comment; `crate::Settings` is the engine's whole. The server reads
//! them all from one TOML file and the environment (the `config` crate), under the design's
//! names in capitals, so a bad value stops start-up with the key named by the deserializer.

use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;
use std::fmt;

/// A setting that cannot be used: its key, and what is wrong with its value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("setting {key}: {message}")]
pub struct SettingError {
    pub key: String,
    pub message: String,
}

impl SettingError {
    pub fn new(key: &str, message: impl Into<String>) -> Self {
        Self {
            key: key.to_string(),
            message: message.into(),
        }
    }
}

/// The text of a scalar, whatever type the source gave it: the environment gives text, a TOML
/// file numbers and booleans.
fn scalar_text<'de, D: Deserializer<'de>>(
    deserializer: D,
    expecting: &'static str,
) -> Result<String, D::Error> {
    struct Text(&'static str);
    impl Visitor<'_> for Text {
        type Value = String;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str(self.0)
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<String, E> {
            Ok(v.trim().to_string())
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<String, E> {
            Ok(v.to_string())
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<String, E> {
            Ok(v.to_string())
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<String, E> {
            Ok(v.to_string())
        }
    }
    deserializer.deserialize_any(Text(expecting))
}

/// A size in bytes, written `10MB`, `512KB` (binary units) or `1048576`; zero is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteSize(pub usize);

impl ByteSize {
    pub fn parse(text: &str) -> Option<Self> {
        let text = text.trim().to_ascii_uppercase();
        let (number, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
            Some(i) => text.split_at(i),
            None => (text.as_str(), ""),
        };
        let factor = match unit.trim() {
            "" | "B" => 1,
            "K" | "KB" | "KIB" => 1024,
            "M" | "MB" | "MIB" => 1024 * 1024,
            "G" | "GB" | "GIB" => 1024 * 1024 * 1024,
            _ => return None,
        };
        number
            .parse::<usize>()
            .ok()?
            .checked_mul(factor)
            .filter(|n| *n > 0)
            .map(Self)
    }
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = scalar_text(deserializer, "a size such as 10MB or 1048576")?;
        Self::parse(&text).ok_or_else(|| {
            de::Error::custom(format!(
                "expected a size such as 10MB or 1048576, got {text:?}"
            ))
        })
    }
}

/// A share from 0 to 1, written `0.25` or `25%`.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
pub struct Share(pub f64);

impl<'de> Deserialize<'de> for Share {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = scalar_text(deserializer, "a share between 0 and 1, or 0% to 100%")?;
        text.strip_suffix('%')
            .map(|p| p.trim().parse::<f64>().map(|p| p / 100.0))
            .unwrap_or_else(|| text.parse::<f64>())
            .ok()
            .filter(|r| (0.0..=1.0).contains(r))
            .map(Self)
            .ok_or_else(|| {
                de::Error::custom(format!(
                    "expected a share between 0 and 1 (or 0% to 100%), got {text:?}"
                ))
            })
    }
}

/// A whole number from `MIN` to `MAX`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Bounded<const MIN: i64, const MAX: i64>(i64);

impl<const MIN: i64, const MAX: i64> Bounded<MIN, MAX> {
    /// `value`, which must be within the bounds (a default written in the code).
    pub const fn new(value: i64) -> Self {
        assert!(
            MIN <= value && value <= MAX,
            "a bounded setting out of its bounds"
        );
        Self(value)
    }

    pub fn get(self) -> i64 {
        self.0
    }
}

impl<'de, const MIN: i64, const MAX: i64> Deserialize<'de> for Bounded<MIN, MAX> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = scalar_text(deserializer, "a whole number")?;
        text.parse::<i64>()
            .ok()
            .filter(|n| (MIN..=MAX).contains(n))
            .map(Self)
            .ok_or_else(|| {
                de::Error::custom(format!(
                    "expected a number from {MIN} to {MAX}, got {text:?}"
                ))
            })
    }
}

/// The keys a settings struct reads, as its `Deserialize` names them: what the server takes
/// from the environment, and what the README's table is checked against.
pub fn keys<'de, T: Deserialize<'de>>() -> &'static [&'static str] {
    /// A deserializer that answers nothing but the names of the struct's fields.
    struct Names<'a>(&'a mut &'static [&'static str]);
    impl<'de> Deserializer<'de> for Names<'_> {
        type Error = de::value::Error;
        fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
            Err(de::Error::custom("only a struct's field names are read"))
        }
        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _: &'static str,
            fields: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Self::Error> {
            *self.0 = fields;
            Err(de::Error::custom("only a struct's field names are read"))
        }
        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes
            byte_buf option unit unit_struct newtype_struct seq tuple tuple_struct map enum
            identifier ignored_any
        }
    }
    let mut fields: &'static [&'static str] = &[];
    let _ = T::deserialize(Names(&mut fields));
    fields
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_take_units() {
        assert_eq!(ByteSize::parse("10MB"), Some(ByteSize(10 * 1024 * 1024)));
        assert_eq!(ByteSize::parse("512 kb"), Some(ByteSize(512 * 1024)));
        assert_eq!(ByteSize::parse("1048576"), Some(ByteSize(1048576)));
        assert_eq!(ByteSize::parse("0"), None);
        assert_eq!(ByteSize::parse("ten megs"), None);
    }

    #[test]
    fn a_structs_keys_are_its_field_names() {
        #[derive(Deserialize)]
        #[allow(dead_code)]
        struct Part {
            #[serde(rename = "ONE_KEY")]
            one: Option<bool>,
            #[serde(rename = "OTHER_KEY")]
            other: Option<ByteSize>,
        }
        assert_eq!(keys::<Part>(), ["ONE_KEY", "OTHER_KEY"]);
    }
}
