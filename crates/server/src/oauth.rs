//! `POST /oidc/token`: the OAuth 2.0 client-credentials grant (RFC 6749 §4.4) at the path Logto's
//! clients use (`@logto/api` posts to `{baseUrl}/oidc/token`). The exchange itself is
//! `authtrail_service::oauth`; this module speaks the wire: a form body, client authentication by
//! `client_secret_post` or `client_secret_basic` (RFC 6749 §2.3.1), and RFC 6749's answers —
//! `{"access_token", "token_type", "expires_in", "scope"}` with `Cache-Control: no-store`, or
//! `{"error", "error_description"}` (401 with `WWW-Authenticate` for a bad client).

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::json;

use authtrail_service::oauth::{ClientCredentials, OAuthError, OAuthOutcome};

use crate::error::ApiError;
use crate::ingest::read_body_up_to;
use crate::state::AppState;

/// Largest token request (a few ids and a URL).
const MAX_FORM_BYTES: usize = 8 * 1024;
/// Longest `resource` indicator (RFC 8707) accepted.
const MAX_RESOURCE_BYTES: usize = 2048;

pub async fn token(State(state): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    match exchange(&state, &headers, body).await {
        Ok(r) => r,
        Err(Refusal::OAuth(e)) => oauth_error(&e),
        Err(Refusal::Api(e)) => e.into_response(),
    }
}

enum Refusal {
    OAuth(OAuthError),
    Api(ApiError),
}

fn bad(error: &'static str, description: impl Into<String>) -> Refusal {
    Refusal::OAuth(OAuthError {
        error,
        description: description.into(),
    })
}

async fn exchange(state: &AppState, headers: &HeaderMap, body: Body) -> Result<Response, Refusal> {
    let form_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !form_type {
        return Err(bad(
            "invalid_request",
            "the token request is a form (Content-Type: application/x-www-form-urlencoded)",
        ));
    }
    let bytes = read_body_up_to(headers, body, MAX_FORM_BYTES)
        .await
        .map_err(Refusal::Api)?;
    let mut form = std::collections::HashMap::new();
    for (k, v) in form_urlencoded::parse(&bytes) {
        // RFC 6749 §3.2: parameters must not be repeated.
        if form.insert(k.to_string(), v.into_owned()).is_some() {
            return Err(bad("invalid_request", format!("{k} is given twice")));
        }
    }
    let get = |k: &str| form.get(k).map(String::as_str).filter(|v| !v.is_empty());
    match get("grant_type") {
        Some("client_credentials") => {}
        Some(other) => {
            return Err(bad(
                "unsupported_grant_type",
                format!("{other:?}: only client_credentials is supported"),
            ));
        }
        None => return Err(bad("invalid_request", "grant_type is required")),
    }
    if let Some(resource) = get("resource")
        && (resource.len() > MAX_RESOURCE_BYTES || !is_absolute_uri(resource))
    {
        return Err(bad(
            "invalid_target",
            "resource must be an absolute URI (RFC 8707)",
        ));
    }
    let basic = basic_credentials(headers)?;
    let (client_id, client_secret) = match (basic, get("client_id"), get("client_secret")) {
        (Some(_), _, Some(_)) => {
            return Err(bad(
                "invalid_request",
                "authenticate the client one way: the Authorization header or the form",
            ));
        }
        (Some((id, secret)), _, None) => (id, secret),
        (None, Some(id), Some(secret)) => (id.to_string(), secret.to_string()),
        (None, _, _) => {
            return Err(bad(
                "invalid_client",
                "client_id and client_secret are required",
            ));
        }
    };
    let granted = state
        .service
        .client_credentials(ClientCredentials {
            client_id: &client_id,
            client_secret: &client_secret,
            scope: get("scope"),
        })
        .await
        .map_err(|e| match e {
            OAuthOutcome::OAuth(e) => Refusal::OAuth(e),
            OAuthOutcome::Service(e) => Refusal::Api(e.into()),
        })?;
    let body = json!({
        "access_token": granted.secret,
        "token_type": "Bearer",
        "expires_in": granted.expires_in_secs,
        "scope": granted.scope,
    });
    Ok(no_store((StatusCode::OK, axum::Json(body)).into_response()))
}

/// `Authorization: Basic base64(urlencode(id) ":" urlencode(secret))` (RFC 6749 §2.3.1).
fn basic_credentials(headers: &HeaderMap) -> Result<Option<(String, String)>, Refusal> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let malformed = || bad("invalid_client", "a malformed Basic Authorization header");
    let value = value.to_str().map_err(|_| malformed())?;
    let Some((scheme, encoded)) = value.split_once(' ') else {
        return Err(malformed());
    };
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(bad(
            "invalid_client",
            "authenticate the client with Basic, or in the form",
        ));
    }
    let decoded = STANDARD.decode(encoded.trim()).map_err(|_| malformed())?;
    let text = String::from_utf8(decoded).map_err(|_| malformed())?;
    let (id, secret) = text.split_once(':').ok_or_else(malformed)?;
    let unescape = |s: &str| percent_decode(s).ok_or_else(malformed);
    Ok(Some((unescape(id)?, unescape(secret)?)))
}

/// `application/x-www-form-urlencoded` decoding of one component (RFC 6749 Appendix B).
fn percent_decode(s: &str) -> Option<String> {
    if !crate::params::escapes_are_valid(s) {
        return None;
    }
    let pair = format!("v={s}");
    form_urlencoded::parse(pair.as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
}

fn is_absolute_uri(s: &str) -> bool {
    let Some((scheme, rest)) = s.split_once(':') else {
        return false;
    };
    !rest.is_empty()
        && scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        && !s.contains(['#', ' '])
}

/// RFC 6749 §5.1: token responses must not be cached.
fn no_store(mut resp: Response) -> Response {
    let h = resp.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    resp
}

/// RFC 6749 §5.2: 400, or 401 with `WWW-Authenticate` when the client is not authenticated.
fn oauth_error(e: &OAuthError) -> Response {
    let status = if e.is_client_error() {
        StatusCode::UNAUTHORIZED
    } else {
        StatusCode::BAD_REQUEST
    };
    let body = json!({"error": e.error, "error_description": e.description});
    let mut resp = no_store((status, axum::Json(body)).into_response());
    if e.is_client_error() {
        resp.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"authtrail\""),
        );
    }
    resp
}
