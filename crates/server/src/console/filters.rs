//! The audit log's filters, all in the URL so that a view can be shared, translated into an
//! [`ActivityQuery`] (so the console pages exactly as `GET /v1/activities` does).
//!
//! - `event`: a catalogue key in any spelling (aliases included), or an event's name in either
//!   language as the picker shows it (`登入失敗`, `Failed login`).
//! - `actor`, `result`, `application`: as the native API.
//! - `ip`: an address (an index lookup) or a CIDR block such as `203.0.113.0/24` (checked on the
//!   rows, within the store's scan budget).
//! - `range`: `1h`, `24h`, `7d` (the default), `30d`, or `custom` with `from`/`to`
//!   (`YYYY-MM-DDTHH:MM` as a `datetime-local` input sends them, in the viewer's zone `tz`); a
//!   `from` or `to` makes the range custom whatever `range` says.
//! - `tz`: the viewer's IANA time zone (read by the page context, `page::Zone`), default UTC.
//! - `cursor`: the page token (the service's, as the native API's).

use authtrail_catalog::{Catalog, Lang};
use authtrail_formats::display;
use authtrail_model::query::IpFilter;
use authtrail_model::{ActivityQuery, ActorFilter, Outcome};
use serde::Serialize;

use crate::error::ApiError;
use crate::params::Params;

pub const KNOWN: &[&str] = &[
    "event",
    "actor",
    "ip",
    "result",
    "application",
    "range",
    "from",
    "to",
    "cursor",
    "lang",
    "tz",
];

/// The filters as the form shows them back.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Form {
    pub event: String,
    pub actor: String,
    pub ip: String,
    pub result: String,
    pub application: String,
    pub range: String,
    pub from: String,
    pub to: String,
}

/// The parsed filters: the query (without cursor and limit) and what the console checks itself.
#[derive(Debug, Clone)]
pub struct Parsed {
    pub form: Form,
    pub query: ActivityQuery,
    pub application: Option<String>,
    pub event_names: Vec<String>,
    pub cursor: Option<String>,
}

const RANGES: &[(&str, i64)] = &[
    ("1h", 3_600),
    ("24h", 86_400),
    ("7d", 7 * 86_400),
    ("30d", 30 * 86_400),
];

/// Native parameter names → the console's, so an error names the field the user sees.
pub fn console_field(native: &str) -> &str {
    match native {
        "eventName" => "event",
        "startTime" => "from",
        "endTime" => "to",
        other => other,
    }
}

/// Resolves what the user typed in the event picker to canonical keys.
pub fn resolve_event(
    catalog: &Catalog,
    app: Option<&str>,
    typed: &str,
) -> Result<Vec<String>, ApiError> {
    let typed = typed.trim();
    let apps: Vec<_> = match app {
        Some(a) => catalog.application(a).into_iter().collect(),
        None => catalog.applications().collect(),
    };
    let mut out = Vec::new();
    for a in &apps {
        if let Some(e) = a.event(typed) {
            out.push(e.name.clone());
            continue;
        }
        for e in &a.events {
            let named = Lang::ALL.iter().any(|&l| {
                let n = e.names.get(l);
                n == typed || n.eq_ignore_ascii_case(typed)
            });
            if named {
                out.push(e.name.clone());
            }
        }
    }
    out.dedup();
    if out.is_empty() {
        return Err(ApiError::field(
            "event",
            format!("{typed:?} is not an event key or event name in the catalogue"),
        ));
    }
    Ok(out)
}

/// Parses `YYYY-MM-DDTHH:MM[:SS]` (a `datetime-local` value) as UTC.
/// A `datetime-local` value, read in the viewer's zone.
fn local_time(field: &str, v: &str, tz: &jiff::tz::TimeZone) -> Result<i64, ApiError> {
    display::parse_datetime_local_in(v, tz).map_err(|_| {
        ApiError::field(
            field,
            format!("{v:?} is not a date and time (YYYY-MM-DDTHH:MM)"),
        )
    })
}

/// The filters of `raw`; `from`/`to` are wall-clock times in `tz`, the viewer's zone.
pub fn parse(
    catalog: &Catalog,
    now_us: i64,
    tz: &jiff::tz::TimeZone,
    raw: Option<&str>,
) -> Result<Parsed, ApiError> {
    let p = Params::parse(raw)?;
    p.only(KNOWN)?;
    let get = |k: &str, max: usize| -> Result<String, ApiError> {
        Ok(p.bounded(k, max)?.unwrap_or("").trim().to_string())
    };
    let form = Form {
        event: get("event", 200)?,
        actor: get("actor", 320)?,
        ip: get("ip", 64)?,
        result: get("result", 16)?,
        application: get("application", 64)?,
        range: match get("range", 16)?.as_str() {
            "" => "7d".to_string(),
            r => r.to_string(),
        },
        from: get("from", 32)?,
        to: get("to", 32)?,
    };
    // A typed date is a custom range: nothing the viewer typed is ignored.
    let mut form = form;
    if !form.from.is_empty() || !form.to.is_empty() {
        form.range = "custom".into();
    }
    let mut query = ActivityQuery::default();
    let application = (!form.application.is_empty()).then(|| form.application.clone());
    if let Some(a) = &application {
        query.application = Some(authtrail_service::query::application(
            catalog,
            a,
            "application",
        )?);
    }
    let mut event_names = Vec::new();
    if !form.event.is_empty() {
        event_names = resolve_event(catalog, application.as_deref(), &form.event)?;
        query.event_names = event_names.clone();
    }
    if !form.actor.is_empty() {
        query.actor = Some(ActorFilter::from_key(&form.actor));
    }
    if !form.ip.is_empty() {
        let ip = form.ip.parse::<IpFilter>().map_err(|_| {
            ApiError::field(
                "ip",
                format!("{:?} is not an IP address or CIDR block", form.ip),
            )
        })?;
        query.ip = Some(ip);
    }
    match form.result.as_str() {
        "" => {}
        r @ ("success" | "failure") => query.result = Outcome::parse(r),
        r => {
            return Err(ApiError::field(
                "result",
                format!("{r:?} must be success or failure"),
            ));
        }
    }
    if form.range == "custom" {
        let start = (!form.from.is_empty())
            .then(|| local_time("from", &form.from, tz))
            .transpose()?;
        let end = (!form.to.is_empty())
            .then(|| local_time("to", &form.to, tz))
            .transpose()?;
        if let (Some(s), Some(e)) = (start, end)
            && s >= e
        {
            return Err(ApiError::field("from", "must be before to"));
        }
        query.start_us = start;
        query.end_us = end;
    } else {
        let secs = RANGES
            .iter()
            .find(|(k, _)| *k == form.range)
            .map(|(_, s)| *s)
            .ok_or_else(|| {
                ApiError::field(
                    "range",
                    format!("{:?} must be 1h, 24h, 7d, 30d or custom", form.range),
                )
            })?;
        query.start_us = Some(now_us - secs * 1_000_000);
    }
    Ok(Parsed {
        form,
        query,
        application,
        event_names,
        cursor: p.get("cursor").map(str::to_string),
    })
}

/// Range presets for the pickers, in the viewer's language.
pub fn ranges(lang: Lang, with_custom: bool) -> Vec<Choice> {
    let mut keys = vec!["1h", "24h", "7d", "30d"];
    if with_custom {
        keys.push("custom");
    }
    keys.into_iter()
        .map(|k| Choice {
            value: k.to_string(),
            label: super::i18n::text(lang, &format!("r_{k}")).to_string(),
        })
        .collect()
}

/// The seconds of a preset (the overview page takes presets only).
pub fn preset_secs(range: &str) -> Option<i64> {
    RANGES.iter().find(|(k, _)| *k == range).map(|(_, s)| *s)
}

#[derive(Debug, Clone, Serialize)]
pub struct Choice {
    pub value: String,
    pub label: String,
}

/// The event picker's options: every event, grouped by application and category (the label says
/// both), in the viewer's language. The value is the canonical key, which the filter accepts.
pub fn event_options(catalog: &Catalog, lang: Lang) -> Vec<Choice> {
    let mut out = Vec::new();
    for a in catalog.applications() {
        for ty in &a.types {
            for e in a.events_of_type(&ty.id) {
                out.push(Choice {
                    value: e.name.clone(),
                    label: format!(
                        "{} › {} › {}",
                        a.names.get(lang),
                        ty.names.get(lang),
                        e.names.get(lang)
                    ),
                });
            }
        }
    }
    out
}

pub fn applications(catalog: &Catalog, lang: Lang) -> Vec<Choice> {
    catalog
        .applications()
        .map(|a| Choice {
            value: a.name.clone(),
            label: a.names.get(lang).to_string(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cat() -> Catalog {
        Catalog::builtin().unwrap()
    }

    #[test]
    fn events_resolve_from_keys_aliases_and_names_in_either_language() {
        let c = cat();
        assert_eq!(
            resolve_event(&c, None, "login_failure").unwrap(),
            vec!["login_failure"]
        );
        assert_eq!(
            resolve_event(&c, None, "登入失敗").unwrap(),
            vec!["login_failure"]
        );
        assert_eq!(
            resolve_event(&c, Some("login"), "failed login").unwrap(),
            vec!["login_failure"]
        );
        assert!(resolve_event(&c, None, "no such thing").is_err());
    }

    #[test]
    fn bad_filters_name_their_field() {
        let c = cat();
        for (q, field) in [
            ("result=maybe", "result"),
            ("range=2w", "range"),
            ("ip=300.1.1.1/8", "ip"),
            ("application=nope", "application"),
            ("event=nope", "event"),
            ("range=custom&from=yesterday", "from"),
            (
                "range=custom&from=2026-01-02T00:00&to=2026-01-01T00:00",
                "from",
            ),
            ("bogus=1", "bogus"),
        ] {
            let e = parse(&c, 0, &jiff::tz::TimeZone::UTC, Some(q)).unwrap_err();
            assert_eq!(e.details()[0].field, field, "{q}");
        }
    }

    #[test]
    fn cidr_blocks_and_addresses_both_go_to_the_query() {
        let c = cat();
        let p = parse(&c, 0, &jiff::tz::TimeZone::UTC, Some("ip=203.0.113.0/24")).unwrap();
        assert!(matches!(p.query.ip, Some(IpFilter::Net(_))));
        let p = parse(&c, 0, &jiff::tz::TimeZone::UTC, Some("ip=203.0.113.7")).unwrap();
        assert!(matches!(p.query.ip, Some(IpFilter::Addr(_))));
    }
}
