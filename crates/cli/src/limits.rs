//! The `serve` flags that set the HTTP surface's limits (see SECURITY.md for why each exists).

use authtrail_server::Limits;
use ipnet::IpNet;

#[derive(clap::Args)]
pub struct LimitArgs {
    /// Largest request body in bytes.
    #[arg(long, env = "AUTHTRAIL_MAX_BODY_BYTES", default_value_t = Limits::default().max_body_bytes)]
    max_body_bytes: usize,
    /// Most activities in one ingest batch.
    #[arg(long, env = "AUTHTRAIL_MAX_BATCH", default_value_t = Limits::default().max_batch)]
    max_batch: usize,
    /// Sustained requests per second per client IP (bursts of twice that); 0 = no limit.
    #[arg(long, env = "AUTHTRAIL_PER_IP_RPS", default_value_t = Limits::default().per_ip_rps)]
    per_ip_rps: u32,
    /// Sustained requests per second per API token (bursts of twice that); 0 = no limit.
    #[arg(long, env = "AUTHTRAIL_PER_TOKEN_RPS", default_value_t = Limits::default().per_token_rps)]
    per_token_rps: u32,
    /// Requests handled at once; more are shed with 503 + Retry-After.
    #[arg(long, env = "AUTHTRAIL_MAX_IN_FLIGHT", default_value_t = Limits::default().max_in_flight)]
    max_in_flight: usize,
    /// Open connections at once; more wait in the kernel's backlog.
    #[arg(long, env = "AUTHTRAIL_MAX_CONNECTIONS", default_value_t = Limits::default().max_connections)]
    max_connections: usize,
    /// Proxies (CIDRs, comma-separated) whose X-Forwarded-For gives the client IP.
    #[arg(
        long = "trusted-proxy",
        env = "AUTHTRAIL_TRUSTED_PROXIES",
        value_delimiter = ','
    )]
    trusted_proxies: Vec<IpNet>,
}

impl LimitArgs {
    pub fn to_limits(&self) -> Limits {
        Limits {
            max_body_bytes: self.max_body_bytes,
            max_batch: self.max_batch,
            per_ip_rps: self.per_ip_rps,
            per_token_rps: self.per_token_rps,
            max_in_flight: self.max_in_flight,
            max_connections: self.max_connections,
            trusted_proxies: self.trusted_proxies.clone(),
            ..Limits::default()
        }
    }
}
