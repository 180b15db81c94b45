use super::*;
use std::sync::atomic::{AtomicU32, Ordering};

/// Passes as fast as it is asked; panics in the passes `panic_on` says; counts its passes and
/// drains in the shared counters.
struct Counting {
    passes: Arc<AtomicU32>,
    drains: Arc<AtomicU32>,
    panic_on: fn(u32) -> bool,
}

impl Worker for Counting {
    const NAME: &'static str = "counting";

    async fn due(&mut self) {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }

    async fn pass(&mut self, _: &Context) {
        let n = self.passes.fetch_add(1, Ordering::SeqCst) + 1;
        if (self.panic_on)(n) {
            panic!("pass {n} fails");
        }
    }

    async fn drain(&mut self, _: &Context) {
        self.drains.fetch_add(1, Ordering::SeqCst);
    }
}

fn counting(panic_on: fn(u32) -> bool) -> (Arc<AtomicU32>, Arc<AtomicU32>, impl Fn() -> Counting) {
    let (passes, drains) = (Arc::new(AtomicU32::new(0)), Arc::new(AtomicU32::new(0)));
    let (p, d) = (passes.clone(), drains.clone());
    let make = move || Counting {
        passes: p.clone(),
        drains: d.clone(),
        panic_on,
    };
    (passes, drains, make)
}

async fn until(what: &str, check: impl Fn() -> bool) {
    for _ in 0..500 {
        if check() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("timed out waiting for {what}");
}

#[tokio::test]
async fn a_panicking_worker_is_counted_and_started_again() {
    let health = Arc::new(Health::default());
    let mut workers = Workers::new(CancellationToken::new(), health.clone());
    let (passes, drains, make) = counting(|n| n == 2);
    workers.start(make);
    until("passes after the restart", || {
        passes.load(Ordering::SeqCst) >= 4
    })
    .await;
    let line = &health.workers()[0];
    assert_eq!((line.name(), line.panics()), ("counting", 1));
    assert!(line
        .since_last_pass()
        .is_some_and(|age| age < Duration::from_secs(5)));
    assert!(workers.stop(Duration::from_secs(5)).await.is_empty());
    assert_eq!(
        drains.load(Ordering::SeqCst),
        1,
        "the worker that runs at the stop drains"
    );
}

/// Never ends its pass, whatever the stop says.
struct Stuck;

impl Worker for Stuck {
    const NAME: &'static str = "stuck";

    async fn due(&mut self) {}

    async fn pass(&mut self, _: &Context) {
        std::future::pending::<()>().await;
    }
}

#[tokio::test]
async fn a_stop_waits_for_drains_within_its_bound_and_names_what_it_cut() {
    let health = Arc::new(Health::default());
    let stop = CancellationToken::new();
    let mut workers = Workers::new(stop.clone(), health.clone());
    let (_, drains, make) = counting(|_| false);
    workers.start(make);
    workers.start(|| Stuck);
    tokio::time::sleep(Duration::from_millis(50)).await;
    let started = std::time::Instant::now();
    let cut = workers.stop(Duration::from_millis(300)).await;
    assert_eq!(cut, vec!["stuck"]);
    assert!(started.elapsed() < Duration::from_secs(2));
    assert!(stop.is_cancelled());
    assert_eq!(drains.load(Ordering::SeqCst), 1);
}
