//! The specification's vectors (read out of `docs/canonical-encoding.md`) and RFC 8785's own
//! examples.

use serde_json::Value;
use sha2::{Digest, Sha256};

use super::*;
use crate::export::Row;

const SPEC: &str = include_str!("../../../docs/canonical-encoding.md");

/// One test vector of the specification.
struct Vector {
    input: String,
    canonical: String,
    sha256: String,
}

/// The fenced blocks tagged `vector-input`, `vector-canonical` and `vector-sha256`, in order.
fn vectors() -> Vec<Vector> {
    let mut blocks: Vec<(String, String)> = Vec::new();
    let mut lines = SPEC.lines();
    while let Some(line) = lines.next() {
        let Some(info) = line.strip_prefix("```") else {
            continue;
        };
        let tag = info.split_whitespace().nth(1).unwrap_or("").to_string();
        let mut body = Vec::new();
        for l in lines.by_ref() {
            if l.starts_with("```") {
                break;
            }
            body.push(l);
        }
        if tag.starts_with("vector-") {
            blocks.push((tag, body.join("\n")));
        }
    }
    assert_eq!(blocks.len() % 3, 0, "each vector has three blocks");
    blocks
        .chunks(3)
        .map(|c| {
            assert_eq!(
                [c[0].0.as_str(), c[1].0.as_str(), c[2].0.as_str()],
                ["vector-input", "vector-canonical", "vector-sha256"]
            );
            Vector {
                input: c[0].1.clone(),
                canonical: c[1].1.clone(),
                sha256: c[2].1.trim().to_string(),
            }
        })
        .collect()
}

#[test]
fn the_specifications_vectors_hold() {
    let vs = vectors();
    assert!(vs.len() >= 3, "the document has its vectors");
    for (i, v) in vs.iter().enumerate() {
        let a = Row::decode(v.input.as_bytes())
            .unwrap_or_else(|e| panic!("vector {}: {e}", i + 1))
            .into_activity()
            .unwrap();
        let bytes = encode(&a);
        assert_eq!(
            String::from_utf8(bytes.clone()).unwrap(),
            v.canonical,
            "vector {}",
            i + 1
        );
        assert_eq!(
            hex::encode(Sha256::digest(&bytes)),
            v.sha256,
            "vector {}",
            i + 1
        );
        assert_eq!(hex::encode(digest(&a)), v.sha256, "vector {}", i + 1);
    }
}

fn jcs(json: &str) -> String {
    let v: Value = serde_json::from_str(json).unwrap();
    String::from_utf8(serde_json_canonicalizer::to_vec(&v).unwrap()).unwrap()
}

/// RFC 8785 §3.2.3: properties sorted by UTF-16 code units, so the emoji (a surrogate pair,
/// 0xD83D…) sorts before U+FB33 although its code point is larger.
#[test]
fn rfc8785_sorting_example() {
    let input = r#"{
      "\u20ac": "Euro Sign",
      "\r": "Carriage Return",
      "\ufb33": "Hebrew Letter Dalet With Dagesh",
      "1": "One",
      "\ud83d\ude00": "Emoji: Grinning Face",
      "\u0080": "Control",
      "\u00f6": "Latin Small Letter O With Diaeresis"
    }"#;
    assert_eq!(
        jcs(input),
        "{\"\\r\":\"Carriage Return\",\"1\":\"One\",\"\u{80}\":\"Control\",\
         \"\u{f6}\":\"Latin Small Letter O With Diaeresis\",\"\u{20ac}\":\"Euro Sign\",\
         \"\u{1f600}\":\"Emoji: Grinning Face\",\"\u{fb33}\":\"Hebrew Letter Dalet With Dagesh\"}"
    );
}

/// RFC 8785 §3.2.2: numbers in ECMAScript form, strings with minimal escapes.
#[test]
fn rfc8785_main_example() {
    let input = r#"{
      "numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],
      "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
      "literals": [null, true, false]
    }"#;
    assert_eq!(
        jcs(input),
        r#"{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"€$\u000f\nA'B\"\\\\\"/"}"#
    );
}

/// RFC 8785 Appendix B: IEEE 754 doubles and their serialization.
#[test]
fn rfc8785_number_examples() {
    let cases: &[(u64, &str)] = &[
        (0x0000000000000000, "0"),
        (0x8000000000000000, "0"),
        (0x0000000000000001, "5e-324"),
        (0x8000000000000001, "-5e-324"),
        (0x7fefffffffffffff, "1.7976931348623157e+308"),
        (0xffefffffffffffff, "-1.7976931348623157e+308"),
        (0x4340000000000000, "9007199254740992"),
        (0xc340000000000000, "-9007199254740992"),
        (0x4430000000000000, "295147905179352830000"),
        (0x44b52d02c7e14af5, "9.999999999999997e+22"),
        (0x44b52d02c7e14af6, "1e+23"),
        (0x44b52d02c7e14af7, "1.0000000000000001e+23"),
        (0x444b1ae4d6e2ef4e, "999999999999999700000"),
        (0x444b1ae4d6e2ef4f, "999999999999999900000"),
        (0x444b1ae4d6e2ef50, "1e+21"),
        (0x3eb0c6f7a0b5ed8c, "9.999999999999997e-7"),
        (0x3eb0c6f7a0b5ed8d, "0.000001"),
        (0x41b3de4355555553, "333333333.3333332"),
        (0x41b3de4355555554, "333333333.33333325"),
        (0x41b3de4355555555, "333333333.3333333"),
        (0x41b3de4355555556, "333333333.3333334"),
        (0x41b3de4355555557, "333333333.33333343"),
        (0xbecbf647612f3696, "-0.0000033333333333333333"),
        (0x43143ff3c1cb0959, "1424953923781206.2"),
    ];
    for &(bits, want) in cases {
        let got = serde_json_canonicalizer::to_vec(&f64::from_bits(bits)).unwrap();
        assert_eq!(String::from_utf8(got).unwrap(), want, "{bits:016x}");
    }
    for bits in [0x7fffffffffffffffu64, 0x7ff0000000000000] {
        assert!(serde_json_canonicalizer::to_vec(&f64::from_bits(bits)).is_err());
    }
}

/// Integers beyond ±2^53 in open payloads are numbers of JSON too: JCS writes the double nearest
/// to them, as any ECMAScript implementation reading the stored JSON would.
#[test]
fn large_integers_are_written_as_their_double() {
    assert_eq!(jcs("[9007199254740993]"), "[9007199254740992]");
    assert_eq!(jcs("[1152921504606846976]"), "[1152921504606847000]");
}

/// The stores keep open payloads in whatever key order they were given (PostgreSQL's jsonb
/// reorders them): the canonical bytes must not depend on it, and must be idempotent under JCS.
#[test]
fn key_order_of_stored_payloads_does_not_matter() {
    let row = |payload: &str| {
        let line = format!(
            r#"{{"tenant":"C01","uniqueQualifier":5,"timeUs":1,"receivedUs":2,"application":"logto","body":{{"events":[{{"type":"logto","name":"Unknown","parameters":[{{"name":"p","jsonValue":{payload}}}]}}],"result":"failure","error":{payload}}}}}"#
        );
        Row::decode(line.as_bytes())
            .unwrap()
            .into_activity()
            .unwrap()
    };
    let a = encode(&row(r#"{"b":{"y":1,"x":[2,{"d":0,"c":1}]},"a":"€"}"#));
    let b = encode(&row(r#"{"a":"€","b":{"x":[2,{"c":1,"d":0}],"y":1}}"#));
    assert_eq!(a, b);
    let again: Value = serde_json::from_slice(&a).unwrap();
    assert_eq!(serde_json_canonicalizer::to_vec(&again).unwrap(), a);
}
