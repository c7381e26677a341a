//! `/console/logs.csv` and `/console/logs.ndjson`: the list's filter as downloads, streamed
//! along the keyset past one page, with the localized name and message, behind the session.

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::console::{Browser, PW, ingest, with_user};
use crate::support::{Harness, activity};

#[tokio::test]
async fn downloads_hold_exactly_the_filtered_list_localized() {
    let h = Harness::new().await;
    with_user(&h, "dora", "Ctest").await;
    // 1,203 failures (more than one store page) and 10 successes.
    let mut items = Vec::new();
    for i in 0..1213 {
        let event = if i < 1203 {
            "login_failure"
        } else {
            "login_success"
        };
        let mut a = activity(&format!("u{i}@example.com"), event);
        a["id"]["time"] = json!(format!(
            "2026-11-22T{:02}:{:02}:{:02}Z",
            i / 3600,
            i / 60 % 60,
            i % 60
        ));
        items.push(a);
    }
    ingest(&h, items).await;
    let mut b = Browser::new(&h);
    b.headers.push(("accept-language", "zh-TW".into()));
    b.sign_in("dora", PW).await;

    let page = b.get("/console/logs?result=failure").await;
    assert_eq!(
        page.href("download-csv").as_deref(),
        Some("/console/logs.csv?result=failure"),
        "the page links the download of its filter"
    );

    let p = b.get("/console/logs.csv?result=failure&range=30d").await;
    assert_eq!(p.status, StatusCode::OK, "{}", p.body);
    assert_eq!(p.headers["content-type"], "text/csv; charset=utf-8");
    assert!(
        p.headers["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment;")
    );
    assert!(
        p.body
            .starts_with("\u{FEFF}time,uniqueQualifier,application,event,eventName,message,")
    );
    let rows: Vec<&str> = p.body.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert_eq!(rows.len(), 1 + 1203, "header and every failure");
    assert!(
        rows[1].contains(",登入失敗,u1202@example.com 登入失敗,failure,"),
        "{}",
        rows[1]
    );
    // Across the store pages (the next one read while this one is encoded): every row once,
    // newest first down to the oldest.
    let mut ids: Vec<&str> = rows[1..]
        .iter()
        .map(|r| r.split(',').nth(1).unwrap())
        .collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 1203, "no row twice");
    assert!(
        rows[1203].contains(",u0@example.com 登入失敗,"),
        "{}",
        rows[1203]
    );

    let p = b.get("/console/logs.ndjson?result=success&lang=en").await;
    assert_eq!(p.status, StatusCode::OK);
    assert_eq!(p.headers["content-type"], "application/x-ndjson");
    let lines: Vec<Value> = p
        .body
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    // Ten successes, dora's own console sign-in, and her two downloads (the CSV one, and this
    // one, recorded before its first byte).
    assert_eq!(lines.len(), 13);
    let exports: Vec<&Value> = lines
        .iter()
        .filter(|l| l["events"][0]["name"] == "console.export")
        .collect();
    assert_eq!(exports.len(), 2);
    assert_eq!(exports[1]["actor"]["profileId"], "dora");
    let params = &exports[1]["events"][0]["parameters"];
    assert_eq!(params[0], json!({"name": "export_format", "value": "csv"}));
    assert_eq!(
        params[1],
        json!({"name": "export_filter", "value": "result=failure&range=30d"})
    );
    assert_eq!(
        exports[0]["localized"]["message"],
        "dora downloaded the audit log as ndjson (filter: result=success&lang=en)"
    );
    // Newest first: the two downloads and the sign-in (at the same instant), then the newest
    // success.
    assert_eq!(lines[3]["localized"]["eventName"], "Successful login");
    assert_eq!(lines[3]["actor"]["email"], "u1212@example.com");

    // A bad filter is the usual error page naming the field; no session, no download.
    let p = b.get("/console/logs.csv?result=maybe").await;
    assert_eq!(p.status, StatusCode::BAD_REQUEST);
    assert!(p.body.contains("<code>result</code>"));
    let mut stranger = Browser::new(&h);
    let p = stranger.get("/console/logs.csv").await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
}
