//! A subscription's request bodies, read field by field (`crate::json_fields`) so that every
//! mistake names its field and unknown fields are refused.

use serde_json::Value;

use super::definition::{Batching, Format, check_description};
use crate::error::ServiceError;
use crate::json_fields::{object, only, string, uint};
use crate::query::ListConditions;

/// The body of `POST /v1/subscriptions`.
#[derive(Debug, Clone)]
pub struct NewSubscription {
    pub destination: String,
    pub description: Option<String>,
    pub query: ListConditions,
    pub format: Format,
    pub batch: Batching,
    /// Deliver what comes after this sequence number (default: the tenant's last one, i.e.
    /// only what arrives from now on).
    pub start_after: Option<i64>,
}

/// The body of `PATCH /v1/subscriptions/{id}`: only the fields present change.
#[derive(Debug, Clone, Default)]
pub struct SubscriptionPatch {
    pub destination: Option<String>,
    /// `Some(None)` removes the description.
    pub description: Option<Option<String>>,
    pub query: Option<ListConditions>,
    pub format: Option<Format>,
    pub batch: Option<Batching>,
}

fn query(v: &Value) -> Result<ListConditions, ServiceError> {
    const KNOWN: [&str; 9] = [
        "application",
        "eventName",
        "filters",
        "actor",
        "ip",
        "result",
        "sessionId",
        "startTime",
        "endTime",
    ];
    let m = object(v, "query")?;
    only(m, &KNOWN, "query.")?;
    // Several event names may come as a list, as in a list request's repeated parameter.
    let event_name = match m.get("eventName") {
        Some(Value::Array(names)) => Some(
            names
                .iter()
                .map(|n| {
                    n.as_str()
                        .ok_or_else(|| ServiceError::field("query.eventName", "must hold strings"))
                })
                .collect::<Result<Vec<_>, _>>()?
                .join(","),
        ),
        _ => string(m, "eventName", "query.eventName")?,
    };
    Ok(ListConditions {
        application: string(m, "application", "query.application")?,
        event_name,
        filters: string(m, "filters", "query.filters")?,
        actor: string(m, "actor", "query.actor")?,
        ip: string(m, "ip", "query.ip")?,
        result: string(m, "result", "query.result")?,
        session_id: string(m, "sessionId", "query.sessionId")?,
        start_time: string(m, "startTime", "query.startTime")?,
        end_time: string(m, "endTime", "query.endTime")?,
    })
}

fn batch(v: &Value) -> Result<Batching, ServiceError> {
    let m = object(v, "batch")?;
    only(m, &["maxEvents", "maxBytes", "maxLatencyMs"], "batch.")?;
    let d = Batching::default();
    let b = Batching {
        max_events: uint(m, "maxEvents", "batch.maxEvents")?.unwrap_or(d.max_events),
        max_bytes: uint(m, "maxBytes", "batch.maxBytes")?.unwrap_or(d.max_bytes),
        max_latency_ms: uint(m, "maxLatencyMs", "batch.maxLatencyMs")?.unwrap_or(d.max_latency_ms),
    };
    b.check()?;
    Ok(b)
}

const FIELDS: [&str; 6] = [
    "destination",
    "description",
    "query",
    "format",
    "batch",
    "startAfter",
];

impl NewSubscription {
    pub fn from_json(body: &Value) -> Result<NewSubscription, ServiceError> {
        let m = object(body, "body")?;
        only(m, &FIELDS, "")?;
        let destination = string(m, "destination", "destination")?
            .ok_or_else(|| ServiceError::field("destination", "is required (a URL)"))?;
        let description = string(m, "description", "description")?;
        check_description(&description)?;
        let format = match string(m, "format", "format")? {
            Some(f) => Format::parse(&f, "format")?,
            None => Format::Native,
        };
        let start_after = match m.get("startAfter") {
            None | Some(Value::Null) => None,
            Some(v) => Some(v.as_i64().filter(|n| *n >= 0).ok_or_else(|| {
                ServiceError::field(
                    "startAfter",
                    "must be a sequence number (0 for the beginning)",
                )
            })?),
        };
        Ok(NewSubscription {
            destination,
            description,
            query: m.get("query").map(query).transpose()?.unwrap_or_default(),
            format,
            batch: m.get("batch").map(batch).transpose()?.unwrap_or_default(),
            start_after,
        })
    }
}

impl SubscriptionPatch {
    pub fn from_json(body: &Value) -> Result<SubscriptionPatch, ServiceError> {
        let m = object(body, "body")?;
        only(m, &FIELDS[..5], "")?;
        let description = match m.get("description") {
            None => None,
            Some(Value::Null) => Some(None),
            Some(_) => {
                let d = string(m, "description", "description")?;
                check_description(&d)?;
                Some(d)
            }
        };
        Ok(SubscriptionPatch {
            destination: string(m, "destination", "destination")?,
            description,
            query: m.get("query").map(query).transpose()?,
            format: string(m, "format", "format")?
                .map(|f| Format::parse(&f, "format"))
                .transpose()?,
            batch: m.get("batch").map(batch).transpose()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn field(body: Value) -> String {
        NewSubscription::from_json(&body).unwrap_err().details()[0]
            .field
            .clone()
    }

    #[test]
    fn each_mistake_names_its_field() {
        let ok = json!({"destination": "https://x.example/h", "format": "ocsf",
            "query": {"eventName": ["login_failure", "login_success"], "result": "failure"},
            "batch": {"maxEvents": 10}, "startAfter": 0});
        let s = NewSubscription::from_json(&ok).unwrap();
        assert_eq!(s.format, Format::Ocsf);
        assert_eq!(
            s.query.event_name.as_deref(),
            Some("login_failure,login_success")
        );
        assert_eq!(s.batch.max_events, 10);
        assert_eq!(s.batch.max_bytes, Batching::default().max_bytes);
        assert_eq!(field(json!({})), "destination");
        assert_eq!(field(json!({"destination": 1})), "destination");
        assert_eq!(
            field(json!({"destination": "x", "format": "xml"})),
            "format"
        );
        assert_eq!(field(json!({"destination": "x", "filter": "a"})), "filter");
        assert_eq!(
            field(json!({"destination": "x", "query": {"evntName": "a"}})),
            "query.evntName"
        );
        assert_eq!(
            field(json!({"destination": "x", "batch": {"maxEvents": 0}})),
            "batch.maxEvents"
        );
        assert_eq!(
            field(json!({"destination": "x", "batch": {"maxEvents": -1}})),
            "batch.maxEvents"
        );
        assert_eq!(
            field(json!({"destination": "x", "startAfter": "now"})),
            "startAfter"
        );
        assert_eq!(field(json!([1])), "body");
        let p = SubscriptionPatch::from_json(&json!({"description": null})).unwrap();
        assert_eq!(p.description, Some(None));
        assert!(SubscriptionPatch::from_json(&json!({"startAfter": 1})).is_err());
    }
}
