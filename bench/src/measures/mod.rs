//! The measures P1–P7, run in one go on one set of installations so that each figure and its
//! baseline share the machine's state.

pub mod archive;
mod cameras;
mod crowd;
mod faces;
mod fleet;
pub mod hits;
pub mod imports;
pub mod index;
pub mod monitoring;
mod page;
mod stats;
mod sync;
mod tail;
pub mod video;

pub use archive::archive_only;
pub use cameras::Cameras;
use crowd::*;
pub use faces::Faces;
use page::*;
use sync::*;
pub use video::VideoCost;

use crate::cluster::{BenchResult, Cluster, Instance};
use crate::data::{self, Changes, Photos};
use crate::load::{self, Latency, Until};
use crate::Args;
use domain::dossiers::DossierQuery;
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
    pub p11: Faces,
    pub p13: Vec<VideoCost>,
    pub p14_p15: Cameras,
    pub p8: Vec<index::IndexRun>,
    pub p9: monitoring::Ingest,
    pub p10: monitoring::EventsPage,
    pub p12: hits::Hits,
    pub p16: archive::ArchiveRun,
    pub p17: imports::ImportRun,
}

/// P8 at each of `--index-faces`.
pub(super) async fn index_runs(args: &Args) -> BenchResult<Vec<index::IndexRun>> {
    let mut p8 = Vec::new();
    for &size in &args.index_faces {
        step(&format!(
            "P8: the face index at {size} faces against an exact scan"
        ));
        let (queries, exact, seed) = (args.index_queries, args.exact_queries, args.seed);
        let sweep = args.index_sweep.clone();
        let keep = args.index_keep.clone();
        let tuning = face_index::Tuning {
            connectivity: args.index_connectivity,
            expansion_add: args.index_expansion_add,
            projected_dimensions: args.index_projection,
            expansion_search: args.index_expansion_search,
        };
        p8.push(
            tokio::task::spawn_blocking(move || {
                index::run(size, tuning, queries, exact, &sweep, seed, keep.as_deref())
            })
            .await??,
        );
    }
    Ok(p8)
}

/// P8 alone.
pub async fn index_only(args: &Args) -> BenchResult<()> {
    let p8 = index_runs(args).await?;
    println!("{}", serde_json::to_string_pretty(&p8)?);
    Ok(())
}

#[derive(Debug, Serialize)]
pub struct FullSync {
    pub dossiers: u64,
    pub photos: i64,
    /// The median pair's figures.
    pub sync_seconds: f64,
    pub copy_seconds: f64,
    pub copy_bytes: u64,
    pub ratio: f64,
    /// Every pair, in the order run: (copy seconds, sync seconds).
    pub pairs: Vec<(f64, f64)>,
    /// For each pair: seconds from the sync's end until the Subscriber's face index held it.
    pub index_seconds: Vec<f64>,
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
    /// Where the processes ran, when each side had its own core (see `placement`).
    pub placement: Option<String>,
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
        cpus: None,
    })
}

/// P1 alone, for profiling the full sync: a Leader with only the main list, then the pairs.
pub async fn full_sync_only(args: &Args) -> BenchResult<()> {
    let cluster = cluster(args)?;
    let photos = Photos::new(args.seed).await?;
    let (leader_pool, main_list) = match cluster.kept("leader", args.dossiers).await {
        // Kept by an earlier build, it may lack this build's migrations.
        Some(pool) => {
            cluster.command("leader", &["migrate"])?;
            (pool, 1)
        }
        None => {
            let pool = cluster.prepare("leader").await?;
            let list = data::watch_list(&pool, "Bench: main").await?;
            data::add_dossiers(&pool, &photos, args.seed, list, None, 0, args.dossiers).await?;
            sqlx::query("VACUUM ANALYZE").execute(&pool).await?;
            (pool, list)
        }
    };
    let leader = cluster.start("leader", leader_pool.clone()).await?;
    let (p1, sub, _) = full_sync_pairs(&cluster, &leader, &leader_pool, main_list, args).await?;
    sub.stop();
    leader.stop();
    cluster.drop_database("subscriber").await?;
    if !args.keep {
        cluster.drop_database("leader").await?;
    }
    println!("{}", serde_json::to_string_pretty(&p1)?);
    Ok(())
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
    // P8 first: it needs no database, and its latency tail is what the machine's other work
    // moves most. Later, PostgreSQL is still writing out the rows the other measures loaded
    // (in the committed run of 2026-11-25 06:01, P8 after them had a p99 a third above the
    // same index's alone).
    let p8 = index_runs(args).await?;
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

    let (p1, sub, main_replica) =
        full_sync_pairs(&cluster, &leader, &leader_pool, main_list, args).await?;

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

    step("P11: the face engine on real photos, and the backfill");
    let p11 = p11(&cluster, args).await?;
    step("P13: a camera's stream analysed, against decoding it alone");
    let p13 = video::p13(args).await?;
    step("P14/P15: cameras watched by a live server over RTSP, beside a steady ingest");
    let p14_p15 = cameras::cameras(&cluster, &photos, args).await?;
    let monitoring = monitoring::measures(&cluster, &photos, args).await?;
    step(&format!(
        "P12: matches from a Subscriber to its Leader, {} watched dossiers",
        args.monitor_dossiers
    ));
    let p12 = hits::p12(&cluster, &photos, args).await?;
    let p16 = archive::p16(args).await?;
    step("P17: a bulk import, without photos and with them");
    let p17 = imports::p17(&cluster, args).await?;

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
        p11,
        p13,
        p14_p15,
        p8,
        p9: monitoring.p9,
        p10: monitoring.p10,
        p12,
        p16,
        p17,
    })
}

async fn p11(cluster: &Cluster, args: &Args) -> BenchResult<Faces> {
    faces::faces(
        cluster,
        &args.face_models,
        &args.test_photos,
        args.face_rounds,
        args.backfill_photos,
    )
    .await
}

/// P11 alone.
pub async fn faces_only(args: &Args) -> BenchResult<()> {
    let p11 = p11(&cluster(args)?, args).await?;
    println!("{}", serde_json::to_string_pretty(&p11)?);
    Ok(())
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
