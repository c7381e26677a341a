use sha2::{Digest, Sha256};

use super::*;

/// A Google Reports body as the stores compress it (actor e-mail, IP, session and eventId are
/// columns, not in the body).
const GOOGLE: &[u8] = br#"{"actor":{"callerType":"USER"},"events":[{"type":"login","name":"login_success","parameters":[{"name":"login_type","value":"saml"},{"name":"login_challenge_method","multiValue":["password","security_key"]},{"name":"is_suspicious","boolValue":false}]}],"userAgent":"Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0","result":"success"}"#;
/// A Logto body as the SQLite store compresses it.
const LOGTO: &[u8] = br#"{"actor":{"callerType":"USER"},"events":[{"type":"interaction_lifecycle","name":"Interaction.Create","parameters":[{"name":"interactionId","value":"int_9e3779b97f4a7c10"}]}],"userAgent":"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36","clientApplicationId":"app-android","result":"success"}"#;

/// What tag 2 wrote: zstd level 1 against dictionary 1 as raw content, prepared as tag 2's
/// encoder was.
fn tag_2(json: &[u8]) -> Vec<u8> {
    let dict = EncoderDictionary::copy(DICT_1, 1);
    let mut c = Compressor::with_prepared_dictionary(&dict).unwrap();
    let mut out = vec![ZSTD_DICT_1];
    out.extend(c.compress(json).unwrap());
    out
}

#[test]
fn both_vocabularies_round_trip_and_shrink() {
    for json in [GOOGLE, LOGTO] {
        let stored = encode(json.to_vec());
        assert_eq!(stored[0], ZSTD_DICT_2);
        assert!(stored.len() * 4 < json.len(), "{} bytes", stored.len());
        assert_eq!(decode(&stored).unwrap().as_ref(), json);
    }
    // Tiny bodies stay plain JSON, and plain JSON (schema 1 rows) reads as it is.
    let tiny = br#"{"a":1}"#.to_vec();
    assert_eq!(encode(tiny.clone()), tiny);
    assert_eq!(decode(&tiny).unwrap().as_ref(), &tiny[..]);
}

/// A body whose compressed frame is too long for the decoder's stack buffer.
#[test]
fn large_bodies_round_trip() {
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    let params: Vec<String> = (0..300)
        .map(|i| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            format!(r#"{{"name":"p{i}","value":"{x:016x}"}}"#)
        })
        .collect();
    let json = format!(
        r#"{{"events":[{{"name":"login_success","parameters":[{}]}}],"result":"success"}}"#,
        params.join(",")
    );
    let stored = encode(json.clone().into_bytes());
    assert_eq!(stored[0], ZSTD_DICT_2);
    assert!(stored.len() > 1000, "{} bytes", stored.len());
    assert_eq!(decode(&stored).unwrap().as_ref(), json.as_bytes());
}

#[test]
fn dictionary_2_bodies_are_smaller_than_dictionary_1_ones() {
    for json in [GOOGLE, LOGTO] {
        let now = encode(json.to_vec());
        let before = tag_2(json);
        assert!(
            now.len() * 3 < before.len() * 2,
            "tag 3 {} bytes, tag 2 {}",
            now.len(),
            before.len()
        );
    }
}

/// The dictionaries are part of the stored format: a changed file would make every row
/// written against it undecodable (or decode to something else). Never update these digests;
/// add a new dictionary under a new tag instead.
#[test]
fn dictionaries_never_change() {
    let hex = |d: &[u8]| {
        Sha256::digest(d)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    };
    assert_eq!(
        hex(DICT_1),
        "64c23cfc37a6187eadaedfb926b056d35ea1e88c87bc55042ad8cfc364cde849"
    );
    assert_eq!(
        hex(DICT_2),
        "4b43a9cf5b7d0795e833feab4f3f297c43802a8d739b0f98fb332c5b5dcf9d55"
    );
}

/// Tag 3 bodies as this version wrote them (fixed bytes, not re-derived today), so a change of
/// the dictionary or of the zstd crate that altered what they decode to fails here.
#[test]
fn tag_3_bodies_written_before_still_decode() {
    assert_eq!(decode(FIXED_GOOGLE_3).unwrap().as_ref(), GOOGLE);
    assert_eq!(decode(FIXED_LOGTO_3).unwrap().as_ref(), LOGTO);
}
const FIXED_GOOGLE_3: &[u8] = &[
    3, 96, 100, 0, 213, 0, 0, 32, 115, 97, 109, 108, 6, 252, 212, 99, 147, 4, 31, 118, 241, 65,
    247, 241, 54, 234, 171, 25, 142, 144, 131, 207, 1,
];
const FIXED_LOGTO_3: &[u8] = &[
    3, 96, 99, 0, 21, 1, 0, 3, 129, 2, 137, 165, 131, 171, 58, 143, 238, 156, 162, 30, 6, 252, 239,
    21, 218, 29, 81, 194, 19, 94, 117, 216, 204, 79, 131, 216, 112, 72, 112, 252, 11,
];

/// Tag 2 bodies, as every data directory written before tag 3 holds them, read forever.
#[test]
fn tag_2_bodies_written_before_still_decode() {
    for json in [GOOGLE, LOGTO] {
        assert_eq!(decode(&tag_2(json)).unwrap().as_ref(), json);
    }
    // A tag-2 body as tag 2's `encode` wrote it, kept as bytes.
    assert_eq!(decode(FIXED_GOOGLE_2).unwrap().as_ref(), GOOGLE);
}
const FIXED_GOOGLE_2: &[u8] = &[
    2, 40, 181, 47, 253, 96, 100, 0, 101, 1, 0, 80, 93, 125, 93, 44, 51, 50, 46, 48, 34, 44, 10, 0,
    103, 43, 41, 109, 144, 79, 64, 71, 216, 180, 64, 14, 112, 112, 12, 228, 36, 2, 176, 62, 1, 23,
    178, 133, 16, 126, 41, 96, 3, 132, 64,
];

/// Tag 1 bodies, as every data directory written before tag 2 holds them, read forever.
#[test]
fn lz4_bodies_written_before_still_decode() {
    let mut blob = vec![0; 5 + lz4_flex::block::get_maximum_output_size(GOOGLE.len())];
    let n = lz4_flex::block::compress_into_with_dict(GOOGLE, &mut blob[5..], DICT_1).unwrap();
    blob[0] = LZ4_DICT_1;
    blob[1..5].copy_from_slice(&(GOOGLE.len() as u32).to_le_bytes());
    blob.truncate(5 + n);
    assert_eq!(decode(&blob).unwrap().as_ref(), GOOGLE);
    // A fixed tag-1 blob (not re-derived from lz4_flex today), so a change of the LZ4
    // crate that altered what it reads would fail here.
    let fixed = [
        1, 7, 0, 0, 0, 0x70, b'{', b'"', b'a', b'"', b':', b'1', b'}',
    ];
    assert_eq!(decode(&fixed).unwrap().as_ref(), br#"{"a":1}"#);
}

#[test]
fn every_thread_encodes_alike() {
    let here = encode(GOOGLE.to_vec());
    let there = std::thread::spawn(|| encode(GOOGLE.to_vec()))
        .join()
        .unwrap();
    assert_eq!(here, there);
    assert_eq!(decode(&there).unwrap().as_ref(), GOOGLE);
}

#[test]
fn corrupt_bodies_are_errors_not_panics() {
    assert!(decode(&[]).is_err());
    assert!(decode(&[9, 1, 2]).is_err());
    assert!(decode(&[LZ4_DICT_1, 255, 255, 255, 255, 0]).is_err());
    assert!(decode(&[LZ4_DICT_1, 50, 0, 0, 0, 0xff, 0xff]).is_err());
    for tag in [ZSTD_DICT_1, ZSTD_DICT_2] {
        assert!(decode(&[tag]).is_err());
        assert!(decode(&[tag, 1, 2, 3, 4, 5, 6]).is_err());
        // Longer than the decoder's stack buffer.
        assert!(decode(&[[tag].as_slice(), &[0x5a; 600]].concat()).is_err());
    }
    // A tag-3 frame header claiming 5 GB of content (single segment, 8-byte size).
    let mut huge = vec![ZSTD_DICT_2, 0xe0];
    huge.extend_from_slice(&5_000_000_000u64.to_le_bytes());
    huge.extend_from_slice(&[1, 0, 0]);
    assert_eq!(
        decode(&huge).unwrap_err(),
        "stored body claims 5000000000 bytes"
    );
    // A valid frame cut short, and one whose content is flipped, of each zstd tag.
    for stored in [encode(GOOGLE.to_vec()), tag_2(GOOGLE)] {
        assert!(decode(&stored[..stored.len() - 3]).is_err());
        assert!(decode(&stored[..3]).is_err());
        let mut flipped = stored.clone();
        let last = flipped.len() - 2;
        flipped[last] ^= 0x5a;
        let _ = decode(&flipped); // any answer but a panic
    }
    // A tag-2 body read as tag 3 (and the reverse): another dictionary, never a panic.
    let mut swapped = tag_2(GOOGLE);
    swapped[0] = ZSTD_DICT_2;
    let _ = decode(&swapped);
}
