//! The web console at `/console`: the audit trail for people, in zh-TW and English.
//!
//! Server-rendered HTML (minijinja templates compiled into the binary), one stylesheet and one
//! small script for progressive enhancement (local time zone, live tail); everything works
//! without JavaScript. See `docs/console.md` for the security model.
//!
//! - [`routes`]: the router and assets; [`page`]: what every page shares; [`signin`]: sign-in
//!   and sign-out.
//! - [`session`]: session cookies and CSRF tokens; [`throttle`]: failed sign-in limits.
//! - [`filters`]: the audit log's URL filters → the native list query.
//! - [`logs`]: the audit log page ([`count`]: its count of matching events); [`detail`]: the event detail page ([`risk`]: the detectors' explanations on it); [`tail`]: live tail (SSE).
//! - [`charts`]: the overview page's server-rendered SVG charts.
//! - [`export`]: `/console/logs.csv` and `/console/logs.ndjson`, the list as downloads.
//! - [`i18n`]: the console's strings and language choice.
//! - Accounts, sessions and their self-audit are `authtrail_service::users`; [`password`] is its
//!   argon2 hashing.

pub mod alerts;
pub mod charts;
pub mod count;
pub mod deliveries;
pub mod detail;
pub mod export;
pub mod filters;
pub mod i18n;
pub mod logs;
pub mod page;
pub mod risk;
pub mod routes;
pub mod session;
pub mod signin;
pub mod tail;
pub mod throttle;

pub use authtrail_service::password;
pub use routes::router;
