//! Reading: get, list and its keyset pages, every filter, counts, the n-th position.

use crate::*;

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

pub async fn ip_filter_takes_an_address_or_a_cidr_block(store: Arc<dyn Store>) {
    let t = tenant("Cip");
    let at = |secs: i64, ip: &str| {
        new_activity(
            &t,
            json!({
                "id": {"applicationName": "login", "time": time(secs)},
                "actor": {"email": "ip@x.io"},
                "ipAddress": ip,
                "events": [{"name": "login_success"}]
            }),
        )
    };
    store
        .append(
            &t,
            vec![
                at(0, "203.0.113.7"),
                at(1, "203.0.114.1"),
                at(2, "2001:db8::1"),
                at(3, "203.0.113.255"),
                at(4, "2001:db8:1::1"),
                login(&t, "none@x.io", 5), // 203.0.113.7 as well
            ],
        )
        .await
        .unwrap();
    let by = |ip: &str, limit| ActivityQuery {
        ip: Some(ip.parse().unwrap()),
        limit,
        ..ActivityQuery::default()
    };
    assert_eq!(all(&*store, &t, by("203.0.113.7", 10)).await, vec![6, 1]);
    assert_eq!(
        all(&*store, &t, by("203.0.113.0/24", 1)).await,
        vec![6, 4, 1],
        "a block is checked on rows, page by page"
    );
    assert_eq!(all(&*store, &t, by("2001:db8::/32", 10)).await, vec![5, 3]);
    assert_eq!(all(&*store, &t, by("2001:db8::/48", 10)).await, vec![3]);
    assert!(
        all(&*store, &t, by("0.0.0.0/0", 10))
            .await
            .iter()
            .all(|uq| ![3, 5].contains(uq)),
        "an IPv4 block holds no IPv6 address"
    );
    let n = store
        .count(&t, &by("203.0.113.0/24", 10), None)
        .await
        .unwrap();
    assert_eq!((n.n, n.capped), (3, false));
}

/// An event name listed with a result it never has in the range matches nothing, and one that
/// has it matches exactly its rows, at hour edges, by a second event name and after a purge: an
/// engine may skip the index walk of a name its counters show no such row for (SQLite does),
/// and must not skip one that has rows.
pub async fn event_and_result_conditions_are_exact_at_every_edge(store: Arc<dyn Store>) {
    let t = tenant("Cer");
    let hour = 3_600i64;
    let act = |secs: i64, names: &[&str], result: &str| {
        let events: Vec<Value> = names.iter().map(|n| json!({"name": n})).collect();
        new_activity(
            &t,
            json!({"id": {"applicationName": "login", "time": time(secs)},
                   "actor": {"email": "a@x.io"}, "events": events, "result": result}),
        )
    };
    store
        .append(
            &t,
            vec![
                act(10, &["login_success"], "success"),           // 1
                act(hour + 5, &["logout"], "failure"),            // 2
                act(2 * hour - 1, &["logout"], "failure"),        // 3: last second of hour 1
                act(2 * hour + 7, &["login_success"], "success"), // 4
                act(3 * hour + 1, &["login_challenge", "logout"], "failure"), // 5: logout second
            ],
        )
        .await
        .unwrap();
    let q = |names: &[&str], result: Option<Outcome>, start: Option<i64>, end: Option<i64>| {
        ActivityQuery {
            event_names: names.iter().map(|s| s.to_string()).collect(),
            result,
            start_us: start.map(|s| T0 + s * 1_000_000),
            end_us: end.map(|s| T0 + s * 1_000_000),
            limit: 10,
            ..Default::default()
        }
    };
    let fail = Some(Outcome::Failure);
    let cases: Vec<(ActivityQuery, Vec<i64>)> = vec![
        (q(&["login_success"], fail, None, None), vec![]),
        (
            q(&["login_success", "logout"], fail, None, None),
            vec![5, 3, 2],
        ),
        (
            q(&["login_success"], Some(Outcome::Success), None, None),
            vec![4, 1],
        ),
        // The row one microsecond before an exclusive end on an hour, and one after a start
        // inside the same hour as an earlier match.
        (q(&["logout"], fail, None, Some(2 * hour)), vec![3, 2]),
        (
            q(&["logout"], fail, Some(hour + 6), Some(2 * hour)),
            vec![3],
        ),
        (q(&["logout"], fail, Some(2 * hour), Some(3 * hour)), vec![]),
        // Found by its second name only.
        (q(&["logout"], fail, Some(3 * hour), None), vec![5]),
        (
            q(&["login_challenge"], Some(Outcome::Success), None, None),
            vec![],
        ),
    ];
    for (query, want) in &cases {
        assert_eq!(&all(&*store, &t, query.clone()).await, want, "{query:?}");
        let n = store.count(&t, query, None).await.unwrap().n;
        assert_eq!(n, want.len() as u64, "count of {query:?}");
    }
    // Once purged, the hour's failures are gone from lists and counts alike.
    store
        .purge_before(T0 + (2 * hour + 1) * 1_000_000)
        .await
        .unwrap();
    let query = q(&["login_success", "logout"], fail, None, None);
    assert_eq!(all(&*store, &t, query.clone()).await, vec![5]);
    assert_eq!(store.count(&t, &query, None).await.unwrap().n, 1);
}
