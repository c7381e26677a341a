//! The parsed user agent: Logto's `userAgentParsed` on every log read through `/api/logs`
//! (including events that did not come from Logto), kept as it came when a Logto log carried
//! its own, and shown on the console's detail page in both languages.

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::console::{Browser, PW, ingest, with_user};
use crate::support::{Harness, activity};

const ANDROID: &str = "Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.6778.39 Mobile Safari/537.36";

#[tokio::test]
async fn every_log_with_a_user_agent_has_it_parsed() {
    let h = Harness::new().await;
    let mut google = activity("ada@example.com", "login_success");
    google["userAgent"] = json!(ANDROID);
    let bare = activity("bob@example.com", "login_success");
    ingest(&h, vec![google, bare]).await;
    // A Logto log that came with Logto's own parse keeps it, whatever it says.
    let theirs = json!({"ua": "x", "browser": {"name": "Their Browser"}, "engine": {}, "os": {}, "device": {}, "cpu": {}});
    let ingest_tok = h.token(&["ingest"]).await;
    let (s, _, _) = h
        .request(
            "POST",
            "/api/logs",
            Some(&ingest_tok),
            Some("application/json"),
            Some(
                json!([{"id": "l1", "key": "Interaction.SignIn.Submit", "createdAt": 1_795_391_000_000i64,
                        "payload": {"key": "Interaction.SignIn.Submit", "result": "Success",
                                    "userAgent": "x", "userAgentParsed": theirs}}])
                .to_string()
                .into_bytes(),
            ),
        )
        .await;
    assert_eq!(s, StatusCode::OK);

    let read = h.token(&["read"]).await;
    let (s, logs) = h.get(&read, "/api/logs").await;
    assert_eq!(s, StatusCode::OK, "{logs}");
    let by_actor = |email: &str| -> Value {
        logs.as_array()
            .unwrap()
            .iter()
            .find(|l| l["payload"]["authtrail"]["actor"]["email"] == email)
            .unwrap_or_else(|| panic!("no log of {email} in {logs}"))
            .clone()
    };
    let parsed = &by_actor("ada@example.com")["payload"]["userAgentParsed"];
    assert_eq!(parsed["ua"], ANDROID);
    assert_eq!(parsed["browser"]["name"], "Chrome Mobile");
    assert_eq!(parsed["browser"]["major"], "131");
    assert_eq!(parsed["os"], json!({"name": "Android", "version": "14"}));
    assert_eq!(
        parsed["device"],
        json!({"vendor": "Samsung", "model": "SM-S918B"})
    );
    assert_eq!(parsed["engine"]["name"], "Blink");
    assert!(
        by_actor("bob@example.com")["payload"]
            .get("userAgentParsed")
            .is_none(),
        "no user agent, nothing parsed"
    );
    let logto = logs
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["key"] == "Interaction.SignIn.Submit")
        .unwrap();
    assert_eq!(logto["payload"]["userAgentParsed"], theirs);
    // The single-log endpoint says the same.
    let id = by_actor("ada@example.com")["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (s, one) = h.get(&read, &format!("/api/logs/{id}")).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(&one["payload"]["userAgentParsed"], parsed);
}

#[tokio::test]
async fn the_detail_page_names_the_browser_and_device_in_both_languages() {
    let h = Harness::new().await;
    with_user(&h, "uma", "Ctest").await;
    let mut a = activity("ada@example.com", "login_success");
    a["userAgent"] = json!(ANDROID);
    ingest(&h, vec![a]).await;
    let summary = "Chrome Mobile 131.0.6778.39 · Android 14 · Samsung SM-S918B · Blink 131.0.6778";
    for (lang, label) in [("en", "Browser and device"), ("zh-TW", "瀏覽器與裝置")] {
        let mut b = Browser::new(&h);
        b.headers.push(("accept-language", lang.into()));
        b.sign_in("uma", PW).await;
        let list = b.get("/console/logs?application=login").await;
        let uq = list.rows()[0].clone();
        let d = b.get(&format!("/console/logs/{uq}")).await;
        assert_eq!(d.status, StatusCode::OK);
        assert!(d.body.contains(label), "{lang}: no {label}");
        assert!(d.body.contains(summary), "{lang}: no summary in {}", d.body);
    }
}
