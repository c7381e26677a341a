//! Legal hold and per-subject erasure over HTTP: admin scope, JSON bodies whose mistakes name
//! their field, 409 under hold, and what a reader sees afterwards.

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::support::{Harness, activity};

async fn send(
    h: &Harness,
    tok: &str,
    method: &str,
    path: &str,
    body: Value,
) -> (StatusCode, Value) {
    let (s, b, _) = h
        .request(
            method,
            path,
            Some(tok),
            Some("application/json"),
            Some(body.to_string().into_bytes()),
        )
        .await;
    (s, b)
}

fn field(b: &Value) -> &str {
    b["error"]["details"][0]["field"]
        .as_str()
        .unwrap_or_default()
}

#[tokio::test]
async fn an_admin_erases_a_person_and_readers_find_them_no_more() {
    let h = Harness::new().await;
    let (admin, rw) = (
        h.token(&["admin"]).await,
        h.token(&["ingest", "read"]).await,
    );
    let items = json!([
        activity("ada@x.io", "login_success"),
        activity("bob@x.io", "login_success"),
        activity("Ada@X.io", "logout")
    ]);
    assert_eq!(h.post_json(&rw, items).await.0, StatusCode::OK);

    // Only an admin token; the body's mistakes name their field.
    let (s, _) = send(
        &h,
        &rw,
        "POST",
        "/v1/subjects:erase",
        json!({"actorEmail": "ada@x.io"}),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    for (body, f) in [
        (json!({"email": "ada@x.io"}), "email"),
        (json!({}), "actorEmail"),
        (json!({"actorEmail": 5}), "actorEmail"),
        (json!({"actorEmail": "not an address"}), "actorEmail"),
        (json!([]), "body"),
    ] {
        let (s, b) = send(&h, &admin, "POST", "/v1/subjects:erase", body.clone()).await;
        assert_eq!((s, field(&b)), (StatusCode::BAD_REQUEST, f), "{body}: {b}");
    }

    let (s, b) = send(
        &h,
        &admin,
        "POST",
        "/v1/subjects:erase",
        json!({"actorEmail": "ADA@x.io"}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["erasedActivities"], 2);
    assert_eq!(b["records"], json!(["4"]));
    assert_eq!(b["erasedFields"][0], "actor.email");

    let (_, page) = h.get(&rw, "/v1/activities?actor=ada@x.io").await;
    assert_eq!(page["items"], json!([]), "{page}");
    let (_, a) = h.get(&rw, "/v1/activities/1").await;
    assert_eq!(a["erasedBy"], "4");
    assert!(
        a.get("ipAddress").is_none() && a["actor"].get("email").is_none(),
        "{a}"
    );
    assert_eq!(a["events"][0]["name"], "login_success");
    let (_, record) = h.get(&rw, "/v1/activities/4").await;
    assert_eq!(record["events"][0]["name"], "subject.erase");
    assert!(!record.to_string().contains("ada@"), "{record}");
    let (_, bob) = h.get(&rw, "/v1/activities/2").await;
    assert_eq!(bob["actor"]["email"], "bob@x.io");
}

#[tokio::test]
async fn a_legal_hold_is_set_read_released_and_stops_erasure() {
    let h = Harness::new().await;
    let (admin, rw) = (
        h.token(&["admin"]).await,
        h.token(&["ingest", "read"]).await,
    );
    h.post_json(&rw, json!([activity("ada@x.io", "login_success")]))
        .await;

    let (s, b) = h.get(&admin, "/v1/legal-hold").await;
    assert_eq!((s, b), (StatusCode::OK, json!({"held": false})));
    let (s, _) = send(&h, &rw, "PUT", "/v1/legal-hold", json!({"reason": "x"})).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    for (body, f) in [
        (json!({}), "reason"),
        (json!({"reason": ""}), "reason"),
        (json!({"reason": "a", "until": "x"}), "until"),
    ] {
        let (s, b) = send(&h, &admin, "PUT", "/v1/legal-hold", body.clone()).await;
        assert_eq!((s, field(&b)), (StatusCode::BAD_REQUEST, f), "{body}: {b}");
    }
    let (s, b) = send(
        &h,
        &admin,
        "PUT",
        "/v1/legal-hold",
        json!({"reason": "case 17"}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(
        (b["held"].clone(), b["reason"].clone()),
        (json!(true), json!("case 17"))
    );
    let (s, b) = send(
        &h,
        &admin,
        "PUT",
        "/v1/legal-hold",
        json!({"reason": "again"}),
    )
    .await;
    assert_eq!(s, StatusCode::CONFLICT, "{b}");
    assert!(
        b["error"]["message"].as_str().unwrap().contains("case 17"),
        "{b}"
    );

    let (s, b) = send(
        &h,
        &admin,
        "POST",
        "/v1/subjects:erase",
        json!({"actorEmail": "ada@x.io"}),
    )
    .await;
    assert_eq!(s, StatusCode::CONFLICT, "{b}");
    assert!(
        b["error"]["message"]
            .as_str()
            .unwrap()
            .contains("legal hold"),
        "{b}"
    );
    let (_, a) = h.get(&rw, "/v1/activities/1").await;
    assert_eq!(a["actor"]["email"], "ada@x.io", "nothing erased");

    let (s, b) = send(
        &h,
        &admin,
        "POST",
        "/v1/legal-hold:release",
        json!({"reason": "closed"}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(
        (b["held"].clone(), b["releaseReason"].clone()),
        (json!(false), json!("closed"))
    );
    let (s, _) = send(
        &h,
        &admin,
        "POST",
        "/v1/legal-hold:release",
        json!({"reason": "closed"}),
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    // The trail holds each step.
    let (_, page) = h.get(&rw, "/v1/activities?application=admin").await;
    let names: Vec<&str> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["events"][0]["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["legal_hold.release", "retention.refuse", "legal_hold.set"],
        "{page}"
    );
}
