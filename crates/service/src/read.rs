//! Reading a tenant's trail: pages, single activities, capped counts, and offset seeking. Every
//! read takes the tenant as its own argument, as the store does.

use authtrail_model::{Activity, ActivityQuery, Count, Position, Tenant};

use crate::Service;
use crate::error::ServiceError;

/// One page of a query, newest first.
#[derive(Debug, Clone)]
pub struct Listed {
    pub items: Vec<Activity>,
    /// Where the page ended, when more may follow (a page cut short by the scan budget may be
    /// short, even empty, and still have a next position).
    pub next: Option<Position>,
    /// The signed cursor a client sends back for the next page (the query's window end frozen).
    pub next_cursor: Option<String>,
}

/// Where an OFFSET-style page starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seek {
    /// At the newest match (offset 0).
    Start,
    /// Strictly after this position.
    After(Position),
    /// Beyond the last match: the page is empty.
    PastEnd,
    /// The offset is deeper than row-checked queries may skip; page with a cursor instead.
    TooDeep,
}

impl Service {
    /// One page of `q`, newest first, with the cursor of the next page.
    pub async fn list(&self, tenant: &Tenant, q: &ActivityQuery) -> Result<Listed, ServiceError> {
        let page = self.store().list(tenant, q).await?;
        let next_cursor = page.next.map(|after| self.cursor(tenant, q, after));
        Ok(Listed {
            items: page.items,
            next: page.next,
            next_cursor,
        })
    }

    /// One activity by its uniqueQualifier; another tenant's is `NotFound` like a missing one.
    pub async fn get(
        &self,
        tenant: &Tenant,
        unique_qualifier: i64,
    ) -> Result<Activity, ServiceError> {
        self.store()
            .get(tenant, unique_qualifier)
            .await?
            .ok_or_else(|| {
                ServiceError::NotFound(format!("no activity {unique_qualifier} in this tenant"))
            })
    }

    /// How many activities match `q` (its page position ignored), stopping at `cap`.
    pub async fn count(
        &self,
        tenant: &Tenant,
        q: &ActivityQuery,
        cap: Option<u64>,
    ) -> Result<Count, ServiceError> {
        Ok(self.store().count(tenant, q, cap).await?)
    }

    /// Where the page starting `offset` matches deep begins. Without row checks it is an
    /// index-only walk; with them (conditions no index serves) it reads at most `max_checked`
    /// matches within the store's scan budget, and deeper is [`Seek::TooDeep`].
    pub async fn seek(
        &self,
        tenant: &Tenant,
        q: &ActivityQuery,
        offset: u64,
        max_checked: u64,
    ) -> Result<Seek, ServiceError> {
        if offset == 0 {
            return Ok(Seek::Start);
        }
        if !q.checks_rows() {
            return Ok(match self.store().nth_position(tenant, q, offset).await? {
                Some(p) => Seek::After(p),
                None => Seek::PastEnd,
            });
        }
        if offset > max_checked {
            return Ok(Seek::TooDeep);
        }
        // One list round of `offset` rows: it reads at most the store's scan budget, like any
        // filtered page. Coming back short with more to read means the budget ran out first.
        let q = ActivityQuery {
            limit: offset as usize,
            ..q.clone()
        };
        let page = self.store().list(tenant, &q).await?;
        let last = page.items.last().map(|a| Position {
            time_us: a.time_us,
            seq: a.unique_qualifier,
        });
        Ok(match (page.items.len() as u64 == offset, page.next, last) {
            (true, _, Some(p)) => Seek::After(p),
            (true, _, None) | (false, None, _) => Seek::PastEnd,
            (false, Some(_), _) => Seek::TooDeep,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{fixture, tenant};

    #[tokio::test]
    async fn a_missing_activity_is_not_found() {
        let f = fixture().await;
        let e = f.service.get(&tenant("Ca"), 42).await.unwrap_err();
        assert!(matches!(e, ServiceError::NotFound(_)), "{e:?}");
        let q = ActivityQuery {
            limit: 10,
            ..ActivityQuery::default()
        };
        assert_eq!(
            f.service.seek(&tenant("Ca"), &q, 0, 10).await.unwrap(),
            Seek::Start
        );
        assert_eq!(
            f.service.seek(&tenant("Ca"), &q, 5, 10).await.unwrap(),
            Seek::PastEnd
        );
    }
}
