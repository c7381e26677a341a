//! The JSON writing rules of RFC 8785 (JCS), for [`super`]: strings escaped as ECMAScript's
//! `JSON.stringify` escapes them, numbers as the shortest ECMAScript form of their IEEE 754 double,
//! and objects written member by member in the order of their names' UTF-16 code units.
//!
//! The activity form's own members are written in that order by their callers (their names are
//! fixed ASCII, so UTF-16 order is byte order); only open values (`serde_json::Value`) are
//! sorted here. `serde_json_canonicalizer` is the oracle the tests compare every byte with.

use std::cmp::Ordering;

use serde_json::{Map, Value};

/// Appends JCS bytes to a buffer.
pub(super) struct Writer<'a> {
    pub(super) out: &'a mut Vec<u8>,
}

impl Writer<'_> {
    pub(super) fn raw(&mut self, bytes: &[u8]) {
        self.out.extend_from_slice(bytes);
    }

    /// A JSON string: only `"`, `\` and U+0000–U+001F are escaped (RFC 8785 §3.2.2.2), with
    /// `\b \t \n \f \r` where they exist and lowercase `\u00xx` otherwise.
    pub(super) fn string(&mut self, s: &str) {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let bytes = s.as_bytes();
        self.out.push(b'"');
        // Nearly every string needs no escape: find that out in one pass without early exit
        // (which the compiler vectorises), and copy it whole.
        let plain = bytes
            .iter()
            .fold(true, |ok, &b| ok & (b >= 0x20) & (b != b'"') & (b != b'\\'));
        if plain {
            self.out.extend_from_slice(bytes);
            self.out.push(b'"');
            return;
        }
        let mut start = 0;
        for (i, &b) in bytes.iter().enumerate() {
            let short: &[u8] = match b {
                b'"' => b"\\\"",
                b'\\' => b"\\\\",
                0x08 => b"\\b",
                b'\t' => b"\\t",
                b'\n' => b"\\n",
                0x0c => b"\\f",
                b'\r' => b"\\r",
                0x00..=0x1f => b"",
                _ => continue,
            };
            self.out.extend_from_slice(&bytes[start..i]);
            if short.is_empty() {
                let hex = [
                    b'\\',
                    b'u',
                    b'0',
                    b'0',
                    HEX[(b >> 4) as usize],
                    HEX[(b & 15) as usize],
                ];
                self.out.extend_from_slice(&hex);
            } else {
                self.out.extend_from_slice(short);
            }
            start = i + 1;
        }
        self.out.extend_from_slice(&bytes[start..]);
        self.out.push(b'"');
    }

    /// An int64 as a decimal JSON string (the form's way of keeping every int64 exact).
    pub(super) fn int_string(&mut self, i: i64) {
        self.out.push(b'"');
        self.out
            .extend_from_slice(itoa::Buffer::new().format(i).as_bytes());
        self.out.push(b'"');
    }

    /// A JSON number: the double nearest to `n`, in ECMAScript's shortest form (RFC 8785
    /// §3.2.2.3). Integers too: JCS knows only doubles, so 2^53 + 1 is written as 2^53.
    pub(super) fn number(&mut self, n: f64) {
        // serde_json's values are always finite (it refuses NaN and infinities when parsing, and
        // `Number::from_f64` refuses them when building).
        debug_assert!(n.is_finite());
        self.out
            .extend_from_slice(ryu_js::Buffer::new().format_finite(n).as_bytes());
    }

    pub(super) fn bool(&mut self, b: bool) {
        self.raw(if b { b"true" } else { b"false" });
    }

    /// An open JSON value, its objects' members sorted.
    pub(super) fn value(&mut self, v: &Value) {
        match v {
            Value::Null => self.raw(b"null"),
            Value::Bool(b) => self.bool(*b),
            // `as_f64` is how JCS reads any JSON number: the nearest double.
            Value::Number(n) => self.number(n.as_f64().expect("a JSON number has a double")),
            Value::String(s) => self.string(s),
            Value::Array(items) => {
                self.out.push(b'[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        self.out.push(b',');
                    }
                    self.value(item);
                }
                self.out.push(b']');
            }
            Value::Object(m) => self.object(m),
        }
    }

    fn object(&mut self, m: &Map<String, Value>) {
        let in_order = |a: &(&String, &Value), b: &(&String, &Value)| utf16_cmp(a.0, b.0).is_lt();
        self.out.push(b'{');
        // Stored payloads usually arrive sorted already (an export row's objects are, by UTF-8
        // bytes, which is the same order unless a name holds characters beyond U+FFFF): then
        // nothing needs sorting, nor a vector to sort in.
        if m.iter().is_sorted_by(|a, b| in_order(a, b)) {
            self.members(m.iter());
        } else {
            let mut members: Vec<(&String, &Value)> = m.iter().collect();
            members.sort_unstable_by(|a, b| utf16_cmp(a.0, b.0));
            self.members(members.into_iter());
        }
        self.out.push(b'}');
    }

    fn members<'v>(&mut self, members: impl Iterator<Item = (&'v String, &'v Value)>) {
        for (i, (k, v)) in members.enumerate() {
            if i > 0 {
                self.out.push(b',');
            }
            self.string(k);
            self.out.push(b':');
            self.value(v);
        }
    }

    /// Starts an object whose members the caller writes with [`Object::member`], in JCS order.
    pub(super) fn object_start(&mut self) -> Object {
        self.out.push(b'{');
        Object {
            first: true,
            last: "",
        }
    }
}

/// An object being written: commas between members, and (in debug builds) a check that the
/// caller's fixed member names come in JCS order.
pub(super) struct Object {
    first: bool,
    last: &'static str,
}

impl Object {
    /// Writes `"name":`; the value follows. `name` is fixed ASCII needing no escape.
    pub(super) fn member(&mut self, w: &mut Writer, name: &'static str) {
        debug_assert!(
            self.first || utf16_cmp(self.last, name).is_lt(),
            "{name} after {}",
            self.last
        );
        if !self.first {
            w.out.push(b',');
        }
        self.first = false;
        self.last = name;
        w.out.push(b'"');
        w.raw(name.as_bytes());
        w.raw(b"\":");
    }

    pub(super) fn end(self, w: &mut Writer) {
        w.out.push(b'}');
    }
}

/// RFC 8785's member order: names compared as sequences of UTF-16 code units.
pub(super) fn utf16_cmp(a: &str, b: &str) -> Ordering {
    a.encode_utf16().cmp(b.encode_utf16())
}
