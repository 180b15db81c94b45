//! Logs and metrics: one log line per request (route, status, latency), and the Prometheus
//! text at `/metrics` (requests, latencies, database pool use, each worker's panics and the age
//! of its last pass, the face index's size and revision, the matches waiting for each Leader).

use axum::{
    extract::{MatchedPath, Request, State},
    middleware::Next,
    response::{IntoResponse, Response},
};
use engine::Installation;
use prometheus_client::{
    encoding::{text::encode, EncodeLabelSet},
    metrics::{counter::Counter, family::Family, gauge::Gauge, histogram::Histogram},
    registry::Registry,
};
use std::sync::Arc;
use std::time::Instant;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: String,
    route: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LeaderLabels {
    leader: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct WorkerLabels {
    worker: String,
}

pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<RouteLabels, Histogram>,
    pool_size: Gauge,
    pool_idle: Gauge,
    scheduler_panics: Gauge,
    worker_panics: Family<WorkerLabels, Gauge>,
    worker_last_pass: Family<WorkerLabels, Gauge<f64, std::sync::atomic::AtomicU64>>,
    index_vectors: Gauge,
    index_revision: Gauge,
    hits_backlog: Family<LeaderLabels, Gauge>,
    hits_oldest: Family<LeaderLabels, Gauge<f64, std::sync::atomic::AtomicU64>>,
    hits_last_delivery: Family<LeaderLabels, Gauge<f64, std::sync::atomic::AtomicU64>>,
}

impl Metrics {
    pub fn new() -> Arc<Self> {
        let mut registry = Registry::with_prefix("dossier");
        let requests = Family::<RequestLabels, Counter>::default();
        let latency = Family::<RouteLabels, Histogram>::new_with_constructor(|| {
            Histogram::new([
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
            ])
        });
        let pool_size = Gauge::default();
        let pool_idle = Gauge::default();
        registry.register("http_requests", "HTTP requests served", requests.clone());
        registry.register(
            "http_request_duration_seconds",
            "Time to answer an HTTP request",
            latency.clone(),
        );
        registry.register(
            "db_pool_connections",
            "Open database connections",
            pool_size.clone(),
        );
        registry.register(
            "db_pool_idle_connections",
            "Idle database connections",
            pool_idle.clone(),
        );
        // Gauges that mirror the workers' own counts (they only grow), read at each scrape.
        let worker_panics = Family::<WorkerLabels, Gauge>::default();
        registry.register(
            "worker_panics",
            "Panics of a background worker or a job it ran, since start-up (each was logged, and the worker went on or was started again)",
            worker_panics.clone(),
        );
        let worker_last_pass =
            Family::<WorkerLabels, Gauge<f64, std::sync::atomic::AtomicU64>>::default();
        registry.register(
            "worker_last_pass_age_seconds",
            "Seconds since a background worker's last pass ended (absent before its first): a worker that is stuck or dead grows old",
            worker_last_pass.clone(),
        );
        let scheduler_panics = Gauge::default();
        registry.register(
            "sync_scheduler_panics",
            "Panics in the replication scheduler or its runs since start-up: dossier_worker_panics{worker=\"replication-scheduler\"}, under the name dashboards know",
            scheduler_panics.clone(),
        );
        let index_vectors = Gauge::default();
        let index_revision = Gauge::default();
        registry.register(
            "face_index_vectors",
            "Face vectors in this process's monitoring index (0 until it is built)",
            index_vectors.clone(),
        );
        registry.register(
            "face_index_revision",
            "The database revision this process's face index is current to",
            index_revision.clone(),
        );
        let hits_backlog = Family::<LeaderLabels, Gauge>::default();
        registry.register(
            "hits_backlog",
            "Matches of replicated lists waiting to be delivered to their Leader",
            hits_backlog.clone(),
        );
        let hits_oldest =
            Family::<LeaderLabels, Gauge<f64, std::sync::atomic::AtomicU64>>::default();
        registry.register(
            "hits_oldest_pending_age_seconds",
            "Seconds the oldest match waiting for a Leader has waited (0: none waits)",
            hits_oldest.clone(),
        );
        let hits_last_delivery =
            Family::<LeaderLabels, Gauge<f64, std::sync::atomic::AtomicU64>>::default();
        registry.register(
            "hits_last_delivery_age_seconds",
            "Seconds since matches were last delivered to a Leader (absent before the first)",
            hits_last_delivery.clone(),
        );
        Arc::new(Self {
            hits_backlog,
            hits_oldest,
            hits_last_delivery,
            index_vectors,
            index_revision,
            registry,
            requests,
            latency,
            pool_size,
            pool_idle,
            scheduler_panics,
            worker_panics,
            worker_last_pass,
        })
    }
}

/// Counts, times and logs every request. The route label is the matched route pattern, never
/// the raw path, so that ids and hashes do not multiply the series.
pub async fn track(State(metrics): State<Arc<Metrics>>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().to_string();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "other".into());
    let path = request.uri().path().to_string();
    let response = next.run(request).await;
    let elapsed = started.elapsed();
    let status = response.status().as_u16();
    metrics
        .requests
        .get_or_create(&RequestLabels {
            method: method.clone(),
            route: route.clone(),
            status,
        })
        .inc();
    metrics
        .latency
        .get_or_create(&RouteLabels { route })
        .observe(elapsed.as_secs_f64());
    tracing::info!(
        method,
        path,
        status,
        latency_ms = elapsed.as_secs_f64() * 1000.0,
        "request"
    );
    response
}

/// The server's metrics for Prometheus to scrape.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "operations",
    responses((status = 200, description = "Prometheus text: requests by route and status, latency histograms, database pool use, each worker's panics and last pass", content_type = "text/plain"))
)]
pub async fn metrics_text(
    State((metrics, inst)): State<(Arc<Metrics>, Installation)>,
) -> impl IntoResponse {
    metrics.pool_size.set(inst.pool.size() as i64);
    metrics.pool_idle.set(inst.pool.num_idle() as i64);
    for worker in inst.health.workers() {
        let labels = WorkerLabels {
            worker: worker.name().to_string(),
        };
        let panics = worker.panics().try_into().unwrap_or(i64::MAX);
        metrics.worker_panics.get_or_create(&labels).set(panics);
        if let Some(age) = worker.since_last_pass() {
            metrics
                .worker_last_pass
                .get_or_create(&labels)
                .set(age.as_secs_f64());
        }
        if worker.name() == <engine::sync::scheduler::Scheduler as engine::workers::Worker>::NAME {
            metrics.scheduler_panics.set(panics);
        }
    }
    let (vectors, revision) = inst.monitoring.index.status().unwrap_or_default();
    metrics.index_vectors.set(vectors as i64);
    metrics.index_revision.set(revision);
    match engine::hits::outbox::backlogs(&inst.pool).await {
        Ok(backlogs) => {
            let now = chrono::Utc::now();
            let age = |at: chrono::DateTime<chrono::Utc>| {
                (now - at).num_milliseconds().max(0) as f64 / 1000.0
            };
            for b in backlogs {
                let labels = LeaderLabels {
                    leader: b.leader_url,
                };
                metrics.hits_backlog.get_or_create(&labels).set(b.pending);
                metrics
                    .hits_oldest
                    .get_or_create(&labels)
                    .set(b.oldest_pending_at.map_or(0.0, age));
                if let Some(at) = b.last_delivery_at {
                    metrics
                        .hits_last_delivery
                        .get_or_create(&labels)
                        .set(age(at));
                }
            }
        }
        Err(e) => tracing::warn!(error = %e, "cannot read the hits backlog for /metrics"),
    }
    let mut text = String::new();
    if encode(&mut text, &metrics.registry).is_err() {
        return (axum::http::StatusCode::INTERNAL_SERVER_ERROR, String::new()).into_response();
    }
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        text,
    )
        .into_response()
}
