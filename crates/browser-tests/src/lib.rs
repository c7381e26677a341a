//! Only tests live here: see `tests/console.rs`.
