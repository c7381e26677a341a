//! The PostgreSQL engine's integration tests, linked into one binary; each test works in a
//! schema of its own, so they run in parallel on one database.

mod conformance;
mod nodes;
mod outage;
mod stall;
mod support;
