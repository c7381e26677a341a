//! Export, import and verify: moving a whole trail between stores (SQLite ⇄ PostgreSQL, or into a
//! fresh one), keeping every uniqueQualifier, time and eventId, and proving it arrived whole.
//!
//! An export is one [`Row`] per activity, tenant by tenant in ascending uniqueQualifier order,
//! read with `Store::tail` so that memory stays flat whatever the size. Import feeds rows to
//! `Store::restore` in batches; each batch is atomic.
//!
//! Equal per-tenant digests (count, first and last uniqueQualifier, SHA-256 of the canonical rows)
//! mean that every activity arrived, with identical content and the same sequence numbers.
//!
//! The row, its bytes and the digests are `authtrail_formats::export` (the one encoding call is
//! `rows::encode`, in [`Service::export_tenant`]); the file around the rows (NDJSON, zstd,
//! progress) is the CLI's business. This module is the operations.

use std::io::Write;

use authtrail_formats::export::{self as rows, RowError};
use authtrail_model::{Activity, ActivityQuery, Tenant};

pub use authtrail_formats::export::{Digests, Row, TenantDigest};

use crate::Service;
use crate::error::ServiceError;

/// Activities read per `Store::tail` call.
pub const PAGE: usize = 1000;

/// A row that cannot be read or added is bad input naming the row's field; one that cannot be
/// encoded is our fault.
impl From<RowError> for ServiceError {
    fn from(e: RowError) -> ServiceError {
        match e.field() {
            Some(field) => ServiceError::field(field, e.to_string()),
            None => ServiceError::internal(e),
        }
    }
}

/// A store compared with an export's digests.
pub struct Verification {
    /// Each tenant of the export: what the export says, what the store holds.
    pub tenants: Vec<(Tenant, TenantDigest, TenantDigest)>,
    /// Tenants the store holds that the export does not.
    pub others: Vec<Tenant>,
}

impl Verification {
    /// How many of the export's tenants differ from the store.
    pub fn differing(&self) -> usize {
        self.tenants.iter().filter(|(_, w, g)| !w.same(g)).count()
    }
}

impl Service {
    /// The tenants to export: `only`, or every tenant holding activities.
    pub async fn export_tenants(&self, only: Option<Tenant>) -> Result<Vec<Tenant>, ServiceError> {
        Ok(match only {
            Some(t) => vec![t],
            None => self.store().tenants().await?,
        })
    }

    /// How many activities `tenants` hold together (for a progress bar).
    pub async fn total(&self, tenants: &[Tenant]) -> Result<u64, ServiceError> {
        let mut total = 0;
        for t in tenants {
            total += self
                .store()
                .count(t, &ActivityQuery::default(), None)
                .await?
                .n;
        }
        Ok(total)
    }

    /// Writes one tenant's activities as canonical rows, one per line, in ascending
    /// uniqueQualifier order; `progress` hears how many each step wrote.
    pub async fn export_tenant(
        &self,
        tenant: &Tenant,
        w: &mut dyn Write,
        progress: &mut dyn FnMut(u64),
    ) -> Result<TenantDigest, ServiceError> {
        let mut d = TenantDigest::default();
        self.walk(
            tenant,
            |a| {
                let row = rows::encode(a)?;
                w.write_all(&row).map_err(ServiceError::internal)?;
                w.write_all(b"\n").map_err(ServiceError::internal)?;
                Ok(d.add_encoded(a, &row)?)
            },
            progress,
        )
        .await?;
        Ok(d)
    }

    /// Restores one batch of one tenant's activities verbatim (atomic; fails if any
    /// uniqueQualifier is taken).
    pub async fn import_batch(
        &self,
        tenant: &Tenant,
        batch: Vec<Activity>,
    ) -> Result<(), ServiceError> {
        Ok(self.store().restore(tenant, batch).await?)
    }

    /// The digest of one tenant's activities in the store.
    pub async fn digest(&self, tenant: &Tenant) -> Result<TenantDigest, ServiceError> {
        let mut d = TenantDigest::default();
        self.walk(tenant, |a| Ok(d.add(a)?), &mut |_| {}).await?;
        Ok(d)
    }

    /// Compares the store with an export's digests, tenant by tenant.
    pub async fn verify(&self, expected: &Digests) -> Result<Verification, ServiceError> {
        let mut tenants = Vec::new();
        for (tenant, want) in expected {
            let got = self.digest(tenant).await?;
            tenants.push((tenant.clone(), want.clone(), got));
        }
        let others = self
            .store()
            .tenants()
            .await?
            .into_iter()
            .filter(|t| !expected.contains_key(t))
            .collect();
        Ok(Verification { tenants, others })
    }

    /// Every activity of a tenant in ascending uniqueQualifier order, a page at a time.
    async fn walk(
        &self,
        tenant: &Tenant,
        mut each: impl FnMut(&Activity) -> Result<(), ServiceError>,
        progress: &mut dyn FnMut(u64),
    ) -> Result<(), ServiceError> {
        let mut after = 0;
        loop {
            let page = self.store().tail(tenant, after, PAGE).await?;
            for a in &page {
                each(a)?;
            }
            progress(page.len() as u64);
            match page.last() {
                Some(a) if page.len() == PAGE => after = a.unique_qualifier,
                _ => return Ok(()),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use authtrail_model::Stopwatch;

    use serde_json::json;

    use super::*;
    use crate::Source;
    use crate::testing::{fixture, tenant};

    #[tokio::test]
    async fn an_export_imported_elsewhere_verifies_and_a_change_does_not() {
        let (from, to) = (fixture().await, fixture().await);
        let t = tenant("Ca");
        let items: Vec<_> = (0..3)
            .map(|i| json!({"id": {"applicationName": "login"}, "actor": {"email": format!("u{i}@example.com")},
                            "events": [{"name": "login_success"}]}))
            .collect();
        let batch = from.service.validate(&t, Source::Cli, &items).unwrap();
        from.service
            .ingest(&t, Source::Cli, batch, Stopwatch::start())
            .await
            .unwrap();

        let mut file = Vec::new();
        let d = from
            .service
            .export_tenant(&t, &mut file, &mut |_| {})
            .await
            .unwrap();
        assert_eq!((d.count, d.first, d.last), (3, 1, 3));
        let rows: Vec<Activity> = file
            .split(|b| *b == b'\n')
            .filter(|l| !l.is_empty())
            .map(|l| Row::decode(l).unwrap().into_activity().unwrap())
            .collect();
        to.service.import_batch(&t, rows.clone()).await.unwrap();
        let expected = Digests::from([(t.clone(), d)]);
        assert_eq!(to.service.verify(&expected).await.unwrap().differing(), 0);

        let mut changed = rows[0].clone();
        changed.unique_qualifier = 10;
        to.service.import_batch(&t, vec![changed]).await.unwrap();
        assert_eq!(to.service.verify(&expected).await.unwrap().differing(), 1);
    }
}
