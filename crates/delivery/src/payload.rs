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

/// One activity in `format`.
pub fn render(a: &Activity, format: Format, catalog: &Catalog) -> Value {
    match format {
        Format::Native => serde_json::to_value(a.to_wire(Precision::Micros)),
        Format::Google => serde_json::to_value(a.to_wire(Precision::Millis)),
        Format::Logto => serde_json::to_value(authtrail_formats::logto::to_log(a)),
        Format::Ocsf => Ok(authtrail_formats::ocsf::to_ocsf(a, catalog)),
    }
    .expect("activities always serialize")
}

/// The sequence numbers a delivery covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Coverage {
    /// The `last` of the delivery before (what the consumer must have seen).
    pub previous: i64,
    /// The last sequence number covered.
    pub last: i64,
}

/// A webhook's body: a batch with its coverage.
pub fn batch_body(
    subscription: &str,
    tenant: &str,
    format: Format,
    coverage: Coverage,
    items: &[Value],
) -> Vec<u8> {
    let body = json!({
        "type": "authtrail.activities",
        "subscription": subscription,
        "tenant": tenant,
        "format": authtrail_service::subscriptions::format_name(format),
        "sequence": {"previous": coverage.previous, "last": coverage.last},
        "count": items.len(),
        "items": items,
    });
    serde_json::to_vec(&body).expect("JSON values serialize")
}
