//! Times on the wire. authtrail keeps every time as microseconds since the Unix epoch (UTC).
//!
//! Parsing accepts RFC 3339 with any fraction length and any offset, as Google's discovery
//! document does. Formatting is explicit rather than `time`'s stock RFC 3339 formatter, which
//! drops trailing zeros and so would make the width of a timestamp depend on its value.

use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{OffsetDateTime, UtcOffset};

/// How many fraction digits a formatted time carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precision {
    /// `2013-09-10T18:23:35.808Z`, as Google sends `id.time`.
    Millis,
    /// `2013-09-10T18:23:35.808123Z`, authtrail's native precision.
    Micros,
}

/// Parses an RFC 3339 time into microseconds since the epoch.
pub fn parse_rfc3339(s: &str) -> Result<i64, String> {
    if s.len() > 64 {
        return Err("is too long to be an RFC 3339 time".into());
    }
    let t = OffsetDateTime::parse(s, &Rfc3339)
        .map_err(|_| format!("{s:?} is not an RFC 3339 time (e.g. 2026-11-23T08:40:58.644Z)"))?;
    let us = t.unix_timestamp_nanos() / 1_000;
    i64::try_from(us).map_err(|_| format!("{s:?} is out of range"))
}

/// Formats microseconds since the epoch as RFC 3339 in UTC with a fixed number of digits.
pub fn format_rfc3339(us: i64, precision: Precision) -> String {
    let t = OffsetDateTime::from_unix_timestamp_nanos(i128::from(us) * 1_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
        .to_offset(UtcOffset::UTC);
    let formatted = match precision {
        Precision::Millis => t.format(format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
        )),
        Precision::Micros => t.format(format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z"
        )),
    };
    formatted.unwrap_or_else(|_| "1970-01-01T00:00:00.000Z".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_any_fraction_and_offset() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:01Z").unwrap(), 1_000_000);
        assert_eq!(parse_rfc3339("1970-01-01T00:00:01.5Z").unwrap(), 1_500_000);
        assert_eq!(
            parse_rfc3339("1970-01-01T05:30:01.000001+05:30").unwrap(),
            1_000_001
        );
        assert!(parse_rfc3339("2026-01-01").is_err());
        assert!(parse_rfc3339("2026-01-01T00:00:00Zjunk").is_err());
    }

    #[test]
    fn formats_with_fixed_width() {
        assert_eq!(
            format_rfc3339(1_500_000, Precision::Millis),
            "1970-01-01T00:00:01.500Z"
        );
        assert_eq!(
            format_rfc3339(1_500_000, Precision::Micros),
            "1970-01-01T00:00:01.500000Z"
        );
        let us = parse_rfc3339("2026-11-23T08:40:58.644123Z").unwrap();
        assert_eq!(
            format_rfc3339(us, Precision::Micros),
            "2026-11-23T08:40:58.644123Z"
        );
    }
}
