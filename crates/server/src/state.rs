//! What every handler shares.

use std::sync::Arc;

use authtrail_catalog::Catalog;
use authtrail_model::{Clock, Store, StoreError};

/// Limits of the HTTP surface. Each is documented in docs/api.md.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest request body, in bytes (413 above it).
    pub max_body_bytes: usize,
    /// Most activities in one ingest batch (413 above it).
    pub max_batch: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_body_bytes: 16 * 1024 * 1024,
            max_batch: 10_000,
        }
    }
}

#[derive(Clone)]
pub struct AppState(Arc<Inner>);

pub struct Inner {
    pub store: Arc<dyn Store>,
    pub catalog: Arc<Catalog>,
    pub clock: Arc<dyn Clock>,
    pub limits: Limits,
    /// Signs page tokens; shared by every node through the store.
    pub cursor_key: [u8; 32],
    /// An extra path prefix under which Google's Reports API is also served (e.g. `/audit`).
    pub google_prefix: Option<String>,
    /// What `GET /metrics` reports; shared by every copy of this state.
    pub metrics: Arc<crate::metrics::Metrics>,
}

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl AppState {
    /// Builds the state, fetching (or creating) the store's cursor-signing secret.
    pub async fn new(
        store: Arc<dyn Store>,
        catalog: Arc<Catalog>,
        clock: Arc<dyn Clock>,
        limits: Limits,
    ) -> Result<AppState, StoreError> {
        let cursor_key = store.secret("cursor-signing").await?;
        Ok(AppState(Arc::new(Inner {
            store,
            catalog,
            clock,
            limits,
            cursor_key,
            google_prefix: None,
            metrics: Arc::new(crate::metrics::Metrics::new()),
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
        let inner = &self.0;
        Ok(AppState(Arc::new(Inner {
            store: inner.store.clone(),
            catalog: inner.catalog.clone(),
            clock: inner.clock.clone(),
            limits: inner.limits.clone(),
            cursor_key: inner.cursor_key,
            google_prefix: prefix,
            metrics: inner.metrics.clone(),
        })))
    }
}
