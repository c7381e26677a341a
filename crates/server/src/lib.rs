//! The HTTP surface of authtrail: one axum router, one module per API. Handlers are thin
//! adapters: they parse a request into the typed input of an `authtrail_service::Service`
//! operation, call it, and render the answer in their API's shape.
//!
//! - [`ingest`]: `POST /v1/activities` (JSON array or NDJSON).
//! - [`native`]: `GET /v1/activities`, `GET /v1/activities/{uniqueQualifier}`.
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
pub mod auth;
pub mod console;
pub mod error;
pub mod google;
pub mod ingest;
pub mod listen;
pub mod logto;
pub mod metrics;
pub mod native;
pub mod params;
pub mod protect;
pub mod ratelimit;
pub mod state;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get};
use serde_json::json;

pub use listen::serve;
pub use state::{AppState, Limits};

use error::ApiError;

/// The whole router. Every route but `/healthz` needs a token.
pub fn router(state: AppState) -> Router {
    // Outermost, so that every answer is counted, refusals included (`/metrics` needs a token
    // too, unless the operator opened it).
    let track = axum::middleware::from_fn_with_state(state.clone(), metrics::track);
    routes(state).layer(track)
}

fn routes(state: AppState) -> Router {
    let mut r = Router::new().route(google::LIST_PATH, get(google::list));
    if let Some(prefix) = &state.google_prefix {
        r = r.route(&format!("{prefix}{}", google::LIST_PATH), get(google::list));
    }
    r.route("/healthz", get(healthz))
        .route("/openapi.json", get(openapi))
        .route("/metrics", get(metrics::get_metrics))
        .route(
            "/v1/activities",
            get(native::list_activities).post(ingest::post_activities),
        )
        .route(
            "/v1/activities/{unique_qualifier}",
            get(native::get_activity),
        )
        .route(
            "/v1/admin/tokens",
            get(admin::list_tokens).post(admin::create_token),
        )
        .route("/v1/admin/tokens/{id}", delete(admin::revoke_token))
        .route(
            "/api/logs",
            get(logto::list::list_logs).post(logto::ingest::post_logs),
        )
        .route("/api/logs/{id}", get(logto::list::get_log))
        .route(
            "/v1/logto/webhook",
            axum::routing::post(logto::webhook::post_webhook),
        )
        .nest_service("/console", console::router(state.clone()))
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

/// Liveness and readiness in one: answers 200 when the store answers. Open to probes without a
/// token; it reveals nothing but "ok".
async fn healthz(State(state): State<AppState>) -> Response {
    match state.store.secret("cursor-signing").await {
        Ok(_) => (StatusCode::OK, axum::Json(json!({"status": "ok"}))).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "health check: the store does not answer");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                axum::Json(json!({"status": "unavailable"})),
            )
                .into_response()
        }
    }
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

async fn method_not_allowed() -> Response {
    let body = json!({"error": {"code": "method_not_allowed", "message": "this endpoint does not take that method"}});
    (StatusCode::METHOD_NOT_ALLOWED, axum::Json(body)).into_response()
}

/// Logs method, path (never the query string, which may carry an `access_token`), status and
/// duration of every request.
async fn log_request(req: Request, next: axum::middleware::Next) -> Response {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let started = std::time::Instant::now();
    let resp = next.run(req).await;
    tracing::info!(%method, %path, status = resp.status().as_u16(), ms = %format!("{:.2}", started.elapsed().as_secs_f64() * 1e3), "request");
    resp
}
