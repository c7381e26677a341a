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

use sha2::{Digest, Sha256};

use authtrail_model::activity::{Actor, Event, MessageValue, NestedParameter, NetworkInfo};
use authtrail_model::{Activity, ActivityBody, ParamValue, Parameter};

use canonical_json::{Object, Writer};

#[path = "canonical_json.rs"]
mod canonical_json;

/// The value of `format`: names this JSON form. A change to the form gets a new value.
pub const FORMAT: &str = "authtrail.activity.v1";

/// The activity's canonical bytes (UTF-8 JSON, no trailing newline).
pub fn encode(a: &Activity) -> Vec<u8> {
    let mut out = Vec::with_capacity(1024);
    encode_into(a, &mut out);
    out
}

/// Appends the activity's canonical bytes to `out` (a caller hashing many activities reuses one
/// buffer).
///
/// The form's members, and the body's, are fixed, so they are written straight in JCS order
/// (their names are ASCII: UTF-16 order is byte order) rather than buffered and sorted; only the
/// open values (`error`, `jsonValue`) have names to sort. The bytes are exactly
/// `serde_json_canonicalizer::to_vec` of the serde form (`Form` in the tests), which the tests
/// check on the specification's vectors and on generated activities.
pub fn encode_into(a: &Activity, out: &mut Vec<u8>) {
    let w = &mut Writer { out };
    let mut o = w.object_start();
    o.member(w, "application");
    w.string(&a.application);
    o.member(w, "body");
    body(w, &a.body);
    o.member(w, "format");
    w.string(FORMAT);
    o.member(w, "receivedUs");
    w.int_string(a.received_us);
    o.member(w, "tenant");
    w.string(a.tenant.as_str());
    o.member(w, "timeUs");
    w.int_string(a.time_us);
    o.member(w, "uniqueQualifier");
    w.int_string(a.unique_qualifier);
    o.end(w);
}

/// SHA-256 of the canonical bytes. A Merkle tree adds its own leaf prefix on top (RFC 6962 hashes
/// `0x00 || bytes`), so this is the activity's digest, not yet a leaf hash.
pub fn digest(a: &Activity) -> [u8; 32] {
    Sha256::digest(encode(a)).into()
}

/// An optional string member.
fn opt_str(w: &mut Writer, o: &mut Object, name: &'static str, v: &Option<String>) {
    if let Some(v) = v {
        o.member(w, name);
        w.string(v);
    }
}

fn body(w: &mut Writer, b: &ActivityBody) {
    let mut o = w.object_start();
    o.member(w, "actor");
    actor(w, &b.actor);
    opt_str(w, &mut o, "clientApplicationId", &b.client_application_id);
    if let Some(by) = b.erased_by {
        o.member(w, "erasedBy");
        w.int_string(by.0);
    }
    if let Some(e) = &b.error {
        o.member(w, "error");
        w.value(e);
    }
    opt_str(w, &mut o, "eventId", &b.event_id);
    o.member(w, "events");
    w.raw(b"[");
    for (i, e) in b.events.iter().enumerate() {
        if i > 0 {
            w.raw(b",");
        }
        event(w, e);
    }
    w.raw(b"]");
    opt_str(w, &mut o, "ipAddress", &b.ip_address);
    if let Some(n) = &b.network_info {
        o.member(w, "networkInfo");
        network_info(w, n);
    }
    opt_str(w, &mut o, "ownerDomain", &b.owner_domain);
    o.member(w, "result");
    w.string(b.result.as_str());
    opt_str(w, &mut o, "sessionId", &b.session_id);
    opt_str(w, &mut o, "userAgent", &b.user_agent);
    o.end(w);
}

fn actor(w: &mut Writer, a: &Actor) {
    let mut o = w.object_start();
    opt_str(w, &mut o, "callerType", &a.caller_type);
    opt_str(w, &mut o, "email", &a.email);
    opt_str(w, &mut o, "key", &a.key);
    opt_str(w, &mut o, "profileId", &a.profile_id);
    o.end(w);
}

fn network_info(w: &mut Writer, n: &NetworkInfo) {
    let mut o = w.object_start();
    if !n.ip_asn.is_empty() {
        o.member(w, "ipAsn");
        w.raw(b"[");
        for (i, asn) in n.ip_asn.iter().enumerate() {
            if i > 0 {
                w.raw(b",");
            }
            w.number(f64::from(*asn));
        }
        w.raw(b"]");
    }
    opt_str(w, &mut o, "regionCode", &n.region_code);
    opt_str(w, &mut o, "subdivisionCode", &n.subdivision_code);
    o.end(w);
}

fn event(w: &mut Writer, e: &Event) {
    let mut o = w.object_start();
    o.member(w, "name");
    w.string(&e.name);
    if !e.parameters.is_empty() {
        o.member(w, "parameters");
        w.raw(b"[");
        for (i, p) in e.parameters.iter().enumerate() {
            if i > 0 {
                w.raw(b",");
            }
            parameter(w, p);
        }
        w.raw(b"]");
    }
    o.member(w, "type");
    w.string(&e.event_type);
    o.end(w);
}

/// `{"name", <one value>}`: every value's name but `value` sorts before `name`.
fn parameter(w: &mut Writer, p: &Parameter) {
    let mut o = w.object_start();
    match &p.value {
        ParamValue::Str(v) => {
            o.member(w, "name");
            w.string(&p.name);
            o.member(w, "value");
            w.string(v);
            return o.end(w);
        }
        ParamValue::Bool(v) => {
            o.member(w, "boolValue");
            w.bool(*v);
        }
        ParamValue::Int(v) => {
            o.member(w, "intValue");
            w.int_string(*v);
        }
        ParamValue::Json(v) => {
            o.member(w, "jsonValue");
            w.value(v);
        }
        ParamValue::Message(v) => {
            o.member(w, "messageValue");
            message(w, v);
        }
        ParamValue::MultiInt(v) => {
            o.member(w, "multiIntValue");
            int_strings(w, v.iter().copied());
        }
        ParamValue::MultiStr(v) => {
            o.member(w, "multiValue");
            strings(w, v);
        }
    }
    o.member(w, "name");
    w.string(&p.name);
    o.end(w);
}

fn message(w: &mut Writer, m: &MessageValue) {
    let mut o = w.object_start();
    o.member(w, "parameter");
    w.raw(b"[");
    for (i, p) in m.parameter.iter().enumerate() {
        if i > 0 {
            w.raw(b",");
        }
        nested(w, p);
    }
    w.raw(b"]");
    o.end(w);
}

fn nested(w: &mut Writer, p: &NestedParameter) {
    let mut o = w.object_start();
    if let Some(v) = p.bool_value {
        o.member(w, "boolValue");
        w.bool(v);
    }
    if let Some(v) = p.int_value {
        o.member(w, "intValue");
        w.int_string(v.0);
    }
    if let Some(v) = &p.multi_bool_value {
        o.member(w, "multiBoolValue");
        w.raw(b"[");
        for (i, b) in v.iter().enumerate() {
            if i > 0 {
                w.raw(b",");
            }
            w.bool(*b);
        }
        w.raw(b"]");
    }
    if let Some(v) = &p.multi_int_value {
        o.member(w, "multiIntValue");
        int_strings(w, v.iter().map(|i| i.0));
    }
    if let Some(v) = &p.multi_value {
        o.member(w, "multiValue");
        strings(w, v);
    }
    o.member(w, "name");
    w.string(&p.name);
    opt_str(w, &mut o, "value", &p.value);
    o.end(w);
}

fn strings(w: &mut Writer, v: &[String]) {
    w.raw(b"[");
    for (i, s) in v.iter().enumerate() {
        if i > 0 {
            w.raw(b",");
        }
        w.string(s);
    }
    w.raw(b"]");
}

fn int_strings(w: &mut Writer, v: impl Iterator<Item = i64>) {
    w.raw(b"[");
    for (i, n) in v.enumerate() {
        if i > 0 {
            w.raw(b",");
        }
        w.int_string(n);
    }
    w.raw(b"]");
}

#[cfg(test)]
#[path = "canonical_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "canonical_oracle_tests.rs"]
mod oracle_tests;
