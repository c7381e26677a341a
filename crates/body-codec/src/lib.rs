//! How an activity body is stored: its JSON, compressed against a preset dictionary.
//!
//! Bodies are small (a few hundred bytes) and alike: the same keys, event names and user agents
//! again and again. Alone each compresses poorly; against a dictionary of those common fragments
//! it shrinks by half or more.
//!
//! Format: the first byte says how the rest is stored.
//! - `{`: plain JSON (schema 1 rows, and bodies that would not shrink).
//! - [`LZ4_DICT_1`]: the JSON's length as a little-endian u32, then the LZ4 block compressed
//!   against `body-dict-1.txt`. Written until tag 2 replaced it; still read.
//! - [`ZSTD_DICT_1`]: one zstd frame (it carries the JSON's length) compressed against the same
//!   `body-dict-1.txt` as a raw-content dictionary. What [`encode`] writes.
//!
//! A dictionary is part of the format: it never changes; a better one would get a new tag.
//!
//! Why zstd: LZ4 (lz4_flex) has no way to keep a dictionary-primed state, so it hashed the
//! 2.3 KB dictionary again and zeroed its 16 KiB table for every body, several times the work
//! of compressing the body itself. zstd digests the dictionary once into a prepared
//! [`EncoderDictionary`] shared by every thread, and each thread reuses one compression context,
//! so a body costs only its own bytes; its entropy coding also stores fewer bytes.

use std::borrow::Cow;
use std::cell::RefCell;
use std::io::Cursor;
use std::sync::LazyLock;

use zstd::bulk::{Compressor, Decompressor};
use zstd::dict::{DecoderDictionary, EncoderDictionary};

/// Tag of a body LZ4-compressed against dictionary 1 (read only).
const LZ4_DICT_1: u8 = 1;
/// Tag of a body zstd-compressed against dictionary 1.
const ZSTD_DICT_1: u8 = 2;
const DICT_1: &[u8] = include_bytes!("body-dict-1.txt");
/// Larger than any body validation lets through: a corrupt length cannot make us allocate more.
const MAX_BODY: usize = 4 * 1024 * 1024;
/// zstd level of [`ZSTD_DICT_1`] bodies: the fastest. On the test body below, levels 6–9 save
/// 5 of 55 bytes; the level is not part of the format (any level decodes alike).
const LEVEL: i32 = 1;

static ENCODER_DICT: LazyLock<EncoderDictionary<'static>> =
    LazyLock::new(|| EncoderDictionary::copy(DICT_1, LEVEL));
static DECODER_DICT: LazyLock<DecoderDictionary<'static>> =
    LazyLock::new(|| DecoderDictionary::copy(DICT_1));

thread_local! {
    // One context per thread (contexts are not shareable), created on first use and reused:
    // creating one allocates and clears several hundred KiB.
    static COMPRESSOR: RefCell<Option<Compressor<'static>>> = const { RefCell::new(None) };
    static DECOMPRESSOR: RefCell<Option<Decompressor<'static>>> = const { RefCell::new(None) };
}

/// The stored form of a body's JSON.
pub fn encode(json: Vec<u8>) -> Vec<u8> {
    COMPRESSOR.with_borrow_mut(|slot| {
        let compressor = match slot {
            Some(c) => c,
            None => match Compressor::with_prepared_dictionary(&ENCODER_DICT) {
                Ok(c) => slot.insert(c),
                Err(_) => return json,
            },
        };
        // Compressed straight behind the tag: one allocation, no copy.
        let mut out = Vec::with_capacity(1 + zstd::zstd_safe::compress_bound(json.len()));
        out.push(ZSTD_DICT_1);
        let mut cursor = Cursor::new(out);
        cursor.set_position(1);
        match compressor.compress_to_buffer(&json[..], &mut cursor) {
            Ok(packed) if 1 + packed < json.len() => cursor.into_inner(),
            _ => json,
        }
    })
}

/// The JSON of a stored body.
pub fn decode(blob: &[u8]) -> Result<Cow<'_, [u8]>, String> {
    match blob.first() {
        Some(b'{') => Ok(Cow::Borrowed(blob)),
        Some(&ZSTD_DICT_1) => decode_zstd(&blob[1..]).map(Cow::Owned),
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

fn decode_zstd(frame: &[u8]) -> Result<Vec<u8>, String> {
    let len = match zstd::zstd_safe::get_frame_content_size(frame) {
        Ok(Some(n)) if n <= MAX_BODY as u64 => n as usize,
        Ok(Some(n)) => return Err(format!("stored body claims {n} bytes")),
        Ok(None) | Err(_) => return Err("stored body has no valid zstd frame header".into()),
    };
    DECOMPRESSOR.with_borrow_mut(|slot| {
        let d = match slot {
            Some(d) => d,
            None => slot.insert(
                Decompressor::with_prepared_dictionary(&DECODER_DICT)
                    .map_err(|e| format!("cannot start zstd: {e}"))?,
            ),
        };
        let mut out = Vec::with_capacity(len);
        let n = d
            .decompress_to_buffer(frame, &mut out)
            .map_err(|e| format!("stored body does not decompress: {e}"))?;
        if n != len {
            return Err(format!("stored body claims {len} bytes but holds {n}"));
        }
        Ok(out)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const TYPICAL: &[u8] = br#"{"actor":{"callerType":"USER"},"events":[{"type":"login","name":"login_success","parameters":[{"name":"login_type","value":"saml"},{"name":"login_challenge_method","multiValue":["password","security_key"]},{"name":"is_suspicious","boolValue":false}]}],"userAgent":"Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0","result":"success"}"#;

    #[test]
    fn bodies_round_trip_and_typical_ones_shrink() {
        let stored = encode(TYPICAL.to_vec());
        assert_eq!(stored[0], ZSTD_DICT_1);
        assert!(stored.len() * 3 < TYPICAL.len(), "{} bytes", stored.len());
        assert_eq!(decode(&stored).unwrap().as_ref(), TYPICAL);
        // Tiny bodies stay plain JSON, and plain JSON (schema 1 rows) reads as it is.
        let tiny = br#"{"a":1}"#.to_vec();
        assert_eq!(encode(tiny.clone()), tiny);
        assert_eq!(decode(&tiny).unwrap().as_ref(), &tiny[..]);
    }

    #[test]
    fn zstd_bodies_are_smaller_than_lz4_ones() {
        let mut lz4 = vec![0; lz4_flex::block::get_maximum_output_size(TYPICAL.len())];
        let n = lz4_flex::block::compress_into_with_dict(TYPICAL, &mut lz4, DICT_1).unwrap();
        let zstd = encode(TYPICAL.to_vec());
        assert!(
            zstd.len() < 5 + n,
            "zstd {} bytes, lz4 {}",
            zstd.len(),
            5 + n
        );
    }

    /// Tag 1 bodies, as every data directory written before tag 2 holds them, read forever.
    #[test]
    fn lz4_bodies_written_before_still_decode() {
        let mut blob = vec![0; 5 + lz4_flex::block::get_maximum_output_size(TYPICAL.len())];
        let n = lz4_flex::block::compress_into_with_dict(TYPICAL, &mut blob[5..], DICT_1).unwrap();
        blob[0] = LZ4_DICT_1;
        blob[1..5].copy_from_slice(&(TYPICAL.len() as u32).to_le_bytes());
        blob.truncate(5 + n);
        assert_eq!(decode(&blob).unwrap().as_ref(), TYPICAL);
        // A fixed tag-1 blob (not re-derived from lz4_flex today), so a change of the LZ4
        // crate that altered what it reads would fail here.
        let fixed = [
            1, 7, 0, 0, 0, 0x70, b'{', b'"', b'a', b'"', b':', b'1', b'}',
        ];
        assert_eq!(decode(&fixed).unwrap().as_ref(), br#"{"a":1}"#);
    }

    #[test]
    fn every_thread_encodes_alike() {
        let here = encode(TYPICAL.to_vec());
        let there = std::thread::spawn(|| encode(TYPICAL.to_vec()))
            .join()
            .unwrap();
        assert_eq!(here, there);
        assert_eq!(decode(&there).unwrap().as_ref(), TYPICAL);
    }

    #[test]
    fn corrupt_bodies_are_errors_not_panics() {
        assert!(decode(&[]).is_err());
        assert!(decode(&[9, 1, 2]).is_err());
        assert!(decode(&[LZ4_DICT_1, 255, 255, 255, 255, 0]).is_err());
        assert!(decode(&[LZ4_DICT_1, 50, 0, 0, 0, 0xff, 0xff]).is_err());
        assert!(decode(&[ZSTD_DICT_1]).is_err());
        assert!(decode(&[ZSTD_DICT_1, 1, 2, 3, 4, 5, 6]).is_err());
        // A valid frame cut short, and one whose content is flipped.
        let stored = encode(TYPICAL.to_vec());
        assert!(decode(&stored[..stored.len() - 3]).is_err());
        let mut flipped = stored.clone();
        let last = flipped.len() - 2;
        flipped[last] ^= 0x5a;
        let _ = decode(&flipped); // any answer but a panic
    }
}
