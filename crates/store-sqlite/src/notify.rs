//! Commit wake-ups: the [`CommitNotifier`] capability. The writer publishes each tenant's new last
//! sequence number to the store's [`CommitHub`](authtrail_model::store::CommitHub) once the
//! group's transaction is committed and fsynced (see `activities::writer`).

use authtrail_model::Tenant;
use authtrail_model::store::CommitWatch;
use authtrail_model::store::prelude::*;

use crate::SqliteStore;

impl CommitNotifier for SqliteStore {
    fn subscribe(&self, tenant: &Tenant) -> CommitWatch {
        self.commits.subscribe(tenant)
    }

    fn subscribe_all(&self) -> CommitWatch {
        self.commits.subscribe_all()
    }
}
