//! Building an [`ActivityQuery`] from names people and clients use: applications, event names
//! in any spelling of the catalogue, and Google's `filters` checked against parameter types.
//! Every front end resolves names here; each problem names the caller's field.

use authtrail_catalog::{Catalog, ParamKind, UNKNOWN_KEY_PARAMETER};
use authtrail_model::filters::{self, ParamFilter};

use crate::error::ServiceError;

/// Checks that `app` is an application of the catalogue.
pub fn application(catalog: &Catalog, app: &str, field: &str) -> Result<String, ServiceError> {
    match catalog.application(app) {
        Some(_) => Ok(app.to_string()),
        None => Err(ServiceError::field(
            field,
            format!("{app:?} is not an application in the catalogue"),
        )),
    }
}

/// The events a list of names selects.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct EventSelection {
    /// Canonical event names.
    pub names: Vec<String>,
    /// Conditions that come with them: a name no catalogue knows selects its application's
    /// unknown event where the `key` parameter is that name (how it was stored).
    pub filters: Vec<ParamFilter>,
}

impl EventSelection {
    /// Puts the selection into `q` (its names, and its conditions beside any others).
    pub fn apply(self, q: &mut authtrail_model::ActivityQuery) {
        q.event_names = self.names;
        q.filters.extend(self.filters);
    }
}

/// Resolves comma-separated event names (any spelling) to canonical names, within `app` when
/// given. A name the catalogue does not know is found where it was stored: as the unknown event
/// of an application that keeps unknown names (Logto's `Unknown`), under the parameter `key`.
/// Such a name can only be asked for alone (its condition would apply to the others too).
pub fn resolve_events(
    catalog: &Catalog,
    app: Option<&str>,
    raw: &str,
    field: &str,
) -> Result<EventSelection, ServiceError> {
    let names: Vec<&str> = raw
        .split(',')
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .collect();
    let mut out = EventSelection::default();
    for &name in &names {
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
            return unknown(catalog, app, name, names.len(), field);
        }
        for f in found {
            if !out.names.contains(&f) {
                out.names.push(f);
            }
        }
    }
    Ok(out)
}

/// The selection of a name no catalogue knows, or the refusal naming `field`.
fn unknown(
    catalog: &Catalog,
    app: Option<&str>,
    name: &str,
    asked: usize,
    field: &str,
) -> Result<EventSelection, ServiceError> {
    let keeping: Vec<String> = catalog
        .applications()
        .filter(|a| app.is_none_or(|x| a.name == x))
        .filter_map(|a| a.unknown_event().map(|e| e.name.clone()))
        .collect();
    let scope = app
        .map(|a| format!("application {a:?}"))
        .unwrap_or_else(|| "any application".into());
    // Only names as they can arrive: what the catalogue accepts as an event name.
    if keeping.is_empty() || !authtrail_catalog::is_event_name(name) {
        return Err(ServiceError::field(
            field,
            format!("{name:?} is not an event of {scope} in the catalogue"),
        ));
    }
    if asked > 1 {
        return Err(ServiceError::field(
            field,
            format!(
                "{name:?} is not in the catalogue (it is stored as {}); ask for a name the catalogue does not know alone",
                keeping.join(", ")
            ),
        ));
    }
    Ok(EventSelection {
        names: keeping,
        filters: vec![ParamFilter {
            name: UNKNOWN_KEY_PARAMETER.to_string(),
            op: filters::Op::Eq,
            value: name.to_string(),
        }],
    })
}

/// Parses a `filters` value and checks it against the catalogue: each clause's value must fit the
/// parameter's declared type (a bool compared with `maybe` is a mistake worth a 400).
pub fn parse_filters(
    catalog: &Catalog,
    app: Option<&str>,
    event_names: &[String],
    raw: &str,
    field: &str,
) -> Result<Vec<ParamFilter>, ServiceError> {
    let parsed = filters::parse(raw).map_err(|m| ServiceError::field(field, m))?;
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
                    return Err(ServiceError::field(
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

/// The conditions of a list, as a client writes them (the native list's parameter names), before
/// they are resolved against the catalogue. Kept in this form where a query is stored (a push
/// subscription), so that a catalogue that learns new spellings keeps matching, and so that it
/// reads back as it was written.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ListConditions {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub application: Option<String>,
    /// Comma-separated event names, in any spelling of the catalogue.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_name: Option<String>,
    /// Google's `filters` grammar.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filters: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
    /// An address or a CIDR block.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
    /// `success` or `failure`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    /// RFC 3339.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<String>,
    /// RFC 3339.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_time: Option<String>,
}

/// Longest value of a list condition, in bytes (an event-name list may be long).
const MAX_CONDITION_BYTES: usize = 2048;

impl ListConditions {
    /// The query these conditions select (no paging). `prefix` is put before each field name in
    /// errors (`query.` in a subscription body), so a mistake names the field as the client
    /// wrote it.
    pub fn resolve(
        &self,
        catalog: &Catalog,
        prefix: &str,
    ) -> Result<authtrail_model::ActivityQuery, ServiceError> {
        use authtrail_model::wire_time::parse_rfc3339;
        use authtrail_model::{ActorFilter, IpFilter, Outcome};
        let field = |name: &str| format!("{prefix}{name}");
        for (name, v) in [
            ("application", &self.application),
            ("eventName", &self.event_name),
            ("filters", &self.filters),
            ("actor", &self.actor),
            ("ip", &self.ip),
            ("result", &self.result),
            ("sessionId", &self.session_id),
            ("startTime", &self.start_time),
            ("endTime", &self.end_time),
        ] {
            if v.as_ref().is_some_and(|v| v.len() > MAX_CONDITION_BYTES) {
                return Err(ServiceError::field(
                    &field(name),
                    format!("is longer than {MAX_CONDITION_BYTES} bytes"),
                ));
            }
        }
        let app = self
            .application
            .as_deref()
            .map(|a| application(catalog, a, &field("application")))
            .transpose()?;
        let mut q = authtrail_model::ActivityQuery {
            application: app.clone(),
            ..Default::default()
        };
        if let Some(raw) = &self.event_name {
            resolve_events(catalog, app.as_deref(), raw, &field("eventName"))?.apply(&mut q);
        }
        if let Some(raw) = &self.filters {
            let more = parse_filters(
                catalog,
                app.as_deref(),
                &q.event_names,
                raw,
                &field("filters"),
            )?;
            q.filters.extend(more);
        }
        q.actor = self.actor.as_deref().map(ActorFilter::from_key);
        q.ip = match &self.ip {
            None => None,
            Some(raw) => Some(
                raw.parse::<IpFilter>()
                    .map_err(|m| ServiceError::field(&field("ip"), m))?,
            ),
        };
        q.result = match &self.result {
            None => None,
            Some(r) => Some(Outcome::parse(r).ok_or_else(|| {
                ServiceError::field(
                    &field("result"),
                    format!("{r:?} must be success or failure"),
                )
            })?),
        };
        q.session_id = self.session_id.clone();
        let time = |name: &str, v: &Option<String>| -> Result<Option<i64>, ServiceError> {
            v.as_deref()
                .map(|t| {
                    parse_rfc3339(t).map_err(|_| {
                        ServiceError::field(&field(name), format!("{t:?} is not an RFC 3339 time"))
                    })
                })
                .transpose()
        };
        q.start_us = time("startTime", &self.start_time)?;
        q.end_us = time("endTime", &self.end_time)?;
        if let (Some(s), Some(e)) = (q.start_us, q.end_us)
            && s >= e
        {
            return Err(ServiceError::field(
                &field("startTime"),
                "must be before endTime",
            ));
        }
        Ok(q)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_resolve_and_mistakes_name_their_field() {
        let c = Catalog::builtin().unwrap();
        assert_eq!(
            resolve_events(&c, Some("login"), "login_failure", "eventName")
                .unwrap()
                .names,
            vec!["login_failure"]
        );
        // Google's vocabulary is closed: an unknown name is a mistake.
        let e = resolve_events(&c, Some("login"), "nope", "eventName").unwrap_err();
        assert_eq!(e.details()[0].field, "eventName");
        // Logto keeps unknown keys as Unknown, found again by the key they arrived with.
        for app in [None, Some("logto")] {
            let s = resolve_events(&c, app, "Custom.Key", "logKey").unwrap();
            assert_eq!(s.names, vec!["Unknown"]);
            assert_eq!(s.filters[0].to_string(), "key==Custom.Key");
        }
        // Alone only; and only names that could have arrived.
        for raw in ["Custom.Key,RevokeToken", "no pe", "a==b"] {
            let e = resolve_events(&c, None, raw, "logKey").unwrap_err();
            assert_eq!(e.details()[0].field, "logKey", "{raw}");
        }
        let e = application(&c, "nope", "application").unwrap_err();
        assert_eq!(e.details()[0].field, "application");
        let e =
            parse_filters(&c, Some("login"), &[], "is_suspicious==maybe", "filters").unwrap_err();
        assert_eq!(e.details()[0].field, "filters");
    }
}
