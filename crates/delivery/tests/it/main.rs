//! The delivery engine's integration tests, linked into one binary: a worker on a real store
//! with a manual wall clock and a paused tokio clock, so that days of retries take a moment.

mod failing;
