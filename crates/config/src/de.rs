//! Value forms that the environment (everything is a string) and the file (typed TOML) share.

use serde::{Deserialize, Deserializer};

/// A list: a TOML array, or one comma-separated string (`AUTHTRAIL_CATALOG=a.toml,b.toml`, the
/// form the flags and variables always had).
pub fn comma_list<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: std::str::FromStr,
    T::Err: std::fmt::Display,
{
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Form {
        List(Vec<String>),
        One(String),
    }
    let items = match Form::deserialize(d)? {
        Form::List(v) => v,
        Form::One(s) => s
            .split(',')
            .map(|p| p.trim().to_string())
            .filter(|p| !p.is_empty())
            .collect(),
    };
    items
        .iter()
        .map(|s| {
            s.parse()
                .map_err(|e| serde::de::Error::custom(format!("{s:?}: {e}")))
        })
        .collect()
}

/// A switch: a TOML boolean, or the words clap always accepted from the environment (`true`,
/// `1`, `yes`, `on` and `false`, `0`, `no`, `off`, any case).
pub fn switch<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Form {
        Bool(bool),
        Int(i64),
        Word(String),
    }
    match Form::deserialize(d)? {
        Form::Bool(b) => Ok(b),
        Form::Int(0) => Ok(false),
        Form::Int(1) => Ok(true),
        Form::Int(n) => Err(serde::de::Error::custom(format!(
            "{n} is not a switch (true or false)"
        ))),
        Form::Word(w) => match w.to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "y" | "on" => Ok(true),
            "false" | "0" | "no" | "n" | "off" | "" => Ok(false),
            _ => Err(serde::de::Error::custom(format!(
                "{w:?} is not a switch (true or false)"
            ))),
        },
    }
}
