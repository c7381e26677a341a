//! Building a [`ServerConfig`] from its four layers, and saying clearly what is wrong and where.

use std::path::{Path, PathBuf};

use figment::providers::{Env, Format, Serialized, Toml};
use figment::{Figment, Metadata, Source};
use serde::de::{self, Deserializer, Visitor};

use crate::flags::Flags;
use crate::server::ServerConfig;

/// Every variable of the environment layer starts with this; the rest is the key in upper case.
pub const ENV_PREFIX: &str = "AUTHTRAIL_";

/// Variables that other parts of authtrail read (client commands, tests, the benchmark), so that
/// they are not reported as unknown.
const OTHER_VARS: &[&str] = &[
    "AUTHTRAIL_CONFIG",
    "AUTHTRAIL_TOKEN",
    "AUTHTRAIL_URL",
    "AUTHTRAIL_BIN",
    "AUTHTRAIL_TEST_POSTGRES_URL",
    "AUTHTRAIL_BENCH_POSTGRES",
];

/// A loaded configuration and what the log should say about it.
#[derive(Debug)]
pub struct Loaded {
    pub config: ServerConfig,
    /// `AUTHTRAIL_*` variables that nothing reads (a typo, or a setting from another version).
    pub warnings: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read the configuration file {}: {source}", path.display())]
    File {
        path: PathBuf,
        source: std::io::Error,
    },
    /// An unknown key, or a bad value; the message names the key and where it came from.
    #[error("{0}")]
    Invalid(String),
}

/// The keys of the file (the fields of [`ServerConfig`]).
pub fn keys() -> &'static [&'static str] {
    struct Probe<'a>(&'a mut &'static [&'static str]);
    impl<'de> Deserializer<'de> for Probe<'_> {
        type Error = de::value::Error;
        fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
            Err(de::Error::custom("not a struct"))
        }
        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _: &'static str,
            fields: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Self::Error> {
            *self.0 = fields;
            Err(de::Error::custom("only the field names were wanted"))
        }
        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
            option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier
            ignored_any
        }
    }
    let mut fields: &'static [&'static str] = &[];
    let _ = <ServerConfig as serde::Deserialize>::deserialize(Probe(&mut fields));
    fields
}

/// Loads the configuration: defaults, then `file` (if given), then the process environment,
/// then `flags`.
pub fn load(file: Option<&Path>, flags: &Flags) -> Result<Loaded, ConfigError> {
    let mut fig = Figment::from(Serialized::defaults(ServerConfig::default()));
    if let Some(path) = file {
        // figment skips a missing file silently; a file named on the command line must exist.
        if let Err(source) = std::fs::File::open(path) {
            return Err(ConfigError::File {
                path: path.to_path_buf(),
                source,
            });
        }
        fig = fig.merge(Toml::file_exact(path));
    }
    let fig = fig
        .merge(Env::prefixed(ENV_PREFIX).only(keys()))
        .merge(Serialized::defaults(flags));
    let config: ServerConfig = fig.extract().map_err(|e| {
        let all: Vec<String> = e.into_iter().map(|e| describe(&e)).collect();
        ConfigError::Invalid(all.join("; "))
    })?;
    if let Some((key, why)) = config.problems().into_iter().next() {
        let from = fig
            .find_metadata(key)
            .map_or_else(|| "the defaults".into(), |md| source(md, key));
        return Err(ConfigError::Invalid(format!("{key} (from {from}): {why}")));
    }
    Ok(Loaded {
        config,
        warnings: unknown_vars(std::env::vars_os().map(|(k, _)| k)),
    })
}

/// `AUTHTRAIL_*` variable names that no part of authtrail reads.
fn unknown_vars(names: impl Iterator<Item = std::ffi::OsString>) -> Vec<String> {
    let known = |name: &str| {
        OTHER_VARS.contains(&name)
            || name
                .strip_prefix(ENV_PREFIX)
                .is_some_and(|k| keys().iter().any(|f| f.eq_ignore_ascii_case(k)))
    };
    let mut out: Vec<String> = names
        .filter_map(|n| n.into_string().ok())
        .filter(|n| n.starts_with(ENV_PREFIX) && !known(n))
        .map(|n| format!("{n} is set, but authtrail reads no such variable (ignored)"))
        .collect();
    out.sort();
    out
}

/// Where a value came from, for messages.
fn source(md: &Metadata, key: &str) -> String {
    match &md.source {
        Some(Source::File(path)) => format!("the file {}", path.display()),
        _ if md.name.contains("environment") => {
            format!(
                "the environment variable {ENV_PREFIX}{}",
                key.to_uppercase()
            )
        }
        _ if md.name.contains("Flags") => format!("the flag --{}", key.replace('_', "-")),
        _ if md.name.contains("ServerConfig") => "the defaults".into(),
        _ => md.name.to_string(),
    }
}

fn describe(e: &figment::Error) -> String {
    use figment::error::Kind;
    let key = e.path.join(".");
    match (&e.kind, &e.metadata) {
        (Kind::UnknownField(field, _), Some(md)) => format!(
            "unknown key `{field}` in {} (known keys: {})",
            source(md, field),
            keys().join(", ")
        ),
        (Kind::UnknownField(field, _), None) => format!("unknown key `{field}`"),
        (kind, Some(md)) if key.is_empty() => format!("{}: {kind}", source(md, &key)),
        (kind, Some(md)) => format!("{key} (from {}): {kind}", source(md, &key)),
        (kind, None) => format!("{key}: {kind}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_list_is_the_struct() {
        let k = keys();
        assert!(
            k.contains(&"listen") && k.contains(&"trusted_proxies"),
            "{k:?}"
        );
        assert_eq!(k.len(), 31);
    }

    #[test]
    fn only_unread_variables_are_reported() {
        let names = [
            "AUTHTRAIL_MAX_BATCH",
            "AUTHTRAIL_TOKEN",
            "AUTHTRAIL_MAXBATCH",
            "PATH",
        ];
        let w = unknown_vars(names.iter().map(std::ffi::OsString::from));
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(w[0].starts_with("AUTHTRAIL_MAXBATCH "));
    }
}
