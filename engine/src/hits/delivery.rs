//! The Subscriber's delivery of hits, as a worker: each pass sends every Leader that is owed
//! one its next batch (the Leaders side by side, so a Leader that is away holds back no other),
//! one batch at a time per Leader, holding that Leader's delivery claim for the request. A
//! full batch rings again at once, so a site back after days away catches up batch after
//! batch without ever having more than one in flight to its Leader. A failure waits before the
//! next try, twice as long each time, up to 5 s. A Leader with nothing to receive is still
//! told how the site is, every [`HEARTBEAT_SECONDS`].

use super::{outbox, Hits};
use crate::backoff::Backoff;
use crate::error::Result;
use crate::workers::{Context, Worker};
use domain::hits::{HitReceipt, HEARTBEAT_SECONDS};
use std::time::Duration;

/// How often the outbox is looked at when nothing rings.
const TICK: Duration = Duration::from_secs(1);
/// The wait after a failed delivery: 1 s, doubling, up to 5 s, so that a Leader back after hours
/// hears from its sites within seconds. A try at a Leader that is away costs a refused
/// connection (or at most the 5 s connect timeout), which the sites can afford.
pub const RETRY: Backoff = Backoff::doubling(Duration::from_secs(1), Duration::from_secs(5));

/// The delivery of hits, as a worker.
pub struct Delivery {
    hits: Hits,
    client: Option<reqwest::Client>,
}

impl Delivery {
    pub fn new(hits: Hits) -> Self {
        let client = reqwest::Client::builder()
            .connect_timeout(hits.timeout.min(Duration::from_secs(5)))
            .timeout(hits.timeout)
            .user_agent(concat!("dossier-hits/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| tracing::error!(error = %e, "cannot make the hits client; hits stay here"))
            .ok();
        Self { hits, client }
    }
}

impl Worker for Delivery {
    const NAME: &'static str = "hit-delivery";

    async fn due(&mut self) {
        tokio::select! {
            _ = self.hits.bell.notified() => {}
            _ = tokio::time::sleep(TICK) => {}
        }
    }

    async fn pass(&mut self, _: &Context) {
        let Some(client) = self.client.clone().filter(|_| self.hits.token.is_set()) else {
            return;
        };
        let leaders = match outbox::due_leaders(&self.hits.pool, HEARTBEAT_SECONDS).await {
            Ok(leaders) => leaders,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the hits outbox; retrying");
                return;
            }
        };
        let sends = leaders.iter().map(|leader| {
            let (hits, client) = (&self.hits, &client);
            async move {
                match send(hits, client, leader).await {
                    Ok(more) => more,
                    Err(e) => {
                        tracing::warn!(error = %e, leader, "cannot deliver hits; retrying");
                        false
                    }
                }
            }
        });
        if futures_util::future::join_all(sends)
            .await
            .into_iter()
            .any(|more| more)
        {
            self.hits.bell.notify_one();
        }
    }
}

/// Sends `leader` its next batch; returns whether more is pending for it.
pub async fn send(hits: &Hits, client: &reqwest::Client, leader: &str) -> Result<bool> {
    let mut tx = hits.pool.begin().await?;
    if !outbox::claim(&mut tx, leader).await? {
        return Ok(false);
    }
    let outgoing = outbox::next_batch(&mut tx, &hits.site, leader).await?;
    match post(hits, client, leader, &outgoing.batch).await {
        Ok(receipt) => {
            outbox::delivered(&mut tx, leader, &outgoing, &receipt).await?;
            tx.commit().await?;
            if !outgoing.sent.is_empty() {
                tracing::info!(
                    leader,
                    events = outgoing.sent.len(),
                    stored = receipt.stored,
                    "hits delivered"
                );
            }
            Ok(outgoing.full)
        }
        Err(error) => {
            drop(tx);
            let failures = outbox::failures(&hits.pool, leader).await? + 1;
            let wait = RETRY.after(failures as u32);
            tracing::info!(leader, %error, retry_in = wait.as_secs(), "the Leader did not take the hits");
            outbox::failed(&hits.pool, leader, &error, wait.as_secs_f64()).await?;
            Ok(false)
        }
    }
}

/// One request; the failure in the words the Replication page shows.
async fn post(
    hits: &Hits,
    client: &reqwest::Client,
    leader: &str,
    batch: &domain::hits::HitBatch,
) -> Result<HitReceipt, String> {
    let response = client
        .post(format!("{leader}/sync/leader/events"))
        .bearer_auth(hits.token.expose())
        .json(batch)
        .send()
        .await
        .map_err(describe)?;
    let status = response.status();
    let body = response.bytes().await.map_err(describe)?;
    if status.is_success() {
        return serde_json::from_slice(&body)
            .map_err(|e| format!("the Leader's answer is not a receipt: {e}"));
    }
    let message = serde_json::from_slice::<domain::Error>(&body)
        .map(|e| e.to_string())
        .unwrap_or_else(|_| String::from_utf8_lossy(&body).chars().take(200).collect());
    Err(match status.as_u16() {
        401 => "the Leader refused the sync token".to_string(),
        404 => "the Leader does not take hits (it has no /sync/leader/events)".to_string(),
        s => format!("the Leader answered {s}: {message}"),
    })
}
/// A failed request in words, with its causes.
fn describe(e: reqwest::Error) -> String {
    if e.is_timeout() {
        return "no answer in time".to_string();
    }
    format!(
        "cannot reach the Leader: {}",
        crate::error::request_failure(e)
    )
}
