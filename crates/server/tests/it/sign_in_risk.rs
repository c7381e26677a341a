//! A sign-in's risk score (issue #20): through `GET /v1/activities/{uniqueQualifier}` and on the
//! console's detail page in both languages, below the threshold too; absent for an activity the
//! detectors did not score; gone when the person is erased.

use axum::http::StatusCode;
use serde_json::{Value, json};

use authtrail_model::Tenant;
use authtrail_model::store::SignInScore;
use authtrail_model::store::prelude::*;

use crate::console::{Browser, PW, ingest, with_user};
use crate::support::{Harness, activity};

/// Three sign-ins of ada's scored: nothing unusual, below the threshold, at it; a fourth not
/// scored. Returns their uniqueQualifiers.
async fn scored(h: &Harness) -> [i64; 4] {
    ingest(
        h,
        (0..4)
            .map(|_| activity("ada@example.com", "login_success"))
            .collect(),
    )
    .await;
    let tenant = Tenant::new("Ctest").unwrap();
    let logins: Vec<(i64, i64)> = h
        .store
        .tail(&tenant, 0, 100)
        .await
        .unwrap()
        .iter()
        .filter(|a| a.application == "login")
        .map(|a| (a.unique_qualifier, a.time_us))
        .collect();
    let score = |i: usize, risk: u8, reasons: &[&str]| SignInScore {
        seq: logins[i].0,
        time_us: logins[i].1,
        risk,
        threshold: 35,
        reasons: reasons.iter().map(|r| r.to_string()).collect(),
    };
    let scores = [
        score(0, 0, &[]),
        score(
            1,
            30,
            &[
                "new_network: 198.51.100.0/24",
                "rare_asn: AS64502 (1 of 60 sign-ins)",
            ],
        ),
        score(
            2,
            45,
            &["new_device: curl/8.5", "new_network: 198.51.100.0/24"],
        ),
    ];
    let n = h
        .state
        .service
        .record_sign_in_scores(&tenant, &scores)
        .await
        .unwrap();
    assert_eq!(n, 3);
    [logins[0].0, logins[1].0, logins[2].0, logins[3].0]
}

#[tokio::test]
async fn the_api_answers_a_scored_sign_ins_risk_and_nothing_for_others() {
    let h = Harness::new().await;
    let [calm, below, risky, unscored] = scored(&h).await;
    let read = h.token(&["read"]).await;
    let risk = |b: &Value| b.get("risk").cloned();
    let (s, b) = h.get(&read, &format!("/v1/activities/{below}")).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(
        risk(&b),
        Some(json!({
            "score": 30,
            "reasons": ["new_network: 198.51.100.0/24", "rare_asn: AS64502 (1 of 60 sign-ins)"],
            "threshold": 35,
        }))
    );
    assert_eq!(b["id"]["uniqueQualifier"], below.to_string());
    let (_, b) = h.get(&read, &format!("/v1/activities/{calm}")).await;
    assert_eq!(
        risk(&b),
        Some(json!({"score": 0, "reasons": [], "threshold": 35}))
    );
    let (_, b) = h.get(&read, &format!("/v1/activities/{risky}")).await;
    assert_eq!(b["risk"]["score"], 45);
    let (s, b) = h.get(&read, &format!("/v1/activities/{unscored}")).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(risk(&b), None, "not scored: no member");
    // The list does not carry it.
    let (_, b) = h.get(&read, "/v1/activities?limit=10").await;
    let items = b["items"].as_array().unwrap();
    assert!(items.iter().all(|a| a.get("risk").is_none()), "{b}");

    // Erasing the person deletes the scores, whose evidence names networks and devices.
    let admin = h.token(&["admin"]).await;
    let (s, b, _) = h
        .request(
            "POST",
            "/v1/subjects:erase",
            Some(&admin),
            Some("application/json"),
            Some(
                json!({"actorEmail": "ada@example.com"})
                    .to_string()
                    .into_bytes(),
            ),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    for uq in [calm, below, risky] {
        let (s, b) = h.get(&read, &format!("/v1/activities/{uq}")).await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(risk(&b), None, "{uq}: {b}");
    }
    let tenant = Tenant::new("Ctest").unwrap();
    let left = h
        .store
        .sign_in_scores(&tenant, &[calm, below, risky])
        .await
        .unwrap();
    assert_eq!(left, vec![], "deleted from the store, not only hidden");
}

#[tokio::test]
async fn the_detail_page_shows_a_sign_ins_risk_in_both_languages() {
    let h = Harness::new().await;
    with_user(&h, "fay", "Ctest").await;
    let [calm, below, risky, unscored] = scored(&h).await;
    let mut b = Browser::new(&h);
    b.sign_in("fay", PW).await;
    let en = b.get(&format!("/console/logs/{below}?lang=en")).await;
    assert_eq!(en.status, StatusCode::OK);
    for text in [
        "<section id=\"risk\">",
        "Risk of this sign-in",
        "Risk score: <strong id=\"sign-in-risk\">30</strong> / 100",
        "Threshold: <span id=\"risk-threshold\">35</span>",
        "<p id=\"risk-verdict\">Below the threshold: no finding</p>",
        // minijinja escapes the slash.
        "New network <code>new_network</code></td><td>198.51.100.0&#x2f;24</td>",
        "Rarely used network provider (ASN) <code>rare_asn</code></td><td>AS64502 (1 of 60 sign-ins)</td>",
    ] {
        assert!(en.body.contains(text), "{text} in {}", en.body);
    }
    let zh = b.get(&format!("/console/logs/{below}?lang=zh-TW")).await;
    for text in [
        "此次登入的風險",
        "風險分數",
        "門檻",
        "低於門檻：未產生偵測結果",
        "新網路 <code>new_network</code>",
        "少用的網路業者（ASN） <code>rare_asn</code>",
    ] {
        assert!(zh.body.contains(text), "{text} in {}", zh.body);
    }
    let at = b.get(&format!("/console/logs/{risky}?lang=en")).await;
    assert!(
        at.body
            .contains("At or above the threshold: flagged as a risky sign-in"),
        "{}",
        at.body
    );
    assert!(
        at.body
            .contains("New device <code>new_device</code></td><td>curl&#x2f;8.5</td>")
    );
    let nothing = b.get(&format!("/console/logs/{calm}?lang=en")).await;
    assert!(
        nothing
            .body
            .contains("<strong id=\"sign-in-risk\">0</strong>")
    );
    assert!(nothing.body.contains("Nothing unusual"), "{}", nothing.body);
    assert!(!nothing.body.contains("id=\"risk-reasons\""));
    let none = b.get(&format!("/console/logs/{unscored}?lang=en")).await;
    assert_eq!(none.status, StatusCode::OK);
    assert!(!none.body.contains("id=\"risk\""), "{}", none.body);
}
