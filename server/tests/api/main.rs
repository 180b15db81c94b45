//! The server's integration tests, one binary: each test gets a fresh PostgreSQL database
//! (`#[sqlx::test]`) and calls the whole server (router, middleware, server functions) through
//! its HTTP interface; replication tests start real servers on free ports.

mod helpers;

mod abuse;
mod access;
mod audit;
mod cameras;
mod dossiers;
mod exports;
mod faces;
mod hits;
mod imports;
mod monitoring;
mod operations;
mod photos;
mod process;
mod property;
mod reference;
mod replication;
mod resilience;
mod scheduler;
mod stops;
mod watch_lists;
