//! Counts per time bucket and group (`GET /v1/activities:aggregate`, the console's charts).
//! Buckets are cut in an IANA time zone (jiff's bundled tz database, so every node cuts alike):
//! a day bucket starts at local midnight, an hour bucket at the local full hour, whatever the
//! zone's offset. The counting itself is `authtrail_model::aggregate`.

use authtrail_model::aggregate::{AggregateQuery, Aggregation, GroupBy, aggregate};
use authtrail_model::{ActivityQuery, Tenant};
use jiff::tz::TimeZone;
use jiff::{Timestamp, Zoned};

use crate::Service;
use crate::error::ServiceError;

/// Most buckets one answer holds (a day of minutes, two months of hours, four years of days).
pub const MAX_BUCKETS: usize = 1500;
/// Longest IANA zone name accepted (the longest in the database has 32 characters).
pub const MAX_ZONE_NAME: usize = 64;

/// The width of a bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bucket {
    Minute,
    Hour,
    Day,
    /// One bucket, the whole range: for totals and top lists, which need no time axis (and so
    /// are served by the engines' widest counters whatever the viewer's zone). Not offered by
    /// the API, whose `bucket` is one of the three above.
    Whole,
}

impl Bucket {
    pub fn parse(s: &str) -> Option<Bucket> {
        match s {
            "minute" => Some(Bucket::Minute),
            "hour" => Some(Bucket::Hour),
            "day" => Some(Bucket::Day),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Bucket::Minute => "minute",
            Bucket::Hour => "hour",
            Bucket::Day => "day",
            Bucket::Whole => "whole",
        }
    }
}

/// One aggregation request, already typed.
#[derive(Debug, Clone)]
pub struct AggregateRequest {
    /// The list's conditions (time bounds, `after` and `limit` ignored).
    pub filter: ActivityQuery,
    pub start_us: i64,
    pub end_us: i64,
    pub bucket: Bucket,
    pub group_by: GroupBy,
    pub tz: TimeZone,
    /// Most rows counted one by one (`authtrail_model::aggregate::WALK_BUDGET` for the API).
    pub walk_budget: usize,
}

/// Looks up an IANA zone name (`Asia/Taipei`, `UTC`), naming `field` when it is not one.
pub fn time_zone(name: &str, field: &str) -> Result<TimeZone, ServiceError> {
    if name.is_empty() || name.len() > MAX_ZONE_NAME {
        return Err(ServiceError::field(
            field,
            format!("must be an IANA time zone name of 1 to {MAX_ZONE_NAME} characters"),
        ));
    }
    TimeZone::get(name).map_err(|_| {
        ServiceError::field(
            field,
            format!("{name:?} is not an IANA time zone (such as Asia/Taipei or UTC)"),
        )
    })
}

fn zoned(us: i64, tz: &TimeZone) -> Result<Zoned, ServiceError> {
    Timestamp::from_microsecond(us)
        .map(|t| t.to_zoned(tz.clone()))
        .map_err(|_| ServiceError::field("startTime", "is outside the supported years"))
}

/// The start of the bucket holding `us`, and of the one after it.
fn bucket_of(us: i64, bucket: Bucket, tz: &TimeZone) -> Result<(i64, i64), ServiceError> {
    let z = zoned(us, tz)?;
    let out = |r: Result<Zoned, jiff::Error>| {
        r.map(|z| z.timestamp().as_microsecond()).map_err(|_| {
            ServiceError::field("bucket", "a bucket falls outside the supported years")
        })
    };
    match bucket {
        // One bucket from the range's start (`bucket_starts` asks for no other).
        Bucket::Whole => Ok((us, i64::MAX)),
        Bucket::Day => {
            let start = out(z.start_of_day())?;
            let next = out(z.tomorrow().and_then(|t| t.start_of_day()))?;
            Ok((start, next))
        }
        Bucket::Hour | Bucket::Minute => {
            let w = if bucket == Bucket::Hour {
                3_600_000_000
            } else {
                60_000_000
            };
            // Floored in local time, so that an hour in Asia/Kolkata starts at :30 UTC.
            let offset_us = i64::from(z.offset().seconds()) * 1_000_000;
            let local = us + offset_us;
            let start = local - local.rem_euclid(w) - offset_us;
            Ok((start, start + w))
        }
    }
}

/// The starts of the buckets covering `[start_us, end_us)`; the first may begin before
/// `start_us`. Refused past [`MAX_BUCKETS`].
pub fn bucket_starts(
    start_us: i64,
    end_us: i64,
    bucket: Bucket,
    tz: &TimeZone,
) -> Result<Vec<i64>, ServiceError> {
    let mut starts = Vec::new();
    let (mut at, mut next) = bucket_of(start_us, bucket, tz)?;
    loop {
        starts.push(at);
        if next >= end_us {
            return Ok(starts);
        }
        if starts.len() == MAX_BUCKETS {
            return Err(ServiceError::field(
                "bucket",
                format!(
                    "the range holds more than {MAX_BUCKETS} {} buckets: use a wider bucket or a \
                     shorter range",
                    bucket.as_str()
                ),
            ));
        }
        (at, next) = bucket_of(next, bucket, tz)?;
    }
}

impl Service {
    /// Exact counts of the matching activities per bucket and group (see
    /// `authtrail_model::aggregate` for what is counted and when the answer is capped).
    pub async fn aggregate(
        &self,
        tenant: &Tenant,
        req: &AggregateRequest,
    ) -> Result<Aggregation, ServiceError> {
        if req.start_us >= req.end_us {
            return Err(ServiceError::field("startTime", "must be before endTime"));
        }
        let starts = bucket_starts(req.start_us, req.end_us, req.bucket, &req.tz)?;
        let q = AggregateQuery {
            filter: req.filter.clone(),
            start_us: req.start_us,
            end_us: req.end_us,
            starts,
            group_by: req.group_by,
            walk_budget: req.walk_budget,
        };
        Ok(aggregate(&**self.store(), tenant, self.catalog(), &q).await?)
    }

    /// Packs the store's per-day counters of the days that ended at least [`PACK_AFTER_US`]
    /// ago and changed since (`TermCounts::pack_days`): the top lists over long ranges then read
    /// one record per day. Returns the number of days packed. The `term-day-packs` job runs it.
    pub async fn pack_term_days(&self) -> Result<u64, ServiceError> {
        let before = self.now_us() - PACK_AFTER_US;
        Ok(self.store().pack_days(before).await?)
    }
}

/// How long after its end a day is packed: late events of the hour after midnight would unpack
/// it again at once.
pub const PACK_AFTER_US: i64 = 3_600_000_000;

#[cfg(test)]
mod tests {
    use super::*;

    const H: i64 = 3_600_000_000;

    fn us(s: &str) -> i64 {
        s.parse::<Timestamp>().unwrap().as_microsecond()
    }

    #[test]
    fn days_start_at_local_midnight_and_follow_daylight_saving() {
        let ny = time_zone("America/New_York", "tz").unwrap();
        // 2026-03-08 is 23 hours long in New York.
        let s = bucket_starts(
            us("2026-03-07T12:00:00Z"),
            us("2026-03-10T00:00:00Z"),
            Bucket::Day,
            &ny,
        )
        .unwrap();
        assert_eq!(
            s,
            vec![
                us("2026-03-07T05:00:00Z"),
                us("2026-03-08T05:00:00Z"),
                us("2026-03-09T04:00:00Z"),
            ]
        );
        assert_eq!(s[2] - s[1], 23 * H);
    }

    /// One bucket from the range's start, whatever its length or the zone: a range of five
    /// years, past the cap on day buckets, is one bucket too.
    #[test]
    fn a_whole_range_is_one_bucket() {
        let taipei = time_zone("Asia/Taipei", "tz").unwrap();
        let (s, e) = (us("2021-03-07T12:34:56Z"), us("2026-03-10T00:00:00Z"));
        assert_eq!(
            bucket_starts(s, e, Bucket::Whole, &taipei).unwrap(),
            vec![s]
        );
        assert!(bucket_starts(s, e, Bucket::Day, &taipei).is_err());
    }

    #[test]
    fn hours_follow_the_zones_offset() {
        let kolkata = time_zone("Asia/Kolkata", "tz").unwrap();
        let s = bucket_starts(
            us("2026-01-01T00:10:00Z"),
            us("2026-01-01T02:00:00Z"),
            Bucket::Hour,
            &kolkata,
        )
        .unwrap();
        assert_eq!(
            s,
            vec![
                us("2025-12-31T23:30:00Z"),
                us("2026-01-01T00:30:00Z"),
                us("2026-01-01T01:30:00Z"),
            ]
        );
    }

    #[test]
    fn bad_zones_and_too_many_buckets_name_their_field() {
        let e = time_zone("Mars/Olympus", "tz").unwrap_err();
        assert_eq!(e.details()[0].field, "tz");
        let e = time_zone(&"x".repeat(65), "tz").unwrap_err();
        assert_eq!(e.details()[0].field, "tz");
        let utc = time_zone("UTC", "tz").unwrap();
        let e = bucket_starts(0, 2 * 86_400_000_000, Bucket::Minute, &utc).unwrap_err();
        assert_eq!(e.details()[0].field, "bucket");
        assert_eq!(
            bucket_starts(0, 86_400_000_000, Bucket::Minute, &utc)
                .unwrap()
                .len(),
            1440
        );
    }
}
