//! P9, sustained ingest with matching on a real server (the vector path and the photo path),
//! and P10, the events page at millions of events against its bare SQL.

use super::*;
use crate::cluster::Remote;
use domain::monitoring::EventFilter;

#[derive(Debug, Serialize)]
pub struct Ingest {
    pub gallery: u64,
    pub connections: usize,
    /// Posts of one vector each (a new photo of a watched person).
    pub vectors: Latency,
    pub vector_matched: f64,
    /// Posts of a real photo each (every face found, described and matched).
    pub photos: Latency,
    /// The same photos decoded and analysed by the engine alone, in this process, with every
    /// core: the photo path's ceiling.
    pub extraction_per_second: f64,
}

#[derive(Debug, Serialize)]
pub struct EventsPage {
    pub events: u64,
    pub days: u32,
    pub connections: usize,
    pub http: Latency,
    pub sql: Latency,
    pub p99_ratio: f64,
}

/// P9 and P10.
pub struct Monitoring {
    pub p9: monitoring::Ingest,
    pub p10: monitoring::EventsPage,
}

pub(super) async fn measures(
    cluster: &Cluster,
    photos: &Photos,
    args: &Args,
) -> BenchResult<Monitoring> {
    step(&format!(
        "P9: sustained ingest with matching against {} watched dossiers",
        args.monitor_dossiers
    ));
    let (instance, list) = monitoring::monitored(cluster, photos, args).await?;
    let p9 = monitoring::ingest(&instance, args).await?;
    step(&format!(
        "P10: the events page at {} events, {} connections",
        args.events, args.connections
    ));
    let p10 = monitoring::events_page(cluster, &instance, list, args).await?;
    instance.stop();
    if !args.keep {
        cluster.drop_database("monitor").await?;
    }
    Ok(Monitoring { p9, p10 })
}

/// P8–P10 alone.
pub async fn monitoring_only(args: &Args) -> BenchResult<()> {
    let cluster = super::cluster(args)?;
    let photos = Photos::new(args.seed).await?;
    let p8 = super::index_runs(args).await?;
    let m = measures(&cluster, &photos, args).await?;
    println!("{}", serde_json::to_string_pretty(&(p8, m.p9, m.p10))?);
    Ok(())
}

/// The installation P9 and P10 share: `gallery` watched dossiers with face-like vectors.
pub(super) async fn monitored(
    cluster: &Cluster,
    photos: &Photos,
    args: &Args,
) -> BenchResult<(Instance, i64)> {
    let (pool, list) = gallery(cluster, "monitor", photos, args).await?;
    let instance = cluster.start("monitor", pool).await?;
    Ok((instance, list))
}

/// A prepared database `db` holding P9's gallery: `--monitor-dossiers` watched dossiers with
/// face-like vectors, in one list.
pub(super) async fn gallery(
    cluster: &Cluster,
    db: &str,
    photos: &Photos,
    args: &Args,
) -> BenchResult<(PgPool, i64)> {
    let pool = cluster.prepare(db).await?;
    let list = data::watch_list(&pool, "Bench: watched").await?;
    data::add_dossiers(
        &pool,
        photos,
        args.seed,
        list,
        None,
        0,
        args.monitor_dossiers,
    )
    .await?;
    sqlx::query("VACUUM ANALYZE").execute(&pool).await?;
    Ok((pool, list))
}

pub(super) fn vector_post(n: u64, seed: u64, k: u64) -> serde_json::Value {
    serde_json::json!({
        "camera": format!("camera-{}", n % 20),
        "model": data::FACE_MODEL,
        "vectors": [data::photo_of(n, seed, k)],
    })
}

/// Photos per second the face engine alone gets through (decoding included), every core busy.
fn extraction_rate(args: &Args, jpegs: &[Vec<u8>], photos: usize) -> BenchResult<f64> {
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
    let engine = face_engine::Engine::load(&args.face_models, workers)
        .map_err(|e| format!("{e}: run scripts/install-tools.sh first"))?;
    let next = std::sync::atomic::AtomicUsize::new(0);
    let started = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= photos {
                    break;
                }
                if let Ok(picture) = image::load_from_memory(&jpegs[i % jpegs.len()]) {
                    engine.analyse(&picture.to_rgb8());
                }
            });
        }
    });
    Ok(photos as f64 / started.elapsed().as_secs_f64())
}

/// Posts a first event once the server has built its face index (it answers 503 until then).
pub(super) async fn first_event(instance: &Remote, seed: u64) -> BenchResult<()> {
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let first = instance
            .post("/api/events/faces")
            .json(&vector_post(1, seed, 1))
            .send()
            .await?;
        match first.status().as_u16() {
            201 => return Ok(()),
            503 if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(200)).await
            }
            _ => {
                return Err(format!("the first event was refused: {}", first.text().await?).into())
            }
        }
    }
}

pub(super) async fn ingest(instance: &Instance, args: &Args) -> BenchResult<Ingest> {
    let pool = instance.pool.clone();
    let instance = instance.remote();
    // The server builds its index at start-up; then warm up.
    first_event(&instance, args.seed).await?;
    let (gallery, seed) = (args.monitor_dossiers, args.seed);
    let post = |instance: Remote| {
        move |i: usize| {
            let instance = instance.clone();
            async move {
                let n = (i as u64 * 7919) % gallery;
                let answer = instance
                    .post("/api/events/faces")
                    .json(&vector_post(n, seed, 1 + i as u64))
                    .send()
                    .await?;
                if answer.status() != 201 {
                    return Err(format!("an event was refused: {}", answer.text().await?).into());
                }
                Ok(())
            }
        }
    };
    load::run(
        args.connections,
        Until::Requests(args.connections * 4),
        post(instance.clone()),
    )
    .await?;
    let before: i64 = sqlx::query_scalar("SELECT count(*) FROM events")
        .fetch_one(&pool)
        .await?;
    let vectors = load::run(
        args.connections,
        Until::Requests(args.ingest_events),
        post(instance.clone()),
    )
    .await?;
    let matched: i64 =
        sqlx::query_scalar("SELECT count(*) FROM events WHERE dossier_id IS NOT NULL")
            .fetch_one(&pool)
            .await?;
    let all: i64 = sqlx::query_scalar("SELECT count(*) FROM events")
        .fetch_one(&pool)
        .await?;
    if (all - before) as usize != args.ingest_events {
        return Err(format!(
            "{} events stored for {} posts",
            all - before,
            args.ingest_events
        )
        .into());
    }
    println!(
        "  vector path: {:.0} events/s, p99 {:.1} ms",
        vectors.per_second, vectors.p99_ms
    );

    // Photos travel as JSON with the image in base64 (the same path as multipart after reading).
    use base64::Engine as _;
    let jpegs = ["obama.jpg", "obama2.jpg", "obama3.jpg", "biden.jpg"]
        .iter()
        .map(|name| std::fs::read(args.test_photos.join(name)))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{e}: run scripts/face-data.sh"))?;
    let extraction_per_second = extraction_rate(args, &jpegs, args.ingest_photos)?;
    println!("  extraction alone: {extraction_per_second:.1} photos/s");
    let bodies: Arc<Vec<serde_json::Value>> = Arc::new(
        jpegs
            .into_iter()
            .map(|jpeg| {
                serde_json::json!({
                    "camera": "entrance",
                    "image": base64::engine::general_purpose::STANDARD.encode(jpeg),
                })
            })
            .collect(),
    );
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
    let photo = {
        let instance = instance.clone();
        move |i: usize| {
            let (instance, bodies) = (instance.clone(), bodies.clone());
            async move {
                let body = &bodies[i % bodies.len()];
                let answer = instance.post("/api/events/faces").json(body).send().await?;
                if answer.status() != 201 {
                    return Err(
                        format!("a photo event was refused: {}", answer.text().await?).into(),
                    );
                }
                Ok(())
            }
        }
    };
    let photos = load::run(workers, Until::Requests(args.ingest_photos), photo).await?;
    println!(
        "  photo path: {:.1} events/s, p99 {:.0} ms",
        photos.per_second, photos.p99_ms
    );
    Ok(Ingest {
        gallery: args.monitor_dossiers,
        connections: args.connections,
        vector_matched: (matched as f64) / (all as f64),
        vectors,
        photos,
        extraction_per_second,
    })
}

/// Loads `events` events spread over `days` days into the installation's database, as bulk SQL:
/// over today (UTC) so far and the `days - 1` days before, the days whose partitions it makes.
/// (Spreading them over `days` × 24 hours back from now would touch one day more, a day with no
/// partition, or one past the retention.)
async fn load_events(pool: &PgPool, list: i64, events: u64, days: u32) -> BenchResult<()> {
    use chrono::Timelike as _;
    let now = chrono::Utc::now();
    let span = i64::from(days.max(1) - 1) * 86_400 + i64::from(now.num_seconds_from_midnight()) + 1;
    for day in 0..days {
        sqlx::query("SELECT events_partition(($1::timestamptz - make_interval(days => $2))::date)")
            .bind(now)
            .bind(day as i32)
            .execute(pool)
            .await?;
    }
    let per_batch = 500_000_u64;
    let mut done = 0;
    while done < events {
        let n = per_batch.min(events - done);
        // Newest first in time as ids grow; a tenth matched, a third of those awaiting.
        sqlx::query(
            "INSERT INTO events (captured_at, camera, dossier_id, dossier_name, watch_list_id, confidence, needs_ack)
             SELECT $1::timestamptz - make_interval(secs => (($2 + g) % $3::bigint)::float8),
                    'camera-' || (g % 20),
                    CASE WHEN g % 10 = 0 THEN 1 + g % 1000 END,
                    CASE WHEN g % 10 = 0 THEN 'Person ' || g % 1000 END,
                    CASE WHEN g % 10 = 0 THEN $4::bigint END,
                    CASE WHEN g % 10 = 0 THEN 0.8 + (g % 20) / 100.0 END,
                    g % 30 = 0
             FROM generate_series(1, $5::bigint) AS g",
        )
        .bind(now)
        .bind(done as i64)
        .bind(span)
        .bind(list)
        .bind(n as i64)
        .execute(pool)
        .await?;
        done += n;
    }
    sqlx::query("VACUUM ANALYZE events").execute(pool).await?;
    Ok(())
}

/// The filters P10's requests rotate through: the newest events, one camera's, the matches.
fn filter(i: usize) -> (String, EventFilter) {
    match i % 3 {
        0 => ("/events".into(), EventFilter::default()),
        1 => {
            let camera = format!("camera-{}", i % 20);
            (
                format!("/events?camera={camera}"),
                EventFilter {
                    camera: Some(camera),
                    ..Default::default()
                },
            )
        }
        _ => (
            "/events?matched=yes".into(),
            EventFilter {
                matched: Some(true),
                ..Default::default()
            },
        ),
    }
}

pub(super) async fn events_page(
    cluster: &Cluster,
    instance: &Instance,
    list: i64,
    args: &Args,
) -> BenchResult<EventsPage> {
    let t = Instant::now();
    load_events(&instance.pool, list, args.events, args.event_days).await?;
    println!(
        "  {} events loaded in {:.0} s",
        args.events,
        t.elapsed().as_secs_f64()
    );
    let instance = instance.remote();
    let body = instance.get("/events").send().await?.text().await?;
    let rows = body.matches("data-testid=\"event\"").count();
    if rows != domain::monitoring::PAGE_SIZE as usize {
        return Err(format!("the events page shows {rows} events, expected 50").into());
    }
    let request = {
        let instance = instance.clone();
        move |i: usize| {
            let instance = instance.clone();
            async move {
                let answer = instance.get(&filter(i).0).send().await?;
                if !answer.status().is_success() {
                    return Err(format!("the events page answered {}", answer.status()).into());
                }
                answer.bytes().await?;
                Ok(())
            }
        }
    };
    load::run(
        args.connections,
        Until::Requests(args.connections * 4),
        request.clone(),
    )
    .await?;
    let http = load::run(
        args.connections,
        Until::Requests(args.page_requests),
        request,
    )
    .await?;
    println!(
        "  HTTP p50 {:.1} ms, p99 {:.1} ms",
        http.p50_ms, http.p99_ms
    );

    let direct = PgPoolOptions::new()
        .max_connections(args.connections as u32)
        .connect(&cluster.database_url("monitor"))
        .await?;
    let query = {
        let pool = direct.clone();
        move |i: usize| {
            let pool = pool.clone();
            async move {
                let page = engine::monitoring::store::page(&pool, &filter(i).1, None).await?;
                if page.events.len() != domain::monitoring::PAGE_SIZE as usize {
                    return Err("the query returned fewer than 50 events".into());
                }
                Ok(())
            }
        }
    };
    load::run(
        args.connections,
        Until::Requests(args.connections * 4),
        query.clone(),
    )
    .await?;
    let sql = load::run(args.connections, Until::Requests(args.page_requests), query).await?;
    println!("  SQL p50 {:.1} ms, p99 {:.1} ms", sql.p50_ms, sql.p99_ms);
    direct.close().await;
    Ok(EventsPage {
        events: args.events,
        days: args.event_days,
        connections: args.connections,
        p99_ratio: http.p99_ms / sql.p99_ms,
        http,
        sql,
    })
}
