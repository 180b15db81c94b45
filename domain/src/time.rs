//! Timestamps as they travel (JSON, island props): RFC 3339 text, as chrono writes it, read back
//! with chrono's RFC 3339 parser. `DateTime: Deserialize` goes through chrono's general parser
//! instead (every format, RFC 2822 included), which was 10 KB of the browser's WASM for a format
//! that never arrives. Use with `#[serde(deserialize_with = "…")]`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer};

fn parse<E: serde::de::Error>(text: &str) -> Result<DateTime<Utc>, E> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| E::custom(format!("{text:?} is not an RFC 3339 time: {e}")))
}

pub fn rfc3339<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
    parse(&String::deserialize(d)?)
}

pub fn rfc3339_option<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
    Option::<String>::deserialize(d)?
        .map(|t| parse(&t))
        .transpose()
}

pub fn rfc3339_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<DateTime<Utc>>, D::Error> {
    Vec::<String>::deserialize(d)?
        .iter()
        .map(|t| parse(t))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize, serde::Serialize)]
    struct At {
        #[serde(deserialize_with = "rfc3339")]
        at: DateTime<Utc>,
        #[serde(default, deserialize_with = "rfc3339_option")]
        until: Option<DateTime<Utc>>,
    }

    #[test]
    fn what_chrono_writes_reads_back() {
        let now = Utc::now();
        let json = serde_json::to_string(&At {
            at: now,
            until: None,
        })
        .unwrap();
        let back: At = serde_json::from_str(&json).unwrap();
        assert_eq!((back.at, back.until), (now, None));
        let back: At = serde_json::from_str(r#"{"at": "2026-11-24T04:00:00+01:00"}"#).unwrap();
        assert_eq!(back.at.to_rfc3339(), "2026-11-24T03:00:00+00:00");
        assert!(serde_json::from_str::<At>(r#"{"at": "Tue, 24 Nov 2026 04:00:00 GMT"}"#).is_err());
    }
}
