//! The HTTP surface of authtrail: one axum router, one module per API. Handlers are thin
//! adapters: they parse a request into the typed input of an `authtrail_service::Service`
//! operation, call it, and render the answer in their API's shape.
//!
//! - [`ingest`]: `POST /v1/activities` (JSON array or NDJSON).
//! - [`native`]: `GET /v1/activities`, `GET /v1/activities/{uniqueQualifier}`.
//! - [`aggregate`]: `GET /v1/activities:aggregate` (counts per bucket and group).
//! - [`log`]: the transparency log: checkpoint, verifier key, inclusion and consistency proofs.
//! - [`governance`]: legal hold (`/v1/legal-hold`) and per-subject erasure (`/v1/subjects:erase`).
//! - [`google`]: Google's Reports API `activities.list`, in Google's wire format.
//! - [`logto`]: Logto's `GET /api/logs`, Logto-shaped ingest and Logto webhooks as a source.
//! - [`auth`]: API tokens (minting, hashing, the `Auth` extractor).
//! - [`console`]: the web console at `/console` (HTML, sessions, CSRF).
//! - [`error`]: the one error type and the native envelope.
//! - [`metrics`]: `GET /metrics` (Prometheus text) and the request counters behind it.
//!
//! [`serve`] takes an already-bound listener and a shutdown future, so the binary and the tests
//! start the server the same way.

pub mod admin;
mod admin_json;
pub mod aggregate;
pub mod alerts;
pub mod auth;
pub mod body;
pub mod console;
pub mod delivery_metrics;
pub mod detection_metrics;
pub mod error;
pub mod google;
pub mod governance;
pub mod head;
pub mod ingest;
pub mod listen;
pub mod log;
pub mod logto;
pub mod metrics;
pub mod native;
pub mod oauth;
pub mod params;
pub mod protect;
pub mod ratelimit;
pub mod state;
pub mod subscriptions;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get};
use serde_json::json;

pub use listen::serve;
pub use state::{AppState, Detection, Limits};

use error::ApiError;

/// One route of the API: method, path template and handler. [`ROUTES`] lists them all; the
/// router is built from it and a test checks each against `openapi.json`, so a route cannot be
/// added without documenting it.
pub struct Route {
    /// Lower case, as in OpenAPI (`get`, `post`, `delete`).
    pub method: &'static str,
    pub path: &'static str,
    handler: fn() -> MethodRouter<AppState>,
}

/// `route!(get "/path" => handler)`: names the method once, for both the table and axum.
macro_rules! route {
    ($method:ident $path:expr => $handler:path) => {
        Route {
            method: stringify!($method),
            path: $path,
            handler: || axum::routing::$method($handler),
        }
    };
}

/// Every API route (the console, HTML under `/console`, is mounted beside them).
pub const ROUTES: &[Route] = &[
    route!(get google::LIST_PATH => google::list),
    route!(post google::watch::WATCH_PATH => google::watch::watch),
    route!(post google::watch::STOP_PATH => google::watch::stop),
    route!(get "/healthz" => healthz),
    route!(get "/readyz" => readyz),
    route!(get "/openapi.json" => openapi),
    route!(get "/metrics" => metrics::get_metrics),
    route!(get "/v1/activities" => native::list_activities),
    route!(get aggregate::PATH => aggregate::aggregate),
    route!(post "/v1/activities" => ingest::post_activities),
    route!(get "/v1/activities/{unique_qualifier}" => native::get_activity),
    route!(get "/v1/admin/tokens" => admin::list_tokens),
    route!(post "/v1/admin/tokens" => admin::create_token),
    route!(delete "/v1/admin/tokens/{id}" => admin::revoke_token),
    route!(get "/v1/legal-hold" => governance::get_hold),
    route!(put "/v1/legal-hold" => governance::set_hold),
    route!(post "/v1/legal-hold:release" => governance::release_hold),
    route!(post "/v1/subjects:erase" => governance::erase_subject),
    route!(get "/api/logs" => logto::list::list_logs),
    route!(post "/api/logs" => logto::ingest::post_logs),
    route!(get "/api/logs/{id}" => logto::list::get_log),
    route!(post "/v1/logto/webhook" => logto::webhook::post_webhook),
    route!(post "/oidc/token" => oauth::token),
    route!(get "/v1/log/checkpoint" => log::get_checkpoint),
    route!(get "/v1/log/key" => log::get_key),
    route!(post "/v1/log/cosignature" => log::post_cosignature),
    route!(get "/v1/log/witnesses" => log::get_witnesses),
    route!(get "/v1/log/proof/inclusion" => log::get_inclusion),
    route!(get "/v1/log/proof/consistency" => log::get_consistency),
    route!(get "/v1/log/tile/{*path}" => log::get_tile),
    route!(get "/v1/subscriptions" => subscriptions::list),
    route!(post "/v1/subscriptions" => subscriptions::create),
    route!(get "/v1/subscriptions/{id}" => subscriptions::get),
    route!(patch "/v1/subscriptions/{id}" => subscriptions::update),
    route!(delete "/v1/subscriptions/{id}" => subscriptions::delete),
    route!(post "/v1/subscriptions/{id}/replay" => subscriptions::replay),
    route!(post "/v1/subscriptions/{id}/rotate-secret" => subscriptions::rotate_secret),
    route!(get "/v1/alert-rules" => alerts::list),
    route!(post "/v1/alert-rules" => alerts::create),
    route!(get "/v1/alert-rules/presets" => alerts::list_presets),
    route!(post "/v1/alert-rules/presets/{name}" => alerts::create_preset),
    route!(get "/v1/alert-rules/{id}" => alerts::get),
    route!(patch "/v1/alert-rules/{id}" => alerts::update),
    route!(delete "/v1/alert-rules/{id}" => alerts::delete),
];

/// The whole router. Every route but `/healthz`, `/readyz` and `/openapi.json` needs a token.
pub fn router(state: AppState) -> Router {
    // Outermost, so that every answer is counted, refusals included (`/metrics` needs a token
    // too, unless the operator opened it).
    let track = axum::middleware::from_fn_with_state(state.clone(), metrics::track);
    routes(state).layer(track)
}

fn routes(state: AppState) -> Router {
    let mut r = Router::new();
    // Routes of one path merge into one method router (axum panics on a repeated method).
    for route in ROUTES {
        r = r.route(route.path, (route.handler)());
    }
    if let Some(prefix) = &state.google_prefix {
        r = r.route(&format!("{prefix}{}", google::LIST_PATH), get(google::list));
        r = r.route(
            &format!("{prefix}{}", google::watch::WATCH_PATH),
            axum::routing::post(google::watch::watch),
        );
        r = r.route(
            &format!("{prefix}{}", google::watch::STOP_PATH),
            axum::routing::post(google::watch::stop),
        );
    }
    r.nest_service("/console", console::router(state.clone()))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(
            tower::ServiceBuilder::new()
                .layer(axum::middleware::from_fn(log_request))
                // A bug must cost one request a 500, never the connection or the process.
                .layer(tower_http::catch_panic::CatchPanicLayer::custom(on_panic))
                .layer(axum::middleware::from_fn_with_state(
                    state.clone(),
                    protect::admit,
                ))
                // Bodies are read before a slot is taken (see `body`).
                .layer(axum::middleware::from_fn_with_state(
                    state.clone(),
                    body::buffer,
                ))
                .layer(axum::error_handling::HandleErrorLayer::new(
                    protect::overload,
                ))
                .load_shed()
                // Global: `Router::layer` builds one service per route, and the limit is for
                // the whole server, not per route.
                .layer(tower::limit::GlobalConcurrencyLimitLayer::new(
                    state.limits.max_in_flight.max(1),
                )),
        )
        .with_state(state)
}

/// Renders an error in the envelope of the API that `path` belongs to (Google's under
/// `/admin/reports`, Logto's under `/api/` and for its webhook, the native one elsewhere). For
/// refusals made before any handler runs.
pub fn respond(path: &str, e: ApiError) -> Response {
    if path.contains("/admin/reports") {
        google::GoogleError(e).into_response()
    } else if path.starts_with("/api/") || path == "/v1/logto/webhook" {
        logto::LogtoError::from(e).into_response()
    } else {
        e.into_response()
    }
}

/// Liveness: 200 while the process serves HTTP. It does not ask the store: an orchestrator that
/// restarts a node because its database is away would only add restarts to the outage (that is
/// what `/readyz` is for). Open to probes without a token; it reveals nothing but "ok".
async fn healthz() -> Response {
    (StatusCode::OK, axum::Json(json!({"status": "ok"}))).into_response()
}

/// Longest `/readyz` waits for the store before it answers not ready.
pub const READY_PROBE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

/// Readiness: 200 when the store answers (within [`READY_PROBE_TIMEOUT`]), appends are not failing (see
/// `Service::writes_failing`), no required background job is failing and the node is not
/// stopping; 503 otherwise. Open to probes without a token, so it names each job's state and
/// restart count but never an error message (those go to the log).
async fn readyz(State(state): State<AppState>) -> Response {
    // Bounded: a store that stalls (a frozen database) must make the node not ready, not make
    // the load balancer's probe hang with it.
    let probe = tokio::time::timeout(
        READY_PROBE_TIMEOUT,
        state.store.get_secret("cursor-signing"),
    );
    let store_ok = match probe.await {
        Ok(Ok(_)) => true,
        Ok(Err(e)) => {
            tracing::error!(error = %e, "readiness check: the store does not answer");
            false
        }
        Err(_) => {
            tracing::error!(
                secs = READY_PROBE_TIMEOUT.as_secs(),
                "readiness check: the store did not answer in time"
            );
            false
        }
    };
    let writes_ok = !state.service.writes_failing();
    let host = state.metrics.jobs();
    let ready = store_ok && writes_ok && host.is_ready();
    let jobs: serde_json::Map<String, serde_json::Value> = host
        .statuses()
        .into_iter()
        .map(|j| {
            let v = json!({"state": j.state, "required": j.required, "restarts": j.restarts});
            (j.name, v)
        })
        .collect();
    let body = json!({
        "status": if ready { "ready" } else { "not_ready" },
        "store": if store_ok { "ok" } else { "unavailable" },
        "writes": if writes_ok { "ok" } else { "failing" },
        "stopping": host.is_stopping(),
        "jobs": jobs,
    });
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, axum::Json(body)).into_response()
}

/// The API's OpenAPI document, kept in the repository (`openapi.json`) and compiled in.
pub const OPENAPI: &str = include_str!("../../../openapi.json");

async fn openapi() -> Response {
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        OPENAPI,
    )
        .into_response()
}

/// Unknown paths answer 404 in the envelope of the API they look like.
async fn not_found(uri: axum::http::Uri) -> Response {
    respond(uri.path(), ApiError::NotFound("no such endpoint".into()))
}

fn on_panic(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("a handler panicked; answered 500");
    ApiError::Internal.into_response()
}

/// A known path with a method it does not take, in the envelope of the API it belongs to (axum
/// has already set the `Allow` header on the response this replaces).
async fn method_not_allowed(method: axum::http::Method, uri: axum::http::Uri) -> Response {
    let e = ApiError::MethodNotAllowed(format!("{} does not take {method}", uri.path()));
    respond(uri.path(), e)
}

/// Logs method, path (never the query string, which may carry an `access_token`), status and
/// duration of every request.
async fn log_request(req: Request, next: axum::middleware::Next) -> Response {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let started = authtrail_model::Stopwatch::start();
    let resp = next.run(req).await;
    tracing::info!(%method, %path, status = resp.status().as_u16(), ms = %format!("{:.2}", started.elapsed().as_secs_f64() * 1e3), "request");
    resp
}
