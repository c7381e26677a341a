//! How an activity body is stored: its JSON, LZ4-compressed against a preset dictionary.
//!
//! Bodies are small (a few hundred bytes) and alike: the same keys, event names and user agents
//! again and again. Alone each compresses poorly; against a dictionary of those common fragments
//! it shrinks by half or more, and LZ4 costs about a microsecond either way.
//!
//! Format: a blob starting with `{` is plain JSON (schema 1 rows, and bodies that would not
//! shrink); one starting with [`LZ4_DICT_1`] is that byte, the JSON's length as a little-endian
//! u32, then the LZ4 block compressed against `body-dict-1.txt`. The dictionary is part of the
//! format: it never changes; a better one would get a new tag.

use std::borrow::Cow;

/// Tag of a body compressed against dictionary 1.
const LZ4_DICT_1: u8 = 1;
const DICT_1: &[u8] = include_bytes!("body-dict-1.txt");
/// Larger than any body validation lets through: a corrupt length cannot make us allocate more.
const MAX_BODY: usize = 4 * 1024 * 1024;

/// The stored form of a body's JSON.
pub fn encode(json: Vec<u8>) -> Vec<u8> {
    // Compressed straight behind the header: one allocation, no copy.
    let mut out = vec![0; 5 + lz4_flex::block::get_maximum_output_size(json.len())];
    let packed = match lz4_flex::block::compress_into_with_dict(&json, &mut out[5..], DICT_1) {
        Ok(n) => n,
        Err(_) => return json,
    };
    if packed + 5 >= json.len() {
        return json;
    }
    out[0] = LZ4_DICT_1;
    out[1..5].copy_from_slice(&(json.len() as u32).to_le_bytes());
    out.truncate(5 + packed);
    out
}

/// The JSON of a stored body.
pub fn decode(blob: &[u8]) -> Result<Cow<'_, [u8]>, String> {
    match blob.first() {
        Some(b'{') => Ok(Cow::Borrowed(blob)),
        Some(&LZ4_DICT_1) if blob.len() >= 5 => {
            let len = u32::from_le_bytes([blob[1], blob[2], blob[3], blob[4]]) as usize;
            if len > MAX_BODY {
                return Err(format!("stored body claims {len} bytes"));
            }
            lz4_flex::block::decompress_with_dict(&blob[5..], len, DICT_1)
                .map(Cow::Owned)
                .map_err(|e| format!("stored body does not decompress: {e}"))
        }
        Some(tag) => Err(format!("stored body has unknown encoding {tag}")),
        None => Err("stored body is empty".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_round_trip_and_typical_ones_shrink() {
        let typical = br#"{"actor":{"callerType":"USER"},"events":[{"type":"login","name":"login_success","parameters":[{"name":"login_type","value":"saml"},{"name":"login_challenge_method","multiValue":["password","security_key"]},{"name":"is_suspicious","boolValue":false}]}],"userAgent":"Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0","result":"success"}"#;
        let stored = encode(typical.to_vec());
        assert_eq!(stored[0], LZ4_DICT_1);
        assert!(stored.len() * 2 < typical.len(), "{} bytes", stored.len());
        assert_eq!(decode(&stored).unwrap().as_ref(), typical);
        // Tiny bodies stay plain JSON, and plain JSON (schema 1 rows) reads as it is.
        let tiny = br#"{"a":1}"#.to_vec();
        assert_eq!(encode(tiny.clone()), tiny);
        assert_eq!(decode(&tiny).unwrap().as_ref(), &tiny[..]);
    }

    #[test]
    fn corrupt_bodies_are_errors_not_panics() {
        assert!(decode(&[]).is_err());
        assert!(decode(&[9, 1, 2]).is_err());
        assert!(decode(&[LZ4_DICT_1, 255, 255, 255, 255, 0]).is_err());
        assert!(decode(&[LZ4_DICT_1, 50, 0, 0, 0, 0xff, 0xff]).is_err());
    }
}
