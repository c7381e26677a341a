//! Issue #17: the API's query power in the console's form (several events, categories and tags,
//! typed parameter conditions, quick filters, the capped count, refusals above the kept form),
//! pivots from the detail page and from the chart bars.

use axum::http::StatusCode;
use serde_json::json;

use crate::console::{Browser, PW, ingest, with_user};
use crate::support::{Harness, activity};

fn unescape(s: &str) -> String {
    s.replace("&#x2f;", "/").replace("&amp;", "&")
}

/// The `href` of the first `<a …>` whose opening tag contains `marker`.
fn href_with(body: &str, marker: &str) -> Option<String> {
    let at = body.find(marker)?;
    let tag = body[..at].rfind("<a ")?;
    let h = body[tag..].find("href=\"")? + tag + 6;
    Some(unescape(body[h..].split('"').next()?))
}

/// The number in `id="match-count" data-count="…"`.
fn match_count(body: &str) -> u64 {
    let at = body
        .find("id=\"match-count\" data-count=\"")
        .expect("a match count")
        + 29;
    body[at..].split('"').next().unwrap().parse().unwrap()
}

async fn seeded(user: &str) -> (Harness, Browser) {
    let h = Harness::new().await;
    with_user(&h, user, "Ctest").await;
    let mut items = Vec::new();
    for i in 0..3 {
        let mut a = activity(&format!("f{i}@example.com"), "login_failure");
        a["events"][0]["parameters"] = json!([
            {"name": "login_failure_type", "value": "login_failure_invalid_password"},
            {"name": "login_type", "value": "google_password"}
        ]);
        a["id"]["time"] = json!(format!("2026-11-22T10:0{i}:00Z"));
        items.push(a);
    }
    let mut s = activity("s@example.com", "login_success");
    s["id"]["time"] = json!("2026-11-22T10:05:00Z");
    s["ipAddress"] = json!("198.51.100.7");
    s["events"][0]["parameters"] = json!([{"name": "is_suspicious", "boolValue": true}]);
    items.push(s);
    let mut e = activity("e@example.com", "2sv_enroll");
    e["id"]["time"] = json!("2026-11-22T10:06:00Z");
    items.push(e);
    let mut w = activity("w@example.com", "suspicious_login");
    w["id"]["time"] = json!("2026-11-22T10:07:00Z");
    items.push(w);
    items.push(
        json!({"id": {"applicationName": "logto", "time": "2026-11-22T10:08:00Z"},
        "actor": {"profileId": "u1"}, "ipAddress": "192.0.2.1", "sessionId": "sess-1",
        "events": [{"name": "Interaction.SignIn.Submit",
                    "parameters": [{"name": "interactionEvent", "value": "SignIn"}]}]}),
    );
    ingest(&h, items).await;
    let mut b = Browser::new(&h);
    b.sign_in(user, PW).await;
    (h, b)
}

#[tokio::test]
async fn several_events_categories_tags_and_conditions_filter_the_list_with_a_count() {
    let (_h, mut b) = seeded("quinn").await;
    // Two events by key and name, comma-separated.
    let p = b
        .get("/console/logs?lang=en&range=30d&event=login_success,Failed%20login")
        .await;
    assert_eq!(p.status, StatusCode::OK, "{}", p.body);
    assert_eq!(p.rows().len(), 4);
    assert_eq!(match_count(&p.body), 4);
    assert!(p.body.contains("4 matching events"), "{}", p.body);
    // A whole category.
    let p = b
        .get("/console/logs?lang=en&range=30d&event=login/2sv_change")
        .await;
    assert_eq!(match_count(&p.body), 1, "{}", p.body);
    // A tag, as the sign-in chart counts: Google's and Logto's outcomes, the console's own
    // sign-in included, never a step.
    let p = b
        .get("/console/logs?lang=en&range=30d&event=tag:sign_in_attempt&result=failure")
        .await;
    assert_eq!(match_count(&p.body), 3, "{}", p.body);
    // The quick filters are those same conditions.
    let failed = href_with(&p.body, "id=\"quick-1\"").unwrap();
    assert!(
        failed.contains("event=tag%3Asign_in_attempt") && failed.contains("result=failure"),
        "{failed}"
    );
    let p = b.get(&format!("{failed}&lang=en&range=30d")).await;
    assert_eq!(match_count(&p.body), 3);
    // Parameter conditions, typed by the catalogue; a value may be typed as its name.
    let p = b
        .get("/console/logs?lang=en&range=30d&filters=is_suspicious%3D%3Dtrue")
        .await;
    assert_eq!(match_count(&p.body), 1, "{}", p.body);
    let p = b
        .get("/console/logs?lang=zh-TW&range=30d&filters=login_failure_type%3D%3D%E5%AF%86%E7%A2%BC%E7%84%A1%E6%95%88")
        .await;
    assert_eq!(match_count(&p.body), 3, "{}", p.body);
    assert!(p.body.contains("符合的事件：3 筆"), "{}", p.body);
    // The picker offers tags, categories and typed conditions, labelled in the page's language.
    assert!(p.body.contains(r#"<option value="tag:account_warning">標記：帳戶警告（可疑活動） （所有應用程式）</option>"#));
    assert!(p.body.contains(r#"<option value="login&#x2f;2sv_change">登入 › 已變更兩步驟驗證註冊狀態 （整個類別）</option>"#), "{}", p.body);
    assert!(
        p.body
            .contains(r#"<option value="is_suspicious==true">登入 › 是否可疑 = 是</option>"#)
    );
    assert!(p.body.contains(
        r#"<option value="login_failure_type==login_failure_invalid_password">登入 › 登入失敗類型 = 密碼無效</option>"#
    ));
}

#[tokio::test]
async fn a_refused_filter_is_shown_above_the_kept_form_in_the_pages_language() {
    let (h, mut b) = seeded("rhea").await;
    let before = h.count("").await;
    let p = b
        .get("/console/logs?lang=zh-TW&event=%E7%99%BB%E5%85%A5%E5%A4%B1&actor=a%40example.com")
        .await;
    assert_eq!(p.status, StatusCode::BAD_REQUEST);
    let err = &p.body[p.body.find("id=\"filter-error\"").expect("inline error")..];
    let err = &err[..err.find("</div>").unwrap()];
    assert!(
        err.contains("<strong>事件</strong> <code>event</code>"),
        "{err}"
    );
    assert!(err.contains("「登入失」不是目錄中的事件"), "{err}");
    assert!(
        err.contains("您是不是要找：") && err.contains("登入失敗"),
        "{err}"
    );
    // The form is still there, with what was typed.
    assert!(
        p.body
            .contains(r#"id="f-event" name="event" list="event-list" value="登入失""#)
    );
    assert!(
        p.body
            .contains(r#"id="f-actor" name="actor" value="a@example.com""#)
    );
    // A condition that does not fit its type, in English.
    let p = b
        .get("/console/logs?lang=en&application=login&filters=is_suspicious%3D%3Dmaybe")
        .await;
    assert_eq!(p.status, StatusCode::BAD_REQUEST);
    assert!(
        p.body
            .contains("is_suspicious==maybe does not fit the parameter&#x27;s type (bool)"),
        "{}",
        p.body
    );
    let p = b
        .get("/console/logs?lang=en&application=login&filters=is_suspicous%3D%3Dtrue")
        .await;
    assert!(p.body.contains("Did you mean: is_suspicious"), "{}", p.body);
    // Nothing was stored by a refused filter.
    assert_eq!(h.count("").await, before);
}

#[tokio::test]
async fn the_detail_page_pivots_keep_the_zone_and_the_list_it_came_from() {
    let (_h, mut b) = seeded("sven").await;
    let list = "/console/logs?lang=en&range=30d&tz=Asia%2FTaipei&result=success";
    let p = b.get(list).await;
    let logto = p
        .body
        .split("<tr data-uq=\"")
        .find(|r| r.contains("Sign-in submitted") || r.contains("u1"))
        .and_then(|r| r.split('"').next())
        .unwrap()
        .to_string();
    let d = b
        .get(&format!(
            "/console/logs/{logto}?lang=en&range=30d&tz=Asia%2FTaipei&result=success"
        ))
        .await;
    assert_eq!(d.status, StatusCode::OK, "{}", d.body);
    let pivot = |marker: &str| href_with(&d.body, marker).unwrap_or_else(|| panic!("{marker}"));
    let session = pivot(">sess-1</a>");
    assert!(session.starts_with("/console/logs?"), "{session}");
    for kept in [
        "lang=en",
        "range=30d",
        "tz=Asia%2FTaipei",
        "result=success",
        "session=sess-1",
    ] {
        assert!(session.contains(kept), "{kept} in {session}");
    }
    assert!(pivot(">192.0.2.1</a>").contains("ip=192.0.2.1"));
    assert!(pivot(">u1</a>").contains("actor=u1"));
    assert!(pivot(">Logto (logto)</a>").contains("application=logto"));
    let event = d.href("pivot-event").unwrap();
    assert!(event.contains("event=Interaction.SignIn.Submit"), "{event}");
    // A parameter value: the list of this event with this value, the value named.
    let param = pivot(">Sign in</a> <code>SignIn</code>");
    assert!(
        param.contains("event=Interaction.SignIn.Submit")
            && param.contains("filters=interactionEvent%3D%3DSignIn"),
        "{param}"
    );
    // Each pivot opens a list that holds the event.
    for href in [session, param, event] {
        let p = b.get(&href).await;
        assert_eq!(p.status, StatusCode::OK, "{href}: {}", p.body);
        assert!(p.rows().contains(&logto), "{href}");
    }
}

#[tokio::test]
async fn a_chart_bar_opens_the_list_of_its_hour_and_series_with_the_same_count() {
    let (_h, mut b) = seeded("tara").await;
    let p = b
        .get("/console/overview?lang=en&range=7d&tz=Asia%2FTaipei")
        .await;
    assert_eq!(p.status, StatusCode::OK, "{}", p.body);
    // The failed sign-ins of 10:00–11:00 UTC, 18:00 in Taipei.
    let marker = "<title>2026-11-22 18:00:00 UTC+08:00 Failure: 3</title>";
    let bar = href_with(&p.body, marker).unwrap_or_else(|| panic!("{}", p.body));
    assert!(
        bar.contains("from=2026-11-22T18%3A00") && bar.contains("to=2026-11-22T19%3A00"),
        "{bar}"
    );
    assert!(bar.contains("tz=Asia%2FTaipei"), "{bar}");
    let list = b.get(&format!("{bar}&lang=en")).await;
    assert_eq!(match_count(&list.body), 3, "{}", list.body);
    assert_eq!(list.rows().len(), 3);
    // The numbers are in a table too, for screen readers.
    assert!(
        p.body
            .contains("<details class=\"chart-data\"><summary>Data</summary>")
    );
    assert!(
        p.body
            .contains("<th scope=\"row\">2026-11-22 18:00:00 UTC+08:00</th>")
    );
}

/// A list whose conditions are checked on rows (a parameter condition) counts what its page
/// found, labelled "at least", and makes the capped count only on request; a page that saw
/// every match counts them exactly.
#[tokio::test]
async fn a_row_checked_list_counts_its_page_and_counts_all_on_request() {
    let h = Harness::new().await;
    with_user(&h, "rosa", "Ctest").await;
    let items = (0..60)
        .map(|i| {
            let mut s = activity(&format!("s{i}@example.com"), "login_success");
            s["id"]["time"] = json!(format!("2026-11-22T11:{:02}:00Z", i % 60));
            s["events"][0]["parameters"] = json!([{"name": "is_suspicious", "boolValue": true}]);
            s
        })
        .collect();
    ingest(&h, items).await;
    let mut b = Browser::new(&h);
    b.sign_in("rosa", PW).await;
    let path = "/console/logs?lang=en&range=30d&filters=is_suspicious%3D%3Dtrue";
    let p = b.get(path).await;
    assert_eq!(p.status, StatusCode::OK, "{}", p.body);
    assert_eq!(p.rows().len(), 50);
    assert_eq!(match_count(&p.body), 50);
    assert!(
        p.body
            .contains("At least 50 matching events (counted on this page)"),
        "{}",
        p.body
    );
    assert!(p.body.contains("data-so-far=\"true\""), "{}", p.body);
    let all = href_with(&p.body, "id=\"count-all\"").unwrap();
    assert!(
        all.contains("count=all") && all.contains("filters="),
        "{all}"
    );
    let p = b.get(&all).await;
    assert_eq!(match_count(&p.body), 60, "{}", p.body);
    assert!(p.body.contains("60 matching events"), "{}", p.body);
    assert!(!p.body.contains("id=\"count-all\""));
    // In zh-TW too.
    let p = b
        .get("/console/logs?lang=zh-TW&range=30d&filters=is_suspicious%3D%3Dtrue")
        .await;
    assert!(
        p.body.contains("符合的事件至少 50 筆（僅計算此頁）"),
        "{}",
        p.body
    );
    assert!(p.body.contains("全部計算（最多 10,000 筆）"), "{}", p.body);
    // One page held every match: exact, no link.
    let p = b
        .get("/console/logs?lang=en&range=30d&filters=is_suspicious%3D%3Dtrue&actor=s7%40example.com")
        .await;
    assert_eq!(match_count(&p.body), 1, "{}", p.body);
    assert!(!p.body.contains("id=\"count-all\""));
    // `count` takes only `all`: anything else is refused, naming the field.
    let p = b.get(&format!("{path}&count=some")).await;
    assert_eq!(p.status, StatusCode::BAD_REQUEST, "{}", p.body);
    assert!(p.body.contains("<code>count</code>"), "{}", p.body);
}
