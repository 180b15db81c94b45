//! Dossiers: the people on watch lists. A dossier belongs to at least one list, holds free-form
//! meta and its photos; searching pages through them newest first with a keyset.

use crate::error::{Error, Result};
use crate::input::{multiline_text, optional_text, required_text, Flag};
use crate::photos::PhotoInfo;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A row of the search results.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DossierSummary {
    pub id: i64,
    pub name: String,
    pub comment: String,
    pub active: bool,
    pub watch_lists: Vec<i64>,
    /// Hex SHA-256 of the first photo's image, for its thumbnail.
    pub thumbnail: Option<String>,
    pub photo_count: i64,
    #[serde(deserialize_with = "crate::time::rfc3339")]
    pub modified_at: DateTime<Utc>,
}

/// One page of search results. `next_after` is the keyset cursor of the next page, if any.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DossierPage {
    pub dossiers: Vec<DossierSummary>,
    pub next_after: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Dossier {
    pub id: i64,
    pub name: String,
    pub comment: String,
    pub active: bool,
    pub meta: serde_json::Value,
    /// The key an import gave the person (the importer's own id of them); a second import
    /// with the same key updates this dossier.
    #[serde(default)]
    pub external_key: Option<String>,
    pub watch_lists: Vec<i64>,
    pub photos: Vec<PhotoInfo>,
    /// The Leader URL if the dossier is in a read-only replicated list here.
    pub replica_of: Option<String>,
    #[serde(deserialize_with = "crate::time::rfc3339")]
    pub created_at: DateTime<Utc>,
    #[serde(deserialize_with = "crate::time::rfc3339")]
    pub modified_at: DateTime<Utc>,
}

pub const PAGE_SIZE: i64 = 50;
const MAX_PAGE_SIZE: i64 = 500;
/// Meta is free-form but not a file store.
pub const MAX_META_BYTES: usize = 64 * 1024;

/// The filters of a search, as the search form and the API give them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DossierQuery {
    pub name: String,
    pub watch_list: Option<i64>,
    pub active: Option<bool>,
    pub after: Option<i64>,
    pub limit: i64,
}

impl DossierQuery {
    pub fn parse(
        q: &str,
        watch_list: Option<i64>,
        active: &str,
        after: Option<i64>,
        limit: Option<i64>,
    ) -> Result<Self> {
        let active = match active.trim() {
            "" | "any" => None,
            "true" | "yes" => Some(true),
            "false" | "no" => Some(false),
            other => {
                return Err(Error::invalid(
                    "active",
                    format!("must be true, false or empty; got {other:?}"),
                ))
            }
        };
        let limit = crate::input::page_size(limit, PAGE_SIZE, MAX_PAGE_SIZE)?;
        Ok(Self {
            name: optional_text("q", q, 256)?,
            watch_list,
            active,
            after,
            limit,
        })
    }
}

/// What the dossier form shows: the fields as text, computed on the server, so that the form's
/// island carries no JSON or date code into the WASM bundle.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DossierFormValues {
    pub name: String,
    pub comment: String,
    pub active: bool,
    /// The meta object, pretty-printed.
    pub meta: String,
    pub watch_lists: Vec<i64>,
}

impl From<Dossier> for DossierFormValues {
    fn from(d: Dossier) -> Self {
        Self {
            meta: serde_json::to_string_pretty(&d.meta).unwrap_or_default(),
            name: d.name,
            comment: d.comment,
            active: d.active,
            watch_lists: d.watch_lists,
        }
    }
}

/// A dossier's `meta` as typed: a JSON object (empty text is `{}`).
pub fn parse_meta(meta: &str) -> Result<serde_json::Value> {
    if meta.len() > MAX_META_BYTES {
        return Err(Error::invalid(
            "meta",
            format!("must be at most {MAX_META_BYTES} bytes"),
        ));
    }
    let meta = match meta.trim() {
        "" => serde_json::Value::Object(Default::default()),
        text => match serde_json::from_str::<serde_json::Value>(text) {
            Ok(v @ serde_json::Value::Object(_)) => v,
            Ok(_) => {
                return Err(Error::invalid(
                    "meta",
                    "must be a JSON object, like {\"case\": \"A-17\"}",
                ))
            }
            Err(e) => return Err(Error::invalid("meta", format!("is not valid JSON: {e}"))),
        },
    };
    crate::input::check_json_characters("meta", &meta)?;
    Ok(meta)
}

/// A dossier's editable fields, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct DossierInput {
    pub name: String,
    pub comment: String,
    pub active: bool,
    pub meta: serde_json::Value,
    pub watch_lists: Vec<i64>,
}

impl DossierInput {
    pub fn parse(
        name: &str,
        comment: &str,
        active: Flag,
        meta: &str,
        watch_lists: Vec<i64>,
    ) -> Result<Self> {
        let name = required_text("name", name, 256)?;
        let comment = multiline_text("comment", comment, 2048)?;
        let meta = parse_meta(meta)?;
        let mut watch_lists = watch_lists;
        watch_lists.sort_unstable();
        watch_lists.dedup();
        if watch_lists.is_empty() {
            return Err(Error::invalid(
                "watch_lists",
                "choose at least one watch list",
            ));
        }
        Ok(Self {
            name,
            comment,
            active: active.0,
            meta,
            watch_lists,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_search_is_read_from_its_filters() {
        let q = DossierQuery::parse(" Ann ", Some(3), "false", Some(90), None).unwrap();
        assert_eq!(q.name, "Ann");
        assert_eq!(
            (q.watch_list, q.active, q.after),
            (Some(3), Some(false), Some(90))
        );
        assert_eq!(q.limit, PAGE_SIZE);
        assert_eq!(
            DossierQuery::parse("", None, "any", None, Some(1))
                .unwrap()
                .active,
            None
        );
        let bad = |active: &str, limit: Option<i64>| {
            DossierQuery::parse("", None, active, None, limit)
                .unwrap_err()
                .field()
                .map(String::from)
        };
        assert_eq!(bad("maybe", None).as_deref(), Some("active"));
        assert_eq!(bad("", Some(0)).as_deref(), Some("limit"));
        assert_eq!(bad("", Some(MAX_PAGE_SIZE + 1)).as_deref(), Some("limit"));
    }

    #[test]
    fn a_dossier_needs_a_name_an_object_as_meta_and_a_list() {
        let d = DossierInput::parse("Ann", "", Flag(true), "", vec![2, 1, 2]).unwrap();
        assert_eq!(d.watch_lists, [1, 2]);
        assert_eq!(d.meta, serde_json::json!({}));
        let field = |meta: &str, lists: Vec<i64>| {
            DossierInput::parse("Ann", "", Flag(true), meta, lists)
                .unwrap_err()
                .field()
                .map(String::from)
        };
        assert_eq!(field("[1]", vec![1]).as_deref(), Some("meta"));
        assert_eq!(field("{", vec![1]).as_deref(), Some("meta"));
        assert_eq!(field("", vec![]).as_deref(), Some("watch_lists"));
        let huge = format!("{{\"x\": \"{}\"}}", "a".repeat(MAX_META_BYTES));
        assert_eq!(field(&huge, vec![1]).as_deref(), Some("meta"));
    }
}
