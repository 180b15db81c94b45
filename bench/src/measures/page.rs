//! P5, the dossier list page under load against its bare SQL, and P6, the WASM bundle's size.

use super::*;

pub(super) async fn page(cluster: &Cluster, photos: &Photos, args: &Args) -> BenchResult<Page> {
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
        limit: domain::dossiers::PAGE_SIZE,
        ..Default::default()
    };
    // Warm up as the server's pool is warmed up: every connection open before measuring.
    let pool = direct.clone();
    let warm = Until::Requests(args.connections * 4);
    load::run(args.connections, warm, move |i| {
        let pool = pool.clone();
        let q = query(i);
        async move {
            engine::dossiers::search(&pool, &q).await?;
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
                let page = engine::dossiers::search(&pool, &q).await?;
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

pub(super) fn bundle(site_root: &std::path::Path) -> BenchResult<Bundle> {
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
