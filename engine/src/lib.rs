//! The dossier database's engine: every store (the SQL of watch lists, dossiers, photos,
//! images, accounts, events and replicas), replication (the Leader's feed, the Subscriber's
//! runs and their scheduler), monitoring (ingest, matching, the face index, webhooks), the
//! faces, and every background worker. It knows nothing of Leptos or of HTTP routing: the web
//! app (`app`) and the binary (`server`) are adapters over it.

pub mod audit;
pub mod auth;
pub mod backoff;
pub mod demo;
pub mod dossiers;
pub mod error;
pub mod faces;
pub mod housekeeping;
pub mod images;
pub mod installation;
pub mod monitoring;
pub mod photos;
pub mod sync;
pub mod users;
pub mod watch_lists;
pub mod workers;

pub use error::{Error, OnConstraint, Result};
pub use installation::{Installation, Settings, SyncSettings};
