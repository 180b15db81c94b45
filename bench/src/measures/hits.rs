//! P12, matches flowing up, between two real servers: a Leader watching P9's gallery in one
//! list, and a Subscriber replicating it. First the Subscriber's own vector ingest, P9's way,
//! with its delivery held (the Leader "away"), against the rate at which that backlog then
//! reaches the Leader once delivery is let go: delivery must never be the bottleneck. Then a
//! steady pace of posts at the Subscriber, each post's delivery lag (stored at the site →
//! stored on the Leader, both servers' clocks being this machine's), and the Leader's Events
//! page during it against the same page idle. Then the same Leader serves a fleet ([`super::fleet`]).

use super::*;
use crate::cluster::Remote;
use std::collections::HashMap;

#[derive(Debug, Serialize)]
pub struct Hits {
    pub gallery: u64,
    pub connections: usize,
    /// The Subscriber's ingest with delivery held: P9's vector path.
    pub ingest: Latency,
    /// The held backlog's events, and how fast they reached the Leader once let go.
    pub backlog: usize,
    pub drain_per_second: f64,
    pub drain_over_ingest: f64,
    /// The steady pace of posts at the Subscriber, and their delivery lag.
    pub pace_per_second: f64,
    pub paced_events: usize,
    pub lag_p50_ms: f64,
    pub lag_p99_ms: f64,
    pub lag_max_ms: f64,
    /// The Leader's Events page, one request every 100 ms, idle and during the paced posts.
    pub page_idle: Latency,
    pub page_busy: Latency,
    pub page_p99_ratio: f64,
    /// The same Leader serving a fleet of sites the benchmark speaks for.
    pub fleet: super::fleet::Fleet,
}

/// Holds (or lets go) the Subscriber's delivery to `leader`, as a Leader away would.
async fn hold(sub: &PgPool, leader: &str, held: bool) -> BenchResult<()> {
    sqlx::query(
        "INSERT INTO hit_leaders (leader_url, next_attempt_at)
         VALUES ($1, CASE WHEN $2 THEN now() + interval '1 day' ELSE now() END)
         ON CONFLICT (leader_url) DO UPDATE SET next_attempt_at = EXCLUDED.next_attempt_at",
    )
    .bind(leader)
    .bind(held)
    .execute(sub)
    .await?;
    Ok(())
}

async fn site_events(leader: &PgPool) -> BenchResult<i64> {
    Ok(
        sqlx::query_scalar("SELECT count(*) FROM events WHERE site_id IS NOT NULL")
            .fetch_one(leader)
            .await?,
    )
}

/// Waits until the Leader holds `n` of the site's events; returns when it did.
async fn until_delivered(leader: &PgPool, n: i64) -> BenchResult<Instant> {
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        if site_events(leader).await? >= n {
            return Ok(Instant::now());
        }
        if Instant::now() > deadline {
            return Err(format!("the Leader holds fewer than {n} of the site's events").into());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn post(sub: Remote, gallery: u64, seed: u64, offset: usize) -> impl Fn(usize) -> PostFuture {
    move |i: usize| {
        let sub = sub.clone();
        Box::pin(async move {
            let i = i + offset;
            let n = (i as u64 * 7919) % gallery;
            let answer = sub
                .post("/api/events/faces")
                .json(&monitoring::vector_post(n, seed, 1 + i as u64))
                .send()
                .await?;
            if answer.status() != 201 {
                return Err(format!("an event was refused: {}", answer.text().await?).into());
            }
            Ok(())
        })
    }
}

type PostFuture = std::pin::Pin<Box<dyn std::future::Future<Output = BenchResult<()>> + Send>>;

/// The Leader's Events page, probed as a user watching it would (every 100 ms) until `done`.
pub(super) async fn probe_page(leader: Remote, done: Arc<AtomicBool>) -> BenchResult<Latency> {
    load::run_paced(1, Until::Flag(done), Some(PROBE_PACE), move |_| {
        let leader = leader.clone();
        async move {
            let answer = leader.get("/events").send().await?;
            if !answer.status().is_success() {
                return Err(format!("the events page answered {}", answer.status()).into());
            }
            answer.bytes().await?;
            Ok(())
        }
    })
    .await
}

async fn probe_for(leader: Remote, seconds: f64) -> BenchResult<Latency> {
    let done = Arc::new(AtomicBool::new(false));
    let probe = tokio::spawn(probe_page(leader, done.clone()));
    tokio::time::sleep(Duration::from_secs_f64(seconds)).await;
    done.store(true, Ordering::Relaxed);
    probe.await?
}

pub(super) async fn p12(cluster: &Cluster, photos: &Photos, args: &Args) -> BenchResult<Hits> {
    let (pool, list) = monitoring::gallery(cluster, "hits_leader", photos, args).await?;
    let leader = cluster.start("hits_leader", pool).await?;
    let sub = sync::start_instance(cluster, "hits_sub").await?;
    let (_, run) = sync::subscribe(&sub, &leader, list, "Bench: watched (replica)").await?;
    println!("  replica synced ({} dossiers)", run.dossiers);
    let (gallery, seed) = (args.monitor_dossiers, args.seed);
    hold(&sub.pool, &leader.url, true).await?;
    // The Subscriber builds its face index at start-up and after the sync.
    monitoring::first_event(&sub.remote(), seed).await?;
    let warm = args.connections * 4;
    load::run(
        args.connections,
        Until::Requests(warm),
        post(sub.remote(), gallery, seed, 1),
    )
    .await?;
    let ingest = load::run(
        args.connections,
        Until::Requests(args.ingest_events),
        post(sub.remote(), gallery, seed, 1 + warm),
    )
    .await?;
    let backlog: i64 =
        sqlx::query_scalar("SELECT count(*) FROM hit_outbox WHERE version > sent_version")
            .fetch_one(&sub.pool)
            .await?;
    println!(
        "  Subscriber ingest {:.0} events/s (delivery held), {backlog} waiting",
        ingest.per_second
    );
    let let_go = Instant::now();
    hold(&sub.pool, &leader.url, false).await?;
    let drained = until_delivered(&leader.pool, backlog).await?;
    let drain_per_second = backlog as f64 / (drained - let_go).as_secs_f64();
    println!("  drained to the Leader at {drain_per_second:.0} events/s");

    // Steady posts at the site, the Leader's page probed meanwhile.
    let page_idle = probe_for(leader.remote(), args.hits_seconds as f64 / 2.0).await?;
    let before: i64 = sqlx::query_scalar("SELECT coalesce(max(id), 0) FROM events")
        .fetch_one(&sub.pool)
        .await?;
    let paced_events = (args.hits_pace * args.hits_seconds as f64) as usize;
    let workers = 4;
    let pace = Duration::from_secs_f64(workers as f64 / args.hits_pace);
    let done = Arc::new(AtomicBool::new(false));
    let probe = tokio::spawn(probe_page(leader.remote(), done.clone()));
    let paced = load::run_paced(
        workers,
        Until::Requests(paced_events),
        Some(pace),
        post(sub.remote(), gallery, seed, 1 + warm + args.ingest_events),
    )
    .await?;
    done.store(true, Ordering::Relaxed);
    let page_busy = probe.await??;
    // Every match of the paced posts queued (the unmatched are the site's own).
    let queued: i64 = sqlx::query_scalar("SELECT count(*) FROM hit_outbox")
        .fetch_one(&sub.pool)
        .await?;
    until_delivered(&leader.pool, queued).await?;
    let at_site: Vec<(i64, chrono::DateTime<chrono::Utc>)> = sqlx::query_as(
        "SELECT id, received_at FROM events WHERE id > $1 AND dossier_id IS NOT NULL",
    )
    .bind(before)
    .fetch_all(&sub.pool)
    .await?;
    let at_leader: HashMap<i64, chrono::DateTime<chrono::Utc>> =
        sqlx::query_as("SELECT origin_id, received_at FROM events WHERE origin_id > $1")
            .bind(before)
            .fetch_all(&leader.pool)
            .await?
            .into_iter()
            .collect();
    let mut lags: Vec<f64> = at_site
        .iter()
        .filter_map(|(id, at)| {
            let there = at_leader.get(id)?;
            Some((*there - *at).num_microseconds()? as f64 / 1000.0)
        })
        .collect();
    if lags.len() != at_site.len() {
        return Err(format!(
            "{} of {} paced events reached the Leader",
            lags.len(),
            at_site.len()
        )
        .into());
    }
    lags.sort_by(f64::total_cmp);
    let pick = |q: f64| lags[((lags.len() as f64 * q).ceil() as usize).clamp(1, lags.len()) - 1];
    let (lag_p50_ms, lag_p99_ms, lag_max_ms) = (pick(0.5), pick(0.99), pick(1.0));
    println!(
        "  {:.0} events/s paced: delivery lag p50 {lag_p50_ms:.0} ms, p99 {lag_p99_ms:.0} ms; the Leader's events page p99 {:.1} ms (idle {:.1} ms)",
        paced.per_second, page_busy.p99_ms, page_idle.p99_ms
    );
    let total = site_events(&leader.pool).await?;
    if total != queued {
        return Err(format!("the Leader holds {total} of the site's {queued} matches").into());
    }
    sub.stop();
    println!(
        "  the fleet: {} sites, {} matches a second each, for {} s",
        args.fleet_sites, args.fleet_events, args.fleet_seconds
    );
    let fleet = super::fleet::fleet(&leader, list, photos, args).await?;
    leader.stop();
    if !args.keep {
        cluster.drop_database("hits_sub").await?;
        cluster.drop_database("hits_leader").await?;
    }
    Ok(Hits {
        gallery,
        connections: args.connections,
        drain_over_ingest: drain_per_second / ingest.per_second,
        ingest,
        backlog: backlog as usize,
        drain_per_second,
        pace_per_second: paced.per_second,
        paced_events,
        lag_p50_ms,
        lag_p99_ms,
        lag_max_ms,
        page_p99_ratio: page_busy.p99_ms / page_idle.p99_ms,
        page_idle,
        page_busy,
        fleet,
    })
}

/// P12 alone.
pub async fn hits_only(args: &Args) -> BenchResult<()> {
    let cluster = super::cluster(args)?;
    let photos = Photos::new(args.seed).await?;
    let p12 = p12(&cluster, &photos, args).await?;
    println!("{}", serde_json::to_string_pretty(&p12)?);
    Ok(())
}
