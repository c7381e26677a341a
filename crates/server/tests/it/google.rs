//! Google's Reports API `activities.list` in-process: the wire details of
//! `shared/reference/google-reports-api.md` §0 and §7. (Google's own Python client is driven
//! against a real server in tests/google-client/.)

use crate::support;

use axum::http::StatusCode;
use serde_json::{Value, json};
use support::{Harness, activity};

const LIST: &str = "/admin/reports/v1/activity/users/all/applications/login";

async fn seeded() -> (Harness, String) {
    let h = Harness::new().await;
    let tok = h.token(&["ingest", "read"]).await;
    let t = |s: &str| format!("2026-11-22T{s}Z");
    let items = json!([
        {"id": {"applicationName": "login", "time": t("10:00:00.000")}, "actor": {"email": "A+B/c@Example.com", "profileId": "111"},
         "ipAddress": "2001:db8::1", "events": [{"name": "login_success", "parameters": [
            {"name": "login_type", "value": "google_password"},
            {"name": "login_challenge_method", "multiValue": ["password", "security_key"]},
            {"name": "is_suspicious", "boolValue": true}]}]},
        {"id": {"applicationName": "login", "time": t("11:00:00.000")}, "actor": {"email": "bob@example.com"},
         "ipAddress": "203.0.113.5", "events": [{"name": "login_failure", "parameters": [
            {"name": "login_type", "value": "saml"}]}]},
        {"id": {"applicationName": "login", "time": t("12:00:00.500")}, "actor": {"email": "bob@example.com"},
         "events": [{"name": "suspicious_login", "parameters": [
            {"name": "affected_email_address", "value": "bob@example.com"},
            {"name": "login_timestamp", "intValue": "1795392000000000"}]}]},
        {"id": {"applicationName": "logto", "time": t("12:30:00.000")}, "actor": {"profileId": "u1"},
         "events": [{"name": "Interaction.SignIn.Submit"}]}
    ]);
    let (s, b) = h.post_json(&tok, items).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    (h, tok)
}

fn ids(b: &Value) -> Vec<String> {
    b["items"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|i| i["id"]["uniqueQualifier"].as_str().unwrap().to_string())
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn lists_in_googles_wire_shape() {
    let (h, tok) = seeded().await;
    let (s, b) = h.get(&tok, &format!("{LIST}?alt=json")).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["kind"], "admin#reports#activities");
    assert!(b["etag"].as_str().unwrap().starts_with('"'));
    assert_eq!(
        ids(&b),
        vec!["3", "2", "1"],
        "newest first, only applicationName=login"
    );
    let first = &b["items"][0];
    assert_eq!(first["kind"], "admin#reports#activity");
    assert_eq!(
        first["id"]["time"], "2026-11-22T12:00:00.500Z",
        "RFC 3339 with milliseconds"
    );
    assert_eq!(first["id"]["uniqueQualifier"], "3", "int64 as a string");
    assert_eq!(first["id"]["customerId"], "Ctest");
    assert_eq!(
        first["events"][0]["parameters"][1]["intValue"],
        "1795392000000000"
    );
    assert!(
        b.get("nextPageToken").is_none(),
        "no token on the last page"
    );
    let (_, logto) = h
        .get(
            &tok,
            "/admin/reports/v1/activity/users/all/applications/logto",
        )
        .await;
    assert_eq!(
        logto["items"][0]["events"][0]["name"],
        "Interaction.SignIn.Submit"
    );
}

#[tokio::test]
async fn an_empty_result_has_no_items_field() {
    let (h, tok) = seeded().await;
    let (s, b) = h
        .get(
            &tok,
            "/admin/reports/v1/activity/users/nobody%40example.com/applications/login",
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert!(b.get("items").is_none(), "{b}");
    assert_eq!(b["kind"], "admin#reports#activities");
}

#[tokio::test]
async fn user_keys_are_emails_case_insensitively_or_profile_ids_percent_decoded() {
    let (h, tok) = seeded().await;
    for key in ["a%2Bb%2Fc%40example.com", "A%2BB%2FC%40EXAMPLE.COM", "111"] {
        let (s, b) = h
            .get(
                &tok,
                &format!("/admin/reports/v1/activity/users/{key}/applications/login"),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{key}: {b}");
        assert_eq!(ids(&b), vec!["1"], "{key}");
    }
}

#[tokio::test]
async fn every_parameter_filters_as_google_documents() {
    let (h, tok) = seeded().await;
    for (q, want) in [
        ("eventName=login_failure", vec!["2"]),
        (
            "eventName=login_success&filters=is_suspicious%3D%3Dtrue",
            vec!["1"],
        ),
        (
            "eventName=login_success&filters=is_suspicious%3D%3Dfalse",
            vec![],
        ),
        (
            "eventName=login_success&filters=login_challenge_method%3D%3Dsecurity_key%2Clogin_type%3C%3Esaml",
            vec!["1"],
        ),
        ("filters=login_type%3D%3Dsaml", vec!["2"]),
        (
            "eventName=suspicious_login&filters=login_timestamp%3E1000",
            vec!["3"],
        ),
        (
            "eventName=login_success&filters=no_such_param%3D%3Dx",
            vec![],
        ),
        (
            "actorIpAddress=2001%3A0db8%3A0%3A0%3A0%3A0%3A0%3A1",
            vec!["1"],
        ),
        ("startTime=2026-11-22T10%3A30%3A00Z", vec!["3", "2"]),
        (
            "startTime=2026-11-22T16%3A00%3A00%2B05%3A30&endTime=2026-11-22T12%3A00%3A00.5Z",
            vec!["2"],
        ),
        ("customerId=my_customer", vec!["3", "2", "1"]),
        (
            "customerId=Ctest&quotaUser=x&key=k&prettyPrint=true&%24.xgafv=2&unknownParam=1",
            vec!["3", "2", "1"],
        ),
    ] {
        let (s, b) = h.get(&tok, &format!("{LIST}?{q}&alt=json")).await;
        assert_eq!(s, StatusCode::OK, "{q}: {b}");
        assert_eq!(ids(&b), want, "{q}");
    }
}

#[tokio::test]
async fn paging_with_any_page_size_yields_the_full_traversal_and_is_frozen() {
    let (h, tok) = seeded().await;
    for size in 1..=3 {
        // What one traversal at the largest page size sees when this traversal starts.
        let full = ids(&h.get(&tok, LIST).await.1);
        let mut got = Vec::new();
        let mut url = format!("{LIST}?maxResults={size}&alt=json");
        let mut pages = 0;
        loop {
            let (s, b) = h.get(&tok, &url).await;
            assert_eq!(s, StatusCode::OK, "{b}");
            got.extend(ids(&b));
            pages += 1;
            // A newer event arrives between pages; the frozen window keeps it out.
            h.post_json(&tok, json!([activity("late@example.com", "logout")]))
                .await;
            match b["nextPageToken"].as_str() {
                // Google's client re-encodes the token; it must survive percent-encoding.
                Some(t) => {
                    url = format!(
                        "{LIST}?maxResults={size}&alt=json&pageToken={}",
                        t.replace('-', "%2D")
                    )
                }
                None => break,
            }
        }
        assert_eq!(got, full, "page size {size}");
        assert!(pages >= full.len().div_ceil(size));
    }
}

#[tokio::test]
async fn bad_parameters_answer_400_in_googles_envelope() {
    let (h, tok) = seeded().await;
    for (q, location) in [
        ("maxResults=0", "maxResults"),
        ("maxResults=5000", "maxResults"),
        ("maxResults=abc", "maxResults"),
        (
            "startTime=2026-11-22T12%3A00%3A00Z&endTime=2026-11-22T11%3A00%3A00Z",
            "startTime",
        ),
        ("startTime=2099-01-01T00%3A00%3A00Z", "startTime"),
        ("startTime=2026-01-01", "startTime"),
        ("endTime=tomorrow", "endTime"),
        ("pageToken=Mg%3D%3D", "pageToken"),
        ("actorIpAddress=1.2.3", "actorIpAddress"),
        ("eventName=no_such_event", "eventName"),
        ("filters=is_suspicious", "filters"),
        (
            "eventName=login_success&filters=is_suspicious%3D%3Dmaybe",
            "filters",
        ),
        ("orgUnitID=id%3Aabc123", "orgUnitID"),
        ("orgUnitID=ABC", "orgUnitID"),
        ("groupIdFilter=id%3Aabc123%2Cid%3Axyz456", "groupIdFilter"),
        ("statusFilter=statusCode%3D%22200%22", "statusFilter"),
        ("alt=proto", "alt"),
        ("fields=items(", "fields"),
    ] {
        let (s, b) = h.get(&tok, &format!("{LIST}?{q}")).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{q}: {b}");
        let e = &b["error"];
        assert_eq!(e["code"], 400, "{q}");
        assert_eq!(e["status"], "INVALID_ARGUMENT", "{q}");
        assert!(
            e["message"]
                .as_str()
                .unwrap()
                .starts_with("Invalid request: "),
            "{q}: {e}"
        );
        assert_eq!(e["errors"][0]["domain"], "global");
        assert_eq!(e["errors"][0]["reason"], "invalid");
        assert_eq!(e["errors"][0]["location"], location, "{q}: {e}");
    }
    let (_, b) = h
        .get(
            &tok,
            &format!("{LIST}?startTime=2026-11-22T12%3A00%3A00Z&endTime=2026-11-22T11%3A00%3A00Z"),
        )
        .await;
    assert_eq!(
        b["error"]["message"],
        "Invalid request: startTime: Start time is after end time."
    );
    let (s, b) = h
        .get(
            &tok,
            "/admin/reports/v1/activity/users/all/applications/nosuchapp",
        )
        .await;
    assert_eq!(
        (s, b["error"]["errors"][0]["location"].clone()),
        (StatusCode::BAD_REQUEST, json!("applicationName"))
    );
}

#[tokio::test]
async fn auth_failures_use_googles_envelope_and_statuses() {
    let (h, _) = seeded().await;
    let (s, b, headers) = h.request("GET", LIST, Some("atr_wrong"), None, None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert!(
        headers["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Bearer ")
    );
    assert_eq!(b["error"]["status"], "UNAUTHENTICATED");
    assert_eq!(b["error"]["errors"][0]["reason"], "authError");
    let ingest_only = h.token(&["ingest"]).await;
    let (s, b) = h.get(&ingest_only, LIST).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert_eq!(b["error"]["status"], "PERMISSION_DENIED");
    let read = h.token(&["read"]).await;
    let (s, b) = h.get(&read, &format!("{LIST}?customerId=Cother")).await;
    assert_eq!(
        s,
        StatusCode::FORBIDDEN,
        "another customer's data is refused: {b}"
    );
    // The access_token query parameter works like the header, as in Google's sample requests.
    let (s, b, _) = h
        .request(
            "GET",
            &format!("{LIST}?access_token={read}&maxResults=1"),
            None,
            None,
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(ids(&b).len(), 1);
}

#[tokio::test]
async fn another_tenants_page_token_is_refused() {
    let (h, tok) = seeded().await;
    let (_, b) = h.get(&tok, &format!("{LIST}?maxResults=1")).await;
    let token = b["nextPageToken"].as_str().unwrap().to_string();
    let other = h.token_for("Cother", &["read"]).await;
    let (s, b) = h
        .get(&other, &format!("{LIST}?maxResults=1&pageToken={token}"))
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{b}");
    let (_, b) = h.get(&other, LIST).await;
    assert!(b.get("items").is_none(), "another tenant sees nothing");
}

#[tokio::test]
async fn pretty_print_and_partial_responses_work_as_google_documents() {
    let (h, tok) = seeded().await;
    let (_, raw, _) = h
        .request_raw("GET", &format!("{LIST}?maxResults=1"), &tok)
        .await;
    assert!(raw.contains("\n  "), "pretty by default");
    let (_, raw, _) = h
        .request_raw(
            "GET",
            &format!("{LIST}?maxResults=1&prettyPrint=false"),
            &tok,
        )
        .await;
    assert!(!raw.contains('\n'), "compact with prettyPrint=false");
    let (_, b) = h.get(&tok, &format!("{LIST}?maxResults=1&fields=items(id%2FuniqueQualifier%2Cactor%2Femail)%2CnextPageToken")).await;
    assert_eq!(
        b["items"],
        json!([{"id": {"uniqueQualifier": "3"}, "actor": {"email": "bob@example.com"}}])
    );
    assert!(b["nextPageToken"].is_string());
    assert!(b.get("kind").is_none());
}

#[tokio::test]
async fn a_configured_prefix_serves_the_same_api() {
    let (h, tok) = seeded().await;
    let h = h.with_google_prefix("/audit");
    let (s, b) = h.get(&tok, &format!("/audit{LIST}")).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(ids(&b).len(), 3);
}

#[tokio::test]
async fn unknown_paths_under_the_google_api_answer_404_in_googles_envelope() {
    let (h, tok) = seeded().await;
    let (s, b) = h.get(&tok, &format!("{LIST}/no-such-thing")).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(b["error"]["status"], "NOT_FOUND");
    assert_eq!(b["error"]["code"], 404);
}
