//! Every representation of an activity that is not transport, as pure functions (no I/O, no
//! async, no database): what the server, the console and the CLI render and read.
//!
//! - [`google`]: Google's Reports API wire form (`admin#reports#activity`, pages, `fields`).
//! - [`logto`]: Logto logs and webhook deliveries ↔ activities, both directions.
//! - [`export`]: the NDJSON row of `authtrail export`/`import` and the digests `verify-export`
//!   compares.
//! - [`aggregate`]: the JSON of counts per bucket and group, times in the request's zone.
//! - [`sheet`]: the console's CSV (with a BOM) and NDJSON downloads, localized and complete.
//! - [`display`]: times for people to read, in a given offset and language.
//! - [`canonical`]: the specified canonical encoding (RFC 8785), the transparency log's leaf;
//!   `docs/canonical-encoding.md` is its specification.
//! - [`log_export`]: the log file of `authtrail export --log` (checkpoint and leaf hashes).
//! - [`ocsf`]: OCSF 1.8.0 records, one per event, class and activity from the catalogue.
//! - [`syslog`]: RFC 5424 syslog messages and their RFC 6587/5425 octet-counted frames.
//!
//! A new output format goes here as its own module; the HTTP envelope around it (status, errors,
//! headers) stays in the server.

pub mod aggregate;
pub mod canonical;
pub mod display;
pub mod export;
pub mod google;
pub mod json;
pub mod log_export;
pub mod logto;
pub mod ocsf;
pub mod sheet;
pub mod syslog;
