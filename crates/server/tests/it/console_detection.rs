//! A detection finding on the console's detail page: its reasons in the viewer's language with
//! their evidence, its risk score, and links to the events behind it. And findings can only
//! come from the detectors: a producer sending one is refused, naming the field.

use axum::http::StatusCode;
use serde_json::json;

use authtrail_detect::{Finding, FindingKind};
use authtrail_model::Tenant;
use authtrail_model::store::prelude::*;

use crate::console::{Browser, PW, ingest, with_user};
use crate::support::{Harness, activity};

#[tokio::test]
async fn a_findings_reasons_and_events_show_in_both_languages() {
    let h = Harness::new().await;
    with_user(&h, "fay", "Ctest").await;
    ingest(
        &h,
        vec![
            activity("ada@example.com", "login_success"),
            activity("ada@example.com", "login_success"),
        ],
    )
    .await;
    let tenant = Tenant::new("Ctest").unwrap();
    let logins: Vec<i64> = h
        .store
        .tail(&tenant, 0, 100)
        .await
        .unwrap()
        .iter()
        .filter(|a| a.application == "login")
        .map(|a| a.unique_qualifier)
        .collect();
    let (first, second) = (logins[0], logins[1]);
    let finding = Finding {
        kind: FindingKind::ImpossibleTravel,
        time_us: 1_767_603_600_000_000,
        account: Some("ada@example.com".into()),
        ip: Some("198.51.100.7".parse().unwrap()),
        reasons: vec![
            "velocity_kmh: 9403".into(),
            "countries: TW→BR".into(),
            "custom_code: kept as it is".into(),
        ],
        risk: 80,
        sequences: vec![first, second],
        accounts: Vec::new(),
        account_count: None,
        key: "impossible_travel:3".into(),
    };
    let receipts = h
        .state
        .service
        .record_findings(&tenant, &[finding])
        .await
        .unwrap();
    let uq = receipts[0].unique_qualifier;

    let mut b = Browser::new(&h);
    b.sign_in("fay", PW).await;
    let en = b.get(&format!("/console/logs/{uq}?lang=en")).await;
    assert_eq!(en.status, StatusCode::OK);
    let links = format!(
        "<a href=\"/console/logs/{first}\">#{first}</a>, <a href=\"/console/logs/{second}\">#{second}</a>"
    );
    for text in [
        "Why this was flagged",
        "<strong id=\"risk-score\">80</strong>",
        // minijinja escapes the slash.
        "Speed between sign-ins (km&#x2f;h) <code>velocity_kmh</code></td><td>9403</td>",
        "Countries <code>countries</code></td><td>TW→BR</td>",
        "custom_code <code>custom_code</code></td><td>kept as it is</td>",
        links.as_str(),
        "Impossible travel by ada@example.com: velocity_kmh: 9403, countries: TW→BR",
    ] {
        assert!(en.body.contains(text), "{text} in {}", en.body);
    }
    let zh = b.get(&format!("/console/logs/{uq}?lang=zh-TW")).await;
    for text in [
        "標記原因",
        "風險分數",
        "兩次登入間的速度（公里／小時） <code>velocity_kmh</code>",
        "ada@example.com 不可能的移動",
    ] {
        assert!(zh.body.contains(text), "{text} in {}", zh.body);
    }
    // An event behind the finding links to it; one that is not, does not.
    let behind = b.get(&format!("/console/logs/{second}?lang=en")).await;
    assert!(!behind.body.contains("id=\"finding\""));
    assert!(
        behind.body.contains("Findings about this event"),
        "{}",
        behind.body
    );
    let table = &behind.body[behind.body.find("id=\"flagged-by\"").unwrap()..];
    assert!(table.contains(&format!("<tr data-uq=\"{uq}\">")), "{table}");
    assert!(table.contains("Impossible travel"), "{table}");
    ingest(&h, vec![activity("bob@example.com", "login_success")]).await;
    let last = h.store.tail(&tenant, uq, 10).await.unwrap()[0].unique_qualifier;
    let other = b.get(&format!("/console/logs/{last}?lang=zh-TW")).await;
    assert_eq!(other.status, StatusCode::OK);
    assert!(!other.body.contains("id=\"flagged-by\""));
}

#[tokio::test]
async fn a_producer_cannot_send_a_finding() {
    let h = Harness::new().await;
    let token = h.token(&["ingest"]).await;
    let (s, body) = h
        .post_json(
            &token,
            json!([{
                "id": {"applicationName": "detection"},
                "actor": {"email": "ada@example.com"},
                "events": [{"name": "brute_force", "parameters": [
                    {"name": "reasons", "multiValue": ["made: up"]}]}],
            }]),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(
        body.to_string()
            .contains("activities[0].id.applicationName"),
        "{body}"
    );
}

#[tokio::test]
async fn the_overview_says_when_detection_runs_without_an_ip_database() {
    let mut h = Harness::new().await;
    with_user(&h, "ida", "Ctest").await;
    let cases = [
        (authtrail_server::Detection::Off, false),
        (authtrail_server::Detection::On { ip_database: true }, false),
        (authtrail_server::Detection::On { ip_database: false }, true),
    ];
    for (detection, shown) in cases {
        h.state = h.state.clone().with_detection(detection);
        for (lang, words) in [
            ("en", "without an IP database"),
            ("zh-TW", "未設定 IP 資料庫"),
        ] {
            let mut b = Browser::new(&h);
            b.headers.push(("accept-language", lang.into()));
            b.sign_in("ida", PW).await;
            let p = b.get("/console/overview").await;
            assert_eq!(p.status, StatusCode::OK);
            assert_eq!(
                p.body.contains("id=\"detection-notice\"") && p.body.contains(words),
                shown,
                "{detection:?} in {lang}"
            );
        }
    }
    // And /metrics says the same to a monitoring system.
    let admin = h.token(&["admin"]).await;
    let (s, text, _) = h.request_raw("GET", "/metrics", &admin).await;
    assert_eq!(s, StatusCode::OK);
    assert!(text.contains("authtrail_detection_ip_database 0"), "{text}");
}
