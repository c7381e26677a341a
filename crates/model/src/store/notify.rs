//! The commit notifier: wake up when a tenant's activities commit, instead of polling.
//!
//! Live tails, push delivery and checkpoints subscribe to a tenant and, when woken, read what is
//! new with [`ActivityLog::tail`](super::ActivityLog::tail) from the last uniqueQualifier they
//! handled. A wake-up carries the highest committed sequence number this node has heard of; it
//! is a hint to read, never the data itself, so a missed or merged wake-up loses nothing.
//!
//! Engines share [`CommitHub`], the per-tenant registry of watch channels; they differ only in how
//! they learn of commits (SQLite: its writer, after the group's commit; PostgreSQL: its own
//! commits and every other node's, through LISTEN/NOTIFY).

use std::collections::HashMap;
use std::sync::Mutex;

use tokio::sync::watch;

use crate::activity::Tenant;

pub trait CommitNotifier: Send + Sync + 'static {
    /// Watches `tenant`'s committed sequence number.
    fn subscribe(&self, tenant: &Tenant) -> CommitWatch;

    /// Watches every tenant at once: the value counts the commits this node has heard of, of
    /// any tenant. A job that serves every tenant (checkpoint signing) wakes on it, then finds
    /// out which tenants have news, including ones it never saw before.
    fn subscribe_all(&self) -> CommitWatch;
}

/// A subscription to one tenant's committed sequence number.
#[derive(Debug, Clone)]
pub struct CommitWatch {
    rx: watch::Receiver<i64>,
}

impl CommitWatch {
    /// The highest committed sequence number this node has heard of (0 before it heard of any:
    /// read with `tail` to know what is stored).
    pub fn seq(&self) -> i64 {
        *self.rx.borrow()
    }

    /// True when a higher sequence number than the last one seen has been committed since (the
    /// next [`changed`](Self::changed) returns at once), or the store is gone.
    pub fn has_changed(&self) -> bool {
        self.rx.has_changed().unwrap_or(true)
    }

    /// Waits until a higher sequence number than the last one seen is committed, and returns it.
    /// Several commits in between are reported once, with the highest. `None` once the store is
    /// gone.
    pub async fn changed(&mut self) -> Option<i64> {
        self.rx.changed().await.ok()?;
        Some(*self.rx.borrow_and_update())
    }
}

/// The per-tenant watch channels of one store. Publishing never blocks and never goes backwards.
#[derive(Debug)]
pub struct CommitHub {
    tenants: Mutex<HashMap<Tenant, watch::Sender<i64>>>,
    /// How many pieces of news (a higher sequence number of any tenant) this hub has had.
    all: watch::Sender<i64>,
}

impl Default for CommitHub {
    fn default() -> Self {
        CommitHub {
            tenants: Mutex::default(),
            all: watch::channel(0).0,
        }
    }
}

impl CommitHub {
    pub fn subscribe(&self, tenant: &Tenant) -> CommitWatch {
        let mut tenants = self.tenants.lock().unwrap_or_else(|e| e.into_inner());
        let tx = tenants
            .entry(tenant.clone())
            .or_insert_with(|| watch::channel(0).0);
        CommitWatch { rx: tx.subscribe() }
    }

    /// Watches the count of news of every tenant (see [`CommitNotifier::subscribe_all`]).
    pub fn subscribe_all(&self) -> CommitWatch {
        CommitWatch {
            rx: self.all.subscribe(),
        }
    }

    /// Records that `tenant`'s activities up to `seq` are committed, waking its subscribers if
    /// that is news.
    pub fn publish(&self, tenant: &Tenant, seq: i64) {
        let mut tenants = self.tenants.lock().unwrap_or_else(|e| e.into_inner());
        let tx = tenants
            .entry(tenant.clone())
            .or_insert_with(|| watch::channel(0).0);
        let news = tx.send_if_modified(|v| {
            let news = seq > *v;
            if news {
                *v = seq;
            }
            news
        });
        if news {
            self.all.send_modify(|n| *n += 1);
        }
    }

    /// The tenants someone is watching: after a gap in its news (a lost connection) an engine
    /// reads their sequence numbers again.
    pub fn watched(&self) -> Vec<Tenant> {
        let tenants = self.tenants.lock().unwrap_or_else(|e| e.into_inner());
        tenants
            .iter()
            .filter(|(_, tx)| tx.receiver_count() > 0)
            .map(|(t, _)| t.clone())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn publishing_wakes_only_the_tenants_subscribers_and_never_goes_back() {
        let hub = CommitHub::default();
        let (a, b) = (Tenant::new("a").unwrap(), Tenant::new("b").unwrap());
        let (mut wa, wb) = (hub.subscribe(&a), hub.subscribe(&b));
        let mut all = hub.subscribe_all();
        hub.publish(&a, 3);
        hub.publish(&a, 2);
        assert_eq!(all.changed().await, Some(1), "old news is not news");
        hub.publish(&Tenant::new("c").unwrap(), 1);
        assert_eq!(
            all.changed().await,
            Some(2),
            "a tenant nobody watched wakes it too"
        );
        assert_eq!(wa.changed().await, Some(3));
        assert_eq!(wb.seq(), 0);
        assert!(!wb.has_changed());
        assert_eq!(hub.watched().len(), 2);
        drop(wb);
        assert_eq!(hub.watched(), vec![a.clone()]);
        hub.publish(&a, 5);
        assert_eq!(wa.changed().await, Some(5));
        drop(hub);
        assert_eq!(wa.changed().await, None);
    }
}
