//! Logto log objects ↔ activities (docs/logto.md). Pure functions, no I/O.
//!
//! - [`from_log`]: a log of the Management API's shape in; [`to_log`] (in `outbound`): out.
//! - [`from_hook`] (in `hook`): a webhook delivery in.
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
use authtrail_model::Outcome;

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

impl Mapped {
    /// `item` completed with its one event, `name` with `params`.
    pub fn with_event(
        mut item: Map<String, Value>,
        name: String,
        params: Vec<Value>,
        paths: PathMap,
    ) -> Mapped {
        item.insert(
            "events".into(),
            json!([{"name": name, "parameters": params}]),
        );
        Mapped {
            item: Value::Object(item),
            paths,
        }
    }
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

/// The event name Logto's `key` is stored under: the key itself when catalogued, else
/// [`UNKNOWN`] with the key kept as the parameter `key` (which came from the inbound field
/// `from`).
pub fn event_name(
    catalog: &Catalog,
    key: String,
    from: &str,
    params: &mut Vec<Value>,
    paths: &mut PathMap,
) -> String {
    if catalog.event(APPLICATION, &key).is_some() {
        return key;
    }
    params.push(json!({"name": "key", "value": key}));
    paths.param(from);
    UNKNOWN.to_string()
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
    let name = event_name(catalog, key, "key", &mut params, &mut paths);
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
    Ok(Mapped::with_event(item, name, params, paths))
}

mod hook;
mod outbound;
pub use hook::{delivery_id, from_hook};
pub use outbound::to_log;

#[cfg(test)]
mod tests;
