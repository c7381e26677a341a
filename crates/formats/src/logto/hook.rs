//! Inbound: a Logto webhook delivery as an activity (reference §3). The HTTP side (signature,
//! token, body limits) stays in the server; this is only the shape.

use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use authtrail_catalog::Catalog;
use authtrail_model::activity::DERIVED_EVENT_ID_PREFIX;

use super::{APPLICATION, Mapped, PathMap, ShapeError, event_name, split_payload};

/// Payload fields that are first-class on an activity. Interaction events send `userIp`, data
/// events `ip`.
const DECLARED: &[(&str, &str)] = &[
    ("userIp", "ipAddress"),
    ("ip", "ipAddress"),
    ("userAgent", "userAgent"),
    ("userId", "actor.profileId"),
    ("applicationId", "clientApplicationId"),
    ("sessionId", "sessionId"),
];

/// The eventId of a delivery: Logto sends none, so the body's hash identifies it, in the
/// namespace producers cannot write ([`DERIVED_EVENT_ID_PREFIX`]).
pub fn delivery_id(body: &[u8]) -> String {
    format!(
        "{DERIVED_EVENT_ID_PREFIX}logto-hook:{}",
        hex::encode(Sha256::digest(body))
    )
}

/// Maps one webhook payload to a native activity item (pure). Every field but `event` and
/// `createdAt` is kept: the declared ones as the activity's fields, the rest as parameters.
pub fn from_hook(
    catalog: &Catalog,
    body: &Value,
    event_id: &str,
) -> Result<Mapped, Vec<ShapeError>> {
    let bad = |field: &str, message: &str| {
        vec![ShapeError {
            field: field.into(),
            message: message.into(),
        }]
    };
    let Value::Object(m) = body else {
        return Err(bad("", "must be a Logto webhook payload (a JSON object)"));
    };
    let event = match m.get("event") {
        Some(Value::String(e)) if !e.is_empty() && e.len() <= 128 => e.clone(),
        _ => {
            return Err(bad(
                ".event",
                "is required: the hook event, e.g. PostSignIn",
            ));
        }
    };
    let mut paths = PathMap::new("");
    paths.field(".id.time", ".createdAt");
    paths.field(".events[0].name", ".event");
    let mut item = Map::new();
    item.insert("eventId".into(), json!(event_id));
    let mut id = json!({"applicationName": APPLICATION});
    match m.get("createdAt") {
        None | Some(Value::Null) => {}
        Some(t @ Value::String(_)) => id["time"] = t.clone(),
        Some(_) => return Err(bad(".createdAt", "must be an ISO 8601 time string")),
    }
    item.insert("id".into(), id);
    let mut params = Vec::new();
    let name = event_name(catalog, event, "event", &mut params, &mut paths);
    split_payload(
        m,
        DECLARED,
        &["event", "createdAt"],
        &mut item,
        &mut params,
        &mut paths,
        "",
    );
    // Interaction events carry the application as an object only.
    if !item.contains_key("clientApplicationId")
        && let Some(Value::String(app)) = m.get("application").and_then(|a| a.get("id"))
    {
        item.insert("clientApplicationId".into(), json!(app));
    }
    Ok(Mapped::with_event(item, name, params, paths))
}
