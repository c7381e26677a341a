//! The property that ties the engines' SQL to the one predicate: for random activities and random
//! queries, an engine's `list` (every page) returns exactly the activities for which
//! [`ActivityQuery::matches`] holds, newest first. Each engine's test runs [`check`] under
//! proptest with the [`activities`] and [`queries`] strategies.
//!
//! Values are drawn from small pools so that conditions often hold and often fail: e-mails that
//! differ only in case, addresses inside and outside the CIDR blocks queried, times that tie.

use authtrail_model::Activity;
use authtrail_model::filters;
use authtrail_model::query::IpFilter;
use proptest::prelude::*;
use proptest::sample::select;

use crate::*;

/// One random activity's choices, turned into Google-shaped JSON by [`Spec::to_json`].
#[derive(Debug, Clone)]
pub struct Spec {
    secs: i64,
    events: Vec<&'static str>,
    email: Option<&'static str>,
    profile: Option<&'static str>,
    ip: Option<&'static str>,
    failed: bool,
    session: Option<&'static str>,
    client: Option<&'static str>,
    login_type: &'static str,
    suspicious: bool,
}

const EVENTS: &[&str] = &["login_success", "login_failure", "logout"];
const IPS: &[&str] = &[
    "203.0.113.7",
    "203.0.113.200",
    "198.51.100.1",
    "2001:db8::1",
    "2001:db8:1::5",
];

impl Spec {
    fn to_json(&self) -> Value {
        let events: Vec<Value> = self
            .events
            .iter()
            .map(|&name| {
                // Each event gets only the parameters the catalogue gives it.
                let mut params = vec![json!({"name": "login_type", "value": self.login_type})];
                if name == "login_success" {
                    params.push(json!({"name": "is_suspicious", "boolValue": self.suspicious}));
                }
                if name != "logout" {
                    params.push(
                        json!({"name": "login_challenge_method", "multiValue": ["password"]}),
                    );
                }
                json!({"name": name, "parameters": params})
            })
            .collect();
        let mut actor = serde_json::Map::new();
        if let Some(e) = self.email {
            actor.insert("email".into(), json!(e));
        }
        if let Some(p) = self.profile {
            actor.insert("profileId".into(), json!(p));
        }
        let mut v = json!({
            "id": {"applicationName": "login", "time": time(self.secs)},
            "actor": actor,
            "events": events,
            "result": if self.failed { "failure" } else { "success" },
        });
        if let Some(ip) = self.ip {
            v["ipAddress"] = json!(ip);
        }
        if let Some(s) = self.session {
            v["sessionId"] = json!(s);
        }
        if let Some(c) = self.client {
            v["clientApplicationId"] = json!(c);
        }
        v
    }
}

pub fn activities() -> impl Strategy<Value = Vec<Spec>> {
    let spec = (
        (0i64..12, prop::sample::subsequence(EVENTS, 1..=2)),
        (
            prop::option::of(select(&["a@x.io", "b@x.io", "B@X.io"][..])),
            prop::option::of(select(&["p1", "p2"][..])),
            prop::option::of(select(IPS)),
        ),
        (
            any::<bool>(),
            prop::option::of(select(&["s1", "s2"][..])),
            prop::option::of(select(&["app-1", "app-2"][..])),
            select(&["google_password", "saml"][..]),
            any::<bool>(),
        ),
    )
        .prop_map(
            |(
                (secs, events),
                (email, profile, ip),
                (failed, session, client, login_type, suspicious),
            )| Spec {
                secs,
                events,
                email,
                profile,
                ip,
                failed,
                session,
                client,
                login_type,
                suspicious,
            },
        );
    prop::collection::vec(spec, 0..30)
}

fn ip_filter() -> impl Strategy<Value = Option<IpFilter>> {
    prop::option::of(
        select(
            &[
                "203.0.113.7",
                "2001:db8::1",
                "203.0.113.0/24",
                "198.51.100.0/31",
                "2001:db8::/48",
                "0.0.0.0/0",
            ][..],
        )
        .prop_map(|s| s.parse::<IpFilter>().unwrap()),
    )
}

pub fn queries() -> impl Strategy<Value = ActivityQuery> {
    (
        (
            prop::option::of(select(&["login", "admin"][..])),
            prop::sample::subsequence(EVENTS, 0..=2),
            prop::option::of(select(&["b@x.io", "B@x.IO", "p1", "a@x.io"][..])),
            ip_filter(),
        ),
        (
            prop::option::of(any::<bool>()),
            prop::option::of(select(&["s1", "s2"][..])),
            prop::option::of(0i64..12),
            prop::option::of(1i64..13),
        ),
        (
            prop::option::of(select(
                &[
                    "login_type==saml",
                    "login_type==google_password",
                    "is_suspicious==true",
                    "is_suspicious==false",
                    "is_suspicious==yes",
                    "login_challenge_method==password,login_type<>saml",
                    "login_type>h",
                ][..],
            )),
            prop::option::of(select(&["app-1", "app-2"][..])),
            1usize..7,
        ),
    )
        .prop_map(
            |((app, names, actor, ip), (failed, session, start, end), (f, client, limit))| {
                ActivityQuery {
                    application: app.map(str::to_string),
                    event_names: names.into_iter().map(str::to_string).collect(),
                    actor: actor.map(ActorFilter::from_key),
                    ip,
                    result: failed.map(|f| {
                        if f {
                            Outcome::Failure
                        } else {
                            Outcome::Success
                        }
                    }),
                    session_id: session.map(str::to_string),
                    start_us: start.map(|s| T0 + s * 1_000_000),
                    end_us: end.map(|s| T0 + s * 1_000_000),
                    filters: f.map(|f| filters::parse(f).unwrap()).unwrap_or_default(),
                    client_application_id: client.map(str::to_string),
                    after: None,
                    limit,
                }
            },
        )
}

/// Stores `specs` in a tenant of their own, then checks every query against [`ActivityQuery::matches`].
/// Returns a description of the first disagreement.
pub async fn check(
    store: &dyn Store,
    tenant_name: &str,
    specs: &[Spec],
    queries: &[ActivityQuery],
) -> Result<(), String> {
    let t = tenant(tenant_name);
    let batch = specs
        .iter()
        .map(|s| new_activity(&t, s.to_json()))
        .collect();
    store.append(&t, batch).await.map_err(|e| e.to_string())?;
    let stored = store.tail(&t, 0, 1000).await.map_err(|e| e.to_string())?;
    for q in queries {
        let mut want: Vec<&Activity> = stored.iter().filter(|a| q.matches(a)).collect();
        want.sort_by_key(|a| std::cmp::Reverse((a.time_us, a.unique_qualifier)));
        let want: Vec<i64> = want.iter().map(|a| a.unique_qualifier).collect();
        let got = all(store, &t, q.clone()).await;
        if got != want {
            return Err(format!("query {q:?}: listed {got:?}, matches {want:?}"));
        }
    }
    Ok(())
}
