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
use authtrail_service::users::Client;

use crate::error::ApiError;
use crate::params::Params;
use crate::protect::ClientIp;

/// Largest form body read (a sign-in form is well under 1 KiB).
const MAX_FORM_BYTES: usize = 8 * 1024;

/// Longest `next` kept through sign-in.
const MAX_NEXT: usize = 2048;

/// `next` if it is a console page of this server to return to after signing in: a path under
/// `/console/` (never a scheme, a host, `//`, a backslash, a `..` segment or a control
/// character, so that it cannot send anyone elsewhere), and not the sign-in page itself.
pub(super) fn safe_next(next: &str) -> Option<&str> {
    let path = next.split(['?', '#']).next().unwrap_or("");
    let ok = next.len() <= MAX_NEXT
        && (path == "/console" || path.starts_with("/console/"))
        && !path.starts_with("/console/login")
        && !next.contains(['\\'])
        && !next.chars().any(char::is_control)
        && !path.contains("//")
        && !path.split('/').any(|seg| seg == ".." || seg == ".");
    ok.then_some(next)
}

/// The `next` of a query or form, when it is safe to go to.
fn next_of<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Option<String> {
    pairs
        .into_iter()
        .find(|(k, _)| *k == "next")
        .and_then(|(_, v)| safe_next(v))
        .map(str::to_string)
}

pub(super) async fn login_form(State(console): State<Console>, req: Request) -> Response {
    let headers = req.headers().clone();
    let mut ctx = Ctx::anonymous(&headers, req.uri().query());
    ctx.path = "/login".into();
    let next = next_of(ctx.query.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    if let Ok(Some(_)) = session::viewer(&console.app, &headers).await {
        return Redirect::to(next.as_deref().unwrap_or("/console/logs")).into_response();
    }
    let notice = ctx
        .query
        .iter()
        .any(|(k, v)| k == "signed_out" && v == "1")
        .then(|| i18n::text(ctx.lang, "signed_out"));
    let form = LoginForm {
        username: "",
        next: next.as_deref(),
    };
    login_page(&console, &ctx, &headers, StatusCode::OK, None, notice, form)
}

/// What the sign-in form shows again: the username typed, and where to go afterwards.
#[derive(Clone, Copy)]
struct LoginForm<'a> {
    username: &'a str,
    next: Option<&'a str>,
}

/// The sign-in page. Its CSRF token is bound to a pre-session cookie, set here when missing.
fn login_page(
    console: &Console,
    ctx: &Ctx,
    headers: &HeaderMap,
    status: StatusCode,
    error: Option<&str>,
    notice: Option<&str>,
    form: LoginForm<'_>,
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
            csrf => session::csrf_token(&pre), error => error, notice => notice,
            username => form.username, next => form.next,
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

/// The browser of a request, for the audit record.
pub(super) fn client(ip: Option<std::net::IpAddr>, headers: &HeaderMap) -> Client {
    Client {
        ip,
        user_agent: headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string),
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
    let next = form.get("next").and_then(safe_next).map(str::to_string);
    let again = |username| LoginForm {
        username,
        next: next.as_deref(),
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
            again(""),
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
    let service = &console.app.service;
    let ip_key = ip.map(|i| i.to_string()).unwrap_or_default();
    let client = client(ip, &headers);
    let now = service.now_us();
    if console.throttle.blocked(&username, &ip_key, now) {
        service
            .sign_in_failed(&username, &client, "throttled")
            .await;
        let msg = i18n::text(ctx.lang, "throttled");
        let mut resp = login_page(
            &console,
            &ctx,
            &headers,
            StatusCode::TOO_MANY_REQUESTS,
            Some(msg),
            None,
            again(&username),
        );
        resp.headers_mut()
            .insert(header::RETRY_AFTER, header::HeaderValue::from_static("900"));
        return resp;
    }
    // A wrong password is recorded by the service; no trail, no session.
    let signed_in = match service.sign_in(&username, pw, &client).await {
        Ok(s) => s,
        Err(e) => return ctx.api_error(e.into()),
    };
    let Some(signed_in) = signed_in else {
        console.throttle.failed(&username, &ip_key, now);
        let msg = i18n::text(ctx.lang, "bad_credentials");
        return login_page(
            &console,
            &ctx,
            &headers,
            StatusCode::UNAUTHORIZED,
            Some(msg),
            None,
            again(&username),
        );
    };
    console.throttle.succeeded(&username);
    let id = signed_in.session_id;
    let secure = session::behind_tls(&headers);
    let mut resp = Redirect::to(next.as_deref().unwrap_or("/console/logs")).into_response();
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
    let signed_out = console
        .app
        .service
        .sign_out(&v.session_id, &v.username, &v.tenant, &client(ip, &headers))
        .await;
    if let Err(e) = signed_out {
        return ctx.api_error(e.into());
    }
    let mut resp = Redirect::to("/console/login?signed_out=1").into_response();
    resp.headers_mut().append(
        header::SET_COOKIE,
        session::set_cookie(SESSION_COOKIE, "", 0, session::behind_tls(&headers)),
    );
    resp
}
