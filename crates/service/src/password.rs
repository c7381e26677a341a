//! Console passwords: argon2id with the crate's default (OWASP-recommended) parameters, stored as
//! a PHC string that carries its own salt and parameters.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};

/// Shortest and longest password accepted (longer ones only cost hashing time).
pub const MIN_LEN: usize = 8;
pub const MAX_LEN: usize = 256;

/// Hashes a new password; refuses one outside the length limits.
pub fn hash(password: &str) -> Result<String, String> {
    let n = password.chars().count();
    if n < MIN_LEN || password.len() > MAX_LEN {
        return Err(format!(
            "a password must have at least {MIN_LEN} characters and at most {MAX_LEN} bytes"
        ));
    }
    let salt_bytes: [u8; 16] = rand::random();
    let salt =
        SaltString::encode_b64(&salt_bytes).map_err(|e| format!("cannot make a salt: {e}"))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| format!("cannot hash the password: {e}"))
}

/// Checks a password against a stored PHC string (constant time inside argon2).
pub fn verify(password: &str, phc: &str) -> bool {
    if password.len() > MAX_LEN {
        return false;
    }
    match PasswordHash::new(phc) {
        Ok(h) => Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok(),
        Err(_) => false,
    }
}

/// A hash no password matches, verified when the username is unknown so that a wrong username
/// costs the same time as a wrong password (no user enumeration by timing).
pub fn decoy() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| hash("decoy password that nobody has").expect("fixed length is valid"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_and_carry_their_salt() {
        let h = hash("correct horse battery").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify("correct horse battery", &h));
        assert!(!verify("correct horse batterz", &h));
        assert_ne!(hash("correct horse battery").unwrap(), h, "salted");
        assert!(!verify("x", "not a phc string"));
        assert!(hash("short").is_err());
        assert!(hash(&"x".repeat(MAX_LEN + 1)).is_err());
    }
}
