//! What a row does to the dossiers, decided from what is stored: create a dossier, update the
//! one its key names, leave it as it is, or refuse the row with the reason. Pure: the SQL that
//! reads what is stored and writes the plans is `write`.

use domain::imports::{ImportOptions, ImportRow};
use serde_json::Value;
use std::collections::HashMap;

/// A dossier as stored, as far as an import compares it.
pub struct Existing {
    pub id: i64,
    pub name: String,
    pub comment: String,
    pub active: bool,
    pub meta: Value,
    pub lists: Vec<i64>,
    /// Its photos' image digests: a photo already there is not added again.
    pub photos: Vec<Vec<u8>>,
    /// The Leader it is replicated from, if it is (then it is read-only here).
    pub replica_of: Option<String>,
}

/// A list as stored, by name.
pub struct StoredList {
    pub id: i64,
    pub replica_of: Option<String>,
}

/// A list a row joins.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ListRef {
    Stored(i64),
    /// To be created (the import was asked to), by name.
    New(String),
}

/// What the dossier's fields are to be after the row.
#[derive(Debug, Clone, PartialEq)]
pub struct Fields {
    pub name: String,
    pub comment: String,
    pub active: bool,
    pub meta: Value,
}

/// What is known of the store when a batch is planned.
pub struct Stored<'a> {
    pub dossiers: &'a HashMap<String, Existing>,
    pub lists: &'a HashMap<String, StoredList>,
    pub options: &'a ImportOptions,
    /// The import of this same file that ran to its end before, if one did: rows without a
    /// key would be added twice.
    pub imported_before: Option<i64>,
}

/// A row's dossier before its photos are looked at: which one, with what.
#[derive(Debug)]
pub struct Target {
    /// The dossier the row's key names, if it exists.
    pub existing: Option<i64>,
    pub fields: Fields,
    /// Whether the fields differ from the stored ones (always for a new dossier).
    pub changed: bool,
    /// The lists it is to join that it is not in yet.
    pub join: Vec<ListRef>,
}

/// Decides a row's dossier, or why the row is refused.
pub fn target(row: &ImportRow, stored: &Stored) -> Result<Target, String> {
    let existing = row.key.as_ref().and_then(|k| stored.dossiers.get(k));
    if row.key.is_none() {
        if let Some(before) = stored.imported_before {
            return Err(format!(
                "external_key: the row has none, and this file was imported already (import {before}): it would add the person twice"
            ));
        }
    }
    if let Some(Existing {
        id,
        replica_of: Some(leader),
        ..
    }) = existing
    {
        return Err(format!(
            "external_key: names dossier {id}, which is replicated from the Leader {leader}; change it there"
        ));
    }
    let mut lists = Vec::new();
    let names = row.lists.iter().chain(
        stored
            .options
            .default_list
            .iter()
            .filter(|d| !row.lists.contains(d)),
    );
    for name in names {
        let list = match stored.lists.get(name) {
            Some(StoredList {
                replica_of: Some(leader),
                ..
            }) => {
                return Err(format!(
                    "lists: {name:?} is a read-only replica of a list of the Leader {leader}"
                ))
            }
            Some(list) => ListRef::Stored(list.id),
            None if stored.options.create_lists => ListRef::New(name.clone()),
            None => {
                return Err(format!(
                    "lists: no watch list is called {name:?} (create it first, or import with the option to create missing lists)"
                ))
            }
        };
        lists.push(list);
    }
    if lists.is_empty() {
        return Err("lists: names no watch list; a dossier is in one at least".into());
    }
    Ok(match existing {
        None => Target {
            existing: None,
            fields: Fields {
                name: row.name.clone(),
                comment: row.comment.clone().unwrap_or_default(),
                active: row.active.unwrap_or(true),
                meta: row
                    .meta
                    .clone()
                    .unwrap_or_else(|| Value::Object(Default::default())),
            },
            changed: true,
            join: lists,
        },
        Some(d) => {
            let fields = Fields {
                name: row.name.clone(),
                comment: row.comment.clone().unwrap_or_else(|| d.comment.clone()),
                active: row.active.unwrap_or(d.active),
                meta: row.meta.clone().unwrap_or_else(|| d.meta.clone()),
            };
            let changed = fields.name != d.name
                || fields.comment != d.comment
                || fields.active != d.active
                || fields.meta != d.meta;
            // Lists are joined, never left: a file of one list does not take people out of
            // the others they are in.
            let join = lists
                .into_iter()
                .filter(|l| !matches!(l, ListRef::Stored(id) if d.lists.contains(id)))
                .collect();
            Target {
                existing: Some(d.id),
                fields,
                changed,
                join,
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(key: Option<&str>, lists: &[&str]) -> ImportRow {
        ImportRow {
            line: 2,
            key: key.map(String::from),
            name: "Ann".into(),
            comment: None,
            active: None,
            lists: lists.iter().map(|l| l.to_string()).collect(),
            meta: None,
            photos: vec![],
        }
    }

    #[test]
    fn a_row_creates_updates_or_leaves_its_dossier_and_joins_lists_without_leaving_any() {
        let dossiers = HashMap::from([(
            "K1".to_string(),
            Existing {
                id: 7,
                name: "Ann".into(),
                comment: "kept".into(),
                active: false,
                meta: serde_json::json!({}),
                lists: vec![1],
                photos: vec![],
                replica_of: None,
            },
        )]);
        let lists = HashMap::from([
            (
                "A".to_string(),
                StoredList {
                    id: 1,
                    replica_of: None,
                },
            ),
            (
                "R".to_string(),
                StoredList {
                    id: 3,
                    replica_of: Some("http://leader".into()),
                },
            ),
        ]);
        let options = ImportOptions::default();
        let stored = Stored {
            dossiers: &dossiers,
            lists: &lists,
            options: &options,
            imported_before: None,
        };
        let same = target(&row(Some("K1"), &["A"]), &stored).unwrap();
        assert_eq!(
            (same.existing, same.changed, same.join.len()),
            (Some(7), false, 0)
        );
        assert_eq!(
            same.fields.comment, "kept",
            "no comment column keeps the stored one"
        );
        let new = target(&row(Some("K2"), &["A"]), &stored).unwrap();
        assert!(new.existing.is_none() && new.changed && new.fields.active);
        assert!(target(&row(None, &["B"]), &stored)
            .unwrap_err()
            .contains("\"B\""));
        assert!(target(&row(None, &["R"]), &stored)
            .unwrap_err()
            .contains("replica"));
        assert!(target(&row(None, &[]), &stored)
            .unwrap_err()
            .starts_with("lists:"));
        let create = ImportOptions {
            create_lists: true,
            default_list: Some("A".into()),
        };
        let stored = Stored {
            options: &create,
            imported_before: Some(4),
            ..stored
        };
        let joined = target(&row(Some("K1"), &["B"]), &stored).unwrap();
        assert_eq!(joined.join, [ListRef::New("B".into())]);
        assert!(target(&row(None, &["A"]), &stored)
            .unwrap_err()
            .contains("import 4"));
    }
}
