//! The [`Aggregates`](authtrail_model::store::Aggregates) capability, through
//! [`authtrail_model::aggregate::aggregate`]: every count equals what `list` returns under the
//! same conditions, counted one by one here, after appends, multi-event activities, restores and
//! purges that cut through a minute.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use authtrail_model::aggregate::{AggregateQuery, GroupBy, aggregate, category};
use authtrail_model::store::prelude::*;
use authtrail_model::{Activity, ActivityQuery, ActorFilter, NewActivity, Outcome, Tenant};
use serde_json::json;

use crate::{T0, catalog, new_activity, tenant, time};

const EVENTS: &[&str] = &[
    "login_success",
    "login_failure",
    "logout",
    "login_challenge",
    "suspicious_login",
    "2sv_enroll",
];

/// About 600 activities over three hours at uneven seconds: several events and results, five
/// actors, three IPs (and none), every 23rd activity with two or three events, and every 11th
/// of another application.
fn workload(t: &Tenant, from: i64, n: i64) -> Vec<NewActivity> {
    (from..from + n)
        .map(|i| {
            let secs = i * 17 + (i * i) % 13;
            let name = EVENTS[(i as usize * 7) % EVENTS.len()];
            let mut events = vec![json!({"name": name})];
            if i % 23 == 0 {
                events.push(json!({"name": "login_verification"}));
                if i % 2 == 0 {
                    events.push(json!({"name": "logout"}));
                }
            }
            let mut v = json!({
                "id": {"applicationName": "login", "time": time(secs)},
                "actor": {"email": format!("User{}@x.io", i % 5)},
                "events": events,
                "result": if i % 3 == 0 { "failure" } else { "success" },
            });
            if i % 4 != 0 {
                v["ipAddress"] = json!(format!("203.0.113.{}", i % 3));
            }
            // Another application's activities, so that an application condition selects.
            if i % 11 == 5 {
                v["id"]["applicationName"] = json!("logto");
                v["events"] = json!([{"name": "ExchangeTokenBy.RefreshToken"}]);
            }
            new_activity(t, v)
        })
        .collect()
}

async fn listed(
    store: &dyn Store,
    t: &Tenant,
    filter: &ActivityQuery,
    s: i64,
    e: i64,
) -> Vec<Activity> {
    let mut q = ActivityQuery {
        start_us: Some(s),
        end_us: Some(e),
        limit: 1000,
        after: None,
        ..filter.clone()
    };
    let mut out = Vec::new();
    loop {
        let page = store.list(t, &q).await.unwrap();
        out.extend(page.items);
        match page.next {
            Some(p) => q.after = Some(p),
            None => return out,
        }
    }
}

/// The expected answer, counted from `list` one activity at a time.
fn expected(items: &[Activity], q: &AggregateQuery) -> Vec<(u64, BTreeMap<String, u64>)> {
    let mut out = vec![(0u64, BTreeMap::new()); q.starts.len()];
    for a in items {
        let i = q.starts.partition_point(|s| *s <= a.time_us) - 1;
        out[i].0 += 1;
        let keys: HashSet<String> = match q.group_by {
            GroupBy::EventName => a.body.events.iter().map(|e| e.name.clone()).collect(),
            GroupBy::Category => a
                .body
                .events
                .iter()
                .map(|e| category(catalog(), &a.application, &e.name))
                .collect(),
            GroupBy::Result => [a.body.result.as_str().to_string()].into(),
            GroupBy::Actor => a
                .body
                .actor
                .email
                .iter()
                .map(|e| e.to_lowercase())
                .collect(),
            GroupBy::Ip => a.body.ip_address.iter().cloned().collect(),
        };
        for k in keys {
            *out[i].1.entry(k).or_default() += 1;
        }
    }
    out
}

async fn check(
    store: &dyn Store,
    t: &Tenant,
    filter: ActivityQuery,
    start: i64,
    end: i64,
    width: i64,
) {
    let mut starts = vec![start - start.rem_euclid(width)];
    while starts.last().unwrap() + width < end {
        starts.push(starts.last().unwrap() + width);
    }
    let items = listed(store, t, &filter, start, end).await;
    for group_by in GroupBy::ALL {
        let q = AggregateQuery {
            filter: filter.clone(),
            start_us: start,
            end_us: end,
            starts: starts.clone(),
            group_by,
            walk_budget: authtrail_model::aggregate::WALK_BUDGET,
        };
        let got = aggregate(store, t, catalog(), &q).await.unwrap();
        assert!(got.complete);
        assert_eq!(got.total, items.len() as u64, "{group_by:?} {filter:?}");
        let want = expected(&items, &q);
        let got: Vec<(u64, BTreeMap<String, u64>)> = got
            .buckets
            .iter()
            .map(|b| {
                assert_eq!(b.other, 0);
                (b.total, b.counts.clone())
            })
            .collect();
        assert_eq!(
            got, want,
            "{group_by:?} {filter:?} [{start}, {end}) by {width}"
        );
    }
}

/// The filters and ranges the counters serve, and those they do not.
async fn check_all(store: &dyn Store, t: &Tenant) {
    let min = 60_000_000;
    let hour = 60 * min;
    let filters = [
        ActivityQuery::default(),
        ActivityQuery {
            application: Some("login".into()),
            result: Some(Outcome::Failure),
            ..Default::default()
        },
        ActivityQuery {
            event_names: vec!["login_verification".into(), "logout".into()],
            ..Default::default()
        },
        ActivityQuery {
            actor: Some(ActorFilter::Email("user2@x.io".into())),
            ..Default::default()
        },
    ];
    for f in filters {
        // Uneven ends, whole hours, minute buckets, a range inside one minute.
        check(
            store,
            t,
            f.clone(),
            T0 + 7_654_321,
            T0 + 3 * hour - 1_234_567,
            hour,
        )
        .await;
        check(store, t, f.clone(), T0 - hour, T0 + 4 * hour, hour).await;
        check(
            store,
            t,
            f.clone(),
            T0 + 10 * min + 5,
            T0 + 40 * min + 7,
            min,
        )
        .await;
        check(store, t, f.clone(), T0 + 15 * min, T0 + 3 * hour, 15 * min).await;
        check(store, t, f, T0 + 61_000_000, T0 + 62_000_000, min).await;
    }
}

pub async fn aggregates_equal_the_list_counted_one_by_one(store: Arc<dyn Store>) {
    let t = tenant("Cagg");
    store.append(&t, workload(&t, 0, 300)).await.unwrap();
    store.append(&t, workload(&t, 300, 300)).await.unwrap();
    // Another tenant's activities never count.
    let other = tenant("Cagg2");
    store.append(&other, workload(&other, 0, 50)).await.unwrap();
    check_all(&*store, &t).await;
}

pub async fn purges_and_restores_keep_aggregates_exact(store: Arc<dyn Store>) {
    let t = tenant("Caggp");
    store.append(&t, workload(&t, 0, 600)).await.unwrap();
    // A cut-off in the middle of a minute.
    store
        .purge_before(T0 + 3_000 * 1_000_000 + 12_345)
        .await
        .unwrap();
    check_all(&*store, &t).await;

    // A restored trail counts like an appended one.
    let items = listed(&*store, &t, &ActivityQuery::default(), i64::MIN, i64::MAX).await;
    let copy = tenant("Caggr");
    store.restore(&copy, items).await.unwrap();
    check_all(&*store, &copy).await;
}

pub async fn a_capped_walk_says_where_it_stopped(store: Arc<dyn Store>) {
    let t = tenant("Caggc");
    store.append(&t, workload(&t, 0, 100)).await.unwrap();
    let (start, end) = (T0 - 3_600_000_000, T0 + 3_600_000_000);
    // A CIDR block is checked on rows: the activities are walked, under the budget.
    let cidr = ActivityQuery {
        ip: Some(authtrail_model::IpFilter::Net(
            "203.0.113.0/24".parse().unwrap(),
        )),
        ..Default::default()
    };
    let q = AggregateQuery {
        filter: cidr.clone(),
        start_us: start,
        end_us: end,
        starts: vec![start],
        group_by: GroupBy::Actor,
        walk_budget: 30,
    };
    let got = aggregate(&*store, &t, catalog(), &q).await.unwrap();
    assert!(!got.complete);
    let from = got.counted_from_us.expect("where counting stopped");
    let newest = listed(&*store, &t, &cidr, from, end).await;
    assert_eq!(got.total, 30);
    assert_eq!(
        newest.len(),
        30,
        "the 30 counted are the newest, from counted_from_us on"
    );
    // Counters need no walk: the whole range by result, or by actor, is complete.
    for group_by in [GroupBy::Result, GroupBy::Actor] {
        let whole = AggregateQuery {
            filter: ActivityQuery::default(),
            group_by,
            ..q.clone()
        };
        let got = aggregate(&*store, &t, catalog(), &whole).await.unwrap();
        assert!(got.complete, "{group_by:?}");
        assert_eq!(got.total, 100);
    }
}
