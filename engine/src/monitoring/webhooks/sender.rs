//! Sends the deliveries: a worker of its own, so that a slow or dead receiver never slows
//! ingest. A delivery's attempt is claimed with a lease of this process (so two server
//! processes never send it both), posted with a timeout, and counted when it ends; on failure
//! it is tried again later, each wait twice the last, until [`MAX_ATTEMPTS`]. A lease names its
//! holder, which proves it is alive by an advisory lock (`locks::TRY_CLAIM_SENDER`): the
//! deliveries of a process that died are taken up on their schedule, not after the lease.
//! At a stop, no new attempt starts and the attempts in flight finish.

use super::store::sign;
use crate::backoff::Backoff;
use crate::error::Result;
use crate::locks;
use crate::workers::{Context, Worker};
use domain::monitoring::webhooks::{MAX_ATTEMPTS, SIGNATURE_HEADER};
use sqlx::pool::PoolConnection;
use sqlx::{PgPool, Postgres};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Notify, Semaphore};
use tokio::task::JoinSet;
use tracing::Instrument;

/// Longest wait for a receiver's answer.
const TIMEOUT: Duration = Duration::from_secs(10);
/// A claimed delivery is nobody else's for this long while its holder lives (longer than any
/// attempt takes): a holder that hangs without dying gives it up after this.
const LEASE_SECONDS: f64 = 60.0;
/// Deliveries in flight at once.
const IN_FLIGHT: usize = 16;
/// The first retry waits 5 s; each next one twice as long, up to an hour.
pub const RETRY: Backoff = Backoff::doubling(Duration::from_secs(5), Duration::from_secs(3600));
/// How often due deliveries are looked for when nothing rings.
const TICK: Duration = Duration::from_secs(1);

/// The webhook sender, as a worker.
pub struct Sender {
    pool: PgPool,
    bell: Arc<Notify>,
    client: Option<reqwest::Client>,
    slots: Arc<Semaphore>,
    in_flight: JoinSet<()>,
    /// This process's lease owner id and the connection whose advisory lock proves it alive.
    owner: Option<(i32, PoolConnection<Postgres>)>,
}

impl Sender {
    /// A sender over `pool`, woken early by `bell` when deliveries are written.
    pub fn new(pool: PgPool, bell: Arc<Notify>) -> Self {
        let client = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .user_agent(concat!("dossier-webhooks/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(
                |e| tracing::error!(error = %e, "cannot make the webhook client; webhooks are off"),
            )
            .ok();
        Self {
            pool,
            bell,
            client,
            slots: Arc::new(Semaphore::new(IN_FLIGHT)),
            in_flight: JoinSet::new(),
            owner: None,
        }
    }

    /// This process's lease owner id, taken on first use (and again if its connection broke).
    async fn owner(&mut self) -> Result<i32> {
        if let Some((id, connection)) = &mut self.owner {
            let alive = sqlx::query("SELECT 1")
                .execute(&mut **connection)
                .await
                .is_ok();
            if alive {
                return Ok(*id);
            }
            self.owner = None;
        }
        let mut connection = self.pool.acquire().await?;
        loop {
            // Positive, so that it reads the same as the lock's unsigned objid.
            let id = (rand_u32() >> 1).max(1) as i32;
            let taken: bool = sqlx::query_scalar(locks::TRY_CLAIM_SENDER)
                .bind(id)
                .fetch_one(&mut *connection)
                .await?;
            if taken {
                self.owner = Some((id, connection));
                return Ok(id);
            }
        }
    }

    /// Claims as many due deliveries as there are free slots and sends each as a job of its
    /// own.
    async fn send_due(&mut self) -> Result<()> {
        let Some(client) = self.client.clone() else {
            return Ok(());
        };
        let free = self.slots.available_permits() as i64;
        if free == 0 {
            return Ok(());
        }
        let owner = self.owner().await?;
        let claimed = sqlx::query(&format!(
            r#"UPDATE webhook_deliveries d
                  SET leased_by = $3, leased_until = now() + make_interval(secs => $2)
                 FROM webhooks w
                WHERE w.id = d.webhook_id
                  AND d.id IN (
                      SELECT q.id FROM webhook_deliveries q JOIN webhooks h ON h.id = q.webhook_id
                       WHERE q.state = 'pending' AND q.next_attempt_at <= now() AND h.active
                         AND (q.leased_until IS NULL OR q.leased_until < now()
                              OR NOT EXISTS (SELECT 1 FROM pg_locks l WHERE {}))
                       ORDER BY q.next_attempt_at LIMIT $1 FOR UPDATE OF q SKIP LOCKED)
            RETURNING d.id, d.attempts, d.body, w.url, w.secret"#,
            locks::sender_alive("q.leased_by")
        ))
        .bind(free)
        .bind(LEASE_SECONDS)
        .bind(owner)
        .fetch_all(&self.pool)
        .await?;
        for row in claimed {
            use sqlx::Row;
            let delivery = Claimed {
                id: row.try_get("id")?,
                attempts: row.try_get("attempts")?,
                body: row.try_get("body")?,
                url: row.try_get("url")?,
                secret: row.try_get("secret")?,
            };
            let Ok(permit) = self.slots.clone().acquire_owned().await else {
                return Ok(());
            };
            let (pool, client) = (self.pool.clone(), client.clone());
            let span = tracing::info_span!("webhook_delivery", delivery = delivery.id);
            self.in_flight.spawn(
                async move {
                    deliver(&pool, &client, delivery).await;
                    drop(permit);
                }
                .instrument(span),
            );
        }
        Ok(())
    }

    /// Books the attempts that ended; a panic in one is counted as the worker's.
    fn book(&mut self, context: &Context) {
        while let Some(ended) = self.in_flight.try_join_next() {
            if let Err(e) = ended {
                if e.is_panic() {
                    context.health.count_panic();
                    tracing::error!(panic = %crate::workers::panic_message(e.into_panic()), "a webhook delivery panicked");
                }
            }
        }
    }
}

impl Worker for Sender {
    const NAME: &'static str = "webhook-sender";

    async fn due(&mut self) {
        tokio::select! {
            _ = self.bell.notified() => {}
            _ = tokio::time::sleep(TICK) => {}
        }
    }

    async fn pass(&mut self, context: &Context) {
        self.book(context);
        if let Err(e) = self.send_due().await {
            tracing::warn!(error = %e, "cannot send webhook deliveries; retrying");
        }
    }

    /// The attempts in flight finish (each within its timeout) and are recorded.
    async fn drain(&mut self, context: &Context) {
        while let Some(ended) = self.in_flight.join_next().await {
            if let Err(e) = ended {
                if e.is_panic() {
                    context.health.count_panic();
                }
            }
        }
    }
}

/// A delivery claimed for one attempt.
struct Claimed {
    id: i64,
    /// Attempts before this one.
    attempts: i32,
    body: String,
    url: String,
    secret: String,
}

/// One attempt, and its outcome recorded.
async fn deliver(pool: &PgPool, client: &reqwest::Client, delivery: Claimed) {
    let outcome = client
        .post(&delivery.url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header(
            SIGNATURE_HEADER,
            sign(&delivery.secret, delivery.body.as_bytes()),
        )
        .header("X-Dossier-Delivery", delivery.id.to_string())
        .body(delivery.body)
        .send()
        .await;
    let (status, error) = match outcome {
        Ok(r) if r.status().is_success() => (Some(r.status().as_u16() as i32), None),
        Ok(r) => (
            Some(r.status().as_u16() as i32),
            Some(format!("the receiver answered {}", r.status())),
        ),
        Err(e) if e.is_timeout() => (
            None,
            Some(format!("no answer within {}s", TIMEOUT.as_secs())),
        ),
        Err(e) => (
            None,
            Some(format!(
                "cannot reach the receiver: {}",
                crate::error::request_failure(e)
            )),
        ),
    };
    let attempts = delivery.attempts + 1;
    if let Err(e) = record(pool, delivery.id, attempts, status, error).await {
        tracing::warn!(error = %e, delivery = delivery.id, "cannot record a webhook delivery");
    }
}

/// Records the `attempts`-th attempt's outcome and frees the lease.
async fn record(
    pool: &PgPool,
    id: i64,
    attempts: i32,
    status: Option<i32>,
    error: Option<String>,
) -> Result<()> {
    match error {
        None => {
            sqlx::query!(
                "UPDATE webhook_deliveries SET state = 'delivered', delivered_at = now(),
                        attempts = $3, last_status = $2, last_error = NULL,
                        leased_by = NULL, leased_until = NULL
                 WHERE id = $1",
                id,
                status,
                attempts
            )
            .execute(pool)
            .await?;
        }
        Some(error) => {
            let state = if attempts >= MAX_ATTEMPTS {
                "failed"
            } else {
                "pending"
            };
            sqlx::query!(
                "UPDATE webhook_deliveries SET state = $2, attempts = $6, last_status = $3,
                        last_error = $4, next_attempt_at = now() + make_interval(secs => $5),
                        leased_by = NULL, leased_until = NULL
                 WHERE id = $1",
                id,
                state,
                status,
                error,
                RETRY.after(attempts as u32).as_secs_f64(),
                attempts
            )
            .execute(pool)
            .await?;
        }
    }
    Ok(())
}

/// A random number from the operating system's generator (for the lease owner id).
fn rand_u32() -> u32 {
    use argon2::password_hash::rand_core::{OsRng, RngCore};
    OsRng.next_u32()
}

#[cfg(test)]
mod tests {
    #[test]
    fn retries_wait_twice_as_long_each_time() {
        let backoff = |attempts: i32| super::RETRY.after(attempts as u32);
        assert_eq!(backoff(1).as_secs(), 5);
        assert_eq!(backoff(2).as_secs(), 10);
        assert_eq!(backoff(4).as_secs(), 40);
        assert_eq!(backoff(30).as_secs(), 3600);
    }
}
