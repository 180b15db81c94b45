//! `bench`: measures replication and the dossier list page of the dossier database against
//! their physical floor, side by side in one run, and writes `BENCHMARKS.md`.
//!
//! Every figure comes from real installations (`dossier serve` processes, each with its own
//! PostgreSQL database) driven over HTTP, as an operator would drive them. See `measures.rs`
//! for what each measure does and `report.rs` for the report.

mod cluster;
mod data;
mod load;
mod measures;
mod placement;
mod report;

use clap::Parser;
use std::path::PathBuf;

/// Sizes and places of a benchmark run. The defaults finish in about ten minutes on a 2-core
/// machine; the report states the sizes used.
#[derive(Parser, Debug, Clone, serde::Serialize)]
#[command(version, about)]
pub struct Args {
    /// Dossiers in the list fully synced by P1 (and changed by P2).
    #[arg(long, default_value_t = 100_000)]
    pub dossiers: u64,
    /// Dossiers in the small list: P3's comparison point and P7's list.
    #[arg(long, default_value_t = 10_000)]
    pub small: u64,
    /// P1's pairs of a copy and a sync, interleaved; P1 reports the median pair.
    #[arg(long, default_value_t = 3)]
    pub pairs: usize,
    /// Dossiers changed between runs in P2 and P3.
    #[arg(long, default_value_t = 100)]
    pub changes: usize,
    /// Dossiers in the installation whose list page P5 loads.
    #[arg(long, default_value_t = 1_000_000)]
    pub page_dossiers: u64,
    /// Requests P5 sends to the page (and to the database directly), over `connections`.
    #[arg(long, default_value_t = 6_400)]
    pub page_requests: usize,
    /// Concurrent connections of P5.
    #[arg(long, default_value_t = 32)]
    pub connections: usize,
    /// Subscribers syncing at once in P7.
    #[arg(long, default_value_t = 10)]
    pub subscribers: usize,
    /// Rounds over the test photos of P11's detection timing.
    #[arg(long, default_value_t = 20)]
    pub face_rounds: usize,
    /// Photos in P11's backfill.
    #[arg(long, default_value_t = 200)]
    pub backfill_photos: u64,
    /// The face engine's models (P11).
    #[arg(long, env = "FACE_MODELS_DIR", default_value = "data/face-models")]
    #[serde(skip)]
    pub face_models: PathBuf,
    /// face_recognition's test photos (P11).
    #[arg(long, default_value = "data/test-photos")]
    #[serde(skip)]
    pub test_photos: PathBuf,
    /// Run only P11, print its figures and write no report.
    #[arg(long)]
    #[serde(skip)]
    pub faces_only: bool,
    /// The clips P13 analyses (scripts/demo-video.sh --size 1920x1080 makes them), the 720p
    /// one named `people.mp4`, the others `people-WxH.mp4`.
    #[arg(long, default_value = "data/demo-video")]
    #[serde(skip)]
    pub video_clips: PathBuf,
    /// The frame sizes P13 measures (comma-separated).
    #[arg(long, value_delimiter = ',', default_value = "1280x720,1920x1080")]
    pub video_sizes: Vec<String>,
    /// Frames analysed a second in P13, the cameras' default.
    #[arg(long, default_value_t = domain::cameras::DEFAULT_FPS)]
    pub video_fps: f32,
    /// The FFmpeg that decodes P13's clips.
    #[arg(long, default_value = "ffmpeg")]
    #[serde(skip)]
    pub ffmpeg: PathBuf,
    /// The numbers of cameras P15 watches at once, round after round (comma-separated).
    #[arg(long, value_delimiter = ',', default_value = "1,2,3,4")]
    pub cameras: Vec<usize>,
    /// How long each of P15's rounds measures, in seconds (the demo video loops every 30 s).
    #[arg(long, default_value_t = 60)]
    pub camera_seconds: u64,
    /// Run only P13–P15, print their figures and write no report.
    #[arg(long)]
    #[serde(skip)]
    pub video_only: bool,
    /// Sizes of P8's face index (comma-separated); a million takes minutes to build.
    #[arg(long, value_delimiter = ',', default_value = "100000")]
    pub index_faces: Vec<usize>,
    /// P8's index tuning (edges per node, candidates kept while adding / searching); the
    /// defaults are the server's.
    #[arg(long, default_value_t = face_index::Tuning::default().connectivity)]
    pub index_connectivity: usize,
    #[arg(long, default_value_t = face_index::Tuning::default().expansion_add)]
    pub index_expansion_add: usize,
    #[arg(long, default_value_t = face_index::Tuning::default().expansion_search)]
    pub index_expansion_search: usize,
    /// Principal axes P8's graph holds of each vector (0: whole vectors).
    #[arg(long, default_value_t = face_index::Tuning::default().projected_dimensions)]
    pub index_projection: usize,
    /// More settings to measure P8's queries at, on the same index (comma-separated): a search
    /// expansion, or an expansion and the candidates re-ranked (`128x64`); the trade-off
    /// between speed and recall.
    #[arg(long, value_delimiter = ',', value_parser = parse_sweep)]
    pub index_sweep: Vec<(usize, usize)>,
    /// Keep P8's built index in this directory and reuse it when its size, seed and tuning
    /// match: for measuring other search settings without a build of many minutes. A reused
    /// index reports the build time of the run that built it.
    #[arg(long)]
    #[serde(skip)]
    pub index_keep: Option<PathBuf>,
    /// P8's queries through the index, per size.
    #[arg(long, default_value_t = 2000)]
    pub index_queries: usize,
    /// P8's queries also answered by the exact scan (its baseline and recall), per size.
    #[arg(long, default_value_t = 300)]
    pub exact_queries: usize,
    /// Watched dossiers of P9 and P10's installation.
    #[arg(long, default_value_t = 10_000)]
    pub monitor_dossiers: u64,
    /// P9's posts of one vector each.
    #[arg(long, default_value_t = 6_000)]
    pub ingest_events: usize,
    /// P9's posts of a real photo each.
    #[arg(long, default_value_t = 60)]
    pub ingest_photos: usize,
    /// Events in P10's database, and over how many days they spread.
    #[arg(long, default_value_t = 10_000_000)]
    pub events: u64,
    #[arg(long, default_value_t = 30)]
    pub event_days: u32,
    /// P16's archive: events (in memory), the days they spread over, queries through the
    /// archive and through the exact scan (its baseline; slow at 10 M).
    #[arg(long, default_value_t = 10_000_000)]
    pub archive_events: usize,
    #[arg(long, default_value_t = 30)]
    pub archive_days: i64,
    #[arg(long, default_value_t = 300)]
    pub archive_queries: usize,
    #[arg(long, default_value_t = 20)]
    pub archive_exact_queries: usize,
    /// Run only P16 (the archive search), print its figures and write no report.
    #[arg(long)]
    #[serde(skip)]
    pub archive_only: bool,
    /// P17's import: rows without photos, and rows with a photo each.
    #[arg(long, default_value_t = 50_000)]
    pub import_rows: u64,
    #[arg(long, default_value_t = 200)]
    pub import_photos: u64,
    /// Run only P17 (the bulk import), print its figures and write no report.
    #[arg(long)]
    #[serde(skip)]
    pub imports_only: bool,
    /// P12's steady pace of posts at the Subscriber (events a second), and for how long.
    #[arg(long, default_value_t = 50.0)]
    pub hits_pace: f64,
    #[arg(long, default_value_t = 20)]
    pub hits_seconds: u64,
    /// P12's fleet: sites the benchmark speaks for, the matches each delivers a second, and
    /// for how long each of its phases (idle, one site alone, the fleet) measures.
    #[arg(long, default_value_t = 50)]
    pub fleet_sites: usize,
    #[arg(long, default_value_t = 1)]
    pub fleet_events: usize,
    #[arg(long, default_value_t = 20)]
    pub fleet_seconds: u64,
    /// Run only P12 (matches flowing up), print its figures and write no report.
    #[arg(long)]
    #[serde(skip)]
    pub hits_only: bool,
    /// Run only P8 (the face index), print its figures and write no report.
    #[arg(long)]
    #[serde(skip)]
    pub index_only: bool,
    /// Run only the monitoring measures (P8–P10), print their figures and write no report.
    #[arg(long)]
    #[serde(skip)]
    pub monitoring_only: bool,
    /// Seed of the generated data.
    #[arg(long, default_value_t = 20_261_122)]
    pub seed: u64,
    /// The `dossier` binary (release build).
    #[arg(long, default_value = "target/release/dossier")]
    #[serde(skip)]
    pub bin: PathBuf,
    /// The built site (`cargo leptos build --release`): served pages and the WASM bundle of P6.
    #[arg(long, default_value = "target/site")]
    #[serde(skip)]
    pub site_root: PathBuf,
    /// PostgreSQL server, without a database name.
    #[arg(
        long,
        env = "PG_BASE_URL",
        default_value = "postgres://postgres@127.0.0.1:5432"
    )]
    #[serde(skip)]
    pub pg_base: String,
    /// A second PostgreSQL server for P7's Subscribers (`scripts/bench.sh` makes one on port
    /// 5433): with it, and two cores, P7 runs as deployed, each side on a core of its own.
    #[arg(long, env = "PG_SUBSCRIBER_BASE_URL")]
    #[serde(skip)]
    pub subscriber_pg: Option<String>,
    /// Prefix of the databases this run creates (and drops at the end).
    #[arg(long, default_value = "bench")]
    #[serde(skip)]
    pub db_prefix: String,
    /// Where the report goes.
    #[arg(long, default_value = "BENCHMARKS.md")]
    #[serde(skip)]
    pub out: PathBuf,
    /// Keep the databases after the run (to inspect them).
    #[arg(long)]
    #[serde(skip)]
    pub keep: bool,
    /// Run only P5, print its figures and write no report: for profiling the page. With `--keep`
    /// a second run reuses the loaded database.
    #[arg(long)]
    #[serde(skip)]
    pub page_only: bool,
    /// Run only P7 (on a Leader holding only the small list), print its figures and write no
    /// report: for profiling the crowd.
    #[arg(long)]
    #[serde(skip)]
    pub crowd_only: bool,
    /// Run only P1 (on a Leader holding only the main list), print its figures and write no
    /// report: for profiling the full sync. With `--keep` a second run reuses the Leader.
    #[arg(long)]
    #[serde(skip)]
    pub full_sync_only: bool,
}

/// `E` or `ExC`: a search expansion, and the candidates re-ranked (P8's own by default).
fn parse_sweep(text: &str) -> Result<(usize, usize), String> {
    let number = |t: &str| {
        t.parse::<usize>()
            .map_err(|_| format!("{text:?}: expected an expansion or EXPANSIONxCANDIDATES"))
    };
    match text.split_once('x') {
        Some((e, c)) => Ok((number(e)?, number(c)?)),
        None => Ok((number(text)?, measures::index::CANDIDATES)),
    }
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    if args.page_only
        || args.crowd_only
        || args.full_sync_only
        || args.faces_only
        || args.monitoring_only
        || args.index_only
        || args.video_only
        || args.hits_only
        || args.archive_only
        || args.imports_only
    {
        let only = if args.imports_only {
            measures::imports::imports_only(&args).await
        } else if args.archive_only {
            measures::archive_only(&args).await
        } else if args.hits_only {
            measures::hits::hits_only(&args).await
        } else if args.video_only {
            measures::video::video_only(&args).await
        } else if args.index_only {
            measures::index_only(&args).await
        } else if args.monitoring_only {
            measures::monitoring::monitoring_only(&args).await
        } else if args.faces_only {
            measures::faces_only(&args).await
        } else if args.page_only {
            measures::page_only(&args).await
        } else if args.crowd_only {
            measures::crowd_only(&args).await
        } else {
            measures::full_sync_only(&args).await
        };
        if let Err(e) = only {
            eprintln!("benchmark failed: {e}");
            std::process::exit(1);
        }
        return;
    }
    match measures::run_all(&args).await {
        Ok(results) => {
            let text = report::render(&args, &results);
            if let Err(e) = std::fs::write(&args.out, text) {
                eprintln!("cannot write {}: {e}", args.out.display());
                std::process::exit(1);
            }
            println!("report written to {}", args.out.display());
        }
        Err(e) => {
            eprintln!("benchmark failed: {e}");
            std::process::exit(1);
        }
    }
}
