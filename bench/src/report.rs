//! BENCHMARKS.md: the machine, the versions, the sizes, a table of each measure against its
//! baseline and goal, the findings (kept by hand in `bench/FINDINGS.md`), and the raw JSON.

use crate::measures::index::IndexRun;
use crate::measures::Results;
use crate::Args;
use std::fmt::Write;
use std::process::Command;

fn shell(cmd: &str, args: &[&str]) -> String {
    Command::new(cmd)
        .args(args)
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown".into())
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|s| s.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let memory = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find(|l| l.starts_with("MemTotal"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .map(|kb| format!("{:.1} GiB", kb as f64 / 1024.0 / 1024.0))
        .unwrap_or_else(|| "unknown memory".into());
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    format!(
        "{cores} cores ({cpu}), {memory}, {}",
        shell("uname", &["-sr"])
    )
}

fn mib(bytes: Option<u64>) -> String {
    bytes
        .map(|b| format!("{:.0} MiB", b as f64 / 1024.0 / 1024.0))
        .unwrap_or_else(|| "n/a".into())
}

fn seconds(s: Option<f64>) -> String {
    s.map(|s| format!("{s:.1} s"))
        .unwrap_or_else(|| "n/a".into())
}

fn verdict(met: bool) -> &'static str {
    if met {
        "met"
    } else {
        "**missed**"
    }
}

/// How P8's index came to be: built by this run, or kept from an earlier one.
fn built(p8: &IndexRun) -> String {
    match (p8.build_reused, p8.build_seconds.is_finite()) {
        (false, _) => format!("built in {:.0} s on {} threads", p8.build_seconds, p8.threads),
        (true, true) => format!(
            "built in {:.0} s on {} threads by an earlier run of the benchmark (kept with `--index-keep`)",
            p8.build_seconds, p8.threads
        ),
        (true, false) => "built by an earlier run of the benchmark (kept with `--index-keep`; its build time was not recorded)".into(),
    }
}

/// P8–P10: the face index against an exact scan, ingest, and the events page.
fn monitoring_rows(s: &mut String, r: &Results) {
    for p8 in &r.p8 {
        let _ = writeln!(
            s,
            "| P8 | matching one face at {} faces ({} people; {} queries, a tenth strangers, each side's queries back to back; 32 candidates re-ranked exactly): p50 / p99 (p99 of people in the gallery / strangers), recall@1 vs the exact scan (people in the gallery / strangers); index {}, {:.0} MB in memory ({:.0} MB of the process in huge pages), reloaded from its file in {:.1} s | {:.3} / {:.3} ms ({:.3} / {:.3} ms); recall@1 {:.4} ({:.4} / {:.4}) | exact scan ({} queries): {:.1} / {:.1} ms (one written for speed, its sums vectorised: {:.1} / {:.1} ms); the machine's own tail, random reads in windows as long as the median query: p99/p50 {:.2} (the index's {:.2}; of its slowest 1 % of queries, {:.0} % slow again when repeated) | {:.0}× faster (p99) | recall@1 ≥ 0.99 and p99 ≥ 50× faster (at 1 M) | {} |",
            p8.faces,
            p8.identities,
            p8.queries,
            built(p8),
            p8.memory_bytes as f64 / 1e6,
            p8.huge_page_bytes as f64 / 1e6,
            p8.load_seconds,
            p8.index_p50_ms,
            p8.index_p99_ms,
            p8.known_p99_ms,
            p8.stranger_p99_ms,
            p8.recall_at_1,
            p8.known_recall_at_1,
            p8.stranger_recall_at_1,
            p8.exact_queries,
            p8.exact_p50_ms,
            p8.exact_p99_ms,
            p8.lanes_p50_ms,
            p8.lanes_p99_ms,
            p8.memory_tail.p99_over_p50(),
            p8.index_p99_ms / p8.index_p50_ms,
            p8.slowest_again * 100.0,
            p8.p99_speedup,
            verdict(p8.recall_at_1 >= 0.99 && (p8.faces < 1_000_000 || p8.p99_speedup >= 50.0))
        );
    }
    let p9 = &r.p9;
    let _ = writeln!(
        s,
        "| P9 | sustained ingest with matching against {} watched dossiers, {} connections: one vector per post ({:.0} % matched), p99 {:.1} ms; one real photo per post, p99 {:.0} ms | vectors {:.0} events/s; photos {:.1} events/s | the engine alone on the same photos (decoding included): {:.1} photos/s | photos at {:.2}× the engine alone | vectors ≥ 200 events/s; photos bound by extraction | {} |",
        p9.gallery,
        p9.connections,
        p9.vector_matched * 100.0,
        p9.vectors.p99_ms,
        p9.photos.p99_ms,
        p9.vectors.per_second,
        p9.photos.per_second,
        p9.extraction_per_second,
        p9.photos.per_second / p9.extraction_per_second,
        verdict(p9.vectors.per_second >= 200.0)
    );
    let p10 = &r.p10;
    let _ = writeln!(
        s,
        "| P10 | events page (50 rows: newest, one camera's, matches only) at {} events over {} days, {} connections: p50 / p99 | {:.1} / {:.1} ms | SQL direct: {:.1} / {:.1} ms | {:.2}× (p99) | p99 ≤ 2× | {} |",
        p10.events,
        p10.days,
        p10.connections,
        p10.http.p50_ms,
        p10.http.p99_ms,
        p10.sql.p50_ms,
        p10.sql.p99_ms,
        p10.p99_ratio,
        verdict(p10.p99_ratio <= 2.0)
    );
    let p12 = &r.p12;
    let _ = writeln!(
        s,
        "| P12 | matches from one Subscriber to its Leader ({} watched dossiers, {} connections): the backlog of {} matches made while delivery was held, drained; then {:.0} events/s posted steadily at the Subscriber: delivery lag (stored there → stored on the Leader) p50 / p99 / max, and the Leader's events page (one request every 100 ms) p99 | drained at {:.0} events/s; lag {:.0} / {:.0} / {:.0} ms; page p99 {:.1} ms | the Subscriber's own vector ingest meanwhile: {:.0} events/s; the page idle: p99 {:.1} ms | delivery {:.2}× ingest; page {:.2}× idle (p99) | delivery ≥ 1× ingest, lag p99 ≤ 2 s, page p99 ≤ 2× idle | {} |",
        p12.gallery,
        p12.connections,
        p12.backlog,
        p12.pace_per_second,
        p12.drain_per_second,
        p12.lag_p50_ms,
        p12.lag_p99_ms,
        p12.lag_max_ms,
        p12.page_busy.p99_ms,
        p12.ingest.per_second,
        p12.page_idle.p99_ms,
        p12.drain_over_ingest,
        p12.page_p99_ratio,
        verdict(p12.drain_over_ingest >= 1.0 && p12.lag_p99_ms <= 2000.0 && p12.page_p99_ratio <= 2.0)
    );
    let f = &p12.fleet;
    let _ = writeln!(
        s,
        "| P12 fleet | one Leader and {} Subscribers the benchmark speaks for, each every second pulling its list's changes and delivering {} match(es) with a face, for {} s: the slowest site's rounds and round p99, the median site's p50; the Leader's events page p99; its CPU per site | fewest rounds {} of {}; slowest p99 {:.0} ms, median p50 {:.0} ms; page p99 {:.1} ms; {:.3} CPU s per site | one site alone: {:.3} CPU s; the page idle: p99 {:.1} ms | CPU per site {:.2}× alone; page {:.2}× idle (p99) | no site starved, CPU per site ≤ 1.2× alone, page p99 ≤ 2× idle | {} |",
        f.sites,
        f.events_per_site_second,
        f.seconds,
        f.fewest_rounds,
        f.expected_rounds,
        f.slowest_site_p99_ms,
        f.median_site_p50_ms,
        f.page_busy.p99_ms,
        f.fleet_cpu_per_site,
        f.alone_cpu_per_site,
        f.page_idle.p99_ms,
        f.cpu_ratio,
        f.page_p99_ratio,
        verdict(
            f.fewest_rounds as f64 >= 0.8 * f.expected_rounds as f64
                && f.cpu_ratio <= 1.2
                && f.page_p99_ratio <= 2.0
        )
    );
    let a = &r.p16;
    let _ = writeln!(
        s,
        "| P16 | archive search by face at {} events over {} days (in memory, {} threads, {} MB; {} queries, new photos of people seen 5 times, the 50 closest above 0.75): one day / all {} days, p50 / p99; against the exact scan ({} queries, {:.1} appearances each): the person's own appearances found ({:.1} of 5 by the exact scan), and all its appearances | day {:.2} / {:.2} ms; all days {:.1} / {:.1} ms; own appearances {:.4}, all {:.4} | exact scan of the floats: day {:.1} / {:.1} ms; all days {:.0} / {:.0} ms | day {:.0}×, all days {:.0}× faster (p99) | day p99 < 100 ms, all days p99 < 1 s (at 10 M over 30) | {} |",
        a.events,
        a.days,
        a.threads,
        a.memory_bytes / 1_000_000,
        a.queries,
        a.days,
        a.exact_queries,
        a.mean_appearances,
        a.own_found_by_exact,
        a.day_p50_ms,
        a.day_p99_ms,
        a.month_p50_ms,
        a.month_p99_ms,
        a.own_recall,
        a.agreement,
        a.exact_day_p50_ms,
        a.exact_day_p99_ms,
        a.exact_month_p50_ms,
        a.exact_month_p99_ms,
        a.exact_day_p99_ms / a.day_p99_ms,
        a.exact_month_p99_ms / a.month_p99_ms,
        verdict(a.day_p99_ms < 100.0 && a.month_p99_ms < 1000.0)
    );
    crate::measures::imports::report_row(s, &r.p17, verdict(r.p17.met()));
}

pub fn render(args: &Args, r: &Results) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "# Benchmarks\n");
    let _ = writeln!(
        s,
        "Written by `scripts/bench.sh` (the `bench` crate) on {}; the run took {:.0} s. \
         Every figure comes from real installations (`dossier serve` processes, each with its \
         own PostgreSQL database) measured side by side with its baseline in the same run; the \
         ratios are what to compare across machines.\n",
        r.started_at.format("%Y-%m-%d %H:%M UTC"),
        r.seconds
    );
    let _ = writeln!(s, "- Machine: {}", machine());
    let _ = writeln!(
        s,
        "- Versions: dossier {} (git {}), {}, PostgreSQL {}",
        env!("CARGO_PKG_VERSION"),
        shell("git", &["rev-parse", "--short", "HEAD"]),
        shell("rustc", &["--version"]),
        r.postgres
    );
    let _ = writeln!(
        s,
        "- Sizes: P1/P2 list {} dossiers; small list (P3, P7) {} dossiers; {} changes per round; \
         list page (P5) over {} dossiers with {} connections and {} requests; {} Subscribers in P7. \
         Each generated dossier has one JPEG of ~{} bytes (distinct content) and a {}-float vector; \
         seed {}.",
        args.dossiers,
        args.small,
        args.changes,
        args.page_dossiers,
        args.connections,
        args.page_requests,
        args.subscribers,
        r.average_jpeg_bytes,
        r.vector_floats,
        args.seed
    );
    let _ = writeln!(
        s,
        "- Command: `scripts/bench.sh{}`\n",
        std::env::args()
            .skip(1)
            .map(|a| format!(" {a}"))
            .collect::<String>()
    );

    let _ = writeln!(s, "| id | measure | ours | baseline | ratio | goal | |");
    let _ = writeln!(s, "|----|---------|------|----------|-------|------|-|");
    let p1 = &r.p1;
    let _ = writeln!(
        s,
        "| P1 | full sync of a {}-dossier list to an empty Subscriber, median of {} interleaved pairs (ratios {}) | {:.2} s | {:.2} s (binary COPY pipe, {:.0} MiB) | {:.2}× | ≤ 1.5× | {} |",
        p1.dossiers,
        p1.pairs.len(),
        p1.pairs
            .iter()
            .map(|(copy, sync)| format!("{:.2}×", sync / copy))
            .collect::<Vec<_>>()
            .join(", "),
        p1.sync_seconds,
        p1.copy_seconds,
        p1.copy_bytes as f64 / 1024.0 / 1024.0,
        p1.ratio,
        verdict(p1.ratio <= 1.5)
    );
    let p2 = &r.p2;
    let _ = writeln!(
        s,
        "| P2 | incremental sync after {} changes ({} edits, {} deletions, {} removals, {} new photos), median of {} | {:.1} ms | P1: {:.2} s | 1/{:.0} | ≤ 1/200 | {} |",
        p2.changes.total(),
        p2.changes.edits,
        p2.changes.deletions,
        p2.changes.removals,
        p2.changes.new_photos,
        p2.rounds_ms.len(),
        p2.median_ms,
        p1.sync_seconds,
        1.0 / p2.fraction_of_p1,
        verdict(p2.fraction_of_p1 <= 1.0 / 200.0)
    );
    let p3 = &r.p3;
    let _ = writeln!(
        s,
        "| P3 | the P2 run on a {}-dossier list vs a {}-dossier list | {:.1} ms | {:.1} ms | {:.2}× | ≤ 1.5× | {} |",
        p3.large_dossiers,
        p3.small_dossiers,
        p3.large_median_ms,
        p3.small_median_ms,
        p3.ratio,
        verdict(p3.ratio <= 1.5)
    );
    let p4 = &r.p4;
    let _ = writeln!(
        s,
        "| P4 | a sync when nothing changed (median of {}, max {:.1} ms) | {:.1} ms | — | — | < 20 ms | {} |",
        p4.runs_ms.len(),
        p4.max_ms,
        p4.median_ms,
        verdict(p4.median_ms < 20.0)
    );
    let p5 = &r.p5;
    let _ = writeln!(
        s,
        "| P5 | dossier list page (50 rows, name filter) at {} dossiers, {} connections: p50 / p99 | {:.1} / {:.1} ms | SQL direct: {:.1} / {:.1} ms | {:.2}× (p99) | p99 ≤ 3× and < 50 ms | {} |",
        p5.dossiers,
        p5.connections,
        p5.http.p50_ms,
        p5.http.p99_ms,
        p5.sql.p50_ms,
        p5.sql.p99_ms,
        p5.p99_ratio,
        verdict(p5.p99_ratio <= 3.0 && p5.http.p99_ms < 50.0)
    );
    let p6 = &r.p6;
    let _ = writeln!(
        s,
        "| P6 | WASM bundle `{}`: raw / gzip -9 | {:.0} KB / {:.0} KB | — | — | ≤ 300 KB gzipped | {} |",
        p6.file,
        p6.raw_bytes as f64 / 1000.0,
        p6.gzip_bytes as f64 / 1000.0,
        verdict(p6.gzip_bytes <= 300_000)
    );
    let p7 = &r.p7;
    let _ = writeln!(
        s,
        "| P7 | {} Subscribers full-syncing a {}-dossier list at once: total; Leader's list page p99 during it, one request per 100 ms (idle: {:.1} ms) | {:.2} s; p99 {:.1} ms | one alone: {:.2} s | {:.2}× | total ≤ 10×; p99 < 100 ms | {} |",
        p7.subscribers,
        p7.dossiers,
        p7.page_idle.p99_ms,
        p7.total_seconds,
        p7.page_during.p99_ms,
        p7.alone_seconds,
        p7.ratio,
        verdict(p7.ratio <= 10.0 && p7.page_during.p99_ms < 100.0)
    );
    let p11 = &r.p11;
    let _ = writeln!(
        s,
        "| P11 | face detection and description of one photo of up to 2 Mpx ({} photos, {} samples, one at a time): p50 / p99; backfill with {} workers | {:.0} / {:.0} ms; backfill {:.1} photos/s | decoding the photo: {:.1} / {:.1} ms | {:.1}× (p50) | p50 ≤ 150 ms | {} |",
        p11.photos,
        p11.samples,
        p11.workers,
        p11.analysis.p50_ms,
        p11.analysis.p99_ms,
        p11.backfill_per_second,
        p11.decode.p50_ms,
        p11.decode.p99_ms,
        p11.p50_ratio,
        verdict(p11.analysis.p50_ms <= 150.0)
    );
    for p13 in &r.p13 {
        let _ = writeln!(
            s,
            "| P13 | a camera's stream at {}, {} frames analysed a second ({} frames of the demo video, {} tracks): decode, find faces where something moved, follow, score, describe the best shots; frames per core-second, and the share of a core a camera takes | {:.1} frames/core-s; {:.0} % of a core | FFmpeg decoding the same stream to the same frames alone: {:.1} frames/core-s | {:.1}× the CPU | 720p at 5 frames/s ≤ 25 % of a core | {} |",
            p13.size,
            p13.fps,
            p13.frames,
            p13.tracks,
            p13.analysed_per_core_second,
            p13.core_share * 100.0,
            p13.decoded_per_core_second,
            p13.ratio,
            if p13.size == "1280x720" { verdict(p13.core_share <= 0.25) } else { "(no goal)" }
        );
    }
    let cams = &r.p14_p15;
    let frame_ms = 1000.0 / f64::from(cams.fps);
    let _ = writeln!(
        s,
        "| P14 | from the frame a watched person was first seen in (the demo video over RTSP, {} frames/s) to their matched event's row ({} events): p50 / p99 | {:.0} / {:.0} ms | the frame interval: {:.0} ms | {:.1}× (p99) | p99 ≤ 1 s + the frame interval | {} |",
        cams.fps,
        cams.latency.requests,
        cams.latency.p50_ms,
        cams.latency.p99_ms,
        frame_ms,
        cams.latency.p99_ms / frame_ms,
        verdict(cams.latency.p99_ms <= 1000.0 + frame_ms)
    );
    let rounds: Vec<String> = cams
        .rounds
        .iter()
        .map(|r| {
            format!(
                "{}: lowest {:.1} fps, ingest {:.0}/s{}",
                r.cameras,
                r.lowest_fps,
                r.ingest.per_second,
                if r.kept_up { "" } else { " (fell behind)" }
            )
        })
        .collect();
    let _ = writeln!(
        s,
        "| P15 | cameras at {} frames/s (720p) one server keeps up with (every rate it reports ≥ {:.1} for {:.0} s) while vectors are posted at a steady ~100 a second on {} connections: {} | {} cameras | the same ingest with no camera: {:.0} events/s | | ≥ 1 camera | {} |",
        cams.fps,
        cams.fps * 0.9,
        cams.seconds_per_round,
        cams.ingest_connections,
        rounds.join("; "),
        cams.sustained,
        cams.ingest_alone.per_second,
        verdict(cams.sustained >= 1)
    );
    monitoring_rows(&mut s, r);
    let _ = writeln!(
        s,
        "\nP7 {}.",
        p7.placement
            .as_ref()
            .map(|p| format!("ran as deployed, each side on a core of its own: {p}; the run alone was measured the same way, and the idle page with the Leader on its core"))
            .unwrap_or_else(|| "ran with every process on every core (no second PostgreSQL server was given: `--subscriber-pg`)".into())
    );
    let _ = writeln!(
        s,
        "\nP7 in CPU: one full sync alone kept the machine busy {:.1} core-seconds in {:.2} s \
         ({:.2} cores on average); the {} at once took {:.1} core-seconds. Doing exactly {} times \
         the work of one with every core busy would take {:.2}× the time of one alone: that is \
         the floor of P7's ratio on this machine.",
        p7.alone_busy_core_seconds,
        p7.alone_seconds,
        p7.alone_busy_core_seconds / p7.alone_seconds,
        p7.subscribers,
        p7.busy_core_seconds,
        p7.subscribers,
        p7.floor_ratio
    );
    let leader_cpu = p7
        .leader_cpu_seconds
        .map(|c| format!("{c:.1} core-seconds"))
        .unwrap_or_else(|| "(not measured)".into());
    let _ = writeln!(
        s,
        "\nP7's page latency: during the crowd the Leader's own process used {leader_cpu} of the \
         {:.1} the machine spent. Its `/healthz`, which runs `SELECT 1` and nothing else, probed \
         beside the page, had p99 {:.1} ms during the crowd ({:.1} ms idle): that is what one \
         step of any request (the server, then each database query) waits for a core while the \
         Subscribers' databases write{}. The list page takes several such \
         steps (the session, then the labels and the search). Even a thread that only sleeps \
         100 ms woke up late by {:.1} ms at p99 (max {:.1} ms) during the crowd, and a request \
         is several wake-ups (the client, the server, each database backend, the server again).",
        p7.busy_core_seconds,
        p7.healthz_during.p99_ms,
        p7.healthz_idle.p99_ms,
        if p7.placement.is_some() {
            " on the other core"
        } else {
            ", on the same cores"
        },
        p7.wakeup_delay.p99_ms,
        p7.wakeup_delay.max_ms
    );
    let _ = writeln!(
        s,
        "\nDuring P1: peak memory (VmHWM) Leader {}, Subscriber {}; CPU time of the server \
         processes (PostgreSQL's own not included) Leader {}, Subscriber {}. The Subscriber's \
         face index held the replica {} s after each sync ended (one build at a lower CPU \
         priority, waited for before the next measure).\n",
        mib(p1.leader_peak_rss_bytes),
        mib(p1.subscriber_peak_rss_bytes),
        seconds(p1.leader_cpu_seconds),
        seconds(p1.subscriber_cpu_seconds),
        p1.index_seconds
            .iter()
            .map(|s| format!("{s:.1}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    if let Ok(findings) = std::fs::read_to_string("bench/FINDINGS.md") {
        let _ = writeln!(s, "{}\n", findings.trim());
    }
    let json = serde_json::json!({ "args": args, "results": r });
    let _ = writeln!(
        s,
        "## Raw results\n\n```json\n{}\n```",
        serde_json::to_string_pretty(&json).unwrap_or_default()
    );
    s
}
