//! Fault injection for the writer's tests (issue #16), through the `fail` crate's failpoints.
//! The `fail_point!` macro expands to nothing unless `fail`'s `failpoints` feature is on, which
//! only this crate's dev-dependencies enable: a release build carries none of this.
//!
//! A failpoint is configured with `return(TENANT:FAULT)`, so a test faults only its own tenant's
//! requests while the other tests in the same process write undisturbed. The faults are the
//! failures SQLite itself reports:
//!
//! - `full`: `SQLITE_FULL` after SQLite has rolled the whole transaction back, as it does when
//!   the disk fills while it spills a page cache bigger than memory allows to the WAL;
//! - `ioerr`: `SQLITE_IOERR` with the transaction still open (a failed write or fsync).

use authtrail_model::{StoreError, Tenant};
use rusqlite::Connection;

/// The fault configured for `point`, if any, and if it is meant for `tenant`: applies its side
/// effect to `conn` and returns the error SQLite would have returned.
#[allow(unused_variables)] // without the failpoints feature the macro drops its arguments
pub(crate) fn inject(point: &str, conn: &Connection, tenant: &Tenant) -> Result<(), StoreError> {
    fail::fail_point!(point, |arg: Option<String>| {
        // Imported here: without the failpoints feature the macro drops this closure.
        use crate::errors::backend;
        use rusqlite::ffi;
        let arg = arg.unwrap_or_default();
        let Some((target, fault)) = arg.split_once(':') else {
            return Ok(());
        };
        if target != tenant.as_str() {
            return Ok(());
        }
        let code = match fault {
            "full" => {
                // What SQLite does on SQLITE_FULL during a cache spill: the whole transaction goes.
                let _ = conn.execute_batch("ROLLBACK");
                ffi::SQLITE_FULL
            }
            "ioerr" => ffi::SQLITE_IOERR,
            other => panic!("unknown fault {other:?} at failpoint {point}"),
        };
        Err(backend(rusqlite::Error::SqliteFailure(
            ffi::Error::new(code),
            Some(format!("injected at {point}")),
        )))
    });
    Ok(())
}
