//! The advisory locks replication takes, named in one place (the SQL side names them in the
//! migration `lock_keys`: `dossier_lock_class(name)`).
//!
//! - A replica's **run claim**: `pg_try_advisory_lock(replica id)`, the full bigint id, held by
//!   a connection of the run's own; it dies with the process that holds it.
//! - The Leader's **feed writers** lock: class `feed_writers` in the two-integer key space,
//!   which PostgreSQL keeps apart from the bigint one, so no replica id can collide with it.

/// Takes a replica's run claim unless another session holds it; returns whether it did.
pub const TRY_CLAIM_REPLICA: &str = "SELECT pg_try_advisory_lock($1::bigint)";

/// Waits for the revision writers in flight; held until the transaction ends.
pub const FEED_WRITERS_EXCLUSIVE: &str =
    "SELECT pg_advisory_xact_lock(dossier_lock_class('feed_writers'), 0)";

/// A condition on `pg_locks l` that holds when some session has the claim of replica `$id`
/// (a SQL expression of type bigint). A bigint key shows as classid (high half), objid (low
/// half) and objsubid 1.
pub fn claim_held(replica_id: &str) -> String {
    format!(
        "l.locktype = 'advisory' AND l.objsubid = 1 AND l.granted
         AND ((l.classid::bigint << 32) | l.objid::bigint) = {replica_id}"
    )
}
