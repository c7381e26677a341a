//! `authtrail query --format`: the same activities as the native API's JSON, Google's form, or
//! OCSF records (one per event).

use serde_json::{Value, json};

use crate::support::{authtrail, try_authtrail};

#[test]
fn query_prints_native_google_or_ocsf_lines() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let file = dir.path().join("events.ndjson");
    let items = [
        json!({"id": {"applicationName": "login", "time": "2026-01-01T00:00:00.123456Z"},
               "actor": {"email": "ada@example.com"}, "ipAddress": "203.0.113.9",
               "events": [{"name": "login_failure"}]}),
        json!({"id": {"applicationName": "login", "time": "2026-01-01T00:00:01.000001Z"},
               "actor": {"email": "bo@example.com"},
               "events": [{"name": "login_success"}, {"name": "logout"}]}),
    ];
    let text: Vec<String> = items.iter().map(Value::to_string).collect();
    std::fs::write(&file, text.join("\n")).unwrap();
    authtrail(&["ingest", file.to_str().unwrap(), "--data", d]);

    let lines = |format: &str| -> Vec<Value> {
        let (out, _) = authtrail(&["query", "--data", d, "--format", format]);
        out.lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    };
    // Native, the default: what `GET /v1/activities` returns, times in microseconds.
    let (default, _) = authtrail(&["query", "--data", d]);
    let native = lines("native");
    assert_eq!(default.lines().count(), 2);
    assert_eq!(native[0]["id"]["time"], "2026-01-01T00:00:01.000001Z");
    // Google's form: milliseconds.
    assert_eq!(lines("google")[1]["id"]["time"], "2026-01-01T00:00:00.123Z");
    // OCSF: one record per event, newest activity first, its events in order.
    let ocsf = lines("ocsf");
    let types: Vec<&Value> = ocsf.iter().map(|r| &r["type_uid"]).collect();
    assert_eq!(types, [&json!(300201), &json!(300202), &json!(300201)]);
    assert_eq!(ocsf[2]["status"], "Failure");
    assert_eq!(ocsf[2]["src_endpoint"]["ip"], "203.0.113.9");
    assert_eq!(ocsf[2]["message"], "ada@example.com failed to login");

    // Over HTTP only the native form exists; the refusal names the flag, before any request.
    let out = try_authtrail(&[
        "query",
        "--url",
        "http://127.0.0.1:9",
        "--token",
        "x",
        "--format",
        "ocsf",
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--format"));
    let out = try_authtrail(&["query", "--data", d, "--format", "cef"]);
    assert!(!out.status.success());
}
