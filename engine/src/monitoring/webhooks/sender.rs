//! Sends the deliveries: a worker of its own, so that a slow or dead receiver never slows
//! ingest. A delivery is claimed with a lease (so two server processes never send it both),
//! posted with a timeout, and on failure tried again later, each wait twice the last, until
//! [`MAX_ATTEMPTS`](super::MAX_ATTEMPTS).

use super::store::sign;
use crate::error::Result;
use crate::Installation;
use domain::monitoring::webhooks::{MAX_ATTEMPTS, SIGNATURE_HEADER};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;

/// Longest wait for a receiver's answer.
const TIMEOUT: Duration = Duration::from_secs(10);
/// A claimed delivery is nobody else's for this long (longer than any attempt takes).
const LEASE_SECONDS: f64 = 60.0;
/// Deliveries in flight at once.
const IN_FLIGHT: usize = 16;
/// The first retry waits this long; each next one twice as long, up to an hour.
const FIRST_RETRY_SECONDS: f64 = 5.0;

/// How long to wait before attempt `attempts + 1`.
pub fn backoff(attempts: i32) -> Duration {
    let doubled = FIRST_RETRY_SECONDS * 2f64.powi(attempts.clamp(1, 20) - 1);
    Duration::from_secs_f64(doubled.min(3600.0))
}

/// Sends due deliveries for the life of the server.
pub fn spawn(inst: Installation) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let client = match reqwest::Client::builder()
            .timeout(TIMEOUT)
            .user_agent(concat!("dossier-webhooks/", env!("CARGO_PKG_VERSION")))
            .build()
        {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(error = %e, "cannot make the webhook client; webhooks are off");
                return;
            }
        };
        let slots = Arc::new(Semaphore::new(IN_FLIGHT));
        loop {
            if let Err(e) = send_due(&inst, &client, &slots).await {
                tracing::warn!(error = %e, "cannot send webhook deliveries; retrying");
            }
            tokio::select! {
                _ = inst.monitor.deliveries.notified() => {}
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
        }
    })
}

/// Claims as many due deliveries as there are free slots and sends each on a task of its own.
pub async fn send_due(
    inst: &Installation,
    client: &reqwest::Client,
    slots: &Arc<Semaphore>,
) -> Result<()> {
    let free = slots.available_permits() as i64;
    if free == 0 {
        return Ok(());
    }
    let claimed = sqlx::query!(
        r#"UPDATE webhook_deliveries d
              SET attempts = d.attempts + 1,
                  next_attempt_at = now() + make_interval(secs => $2)
             FROM webhooks w
            WHERE w.id = d.webhook_id
              AND d.id IN (SELECT q.id FROM webhook_deliveries q JOIN webhooks h ON h.id = q.webhook_id
                            WHERE q.state = 'pending' AND q.next_attempt_at <= now() AND h.active
                            ORDER BY q.next_attempt_at LIMIT $1 FOR UPDATE OF q SKIP LOCKED)
        RETURNING d.id, d.attempts, d.body, w.url, w.secret"#,
        free,
        LEASE_SECONDS
    )
    .fetch_all(&inst.pool)
    .await?;
    for delivery in claimed {
        let Ok(permit) = slots.clone().acquire_owned().await else {
            return Ok(());
        };
        let (pool, client) = (inst.pool.clone(), client.clone());
        tokio::spawn(async move {
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
                    Some(format!("cannot reach the receiver: {}", describe(e))),
                ),
            };
            if let Err(e) = record(&pool, delivery.id, delivery.attempts, status, error).await {
                tracing::warn!(error = %e, delivery = delivery.id, "cannot record a webhook delivery");
            }
            drop(permit);
        });
    }
    Ok(())
}

/// A failed request in words: reqwest's error without the URL (the page shows it already),
/// followed by its causes ("connection refused" is in the cause, not the error).
fn describe(e: reqwest::Error) -> String {
    let e = e.without_url();
    let mut text = e.to_string();
    let mut cause = std::error::Error::source(&e);
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}

async fn record(
    pool: &sqlx::PgPool,
    id: i64,
    attempts: i32,
    status: Option<i32>,
    error: Option<String>,
) -> Result<()> {
    match error {
        None => {
            sqlx::query!(
                "UPDATE webhook_deliveries SET state = 'delivered', delivered_at = now(),
                        last_status = $2, last_error = NULL WHERE id = $1",
                id,
                status
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
                "UPDATE webhook_deliveries SET state = $2, last_status = $3, last_error = $4,
                        next_attempt_at = now() + make_interval(secs => $5) WHERE id = $1",
                id,
                state,
                status,
                error,
                backoff(attempts).as_secs_f64()
            )
            .execute(pool)
            .await?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn retries_wait_twice_as_long_each_time() {
        assert_eq!(super::backoff(1).as_secs(), 5);
        assert_eq!(super::backoff(2).as_secs(), 10);
        assert_eq!(super::backoff(4).as_secs(), 40);
        assert_eq!(super::backoff(30).as_secs(), 3600);
    }
}
