//! The conformance suite every store engine must pass, written once.
//!
//! An engine's test file calls [`conformance_tests!`] with an async expression that makes a fresh,
//! empty store; the macro expands to one `#[tokio::test]` per case, so a failure names its case.
//! The cases are plain async functions below, taking `Arc<dyn Store>`.

use std::collections::HashSet;
use std::sync::Arc;

use authtrail_catalog::Catalog;
use authtrail_model::filters;
use authtrail_model::store::prelude::*;
use authtrail_model::validate::{Context, validate_item};
use authtrail_model::{
    ActivityQuery, ActorFilter, ConsoleSession, ConsoleUser, NewActivity, Outcome, Position, Scope,
    Tenant, TokenRecord,
};
use serde_json::{Value, json};

/// Expands to one test per conformance case. `$make` is an async expression returning
/// `Arc<dyn Store>` (a fresh, empty store each time).
#[macro_export]
macro_rules! conformance_tests {
    ($make:expr) => {
        $crate::conformance_tests!(@cases $make;
            sequence_is_gap_free_per_tenant,
            event_id_makes_retries_idempotent,
            get_finds_by_unique_qualifier_within_the_tenant_only,
            list_is_newest_first_and_pages_by_keyset,
            paging_is_stable_while_events_arrive,
            every_filter_selects_what_it_names,
            parameter_filters_apply_to_the_named_event,
            multi_event_activities_are_found_by_any_event_once,
            tenants_never_see_each_other,
            concurrent_appends_stay_gap_free,
            tokens_are_stored_listed_and_revoked,
            console_users_are_unique_listed_and_deleted,
            console_sessions_end_with_their_user,
            secrets_are_created_once,
            counts_are_exact_or_capped,
            tail_walks_the_sequence_in_order,
            restore_keeps_qualifiers_and_continues_the_sequence,
            purge_deletes_only_what_is_older_in_every_tenant,
            tenants_lists_those_with_activities,
            nth_position_is_the_nth_item_of_the_listing,
            client_application_filter_checks_rows,
            tenant_secrets_are_set_replaced_removed_and_separate,
        );
    };
    (@cases $make:expr; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let store: std::sync::Arc<dyn authtrail_model::Store> = $make.await;
                $crate::$case(store).await;
            }
        )*
    };
}

fn catalog() -> &'static Catalog {
    static C: std::sync::OnceLock<Catalog> = std::sync::OnceLock::new();
    C.get_or_init(|| Catalog::builtin().expect("built-in catalogue"))
}

/// Base time for test events: 2026-01-01T00:00:00Z.
pub const T0: i64 = 1_767_225_600_000_000;

/// A validated activity from Google-shaped JSON (panics on invalid test input).
pub fn new_activity(tenant: &Tenant, v: Value) -> NewActivity {
    let ctx = Context {
        catalog: catalog(),
        tenant,
        now_us: T0 + 365 * 86_400_000_000,
    };
    validate_item(&ctx, 0, &v).unwrap_or_else(|e| panic!("test activity invalid: {e:?}"))
}

/// A `login_success` by `email` at `T0 + secs`.
pub fn login(tenant: &Tenant, email: &str, secs: i64) -> NewActivity {
    new_activity(
        tenant,
        json!({
            "id": {"applicationName": "login", "time": time(secs)},
            "actor": {"email": email, "profileId": format!("p-{email}")},
            "ipAddress": "203.0.113.7",
            "events": [{"name": "login_success", "parameters": [
                {"name": "login_type", "value": "google_password"},
                {"name": "is_suspicious", "boolValue": false},
                {"name": "login_challenge_method", "multiValue": ["password"]}]}]
        }),
    )
}

fn time(secs: i64) -> String {
    authtrail_model::wire_time::format_rfc3339(
        T0 + secs * 1_000_000,
        authtrail_model::wire_time::Precision::Micros,
    )
}

fn tenant(name: &str) -> Tenant {
    Tenant::new(name).unwrap()
}

fn query(limit: usize) -> ActivityQuery {
    ActivityQuery {
        limit,
        ..ActivityQuery::default()
    }
}

async fn all(store: &dyn Store, t: &Tenant, mut q: ActivityQuery) -> Vec<i64> {
    let mut out = Vec::new();
    loop {
        let page = store.list(t, &q).await.unwrap();
        out.extend(page.items.iter().map(|a| a.unique_qualifier));
        match page.next {
            Some(p) => q.after = Some(p),
            None => return out,
        }
    }
}

pub async fn sequence_is_gap_free_per_tenant(store: Arc<dyn Store>) {
    let (a, b) = (tenant("Ca"), tenant("Cb"));
    let r1 = store
        .append(&a, (0..3).map(|i| login(&a, "x@example.com", i)).collect())
        .await
        .unwrap();
    let r2 = store
        .append(&b, vec![login(&b, "y@example.com", 0)])
        .await
        .unwrap();
    let r3 = store
        .append(&a, (3..5).map(|i| login(&a, "x@example.com", i)).collect())
        .await
        .unwrap();
    let seqs: Vec<i64> = r1.iter().chain(&r3).map(|r| r.unique_qualifier).collect();
    assert_eq!(
        seqs,
        vec![1, 2, 3, 4, 5],
        "tenant a counts 1.. without gaps"
    );
    assert_eq!(r2[0].unique_qualifier, 1, "tenant b has its own sequence");
    assert!(r1.iter().all(|r| !r.duplicate));
    assert_eq!(r1[1].time_us, T0 + 1_000_000);
    assert!(store.append(&a, Vec::new()).await.unwrap().is_empty());
}

pub async fn event_id_makes_retries_idempotent(store: Arc<dyn Store>) {
    let t = tenant("Ci");
    let with_id = |id: &str, secs| {
        let mut a = login(&t, "x@example.com", secs);
        a.body.event_id = Some(id.to_string());
        a
    };
    let first = store
        .append(&t, vec![with_id("e1", 0), with_id("e2", 1)])
        .await
        .unwrap();
    let retry = store
        .append(
            &t,
            vec![with_id("e1", 0), with_id("e2", 1), with_id("e3", 2)],
        )
        .await
        .unwrap();
    assert_eq!(retry[0].unique_qualifier, first[0].unique_qualifier);
    assert_eq!(retry[1].unique_qualifier, first[1].unique_qualifier);
    assert!(retry[0].duplicate && retry[1].duplicate && !retry[2].duplicate);
    assert_eq!(
        retry[2].unique_qualifier, 3,
        "no sequence number is spent on a duplicate"
    );
    // The same id twice in one batch is stored once.
    let twice = store
        .append(&t, vec![with_id("e4", 3), with_id("e4", 3)])
        .await
        .unwrap();
    assert_eq!(twice[0].unique_qualifier, twice[1].unique_qualifier);
    assert!(twice[1].duplicate);
    assert_eq!(all(&*store, &t, query(100)).await, vec![4, 3, 2, 1]);
    // The id is per tenant: another tenant may use it.
    let u = tenant("Cj");
    let other = store
        .append(
            &u,
            vec![{
                let mut a = login(&u, "z@example.com", 0);
                a.body.event_id = Some("e1".into());
                a
            }],
        )
        .await
        .unwrap();
    assert!(!other[0].duplicate);
}

pub async fn get_finds_by_unique_qualifier_within_the_tenant_only(store: Arc<dyn Store>) {
    let t = tenant("Cg");
    let r = store
        .append(&t, vec![login(&t, "Ada@Example.com", 5)])
        .await
        .unwrap();
    let got = store
        .get(&t, r[0].unique_qualifier)
        .await
        .unwrap()
        .expect("stored");
    assert_eq!(
        got.body.actor.email.as_deref(),
        Some("Ada@Example.com"),
        "the body keeps the producer's case"
    );
    assert_eq!(got.application, "login");
    assert_eq!(got.time_us, T0 + 5_000_000);
    assert_eq!(got.body.events[0].name, "login_success");
    assert!(store.get(&t, 99).await.unwrap().is_none());
    assert!(
        store
            .get(&tenant("Cother"), r[0].unique_qualifier)
            .await
            .unwrap()
            .is_none()
    );
}

pub async fn list_is_newest_first_and_pages_by_keyset(store: Arc<dyn Store>) {
    let t = tenant("Cl");
    // Arrival order differs from event time: times 5,1,3 then a batch of equal times.
    store
        .append(
            &t,
            vec![
                login(&t, "a@x.io", 5),
                login(&t, "a@x.io", 1),
                login(&t, "a@x.io", 3),
            ],
        )
        .await
        .unwrap();
    store
        .append(&t, (0..4).map(|_| login(&t, "a@x.io", 3)).collect())
        .await
        .unwrap();
    let full = store.list(&t, &query(1000)).await.unwrap();
    let order: Vec<(i64, i64)> = full
        .items
        .iter()
        .map(|a| (a.time_us, a.unique_qualifier))
        .collect();
    let mut sorted = order.clone();
    sorted.sort_by(|x, y| y.cmp(x));
    assert_eq!(
        order, sorted,
        "newest first, ties broken by uniqueQualifier descending"
    );
    assert!(full.next.is_none());
    for size in 1..=7 {
        let mut q = query(size);
        let mut seen = Vec::new();
        loop {
            let page = store.list(&t, &q).await.unwrap();
            assert!(page.items.len() <= size);
            seen.extend(page.items.iter().map(|a| (a.time_us, a.unique_qualifier)));
            match page.next {
                Some(p) => q.after = Some(p),
                None => break,
            }
        }
        assert_eq!(seen, order, "paging by {size} yields the full traversal");
    }
}

pub async fn paging_is_stable_while_events_arrive(store: Arc<dyn Store>) {
    let t = tenant("Cs");
    store
        .append(&t, (0..10).map(|i| login(&t, "a@x.io", i)).collect())
        .await
        .unwrap();
    let mut q = ActivityQuery {
        end_us: Some(T0 + 100_000_000),
        ..query(3)
    };
    let first = store.list(&t, &q).await.unwrap();
    let mut seen: Vec<i64> = first.items.iter().map(|a| a.unique_qualifier).collect();
    q.after = first.next;
    // New events arrive: newer ones, and a late one older than everything seen so far.
    store
        .append(&t, vec![login(&t, "a@x.io", 50), login(&t, "a@x.io", 4)])
        .await
        .unwrap();
    loop {
        let page = store.list(&t, &q).await.unwrap();
        seen.extend(page.items.iter().map(|a| a.unique_qualifier));
        match page.next {
            Some(p) => q.after = Some(p),
            None => break,
        }
    }
    let unique: HashSet<i64> = seen.iter().copied().collect();
    assert_eq!(unique.len(), seen.len(), "no event repeats across pages");
    for old in 1..=10 {
        assert!(
            unique.contains(&old),
            "event {old}, present before paging began, is seen"
        );
    }
    assert!(
        !unique.contains(&11),
        "a newer event does not push earlier ones onto later pages"
    );
}

pub async fn every_filter_selects_what_it_names(store: Arc<dyn Store>) {
    let t = tenant("Cf");
    let fail = new_activity(
        &t,
        json!({
            "id": {"applicationName": "login", "time": time(10)},
            "actor": {"email": "Bob@Example.com", "profileId": "42"},
            "ipAddress": "2001:db8:0:0::1", "sessionId": "s-1",
            "events": [{"name": "login_failure", "parameters": [{"name": "login_failure_type", "value": "login_failure_invalid_password"}]}]
        }),
    );
    let logto = new_activity(
        &t,
        json!({
            "id": {"applicationName": "logto", "time": time(20)},
            "actor": {"profileId": "u1"}, "ipAddress": "198.51.100.1", "sessionId": "s-1", "result": "failure",
            "events": [{"name": "JwtCustomizer.ClientCredential"}]
        }),
    );
    store
        .append(
            &t,
            vec![
                login(&t, "ada@example.com", 0),
                fail,
                logto,
                login(&t, "ada@example.com", 30),
            ],
        )
        .await
        .unwrap();
    let ids = |q: ActivityQuery| {
        let store = store.clone();
        let t = t.clone();
        async move { all(&*store, &t, ActivityQuery { limit: 10, ..q }).await }
    };
    assert_eq!(ids(ActivityQuery::default()).await, vec![4, 3, 2, 1]);
    assert_eq!(
        ids(ActivityQuery {
            application: Some("logto".into()),
            ..Default::default()
        })
        .await,
        vec![3]
    );
    assert_eq!(
        ids(ActivityQuery {
            event_names: vec!["login_failure".into()],
            ..Default::default()
        })
        .await,
        vec![2]
    );
    assert_eq!(
        ids(ActivityQuery {
            event_names: vec!["JwtCustomizer.ClientCredentials".into()],
            ..Default::default()
        })
        .await,
        vec![3]
    );
    assert_eq!(
        ids(ActivityQuery {
            event_names: vec!["login_success".into(), "login_failure".into()],
            ..Default::default()
        })
        .await,
        vec![4, 2, 1]
    );
    assert_eq!(
        ids(ActivityQuery {
            event_names: vec!["logout".into()],
            ..Default::default()
        })
        .await,
        Vec::<i64>::new()
    );
    assert_eq!(
        ids(ActivityQuery {
            actor: Some(ActorFilter::from_key("BOB@example.COM")),
            ..Default::default()
        })
        .await,
        vec![2]
    );
    assert_eq!(
        ids(ActivityQuery {
            actor: Some(ActorFilter::from_key("u1")),
            ..Default::default()
        })
        .await,
        vec![3]
    );
    assert_eq!(
        ids(ActivityQuery {
            ip: Some("2001:db8::1".parse().unwrap()),
            ..Default::default()
        })
        .await,
        vec![2]
    );
    assert_eq!(
        ids(ActivityQuery {
            result: Some(Outcome::Failure),
            ..Default::default()
        })
        .await,
        vec![3, 2]
    );
    assert_eq!(
        ids(ActivityQuery {
            session_id: Some("s-1".into()),
            ..Default::default()
        })
        .await,
        vec![3, 2]
    );
    assert_eq!(
        ids(ActivityQuery {
            start_us: Some(T0 + 10_000_000),
            end_us: Some(T0 + 30_000_000),
            ..Default::default()
        })
        .await,
        vec![3, 2],
        "start is inclusive, end exclusive"
    );
    assert_eq!(
        ids(ActivityQuery {
            application: Some("login".into()),
            result: Some(Outcome::Failure),
            actor: Some(ActorFilter::ProfileId("42".into())),
            ..Default::default()
        })
        .await,
        vec![2]
    );
}

pub async fn parameter_filters_apply_to_the_named_event(store: Arc<dyn Store>) {
    let t = tenant("Cp");
    let mk = |secs, suspicious: bool, methods: Value| {
        new_activity(
            &t,
            json!({
                "id": {"applicationName": "login", "time": time(secs)},
                "actor": {"email": "a@x.io"},
                "events": [{"name": "login_success", "parameters": [
                    {"name": "is_suspicious", "boolValue": suspicious},
                    {"name": "login_challenge_method", "multiValue": methods}]}]
            }),
        )
    };
    let mut batch: Vec<NewActivity> = (0..300)
        .map(|i| mk(i, false, json!(["password"])))
        .collect();
    batch.push(mk(400, true, json!(["password", "security_key"])));
    batch.push(mk(401, true, json!(["password"])));
    store.append(&t, batch).await.unwrap();
    let q = |f: &str, limit| ActivityQuery {
        event_names: vec!["login_success".into()],
        filters: filters::parse(f).unwrap(),
        limit,
        ..Default::default()
    };
    assert_eq!(
        all(&*store, &t, q("is_suspicious==true", 1)).await,
        vec![302, 301]
    );
    assert_eq!(
        all(
            &*store,
            &t,
            q(
                "is_suspicious==true,login_challenge_method==security_key",
                10
            )
        )
        .await,
        vec![301]
    );
    assert_eq!(
        all(&*store, &t, q("login_challenge_method<>password", 10)).await,
        Vec::<i64>::new()
    );
    assert_eq!(
        all(&*store, &t, q("is_second_factor==true", 10)).await,
        Vec::<i64>::new(),
        "a parameter the event lacks matches nothing"
    );
}

pub async fn multi_event_activities_are_found_by_any_event_once(store: Arc<dyn Store>) {
    let t = tenant("Cm");
    let both = new_activity(
        &t,
        json!({
            "id": {"applicationName": "login", "time": time(5)},
            "actor": {"email": "a@x.io"},
            "events": [{"name": "login_challenge"}, {"name": "login_verification"}, {"name": "login_challenge"}]
        }),
    );
    store
        .append(
            &t,
            vec![login(&t, "a@x.io", 1), both, login(&t, "a@x.io", 9)],
        )
        .await
        .unwrap();
    let by = |names: &[&str]| ActivityQuery {
        event_names: names.iter().map(|s| s.to_string()).collect(),
        limit: 10,
        ..Default::default()
    };
    assert_eq!(
        all(&*store, &t, by(&["login_verification"])).await,
        vec![2],
        "found by its second event"
    );
    assert_eq!(all(&*store, &t, by(&["login_challenge"])).await, vec![2]);
    assert_eq!(
        all(
            &*store,
            &t,
            by(&["login_challenge", "login_verification", "login_success"])
        )
        .await,
        vec![3, 2, 1],
        "listed once"
    );
}

pub async fn tenants_never_see_each_other(store: Arc<dyn Store>) {
    let (a, b) = (tenant("Cx"), tenant("Cy"));
    store
        .append(&a, vec![login(&a, "shared@example.com", 1)])
        .await
        .unwrap();
    store
        .append(&b, vec![login(&b, "shared@example.com", 2)])
        .await
        .unwrap();
    for (t, want) in [(&a, T0 + 1_000_000), (&b, T0 + 2_000_000)] {
        let page = store
            .list(
                t,
                &ActivityQuery {
                    actor: Some(ActorFilter::from_key("shared@example.com")),
                    limit: 10,
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(page.items.len(), 1);
        assert_eq!(page.items[0].time_us, want);
        assert_eq!(&page.items[0].tenant, t);
    }
    // A position taken from tenant a's page positions nothing in tenant c, which has no data.
    let c = tenant("Cz");
    let q = ActivityQuery {
        after: Some(Position {
            time_us: i64::MAX,
            seq: i64::MAX,
        }),
        limit: 10,
        ..Default::default()
    };
    assert!(store.list(&c, &q).await.unwrap().items.is_empty());
}

pub async fn concurrent_appends_stay_gap_free(store: Arc<dyn Store>) {
    let t = tenant("Cc");
    let mut tasks = Vec::new();
    for w in 0..8 {
        let (store, t) = (store.clone(), t.clone());
        tasks.push(tokio::spawn(async move {
            let mut got = Vec::new();
            for i in 0..10 {
                let batch = (0..5)
                    .map(|j| login(&t, "c@x.io", w * 100 + i * 5 + j))
                    .collect();
                got.extend(
                    store
                        .append(&t, batch)
                        .await
                        .unwrap()
                        .into_iter()
                        .map(|r| r.unique_qualifier),
                );
            }
            got
        }));
    }
    let mut seqs = Vec::new();
    for task in tasks {
        seqs.extend(task.await.unwrap());
    }
    seqs.sort_unstable();
    assert_eq!(
        seqs,
        (1..=400).collect::<Vec<_>>(),
        "400 events, numbered 1..=400 exactly once"
    );
}

pub async fn tokens_are_stored_listed_and_revoked(store: Arc<dyn Store>) {
    let t = tenant("Ct");
    let rec = TokenRecord {
        id: "tok_1".into(),
        tenant: t.clone(),
        name: "ci".into(),
        scopes: vec![Scope::Ingest, Scope::Read],
        hash: [7; 32],
        created_us: T0,
        expires_us: Some(T0 + 1),
        revoked_us: None,
    };
    store.put_token(&rec).await.unwrap();
    assert_eq!(
        store.token_by_hash(&[7; 32]).await.unwrap(),
        Some(rec.clone())
    );
    assert_eq!(store.token_by_hash(&[8; 32]).await.unwrap(), None);
    assert_eq!(
        store.list_tokens(Some(&t)).await.unwrap(),
        vec![rec.clone()]
    );
    assert!(
        store
            .list_tokens(Some(&tenant("Cu")))
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        !store
            .revoke_token(&tenant("Cu"), "tok_1", T0 + 5)
            .await
            .unwrap(),
        "another tenant cannot revoke it"
    );
    assert!(store.revoke_token(&t, "tok_1", T0 + 5).await.unwrap());
    assert_eq!(
        store
            .token_by_hash(&[7; 32])
            .await
            .unwrap()
            .unwrap()
            .revoked_us,
        Some(T0 + 5)
    );
}

fn console_user(name: &str, t: &str) -> ConsoleUser {
    ConsoleUser {
        username: name.into(),
        tenant: tenant(t),
        password_hash: format!("$argon2id$v=19$m=19456,t=2,p=1$fake${name}"),
        created_us: T0,
    }
}

pub async fn console_users_are_unique_listed_and_deleted(store: Arc<dyn Store>) {
    let alice = console_user("alice@example.com", "Ca");
    let bob = console_user("bob", "Cb");
    assert!(store.put_console_user(&alice).await.unwrap());
    assert!(store.put_console_user(&bob).await.unwrap());
    let mut again = console_user("alice@example.com", "Cb");
    again.password_hash = "other".into();
    assert!(
        !store.put_console_user(&again).await.unwrap(),
        "a taken username is refused"
    );
    assert_eq!(
        store.console_user("alice@example.com").await.unwrap(),
        Some(alice.clone()),
        "the refused insert changed nothing"
    );
    assert_eq!(store.console_user("carol").await.unwrap(), None);
    assert_eq!(
        store.list_console_users(Some(&tenant("Ca"))).await.unwrap(),
        vec![alice.clone()]
    );
    assert_eq!(
        store.list_console_users(None).await.unwrap(),
        vec![alice.clone(), bob.clone()]
    );
    assert!(store.set_console_password("bob", "new-hash").await.unwrap());
    assert_eq!(
        store
            .console_user("bob")
            .await
            .unwrap()
            .unwrap()
            .password_hash,
        "new-hash"
    );
    assert!(!store.set_console_password("carol", "x").await.unwrap());
    assert!(store.delete_console_user("bob").await.unwrap());
    assert!(!store.delete_console_user("bob").await.unwrap());
    assert_eq!(store.console_user("bob").await.unwrap(), None);
}

pub async fn console_sessions_end_with_their_user(store: Arc<dyn Store>) {
    let alice = console_user("alice", "Ca");
    let bob = console_user("bob", "Ca");
    store.put_console_user(&alice).await.unwrap();
    store.put_console_user(&bob).await.unwrap();
    let session = |h: u8, user: &str| ConsoleSession {
        hash: [h; 32],
        username: user.into(),
        tenant: tenant("Ca"),
        created_us: T0,
        expires_us: T0 + 3_600_000_000,
    };
    for (h, u) in [(1, "alice"), (2, "alice"), (3, "bob")] {
        store.put_console_session(&session(h, u)).await.unwrap();
    }
    assert_eq!(
        store.console_session(&[1; 32]).await.unwrap(),
        Some(session(1, "alice"))
    );
    assert_eq!(store.console_session(&[9; 32]).await.unwrap(), None);
    assert!(store.delete_console_session(&[1; 32]).await.unwrap());
    assert!(!store.delete_console_session(&[1; 32]).await.unwrap());
    assert_eq!(store.console_session(&[1; 32]).await.unwrap(), None);
    // A password change ends the user's other sessions; another user's stay.
    assert!(store.set_console_password("alice", "h2").await.unwrap());
    assert_eq!(store.console_session(&[2; 32]).await.unwrap(), None);
    assert!(store.console_session(&[3; 32]).await.unwrap().is_some());
    assert!(store.delete_console_user("bob").await.unwrap());
    assert_eq!(store.console_session(&[3; 32]).await.unwrap(), None);
}

pub async fn secrets_are_created_once(store: Arc<dyn Store>) {
    let a = store.secret("cursor").await.unwrap();
    assert_eq!(store.secret("cursor").await.unwrap(), a);
    assert_ne!(store.secret("other").await.unwrap(), a);
}

pub async fn counts_are_exact_or_capped(store: Arc<dyn Store>) {
    let t = tenant("Ccount");
    let mut batch: Vec<NewActivity> = (0..30).map(|i| login(&t, "a@x.io", i)).collect();
    batch.push(new_activity(
        &t,
        json!({"id": {"applicationName": "login", "time": time(40)},
        "actor": {"email": "b@x.io"}, "events": [{"name": "logout"}]}),
    ));
    store.append(&t, batch).await.unwrap();
    let all = ActivityQuery::default();
    assert_eq!(
        store.count(&t, &all, None).await.unwrap(),
        authtrail_model::Count {
            n: 31,
            capped: false
        }
    );
    assert_eq!(
        store.count(&t, &all, Some(10)).await.unwrap(),
        authtrail_model::Count {
            n: 10,
            capped: true
        }
    );
    assert_eq!(
        store.count(&t, &all, Some(31)).await.unwrap(),
        authtrail_model::Count {
            n: 31,
            capped: false
        }
    );
    let logout = ActivityQuery {
        event_names: vec!["logout".into()],
        ..Default::default()
    };
    assert_eq!(store.count(&t, &logout, Some(10)).await.unwrap().n, 1);
    let b = ActivityQuery {
        actor: Some(ActorFilter::from_key("B@x.io")),
        ..Default::default()
    };
    assert_eq!(store.count(&t, &b, None).await.unwrap().n, 1);
    let suspicious = ActivityQuery {
        filters: filters::parse("is_suspicious==false").unwrap(),
        ..Default::default()
    };
    assert_eq!(
        store.count(&t, &suspicious, Some(100)).await.unwrap(),
        authtrail_model::Count {
            n: 30,
            capped: false
        }
    );
    assert_eq!(
        store.count(&tenant("Cnobody"), &all, None).await.unwrap().n,
        0
    );
}

pub async fn tail_walks_the_sequence_in_order(store: Arc<dyn Store>) {
    let t = tenant("Ctail");
    // Event times out of order: tail follows the sequence, not the time.
    store
        .append(
            &t,
            vec![
                login(&t, "a@x.io", 9),
                login(&t, "a@x.io", 1),
                login(&t, "a@x.io", 5),
            ],
        )
        .await
        .unwrap();
    let all = store.tail(&t, 0, 10).await.unwrap();
    assert_eq!(
        all.iter().map(|a| a.unique_qualifier).collect::<Vec<_>>(),
        vec![1, 2, 3]
    );
    let rest = store.tail(&t, 1, 1).await.unwrap();
    assert_eq!(
        rest.iter().map(|a| a.unique_qualifier).collect::<Vec<_>>(),
        vec![2]
    );
    assert!(store.tail(&t, 3, 10).await.unwrap().is_empty());
}

pub async fn restore_keeps_qualifiers_and_continues_the_sequence(store: Arc<dyn Store>) {
    let (src, t) = (tenant("Csrc"), tenant("Cdst"));
    let mut with_id = login(&src, "a@x.io", 2);
    with_id.body.event_id = Some("kept".into());
    store
        .append(
            &src,
            vec![login(&src, "a@x.io", 1), with_id, login(&src, "a@x.io", 3)],
        )
        .await
        .unwrap();
    let mut items = store.tail(&src, 0, 10).await.unwrap();
    items.remove(0); // a gap left by retention must survive a move
    for a in &mut items {
        a.tenant = t.clone();
    }
    store.restore(&t, items.clone()).await.unwrap();
    let back = store.tail(&t, 0, 10).await.unwrap();
    assert_eq!(
        back, items,
        "content, qualifiers, times and eventIds are identical"
    );
    let next = store
        .append(&t, vec![login(&t, "a@x.io", 4)])
        .await
        .unwrap();
    assert_eq!(
        next[0].unique_qualifier, 4,
        "the sequence continues after the highest restored"
    );
    let mut retry = login(&t, "a@x.io", 2);
    retry.body.event_id = Some("kept".into());
    assert!(
        store.append(&t, vec![retry]).await.unwrap()[0].duplicate,
        "restored eventIds stay idempotent"
    );
    assert!(
        store.restore(&t, items).await.is_err(),
        "restoring over existing qualifiers fails"
    );
    assert_eq!(
        store.tail(&t, 0, 10).await.unwrap().len(),
        3,
        "and changes nothing"
    );
}

pub async fn purge_deletes_only_what_is_older_in_every_tenant(store: Arc<dyn Store>) {
    let (a, b) = (tenant("Cpa"), tenant("Cpb"));
    store
        .append(&a, (0..10).map(|i| login(&a, "a@x.io", i)).collect())
        .await
        .unwrap();
    let multi = new_activity(
        &b,
        json!({"id": {"applicationName": "login", "time": time(1)},
        "events": [{"name": "login_challenge"}, {"name": "login_verification"}]}),
    );
    store
        .append(&b, vec![multi, login(&b, "b@x.io", 8)])
        .await
        .unwrap();
    let n = store.purge_before(T0 + 5_000_000).await.unwrap();
    assert_eq!(n, 6, "times 0..4 of a and 1 of b");
    assert_eq!(all(&*store, &a, query(100)).await, vec![10, 9, 8, 7, 6]);
    assert_eq!(all(&*store, &b, query(100)).await, vec![2]);
    let by_second = ActivityQuery {
        event_names: vec!["login_verification".into()],
        limit: 10,
        ..Default::default()
    };
    assert!(
        store.list(&b, &by_second).await.unwrap().items.is_empty(),
        "no trace of the purged multi-event activity"
    );
    assert_eq!(
        store
            .append(&a, vec![login(&a, "a@x.io", 20)])
            .await
            .unwrap()[0]
            .unique_qualifier,
        11
    );
    assert_eq!(store.purge_before(T0).await.unwrap(), 0);
}

pub async fn tenants_lists_those_with_activities(store: Arc<dyn Store>) {
    assert!(store.tenants().await.unwrap().is_empty());
    let (a, b) = (tenant("Cta"), tenant("Ctb"));
    store
        .append(&b, vec![login(&b, "b@x.io", 1)])
        .await
        .unwrap();
    store
        .append(&a, vec![login(&a, "a@x.io", 1)])
        .await
        .unwrap();
    assert_eq!(store.tenants().await.unwrap(), vec![a, b]);
}

/// Activities whose times are not in sequence order (late arrivals), two event names and two
/// actors, so that the n-th by time differs from the n-th by sequence.
async fn shuffled(store: &dyn Store, t: &Tenant) {
    let mut batch = Vec::new();
    for i in 0..24i64 {
        let secs = (i * 7) % 24; // a permutation of 0..24
        let who = if i % 3 == 0 { "a@x.io" } else { "b@x.io" };
        let name = if i % 2 == 0 {
            "login_success"
        } else {
            "logout"
        };
        batch.push(new_activity(
            t,
            json!({
                "id": {"applicationName": "login", "time": time(secs / 2)},
                "actor": {"email": who},
                "clientApplicationId": format!("app-{}", i % 4),
                "events": [{"name": name}]
            }),
        ));
    }
    store.append(t, batch).await.unwrap();
}

pub async fn nth_position_is_the_nth_item_of_the_listing(store: Arc<dyn Store>) {
    let t = tenant("Cn");
    shuffled(&*store, &t).await;
    let queries = [
        query(1000),
        ActivityQuery {
            actor: Some(ActorFilter::Email("b@x.io".into())),
            ..query(1000)
        },
        ActivityQuery {
            event_names: vec!["logout".into(), "login_success".into()],
            ..query(1000)
        },
        ActivityQuery {
            event_names: vec!["logout".into()],
            ..query(1000)
        },
        ActivityQuery {
            start_us: Some(T0 + 3_000_000),
            end_us: Some(T0 + 9_000_000),
            ..query(1000)
        },
    ];
    for q in queries {
        let listed = store.list(&t, &q).await.unwrap().items;
        for n in 1..=listed.len() as u64 + 1 {
            let want = listed.get(n as usize - 1).map(|a| Position {
                time_us: a.time_us,
                seq: a.unique_qualifier,
            });
            assert_eq!(
                store.nth_position(&t, &q, n).await.unwrap(),
                want,
                "n = {n}, {q:?}"
            );
        }
    }
    assert_eq!(store.nth_position(&t, &query(10), 0).await.unwrap(), None);
    assert_eq!(
        store
            .nth_position(&tenant("Cother"), &query(10), 1)
            .await
            .unwrap(),
        None,
        "another tenant has nothing"
    );
}

pub async fn client_application_filter_checks_rows(store: Arc<dyn Store>) {
    let t = tenant("Cc");
    shuffled(&*store, &t).await;
    let q = ActivityQuery {
        client_application_id: Some("app-1".into()),
        limit: 2,
        ..Default::default()
    };
    let found = all(&*store, &t, q.clone()).await;
    let mut want: Vec<i64> = (1..=24).filter(|s| (s - 1) % 4 == 1).collect();
    want.sort();
    let mut got = found.clone();
    got.sort();
    assert_eq!(got, want);
    let c = store.count(&t, &q, Some(100)).await.unwrap();
    assert_eq!((c.n, c.capped), (6, false));
    let c = store.count(&t, &q, Some(4)).await.unwrap();
    assert_eq!((c.n, c.capped), (4, true));
}

pub async fn tenant_secrets_are_set_replaced_removed_and_separate(store: Arc<dyn Store>) {
    let (a, b) = (tenant("Ks"), tenant("Kt"));
    assert_eq!(
        store.tenant_secret(&a, "logto-webhook").await.unwrap(),
        None
    );
    store
        .set_tenant_secret(&a, "logto-webhook", Some(b"first"))
        .await
        .unwrap();
    store
        .set_tenant_secret(&a, "logto-webhook", Some(b"second"))
        .await
        .unwrap();
    assert_eq!(
        store.tenant_secret(&a, "logto-webhook").await.unwrap(),
        Some(b"second".to_vec())
    );
    assert_eq!(
        store.tenant_secret(&b, "logto-webhook").await.unwrap(),
        None
    );
    assert_eq!(store.tenant_secret(&a, "other").await.unwrap(), None);
    store
        .set_tenant_secret(&a, "logto-webhook", None)
        .await
        .unwrap();
    assert_eq!(
        store.tenant_secret(&a, "logto-webhook").await.unwrap(),
        None
    );
    // Server secrets are untouched by tenant ones.
    let s = store.secret("cursor-signing").await.unwrap();
    assert_eq!(store.secret("cursor-signing").await.unwrap(), s);
}
