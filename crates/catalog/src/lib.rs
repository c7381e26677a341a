//! The event catalogue: every application, event type (category), event, typed parameter,
//! localized name and admin-console message template that authtrail knows.
//!
//! The built-in catalogue is a set of TOML files in the repository's `catalog/` folder, compiled into
//! the binary, so that a release always carries the vocabulary it was tested with. Users extend it
//! with files of the same format (see `catalog/SCHEMA.md`).
//!
//! Everything downstream asks the catalogue three questions: "which canonical event is this spelling
//! of?", "what does this event's parameter look like?" and "how is this event named and told in the
//! viewer's language?". Aliases exist because Logto's documentation and code spell some keys
//! differently (`JwtCustomizer.ClientCredential` vs `ClientCredentials`); every spelling resolves to
//! one canonical event so that a filter on either finds the same rows.

mod class;
mod file;
pub use class::{
    OCSF_ACCOUNT_CHANGE, OCSF_AUTHENTICATION, OCSF_BASE_EVENT, OCSF_OTHER, OcsfIds, Tag,
};
pub use file::is_event_name;
mod lang;
mod template;

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

pub use lang::{Lang, Localized};
pub use template::{placeholders, render};

/// The files compiled into the binary: (file name, contents).
const BUILTIN: &[(&str, &str)] = &[
    (
        "google-login.toml",
        include_str!("../../../catalog/google-login.toml"),
    ),
    ("logto.toml", include_str!("../../../catalog/logto.toml")),
    ("admin.toml", include_str!("../../../catalog/admin.toml")),
    (
        "detection.toml",
        include_str!("../../../catalog/detection.toml"),
    ),
];

/// A problem in a catalogue file, named by file so that a user's own file is easy to fix.
#[derive(Debug, thiserror::Error)]
#[error("catalogue file {file}: {message}")]
pub struct CatalogError {
    pub file: String,
    pub message: String,
}

/// How an application treats parameters its catalogue does not declare.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExtraParameters {
    /// Only declared parameters are accepted (Google's vocabulary is closed).
    Reject,
    /// Undeclared parameters are kept with the type they arrive in (Logto payloads are open).
    Allow,
}

/// The value type of a parameter, named after Google's `parameters[]` value fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamKind {
    String,
    Int64,
    Bool,
    MultiString,
    MultiInt64,
    Message,
    /// authtrail's extension for arbitrary JSON (Logto's nested payload fields), sent as `jsonValue`.
    Json,
}

impl ParamKind {
    /// The type's name as catalogue files spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            ParamKind::String => "string",
            ParamKind::Int64 => "int64",
            ParamKind::Bool => "bool",
            ParamKind::MultiString => "multi_string",
            ParamKind::MultiInt64 => "multi_int64",
            ParamKind::Message => "message",
            ParamKind::Json => "json",
        }
    }

    /// The JSON field that carries a value of this kind on the wire.
    pub fn wire_field(self) -> &'static str {
        match self {
            ParamKind::String => "value",
            ParamKind::Int64 => "intValue",
            ParamKind::Bool => "boolValue",
            ParamKind::MultiString => "multiValue",
            ParamKind::MultiInt64 => "multiIntValue",
            ParamKind::Message => "messageValue",
            ParamKind::Json => "jsonValue",
        }
    }
}

/// The result an event implies when its producer does not say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResultHint {
    Success,
    Failure,
}

#[derive(Debug, Clone)]
pub struct ParamDef {
    pub name: String,
    pub kind: ParamKind,
    /// The known values. Only a `closed` set refuses others; an open one (Google adds challenge
    /// methods without notice) stores them as sent, and ingest counts them in `/metrics`.
    pub values: Option<Vec<String>>,
    pub closed: bool,
    /// An int64 that is a time in microseconds since the Unix epoch (`unit = "microseconds"`).
    pub time_us: bool,
    pub names: Localized,
    /// Names of known values (`value_names`), for people; the value itself stays what is
    /// stored, filtered on and exported.
    pub value_names: BTreeMap<String, Localized>,
}

impl ParamDef {
    /// True when `value` is outside this parameter's known values (whether or not it is closed).
    pub fn is_unlisted(&self, value: &str) -> bool {
        self.values
            .as_ref()
            .is_some_and(|known| !known.iter().any(|k| k == value))
    }

    /// The name of a known value in `lang`, when the catalogue gives one.
    pub fn value_name(&self, value: &str, lang: Lang) -> Option<&str> {
        self.value_names.get(value).map(|n| n.get(lang))
    }
}

#[derive(Debug, Clone)]
pub struct EventType {
    pub id: String,
    pub names: Localized,
    /// What the type's events carry unless they say otherwise (`tags`, `untagged`, `ocsf`).
    pub(crate) defaults: Classification,
}

/// The classification a type or an event declares in its file, before inheritance.
#[derive(Debug, Clone, Default)]
pub(crate) struct Classification {
    /// `tags` and `untagged` come as a pair: an event that sets either takes neither from its
    /// type.
    pub tags: Option<(Vec<Tag>, Option<String>)>,
    pub ocsf: Option<OcsfIds>,
}

#[derive(Debug, Clone)]
pub struct EventDef {
    pub name: String,
    pub event_type: String,
    pub aliases: Vec<String>,
    pub parameters: Vec<String>,
    pub result: Option<ResultHint>,
    /// What the event means (`tags` in the file, or its type's): see [`Tag`].
    pub tags: Vec<Tag>,
    /// Why an event carries no tag (`untagged`), where it carries none.
    pub untagged: Option<String>,
    /// The OCSF class and activity: the event's own `ocsf`, else its type's, else what its tags
    /// imply; `None` when none of those says (a user's file may leave it out).
    pub ocsf: Option<OcsfIds>,
    pub(crate) declared: Classification,
    pub names: Localized,
    pub template: Localized,
    /// The message of a failed attempt, when `template` would read wrong for one.
    pub template_failure: Option<Localized>,
}

impl EventDef {
    pub fn has(&self, tag: Tag) -> bool {
        self.tags.contains(&tag)
    }

    /// The OCSF ids to emit: [`EventDef::ocsf`], or OCSF's Base Event / Other for an event the
    /// catalogue does not map.
    pub fn ocsf_ids(&self) -> OcsfIds {
        self.ocsf.unwrap_or(OcsfIds::BASE_EVENT)
    }

    /// The message template for an activity with this result.
    pub fn template_for(&self, failed: bool) -> &Localized {
        match (&self.template_failure, failed) {
            (Some(t), true) => t,
            _ => &self.template,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Application {
    pub name: String,
    pub extra_parameters: ExtraParameters,
    /// The event an unrecognised name is stored as (Logto's `Unknown`), the name kept as the
    /// parameter [`UNKNOWN_KEY_PARAMETER`]; `None`: an unrecognised name is refused.
    pub unknown_event: Option<String>,
    pub names: Localized,
    pub types: Vec<EventType>,
    pub parameters: BTreeMap<String, ParamDef>,
    pub events: Vec<EventDef>,
    /// Canonical names and aliases → index into `events`.
    lookup: HashMap<String, usize>,
}

/// The parameter that keeps the name an activity arrived with when it is stored as its
/// application's unknown event.
pub const UNKNOWN_KEY_PARAMETER: &str = "key";

impl Application {
    /// The event an unrecognised name is stored as, if this application keeps such names.
    pub fn unknown_event(&self) -> Option<&EventDef> {
        self.unknown_event.as_deref().and_then(|n| self.event(n))
    }

    /// Resolves a canonical name or an alias.
    pub fn event(&self, name: &str) -> Option<&EventDef> {
        self.lookup.get(name).map(|&i| &self.events[i])
    }

    pub fn event_type(&self, id: &str) -> Option<&EventType> {
        self.types.iter().find(|t| t.id == id)
    }

    /// The declared parameter `name` of `event`, if the event declares it.
    pub fn param_of(&self, event: &EventDef, name: &str) -> Option<&ParamDef> {
        if event.parameters.iter().any(|p| p == name) {
            self.parameters.get(name)
        } else {
            None
        }
    }

    /// Events of one type, in catalogue order.
    pub fn events_of_type<'a>(&'a self, type_id: &'a str) -> impl Iterator<Item = &'a EventDef> {
        self.events.iter().filter(move |e| e.event_type == type_id)
    }
}

/// The whole catalogue. Cheap to share behind an `Arc`; immutable once built.
#[derive(Debug, Clone)]
pub struct Catalog {
    apps: BTreeMap<String, Application>,
}

impl Catalog {
    /// The catalogue compiled into the binary.
    pub fn builtin() -> Result<Catalog, CatalogError> {
        Catalog::from_sources(BUILTIN.iter().map(|(n, s)| (n.to_string(), s.to_string())))
    }

    /// The built-in catalogue plus the user's own files.
    pub fn with_user_files(paths: &[impl AsRef<Path>]) -> Result<Catalog, CatalogError> {
        let mut sources: Vec<(String, String)> = BUILTIN
            .iter()
            .map(|(n, s)| (n.to_string(), s.to_string()))
            .collect();
        for path in paths {
            let path = path.as_ref();
            let text = std::fs::read_to_string(path).map_err(|e| CatalogError {
                file: path.display().to_string(),
                message: e.to_string(),
            })?;
            sources.push((path.display().to_string(), text));
        }
        Catalog::from_sources(sources)
    }

    /// Builds a catalogue from (file name, TOML text) pairs. Two files may describe the same
    /// application (a user file adding events to `logto`, say) but may not redefine an event.
    pub fn from_sources(
        sources: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Catalog, CatalogError> {
        let mut apps: BTreeMap<String, Application> = BTreeMap::new();
        for (file, text) in sources {
            let parsed = file::parse(&file, &text)?;
            match apps.get_mut(&parsed.name) {
                None => {
                    apps.insert(parsed.name.clone(), parsed);
                }
                Some(existing) => file::merge(&file, existing, parsed)?,
            }
        }
        for app in apps.values_mut() {
            file::index(app).map_err(|message| CatalogError {
                file: app.name.clone(),
                message,
            })?;
        }
        Ok(Catalog { apps })
    }

    /// Every event that carries `tag`, as (application, event), in catalogue order.
    pub fn events_with_tag(&self, tag: Tag) -> impl Iterator<Item = (&Application, &EventDef)> {
        self.apps.values().flat_map(move |a| {
            a.events
                .iter()
                .filter(move |e| e.has(tag))
                .map(move |e| (a, e))
        })
    }

    pub fn application(&self, name: &str) -> Option<&Application> {
        self.apps.get(name)
    }

    pub fn applications(&self) -> impl Iterator<Item = &Application> {
        self.apps.values()
    }

    /// Resolves `(application, any spelling)` to the canonical event.
    pub fn event(&self, app: &str, name: &str) -> Option<&EventDef> {
        self.apps.get(app)?.event(name)
    }

    /// Every application that has an event spelled `name`, with the canonical event. Used where a
    /// query names an event without naming its application.
    pub fn find_event_anywhere<'a>(
        &'a self,
        name: &'a str,
    ) -> impl Iterator<Item = (&'a Application, &'a EventDef)> + 'a {
        self.apps
            .values()
            .filter_map(move |a| a.event(name).map(|e| (a, e)))
    }
}
