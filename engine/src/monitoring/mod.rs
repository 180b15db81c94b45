//! Monitoring, what the replicas are for: cameras post what they see ([`ingest`]), each face is
//! matched against the active dossiers of the active watch lists ([`matching`], through the
//! nearest-neighbour [`index`]), and the outcome is an event, matched or not ([`store`]), in a
//! partition of its day ([`partitions`]). Lists with `acknowledge` wait for an operator; lists
//! with `notify` alert the pages ([`live`]) and the installation's [`webhooks`].

mod background;
pub mod index;
pub mod ingest;
pub mod live;
pub mod matching;
pub mod partitions;
pub mod store;
pub mod webhooks;
