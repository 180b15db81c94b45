//! Webhooks in PostgreSQL ([`store`]: the webhooks, their deliveries, written with the event)
//! and the worker that sends the deliveries ([`sender`]).

pub mod sender;
pub mod store;
