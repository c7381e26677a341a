//! The typed server configuration and its defaults.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use authtrail_server::Limits;
use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use crate::de;

pub use authtrail_model::limits::MAX_RETENTION_DAYS;

/// The retention floor when none is set, in days: `authtrail_service::retention::DEFAULT_FLOOR_DAYS`
/// (a test keeps the two equal).
pub const DEFAULT_RETENTION_FLOOR_DAYS: u32 = 30;

/// The accepted seconds between two retention purges: a minute to a week.
pub const RETENTION_INTERVAL_SECS: std::ops::RangeInclusive<u64> = 60..=604_800;

/// Everything `authtrail serve` needs to know. The field names are the file's keys; see the
/// commented example in docs/operations.md, which a test parses.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// The address to listen on (port 0 picks a free port; the log says which).
    pub listen: SocketAddr,
    /// The data directory of the embedded store (unused with `store`).
    pub data: PathBuf,
    /// PostgreSQL instead of the embedded store, e.g. postgres://user@host:5432/db.
    pub store: Option<StoreUrl>,
    /// Seconds to connect to PostgreSQL, or to wait for a pooled connection (then 503).
    pub store_connect_timeout_secs: u64,
    /// PostgreSQL's `statement_timeout` in seconds; a database that stays silent 5 s longer
    /// while it owes an answer (frozen, cut off) fails the request too (503).
    pub store_statement_timeout_secs: u64,
    /// Extra catalogue files (your own applications and events).
    #[serde(deserialize_with = "de::comma_list")]
    pub catalog: Vec<PathBuf>,
    /// Also serve Google's Reports API under this path prefix (e.g. /audit).
    pub google_prefix: Option<String>,
    /// Serve GET /metrics without a token.
    #[serde(deserialize_with = "de::switch")]
    pub metrics_open: bool,
    /// Remove activities older than this many days, in the background; none: keep everything.
    pub retention_days: Option<u32>,
    /// Seconds between two retention purges (the first runs at start).
    pub retention_interval_secs: u64,
    /// The shortest retention anyone may set, in days (0: no floor): a shorter `retention_days`
    /// or `authtrail retention --days` is refused and recorded.
    pub retention_floor_days: u32,
    /// Let push subscriptions reach internal addresses and plain http/tcp (tests only).
    #[serde(deserialize_with = "de::switch")]
    pub allow_private_destinations: bool,
    /// The sealing key file (docs/delivery.md); none: `sealing.key` beside the embedded
    /// database, and no webhook secrets on PostgreSQL.
    pub sealing_key_file: Option<PathBuf>,
    /// The SMTP server alerts are e-mailed through: smtp://user:pass@host:port (STARTTLS),
    /// smtps://… (TLS), `?tls=none` for a local relay without a password (docs/alerts.md).
    pub smtp_url: Option<SmtpUrl>,
    /// The sender of alert e-mail (`alerts@example.com`).
    pub alert_from: Option<String>,
    /// Where people reach this server, for the console links in alerts; none: the listen
    /// address.
    pub public_url: Option<String>,
    /// The transparency log's origin prefix: each tenant's checkpoints are signed as
    /// `<log_origin>/<tenant>` (docs/integrity.md). Set it once, before the first start.
    pub log_origin: String,
    /// Run the suspicious-sign-in detectors on every tenant's trail (docs/detection.md).
    #[serde(deserialize_with = "de::switch")]
    pub detect: bool,
    /// The detectors' thresholds, per tenant (a TOML file; docs/detection.md); none: the
    /// defaults.
    pub detect_config: Option<PathBuf>,
    /// IP → country/ASN/location databases in MaxMind's .mmdb format (a country or city file
    /// and an ASN file, say); none: the country, ASN and velocity features are off.
    #[serde(deserialize_with = "de::comma_list")]
    pub geoip_db: Vec<PathBuf>,
    /// Largest request body in bytes.
    pub max_body_bytes: usize,
    /// Most activities in one ingest batch.
    pub max_batch: usize,
    /// Largest total size of a request's headers, in bytes.
    pub max_header_bytes: usize,
    /// Sustained requests per second per client IP (bursts of twice that); 0 = no limit.
    pub per_ip_rps: u32,
    /// Sustained requests per second per API token (bursts of twice that); 0 = no limit.
    pub per_token_rps: u32,
    /// Requests handled at once; more are shed with 503 + Retry-After.
    pub max_in_flight: usize,
    /// Open connections at once; more wait in the kernel's backlog.
    pub max_connections: usize,
    /// Seconds a client has to send its request line and headers.
    pub header_read_timeout_secs: u64,
    /// Seconds a client has to send its whole body.
    pub body_timeout_secs: u64,
    /// Request body bytes held at once across the node; more are shed with 503 + Retry-After.
    pub max_body_bytes_in_flight: usize,
    /// Proxies (CIDRs) whose X-Forwarded-For gives the client IP.
    #[serde(deserialize_with = "de::comma_list")]
    pub trusted_proxies: Vec<IpNet>,
}

impl Default for ServerConfig {
    fn default() -> ServerConfig {
        let l = Limits::default();
        ServerConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data: PathBuf::from("./authtrail-data"),
            store: None,
            // The PostgreSQL engine's own defaults (authtrail_store_postgres::Timeouts).
            store_connect_timeout_secs: 10,
            store_statement_timeout_secs: 30,
            catalog: Vec::new(),
            google_prefix: None,
            metrics_open: false,
            allow_private_destinations: false,
            sealing_key_file: None,
            smtp_url: None,
            alert_from: None,
            public_url: None,
            retention_days: None,
            retention_interval_secs: 3600,
            retention_floor_days: DEFAULT_RETENTION_FLOOR_DAYS,
            // authtrail_service::log::DEFAULT_ORIGIN: a name that says it is not set.
            log_origin: "authtrail.invalid".to_string(),
            detect: false,
            detect_config: None,
            geoip_db: Vec::new(),
            max_body_bytes: l.max_body_bytes,
            max_batch: l.max_batch,
            max_header_bytes: l.max_header_bytes,
            per_ip_rps: l.per_ip_rps,
            per_token_rps: l.per_token_rps,
            max_in_flight: l.max_in_flight,
            max_connections: l.max_connections,
            header_read_timeout_secs: l.header_read_timeout.as_secs(),
            body_timeout_secs: l.body_timeout.as_secs(),
            max_body_bytes_in_flight: l.max_body_bytes_in_flight,
            trusted_proxies: l.trusted_proxies,
        }
    }
}

impl ServerConfig {
    /// The HTTP surface's limits.
    pub fn limits(&self) -> Limits {
        Limits {
            max_body_bytes: self.max_body_bytes,
            max_batch: self.max_batch,
            max_header_bytes: self.max_header_bytes,
            per_ip_rps: self.per_ip_rps,
            per_token_rps: self.per_token_rps,
            max_in_flight: self.max_in_flight,
            max_connections: self.max_connections,
            header_read_timeout: Duration::from_secs(self.header_read_timeout_secs),
            body_timeout: Duration::from_secs(self.body_timeout_secs),
            max_body_bytes_in_flight: self.max_body_bytes_in_flight,
            trusted_proxies: self.trusted_proxies.clone(),
        }
    }

    /// The PostgreSQL engine's timeouts: (connect, statement).
    pub fn store_timeouts(&self) -> (Duration, Duration) {
        (
            Duration::from_secs(self.store_connect_timeout_secs),
            Duration::from_secs(self.store_statement_timeout_secs),
        )
    }

    /// Values that parse but make no sense: (key, why). The loader adds where each came from.
    pub(crate) fn problems(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        if let Some(d) = self.retention_days
            && !(1..=MAX_RETENTION_DAYS).contains(&d)
        {
            out.push((
                "retention_days",
                format!("{d} is not in 1..={MAX_RETENTION_DAYS}"),
            ));
        }
        if self.retention_floor_days > MAX_RETENTION_DAYS {
            out.push((
                "retention_floor_days",
                format!(
                    "{} is not in 0..={MAX_RETENTION_DAYS}",
                    self.retention_floor_days
                ),
            ));
        }
        // A retention_days below the floor is refused by `serve` itself, after opening the store,
        // so that the refusal is recorded in every tenant's trail (authtrail_service::retention).
        if !RETENTION_INTERVAL_SECS.contains(&self.retention_interval_secs) {
            out.push((
                "retention_interval_secs",
                format!(
                    "{} is not in {RETENTION_INTERVAL_SECS:?}",
                    self.retention_interval_secs
                ),
            ));
        }
        if self.max_body_bytes_in_flight < self.max_body_bytes {
            out.push((
                "max_body_bytes_in_flight",
                format!(
                    "{} is less than max_body_bytes ({}): a largest body could never be admitted",
                    self.max_body_bytes_in_flight, self.max_body_bytes
                ),
            ));
        }
        if self.log_origin.is_empty()
            || self.log_origin.len() > 200
            || self
                .log_origin
                .chars()
                .any(|c| c.is_whitespace() || c.is_control() || c == '+')
        {
            out.push((
                "log_origin",
                "must be 1 to 200 characters without spaces or '+' (e.g. audit.example.com)".into(),
            ));
        }
        if let Some(u) = &self.smtp_url {
            // Never echo the URL: it may hold the password.
            let scheme = u.0.split_once("://").map(|(s, _)| s);
            if !matches!(scheme, Some("smtp" | "smtps")) {
                out.push((
                    "smtp_url",
                    "must be smtp://user:pass@host:port (STARTTLS) or smtps://… (TLS)".into(),
                ));
            }
            if self.alert_from.is_none() {
                out.push((
                    "alert_from",
                    "is required with smtp_url (the sender)".into(),
                ));
            }
        }
        if self
            .alert_from
            .as_ref()
            .is_some_and(|f| !f.contains('@') || f.len() > 254)
        {
            out.push(("alert_from", "must be an e-mail address".into()));
        }
        if let Some(p) = &self.public_url
            && !(p.starts_with("https://") || p.starts_with("http://"))
        {
            out.push(("public_url", "must be an http:// or https:// URL".into()));
        }
        for (key, v) in [
            ("header_read_timeout_secs", self.header_read_timeout_secs),
            ("body_timeout_secs", self.body_timeout_secs),
            (
                "store_connect_timeout_secs",
                self.store_connect_timeout_secs,
            ),
            (
                "store_statement_timeout_secs",
                self.store_statement_timeout_secs,
            ),
        ] {
            if v == 0 {
                out.push((key, "must be at least 1 second".into()));
            }
        }
        out
    }
}

/// A PostgreSQL URL. It may hold a password, so it never prints.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct StoreUrl(pub String);

impl std::fmt::Debug for StoreUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StoreUrl(<redacted>)")
    }
}

/// An SMTP URL. It may hold a password, so it never prints.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SmtpUrl(pub String);

impl std::fmt::Debug for SmtpUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SmtpUrl(<redacted>)")
    }
}
