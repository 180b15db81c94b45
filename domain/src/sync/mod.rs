//! Replication of watch lists from a Leader to Subscribers.
//!
//! Outside (what the app and the server see): the wire types (`protocol`), the Leader's feed
//! (`feed`), the Subscriber's replicas (`replicas`), the scheduler that runs them
//! (`scheduler`, rung through `bell`), and the read-only policy for replicated lists (`guard`).
//! Inside, the data of one run flows one way: the Leader's `feed` → the Subscriber's `client`
//! → `run` (claim, `preflight` checks, page loop, finish) → `fetch` (pages and missing images)
//! → `apply` (one transaction per page, with the run's progress) → the stores (`images`,
//! dossiers); `restore` puts back what was deleted here, `verify` compares digests at the end,
//! and `hold` keeps a run the preflight stopped until an Administrator decides. The protocol is pull-only, so a killed run resumes after the
//! last page it committed, and a run ends by moving the cursor to the watermark.

#[cfg(feature = "store")]
mod apply;
#[cfg(feature = "store")]
pub mod bell;
#[cfg(feature = "store")]
pub mod client;
#[cfg(feature = "store")]
pub mod error;
#[cfg(feature = "store")]
pub mod feed;
#[cfg(feature = "store")]
mod fetch;
#[cfg(feature = "store")]
pub mod frames;
#[cfg(feature = "store")]
pub mod guard;
#[cfg(feature = "store")]
pub mod history;
#[cfg(feature = "store")]
pub mod hold;
#[cfg(feature = "store")]
pub mod locks;
#[cfg(feature = "store")]
mod preflight;
mod protocol;
#[cfg(feature = "store")]
pub mod replicas;
#[cfg(feature = "store")]
pub mod restore;
#[cfg(feature = "store")]
pub mod run;
#[cfg(feature = "store")]
pub mod schedule;
#[cfg(feature = "store")]
pub mod scheduler;
mod token;
#[cfg(feature = "store")]
mod verify;

pub use protocol::*;
pub use token::SyncToken;
