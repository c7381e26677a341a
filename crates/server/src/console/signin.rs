//! Sign-in and sign-out. See `docs/console.md` for the security model.

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};

use super::i18n;
use super::page::Ctx;
use super::password;
use super::routes::Console;
use super::session::{self, PRE_SESSION_COOKIE, SESSION_COOKIE};
use authtrail_model::Outcome;

use crate::error::ApiError;
use crate::params::Params;
use crate::protect::ClientIp;
use crate::self_audit::{self, AdminActor, AdminEvent};
use crate::state::AppState;

/// Largest form body read (a sign-in form is well under 1 KiB).
const MAX_FORM_BYTES: usize = 8 * 1024;

pub(super) async fn login_form(State(console): State<Console>, req: Request) -> Response {
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

/// Records a failed sign-in in the tenant of the account it named. An unknown username has no
/// tenant, so it is only logged (with no password, ever). A failure to record is logged: the
/// sign-in is refused either way.
async fn record_failure(
    app: &AppState,
    username: &str,
    ip: Option<std::net::IpAddr>,
    ua: Option<&str>,
    now: i64,
    reason: &str,
) {
    let Ok(Some(user)) = app.store.console_user(username).await else {
        tracing::warn!(
            ?ip,
            reason,
            "console: failed sign-in with an unknown username"
        );
        return;
    };
    let e = AdminEvent::new("console.sign_in", AdminActor::User(username.to_string()))
        .ip(ip)
        .user_agent(ua)
        .outcome(Outcome::Failure)
        .string("login_failure_reason", reason);
    if let Err(e) = self_audit::record(&*app.store, &app.catalog, now, &user.tenant, e).await {
        tracing::error!(error = %e, reason, "console: cannot record a failed sign-in");
    }
}

pub(super) async fn login(State(console): State<Console>, req: Request) -> Response {
    let ip = req.extensions().get::<ClientIp>().and_then(|c| c.0);
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
    let ip_key = ip.map(|i| i.to_string()).unwrap_or_default();
    let ua = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok());
    let now = app.clock.now_us();
    if console.throttle.blocked(&username, &ip_key, now) {
        record_failure(app, &username, ip, ua, now, "throttled").await;
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
        record_failure(app, &username, ip, ua, now, "wrong_password").await;
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
    let e = AdminEvent::new("console.sign_in", AdminActor::User(user.username.clone()))
        .ip(ip)
        .user_agent(ua);
    // No trail, no session: a sign-in that cannot be recorded does not happen.
    if let Err(e) = self_audit::record(&*app.store, &app.catalog, now, &user.tenant, e).await {
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

pub(super) async fn logout(State(console): State<Console>, req: Request) -> Response {
    let ip = req.extensions().get::<ClientIp>().and_then(|c| c.0);
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
    let e = AdminEvent::new("console.sign_out", AdminActor::User(v.username.clone()))
        .ip(ip)
        .user_agent(
            headers
                .get(header::USER_AGENT)
                .and_then(|x| x.to_str().ok()),
        );
    if let Err(e) =
        self_audit::record(&*app.store, &app.catalog, app.clock.now_us(), &v.tenant, e).await
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
