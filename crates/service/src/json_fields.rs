//! Reading a request body's JSON field by field, so that every mistake names its field
//! (`batch.maxEvents`, `query.eventName`) and unknown fields are refused rather than ignored
//! (a misspelt `filter` would otherwise widen what a subscription or an alert rule selects).

use serde_json::{Map, Value};

use crate::error::ServiceError;

/// `v` as an object, or a refusal naming `field`.
pub(crate) fn object<'a>(
    v: &'a Value,
    field: &str,
) -> Result<&'a Map<String, Value>, ServiceError> {
    v.as_object()
        .ok_or_else(|| ServiceError::field(field, "must be a JSON object"))
}

/// Refuses the first key of `m` not in `known`, naming it after `prefix`.
pub(crate) fn only(
    m: &Map<String, Value>,
    known: &[&str],
    prefix: &str,
) -> Result<(), ServiceError> {
    match m.keys().find(|k| !known.contains(&k.as_str())) {
        Some(k) => Err(ServiceError::field(
            &format!("{prefix}{k}"),
            format!("is not a field here (known: {})", known.join(", ")),
        )),
        None => Ok(()),
    }
}

/// The string `name` of `m` (absent or null: `None`).
pub(crate) fn string(
    m: &Map<String, Value>,
    name: &str,
    field: &str,
) -> Result<Option<String>, ServiceError> {
    match m.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(ServiceError::field(field, "must be a string")),
    }
}

/// The non-negative integer `name` of `m` that fits 32 bits (absent or null: `None`).
pub(crate) fn uint(
    m: &Map<String, Value>,
    name: &str,
    field: &str,
) -> Result<Option<u32>, ServiceError> {
    match m.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .map(Some)
            .ok_or_else(|| ServiceError::field(field, "must be a non-negative integer")),
    }
}
