//! JSON in: a parser that refuses an object holding a key twice.
//!
//! `serde_json` keeps the *last* value of a repeated key; other parsers (a gateway's, a WAF's,
//! a SIEM's) may keep the first. That differential lets a producer show one thing to whatever
//! inspects a request on its way and have authtrail store another (issue #16). RFC 8259 §4 leaves
//! repeated names undefined and I-JSON (RFC 7493 §2.3) forbids them, so every JSON body authtrail
//! accepts goes through here (or through [`crate::wire`], which refuses them the same way), and a
//! repeated key is a 400 that names it.

use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

/// Parses `text`, refusing any object that holds a key twice (the error names the key, with
/// serde_json's line and column).
pub fn from_str(text: &str) -> Result<Value, serde_json::Error> {
    serde_json::from_str::<Strict>(text).map(|s| s.0)
}

/// [`from_str`] over bytes (which must be UTF-8).
pub fn from_slice(bytes: &[u8]) -> Result<Value, serde_json::Error> {
    serde_json::from_slice::<Strict>(bytes).map(|s| s.0)
}

/// A [`Value`] deserialized with the repeated-key check at every level.
pub struct Strict(pub Value);

impl<'de> Deserialize<'de> for Strict {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Strict, D::Error> {
        d.deserialize_any(StrictVisitor).map(Strict)
    }
}

/// The visitor behind [`Strict`]: the typed wire structs ([`crate::wire`]) hand it the values
/// they keep as JSON, or check and drop, so that a repeated key is refused at any depth.
pub struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        // JSON text cannot spell NaN or infinity, so this is always a number.
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
        while let Some(Strict(v)) = seq.next_element()? {
            items.push(v);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if out.contains_key(&key) {
                return Err(de::Error::custom(format_args!("duplicate key {key:?}")));
            }
            let Strict(v) = map.next_value()?;
            out.insert(key, v);
        }
        Ok(Value::Object(out))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn parses_what_serde_json_parses() {
        let text = r#"{"a": [1, -2, 3.5, "x", true, null, {"b": {}}], "c": 18446744073709551615}"#;
        assert_eq!(
            from_str(text).unwrap(),
            serde_json::from_str::<Value>(text).unwrap()
        );
        assert_eq!(from_slice(b"[]").unwrap(), json!([]));
    }

    #[test]
    fn a_repeated_key_is_refused_at_any_depth_naming_it() {
        for text in [
            r#"{"eventId": "a", "eventId": "b"}"#,
            r#"[{"actor": {"email": "a@x.io", "email": "b@x.io"}}]"#,
        ] {
            let e = from_str(text).unwrap_err().to_string();
            assert!(e.contains("duplicate key"), "{e}");
            assert!(e.contains("\"eventId\"") || e.contains("\"email\""), "{e}");
        }
        // The same key in sibling objects is fine.
        assert!(from_str(r#"[{"a": 1}, {"a": 2}]"#).is_ok());
    }

    #[test]
    fn nesting_stays_bounded() {
        let deep = "[".repeat(10_000) + &"]".repeat(10_000);
        assert!(
            from_str(&deep).is_err(),
            "serde_json's recursion limit applies"
        );
    }
}
