//! The recent activities of each tenant, read from the store once for all the alert rules of
//! this node. Every rule looks at every new activity; reading them once per rule would cost the
//! store (and the ingest sharing its connection) a read and a decode per rule and activity.
//! The first rule woken by a commit reads; the others, waiting on the tenant's lock, find the
//! activities here.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use authtrail_model::store::prelude::*;
use authtrail_model::{Activity, Tenant};

/// Most activities kept per tenant (rules further behind read the store themselves).
const KEEP: usize = 20_000;

#[derive(Default)]
struct Recent {
    /// Every activity after `after` up to the last one read, in sequence order.
    after: i64,
    activities: Vec<Arc<Activity>>,
}

impl Recent {
    fn through(&self) -> i64 {
        self.activities
            .last()
            .map_or(self.after, |a| a.unique_qualifier)
    }
}

#[derive(Default)]
pub struct TailCache {
    tenants: Mutex<HashMap<Tenant, Arc<tokio::sync::Mutex<Recent>>>>,
}

impl std::fmt::Debug for TailCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TailCache")
    }
}

impl TailCache {
    /// Activities after `after`, in sequence order, at most `limit`: from what is kept when it
    /// covers them, else from the store (and then kept).
    pub async fn tail(
        &self,
        store: &Arc<dyn Store>,
        tenant: &Tenant,
        after: i64,
        limit: usize,
    ) -> Result<Vec<Arc<Activity>>, StoreError> {
        let slot = self
            .tenants
            .lock()
            .expect("the cache's map is never poisoned")
            .entry(tenant.clone())
            .or_default()
            .clone();
        let mut recent = slot.lock().await;
        if after >= recent.after && after < recent.through() {
            let start = recent
                .activities
                .partition_point(|a| a.unique_qualifier <= after);
            return Ok(recent.activities[start..]
                .iter()
                .take(limit)
                .cloned()
                .collect());
        }
        let read: Vec<Arc<Activity>> = store
            .tail(tenant, after, limit)
            .await?
            .into_iter()
            .map(Arc::new)
            .collect();
        if after == recent.through() {
            recent.activities.extend(read.iter().cloned());
        } else if after > recent.through() || after < recent.after {
            // Not next to what is kept: keep this read instead (the newest read wins, since
            // most rules are near the head).
            if after > recent.through() || recent.activities.is_empty() {
                *recent = Recent {
                    after,
                    activities: read.clone(),
                };
            }
        }
        if recent.activities.len() > KEEP {
            let cut = recent.activities.len() - KEEP;
            recent.after = recent.activities[cut - 1].unique_qualifier;
            recent.activities.drain(..cut);
        }
        Ok(read)
    }
}
