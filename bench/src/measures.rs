//! The measures P1–P7, run in one go on one set of installations so that each figure and its
//! baseline share the machine's state.

use crate::cluster::{BenchResult, Cluster, Instance};
use crate::data::{self, Changes, Photos};
use crate::load::{self, Latency, Until};
use crate::Args;
use app::dossiers::DossierQuery;
use futures_util::StreamExt;
use serde::Serialize;
use sqlx::postgres::{PgPool, PgPoolCopyExt, PgPoolOptions};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Rounds of changes whose median P2 and P3 report.
const ROUNDS: u32 = 3;
/// No-change syncs whose median P4 reports.
const IDLE_SYNCS: usize = 7;
/// P7 probes the Leader's list page as a user browsing would: one request every 100 ms. A
/// saturating load would take the CPU the syncs need and measure throughput instead.
const PROBE_PACE: Duration = Duration::from_millis(100);

#[derive(Debug, Serialize)]
pub struct Results {
    pub started_at: chrono::DateTime<chrono::Utc>,
    pub seconds: f64,
    pub postgres: String,
    pub average_jpeg_bytes: usize,
    pub vector_floats: usize,
    pub p1: FullSync,
    pub p2: Incremental,
    pub p3: Scaling,
    pub p4: Idle,
    pub p5: Page,
    pub p6: Bundle,
    pub p7: Crowd,
}

#[derive(Debug, Serialize)]
pub struct FullSync {
    pub dossiers: u64,
    pub photos: i64,
    pub sync_seconds: f64,
    pub copy_seconds: f64,
    pub copy_bytes: u64,
    pub ratio: f64,
    pub leader_peak_rss_bytes: Option<u64>,
    pub subscriber_peak_rss_bytes: Option<u64>,
    /// CPU time of the two server processes during the sync (PostgreSQL's is not included).
    pub leader_cpu_seconds: Option<f64>,
    pub subscriber_cpu_seconds: Option<f64>,
}

#[derive(Debug, Serialize)]
pub struct Incremental {
    pub changes: Changes,
    pub rounds_ms: Vec<f64>,
    pub median_ms: f64,
    pub fraction_of_p1: f64,
}

#[derive(Debug, Serialize)]
pub struct Scaling {
    pub large_dossiers: u64,
    pub small_dossiers: u64,
    pub large_median_ms: f64,
    pub small_rounds_ms: Vec<f64>,
    pub small_median_ms: f64,
    pub ratio: f64,
}

#[derive(Debug, Serialize)]
pub struct Idle {
    pub runs_ms: Vec<f64>,
    pub median_ms: f64,
    pub max_ms: f64,
}

#[derive(Debug, Serialize)]
pub struct Page {
    pub dossiers: u64,
    pub connections: usize,
    pub http: Latency,
    pub sql: Latency,
    pub p99_ratio: f64,
}

#[derive(Debug, Serialize)]
pub struct Bundle {
    pub file: String,
    pub raw_bytes: u64,
    pub gzip_bytes: u64,
}

#[derive(Debug, Serialize)]
pub struct Crowd {
    pub subscribers: usize,
    pub dossiers: u64,
    pub alone_seconds: f64,
    /// Machine CPU (all processes) during the run alone and during the crowd, core-seconds.
    pub alone_busy_core_seconds: f64,
    pub total_seconds: f64,
    pub busy_core_seconds: f64,
    pub ratio: f64,
    /// The ratio if the crowd did exactly N times the alone run's work with every core busy.
    pub floor_ratio: f64,
    pub page_idle: Latency,
    pub page_during: Latency,
    /// The Leader's `/healthz` (one `SELECT 1`), probed beside the page: what one step of a
    /// request waits for a core, whatever the request does.
    pub healthz_idle: Latency,
    pub healthz_during: Latency,
    /// CPU time of the Leader's own process during the crowd (its database's not included).
    pub leader_cpu_seconds: Option<f64>,
    /// How late a thread that only sleeps 100 ms wakes up during the crowd: the machine's
    /// scheduling delay, which every step of every request pays.
    pub wakeup_delay: Latency,
}

fn cluster(args: &Args) -> BenchResult<Cluster> {
    let log_dir = std::path::PathBuf::from("target/bench-logs");
    std::fs::create_dir_all(&log_dir)?;
    Ok(Cluster {
        pg_base: args.pg_base.clone(),
        bin: args.bin.clone(),
        site_root: args.site_root.clone(),
        log_dir,
        prefix: args.db_prefix.clone(),
    })
}

/// P5 alone, for profiling the page between changes.
pub async fn page_only(args: &Args) -> BenchResult<()> {
    let cluster = cluster(args)?;
    let photos = Photos::new(args.seed).await?;
    let p5 = page(&cluster, &photos, args).await?;
    println!("{}", serde_json::to_string_pretty(&p5)?);
    Ok(())
}

/// P7 alone, for profiling the crowd: a Leader with only the small list, one Subscriber alone,
/// then the crowd.
pub async fn crowd_only(args: &Args) -> BenchResult<()> {
    let cluster = cluster(args)?;
    let photos = Photos::new(args.seed).await?;
    let leader_pool = cluster.prepare("leader").await?;
    let small_list = data::watch_list(&leader_pool, "Bench: small").await?;
    data::add_dossiers(
        &leader_pool,
        &photos,
        args.seed,
        small_list,
        None,
        0,
        args.small,
    )
    .await?;
    sqlx::query("VACUUM ANALYZE").execute(&leader_pool).await?;
    let leader = cluster.start("leader", leader_pool.clone()).await?;
    let sub = start_instance(&cluster, "subscriber").await?;
    let busy = busy_core_seconds();
    let (replica, alone) = subscribe(&sub, &leader, small_list, "Replica: small").await?;
    let alone = Effort {
        seconds: alone.seconds,
        busy_core_seconds: busy_core_seconds() - busy,
    };
    verify(&leader_pool, small_list, &sub, replica).await?;
    sub.stop();
    println!("  one alone: {:.2} s", alone.seconds);
    let p7 = crowd(&cluster, &leader, &leader_pool, small_list, alone, args).await?;
    leader.stop();
    if !args.keep {
        cluster.drop_database("leader").await?;
        cluster.drop_database("subscriber").await?;
    }
    println!("{}", serde_json::to_string_pretty(&p7)?);
    Ok(())
}

pub async fn run_all(args: &Args) -> BenchResult<Results> {
    let started_at = chrono::Utc::now();
    let clock = Instant::now();
    for (what, path) in [("binary", &args.bin), ("site", &args.site_root)] {
        if !path.exists() {
            return Err(format!(
                "the {what} {} is missing: run `cargo leptos build --release` first (scripts/bench.sh does)",
                path.display()
            )
            .into());
        }
    }
    let cluster = cluster(args)?;
    let photos = Photos::new(args.seed).await?;

    step(&format!(
        "generating the Leader's data: {} + {} dossiers with a ~{} B JPEG and {} floats each",
        args.dossiers,
        args.small,
        photos.average_jpeg_bytes(),
        data::VECTOR_LENGTH
    ));
    let leader_pool = cluster.prepare("leader").await?;
    let postgres: String = sqlx::query_scalar("SHOW server_version")
        .fetch_one(&leader_pool)
        .await?;
    let main_list = data::watch_list(&leader_pool, "Bench: main").await?;
    let small_list = data::watch_list(&leader_pool, "Bench: small").await?;
    let shared_list = data::watch_list(&leader_pool, "Bench: shared").await?;
    let t = Instant::now();
    data::add_dossiers(
        &leader_pool,
        &photos,
        args.seed,
        main_list,
        Some(shared_list),
        0,
        args.dossiers,
    )
    .await?;
    data::add_dossiers(
        &leader_pool,
        &photos,
        args.seed,
        small_list,
        Some(shared_list),
        args.dossiers,
        args.small,
    )
    .await?;
    sqlx::query("VACUUM ANALYZE").execute(&leader_pool).await?;
    println!("  generated in {:.1} s", t.elapsed().as_secs_f64());
    let leader = cluster.start("leader", leader_pool.clone()).await?;

    // P1: the physical floor first, then the product.
    step("P1 baseline: COPY (FORMAT binary) pipe of the same rows between two databases");
    let (copy_seconds, copy_bytes) = copy_pipe(&cluster, &leader_pool, main_list).await?;
    println!("  {copy_seconds:.2} s, {copy_bytes} bytes");
    step("P1: full sync to an empty Subscriber");
    let sub = start_instance(&cluster, "subscriber").await?;
    let cpu_before = (leader.cpu_seconds(), sub.cpu_seconds());
    let (main_replica, full) = subscribe(&sub, &leader, main_list, "Replica: main").await?;
    let cpu = |after: Option<f64>, before: Option<f64>| Some(after? - before?);
    let leader_cpu_seconds = cpu(leader.cpu_seconds(), cpu_before.0);
    let subscriber_cpu_seconds = cpu(sub.cpu_seconds(), cpu_before.1);
    verify(&leader_pool, main_list, &sub, main_replica).await?;
    println!(
        "  {:.2} s ({} dossiers, {} photos)",
        full.seconds, full.dossiers, full.photos
    );
    let p1 = FullSync {
        dossiers: args.dossiers,
        photos: full.photos,
        sync_seconds: full.seconds,
        copy_seconds,
        copy_bytes,
        ratio: full.seconds / copy_seconds,
        leader_peak_rss_bytes: leader.peak_rss(),
        subscriber_peak_rss_bytes: sub.peak_rss(),
        leader_cpu_seconds,
        subscriber_cpu_seconds,
    };

    step("P2: incremental syncs after changes on the Leader");
    let (changes, rounds_ms) =
        change_rounds(&leader_pool, &photos, &sub, main_list, main_replica, args).await?;
    verify(&leader_pool, main_list, &sub, main_replica).await?;
    let p2 = Incremental {
        changes,
        median_ms: median(&rounds_ms),
        fraction_of_p1: median(&rounds_ms) / 1000.0 / p1.sync_seconds,
        rounds_ms,
    };

    // P7's "one alone" and P3's small list are the same replica: a full sync of the small list.
    step("P3/P7: full sync of the small list by one Subscriber alone");
    let busy = busy_core_seconds();
    let (small_replica, alone) = subscribe(&sub, &leader, small_list, "Replica: small").await?;
    let alone_effort = Effort {
        seconds: alone.seconds,
        busy_core_seconds: busy_core_seconds() - busy,
    };
    verify(&leader_pool, small_list, &sub, small_replica).await?;
    println!("  {:.2} s", alone.seconds);
    step("P3: the same incremental syncs on the small list");
    let (_, small_rounds_ms) =
        change_rounds(&leader_pool, &photos, &sub, small_list, small_replica, args).await?;
    verify(&leader_pool, small_list, &sub, small_replica).await?;
    let p3 = Scaling {
        large_dossiers: args.dossiers,
        small_dossiers: args.small,
        large_median_ms: p2.median_ms,
        small_median_ms: median(&small_rounds_ms),
        ratio: p2.median_ms / median(&small_rounds_ms),
        small_rounds_ms,
    };

    step("P4: syncs when nothing changed");
    let mut runs_ms = Vec::new();
    for _ in 0..IDLE_SYNCS {
        let run = sync_now(&sub, main_replica).await?;
        runs_ms.push(run.seconds * 1000.0);
    }
    let p4 = Idle {
        median_ms: median(&runs_ms),
        max_ms: runs_ms.iter().copied().fold(0.0, f64::max),
        runs_ms,
    };
    sub.stop();

    step(&format!(
        "P7: {} Subscribers full-syncing the small list at once",
        args.subscribers
    ));
    let p7 = crowd(
        &cluster,
        &leader,
        &leader_pool,
        small_list,
        alone_effort,
        args,
    )
    .await?;
    leader.stop();
    if !args.keep {
        cluster.drop_database("leader").await?;
        cluster.drop_database("subscriber").await?;
    }

    step(&format!(
        "P5: the dossier list page at {} dossiers, {} connections",
        args.page_dossiers, args.connections
    ));
    let p5 = page(&cluster, &photos, args).await?;

    step("P6: the WASM bundle");
    let p6 = bundle(&args.site_root)?;

    Ok(Results {
        started_at,
        seconds: clock.elapsed().as_secs_f64(),
        postgres,
        average_jpeg_bytes: photos.average_jpeg_bytes(),
        vector_floats: data::VECTOR_LENGTH,
        p1,
        p2,
        p3,
        p4,
        p5,
        p6,
        p7,
    })
}

fn step(what: &str) {
    println!("==> {what}");
}

fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    if v.is_empty() {
        f64::NAN
    } else {
        v[v.len() / 2]
    }
}

async fn start_instance(cluster: &Cluster, name: &str) -> BenchResult<Instance> {
    let pool = cluster.prepare(name).await?;
    cluster.start(name, pool).await
}

/// The same rows the sync moves (the list's dossiers, memberships, photos and images, every
/// column), piped `COPY … TO STDOUT (FORMAT binary)` → `COPY … FROM STDIN (FORMAT binary)` into
/// a database with the Subscriber's schema. Returns the seconds and the bytes moved.
async fn copy_pipe(cluster: &Cluster, leader: &PgPool, list: i64) -> BenchResult<(f64, u64)> {
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

/// Wall time and machine CPU of a piece of work.
#[derive(Debug, Clone, Copy)]
pub struct Effort {
    pub seconds: f64,
    pub busy_core_seconds: f64,
}

fn cores() -> f64 {
    std::thread::available_parallelism().map_or(1.0, |n| n.get() as f64)
}

/// A completed run as the Subscriber recorded it.
#[derive(Debug, Clone, Copy)]
pub struct Run {
    /// From the run's start to its end (for a full sync: to the end of its verification).
    pub seconds: f64,
    pub dossiers: i64,
    pub removals: i64,
    pub photos: i64,
}

/// Creates an empty local list and subscribes it to `list` (SYNC_AT_CREATION starts the full
/// sync at once); returns the replica and its first run.
async fn subscribe(
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
async fn create_replica(
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
async fn sync_now(sub: &Instance, replica: i64) -> BenchResult<Run> {
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

/// Waits for the first run of `replica` after run `after` to complete.
async fn wait_run(sub: &Instance, replica: i64, after: i64, full: bool) -> BenchResult<Run> {
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
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Checks, outside any timing, that the replica equals the Leader's list: same dossiers and
/// fields, photos and vectors (the product's own digest, computed on both databases).
async fn verify(leader: &PgPool, list: i64, sub: &Instance, replica: i64) -> BenchResult<()> {
    let (remote_count, remote_digest): (i64, String) = sqlx::query_as(
        &app::sync::leader::digest_sql(
            "FROM dossiers d JOIN dossier_watch_lists m ON m.dossier_id = d.id WHERE m.watch_list_id = $1",
            "d.id",
        ),
    )
    .bind(list)
    .fetch_one(leader)
    .await?;
    let (local_count, local_digest): (i64, String) =
        sqlx::query_as(&app::sync::leader::digest_sql(
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
async fn change_rounds(
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

fn page_path(i: usize) -> String {
    // The name filter cycles over first names, each matching one dossier in sixteen.
    format!(
        "/dossiers?q={}",
        data::name(i as u64).split(' ').next().unwrap_or("Anna")
    )
}

/// A request to the Leader's dossier list page, as a closure the load runner can spawn.
fn page_request(
    instance: &Instance,
) -> impl Fn(usize) -> futures_util::future::BoxFuture<'static, BenchResult<()>> + Send + Sync + 'static
{
    let http = instance.http.clone();
    let url = instance.url.clone();
    let token = instance.api_token.clone();
    move |i| {
        let request = http
            .get(format!("{url}{}", page_path(i)))
            .header("Authorization", format!("Token {token}"));
        Box::pin(async move {
            let response = request.send().await?;
            if !response.status().is_success() {
                return Err(format!("page answered {}", response.status()).into());
            }
            response.bytes().await?;
            Ok(())
        })
    }
}

/// A request to the Leader's `/healthz`, which runs `SELECT 1` and nothing else.
fn healthz_request(
    instance: &Instance,
) -> impl Fn(usize) -> futures_util::future::BoxFuture<'static, BenchResult<()>> + Send + Sync + 'static
{
    let request = instance.http.get(format!("{}/healthz", instance.url));
    move |_| {
        let request = request
            .try_clone()
            .expect("a GET without a body can be cloned");
        Box::pin(async move {
            let response = request.send().await?;
            if !response.status().is_success() {
                return Err(format!("/healthz answered {}", response.status()).into());
            }
            response.bytes().await?;
            Ok(())
        })
    }
}

async fn crowd(
    cluster: &Cluster,
    leader: &Instance,
    leader_pool: &PgPool,
    list: i64,
    alone: Effort,
    args: &Args,
) -> BenchResult<Crowd> {
    let (page_idle, healthz_idle) = tokio::join!(
        load::run_paced(
            1,
            Until::Requests(150),
            Some(PROBE_PACE),
            page_request(leader),
        ),
        load::run_paced(
            1,
            Until::Requests(150),
            Some(PROBE_PACE),
            healthz_request(leader),
        ),
    );
    let (page_idle, healthz_idle) = (page_idle?, healthz_idle?);
    let mut subs = Vec::new();
    let mut locals = Vec::new();
    for i in 0..args.subscribers {
        let sub = start_instance(cluster, &format!("crowd_{i}")).await?;
        locals.push(data::watch_list(&sub.pool, "Replica: small").await?);
        subs.push(sub);
    }
    let done = Arc::new(AtomicBool::new(false));
    let prober = tokio::spawn(load::run_paced(
        1,
        Until::Flag(Arc::clone(&done)),
        Some(PROBE_PACE),
        page_request(leader),
    ));
    let healthz_prober = tokio::spawn(load::run_paced(
        1,
        Until::Flag(Arc::clone(&done)),
        Some(PROBE_PACE),
        healthz_request(leader),
    ));
    let wakeups = std::thread::spawn({
        let done = Arc::clone(&done);
        move || {
            let started = Instant::now();
            let mut late = Vec::new();
            while !done.load(Ordering::Relaxed) {
                let t = Instant::now();
                std::thread::sleep(PROBE_PACE);
                late.push(t.elapsed().saturating_sub(PROBE_PACE));
            }
            load::summarize(late, 0, started.elapsed())
        }
    });
    let leader_cpu = leader.cpu_seconds();
    let started = Instant::now();
    let busy = busy_core_seconds();
    let runs = futures_util::future::join_all(subs.iter().zip(&locals).map(|(sub, &local)| {
        let leader_url = leader.url.clone();
        async move {
            let id = create_replica(sub, &leader_url, list, local).await?;
            wait_run(sub, id, 0, true).await.map(|run| (id, run))
        }
    }))
    .await;
    let total_seconds = started.elapsed().as_secs_f64();
    let busy_core_seconds = busy_core_seconds() - busy;
    let leader_cpu_seconds = leader
        .cpu_seconds()
        .zip(leader_cpu)
        .map(|(after, before)| after - before);
    done.store(true, Ordering::Relaxed);
    let page_during = prober.await??;
    let healthz_during = healthz_prober.await??;
    let wakeup_delay = wakeups.join().map_err(|_| "the wake-up probe panicked")?;
    for (sub, run) in subs.iter().zip(runs) {
        let (replica, _) = run?;
        verify(leader_pool, list, sub, replica).await?;
    }
    for (i, sub) in subs.into_iter().enumerate() {
        sub.stop();
        cluster.drop_database(&format!("crowd_{i}")).await?;
    }
    println!(
        "  {total_seconds:.2} s; page p99 {:.1} ms during, {:.1} ms idle; /healthz p99 {:.1} ms during, {:.1} ms idle; wake-up delay p99 {:.1} ms",
        page_during.p99_ms, page_idle.p99_ms, healthz_during.p99_ms, healthz_idle.p99_ms, wakeup_delay.p99_ms
    );
    Ok(Crowd {
        subscribers: args.subscribers,
        dossiers: args.small,
        alone_seconds: alone.seconds,
        alone_busy_core_seconds: alone.busy_core_seconds,
        total_seconds,
        busy_core_seconds,
        ratio: total_seconds / alone.seconds,
        // Ten times the machine's work of one run, on every core at once.
        floor_ratio: args.subscribers as f64 * alone.busy_core_seconds / cores() / alone.seconds,
        page_idle,
        page_during,
        healthz_idle,
        healthz_during,
        leader_cpu_seconds,
        wakeup_delay,
    })
}

async fn page(cluster: &Cluster, photos: &Photos, args: &Args) -> BenchResult<Page> {
    let kept = match args.keep {
        true => cluster.kept("page", args.page_dossiers).await,
        false => None,
    };
    let pool = match kept {
        Some(pool) => {
            println!("  reusing the kept database");
            pool
        }
        None => {
            let pool = cluster.prepare("page").await?;
            let t = Instant::now();
            data::bulk_dossiers(&pool, photos, args.page_dossiers).await?;
            println!("  loaded in {:.1} s", t.elapsed().as_secs_f64());
            pool
        }
    };
    let instance = cluster.start("page", pool).await?;
    // Sanity and warm-up: the page shows 50 dossiers.
    let body = instance.get(&page_path(0)).send().await?.text().await?;
    let rows = body.matches("data-testid=\"dossier-row\"").count();
    if rows != 50 {
        return Err(format!("the list page shows {rows} dossiers, expected 50").into());
    }
    let warm = Until::Requests(args.connections * 4);
    load::run(args.connections, warm, page_request(&instance)).await?;
    let until = Until::Requests(args.page_requests);
    let http = load::run(args.connections, until, page_request(&instance)).await?;
    println!(
        "  HTTP p50 {:.1} ms, p99 {:.1} ms",
        http.p50_ms, http.p99_ms
    );

    // The page's own query, called directly with the same concurrency.
    let direct = PgPoolOptions::new()
        .max_connections(args.connections as u32)
        .connect(&cluster.database_url("page"))
        .await?;
    let query = |i: usize| DossierQuery {
        name: data::name(i as u64)
            .split(' ')
            .next()
            .unwrap_or("Anna")
            .to_string(),
        limit: app::dossiers::PAGE_SIZE,
        ..Default::default()
    };
    // Warm up as the server's pool is warmed up: every connection open before measuring.
    let pool = direct.clone();
    let warm = Until::Requests(args.connections * 4);
    load::run(args.connections, warm, move |i| {
        let pool = pool.clone();
        let q = query(i);
        async move {
            app::dossiers::ssr::search(&pool, &q).await?;
            Ok(())
        }
    })
    .await?;
    let pool = direct.clone();
    let sql = load::run(
        args.connections,
        Until::Requests(args.page_requests),
        move |i| {
            let pool = pool.clone();
            let q = query(i);
            async move {
                let page = app::dossiers::ssr::search(&pool, &q).await?;
                if page.dossiers.len() != 50 {
                    return Err("the query returned fewer than 50 dossiers".into());
                }
                Ok(())
            }
        },
    )
    .await?;
    println!("  SQL p50 {:.1} ms, p99 {:.1} ms", sql.p50_ms, sql.p99_ms);
    direct.close().await;
    instance.stop();
    if !args.keep {
        cluster.drop_database("page").await?;
    }
    Ok(Page {
        dossiers: args.page_dossiers,
        connections: args.connections,
        p99_ratio: http.p99_ms / sql.p99_ms,
        http,
        sql,
    })
}

fn bundle(site_root: &std::path::Path) -> BenchResult<Bundle> {
    let pkg = site_root.join("pkg");
    let wasm = std::fs::read_dir(&pkg)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|e| e == "wasm"))
        .ok_or_else(|| format!("no .wasm file in {}", pkg.display()))?;
    let raw_bytes = std::fs::metadata(&wasm)?.len();
    let out = std::process::Command::new("gzip")
        .args(["-9", "-c"])
        .arg(&wasm)
        .output()?;
    if !out.status.success() {
        return Err("gzip failed".into());
    }
    Ok(Bundle {
        file: wasm
            .strip_prefix(site_root)
            .unwrap_or(&wasm)
            .display()
            .to_string(),
        raw_bytes,
        gzip_bytes: out.stdout.len() as u64,
    })
}
