//! User-agent strings, parsed: browser, OS, device, engine and CPU.
//!
//! Logto stores `userAgentParsed` beside `userAgent` in every log, the result of ua-parser-js
//! (`{ua, browser: {name, version, major}, engine: {name, version}, os: {name, version},
//! device: {vendor, model}, cpu: {architecture}}`, parts it cannot tell left out). authtrail
//! stores only the string and parses it when it shows a log, so that a better data set improves
//! old events too and no event pays bytes for it.
//!
//! - Browser, OS and device come from the ua-parser project's data set (uap-core, pinned and
//!   converted by `scripts/uap-core/run.sh`, committed as `data/uap-core.json` with its licence),
//!   matched by the project's own Rust implementation (`ua-parser`). Names are uap-core's, which
//!   differ from ua-parser-js's here and there ("Mac OS X" for "Mac OS", "Chrome Mobile" for
//!   "Chrome" on Android); docs/logto.md lists what differs.
//! - Engine and CPU are not in uap-core; they come from `user-agent-parser`'s built-in patterns,
//!   which follow ua-parser-js.
//!
//! Parsing costs tens of microseconds against ~1,000 expressions, and a tenant's user agents
//! repeat, so results are cached by string (bounded). The expressions compile once, at first use
//! (a quarter of a second): [`warm`] does it ahead of the first request.

use std::sync::{Arc, LazyLock};

use serde::Serialize;
use serde_json::Value;

/// The data set: uap-core's three lists of expressions.
const UAP_CORE: &str = include_str!("../data/uap-core.json");
/// Longer strings are parsed by their first this-many bytes: no browser puts what identifies it
/// further out, and the expressions' cost grows with the input.
const MAX_PARSED: usize = 1024;
/// Distinct user agents kept parsed.
const CACHE_ENTRIES: usize = 4096;

struct Parsers {
    uap: ua_parser::Extractor<'static>,
    engine_cpu: user_agent_parser::UserAgentParser,
}

static PARSERS: LazyLock<Parsers> = LazyLock::new(|| {
    // Both inputs are compiled in and tested (`the_data_set_loads`), so failure is a build defect.
    let regexes: ua_parser::Regexes<'static> =
        serde_json::from_str(UAP_CORE).expect("data/uap-core.json is uap-core's regexes");
    let uap = ua_parser::Extractor::try_from(regexes).expect("uap-core's regexes compile");
    // An empty source: no product, OS or device patterns (uap-core has those), and the built-in
    // engine and CPU patterns.
    let engine_cpu = user_agent_parser::UserAgentParser::from_str("{}")
        .expect("an empty source keeps the built-in patterns");
    Parsers { uap, engine_cpu }
});

static CACHE: LazyLock<quick_cache::sync::Cache<Box<str>, Arc<UserAgent>>> =
    LazyLock::new(|| quick_cache::sync::Cache::new(CACHE_ENTRIES));

/// Compiles the expressions now rather than at the first parse.
pub fn warm() {
    LazyLock::force(&PARSERS);
}

/// What a user-agent string says, each part only where the data set recognises it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct UserAgent {
    pub browser: Browser,
    pub engine: Engine,
    pub os: Os,
    pub device: Device,
    pub cpu: Cpu,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Browser {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub major: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Engine {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Os {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Device {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vendor: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Cpu {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub architecture: Option<String>,
}

impl UserAgent {
    /// Whether nothing at all was recognised (a script, a made-up string).
    pub fn is_empty(&self) -> bool {
        self == &UserAgent::default()
    }

    /// Logto's `userAgentParsed` for the string `ua`: this, with the string itself as `ua`, as
    /// ua-parser-js's result has it.
    pub fn logto_json(&self, ua: &str) -> Value {
        let mut v = serde_json::to_value(self).unwrap_or(Value::Null);
        if let Value::Object(o) = &mut v {
            o.insert("ua".into(), Value::String(ua.into()));
        }
        v
    }
}

/// One line for people: "Chrome 131.0.0.0 · Windows 10 · Apple iPhone · Blink 131.0.0 · amd64",
/// the parts that are known, in that order; empty when none is. Names and versions only, so
/// it reads the same in every language.
impl std::fmt::Display for UserAgent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let named = |name: &Option<String>, version: &Option<String>| {
            name.as_ref().map(|n| match version {
                Some(v) => format!("{n} {v}"),
                None => n.clone(),
            })
        };
        let parts = [
            named(&self.browser.name, &self.browser.version),
            named(&self.os.name, &self.os.version),
            named(&self.device.vendor, &self.device.model).or_else(|| self.device.model.clone()),
            named(&self.engine.name, &self.engine.version),
            self.cpu.architecture.clone(),
        ];
        let parts: Vec<String> = parts.into_iter().flatten().collect();
        f.write_str(&parts.join(" · "))
    }
}

/// Parses a user-agent string (cached).
pub fn parse(ua: &str) -> Arc<UserAgent> {
    if let Some(hit) = CACHE.get(ua) {
        return hit;
    }
    let parsed = Arc::new(parse_uncached(prefix(ua)));
    CACHE.insert(ua.into(), parsed.clone());
    parsed
}

fn prefix(ua: &str) -> &str {
    if ua.len() <= MAX_PARSED {
        return ua;
    }
    let mut end = MAX_PARSED;
    while !ua.is_char_boundary(end) {
        end -= 1;
    }
    &ua[..end]
}

/// uap-core's name for "not recognised".
fn known(name: &str) -> Option<String> {
    (!name.is_empty() && name != "Other").then(|| name.to_string())
}

/// `major.minor.patch…` from whichever leading parts are present.
fn dotted<'a>(parts: impl IntoIterator<Item = Option<&'a str>>) -> Option<String> {
    let parts: Vec<&str> = parts
        .into_iter()
        .map_while(|p| p.filter(|p| !p.is_empty()))
        .collect();
    (!parts.is_empty()).then(|| parts.join("."))
}

fn parse_uncached(ua: &str) -> UserAgent {
    let p = &*PARSERS;
    let (browser, os, device) = p.uap.extract(ua);
    let mut out = UserAgent::default();
    if let Some(b) = browser.filter(|b| known(&b.family).is_some()) {
        out.browser = Browser {
            name: known(&b.family),
            version: dotted([b.major, b.minor, b.patch, b.patch_minor]),
            major: b.major.map(str::to_string),
        };
    }
    if let Some(o) = os.filter(|o| known(&o.os).is_some()) {
        out.os = Os {
            name: known(&o.os),
            version: dotted([
                o.major.as_deref(),
                o.minor.as_deref(),
                o.patch.as_deref(),
                o.patch_minor.as_deref(),
            ]),
        };
    }
    if let Some(d) = device.filter(|d| known(&d.device).is_some()) {
        out.device = Device {
            vendor: d.brand.as_deref().and_then(known),
            model: d.model.as_deref().and_then(known),
        };
    }
    let engine = p.engine_cpu.parse_engine(ua);
    if let Some(name) = engine.name.as_deref().and_then(known) {
        out.engine = Engine {
            name: Some(name),
            version: engine.version().map(|v| v.into_owned()),
        };
    }
    out.cpu.architecture = p
        .engine_cpu
        .parse_cpu(ua)
        .architecture
        .as_deref()
        .and_then(known);
    out
}

#[cfg(test)]
mod tests;
