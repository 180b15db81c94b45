//! P7's crowd: many Subscribers syncing at once while the Leader's own page and `/healthz` are
//! probed at a user's pace.

use super::*;
use crate::placement::Placement;

pub(super) fn page_path(i: usize) -> String {
    // The name filter cycles over first names, each matching one dossier in sixteen.
    format!(
        "/dossiers?q={}",
        data::name(i as u64).split(' ').next().unwrap_or("Anna")
    )
}

/// A request to the Leader's dossier list page, as a closure the load runner can spawn.
pub(super) fn page_request(
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
pub(super) fn healthz_request(
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

/// P7. With a second PostgreSQL server (`--subscriber-pg`) and two cores, the Leader's side and
/// the Subscribers' side each get a core, as on separate machines, and the run alone is measured
/// again that way; the cores are given back afterwards, whatever happened.
pub(super) async fn crowd(
    cluster: &Cluster,
    leader: &Instance,
    leader_pool: &PgPool,
    list: i64,
    alone: Effort,
    args: &Args,
) -> BenchResult<Crowd> {
    let sides = args.subscriber_pg.as_ref().zip(Placement::two_sides());
    let Some((subscriber_pg, placement)) = sides else {
        return crowd_on(cluster, leader, list, alone, None, args).await;
    };
    let subscribers = Cluster {
        pg_base: subscriber_pg.clone(),
        cpus: Some(placement.subscriber_cpus.clone()),
        ..cluster.clone()
    };
    let admin = PgPool::connect(&format!("{subscriber_pg}/postgres")).await?;
    Placement::pin(leader.pid(), &placement.leader_cpus)?;
    Placement::pin_postgres(leader_pool, &placement.leader_cpus).await?;
    Placement::pin_postgres(&admin, &placement.subscriber_cpus).await?;
    let result = match step_alone(&subscribers, leader, leader_pool, list).await {
        Ok(alone) => crowd_on(&subscribers, leader, list, alone, Some(&placement), args).await,
        Err(e) => Err(e),
    };
    placement.release(leader_pool, Some(leader.pid())).await?;
    placement.release(&admin, None).await?;
    admin.close().await;
    result
}

/// One Subscriber alone, on the Subscribers' side: the crowd's point of comparison.
async fn step_alone(
    subscribers: &Cluster,
    leader: &Instance,
    leader_pool: &PgPool,
    list: i64,
) -> BenchResult<Effort> {
    let sub = start_instance(subscribers, "alone").await?;
    let busy = busy_core_seconds();
    let (replica, run) = subscribe(&sub, leader, list, "Replica: small").await?;
    let alone = Effort {
        seconds: run.seconds,
        busy_core_seconds: busy_core_seconds() - busy,
    };
    verify(leader_pool, list, &sub, replica).await?;
    sub.stop();
    subscribers.drop_database("alone").await?;
    println!("  one alone, on its own core: {:.2} s", alone.seconds);
    Ok(alone)
}

async fn crowd_on(
    cluster: &Cluster,
    leader: &Instance,
    list: i64,
    alone: Effort,
    placement: Option<&Placement>,
    args: &Args,
) -> BenchResult<Crowd> {
    let leader_pool = &leader.pool;
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
            wait_run_every(sub, id, 0, true, Duration::from_millis(100))
                .await
                .map(|run| (id, run))
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
        placement: placement.map(Placement::describe),
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
