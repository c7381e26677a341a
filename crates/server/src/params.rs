//! Query-string parameters, decoded once. Duplicates follow Google's rule: the last value wins.
//! Names are resolved against the catalogue by `authtrail_service::query`.

use std::collections::HashMap;
use std::net::IpAddr;

use authtrail_model::wire_time::parse_rfc3339;

use crate::error::ApiError;

/// True when every `%` in `raw` starts an escape of two hex digits.
pub fn escapes_are_valid(raw: &str) -> bool {
    let b = raw.as_bytes();
    b.iter().enumerate().all(|(i, &c)| {
        c != b'%'
            || (b.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
                && b.get(i + 2).is_some_and(u8::is_ascii_hexdigit))
    })
}

/// Longest query string read, in bytes.
pub const MAX_QUERY_BYTES: usize = 8 * 1024;

pub struct Params {
    map: HashMap<String, String>,
}

impl Params {
    pub fn parse(raw: Option<&str>) -> Result<Params, ApiError> {
        let raw = raw.unwrap_or("");
        if raw.len() > MAX_QUERY_BYTES {
            return Err(ApiError::TooLarge {
                field: "query".into(),
                message: format!("the query string is longer than {MAX_QUERY_BYTES} bytes"),
            });
        }
        // form_urlencoded passes a malformed escape (`%ZZ`) through as text; refuse it instead,
        // naming the parameter it is in.
        if let Some(bad) = raw.split('&').find(|pair| !escapes_are_valid(pair)) {
            let name = bad.split('=').next().unwrap_or(bad);
            let name = form_urlencoded::parse(name.as_bytes())
                .next()
                .map_or_else(|| name.to_string(), |(k, _)| k.into_owned());
            return Err(ApiError::field(
                &name,
                "holds a malformed percent-escape (a % must be followed by two hex digits)",
            ));
        }
        let mut map = HashMap::new();
        for (k, v) in form_urlencoded::parse(raw.as_bytes()) {
            if v.contains('\u{FFFD}') || k.contains('\u{FFFD}') {
                return Err(ApiError::field(&k, "is not valid percent-encoded UTF-8"));
            }
            if v.contains('\0') {
                return Err(ApiError::field(&k, "contains a NUL character"));
            }
            map.insert(k.into_owned(), v.into_owned());
        }
        Ok(Params { map })
    }

    /// Refuses parameters outside `known` (the native API is strict, so a typo is not ignored).
    pub fn only(&self, known: &[&str]) -> Result<(), ApiError> {
        let mut unknown: Vec<&String> = self
            .map
            .keys()
            .filter(|k| !known.contains(&k.as_str()))
            .collect();
        unknown.sort();
        match unknown.first() {
            None => Ok(()),
            Some(k) => Err(ApiError::field(
                k,
                format!(
                    "is not a parameter of this endpoint (known: {})",
                    known.join(", ")
                ),
            )),
        }
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.map
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    pub fn time(&self, name: &str) -> Result<Option<i64>, ApiError> {
        self.get(name)
            .map(|v| parse_rfc3339(v).map_err(|m| ApiError::field(name, m)))
            .transpose()
    }

    /// An address, canonical as stored: an IPv4-mapped IPv6 address is the IPv4 address.
    pub fn ip(&self, name: &str) -> Result<Option<IpAddr>, ApiError> {
        self.get(name)
            .map(|v| {
                v.parse::<IpAddr>()
                    .map(|ip| ip.to_canonical())
                    .map_err(|_| {
                        ApiError::field(name, format!("{v:?} is not an IPv4 or IPv6 address"))
                    })
            })
            .transpose()
    }

    pub fn int_in(&self, name: &str, min: i64, max: i64) -> Result<Option<i64>, ApiError> {
        self.get(name)
            .map(|v| match v.parse::<i64>() {
                Ok(n) if (min..=max).contains(&n) => Ok(n),
                _ => Err(ApiError::field(
                    name,
                    format!("{v:?} must be a whole number from {min} to {max}"),
                )),
            })
            .transpose()
    }

    pub fn bounded(&self, name: &str, max: usize) -> Result<Option<&str>, ApiError> {
        match self.get(name) {
            Some(v) if v.len() > max => {
                Err(ApiError::field(name, format!("is longer than {max} bytes")))
            }
            other => Ok(other),
        }
    }
}
