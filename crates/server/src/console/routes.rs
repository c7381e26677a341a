//! The console's router, sign-in and sign-out, and what every page shares (language, viewer,
//! rendering, error pages).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use authtrail_catalog::Lang;
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Path, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use minijinja::Environment;

use super::audit::{self, AdminEvent};
use super::i18n::{self, LANG_COOKIE};
use super::session::{self, PRE_SESSION_COOKIE, SESSION_COOKIE, Viewer};
use super::throttle::Throttle;
use super::{charts, pages, password, tail};
use crate::error::ApiError;
use crate::params::Params;
use crate::state::AppState;

/// Largest form body read (a sign-in form is well under 1 KiB).
const MAX_FORM_BYTES: usize = 8 * 1024;

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
];
const CSS: &str = include_str!("../../console/static/console.css");
const JS: &str = include_str!("../../console/static/console.js");

fn environment() -> Environment<'static> {
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
        .route("/login", get(login_form).post(login))
        .route("/logout", post(logout))
        .route("/logs", get(pages::logs))
        .route("/logs/{uq}", get(pages::detail))
        .route("/overview", get(charts::overview))
        .route("/tail", get(tail::tail))
        .route("/static/{file}", get(asset))
        .fallback(|req: Request| async move {
            let ctx = Ctx::anonymous(req.headers(), None);
            ctx.error_page(StatusCode::NOT_FOUND, None, "no such page")
        })
        .with_state(console)
}

/// The per-request context of a page: language, viewer, and the query for the language links.
pub struct Ctx {
    pub lang: Lang,
    /// `Some` when `?lang=` chose the language: the response remembers it in a cookie.
    pub chosen: Option<Lang>,
    pub viewer: Option<Viewer>,
    pub path: String,
    pub query: Vec<(String, String)>,
    pub console: Option<Console>,
}

impl Ctx {
    pub fn anonymous(headers: &HeaderMap, raw: Option<&str>) -> Ctx {
        let query: Vec<(String, String)> = form_urlencoded::parse(raw.unwrap_or("").as_bytes())
            .into_owned()
            .take(64)
            .collect();
        let q_lang = query
            .iter()
            .find(|(k, _)| k == "lang")
            .map(|(_, v)| v.as_str());
        Ctx {
            lang: i18n::negotiate(q_lang, headers),
            chosen: q_lang.and_then(Lang::from_tag),
            viewer: None,
            path: String::new(),
            query,
            console: None,
        }
    }

    /// The signed-in viewer's context, or a redirect to the sign-in page.
    pub async fn signed_in(
        console: &Console,
        headers: &HeaderMap,
        path: &str,
        raw: Option<&str>,
    ) -> Result<Ctx, Response> {
        let mut ctx = Ctx::anonymous(headers, raw);
        ctx.path = path.to_string();
        ctx.console = Some(console.clone());
        match session::viewer(&console.app, headers).await {
            Ok(Some(v)) => {
                ctx.viewer = Some(v);
                Ok(ctx)
            }
            Ok(None) => Err(Redirect::to("/console/login").into_response()),
            Err(e) => Err(ctx.api_error(e)),
        }
    }

    pub fn viewer(&self) -> &Viewer {
        self.viewer.as_ref().expect("signed_in sets the viewer")
    }

    /// This page's URL with `lang` set, for the language switch.
    fn lang_url(&self, lang: Lang) -> String {
        let mut s = form_urlencoded::Serializer::new(String::new());
        for (k, v) in self.query.iter().filter(|(k, _)| k != "lang") {
            s.append_pair(k, v);
        }
        s.append_pair("lang", lang.tag());
        format!("/console{}?{}", self.path, s.finish())
    }

    /// Renders `template` with the shared context plus `extra`.
    pub fn render(
        &self,
        console: &Console,
        template: &str,
        page: &str,
        extra: minijinja::Value,
    ) -> Response {
        let viewer = self.viewer.as_ref().map(|v| {
            minijinja::context! { username => v.username, tenant => v.tenant.as_str(), csrf => v.csrf }
        });
        let ctx = minijinja::context! {
            lang => self.lang.tag(),
            t => i18n::strings(self.lang),
            viewer => viewer,
            page => page,
            lang_en => self.lang_url(Lang::En),
            lang_zh => self.lang_url(Lang::ZhTw),
            ..extra
        };
        match console
            .env
            .get_template(template)
            .and_then(|t| t.render(ctx))
        {
            Ok(html) => self.html(StatusCode::OK, html),
            Err(e) => {
                tracing::error!(error = %e, template, "console template failed");
                (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response()
            }
        }
    }

    pub fn html(&self, status: StatusCode, html: String) -> Response {
        let mut resp = (
            status,
            [
                (header::CONTENT_TYPE, "text/html; charset=utf-8"),
                (header::CACHE_CONTROL, "no-store"),
                (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
                (header::X_FRAME_OPTIONS, "DENY"),
                (header::REFERRER_POLICY, "same-origin"),
            ],
            html,
        )
            .into_response();
        resp.headers_mut().insert(
            header::CONTENT_SECURITY_POLICY,
            header::HeaderValue::from_static(
                "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'; form-action 'self'",
            ),
        );
        if let Some(l) = self.chosen {
            // Readable by no script; lasts a year. Not a secret, so not Secure-only.
            let v = format!(
                "{LANG_COOKIE}={}; Path=/console; Max-Age=31536000; SameSite=Lax",
                l.tag()
            );
            if let Ok(v) = header::HeaderValue::from_str(&v) {
                resp.headers_mut().append(header::SET_COOKIE, v);
            }
        }
        resp
    }

    /// An error page naming the bad field, with the status the API would answer.
    pub fn error_page(&self, status: StatusCode, field: Option<&str>, message: &str) -> Response {
        let heading = if status == StatusCode::NOT_FOUND {
            i18n::text(self.lang, "not_found")
        } else {
            i18n::text(self.lang, "error")
        };
        let env = environment_cached();
        let viewer = self.viewer.as_ref().map(|v| {
            minijinja::context! { username => v.username, tenant => v.tenant.as_str(), csrf => v.csrf }
        });
        let ctx = minijinja::context! {
            lang => self.lang.tag(), t => i18n::strings(self.lang), viewer => viewer,
            lang_en => self.lang_url(Lang::En), lang_zh => self.lang_url(Lang::ZhTw),
            heading => heading, field => field, message => message,
        };
        let html = env
            .get_template("error.html")
            .and_then(|t| t.render(ctx))
            .unwrap_or_else(|_| message.to_string());
        self.html(status, html)
    }

    /// An [`ApiError`] as an error page (its status, its field).
    pub fn api_error(&self, e: ApiError) -> Response {
        let details = e.details();
        let (field, message) = match details.first() {
            Some(d) => (
                Some(super::filters::console_field(&d.field)),
                d.message.clone(),
            ),
            None => (None, e.message()),
        };
        self.error_page(e.status(), field, &message)
    }
}

fn environment_cached() -> &'static Environment<'static> {
    static ENV: std::sync::OnceLock<Environment<'static>> = std::sync::OnceLock::new();
    ENV.get_or_init(environment)
}

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

/// The client's address: the TCP peer; when the peer is a proxy on a loopback or private
/// address, the address that proxy appended last to `X-Forwarded-For` (the one it saw).
pub fn client_ip(req_headers: &HeaderMap, peer: Option<SocketAddr>) -> Option<IpAddr> {
    let peer_ip = peer.map(|p| p.ip());
    let trusted_proxy = match peer_ip {
        Some(IpAddr::V4(v4)) => v4.is_loopback() || v4.is_private(),
        Some(IpAddr::V6(v6)) => v6.is_loopback() || (v6.segments()[0] & 0xfe00) == 0xfc00,
        None => false,
    };
    if trusted_proxy {
        let forwarded = req_headers
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.rsplit(',').next())
            .and_then(|v| v.trim().parse::<IpAddr>().ok());
        if forwarded.is_some() {
            return forwarded;
        }
    }
    peer_ip
}

fn peer(req_ext: Option<&ConnectInfo<SocketAddr>>) -> Option<SocketAddr> {
    req_ext.map(|c| c.0)
}

async fn login_form(State(console): State<Console>, req: Request) -> Response {
    let headers = req.headers().clone();
    let mut ctx = Ctx::anonymous(&headers, req.uri().query());
    ctx.path = "/login".into();
    if let Ok(Some(_)) = session::viewer(&console.app, &headers).await {
        return Redirect::to("/console/logs").into_response();
    }
    let notice = ctx
        .query
        .iter()
        .any(|(k, v)| k == "signed_out" && v == "1")
        .then(|| i18n::text(ctx.lang, "signed_out"));
    login_page(&console, &ctx, &headers, StatusCode::OK, None, notice, "")
}

/// The sign-in page. Its CSRF token is bound to a pre-session cookie, set here when missing.
fn login_page(
    console: &Console,
    ctx: &Ctx,
    headers: &HeaderMap,
    status: StatusCode,
    error: Option<&str>,
    notice: Option<&str>,
    username: &str,
) -> Response {
    let (pre, fresh) = match session::cookie(headers, PRE_SESSION_COOKIE) {
        Some(p) => (p, false),
        None => (session::new_id(), true),
    };
    let mut resp = ctx.render(
        console,
        "login.html",
        "login",
        minijinja::context! {
            csrf => session::csrf_token(&pre), error => error, notice => notice, username => username,
        },
    );
    *resp.status_mut() = status;
    if fresh {
        let secure = session::behind_tls(headers);
        resp.headers_mut().append(
            header::SET_COOKIE,
            session::set_cookie(PRE_SESSION_COOKIE, &pre, 3600, secure),
        );
    }
    resp
}

/// Reads a urlencoded form body (size-limited) into parameters.
pub async fn read_form(headers: &HeaderMap, body: Body) -> Result<Params, ApiError> {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !ct.starts_with("application/x-www-form-urlencoded") {
        return Err(ApiError::UnsupportedMediaType(
            "forms are sent as application/x-www-form-urlencoded".into(),
        ));
    }
    let bytes: Bytes = axum::body::to_bytes(body, MAX_FORM_BYTES)
        .await
        .map_err(|_| ApiError::TooLarge {
            field: "body".into(),
            message: format!("a console form is at most {MAX_FORM_BYTES} bytes"),
        })?;
    let text = std::str::from_utf8(&bytes).map_err(|_| ApiError::field("body", "is not UTF-8"))?;
    Params::parse(Some(text))
}

async fn login(State(console): State<Console>, req: Request) -> Response {
    let peer = peer(req.extensions().get::<ConnectInfo<SocketAddr>>());
    let (parts, body) = req.into_parts();
    let headers = parts.headers;
    let mut ctx = Ctx::anonymous(&headers, parts.uri.query());
    ctx.path = "/login".into();
    let form = match read_form(&headers, body).await {
        Ok(f) => f,
        Err(e) => return ctx.api_error(e),
    };
    // CSRF first: a forged form is refused before anything is looked up or recorded.
    let pre = session::cookie(&headers, PRE_SESSION_COOKIE).unwrap_or_default();
    if pre.is_empty() || !session::csrf_ok(&pre, form.get("csrf")) {
        let msg = i18n::text(ctx.lang, "csrf");
        return login_page(
            &console,
            &ctx,
            &headers,
            StatusCode::FORBIDDEN,
            Some(msg),
            None,
            "",
        );
    }
    let (username, pw) = match (
        form.bounded("username", 320),
        form.bounded("password", password::MAX_LEN),
    ) {
        (Ok(Some(u)), Ok(Some(p))) => (u.trim().to_string(), p.to_string()),
        (Err(e), _) | (_, Err(e)) => return ctx.api_error(e),
        (Ok(None), _) => return ctx.api_error(ApiError::field("username", "is required")),
        (_, Ok(None)) => return ctx.api_error(ApiError::field("password", "is required")),
    };
    let app = &console.app;
    let ip = client_ip(&headers, peer);
    let ip_key = ip.map(|i| i.to_string()).unwrap_or_default();
    let ua = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok());
    let now = app.clock.now_us();
    if console.throttle.blocked(&username, &ip_key, now) {
        if let Ok(Some(user)) = app.store.console_user(&username).await {
            let e = AdminEvent {
                name: "console.sign_in",
                actor: &username,
                ip,
                user_agent: ua,
                success: false,
                params: &[("login_failure_reason", "throttled")],
            };
            if let Err(e) = audit::record(&*app.store, &app.catalog, now, &user.tenant, e).await {
                tracing::error!(error = %e, "console: cannot record a throttled sign-in");
            }
        }
        let msg = i18n::text(ctx.lang, "throttled");
        let mut resp = login_page(
            &console,
            &ctx,
            &headers,
            StatusCode::TOO_MANY_REQUESTS,
            Some(msg),
            None,
            &username,
        );
        resp.headers_mut()
            .insert(header::RETRY_AFTER, header::HeaderValue::from_static("900"));
        return resp;
    }
    let user = match app.store.console_user(&username).await {
        Ok(u) => u,
        Err(e) => return ctx.api_error(e.into()),
    };
    let phc = user
        .as_ref()
        .map(|u| u.password_hash.clone())
        .unwrap_or_else(|| password::decoy().to_string());
    let ok = tokio::task::spawn_blocking(move || password::verify(&pw, &phc))
        .await
        .unwrap_or(false)
        && user.is_some();
    let Some(user) = user.filter(|_| ok) else {
        console.throttle.failed(&username, &ip_key, now);
        // A failure is recorded in the tenant of the account it named; an unknown username has no
        // tenant, so it is only logged (with no password, ever).
        match app.store.console_user(&username).await {
            Ok(Some(u)) => {
                let e = AdminEvent {
                    name: "console.sign_in",
                    actor: &username,
                    ip,
                    user_agent: ua,
                    success: false,
                    params: &[("login_failure_reason", "wrong_password")],
                };
                if let Err(e) = audit::record(&*app.store, &app.catalog, now, &u.tenant, e).await {
                    tracing::error!(error = %e, "console: cannot record a failed sign-in");
                }
            }
            _ => tracing::warn!(ip = %ip_key, "console: sign-in with an unknown username"),
        }
        let msg = i18n::text(ctx.lang, "bad_credentials");
        return login_page(
            &console,
            &ctx,
            &headers,
            StatusCode::UNAUTHORIZED,
            Some(msg),
            None,
            &username,
        );
    };
    console.throttle.succeeded(&username);
    let e = AdminEvent {
        name: "console.sign_in",
        actor: &user.username,
        ip,
        user_agent: ua,
        success: true,
        params: &[],
    };
    // No trail, no session: a sign-in that cannot be recorded does not happen.
    if let Err(e) = audit::record(&*app.store, &app.catalog, now, &user.tenant, e).await {
        return ctx.api_error(e.into());
    }
    let id = match session::start(app, &user.username, &user.tenant).await {
        Ok(id) => id,
        Err(e) => return ctx.api_error(e),
    };
    let secure = session::behind_tls(&headers);
    let mut resp = Redirect::to("/console/logs").into_response();
    let h = resp.headers_mut();
    h.append(
        header::SET_COOKIE,
        session::set_cookie(
            SESSION_COOKIE,
            &id,
            session::SESSION_TTL_US / 1_000_000,
            secure,
        ),
    );
    // The pre-session is spent: a new sign-in form gets a new one.
    h.append(
        header::SET_COOKIE,
        session::set_cookie(PRE_SESSION_COOKIE, "", 0, secure),
    );
    resp
}

async fn logout(State(console): State<Console>, req: Request) -> Response {
    let peer = peer(req.extensions().get::<ConnectInfo<SocketAddr>>());
    let (parts, body) = req.into_parts();
    let headers = parts.headers;
    let ctx = match Ctx::signed_in(&console, &headers, "/logout", parts.uri.query()).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let form = match read_form(&headers, body).await {
        Ok(f) => f,
        Err(e) => return ctx.api_error(e),
    };
    let v = ctx.viewer();
    if !session::csrf_ok(&v.session_id, form.get("csrf")) {
        return ctx.error_page(
            StatusCode::FORBIDDEN,
            Some("csrf"),
            i18n::text(ctx.lang, "csrf"),
        );
    }
    let app = &console.app;
    if let Err(e) = app
        .store
        .delete_console_session(&session::hash_id(&v.session_id))
        .await
    {
        return ctx.api_error(e.into());
    }
    let e = AdminEvent {
        name: "console.sign_out",
        actor: &v.username,
        ip: client_ip(&headers, peer),
        user_agent: headers
            .get(header::USER_AGENT)
            .and_then(|x| x.to_str().ok()),
        success: true,
        params: &[],
    };
    if let Err(e) = audit::record(&*app.store, &app.catalog, app.clock.now_us(), &v.tenant, e).await
    {
        tracing::error!(error = %e, "console: cannot record a sign-out");
    }
    let mut resp = Redirect::to("/console/login?signed_out=1").into_response();
    resp.headers_mut().append(
        header::SET_COOKIE,
        session::set_cookie(SESSION_COOKIE, "", 0, session::behind_tls(&headers)),
    );
    resp
}
