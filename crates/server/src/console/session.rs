//! Console session cookies and CSRF tokens (sessions themselves are `authtrail_service::users`).
//!
//! - The session id is 32 random bytes, sent only in the `atr_session` cookie (HttpOnly,
//!   SameSite=Strict, Path=/console, Secure behind TLS). The store keeps its SHA-256, so sign-out
//!   and revocation (a deleted user, a changed password) take effect on every node at once, and a
//!   copy of the database cannot be replayed as a cookie.
//! - Every form carries a synchronizer token derived from the session id (HMAC-SHA256 keyed by the
//!   id), compared in constant time. An attacker's page can neither read the cookie nor compute the
//!   token. The sign-in form, which precedes any session, is bound the same way to a short-lived
//!   pre-session cookie.

use axum::http::{HeaderMap, HeaderValue, header};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use authtrail_model::Tenant;

pub use authtrail_service::users::{SESSION_TTL_US, hash_session_id as hash_id, new_id};

use crate::error::ApiError;
use crate::state::AppState;

pub const SESSION_COOKIE: &str = "atr_session";
/// Binds the sign-in form's CSRF token before a session exists.
pub const PRE_SESSION_COOKIE: &str = "atr_presession";
/// Longest cookie value read.
const MAX_COOKIE: usize = 128;

/// The signed-in person a request is made by.
#[derive(Debug, Clone)]
pub struct Viewer {
    pub username: String,
    pub tenant: Tenant,
    /// The raw session id (from the cookie): needed to derive the CSRF token and to sign out.
    pub session_id: String,
    pub csrf: String,
}

/// A cookie's value from the request's `Cookie` headers.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim().to_string())
        .filter(|v| !v.is_empty() && v.len() <= MAX_COOKIE)
}

/// The CSRF token bound to a (pre-)session id.
pub fn csrf_token(id: &str) -> String {
    let mut m = Hmac::<Sha256>::new_from_slice(id.as_bytes()).expect("HMAC takes any key length");
    m.update(b"authtrail console csrf v1");
    hex::encode(m.finalize().into_bytes())
}

/// Does `given` equal the token of `id`? Constant time in the token's contents.
pub fn csrf_ok(id: &str, given: Option<&str>) -> bool {
    let expected = csrf_token(id);
    match given {
        Some(g) if g.len() == expected.len() => expected.as_bytes().ct_eq(g.as_bytes()).into(),
        _ => false,
    }
}

/// True when the browser reached us over TLS through a proxy that says so; the cookie then
/// carries `Secure`. Plain HTTP on localhost (development, tests) keeps working without it.
pub fn behind_tls(headers: &HeaderMap) -> bool {
    let proto = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(',')
                .next()
                .unwrap_or("")
                .trim()
                .eq_ignore_ascii_case("https")
        })
        .unwrap_or(false);
    let forwarded = headers
        .get(header::FORWARDED)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.to_ascii_lowercase().contains("proto=https"))
        .unwrap_or(false);
    proto || forwarded
}

/// A `Set-Cookie` value. `max_age_s = 0` deletes the cookie.
pub fn set_cookie(name: &str, value: &str, max_age_s: i64, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{name}={value}; Path=/console; Max-Age={max_age_s}; HttpOnly; SameSite=Strict{secure}"
    ))
    .expect("cookie values are URL-safe base64 or hex")
}

/// The viewer of a request, if its cookie names a live session.
pub async fn viewer(state: &AppState, headers: &HeaderMap) -> Result<Option<Viewer>, ApiError> {
    let Some(id) = cookie(headers, SESSION_COOKIE) else {
        return Ok(None);
    };
    let Some(s) = state.service.session(&id).await? else {
        return Ok(None);
    };
    Ok(Some(Viewer {
        username: s.username,
        tenant: s.tenant,
        csrf: csrf_token(&id),
        session_id: id,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csrf_tokens_are_bound_to_their_session() {
        let (a, b) = (new_id(), new_id());
        assert!(csrf_ok(&a, Some(&csrf_token(&a))));
        assert!(!csrf_ok(&a, Some(&csrf_token(&b))));
        assert!(!csrf_ok(&a, None));
        assert!(!csrf_ok(&a, Some("")));
        assert!(!csrf_ok(&a, Some(&csrf_token(&a)[..10])));
    }

    #[test]
    fn cookies_are_found_by_exact_name() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("atr_session_x=1; atr_session=abc; other=2"),
        );
        assert_eq!(cookie(&h, SESSION_COOKIE).as_deref(), Some("abc"));
        assert_eq!(cookie(&h, "missing"), None);
    }

    #[test]
    fn secure_only_behind_tls() {
        let mut h = HeaderMap::new();
        assert!(!behind_tls(&h));
        h.insert("x-forwarded-proto", HeaderValue::from_static("https"));
        assert!(behind_tls(&h));
        assert!(
            set_cookie("a", "b", 10, true)
                .to_str()
                .unwrap()
                .ends_with("; Secure")
        );
        let plain = set_cookie("a", "b", 10, false);
        let plain = plain.to_str().unwrap();
        assert!(plain.contains("HttpOnly") && plain.contains("SameSite=Strict"));
        assert!(!plain.contains("Secure"));
    }
}
