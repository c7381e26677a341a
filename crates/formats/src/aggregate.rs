//! The JSON of an aggregation (`GET /v1/activities:aggregate`): bucket starts as RFC 3339 times
//! in the request's zone (`2026-01-01T00:00:00+08:00`), so a day bucket reads as the local
//! midnight it is.

use authtrail_model::aggregate::Aggregation;
use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde_json::{Map, Value, json};

/// `us` as RFC 3339 with the offset `tz` has at that instant.
pub fn rfc3339_in(us: i64, tz: &TimeZone) -> String {
    match Timestamp::from_microsecond(us) {
        Ok(t) => t.display_with_offset(tz.to_offset(t)).to_string(),
        // Outside jiff's years (±9999): the aggregation never builds such buckets.
        Err(_) => us.to_string(),
    }
}

/// `{"buckets": [{"start", "total", "counts", "other"?}], "total", "complete", "countedFrom"?,
/// "timeZone"}`. `other` appears only when groups were left out of `counts`.
pub fn to_json(a: &Aggregation, tz: &TimeZone, tz_name: &str) -> Value {
    let buckets: Vec<Value> = a
        .buckets
        .iter()
        .map(|b| {
            let mut o = Map::new();
            o.insert("start".into(), json!(rfc3339_in(b.start_us, tz)));
            o.insert("total".into(), json!(b.total));
            o.insert("counts".into(), json!(b.counts));
            if b.other > 0 {
                o.insert("other".into(), json!(b.other));
            }
            Value::Object(o)
        })
        .collect();
    let mut out = json!({
        "buckets": buckets,
        "total": a.total,
        "complete": a.complete,
        "timeZone": tz_name,
    });
    if let Some(from) = a.counted_from_us {
        out["countedFrom"] = json!(rfc3339_in(from, tz));
    }
    out
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use authtrail_model::aggregate::BucketCounts;

    use super::*;

    #[test]
    fn buckets_read_in_the_zone() {
        let tz = TimeZone::get("Asia/Taipei").unwrap();
        let a = Aggregation {
            buckets: vec![BucketCounts {
                start_us: 1_767_196_800_000_000, // 2025-12-31T16:00:00Z
                total: 3,
                counts: BTreeMap::from([("success".to_string(), 2), ("failure".to_string(), 1)]),
                other: 0,
            }],
            total: 3,
            complete: true,
            counted_from_us: None,
        };
        assert_eq!(
            to_json(&a, &tz, "Asia/Taipei"),
            json!({"buckets": [{"start": "2026-01-01T00:00:00+08:00", "total": 3,
                "counts": {"failure": 1, "success": 2}}],
                "total": 3, "complete": true, "timeZone": "Asia/Taipei"})
        );
    }
}
