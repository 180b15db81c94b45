//! `dossier serve`: the installation assembled, its workers started, the web app and the API
//! served, until SIGTERM or Ctrl-C. A stop stops accepting requests, lets the requests and the
//! work in flight finish (a sync page, a webhook delivery; the face index is saved), all within
//! [`STOP_BOUND`], records where anything cut short stopped, and exits 0.

use crate::layout::Layout;
use crate::settings::Settings;
use engine::Installation;
use sqlx::PgPool;
use std::future::IntoFuture;
use std::time::Duration;

/// How long a stop may take, the requests in flight and the workers' drains together. The
/// systemd unit's `TimeoutStopSec` leaves room above it.
pub const STOP_BOUND: Duration = Duration::from_secs(20);
/// Of that, how long requests in flight may take before the workers are told.
const REQUESTS_BOUND: Duration = Duration::from_secs(5);

pub async fn serve(settings: Settings, layout: &Layout, pool: PgPool) -> Result<(), String> {
    if !crate::is_migrated(&pool).await.unwrap_or(false) {
        return Err("the database is not migrated: run `dossier migrate` first".into());
    }
    // A database restored from a backup starts a new epoch here, before any Subscriber asks.
    let history = engine::sync::history::epoch(&pool)
        .await
        .map_err(|e| format!("cannot read the replication history: {e}"))?;
    tracing::info!(
        installation = %history.installation,
        epoch = %history.epoch,
        since = %history.since,
        reason = %history.reason,
        "replication history"
    );
    let model = settings.engine.faces.model().map_err(|e| e.to_string())?;
    let faces = engine::faces::load_engine(&model, &settings.engine.faces.models_dir).await?;
    let installation = Installation::new(pool.clone(), settings.engine.clone(), faces)
        .map_err(|e| e.to_string())?;
    let state = crate::app_state(
        installation.clone(),
        settings.web(),
        crate::leptos_options(layout),
    );
    let workers = installation.start_workers();
    let app = crate::router(state);
    let listener = tokio::net::TcpListener::bind(settings.listen_address)
        .await
        .map_err(|e| {
            format!(
                "cannot listen on {} (LISTEN_ADDRESS): {e}",
                settings.listen_address
            )
        })?;
    tracing::info!(
        listen = %settings.listen_address,
        external = %settings.external_address,
        face_model = %model.name,
        schedule = settings.engine.sync.schedule().text(),
        "serving"
    );
    // Without TCP_NODELAY a response written in two segments waits for the client's delayed
    // ACK: a 40 ms stall on a fraction of requests, which is what p99 latency would show.
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::warn!(error = %e, "cannot set TCP_NODELAY");
        }
    });
    // The peer's address reaches the handlers (login throttling and the audit log use it).
    let app = app.into_make_service_with_connect_info::<std::net::SocketAddr>();
    let stop = installation.stop.clone();
    let mut http = tokio::spawn(
        axum::serve(listener, app)
            .with_graceful_shutdown(stop.clone().cancelled_owned())
            .into_future(),
    );
    tokio::select! {
        signal = stop_signal() => tracing::info!(signal, "stopping: no new requests; finishing the work in flight"),
        served = &mut http => {
            // The server ended by itself: say why, and stop the workers all the same.
            let why = match served {
                Ok(Ok(())) => "the server stopped".to_string(),
                Ok(Err(e)) => e.to_string(),
                Err(e) => e.to_string(),
            };
            stop.cancel();
            workers.stop(STOP_BOUND).await;
            return Err(why);
        }
    }
    let started = tokio::time::Instant::now();
    stop.cancel();
    if tokio::time::timeout(REQUESTS_BOUND, &mut http)
        .await
        .is_err()
    {
        tracing::warn!(
            seconds = REQUESTS_BOUND.as_secs(),
            "requests still running at the end of their bound; cut short"
        );
        http.abort();
    }
    let cut = workers
        .stop(STOP_BOUND.saturating_sub(started.elapsed()))
        .await;
    if !cut.is_empty() {
        // What was cut short is recorded as interrupted, to resume at the next start.
        if let Err(e) = engine::sync::run::close_interrupted_runs(&pool).await {
            tracing::warn!(error = %e, "cannot record the runs cut short");
        }
    }
    tracing::info!(seconds = started.elapsed().as_secs_f32(), "stopped");
    Ok(())
}

/// SIGTERM (what `systemctl stop` and process supervisors send) or Ctrl-C; returns its name.
pub async fn stop_signal() -> &'static str {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => tokio::select! {
                _ = terminate.recv() => "SIGTERM",
                _ = tokio::signal::ctrl_c() => "SIGINT",
            },
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM; only Ctrl-C stops the server");
                let _ = tokio::signal::ctrl_c().await;
                "SIGINT"
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
        "SIGINT"
    }
}
