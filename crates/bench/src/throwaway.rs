//! What the profiling binaries (`authtrail-ingest-profile`, `authtrail-train-body-dict`) share:
//! a throwaway embedded store behind the real service, and a request body's decoding and
//! validation exactly as `POST /v1/activities` does them.

use std::sync::Arc;

use authtrail_model::{Clock, NewActivity, Tenant};
use authtrail_service::{Service, Source};

/// Events per request body.
pub const BATCH: usize = 1000;

/// A fresh SQLite store in a temporary directory, with the service over it and a runtime to
/// drive it. The directory goes when this is dropped.
pub struct Throwaway {
    pub dir: tempfile::TempDir,
    pub rt: tokio::runtime::Runtime,
    pub service: Service,
}

impl Throwaway {
    pub fn open(clock: Arc<dyn Clock>) -> anyhow::Result<Throwaway> {
        let dir = tempfile::tempdir()?;
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let store = Arc::new(authtrail_store_sqlite::SqliteStore::open(
            dir.path(),
            clock.clone(),
        )?);
        let catalog = Arc::new(authtrail_catalog::Catalog::builtin()?);
        // A throwaway store: a key of its own seals its secrets.
        let sealing = authtrail_service::sealing::SealingKey::new(rand::random());
        let service = rt.block_on(Service::open(store, catalog, clock, sealing))?;
        Ok(Throwaway { dir, rt, service })
    }
}

/// Decodes and validates one request body exactly as `POST /v1/activities` does.
#[inline(never)]
pub fn parse_and_validate(
    service: &Service,
    tenant: &Tenant,
    body: &[u8],
) -> anyhow::Result<Vec<NewActivity>> {
    let items = authtrail_server::ingest::parse_items(
        authtrail_server::ingest::Format::JsonArray,
        body,
        BATCH,
    )
    .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    service
        .validate_wire(tenant, Source::Native, &items)
        .map_err(|e| anyhow::anyhow!(e.explain()))
}
