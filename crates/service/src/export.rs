//! Export, import and verify: moving a whole trail between stores (SQLite ⇄ PostgreSQL, or into a
//! fresh one), keeping every uniqueQualifier, time and eventId, and proving it arrived whole.
//!
//! An export is one [`Row`] per activity, tenant by tenant in ascending uniqueQualifier order,
//! read with `Store::tail` so that memory stays flat whatever the size. Import feeds rows to
//! `Store::restore` in batches; each batch is atomic.
//!
//! A tenant's digest is the SHA-256 of its canonical rows in ascending `uniqueQualifier` order,
//! each followed by a newline. A row holds everything a store keeps about an activity (tenant,
//! uniqueQualifier, event and receive times, application, the whole body with its eventId), and
//! its JSON objects have their keys sorted, so that the same activity gives the same bytes from
//! either engine (PostgreSQL's jsonb does not keep key order). Equal counts and equal digests mean
//! that every activity arrived, with identical content and the same sequence numbers.
//!
//! The file around the rows (NDJSON, zstd, progress) is the CLI's business; this module only
//! deals in activities, rows and digests. [`canonical`] is the one encoding call.

use std::collections::BTreeMap;
use std::io::Write;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest as _, Sha256};

use authtrail_model::{Activity, ActivityBody, ActivityQuery, Tenant};

use crate::Service;
use crate::error::ServiceError;

/// Activities read per `Store::tail` call.
pub const PAGE: usize = 1000;

/// One line of an export.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Row {
    pub tenant: Tenant,
    pub unique_qualifier: i64,
    pub time_us: i64,
    pub received_us: i64,
    pub application: String,
    pub body: ActivityBody,
}

impl Row {
    pub fn of(a: &Activity) -> Row {
        Row {
            tenant: a.tenant.clone(),
            unique_qualifier: a.unique_qualifier,
            time_us: a.time_us,
            received_us: a.received_us,
            application: a.application.clone(),
            body: a.body.clone(),
        }
    }

    /// Checks what serde cannot (the tenant's shape) and makes the activity.
    pub fn into_activity(self) -> Result<Activity, ServiceError> {
        let tenant =
            Tenant::new(self.tenant.as_str()).map_err(|m| ServiceError::field("tenant", m))?;
        if self.unique_qualifier < 1 {
            return Err(ServiceError::field(
                "uniqueQualifier",
                format!("{} is not positive", self.unique_qualifier),
            ));
        }
        Ok(Activity {
            tenant,
            unique_qualifier: self.unique_qualifier,
            time_us: self.time_us,
            received_us: self.received_us,
            application: self.application,
            body: self.body,
        })
    }
}

/// The canonical bytes of an activity: its row as JSON with every object's keys sorted.
pub fn canonical(a: &Activity) -> Result<Vec<u8>, ServiceError> {
    let v = serde_json::to_value(Row::of(a)).map_err(ServiceError::internal)?;
    serde_json::to_vec(&sorted(v)).map_err(ServiceError::internal)
}

fn sorted(v: Value) -> Value {
    match v {
        Value::Object(m) => {
            let mut entries: Vec<(String, Value)> = m.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(entries.into_iter().map(|(k, v)| (k, sorted(v))).collect())
        }
        Value::Array(a) => Value::Array(a.into_iter().map(sorted).collect()),
        other => other,
    }
}

/// What one tenant's activities add up to.
#[derive(Clone)]
pub struct TenantDigest {
    pub count: u64,
    pub first: i64,
    pub last: i64,
    hash: Sha256,
}

impl Default for TenantDigest {
    fn default() -> TenantDigest {
        TenantDigest {
            count: 0,
            first: 0,
            last: 0,
            hash: Sha256::new(),
        }
    }
}

impl TenantDigest {
    /// Adds the next activity; they must come in ascending uniqueQualifier order.
    pub fn add(&mut self, a: &Activity) -> Result<(), ServiceError> {
        self.add_encoded(a, &canonical(a)?)
    }

    /// [`Self::add`] with the activity's canonical bytes already made.
    fn add_encoded(&mut self, a: &Activity, row: &[u8]) -> Result<(), ServiceError> {
        if self.count > 0 && a.unique_qualifier <= self.last {
            return Err(ServiceError::field(
                "uniqueQualifier",
                format!(
                    "{} follows {} in tenant {}; rows must ascend",
                    a.unique_qualifier, self.last, a.tenant
                ),
            ));
        }
        if self.count == 0 {
            self.first = a.unique_qualifier;
        }
        self.count += 1;
        self.last = a.unique_qualifier;
        self.hash.update(row);
        self.hash.update(b"\n");
        Ok(())
    }

    pub fn hex(&self) -> String {
        hex::encode(self.hash.clone().finalize())
    }

    /// Same activities, same sequence, same content.
    pub fn same(&self, other: &TenantDigest) -> bool {
        (self.count, self.first, self.last, self.hex())
            == (other.count, other.first, other.last, other.hex())
    }
}

pub type Digests = BTreeMap<Tenant, TenantDigest>;

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
                let row = canonical(a)?;
                w.write_all(&row).map_err(ServiceError::internal)?;
                w.write_all(b"\n").map_err(ServiceError::internal)?;
                d.add_encoded(a, &row)
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
        self.walk(tenant, |a| d.add(a), &mut |_| {}).await?;
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
    use std::time::Instant;

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
            .ingest(&t, Source::Cli, batch, Instant::now())
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
            .map(|l| {
                serde_json::from_slice::<Row>(l)
                    .unwrap()
                    .into_activity()
                    .unwrap()
            })
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
