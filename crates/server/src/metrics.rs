//! `GET /metrics`: Prometheus text exposition.
//!
//! Each `AppState` owns its own [`prometheus::Registry`] rather than a process-wide recorder, so
//! that several servers in one process (the tests) keep separate counts.
//!
//! Nothing here may carry tenant data: no label holds a tenant, a user, an IP or a raw path. Routes
//! are labelled with axum's matched route template (`/v1/activities/{unique_qualifier}`), never
//! the request path, and unmatched paths all share the label `unmatched`. The figures are still
//! aggregates over every tenant, so the endpoint needs an `admin`-scope token unless the operator
//! opens it with `--metrics-open` (for a scraper on a private network).
//!
//! The node's [`JobHost`] lives here too: its job states are reported by `/metrics`
//! (`authtrail_job_state`, `authtrail_job_restarts_total`) and by `/readyz`, and every copy of an
//! `AppState` shares this one value.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::extract::{MatchedPath, Request, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use prometheus::{
    Encoder, Gauge, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge,
    IntGaugeVec, Opts, Registry, TextEncoder,
};

use authtrail_jobs::{JobHost, JobState};
use authtrail_model::{Receipt, Scope};

use crate::auth::{authenticate, bearer};
use crate::state::AppState;

/// Latency buckets in seconds, from a cached read (1 ms) to a large batch on a slow disk (10 s).
const BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

pub use authtrail_service::retention::PurgeRun;

pub struct Metrics {
    registry: Registry,
    open: AtomicBool,
    requests: IntCounterVec,
    request_seconds: HistogramVec,
    ingest_events: IntCounterVec,
    ingest_unlisted: IntCounterVec,
    ingest_batch_seconds: Histogram,
    store_append_seconds: Histogram,
    purge_runs: IntCounterVec,
    purge_rows: IntCounter,
    purge_last_finished: Gauge,
    purge_last_cutoff: Gauge,
    purge_last_rows: IntGauge,
    purge_last_seconds: Gauge,
    jobs: JobHost,
    job_state: IntGaugeVec,
    job_restarts: IntCounterVec,
    delivery: crate::delivery_metrics::DeliveryMetrics,
    detection: crate::detection_metrics::DetectionMetrics,
}

impl Default for Metrics {
    fn default() -> Metrics {
        Metrics::new()
    }
}

fn histogram(name: &str, help: &str) -> Histogram {
    Histogram::with_opts(HistogramOpts::new(name, help).buckets(BUCKETS.to_vec()))
        .expect("a valid histogram definition")
}

impl Metrics {
    pub fn new() -> Metrics {
        let registry = Registry::new();
        let delivery = crate::delivery_metrics::DeliveryMetrics::new(&registry);
        let detection = crate::detection_metrics::DetectionMetrics::new(&registry);
        let m = Metrics {
            registry,
            delivery,
            detection,
            open: AtomicBool::new(false),
            requests: IntCounterVec::new(
                Opts::new("authtrail_http_requests_total", "HTTP requests answered"),
                &["route", "method", "status"],
            )
            .expect("valid"),
            request_seconds: HistogramVec::new(
                HistogramOpts::new(
                    "authtrail_http_request_duration_seconds",
                    "Time to answer an HTTP request",
                )
                .buckets(BUCKETS.to_vec()),
                &["route"],
            )
            .expect("valid"),
            ingest_events: IntCounterVec::new(
                Opts::new(
                    "authtrail_ingest_events_total",
                    "Activities received by POST /v1/activities, by outcome",
                ),
                &["outcome"],
            )
            .expect("valid"),
            ingest_unlisted: IntCounterVec::new(
                Opts::new(
                    "authtrail_ingest_unlisted_values_total",
                    "Accepted values of open enumerations that the catalogue does not list",
                ),
                &["application", "parameter"],
            )
            .expect("valid"),
            ingest_batch_seconds: histogram(
                "authtrail_ingest_batch_duration_seconds",
                "Time from reading an ingest batch to its durable receipts",
            ),
            store_append_seconds: histogram(
                "authtrail_store_append_duration_seconds",
                "Time the store took to append one batch durably",
            ),
            purge_runs: IntCounterVec::new(
                Opts::new("authtrail_retention_runs_total", "Retention purges run"),
                &["result"],
            )
            .expect("valid"),
            purge_rows: IntCounter::new(
                "authtrail_retention_purged_activities_total",
                "Activities removed by retention since start",
            )
            .expect("valid"),
            purge_last_finished: Gauge::new(
                "authtrail_retention_last_run_timestamp_seconds",
                "When the last successful purge finished (Unix time)",
            )
            .expect("valid"),
            purge_last_cutoff: Gauge::new(
                "authtrail_retention_last_cutoff_timestamp_seconds",
                "The cut-off of the last successful purge (Unix time)",
            )
            .expect("valid"),
            purge_last_rows: IntGauge::new(
                "authtrail_retention_last_purged_activities",
                "Activities removed by the last successful purge",
            )
            .expect("valid"),
            purge_last_seconds: Gauge::new(
                "authtrail_retention_last_duration_seconds",
                "How long the last successful purge took",
            )
            .expect("valid"),
            jobs: JobHost::new(),
            job_state: IntGaugeVec::new(
                Opts::new(
                    "authtrail_job_state",
                    "1 for the state each background job is in, 0 for the others",
                ),
                &["job", "state"],
            )
            .expect("valid"),
            job_restarts: IntCounterVec::new(
                Opts::new(
                    "authtrail_job_restarts_total",
                    "Restarts of a background job after a failure",
                ),
                &["job"],
            )
            .expect("valid"),
        };
        let collectors: Vec<Box<dyn prometheus::core::Collector>> = vec![
            Box::new(m.requests.clone()),
            Box::new(m.request_seconds.clone()),
            Box::new(m.ingest_events.clone()),
            Box::new(m.ingest_unlisted.clone()),
            Box::new(m.ingest_batch_seconds.clone()),
            Box::new(m.store_append_seconds.clone()),
            Box::new(m.purge_runs.clone()),
            Box::new(m.purge_rows.clone()),
            Box::new(m.purge_last_finished.clone()),
            Box::new(m.purge_last_cutoff.clone()),
            Box::new(m.purge_last_rows.clone()),
            Box::new(m.purge_last_seconds.clone()),
            Box::new(m.job_state.clone()),
            Box::new(m.job_restarts.clone()),
        ];
        for c in collectors {
            m.registry.register(c).expect("metric names are distinct");
        }
        // Every outcome appears from the start (at 0), so that rate() queries work at once.
        for outcome in ["accepted", "duplicate", "rejected"] {
            m.ingest_events.with_label_values(&[outcome]);
        }
        for result in ["ok", "error"] {
            m.purge_runs.with_label_values(&[result]);
        }
        m
    }

    /// Push delivery's figures (the delivery engine reports through `DeliveryObserver`).
    pub fn detection(&self) -> &crate::detection_metrics::DetectionMetrics {
        &self.detection
    }

    pub fn delivery(&self) -> &crate::delivery_metrics::DeliveryMetrics {
        &self.delivery
    }

    /// Serves `/metrics` without a token (the operator's choice, for a private scrape network).
    pub fn set_open(&self, open: bool) {
        self.open.store(open, Ordering::Relaxed);
    }

    /// One answered request. `route` is the matched route template, never the raw path.
    pub fn observe_request(&self, route: &str, method: &str, status: u16, took: Duration) {
        self.requests
            .with_label_values(&[route, method, &status.to_string()])
            .inc();
        self.request_seconds
            .with_label_values(&[route])
            .observe(took.as_secs_f64());
    }

    /// `n` values of `parameter` outside its open set of known values were accepted. The labels
    /// are bounded: only catalogue-declared parameters with known values are counted.
    pub fn ingest_unlisted(&self, application: &str, parameter: &str, n: u64) {
        self.ingest_unlisted
            .with_label_values(&[application, parameter])
            .inc_by(n);
    }

    /// A batch refused by validation: none of its `n` activities was stored.
    pub fn ingest_rejected(&self, n: usize) {
        self.ingest_events
            .with_label_values(&["rejected"])
            .inc_by(n as u64);
    }

    /// A stored batch: its receipts, the whole batch's time and the store's part of it.
    pub fn ingest_stored(&self, receipts: &[Receipt], batch: Duration, append: Duration) {
        let dups = receipts.iter().filter(|r| r.duplicate).count() as u64;
        self.ingest_events
            .with_label_values(&["duplicate"])
            .inc_by(dups);
        self.ingest_events
            .with_label_values(&["accepted"])
            .inc_by(receipts.len() as u64 - dups);
        self.ingest_batch_seconds.observe(batch.as_secs_f64());
        self.store_append_seconds.observe(append.as_secs_f64());
    }

    pub fn purge_succeeded(&self, run: &PurgeRun) {
        self.purge_runs.with_label_values(&["ok"]).inc();
        self.purge_rows.inc_by(run.rows);
        self.purge_last_finished.set(run.finished_us as f64 / 1e6);
        self.purge_last_cutoff.set(run.cutoff_us as f64 / 1e6);
        self.purge_last_rows.set(run.rows as i64);
        self.purge_last_seconds.set(run.duration.as_secs_f64());
    }

    pub fn purge_failed(&self) {
        self.purge_runs.with_label_values(&["error"]).inc();
    }

    /// The supervisor of this node's background jobs.
    pub fn jobs(&self) -> &JobHost {
        &self.jobs
    }

    /// Copies the job host's states into the job series (read at each scrape rather than pushed
    /// at each change, so the host needs no knowledge of Prometheus).
    fn sync_jobs(&self) {
        for job in self.jobs.statuses() {
            for state in JobState::ALL {
                self.job_state
                    .with_label_values(&[job.name.as_str(), state.as_str()])
                    .set(i64::from(job.state == state));
            }
            let restarts = self.job_restarts.with_label_values(&[job.name.as_str()]);
            restarts.inc_by(job.restarts.saturating_sub(restarts.get()));
        }
    }

    /// The text exposition format (version 0.0.4).
    pub fn render(&self) -> String {
        self.sync_jobs();
        let mut buf = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut buf)
            .expect("encoding to memory cannot fail");
        String::from_utf8(buf).expect("the text format is UTF-8")
    }
}

/// `GET /metrics`.
pub async fn get_metrics(State(state): State<AppState>, req: Request) -> Response {
    if !state.metrics.open.load(Ordering::Relaxed) {
        let (parts, _) = req.into_parts();
        let checked = match authenticate(&state, bearer(&parts)).await {
            Ok(auth) => auth.require(Scope::Admin),
            Err(e) => Err(e),
        };
        if let Err(e) = checked {
            return e.into_response();
        }
    }
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(),
    )
        .into_response()
}

/// Counts every request under its route template.
pub async fn track(
    State(state): State<AppState>,
    req: Request,
    next: axum::middleware::Next,
) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".into());
    // A client may send any method token; only the standard ones become labels.
    let method: &'static str = match req.method().as_str() {
        "GET" => "GET",
        "HEAD" => "HEAD",
        "POST" => "POST",
        "PUT" => "PUT",
        "PATCH" => "PATCH",
        "DELETE" => "DELETE",
        "OPTIONS" => "OPTIONS",
        _ => "other",
    };
    let started = authtrail_model::Stopwatch::start();
    let resp = next.run(req).await;
    state
        .metrics
        .observe_request(&route, method, resp.status().as_u16(), started.elapsed());
    resp
}
