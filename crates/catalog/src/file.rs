//! Reading one catalogue file (the format in `catalog/SCHEMA.md`) and checking it.

use std::collections::{BTreeMap, HashMap};

use serde::Deserialize;

use crate::class::check_tags;
use crate::template::placeholders;
use crate::{
    Application, CatalogError, Classification, EventDef, EventType, ExtraParameters, Localized,
    OcsfIds, ParamDef, ParamKind, ResultHint, Tag,
};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileDoc {
    application: AppDoc,
    #[serde(default)]
    types: Vec<TypeDoc>,
    #[serde(default)]
    parameters: BTreeMap<String, ParamDoc>,
    #[serde(default)]
    events: Vec<EventDoc>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AppDoc {
    name: String,
    #[serde(default = "default_extra")]
    extra_parameters: String,
    /// The event an unrecognised name is stored as, its name kept as the parameter `key`.
    unknown_event: Option<String>,
    names: Localized,
}

fn default_extra() -> String {
    "reject".into()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TypeDoc {
    id: String,
    names: Localized,
    /// Defaults for the type's events.
    tags: Option<Vec<String>>,
    untagged: Option<String>,
    ocsf: Option<OcsfDoc>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OcsfDoc {
    class_uid: u32,
    activity_id: u32,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ParamDoc {
    #[serde(rename = "type")]
    kind: String,
    values: Option<Vec<String>>,
    /// `values` is the whole set: anything else is refused. Default: an open set.
    #[serde(default)]
    closed: bool,
    /// `"microseconds"`: an int64 that is a time, in microseconds since the Unix epoch (shown
    /// as a date and time in the viewer's zone).
    unit: Option<String>,
    /// Names of known values in every language (`value_names."Challenge Passed." = {…}`), so
    /// that the console shows `login_failure_invalid_password` as "Invalid password".
    #[serde(default)]
    value_names: BTreeMap<String, Localized>,
    names: Localized,
    #[allow(dead_code)]
    description: Option<Localized>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EventDoc {
    name: String,
    #[serde(rename = "type")]
    event_type: String,
    #[serde(default)]
    aliases: Vec<String>,
    #[serde(default)]
    parameters: Vec<String>,
    result: Option<String>,
    /// What the event means (catalog/SCHEMA.md lists the tags).
    tags: Option<Vec<String>>,
    /// Why the event carries no tag.
    untagged: Option<String>,
    /// The OCSF class and activity, where its tags do not imply them or imply the wrong ones.
    ocsf: Option<OcsfDoc>,
    /// The classification before tags: `sign_in` reads as `tags = ["sign_in_attempt"]`,
    /// `warning` as `tags = ["account_warning"]`, so that users' files keep loading.
    class: Option<String>,
    names: Localized,
    template: Localized,
    /// The message when the activity's result is a failure, if the event can fail and
    /// `template` would then read wrong ("signed in" for a refused sign-in).
    template_failure: Option<Localized>,
}

fn err(file: &str, message: impl Into<String>) -> CatalogError {
    CatalogError {
        file: file.to_string(),
        message: message.into(),
    }
}

fn is_app_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// An event name may be Google style (`login_success`) or Logto style (`Interaction.SignIn.Submit`).
/// A name the catalogue accepts for an event: 1 to 128 of `A-Z a-z 0-9 _ . -`.
pub fn is_event_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 128
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

fn parse_kind(file: &str, name: &str, kind: &str) -> Result<ParamKind, CatalogError> {
    Ok(match kind {
        "string" => ParamKind::String,
        "int64" => ParamKind::Int64,
        "bool" => ParamKind::Bool,
        "multi_string" => ParamKind::MultiString,
        "multi_int64" => ParamKind::MultiInt64,
        "message" => ParamKind::Message,
        "json" => ParamKind::Json,
        other => {
            return Err(err(
                file,
                format!(
                    "parameter {name}: unknown type {other:?} (string, int64, bool, multi_string, multi_int64, message, json)"
                ),
            ));
        }
    })
}

fn check_localized(file: &str, what: &str, l: &Localized) -> Result<(), CatalogError> {
    if l.en.trim().is_empty() || l.zh_tw.trim().is_empty() {
        return Err(err(file, format!("{what}: needs both en and zh-TW text")));
    }
    Ok(())
}

/// The `tags`/`untagged`/`ocsf` of a type or an event; `what` names it in errors.
fn classification(
    file: &str,
    what: &str,
    tags: Option<Vec<String>>,
    untagged: Option<String>,
    ocsf: Option<OcsfDoc>,
) -> Result<Classification, CatalogError> {
    let tags = match (tags, untagged) {
        (None, None) => None,
        (tags, untagged) => {
            let mut parsed = Vec::new();
            for t in tags.unwrap_or_default() {
                let tag = Tag::parse(&t).ok_or_else(|| {
                    let known: Vec<&str> = Tag::ALL.iter().map(|t| t.as_str()).collect();
                    err(
                        file,
                        format!("{what}: tag {t:?}: use one of {}", known.join(", ")),
                    )
                })?;
                if !parsed.contains(&tag) {
                    parsed.push(tag);
                }
            }
            match &untagged {
                Some(_) if !parsed.is_empty() => {
                    return Err(err(
                        file,
                        format!("{what}: `untagged` explains an empty `tags`; it has tags"),
                    ));
                }
                Some(reason) if reason.trim().is_empty() => {
                    return Err(err(file, format!("{what}: `untagged` needs a reason")));
                }
                _ => {}
            }
            Some((parsed, untagged))
        }
    };
    let ocsf = match ocsf {
        None => None,
        Some(o) => {
            let ids = OcsfIds {
                class_uid: o.class_uid,
                activity_id: o.activity_id,
            };
            ids.names()
                .map_err(|m| err(file, format!("{what}: ocsf: {m}")))?;
            Some(ids)
        }
    };
    Ok(Classification { tags, ocsf })
}

pub(crate) fn parse(file: &str, text: &str) -> Result<Application, CatalogError> {
    let doc: FileDoc = toml::from_str(text).map_err(|e| err(file, e.to_string()))?;
    let app = doc.application;
    if !is_app_name(&app.name) {
        return Err(err(
            file,
            format!(
                "application name {:?} must be lowercase letters, digits or _",
                app.name
            ),
        ));
    }
    check_localized(file, "application names", &app.names)?;
    let extra_parameters = match app.extra_parameters.as_str() {
        "reject" => ExtraParameters::Reject,
        "allow" => ExtraParameters::Allow,
        other => {
            return Err(err(
                file,
                format!("extra_parameters {other:?}: use reject or allow"),
            ));
        }
    };

    let mut types = Vec::new();
    for t in doc.types {
        check_localized(file, &format!("type {}", t.id), &t.names)?;
        let what = format!("type {}", t.id);
        let defaults = classification(file, &what, t.tags, t.untagged, t.ocsf)?;
        types.push(EventType {
            id: t.id,
            names: t.names,
            defaults,
        });
    }

    let mut parameters = BTreeMap::new();
    for (name, p) in doc.parameters {
        check_localized(file, &format!("parameter {name}"), &p.names)?;
        let kind = parse_kind(file, &name, &p.kind)?;
        if p.values.is_some() && !matches!(kind, ParamKind::String | ParamKind::MultiString) {
            return Err(err(
                file,
                format!("parameter {name}: only string parameters take `values`"),
            ));
        }
        if p.closed && p.values.is_none() {
            return Err(err(
                file,
                format!("parameter {name}: `closed = true` needs the `values` it closes"),
            ));
        }
        for (v, names) in &p.value_names {
            if !p.values.as_ref().is_some_and(|known| known.contains(v)) {
                return Err(err(
                    file,
                    format!(
                        "parameter {name}: value_names names {v:?}, which is not one of its values"
                    ),
                ));
            }
            check_localized(file, &format!("parameter {name} value {v:?}"), names)?;
        }
        let time_us = match p.unit.as_deref() {
            None => false,
            Some("microseconds") if kind == ParamKind::Int64 => true,
            Some(u) => {
                return Err(err(
                    file,
                    format!(
                        "parameter {name}: unit {u:?}: only an int64 takes unit = \"microseconds\""
                    ),
                ));
            }
        };
        parameters.insert(
            name.clone(),
            ParamDef {
                name,
                kind,
                values: p.values,
                closed: p.closed,
                time_us,
                names: p.names,
                value_names: p.value_names,
            },
        );
    }

    let mut events = Vec::new();
    for e in doc.events {
        let result = match e.result.as_deref() {
            None => None,
            Some("success") => Some(ResultHint::Success),
            Some("failure") => Some(ResultHint::Failure),
            Some(other) => {
                return Err(err(
                    file,
                    format!("event {}: result {other:?}: use success or failure", e.name),
                ));
            }
        };
        let what = format!("event {}", e.name);
        let tags = match (e.class.as_deref(), e.tags) {
            (None, tags) => tags,
            (Some(_), Some(_)) => {
                return Err(err(file, format!("{what}: `class` and `tags`: use `tags`")));
            }
            (Some("sign_in"), None) => Some(vec![Tag::SignInAttempt.as_str().to_string()]),
            (Some("warning"), None) => Some(vec![Tag::AccountWarning.as_str().to_string()]),
            (Some(c), None) => {
                return Err(err(
                    file,
                    format!("{what}: class {c:?}: use tags (catalog/SCHEMA.md)"),
                ));
            }
        };
        let declared = classification(file, &what, tags, e.untagged, e.ocsf)?;
        events.push(EventDef {
            name: e.name,
            event_type: e.event_type,
            aliases: e.aliases,
            parameters: e.parameters,
            result,
            tags: Vec::new(),
            untagged: None,
            ocsf: None,
            declared,
            names: e.names,
            template: e.template,
            template_failure: e.template_failure,
        });
    }

    Ok(Application {
        name: app.name,
        extra_parameters,
        unknown_event: app.unknown_event,
        names: app.names,
        types,
        parameters,
        events,
        lookup: HashMap::new(),
    })
}

/// Adds a second file's types, parameters and events to an application another file began.
pub(crate) fn merge(
    file: &str,
    existing: &mut Application,
    more: Application,
) -> Result<(), CatalogError> {
    for t in more.types {
        if existing.types.iter().any(|x| x.id == t.id) {
            return Err(err(
                file,
                format!("type {} is already defined for {}", t.id, existing.name),
            ));
        }
        existing.types.push(t);
    }
    for (name, p) in more.parameters {
        if existing.parameters.contains_key(&name) {
            return Err(err(
                file,
                format!("parameter {name} is already defined for {}", existing.name),
            ));
        }
        existing.parameters.insert(name, p);
    }
    if more.unknown_event.is_some() {
        return Err(err(
            file,
            format!(
                "unknown_event is set by the file that begins {}, not by one that extends it",
                existing.name
            ),
        ));
    }
    existing.events.extend(more.events);
    Ok(())
}

/// Checks the cross-references of a complete application and builds its name/alias index.
pub(crate) fn index(app: &mut Application) -> Result<(), String> {
    if let Some(unknown) = &app.unknown_event {
        if !app.events.iter().any(|e| &e.name == unknown) {
            return Err(format!(
                "unknown_event {unknown:?} is not an event of {}",
                app.name
            ));
        }
        // The original name is kept as a parameter the event does not declare.
        if app.extra_parameters != ExtraParameters::Allow {
            return Err(format!(
                "unknown_event needs extra_parameters = \"allow\" ({} keeps the name as `key`)",
                app.name
            ));
        }
    }
    resolve_classification(app)?;
    let mut lookup = HashMap::new();
    for (i, e) in app.events.iter().enumerate() {
        if !is_event_name(&e.name) {
            return Err(format!(
                "event name {:?} has characters outside A-Z a-z 0-9 _ . -",
                e.name
            ));
        }
        if app.event_type(&e.event_type).is_none() {
            return Err(format!(
                "event {}: type {} is not declared in [[types]]",
                e.name, e.event_type
            ));
        }
        if e.names.en.trim().is_empty() || e.names.zh_tw.trim().is_empty() {
            return Err(format!("event {}: needs names in en and zh-TW", e.name));
        }
        let templates = std::iter::once(&e.template).chain(&e.template_failure);
        for (lang, t) in
            templates.flat_map(|t| crate::Lang::ALL.iter().map(move |l| (*l, t.get(*l))))
        {
            if t.trim().is_empty() {
                return Err(format!(
                    "event {}: template in {} is empty",
                    e.name,
                    lang.tag()
                ));
            }
            for ph in placeholders(t) {
                if ph != "actor" && !e.parameters.iter().any(|p| p == ph) {
                    return Err(format!(
                        "event {}: template ({}) uses {{{ph}}}, which is neither actor nor one of its parameters",
                        e.name,
                        lang.tag()
                    ));
                }
            }
        }
        for p in &e.parameters {
            if !app.parameters.contains_key(p) {
                return Err(format!(
                    "event {}: parameter {p} is not declared in [parameters]",
                    e.name
                ));
            }
        }
        for spelling in std::iter::once(&e.name).chain(e.aliases.iter()) {
            if lookup.insert(spelling.clone(), i).is_some() {
                return Err(format!("the spelling {spelling} names two events"));
            }
        }
    }
    app.lookup = lookup;
    Ok(())
}

/// Each event's tags (its own, else its type's) and OCSF ids (its own `ocsf`; else what its own
/// tags imply; else its type's `ocsf`; else what its type's tags imply). The tags must agree with
/// each other and with the result the event implies.
fn resolve_classification(app: &mut Application) -> Result<(), String> {
    for e in &mut app.events {
        let defaults = app
            .types
            .iter()
            .find(|t| t.id == e.event_type)
            .map(|t| t.defaults.clone())
            .unwrap_or_default();
        let (tags, untagged) = e
            .declared
            .tags
            .clone()
            .or(defaults.tags)
            .unwrap_or_default();
        check_tags(&tags, e.result).map_err(|m| format!("event {}: {m}", e.name))?;
        // The most specific statement wins: an event's own tags say more about it than its
        // type's `ocsf` (Interaction.SignIn.Submit is a Logon among steps mapped to Other).
        let own = if e.declared.tags.is_some() {
            OcsfIds::from_tags(&tags)
        } else {
            None
        };
        e.ocsf = e
            .declared
            .ocsf
            .or(own)
            .or(defaults.ocsf)
            .or_else(|| OcsfIds::from_tags(&tags));
        e.tags = tags;
        e.untagged = untagged;
    }
    Ok(())
}
