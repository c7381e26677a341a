//! A database that stops answering without going away (`SIGSTOP`, or a network that black-holes
//! packets while the kernel still acknowledges them): requests fail fast as `Unavailable` (503 at
//! the API) instead of hanging for the whole freeze, and the store serves again once it thaws. A
//! statement whose answer never came may still have committed: the producer's retry with the
//! same event ids must then be acknowledged without storing anything twice.
//!
//! The freeze is a TCP proxy in front of the shared test database that stops forwarding, so the
//! shared server itself is never stopped.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use authtrail_model::store::prelude::*;
use authtrail_model::{ActivityQuery, NewActivity, StoreErrorKind, SystemClock, Tenant};
use authtrail_store_conformance::login;
use authtrail_store_postgres::{PgStore, Timeouts};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::support;

/// A proxy to `upstream` that holds every byte, both ways, while frozen.
struct Proxy {
    frozen: watch::Sender<bool>,
}

async fn proxy(listener: std::net::TcpListener, upstream: SocketAddr) -> Proxy {
    listener.set_nonblocking(true).unwrap();
    let listener = TcpListener::from_std(listener).unwrap();
    let (frozen, rx) = watch::channel(false);
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let Ok(server) = tokio::net::TcpStream::connect(upstream).await else {
                continue;
            };
            let (cr, cw) = client.into_split();
            let (sr, sw) = server.into_split();
            tokio::spawn(pump(cr, sw, rx.clone()));
            tokio::spawn(pump(sr, cw, rx.clone()));
        }
    });
    Proxy { frozen }
}

async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    mut frozen: watch::Receiver<bool>,
) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        while *frozen.borrow_and_update() {
            if frozen.changed().await.is_err() {
                return;
            }
        }
        if to.write_all(&buf[..n]).await.is_err() {
            break;
        }
    }
    let _ = to.shutdown().await;
}

/// The test database's address, and its URL pointed at `via` instead.
async fn test_database(via: impl Fn() -> SocketAddr) -> (SocketAddr, String) {
    let cfg: tokio_postgres::Config = support::url().parse().unwrap();
    let host = match &cfg.get_hosts()[0] {
        tokio_postgres::config::Host::Tcp(h) => h.clone(),
        other => panic!("the stall test needs a TCP test database, not {other:?}"),
    };
    let port = cfg.get_ports().first().copied().unwrap_or(5432);
    let upstream = tokio::net::lookup_host((host.as_str(), port))
        .await
        .unwrap()
        .next()
        .expect("the test database's host resolves");
    let user = cfg.get_user().unwrap_or("postgres");
    let password = cfg
        .get_password()
        .map(|p| format!(":{}", String::from_utf8_lossy(p)))
        .unwrap_or_default();
    let db = cfg.get_dbname().unwrap_or("postgres");
    (
        upstream,
        format!("postgres://{user}{password}@{}/{db}", via()),
    )
}

fn with_id(t: &Tenant, id: &str, secs: i64) -> NewActivity {
    let mut a = login(t, "a@x.io", secs);
    a.body.event_id = Some(id.to_string());
    a
}

/// Only a guard against a broken build hanging the suite: the timeouts under test end each wait
/// long before it.
const GUARD: Duration = Duration::from_secs(120);

#[tokio::test]
async fn a_frozen_database_fails_requests_fast_and_a_retry_after_the_thaw_is_idempotent() {
    if !support::database().await {
        return;
    }
    let schema = support::schema_name();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let (upstream, url) = test_database(|| addr).await;
    let proxy = proxy(listener, upstream).await;
    let timeouts = Timeouts {
        connect: Duration::from_secs(2),
        statement: Duration::from_secs(1),
        reply: Duration::from_secs(2),
    };
    let store = PgStore::connect_with(&url, Some(&schema), timeouts, Arc::new(SystemClock))
        .await
        .unwrap();
    let t = Tenant::new("Cstall").unwrap();
    let first = store.append(&t, vec![with_id(&t, "s1", 1)]).await.unwrap();
    assert_eq!(first[0].unique_qualifier, 1);

    proxy.frozen.send_replace(true);
    // On the pooled connection the append was using: no answer, so the watchdog fails it.
    let e = tokio::time::timeout(GUARD, store.append(&t, vec![with_id(&t, "s2", 2)]))
        .await
        .expect("the append fails instead of waiting for the thaw")
        .unwrap_err();
    assert_eq!(e.kind(), StoreErrorKind::Unavailable, "{e}");
    // Then on a new connection, which cannot even start up: also Unavailable, also bounded.
    let q = ActivityQuery::default();
    let e = tokio::time::timeout(GUARD, store.count(&t, &q, None))
        .await
        .expect("the read fails instead of waiting for the thaw")
        .unwrap_err();
    assert_eq!(e.kind(), StoreErrorKind::Unavailable, "{e}");

    // Thawed: the bytes the proxy held reach the server now, so the refused append may commit
    // after all. The producer's retry with the same id is acknowledged with the same number
    // either way, and stored once.
    proxy.frozen.send_replace(false);
    let mut retried = None;
    for _ in 0..=16 {
        match tokio::time::timeout(GUARD, store.append(&t, vec![with_id(&t, "s2", 2)]))
            .await
            .expect("bounded")
        {
            Ok(r) => {
                retried = Some(r[0].unique_qualifier);
                break;
            }
            // A pooled connection that died in the freeze is handed out once more.
            Err(e) => assert_eq!(e.kind(), StoreErrorKind::Unavailable, "{e}"),
        }
    }
    assert_eq!(retried, Some(2), "served again after the thaw, with no gap");
    assert_eq!(store.count(&t, &q, None).await.unwrap().n, 2, "stored once");
}

/// A statement the server itself runs for too long is cancelled by its `statement_timeout`:
/// `Unavailable`, and the connection serves the next request.
#[tokio::test]
async fn a_statement_over_the_statement_timeout_is_unavailable() {
    if !support::database().await {
        return;
    }
    let schema = support::schema_name();
    let timeouts = Timeouts::new(Duration::from_secs(5), Duration::from_millis(300));
    let store = PgStore::connect_with(
        &support::url(),
        Some(&schema),
        timeouts,
        Arc::new(SystemClock),
    )
    .await
    .unwrap();
    let t = Tenant::new("Cslow").unwrap();
    store.append(&t, vec![with_id(&t, "w1", 1)]).await.unwrap();
    // Another session holds the tenant's row, so the append waits on it inside the server.
    let mut admin = support::raw(Some(&schema)).await.unwrap();
    let holder = admin.transaction().await.unwrap();
    holder
        .execute("SELECT 1 FROM tenants WHERE name = 'Cslow' FOR UPDATE", &[])
        .await
        .unwrap();
    let e = tokio::time::timeout(GUARD, store.append(&t, vec![with_id(&t, "w2", 2)]))
        .await
        .expect("cancelled by the server")
        .unwrap_err();
    assert_eq!(e.kind(), StoreErrorKind::Unavailable, "{e}");
    assert!(
        e.to_string().contains("57014"),
        "the server's statement timeout: {e}"
    );
    holder.rollback().await.unwrap();
    let again = store.append(&t, vec![with_id(&t, "w2", 2)]).await.unwrap();
    assert_eq!(
        again[0].unique_qualifier, 2,
        "the cancelled append spent no number"
    );
}
