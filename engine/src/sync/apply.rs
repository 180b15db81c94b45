//! Applying what the Leader sent: one page of changes, in the run's transaction that also
//! records its progress (`run`), so that a killed run resumes after the last page it committed. Dossiers are
//! matched to the Leader's by `remote_dossiers` (Leader URL, Leader id); writes are batched, a
//! few statements a page.

use super::error::SyncError;
use super::state::RunState;
use super::ChangePage;
use crate::images::delete_unused_images;
use sqlx::{Postgres, Transaction};

/// A page's commit does not wait for its WAL to reach the disk. The page and the run's progress
/// commit together, so a crash that loses the last pages' commits loses their progress with them,
/// and the run resumes before them and fetches them again (images stored ahead of their page
/// are content-addressed: lost, they are fetched again; kept, they are used); the run's end (the cursor) commits
/// durably, which also flushes every page before it. Two hundred fsyncs fewer per 100 000
/// dossiers. Its rows are the replication's (see [`unaudited`]).
pub(super) async fn durable_later(tx: &mut Transaction<'_, Postgres>) -> Result<(), SyncError> {
    sqlx::query(
        "SELECT set_config('synchronous_commit', 'off', true),
                set_config('dossier.audit_rows', 'off', true)",
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The replication writes whole pages of dossiers: its transactions turn the audit log's row
/// triggers off, and each run records one entry with its counts instead (`RunRecord::audit`).
pub(super) async fn unaudited(tx: &mut Transaction<'_, Postgres>) -> Result<(), SyncError> {
    sqlx::query("SELECT set_config('dossier.audit_rows', 'off', true)")
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// The replica's settings are the Leader's list's (its name stays local); written only when
/// they differ.
pub(super) async fn follow_list_settings(
    tx: &mut Transaction<'_, Postgres>,
    replica: &RunState,
    page: &ChangePage,
) -> Result<(), SyncError> {
    let l = &page.list.settings;
    sqlx::query!(
        "UPDATE watch_lists SET comment = $2, color = $3, active = $4, acknowledge = $5,
             notify = $6, confidence_threshold = $7
         WHERE id = $1 AND (comment, color, active, acknowledge, notify, confidence_threshold)
               IS DISTINCT FROM ($2, $3, $4, $5, $6, $7)",
        replica.watch_list_id,
        l.comment,
        l.color,
        l.active,
        l.acknowledge,
        l.notify,
        l.confidence_threshold
    )
    .execute(&mut **tx)
    .await?;
    if let Some(name) = &page.list.name {
        sqlx::query!(
            "UPDATE replicas SET remote_list_name = $2
             WHERE id = $1 AND remote_list_name IS DISTINCT FROM $2",
            replica.id,
            name
        )
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// Applies one page in the caller's transaction, a few statements for the whole page; returns
/// how many dossiers it wrote and removed. A full resync notes what it saw, to sweep the rest
/// at its end.
pub(super) async fn apply_page(
    tx: &mut Transaction<'_, Postgres>,
    replica: &RunState,
    page: &ChangePage,
) -> Result<(i64, i64), SyncError> {
    let url = &replica.remote_url;
    let sweeping = replica.progress.as_ref().filter(|p| p.full && p.sweep);
    if !page.upserts.is_empty() {
        let ids: Vec<i64> = page.upserts.iter().map(|d| d.id).collect();
        let names: Vec<&str> = page.upserts.iter().map(|d| d.name.as_str()).collect();
        let comments: Vec<&str> = page.upserts.iter().map(|d| d.comment.as_str()).collect();
        let actives: Vec<bool> = page.upserts.iter().map(|d| d.active).collect();
        let metas: Vec<serde_json::Value> = page.upserts.iter().map(|d| d.meta.clone()).collect();
        // Known dossiers: changed fields only (an unchanged row is not rewritten).
        sqlx::query!(
            "UPDATE dossiers d SET name = i.name, comment = i.comment, active = i.active, meta = i.meta
             FROM UNNEST($2::bigint[], $3::text[], $4::text[], $5::bool[], $6::jsonb[])
                  AS i(remote_id, name, comment, active, meta)
             JOIN remote_dossiers r ON r.remote_url = $1 AND r.remote_id = i.remote_id
             WHERE d.id = r.dossier_id
               AND (d.name, d.comment, d.active, d.meta) IS DISTINCT FROM (i.name, i.comment, i.active, i.meta)",
            url,
            &ids,
            &names as &[&str],
            &comments as &[&str],
            &actives,
            &metas,
        )
        .execute(&mut **tx)
        .await?;
        // New dossiers: ids drawn first, so the mapping can be written in the same statement
        // (from the identity's sequence by name: looking it up costs a catalog search per row).
        let created: Vec<i64> = sqlx::query_scalar!(
            "WITH missing AS MATERIALIZED (
                SELECT i.*, nextval('dossiers_id_seq') AS new_id
                FROM UNNEST($2::bigint[], $3::text[], $4::text[], $5::bool[], $6::jsonb[])
                     AS i(remote_id, name, comment, active, meta)
                WHERE NOT EXISTS (SELECT 1 FROM remote_dossiers r
                                  WHERE r.remote_url = $1 AND r.remote_id = i.remote_id)
             ), inserted AS (
                INSERT INTO dossiers (id, name, comment, active, meta) OVERRIDING SYSTEM VALUE
                SELECT new_id, name, comment, active, meta FROM missing
                RETURNING id
             )
             INSERT INTO remote_dossiers (remote_url, remote_id, dossier_id)
             SELECT $1, m.remote_id, m.new_id FROM missing m JOIN inserted i ON i.id = m.new_id
             RETURNING remote_id",
            url,
            &ids,
            &names as &[&str],
            &comments as &[&str],
            &actives,
            &metas
        )
        .fetch_all(&mut **tx)
        .await?;
        if let Some(progress) = sweeping {
            sqlx::query!(
                "INSERT INTO replica_seen (replica_id, dossier_id, run_id)
                 SELECT $3, r.dossier_id, $4 FROM remote_dossiers r
                 WHERE r.remote_url = $1 AND r.remote_id = ANY($2)
                 ON CONFLICT (replica_id, dossier_id) DO UPDATE SET run_id = EXCLUDED.run_id",
                url,
                &ids,
                replica.id,
                progress.run
            )
            .execute(&mut **tx)
            .await?;
        }
        sqlx::query!(
            "INSERT INTO dossier_watch_lists (watch_list_id, dossier_id)
             SELECT $3, r.dossier_id FROM remote_dossiers r
             WHERE r.remote_url = $1 AND r.remote_id = ANY($2)
             ON CONFLICT DO NOTHING",
            url,
            &ids,
            replica.watch_list_id
        )
        .execute(&mut **tx)
        .await?;
        replace_photos(tx, url, page, &created).await?;
    }
    let removed = if page.removals.is_empty() {
        0
    } else {
        let local: Vec<i64> = sqlx::query_scalar!(
            "SELECT dossier_id FROM remote_dossiers WHERE remote_url = $1 AND remote_id = ANY($2)",
            url,
            &page.removals
        )
        .fetch_all(&mut **tx)
        .await?;
        remove_from_list(tx, replica.watch_list_id, &local).await?
    };
    Ok((page.upserts.len() as i64, removed))
}

/// Makes the photos of the page's dossiers exactly the Leader's, in the Leader's order, when
/// they differ; unchanged photo sets are left alone. The dossiers the page `created` have none
/// yet: theirs are written without comparing (in a first sync, all of them).
async fn replace_photos(
    tx: &mut Transaction<'_, Postgres>,
    url: &str,
    page: &ChangePage,
    created: &[i64],
) -> Result<(), SyncError> {
    let mut owners = Vec::new();
    let mut shas = Vec::new();
    let mut models = Vec::new();
    // All vectors of the page in one array; photo i's is `vectors[offsets[i]..][..lengths[i]]`.
    let mut vectors: Vec<f32> = Vec::new();
    let mut offsets: Vec<i32> = Vec::new();
    let mut lengths: Vec<Option<i32>> = Vec::new();
    for d in &page.upserts {
        for p in &d.photos {
            owners.push(d.id);
            shas.push(hex::decode(&p.sha256).map_err(|_| SyncError::Leader {
                status: 200,
                message: format!("photo hash {:?} of dossier {} is not hex", p.sha256, d.id),
            })?);
            models.push(p.face_model.clone());
            offsets.push(vectors.len() as i32);
            match &p.face_vector {
                None => lengths.push(None),
                Some(text) => {
                    let vector = super::decode_vector(text).ok_or_else(|| SyncError::Leader {
                        status: 200,
                        message: format!(
                            "the vector of photo {} of dossier {} is not base64 float32s",
                            p.sha256, d.id
                        ),
                    })?;
                    lengths.push(Some(vector.len() as i32));
                    vectors.extend(vector);
                }
            }
        }
    }
    let created: std::collections::HashSet<i64> = created.iter().copied().collect();
    let known: Vec<i64> = page
        .upserts
        .iter()
        .map(|d| d.id)
        .filter(|id| !created.contains(id))
        .collect();
    // The photo sets of the known dossiers on both sides, vectors compared by their hash (as
    // the digest does); only dossiers whose set differs are rewritten.
    let mut changed: Vec<i64> = if known.is_empty() {
        Vec::new()
    } else {
        sqlx::query_scalar!(
        r#"WITH wanted AS (
            SELECT t.remote_id, string_agg(encode(t.sha, 'hex') || ':' || coalesce(t.model, '') || ':'
                       || coalesce(hash_array_extended(($7::real[])[t.off + 1 : t.off + t.len], 0)::text, ''),
                       ',' ORDER BY t.ord) AS photos
            FROM UNNEST($3::bigint[], $4::bytea[], $5::text[], $6::int[], $8::int[]) WITH ORDINALITY
                 AS t(remote_id, sha, model, off, len, ord)
            GROUP BY t.remote_id
         )
         SELECT i.remote_id AS "remote_id!" FROM UNNEST($2::bigint[]) AS i(remote_id)
         JOIN remote_dossiers r ON r.remote_url = $1 AND r.remote_id = i.remote_id
         LEFT JOIN wanted w ON w.remote_id = i.remote_id
         WHERE coalesce(w.photos, '') IS DISTINCT FROM coalesce((
            SELECT string_agg(encode(p.image_sha256, 'hex') || ':' || coalesce(p.face_model, '') || ':'
                       || coalesce(hash_array_extended(p.face_vector, 0)::text, ''), ',' ORDER BY p.id)
            FROM photos p WHERE p.dossier_id = r.dossier_id), '')"#,
        url,
        &known,
        &owners,
        &shas,
        &models as &[Option<String>],
        &offsets,
        &vectors,
        &lengths as &[Option<i32>],
    )
    .fetch_all(&mut **tx)
    .await?
    };
    let old: Vec<Vec<u8>> = if changed.is_empty() {
        Vec::new()
    } else {
        sqlx::query_scalar!(
            "DELETE FROM photos p USING remote_dossiers r
             WHERE r.remote_url = $1 AND r.remote_id = ANY($2) AND p.dossier_id = r.dossier_id
             RETURNING p.image_sha256",
            url,
            &changed
        )
        .fetch_all(&mut **tx)
        .await?
    };
    changed.extend(created);
    if changed.is_empty() {
        return Ok(());
    }
    sqlx::query!(
        "INSERT INTO photos (dossier_id, image_sha256, face_model, face_vector)
         SELECT r.dossier_id, t.sha, t.model, ($6::real[])[t.off + 1 : t.off + t.len]
         FROM UNNEST($2::bigint[], $3::bytea[], $4::text[], $5::int[], $7::int[]) WITH ORDINALITY
              AS t(remote_id, sha, model, off, len, ord)
         JOIN remote_dossiers r ON r.remote_url = $1 AND r.remote_id = t.remote_id
         WHERE t.remote_id = ANY($8)
         ORDER BY t.ord",
        url,
        &owners,
        &shas,
        &models as &[Option<String>],
        &offsets,
        &vectors,
        &lengths as &[Option<i32>],
        &changed
    )
    .execute(&mut **tx)
    .await?;
    delete_unused_images(tx, &old).await?;
    Ok(())
}

/// Takes local dossiers out of a replicated list; those left in no list are deleted.
async fn remove_from_list(
    tx: &mut Transaction<'_, Postgres>,
    list: i64,
    dossiers: &[i64],
) -> Result<i64, SyncError> {
    let removed = sqlx::query!(
        "DELETE FROM dossier_watch_lists WHERE watch_list_id = $1 AND dossier_id = ANY($2)",
        list,
        dossiers
    )
    .execute(&mut **tx)
    .await?
    .rows_affected();
    let images: Vec<Vec<u8>> = sqlx::query_scalar!(
        "SELECT p.image_sha256 FROM photos p WHERE p.dossier_id = ANY($1)
           AND NOT EXISTS (SELECT 1 FROM dossier_watch_lists m WHERE m.dossier_id = p.dossier_id)",
        dossiers
    )
    .fetch_all(&mut **tx)
    .await?;
    sqlx::query!(
        "DELETE FROM dossiers d WHERE d.id = ANY($1)
           AND NOT EXISTS (SELECT 1 FROM dossier_watch_lists m WHERE m.dossier_id = d.id)",
        dossiers
    )
    .execute(&mut **tx)
    .await?;
    delete_unused_images(tx, &images).await?;
    Ok(removed as i64)
}

/// The end of a full resync: whatever the list holds that this run did not see is gone on the
/// Leader.
pub(super) async fn sweep_unseen(
    tx: &mut Transaction<'_, Postgres>,
    replica: &RunState,
    run_id: i64,
) -> Result<i64, SyncError> {
    let unseen: Vec<i64> = sqlx::query_scalar!(
        "SELECT m.dossier_id FROM dossier_watch_lists m
         WHERE m.watch_list_id = $1 AND NOT EXISTS (
            SELECT 1 FROM replica_seen s
            WHERE s.replica_id = $2 AND s.dossier_id = m.dossier_id AND s.run_id = $3)",
        replica.watch_list_id,
        replica.id,
        run_id
    )
    .fetch_all(&mut **tx)
    .await?;
    sqlx::query!("DELETE FROM replica_seen WHERE replica_id = $1", replica.id,)
        .execute(&mut **tx)
        .await?;
    if unseen.is_empty() {
        return Ok(0);
    }
    remove_from_list(tx, replica.watch_list_id, &unseen).await
}
