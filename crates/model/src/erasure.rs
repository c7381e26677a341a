//! Per-subject erasure: which fields of an activity are personal, how an erased body looks, and
//! the compact list of uniqueQualifiers an erasure record names. One definition, used by both
//! engines (which rewrite the rows), the service (which writes the record) and the verifier
//! (which accepts an erased row only when a verified record covers it). docs/integrity.md has the
//! design and its threat model.

use crate::ActivityBody;
use crate::activity::I64Str;

/// The fields an erasure removes, as they are named on the wire. The actor's e-mail and Google
/// profile id identify the person; the IP address (and the network facts derived from it)
/// locates them. The event parameters, user agent, session and the actor's `key` (an API
/// key or client id, not a person) are kept: they are what the trail is kept for, and an event
/// whose parameters name a person must be purged by retention instead.
pub const ERASED_FIELDS: [&str; 4] = ["actor.email", "actor.profileId", "ipAddress", "networkInfo"];

/// Removes the personal fields of `body` and marks it erased by the record `by`.
pub fn erase_personal(body: &mut ActivityBody, by: i64) {
    body.actor.email = None;
    body.actor.profile_id = None;
    body.ip_address = None;
    body.network_info = None;
    body.erased_by = Some(I64Str(by));
}

/// Longest [`encode_ranges`] text one record holds (an admin event's string parameter takes
/// 4096 bytes).
pub const MAX_RANGES_BYTES: usize = 4000;

/// `[3, 4, 5, 9]` → `"3-5,9"` (ascending, no duplicates expected; they are merged anyway).
pub fn encode_ranges(sorted: &[i64]) -> String {
    let mut out = String::new();
    let mut i = 0;
    while i < sorted.len() {
        let start = sorted[i];
        let mut end = start;
        while i + 1 < sorted.len() && sorted[i + 1] <= end + 1 {
            i += 1;
            end = end.max(sorted[i]);
        }
        if !out.is_empty() {
            out.push(',');
        }
        if end == start {
            out.push_str(&start.to_string());
        } else {
            out.push_str(&format!("{start}-{end}"));
        }
        i += 1;
    }
    out
}

/// The inclusive ranges of a [`encode_ranges`] text, or why it is not one.
pub fn decode_ranges(s: &str) -> Result<Vec<(i64, i64)>, String> {
    if s.is_empty() {
        return Ok(Vec::new());
    }
    s.split(',')
        .map(|part| {
            let (a, b) = part.split_once('-').unwrap_or((part, part));
            let parse = |x: &str| x.parse::<i64>().ok().filter(|n| *n > 0);
            match (parse(a), parse(b)) {
                (Some(a), Some(b)) if a <= b => Ok((a, b)),
                _ => Err(format!(
                    "{part:?} is not a uniqueQualifier or a range of them"
                )),
            }
        })
        .collect()
}

/// Splits ascending uniqueQualifiers into chunks whose [`encode_ranges`] text fits
/// [`MAX_RANGES_BYTES`]: one erasure record per chunk.
pub fn chunks(sorted: &[i64]) -> Vec<&[i64]> {
    let mut out = Vec::new();
    let (mut start, mut len) = (0, 0usize);
    for i in 0..sorted.len() {
        // A worst-case estimate: every qualifier its own entry.
        let add = sorted[i].to_string().len() + 1;
        if len + add > MAX_RANGES_BYTES && i > start {
            out.push(&sorted[start..i]);
            (start, len) = (i, 0);
        }
        len += add;
    }
    if start < sorted.len() {
        out.push(&sorted[start..]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_round_trip_and_bad_text_is_named() {
        assert_eq!(encode_ranges(&[3, 4, 5, 9, 11, 12]), "3-5,9,11-12");
        assert_eq!(encode_ranges(&[]), "");
        assert_eq!(
            decode_ranges("3-5,9,11-12").unwrap(),
            [(3, 5), (9, 9), (11, 12)]
        );
        assert!(decode_ranges("5-3").unwrap_err().contains("\"5-3\""));
        assert!(decode_ranges("0").is_err());
        assert!(decode_ranges("x").is_err());
    }

    #[test]
    fn chunks_fit_one_record_each_and_keep_every_qualifier() {
        let all: Vec<i64> = (1..5000).map(|i| i * 2).collect();
        let parts = chunks(&all);
        assert!(parts.len() > 1);
        assert!(
            parts
                .iter()
                .all(|p| encode_ranges(p).len() <= MAX_RANGES_BYTES)
        );
        assert_eq!(parts.concat(), all);
    }

    #[test]
    fn erasing_removes_the_personal_fields_only() {
        let mut b: ActivityBody = serde_json::from_value(serde_json::json!({
            "actor": {"email": "a@x.io", "profileId": "p", "callerType": "USER"},
            "ipAddress": "192.0.2.1", "networkInfo": {"regionCode": "TW"},
            "userAgent": "ua", "events": [{"type": "login", "name": "login_success"}],
            "result": "success"}))
        .unwrap();
        erase_personal(&mut b, 9);
        let v = serde_json::to_value(&b).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"actor": {"callerType": "USER"}, "userAgent": "ua",
                "events": [{"type": "login", "name": "login_success"}], "result": "success",
                "erasedBy": "9"})
        );
    }
}
