//! A subscription as the API shows it: its settings (never a secret), its state and its
//! delivery ledger.

use authtrail_model::Subscription;
use authtrail_model::wire_time::{Precision, format_rfc3339};
use serde::Serialize;

use super::RETRY_HORIZON_US;
use super::definition::{Batching, Definition, Format};
use crate::query::ListConditions;

pub fn format_name(f: Format) -> &'static str {
    match f {
        Format::Native => "native",
        Format::Google => "google",
        Format::Logto => "logto",
        Format::Ocsf => "ocsf",
    }
}

fn time(us: Option<i64>) -> Option<String> {
    us.map(|t| format_rfc3339(t, Precision::Millis))
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SecretView {
    pub id: String,
    pub created_time: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_time: Option<String>,
}

/// The delivery ledger: how far delivery has got, and how it is going.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LedgerView {
    /// The last sequence number covered by a successful delivery.
    pub delivered_sequence: i64,
    /// Every activity up to this one was looked at (delivered or not selected).
    pub scanned_sequence: i64,
    /// The tenant's last sequence number.
    pub latest_sequence: i64,
    /// Activities stored but not yet looked at.
    pub lag_events: i64,
    /// Seconds since the last successful delivery, while activities wait; 0 when caught up.
    pub lag_seconds: i64,
    pub deliveries: i64,
    /// Failed attempts since the last success.
    pub attempts: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_attempt_time: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_delivery_time: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_attempt_time: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failing_since: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SubscriptionView {
    pub id: String,
    /// `webhook`, `syslog`, `nats` or `google_channel`.
    pub kind: &'static str,
    pub destination: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub query: ListConditions,
    pub format: &'static str,
    pub batch: Batching,
    /// `active`, `retrying` (failing, within the retry horizon) or `failing` (past it; still
    /// retried).
    pub state: &'static str,
    pub created_time: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub secrets: Vec<SecretView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expiration: Option<String>,
    pub ledger: LedgerView,
}

/// Whether the ledger says the subscription is past its retry horizon.
pub fn is_failing(sub: &Subscription, now_us: i64) -> bool {
    sub.ledger
        .failing_since_us
        .is_some_and(|since| now_us - since >= RETRY_HORIZON_US)
}

pub fn render(sub: &Subscription, def: &Definition, latest: i64, now_us: i64) -> SubscriptionView {
    let l = &sub.ledger;
    let kind = if def.channel.is_some() {
        "google_channel"
    } else if def.destination.starts_with("syslog") {
        "syslog"
    } else if def.destination.starts_with("nats:") {
        "nats"
    } else {
        "webhook"
    };
    let state = if is_failing(sub, now_us) {
        "failing"
    } else if l.attempts > 0 {
        "retrying"
    } else {
        "active"
    };
    let lag_events = (latest - l.scanned_seq).max(0);
    let lag_seconds = if lag_events == 0 {
        0
    } else {
        l.delivered_us
            .map_or((now_us - sub.created_us) / 1_000_000, |d| {
                (now_us - d) / 1_000_000
            })
    };
    SubscriptionView {
        id: sub.id.clone(),
        kind,
        destination: def.destination.clone(),
        description: def.description.clone(),
        query: def.query.clone(),
        format: format_name(def.format),
        batch: def.batch,
        state,
        created_time: format_rfc3339(sub.created_us, Precision::Millis),
        secrets: def
            .secrets
            .iter()
            .filter(|s| s.expires_us.is_none_or(|e| e > now_us))
            .map(|s| SecretView {
                id: s.id.clone(),
                created_time: format_rfc3339(s.created_us, Precision::Millis),
                expires_time: time(s.expires_us),
            })
            .collect(),
        expiration: def
            .channel
            .as_ref()
            .map(|c| format_rfc3339(c.expiration_ms * 1000, Precision::Millis)),
        ledger: LedgerView {
            delivered_sequence: l.delivered_seq,
            scanned_sequence: l.scanned_seq,
            latest_sequence: latest,
            lag_events,
            lag_seconds: lag_seconds.max(0),
            deliveries: l.messages,
            attempts: l.attempts,
            last_error: l.last_error.clone(),
            last_attempt_time: time(l.last_attempt_us),
            last_delivery_time: time(l.delivered_us),
            next_attempt_time: time(l.next_attempt_us),
            failing_since: time(l.failing_since_us),
        },
    }
}
