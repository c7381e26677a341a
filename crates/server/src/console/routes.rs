//! The console's router and shared state, its static assets, and the client's address.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use minijinja::Environment;

use super::page::Ctx;
use super::throttle::Throttle;
use super::{alerts, charts, deliveries, detail, export, logs, session, signin, tail};
use crate::state::AppState;

/// What the console's handlers share.
#[derive(Clone)]
pub struct Console(Arc<Inner>);

pub struct Inner {
    pub app: AppState,
    pub env: Environment<'static>,
    pub throttle: Throttle,
}

impl std::ops::Deref for Console {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

const TEMPLATES: &[(&str, &str)] = &[
    (
        "base.html",
        include_str!("../../console/templates/base.html"),
    ),
    (
        "macros.html",
        include_str!("../../console/templates/macros.html"),
    ),
    // One row on its own, for the live tail.
    (
        "row.html",
        r#"{% from "macros.html" import row %}{{ row(r, t) }}"#,
    ),
    (
        "login.html",
        include_str!("../../console/templates/login.html"),
    ),
    (
        "error.html",
        include_str!("../../console/templates/error.html"),
    ),
    (
        "logs.html",
        include_str!("../../console/templates/logs.html"),
    ),
    (
        "detail.html",
        include_str!("../../console/templates/detail.html"),
    ),
    (
        "overview.html",
        include_str!("../../console/templates/overview.html"),
    ),
    (
        "deliveries.html",
        include_str!("../../console/templates/deliveries.html"),
    ),
    (
        "alerts.html",
        include_str!("../../console/templates/alerts.html"),
    ),
];
const CSS: &str = include_str!("../../console/static/console.css");
const JS: &str = include_str!("../../console/static/console.js");
const FAVICON: &str = include_str!("../../console/static/favicon.svg");

pub(super) fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    for (name, src) in TEMPLATES {
        env.add_template(name, src)
            .unwrap_or_else(|e| panic!("console template {name}: {e}"));
    }
    env
}

/// The console, to be nested at `/console`.
pub fn router(app: AppState) -> Router {
    let console = Console(Arc::new(Inner {
        app,
        env: environment(),
        throttle: Throttle::default(),
    }));
    Router::new()
        .route("/", get(index))
        .route("/login", get(signin::login_form).post(signin::login))
        .route("/logout", post(signin::logout))
        .route("/logs", get(logs::logs))
        .route("/logs.csv", get(export::csv))
        .route("/logs.ndjson", get(export::ndjson))
        .route("/logs/{uq}", get(detail::detail))
        .route("/overview", get(charts::overview))
        .route("/deliveries", get(deliveries::deliveries))
        .route("/alerts", get(alerts::alerts).post(alerts::create))
        .route("/tail", get(tail::tail))
        .route("/static/{file}", get(asset))
        .fallback(|req: Request| async move {
            let ctx = Ctx::anonymous(req.headers(), None);
            ctx.error_page(StatusCode::NOT_FOUND, None, "no such page")
        })
        .with_state(console)
}

/// The per-request context of a page: language, viewer, and the query for the language links.
async fn index(State(console): State<Console>, headers: HeaderMap) -> Response {
    match session::viewer(&console.app, &headers).await {
        Ok(Some(_)) => Redirect::to("/console/logs").into_response(),
        _ => Redirect::to("/console/login").into_response(),
    }
}

async fn asset(Path(file): Path<String>) -> Response {
    let (body, kind) = match file.as_str() {
        "console.css" => (CSS, "text/css; charset=utf-8"),
        "console.js" => (JS, "text/javascript; charset=utf-8"),
        "favicon.svg" => (FAVICON, "image/svg+xml"),
        _ => return (StatusCode::NOT_FOUND, "no such asset").into_response(),
    };
    (
        [
            (header::CONTENT_TYPE, kind),
            (header::CACHE_CONTROL, "public, max-age=3600"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        body,
    )
        .into_response()
}
