//! Sealing: secrets that authtrail must use again (a webhook's signing secret, the cursor and
//! transparency-log signing keys, Logto webhook keys) are stored encrypted under a key that is
//! not in the database.
//!
//! A hash will not do for them (signing needs the secret itself), and storing them in clear
//! would let anyone who reads a backup or the database forge deliveries. The node's sealing key
//! comes from a file the operator names (`sealing_key_file`; the embedded default keeps one
//! beside the database file, readable by its owner only), so a copy of the database alone
//! reveals nothing.
//!
//! The cipher is XChaCha20-Poly1305 (random 192-bit nonces never repeat in practice), and the
//! owner of the secret (tenant and subscription) is authenticated as associated data, so a
//! sealed value copied into another subscription does not open.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};

use crate::error::ServiceError;

/// The prefix of a sealed value: the format's version.
const PREFIX: &str = "sealed.v1.";

/// A node's sealing key.
#[derive(Clone)]
pub struct SealingKey(Option<[u8; 32]>);

impl std::fmt::Debug for SealingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the key.
        f.write_str(if self.0.is_some() {
            "SealingKey(set)"
        } else {
            "SealingKey(none)"
        })
    }
}

impl SealingKey {
    pub fn new(key: [u8; 32]) -> SealingKey {
        SealingKey(Some(key))
    }

    /// No key: operations that must seal a secret are refused, naming the setting, and
    /// [`Service::open`](crate::Service::open) refuses to start.
    pub fn none() -> SealingKey {
        SealingKey(None)
    }

    /// Whether this node has a key.
    pub fn is_set(&self) -> bool {
        self.0.is_some()
    }

    /// Whether a stored value is sealed (by any key): sealed values are the text
    /// `sealed.v1.<base64>`. A 32-byte random secret stored in clear by an older version begins
    /// with those ten bytes with a probability of 2^-80.
    pub fn is_sealed(value: &[u8]) -> bool {
        value.starts_with(PREFIX.as_bytes())
    }

    /// The key file's content: 32 random bytes, written as 64 hex digits.
    pub fn parse_file(text: &str) -> Result<SealingKey, String> {
        let bytes = hex::decode(text.trim())
            .map_err(|_| "the sealing key file must hold 64 hex digits".to_string())?;
        let key: [u8; 32] = bytes
            .try_into()
            .map_err(|_| "the sealing key file must hold 64 hex digits (32 bytes)".to_string())?;
        Ok(SealingKey::new(key))
    }

    /// A fresh key, as [`parse_file`](Self::parse_file) reads it.
    pub fn generate_file() -> String {
        let key: [u8; 32] = rand::random();
        format!("{}\n", hex::encode(key))
    }

    fn cipher(&self) -> Result<XChaCha20Poly1305, ServiceError> {
        let key = self.0.ok_or_else(|| {
            ServiceError::Unavailable(
                "this node has no sealing key, so it cannot keep a signing secret: set \
                 sealing_key_file (AUTHTRAIL_SEALING_KEY_FILE) to the same key file on every node"
                    .into(),
            )
        })?;
        Ok(XChaCha20Poly1305::new(&key.into()))
    }

    /// Encrypts `secret` for `owner`.
    pub fn seal(&self, secret: &[u8], owner: &str) -> Result<String, ServiceError> {
        let cipher = self.cipher()?;
        let nonce: [u8; 24] = rand::random();
        let sealed = cipher
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: secret,
                    aad: owner.as_bytes(),
                },
            )
            .map_err(|_| ServiceError::internal("sealing failed"))?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        Ok(format!("{PREFIX}{}", STANDARD.encode(out)))
    }

    /// Decrypts what [`seal`](Self::seal) made for `owner`. Fails when the key differs (a node
    /// given another key file) or the value was altered or moved.
    pub fn open(&self, sealed: &str, owner: &str) -> Result<Vec<u8>, ServiceError> {
        let cipher = self.cipher()?;
        let bad = || {
            ServiceError::internal(
                "a sealed secret does not open with this node's sealing key (is \
                 sealing_key_file the same on every node?)",
            )
        };
        let raw = sealed
            .strip_prefix(PREFIX)
            .and_then(|b| STANDARD.decode(b).ok())
            .ok_or_else(bad)?;
        if raw.len() < 24 {
            return Err(bad());
        }
        let (nonce, body) = raw.split_at(24);
        cipher
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: body,
                    aad: owner.as_bytes(),
                },
            )
            .map_err(|_| bad())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_secrets_open_only_with_their_key_and_owner() {
        let key = SealingKey::parse_file(&SealingKey::generate_file()).unwrap();
        let sealed = key.seal(b"whsec-bytes", "t/sub_1").unwrap();
        assert!(!sealed.contains("whsec"), "the secret is not readable");
        assert_eq!(key.open(&sealed, "t/sub_1").unwrap(), b"whsec-bytes");
        assert!(
            key.open(&sealed, "t/sub_2").is_err(),
            "moved to another owner"
        );
        let other = SealingKey::parse_file(&SealingKey::generate_file()).unwrap();
        assert!(
            other.open(&sealed, "t/sub_1").is_err(),
            "another node's key"
        );
        // One character in the middle of the ciphertext changed (never a padding bit).
        let mid = sealed.len() / 2;
        let swap = if &sealed[mid..=mid] == "A" { "B" } else { "A" };
        let altered = format!("{}{swap}{}", &sealed[..mid], &sealed[mid + 1..]);
        assert!(key.open(&altered, "t/sub_1").is_err());
        assert!(matches!(
            SealingKey::none().seal(b"x", "o"),
            Err(ServiceError::Unavailable(_))
        ));
        assert!(SealingKey::parse_file("abc").is_err());
        assert_eq!(format!("{key:?}"), "SealingKey(set)");
    }
}
