//! P12's fleet: one Leader serving many Subscribers at once. The benchmark speaks the protocol
//! for them (fifty servers would measure two cores shared fifty ways, not the Leader): every
//! second each site pulls its list's changes since the Leader's revision (what a scheduled
//! sync of a quiet list costs) and delivers a batch of its matches, a face picture each, as a
//! Subscriber's delivery worker does. Measured, on the Leader: its events page during it
//! against idle, each site's rounds (none starved) and its CPU per site against one site alone.

use super::*;
use crate::cluster::{Remote, SYNC_TOKEN};
use base64::Engine as _;

#[derive(Debug, Serialize)]
pub struct Fleet {
    pub sites: usize,
    pub seconds: u64,
    pub events_per_site_second: usize,
    /// Rounds (a pull and a delivery) the slowest site completed, of one a second.
    pub fewest_rounds: usize,
    pub expected_rounds: usize,
    /// The slowest site's round p99, and the median site's round p50.
    pub slowest_site_p99_ms: f64,
    pub median_site_p50_ms: f64,
    /// The Leader's CPU seconds per site over the measured time, above idle: one site alone,
    /// then each of the fleet's.
    pub alone_cpu_per_site: f64,
    pub fleet_cpu_per_site: f64,
    pub cpu_ratio: f64,
    pub page_idle: Latency,
    pub page_busy: Latency,
    pub page_p99_ratio: f64,
}

/// What every simulated site sends with.
#[derive(Clone)]
struct Sending {
    leader: Remote,
    list: i64,
    revision: i64,
    dossiers: Arc<Vec<(i64, String)>>,
    face: Arc<String>,
    per_round: usize,
}

/// One site's round: its list's changes since the Leader's revision, then a batch of matches.
async fn round(s: &Sending, site: usize, n: usize) -> BenchResult<()> {
    let url = &s.leader.url;
    let changes = s
        .leader
        .http
        .get(format!(
            "{url}/sync/leader/dossier-lists/{}/changes",
            s.list
        ))
        .query(&[("since", s.revision.to_string()), ("limit", "1000".into())])
        .bearer_auth(SYNC_TOKEN)
        .send()
        .await?;
    if !changes.status().is_success() {
        return Err(format!("a site's pull answered {}", changes.status()).into());
    }
    changes.bytes().await?;
    let now = chrono::Utc::now().to_rfc3339();
    let events: Vec<serde_json::Value> = (0..s.per_round)
        .map(|j| {
            let (dossier, name) = &s.dossiers[(n * s.per_round + j) % s.dossiers.len()];
            serde_json::json!({
                "epoch": "bench", "id": n * s.per_round + j + 1, "captured_at": now,
                "received_at": now, "camera": format!("site-{site}-door"),
                "face_jpeg": s.face.as_str(), "quality": 0.8, "dossier_id": dossier,
                "dossier_name": name, "watch_list_id": s.list, "confidence": 0.9,
            })
        })
        .collect();
    let batch = serde_json::json!({
        "site": {"installation": format!("bench-site-{site}"), "name": format!("Site {site}"),
                 "address": format!("http://site-{site}.example"), "face_model": data::FACE_MODEL,
                 "version": "bench", "lists": [{"list": s.list, "state": "idle"}], "backlog": 0},
        "ack_cursor": 0,
        "events": events,
    });
    let delivered = s
        .leader
        .http
        .post(format!("{url}/sync/leader/events"))
        .bearer_auth(SYNC_TOKEN)
        .json(&batch)
        .send()
        .await?;
    if !delivered.status().is_success() {
        return Err(format!(
            "a site's delivery answered {}: {}",
            delivered.status(),
            delivered.text().await?
        )
        .into());
    }
    delivered.bytes().await?;
    Ok(())
}

/// `sites` sites, each a round a second, for `seconds`; each site's rounds.
async fn sites_for(
    s: &Sending,
    first: usize,
    sites: usize,
    seconds: u64,
) -> BenchResult<Vec<Latency>> {
    let done = Arc::new(AtomicBool::new(false));
    let mut runs = Vec::new();
    for site in first..first + sites {
        let (s, done) = (s.clone(), done.clone());
        runs.push(tokio::spawn(async move {
            load::run_paced(
                1,
                Until::Flag(done),
                Some(Duration::from_secs(1)),
                move |n| {
                    let s = s.clone();
                    async move { round(&s, site, n).await }
                },
            )
            .await
        }));
    }
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    done.store(true, Ordering::Relaxed);
    let mut out = Vec::new();
    for r in runs {
        out.push(r.await??);
    }
    Ok(out)
}

/// The Leader's CPU seconds while `work` runs, and what it returns.
async fn cpu_during<T>(leader: &Instance, work: impl std::future::Future<Output = T>) -> (f64, T) {
    let before = leader.cpu_seconds().unwrap_or_default();
    let out = work.await;
    (leader.cpu_seconds().unwrap_or_default() - before, out)
}

pub(super) async fn fleet(
    leader: &Instance,
    list: i64,
    photos: &Photos,
    args: &Args,
) -> BenchResult<Fleet> {
    let info: serde_json::Value = leader
        .http
        .get(format!("{}/sync/leader/info", leader.url))
        .bearer_auth(SYNC_TOKEN)
        .send()
        .await?
        .json()
        .await?;
    let dossiers: Vec<(i64, String)> = sqlx::query_as(
        "SELECT d.id, d.name FROM dossiers d JOIN dossier_watch_lists m ON m.dossier_id = d.id
          WHERE m.watch_list_id = $1 ORDER BY d.id LIMIT 1000",
    )
    .bind(list)
    .fetch_all(&leader.pool)
    .await?;
    let s = Sending {
        leader: leader.remote(),
        list,
        revision: info["revision"].as_i64().unwrap_or_default(),
        dossiers: Arc::new(dossiers),
        face: Arc::new(base64::engine::general_purpose::STANDARD.encode(photos.image(0, 0).data)),
        per_round: args.fleet_events,
    };
    let seconds = args.fleet_seconds;
    let probe = |seconds: u64| {
        let leader = leader.remote();
        async move {
            let done = Arc::new(AtomicBool::new(false));
            let probe = tokio::spawn(hits::probe_page(leader, done.clone()));
            tokio::time::sleep(Duration::from_secs(seconds)).await;
            done.store(true, Ordering::Relaxed);
            probe.await?
        }
    };
    let (idle_cpu, page_idle) = cpu_during(leader, probe(seconds)).await;
    let page_idle = page_idle?;
    let (alone_cpu, alone) = cpu_during(leader, async {
        tokio::join!(probe(seconds), sites_for(&s, 0, 1, seconds))
    })
    .await;
    let (_, alone) = (alone.0?, alone.1?);
    let (fleet_cpu, fleet) = cpu_during(leader, async {
        tokio::join!(probe(seconds), sites_for(&s, 1, args.fleet_sites, seconds))
    })
    .await;
    let (page_busy, per_site) = (fleet.0?, fleet.1?);
    let alone_cpu_per_site = (alone_cpu - idle_cpu).max(0.01);
    let fleet_cpu_per_site = (fleet_cpu - idle_cpu).max(0.0) / args.fleet_sites as f64;
    let fewest_rounds = per_site.iter().map(|l| l.requests).min().unwrap_or(0);
    let slowest_site_p99_ms = per_site.iter().map(|l| l.p99_ms).fold(0.0, f64::max);
    let errors: usize = per_site.iter().map(|l| l.errors).sum::<usize>() + alone[0].errors;
    if errors > 0 {
        return Err(format!("{errors} of the sites' rounds failed").into());
    }
    let median_site_p50_ms = median(&per_site.iter().map(|l| l.p50_ms).collect::<Vec<_>>());
    println!(
        "  {} sites: fewest rounds {fewest_rounds} of {seconds}, slowest site p99 {slowest_site_p99_ms:.0} ms; the Leader's CPU per site {fleet_cpu_per_site:.3} s (alone {alone_cpu_per_site:.3} s); events page p99 {:.1} ms (idle {:.1} ms)",
        args.fleet_sites, page_busy.p99_ms, page_idle.p99_ms
    );
    Ok(Fleet {
        sites: args.fleet_sites,
        seconds,
        events_per_site_second: args.fleet_events,
        fewest_rounds,
        expected_rounds: seconds as usize,
        slowest_site_p99_ms,
        median_site_p50_ms,
        cpu_ratio: fleet_cpu_per_site / alone_cpu_per_site,
        alone_cpu_per_site,
        fleet_cpu_per_site,
        page_p99_ratio: page_busy.p99_ms / page_idle.p99_ms,
        page_idle,
        page_busy,
    })
}
