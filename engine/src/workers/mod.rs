//! The one runtime every background loop runs under: the replication scheduler, the webhook
//! sender, the face index's refresh, the housekeeping, and whatever comes next.
//!
//! A [`Worker`] says when its next pass is due and what a pass does; the runtime does the
//! rest, the same way for each: a tracing span per pass, the time of the last pass and the
//! panics per worker (`/metrics`: [`Health`]), a panic caught, logged and counted, and the
//! worker made anew and started again after a [`Backoff`]. At a stop ([`Workers::stop`]) every
//! worker's current pass is told to end its step (the stop token), its work in flight is let
//! finish in [`Worker::drain`] (a sync page, a webhook delivery, the face index saved), within
//! one bound for all; what is still running then is cut, and said so in the log.

mod health;

pub use health::{Health, WorkerHealth};

use crate::backoff::Backoff;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

/// How long a worker that panicked waits before it starts again: a worker that panics on
/// every pass cannot spin, and one that recovered is back within a second.
const RESTART: Backoff = Backoff::doubling(Duration::from_secs(1), Duration::from_secs(60));

/// A background loop, as the runtime drives it: wait until due, run a pass, again, until the
/// installation stops; then drain.
pub trait Worker: Send + 'static {
    /// What the worker is called in logs, spans and `/metrics`.
    const NAME: &'static str;

    /// Waits until the next pass is due (its timer, its bell, a job of its own ending). At a
    /// stop the runtime stops waiting by itself.
    fn due(&mut self) -> impl Future<Output = ()> + Send;

    /// One pass. A pass that takes long (a replication run) watches `context.stop` and ends
    /// its current step when it is cancelled.
    fn pass(&mut self, context: &Context) -> impl Future<Output = ()> + Send;

    /// After the last pass, when the installation stops: lets the work in flight end and
    /// saves what must survive the stop. The runtime bounds it.
    fn drain(&mut self, _context: &Context) -> impl Future<Output = ()> + Send {
        async {}
    }
}

/// What a worker's passes get from the runtime.
#[derive(Clone)]
pub struct Context {
    /// Cancelled when the installation stops.
    pub stop: CancellationToken,
    /// The worker's own line in `/metrics`: its jobs' panics are counted here too.
    pub health: Arc<WorkerHealth>,
}

/// The installation's workers, each under its supervisor, and the token that stops them.
pub struct Workers {
    tasks: JoinSet<()>,
    stop: CancellationToken,
    health: Arc<Health>,
}

impl Workers {
    /// A runtime whose workers stop when `stop` is cancelled, reporting to `health`.
    pub fn new(stop: CancellationToken, health: Arc<Health>) -> Self {
        Self {
            tasks: JoinSet::new(),
            stop,
            health,
        }
    }

    /// Starts a worker made by `make`, under a supervisor that makes it anew after a panic.
    pub fn start<W: Worker>(&mut self, make: impl Fn() -> W + Send + Sync + 'static) {
        let context = Context {
            stop: self.stop.clone(),
            health: self.health.register(W::NAME),
        };
        self.tasks.spawn(supervise(make, context));
    }

    /// Stops every worker: passes end their step, drains run, all within `bound`; whatever is
    /// still running then is aborted and named in the log. Returns the workers cut short.
    pub async fn stop(mut self, bound: Duration) -> Vec<&'static str> {
        self.stop.cancel();
        let deadline = tokio::time::Instant::now() + bound;
        loop {
            match tokio::time::timeout_at(deadline, self.tasks.join_next()).await {
                Ok(Some(_)) => {}
                Ok(None) => return Vec::new(),
                Err(_) => break,
            }
        }
        let cut = self.health.running();
        tracing::warn!(
            workers = ?cut,
            seconds = bound.as_secs(),
            "workers still busy at the end of the stop's bound; cut short (their work resumes at the next start)"
        );
        self.tasks.shutdown().await;
        cut
    }
}

/// Runs the worker `make` makes until the stop; a panic is logged and counted, and after a
/// backoff a new worker takes over.
async fn supervise<W: Worker>(make: impl Fn() -> W + Send + Sync + 'static, context: Context) {
    let mut panics_in_a_row = 0;
    loop {
        let passes_before = context.health.passes();
        let run = tokio::spawn(run(make(), context.clone()));
        match run.await {
            Err(e) if e.is_panic() => {
                context.health.count_panic();
                tracing::error!(
                    worker = W::NAME,
                    panic = %panic_message(e.into_panic()),
                    "a worker panicked; starting it again"
                );
                if context.health.passes() > passes_before {
                    panics_in_a_row = 0;
                }
                panics_in_a_row += 1;
                tokio::select! {
                    _ = context.stop.cancelled() => break,
                    _ = tokio::time::sleep(RESTART.after(panics_in_a_row)) => {}
                }
            }
            _ => break,
        }
    }
    context.health.stopped();
}

async fn run<W: Worker>(mut worker: W, context: Context) {
    context.health.started();
    loop {
        tokio::select! {
            biased;
            _ = context.stop.cancelled() => break,
            _ = worker.due() => {}
        }
        let span = tracing::info_span!("worker_pass", worker = W::NAME);
        worker.pass(&context).instrument(span).await;
        context.health.passed();
        if context.stop.is_cancelled() {
            break;
        }
    }
    let span = tracing::info_span!("worker_drain", worker = W::NAME);
    worker.drain(&context).instrument(span).await;
}

/// The text of a panic's payload.
pub fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".into())
}

#[cfg(test)]
mod tests;
