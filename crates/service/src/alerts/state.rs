//! What a rule remembers between evaluations, stored beside the rule in its definition and
//! changed only together with its ledger (one compare-and-set), so that a restart or a node
//! taking the rule over goes on exactly where the last saved state left off.
//!
//! The evaluation itself is the delivery engine's (`authtrail-delivery`'s `alerts`); the
//! shape is here because the API shows part of it (the alert waiting to be sent, the recent
//! alerts).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// How many fired alerts a rule remembers for its view (the trail has them all: `alert.fire`).
pub const RECENT: usize = 10;
/// Most groups a rule keeps a window or a throttle for; past it the quietest are forgotten.
pub const MAX_GROUPS: usize = 1000;
/// Most sequence numbers an alert carries (its count says how many matched).
pub const MAX_SEQUENCES: usize = 100;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AlertState {
    /// Per group (an actor, an IP, or `""` for the whole rule).
    #[serde(default)]
    pub groups: BTreeMap<String, GroupState>,
    /// An alert decided but not yet accepted by every recipient. While one waits, nothing new
    /// is evaluated: the ledger stays where the alert was decided.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending: Option<PendingAlert>,
    /// The last alerts sent, newest first.
    #[serde(default)]
    pub recent: Vec<FiredAlert>,
    /// The newest event time of a match (µs): windows end there, in every group.
    #[serde(default)]
    pub newest_us: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupState {
    /// Matches inside the threshold's window: (event time µs, sequence number), oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub window: Vec<(i64, i64)>,
    /// When an alert for this group was last decided (µs, the service's clock).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_fired_us: Option<i64>,
    /// What the throttle held back since then: summarised in the next alert.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub held: Option<Held>,
}

/// Matches (or threshold crossings) held back by the throttle.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Held {
    /// Matching activities held back.
    pub count: u64,
    /// Their sequence numbers (the first [`MAX_SEQUENCES`]).
    pub sequences: Vec<i64>,
    pub first_us: i64,
    pub last_us: i64,
}

/// A decided alert: rendered once, so that a retry sends the same message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PendingAlert {
    pub subject: String,
    pub text: String,
    pub html: String,
    /// The chat message (Slack's and Google Chat's markup).
    pub chat: String,
    pub group: String,
    /// How many activities this alert reports (held-back ones included).
    pub count: u64,
    /// Their sequence numbers (the first [`MAX_SEQUENCES`]).
    pub sequences: Vec<i64>,
    pub decided_us: i64,
    /// The recipients (by [`recipient key`](super::Service::recipient_key)) that accepted it.
    #[serde(default)]
    pub delivered: Vec<String>,
}

/// An alert every recipient accepted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FiredAlert {
    pub time_us: i64,
    pub subject: String,
    pub group: String,
    pub count: u64,
    pub sequences: Vec<i64>,
}
