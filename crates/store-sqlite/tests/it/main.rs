//! The SQLite engine's integration tests, linked into one binary.

mod conformance;
mod faults;
mod paging_prop;
mod retention;
