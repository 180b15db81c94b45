//! Backfill: vectors for the photos stored without one (uploaded before the engine, or with an
//! engine switched off), in batches that each commit on their own, so that a run killed halfway
//! resumes where it stopped. Replicated photos are never analysed: a Subscriber keeps the
//! Leader's vectors, or its matches would differ from the Leader's.

use super::extract::one_face;
use crate::audit::record;
use crate::error::{Error, Result};
use crate::images::decode;
use domain::audit::Actor;
use face_engine::Engine;
use sqlx::PgPool;
use std::sync::Arc;

/// What a backfill did, photo by photo.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    /// Photos that got a vector.
    pub described: u64,
    pub no_face: u64,
    pub several_faces: u64,
    /// Stored bytes that are not a decodable image.
    pub unreadable: u64,
}

impl Summary {
    pub fn analysed(&self) -> u64 {
        self.described + self.no_face + self.several_faces + self.unreadable
    }
}

/// How many photos a backfill would analyse.
pub async fn pending(pool: &PgPool) -> Result<i64> {
    Ok(sqlx::query_scalar!(
        r#"SELECT count(*) AS "n!" FROM photos p
           WHERE p.face_vector IS NULL AND p.face_count IS NULL
             AND NOT EXISTS (SELECT 1 FROM remote_dossiers r WHERE r.dossier_id = p.dossier_id)"#
    )
    .fetch_one(pool)
    .await?)
}

enum Outcome {
    Described {
        bounds: [i32; 4],
        vector: Vec<f32>,
        thumbnail: Vec<u8>,
    },
    Faces(i16),
    Unreadable,
}

/// Analyses every pending photo, `batch` at a time, calling `progress` with the running
/// summary after each batch. Each batch is one transaction; the dossiers whose photos got a
/// vector count as changed, so that Subscribers receive the vectors.
pub async fn run(
    pool: &PgPool,
    engine: Arc<Engine>,
    model: &str,
    batch: i64,
    workers: usize,
    mut progress: impl FnMut(&Summary),
) -> Result<Summary> {
    let mut summary = Summary::default();
    let mut after = 0_i64;
    loop {
        let photos = sqlx::query!(
            r#"SELECT p.id, p.dossier_id, i.data FROM photos p
               JOIN images i ON i.sha256 = p.image_sha256
               WHERE p.id > $1 AND p.face_vector IS NULL AND p.face_count IS NULL
                 AND NOT EXISTS (SELECT 1 FROM remote_dossiers r WHERE r.dossier_id = p.dossier_id)
               ORDER BY p.id LIMIT $2"#,
            after,
            batch
        )
        .fetch_all(pool)
        .await?;
        let Some(last) = photos.last() else { break };
        after = last.id;
        let ids: Vec<i64> = photos.iter().map(|p| p.id).collect();
        let dossiers: Vec<i64> = photos.iter().map(|p| p.dossier_id).collect();
        // The photos of a batch are analysed `workers` at a time, each on the blocking pool (so
        // that no more than that many decoded photos are held at once); their bytes move there.
        let mut outcomes = Vec::with_capacity(photos.len());
        let mut images = photos.into_iter().map(|p| p.data).peekable();
        while images.peek().is_some() {
            let tasks: Vec<_> = images
                .by_ref()
                .take(workers.max(1))
                .map(|data| {
                    let engine = engine.clone();
                    tokio::task::spawn_blocking(move || analyse(&engine, &data))
                })
                .collect();
            for task in tasks {
                outcomes.push(task.await.map_err(|_| Error::internal())?);
            }
        }
        store(pool, model, &ids, &dossiers, outcomes, &mut summary).await?;
        progress(&summary);
    }
    if summary.analysed() > 0 {
        let actor = Actor {
            id: None,
            name: "command line (faces backfill)".into(),
            address: None,
        };
        let words = format!(
            "face backfill: {} photos got a vector, {} showed no face, {} several faces, {} were unreadable",
            summary.described, summary.no_face, summary.several_faces, summary.unreadable
        );
        record(pool, &actor, "backfill", ("photo", None), &words).await?;
    }
    Ok(summary)
}

fn analyse(engine: &Engine, data: &[u8]) -> Outcome {
    let Ok(decoded) = decode(data) else {
        return Outcome::Unreadable;
    };
    // Photos stored already are described as they are: the gate is for new ones.
    match one_face(engine, &decoded.picture, None) {
        Ok(face) => Outcome::Described {
            bounds: face.bounds.to_array(),
            vector: face.vector,
            thumbnail: face.thumbnail,
        },
        Err(Error(domain::Error::Faces { found, .. })) => {
            Outcome::Faces(found.len().min(i16::MAX as usize) as i16)
        }
        Err(_) => Outcome::Unreadable,
    }
}

/// Writes one batch's outcomes in one transaction, a statement per kind of outcome.
async fn store(
    pool: &PgPool,
    model: &str,
    ids: &[i64],
    dossiers: &[i64],
    outcomes: Vec<Outcome>,
    summary: &mut Summary,
) -> Result<()> {
    let (mut described, mut vectors, mut boxes, mut thumbnails, mut touched) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut counted, mut counts) = (Vec::new(), Vec::new());
    for ((id, dossier), outcome) in ids.iter().zip(dossiers).zip(outcomes) {
        match outcome {
            Outcome::Described {
                bounds,
                vector,
                thumbnail,
            } => {
                summary.described += 1;
                described.push(*id);
                vectors.extend(vector);
                boxes.extend(bounds);
                thumbnails.push(thumbnail);
                touched.push(*dossier);
            }
            Outcome::Faces(n) => {
                if n == 0 {
                    summary.no_face += 1;
                } else {
                    summary.several_faces += 1;
                }
                counted.push(*id);
                counts.push(n);
            }
            Outcome::Unreadable => {
                summary.unreadable += 1;
                counted.push(*id);
                counts.push(0);
            }
        }
    }
    let length = face_engine::VECTOR_LENGTH as i64;
    let mut tx = pool.begin().await?;
    // One summary entry per run, not an entry per photo and dossier.
    sqlx::query_scalar!("SELECT set_config('dossier.audit_rows', 'off', true)")
        .fetch_one(&mut *tx)
        .await?;
    sqlx::query!(
        "UPDATE photos p SET face_vector = ($2::real[])[(t.n - 1) * $4 + 1 : t.n * $4],
                face_model = $5, face_box = ($3::int[])[(t.n - 1) * 4 + 1 : t.n * 4], face_count = 1
         FROM UNNEST($1::bigint[]) WITH ORDINALITY AS t(id, n)
         WHERE p.id = t.id AND p.face_vector IS NULL",
        &described,
        &vectors,
        &boxes,
        length,
        model
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query!(
        "INSERT INTO face_thumbnails (photo_id, jpeg)
         SELECT * FROM UNNEST($1::bigint[], $2::bytea[]) ON CONFLICT (photo_id) DO NOTHING",
        &described,
        &thumbnails
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query!(
        "UPDATE photos p SET face_count = t.n FROM UNNEST($1::bigint[], $2::smallint[]) AS t(id, n)
         WHERE p.id = t.id",
        &counted,
        &counts
    )
    .execute(&mut *tx)
    .await?;
    // A photo's vector is part of its dossier as Subscribers receive it.
    sqlx::query!(
        "UPDATE dossiers SET modified_at = now() WHERE id = ANY($1)",
        &touched
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}
