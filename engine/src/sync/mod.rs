//! Replication of watch lists from a Leader to Subscribers.
//!
//! Outside (what the app and the server see): the Leader's feed (`feed`), the Subscriber's
//! replicas (`replicas`), the scheduler that runs them (`scheduler`, rung through `bell`), and
//! the read-only policy for replicated lists (`guard`). Inside, the data of one run flows one
//! way: the Leader's `feed` → the Subscriber's `client` → `run` (claim, `preflight` checks,
//! page loop, finish) → `fetch` (pages and missing images) → `apply` (one transaction per page,
//! with the run's progress) → the stores (`images`, dossiers); `restore` puts back what was
//! deleted here, `verify` compares digests at the end, and `hold` keeps a run the preflight
//! stopped until an Administrator decides. The protocol is pull-only, so a killed run resumes
//! after the last page it committed, and a run ends by moving the cursor to the watermark.

mod apply;
pub mod bell;
pub mod client;
pub mod error;
pub mod feed;
mod fetch;
pub mod frames;
pub mod guard;
pub mod history;
pub mod hold;
pub mod locks;
mod preflight;
pub mod replicas;
pub mod restore;
pub mod run;
pub mod schedule;
pub mod scheduler;
mod token;
mod verify;

pub use domain::sync::*;
pub use token::SyncToken;
