//! Query-string parameters, decoded once. Duplicates follow Google's rule: the last value wins.

use std::collections::HashMap;
use std::net::IpAddr;

use authtrail_catalog::{Catalog, ParamKind};
use authtrail_model::filters::{self, ParamFilter};
use authtrail_model::wire_time::parse_rfc3339;

use crate::error::ApiError;

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

    pub fn ip(&self, name: &str) -> Result<Option<IpAddr>, ApiError> {
        self.get(name)
            .map(|v| {
                v.parse::<IpAddr>().map_err(|_| {
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

/// Parses a `filters` value and checks it against the catalogue: each clause's value must fit the
/// parameter's declared type (a bool compared with `maybe` is a mistake worth a 400).
pub fn parse_filters(
    catalog: &Catalog,
    app: Option<&str>,
    event_names: &[String],
    raw: &str,
    field: &str,
) -> Result<Vec<ParamFilter>, ApiError> {
    let parsed = filters::parse(raw).map_err(|m| ApiError::field(field, m))?;
    let apps: Vec<_> = match app {
        Some(a) => catalog.application(a).into_iter().collect(),
        None => catalog.applications().collect(),
    };
    for f in &parsed {
        for a in &apps {
            let defs = a
                .events
                .iter()
                .filter(|e| event_names.is_empty() || event_names.contains(&e.name));
            for ev in defs {
                let Some(def) = a.param_of(ev, &f.name) else {
                    continue;
                };
                let ok = match def.kind {
                    ParamKind::Bool => f.value == "true" || f.value == "false",
                    ParamKind::Int64 | ParamKind::MultiInt64 => f.value.parse::<i64>().is_ok(),
                    _ => true,
                };
                if !ok {
                    return Err(ApiError::field(
                        field,
                        format!(
                            "{}: {:?} does not fit the parameter's type ({})",
                            f.name,
                            f.value,
                            def.kind.as_str()
                        ),
                    ));
                }
            }
        }
    }
    Ok(parsed)
}

/// Resolves event names (any spelling) to canonical names, within `app` when given.
pub fn resolve_events(
    catalog: &Catalog,
    app: Option<&str>,
    raw: &str,
    field: &str,
) -> Result<Vec<String>, ApiError> {
    let mut out = Vec::new();
    for name in raw.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        let found: Vec<String> = match app {
            Some(a) => catalog
                .event(a, name)
                .map(|e| e.name.clone())
                .into_iter()
                .collect(),
            None => catalog
                .find_event_anywhere(name)
                .map(|(_, e)| e.name.clone())
                .collect(),
        };
        if found.is_empty() {
            let scope = app
                .map(|a| format!("application {a:?}"))
                .unwrap_or_else(|| "any application".into());
            return Err(ApiError::field(
                field,
                format!("{name:?} is not an event of {scope} in the catalogue"),
            ));
        }
        for f in found {
            if !out.contains(&f) {
                out.push(f);
            }
        }
    }
    Ok(out)
}
