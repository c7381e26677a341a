//! Suspicious-sign-in detection (docs/detection.md).
//!
//! - [`signal`]: a stored activity as the detectors see it, classified by the catalogue's tags.
//! - [`detector`]: the detectors of one tenant, with per-account and per-IP state, every
//!   window on event time.
//! - [`finding`]: what they report: reasons with evidence, a risk score, the events behind it;
//!   besides, every successful sign-in's score ([`Observation`]), below the threshold too.
//! - [`config`]: the thresholds, per tenant, from Auth0's defaults.
//! - [`geo`]: where an address is, from an offline database when the operator names one.
//!
//! Pure: no I/O but reading a database file, no clock. The job that feeds it the commit stream
//! and stores its findings is in the binary (`crates/cli/src/detect.rs`).

pub mod config;
pub mod detector;
pub mod finding;
pub mod geo;
pub mod signal;
mod window;

#[cfg(test)]
mod tests;

pub use config::{DetectConfig, Thresholds};
pub use detector::{Detector, Observation};
pub use finding::{Finding, FindingKind};
pub use geo::{Geo, Place};
pub use signal::{Classifier, Kind, Signal};
