//! The subscription operations on a real store with a manual clock.

use serde_json::json;

use super::*;
use crate::sealing::SealingKey;
use crate::testing::{fixture, tenant};

fn service(f: &crate::testing::Fixture) -> Service {
    f.service
        .clone()
        .with_delivery(DestinationPolicy::default())
}

fn webhook() -> NewSubscription {
    NewSubscription::from_json(&json!({"destination": "https://siem.example.com/hook"})).unwrap()
}

async fn events(s: &Service, t: &Tenant, name: &str) -> usize {
    let q = ActivityQuery {
        event_names: vec![name.into()],
        limit: 100,
        ..Default::default()
    };
    s.list(t, &q).await.unwrap().items.len()
}

#[tokio::test]
async fn a_webhooks_secret_is_shown_once_sealed_and_rotated_with_an_overlap() {
    let f = fixture().await;
    let s = service(&f);
    let t = tenant("acme");
    let (view, secret) = s
        .create_subscription(&t, webhook(), &AdminActor::System)
        .await
        .unwrap();
    let secret = secret.unwrap();
    let stored = s.store().subscription(&t, &view.id).await.unwrap().unwrap();
    assert!(
        !stored.definition.to_string().contains(&secret[6..]),
        "the store never holds the secret in clear"
    );
    assert_eq!(s.delivery_plan(&stored).unwrap().signing_keys.len(), 1);
    let (_, again) = s
        .rotate_subscription_secret(&t, &view.id, 3600, &AdminActor::System)
        .await
        .unwrap();
    assert_ne!(again, secret);
    let stored = s.store().subscription(&t, &view.id).await.unwrap().unwrap();
    assert_eq!(
        s.delivery_plan(&stored).unwrap().signing_keys.len(),
        2,
        "both sign during the overlap"
    );
    f.clock.advance(3601 * 1_000_000);
    assert_eq!(
        s.delivery_plan(&stored).unwrap().signing_keys.len(),
        1,
        "the old one stops after it"
    );
    let e = s
        .rotate_subscription_secret(&t, &view.id, MAX_OVERLAP_SECS + 1, &AdminActor::System)
        .await
        .unwrap_err();
    assert_eq!(e.details()[0].field, "overlapSeconds");
    // Another node with another sealing key cannot use the secrets.
    let other = f.service.clone().with_sealing_key(SealingKey::new([1; 32]));
    assert!(other.delivery_plan(&stored).is_err());
    assert_eq!(events(&s, &t, "subscription.create").await, 1);
    assert_eq!(events(&s, &t, "subscription.rotate_secret").await, 1);
    // Without a sealing key, a webhook cannot be created (nothing is stored).
    let e = f
        .service
        .clone()
        .with_sealing_key(SealingKey::none())
        .create_subscription(&t, webhook(), &AdminActor::System)
        .await
        .unwrap_err();
    assert!(matches!(e, ServiceError::Unavailable(_)), "{e}");
    assert_eq!(s.list_subscriptions(&t).await.unwrap().len(), 1);
}

#[tokio::test]
async fn replays_rewind_the_ledger_to_a_retained_sequence_number_only() {
    let f = fixture().await;
    let s = service(&f);
    let t = tenant("acme");
    let (view, _) = s
        .create_subscription(&t, webhook(), &AdminActor::System)
        .await
        .unwrap();
    // subscription.create is sequence 1; a rotation makes 2.
    s.rotate_subscription_secret(&t, &view.id, 0, &AdminActor::System)
        .await
        .unwrap();
    for (from, ok) in [(0, false), (4, false), (3, true), (1, true)] {
        let r = s
            .replay_subscription(&t, &view.id, from, &AdminActor::System)
            .await;
        match (ok, r) {
            (true, Ok(v)) => assert_eq!(v.ledger.delivered_sequence, from - 1),
            (false, Err(e)) => assert_eq!(e.details()[0].field, "fromSequence"),
            (ok, r) => panic!("from {from}: want ok={ok}, got {r:?}"),
        }
    }
    // A purged sequence number cannot be replayed from.
    s.store().purge_before(NOW_AFTER).await.unwrap();
    let e = s
        .replay_subscription(&t, &view.id, 1, &AdminActor::System)
        .await
        .unwrap_err();
    assert_eq!(e.details()[0].field, "fromSequence", "{e}");
}

/// Later than everything stored by the tests above.
const NOW_AFTER: i64 = crate::testing::NOW + 1;

#[tokio::test]
async fn subscriptions_belong_to_their_tenant_and_are_limited_per_tenant() {
    let f = fixture().await;
    let s = service(&f);
    let (a, b) = (tenant("acme"), tenant("other"));
    let nats = || {
        NewSubscription::from_json(&json!({"destination": "nats://broker.example.com/audit.x"}))
            .unwrap()
    };
    let (view, secret) = s
        .create_subscription(&a, nats(), &AdminActor::System)
        .await
        .unwrap();
    assert!(secret.is_none());
    assert!(matches!(
        s.get_subscription(&b, &view.id).await,
        Err(ServiceError::NotFound(_))
    ));
    assert!(
        s.delete_subscription(&b, &view.id, &AdminActor::System)
            .await
            .is_err()
    );
    assert!(s.list_subscriptions(&b).await.unwrap().is_empty());
    let patch = SubscriptionPatch {
        format: Some(Format::Ocsf),
        ..Default::default()
    };
    let v = s
        .update_subscription(&a, &view.id, patch, &AdminActor::System)
        .await
        .unwrap();
    assert_eq!(v.format, "ocsf");
    let to_webhook = SubscriptionPatch {
        destination: Some("https://siem.example.com/".into()),
        ..Default::default()
    };
    let e = s
        .update_subscription(&a, &view.id, to_webhook, &AdminActor::System)
        .await
        .unwrap_err();
    assert_eq!(e.details()[0].field, "destination");
    for _ in 1..MAX_PER_TENANT {
        s.create_subscription(&a, nats(), &AdminActor::System)
            .await
            .unwrap();
    }
    let e = s
        .create_subscription(&a, nats(), &AdminActor::System)
        .await
        .unwrap_err();
    assert!(matches!(e, ServiceError::Conflict(_)), "{e}");
    s.delete_subscription(&a, &view.id, &AdminActor::System)
        .await
        .unwrap();
    s.create_subscription(&a, nats(), &AdminActor::System)
        .await
        .unwrap();
}
