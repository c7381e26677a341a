//! The job host: one supervisor for every background worker of a node (retention, the rate-limit
//! sweeper, and the deliveries, alerts and checkpoints to come).
//!
//! A job is a named async function that runs until its [`CancellationToken`] fires. The host
//! runs it on tokio, tracks its [`JobState`] (reported by `/metrics` and `/readyz`), restarts it
//! with exponential [`Backoff`] and jitter when it returns an error or panics, and on
//! [`JobHost::shutdown`] cancels every job and waits, up to a deadline, for each to finish the
//! work it has already acknowledged.
//!
//! The host reads time only through `tokio::time`, so its tests run on a paused clock
//! (`tokio::time::pause`) instead of sleeping. Tests inject errors, panics and stalls into any
//! job through its failpoint ([`faults`]).
//!
//! ```no_run
//! # async fn example() {
//! use authtrail_jobs::{JobHost, JobSpec};
//! let host = JobHost::new();
//! host.spawn("tick", JobSpec::default(), |cancel| async move {
//!     cancel.cancelled().await; // a real job does its work until then
//!     Ok(())
//! })
//! .expect("a new name");
//! host.shutdown(std::time::Duration::from_secs(30)).await;
//! # }
//! ```

mod backoff;
pub mod faults;
mod host;
mod state;
mod supervise;

pub use backoff::Backoff;
pub use host::{DuplicateJob, JobHost, JobSpec};
pub use state::{JobState, JobStatus};
pub use tokio_util::sync::CancellationToken;
