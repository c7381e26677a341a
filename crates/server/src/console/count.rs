//! The audit log's count of matching events: the store's count capped at [`COUNT_CAP`], as the
//! API's, made where it is cheap and asked for where it is not.
//!
//! - Conditions an index serves (event, actor, IP address, session, result, application): the
//!   store counts index entries, up to the cap. Cheap, and made on every page — except for
//!   several event names (a tag, a category), where the store merges one index range per name
//!   (dozens for `tag:sign_in_attempt`) and de-duplicates them; those are counted from the
//!   per-minute counters (`Service::aggregate`, exact, as the charts are) when the conditions
//!   are all ones the counters keep (application, event names, result) and the range is closed.
//! - Conditions checked on rows (a parameter condition, a CIDR block): the store would decode
//!   rows until the cap or its scan budget (100,000 rows), several times the page's own work —
//!   most of a row-checked page's time (measured in docs/performance.md). The page says instead
//!   how many matches it found itself, "at least N", with a "Count all" link (`count=all`) that
//!   makes the capped count. When the page's walk reached the end of the range, what it found is
//!   every match, and the count is exact.

use authtrail_model::aggregate::{GroupBy, WALK_BUDGET};
use authtrail_model::{ActivityQuery, Tenant};
use authtrail_service::aggregate::{AggregateRequest, Bucket};
use authtrail_service::{Service, ServiceError};

use crate::error::ApiError;

/// The count of matching events stops here, as Logto's API caps its count (and ours with it).
pub const COUNT_CAP: u64 = crate::logto::list::LOGTO_CAP;

/// The URL parameter asking for the full (capped) count of a row-checked query, and its value.
pub const PARAM: &str = "count";
pub const ALL: &str = "all";

/// What the page says about how many events match.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counted {
    pub n: u64,
    /// The true number may be larger: the cap, the scan budget, or (with `so_far`) the page.
    pub capped: bool,
    /// `n` is what this page found; the full count is on request.
    pub so_far: bool,
}

/// What the page's own walk saw.
pub struct Seen {
    /// Rows the page shows.
    pub rows: usize,
    /// The page is the first one (no cursor), and its walk reached the end of the range.
    pub first_and_last: bool,
}

/// `count=all` asks for the full count; any other value is refused, naming the field.
pub fn wants_all(query: &[(String, String)]) -> Result<bool, ApiError> {
    match query.iter().find(|(k, _)| k == PARAM) {
        None => Ok(false),
        Some((_, v)) if v == ALL || v.is_empty() => Ok(v == ALL),
        Some(_) => Err(ApiError::field(PARAM, format!("must be {ALL:?} or absent"))),
    }
}

/// The count for the page (see the module doc for which one).
pub async fn count(
    service: &Service,
    tenant: &Tenant,
    q: &ActivityQuery,
    seen: &Seen,
    all: bool,
) -> Result<Counted, ServiceError> {
    if q.checks_rows() && !all {
        return Ok(if seen.first_and_last {
            Counted {
                n: seen.rows as u64,
                capped: false,
                so_far: false,
            }
        } else {
            Counted {
                n: seen.rows as u64,
                capped: true,
                so_far: true,
            }
        });
    }
    if let Some(n) = from_counters(service, tenant, q).await? {
        return Ok(Counted {
            n: n.min(COUNT_CAP),
            capped: n > COUNT_CAP,
            so_far: false,
        });
    }
    let c = service.count(tenant, q, Some(COUNT_CAP)).await?;
    Ok(Counted {
        n: c.n,
        capped: c.capped,
        so_far: false,
    })
}

/// Does the count of `q` come from the counters (see the module doc)?
fn counters_serve(q: &ActivityQuery) -> bool {
    q.event_names.len() > 1
        && !q.checks_rows()
        && q.actor.is_none()
        && q.ip.is_none()
        && q.session_id.is_none()
        && q.start_us.is_some()
        && q.end_us.is_some()
}

/// The exact number of activities `q` matches, from the counters; `None` when they cannot say
/// (conditions they do not keep, or rows to count one by one beyond the walk budget).
async fn from_counters(
    service: &Service,
    tenant: &Tenant,
    q: &ActivityQuery,
) -> Result<Option<u64>, ServiceError> {
    let (Some(start_us), Some(end_us)) = (q.start_us, q.end_us) else {
        return Ok(None);
    };
    if !counters_serve(q) || start_us >= end_us {
        return Ok(None);
    }
    // One bucket: the counters are summed per hour (the fewest cells any bucket allows),
    // whatever the range's length.
    let req = AggregateRequest {
        filter: q.clone(),
        start_us,
        end_us,
        bucket: Bucket::Whole,
        group_by: GroupBy::Result,
        tz: jiff::tz::TimeZone::UTC,
        walk_budget: WALK_BUDGET,
    };
    let a = match service.aggregate(tenant, &req).await {
        Ok(a) => a,
        // A range the buckets refuse (too long, outside the supported years): the store
        // counts instead, and says what is wrong with the query if anything is.
        Err(e) if !e.details().is_empty() => return Ok(None),
        Err(e) => return Err(e),
    };
    Ok(a.complete.then_some(a.total))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn count_all_is_the_only_value() {
        assert!(!wants_all(&q(&[("event", "x")])).unwrap());
        assert!(wants_all(&q(&[("count", "all")])).unwrap());
        assert!(!wants_all(&q(&[("count", "")])).unwrap());
        let e = wants_all(&q(&[("count", "some")])).unwrap_err();
        assert_eq!(e.details()[0].field, "count");
    }
}
