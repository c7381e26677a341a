//! Interned values under erasure, retention and eventId hash collisions.

use std::sync::Arc;

use authtrail_model::store::prelude::*;
use authtrail_model::{ActivityQuery, ActorFilter, ManualClock, NewActivity, Tenant};
use rusqlite::Connection;

use crate::{DB_FILE, SqliteStore};

fn activity(time_us: i64, email: &str, ip: &str, event_id: &str) -> NewActivity {
    NewActivity {
        time_us,
        application: "login".into(),
        body: serde_json::from_value(serde_json::json!({
            "actor": {"email": email, "profileId": format!("p-{email}")},
            "ipAddress": ip, "sessionId": format!("s-{event_id}"), "eventId": event_id,
            "events": [{"type": "login", "name": "login_success"}], "result": "success"}))
        .unwrap(),
    }
}

fn terms(dir: &std::path::Path) -> Vec<String> {
    let c = Connection::open(dir.join(DB_FILE)).unwrap();
    let mut s = c.prepare("SELECT value FROM terms ORDER BY value").unwrap();
    s.query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

#[tokio::test]
async fn erasure_and_retention_leave_no_interned_value_behind() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path(), Arc::new(ManualClock::at(10))).unwrap();
    let t = Tenant::new("Cx").unwrap();
    let other = Tenant::new("Cy").unwrap();
    store
        .append(
            &t,
            vec![
                activity(1, "ada@example.com", "203.0.113.1", "e1"),
                activity(2, "bob@example.com", "203.0.113.1", "e2"),
                activity(3, "ada@example.com", "203.0.113.9", "e3"),
            ],
        )
        .await
        .unwrap();
    // The same person in another tenant: its own terms, untouched by this tenant's erasure.
    store
        .append(
            &other,
            vec![activity(1, "ada@example.com", "203.0.113.9", "e1")],
        )
        .await
        .unwrap();
    assert_eq!(store.erase_personal(&t, &[1, 3], 99).await.unwrap(), 2);
    let left = terms(dir.path());
    let count = |v: &str| left.iter().filter(|t| *t == v).count();
    assert_eq!(count("ada@example.com"), 1, "only tenant Cy's: {left:?}");
    assert_eq!(count("p-ada@example.com"), 1, "{left:?}");
    assert_eq!(
        count("203.0.113.1"),
        1,
        "bob's row keeps the shared IP: {left:?}"
    );
    assert_eq!(count("203.0.113.9"), 1, "only tenant Cy's: {left:?}");
    assert_eq!(count("s-e1"), 2, "erasure keeps sessions: {left:?}");
    let by_ada = |t: Tenant| {
        let store = &store;
        async move {
            let q = ActivityQuery {
                actor: Some(ActorFilter::Email("ada@example.com".into())),
                limit: 10,
                ..Default::default()
            };
            store.list(&t, &q).await.unwrap().items
        }
    };
    assert!(by_ada(t.clone()).await.is_empty());
    assert_eq!(by_ada(other.clone()).await.len(), 1);

    // The writer had ada's ids cached: a new row gets a new term, not the deleted one.
    store
        .append(
            &t,
            vec![activity(4, "ada@example.com", "203.0.113.9", "e4")],
        )
        .await
        .unwrap();
    let again = by_ada(t.clone()).await;
    assert_eq!(again.len(), 1);
    assert_eq!(
        again[0].body.actor.email.as_deref(),
        Some("ada@example.com")
    );
    assert_eq!(again[0].body.ip_address.as_deref(), Some("203.0.113.9"));
    // A duplicate of an erased row stores nothing, and brings no erased value back.
    let dup = store
        .append(
            &t,
            vec![activity(1, "ada-old@example.com", "198.51.100.1", "e1")],
        )
        .await
        .unwrap();
    assert!(dup[0].duplicate);
    let left = terms(dir.path());
    assert!(
        !left
            .iter()
            .any(|v| v.contains("ada-old") || v == "198.51.100.1"),
        "{left:?}"
    );

    // Retention (both tenants' rows before 4): the purged rows' values go with them; what is
    // left is exactly row 4's.
    store.purge_before(4).await.unwrap();
    assert_eq!(
        terms(dir.path()),
        [
            "203.0.113.9",
            "ada@example.com",
            "p-ada@example.com",
            "s-e4"
        ]
    );
}

/// Two eventIds whose 64-bit hashes collide are two activities; each is still idempotent, and
/// found by its eventId. A real SipHash collision is not at hand, so the test gives the stored
/// row the hash of the next eventId, which is what a collision looks like to the writer.
#[tokio::test]
async fn colliding_event_id_hashes_spill_and_stay_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path(), Arc::new(ManualClock::at(10))).unwrap();
    let t = Tenant::new("Cx").unwrap();
    store
        .append(
            &t,
            vec![activity(1, "a@example.com", "203.0.113.1", "first")],
        )
        .await
        .unwrap();
    let c = Connection::open(dir.path().join(DB_FILE)).unwrap();
    c.execute(
        "UPDATE activities SET source_hash = ?1 WHERE source_id = 'first'",
        [super::source_hash("second")],
    )
    .unwrap();
    for round in 0..2 {
        let r = store
            .append(
                &t,
                vec![activity(2, "b@example.com", "203.0.113.2", "second")],
            )
            .await
            .unwrap();
        assert_eq!(r[0].unique_qualifier, 2, "round {round}");
        assert_eq!(r[0].duplicate, round == 1, "round {round}");
    }
    let spilled: Option<i64> = c
        .query_row(
            "SELECT source_hash FROM activities WHERE source_id = 'second'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(spilled, None, "kept in the spill index");
    let tid: i64 = c
        .query_row("SELECT id FROM tenants WHERE name = 'Cx'", [], |r| r.get(0))
        .unwrap();
    assert_eq!(
        crate::activities::read::by_source(&c, tid, "second").unwrap(),
        Some(2)
    );
    assert_eq!(
        crate::activities::read::by_source(&c, tid, "first").unwrap(),
        None,
        "the tampered row's hash no longer matches its eventId"
    );
    let a = store.get(&t, 2).await.unwrap().unwrap();
    assert_eq!(a.body.event_id.as_deref(), Some("second"));
}
