//! The canonical encoding of an activity: RFC 8785 (JCS) over a fixed JSON form, specified in
//! `docs/canonical-encoding.md`. It is what a transparency log's Merkle leaf commits to, so an
//! implementation in any language that follows that document produces the same bytes; the
//! document's test vectors are checked here, so it cannot drift from the code.
//!
//! The JSON form: `format` (a constant naming this form and its version), `tenant`,
//! `uniqueQualifier`, `timeUs`, `receivedUs` (int64 values as decimal strings, so that no
//! implementation rounds them through a double), `application`, and `body` (the activity's body
//! exactly as it is stored and served: Google's field names, int64 as strings, empty fields
//! omitted). JCS then fixes the rest: keys sorted by UTF-16 code units, no whitespace, strings
//! and numbers serialized as ECMAScript's `JSON.stringify` does.

use serde::Serialize;
use sha2::{Digest, Sha256};

use authtrail_model::activity::I64Str;
use authtrail_model::{Activity, ActivityBody};

/// The value of `format`: names this JSON form. A change to the form gets a new value.
pub const FORMAT: &str = "authtrail.activity.v1";

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Form<'a> {
    format: &'static str,
    tenant: &'a str,
    unique_qualifier: I64Str,
    time_us: I64Str,
    received_us: I64Str,
    application: &'a str,
    body: &'a ActivityBody,
}

/// The activity's canonical bytes (UTF-8 JSON, no trailing newline).
pub fn encode(a: &Activity) -> Vec<u8> {
    let form = Form {
        format: FORMAT,
        tenant: a.tenant.as_str(),
        unique_qualifier: I64Str(a.unique_qualifier),
        time_us: I64Str(a.time_us),
        received_us: I64Str(a.received_us),
        application: &a.application,
        body: &a.body,
    };
    // JCS refuses only non-finite numbers and non-string map keys; an activity has neither
    // (serde_json values cannot hold NaN, and every map is keyed by strings).
    serde_json_canonicalizer::to_vec(&form).expect("an activity always has a canonical form")
}

/// SHA-256 of the canonical bytes. A Merkle tree adds its own leaf prefix on top (RFC 6962 hashes
/// `0x00 || bytes`), so this is the activity's digest, not yet a leaf hash.
pub fn digest(a: &Activity) -> [u8; 32] {
    Sha256::digest(encode(a)).into()
}

#[cfg(test)]
#[path = "canonical_tests.rs"]
mod tests;
