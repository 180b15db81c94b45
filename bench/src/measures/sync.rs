//! Replication as the measures drive it: the COPY pipe baseline, creating replicas, "sync now",
//! waiting for a run and reading its figures, checking a replica against the Leader, and the
//! rounds of changes between runs.

use super::*;

pub(super) async fn start_instance(cluster: &Cluster, name: &str) -> BenchResult<Instance> {
    let pool = cluster.prepare(name).await?;
    cluster.start(name, pool).await
}

/// The same rows the sync moves (the list's dossiers, memberships, photos and images, every
/// column), piped `COPY … TO STDOUT (FORMAT binary)` → `COPY … FROM STDIN (FORMAT binary)` into
/// a database with the Subscriber's schema. Returns the seconds and the bytes moved.
pub(super) async fn copy_pipe(
    cluster: &Cluster,
    leader: &PgPool,
    list: i64,
) -> BenchResult<(f64, u64)> {
    let target = cluster.prepare("copy").await?;
    sqlx::query("INSERT INTO watch_lists (id, name) OVERRIDING SYSTEM VALUE VALUES ($1, 'copy')")
        .bind(list)
        .execute(&target)
        .await?;
    let members =
        format!("SELECT dossier_id FROM dossier_watch_lists WHERE watch_list_id = {list}");
    let tables = [
        (
            format!("SELECT sha256, content_type, data, thumbnail, width, height, created_at FROM images
                     WHERE sha256 IN (SELECT image_sha256 FROM photos WHERE dossier_id IN ({members}))"),
            "images (sha256, content_type, data, thumbnail, width, height, created_at)",
        ),
        (
            format!("SELECT id, name, comment, active, meta, created_at, modified_at, revision FROM dossiers
                     WHERE id IN ({members})"),
            "dossiers (id, name, comment, active, meta, created_at, modified_at, revision)",
        ),
        (
            format!("SELECT watch_list_id, dossier_id, revision FROM dossier_watch_lists WHERE watch_list_id = {list}"),
            "dossier_watch_lists (watch_list_id, dossier_id, revision)",
        ),
        (
            format!("SELECT id, dossier_id, image_sha256, face_vector, face_model, created_at FROM photos
                     WHERE dossier_id IN ({members})"),
            "photos (id, dossier_id, image_sha256, face_vector, face_model, created_at)",
        ),
    ];
    let started = Instant::now();
    let mut bytes = 0u64;
    let mut conn = target.acquire().await?;
    // One transaction, as the Subscriber applies a page in one.
    sqlx::query("BEGIN").execute(&mut *conn).await?;
    for (select, into) in &tables {
        let mut out = leader
            .copy_out_raw(&format!("COPY ({select}) TO STDOUT (FORMAT binary)"))
            .await?;
        let mut sink = conn
            .copy_in_raw(&format!("COPY {into} FROM STDIN (FORMAT binary)"))
            .await?;
        while let Some(chunk) = out.next().await {
            let chunk = chunk?;
            bytes += chunk.len() as u64;
            sink.send(chunk).await?;
        }
        sink.finish().await?;
    }
    sqlx::query("COMMIT").execute(&mut *conn).await?;
    let seconds = started.elapsed().as_secs_f64();
    drop(conn);
    target.close().await;
    cluster.drop_database("copy").await?;
    Ok((seconds, bytes))
}

/// P1: `--pairs` pairs of the COPY pipe and a full sync into a fresh Subscriber, interleaved so
/// that a noisy minute touches both sides of a pair; the median pair is reported with every
/// pair beside it. Returns the last Subscriber
/// (with its replica) for the measures that follow.
pub(super) async fn full_sync_pairs(
    cluster: &Cluster,
    leader: &Instance,
    leader_pool: &PgPool,
    list: i64,
    args: &Args,
) -> BenchResult<(FullSync, Instance, i64)> {
    let mut pairs = Vec::new();
    let mut copy_bytes = 0;
    let mut last: Option<(Instance, i64, Run)> = None;
    let mut cpu = (None, None);
    let mut index_seconds = Vec::new();
    let count = args.pairs.max(1);
    // The Leader has just started and indexes its faces at first; a Leader in service has.
    index_caught_up(leader).await?;
    for pair in 1..=count {
        // Nothing of the pair before runs beside this one.
        if let Some((sub, _, _)) = last.take() {
            sub.stop();
        }
        step(&format!(
            "P1, pair {pair} of {count}: the binary COPY pipe of the same rows"
        ));
        quiet_disk(leader_pool).await?;
        let (copy_seconds, bytes) = copy_pipe(cluster, leader_pool, list).await?;
        copy_bytes = bytes;
        println!("  {copy_seconds:.2} s, {bytes} bytes");
        step(&format!(
            "P1, pair {pair} of {count}: a full sync to an empty Subscriber"
        ));
        let sub = start_instance(cluster, "subscriber").await?;
        quiet_disk(leader_pool).await?;
        let before = (leader.cpu_seconds(), sub.cpu_seconds());
        let (replica, run) = subscribe(&sub, leader, list, "Replica: main").await?;
        let used = |after: Option<f64>, before: Option<f64>| Some(after? - before?);
        cpu = (
            used(leader.cpu_seconds(), before.0),
            used(sub.cpu_seconds(), before.1),
        );
        verify(leader_pool, list, &sub, replica).await?;
        let indexed = index_caught_up(&sub).await?;
        println!(
            "  {:.2} s ({} dossiers, {} photos; the verification {:.2} s of it): {:.2}×; its face index current {indexed:.1} s later",
            run.seconds,
            run.dossiers,
            run.photos,
            run.verification_seconds,
            run.seconds / copy_seconds
        );
        pairs.push((copy_seconds, run.seconds));
        index_seconds.push(indexed);
        last = Some((sub, replica, run));
    }
    let (sub, replica, run) = last.expect("at least one pair");
    let mut by_ratio = pairs.clone();
    by_ratio.sort_by(|a, b| (a.1 / a.0).total_cmp(&(b.1 / b.0)));
    let (copy_seconds, sync_seconds) = by_ratio[by_ratio.len() / 2];
    let p1 = FullSync {
        dossiers: args.dossiers,
        photos: run.photos,
        sync_seconds,
        copy_seconds,
        copy_bytes,
        ratio: sync_seconds / copy_seconds,
        pairs,
        index_seconds,
        leader_peak_rss_bytes: leader.peak_rss(),
        subscriber_peak_rss_bytes: sub.peak_rss(),
        leader_cpu_seconds: cpu.0,
        subscriber_cpu_seconds: cpu.1,
    };
    Ok((p1, sub, replica))
}

/// Writes out what the measure before left in PostgreSQL's buffers and WAL (a checkpoint, for
/// the whole cluster), so that neither side of a pair pays for the other's writes.
async fn quiet_disk(pool: &PgPool) -> BenchResult<()> {
    sqlx::query("CHECKPOINT").execute(pool).await?;
    Ok(())
}

/// Waits until an installation's face index holds everything its database does (a Subscriber
/// indexes a full sync after it ends, in one build) and returns the seconds that took, so that
/// the measure after it does not run beside the build.
pub(super) async fn index_caught_up(inst: &Instance) -> BenchResult<f64> {
    let started = Instant::now();
    loop {
        let (_, _, counter) = engine::sync::history::identity(&inst.pool).await?;
        let metrics = inst.get("/metrics").send().await?.text().await?;
        let revision = metrics
            .lines()
            .find_map(|l| l.strip_prefix("dossier_face_index_revision "))
            .and_then(|v| v.trim().parse::<i64>().ok())
            .ok_or("/metrics has no dossier_face_index_revision")?;
        if revision >= counter {
            return Ok(started.elapsed().as_secs_f64());
        }
        if started.elapsed() > Duration::from_secs(3600) {
            return Err(format!(
                "the face index is still at revision {revision} of {counter} after an hour"
            )
            .into());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Wall time and machine CPU of a piece of work.
#[derive(Debug, Clone, Copy)]
pub struct Effort {
    pub seconds: f64,
    pub busy_core_seconds: f64,
}

pub(super) fn cores() -> f64 {
    std::thread::available_parallelism().map_or(1.0, |n| n.get() as f64)
}

/// A completed run as the Subscriber recorded it.
#[derive(Debug, Clone, Copy)]
pub struct Run {
    /// From the run's start to its end (for a full sync: to the end of its verification).
    pub seconds: f64,
    /// Of which the verification after a full sync took (0 for an incremental run).
    pub verification_seconds: f64,
    pub dossiers: i64,
    pub removals: i64,
    pub photos: i64,
}

/// Creates an empty local list and subscribes it to `list` (SYNC_AT_CREATION starts the full
/// sync at once); returns the replica and its first run.
pub(super) async fn subscribe(
    sub: &Instance,
    leader: &Instance,
    list: i64,
    local_name: &str,
) -> BenchResult<(i64, Run)> {
    let local = data::watch_list(&sub.pool, local_name).await?;
    let id = create_replica(sub, &leader.url, list, local).await?;
    let run = wait_run(sub, id, 0, true).await?;
    Ok((id, run))
}

/// Subscribes the empty local list `local` to the Leader's `list`, as an operator would.
pub(super) async fn create_replica(
    sub: &Instance,
    leader_url: &str,
    list: i64,
    local: i64,
) -> BenchResult<i64> {
    let response = sub
        .post("/sync/dossier-lists/")
        .json(&serde_json::json!({
            "remote_url": leader_url,
            "remote_dossier_list": list,
            "slave_dossier_list": local,
        }))
        .send()
        .await?;
    if !response.status().is_success() {
        return Err(format!("creating the replica failed: {}", response.text().await?).into());
    }
    let replica: serde_json::Value = response.json().await?;
    Ok(replica["id"].as_i64().ok_or("the replica has no id")?)
}

/// CPU time the whole machine has spent busy (all processes, PostgreSQL included), in
/// core-seconds, from /proc/stat.
pub fn busy_core_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let ticks: Vec<f64> = stat
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .skip(1)
        .filter_map(|v| v.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal: all but idle and iowait are busy.
    let busy: f64 = ticks
        .iter()
        .enumerate()
        .filter(|(i, _)| !matches!(i, 3 | 4))
        .take(6)
        .map(|(_, t)| t)
        .sum();
    busy / 100.0
}

/// Asks for a run now and waits for it.
pub(super) async fn sync_now(sub: &Instance, replica: i64) -> BenchResult<Run> {
    let last: i64 =
        sqlx::query_scalar("SELECT coalesce(max(id), 0) FROM sync_runs WHERE replica_id = $1")
            .bind(replica)
            .fetch_one(&sub.pool)
            .await?;
    let response = sub
        .post(&format!("/sync/dossier-lists/{replica}/sync/"))
        .send()
        .await?;
    if !response.status().is_success() {
        return Err(format!("sync now failed: {}", response.text().await?).into());
    }
    wait_run(sub, replica, last, false).await
}

#[derive(sqlx::FromRow)]
struct RunRow {
    id: i64,
    outcome: String,
    error: Option<String>,
    run_s: f64,
    verified_s: Option<f64>,
    dossiers: i64,
    removals: i64,
    photos: i64,
}

/// Waits for the first run of `replica` after run `after` to complete, looking every 50 ms.
/// A run's time is its own record (its start and end in `sync_runs`), so looking more often
/// would not make it more exact, only load the Subscriber it measures.
pub(super) async fn wait_run(
    sub: &Instance,
    replica: i64,
    after: i64,
    full: bool,
) -> BenchResult<Run> {
    wait_run_every(sub, replica, after, full, Duration::from_millis(50)).await
}

/// `wait_run`, looking every `poll`: the crowd's ten waits look less often, so that the
/// benchmark's own queries do not load the Subscribers' side it measures.
pub(super) async fn wait_run_every(
    sub: &Instance,
    replica: i64,
    after: i64,
    full: bool,
    poll: Duration,
) -> BenchResult<Run> {
    let deadline = Instant::now() + Duration::from_secs(3600);
    loop {
        let row: Option<RunRow> = sqlx::query_as(
            "SELECT s.id, s.outcome, s.error,
                    coalesce(EXTRACT(EPOCH FROM s.finished_at - s.started_at)::float8, 0) AS run_s,
                    (SELECT EXTRACT(EPOCH FROM r.verified_at - s.started_at)::float8
                       FROM replicas r WHERE r.id = s.replica_id AND r.verified_at >= s.finished_at)
                        AS verified_s,
                    s.dossiers, s.removals, s.photos
             FROM sync_runs s WHERE s.replica_id = $1 AND s.id > $2 ORDER BY s.id LIMIT 1",
        )
        .bind(replica)
        .bind(after)
        .fetch_optional(&sub.pool)
        .await?;
        if let Some(r) = row {
            match r.outcome.as_str() {
                "failed" | "interrupted" => {
                    return Err(format!(
                        "run {} of replica {replica} {}: {}",
                        r.id,
                        r.outcome,
                        r.error.unwrap_or_default()
                    )
                    .into())
                }
                "success" if r.error.is_some() => {
                    return Err(format!("run {}: {}", r.id, r.error.unwrap_or_default()).into())
                }
                "success" if !full || r.verified_s.is_some() => {
                    return Ok(Run {
                        seconds: if full {
                            r.verified_s.unwrap_or(r.run_s)
                        } else {
                            r.run_s
                        },
                        verification_seconds: if full {
                            r.verified_s.map_or(0.0, |v| v - r.run_s)
                        } else {
                            0.0
                        },
                        dossiers: r.dossiers,
                        removals: r.removals,
                        photos: r.photos,
                    })
                }
                _ => {}
            }
        }
        if Instant::now() > deadline {
            return Err(format!("replica {replica}: no completed run within an hour").into());
        }
        tokio::time::sleep(poll).await;
    }
}

/// Checks, outside any timing, that the replica equals the Leader's list: same dossiers and
/// fields, photos and vectors (the product's own digest, computed on both databases).
pub(super) async fn verify(
    leader: &PgPool,
    list: i64,
    sub: &Instance,
    replica: i64,
) -> BenchResult<()> {
    let (remote_count, remote_digest): (i64, String) = sqlx::query_as(
        &engine::sync::feed::digest_sql(
            "FROM dossiers d JOIN dossier_watch_lists m ON m.dossier_id = d.id WHERE m.watch_list_id = $1",
            "d.id",
        ),
    )
    .bind(list)
    .fetch_one(leader)
    .await?;
    let (local_count, local_digest): (i64, String) =
        sqlx::query_as(&engine::sync::feed::digest_sql(
            "FROM replicas x JOIN dossier_watch_lists m ON m.watch_list_id = x.watch_list_id
             JOIN dossiers d ON d.id = m.dossier_id
             JOIN remote_dossiers r ON r.dossier_id = d.id AND r.remote_url = x.remote_url
             WHERE x.id = $1",
            "r.remote_id",
        ))
        .bind(replica)
        .fetch_one(&sub.pool)
        .await?;
    if (remote_count, &remote_digest) != (local_count, &local_digest) {
        return Err(format!(
            "replica {replica} differs from the Leader's list {list}: {local_count} vs {remote_count} dossiers"
        )
        .into());
    }
    Ok(())
}

/// `ROUNDS` rounds of changes to `list`, each followed by a sync; returns the run times (ms).
pub(super) async fn change_rounds(
    leader: &PgPool,
    photos: &Photos,
    sub: &Instance,
    list: i64,
    replica: i64,
    args: &Args,
) -> BenchResult<(Changes, Vec<f64>)> {
    let mut times = Vec::new();
    let mut changes = None;
    for round in 1..=ROUNDS {
        let made = data::change(leader, photos, list, args.changes, round, args.seed).await?;
        let run = sync_now(sub, replica).await?;
        let moved = run.dossiers + run.removals;
        if moved < made.total() as i64 {
            return Err(format!(
                "round {round}: {} changes made but the run moved {moved}",
                made.total()
            )
            .into());
        }
        println!(
            "  round {round}: {:.1} ms ({} dossiers, {} removals, {} photos)",
            run.seconds * 1000.0,
            run.dossiers,
            run.removals,
            run.photos
        );
        times.push(run.seconds * 1000.0);
        changes = Some(made);
    }
    Ok((changes.expect("at least one round"), times))
}
