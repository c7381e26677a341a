//! The CLI's integration tests, linked into one binary: each module drives the real `authtrail`
//! binary (`CARGO_BIN_EXE_authtrail`) end to end.

mod delivery;
mod detection;
mod e2e;
mod export;
mod log_keys;
mod nodes;
mod query_format;
mod retention;
mod sign_in_scores;
mod support;
mod witness;
