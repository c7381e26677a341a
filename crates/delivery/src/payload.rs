//! What a delivery carries: each activity in the subscription's format, and the sequence
//! numbers that let a consumer prove it missed nothing (docs/delivery.md).
//!
//! A delivery *covers* the tenant's sequence numbers from just after `previous` to `last`:
//! every activity in that range that the subscription selects is in it (or, for sinks that send
//! one message per activity, in it and the messages before it). A consumer that keeps the
//! `last` of what it received checks that each delivery's `previous` equals it: equal means
//! nothing is missing, smaller means a repeat (a retry or a replay), larger is a gap.

use authtrail_catalog::Catalog;
use authtrail_formats::google::{Precision, ToWire};
use authtrail_model::Activity;
use authtrail_service::subscriptions::Format;
use serde_json::{Value, json};

/// One activity in `format`: one record, except in OCSF, which has one record per event (an
/// activity rarely holds more than one).
pub fn render(a: &Activity, format: Format, catalog: &Catalog) -> Vec<Value> {
    let one = match format {
        Format::Native => serde_json::to_value(a.to_wire(Precision::Micros)),
        Format::Google => serde_json::to_value(a.to_wire(Precision::Millis)),
        Format::Logto => serde_json::to_value(authtrail_formats::logto::to_log(a)),
        Format::Ocsf => return authtrail_formats::ocsf::to_ocsf(a, catalog),
    };
    vec![one.expect("activities always serialize")]
}

/// One activity rendered once for every subscription that wants it in one format: the body of
/// its own message (syslog, NATS, a watch channel), which is its record, or an array of records
/// when the format made several (`many`).
#[derive(Debug)]
pub struct Rendered {
    pub bytes: Vec<u8>,
    /// How many records it holds (`bytes` is an array of them unless 1).
    pub records: usize,
}

impl Rendered {
    pub fn of(a: &Activity, format: Format, catalog: &Catalog) -> Rendered {
        let mut records = render(a, format, catalog);
        let n = records.len();
        let value = if n == 1 {
            records.pop().expect("one record")
        } else {
            Value::Array(records)
        };
        Rendered {
            bytes: serde_json::to_vec(&value).expect("JSON values serialize"),
            records: n,
        }
    }

    /// Its records as members of a JSON array (a batch's `items`): the record, or the array's
    /// members without its brackets.
    fn members(&self) -> &[u8] {
        if self.records != 1 {
            &self.bytes[1..self.bytes.len() - 1]
        } else {
            &self.bytes
        }
    }
}

/// The sequence numbers a delivery covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Coverage {
    /// The `last` of the delivery before (what the consumer must have seen).
    pub previous: i64,
    /// The last sequence number covered.
    pub last: i64,
}

/// A webhook's body: a batch with its coverage. The items are spliced in as rendered (each was
/// rendered once, for every subscription that wants it).
pub fn batch_body(
    subscription: &str,
    tenant: &str,
    format: Format,
    coverage: Coverage,
    items: &[std::sync::Arc<Rendered>],
) -> Vec<u8> {
    let count: usize = items.iter().map(|r| r.records).sum();
    let head = json!({
        "type": "authtrail.activities",
        "subscription": subscription,
        "tenant": tenant,
        "format": authtrail_service::subscriptions::format_name(format),
        "sequence": {"previous": coverage.previous, "last": coverage.last},
        "count": count,
    });
    let mut out = serde_json::to_vec(&head).expect("JSON values serialize");
    out.pop(); // the closing brace: the items follow
    out.extend_from_slice(br#","items":["#);
    let mut first = true;
    for r in items.iter().filter(|r| !r.members().is_empty()) {
        if !first {
            out.push(b',');
        }
        first = false;
        out.extend_from_slice(r.members());
    }
    out.extend_from_slice(b"]}");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn a_batch_splices_records_into_valid_json() {
        let one = Arc::new(Rendered {
            bytes: br#"{"a":1}"#.to_vec(),
            records: 1,
        });
        let two = Arc::new(Rendered {
            bytes: br#"[{"b":2},{"c":3}]"#.to_vec(),
            records: 2,
        });
        let cov = Coverage {
            previous: 4,
            last: 9,
        };
        let body = batch_body("sub_1", "acme", Format::Ocsf, cov, &[one, two]);
        let v: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["items"], json!([{"a": 1}, {"b": 2}, {"c": 3}]));
        assert_eq!(v["count"], 3);
        assert_eq!(v["sequence"], json!({"previous": 4, "last": 9}));
        let empty = batch_body("sub_1", "acme", Format::Native, cov, &[]);
        let v: Value = serde_json::from_slice(&empty).unwrap();
        assert_eq!(v["items"], json!([]));
    }
}
