//! The stored document of a subscription (the store keeps it as opaque JSON; its schema is
//! here) and the limits on each of its fields.

use serde::{Deserialize, Serialize};

use crate::error::ServiceError;
use crate::query::ListConditions;

/// How each activity is written in a delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// The native API's form (`GET /v1/activities`).
    Native,
    /// Google's `admin#reports#activity`.
    Google,
    /// A Logto log row (`GET /api/logs`).
    Logto,
    /// OCSF (Authentication, Account Change, … per the catalogue).
    Ocsf,
}

impl Format {
    pub fn parse(raw: &str, field: &str) -> Result<Format, ServiceError> {
        match raw {
            "native" => Ok(Format::Native),
            "google" => Ok(Format::Google),
            "logto" => Ok(Format::Logto),
            "ocsf" => Ok(Format::Ocsf),
            other => Err(ServiceError::field(
                field,
                format!("{other:?} is not a format: use native, google, logto or ocsf"),
            )),
        }
    }
}

/// When a batch is sent: as soon as it holds `max_events` events or `max_bytes` bytes, or when
/// its oldest event has waited `max_latency_ms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Batching {
    #[serde(default = "default_events")]
    pub max_events: u32,
    #[serde(default = "default_bytes")]
    pub max_bytes: u32,
    #[serde(default)]
    pub max_latency_ms: u32,
}

fn default_events() -> u32 {
    100
}
fn default_bytes() -> u32 {
    1024 * 1024
}

impl Default for Batching {
    fn default() -> Batching {
        Batching {
            max_events: default_events(),
            max_bytes: default_bytes(),
            max_latency_ms: 0,
        }
    }
}

pub const MAX_BATCH_EVENTS: u32 = 1000;
pub const MIN_BATCH_BYTES: u32 = 4 * 1024;
pub const MAX_BATCH_BYTES: u32 = 8 * 1024 * 1024;
pub const MAX_LATENCY_MS: u32 = 60_000;

impl Batching {
    pub fn check(&self) -> Result<(), ServiceError> {
        if !(1..=MAX_BATCH_EVENTS).contains(&self.max_events) {
            return Err(ServiceError::field(
                "batch.maxEvents",
                format!("must be 1 to {MAX_BATCH_EVENTS}"),
            ));
        }
        if !(MIN_BATCH_BYTES..=MAX_BATCH_BYTES).contains(&self.max_bytes) {
            return Err(ServiceError::field(
                "batch.maxBytes",
                format!("must be {MIN_BATCH_BYTES} to {MAX_BATCH_BYTES}"),
            ));
        }
        if self.max_latency_ms > MAX_LATENCY_MS {
            return Err(ServiceError::field(
                "batch.maxLatencyMs",
                format!("must be 0 to {MAX_LATENCY_MS}"),
            ));
        }
        Ok(())
    }
}

/// A signing secret, sealed (see `crate::sealing`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredSecret {
    pub id: String,
    pub sealed: String,
    pub created_us: i64,
    /// After a rotation, the old secret signs until then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_us: Option<i64>,
}

/// What makes a subscription a Google watch channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Channel {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    pub expiration_ms: i64,
    pub resource_id: String,
    pub resource_uri: String,
    /// The token that opened it: only its owner (or an admin) may stop it.
    pub opened_by: String,
}

/// The stored document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Definition {
    pub destination: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default)]
    pub query: ListConditions,
    pub format: Format,
    #[serde(default)]
    pub batch: Batching,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secrets: Vec<StoredSecret>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<Channel>,
}

pub const MAX_DESCRIPTION_BYTES: usize = 500;

pub fn check_description(d: &Option<String>) -> Result<(), ServiceError> {
    if let Some(d) = d
        && (d.len() > MAX_DESCRIPTION_BYTES || d.chars().any(char::is_control))
    {
        return Err(ServiceError::field(
            "description",
            format!("must be at most {MAX_DESCRIPTION_BYTES} bytes without control characters"),
        ));
    }
    Ok(())
}
