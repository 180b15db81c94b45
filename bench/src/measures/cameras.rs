//! P14 and P15, on a real server watching real RTSP streams (the demo video served by
//! `scripts/rtsp-server.py`, in which a watched dossier's person passes every 30 s): P14, how
//! long after the frame a person was first seen in their event is stored; P15, how many
//! cameras at 5 frames a second the server's own video worker keeps up with while posted
//! vectors are ingested beside it (P9's kind of ingest, at a steady rate), against that
//! ingest alone in the same run.

use super::monitoring::{gallery, vector_post};
use super::*;
use crate::cluster::Remote;
use std::process::{Child, Command, Stdio};

/// How long a round waits for its new cameras before it measures: their streams open (a few
/// seconds), then their rate is measured over ten seconds and reported every four.
const WARM_UP: Duration = Duration::from_secs(20);
/// How often the cameras' measured rates are read.
const SAMPLE_EVERY: Duration = Duration::from_secs(2);
/// A camera keeps up when every rate read stays at or above this share of its setting.
const KEEPS_UP: f32 = 0.9;
/// Connections posting vectors beside the cameras, each a post every [`INGEST_PACE`]: 100
/// events a second, a busy site's steady ingest. A saturating one (P9's) takes every core,
/// and the cameras' analysis, which runs at a lower priority than requests, yields to it by
/// design.
const INGEST_CONNECTIONS: usize = 2;
const INGEST_PACE: Duration = Duration::from_millis(20);

#[derive(Debug, Serialize)]
pub struct Cameras {
    pub fps: f32,
    pub seconds_per_round: f64,
    pub ingest_connections: usize,
    /// Latency from a person's first frame to their matched event, over every round.
    pub latency: Latency,
    /// The ingest's rate with no camera, and in each round.
    pub ingest_alone: Latency,
    pub rounds: Vec<CameraRound>,
    /// The most cameras that all kept up.
    pub sustained: usize,
}

#[derive(Debug, Serialize)]
pub struct CameraRound {
    pub cameras: usize,
    /// The lowest rate any camera reported while measured, and the mean of all.
    pub lowest_fps: f32,
    pub mean_fps: f32,
    pub kept_up: bool,
    pub ingest: Latency,
}

/// P14 and P15 with up to the largest of `counts` cameras.
pub(super) async fn cameras(
    cluster: &Cluster,
    photos: &Photos,
    args: &Args,
) -> BenchResult<Cameras> {
    // P9's gallery, which the ingest beside the cameras matches against.
    let (pool, _) = gallery(cluster, "cameras", photos, args).await?;
    // Joe Biden, from the test photos, in an active list (his vector computed by the engine).
    let test_photos = args.test_photos.to_string_lossy().to_string();
    cluster.command(
        "cameras",
        &["demo-data", "--dossiers", "0", "--photos", &test_photos],
    )?;
    let most = args.cameras.iter().copied().max().unwrap_or(1);
    let instance = cluster
        .start_with(
            "cameras",
            pool.clone(),
            &[("VIDEO_WORKER_CAMERAS", most.to_string())],
        )
        .await?;
    let stream = RtspServer::start(&args.video_clips.join("people.mp4"))?;
    let remote = instance.remote();
    ready(&remote, args).await?;
    let round_time = Duration::from_secs(args.camera_seconds);

    let ingest_alone = ingest_for(&remote, args, round_time).await?;
    let started = chrono::Utc::now();
    let mut rounds = Vec::new();
    let mut added = 0;
    for &count in &args.cameras {
        while added < count {
            added += 1;
            let body = serde_json::json!({
                "name": format!("bench-{added}"),
                "url": stream.url,
                "enabled": true,
                "fps": args.video_fps.to_string(),
            });
            let answer = remote
                .post("/api/cameras/create")
                .json(&body)
                .send()
                .await?;
            if !answer.status().is_success() {
                return Err(format!("cameras/create: {}", answer.text().await?).into());
            }
        }
        println!("  {count} camera(s)");
        tokio::time::sleep(WARM_UP).await;
        let sampling = sample_rates(pool.clone(), round_time);
        let (ingest, rates) = tokio::join!(ingest_for(&remote, args, round_time), sampling);
        let (ingest, rates) = (ingest?, rates?);
        let lowest = rates.iter().copied().fold(f32::INFINITY, f32::min);
        let mean = rates.iter().sum::<f32>() / rates.len().max(1) as f32;
        rounds.push(CameraRound {
            cameras: count,
            lowest_fps: lowest,
            mean_fps: mean,
            kept_up: rates.len() >= count && lowest >= args.video_fps * KEEPS_UP,
            ingest,
        });
    }
    let latency = first_frame_to_event(&pool, started).await?;
    drop(stream);
    instance.stop();
    if !args.keep {
        cluster.drop_database("cameras").await?;
    }
    Ok(Cameras {
        fps: args.video_fps,
        seconds_per_round: round_time.as_secs_f64(),
        ingest_connections: INGEST_CONNECTIONS,
        latency,
        ingest_alone,
        sustained: rounds
            .iter()
            .filter(|r| r.kept_up)
            .map(|r| r.cameras)
            .max()
            .unwrap_or(0),
        rounds,
    })
}

/// Waits until the server's face index answers (503 while it is built).
async fn ready(remote: &Remote, args: &Args) -> BenchResult<()> {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let answer = remote
            .post("/api/events/faces")
            .json(&vector_post(1, args.seed, 1))
            .send()
            .await?;
        match answer.status().as_u16() {
            201 => return Ok(()),
            503 if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(200)).await
            }
            _ => {
                return Err(format!("the first event was refused: {}", answer.text().await?).into())
            }
        }
    }
}

/// Posts vectors (as P9 does, at a steady rate) for `time`.
async fn ingest_for(remote: &Remote, args: &Args, time: Duration) -> BenchResult<Latency> {
    let done = Arc::new(AtomicBool::new(false));
    let flag = done.clone();
    tokio::spawn(async move {
        tokio::time::sleep(time).await;
        flag.store(true, Ordering::Relaxed);
    });
    let (remote, seed, gallery) = (remote.clone(), args.seed, args.monitor_dossiers.max(1));
    let pace = Some(INGEST_PACE);
    load::run_paced(
        INGEST_CONNECTIONS,
        Until::Flag(done),
        pace,
        move |i: usize| {
            let remote = remote.clone();
            async move {
                let answer = remote
                    .post("/api/events/faces")
                    .json(&vector_post(
                        (i as u64 * 7919) % gallery,
                        seed,
                        1 + i as u64,
                    ))
                    .send()
                    .await?;
                if answer.status() != 201 {
                    return Err(format!("an event was refused: {}", answer.text().await?).into());
                }
                Ok(())
            }
        },
    )
    .await
}

/// Every streaming camera's reported rate, read every [`SAMPLE_EVERY`] for `time`.
async fn sample_rates(pool: PgPool, time: Duration) -> BenchResult<Vec<f32>> {
    let until = Instant::now() + time;
    let mut rates = Vec::new();
    while Instant::now() < until {
        let now: Vec<(String, Option<f32>)> =
            sqlx::query_as("SELECT state, fps FROM camera_status")
                .fetch_all(&pool)
                .await?;
        for (state, fps) in now {
            // A camera not streaming at this moment is a camera not keeping up.
            rates.push(if state == "streaming" {
                fps.unwrap_or(0.0)
            } else {
                0.0
            });
        }
        tokio::time::sleep(SAMPLE_EVERY).await;
    }
    Ok(rates)
}

/// From the frame a matched track was first seen in to its event's row, for every matched
/// event of the cameras since `since`.
async fn first_frame_to_event(
    pool: &PgPool,
    since: chrono::DateTime<chrono::Utc>,
) -> BenchResult<Latency> {
    let seconds: Vec<f64> = sqlx::query_scalar(
        "SELECT extract(epoch FROM received_at - captured_at)::float8 FROM events
         WHERE camera_id IS NOT NULL AND dossier_id IS NOT NULL AND captured_at >= $1",
    )
    .bind(since)
    .fetch_all(pool)
    .await?;
    if seconds.is_empty() {
        return Err(
            "the cameras made no matched event: the watched person was not recognised".into(),
        );
    }
    let samples = seconds
        .iter()
        .map(|s| Duration::from_secs_f64(s.max(0.0)))
        .collect();
    Ok(load::summarize(samples, 0, Duration::from_secs(1)))
}

/// The demo video served over RTSP on a free port, stopped when dropped.
struct RtspServer {
    url: String,
    child: Child,
}

impl RtspServer {
    fn start(clip: &std::path::Path) -> BenchResult<Self> {
        if !clip.exists() {
            return Err(format!("{} is missing: run scripts/demo-video.sh", clip.display()).into());
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let child = Command::new("/usr/bin/python3")
            .arg("scripts/rtsp-server.py")
            .arg(port.to_string())
            .arg(clip)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()?;
        let server = Self {
            url: format!("rtsp://127.0.0.1:{port}/cam"),
            child,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if Instant::now() > deadline {
                return Err("the RTSP server did not listen within 20 s".into());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(server)
    }
}

impl Drop for RtspServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
