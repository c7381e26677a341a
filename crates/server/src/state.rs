//! What every handler shares.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use ipnet::IpNet;

use authtrail_catalog::Catalog;
use authtrail_model::{Clock, Receipt, Store};
use authtrail_service::{IngestObserver, Service, ServiceError, Source};

use crate::ratelimit::KeyedLimit;

/// Limits of the HTTP surface. Each is documented in docs/api.md and SECURITY.md.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest request body, in bytes (413 above it).
    pub max_body_bytes: usize,
    /// Most activities in one ingest batch (413 above it).
    pub max_batch: usize,
    /// Largest total size of a request's headers, in bytes (431 above it).
    pub max_header_bytes: usize,
    /// Sustained requests per second per client IP (bursts of twice that); 0 switches it off.
    pub per_ip_rps: u32,
    /// Sustained requests per second per API token (bursts of twice that); 0 switches it off.
    pub per_token_rps: u32,
    /// Requests handled at once; more are shed with 503 and `Retry-After` instead of queueing.
    pub max_in_flight: usize,
    /// Open connections at once; more wait in the kernel's accept backlog.
    pub max_connections: usize,
    /// Time a client has to send its request line and headers.
    pub header_read_timeout: Duration,
    /// Time a client has to send its whole body (408 after it).
    pub body_timeout: Duration,
    /// Request body bytes held at once across the node (503 + `Retry-After` above it); at least
    /// `max_body_bytes`. See [`crate::body`].
    pub max_body_bytes_in_flight: usize,
    /// Proxies whose `X-Forwarded-For` is believed; the client IP is otherwise the peer's.
    pub trusted_proxies: Vec<IpNet>,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_body_bytes: 16 * 1024 * 1024,
            max_batch: 10_000,
            max_header_bytes: 32 * 1024,
            per_ip_rps: 1000,
            per_token_rps: 500,
            max_in_flight: 256,
            max_connections: 4096,
            header_read_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(60),
            max_body_bytes_in_flight: 256 * 1024 * 1024,
            trusted_proxies: Vec::new(),
        }
    }
}

/// The rate limiters, shared by every request of this node.
pub struct RateLimits {
    pub per_ip: KeyedLimit<IpAddr>,
    pub per_token: KeyedLimit<String>,
}

#[derive(Clone)]
pub struct AppState(Arc<Inner>);

/// Cheap to clone (shared handles and small values): a `with_…` variant of the state is a clone
/// with one field changed.
#[derive(Clone)]
pub struct Inner {
    /// The application layer every handler calls.
    pub service: Service,
    pub store: Arc<dyn Store>,
    pub catalog: Arc<Catalog>,
    pub clock: Arc<dyn Clock>,
    pub limits: Limits,
    pub rate: Arc<RateLimits>,
    /// Request body bytes in flight ([`crate::body`]).
    pub body_budget: crate::body::BodyBudget,
    /// An extra path prefix under which Google's Reports API is also served (e.g. `/audit`).
    pub google_prefix: Option<String>,
    /// What `GET /metrics` reports; shared by every copy of this state.
    pub metrics: Arc<crate::metrics::Metrics>,
    /// Whether this node runs the detectors, and with an IP database (the console says when the
    /// features that need one are off).
    pub detection: Detection,
}

/// This node's detectors, as the console describes them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Detection {
    #[default]
    Off,
    On {
        ip_database: bool,
    },
}

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl AppState {
    /// Builds the state and its service (which seals the store's secrets with `sealing`, and
    /// fetches or creates the cursor-signing secret; see `Service::open`).
    pub async fn new(
        store: Arc<dyn Store>,
        catalog: Arc<Catalog>,
        clock: Arc<dyn Clock>,
        limits: Limits,
        sealing: authtrail_service::sealing::SealingKey,
    ) -> Result<AppState, ServiceError> {
        let metrics = Arc::new(crate::metrics::Metrics::new());
        let service = Service::open(store.clone(), catalog.clone(), clock.clone(), sealing)
            .await?
            .observed_by(metrics.clone());
        let rate = Arc::new(RateLimits {
            per_ip: KeyedLimit::new(limits.per_ip_rps),
            per_token: KeyedLimit::new(limits.per_token_rps),
        });
        let body_budget =
            crate::body::budget(limits.max_body_bytes_in_flight, limits.max_body_bytes);
        Ok(AppState(Arc::new(Inner {
            service,
            store,
            catalog,
            clock,
            limits,
            rate,
            body_budget,
            google_prefix: None,
            metrics,
            detection: Detection::Off,
        })))
    }

    /// Also serves Google's API under `prefix` (`/audit` → `/audit/admin/reports/v1/...`), as
    /// Google's clients do when their `api_endpoint` has a path.
    pub fn with_google_prefix(self, prefix: Option<&str>) -> Result<AppState, String> {
        let prefix = match prefix.map(|p| p.trim_end_matches('/')) {
            None | Some("") => None,
            Some(p)
                if p.starts_with('/')
                    && p.len() <= 128
                    && p.bytes().all(|b| {
                        b.is_ascii_alphanumeric() || matches!(b, b'/' | b'_' | b'-' | b'.')
                    }) =>
            {
                Some(p.to_string())
            }
            Some(p) => {
                return Err(format!(
                    "Google API prefix {p:?} must start with / and hold only letters, digits, / _ - ."
                ));
            }
        };
        Ok(AppState(Arc::new(Inner {
            google_prefix: prefix,
            ..(*self.0).clone()
        })))
    }
}

impl AppState {
    /// The same state, refusing retention periods shorter than `days` (`retention_floor_days`).
    pub fn with_retention_floor(self, days: u32) -> Result<AppState, String> {
        let service = self
            .0
            .service
            .clone()
            .with_retention_floor(days)
            .map_err(|e| e.to_string())?;
        Ok(AppState(Arc::new(Inner {
            service,
            ..(*self.0).clone()
        })))
    }

    /// Signs this node's transparency log checkpoints under `prefix` (`log_origin`): each
    /// tenant's log is `<prefix>/<tenant>`.
    pub fn with_log_origin(self, prefix: &str) -> Result<AppState, String> {
        let service = self
            .0
            .service
            .clone()
            .with_log_origin(prefix)
            .map_err(|e| format!("log_origin: {e}"))?;
        Ok(AppState(Arc::new(Inner {
            service,
            ..(*self.0).clone()
        })))
    }

    /// Push delivery's address policy (see `authtrail_service::Service::with_delivery`).
    pub fn with_delivery(
        self,
        destinations: authtrail_service::subscriptions::DestinationPolicy,
    ) -> AppState {
        let service = self.0.service.clone().with_delivery(destinations);
        AppState(Arc::new(Inner {
            service,
            ..(*self.0).clone()
        }))
    }
}

impl AppState {
    /// Says that this node runs the detectors (`serve --detect`), and whether with an IP
    /// database.
    pub fn with_detection(self, detection: Detection) -> AppState {
        if let Detection::On { ip_database } = detection {
            self.0.metrics.detection().set_ip_database(ip_database);
        }
        AppState(Arc::new(Inner {
            detection,
            ..(*self.0).clone()
        }))
    }
}

/// `/metrics` counts what arrives through the API; the server's own admin events and the CLI's
/// loads are not client ingest.
impl IngestObserver for crate::metrics::Metrics {
    fn unlisted(&self, application: &str, parameter: &str, values: u64) {
        self.ingest_unlisted(application, parameter, values);
    }

    fn rejected(&self, source: Source, items: usize) {
        if counted(source) {
            self.ingest_rejected(items);
        }
    }

    fn stored(&self, source: Source, receipts: &[Receipt], since: Duration, append: Duration) {
        if counted(source) {
            self.ingest_stored(receipts, since, append);
        }
    }
}

fn counted(source: Source) -> bool {
    matches!(
        source,
        Source::Native | Source::Logto | Source::LogtoWebhook
    )
}
