//! Fault injection for tests (issue #16), through the `fail` crate's failpoints. The
//! `fail_point!` macro expands to nothing unless `fail`'s `failpoints` feature is on, which only
//! dev-dependencies enable (this crate's, and the server's for its `/readyz` tests): a release
//! build carries none of this.
//!
//! Each job has its own failpoint, `jobs::run::<job name>`, evaluated at the start of every run,
//! so a test faults one job (a real one such as `retention`, or its own) while every other job in
//! the process runs undisturbed. Configured with `return(FAULT)`:
//!
//! - `error`: the run fails with an error (as a job whose store call failed);
//! - `panic`: the run panics;
//! - `stall`: the run never returns and ignores cancellation (as a job stuck in a call that never
//!   answers): the host still reports it running, and shutdown aborts it at its deadline.
//!
//! e.g. `fail::cfg("jobs::run::retention", "1*return(error)->off")`: one failed run, then normal.

/// The failpoint of the job named `job`.
pub fn failpoint(job: &str) -> String {
    format!("jobs::run::{job}")
}

/// Applies the fault configured for `job`, if any.
pub(crate) async fn inject(job: &str) -> anyhow::Result<()> {
    match configured(job).as_deref() {
        None => Ok(()),
        Some("error") => Err(anyhow::anyhow!(
            "injected failure (failpoint {})",
            failpoint(job)
        )),
        Some("panic") => panic!("injected panic (failpoint {})", failpoint(job)),
        Some("stall") => std::future::pending().await,
        Some(other) => panic!("unknown fault {other:?} at failpoint {}", failpoint(job)),
    }
}

#[allow(unused_variables)] // without the failpoints feature the macro drops its arguments
fn configured(job: &str) -> Option<String> {
    fail::fail_point!(&failpoint(job), |arg: Option<String>| arg);
    None
}
