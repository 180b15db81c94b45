//! The dossier database's domain: what watch lists, dossiers, photos, users and replicas are,
//! how their input is checked, and (feature `store`, on by default) their SQL, the images, the
//! accounts and the replication engine. It knows nothing of Leptos or of HTTP routing: the web
//! app (`app`) and the binary (`server`) are thin adapters over it.
//!
//! Each domain concept is a module owning its types, with its SQL in a `store` submodule.

pub mod access;
pub mod audit;
#[cfg(feature = "store")]
pub mod auth;
pub mod dossiers;
pub mod error;
pub mod faces;
#[cfg(feature = "store")]
pub mod images;
pub mod input;
#[cfg(feature = "store")]
pub mod installation;
pub mod logins;
#[cfg(feature = "store")]
pub mod maintenance;
pub mod monitoring;
pub mod photos;
pub mod sync;
pub mod time;
pub mod users;
pub mod watch_lists;

pub use error::{Error, Result};
#[cfg(feature = "store")]
pub use installation::{Installation, Settings, SyncSettings};
