//! One batch of an import, in one transaction: the stored dossiers its keys name and the lists
//! it names are read (and locked), each row planned (`plan`), its new photos read and analysed,
//! and then everything written a statement per kind, with the refusals and the import's counts.
//! A run killed halfway loses its batch whole, and the import's `rows_done` says where to
//! go on from.

use super::analyse::{self, Analysed};
use super::csv_file::Read;
use super::plan::{self, Existing, ListRef, Stored, StoredList, Target};
use super::record::{add_counts, Counts};
use super::source::Photos;
use crate::error::{Error, Result};
use crate::faces::Faces;
use domain::imports::{ImportOptions, ImportRow, Refusal};
use sha2::{Digest, Sha256};
use sqlx::{PgConnection, Postgres, Transaction};
use std::collections::HashMap;

/// What a batch needs besides its rows.
pub struct BatchContext<'a> {
    pub import: i64,
    pub options: &'a ImportOptions,
    pub imported_before: Option<i64>,
    pub faces: &'a Faces,
    pub workers: usize,
    /// The largest photo (`UPLOAD_LIMIT`).
    pub photo_limit: u64,
}

/// A row that will be written.
struct Planned {
    row: ImportRow,
    target: Target,
    photos: Vec<Analysed>,
}

/// Writes one batch and returns its counts; `photos` is lent to the blocking pool to read the
/// batch's files, and put back.
pub async fn batch(
    tx: &mut Transaction<'_, Postgres>,
    context: &BatchContext<'_>,
    reads: Vec<Read>,
    photos: &mut Photos,
) -> Result<Counts> {
    sqlx::query_scalar!("SELECT set_config('dossier.audit_rows', 'off', true)")
        .fetch_one(&mut **tx)
        .await?;
    let mut counts = Counts {
        rows: reads.len() as i64,
        ..Counts::default()
    };
    let mut refusals = Vec::new();
    let mut rows = Vec::new();
    for read in reads {
        match read {
            Read::Row(row) => rows.push(row),
            Read::Refused(refusal) => refusals.push(refusal),
        }
    }
    let keys: Vec<String> = rows.iter().filter_map(|r| r.key.clone()).collect();
    let dossiers = existing(tx, &keys).await?;
    let mut names: Vec<String> = rows.iter().flat_map(|r| r.lists.clone()).collect();
    names.extend(context.options.default_list.clone());
    names.sort_unstable();
    names.dedup();
    let lists = stored_lists(tx, &names).await?;
    let stored = Stored {
        dossiers: &dossiers,
        lists: &lists,
        options: context.options,
        imported_before: context.imported_before,
    };
    let refuse = |row: &ImportRow, reason: String| Refusal {
        line: row.line as i64,
        external_key: row.key.clone(),
        name: Some(row.name.clone()),
        reason,
    };
    let mut targets = Vec::new();
    for row in rows {
        match plan::target(&row, &stored) {
            Ok(target) => targets.push((row, target)),
            Err(reason) => refusals.push(refuse(&row, reason)),
        }
    }
    // The photos each row adds: read, those already on the dossier left out, the rest analysed.
    let wanted: Vec<(Vec<String>, Vec<Vec<u8>>)> = targets
        .iter()
        .map(|(row, _)| {
            let have = row.key.as_ref().and_then(|k| dossiers.get(k));
            (
                row.photos.clone(),
                have.map(|d| d.photos.clone()).unwrap_or_default(),
            )
        })
        .collect();
    let source = std::mem::replace(photos, Photos::None);
    let limit = context.photo_limit;
    let (source, read) = tokio::task::spawn_blocking(move || {
        let mut source = source;
        let read: Vec<_> = wanted
            .into_iter()
            .map(|(names, have)| new_photos(&mut source, &names, &have, limit))
            .collect();
        (source, read)
    })
    .await
    .map_err(|_| Error::internal())?;
    *photos = source;
    let mut planned = Vec::new();
    let mut to_analyse = Vec::new();
    let mut owners = Vec::new();
    for ((row, target), read) in targets.into_iter().zip(read) {
        match read {
            Ok(new) => {
                owners.extend(std::iter::repeat_n(planned.len(), new.len()));
                to_analyse.extend(new);
                planned.push(Some(Planned {
                    row,
                    target,
                    photos: Vec::new(),
                }));
            }
            Err(reason) => refusals.push(refuse(&row, reason)),
        }
    }
    let analysed = analyse::all(context.faces, context.workers, to_analyse).await;
    for (owner, outcome) in owners.into_iter().zip(analysed) {
        let Some(p) = planned[owner].as_mut() else {
            continue;
        };
        match outcome {
            Ok(photo) => p.photos.push(photo),
            Err(reason) => {
                refusals.push(refuse(&p.row, reason));
                planned[owner] = None;
            }
        }
    }
    let planned: Vec<Planned> = planned.into_iter().flatten().collect();
    counts.lists_created = create_lists(tx, &planned).await?;
    let created_ids = list_ids(tx, &counts.lists_created).await?;
    write(tx, context, planned, &created_ids, &mut counts).await?;
    counts.refused = refusals.len() as i64;
    insert_refusals(tx, context.import, &refusals).await?;
    add_counts(&mut **tx, context.import, &counts).await?;
    Ok(counts)
}

/// The photos of a row that its dossier does not have yet, read; or why the row is refused.
fn new_photos(
    source: &mut Photos,
    names: &[String],
    have: &[Vec<u8>],
    limit: u64,
) -> std::result::Result<Vec<(String, Vec<u8>)>, String> {
    let mut new: Vec<(String, Vec<u8>)> = Vec::new();
    let mut seen = have.to_vec();
    for name in names {
        let bytes = source.read(name, limit)?;
        let digest = Sha256::digest(&bytes).to_vec();
        if !seen.contains(&digest) {
            seen.push(digest);
            new.push((name.clone(), bytes));
        }
    }
    Ok(new)
}

async fn existing(
    tx: &mut Transaction<'_, Postgres>,
    keys: &[String],
) -> Result<HashMap<String, Existing>> {
    let rows = sqlx::query!(
        r#"SELECT d.id, d.external_key AS "key!", d.name, d.comment, d.active, d.meta,
                  ARRAY(SELECT x.watch_list_id FROM dossier_watch_lists x
                        WHERE x.dossier_id = d.id) AS "lists!",
                  ARRAY(SELECT p.image_sha256 FROM photos p WHERE p.dossier_id = d.id) AS "photos!",
                  (SELECT r.remote_url FROM replicas r
                     JOIN dossier_watch_lists x ON x.watch_list_id = r.watch_list_id
                    WHERE x.dossier_id = d.id LIMIT 1) AS replica_of
           FROM dossiers d WHERE d.external_key = ANY($1) FOR UPDATE OF d"#,
        keys
    )
    .fetch_all(&mut **tx)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let existing = Existing {
                id: r.id,
                name: r.name,
                comment: r.comment,
                active: r.active,
                meta: r.meta,
                lists: r.lists,
                photos: r.photos,
                replica_of: r.replica_of,
            };
            (r.key, existing)
        })
        .collect())
}

async fn stored_lists(
    tx: &mut Transaction<'_, Postgres>,
    names: &[String],
) -> Result<HashMap<String, StoredList>> {
    // Shared locks: no list is deleted between this read and the batch's commit.
    let rows = sqlx::query!(
        "SELECT w.id, w.name, r.remote_url AS \"replica_of?\" FROM watch_lists w
         LEFT JOIN replicas r ON r.watch_list_id = w.id
         WHERE w.name = ANY($1) FOR SHARE OF w",
        names
    )
    .fetch_all(&mut **tx)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            (
                r.name,
                StoredList {
                    id: r.id,
                    replica_of: r.replica_of,
                },
            )
        })
        .collect())
}

/// Creates the lists the written rows join that do not exist; returns their names.
async fn create_lists(
    tx: &mut Transaction<'_, Postgres>,
    planned: &[Planned],
) -> Result<Vec<String>> {
    let mut names: Vec<String> = planned
        .iter()
        .flat_map(|p| p.target.join.iter())
        .filter_map(|l| match l {
            ListRef::New(name) => Some(name.clone()),
            ListRef::Stored(_) => None,
        })
        .collect();
    names.sort_unstable();
    names.dedup();
    if names.is_empty() {
        return Ok(names);
    }
    Ok(sqlx::query_scalar!(
        "INSERT INTO watch_lists (name) SELECT UNNEST($1::text[])
         ON CONFLICT (name) DO NOTHING RETURNING name",
        &names
    )
    .fetch_all(&mut **tx)
    .await?)
}

async fn list_ids(
    tx: &mut Transaction<'_, Postgres>,
    names: &[String],
) -> Result<HashMap<String, i64>> {
    if names.is_empty() {
        return Ok(HashMap::new());
    }
    let rows = sqlx::query!(
        "SELECT id, name FROM watch_lists WHERE name = ANY($1)",
        names
    )
    .fetch_all(&mut **tx)
    .await?;
    Ok(rows.into_iter().map(|r| (r.name, r.id)).collect())
}

/// Ids taken from a table's identity sequence, so that a batch's rows are known by id before
/// they are inserted.
async fn new_ids(db: &mut PgConnection, table: &str, n: usize) -> Result<Vec<i64>> {
    if n == 0 {
        return Ok(Vec::new());
    }
    Ok(sqlx::query_scalar!(
        r#"SELECT nextval(pg_get_serial_sequence($1, 'id')) AS "id!" FROM generate_series(1, $2::int)"#,
        table,
        n as i32
    )
    .fetch_all(db)
    .await?)
}

async fn write(
    tx: &mut Transaction<'_, Postgres>,
    context: &BatchContext<'_>,
    planned: Vec<Planned>,
    created_lists: &HashMap<String, i64>,
    counts: &mut Counts,
) -> Result<()> {
    let new = planned
        .iter()
        .filter(|p| p.target.existing.is_none())
        .count();
    let mut fresh = new_ids(tx, "dossiers", new).await?.into_iter();
    let mut inserts = DossierColumns::default();
    let mut updates = DossierColumns::default();
    let mut memberships: (Vec<i64>, Vec<i64>) = (Vec::new(), Vec::new());
    let mut photos: Vec<(i64, Analysed)> = Vec::new();
    for p in planned {
        let id = match p.target.existing {
            Some(id) => id,
            None => fresh.next().ok_or_else(Error::internal)?,
        };
        let touched = !p.target.join.is_empty() || !p.photos.is_empty();
        match p.target.existing {
            None => {
                counts.created += 1;
                inserts.push(id, &p.target.fields, p.row.key.clone());
            }
            Some(_) if p.target.changed => {
                counts.updated += 1;
                updates.push(id, &p.target.fields, None);
            }
            Some(_) if touched => counts.updated += 1,
            Some(_) => counts.unchanged += 1,
        }
        for list in &p.target.join {
            let list = match list {
                ListRef::Stored(id) => Some(*id),
                ListRef::New(name) => created_lists.get(name).copied(),
            };
            if let Some(list) = list {
                memberships.0.push(list);
                memberships.1.push(id);
            }
        }
        photos.extend(p.photos.into_iter().map(|photo| (id, photo)));
    }
    sqlx::query!(
        "INSERT INTO dossiers (id, name, comment, active, meta, external_key) OVERRIDING SYSTEM VALUE
         SELECT * FROM UNNEST($1::bigint[], $2::text[], $3::text[], $4::bool[], $5::jsonb[], $6::text[])",
        &inserts.ids,
        &inserts.names,
        &inserts.comments,
        &inserts.actives,
        &inserts.metas,
        &inserts.keys as &[Option<String>],
    )
    .execute(&mut **tx)
    .await?;
    sqlx::query!(
        "UPDATE dossiers d SET name = u.name, comment = u.comment, active = u.active, meta = u.meta
         FROM UNNEST($1::bigint[], $2::text[], $3::text[], $4::bool[], $5::jsonb[])
              AS u(id, name, comment, active, meta)
         WHERE d.id = u.id",
        &updates.ids,
        &updates.names,
        &updates.comments,
        &updates.actives,
        &updates.metas,
    )
    .execute(&mut **tx)
    .await?;
    sqlx::query!(
        "INSERT INTO dossier_watch_lists (watch_list_id, dossier_id)
         SELECT * FROM UNNEST($1::bigint[], $2::bigint[]) ON CONFLICT DO NOTHING",
        &memberships.0,
        &memberships.1
    )
    .execute(&mut **tx)
    .await?;
    counts.photos = photos.len() as i64;
    super::photos::insert(tx, &context.faces.model.name, photos).await
}

/// Dossiers' columns, for one UNNEST.
#[derive(Default)]
struct DossierColumns {
    ids: Vec<i64>,
    names: Vec<String>,
    comments: Vec<String>,
    actives: Vec<bool>,
    metas: Vec<serde_json::Value>,
    keys: Vec<Option<String>>,
}

impl DossierColumns {
    fn push(&mut self, id: i64, fields: &plan::Fields, key: Option<String>) {
        self.ids.push(id);
        self.names.push(fields.name.clone());
        self.comments.push(fields.comment.clone());
        self.actives.push(fields.active);
        self.metas.push(fields.meta.clone());
        self.keys.push(key);
    }
}

async fn insert_refusals(
    tx: &mut Transaction<'_, Postgres>,
    import: i64,
    refusals: &[Refusal],
) -> Result<()> {
    let lines: Vec<i64> = refusals.iter().map(|r| r.line).collect();
    let keys: Vec<Option<String>> = refusals.iter().map(|r| r.external_key.clone()).collect();
    let names: Vec<Option<String>> = refusals.iter().map(|r| r.name.clone()).collect();
    let reasons: Vec<String> = refusals.iter().map(|r| r.reason.clone()).collect();
    sqlx::query!(
        "INSERT INTO import_refusals (import_id, line, external_key, name, reason)
         SELECT $1, * FROM UNNEST($2::bigint[], $3::text[], $4::text[], $5::text[])
         ON CONFLICT DO NOTHING",
        import,
        &lines,
        &keys as &[Option<String>],
        &names as &[Option<String>],
        &reasons
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}
