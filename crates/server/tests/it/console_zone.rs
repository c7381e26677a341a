//! One clock, the viewer's: `tz=` in the URL sets the zone in which the console shows times,
//! reads From/To and cuts chart buckets, and the zone is shown.

use axum::http::StatusCode;
use serde_json::json;

use crate::console::{Browser, PW, ingest, with_user};
use crate::support::{Harness, activity};

#[tokio::test]
async fn times_from_to_and_charts_follow_the_viewers_zone() {
    let h = Harness::new().await;
    with_user(&h, "taro", "Ctest").await;
    let mut items = Vec::new();
    for (who, time) in [
        ("early@x.io", "2026-11-22T11:59:00Z"),
        ("noon@x.io", "2026-11-22T12:00:30Z"),
    ] {
        let mut a = activity(who, "login_success");
        a["id"]["time"] = json!(time);
        items.push(a);
    }
    ingest(&h, items).await;
    let mut b = Browser::new(&h);
    b.headers.push(("accept-language", "zh-TW".into()));
    b.sign_in("taro", PW).await;

    // 12:00:30Z is 20:00:30 in Taipei; From/To are read there, and typing them (without
    // range=custom) makes the range custom.
    let p = b
        .get("/console/logs?tz=Asia/Taipei&from=2026-11-22T20:00&to=2026-11-22T20:01")
        .await;
    assert_eq!(p.status, StatusCode::OK, "{}", p.body);
    assert_eq!(p.rows().len(), 1, "only the 12:00:30Z event");
    // (Templates escape `/` as `&#x2f;`.)
    let body = p.body.replace("&#x2f;", "/");
    assert!(body.contains("2026/11/22 20:00:30 UTC+08:00"), "{body}");
    assert!(
        body.contains("Asia/Taipei (UTC+08:00)"),
        "the zone is shown"
    );
    assert!(body.contains("data-tz=\"Asia/Taipei\""));
    assert!(body.contains("<option value=\"custom\" selected>"));

    // Without a zone: UTC, and a blank field is no choice.
    let p = b
        .get("/console/logs?tz=&from=2026-11-22T12:00&to=2026-11-22T12:01")
        .await;
    assert_eq!(p.status, StatusCode::OK, "{}", p.body);
    assert_eq!(p.rows().len(), 1);
    assert!(
        p.body
            .replace("&#x2f;", "/")
            .contains("2026/11/22 12:00:30 UTC<")
    );

    let p = b.get("/console/overview?tz=Asia/Kolkata").await;
    assert_eq!(p.status, StatusCode::OK, "{}", p.body);
    assert!(
        p.body.contains("UTC+05:30"),
        "the chart axis names the zone"
    );
    assert!(
        p.body.contains("href=\"/console/logs?tz=Asia%2FKolkata\""),
        "links keep the zone"
    );

    let p = b.get("/console/logs?tz=Mars/Olympus").await;
    assert_eq!(p.status, StatusCode::BAD_REQUEST);
    assert!(p.body.contains("<code>tz</code>"), "{}", p.body);
}
