//! Logto log objects ↔ activities. Pure functions, no I/O.
//!
//! A Logto log is `{id, key, payload, createdAt}` (the `logs` row, reference §1.1). Inbound, it
//! becomes an item in the native activity shape, which then goes through the one validator
//! (`validate_item`) like every other producer's: the catalogue resolves the key, secret-looking
//! payload fields are masked, limits apply. Outbound, a stored activity becomes a Log again.
//!
//! Nothing is lost: the declared payload fields map to the activity's first-class fields (`ip`,
//! `userAgent`, `userId`, `applicationId`, `sessionId`, `result`, `error`) and every other
//! payload field becomes an event parameter under its own name (a string as `value`, anything
//! else as `jsonValue`), so `to_log(from_log(x))` reproduces `x.payload`, secrets masked. A key
//! the catalogue does not know is stored as the event `Unknown` with the original key kept in a
//! `key` parameter, and given back as it came.

use serde::Serialize;
use serde_json::{Map, Value, json};

use authtrail_catalog::Catalog;
use authtrail_model::{Activity, Outcome, ParamValue};

/// The catalogue application of Logto's keys.
pub const APPLICATION: &str = "logto";
/// The event an unrecognised key is stored as (Logto's own fallback key).
pub const UNKNOWN: &str = "Unknown";
/// Where an activity's fields that Logto's payload has no place for go, outbound.
pub const EXTRAS: &str = "authtrail";

/// Payload fields that are first-class on an activity, with the native field each maps to.
const DECLARED: &[(&str, &str)] = &[
    ("ip", "ipAddress"),
    ("userAgent", "userAgent"),
    ("userId", "actor.profileId"),
    ("applicationId", "clientApplicationId"),
    ("sessionId", "sessionId"),
];

/// A log in Logto's Management API shape.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Log {
    pub tenant_id: String,
    pub id: String,
    pub key: String,
    pub payload: Map<String, Value>,
    /// Epoch milliseconds.
    pub created_at: i64,
}

/// The result of mapping one inbound object: the native item, and how to name its fields in the
/// producer's terms when the validator finds a problem.
#[derive(Debug, Clone, PartialEq)]
pub struct Mapped {
    pub item: Value,
    pub paths: PathMap,
}

/// Translates the validator's field paths (`activities[3].ipAddress`) into the inbound shape's
/// (`logs[3].payload.ip`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PathMap {
    /// Native suffix (after `activities[i]`) → inbound suffix (after `root[i]`).
    fields: Vec<(String, String)>,
    /// Inbound names of the first event's parameters, by position.
    params: Vec<String>,
    /// Inbound path of the parameters' container (`.payload`).
    params_at: String,
}

impl PathMap {
    /// An empty map whose parameters live at `params_at` (e.g. `.payload`).
    pub fn new(params_at: &str) -> PathMap {
        PathMap {
            params_at: params_at.to_string(),
            ..PathMap::default()
        }
    }

    /// Names the native field `native` (e.g. `.ipAddress`) as `inbound` (e.g. `.payload.ip`).
    pub fn field(&mut self, native: &str, inbound: &str) {
        self.fields.push((native.to_string(), inbound.to_string()));
    }

    /// The next parameter came from the inbound field `name`.
    pub fn param(&mut self, name: &str) {
        self.params.push(name.to_string());
    }

    /// The inbound path of a native field path.
    pub fn translate(&self, root: &str, native: &str) -> String {
        let Some(rest) = native.strip_prefix("activities") else {
            return native.to_string();
        };
        let (index, rest) = rest.split_at(rest.find(']').map_or(0, |i| i + 1));
        let base = format!("{root}{index}");
        let pp = ".events[0].parameters";
        if let Some(p) = rest.strip_prefix(pp) {
            let k = p
                .strip_prefix('[')
                .and_then(|p| p.split(']').next())
                .and_then(|k| k.parse::<usize>().ok());
            return match k.and_then(|k| self.params.get(k)) {
                Some(name) => format!("{base}{}.{name}", self.params_at),
                None => format!("{base}{}", self.params_at),
            };
        }
        for (native, inbound) in &self.fields {
            if let Some(tail) = rest.strip_prefix(native.as_str()) {
                return format!("{base}{inbound}{tail}");
            }
        }
        format!("{base}{rest}")
    }
}

/// An inbound problem found before validation (the shape itself is wrong).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShapeError {
    /// Relative to the object, e.g. `.payload.result`.
    pub field: String,
    pub message: String,
}

fn shape(field: &str, message: impl Into<String>) -> ShapeError {
    ShapeError {
        field: field.to_string(),
        message: message.into(),
    }
}

/// Splits a payload into the activity's fields and its event parameters. Shared by logs and
/// webhook deliveries: `declared` maps payload names to native fields.
pub fn split_payload(
    payload: &Map<String, Value>,
    declared: &[(&str, &str)],
    skip: &[&str],
    item: &mut Map<String, Value>,
    params: &mut Vec<Value>,
    paths: &mut PathMap,
    at: &str,
) {
    for (k, v) in payload {
        if skip.contains(&k.as_str()) {
            continue;
        }
        let native = declared.iter().find(|(p, _)| p == k).map(|(_, n)| *n);
        match (native, v) {
            (Some(native), Value::String(_)) => {
                match native.split_once('.') {
                    Some((outer, inner)) => {
                        let o = item.entry(outer).or_insert_with(|| json!({}));
                        o[inner] = v.clone();
                    }
                    None => {
                        item.insert(native.to_string(), v.clone());
                    }
                }
                paths.field(&format!(".{native}"), &format!("{at}.{k}"));
            }
            // A declared name with a non-string value is kept verbatim as a parameter.
            _ => {
                params.push(match v {
                    Value::String(s) => json!({"name": k, "value": s}),
                    other => json!({"name": k, "jsonValue": other}),
                });
                paths.param(k);
            }
        }
    }
}

/// Maps one Logto log object to a native activity item (not yet validated).
pub fn from_log(catalog: &Catalog, log: &Value) -> Result<Mapped, Vec<ShapeError>> {
    let Value::Object(m) = log else {
        return Err(vec![shape("", "must be a Logto log object")]);
    };
    let mut errors = Vec::new();
    for k in m.keys() {
        if !["id", "key", "payload", "createdAt", "tenantId"].contains(&k.as_str()) {
            errors.push(shape(
                &format!(".{k}"),
                "is not a field of a Logto log (id, key, payload, createdAt, tenantId)",
            ));
        }
    }
    let id = match m.get("id") {
        Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
        _ => {
            errors.push(shape(
                ".id",
                "is required: the log's id, a non-empty string",
            ));
            None
        }
    };
    let key = match m.get("key") {
        Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
        _ => {
            errors.push(shape(
                ".key",
                "is required: the log key, a non-empty string",
            ));
            None
        }
    };
    let created = match m.get("createdAt") {
        None | Some(Value::Null) => None,
        Some(v) => match v.as_i64() {
            Some(ms) if (0..=i64::MAX / 1000).contains(&ms) => Some(ms),
            _ => {
                errors.push(shape(
                    ".createdAt",
                    "must be epoch milliseconds (an integer)",
                ));
                None
            }
        },
    };
    let empty = Map::new();
    let payload = match m.get("payload") {
        None | Some(Value::Null) => &empty,
        Some(Value::Object(p)) => p,
        Some(_) => {
            errors.push(shape(".payload", "must be a JSON object"));
            &empty
        }
    };
    let result = match payload.get("result") {
        None | Some(Value::Null) => None,
        Some(Value::String(r)) if r == "Success" => Some(Outcome::Success),
        Some(Value::String(r)) if r == "Error" => Some(Outcome::Failure),
        Some(_) => {
            errors.push(shape(".payload.result", "must be \"Success\" or \"Error\""));
            None
        }
    };
    let (Some(id), Some(key)) = (id, key) else {
        return Err(errors);
    };
    if !errors.is_empty() {
        return Err(errors);
    }

    let mut paths = PathMap::new(".payload");
    paths.field(".eventId", ".id");
    paths.field(".id.time", ".createdAt");
    paths.field(".events[0].name", ".key");
    paths.field(".result", ".payload.result");
    paths.field(".error", ".payload.error");
    let mut time = json!({"applicationName": APPLICATION});
    if let Some(ms) = created {
        time["time"] = json!(authtrail_model::wire_time::format_rfc3339(
            ms * 1000,
            authtrail_model::wire_time::Precision::Millis
        ));
    }
    let mut item = Map::new();
    item.insert("eventId".into(), json!(id));
    item.insert("id".into(), time);
    let mut params = Vec::new();
    let name = if catalog.event(APPLICATION, &key).is_some() {
        key
    } else {
        params.push(json!({"name": "key", "value": key}));
        paths.param("key");
        UNKNOWN.to_string()
    };
    let mut skip = vec!["key", "result"];
    if let Some(e) = payload
        .get("error")
        .filter(|e| e.is_string() || e.is_object())
    {
        item.insert("error".into(), e.clone());
        skip.push("error");
    }
    split_payload(
        payload,
        DECLARED,
        &skip,
        &mut item,
        &mut params,
        &mut paths,
        ".payload",
    );
    if let Some(r) = result {
        item.insert("result".into(), json!(r.as_str()));
    }
    item.insert(
        "events".into(),
        json!([{"name": name, "parameters": params}]),
    );
    Ok(Mapped {
        item: Value::Object(item),
        paths,
    })
}

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

#[cfg(test)]
#[path = "mapping_tests.rs"]
mod tests;
