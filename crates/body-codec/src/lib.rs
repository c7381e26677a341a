//! How an activity body is stored: its JSON, compressed against a preset dictionary.
//!
//! Bodies are small (a few hundred bytes) and alike: the same keys, event names and user agents
//! again and again. Alone each compresses poorly; against a dictionary of those common fragments
//! it shrinks several-fold.
//!
//! Format: the first byte says how the rest is stored.
//! - `{`: plain JSON (schema 1 rows, and bodies that would not shrink).
//! - [`LZ4_DICT_1`]: the JSON's length as a little-endian u32, then the LZ4 block compressed
//!   against `body-dict-1.txt`. Written until tag 2 replaced it; still read.
//! - [`ZSTD_DICT_1`]: one zstd frame (it carries the JSON's length) compressed against the same
//!   `body-dict-1.txt` as a raw-content dictionary. Written until tag 3 replaced it; still read.
//! - [`ZSTD_DICT_2`]: one zstd frame compressed against `body-dict-2.zstd`, stored without the
//!   frame's 4-byte magic number (the tag says what it is) and without a dictionary id. What
//!   [`encode`] writes.
//!
//! A dictionary is part of the format: once committed it never changes, or every row written
//! against it becomes unreadable (the tests pin each file's SHA-256); a better one gets a new tag
//! and a new file, and the old tags keep decoding, since rows are never rewritten.
//!
//! Why zstd: LZ4 (lz4_flex) has no way to keep a dictionary-primed state, so it hashed the
//! 2.3 KB dictionary again and zeroed its 16 KiB table for every body, several times the work
//! of compressing the body itself. zstd digests the dictionary once into a prepared
//! [`EncoderDictionary`] shared by every thread, and each thread reuses one compression context,
//! so a body costs only its own bytes.
//!
//! Why dictionary 2: dictionary 1 is raw content (common fragments) without entropy tables, so
//! zstd built its FSE tables again for every body (from the default distributions), about half
//! of a body's compression instructions. Dictionary 2 is trained by zstd's trainer on bodies as
//! the stores compress them, both vocabularies (`authtrail-train-body-dict` in `crates/bench`
//! reproduces it byte for byte); it carries entropy tables, which zstd reuses for every body
//! whatever its text, and content learned from the samples. Those samples are the synthetic demo
//! workload, so a real tenant's bodies shrink less than the benchmark's do.
//! docs/performance.md ("Issue #18, part 3") has the figures.

use std::borrow::Cow;
use std::cell::RefCell;
use std::io::Cursor;
use std::sync::LazyLock;
use std::thread::LocalKey;

use zstd::bulk::{Compressor, Decompressor};
use zstd::dict::{DecoderDictionary, EncoderDictionary};
use zstd::zstd_safe::CParameter;

/// Tag of a body LZ4-compressed against dictionary 1 (read only).
const LZ4_DICT_1: u8 = 1;
/// Tag of a body zstd-compressed against dictionary 1 (read only).
const ZSTD_DICT_1: u8 = 2;
/// Tag of a body zstd-compressed against dictionary 2, its frame without the magic number.
const ZSTD_DICT_2: u8 = 3;
/// Frozen: see the module doc.
const DICT_1: &[u8] = include_bytes!("body-dict-1.txt");
/// Frozen: trained once by `authtrail-train-body-dict`, never retrained in place (a new
/// dictionary is a new file and a new tag).
const DICT_2: &[u8] = include_bytes!("body-dict-2.zstd");
/// The 4 bytes every zstd frame starts with; tag 3 leaves them out and puts them back to decode.
const ZSTD_MAGIC: [u8; 4] = 0xFD2F_B528u32.to_le_bytes();
/// The compression buffer a thread keeps between bodies; typical bodies need well under 1 KiB.
const SCRATCH_KEPT: usize = 64 * 1024;
/// Larger than any body validation lets through: a corrupt length cannot make us allocate more.
const MAX_BODY: usize = 4 * 1024 * 1024;
/// zstd level of [`ZSTD_DICT_2`] bodies. Not part of the format (any level decodes alike).
/// Against this dictionary level 3 (double-fast matching) stores about 5 % fewer bytes than
/// level 1 for no more instructions per body (docs/performance.md, issue #18 part 3).
const LEVEL: i32 = 3;

static ENCODER_DICT_2: LazyLock<EncoderDictionary<'static>> =
    LazyLock::new(|| EncoderDictionary::copy(DICT_2, LEVEL));
static DECODER_DICT_1: LazyLock<DecoderDictionary<'static>> =
    LazyLock::new(|| DecoderDictionary::copy(DICT_1));
static DECODER_DICT_2: LazyLock<DecoderDictionary<'static>> =
    LazyLock::new(|| DecoderDictionary::copy(DICT_2));

/// A thread's compression context and the buffer it compresses into.
struct Encoder {
    compressor: Compressor<'static>,
    scratch: Vec<u8>,
}

type Decoder = RefCell<Option<Decompressor<'static>>>;

thread_local! {
    // One context per thread and dictionary (contexts are not shareable), created on first use
    // and reused: creating one allocates and clears several hundred KiB.
    static ENCODER: RefCell<Option<Encoder>> = const { RefCell::new(None) };
    static DECOMPRESSOR_1: Decoder = const { RefCell::new(None) };
    static DECOMPRESSOR_2: Decoder = const { RefCell::new(None) };
}

fn new_encoder() -> Result<Encoder, std::io::Error> {
    let mut compressor = Compressor::with_prepared_dictionary(&ENCODER_DICT_2)?;
    // The tag already names the dictionary: its id would cost 4 bytes per body.
    compressor.set_parameter(CParameter::DictIdFlag(false))?;
    Ok(Encoder {
        compressor,
        scratch: Vec::new(),
    })
}

/// The stored form of a body's JSON.
pub fn encode(json: Vec<u8>) -> Vec<u8> {
    ENCODER.with_borrow_mut(|slot| {
        let enc = match slot {
            Some(e) => e,
            None => match new_encoder() {
                Ok(e) => slot.insert(e),
                Err(_) => return json,
            },
        };
        // Compressed into the thread's scratch buffer, then copied without the magic number
        // into a body of exactly its size (a few dozen bytes, where the bound is hundreds).
        enc.scratch.clear();
        enc.scratch
            .reserve(zstd::zstd_safe::compress_bound(json.len()));
        let mut cursor = Cursor::new(std::mem::take(&mut enc.scratch));
        let packed = enc.compressor.compress_to_buffer(&json[..], &mut cursor);
        enc.scratch = cursor.into_inner();
        let stored = match packed {
            Ok(n) if n > 4 && enc.scratch[..4] == ZSTD_MAGIC && n - 3 < json.len() => {
                let mut out = Vec::with_capacity(n - 3);
                out.push(ZSTD_DICT_2);
                out.extend_from_slice(&enc.scratch[4..n]);
                out
            }
            _ => json,
        };
        // A rare large body must not leave megabytes behind in every thread that saw one.
        if enc.scratch.capacity() > SCRATCH_KEPT {
            enc.scratch = Vec::new();
        }
        stored
    })
}

/// The JSON of a stored body.
pub fn decode(blob: &[u8]) -> Result<Cow<'_, [u8]>, String> {
    match blob.first() {
        Some(b'{') => Ok(Cow::Borrowed(blob)),
        Some(&ZSTD_DICT_2) => {
            // The frame with its magic number put back: on the stack for the usual few dozen
            // bytes, so a read allocates only the JSON it returns.
            let rest = &blob[1..];
            let mut small = [0u8; 256];
            let mut large = Vec::new();
            let frame: &[u8] = if rest.len() + 4 <= small.len() {
                small[..4].copy_from_slice(&ZSTD_MAGIC);
                small[4..4 + rest.len()].copy_from_slice(rest);
                &small[..4 + rest.len()]
            } else {
                large.extend_from_slice(&ZSTD_MAGIC);
                large.extend_from_slice(rest);
                &large
            };
            decode_zstd(frame, &DECODER_DICT_2, &DECOMPRESSOR_2).map(Cow::Owned)
        }
        Some(&ZSTD_DICT_1) => {
            decode_zstd(&blob[1..], &DECODER_DICT_1, &DECOMPRESSOR_1).map(Cow::Owned)
        }
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

fn decode_zstd(
    frame: &[u8],
    dict: &'static LazyLock<DecoderDictionary<'static>>,
    context: &'static LocalKey<Decoder>,
) -> Result<Vec<u8>, String> {
    let len = match zstd::zstd_safe::get_frame_content_size(frame) {
        Ok(Some(n)) if n <= MAX_BODY as u64 => n as usize,
        Ok(Some(n)) => return Err(format!("stored body claims {n} bytes")),
        Ok(None) | Err(_) => return Err("stored body has no valid zstd frame header".into()),
    };
    context.with_borrow_mut(|slot| {
        let d = match slot {
            Some(d) => d,
            None => slot.insert(
                Decompressor::with_prepared_dictionary(dict)
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
mod tests;
