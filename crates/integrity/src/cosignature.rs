//! C2SP witness cosignatures (`c2sp.org/tlog-cosignature`), Ed25519 type (`cosignature/v1`).
//!
//! A cosignature is a signature line appended to a checkpoint by a witness that checked the
//! checkpoint is consistent with every other it saw of that log:
//!
//! - key ID: `SHA-256(name || 0x0A || 0x04 || 32-byte public key)[:4]`; the witness's verifier
//!   key is a vkey of signature type 0x04;
//! - the line's blob: key ID || `timestamp` (u64, big-endian, POSIX seconds) || the Ed25519
//!   signature (64 bytes);
//! - the signed message: `cosignature/v1\ntime <timestamp>\n` followed by the checkpoint's whole
//!   note text (with its final newline, without any signature line).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::{Signature, Signer as _, SigningKey, Verifier as _, VerifyingKey};

use crate::note::{
    NoteError, format_vkey, parse_signature_line, parse_vkey, split_note, typed_key_id,
};

/// The signature type byte of Ed25519 cosignatures (`cosignature/v1`).
pub const COSIGNATURE_V1: u8 = 0x04;

/// Length of a cosignature line's blob: key ID, timestamp, signature.
const BLOB_LEN: usize = 4 + 8 + 64;

/// The message a `cosignature/v1` signature covers.
pub fn signed_message(text: &str, timestamp: u64) -> String {
    format!("cosignature/v1\ntime {timestamp}\n{text}")
}

/// A witness's public key with its name, as a log operator registers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CosignatureVerifier {
    name: String,
    key: VerifyingKey,
}

impl CosignatureVerifier {
    /// Reads a cosigner's verifier key `<name>+<hex key ID>+<base64(0x04 || key)>`.
    pub fn parse(vkey: &str) -> Result<CosignatureVerifier, NoteError> {
        let (name, key) = parse_vkey(vkey, COSIGNATURE_V1)?;
        Ok(CosignatureVerifier { name, key })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn key_id(&self) -> [u8; 4] {
        typed_key_id(&self.name, COSIGNATURE_V1, &self.key)
    }

    pub fn vkey(&self) -> String {
        format_vkey(&self.name, COSIGNATURE_V1, &self.key)
    }

    /// Whether a signature line is this cosigner's (by name and key ID), without checking it.
    pub fn is_signer_of(&self, line: &str) -> bool {
        parse_signature_line(line)
            .is_ok_and(|(name, blob)| name == self.name && blob[..4] == self.key_id())
    }

    /// Checks the cosignature `line` of the checkpoint note text `text` and returns its
    /// timestamp. [`NoteError::NotSigned`] when the line is another key's.
    pub fn verify(&self, text: &str, line: &str) -> Result<u64, NoteError> {
        let (name, blob) = parse_signature_line(line)?;
        if name != self.name || blob[..4] != self.key_id() {
            return Err(NoteError::NotSigned);
        }
        if blob.len() != BLOB_LEN {
            return Err(NoteError::Malformed(
                "a cosignature is key ID, timestamp and a 64-byte signature",
            ));
        }
        let timestamp = u64::from_be_bytes(blob[4..12].try_into().expect("8 bytes"));
        if timestamp > i64::MAX as u64 {
            return Err(NoteError::Malformed("the timestamp exceeds 2^63 - 1"));
        }
        let sig = Signature::from_slice(&blob[12..]).map_err(|_| NoteError::BadSignature)?;
        self.key
            .verify(signed_message(text, timestamp).as_bytes(), &sig)
            .map_err(|_| NoteError::BadSignature)?;
        Ok(timestamp)
    }
}

/// One trusted witness and the timestamp of its valid cosignature, or why there is none.
pub type WitnessCheck<'w> = (&'w CosignatureVerifier, Result<u64, NoteError>);

/// What a signed checkpoint `note` says of one witness a verifier trusts: the timestamp of its
/// valid cosignature, or why there is none ([`NoteError::NotSigned`] when the note carries no
/// line of that witness). A verifier counts the `Ok`s against its quorum: a cosignature of a
/// witness it does not trust is ignored, as C2SP signed notes ignore unknown keys.
pub fn check_cosignatures<'w>(
    note: &str,
    witnesses: &'w [CosignatureVerifier],
) -> Result<Vec<WitnessCheck<'w>>, NoteError> {
    let (text, lines) = split_note(note)?;
    Ok(witnesses
        .iter()
        .map(|w| {
            let found = lines
                .iter()
                .find(|l| w.is_signer_of(l))
                .map_or(Err(NoteError::NotSigned), |l| w.verify(text, l));
            (w, found)
        })
        .collect())
}

/// A witness's signing key: what a witness runs (authtrail's tests play one with it).
pub struct Cosigner {
    name: String,
    key: SigningKey,
}

impl Cosigner {
    pub fn new(name: &str, seed: &[u8; 32]) -> Result<Cosigner, NoteError> {
        // A vkey round trip checks the name as a key name.
        let key = SigningKey::from_bytes(seed);
        parse_vkey(
            &format_vkey(name, COSIGNATURE_V1, &key.verifying_key()),
            COSIGNATURE_V1,
        )?;
        Ok(Cosigner {
            name: name.to_string(),
            key,
        })
    }

    pub fn verifier(&self) -> CosignatureVerifier {
        CosignatureVerifier {
            name: self.name.clone(),
            key: self.key.verifying_key(),
        }
    }

    /// The cosignature line (without its newline) of the checkpoint note text `text`.
    pub fn cosign(&self, text: &str, timestamp: u64) -> String {
        let sig = self.key.sign(signed_message(text, timestamp).as_bytes());
        let mut blob = self.verifier().key_id().to_vec();
        blob.extend_from_slice(&timestamp.to_be_bytes());
        blob.extend_from_slice(&sig.to_bytes());
        format!("\u{2014} {} {}", self.name, B64.encode(blob))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::note::NoteSigner;

    const TEXT: &str =
        "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";

    #[test]
    fn the_signed_message_is_the_specifications() {
        assert_eq!(
            signed_message(TEXT, 1679315147),
            "cosignature/v1\ntime 1679315147\nexample.com/behind-the-sofa\n20852163\n\
             CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
        );
    }

    #[test]
    fn the_specifications_example_line_is_read() {
        // The example of c2sp.org/tlog-cosignature: its blob is key ID, timestamp, signature.
        let line = "\u{2014} witness.example.com/w1 jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrDJsX3b2oyin1nPZqhf5nNo0xUe+mbIUBkBIfZ+qnA==";
        let (name, blob) = parse_signature_line(line).unwrap();
        assert_eq!(name, "witness.example.com/w1");
        assert_eq!(blob.len(), BLOB_LEN);
        assert_eq!(
            u64::from_be_bytes(blob[4..12].try_into().unwrap()),
            1679315147
        );
    }

    #[test]
    fn cosignatures_verify_and_are_bound_to_text_time_and_key() {
        let w = Cosigner::new("witness.example/w1", &[4; 32]).unwrap();
        let v = CosignatureVerifier::parse(&w.verifier().vkey()).unwrap();
        assert_eq!(v, w.verifier());
        assert!(v.vkey().starts_with("witness.example/w1+"));
        let line = w.cosign(TEXT, 1700000000);
        assert!(v.is_signer_of(&line));
        assert_eq!(v.verify(TEXT, &line), Ok(1700000000));
        let other_text = TEXT.replace("20852163", "20852164");
        assert_eq!(v.verify(&other_text, &line), Err(NoteError::BadSignature));
        // The timestamp is signed: changing it breaks the signature.
        let (_, mut blob) = parse_signature_line(&line).unwrap();
        blob[11] ^= 1;
        let moved = format!("\u{2014} witness.example/w1 {}", B64.encode(&blob));
        assert_eq!(v.verify(TEXT, &moved), Err(NoteError::BadSignature));
        // Another witness's line is not this one's.
        let x = Cosigner::new("witness.example/w2", &[5; 32]).unwrap();
        assert_eq!(
            v.verify(TEXT, &x.cosign(TEXT, 1)),
            Err(NoteError::NotSigned)
        );
        // A note signer's key (type 0x01) is not a cosigner's key (type 0x04).
        let log = NoteSigner::new("witness.example/w1", &[4; 32]).unwrap();
        assert!(CosignatureVerifier::parse(&log.verifier().vkey()).is_err());
        let note_sig = log.sign(TEXT).unwrap();
        let note_line = note_sig.trim_end().rsplit('\n').next().unwrap();
        assert!(!v.is_signer_of(note_line), "key IDs differ by type");
    }

    #[test]
    fn a_note_is_checked_against_each_trusted_witness() {
        let log = NoteSigner::new("example.com/behind-the-sofa", &[1; 32]).unwrap();
        let (w1, w2) = (
            Cosigner::new("witness.example/w1", &[4; 32]).unwrap(),
            Cosigner::new("witness.example/w2", &[5; 32]).unwrap(),
        );
        let stranger = Cosigner::new("witness.example/x", &[6; 32]).unwrap();
        let note = format!(
            "{}{}\n{}\n",
            log.sign(TEXT).unwrap(),
            stranger.cosign(TEXT, 7),
            w1.cosign(TEXT, 1700000000)
        );
        let trusted = [w1.verifier(), w2.verifier()];
        let got = check_cosignatures(&note, &trusted).unwrap();
        assert_eq!(got[0].1, Ok(1700000000));
        assert_eq!(got[1].1, Err(NoteError::NotSigned));
        // A cosignature of another checkpoint, pasted under this one, does not verify.
        let forged = note.replace(
            &w1.cosign(TEXT, 1700000000),
            &w1.cosign(&TEXT.replace("20852163", "20852164"), 1700000000),
        );
        let got = check_cosignatures(&forged, &trusted).unwrap();
        assert_eq!(got[0].1, Err(NoteError::BadSignature));
        assert!(check_cosignatures("no signatures", &trusted).is_err());
    }
}
