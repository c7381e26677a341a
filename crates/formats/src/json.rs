//! JSON in: a parser that refuses an object holding a key twice. It lives in
//! `authtrail-model` (`strict_json`), beside the typed ingest structs that share its check; this
//! is its name for every other body authtrail reads.

pub use authtrail_model::strict_json::{from_slice, from_str};
