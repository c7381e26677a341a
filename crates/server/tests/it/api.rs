//! The HTTP API in-process: every route through the real router on a real (temporary) SQLite
//! store, including every bad-input path. Each bad request must answer a clear status with a JSON
//! body naming the field, and must leave nothing stored.

use crate::support;

mod log;

use axum::http::StatusCode;
use serde_json::{Value, json};
use support::{Harness, activity};

#[tokio::test]
async fn ingest_returns_receipts_and_the_activity_reads_back() {
    let h = Harness::new().await;
    let tok = h.token(&["ingest", "read"]).await;
    let (s, body) = h
        .post_json(
            &tok,
            json!([
                activity("ada@example.com", "login_success"),
                activity("bob@example.com", "logout")
            ]),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let r = &body["receipts"];
    assert_eq!(r[0]["uniqueQualifier"], "1");
    assert_eq!(r[1]["uniqueQualifier"], "2");
    assert_eq!(r[1]["duplicate"], false);
    let (s, one) = h.get(&tok, "/v1/activities/1").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(one["kind"], "admin#reports#activity");
    assert_eq!(one["id"]["uniqueQualifier"], "1");
    assert_eq!(one["id"]["customerId"], "Ctest");
    assert_eq!(one["actor"]["email"], "ada@example.com");
    assert_eq!(
        one["events"][0]["type"], "login",
        "the type is filled in from the catalogue"
    );
}

#[tokio::test]
async fn ndjson_ingest_works_and_a_bad_line_names_its_index() {
    let h = Harness::new().await;
    let tok = h.token(&["ingest", "read"]).await;
    let lines = [
        activity("a@x.io", "login_success"),
        activity("b@x.io", "logout"),
    ]
    .iter()
    .map(|v| v.to_string())
    .collect::<Vec<_>>()
    .join("\n");
    let (s, body) = h
        .post(&tok, "application/x-ndjson", format!("{lines}\n\n"))
        .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(body["receipts"].as_array().unwrap().len(), 2);
    let (s, body) = h
        .post(
            &tok,
            "application/x-ndjson",
            format!("{lines}\n{{not json\n"),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["details"][0]["field"], "activities[2]");
    assert_eq!(h.count(&tok).await, 2, "the bad batch stored nothing");
}

#[tokio::test]
async fn every_validation_error_names_its_field_and_nothing_is_stored() {
    let h = Harness::new().await;
    let tok = h.token(&["ingest", "read"]).await;
    let good = activity("ok@example.com", "login_success");
    let with = |patch: Value| {
        let mut a = good.clone();
        merge(&mut a, patch);
        a
    };
    let long = "x".repeat(5000);
    let cases: Vec<(Value, &str, &str)> = vec![
        (
            with(json!({"id": {"applicationName": "nope"}})),
            "activities[1].id.applicationName",
            "not in the catalogue",
        ),
        (
            json!({"actor": {"email": "a@b.c"}, "events": [{"name": "logout"}]}),
            "activities[1].id",
            "required",
        ),
        (
            with(json!({"events": [{"name": "login_sucess"}]})),
            "activities[1].events[0].name",
            "not an event",
        ),
        (
            with(json!({"events": [{"name": "login_success", "type": "account_warning"}]})),
            "activities[1].events[0].type",
            "does not match",
        ),
        (
            with(
                json!({"events": [{"name": "login_success", "parameters": [{"name": "is_suspicious", "value": "true"}]}]}),
            ),
            "activities[1].events[0].parameters[0].value",
            "send it as boolValue",
        ),
        (
            with(
                json!({"events": [{"name": "login_success", "parameters": [{"name": "is_suspicious", "boolValue": "yes"}]}]}),
            ),
            "activities[1].events[0].parameters[0].boolValue",
            "true or false",
        ),
        // A closed set (a challenge passes or fails) refuses what it does not list; open sets
        // (login_type, login_challenge_method) keep such values: see
        // `unlisted_values_of_open_enumerations_are_stored_and_counted`.
        (
            with(
                json!({"events": [{"name": "login_challenge", "parameters": [{"name": "login_challenge_status", "value": "Maybe."}]}]}),
            ),
            "activities[1].events[0].parameters[0].value",
            "not an allowed value",
        ),
        (
            with(
                json!({"events": [{"name": "suspicious_login", "parameters": [{"name": "login_timestamp", "intValue": "12x"}]}]}),
            ),
            "activities[1].events[0].parameters[0].intValue",
            "not an int64",
        ),
        (
            with(
                json!({"events": [{"name": "suspicious_login", "parameters": [{"name": "login_timestamp", "intValue": 1e30}]}]}),
            ),
            "activities[1].events[0].parameters[0].intValue",
            "int64",
        ),
        (
            with(
                json!({"events": [{"name": "logout", "parameters": [{"name": "favourite_colour", "value": "red"}]}]}),
            ),
            "activities[1].events[0].parameters[0].name",
            "not a parameter of logout",
        ),
        (
            with(
                json!({"events": [{"name": "logout", "parameters": [{"name": "login_type", "value": "saml", "boolValue": true}]}]}),
            ),
            "activities[1].events[0].parameters[0]",
            "exactly one",
        ),
        (
            with(
                json!({"events": [{"name": "logout", "parameters": [{"name": "login_type", "value": "saml"}, {"name": "login_type", "value": "saml"}]}]}),
            ),
            "activities[1].events[0].parameters[1].name",
            "appears twice",
        ),
        (
            with(json!({"events": []})),
            "activities[1].events",
            "at least one",
        ),
        (
            with(json!({"ipAddress": "999.1.1.1"})),
            "activities[1].ipAddress",
            "not an IPv4 or IPv6",
        ),
        (
            with(json!({"id": {"applicationName": "login", "time": "2026-13-01T00:00:00Z"}})),
            "activities[1].id.time",
            "RFC 3339",
        ),
        (
            with(json!({"id": {"applicationName": "login", "time": "2999-01-01T00:00:00Z"}})),
            "activities[1].id.time",
            "future",
        ),
        (
            with(json!({"id": {"applicationName": "login", "uniqueQualifier": "5"}})),
            "activities[1].id.uniqueQualifier",
            "assigned by authtrail",
        ),
        (
            with(json!({"id": {"applicationName": "login", "customerId": "Cother"}})),
            "activities[1].id.customerId",
            "does not match the tenant",
        ),
        (
            with(json!({"userAgent": long})),
            "activities[1].userAgent",
            "limit is",
        ),
        (
            with(json!({"sessionId": "a\u{0}b"})),
            "activities[1].sessionId",
            "NUL",
        ),
        (
            with(json!({"actor": {"email": "not-an-email"}})),
            "activities[1].actor.email",
            "not an e-mail",
        ),
        (
            with(json!({"actor": {"callerType": "ROBOT"}})),
            "activities[1].actor.callerType",
            "USER",
        ),
        (
            with(json!({"result": "maybe"})),
            "activities[1].result",
            "success",
        ),
        (
            with(json!({"colour": "red"})),
            "activities[1].colour",
            "not a known field",
        ),
        (
            with(json!({"eventId": ""})),
            "activities[1].eventId",
            "must not be empty",
        ),
        (
            with(json!({"networkInfo": {"ipAsn": ["x"]}})),
            "activities[1].networkInfo.ipAsn[0]",
            "int32",
        ),
        (json!("a string"), "activities[1]", "JSON object"),
    ];
    for (bad, field, needle) in cases {
        let (s, body) = h.post_json(&tok, json!([good, bad])).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{field}: {body}");
        let details = body["error"]["details"].as_array().unwrap();
        let hit = details
            .iter()
            .find(|d| d["field"] == field)
            .unwrap_or_else(|| panic!("no error for {field}: {body}"));
        assert!(
            hit["message"].as_str().unwrap().contains(needle),
            "{field}: {hit}"
        );
        assert_eq!(hit["index"], 1);
    }
    assert_eq!(
        h.count(&tok).await,
        0,
        "no bad batch stored anything, not even its good item"
    );
}

#[tokio::test]
async fn malformed_bodies_get_a_clear_400_or_415() {
    let h = Harness::new().await;
    let tok = h.token(&["ingest", "read"]).await;
    for (ct, body, status, needle) in [
        (
            "application/json",
            "[{",
            StatusCode::BAD_REQUEST,
            "not valid JSON",
        ),
        (
            "application/json",
            "{\"id\": {}}",
            StatusCode::BAD_REQUEST,
            "must be a JSON array",
        ),
        (
            "application/json",
            "[]",
            StatusCode::BAD_REQUEST,
            "empty array",
        ),
        (
            "application/json",
            "",
            StatusCode::BAD_REQUEST,
            "not valid JSON",
        ),
        (
            "application/x-ndjson",
            "\n\n",
            StatusCode::BAD_REQUEST,
            "no activities",
        ),
        (
            "text/plain",
            "[]",
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "application/json",
        ),
    ] {
        let (s, b) = h.post(&tok, ct, body.to_string()).await;
        assert_eq!(s, status, "{ct} {body:?}: {b}");
        assert!(
            b["error"]["message"].as_str().unwrap().contains(needle),
            "{b}"
        );
    }
    let (s, b) = h
        .post_bytes(&tok, "application/json", vec![b'[', 0xff, 0xfe, b']'])
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(b["error"]["details"][0]["field"], "body");
    let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
    let (s, _) = h.post(&tok, "application/json", deep).await;
    assert_eq!(
        s,
        StatusCode::BAD_REQUEST,
        "deep nesting is refused, not a crash"
    );
    assert_eq!(h.count(&tok).await, 0);
}

#[tokio::test]
async fn limits_answer_413_with_json() {
    let h = Harness::with_limits(authtrail_server::Limits {
        max_body_bytes: 4096,
        max_batch: 3,
        ..Default::default()
    })
    .await;
    let tok = h.token(&["ingest", "read"]).await;
    let four: Vec<Value> = (0..4)
        .map(|i| activity(&format!("u{i}@x.io"), "logout"))
        .collect();
    let (s, b) = h.post_json(&tok, json!(four)).await;
    assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE, "{b}");
    assert!(
        b["error"]["message"]
            .as_str()
            .unwrap()
            .contains("limit is 3")
    );
    let big = json!([{"id": {"applicationName": "login"}, "userAgent": "x".repeat(5000), "events": [{"name": "logout"}]}]);
    let (s, b) = h.post_json(&tok, big).await;
    assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE, "{b}");
    assert_eq!(b["error"]["details"][0]["field"], "body");
    assert_eq!(h.count(&tok).await, 0);
}

#[tokio::test]
async fn a_retried_batch_with_event_ids_is_acknowledged_again_and_stored_once() {
    let h = Harness::new().await;
    let tok = h.token(&["ingest", "read"]).await;
    let mut a = activity("a@x.io", "login_success");
    a["eventId"] = json!("evt-1");
    let mut b = activity("b@x.io", "logout");
    b["eventId"] = json!("evt-2");
    let (_, first) = h.post_json(&tok, json!([a, b])).await;
    let (s, again) = h.post_json(&tok, json!([a, b])).await;
    assert_eq!(s, StatusCode::OK);
    for i in 0..2 {
        assert_eq!(
            again["receipts"][i]["uniqueQualifier"],
            first["receipts"][i]["uniqueQualifier"]
        );
        assert_eq!(again["receipts"][i]["time"], first["receipts"][i]["time"]);
        assert_eq!(again["receipts"][i]["duplicate"], true);
    }
    assert_eq!(h.count(&tok).await, 2);
}

#[tokio::test]
async fn tokens_are_required_and_scopes_enforced() {
    let h = Harness::new().await;
    let ingest_only = h.token(&["ingest"]).await;
    let read_only = h.token(&["read"]).await;
    for (auth, path) in [
        (None, "/v1/activities"),
        (Some("atr_nope"), "/v1/activities"),
        (Some("Basic abc"), "/v1/activities/1"),
    ] {
        let (s, b, headers) = h.request("GET", path, auth, None, None).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "{b}");
        assert!(
            headers
                .get("www-authenticate")
                .unwrap()
                .to_str()
                .unwrap()
                .starts_with("Bearer")
        );
        assert_eq!(b["error"]["code"], "unauthenticated");
    }
    let (s, b) = h.get(&ingest_only, "/v1/activities").await;
    assert_eq!(
        s,
        StatusCode::FORBIDDEN,
        "an ingest-only token cannot read: {b}"
    );
    let (s, _) = h
        .post_json(&read_only, json!([activity("a@x.io", "logout")]))
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "a read-only token cannot ingest");
    let (s, _) = h
        .post_json(&ingest_only, json!([activity("a@x.io", "logout")]))
        .await;
    assert_eq!(s, StatusCode::OK);
}

#[tokio::test]
async fn revoked_and_expired_tokens_stop_working() {
    let h = Harness::new().await;
    let tok = h.token(&["read"]).await;
    assert_eq!(h.get(&tok, "/v1/activities").await.0, StatusCode::OK);
    h.revoke_all().await;
    assert_eq!(
        h.get(&tok, "/v1/activities").await.0,
        StatusCode::UNAUTHORIZED
    );
    let short = h.token_expiring(&["read"], 1_000_000).await;
    assert_eq!(h.get(&short, "/v1/activities").await.0, StatusCode::OK);
    h.clock.advance(2_000_000);
    assert_eq!(
        h.get(&short, "/v1/activities").await.0,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn query_filters_and_both_key_spellings() {
    let h = Harness::new().await;
    let tok = h.token(&["ingest", "read"]).await;
    let jwt = json!({"id": {"applicationName": "logto"}, "actor": {"profileId": "u1"}, "ipAddress": "2001:db8::1",
                     "result": "failure", "events": [{"name": "JwtCustomizer.ClientCredential"}]});
    let mut ada = activity("Ada@Example.com", "login_success");
    ada["events"][0]["parameters"] = json!([{"name": "login_type", "value": "google_password"}]);
    h.post_json(&tok, json!([ada, jwt, activity("bob@x.io", "logout")]))
        .await;
    for (q, want) in [
        ("eventName=JwtCustomizer.ClientCredential", vec!["2"]),
        ("eventName=JwtCustomizer.ClientCredentials", vec!["2"]),
        ("application=login", vec!["3", "1"]),
        ("actor=ada%40example.com", vec!["1"]),
        ("actor=u1", vec!["2"]),
        ("ip=2001:0db8:0:0::1", vec!["2"]),
        ("result=failure", vec!["2"]),
        ("eventName=login_success,logout", vec!["3", "1"]),
        (
            "eventName=login_success&filters=login_type%3D%3Dgoogle_password",
            vec!["1"],
        ),
        (
            "eventName=login_success&filters=login_type%3C%3Egoogle_password",
            vec![],
        ),
    ] {
        let (s, b) = h.get(&tok, &format!("/v1/activities?{q}")).await;
        assert_eq!(s, StatusCode::OK, "{q}: {b}");
        let got: Vec<&str> = b["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["id"]["uniqueQualifier"].as_str().unwrap())
            .collect();
        assert_eq!(got, want, "{q}");
    }
}

#[tokio::test]
async fn bad_query_parameters_name_the_parameter() {
    let h = Harness::new().await;
    let tok = h.token(&["read"]).await;
    for (q, field) in [
        ("limit=0", "limit"),
        ("limit=1001", "limit"),
        ("limit=ten", "limit"),
        ("ip=1.2.3", "ip"),
        ("startTime=yesterday", "startTime"),
        (
            "startTime=2026-01-02T00:00:00Z&endTime=2026-01-01T00:00:00Z",
            "startTime",
        ),
        ("result=meh", "result"),
        ("application=nope", "application"),
        ("application=login&eventName=not_an_event", "eventName"),
        ("eventName=not%20an%20event", "eventName"),
        (
            "application=login&eventName=Interaction.Create",
            "eventName",
        ),
        ("filters=is_suspicious", "filters"),
        (
            "eventName=login_success&filters=is_suspicious%3D%3Dmaybe",
            "filters",
        ),
        ("cursor=garbage", "cursor"),
        ("colour=red", "colour"),
        ("actor=%FF%FE", "actor"),
    ] {
        let (s, b) = h.get(&tok, &format!("/v1/activities?{q}")).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{q}: {b}");
        assert_eq!(b["error"]["details"][0]["field"], field, "{q}: {b}");
    }
    for (path, status) in [
        ("/v1/activities/0", StatusCode::BAD_REQUEST),
        ("/v1/activities/-1", StatusCode::BAD_REQUEST),
        ("/v1/activities/..%2F..%2Fetc", StatusCode::BAD_REQUEST),
        (
            "/v1/activities/99999999999999999999",
            StatusCode::BAD_REQUEST,
        ),
        ("/v1/activities/42", StatusCode::NOT_FOUND),
        ("/v1/nothing", StatusCode::NOT_FOUND),
    ] {
        let (s, b) = h.get(&tok, path).await;
        assert_eq!(s, status, "{path}: {b}");
        assert!(b["error"]["code"].is_string(), "{path}: a JSON error");
    }
}

#[tokio::test]
async fn cursor_paging_is_complete_and_stable_while_events_arrive() {
    let h = Harness::new().await;
    let tok = h.token(&["ingest", "read"]).await;
    let batch: Vec<Value> = (0..25)
        .map(|i| activity(&format!("u{i}@x.io"), "login_success"))
        .collect();
    h.post_json(&tok, json!(batch)).await;
    let mut seen = Vec::new();
    let mut url = "/v1/activities?limit=4".to_string();
    loop {
        let (s, b) = h.get(&tok, &url).await;
        assert_eq!(s, StatusCode::OK, "{b}");
        seen.extend(b["items"].as_array().unwrap().iter().map(|i| {
            i["id"]["uniqueQualifier"]
                .as_str()
                .unwrap()
                .parse::<i64>()
                .unwrap()
        }));
        // New events arrive between pages.
        h.post_json(&tok, json!([activity("late@x.io", "logout")]))
            .await;
        match b["nextCursor"].as_str() {
            Some(c) => url = format!("/v1/activities?limit=4&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(
        seen,
        (1..=25).rev().collect::<Vec<_>>(),
        "exactly the 25 events present at the start, in order"
    );
}

#[tokio::test]
async fn a_cursor_from_another_tenant_is_refused() {
    let h = Harness::new().await;
    let tok = h.token(&["ingest", "read"]).await;
    h.post_json(
        &tok,
        json!([activity("a@x.io", "logout"), activity("b@x.io", "logout")]),
    )
    .await;
    let (_, b) = h.get(&tok, "/v1/activities?limit=1").await;
    let cursor = b["nextCursor"].as_str().unwrap().to_string();
    let other = h.token_for("Cother", &["read"]).await;
    let (s, b) = h
        .get(&other, &format!("/v1/activities?cursor={cursor}"))
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{b}");
    assert_eq!(b["error"]["details"][0]["field"], "cursor");
    let (s, b) = h.get(&other, "/v1/activities/1").await;
    assert_eq!(
        s,
        StatusCode::NOT_FOUND,
        "another tenant's id is not found: {b}"
    );
    let (_, b) = h.get(&other, "/v1/activities").await;
    assert_eq!(b["items"], json!([]), "another tenant sees nothing: {b}");
}

#[tokio::test]
async fn secret_looking_parameters_are_masked_before_storage() {
    let h = Harness::new().await;
    let tok = h.token(&["ingest", "read"]).await;
    let a = json!({"id": {"applicationName": "logto"}, "actor": {"profileId": "u1"},
        "events": [{"name": "ExchangeTokenBy.RefreshToken", "parameters": [
            {"name": "refresh_token", "value": "rt-secret"},
            {"name": "params", "jsonValue": {"client_secret": "cs", "grant_type": "refresh_token"}},
            {"name": "scope", "value": "openid"}]}],
        "error": {"message": "bad", "password": "hunter2"}});
    let (s, _) = h.post_json(&tok, json!([a])).await;
    assert_eq!(s, StatusCode::OK);
    let (_, one) = h.get(&tok, "/v1/activities/1").await;
    let text = one.to_string();
    for secret in ["rt-secret", "\"cs\"", "hunter2"] {
        assert!(!text.contains(secret), "{secret} leaked: {text}");
    }
    assert!(
        text.contains("openid") && text.contains("\"grant_type\":\"refresh_token\""),
        "{text}"
    );
}

#[tokio::test]
async fn healthz_answers_without_a_token_and_unknown_methods_get_json() {
    let h = Harness::new().await;
    let (s, b, _) = h.request("GET", "/healthz", None, None, None).await;
    assert_eq!((s, b), (StatusCode::OK, json!({"status": "ok"})));
    let tok = h.token(&["read"]).await;
    let (s, b, _) = h
        .request("DELETE", "/v1/activities", Some(&tok), None, None)
        .await;
    assert_eq!(s, StatusCode::METHOD_NOT_ALLOWED);
    assert!(b["error"]["message"].is_string());
    assert_eq!(b["error"]["code"], "method_not_allowed");
    // Issue #19: in the envelope of the API the request was sent to, with `Allow`.
    let (s, b, headers) = h
        .request("DELETE", "/api/logs", Some(&tok), None, None)
        .await;
    assert_eq!(s, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(
        b["code"], "request.method_not_allowed",
        "Logto's envelope: {b}"
    );
    assert!(
        headers["allow"].to_str().unwrap().contains("GET"),
        "{headers:?}"
    );
    let google = "/admin/reports/v1/activity/users/all/applications/login";
    let (s, b, _) = h.request("POST", google, Some(&tok), None, None).await;
    assert_eq!(s, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(b["error"]["code"], 405, "Google's envelope: {b}");
    assert_eq!(b["error"]["errors"][0]["reason"], "httpMethodNotAllowed");
}

fn merge(a: &mut Value, patch: Value) {
    match (a, patch) {
        (Value::Object(a), Value::Object(p)) => {
            for (k, v) in p {
                match a.get_mut(&k) {
                    Some(slot) if slot.is_object() && v.is_object() => merge(slot, v),
                    _ => {
                        a.insert(k, v);
                    }
                }
            }
        }
        (slot, v) => *slot = v,
    }
}

/// The router's own route table against the document: a route (or method) missing from
/// `openapi.json` fails, and so does a documented one that is not routed.
#[test]
fn every_route_of_the_router_is_in_the_openapi_document() {
    use std::collections::BTreeSet;
    let doc: Value = serde_json::from_str(authtrail_server::OPENAPI).unwrap();
    // Path parameters are spelt differently (`{unique_qualifier}` in the router,
    // `{uniqueQualifier}` in the document); their places must agree.
    let shape = |p: &str| {
        p.split('/')
            .map(|seg| if seg.starts_with('{') { "{}" } else { seg })
            .collect::<Vec<_>>()
            .join("/")
    };
    let documented: BTreeSet<(String, String)> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(p, item)| {
            let p = shape(p);
            item.as_object()
                .unwrap()
                .keys()
                .map(move |m| (p.clone(), m.clone()))
        })
        .collect();
    let routed: BTreeSet<(String, String)> = authtrail_server::ROUTES
        .iter()
        .map(|r| (shape(r.path), r.method.to_string()))
        .collect();
    assert_eq!(
        routed.len(),
        authtrail_server::ROUTES.len(),
        "no route twice"
    );
    let undocumented: Vec<_> = routed.difference(&documented).collect();
    assert!(
        undocumented.is_empty(),
        "not in openapi.json: {undocumented:?}"
    );
    let unrouted: Vec<_> = documented.difference(&routed).collect();
    assert!(
        unrouted.is_empty(),
        "documented but not routed: {unrouted:?}"
    );
}

#[tokio::test]
async fn the_openapi_document_lists_every_route_and_each_answers() {
    let h = Harness::new().await;
    let (s, doc, _) = h.request("GET", "/openapi.json", None, None, None).await;
    assert_eq!(s, StatusCode::OK);
    let paths = doc["paths"].as_object().unwrap();
    for p in [
        "/healthz",
        "/openapi.json",
        "/v1/activities",
        "/v1/activities/{uniqueQualifier}",
    ] {
        assert!(paths.contains_key(p), "{p} is documented");
    }
    let tok = h.token(&["read"]).await;
    for (p, item) in paths {
        let concrete = p.replace("{uniqueQualifier}", "1").replace("{id}", "1");
        for method in item.as_object().unwrap().keys() {
            let method = method.to_ascii_uppercase();
            let (s, _, _) = h.request(&method, &concrete, Some(&tok), None, None).await;
            assert!(
                s != StatusCode::METHOD_NOT_ALLOWED
                    && (s != StatusCode::NOT_FOUND || concrete.ends_with("/1")),
                "{method} {p} is routed ({s})"
            );
        }
    }
}

/// Issue #16: an IPv4-mapped IPv6 address is stored as the IPv4 address it maps, so a search for
/// that address (in either spelling) finds it.
#[tokio::test]
async fn ipv4_mapped_addresses_are_stored_and_searched_as_ipv4() {
    let h = Harness::new().await;
    let tok = h.token(&["ingest", "read"]).await;
    let mut a = activity("a@x.io", "login_success");
    a["ipAddress"] = json!("::ffff:203.0.113.9");
    let (s, b) = h.post_json(&tok, json!([a])).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    for q in ["203.0.113.9", "::ffff:203.0.113.9"] {
        let path = format!("/v1/activities?ip={q}");
        let (s, b) = h.get(&tok, &path).await;
        assert_eq!(s, StatusCode::OK, "{q}: {b}");
        assert_eq!(b["items"].as_array().unwrap().len(), 1, "{q}: {b}");
        assert_eq!(b["items"][0]["ipAddress"], "203.0.113.9");
    }
}

/// Issue #19: Google documents more challenge methods than the catalogue lists and adds new
/// ones, so an unlisted value of an open set is stored as sent (never refusing the batch) and
/// counted in `/metrics`.
#[tokio::test]
async fn unlisted_values_of_open_enumerations_are_stored_and_counted() {
    let h = Harness::new().await;
    let tok = h.token(&["ingest", "read"]).await;
    let a = json!({"id": {"applicationName": "login"}, "actor": {"email": "a@x.io"},
        "events": [{"name": "login_success", "parameters": [
            {"name": "login_challenge_method", "multiValue": ["password", "passkey_v2", "face_id"]},
            {"name": "login_type", "value": "carrier_pigeon"}]}]});
    let (s, b) = h.post_json(&tok, json!([a])).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let (_, b) = h.get(&tok, "/v1/activities/1").await;
    let params = &b["events"][0]["parameters"];
    assert_eq!(
        params[0]["multiValue"],
        json!(["password", "passkey_v2", "face_id"])
    );
    assert_eq!(params[1]["value"], "carrier_pigeon");
    let admin = h.token(&["admin"]).await;
    let (_, text, _) = h.request_raw("GET", "/metrics", &admin).await;
    for line in [
        r#"authtrail_ingest_unlisted_values_total{application="login",parameter="login_challenge_method"} 2"#,
        r#"authtrail_ingest_unlisted_values_total{application="login",parameter="login_type"} 1"#,
    ] {
        assert!(text.contains(line), "{line} in {text}");
    }
}
