//! The accept loop. `axum::serve` offers no header-read timeout, header-size limit or connection
//! cap, so a slow-loris client could hold sockets forever; this loop drives hyper's HTTP/1
//! connection directly with those limits, and tells each request its peer address. Each socket is
//! wrapped in [`crate::head::CheckedIo`], so that a request head hyper would refuse with an empty
//! body gets a JSON answer in its API's envelope instead.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use axum::http::{HeaderValue, header};
use axum::response::Response;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::ServiceExt;

use crate::head::{CheckedIo, Refusal, Refusals};
use crate::state::AppState;

/// Longest a shutdown waits for in-flight requests before giving up on them. An ingest request
/// that is cut off here was never acknowledged, so the producer retries it. Background jobs get
/// the same deadline, at the same time.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);

/// Serves until `shutdown` completes, then lets in-flight requests finish (an acknowledged batch
/// is always committed before the process exits) and stops the background jobs of the state's
/// job host (the rate-limit sweeper, started here, and whatever the caller started before), each
/// finishing its acknowledged work.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let limits = state.limits.clone();
    let jobs = state.metrics.jobs().clone();
    let rate = state.rate.clone();
    jobs.spawn(
        crate::ratelimit::SWEEPER_JOB,
        authtrail_jobs::JobSpec::default(),
        move |cancel| crate::ratelimit::sweeper(rate.clone(), cancel),
    )
    .map_err(std::io::Error::other)?;
    let app: Router = crate::router(state.clone());
    let connections = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let graceful = GracefulShutdown::new();
    // `CheckedIo` refuses heads over this (414/431, in JSON) before hyper sees them; below it our
    // own checks (`protect::admit`) answer with the documented limits (32 KiB, 128 headers).
    let max_head_bytes = (limits.max_header_bytes * 2).max(8192);
    let mut http = hyper::server::conn::http1::Builder::new();
    // hyper's own limits are the same, so it never has to refuse a head (it would with an empty
    // body); its header-read timeout still runs while `CheckedIo` gathers a head.
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_buf_size(max_head_bytes)
        .max_headers(crate::head::MAX_PARSED_HEADERS);
    tokio::pin!(shutdown);
    loop {
        // Waiting for a free connection slot before accepting leaves excess connections in the
        // kernel's backlog instead of in our memory.
        let permit = tokio::select! {
            p = connections.clone().acquire_owned() => p.expect("the semaphore is never closed"),
            () = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(conn) => conn,
                Err(e) => {
                    // EMFILE and friends: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let refusals = Refusals::default();
        let io = CheckedIo::new(stream, max_head_bytes, refusals.clone());
        let (app, state) = (app.clone(), state.clone());
        let svc = tower::service_fn(move |mut req: axum::http::Request<hyper::body::Incoming>| {
            let refused = refusals.take(req.uri().path());
            let (app, state) = (app.clone(), state.clone());
            async move {
                if let Some(refusal) = refused {
                    return Ok::<_, Infallible>(refuse(&state, peer, refusal));
                }
                req.extensions_mut().insert(ConnectInfo::<SocketAddr>(peer));
                app.oneshot(req).await
            }
        });
        let conn = http.serve_connection(TokioIo::new(io), TowerToHyperService::new(svc));
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, %peer, "connection ended with an error");
            }
            drop(permit);
        });
    }
    drop(listener);
    let drain = async {
        if tokio::time::timeout(DRAIN_TIMEOUT, graceful.shutdown())
            .await
            .is_err()
        {
            tracing::warn!("shutdown: some connections did not finish in time");
        }
    };
    // `/readyz` answers 503 from here on, for a load balancer still probing during the drain.
    tokio::join!(drain, jobs.shutdown(DRAIN_TIMEOUT));
    Ok(())
}

/// The answer to a head `CheckedIo` refused, in the envelope of the API its path names; the
/// connection closes after it. It counts against the client's per-IP rate like any malformed
/// request (unless the peer is a trusted proxy: its headers, which would name the client, are
/// what could not be read).
fn refuse(state: &AppState, peer: SocketAddr, refusal: Refusal) -> Response {
    let ip = peer.ip();
    let proxied = state.limits.trusted_proxies.iter().any(|n| n.contains(&ip));
    let limited = match proxied {
        true => None,
        false => state.rate.per_ip.check(&crate::ratelimit::ip_key(ip)).err(),
    };
    let error = match limited {
        Some(wait) => crate::error::ApiError::RateLimited {
            retry_after_secs: crate::ratelimit::retry_after_secs(wait),
        },
        None => refusal.error,
    };
    let mut resp = crate::respond(&refusal.path, error);
    resp.headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    resp
}
