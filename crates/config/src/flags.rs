//! The flags of `authtrail serve`: the last layer. Each is optional, so that a flag left out
//! does not hide the file or the environment.

use std::net::SocketAddr;
use std::path::PathBuf;

use ipnet::IpNet;
use serde::Serialize;

use crate::server::{MAX_RETENTION_DAYS, RETENTION_INTERVAL_SECS};

fn is_false(b: &bool) -> bool {
    !*b
}

fn is_empty<T>(v: &[T]) -> bool {
    v.is_empty()
}

/// Flag names are contracts (scripts use them): keep them. Each reads no environment variable
/// itself; the loader reads `AUTHTRAIL_<KEY>` one layer below. The defaults are those of
/// [`crate::ServerConfig::default`], listed in the example file of docs/operations.md.
#[derive(clap::Args, Debug, Clone, Default, Serialize)]
pub struct Flags {
    /// The address to listen on (port 0 picks a free port; the log says which).
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<SocketAddr>,
    /// The data directory of the embedded store.
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<PathBuf>,
    /// Use PostgreSQL instead of the embedded store, e.g. postgres://user@host:5432/db. Several
    /// nodes may share one database; migrations run at start (under an advisory lock).
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub store: Option<String>,
    /// Seconds to connect to PostgreSQL, or to wait for a pooled connection, before a request
    /// fails with 503.
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub store_connect_timeout_secs: Option<u64>,
    /// PostgreSQL's statement_timeout, in seconds (503 after it). A database that stays silent
    /// 5 s longer while it owes an answer (frozen, cut off) fails the request too.
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub store_statement_timeout_secs: Option<u64>,
    /// Extra catalogue files, comma-separated (your own applications and events; see
    /// catalog/SCHEMA.md).
    #[arg(long, value_delimiter = ',')]
    #[serde(skip_serializing_if = "is_empty")]
    pub catalog: Vec<PathBuf>,
    /// Also serve Google's Reports API under this path prefix (e.g. /audit), for clients whose
    /// api_endpoint has a path.
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub google_prefix: Option<String>,
    /// Serve GET /metrics without a token (for a scraper on a private network). By default it
    /// needs an admin-scope token.
    #[arg(long)]
    #[serde(skip_serializing_if = "is_false")]
    pub metrics_open: bool,
    /// Remove activities older than this many days, in the background (see docs/operations.md).
    /// Without it, nothing is ever removed.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=MAX_RETENTION_DAYS as i64))]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retention_days: Option<u32>,
    /// Seconds between two retention purges (the first runs at start).
    #[arg(long, value_parser = clap::value_parser!(u64).range(RETENTION_INTERVAL_SECS))]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retention_interval_secs: Option<u64>,
    /// The shortest retention anyone may set, in days (default 30; 0 turns the floor off). A
    /// shorter --retention-days, or `authtrail retention --days`, is refused and recorded.
    #[arg(long, value_parser = clap::value_parser!(u32).range(0..=MAX_RETENTION_DAYS as i64))]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retention_floor_days: Option<u32>,
    /// Let push subscriptions deliver to loopback, private and link-local addresses and over
    /// plain http/tcp (tests and closed networks only: it opens the node to SSRF).
    #[arg(long)]
    #[serde(skip_serializing_if = "is_false")]
    pub allow_private_destinations: bool,
    /// The file holding this node's sealing key (64 hex digits), which encrypts the webhook
    /// signing secrets kept in the store. Every node of one store needs the same file. Default
    /// on the embedded store: `sealing.key` beside the database, made on first start.
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sealing_key_file: Option<PathBuf>,
    /// The SMTP server alerts are e-mailed through: smtp://user:pass@host:port (STARTTLS
    /// required), smtps://user:pass@host:port (TLS), smtp://host:port?tls=none (a local relay,
    /// no password). Prefer the file or AUTHTRAIL_SMTP_URL for a password (flags show in `ps`).
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub smtp_url: Option<String>,
    /// The sender of alert e-mail, e.g. alerts@example.com.
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alert_from: Option<String>,
    /// Where people reach this server (https://audit.example.com), for the console links in
    /// alerts. Default: the listen address.
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub public_url: Option<String>,
    /// The transparency log's origin prefix: each tenant's checkpoints are signed as
    /// `<log-origin>/<tenant>` (see docs/integrity.md). Set it once, before the first start.
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_origin: Option<String>,
    /// Run the suspicious-sign-in detectors on every tenant's trail; their findings are stored
    /// as `detection` activities (see docs/detection.md).
    #[arg(long)]
    #[serde(skip_serializing_if = "is_false")]
    pub detect: bool,
    /// The detectors' thresholds, per tenant: a TOML file (see docs/detection.md).
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detect_config: Option<PathBuf>,
    /// IP → country/ASN/location databases in MaxMind's .mmdb format (comma-separated: a
    /// country or city file and an ASN file, say). Without one the detectors' country, ASN and
    /// velocity features are off.
    #[arg(long, value_delimiter = ',')]
    #[serde(skip_serializing_if = "is_empty")]
    pub geoip_db: Vec<PathBuf>,
    /// Largest request body in bytes.
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_body_bytes: Option<usize>,
    /// Most activities in one ingest batch.
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_batch: Option<usize>,
    /// Largest total size of a request's headers in bytes.
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_header_bytes: Option<usize>,
    /// Sustained requests per second per client IP (bursts of twice that); 0 = no limit.
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub per_ip_rps: Option<u32>,
    /// Sustained requests per second per API token (bursts of twice that); 0 = no limit.
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub per_token_rps: Option<u32>,
    /// Requests handled at once; more are shed with 503 + Retry-After.
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_in_flight: Option<usize>,
    /// Open connections at once; more wait in the kernel's backlog.
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_connections: Option<usize>,
    /// Seconds a client has to send its request line and headers.
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub header_read_timeout_secs: Option<u64>,
    /// Seconds a client has to send its whole body.
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body_timeout_secs: Option<u64>,
    /// Request body bytes held at once across the node; more are shed with 503 + Retry-After.
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_body_bytes_in_flight: Option<usize>,
    /// Proxies (CIDRs, comma-separated) whose X-Forwarded-For gives the client IP.
    #[arg(long = "trusted-proxy", value_delimiter = ',')]
    #[serde(skip_serializing_if = "is_empty")]
    pub trusted_proxies: Vec<IpNet>,
}
