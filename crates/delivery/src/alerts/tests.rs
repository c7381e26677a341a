//! The evaluation and the messages, without a store or a clock: thresholds on event time per
//! group, throttling with held-back matches, summaries, and the words of each alert.

use authtrail_catalog::Catalog;
use authtrail_model::validate::{Context, validate_item};
use authtrail_model::{Activity, Tenant};
use authtrail_service::alerts::{AlertPlan, AlertState, GroupBy, Rule, RuleInput};
use serde_json::{Value, json};

use super::eval::{Reason, Step, due_summary, evaluate, next_summary_in};
use super::message::render;

const T0: i64 = 1_767_225_600_000_000;
const MIN: i64 = 60_000_000;

fn catalog() -> Catalog {
    Catalog::builtin().unwrap()
}

fn activity(seq: i64, at: i64, actor: &str, ip: &str, name: &str) -> Activity {
    let catalog = catalog();
    let tenant = Tenant::new("Cx").unwrap();
    let ctx = Context {
        catalog: &catalog,
        tenant: &tenant,
        now_us: T0 + 1000 * MIN,
    };
    let t = authtrail_model::wire_time::format_rfc3339(
        at,
        authtrail_model::wire_time::Precision::Micros,
    );
    let v = json!({"id": {"applicationName": "login", "time": t}, "actor": {"email": actor},
        "ipAddress": ip, "events": [{"name": name}]});
    let n = validate_item(&ctx, 0, &v).unwrap();
    Activity {
        tenant,
        unique_qualifier: seq,
        time_us: n.time_us,
        received_us: n.time_us,
        application: n.application,
        body: n.body,
    }
}

fn plan(body: Value) -> AlertPlan {
    let input = RuleInput::from_json(&body, true).unwrap();
    let (q, category, tag) = input.query.unwrap_or_default();
    let rule = Rule {
        name: "R".into(),
        enabled: true,
        language: input.language.unwrap_or_else(|| "en".into()),
        throttle_minutes: input.throttle_minutes.unwrap_or(0),
        query: q,
        category,
        tag,
        threshold: input.threshold.flatten(),
        group_by: input.group_by.unwrap_or(GroupBy::Overall),
        recipients: Vec::new(),
        preset: None,
    };
    AlertPlan {
        query: rule.resolve(&catalog()).unwrap(),
        rule,
        state: AlertState::default(),
        targets: Vec::new(),
    }
}

#[test]
fn a_threshold_fires_per_group_within_its_window_of_event_time() {
    let p = plan(json!({"query": {"eventName": "login_failure"},
        "threshold": {"count": 3, "windowMinutes": 5, "groupBy": "ip"}}));
    let mut s = AlertState::default();
    // 10.0.0.3's matches are 4 minutes apart: never three within five minutes. 10.0.0.2's
    // arrive out of event-time order, and still make three within five minutes.
    let read = vec![
        activity(1, T0, "a@x.io", "10.0.0.3", "login_failure"),
        activity(2, T0 + 4 * MIN, "a@x.io", "10.0.0.3", "login_failure"),
        activity(3, T0 + 2 * MIN, "b@x.io", "10.0.0.2", "login_failure"),
        activity(4, T0 + 8 * MIN, "a@x.io", "10.0.0.3", "login_failure"),
        activity(5, T0, "b@x.io", "10.0.0.2", "login_success"),
        activity(6, T0 + 4 * MIN, "b@x.io", "10.0.0.2", "login_failure"),
        activity(7, T0 + MIN, "c@x.io", "10.0.0.2", "login_failure"),
        activity(8, T0 + 9 * MIN, "a@x.io", "10.0.0.3", "login_failure"),
    ];
    let Step::Fire { fire, through } = evaluate(&p, &mut s, &read, T0) else {
        panic!("a threshold crossing")
    };
    assert_eq!(through, 7);
    assert_eq!(fire.group, "10.0.0.2");
    assert_eq!(fire.sequences, vec![3, 6, 7]);
    assert_eq!(
        fire.reason,
        Reason::Threshold {
            count: 3,
            window_minutes: 5
        }
    );
    // The window starts again; 10.0.0.3 keeps its two most recent within five minutes.
    assert!(s.groups.get("10.0.0.2").is_none_or(|g| g.window.is_empty()));
    assert_eq!(
        evaluate(&p, &mut s, &read[7..], T0),
        Step::Scanned { through: 8 }
    );
    assert_eq!(
        s.groups["10.0.0.3"].window,
        vec![(T0 + 8 * MIN, 4), (T0 + 9 * MIN, 8)]
    );
}

#[test]
fn the_throttle_holds_back_and_a_summary_follows_its_period() {
    let p = plan(
        json!({"query": {"eventName": "login_failure"}, "throttleMinutes": 10,
        "groupBy": "actor"}),
    );
    let mut s = AlertState::default();
    let read: Vec<Activity> = (1..=4)
        .map(|i| {
            activity(
                i,
                T0 + i,
                if i == 3 { "other@x.io" } else { "a@x.io" },
                "10.0.0.1",
                "login_failure",
            )
        })
        .collect();
    let now = T0;
    let Step::Fire { fire, through: 1 } = evaluate(&p, &mut s, &read, now) else {
        panic!("the first match alerts")
    };
    assert_eq!((fire.group.as_str(), fire.total()), ("a@x.io", 1));
    // a@x.io's second match is held; other@x.io has its own throttle.
    let Step::Fire { fire, through: 3 } = evaluate(&p, &mut s, &read[1..], now) else {
        panic!("another group alerts")
    };
    assert_eq!(fire.group, "other@x.io");
    assert_eq!(
        evaluate(&p, &mut s, &read[3..], now + MIN),
        Step::Scanned { through: 4 }
    );
    assert_eq!(
        s.groups["a@x.io"].held.as_ref().unwrap().sequences,
        vec![2, 4]
    );
    assert!(due_summary(&p, &mut s, now + 9 * MIN).is_none());
    assert_eq!(next_summary_in(&p, &s, now + 9 * MIN), Some(MIN));
    let summary = due_summary(&p, &mut s, now + 10 * MIN).expect("the period is over");
    assert_eq!(summary.reason, Reason::Summary);
    assert_eq!((summary.total(), summary.all_sequences()), (2, vec![2, 4]));
    assert!(due_summary(&p, &mut s, now + 10 * MIN).is_none());
    // The next match after a held one reports both.
    let mut s2 = AlertState::default();
    evaluate(&p, &mut s2, &read[..1], now);
    evaluate(&p, &mut s2, &read[1..2], now);
    let Step::Fire { fire, .. } = evaluate(&p, &mut s2, &read[3..], now + 11 * MIN) else {
        panic!("alerts after the period")
    };
    assert_eq!((fire.total(), fire.all_sequences()), (2, vec![2, 4]));
}

#[test]
fn messages_use_the_templates_in_the_rules_language_with_console_links() {
    let c = catalog();
    let mut p = plan(json!({"query": {"eventName": "login_failure"},
        "threshold": {"count": 2, "windowMinutes": 5, "groupBy": "ip"}, "language": "zh-TW"}));
    p.rule.name = "暴力破解".into();
    let mut s = AlertState::default();
    let read = vec![
        activity(41, T0, "a@x.io", "10.0.0.9", "login_failure"),
        activity(42, T0 + MIN, "b@x.io", "10.0.0.9", "login_failure"),
    ];
    let Step::Fire { fire, .. } = evaluate(&p, &mut s, &read, T0) else {
        panic!()
    };
    let m = render(
        &p,
        "alr_1",
        &c,
        "https://audit.example.com/",
        &fire,
        &read,
        T0,
    );
    assert_eq!(
        m.subject,
        "[暴力破解] 5 分鐘內有 2 筆符合的活動（IP 位址 10.0.0.9）"
    );
    assert!(m.text.contains("a@x.io 登入失敗"), "{}", m.text);
    assert!(
        m.text.contains("https://audit.example.com/console/logs/41"),
        "{}",
        m.text
    );
    assert!(m.text.contains("ip=10.0.0.9"), "{}", m.text);
    assert!(m.html.contains("<html lang=\"zh-TW\">"));
    assert!(
        m.chat
            .contains("<https://audit.example.com/console/logs/42|")
    );
    assert_eq!((m.count, m.sequences.clone()), (2, vec![41, 42]));
    // Text from an activity is escaped in HTML.
    p.rule.language = "en".into();
    let evil = activity(43, T0, "<b>@x.io", "10.0.0.9", "login_failure");
    let fire = super::eval::Fire {
        reason: Reason::Match,
        group: String::new(),
        sequences: vec![43],
        count: 1,
        held: None,
    };
    let m = render(&p, "alr_1", &c, "https://a.example", &fire, &[evil], T0);
    assert!(!m.html.contains("<b>@x.io"), "{}", m.html);
    assert_eq!(m.subject, "[暴力破解] <b>@x.io failed to login");
}

#[test]
fn quiet_groups_forget_old_matches_so_the_state_stays_small() {
    let p = plan(json!({"query": {"eventName": "login_failure"},
        "threshold": {"count": 3, "windowMinutes": 5, "groupBy": "ip"}}));
    let mut s = AlertState::default();
    let read: Vec<Activity> = (1..=200)
        .map(|i| {
            activity(
                i,
                T0 + i,
                "a@x.io",
                &format!("10.0.{}.{}", i / 250, i % 250),
                "login_failure",
            )
        })
        .collect();
    assert_eq!(
        evaluate(&p, &mut s, &read, T0),
        Step::Scanned { through: 200 }
    );
    assert_eq!(s.groups.len(), 200);
    // Within the hour's grace a late match still meets its companions...
    let late = [activity(
        201,
        T0 + 61 * MIN,
        "b@x.io",
        "10.0.9.9",
        "login_failure",
    )];
    evaluate(&p, &mut s, &late, T0);
    assert_eq!(s.groups.len(), 201);
    // ...past it, the quiet groups are forgotten.
    let later = [activity(
        202,
        T0 + 70 * MIN,
        "b@x.io",
        "10.0.9.9",
        "login_failure",
    )];
    evaluate(&p, &mut s, &later, T0);
    assert_eq!(s.groups.keys().collect::<Vec<_>>(), vec!["10.0.9.9"]);
}
