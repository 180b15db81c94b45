//! Work the server does for itself, below the priority of what it does for users.

use crate::error::{Error, Result};

/// Runs `work` (a build) on a thread of its own at a lower CPU priority than the server's
/// workers and the database's backends, so that under load it takes what they leave; the threads
/// it starts inherit the priority. (Not on the blocking pool: a thread's priority, once lowered,
/// cannot be raised again without privileges, and the pool reuses its threads.)
pub async fn in_background<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T> {
    let (done, result) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("face-index-build".into())
        .spawn(move || {
            lower_priority(BUILD_NICE);
            let _ = done.send(work());
        })
        .map_err(|e| {
            tracing::error!(error = %e, "cannot start the face index's build thread");
            Error::internal()
        })?;
    result.await.map_err(|_| Error::internal())
}

/// Lowers the calling thread's CPU priority to `nice` (10: about a tenth of a core's share
/// against a busy thread at the default priority). On Linux a thread's nice value is its own.
pub(crate) fn lower_priority(nice: i32) {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: setpriority and gettid only read their integer arguments.
        let failed =
            unsafe { libc::setpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t, nice) }
                != 0;
        if failed {
            tracing::debug!(nice, "cannot lower a background thread's priority");
        }
    }
}

/// The nice value of index builds.
const BUILD_NICE: i32 = 10;
