//! The [`TermCounts`](authtrail_model::store::TermCounts) capability: per-IP and per-actor
//! counts equal what `list` returns, counted one by one here, over ranges with uneven ends,
//! bounds that cut hours and bounds on whole hours, with every filter the counters keep,
//! multi-event activities, activities without IP or actor and actors known by profile id only;
//! after purges and restores; and an erasure leaves no count keyed by the erased e-mail or IP.
//! Every case runs at two scales: activities over five hours, and over six days, with ranges
//! made of whole days, days cut by a bound on an hour (a zone's midnight) and hours cut by one,
//! for an engine that keeps per-day counters too; and with the days packed (`pack_days`), then
//! written into, purged or erased while packed, then packed again.

use std::collections::BTreeMap;

use authtrail_model::Activity;
use authtrail_model::aggregate::MAX_GROUPS;
use authtrail_model::aggregate::{AggregateQuery, GroupBy, aggregate};
use authtrail_model::store::{Term, TermFilter, TermKind};

use crate::*;

const HOUR: i64 = 3_600_000_000;
const DAY: i64 = 24 * HOUR;
/// Seconds between activities: about 400 take five hours, or six days.
const HOURS_APART: i64 = 43;
const DAYS_APART: i64 = 43 * 30;
const EVENTS: &[&str] = &[
    "login_success",
    "login_failure",
    "logout",
    "login_challenge",
];

/// About 400 activities `apart` seconds apart: four events, both results, six actors (one known
/// by profile id only, one by neither), four IPs and none, every 17th activity with two events.
fn workload(t: &Tenant, from: i64, n: i64, apart: i64) -> Vec<NewActivity> {
    (from..from + n)
        .map(|i| {
            let secs = i * apart + (i * i) % 29;
            let name = EVENTS[(i as usize * 5) % EVENTS.len()];
            let mut events = vec![json!({"name": name})];
            if i % 17 == 0 {
                events.push(json!({"name": "logout"}));
            }
            let mut v = json!({
                "id": {"applicationName": "login", "time": time(secs)},
                "events": events,
                "result": if i % 3 == 0 { "failure" } else { "success" },
            });
            match i % 6 {
                4 => v["actor"] = json!({"profileId": format!("p{}", i % 4)}),
                5 => {}
                k => v["actor"] = json!({"email": format!("User{k}@X.io"), "profileId": "p9"}),
            }
            if i % 5 != 0 {
                v["ipAddress"] = json!(format!("198.51.100.{}", i % 4));
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

fn key(a: &Activity, kind: TermKind) -> Option<String> {
    match kind {
        TermKind::Ip => a.body.ip_address.clone(),
        TermKind::Actor => a
            .body
            .actor
            .email
            .as_ref()
            .map(|e| e.to_lowercase())
            .or_else(|| a.body.actor.profile_id.clone()),
    }
}

type Counts = BTreeMap<(usize, Option<String>), u64>;

/// What `term_counts` answers, as a sorted map.
async fn counted(
    store: &dyn Store,
    t: &Tenant,
    kind: TermKind,
    filter: &TermFilter,
    (s, e): (i64, i64),
    bounds: &[i64],
) -> Counts {
    let mut out = Counts::new();
    for c in store
        .term_counts(t, kind, filter, s, e, bounds, usize::MAX)
        .await
        .unwrap()
    {
        assert!(c.n > 0, "no empty cells");
        let term = match c.term {
            Term::Absent => None,
            Term::Value(v) => Some(v),
            Term::Other => panic!("every value is named when all are asked for"),
        };
        assert!(
            out.insert((c.bucket, term), c.n).is_none(),
            "one cell per key"
        );
    }
    out
}

/// The same, from `list`.
async fn expected(
    store: &dyn Store,
    t: &Tenant,
    kind: TermKind,
    filter: &TermFilter,
    (s, e): (i64, i64),
    bounds: &[i64],
) -> Counts {
    let q = ActivityQuery {
        application: filter.application.clone(),
        event_names: filter.event_names.clone(),
        result: filter.result,
        ..Default::default()
    };
    let mut out = Counts::new();
    for a in listed(store, t, &q, s, e).await {
        let bucket = bounds.partition_point(|b| *b <= a.time_us);
        *out.entry((bucket, key(&a, kind))).or_default() += 1;
    }
    out
}

/// Every filter over ranges in units of `unit` (an hour or a day).
async fn check_all(store: &dyn Store, t: &Tenant, unit: i64) {
    let failure = Some(Outcome::Failure);
    let filters = [
        TermFilter::default(),
        TermFilter {
            result: failure,
            ..Default::default()
        },
        TermFilter {
            application: Some("login".into()),
            result: failure,
            ..Default::default()
        },
        // `logout` is the second event of every 17th activity: counted from rows in its hours.
        TermFilter {
            event_names: vec!["logout".into(), "login_failure".into()],
            result: Some(Outcome::Success),
            ..Default::default()
        },
        TermFilter {
            event_names: vec!["logout".into(), "login_failure".into()],
            result: failure,
            ..Default::default()
        },
        TermFilter {
            application: Some("logto".into()),
            ..Default::default()
        },
    ];
    let ranges: [((i64, i64), Vec<i64>); 5] = [
        // Uneven ends, bounds on whole units.
        (
            (T0 + 7_654_321, T0 + 4 * unit - 1_234_567),
            vec![T0 + unit, T0 + 3 * unit],
        ),
        // Whole units, one bucket.
        ((T0 - unit, T0 + 6 * unit), vec![]),
        // Bounds cutting units (a zone 15 minutes, or six hours, off) and one cutting an hour.
        (
            (T0, T0 + 5 * unit),
            vec![
                T0 + unit / 4,
                T0 + 2 * unit + unit / 4,
                T0 + 3 * unit + HOUR / 4,
            ],
        ),
        // Inside one unit.
        ((T0 + unit + 5, T0 + unit + unit / 2 + 7), vec![]),
        // Before anything was stored.
        ((T0 - 9 * unit, T0 - 8 * unit), vec![]),
    ];
    for kind in [TermKind::Ip, TermKind::Actor] {
        for f in &filters {
            for (range, bounds) in &ranges {
                assert_eq!(
                    counted(store, t, kind, f, *range, bounds).await,
                    expected(store, t, kind, f, *range, bounds).await,
                    "{kind:?} {f:?} {range:?} {bounds:?}"
                );
            }
        }
    }
}

async fn equal_the_list(store: &dyn Store, name: &str, apart: i64, unit: i64) {
    let t = tenant(name);
    store.append(&t, workload(&t, 0, 200, apart)).await.unwrap();
    store
        .append(&t, workload(&t, 200, 200, apart))
        .await
        .unwrap();
    // Another tenant's activities never count.
    let other = tenant(&format!("{name}2"));
    store
        .append(&other, workload(&other, 0, 60, apart))
        .await
        .unwrap();
    check_all(store, &t, unit).await;
    // Packed days (an engine's job packs closed days) count the same; so do late activities
    // stored into packed days, before and after the days are packed again.
    store.pack_days(i64::MAX).await.unwrap();
    check_all(store, &t, unit).await;
    store
        .append(&t, workload(&t, 150, 100, apart))
        .await
        .unwrap();
    check_all(store, &t, unit).await;
    store.pack_days(i64::MAX).await.unwrap();
    check_all(store, &t, unit).await;
    // A tenant never written has no counts.
    let none = counted(
        store,
        &tenant(&format!("{name}3")),
        TermKind::Ip,
        &TermFilter::default(),
        (T0, T0 + unit),
        &[],
    )
    .await;
    assert!(none.is_empty());
}

pub async fn term_counts_equal_the_list_counted_one_by_one(store: Arc<dyn Store>) {
    equal_the_list(&*store, "Cterm", HOURS_APART, HOUR).await;
}

pub async fn term_counts_over_days_equal_the_list_counted_one_by_one(store: Arc<dyn Store>) {
    equal_the_list(&*store, "Ctermd", DAYS_APART, DAY).await;
}

pub async fn grouping_by_ip_or_actor_is_exact_without_a_walk(store: Arc<dyn Store>) {
    let t = tenant("Ctermw");
    store
        .append(&t, workload(&t, 0, 400, HOURS_APART))
        .await
        .unwrap();
    let (start, end) = (T0 + 1_234_567, T0 + 5 * HOUR - 7);
    let starts = vec![T0, T0 + 2 * HOUR, T0 + 4 * HOUR];
    for (group_by, kind) in [
        (GroupBy::Ip, TermKind::Ip),
        (GroupBy::Actor, TermKind::Actor),
    ] {
        let q = AggregateQuery {
            filter: ActivityQuery {
                result: Some(Outcome::Failure),
                ..Default::default()
            },
            start_us: start,
            end_us: end,
            starts: starts.clone(),
            group_by,
            // No row may be walked one by one: the counters answer.
            walk_budget: 0,
        };
        let got = aggregate(&*store, &t, catalog(), &q).await.unwrap();
        assert!(got.complete, "{group_by:?}");
        let f = TermFilter {
            result: Some(Outcome::Failure),
            ..Default::default()
        };
        let want = expected(&*store, &t, kind, &f, (start, end), &starts[1..]).await;
        assert_eq!(got.total, want.values().sum::<u64>());
        let mut cells = Counts::new();
        for (i, b) in got.buckets.iter().enumerate() {
            assert_eq!(b.other, 0);
            for (k, n) in &b.counts {
                cells.insert((i, Some(k.clone())), *n);
            }
        }
        let named: Counts = want.into_iter().filter(|((_, k), _)| k.is_some()).collect();
        assert_eq!(cells, named, "{group_by:?}");
    }
}

/// Asked to name only the `named` largest values, an engine names at least those (and every
/// value tied with the smallest of them), each with its exact counts, and sums the rest per
/// bucket: every bucket still adds up.
pub async fn only_the_largest_values_need_their_names(store: Arc<dyn Store>) {
    let t = tenant("Ctermn");
    store
        .append(&t, workload(&t, 0, 400, HOURS_APART))
        .await
        .unwrap();
    let range = (T0 + 7_654_321, T0 + 5 * HOUR - 1_234_567);
    let bounds = [T0 + HOUR, T0 + 2 * HOUR + HOUR / 4];
    let filters = [
        TermFilter::default(),
        TermFilter {
            result: Some(Outcome::Failure),
            ..Default::default()
        },
    ];
    for kind in [TermKind::Ip, TermKind::Actor] {
        for f in &filters {
            let all = expected(&*store, &t, kind, f, range, &bounds).await;
            let mut totals: BTreeMap<&str, u64> = BTreeMap::new();
            for ((_, k), n) in &all {
                if let Some(k) = k {
                    *totals.entry(k).or_default() += n;
                }
            }
            for named in [0, 1, 2, 3] {
                let mut sorted: Vec<u64> = totals.values().copied().collect();
                sorted.sort_unstable_by(|a, b| b.cmp(a));
                let cut = sorted.get(named.max(1) - 1).copied().unwrap_or(0);
                let cells = store
                    .term_counts(&t, kind, f, range.0, range.1, &bounds, named)
                    .await
                    .unwrap();
                let ctx = format!("{kind:?} {f:?} named {named}");
                let mut got = Counts::new();
                let mut other: BTreeMap<usize, u64> = BTreeMap::new();
                for c in cells {
                    assert!(c.n > 0, "{ctx}: no empty cells");
                    match c.term {
                        Term::Absent => assert!(got.insert((c.bucket, None), c.n).is_none()),
                        Term::Value(v) => assert!(got.insert((c.bucket, Some(v)), c.n).is_none()),
                        Term::Other => assert!(other.insert(c.bucket, c.n).is_none()),
                    }
                }
                // Named values and "none" are exact; each must-name value is there.
                for (key, n) in &got {
                    assert_eq!(all.get(key), Some(n), "{ctx}: {key:?}");
                }
                for ((bucket, k), n) in &all {
                    let must = named > 0 && k.as_deref().is_some_and(|k| totals[k] >= cut);
                    if must || k.is_none() {
                        assert_eq!(got.get(&(*bucket, k.clone())), Some(n), "{ctx}: {k:?}");
                    }
                }
                // Each bucket's unnamed values are summed in its `Other`.
                let mut unnamed: BTreeMap<usize, u64> = BTreeMap::new();
                for ((bucket, k), n) in &all {
                    if !got.contains_key(&(*bucket, k.clone())) {
                        *unnamed.entry(*bucket).or_default() += n;
                    }
                }
                assert_eq!(other, unnamed, "{ctx}");
            }
        }
    }
}

/// Grouping by IP over more values than an answer names: the [`MAX_GROUPS`] largest (ties by
/// value) are named with their exact counts, the rest summed in each bucket's `other`, as
/// counting the list one by one says.
pub async fn grouping_by_ip_names_the_largest_and_sums_the_rest(store: Arc<dyn Store>) {
    let t = tenant("Ctermo");
    // 150 addresses; address k appears (k % 7) + 1 times, spread over two hours.
    let mut batch = Vec::new();
    for k in 0..150i64 {
        for j in 0..(k % 7) + 1 {
            let secs = (k * 7 + j) * 31 % 7_000;
            batch.push(new_activity(
                &t,
                json!({
                    "id": {"applicationName": "login", "time": time(secs)},
                    "actor": {"email": "a@x.io"},
                    "ipAddress": format!("10.0.{}.{}", k / 100, k % 100),
                    "events": [{"name": "login_failure"}],
                    "result": "failure",
                }),
            ));
        }
    }
    store.append(&t, batch).await.unwrap();
    let (start, end) = (T0, T0 + 2 * HOUR);
    let q = AggregateQuery {
        filter: ActivityQuery::default(),
        start_us: start,
        end_us: end,
        starts: vec![start, start + HOUR],
        group_by: GroupBy::Ip,
        walk_budget: 0,
    };
    let got = aggregate(&*store, &t, catalog(), &q).await.unwrap();
    let all = expected(
        &*store,
        &t,
        TermKind::Ip,
        &TermFilter::default(),
        (start, end),
        &[start + HOUR],
    )
    .await;
    let mut totals: BTreeMap<String, u64> = BTreeMap::new();
    for ((_, k), n) in &all {
        *totals.entry(k.clone().unwrap()).or_default() += n;
    }
    let mut ranked: Vec<(String, u64)> = totals.into_iter().collect();
    ranked.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let kept: std::collections::BTreeSet<String> = ranked
        .iter()
        .take(MAX_GROUPS)
        .map(|(k, _)| k.clone())
        .collect();
    assert_eq!(got.total, all.values().sum::<u64>());
    for (i, b) in got.buckets.iter().enumerate() {
        let want: BTreeMap<String, u64> = all
            .iter()
            .filter(|((bucket, k), _)| *bucket == i && kept.contains(k.as_ref().unwrap()))
            .map(|((_, k), n)| (k.clone().unwrap(), *n))
            .collect();
        assert_eq!(b.counts, want, "bucket {i}");
        let rest: u64 = all
            .iter()
            .filter(|((bucket, k), _)| *bucket == i && !kept.contains(k.as_ref().unwrap()))
            .map(|(_, n)| n)
            .sum();
        assert_eq!(b.other, rest, "bucket {i}");
        assert!(rest > 0, "bucket {i}: some groups are left out");
    }
}

async fn purged_restored_erased(store: &dyn Store, name: &str, apart: i64, unit: i64) {
    let t = tenant(name);
    store.append(&t, workload(&t, 0, 400, apart)).await.unwrap();
    store.pack_days(i64::MAX).await.unwrap();
    // A cut-off in the middle of an hour (and of a day), through packed days.
    store.purge_before(T0 + unit + 1_234_567).await.unwrap();
    check_all(store, &t, unit).await;
    store.pack_days(i64::MAX).await.unwrap();
    check_all(store, &t, unit).await;

    // A restored trail counts like an appended one.
    let items = listed(store, &t, &ActivityQuery::default(), i64::MIN, i64::MAX).await;
    let copy = tenant(&format!("{name}r"));
    store.restore(&copy, items).await.unwrap();
    check_all(store, &copy, unit).await;

    // Erasing a subject: no count keyed by their e-mail or address is left, and the erased
    // activities still count, under "none".
    let solo = |secs: i64| {
        new_activity(
            &t,
            json!({
                "id": {"applicationName": "login", "time": time(secs)},
                "actor": {"email": "Solo@X.io"},
                "ipAddress": "192.0.2.77",
                "events": [{"name": "login_failure"}],
                "result": "failure",
            }),
        )
    };
    let receipts = store
        .append(&t, vec![solo(5_000), solo(9_999), solo(10_001)])
        .await
        .unwrap();
    let subject: Vec<i64> = receipts.iter().map(|r| r.unique_qualifier).collect();
    let whole = (T0 - unit, T0 + 6 * unit);
    let any = TermFilter::default();
    store.pack_days(i64::MAX).await.unwrap();
    let ips_before = counted(store, &t, TermKind::Ip, &any, whole, &[]).await;
    assert_eq!(ips_before.get(&(0, Some("192.0.2.77".into()))), Some(&3));
    store.erase_personal(&t, &subject, 99).await.unwrap();
    check_all(store, &t, unit).await;
    // Packed again after the erasure: still no count keyed by the subject.
    store.pack_days(i64::MAX).await.unwrap();
    check_all(store, &t, unit).await;
    for kind in [TermKind::Ip, TermKind::Actor] {
        let after = counted(store, &t, kind, &any, whole, &[]).await;
        for (_, term) in after.keys() {
            assert!(
                !matches!(term.as_deref(), Some("192.0.2.77" | "solo@x.io")),
                "{kind:?}: a count keyed by the erased subject: {term:?}"
            );
        }
        let total: u64 = after.values().sum();
        assert_eq!(
            total,
            ips_before.values().sum::<u64>(),
            "erased activities still count"
        );
    }
}

pub async fn purges_restores_and_erasures_keep_term_counts_exact(store: Arc<dyn Store>) {
    purged_restored_erased(&*store, "Ctermp", HOURS_APART, HOUR).await;
}

pub async fn purges_restores_and_erasures_keep_day_term_counts_exact(store: Arc<dyn Store>) {
    purged_restored_erased(&*store, "Ctermq", DAYS_APART, DAY).await;
}
