//! Reading an import's CSV: the header, then rows a batch at a time, each checked
//! (`domain::imports::ImportRow`) or refused with its line. Blocking: the run reads a batch
//! on the blocking pool.

use crate::error::{Error, Result};
use domain::imports::{Columns, ImportRow, Refusal, MAX_ROWS};
use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;

/// A row as read: to import, or refused.
pub enum Read {
    Row(ImportRow),
    Refused(Refusal),
}

/// A CSV open past its header.
pub struct CsvFile {
    reader: csv::Reader<File>,
    pub columns: Columns,
    /// Rows read so far (imported, refused or skipped).
    pub rows: u64,
    /// Each external key met so far, with its row's line: a key twice in one file is refused
    /// the second time.
    keys: HashMap<String, u64>,
    record: csv::ByteRecord,
}

/// The file's delimiter: `,`, or `;` when the header holds semicolons and no comma (what a
/// spreadsheet set to a European locale writes).
fn delimiter(path: &Path) -> Result<u8> {
    let mut first = String::new();
    let file =
        File::open(path).map_err(|e| Error::invalid("file", format!("cannot be read: {e}")))?;
    BufReader::new(std::io::Read::take(file, 64 * 1024))
        .read_line(&mut first)
        .map_err(|_| {
            Error::invalid(
                "file",
                "its first line is not UTF-8 text (save it as CSV UTF-8)",
            )
        })?;
    Ok(if !first.contains(',') && first.contains(';') {
        b';'
    } else {
        b','
    })
}

impl CsvFile {
    /// Opens the file and reads its header; a file without a usable header is refused whole.
    pub fn open(path: &Path) -> Result<Self> {
        let delimiter = delimiter(path)?;
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .delimiter(delimiter)
            .from_path(path)
            .map_err(|e| Error::invalid("file", format!("cannot be read: {e}")))?;
        let mut record = csv::ByteRecord::new();
        let read = reader
            .read_byte_record(&mut record)
            .map_err(|e| Error::invalid("file", format!("cannot be read as CSV: {e}")))?;
        if !read {
            return Err(Error::invalid(
                "file",
                "is empty: its first line must name the columns",
            ));
        }
        let header: Vec<&str> = record
            .iter()
            .map(std::str::from_utf8)
            .collect::<std::result::Result<_, _>>()
            .map_err(|_| {
                Error::invalid("header", "is not UTF-8 text (save the file as CSV UTF-8)")
            })?;
        let columns = Columns::parse(&header)?;
        Ok(Self {
            reader,
            columns,
            rows: 0,
            keys: HashMap::new(),
            record,
        })
    }

    /// Counts the rows after the header (a pass of its own, for the progress).
    pub fn count(path: &Path) -> Result<u64> {
        let mut file = Self::open(path)?;
        let mut n = 0;
        while file.next_record()? {
            n += 1;
        }
        if n > MAX_ROWS {
            return Err(Error::invalid(
                "file",
                format!("holds {n} rows; at most {MAX_ROWS} are imported from one file (split it)"),
            ));
        }
        Ok(n)
    }

    fn next_record(&mut self) -> Result<bool> {
        self.reader
            .read_byte_record(&mut self.record)
            .map_err(|e| Error::invalid("file", format!("cannot be read as CSV: {e}")))
    }

    /// Reads past the first `rows` rows (those a killed run wrote already), noting their keys.
    pub fn skip(&mut self, rows: u64) -> Result<()> {
        while self.rows < rows && self.next_record()? {
            self.rows += 1;
            let line = self.line();
            if let Ok(cells) = self.cells() {
                if let (Some(key), _) = self.columns.identity(&cells) {
                    self.keys.entry(key).or_insert(line);
                }
            }
        }
        Ok(())
    }

    fn line(&self) -> u64 {
        self.record.position().map_or(0, |p| p.line())
    }

    fn cells(&self) -> std::result::Result<Vec<&str>, String> {
        self.record
            .iter()
            .map(std::str::from_utf8)
            .collect::<std::result::Result<_, _>>()
            .map_err(|_| "is not UTF-8 text (save the file as CSV UTF-8)".to_string())
    }

    /// The next rows, until `max_rows` are read or they name `max_photos` photos.
    pub fn next_batch(&mut self, max_rows: usize, max_photos: usize) -> Result<Vec<Read>> {
        let mut batch = Vec::new();
        let mut photos = 0;
        while batch.len() < max_rows && photos < max_photos && self.next_record()? {
            self.rows += 1;
            let read = self.read_row();
            if let Read::Row(row) = &read {
                photos += row.photos.len();
            }
            batch.push(read);
        }
        Ok(batch)
    }

    fn read_row(&mut self) -> Read {
        let line = self.line();
        let refused = |cells: Option<&[&str]>, reason: String| {
            let (external_key, name) = cells.map(|c| self.columns.identity(c)).unwrap_or_default();
            Read::Refused(Refusal {
                line: line as i64,
                external_key,
                name,
                reason,
            })
        };
        let cells = match self.cells() {
            Ok(cells) => cells,
            Err(reason) => return refused(None, reason),
        };
        let row = match ImportRow::parse(&self.columns, &cells, line) {
            Ok(row) => row,
            Err(mut reason) => {
                // The line break ending the file is inside an open quote too; it is no row.
                let trailing = cells.last().is_some_and(|c| c.ends_with('\n'));
                let lines = cells.iter().map(|c| c.matches('\n').count()).sum::<usize>()
                    - usize::from(trailing);
                if cells.len() != self.columns.len() && lines > 0 {
                    reason.push_str(&format!(
                        ": a quote is left open, so the row runs over {} lines (to line {})",
                        lines + 1,
                        line + lines as u64
                    ));
                }
                return refused(Some(&cells), reason);
            }
        };
        if let Some(key) = &row.key {
            if let Some(first) = self.keys.get(key) {
                return refused(
                    Some(&cells),
                    format!("external_key: {key:?} is also on line {first}; that row is the one imported"),
                );
            }
            self.keys.insert(key.clone(), line);
        }
        Read::Row(row)
    }
}
