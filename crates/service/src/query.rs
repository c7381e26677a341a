//! Building an [`ActivityQuery`] from names people and clients use: applications, event names
//! in any spelling of the catalogue, and Google's `filters` checked against parameter types.
//! Every front end resolves names here; each problem names the caller's field.

use authtrail_catalog::{Catalog, ParamKind};
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

/// Resolves comma-separated event names (any spelling) to canonical names, within `app` when
/// given.
pub fn resolve_events(
    catalog: &Catalog,
    app: Option<&str>,
    raw: &str,
    field: &str,
) -> Result<Vec<String>, ServiceError> {
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
            return Err(ServiceError::field(
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_resolve_and_mistakes_name_their_field() {
        let c = Catalog::builtin().unwrap();
        assert_eq!(
            resolve_events(&c, Some("login"), "login_failure", "eventName").unwrap(),
            vec!["login_failure"]
        );
        let e = resolve_events(&c, None, "nope", "logKey").unwrap_err();
        assert_eq!(e.details()[0].field, "logKey");
        let e = application(&c, "nope", "application").unwrap_err();
        assert_eq!(e.details()[0].field, "application");
        let e =
            parse_filters(&c, Some("login"), &[], "is_suspicious==maybe", "filters").unwrap_err();
        assert_eq!(e.details()[0].field, "filters");
    }
}
