//! `GET /v1/activities:aggregate`: counts per bucket and group equal what the list returns, day
//! buckets follow the requested zone, and every bad parameter is a 400 naming it.

use crate::support;

use axum::http::StatusCode;
use serde_json::{Value, json};
use support::Harness;

fn at(email: &str, event: &str, time: &str, ip: &str) -> Value {
    json!({"id": {"applicationName": "login", "time": time}, "actor": {"email": email},
           "ipAddress": ip, "events": [{"name": event}]})
}

async fn seeded() -> (Harness, String) {
    let h = Harness::new().await;
    let tok = h.token(&["ingest", "read"]).await;
    let (s, body) = h
        .post_json(
            &tok,
            json!([
                // Taipei is UTC+8: its 2026-11-20 starts at 2026-11-19T16:00Z.
                at(
                    "a@x.io",
                    "login_success",
                    "2026-11-19T15:59:59Z",
                    "203.0.113.1"
                ),
                at(
                    "a@x.io",
                    "login_success",
                    "2026-11-19T16:00:00Z",
                    "203.0.113.1"
                ),
                at(
                    "b@x.io",
                    "login_failure",
                    "2026-11-20T03:30:10Z",
                    "203.0.113.2"
                ),
                at(
                    "b@x.io",
                    "login_failure",
                    "2026-11-20T23:59:00Z",
                    "203.0.113.2"
                ),
                at("c@x.io", "logout", "2026-11-21T10:00:00Z", "203.0.113.1"),
            ]),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    (h, tok)
}

#[tokio::test]
async fn day_buckets_follow_the_zone_and_totals_equal_the_list() {
    let (h, tok) = seeded().await;
    let range = "startTime=2026-11-19T00:00:00Z&endTime=2026-11-22T00:00:00Z";
    let (s, body) = h
        .get(
            &tok,
            &format!("/v1/activities:aggregate?bucket=day&groupBy=result&tz=Asia/Taipei&{range}"),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(body["timeZone"], "Asia/Taipei");
    assert_eq!(body["complete"], true);
    assert_eq!(body["total"], 5);
    let days: Vec<(&str, u64, Value)> = body["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            (
                b["start"].as_str().unwrap(),
                b["total"].as_u64().unwrap(),
                b["counts"].clone(),
            )
        })
        .collect();
    assert_eq!(
        days,
        vec![
            ("2026-11-19T00:00:00+08:00", 1, json!({"success": 1})),
            (
                "2026-11-20T00:00:00+08:00",
                2,
                json!({"success": 1, "failure": 1})
            ),
            // 23:59Z and 10:00Z on the 20th and 21st are both the 21st in Taipei.
            (
                "2026-11-21T00:00:00+08:00",
                2,
                json!({"failure": 1, "success": 1})
            ),
            ("2026-11-22T00:00:00+08:00", 0, json!({})),
        ]
    );
    let (_, list) = h
        .get(&tok, &format!("/v1/activities?{range}&limit=1000"))
        .await;
    assert_eq!(list["items"].as_array().unwrap().len(), 5);

    // The list's filters apply; grouping by IP counts from rows.
    let (s, body) = h
        .get(
            &tok,
            &format!("/v1/activities:aggregate?bucket=hour&groupBy=ip&actor=b@x.io&{range}"),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(body["total"], 2);
    assert_eq!(body["buckets"].as_array().unwrap().len(), 72);
    let ips: u64 = body["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|b| b["counts"]["203.0.113.2"].as_u64())
        .sum();
    assert_eq!(ips, 2);
    let (_, body) = h
        .get(
            &tok,
            &format!("/v1/activities:aggregate?groupBy=eventName&eventName=logout&{range}"),
        )
        .await;
    assert_eq!(body["total"], 1);
    assert_eq!(body["buckets"][58]["counts"], json!({"logout": 1}));
}

#[tokio::test]
async fn every_bad_parameter_is_a_400_naming_it() {
    let (h, tok) = seeded().await;
    let cases = [
        ("bucket=week", "bucket"),
        ("groupBy=country", "groupBy"),
        ("tz=Mars/Olympus", "tz"),
        ("tz=Asia/Taipei%20", "tz"),
        (
            "startTime=2026-11-21T00:00:00Z&endTime=2026-11-20T00:00:00Z",
            "startTime",
        ),
        ("startTime=yesterday", "startTime"),
        (
            "bucket=minute&startTime=2026-11-01T00:00:00Z&endTime=2026-11-03T00:00:00Z",
            "bucket",
        ),
        // Google's vocabulary is closed (an unknown Logto key would be a search for it).
        ("application=login&eventName=nope", "eventName"),
        ("eventName=no%20such%20event", "eventName"),
        ("result=maybe", "result"),
        ("filters=is_suspicious==maybe", "filters"),
        ("limit=5", "limit"),
    ];
    for (q, field) in cases {
        let (s, body) = h.get(&tok, &format!("/v1/activities:aggregate?{q}")).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{q}: {body}");
        assert_eq!(body["error"]["details"][0]["field"], field, "{q}: {body}");
    }
    let ingest_only = h.token(&["ingest"]).await;
    let (s, _) = h.get(&ingest_only, "/v1/activities:aggregate").await;
    assert_eq!(s, StatusCode::FORBIDDEN);
}
