//! The accept loop. `axum::serve` offers no header-read timeout, header-size limit or connection
//! cap, so a slow-loris client could hold sockets forever; this loop drives hyper's HTTP/1
//! connection directly with those limits, and tells each request its peer address.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::ServiceExt;

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
    let app: Router = crate::router(state);
    let connections = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let graceful = GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        // hyper answers 431 itself, with an empty body, past these; below them our own checks
        // (`protect::admit`) answer in JSON with the documented limits (32 KiB, 128 headers).
        .max_buf_size((limits.max_header_bytes * 2).max(8192))
        .max_headers(crate::protect::MAX_HEADERS * 8);
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
        let svc =
            app.clone()
                .map_request(move |mut req: axum::http::Request<hyper::body::Incoming>| {
                    req.extensions_mut().insert(ConnectInfo::<SocketAddr>(peer));
                    req
                });
        let conn = http.serve_connection(TokioIo::new(stream), TowerToHyperService::new(svc));
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
