//! Masking of secret-looking fields before anything is stored.
//!
//! A producer that forwards request payloads (Logto does) will sooner or later forward a password
//! or a token. An audit trail must not become the place where those leak from, so values under
//! secret-looking names are replaced with [`REDACTED`] at the edge. The rule follows Logto's: the
//! normalized name (lowercase, without `_` and `-`) ends in one of the [`SECRET_SUFFIXES`].
//! Boolean flags such as `hasPassword` or `isTokenValid` keep their value: they reveal no secret.

use serde_json::Value;

/// What a masked value is replaced with.
pub const REDACTED: &str = "******";

const SECRET_SUFFIXES: &[&str] = &[
    "password",
    "passwd",
    "secret",
    "token",
    "apikey",
    "privatekey",
    "credential",
    "credentials",
    "cookie",
    "authorization",
];

/// Is `name` the name of a field whose value must not be stored?
pub fn is_secret_name(name: &str) -> bool {
    let n: String = name
        .chars()
        .filter(|c| *c != '_' && *c != '-')
        .flat_map(char::to_lowercase)
        .collect();
    if n.starts_with("has") || n.starts_with("is") {
        return false;
    }
    SECRET_SUFFIXES.iter().any(|s| n.ends_with(s))
}

/// The stored form of a value under a secret-looking name: booleans and nulls reveal nothing
/// and stay; anything else becomes [`REDACTED`].
pub fn mask_value(v: &Value) -> Value {
    if v.is_boolean() || v.is_null() {
        v.clone()
    } else {
        Value::String(REDACTED.into())
    }
}

/// A copy of `v` with the values of secret-looking keys masked, at any depth. Booleans stay.
pub fn redact_json(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, v)| {
                    let v = if is_secret_name(k) {
                        mask_value(v)
                    } else {
                        redact_json(v)
                    };
                    (k.clone(), v)
                })
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(redact_json).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn secret_names_are_recognised() {
        for n in [
            "password",
            "newPassword",
            "client_secret",
            "accessToken",
            "refresh_token",
            "apiKey",
            "private-key",
            "credentials",
            "Cookie",
            "authorization",
            "x-api-key",
        ] {
            assert!(is_secret_name(n), "{n}");
        }
        for n in [
            "login_type",
            "tokenTypes",
            "hasPassword",
            "isTokenValid",
            "userId",
            "secretQuestionEdited",
        ] {
            assert!(!is_secret_name(n), "{n}");
        }
    }

    #[test]
    fn nested_secrets_are_masked_and_flags_kept() {
        let v = json!({"params": {"client_secret": "s3cr3t", "grant_type": "refresh_token",
                       "refresh_token": "rt-123", "hasPassword": true},
                       "list": [{"password": "p"}]});
        let r = redact_json(&v);
        assert_eq!(r["params"]["client_secret"], REDACTED);
        assert_eq!(r["params"]["refresh_token"], REDACTED);
        assert_eq!(r["params"]["grant_type"], "refresh_token");
        assert_eq!(r["params"]["hasPassword"], true);
        assert_eq!(r["list"][0]["password"], REDACTED);
    }
}
