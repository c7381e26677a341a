//! A destination that stays down (on a manual wall clock that moves an hour per step): the worker backs off, marks the subscription failing after 72
//! hours (one admin event), never gives up, and delivers everything once the destination is back.

use std::sync::Arc;
use std::time::Duration;

use authtrail_catalog::Catalog;
use authtrail_delivery::{Node, Timing, guard, worker::Worker};
use authtrail_jobs::CancellationToken;
use authtrail_model::{ActivityQuery, ManualClock, Tenant};
use authtrail_service::subscriptions::{
    DestinationPolicy, NewSubscription, SubscriptionPatch, Unobserved,
};
use authtrail_service::{AdminActor, Service, sealing::SealingKey};
use authtrail_store_sqlite::SqliteStore;
use serde_json::json;

/// 2026-11-23T00:00:00Z.
const NOW: i64 = 1_795_392_000_000_000;
const HOUR_US: i64 = 3_600_000_000;

async fn failing_events(service: &Service, tenant: &Tenant) -> usize {
    let q = ActivityQuery {
        event_names: vec!["subscription.failing".into()],
        limit: 100,
        ..Default::default()
    };
    service.list(tenant, &q).await.unwrap().items.len()
}

/// A receiver that accepts everything and counts the deliveries.
async fn receiver() -> (String, Arc<std::sync::atomic::AtomicUsize>) {
    let count = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let c = count.clone();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move || {
            let c = c.clone();
            async move {
                c.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                "ok"
            }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, count)
}

#[tokio::test]
async fn a_destination_down_for_72_hours_makes_the_subscription_failing_once_and_never_drops_it() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::at(NOW);
    let store = SqliteStore::open(dir.path(), Arc::new(clock.clone())).unwrap();
    let policy = DestinationPolicy {
        allow_private: true,
    };
    let service = Service::open(
        Arc::new(store),
        Arc::new(Catalog::builtin().unwrap()),
        Arc::new(clock.clone()),
        SealingKey::new([7; 32]),
    )
    .await
    .unwrap()
    .with_delivery(policy);
    let tenant = Tenant::new("acme").unwrap();
    // A port nobody listens on: every attempt is refused at once.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let input = NewSubscription::from_json(&json!({
        "destination": format!("http://127.0.0.1:{closed}/hook"), "startAfter": 0}))
    .unwrap();
    let (sub, _) = service
        .create_subscription(&tenant, input, &AdminActor::System)
        .await
        .unwrap();
    let node = Node {
        service: service.clone(),
        name: "node-1".into(),
        observer: Arc::new(Unobserved),
        http: guard::http_client(policy),
        cache: Arc::default(),
        // Rounds every 10 ms of real time, while the wall clock moves an hour at a time.
        timing: Timing {
            lease: Duration::from_secs(60),
            renew: Duration::from_millis(10),
        },
    };
    let cancel = CancellationToken::new();
    let worker =
        tokio::spawn(Worker::new(node, tenant.clone(), sub.id.clone()).run(cancel.clone()));

    // 71 hours down: retrying, not yet failing.
    for _ in 0..71 {
        clock.advance(HOUR_US);
        tokio::time::sleep(Duration::from_millis(60)).await;
    }
    let v = service.get_subscription(&tenant, &sub.id).await.unwrap();
    assert_eq!(v.state, "retrying", "{v:?}");
    assert!(v.ledger.attempts > 10, "{v:?}");
    assert!(
        v.ledger.last_error.as_deref().unwrap().contains("connect"),
        "{v:?}"
    );
    assert_eq!(failing_events(&service, &tenant).await, 0);

    // Past 72 hours: failing, recorded once, and still retried.
    for _ in 0..5 {
        clock.advance(HOUR_US);
        tokio::time::sleep(Duration::from_millis(60)).await;
    }
    let v = service.get_subscription(&tenant, &sub.id).await.unwrap();
    assert_eq!(v.state, "failing", "{v:?}");
    assert!(v.ledger.failing_since.is_some());
    assert_eq!(
        failing_events(&service, &tenant).await,
        1,
        "one event per failing streak"
    );
    let attempts = v.ledger.attempts;
    clock.advance(HOUR_US);
    tokio::time::sleep(Duration::from_millis(60)).await;
    let v = service.get_subscription(&tenant, &sub.id).await.unwrap();
    assert!(
        v.ledger.attempts > attempts,
        "a failing subscription is still retried"
    );
    assert_eq!(v.ledger.delivered_sequence, 0, "nothing skipped");

    // The destination comes back (here: the subscription is pointed at a working one).
    let (url, count) = receiver().await;
    service
        .update_subscription(
            &tenant,
            &sub.id,
            SubscriptionPatch {
                destination: Some(url),
                ..Default::default()
            },
            &AdminActor::System,
        )
        .await
        .unwrap();
    for _ in 0..4 {
        clock.advance(HOUR_US);
        tokio::time::sleep(Duration::from_millis(60)).await;
    }
    let v = service.get_subscription(&tenant, &sub.id).await.unwrap();
    assert_eq!(v.state, "active", "{v:?}");
    assert_eq!(v.ledger.attempts, 0);
    assert!(
        v.ledger.delivered_sequence >= 1,
        "everything since sequence 0 was delivered: {v:?}"
    );
    assert!(count.load(std::sync::atomic::Ordering::SeqCst) >= 1);
    assert_eq!(failing_events(&service, &tenant).await, 1);
    cancel.cancel();
    worker.await.unwrap();
}
