//! The activity log: the [`ActivityLog`] capability. Appends and restores in [`write`] (concurrent
//! appends committed together by [`group`], rows in the form of [`rows`]), queries in [`read`],
//! monthly partitions in [`partitions`], retention in [`purge`], per-subject erasure in
//! [`erase`].

mod erase;
pub(crate) mod group;
pub(crate) mod partitions;
mod purge;
pub(crate) mod read;
mod rows;
mod write;

use authtrail_model::store::prelude::*;
use authtrail_model::{
    Activity, ActivityQuery, BoxFuture, Count, NewActivity, Page, Position, Receipt, Tenant,
};

use crate::PgStore;

impl ActivityLog for PgStore {
    fn append<'a>(
        &'a self,
        tenant: &'a Tenant,
        batch: Vec<NewActivity>,
    ) -> BoxFuture<'a, Result<Vec<Receipt>, StoreError>> {
        Box::pin(write::append(self, tenant, batch))
    }

    fn get<'a>(
        &'a self,
        tenant: &'a Tenant,
        unique_qualifier: i64,
    ) -> BoxFuture<'a, Result<Option<Activity>, StoreError>> {
        Box::pin(read::get(self, tenant, unique_qualifier))
    }

    fn list<'a>(
        &'a self,
        tenant: &'a Tenant,
        query: &'a ActivityQuery,
    ) -> BoxFuture<'a, Result<Page, StoreError>> {
        Box::pin(read::list(self, tenant, query))
    }

    fn count<'a>(
        &'a self,
        tenant: &'a Tenant,
        query: &'a ActivityQuery,
        cap: Option<u64>,
    ) -> BoxFuture<'a, Result<Count, StoreError>> {
        Box::pin(read::count(self, tenant, query, cap))
    }

    fn tail<'a>(
        &'a self,
        tenant: &'a Tenant,
        after: i64,
        limit: usize,
    ) -> BoxFuture<'a, Result<Vec<Activity>, StoreError>> {
        Box::pin(read::tail(self, tenant, after, limit))
    }

    fn restore<'a>(
        &'a self,
        tenant: &'a Tenant,
        items: Vec<Activity>,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(write::restore(self, tenant, items))
    }

    fn purge_before<'a>(&'a self, before_us: i64) -> BoxFuture<'a, Result<u64, StoreError>> {
        Box::pin(purge::purge_before(self, before_us))
    }

    fn tenants<'a>(&'a self) -> BoxFuture<'a, Result<Vec<Tenant>, StoreError>> {
        Box::pin(read::tenants(self))
    }

    fn last_sequence<'a>(&'a self, tenant: &'a Tenant) -> BoxFuture<'a, Result<i64, StoreError>> {
        Box::pin(read::last_sequence(self, tenant))
    }

    fn nth_position<'a>(
        &'a self,
        tenant: &'a Tenant,
        query: &'a ActivityQuery,
        n: u64,
    ) -> BoxFuture<'a, Result<Option<Position>, StoreError>> {
        Box::pin(read::nth_position(self, tenant, query, n))
    }
}
