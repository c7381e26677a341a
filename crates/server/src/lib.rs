//! The HTTP surface of authtrail: one axum router, one module per API.
//!
//! - [`ingest`]: `POST /v1/activities` (JSON array or NDJSON).
//! - [`native`]: `GET /v1/activities`, `GET /v1/activities/{uniqueQualifier}`.
//! - [`google`]: Google's Reports API `activities.list`, in Google's wire format.
//! - [`auth`]: API tokens (minting, hashing, the `Auth` extractor).
//! - [`console`]: the web console at `/console` (HTML, sessions, CSRF).
//! - [`cursor`]: signed, tenant-bound page tokens.
//! - [`error`]: the one error type and the native envelope.
//!
//! [`serve`] takes an already-bound listener and a shutdown future, so the binary and the tests
//! start the server the same way.

pub mod auth;
pub mod console;
pub mod cursor;
pub mod error;
pub mod google;
pub mod ingest;
pub mod native;
pub mod params;
pub mod state;

use std::future::Future;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;

pub use state::{AppState, Limits};

use error::ApiError;

/// The whole router. Every route but `/healthz` needs a token.
pub fn router(state: AppState) -> Router {
    let mut r = Router::new().route(google::LIST_PATH, get(google::list));
    if let Some(prefix) = &state.google_prefix {
        r = r.route(&format!("{prefix}{}", google::LIST_PATH), get(google::list));
    }
    r.route("/healthz", get(healthz))
        .route("/openapi.json", get(openapi))
        .route(
            "/v1/activities",
            get(native::list_activities).post(ingest::post_activities),
        )
        .route(
            "/v1/activities/{unique_qualifier}",
            get(native::get_activity),
        )
        .nest_service("/console", console::router(state.clone()))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn(log_request))
        .with_state(state)
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
    let e = ApiError::NotFound("no such endpoint".into());
    if uri.path().contains("/admin/reports") {
        google::GoogleError(e).into_response()
    } else {
        e.into_response()
    }
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

/// Serves until `shutdown` completes, then lets in-flight requests finish (an acknowledged batch
/// is always committed before the process exits).
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = router(state);
    // The peer address reaches handlers (console sign-in throttling by IP).
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}
