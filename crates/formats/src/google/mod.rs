//! Google's Reports API wire form (`shared/reference/google-reports-api.md` §0, §7): an
//! [`Activity`] as `admin#reports#activity`, a page as `admin#reports#activities`, and the
//! partial-response selector ([`fields`]).
//!
//! The rules Google's clients depend on: int64 values travel as JSON strings (the body's own
//! serialization in `authtrail_model::activity` already does this), `kind` values exactly as
//! Google sends them, empty fields omitted (no `items` on an empty page), and `id.time` with
//! millisecond precision on Google's API (microseconds on the native one).

pub mod fields;

use serde::Serialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use authtrail_model::activity::I64Str;
use authtrail_model::wire_time::format_rfc3339;
use authtrail_model::{Activity, ActivityBody};

pub use authtrail_model::wire_time::Precision;

/// `kind` of one activity.
pub const KIND_ACTIVITY: &str = "admin#reports#activity";
/// `kind` of a page of activities.
pub const KIND_ACTIVITIES: &str = "admin#reports#activities";

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct WireId<'a> {
    time: String,
    unique_qualifier: I64Str,
    application_name: &'a str,
    customer_id: &'a str,
}

/// An activity in Google's wire shape (`kind`, `etag`, `id`, then the body's fields).
#[derive(Serialize)]
pub struct WireActivity<'a> {
    kind: &'static str,
    etag: String,
    id: WireId<'a>,
    #[serde(flatten)]
    body: &'a ActivityBody,
}

/// The wire form of an activity, as a method so that call sites read `a.to_wire(precision)`.
pub trait ToWire {
    /// `precision` is milliseconds for Google's API and microseconds natively.
    fn to_wire(&self, precision: Precision) -> WireActivity<'_>;
}

impl ToWire for Activity {
    fn to_wire(&self, precision: Precision) -> WireActivity<'_> {
        WireActivity {
            kind: KIND_ACTIVITY,
            etag: etag(self),
            id: WireId {
                time: format_rfc3339(self.time_us, precision),
                unique_qualifier: I64Str(self.unique_qualifier),
                application_name: &self.application,
                customer_id: self.tenant.as_str(),
            },
            body: &self.body,
        }
    }
}

/// A stable entity tag: a stored activity changes only when a per-subject erasure rewrites it,
/// so its identity, plus the erasure record once erased, is its version.
pub fn etag(a: &Activity) -> String {
    match a.body.erased_by {
        None => format!("\"{}/{}\"", a.tenant, a.unique_qualifier),
        Some(by) => format!("\"{}/{}-e{}\"", a.tenant, a.unique_qualifier, by.0),
    }
}

/// A page of `activities.list`: `kind`, the page's `etag`, `items` (omitted when empty) and
/// `nextPageToken` (omitted on the last page). `items` are activities' wire JSON.
pub fn activities_page(items: Vec<Value>, next_page_token: Option<String>) -> Value {
    let mut body = json!({"kind": KIND_ACTIVITIES, "etag": page_etag(&items)});
    if !items.is_empty() {
        body["items"] = Value::Array(items);
    }
    if let Some(token) = next_page_token {
        body["nextPageToken"] = json!(token);
    }
    body
}

/// An entity tag for a page: a hash of its items' tags.
fn page_etag(items: &[Value]) -> String {
    let mut h = Sha256::new();
    for i in items {
        h.update(i["etag"].as_str().unwrap_or("").as_bytes());
    }
    format!("\"{}\"", hex::encode(&h.finalize()[..12]))
}

/// `kind` of a watch channel.
pub const KIND_CHANNEL: &str = "api#channel";

/// A watch channel as `activities.watch` answers it (`google-reports-api.md` §3.1):
/// `expiration` is an int64 in milliseconds, so a JSON string.
pub fn channel(
    id: &str,
    resource_id: &str,
    resource_uri: &str,
    token: Option<&str>,
    expiration_ms: i64,
) -> Value {
    let mut c = json!({
        "kind": KIND_CHANNEL,
        "id": id,
        "resourceId": resource_id,
        "resourceUri": resource_uri,
        "expiration": expiration_ms.to_string(),
    });
    if let Some(t) = token {
        c["token"] = json!(t);
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;
    use authtrail_model::{Actor, Event, Outcome, Tenant};

    fn activity() -> Activity {
        Activity {
            tenant: Tenant::new("C01").unwrap(),
            unique_qualifier: 7,
            time_us: 1_500_000,
            received_us: 1_500_000,
            application: "login".into(),
            body: ActivityBody {
                actor: Actor {
                    email: Some("a@example.com".into()),
                    ..Actor::default()
                },
                owner_domain: None,
                ip_address: None,
                network_info: None,
                events: vec![Event {
                    event_type: "login".into(),
                    name: "logout".into(),
                    parameters: vec![],
                }],
                user_agent: None,
                session_id: None,
                client_application_id: None,
                result: Outcome::Success,
                error: None,
                event_id: None,
                erased_by: None,
            },
        }
    }

    #[test]
    fn wire_activity_has_googles_kind_and_id() {
        let v = serde_json::to_value(activity().to_wire(Precision::Millis)).unwrap();
        assert_eq!(v["kind"], "admin#reports#activity");
        assert_eq!(v["etag"], "\"C01/7\"");
        assert_eq!(v["id"]["uniqueQualifier"], "7");
        assert_eq!(v["id"]["time"], "1970-01-01T00:00:01.500Z");
        assert_eq!(v["id"]["customerId"], "C01");
        assert_eq!(v["actor"]["email"], "a@example.com");
        assert!(v.get("ipAddress").is_none());
        assert!(v["events"][0].get("parameters").is_none());
        let native = serde_json::to_value(activity().to_wire(Precision::Micros)).unwrap();
        assert_eq!(native["id"]["time"], "1970-01-01T00:00:01.500000Z");
    }

    #[test]
    fn a_page_omits_empty_items_and_a_missing_token() {
        let empty = activities_page(vec![], None);
        assert_eq!(empty["kind"], "admin#reports#activities");
        assert!(empty.get("items").is_none());
        assert!(empty.get("nextPageToken").is_none());
        let item = serde_json::to_value(activity().to_wire(Precision::Millis)).unwrap();
        let page = activities_page(vec![item], Some("t".into()));
        assert_eq!(page["items"][0]["etag"], "\"C01/7\"");
        assert_eq!(page["nextPageToken"], "t");
        assert_ne!(
            page["etag"], empty["etag"],
            "the page's tag follows its items"
        );
    }
}
