//! Webhook signatures the Standard Webhooks way (standardwebhooks.com, spec 1.0): the receiver
//! checks `webhook-signature` = `v1,` + base64(HMAC-SHA256(key, "{webhook-id}.{webhook-timestamp}.{body}"))
//! with any of the official libraries (`standardwebhooks` on PyPI, npm, crates.io, …).
//!
//! A secret is `whsec_` + base64 of 32 random bytes (the key is those bytes). While a rotation
//! overlaps, a delivery carries one signature per live secret, space-separated, so a receiver
//! holding either verifies it.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The prefix of a signing secret.
pub const SECRET_PREFIX: &str = "whsec_";

/// A new secret's text (shown to the subscriber once) and its key bytes.
pub fn new_secret() -> (String, [u8; 32]) {
    let key: [u8; 32] = rand::random();
    (format!("{SECRET_PREFIX}{}", STANDARD.encode(key)), key)
}

/// One `v1,` signature of a message.
pub fn sign(key: &[u8], msg_id: &str, timestamp_s: i64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(msg_id.as_bytes());
    mac.update(b".");
    mac.update(timestamp_s.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
}

/// The `webhook-signature` header: one signature per key, space-separated.
pub fn signature_header(keys: &[Vec<u8>], msg_id: &str, timestamp_s: i64, body: &[u8]) -> String {
    keys.iter()
        .map(|k| sign(k, msg_id, timestamp_s, body))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of the Standard Webhooks reference libraries (their test suites sign this
    /// message with this secret and expect this signature).
    #[test]
    fn matches_the_reference_libraries_vector() {
        let key = STANDARD.decode("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let sig = sign(
            &key,
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            br#"{"test": 2432232314}"#,
        );
        assert_eq!(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn secrets_are_prefixed_and_distinct() {
        let (a, ka) = new_secret();
        let (b, _) = new_secret();
        assert!(a.starts_with(SECRET_PREFIX) && a != b);
        assert_eq!(STANDARD.decode(&a[SECRET_PREFIX.len()..]).unwrap(), ka);
        let h = signature_header(&[ka.to_vec(), vec![1; 32]], "m", 1, b"{}");
        assert_eq!(h.split(' ').count(), 2);
    }
}
