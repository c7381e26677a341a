//! Size limits on everything a producer can send. Each is documented in docs/api.md; a value over
//! a limit is rejected with the field's path, never truncated.

/// Longest string field (user agent, parameter values, ...), in bytes.
pub const MAX_STRING_BYTES: usize = 4096;
/// Longest identifier-like field (e-mail, profile id, session id, eventId, ...), in bytes.
pub const MAX_ID_BYTES: usize = 320;
/// Most events in one activity.
pub const MAX_EVENTS: usize = 32;
/// Most parameters in one event (or nested message).
pub const MAX_PARAMETERS: usize = 64;
/// Most values in one multiValue / multiIntValue.
pub const MAX_MULTI_VALUES: usize = 256;
/// Largest `jsonValue` or `error`, serialized, in bytes.
pub const MAX_JSON_BYTES: usize = 16 * 1024;
/// Deepest nesting inside a `jsonValue` or `error`.
pub const MAX_JSON_DEPTH: usize = 16;
/// How far in the future an event time may lie (producers' clocks drift), in microseconds.
pub const MAX_FUTURE_SKEW_US: i64 = 24 * 3600 * 1_000_000;
/// The longest retention accepted, in days (`serve --retention-days`, `authtrail retention
/// --days`): 100 years keeps the cut-off far inside the time range.
pub const MAX_RETENTION_DAYS: u32 = 36_500;
