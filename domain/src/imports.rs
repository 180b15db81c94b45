//! Bulk imports: a CSV of people, a row per dossier, read against its header. What a row must
//! hold, and what an import is as the page and the API show it. Reading the file, the photos
//! and the writes are the engine's (`engine::imports`).

mod rows;

pub use rows::{photo_name, Column, Columns, ImportRow};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The most rows one file may hold: more is split into several files.
pub const MAX_ROWS: u64 = 1_000_000;

/// Where an import is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ImportState {
    /// Waiting for the import before it to end.
    Queued,
    Running,
    Done,
    /// The file could not be used at all (see `error`); nothing of it was written.
    Failed,
}

impl ImportState {
    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "queued" => Self::Queued,
            "running" => Self::Running,
            "done" => Self::Done,
            "failed" => Self::Failed,
            _ => return None,
        })
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Running => "running",
            Self::Done => "done",
            Self::Failed => "failed",
        }
    }
}

/// One import, with its counts so far.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Import {
    pub id: i64,
    /// `folder` (the command line) or `zip` (an upload).
    pub source: String,
    pub file_name: String,
    /// Who started it.
    pub started_by: String,
    pub state: ImportState,
    /// A `running` import that nobody is running (its process was stopped): the same command
    /// (or, for an upload, the server's next start) resumes it.
    pub interrupted: bool,
    pub error: Option<String>,
    pub create_lists: bool,
    pub default_list: Option<String>,
    /// The file's rows (known once it has been read through).
    pub rows_total: Option<i64>,
    pub rows_done: i64,
    pub created: i64,
    pub updated: i64,
    /// Rows whose dossier already held everything the row says.
    pub unchanged: i64,
    /// Rows refused, each in the report with its line and reason.
    pub refused: i64,
    /// Photos added.
    pub photos: i64,
    pub lists_created: Vec<String>,
    #[serde(deserialize_with = "crate::time::rfc3339")]
    pub started_at: DateTime<Utc>,
    #[serde(default, deserialize_with = "crate::time::rfc3339_option")]
    pub finished_at: Option<DateTime<Utc>>,
}

impl Import {
    /// How far along it is, 0 to 100, once the file's length is known.
    pub fn percent(&self) -> Option<u32> {
        let total = self.rows_total?;
        if total <= 0 {
            return Some(100);
        }
        Some(((self.rows_done.min(total) * 100) / total) as u32)
    }

    pub fn finished(&self) -> bool {
        matches!(self.state, ImportState::Done | ImportState::Failed)
    }
}

/// A refused row: where it is in the file and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Refusal {
    /// The row's first line in the file (the header is line 1).
    pub line: i64,
    pub external_key: Option<String>,
    pub name: Option<String>,
    pub reason: String,
}

/// How an import is asked for, beside its file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportOptions {
    /// Lists the rows name that do not exist are created (else those rows are refused).
    pub create_lists: bool,
    /// A list every row joins, besides those its `lists` name.
    pub default_list: Option<String>,
}

impl ImportOptions {
    pub fn parse(create_lists: bool, default_list: &str) -> crate::Result<Self> {
        let list = crate::input::optional_text("list", default_list, 256)?;
        Ok(Self {
            create_lists,
            default_list: (!list.is_empty()).then_some(list),
        })
    }
}
