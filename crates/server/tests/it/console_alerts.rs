//! The console's alerts page: "Alert me when this matches" carries the audit log's filter to a
//! form that creates a rule as the console user (audited), the page lists each rule with when
//! it last fired, and a bad field is shown, naming it.

use axum::http::StatusCode;

use crate::console::{Browser, PW, with_user};
use crate::support::Harness;

#[tokio::test]
async fn alert_me_creates_a_rule_from_the_lists_filter() {
    let h = Harness::new().await;
    with_user(&h, "alice", "Ctest").await;
    let mut b = Browser::new(&h);
    b.sign_in("alice", PW).await;
    let list = b
        .get("/console/logs?event=login_failure&actor=mallory%40example.com&range=24h&lang=en")
        .await;
    assert_eq!(list.status, StatusCode::OK);
    let link = list.href("alert-me").expect("the alert-me link");
    assert!(link.starts_with("/console/alerts?"), "{link}");
    assert!(
        link.contains("event=login_failure") && !link.contains("range="),
        "{link}"
    );
    let page = b.get(&link).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("No alert rules yet."));
    assert!(
        page.body
            .contains(r#"name="actor" value="mallory@example.com""#),
        "{}",
        page.body
    );
    let csrf = page.csrf();
    // A bad address is shown naming its field; nothing is created.
    let bad = b
        .post(
            "/console/alerts",
            &[
                ("csrf", &csrf),
                ("event", "login_failure"),
                ("name", "Mallory"),
                ("email", "not-an-address"),
                ("language", "en"),
                ("throttle", "15"),
            ],
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.body.contains("recipients[0].email"), "{}", bad.body);
    // Without the session's token, refused.
    let forged = b
        .post(
            "/console/alerts",
            &[("csrf", "x"), ("name", "M"), ("email", "a@example.com")],
        )
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    // 登入失敗 is how the zh-TW picker names login_failure.
    let made = b
        .post(
            "/console/alerts",
            &[
                ("csrf", &csrf),
                ("event", "登入失敗"),
                ("actor", "mallory@example.com"),
                ("name", "Mallory"),
                ("email", "secops@example.com"),
                ("language", "zh-TW"),
                ("throttle", "5"),
            ],
        )
        .await;
    assert_eq!(made.status, StatusCode::SEE_OTHER, "{}", made.body);
    assert!(made.location().starts_with("/console/alerts?created=alr_"));
    let tenant = authtrail_model::Tenant::new("Ctest").unwrap();
    let rules = h.state.service.list_alert_rules(&tenant).await.unwrap();
    let v = serde_json::to_value(&rules).unwrap();
    assert_eq!(
        v[0]["query"]["eventName"],
        serde_json::json!(["login_failure"])
    );
    assert_eq!(v[0]["query"]["actor"], "mallory@example.com");
    assert_eq!(
        (v[0]["language"].as_str(), v[0]["throttleMinutes"].as_u64()),
        (Some("zh-TW"), Some(5))
    );
    let page = b.get(made.location()).await;
    assert!(
        page.body.contains(&format!(r#"id="rule-{}""#, rules[0].id)),
        "{}",
        page.body
    );
    assert!(page.body.contains("secops@example.com") && page.body.contains("0 alerts"));
    // Recorded as the console user's action.
    let trail = h.state.service.store().tail(&tenant, 0, 100).await.unwrap();
    let created = trail
        .iter()
        .find(|a| a.body.events[0].name == "alert_rule.create")
        .expect("an alert_rule.create event");
    assert_eq!(created.body.actor.email, None);
    assert_eq!(created.body.actor.profile_id.as_deref(), Some("alice"));
}
