//! Hostile input: hundreds of bad requests, each of which must get a clear 4xx JSON error (never
//! a 500, never a panic) and store nothing. Values that are merely odd but well-formed (SQL
//! metacharacters in a free-text filter such as `actor`) are data, not errors: they must match
//! nothing and leave the trail intact.

use crate::support;

use axum::http::StatusCode;
use serde_json::{Value, json};

use support::{Harness, activity};

/// Checks a refusal: 4xx, a JSON error envelope (native, Google's, or Logto's top-level
/// `{code, message}`) with a message.
fn assert_clear_refusal(what: &str, status: StatusCode, body: &Value) {
    assert!(
        status.is_client_error(),
        "{what}: expected a 4xx, got {status}: {body}"
    );
    let e = if body["error"].is_object() {
        &body["error"]
    } else {
        body
    };
    let message = e["message"].as_str().unwrap_or("");
    assert!(
        !message.is_empty() && (e["code"].is_string() || e["code"].is_u64()),
        "{what}: not a JSON error envelope: {body}"
    );
}

struct Run {
    h: Harness,
    token: String,
    cases: usize,
}

impl Run {
    async fn new() -> Run {
        let h = Harness::new().await;
        let token = h.token(&["ingest", "read"]).await;
        // One real activity, so that reads have something they must not leak or break.
        let (s, _) = h
            .post_json(&token, json!([activity("victim@x.io", "login_success")]))
            .await;
        assert_eq!(s, StatusCode::OK);
        Run { h, token, cases: 0 }
    }

    async fn ingest(&mut self, what: &str, content_type: &str, body: Vec<u8>) {
        let (s, b) = self.h.post_bytes(&self.token, content_type, body).await;
        assert_clear_refusal(what, s, &b);
        self.cases += 1;
    }

    async fn get(&mut self, what: &str, path: &str) {
        let (s, b) = self.h.get(&self.token, path).await;
        assert_clear_refusal(&format!("{what} ({path})"), s, &b);
        self.cases += 1;
    }

    /// A well-formed but odd read: it must answer 200 with nothing, or refuse clearly.
    async fn get_nothing(&mut self, what: &str, path: &str) {
        let (s, b) = self.h.get(&self.token, path).await;
        if s == StatusCode::OK {
            // Native and Google pages hold `items`; Logto's is a bare array.
            let items = b.get("items").unwrap_or(&b);
            assert!(
                items.as_array().is_none_or(|a| a.is_empty()),
                "{what} ({path}) matched something: {b}"
            );
        } else {
            assert_clear_refusal(&format!("{what} ({path})"), s, &b);
        }
        self.cases += 1;
    }

    async fn assert_intact(&self) {
        assert_eq!(self.h.count(&self.token).await, 1, "nothing stored");
        eprintln!("{} hostile requests refused cleanly", self.cases);
        let (s, b) = self.h.get(&self.token, "/v1/activities").await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(b["items"][0]["actor"]["email"], "victim@x.io");
    }
}

fn nested(depth: usize) -> String {
    format!("{}1{}", "[".repeat(depth), "]".repeat(depth))
}

#[tokio::test]
async fn malformed_bodies_are_refused_clearly() {
    let mut r = Run::new().await;
    let mut bodies: Vec<(String, Vec<u8>)> = [
        "", " ", "[", "]", "{", "[{]", "[{}", "[1,]", "[,]", "{}", "null", "true", "1", "\"x\"",
        "[null]", "[1]", "[\"x\"]", "[[]]", "[{}]", "NaN", "[NaN]", "[Infinity]", "[-Infinity]",
        "[1e999]", "[-1e999]", "[{\"id\": {\"applicationName\": \"login\"}}] trailing",
        "[/* comment */ {}]", "[{'id': 1}]", "[{\"a\": 1, \"a\": 2}]", "[\"\\ud800\"]",
        "[\"\\u12\"]", "[\"\\x41\"]", "[\"unterminated]", "\u{feff}[{}]",
        "[{\"id\": {\"applicationName\": \"login\"}, \"events\": [{\"name\": \"logout\"}], \"eventId\": \"\\u0000\"}]",
        "[{\"id\": {\"applicationName\": \"login\\u0000\"}, \"events\": [{\"name\": \"logout\"}]}]",
    ]
    .iter()
    .map(|s| (format!("body {s:?}"), s.as_bytes().to_vec()))
    .collect();
    bodies.push(("deep array 100k".into(), nested(100_000).into_bytes()));
    bodies.push(("deep array 200".into(), nested(200).into_bytes()));
    bodies.push((
        "deep object 10k".into(),
        format!("{}1{}", "{\"a\":".repeat(10_000), "}".repeat(10_000)).into_bytes(),
    ));
    bodies.push(("invalid UTF-8".into(), b"[{\"id\": \"\xff\xfe\"}]".to_vec()));
    bodies.push(("lone continuation byte".into(), b"[\x80]".to_vec()));
    bodies.push(("raw NUL".into(), b"[{\"id\"\x00: 1}]".to_vec()));
    bodies.push(("overlong UTF-8".into(), b"[\"\xc0\xaf\"]".to_vec()));
    for (what, body) in bodies {
        r.ingest(&what, "application/json", body.clone()).await;
        r.ingest(&format!("{what} as NDJSON"), "application/x-ndjson", body)
            .await;
    }
    for ct in [
        "text/plain",
        "application/xml",
        "multipart/form-data; boundary=x",
        "json",
    ] {
        r.ingest(&format!("content type {ct:?}"), ct, b"[]".to_vec())
            .await;
    }
    let oversized = vec![b' '; 17 * 1024 * 1024];
    r.ingest("a 17 MiB body", "application/json", oversized)
        .await;
    r.assert_intact().await;
    assert!(r.cases >= 90, "{} cases", r.cases);
}

/// Every field of a valid activity, replaced by values of the wrong type or shape.
#[tokio::test]
async fn wrong_types_huge_numbers_and_nesting_in_every_field_are_refused() {
    let mut r = Run::new().await;
    let valid = json!({
        "id": {"applicationName": "login", "time": "2026-11-22T10:00:00Z"},
        "actor": {"email": "a@x.io", "profileId": "1", "callerType": "USER"},
        "ipAddress": "203.0.113.9",
        "events": [{"name": "login_failure", "type": "login", "parameters": [
            {"name": "login_type", "value": "google_password"},
            {"name": "is_suspicious", "boolValue": false}
        ]}],
        "eventId": "e-1"
    });
    let wrong: Vec<Value> = vec![
        json!(true),
        json!(12),
        json!(-1.5),
        json!([]),
        json!({}),
        json!("x"),
        json!(
            18_446_744_073_709_551_616_u128
                .to_string()
                .parse::<f64>()
                .unwrap()
        ),
        json!([[[[["deep"]]]]]),
    ];
    let pointers = [
        "/id",
        "/id/applicationName",
        "/id/time",
        "/actor",
        "/actor/email",
        "/actor/callerType",
        "/ipAddress",
        "/events",
        "/events/0",
        "/events/0/name",
        "/events/0/type",
        "/events/0/parameters",
        "/events/0/parameters/0",
        "/events/0/parameters/0/value",
        "/events/0/parameters/1/boolValue",
        "/eventId",
    ];
    for ptr in pointers {
        for w in &wrong {
            let mut item = valid.clone();
            let slot = item.pointer_mut(ptr).unwrap();
            // A string is the right type for string fields; only count it where it is wrong.
            // An empty parameter list is valid.
            if (slot.is_string() && w.is_string())
                || (ptr.ends_with("parameters") && w == &json!([]))
            {
                continue;
            }
            *slot = w.clone();
            let body = Value::Array(vec![item]).to_string().into_bytes();
            r.ingest(&format!("{ptr} = {w}"), "application/json", body)
                .await;
        }
    }
    let huge_ints = [
        json!({"name": "login_challenge_status", "intValue": "99999999999999999999"}),
        json!({"name": "x", "intValue": 1e308}),
        json!({"name": "x", "intValue": "-0x10"}),
        json!({"name": "x", "multiIntValue": ["1", "18446744073709551616"]}),
        json!({"name": "x", "jsonValue": serde_json::from_str::<Value>(&nested(17)).unwrap()}),
        json!({"name": "x", "value": "v".repeat(70_000)}),
        json!({"name": "x".repeat(10_000), "value": "v"}),
    ];
    for p in huge_ints {
        let mut item = valid.clone();
        item["events"][0]["parameters"] = json!([p]);
        let what = format!(
            "parameter {}",
            &p.to_string()[..p.to_string().len().min(80)]
        );
        r.ingest(
            &what,
            "application/json",
            Value::Array(vec![item]).to_string().into_bytes(),
        )
        .await;
    }
    for (field, v) in [
        ("/id/time", json!("2026-13-45T99:99:99Z")),
        ("/id/time", json!("99999-01-01T00:00:00Z")),
        (
            "/id/time",
            json!("1969-12-31T23:59:59Z; DROP TABLE activities"),
        ),
        ("/ipAddress", json!("999.1.1.1")),
        ("/ipAddress", json!("203.0.113.9' OR '1'='1")),
        ("/actor/email", json!("a".repeat(5000))),
        ("/eventId", json!("e".repeat(400))),
        ("/events/0/name", json!("login_failure'; --")),
        ("/id/applicationName", json!("../../etc/passwd")),
    ] {
        let mut item = valid.clone();
        *item.pointer_mut(field).unwrap() = v.clone();
        r.ingest(
            &format!("{field} = {v}"),
            "application/json",
            Value::Array(vec![item]).to_string().into_bytes(),
        )
        .await;
    }
    r.assert_intact().await;
    assert!(r.cases >= 100, "{} cases", r.cases);
}

#[tokio::test]
async fn hostile_query_strings_ids_and_cursors_are_refused_or_match_nothing() {
    let mut r = Run::new().await;
    let sqli = [
        "' OR 1=1 --",
        "\" OR \"\"=\"",
        "'; DROP TABLE activities; --",
        "1; SELECT pg_sleep(10)",
        "%' OR '%'='",
        "\\",
        "' UNION SELECT * FROM tokens --",
        "*",
        "%",
        "_",
        "$1",
        "?",
    ];
    let google = "/admin/reports/v1/activity/users/all/applications/login";
    for v in sqli {
        let enc: String = form_urlencoded::byte_serialize(v.as_bytes()).collect();
        // Typed parameters: refused.
        for p in [
            "application",
            "ip",
            "result",
            "startTime",
            "endTime",
            "limit",
            "cursor",
            "filters",
        ] {
            r.get(
                &format!("{p} = {v:?}"),
                &format!("/v1/activities?{p}={enc}"),
            )
            .await;
        }
        for p in [
            "eventName",
            "startTime",
            "endTime",
            "maxResults",
            "pageToken",
            "filters",
            "actorIpAddress",
            "orgUnitID",
            "groupIdFilter",
        ] {
            r.get(
                &format!("Google {p} = {v:?}"),
                &format!("{google}?{p}={enc}"),
            )
            .await;
        }
        r.get_nothing(
            &format!("filters value {v:?}"),
            &format!("/v1/activities?application=login&filters=login_type%3D%3D{enc}"),
        )
        .await;
        r.get_nothing(
            &format!("filters parameter {v:?}"),
            &format!("/v1/activities?application=login&filters={enc}%3D%3Dx"),
        )
        .await;
        // Free text: data, matching nothing. An event name the catalogue does not know is a
        // search for a Logto key stored as Unknown (issue #19): refused when it cannot be a key,
        // else matching nothing.
        for p in ["actor", "sessionId", "eventName"] {
            r.get_nothing(
                &format!("{p} = {v:?}"),
                &format!("/v1/activities?{p}={enc}"),
            )
            .await;
        }
        for p in [
            "page",
            "page_size",
            "start_time",
            "end_time",
            "cursor",
            "enableCap",
            "result",
            "ip",
        ] {
            r.get(
                &format!("Logto {p} = {v:?}"),
                &format!("/api/logs?{p}={enc}"),
            )
            .await;
        }
        for p in ["userId", "applicationId", "sessionId", "logKey"] {
            r.get_nothing(
                &format!("Logto {p} = {v:?}"),
                &format!("/api/logs?{p}={enc}"),
            )
            .await;
        }
        r.get_nothing(
            &format!("Google userKey = {v:?}"),
            &format!("/admin/reports/v1/activity/users/{enc}/applications/login"),
        )
        .await;
        // The transparency log: numbers refused, an eventId matching nothing.
        for p in ["index", "size"] {
            r.get(
                &format!("log {p} = {v:?}"),
                &format!("/v1/log/proof/inclusion?{p}={enc}"),
            )
            .await;
        }
        for p in ["old", "size"] {
            r.get(
                &format!("log {p} = {v:?}"),
                &format!("/v1/log/proof/consistency?{p}={enc}"),
            )
            .await;
        }
        r.get(
            &format!("log eventId = {v:?}"),
            &format!("/v1/log/proof/inclusion?eventId={enc}"),
        )
        .await;
        r.get(&format!("log tile {v:?}"), &format!("/v1/log/tile/0/{enc}"))
            .await;
    }
    for path in [
        "/v1/activities/../../etc/passwd",
        "/v1/activities/..%2F..%2Fetc%2Fpasswd",
        "/v1/activities/%2e%2e",
        "/v1/activities/1%00",
        "/v1/activities/0",
        "/v1/activities/-1",
        "/v1/activities/99999999999999999999999",
        "/v1/activities/1e3",
        "/v1/activities/0x10",
        "/v1/activities/%ff",
        "/v1/activities/%",
        "/v1/activities/%zz",
        "/v1/activities/1;2",
        "/v1/admin/tokens/..%2F..%2F",
        "/admin/reports/v1/activity/users/all/applications/..%2Flogin",
        "/admin/reports/v1/activity/users/all/applications/%00",
        "/api/logs/..%2F..%2Fetc%2Fpasswd",
        "/api/logs/%00",
        "/api/logs/-1",
        "/api/logs/1e3",
        "/api/logs/99999999999999999999999",
        "/api/logs/%ff",
        "/v1/log/tile/..%2F..%2Fetc%2Fpasswd",
        "/v1/log/tile/0/%00",
        "/v1/log/tile/0/%ff",
        "/v1/log/tile/0/x000/000",
        "/v1/log/tile/0/99999999999999999999999",
        "/v1/log/tile/entries/000.p/99999",
        "/v1/log/tile/9/000",
        "/v1/log/proof/inclusion?index=99999999999999999999999",
        "/v1/log/proof/inclusion?index=0&size=-1",
    ] {
        let (s, b) = r.h.get(&r.token, path).await;
        assert_clear_refusal(path, s, &b);
        r.cases += 1;
    }
    for q in [
        "limit=%",
        "limit=%zz",
        "actor=%ff%fe",
        "eventName=%E0%A4%A",
        "startTime=%00",
        "limit=-1",
        "limit=0",
        "limit=1001",
        "limit=99999999999999999999",
        "limit=1.5",
        "startTime=2026-11-22",
        "startTime=9999999999",
        "endTime=1969-01-01T00:00:00Z&startTime=2026-01-01T00:00:00Z",
        "bogus=1",
        "application=nope",
        "result=maybe",
        "ip=1.2.3.4/99",
    ] {
        r.get(&format!("query {q}"), &format!("/v1/activities?{q}"))
            .await;
    }
    let long = "a".repeat(9000);
    r.get("9 KB query", &format!("/v1/activities?actor={long}"))
        .await;
    // Cursors: garbage, truncated, bit-flipped, and minted for another tenant.
    r.h.post_json(&r.token, json!([activity("b@x.io", "logout")]))
        .await;
    let (_, page) = r.h.get(&r.token, "/v1/activities?limit=1").await;
    let good = page["nextCursor"].as_str().unwrap().to_string();
    let mut flipped = good.clone().into_bytes();
    let mid = flipped.len() / 2;
    flipped[mid] = if flipped[mid] == b'A' { b'B' } else { b'A' };
    let flipped = String::from_utf8(flipped).unwrap();
    for c in [
        "x".to_string(),
        "AAAA".into(),
        good[..good.len() / 2].to_string(),
        flipped,
        format!("{good}A"),
        "v1.".repeat(3000),
        "%ff".into(),
        "eyJhbGciOiJub25lIn0.e30.".into(),
    ] {
        r.get(
            &format!("cursor {}", &c[..c.len().min(40)]),
            &format!("/v1/activities?cursor={c}"),
        )
        .await;
        r.get(
            &format!("pageToken {}", &c[..c.len().min(40)]),
            &format!("{google}?pageToken={c}"),
        )
        .await;
    }
    let other = r.h.token_for("Cother", &["read"]).await;
    let (s, b) =
        r.h.get(&other, &format!("/v1/activities?cursor={good}"))
            .await;
    assert_clear_refusal("a cursor of another tenant", s, &b);
    assert_eq!(r.h.count(&r.token).await, 2, "nothing stored");
    eprintln!("{} hostile requests refused cleanly", r.cases);
    assert!(r.cases >= 250, "{} cases", r.cases);
}

/// Issue #16: a repeated key is a parser differential (serde_json keeps the last value, other
/// parsers the first), so every JSON body that holds one is refused, naming the key.
#[tokio::test]
async fn repeated_json_keys_are_refused_naming_the_key() {
    let mut r = Run::new().await;
    let cases: [(&str, &str, &str); 4] = [
        (
            "native array",
            "application/json",
            r#"[{"id": {"applicationName": "login"}, "actor": {"email": "a@x.io", "email": "b@x.io"}, "events": [{"name": "login_success"}]}]"#,
        ),
        (
            "native NDJSON",
            "application/x-ndjson",
            r#"{"id": {"applicationName": "login"}, "events": [{"name": "login_success"}], "events": []}"#,
        ),
        (
            "top level",
            "application/json",
            r#"[{"eventId": "x", "eventId": "y", "id": {"applicationName": "login"}, "events": [{"name": "login_success"}]}]"#,
        ),
        (
            "deep in a parameter",
            "application/json",
            r#"[{"id": {"applicationName": "login"}, "events": [{"name": "login_success", "parameters": [{"name": "login_type", "value": "x", "value": "y"}]}]}]"#,
        ),
    ];
    for (what, ct, body) in cases {
        let (s, b) = r.h.post_bytes(&r.token, ct, body.as_bytes().to_vec()).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{what}: {b}");
        assert!(b.to_string().contains("duplicate key"), "{what}: {b}");
        r.cases += 1;
    }
    // Logto's own batch endpoint, in Logto's envelope.
    let logto = r#"[{"id": "l1", "key": "Interaction.SignIn.Submit", "key": "RevokeToken", "createdAt": 1795391000000, "payload": {}}]"#;
    let (s, b, _) =
        r.h.request(
            "POST",
            "/api/logs",
            Some(&r.token),
            Some("application/json"),
            Some(logto.as_bytes().to_vec()),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{b}");
    assert!(
        b["message"]
            .as_str()
            .unwrap()
            .contains("duplicate key \"key\""),
        "{b}"
    );
    r.assert_intact().await;
}

/// Issue #16: a malformed percent-escape (`%ZZ`, a lone `%`) in any parameter, and an encoded NUL
/// or a malformed escape in any path, are refused with a 400 naming the parameter (or `path`),
/// in the envelope of the API called, instead of being taken as text.
#[tokio::test]
async fn malformed_escapes_and_nul_in_paths_and_parameters_are_refused() {
    let mut r = Run::new().await;
    let google = "/admin/reports/v1/activity/users";
    for (path, field) in [
        ("/v1/activities?actor=%ZZ", "actor"),
        ("/v1/activities?sessionId=abc%", "sessionId"),
        ("/v1/activities?actor=a%4", "actor"),
        (
            "/admin/reports/v1/activity/users/all/applications/login?actorIpAddress=%G1",
            "actorIpAddress",
        ),
        ("/api/logs?userId=%zz", "userId"),
        (&format!("{google}/a%00b@x.io/applications/login"), "path"),
        (&format!("{google}/all/applications/log%ZZin"), "path"),
        (&format!("{google}/%ZZ/applications/login"), "path"),
        ("/v1/activities/1%00", "path"),
        ("/api/logs/%00", "path"),
    ] {
        let (s, b) = r.h.get(&r.token, path).await;
        assert_clear_refusal(path, s, &b);
        assert_eq!(s, StatusCode::BAD_REQUEST, "{path}: {b}");
        assert!(b.to_string().contains(field), "{path}: names {field}: {b}");
        r.cases += 1;
    }
    r.assert_intact().await;
}
