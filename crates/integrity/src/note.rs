//! C2SP signed notes (`c2sp.org/signed-note`) with Ed25519 keys: signing, verifier keys, and
//! verification.
//!
//! A note is a text ending in a newline, a blank line, then signature lines
//! `— <key name> base64(key ID || signature)`. The key ID is the first four bytes of
//! `SHA-256(key name || 0x0A || 0x01 || public key)`; the verifier key (vkey) is
//! `<key name>+<hex key ID>+base64(0x01 || public key)`.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::{Signature, Signer as _, SigningKey, Verifier as _, VerifyingKey};
use sha2::{Digest, Sha256};

/// The signature type byte of Ed25519 signatures.
const ED25519: u8 = 0x01;

/// At most this many signature lines are read (the spec asks verifiers to accept at least 16).
pub const MAX_SIGNATURES: usize = 64;

/// At most this many bytes of note are read.
pub const MAX_NOTE_BYTES: usize = 64 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoteError {
    #[error("key name {0:?} is empty or holds a space or a plus sign")]
    BadKeyName(String),
    #[error("the text must end in a newline and hold no control characters but newlines")]
    BadText,
    #[error("the verifier key is malformed: {0}")]
    BadVerifierKey(&'static str),
    #[error("the note is malformed: {0}")]
    Malformed(&'static str),
    #[error("a signature by the verifier key does not verify")]
    BadSignature,
    #[error("the note has no signature by the verifier key")]
    NotSigned,
}

fn check_name(name: &str) -> Result<(), NoteError> {
    if name.is_empty() || name.chars().any(|c| c.is_whitespace() || c == '+') {
        return Err(NoteError::BadKeyName(name.to_string()));
    }
    Ok(())
}

fn check_text(text: &str) -> Result<(), NoteError> {
    if !text.ends_with('\n') || text.chars().any(|c| c < ' ' && c != '\n') {
        return Err(NoteError::BadText);
    }
    Ok(())
}

/// The key ID of an Ed25519 key under a name.
pub fn key_id(name: &str, key: &VerifyingKey) -> [u8; 4] {
    typed_key_id(name, ED25519, key)
}

/// `SHA-256(name || 0x0A || type || public key)[:4]`: the key ID of a key of signature type
/// `kind` (0x01 for note signatures, 0x04 for Ed25519 cosignatures).
pub(crate) fn typed_key_id(name: &str, kind: u8, key: &VerifyingKey) -> [u8; 4] {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update([b'\n', kind]);
    h.update(key.as_bytes());
    let d = h.finalize();
    [d[0], d[1], d[2], d[3]]
}

/// Reads a verifier key `<name>+<hex key ID>+<base64(type || key)>` of an Ed25519 key of
/// signature type `kind`, checking the key ID.
pub(crate) fn parse_vkey(vkey: &str, kind: u8) -> Result<(String, VerifyingKey), NoteError> {
    let vkey = vkey.trim();
    let mut parts = vkey.splitn(3, '+');
    let (Some(name), Some(id), Some(key)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(NoteError::BadVerifierKey(
            "it needs three parts joined by +",
        ));
    };
    check_name(name)?;
    let id: [u8; 4] = hex::decode(id)
        .ok()
        .filter(|_| id.len() == 8)
        .and_then(|b| b.try_into().ok())
        .ok_or(NoteError::BadVerifierKey("the key ID is not 8 hex digits"))?;
    let key = B64
        .decode(key)
        .map_err(|_| NoteError::BadVerifierKey("the key is not base64"))?;
    let Some((&got, rest)) = key.split_first() else {
        return Err(NoteError::BadVerifierKey("the key is empty"));
    };
    if got != kind {
        return Err(NoteError::BadVerifierKey(if kind == ED25519 {
            "only Ed25519 keys (type 0x01) are known"
        } else {
            "only Ed25519 cosignature keys (type 0x04) are known"
        }));
    }
    let bytes: [u8; 32] = rest
        .try_into()
        .map_err(|_| NoteError::BadVerifierKey("an Ed25519 key is 32 bytes"))?;
    let key = VerifyingKey::from_bytes(&bytes)
        .map_err(|_| NoteError::BadVerifierKey("not an Ed25519 public key"))?;
    if typed_key_id(name, kind, &key) != id {
        return Err(NoteError::BadVerifierKey(
            "the key ID does not match name and key",
        ));
    }
    Ok((name.to_string(), key))
}

/// The vkey string of an Ed25519 key of signature type `kind`.
pub(crate) fn format_vkey(name: &str, kind: u8, key: &VerifyingKey) -> String {
    let mut k = vec![kind];
    k.extend_from_slice(key.as_bytes());
    format!(
        "{name}+{}+{}",
        hex::encode(typed_key_id(name, kind, key)),
        B64.encode(k)
    )
}

/// A signed note's text (with its final newline) and its signature lines (without newlines).
/// Checks the size, control characters and shape, not the signatures.
pub fn split_note(note: &str) -> Result<(&str, Vec<&str>), NoteError> {
    if note.len() > MAX_NOTE_BYTES {
        return Err(NoteError::Malformed("the note is too long"));
    }
    if note.chars().any(|c| c < ' ' && c != '\n') {
        return Err(NoteError::Malformed("it holds control characters"));
    }
    let split = note
        .rfind("\n\n")
        .ok_or(NoteError::Malformed("no blank line before the signatures"))?;
    let (text, sigs) = (&note[..split + 1], &note[split + 2..]);
    let sigs = sigs.strip_suffix('\n').ok_or(NoteError::Malformed(
        "the last signature line has no newline",
    ))?;
    let lines: Vec<&str> = sigs.split('\n').collect();
    if lines.len() > MAX_SIGNATURES {
        return Err(NoteError::Malformed("too many signatures"));
    }
    Ok((text, lines))
}

/// A signature line's key name and decoded blob (key ID first).
pub fn parse_signature_line(line: &str) -> Result<(&str, Vec<u8>), NoteError> {
    let rest = line.strip_prefix("\u{2014} ").ok_or(NoteError::Malformed(
        "a signature line does not start with an em dash",
    ))?;
    let (name, blob) = rest
        .split_once(' ')
        .ok_or(NoteError::Malformed("a signature line has no signature"))?;
    let blob = B64
        .decode(blob)
        .map_err(|_| NoteError::Malformed("a signature is not base64"))?;
    if blob.len() < 4 {
        return Err(NoteError::Malformed(
            "a signature is shorter than its key ID",
        ));
    }
    Ok((name, blob))
}

/// `text`, a blank line and one signature line per signer, in their order: during a key
/// rotation the log signs with its old and its new key, and a verifier that knows either one
/// finds its signature.
pub fn sign_note(text: &str, signers: &[NoteSigner]) -> Result<String, NoteError> {
    check_text(text)?;
    let mut note = format!("{text}\n");
    for s in signers {
        note.push_str(&s.signature_line(text));
        note.push('\n');
    }
    Ok(note)
}

/// An Ed25519 key with the name it signs under.
pub struct NoteSigner {
    name: String,
    key: SigningKey,
}

impl NoteSigner {
    /// `seed` is the 32-byte Ed25519 private key (RFC 8032).
    pub fn new(name: &str, seed: &[u8; 32]) -> Result<NoteSigner, NoteError> {
        check_name(name)?;
        Ok(NoteSigner {
            name: name.to_string(),
            key: SigningKey::from_bytes(seed),
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The Ed25519 public key of the private key `seed`.
    pub fn public_key(seed: &[u8; 32]) -> [u8; 32] {
        SigningKey::from_bytes(seed).verifying_key().to_bytes()
    }

    /// The matching verifier.
    pub fn verifier(&self) -> NoteVerifier {
        NoteVerifier {
            name: self.name.clone(),
            key: self.key.verifying_key(),
        }
    }

    /// The signed note: `text` (which must end in a newline), a blank line and the signature.
    pub fn sign(&self, text: &str) -> Result<String, NoteError> {
        check_text(text)?;
        Ok(format!("{text}\n{}\n", self.signature_line(text)))
    }

    /// The signature line of `text` (without its newline); `text` is not checked.
    fn signature_line(&self, text: &str) -> String {
        let sig = self.key.sign(text.as_bytes());
        let mut blob = key_id(&self.name, &self.key.verifying_key()).to_vec();
        blob.extend_from_slice(&sig.to_bytes());
        format!("\u{2014} {} {}", self.name, B64.encode(blob))
    }
}

/// A public key with its name: what a third party trusts to check notes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteVerifier {
    name: String,
    key: VerifyingKey,
}

impl NoteVerifier {
    /// The verifier of the Ed25519 public key `public` under `name`.
    pub fn from_public(name: &str, public: &[u8; 32]) -> Result<NoteVerifier, NoteError> {
        check_name(name)?;
        let key = VerifyingKey::from_bytes(public)
            .map_err(|_| NoteError::BadVerifierKey("not an Ed25519 public key"))?;
        Ok(NoteVerifier {
            name: name.to_string(),
            key,
        })
    }

    /// Reads a verifier key `<name>+<hex key ID>+<base64(0x01 || key)>`.
    pub fn parse(vkey: &str) -> Result<NoteVerifier, NoteError> {
        let (name, key) = parse_vkey(vkey, ED25519)?;
        Ok(NoteVerifier { name, key })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn key_id(&self) -> [u8; 4] {
        key_id(&self.name, &self.key)
    }

    /// The verifier key string.
    pub fn vkey(&self) -> String {
        format_vkey(&self.name, ED25519, &self.key)
    }

    /// Checks a signed note and returns its text. Signatures by other keys are ignored (they
    /// may be witnesses' or a rotated key's); one by this key must be present and valid.
    pub fn open<'n>(&self, note: &'n str) -> Result<&'n str, NoteError> {
        let (text, lines) = split_note(note)?;
        let id = self.key_id();
        let mut verified = false;
        for line in lines {
            let (name, blob) = parse_signature_line(line)?;
            if name != self.name || blob[..4] != id {
                continue;
            }
            let sig = Signature::from_slice(&blob[4..]).map_err(|_| NoteError::BadSignature)?;
            self.key
                .verify(text.as_bytes(), &sig)
                .map_err(|_| NoteError::BadSignature)?;
            verified = true;
        }
        if verified {
            Ok(text)
        } else {
            Err(NoteError::NotSigned)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of c2sp.org/signed-note ("Verifier keys"): this vkey verifies this note.
    const SPEC_VKEY: &str = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k";
    const SPEC_NOTE: &str = "This is an example message.\n\n\u{2014} example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n";

    #[test]
    fn the_specifications_example_verifies() {
        let v = NoteVerifier::parse(SPEC_VKEY).unwrap();
        assert_eq!(v.vkey(), SPEC_VKEY);
        assert_eq!(v.open(SPEC_NOTE).unwrap(), "This is an example message.\n");
        let tampered = SPEC_NOTE.replace("example message", "example massage");
        assert_eq!(v.open(&tampered), Err(NoteError::BadSignature));
    }

    #[test]
    fn signed_notes_verify_and_ignore_unknown_signers() {
        let s = NoteSigner::new("log.example/t", &[7; 32]).unwrap();
        let other = NoteSigner::new("witness.example/w", &[8; 32]).unwrap();
        let note = s.sign("hello\n").unwrap();
        let v = s.verifier();
        assert_eq!(NoteVerifier::parse(&v.vkey()).unwrap(), v);
        assert_eq!(v.open(&note).unwrap(), "hello\n");
        // A second signature by an unknown key is ignored.
        let cosig = other.sign("hello\n").unwrap();
        let both = format!("{note}{}", cosig.rsplit_once("\n\n").unwrap().1);
        assert_eq!(v.open(&both).unwrap(), "hello\n");
        assert_eq!(other.verifier().open(&note), Err(NoteError::NotSigned));
        // The same key under another name is another key.
        let renamed = NoteSigner::new("log.example/u", &[7; 32]).unwrap();
        assert_eq!(renamed.verifier().open(&note), Err(NoteError::NotSigned));
    }

    #[test]
    fn a_note_signed_by_two_keys_verifies_with_either() {
        let old = NoteSigner::new("log.example/t", &[7; 32]).unwrap();
        let new = NoteSigner::new("log.example/t", &[9; 32]).unwrap();
        assert_ne!(old.verifier().key_id(), new.verifier().key_id());
        let note = sign_note("hello\n", &[old, new]).unwrap();
        let old = NoteSigner::new("log.example/t", &[7; 32]).unwrap();
        let new = NoteSigner::new("log.example/t", &[9; 32]).unwrap();
        assert_eq!(old.verifier().open(&note).unwrap(), "hello\n");
        assert_eq!(new.verifier().open(&note).unwrap(), "hello\n");
        assert!(
            note.starts_with(&old.sign("hello\n").unwrap()),
            "the first key's line first"
        );
        let (text, lines) = split_note(&note).unwrap();
        assert_eq!((text, lines.len()), ("hello\n", 2));
    }

    #[test]
    fn bad_names_texts_and_keys_are_refused() {
        assert!(NoteSigner::new("a b", &[0; 32]).is_err());
        assert!(NoteSigner::new("a+b", &[0; 32]).is_err());
        let s = NoteSigner::new("n", &[1; 32]).unwrap();
        assert_eq!(s.sign("no newline"), Err(NoteError::BadText));
        assert_eq!(s.sign("tab\there\n"), Err(NoteError::BadText));
        let vkey = s.verifier().vkey();
        let wrong_id = format!("n+00000000+{}", vkey.rsplit('+').next().unwrap());
        assert!(NoteVerifier::parse(&wrong_id).is_err());
        assert!(NoteVerifier::parse("n+zz+AA==").is_err());
        assert!(NoteVerifier::parse("just-a-name").is_err());
    }
}
