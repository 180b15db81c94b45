//! The advisory locks the engine takes, named in one place (the SQL side names their classes
//! in the migrations: `dossier_lock_class(name)`).
//!
//! - A replica's **run claim**: `pg_try_advisory_lock(replica id)`, the full bigint id, held by
//!   a connection of the run's own; it dies with the process that holds it.
//! - The Leader's **feed writers** lock: class `feed_writers` in the two-integer key space,
//!   which PostgreSQL keeps apart from the bigint one, so no replica id can collide with it.
//! - A day's **events partition** being made or dropped: class `events_partitions`.
//! - A **webhook sender's life**: class `webhook_sender` with the sender's lease owner id, held
//!   on a connection of its own; a delivery leased by an owner nobody holds is free again.

/// Takes a replica's run claim unless another session holds it; returns whether it did.
pub const TRY_CLAIM_REPLICA: &str = "SELECT pg_try_advisory_lock($1::bigint)";

/// Waits for the revision writers in flight; held until the transaction ends.
pub const FEED_WRITERS_EXCLUSIVE: &str =
    "SELECT pg_advisory_xact_lock(dossier_lock_class('feed_writers'), 0)";

/// Making or dropping a day's partition of events, until the transaction ends.
pub const EVENTS_PARTITIONS: &str =
    "SELECT pg_advisory_xact_lock(dossier_lock_class('events_partitions'), 0)";

/// Takes the lease owner id `$1` for this session's webhook sender unless another session
/// holds it; returns whether it did.
pub const TRY_CLAIM_SENDER: &str =
    "SELECT pg_try_advisory_lock(dossier_lock_class('webhook_sender'), $1::int)";

/// Advisory locks belong to a database, but `pg_locks` shows every database's: another
/// installation on the same PostgreSQL (a Leader beside its Subscriber, the tests' databases)
/// holds the same keys for its own replicas and senders.
const IN_THIS_DATABASE: &str =
    "l.database = (SELECT oid FROM pg_database WHERE datname = current_database())";

/// A condition on `pg_locks l` that holds when some session has the claim of replica `$id`
/// (a SQL expression of type bigint). A bigint key shows as classid (high half), objid (low
/// half) and objsubid 1.
pub fn claim_held(replica_id: &str) -> String {
    format!(
        "l.locktype = 'advisory' AND l.objsubid = 1 AND l.granted AND {IN_THIS_DATABASE}
         AND ((l.classid::bigint << 32) | l.objid::bigint) = {replica_id}"
    )
}

/// A condition on `pg_locks l` that holds when a live session is the webhook sender `owner`
/// (an SQL expression of type integer). Two integer keys show as classid, objid and objsubid 2.
pub fn sender_alive(owner: &str) -> String {
    format!(
        "l.locktype = 'advisory' AND l.objsubid = 2 AND l.granted AND {IN_THIS_DATABASE}
         AND l.classid = dossier_lock_class('webhook_sender')::oid AND l.objid = ({owner})::oid"
    )
}
