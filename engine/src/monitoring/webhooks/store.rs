//! Webhooks and their deliveries in PostgreSQL.

use crate::error::{Error, Result};
use domain::monitoring::webhooks::{Delivery, NewWebhook, Payload, Webhook};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use sqlx::PgPool;

/// `sha256=<hex>`: the HMAC-SHA256 of `body` under `secret`, as the signature header carries it.
pub fn sign(secret: &str, body: &[u8]) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

pub async fn list(pool: &PgPool) -> Result<Vec<Webhook>> {
    Ok(sqlx::query_as!(
        Webhook,
        r#"SELECT w.id, w.url, w.watch_lists, w.cameras, w.min_confidence, w.unknown_cameras,
                  w.active,
                  count(d.id) FILTER (WHERE d.state = 'delivered') AS "delivered!",
                  count(d.id) FILTER (WHERE d.state = 'pending') AS "pending!",
                  count(d.id) FILTER (WHERE d.state = 'failed') AS "failed!"
           FROM webhooks w LEFT JOIN webhook_deliveries d ON d.webhook_id = w.id
           GROUP BY w.id ORDER BY w.id"#
    )
    .fetch_all(pool)
    .await?)
}

/// Adds a webhook; returns its id and its secret (made here when none was given), which is
/// shown this once.
pub async fn create(db: &mut sqlx::PgConnection, hook: NewWebhook) -> Result<(i64, String)> {
    let mut hook = hook.check()?;
    if hook.secret.is_empty() {
        hook.secret = crate::auth::new_secret();
    }
    let missing: Vec<i64> = sqlx::query_scalar!(
        r#"SELECT l AS "l!" FROM unnest($1::bigint[]) AS l
           WHERE NOT EXISTS (SELECT 1 FROM watch_lists w WHERE w.id = l)"#,
        &hook.watch_lists
    )
    .fetch_all(&mut *db)
    .await?;
    if let Some(list) = missing.first() {
        return Err(Error::invalid(
            "watch_lists",
            format!("watch list {list} does not exist"),
        ));
    }
    let id = sqlx::query_scalar!(
        "INSERT INTO webhooks (url, secret, watch_lists, cameras, min_confidence, unknown_cameras)
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        hook.url,
        hook.secret,
        &hook.watch_lists,
        &hook.cameras,
        hook.min_confidence,
        &hook.unknown_cameras
    )
    .fetch_one(&mut *db)
    .await?;
    // The answer carries the secret: that it was shown, and to whom, is on the record (the
    // secret itself never is).
    sqlx::query!(
        "INSERT INTO audit_log (actor_id, actor, address, action, subject_kind, subject_id,
                                subject_name, summary)
         SELECT (a ->> 'id')::bigint, a ->> 'name', a ->> 'address', 'show_secret', 'webhook',
                $1, $2, 'its secret was shown once, to its creator'
         FROM audit_actor() AS a",
        id.to_string(),
        hook.url
    )
    .execute(&mut *db)
    .await?;
    Ok((id, hook.secret))
}

pub async fn delete(db: &mut sqlx::PgConnection, id: i64) -> Result<()> {
    let gone = sqlx::query!("DELETE FROM webhooks WHERE id = $1", id)
        .execute(db)
        .await?;
    if gone.rows_affected() == 0 {
        return Err(Error::not_found(format!("no webhook {id}")));
    }
    Ok(())
}

/// The newest `limit` deliveries of every webhook, newest first, in one query.
pub async fn recent_deliveries(pool: &PgPool, limit: i64) -> Result<Vec<(i64, Delivery)>> {
    let rows = sqlx::query!(
        r#"SELECT w.id AS webhook, d.id, d.event_id, d.state, d.attempts, d.last_status,
                  d.last_error, d.created_at,
                  CASE WHEN d.state = 'pending' THEN d.next_attempt_at END AS next_attempt_at
           FROM webhooks w
           CROSS JOIN LATERAL (SELECT * FROM webhook_deliveries x WHERE x.webhook_id = w.id
                               ORDER BY x.id DESC LIMIT $1) d
           ORDER BY w.id, d.id DESC"#,
        limit
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            (
                r.webhook,
                Delivery {
                    id: r.id,
                    event_id: r.event_id,
                    state: r.state,
                    attempts: r.attempts,
                    last_status: r.last_status,
                    last_error: r.last_error,
                    created_at: r.created_at,
                    next_attempt_at: r.next_attempt_at,
                },
            )
        })
        .collect())
}

/// What an event needs to be delivered: its payload, where it was seen, and its match (none:
/// an unknown face, for the webhooks that ask for those of its camera).
pub struct Outgoing {
    pub payload: Payload,
    pub camera: String,
    pub matched: Option<(i64, f32)>,
}

/// Writes a delivery of each event to every active webhook whose filters it passes, in the
/// event's transaction; returns how many.
pub async fn enqueue(db: &mut sqlx::PgConnection, events: &[Outgoing]) -> Result<usize> {
    if events.is_empty() {
        return Ok(0);
    }
    let hooks = sqlx::query!(
        "SELECT id, watch_lists, cameras, min_confidence, unknown_cameras FROM webhooks WHERE active"
    )
    .fetch_all(&mut *db)
    .await?;
    let (mut webhook_ids, mut event_ids, mut bodies) = (Vec::new(), Vec::new(), Vec::new());
    for event in events {
        // Made once an event has a webhook that wants it: most unknown faces have none.
        let mut body: Option<String> = None;
        for hook in &hooks {
            let wanted = match event.matched {
                Some((list, confidence)) => {
                    (hook.watch_lists.is_empty() || hook.watch_lists.contains(&list))
                        && (hook.cameras.is_empty() || hook.cameras.contains(&event.camera))
                        && confidence >= hook.min_confidence
                }
                None => hook.unknown_cameras.contains(&event.camera),
            };
            if wanted {
                let body = match &body {
                    Some(b) => b.clone(),
                    None => {
                        let b =
                            serde_json::to_string(&event.payload).map_err(|_| Error::internal())?;
                        body = Some(b.clone());
                        b
                    }
                };
                webhook_ids.push(hook.id);
                event_ids.push(event.payload.event.id);
                bodies.push(body);
            }
        }
    }
    if webhook_ids.is_empty() {
        return Ok(0);
    }
    sqlx::query!(
        "INSERT INTO webhook_deliveries (webhook_id, event_id, body)
         SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::text[])",
        &webhook_ids,
        &event_ids,
        &bodies
    )
    .execute(db)
    .await?;
    Ok(webhook_ids.len())
}
