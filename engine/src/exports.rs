//! Reports as CSV, streamed: the events of a filter (as the Events page filters them), the
//! dossiers of a watch list and the rows an import refused. Each is read in keyset batches and
//! written a batch at a time, so a month of events leaves the server as it is read, in
//! constant memory, and a client that goes away stops the reading.
//!
//! A cell that a spreadsheet would take for a formula (text starting with `=`, `+`, `-`, `@`
//! or a tab) is written with a leading `'`: a dossier named `=HYPERLINK(…)` must not run when
//! the report is opened.

use crate::error::{Error, Result};
use domain::monitoring::{Event, EventCursor, EventFilter};
use futures_util::stream::{self, Stream};
use sqlx::PgPool;

/// Rows read per query.
const BATCH: i64 = 1_000;

/// The columns of the events report.
const EVENT_COLUMNS: &[&str] = &[
    "id",
    "captured_at",
    "last_seen_at",
    "camera",
    "site",
    "matched",
    "dossier_id",
    "dossier_name",
    "watch_list_id",
    "watch_list",
    "confidence",
    "needs_ack",
    "acknowledged_by",
    "acknowledged_at",
    "face",
];

/// The columns of a list's dossiers.
const DOSSIER_COLUMNS: &[&str] = &[
    "id",
    "external_key",
    "name",
    "comment",
    "active",
    "watch_lists",
    "photos",
    "meta",
    "created_at",
    "modified_at",
];

/// Text as a spreadsheet shows it, never as a formula.
fn cell(text: &str) -> std::borrow::Cow<'_, str> {
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}").into()
    } else {
        text.into()
    }
}

fn csv_bytes(rows: impl FnOnce(&mut csv::Writer<Vec<u8>>) -> csv::Result<()>) -> Result<Vec<u8>> {
    let mut w = csv::Writer::from_writer(Vec::new());
    rows(&mut w).map_err(|e| {
        tracing::error!(error = %e, "cannot write a CSV report");
        Error::internal()
    })?;
    w.into_inner().map_err(|_| Error::internal())
}

fn time(t: Option<chrono::DateTime<chrono::Utc>>) -> String {
    t.map(|t| t.to_rfc3339()).unwrap_or_default()
}

fn event_row(w: &mut csv::Writer<Vec<u8>>, e: &Event) -> csv::Result<()> {
    let m = e.matched.as_ref();
    let ack = e.acknowledged.as_ref();
    w.write_record([
        e.id.to_string(),
        e.captured_at.to_rfc3339(),
        time(e.last_seen_at),
        cell(&e.camera).into_owned(),
        e.site
            .as_ref()
            .map(|s| cell(&s.name).into_owned())
            .unwrap_or_default(),
        if m.is_some() { "yes" } else { "no" }.to_string(),
        m.map(|m| m.dossier_id.to_string()).unwrap_or_default(),
        m.map(|m| cell(&m.dossier_name).into_owned())
            .unwrap_or_default(),
        m.map(|m| m.watch_list_id.to_string()).unwrap_or_default(),
        m.and_then(|m| m.watch_list_name.as_deref())
            .map(|n| cell(n).into_owned())
            .unwrap_or_default(),
        m.map(|m| format!("{:.4}", m.confidence))
            .unwrap_or_default(),
        e.needs_ack.to_string(),
        ack.map(|a| cell(&a.by).into_owned()).unwrap_or_default(),
        time(ack.map(|a| a.at)),
        if e.has_face {
            format!("/events/{}/face", e.id)
        } else {
            String::new()
        },
    ])
}

/// Where a stream of batches is.
enum Next<C> {
    Header,
    After(C),
    Done,
}

/// The events of `filter`, newest first, as CSV chunks: the header, then one chunk per batch.
pub fn events_csv(pool: PgPool, filter: EventFilter) -> impl Stream<Item = Result<Vec<u8>>> {
    stream::try_unfold(Next::<Option<EventCursor>>::Header, move |next| {
        let (pool, filter) = (pool.clone(), filter.clone());
        async move {
            let before = match next {
                Next::Done => return Ok(None),
                Next::Header => {
                    let header = csv_bytes(|w| w.write_record(EVENT_COLUMNS))?;
                    return Ok(Some((header, Next::After(None))));
                }
                Next::After(before) => before,
            };
            let events = crate::monitoring::store::batch(&pool, &filter, before, BATCH).await?;
            let next = match events.last() {
                Some(last) if events.len() as i64 == BATCH => {
                    Next::After(Some(EventCursor::of(last)))
                }
                _ => Next::Done,
            };
            let chunk = csv_bytes(|w| events.iter().try_for_each(|e| event_row(w, e)))?;
            Ok(Some((chunk, next)))
        }
    })
}

/// The dossiers of watch list `list`, oldest first, as CSV chunks; an error if the list does
/// not exist (before anything is sent).
pub async fn dossiers_csv(pool: PgPool, list: i64) -> Result<impl Stream<Item = Result<Vec<u8>>>> {
    sqlx::query_scalar!("SELECT id FROM watch_lists WHERE id = $1", list)
        .fetch_optional(&pool)
        .await?
        .ok_or_else(|| Error::not_found(format!("watch list {list} does not exist")))?;
    Ok(stream::try_unfold(Next::<i64>::Header, move |next| {
        let pool = pool.clone();
        async move {
            let after = match next {
                Next::Done => return Ok(None),
                Next::Header => {
                    let header = csv_bytes(|w| w.write_record(DOSSIER_COLUMNS))?;
                    return Ok(Some((header, Next::After(0))));
                }
                Next::After(after) => after,
            };
            let rows = sqlx::query!(
                    r#"SELECT d.id, d.external_key, d.name, d.comment, d.active, d.meta::text AS "meta!",
                              d.created_at, d.modified_at,
                              (SELECT string_agg(w.name, '; ' ORDER BY w.name)
                                 FROM dossier_watch_lists o JOIN watch_lists w ON w.id = o.watch_list_id
                                WHERE o.dossier_id = d.id) AS lists,
                              (SELECT count(*) FROM photos p WHERE p.dossier_id = d.id) AS "photos!"
                       FROM dossier_watch_lists m JOIN dossiers d ON d.id = m.dossier_id
                       WHERE m.watch_list_id = $1 AND m.dossier_id > $2
                       ORDER BY m.dossier_id LIMIT $3"#,
                    list,
                    after,
                    BATCH
                )
                .fetch_all(&pool)
                .await?;
            let next = match rows.last() {
                Some(last) if rows.len() as i64 == BATCH => Next::After(last.id),
                _ => Next::Done,
            };
            let chunk = csv_bytes(|w| {
                rows.iter().try_for_each(|r| {
                    w.write_record([
                        r.id.to_string(),
                        cell(r.external_key.as_deref().unwrap_or_default()).into_owned(),
                        cell(&r.name).into_owned(),
                        cell(&r.comment).into_owned(),
                        r.active.to_string(),
                        cell(r.lists.as_deref().unwrap_or_default()).into_owned(),
                        r.photos.to_string(),
                        r.meta.clone(),
                        r.created_at.to_rfc3339(),
                        r.modified_at.to_rfc3339(),
                    ])
                })
            })?;
            Ok(Some((chunk, next)))
        }
    }))
}

/// The columns of an import's report of refused rows.
const REFUSAL_COLUMNS: &[&str] = &["line", "external_key", "name", "reason"];

/// The rows an import refused, in the file's order, with their reasons.
pub fn refusals_csv(pool: PgPool, import: i64) -> impl Stream<Item = Result<Vec<u8>>> {
    stream::try_unfold(Next::<i64>::Header, move |next| {
        let pool = pool.clone();
        async move {
            let after = match next {
                Next::Done => return Ok(None),
                Next::Header => {
                    let header = csv_bytes(|w| w.write_record(REFUSAL_COLUMNS))?;
                    return Ok(Some((header, Next::After(0))));
                }
                Next::After(after) => after,
            };
            let rows = sqlx::query!(
                "SELECT line, external_key, name, reason FROM import_refusals
                 WHERE import_id = $1 AND line > $2 ORDER BY line LIMIT $3",
                import,
                after,
                BATCH
            )
            .fetch_all(&pool)
            .await?;
            let next = match rows.last() {
                Some(last) if rows.len() as i64 == BATCH => Next::After(last.line),
                _ => Next::Done,
            };
            let chunk = csv_bytes(|w| {
                rows.iter().try_for_each(|r| {
                    w.write_record([
                        r.line.to_string(),
                        cell(r.external_key.as_deref().unwrap_or_default()).into_owned(),
                        cell(r.name.as_deref().unwrap_or_default()).into_owned(),
                        cell(&r.reason).into_owned(),
                    ])
                })
            })?;
            Ok(Some((chunk, next)))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cell_is_never_a_formula_and_quotes_survive() {
        assert_eq!(cell("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(cell("-1+2"), "'-1+2");
        assert_eq!(cell("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(cell("Jane Roe"), "Jane Roe");
        let bytes = csv_bytes(|w| w.write_record(["a,b", "say \"hi\"", "line\nbreak"])).unwrap();
        assert_eq!(
            String::from_utf8(bytes).unwrap(),
            "\"a,b\",\"say \"\"hi\"\"\",\"line\nbreak\"\n"
        );
    }
}
