//! Outbound: a stored activity as a Logto log (the reverse of [`super::from_log`]).

use serde_json::{Map, Value, json};

use authtrail_model::{Activity, Outcome, ParamValue};

use super::{APPLICATION, EXTRAS, Log, UNKNOWN};

/// The payload field Logto keeps the parsed user agent in.
const USER_AGENT_PARSED: &str = "userAgentParsed";

fn param_json(v: &ParamValue) -> Value {
    match v {
        ParamValue::Str(s) => json!(s),
        ParamValue::Int(i) => json!(i),
        ParamValue::Bool(b) => json!(b),
        ParamValue::MultiStr(v) => json!(v),
        ParamValue::MultiInt(v) => json!(v),
        ParamValue::Message(m) => serde_json::to_value(m).unwrap_or(Value::Null),
        ParamValue::Json(v) => v.clone(),
    }
}

/// A stored activity as a Logto log. Its `id` is the uniqueQualifier (what `GET /api/logs/{id}`
/// takes); a Logto log's own id stays the activity's `eventId`.
pub fn to_log(a: &Activity) -> Log {
    let b = &a.body;
    let first = b.events.first();
    let mut key = first
        .map(|e| e.name.clone())
        .unwrap_or_else(|| UNKNOWN.into());
    let original = first
        .filter(|e| e.name == UNKNOWN)
        .and_then(|e| match e.param("key") {
            Some(ParamValue::Str(k)) => Some(k.clone()),
            _ => None,
        });
    if let Some(k) = &original {
        key = k.clone();
    }
    let mut p = Map::new();
    p.insert("key".into(), json!(key));
    let result = match b.result {
        Outcome::Success => "Success",
        Outcome::Failure => "Error",
    };
    p.insert("result".into(), json!(result));
    if let Some(e) = &b.error {
        p.insert("error".into(), e.clone());
    }
    let declared = [
        ("ip", &b.ip_address),
        ("userAgent", &b.user_agent),
        ("userId", &b.actor.profile_id),
        ("applicationId", &b.client_application_id),
        ("sessionId", &b.session_id),
    ];
    for (name, v) in declared {
        if let Some(v) = v {
            p.insert(name.into(), json!(v));
        }
    }
    if let Some(e) = first {
        for param in &e.parameters {
            if original.is_some() && param.name == "key" {
                continue;
            }
            p.insert(param.name.clone(), param_json(&param.value));
        }
    }
    // Logto adds the parsed user agent to every log; a log that arrived with its own keeps it.
    if let Some(ua) = &b.user_agent
        && !p.contains_key(USER_AGENT_PARSED)
    {
        let parsed = authtrail_useragent::parse(ua).logto_json(ua);
        p.insert(USER_AGENT_PARSED.into(), parsed);
    }
    // What Logto's payload has no place for, so that a non-Logto activity keeps its context.
    let mut extras = Map::new();
    if a.application != APPLICATION {
        extras.insert("application".into(), json!(a.application));
    }
    let actor = &b.actor;
    if actor.email.is_some() || actor.key.is_some() || actor.caller_type.is_some() {
        let mut v = serde_json::to_value(actor).unwrap_or(Value::Null);
        if let Value::Object(o) = &mut v {
            o.remove("profileId");
        }
        extras.insert("actor".into(), v);
    }
    if let Some(d) = &b.owner_domain {
        extras.insert("ownerDomain".into(), json!(d));
    }
    if let Some(n) = &b.network_info {
        extras.insert(
            "networkInfo".into(),
            serde_json::to_value(n).unwrap_or(Value::Null),
        );
    }
    if b.events.len() > 1 {
        extras.insert(
            "events".into(),
            serde_json::to_value(&b.events[1..]).unwrap_or(Value::Null),
        );
    }
    if !extras.is_empty() && !p.contains_key(EXTRAS) {
        p.insert(EXTRAS.into(), Value::Object(extras));
    }
    Log {
        tenant_id: a.tenant.to_string(),
        id: a.unique_qualifier.to_string(),
        key,
        payload: p,
        created_at: a.time_us.div_euclid(1000),
    }
}
