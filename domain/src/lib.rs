//! The dossier database's domain: what watch lists, dossiers, photos, users, events and replicas
//! are, how their input is checked, what Leader and Subscriber say to each other, and the one
//! error type every side speaks. It builds for the browser too: the islands and the server
//! functions' arguments are made of these types. The stores, the images and the workers are the
//! `engine`'s; Leptos and HTTP routing are the `app`'s and the `server`'s.
//!
//! A module per domain concept, each owning its types and their checks. `error`, `input`,
//! `text`, `time` and `face_box` are the leaves the others build on.

pub mod access;
pub mod audit;
pub mod bytes;
pub mod cameras;
pub mod dossiers;
pub mod error;
pub mod face_box;
pub mod faces;
pub mod hits;
pub mod imports;
pub mod input;
pub mod logins;
pub mod monitoring;
pub mod photos;
pub mod similarity;
pub mod sync;
pub mod text;
pub mod time;
pub mod users;
pub mod watch_lists;

pub use error::{Error, Result};
