use authtrail_catalog::Catalog;
use authtrail_model::validate::{Context, validate_item};
use authtrail_model::{Activity, Tenant};
use serde_json::{Value, json};

use super::to_ocsf;

/// An activity as ingest would store it (validated against the built-in catalogue).
fn activity(v: Value) -> Activity {
    let catalog = Catalog::builtin().unwrap();
    let tenant = Tenant::new("Cx").unwrap();
    let ctx = Context {
        catalog: &catalog,
        tenant: &tenant,
        now_us: 1_767_225_600_000_000,
    };
    let n = validate_item(&ctx, 0, &v).unwrap();
    Activity {
        tenant,
        unique_qualifier: 42,
        time_us: n.time_us,
        received_us: n.time_us + 2_500,
        application: n.application,
        body: n.body,
    }
}

fn one(v: Value) -> Value {
    let catalog = Catalog::builtin().unwrap();
    let mut records = to_ocsf(&activity(v), &catalog);
    assert_eq!(records.len(), 1);
    records.remove(0)
}

#[test]
fn a_google_login_failure_is_an_authentication_logon_that_failed() {
    let r = one(json!({
        "id": {"applicationName": "login", "time": "2026-01-01T00:00:00.123456Z"},
        "actor": {"email": "ada@example.com", "profileId": "1001"},
        "ipAddress": "203.0.113.9", "userAgent": "Mozilla/5.0",
        "events": [{"name": "login_failure", "parameters": [
            {"name": "login_type", "value": "google_password"},
            {"name": "login_challenge_method", "multiValue": ["password"]}]}]
    }));
    assert_eq!(r["class_uid"], 3002);
    assert_eq!(r["class_name"], "Authentication");
    assert_eq!(r["category_uid"], 3);
    assert_eq!(r["activity_id"], 1);
    assert_eq!(r["activity_name"], "Logon");
    assert_eq!(r["type_uid"], 300201);
    assert_eq!(r["type_name"], "Authentication: Logon");
    // login_failure implies a failure; a failure is Low.
    assert_eq!(
        (r["status_id"].clone(), r["status"].clone()),
        (json!(2), json!("Failure"))
    );
    assert_eq!(r["severity_id"], 2);
    // Milliseconds, truncated.
    assert_eq!(r["time"], 1_767_225_600_123_i64);
    assert_eq!(r["metadata"]["logged_time"], 1_767_225_600_125_i64);
    assert_eq!(r["message"], "ada@example.com failed to login");
    assert_eq!(
        r["user"],
        json!({"name": "ada@example.com", "email_addr": "ada@example.com", "uid": "1001"})
    );
    assert_eq!(r["actor"]["user"], r["user"]);
    assert_eq!(r["src_endpoint"], json!({"ip": "203.0.113.9"}));
    assert_eq!(r["http_request"]["user_agent"], "Mozilla/5.0");
    assert_eq!(r["service"], json!({"name": "Login", "uid": "login"}));
    let m = &r["metadata"];
    assert_eq!(m["version"], "1.8.0");
    assert_eq!(m["product"]["name"], "authtrail");
    assert_eq!(m["uid"], "Cx:42:0");
    assert_eq!(m["correlation_uid"], "Cx:42");
    assert_eq!(m["sequence"], 42);
    assert_eq!(m["tenant_uid"], "Cx");
    assert_eq!(m["event_code"], "login_failure");
    assert_eq!(m["log_name"], "login");
    let u = &r["unmapped"];
    assert_eq!(u["parameters"]["login_type"], "google_password");
    assert_eq!(
        u["parameters"]["login_challenge_method"],
        json!(["password"])
    );
    assert_eq!(u["application"], "login");
    assert!(r.get("is_mfa").is_none());
}

#[test]
fn credential_changes_are_account_changes_with_the_catalogues_activity() {
    let change = |name: &str| {
        one(json!({
            "id": {"applicationName": "login"}, "actor": {"email": "bo@example.com"},
            "events": [{"name": name}]
        }))
    };
    let ids = |r: &Value| {
        (
            r["class_uid"].clone(),
            r["activity_id"].clone(),
            r["type_uid"].clone(),
        )
    };
    assert_eq!(
        ids(&change("password_edit")),
        (json!(3001), json!(3), json!(300103))
    );
    assert_eq!(
        ids(&change("2sv_enroll")),
        (json!(3001), json!(10), json!(300110))
    );
    assert_eq!(
        ids(&change("2sv_disable")),
        (json!(3001), json!(11), json!(300111))
    );
    let r = change("recovery_phone_edit");
    assert_eq!(ids(&r), (json!(3001), json!(99), json!(300199)));
    assert_eq!(r["activity_name"], "Other");
    // Account Change has no service or session fields.
    assert!(r.get("service").is_none() && r.get("session").is_none());
    assert_eq!(r["user"]["email_addr"], "bo@example.com");
}

#[test]
fn warnings_are_medium_and_mfa_challenges_say_so() {
    let r = one(json!({
        "id": {"applicationName": "login"}, "actor": {"email": "cy@example.com"},
        "events": [{"name": "suspicious_login", "parameters": [{"name": "affected_email_address", "value": "cy@example.com"}]}]
    }));
    assert_eq!(
        (r["class_uid"].clone(), r["activity_id"].clone()),
        (json!(3002), json!(99))
    );
    assert_eq!(r["severity_id"], 3);
    assert_eq!(r["severity"], "Medium");
    assert_eq!(r["status_id"], 1);

    let r = one(json!({
        "id": {"applicationName": "login"}, "actor": {"email": "cy@example.com"},
        "events": [{"name": "login_verification"}]
    }));
    assert_eq!(r["is_mfa"], true);
    assert_eq!(r["activity_id"], 99);
}

#[test]
fn a_logto_sign_in_carries_its_session_client_and_open_payload() {
    let r = one(json!({
        "id": {"applicationName": "logto"},
        "actor": {"profileId": "u_1"}, "sessionId": "sess-9", "clientApplicationId": "app-3",
        "events": [{"name": "Interaction.SignIn.Submit", "parameters": [
            {"name": "interaction", "jsonValue": {"event": "SignIn"}}]}],
        "result": "success"
    }));
    assert_eq!(r["type_uid"], 300201);
    assert_eq!(r["user"], json!({"name": "u_1", "uid": "u_1"}));
    assert_eq!(r["session"], json!({"uid": "sess-9"}));
    assert_eq!(r["actor"]["session"], json!({"uid": "sess-9"}));
    assert_eq!(r["actor"]["app_uid"], "app-3");
    assert_eq!(r["service"]["name"], "Logto");
    assert_eq!(
        r["unmapped"]["parameters"]["interaction"],
        json!({"event": "SignIn"})
    );
}

#[test]
fn events_of_no_iam_meaning_are_base_events_without_user_fields() {
    let r = one(json!({
        "id": {"applicationName": "admin"},
        "actor": {"callerType": "USER", "email": "root@example.com"},
        "ipAddress": "198.51.100.1",
        "events": [{"name": "retention.change", "parameters": [
            {"name": "retention_days", "intValue": "30"}]}]
    }));
    assert_eq!(
        (r["class_uid"].clone(), r["category_uid"].clone()),
        (json!(0), json!(0))
    );
    assert_eq!(r["class_name"], "Base Event");
    assert_eq!(r["category_name"], "Uncategorized");
    assert_eq!(r["type_uid"], 99);
    for absent in ["user", "actor", "src_endpoint", "service"] {
        assert!(r.get(absent).is_none(), "{absent}");
    }
    assert_eq!(r["unmapped"]["caller_type"], "USER");
    assert_eq!(r["unmapped"]["parameters"]["retention_days"], 30);
}

#[test]
fn several_events_give_one_record_each_sharing_the_correlation_uid() {
    let catalog = Catalog::builtin().unwrap();
    let a = activity(json!({
        "id": {"applicationName": "login"}, "actor": {"email": "di@example.com"},
        "events": [{"name": "login_success"}, {"name": "logout"}]
    }));
    let rs = to_ocsf(&a, &catalog);
    assert_eq!(rs.len(), 2);
    assert_eq!(rs[0]["type_uid"], 300201);
    assert_eq!(rs[1]["type_uid"], 300202);
    assert_eq!(rs[1]["metadata"]["uid"], "Cx:42:1");
    assert_eq!(
        rs[0]["metadata"]["correlation_uid"],
        rs[1]["metadata"]["correlation_uid"]
    );
    assert_eq!(rs[1]["message"], "di@example.com logged out");
}
