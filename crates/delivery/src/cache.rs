//! The node's read-ahead of each tenant's trail, shared by its delivery workers.
//!
//! N subscriptions of one tenant read the same activities in the same order, usually within a
//! moment of each other. Without sharing, each decodes every activity from the store again (N
//! reads, N decompressions and parses); with it, the first worker to reach a range reads it and
//! the others take it from here. Stored activities never change, so a cached one is always
//! right; a purge only removes old ones, which a worker past them never asks for again.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use authtrail_catalog::Catalog;
use authtrail_model::store::prelude::*;
use authtrail_model::{Activity, Tenant};
use authtrail_service::subscriptions::Format;

use crate::payload::Rendered;

/// Most activities kept per tenant (the oldest go first).
const PER_TENANT: usize = 20_000;

/// Rendered activities by sequence number, per tenant and format.
type RenderedByFormat = HashMap<(Tenant, Format), BTreeMap<i64, Arc<Rendered>>>;

#[derive(Default)]
pub struct TailCache {
    tenants: Mutex<HashMap<Tenant, BTreeMap<i64, Arc<Activity>>>>,
    /// Activities already rendered in a format, for the next subscription that wants them so.
    rendered: Mutex<RenderedByFormat>,
}

impl TailCache {
    /// Up to `limit` activities after `after`, in sequence order, as `ActivityLog::tail` gives
    /// them: from the cache when it holds `limit` of them, or all up to `committed` (the highest
    /// committed sequence number the node has heard of); else from the store (and kept).
    pub async fn tail(
        &self,
        store: &Arc<dyn Store>,
        tenant: &Tenant,
        after: i64,
        limit: usize,
        committed: i64,
    ) -> Result<Vec<Arc<Activity>>, StoreError> {
        if let Some(hit) = self.cached(tenant, after, limit)
            && (hit.len() == limit || hit.last().is_some_and(|a| a.unique_qualifier >= committed))
        {
            return Ok(hit);
        }
        let read: Vec<Arc<Activity>> = store
            .tail(tenant, after, limit)
            .await?
            .into_iter()
            .map(Arc::new)
            .collect();
        let mut tenants = self.tenants.lock().unwrap_or_else(|e| e.into_inner());
        let t = tenants.entry(tenant.clone()).or_default();
        for a in &read {
            t.insert(a.unique_qualifier, a.clone());
        }
        while t.len() > PER_TENANT {
            t.pop_first();
        }
        Ok(read)
    }

    /// `a` in `format`, rendered once for every worker of this node.
    pub fn rendered(&self, a: &Activity, format: Format, catalog: &Catalog) -> Arc<Rendered> {
        let key = (a.tenant.clone(), format);
        if let Some(r) = self
            .rendered
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&key)
            .and_then(|m| m.get(&a.unique_qualifier))
        {
            return r.clone();
        }
        // Rendered outside the lock: two workers may both render one activity, never wait.
        let r = Arc::new(Rendered::of(a, format, catalog));
        let mut all = self.rendered.lock().unwrap_or_else(|e| e.into_inner());
        let m = all.entry(key).or_default();
        m.insert(a.unique_qualifier, r.clone());
        while m.len() > PER_TENANT {
            m.pop_first();
        }
        r
    }

    /// The cached run of consecutive sequence numbers after `after`, if it starts right there.
    fn cached(&self, tenant: &Tenant, after: i64, limit: usize) -> Option<Vec<Arc<Activity>>> {
        let tenants = self.tenants.lock().unwrap_or_else(|e| e.into_inner());
        let t = tenants.get(tenant)?;
        // The run of consecutive sequence numbers from after + 1.
        let out: Vec<Arc<Activity>> = (after + 1..)
            .zip(t.range(after + 1..))
            .take_while(|(want, (seq, _))| *seq == want)
            .take(limit)
            .map(|(_, (_, a))| a.clone())
            .collect();
        (!out.is_empty()).then_some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use authtrail_model::ManualClock;

    #[tokio::test]
    async fn workers_share_what_one_of_them_read() {
        let dir = tempfile::tempdir().unwrap();
        let s = authtrail_store_sqlite::SqliteStore::open(dir.path(), Arc::new(ManualClock::at(1)))
            .unwrap();
        let store: Arc<dyn Store> = Arc::new(s);
        let t = Tenant::new("acme").unwrap();
        let catalog = authtrail_catalog::Catalog::builtin().unwrap();
        let ctx = authtrail_model::validate::Context {
            catalog: &catalog,
            tenant: &t,
            now_us: 1_000_000,
        };
        let batch = (0..5)
            .map(|i| {
                let v = serde_json::json!({"eventId": format!("e{i}"), "id": {"applicationName": "login"},
                    "events": [{"name": "login_success"}]});
                authtrail_model::validate::validate_item(&ctx, 0, &v).unwrap()
            })
            .collect();
        store.append(&t, batch).await.unwrap();
        let cache = TailCache::default();
        let a = cache.tail(&store, &t, 0, 3, 5).await.unwrap();
        let seqs = |v: &[Arc<Activity>]| v.iter().map(|a| a.unique_qualifier).collect::<Vec<_>>();
        assert_eq!(seqs(&a), [1, 2, 3]);
        // The store is gone from under it, yet the cached range still answers.
        let hit = cache.cached(&t, 1, 2).unwrap();
        assert_eq!(seqs(&hit), [2, 3]);
        assert!(
            Arc::ptr_eq(&hit[0], &a[1]),
            "the same decoded activity, not a copy"
        );
        assert_eq!(
            seqs(&cache.tail(&store, &t, 2, 10, 5).await.unwrap()),
            [3, 4, 5]
        );
        assert_eq!(
            seqs(&cache.tail(&store, &t, 3, 10, 5).await.unwrap()),
            [4, 5]
        );
        assert!(cache.cached(&t, 5, 10).is_none());
    }
}
