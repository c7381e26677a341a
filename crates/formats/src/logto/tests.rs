//! The mapping loses nothing: Logto log → activity → Logto log reproduces the payload, with
//! secret-looking fields masked as Logto masks them.

use proptest::prelude::*;
use serde_json::{Map, Value, json};

use authtrail_catalog::Catalog;
use authtrail_model::redact::{REDACTED, redact_json};
use authtrail_model::validate::{Context, validate_item};
use authtrail_model::{Activity, Tenant};

use super::*;

const NOW: i64 = 1_795_392_000_000_000;

fn catalog() -> &'static Catalog {
    static C: std::sync::OnceLock<Catalog> = std::sync::OnceLock::new();
    C.get_or_init(|| Catalog::builtin().unwrap())
}

fn fixture(name: &str) -> Value {
    let path = format!("{}/tests/fixtures/logto/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Maps, validates (as ingest does) and stores as uniqueQualifier 7, then maps back.
fn round_trip(log: &Value) -> (Activity, Log) {
    let t = Tenant::new("Ctest").unwrap();
    let m = from_log(catalog(), log).unwrap_or_else(|e| panic!("{e:?}"));
    let ctx = Context {
        catalog: catalog(),
        tenant: &t,
        now_us: NOW,
    };
    let n = validate_item(&ctx, 0, &m.item).unwrap_or_else(|e| panic!("{e:?}\n{}", m.item));
    let a = Activity {
        tenant: t,
        unique_qualifier: 7,
        time_us: n.time_us,
        received_us: NOW,
        application: n.application,
        body: n.body,
    };
    let back = to_log(&a);
    (a, back)
}

#[test]
fn a_sign_in_submit_log_round_trips_exactly() {
    let log = fixture("log-sign-in-submit.json");
    let (a, back) = round_trip(&log);
    assert_eq!(a.body.ip_address.as_deref(), Some("203.0.113.24"));
    assert_eq!(a.body.actor.profile_id.as_deref(), Some("u7x2k9m4q1z8"));
    assert_eq!(
        a.body.client_application_id.as_deref(),
        Some("app4r8t2y6u0")
    );
    assert_eq!(a.body.session_id.as_deref(), Some("sess-9f8e7d6c"));
    assert_eq!(a.body.event_id.as_deref(), Some("a1b2c3d4e5f6g7h8i9j0k"));
    assert_eq!(a.time_us, 1_795_391_000_123_000);
    assert_eq!(back.key, "Interaction.SignIn.Submit");
    assert_eq!(back.created_at, 1_795_391_000_123);
    assert_eq!(back.id, "7");
    assert_eq!(Value::Object(back.payload), log["payload"]);
}

#[test]
fn secrets_are_masked_and_everything_else_kept() {
    let log = fixture("log-token-exchange-error.json");
    let (a, back) = round_trip(&log);
    assert_eq!(a.body.result, authtrail_model::Outcome::Failure);
    let p = &back.payload;
    assert_eq!(p["params"]["refresh_token"], REDACTED);
    assert_eq!(p["params"]["client_secret"], REDACTED);
    assert_eq!(p["params"]["grant_type"], "refresh_token");
    assert_eq!(
        p["applicationSecret"], REDACTED,
        "masked by name, as Logto's rule does"
    );
    assert_eq!(p["error"], log["payload"]["error"]);
    assert_eq!(p["tokenTypes"], json!(["AccessToken", "RefreshToken"]));
    assert_eq!(
        Value::Object(back.payload.clone()),
        redact_json(&log["payload"]),
        "the payload comes back, masked"
    );
}

#[test]
fn the_seed_spelling_resolves_and_unknown_keys_are_kept() {
    let (_, back) = round_trip(&fixture("log-seed-spelling.json"));
    assert_eq!(
        back.key, "JwtCustomizer.ClientCredentials",
        "canonical spelling"
    );
    let log = fixture("log-unknown-key.json");
    let (a, back) = round_trip(&log);
    assert_eq!(a.body.events[0].name, UNKNOWN);
    assert_eq!(back.key, log["key"]);
    assert_eq!(Value::Object(back.payload), log["payload"]);
}

#[test]
fn shape_errors_name_the_field() {
    let bad = |v: Value| {
        from_log(catalog(), &v)
            .unwrap_err()
            .into_iter()
            .map(|e| e.field)
            .collect::<Vec<_>>()
    };
    assert_eq!(bad(json!("x")), vec![""]);
    assert_eq!(bad(json!({"key": "RevokeToken"})), vec![".id"]);
    assert_eq!(bad(json!({"id": "a"})), vec![".key"]);
    assert_eq!(
        bad(json!({"id": "a", "key": "RevokeToken", "createdAt": "yesterday"})),
        vec![".createdAt"]
    );
    assert_eq!(
        bad(json!({"id": "a", "key": "RevokeToken", "payload": {"result": "Maybe"}})),
        vec![".payload.result"]
    );
    assert_eq!(
        bad(json!({"id": "a", "key": "RevokeToken", "payload": []})),
        vec![".payload"]
    );
    assert_eq!(
        bad(json!({"id": "a", "key": "RevokeToken", "extra": 1})),
        vec![".extra"]
    );
}

#[test]
fn validator_paths_are_translated_to_logto_fields() {
    let log = json!({"id": "a", "key": "RevokeToken", "createdAt": 1,
                     "payload": {"key": "RevokeToken", "result": "Success", "ip": "not-an-ip", "grantId": "g"}});
    let m = from_log(catalog(), &log).unwrap();
    let t = Tenant::new("Ctest").unwrap();
    let ctx = Context {
        catalog: catalog(),
        tenant: &t,
        now_us: NOW,
    };
    let errs = validate_item(&ctx, 3, &m.item).unwrap_err();
    let fields: Vec<String> = errs
        .iter()
        .map(|e| m.paths.translate("logs", &e.field))
        .collect();
    assert_eq!(fields, vec!["logs[3].payload.ip"]);
    assert_eq!(
        m.paths
            .translate("logs", "activities[3].events[0].parameters[0].value"),
        "logs[3].payload.grantId"
    );
    assert_eq!(
        m.paths.translate("logs", "activities[3].id.time"),
        "logs[3].createdAt"
    );
}

#[test]
fn activities_from_other_sources_keep_their_context() {
    let t = Tenant::new("Ctest").unwrap();
    let ctx = Context {
        catalog: catalog(),
        tenant: &t,
        now_us: NOW,
    };
    let n = validate_item(
        &ctx,
        0,
        &json!({"id": {"applicationName": "login"}, "actor": {"email": "a@x.io", "profileId": "p1"},
                "events": [{"name": "login_success", "parameters": [{"name": "is_suspicious", "boolValue": false}]}]}),
    )
    .unwrap();
    let a = Activity {
        tenant: t,
        unique_qualifier: 1,
        time_us: NOW,
        received_us: NOW,
        application: n.application,
        body: n.body,
    };
    let log = to_log(&a);
    assert_eq!(log.key, "login_success");
    assert_eq!(log.payload["userId"], "p1");
    assert_eq!(log.payload["is_suspicious"], false);
    assert_eq!(log.payload[EXTRAS]["application"], "login");
    assert_eq!(log.payload[EXTRAS]["actor"]["email"], "a@x.io");
}

#[test]
fn a_log_gets_its_user_agent_parsed_unless_it_came_with_one() {
    let firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0";
    let mut log = fixture("log-sign-in-submit.json");
    let theirs = log["payload"]["userAgentParsed"].clone();
    let (_, back) = round_trip(&log);
    assert_eq!(back.payload["userAgentParsed"], theirs, "kept as it came");

    log["payload"]
        .as_object_mut()
        .unwrap()
        .remove("userAgentParsed");
    log["payload"]["userAgent"] = json!(firefox);
    let (_, back) = round_trip(&log);
    assert_eq!(
        back.payload["userAgentParsed"],
        json!({
            "browser": {"name": "Firefox", "version": "132.0", "major": "132"},
            "engine": {"name": "Gecko", "version": "132.0"},
            "os": {"name": "Linux"},
            "device": {},
            "cpu": {"architecture": "amd64"},
            "ua": firefox,
        })
    );

    log["payload"].as_object_mut().unwrap().remove("userAgent");
    let (_, back) = round_trip(&log);
    assert!(
        !back.payload.contains_key("userAgentParsed"),
        "no agent, nothing parsed"
    );
}

/// Payload field names a Logto payload may carry through its catch-all, plus the declared ones.
fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("ip".to_string()),
        Just("userAgent".to_string()),
        Just("userId".to_string()),
        Just("applicationId".to_string()),
        Just("sessionId".to_string()),
        Just("error".to_string()),
        Just("password".to_string()),
        Just("accessToken".to_string()),
        Just("hasPassword".to_string()),
        "[a-z][a-zA-Z]{0,12}",
    ]
}

fn value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        "[ -~]{0,20}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-zA-Z_]{1,10}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn any_payload_round_trips_masked(
        fields in prop::collection::btree_map(name(), value(), 0..8),
        key in prop::sample::select(vec!["Interaction.SignIn.Submit", "RevokeToken", "Not.A.Known.Key"]),
        ok in any::<bool>(),
        ms in 0i64..1_795_000_000_000,
    ) {
        let mut payload: Map<String, Value> = fields.into_iter().collect();
        // Declared fields Logto writes as strings; other types would be parameters, also fine.
        if payload.get("ip").is_some() {
            payload.insert("ip".into(), json!("192.0.2.1"));
        }
        if payload.get("error").is_some_and(|e| !e.is_object() && !e.is_string()) {
            payload.remove("error");
        }
        payload.insert("key".into(), json!(key));
        payload.insert("result".into(), json!(if ok { "Success" } else { "Error" }));
        let log = json!({"id": "p", "key": key, "payload": payload, "createdAt": ms});
        let (_, back) = round_trip(&log);
        prop_assert_eq!(&back.key, key);
        prop_assert_eq!(back.created_at, ms);
        // As Logto writes it: a log with a user agent has it parsed, too.
        let mut want = redact_json(&log["payload"]);
        if let Some(ua) = payload.get("userAgent").and_then(Value::as_str) {
            want["userAgentParsed"] = authtrail_useragent::parse(ua).logto_json(ua);
        }
        prop_assert_eq!(Value::Object(back.payload), want);
    }
}

#[test]
fn a_webhook_delivery_maps_to_one_event_with_its_context() {
    let body = fixture("hook-post-sign-in.json");
    let id = delivery_id(body.to_string().as_bytes());
    let prefix = "authtrail:logto-hook:";
    assert!(id.starts_with(prefix) && id.len() == prefix.len() + 64);
    let m = from_hook(catalog(), &body, &id).unwrap();
    let item = &m.item;
    assert_eq!(item["eventId"], id.as_str());
    assert_eq!(item["id"]["time"], "2026-11-22T23:50:00.123Z");
    assert_eq!(item["ipAddress"], "203.0.113.24", "userIp is the address");
    assert_eq!(item["actor"]["profileId"], "u7x2k9m4q1z8");
    assert_eq!(
        item["clientApplicationId"], "app4r8t2y6u0",
        "taken from the application object"
    );
    assert_eq!(item["events"][0]["name"], "PostSignIn");
    let params = item["events"][0]["parameters"].as_array().unwrap();
    assert!(
        params.iter().any(|p| p["name"] == "user"),
        "the rest is kept"
    );
    assert!(
        !params
            .iter()
            .any(|p| p["name"] == "event" || p["name"] == "createdAt")
    );

    let bad = |v: Value| from_hook(catalog(), &v, "x").unwrap_err()[0].field.clone();
    assert_eq!(bad(json!([])), "");
    assert_eq!(bad(json!({"createdAt": "2026-11-22T23:50:00Z"})), ".event");
    assert_eq!(
        bad(json!({"event": "PostSignIn", "createdAt": 1})),
        ".createdAt"
    );
}
