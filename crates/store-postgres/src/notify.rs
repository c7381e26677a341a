//! Commit wake-ups: the [`CommitNotifier`] capability.

use authtrail_model::Tenant;
use authtrail_model::store::CommitWatch;
use authtrail_model::store::prelude::*;

use crate::PgStore;

impl CommitNotifier for PgStore {
    fn subscribe(&self, tenant: &Tenant) -> CommitWatch {
        self.commits.subscribe(tenant)
    }
}
