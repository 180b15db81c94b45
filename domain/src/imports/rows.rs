//! A CSV import's header and rows: which columns there are, and what each row's cells say,
//! checked as a dossier's form would check them. A refused row gets the reason as the report
//! shows it, naming the column.

use crate::error::{Error, Result};
use crate::input::{multiline_text, optional_text, required_text};
use serde_json::{Map, Value};

/// The most photos one row may name.
pub const MAX_PHOTOS_PER_ROW: usize = 20;

/// What a column of the file holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Column {
    /// The importer's own id of the person: a second import of it updates the dossier.
    Key,
    Name,
    Comment,
    /// `true`/`false` (also yes/no, 1/0); empty keeps what the dossier has (new ones: true).
    Active,
    /// Watch lists by name, separated by `;`.
    Lists,
    /// A JSON object of the case's own fields.
    Meta,
    /// `meta.<field>`: one field of `meta`, as text.
    MetaField(String),
    /// Photo file names (in the photos folder or the ZIP), separated by `;`.
    Photos,
}

impl Column {
    fn of_heading(heading: &str) -> Option<Self> {
        let folded = heading.trim().to_lowercase();
        if let Some(field) = heading.trim().strip_prefix("meta.") {
            return (!field.trim().is_empty()).then(|| Self::MetaField(field.trim().to_string()));
        }
        Some(match folded.replace([' ', '-'], "_").as_str() {
            "external_key" | "key" => Self::Key,
            "name" => Self::Name,
            "comment" => Self::Comment,
            "active" => Self::Active,
            "lists" | "list" | "watch_lists" => Self::Lists,
            "meta" => Self::Meta,
            "photos" | "photo" => Self::Photos,
            _ => return None,
        })
    }
}

/// The columns a file's header names, in its order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Columns(Vec<Column>);

/// The header names the import knows, as its error message lists them.
const KNOWN: &str = "external_key, name, comment, active, lists, meta, meta.<field>, photos";

impl Columns {
    /// Reads the header row. It must name `name`; an unknown or repeated column is refused,
    /// so that a misspelt one does not go unread.
    pub fn parse(header: &[&str]) -> Result<Self> {
        let mut columns = Vec::with_capacity(header.len());
        for (i, heading) in header.iter().enumerate() {
            // A spreadsheet's "CSV UTF-8" starts with a byte order mark.
            let heading = if i == 0 {
                heading.trim_start_matches('\u{feff}')
            } else {
                heading
            };
            let column = Column::of_heading(heading).ok_or_else(|| {
                Error::invalid(
                    "header",
                    format!(
                        "column {} is {heading:?}, which the import does not know; the columns are {KNOWN}",
                        i + 1
                    ),
                )
            })?;
            if columns.contains(&column) {
                return Err(Error::invalid(
                    "header",
                    format!("column {heading:?} is named twice"),
                ));
            }
            columns.push(column);
        }
        if !columns.contains(&Column::Name) {
            return Err(Error::invalid(
                "header",
                format!("the first line must name the columns, among them name; the columns are {KNOWN}"),
            ));
        }
        Ok(Self(columns))
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn has(&self, column: &Column) -> bool {
        self.0.contains(column)
    }

    fn cell<'a>(&self, cells: &[&'a str], column: &Column) -> Option<&'a str> {
        let i = self.0.iter().position(|c| c == column)?;
        cells.get(i).copied()
    }

    /// The key and name a row says it is, as they are, for the report of a refused row.
    pub fn identity(&self, cells: &[&str]) -> (Option<String>, Option<String>) {
        let shown = |c: &Column| {
            self.cell(cells, c)
                .map(|v| v.trim().chars().take(256).collect::<String>())
                .filter(|v| !v.is_empty())
        };
        (shown(&Column::Key), shown(&Column::Name))
    }
}

/// A row, checked: what its dossier is to be. `None` where the file has no such column (an
/// update then keeps what the dossier has).
#[derive(Debug, Clone, PartialEq)]
pub struct ImportRow {
    /// Its first line in the file.
    pub line: u64,
    pub key: Option<String>,
    pub name: String,
    pub comment: Option<String>,
    pub active: Option<bool>,
    /// List names, each once, in the row's order.
    pub lists: Vec<String>,
    pub meta: Option<Value>,
    /// Photo names, each once, checked by [`photo_name`].
    pub photos: Vec<String>,
}

impl ImportRow {
    /// Reads a row's cells, or says why it cannot be imported.
    pub fn parse(
        columns: &Columns,
        cells: &[&str],
        line: u64,
    ) -> std::result::Result<Self, String> {
        if cells.len() != columns.len() {
            return Err(format!(
                "has {} fields where the header has {}",
                cells.len(),
                columns.len()
            ));
        }
        let said = |e: Error| match e.field() {
            Some(field) => format!("{field}: {}", e.message()),
            None => e.message().to_string(),
        };
        let mut row = Self {
            line,
            key: None,
            name: String::new(),
            comment: None,
            active: None,
            lists: Vec::new(),
            meta: None,
            photos: Vec::new(),
        };
        let mut meta: Option<Map<String, Value>> = None;
        for (column, cell) in columns.0.iter().zip(cells) {
            match column {
                Column::Key => {
                    let key = optional_text("external_key", cell, 256).map_err(said)?;
                    row.key = (!key.is_empty()).then_some(key);
                }
                Column::Name => row.name = required_text("name", cell, 256).map_err(said)?,
                Column::Comment => {
                    row.comment = Some(multiline_text("comment", cell, 2048).map_err(said)?)
                }
                Column::Active => row.active = active(cell)?,
                Column::Lists => row.lists = names(cell, "lists")?,
                Column::Meta => {
                    let object = crate::dossiers::parse_meta(cell).map_err(said)?;
                    let fields = meta.get_or_insert_with(Map::new);
                    if let Value::Object(object) = object {
                        fields.extend(object);
                    }
                }
                Column::MetaField(field) => {
                    let fields = meta.get_or_insert_with(Map::new);
                    let value = multiline_text(&format!("meta.{field}"), cell.trim(), 4096)
                        .map_err(said)?;
                    if !value.is_empty() {
                        fields.insert(field.clone(), Value::String(value));
                    }
                }
                Column::Photos => {
                    row.photos = names(cell, "photos")?
                        .iter()
                        .map(|n| photo_name(n))
                        .collect::<std::result::Result<_, _>>()?;
                    row.photos.dedup();
                    if row.photos.len() > MAX_PHOTOS_PER_ROW {
                        return Err(format!(
                            "photos: names {} photos; at most {MAX_PHOTOS_PER_ROW} per person",
                            row.photos.len()
                        ));
                    }
                }
            }
        }
        if let Some(fields) = meta {
            let value = Value::Object(fields);
            if value.to_string().len() > crate::dossiers::MAX_META_BYTES {
                return Err(format!(
                    "meta: must be at most {} bytes",
                    crate::dossiers::MAX_META_BYTES
                ));
            }
            row.meta = Some(value);
        }
        Ok(row)
    }
}

fn active(cell: &str) -> std::result::Result<Option<bool>, String> {
    Ok(match cell.trim().to_lowercase().as_str() {
        "" => None,
        "true" | "yes" | "1" | "y" => Some(true),
        "false" | "no" | "0" | "n" => Some(false),
        other => return Err(format!("active: must be true or false, got {other:?}")),
    })
}

/// The `;`-separated names of a cell, trimmed, each once.
fn names(cell: &str, column: &str) -> std::result::Result<Vec<String>, String> {
    let mut names: Vec<String> = Vec::new();
    for name in cell.split(';').map(str::trim).filter(|n| !n.is_empty()) {
        let name =
            optional_text(column, name, 256).map_err(|e| format!("{column}: {}", e.message()))?;
        if !names.contains(&name) {
            names.push(name);
        }
    }
    Ok(names)
}

/// A photo's name as a row gives it, made a path inside the photos folder (or the ZIP):
/// `\` read as `/` (a file made on Windows), and refused if it would lead outside it (`..`, a
/// root, a drive).
pub fn photo_name(name: &str) -> std::result::Result<String, String> {
    let unified = name.trim().replace('\\', "/");
    let escapes = || format!("photos: {name:?} leads outside the photos folder");
    if unified.starts_with('/') || unified.get(1..2) == Some(":") {
        return Err(format!(
            "photos: {name:?} is an absolute path; name the file as it is inside the photos folder (or the ZIP)"
        ));
    }
    if unified.contains(':') || unified.contains('\0') {
        return Err(escapes());
    }
    let mut parts = Vec::new();
    for part in unified.split('/') {
        match part {
            "" | "." => {}
            ".." => return Err(escapes()),
            part => parts.push(part),
        }
    }
    if parts.is_empty() {
        return Err(format!("photos: {name:?} is not a file name"));
    }
    Ok(parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn columns(header: &str) -> Columns {
        Columns::parse(&header.split(',').collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn a_header_names_known_columns_once_and_name_among_them() {
        let c = columns("\u{feff}External Key,name,Lists,meta.passport,photos");
        assert!(c.has(&Column::Key) && c.has(&Column::MetaField("passport".into())));
        let refused = |h: &str| {
            Columns::parse(&h.split(',').collect::<Vec<_>>())
                .unwrap_err()
                .message()
                .to_string()
        };
        assert!(refused("name,nmae").contains("\"nmae\""));
        assert!(refused("name,lists,list").contains("twice"));
        assert!(refused("comment,lists").contains("name"));
    }

    #[test]
    fn a_row_says_what_its_dossier_is_to_be() {
        let c = columns("external_key,name,active,lists,meta,meta.case,photos");
        let row = ImportRow::parse(
            &c,
            &[
                " P-1 ",
                " Ann ",
                "no",
                "A; B;A",
                r#"{"born": 1980}"#,
                "C-7",
                "a.jpg;dir\\b.jpg",
            ],
            2,
        )
        .unwrap();
        assert_eq!(row.key.as_deref(), Some("P-1"));
        assert_eq!((row.name.as_str(), row.active), ("Ann", Some(false)));
        assert_eq!(row.lists, ["A", "B"]);
        assert_eq!(
            row.meta.unwrap(),
            serde_json::json!({"born": 1980, "case": "C-7"})
        );
        assert_eq!(row.photos, ["a.jpg", "dir/b.jpg"]);
        assert_eq!(
            row.comment, None,
            "no comment column: the dossier's is kept"
        );
    }

    #[test]
    fn a_bad_row_is_refused_naming_its_column() {
        let c = columns("name,active,meta,photos");
        let why = |cells: &[&str]| ImportRow::parse(&c, cells, 5).unwrap_err();
        assert!(why(&["", "", "", ""]).starts_with("name:"));
        assert!(why(&["A", "maybe", "", ""]).starts_with("active:"));
        assert!(why(&["A", "", "[1]", ""]).starts_with("meta:"));
        assert!(why(&["A", "", "", "../etc/passwd"]).contains("outside"));
        assert!(why(&["A", "", ""]).contains("3 fields where the header has 4"));
    }

    #[test]
    fn photo_names_stay_inside_their_folder() {
        assert_eq!(photo_name("./x/./a.jpg").unwrap(), "x/a.jpg");
        for bad in [
            "../a.jpg",
            "x/../../a.jpg",
            "/etc/passwd",
            "C:\\a.jpg",
            "..\\a.jpg",
            "  ",
        ] {
            assert!(photo_name(bad).is_err(), "{bad}");
        }
    }
}
