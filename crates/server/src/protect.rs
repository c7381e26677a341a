//! What every request passes before a handler sees it, cheapest refusal first:
//!
//! 1. [`admit`]: works out the client IP ([`ClientIp`]), refuses malformed paths (400),
//!    oversized headers (431) and clients over their per-IP rate (429 with `Retry-After`).
//! 2. [`overload`]: a concurrency limit that sheds load with 503 and `Retry-After` when
//!    `max_in_flight` requests are already running, rather than queueing without bound.
//!
//! Per-token rate limits are applied where the token is known, in [`crate::auth::authenticate`].
//! Slow clients are cut off by the accept loop (header read timeout) and by
//! [`crate::ingest::read_body`] (body timeout).

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, Uri};
use axum::middleware::Next;
use axum::response::Response;
use ipnet::IpNet;

use crate::error::ApiError;
use crate::ratelimit::{ip_key, retry_after_secs};
use crate::state::AppState;

/// The client's address, as far as we can trust it; `None` when the request came from no socket
/// (in-process tests). Handlers record it in self-audit events.
#[derive(Debug, Clone, Copy)]
pub struct ClientIp(pub Option<IpAddr>);

/// The client IP: the peer, unless the peer is a trusted proxy, in which case the right-most
/// `X-Forwarded-For` entry that is not itself a trusted proxy (the left part is client-supplied
/// and cannot be believed).
pub fn client_ip(peer: Option<IpAddr>, headers: &HeaderMap, trusted: &[IpNet]) -> Option<IpAddr> {
    let peer = peer?;
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return Some(peer);
    }
    let mut hops = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|s| s.trim().parse::<IpAddr>())
        .collect::<Vec<_>>();
    while let Some(hop) = hops.pop() {
        match hop {
            Ok(ip) if is_trusted(&ip) => continue,
            Ok(ip) => return Some(ip),
            // A malformed hop: nothing left of it can be trusted; the last proxy is the client.
            Err(_) => break,
        }
    }
    Some(peer)
}

/// Most headers in one request (431 above it).
pub const MAX_HEADERS: usize = 128;

fn header_bytes(headers: &HeaderMap) -> usize {
    headers
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 4)
        .sum()
}

/// Middleware: client IP, header size, per-IP rate.
pub async fn admit(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    let ip = client_ip(peer, req.headers(), &state.limits.trusted_proxies);
    req.extensions_mut().insert(ClientIp(ip));
    let path = req.uri().path().to_string();
    // Every path parameter is percent-decoded by its route: a malformed escape or an encoded NUL
    // is refused here, once, for all of them.
    if !crate::params::escapes_are_valid(&path) {
        let e = ApiError::field("path", "holds a malformed percent-escape");
        return crate::respond(&path, e);
    }
    if path.to_ascii_lowercase().contains("%00") {
        return crate::respond(&path, ApiError::field("path", "contains a NUL character"));
    }
    if req.headers().len() > MAX_HEADERS {
        let e = ApiError::HeadersTooLarge(format!(
            "the request has {} headers; the limit is {MAX_HEADERS}",
            req.headers().len()
        ));
        return crate::respond(&path, e);
    }
    let limit = state.limits.max_header_bytes;
    if header_bytes(req.headers()) > limit {
        let e =
            ApiError::HeadersTooLarge(format!("the request headers are larger than {limit} bytes"));
        return crate::respond(&path, e);
    }
    if let Some(ip) = ip
        && let Err(wait) = state.rate.per_ip.check(&ip_key(ip))
    {
        tracing::debug!(%ip, "rate limited (per IP)");
        let e = ApiError::RateLimited {
            retry_after_secs: retry_after_secs(wait),
        };
        return crate::respond(&path, e);
    }
    next.run(req).await
}

/// The answer to a request shed by the concurrency limit.
pub async fn overload(uri: Uri, _: tower::BoxError) -> Response {
    tracing::warn!(path = %uri.path(), "shed a request: at max_in_flight");
    crate::respond(uri.path(), ApiError::Overloaded)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn xff(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", v.parse().unwrap());
        h
    }

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let proxy: IpAddr = "10.0.0.5".parse().unwrap();
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        let h = xff("198.51.100.1, 203.0.113.7, 10.0.0.9");
        // From a trusted proxy: the right-most untrusted hop, not the spoofable left-most one.
        assert_eq!(
            client_ip(Some(proxy), &h, &trusted),
            Some("203.0.113.7".parse().unwrap())
        );
        // From anyone else the header is ignored.
        let stranger: IpAddr = "192.0.2.1".parse().unwrap();
        assert_eq!(client_ip(Some(stranger), &h, &trusted), Some(stranger));
        // Garbage in the header: fall back to the peer.
        assert_eq!(
            client_ip(Some(proxy), &xff("not-an-ip"), &trusted),
            Some(proxy)
        );
        assert_eq!(client_ip(None, &h, &trusted), None);
    }
}
