//! Times for people to read: the console's table cells, detail fields and chart axes, and the
//! `datetime-local` values its forms send back.
//!
//! Every function takes microseconds since the epoch (authtrail's one representation of time) and
//! formats with `time`'s format descriptions, never by cutting an RFC 3339 string apart. The
//! offset is explicit: the console passes the offset of the viewer's zone (`tz=` in its URLs,
//! [`offset_in`]) at each instant. The language chooses the date's shape: ISO
//! order with `-` in English, `/` in Traditional Chinese (as Taiwan writes dates, and as browsers
//! render `zh-TW`).

use authtrail_catalog::Lang;
use time::format_description::BorrowedFormatItem;
use time::macros::format_description;
use time::{OffsetDateTime, PrimitiveDateTime, UtcOffset};

/// Longest `datetime-local` value read (`YYYY-MM-DDTHH:MM:SS.ffffff` is 26 bytes).
const MAX_LOCAL_LEN: usize = 32;

fn at(us: i64, offset: UtcOffset) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(us) * 1_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
        .to_offset(offset)
}

fn render(t: OffsetDateTime, f: &[BorrowedFormatItem<'_>]) -> String {
    // Only years outside 0..=9999 fail to format; validation never stores those.
    t.format(f).unwrap_or_else(|_| "?".into())
}

/// How the offset is named after a time: `UTC`, or `UTC+08:00`.
pub fn zone(offset: UtcOffset) -> String {
    if offset.is_utc() {
        return "UTC".into();
    }
    let f = format_description!("UTC[offset_hour sign:mandatory]:[offset_minute]");
    OffsetDateTime::UNIX_EPOCH
        .to_offset(offset)
        .format(f)
        .unwrap_or_else(|_| "?".into())
}

/// A date and time to the second with its zone: `2026-11-23 16:57:20 UTC` (English),
/// `2026/11/23 16:57:20 UTC` (zh-TW).
pub fn datetime(us: i64, offset: UtcOffset, lang: Lang) -> String {
    let t = at(us, offset);
    let s = match lang {
        Lang::En => render(
            t,
            format_description!("[year]-[month]-[day] [hour]:[minute]:[second]"),
        ),
        Lang::ZhTw => render(
            t,
            format_description!("[year]/[month]/[day] [hour]:[minute]:[second]"),
        ),
    };
    format!("{s} {}", zone(offset))
}

/// The hour a time falls in, for a chart axis: `11-23 16:00` (English), `11/23 16:00` (zh-TW).
/// The zone is left to the caller, which names it once per axis.
pub fn hour(us: i64, offset: UtcOffset, lang: Lang) -> String {
    let t = at(us, offset);
    match lang {
        Lang::En => render(t, format_description!("[month]-[day] [hour]:00")),
        Lang::ZhTw => render(t, format_description!("[month]/[day] [hour]:00")),
    }
}

/// Reads a `datetime-local` value (`YYYY-MM-DDTHH:MM`, optionally `:SS` and a fraction) as a time
/// at `offset`, in microseconds since the epoch.
pub fn parse_datetime_local(v: &str, offset: UtcOffset) -> Result<i64, String> {
    if v.len() > MAX_LOCAL_LEN {
        return Err(format!("is longer than {MAX_LOCAL_LEN} bytes"));
    }
    let f = format_description!(
        "[year]-[month]-[day]T[hour]:[minute][optional [:[second][optional [.[subsecond]]]]]"
    );
    let t = PrimitiveDateTime::parse(v, f)
        .map_err(|_| format!("{v:?} is not a date and time (YYYY-MM-DDTHH:MM)"))?
        .assume_offset(offset);
    i64::try_from(t.unix_timestamp_nanos() / 1_000).map_err(|_| format!("{v:?} is out of range"))
}

/// The offset an IANA zone has at `us` (the console's viewer zone, `tz=` in its URLs).
pub fn offset_in(tz: &jiff::tz::TimeZone, us: i64) -> UtcOffset {
    let secs = jiff::Timestamp::from_microsecond(us)
        .map(|t| tz.to_offset(t).seconds())
        .unwrap_or(0);
    UtcOffset::from_whole_seconds(secs).unwrap_or(UtcOffset::UTC)
}

/// Reads a `datetime-local` value as a wall-clock time in `tz`. A time that a daylight-saving
/// change skips or repeats is resolved as jiff's "compatible" rule does (as RFC 5545 and
/// JavaScript's Temporal do): after a gap, the earlier of a fold.
pub fn parse_datetime_local_in(v: &str, tz: &jiff::tz::TimeZone) -> Result<i64, String> {
    let naive_us = parse_datetime_local(v, UtcOffset::UTC)?;
    let out_of_range = || format!("{v:?} is out of range");
    let civil = jiff::Timestamp::from_microsecond(naive_us)
        .map_err(|_| out_of_range())?
        .to_zoned(jiff::tz::TimeZone::UTC)
        .datetime();
    tz.to_zoned(civil)
        .map(|z| z.timestamp().as_microsecond())
        .map_err(|_| out_of_range())
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::offset;

    #[test]
    fn wall_clock_times_are_read_in_the_zone() {
        let taipei = jiff::tz::TimeZone::get("Asia/Taipei").unwrap();
        // 2026-11-24 00:57:20 in Taipei is T.
        assert_eq!(
            parse_datetime_local_in("2026-11-24T00:57:20.644123", &taipei),
            Ok(T)
        );
        assert_eq!(offset_in(&taipei, T), offset!(+8));
        let ny = jiff::tz::TimeZone::get("America/New_York").unwrap();
        // Summer and winter offsets differ.
        let summer = parse_datetime_local_in("2026-07-01T12:00", &ny).unwrap();
        let winter = parse_datetime_local_in("2026-12-01T12:00", &ny).unwrap();
        assert_eq!(offset_in(&ny, summer), offset!(-4));
        assert_eq!(offset_in(&ny, winter), offset!(-5));
        assert!(parse_datetime_local_in("yesterday", &ny).is_err());
    }

    /// 2026-11-23T16:57:20.644123Z
    const T: i64 = 1_795_453_040_644_123;

    #[test]
    fn datetimes_follow_the_language_and_offset() {
        assert_eq!(
            datetime(T, UtcOffset::UTC, Lang::En),
            "2026-11-23 16:57:20 UTC"
        );
        assert_eq!(
            datetime(T, UtcOffset::UTC, Lang::ZhTw),
            "2026/11/23 16:57:20 UTC"
        );
        assert_eq!(
            datetime(T, offset!(+8), Lang::ZhTw),
            "2026/11/24 00:57:20 UTC+08:00"
        );
        assert_eq!(
            datetime(T, offset!(-3:30), Lang::En),
            "2026-11-23 13:27:20 UTC-03:30"
        );
        assert_eq!(
            datetime(0, UtcOffset::UTC, Lang::En),
            "1970-01-01 00:00:00 UTC"
        );
        assert_eq!(
            datetime(-1, UtcOffset::UTC, Lang::En),
            "1969-12-31 23:59:59 UTC"
        );
    }

    #[test]
    fn hours_for_chart_axes() {
        assert_eq!(hour(T, UtcOffset::UTC, Lang::En), "11-23 16:00");
        assert_eq!(hour(T, UtcOffset::UTC, Lang::ZhTw), "11/23 16:00");
        assert_eq!(hour(T, offset!(+8), Lang::En), "11-24 00:00");
    }

    #[test]
    fn datetime_local_values_are_read_at_the_offset() {
        let minute = parse_datetime_local("2026-11-23T16:57", UtcOffset::UTC).unwrap();
        assert_eq!(minute, 1_795_453_020_000_000);
        assert_eq!(
            parse_datetime_local("2026-11-23T16:57:20", UtcOffset::UTC).unwrap(),
            minute + 20_000_000
        );
        assert_eq!(
            parse_datetime_local("2026-11-23T16:57:20.644123", UtcOffset::UTC).unwrap(),
            T
        );
        assert_eq!(
            parse_datetime_local("2026-11-24T00:57", offset!(+8)).unwrap(),
            minute
        );
        for bad in [
            "",
            "2026-11-23",
            "2026-13-01T00:00",
            "2026-11-23T16:57Z",
            "2026-11-23 16:57",
            "2026-11-23T16:57:20+08:00",
            &"9".repeat(40),
        ] {
            assert!(
                parse_datetime_local(bad, UtcOffset::UTC).is_err(),
                "{bad:?}"
            );
        }
    }
}
