//! How a refresh brings the index up to the database: a saved index loaded and caught up at
//! start-up, a new one built beside the old when the database's epoch changed or too much
//! changed at once, and otherwise the changed dossiers replaced in place. What changed is
//! noted for the saving (`saving`), which the index's worker does, never a refresh.

use super::{Current, MatchIndex, REBUILD_ABOVE};
use crate::error::{Error, Result};
use crate::monitoring::background::in_background;
use crate::sync::history::{identity, watermark};
use crate::sync::run::lists_being_filled;
use face_index::{Entry, FaceIndex};
use std::sync::Arc;
use std::time::Instant;

/// Vectors read per query while building.
const BUILD_BATCH: i64 = 20_000;
/// Changed dossiers written into the index under one lock: searches wait for these at most.
const REPLACE_CHUNK: usize = 200;

impl MatchIndex {
    pub(super) async fn refresh_now(self: &Arc<Self>) -> Result<()> {
        let (installation, epoch, counter) = identity(&self.pool).await?;
        let database = format!("{installation}/{epoch}");
        let known = self
            .read()
            .as_ref()
            .map(|c| (c.database.clone(), c.revision));
        match known {
            None => {
                if let Some(dir) = &self.dir {
                    let _ = self
                        .file
                        .set(dir.join(format!("faces-{installation}.usearch")));
                }
                self.start(database).await
            }
            Some((db, _)) if db != database => {
                tracing::info!("the database's epoch changed: rebuilding the face index");
                self.rebuild(database).await
            }
            Some((_, revision)) if revision == counter => self.remove_stale(),
            Some((_, revision)) => {
                let filling = lists_being_filled(&self.pool).await?;
                if filling.is_empty() {
                    self.catch_up(database, revision).await
                } else {
                    self.catch_up_outside(&filling, counter).await
                }
            }
        }
    }

    /// At start-up: the saved index if it fits this database, caught up; else a new one.
    async fn start(self: &Arc<Self>, database: String) -> Result<()> {
        let loaded = match self.file.get() {
            Some(file) => {
                let (file, model, length, db, tuning) = (
                    file.clone(),
                    self.model.name.clone(),
                    self.model.vector_length,
                    database.clone(),
                    self.tuning,
                );
                let started = Instant::now();
                let loaded = tokio::task::spawn_blocking(move || {
                    FaceIndex::load(&file, &model, length, &db, tuning)
                })
                .await
                .map_err(|_| Error::internal())?
                .map_err(|e| {
                    tracing::warn!(error = %e, "cannot read the saved face index; rebuilding");
                })
                .ok()
                .flatten();
                if let Some((faces, _)) = &loaded {
                    tracing::info!(
                        faces = faces.len(),
                        seconds = started.elapsed().as_secs_f32(),
                        "face index loaded"
                    );
                }
                loaded
            }
            None => None,
        };
        match loaded {
            Some((faces, header)) => {
                *self.write() = Some(Current {
                    faces,
                    database: database.clone(),
                    revision: header.revision,
                    outside: header.revision,
                });
                self.catch_up(database, header.revision).await
            }
            None => self.rebuild(database).await,
        }
    }

    /// A new index of every vector, built while the old one (if any) keeps answering.
    async fn rebuild(self: &Arc<Self>, database: String) -> Result<()> {
        let started = Instant::now();
        let (revision, _) = watermark(&self.pool).await?;
        let mut entries = Vec::new();
        let mut after = 0_i64;
        loop {
            let rows = sqlx::query!(
                r#"SELECT id, dossier_id, face_vector AS "vector!" FROM photos
                   WHERE id > $1 AND face_model = $2 AND face_vector IS NOT NULL
                   ORDER BY id LIMIT $3"#,
                after,
                self.model.name,
                BUILD_BATCH
            )
            .fetch_all(&self.pool)
            .await?;
            let Some(last) = rows.last() else { break };
            after = last.id;
            let full = rows.len() as i64 == BUILD_BATCH;
            entries.extend(rows.into_iter().map(|r| Entry {
                key: r.id as u64,
                group: r.dossier_id as u64,
                vector: r.vector,
            }));
            if !full {
                break;
            }
        }
        let (length, tuning) = (self.model.vector_length, self.tuning);
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        let faces = in_background(move || {
            // Vectors of another length (stored before the setting changed) cannot be compared.
            entries.retain(|e| e.vector.len() == length);
            FaceIndex::build(length, tuning, &entries, threads)
        })
        .await?
        .map_err(|e| {
            tracing::error!(error = %e, "cannot build the face index");
            Error::internal()
        })?;
        tracing::info!(
            faces = faces.len(),
            seconds = started.elapsed().as_secs_f32(),
            "face index built"
        );
        *self.write() = Some(Current {
            faces,
            database,
            revision,
            outside: revision,
        });
        self.saves().rebuilt();
        Ok(())
    }

    /// Replaces the dossiers changed after `since` with their photos now.
    async fn catch_up(self: &Arc<Self>, database: String, since: i64) -> Result<()> {
        let (until, _) = watermark(&self.pool).await?;
        let changed: Vec<i64> = sqlx::query_scalar!(
            r#"SELECT id AS "id!" FROM dossiers WHERE revision > $1 AND revision <= $2
               UNION SELECT dossier_id FROM sync_tombstones WHERE revision > $1 AND revision <= $2"#,
            since,
            until
        )
        .fetch_all(&self.pool)
        .await?;
        let held = self.read().as_ref().map_or(0, |c| c.faces.len());
        if changed.len() > REBUILD_ABOVE && changed.len() * 4 > held {
            return self.rebuild(database).await;
        }
        self.replace(changed, Some(until)).await
    }

    /// While full syncs fill `filling`: replaces the dossiers of other lists changed since the
    /// last such step, up to `counter`, and leaves the filled lists for [`Self::catch_up`] after
    /// the sync (`revision` stays where it was). The counter, not the watermark, bounds the step,
    /// so that it does not wait for the sync's page in flight; a change committed late under it
    /// is caught up with the rest after the sync.
    async fn catch_up_outside(self: &Arc<Self>, filling: &[i64], counter: i64) -> Result<()> {
        let Some(since) = self.read().as_ref().map(|c| c.outside) else {
            return Ok(());
        };
        if since >= counter {
            return self.remove_stale();
        }
        let changed: Vec<i64> = sqlx::query_scalar!(
            r#"SELECT d.id AS "id!" FROM dossiers d
               WHERE d.revision > $1 AND d.revision <= $2
                 AND NOT EXISTS (SELECT 1 FROM dossier_watch_lists m
                                 WHERE m.dossier_id = d.id AND m.watch_list_id = ANY($3))
               UNION SELECT dossier_id FROM sync_tombstones WHERE revision > $1 AND revision <= $2"#,
            since,
            counter,
            filling
        )
        .fetch_all(&self.pool)
        .await?;
        // So many are left for the catch-up after the sync, which rebuilds.
        if changed.len() <= REBUILD_ABOVE {
            self.replace(changed, None).await?;
        }
        if let Some(current) = self.write().as_mut() {
            current.outside = current.outside.max(counter);
        }
        Ok(())
    }

    /// Makes each of the `changed` dossiers' photos in the index what the database has now;
    /// `until`: the revision the index is then current to, if it is.
    async fn replace(self: &Arc<Self>, changed: Vec<i64>, until: Option<i64>) -> Result<()> {
        let rows = sqlx::query!(
            r#"SELECT id, dossier_id, face_vector AS "vector!" FROM photos
               WHERE dossier_id = ANY($1) AND face_model = $2 AND face_vector IS NOT NULL"#,
            &changed,
            self.model.name
        )
        .fetch_all(&self.pool)
        .await?;
        let length = self.model.vector_length;
        let mut by_dossier: std::collections::HashMap<i64, Vec<(u64, Vec<f32>)>> =
            changed.iter().map(|d| (*d, Vec::new())).collect();
        for r in rows.into_iter().filter(|r| r.vector.len() == length) {
            by_dossier
                .entry(r.dossier_id)
                .or_default()
                .push((r.id as u64, r.vector));
        }
        let index = self.clone();
        let count = by_dossier.len();
        tokio::task::spawn_blocking(move || {
            let by_dossier: Vec<_> = by_dossier.into_iter().collect();
            for chunk in by_dossier.chunks(REPLACE_CHUNK) {
                let mut current = index.write();
                let Some(current) = current.as_mut() else {
                    return Ok(());
                };
                for (dossier, photos) in chunk {
                    current.faces.replace_group(*dossier as u64, photos)?;
                }
            }
            if let (Some(until), Some(current)) = (until, index.write().as_mut()) {
                current.revision = current.revision.max(until);
                current.outside = current.outside.max(until);
            }
            Ok::<_, face_index::IndexError>(())
        })
        .await
        .map_err(|_| Error::internal())?
        .map_err(|e| {
            tracing::error!(error = %e, "cannot update the face index");
            Error::internal()
        })?;
        self.remove_stale()?;
        self.saves().changed(count);
        Ok(())
    }

    fn remove_stale(&self) -> Result<()> {
        let stale = std::mem::take(&mut *self.stale.lock().unwrap_or_else(|e| e.into_inner()));
        if stale.is_empty() {
            return Ok(());
        }
        let mut current = self.write();
        if let Some(current) = current.as_mut() {
            for key in stale {
                current.faces.remove_key(key).map_err(|e| {
                    tracing::error!(error = %e, "cannot update the face index");
                    Error::internal()
                })?;
            }
        }
        Ok(())
    }
}
