//! The audit log's filters, all in the URL so that a view can be shared, translated into an
//! [`ActivityQuery`] (so the console pages exactly as `GET /v1/activities` does).
//!
//! - `event`: comma-separated; each entry is a catalogue key in any spelling (aliases included),
//!   an event's name in either language (`登入失敗`, `Failed login`), a whole category as the
//!   charts key it (`login/2sv_change`), or a tag (`tag:sign_in_attempt`, the catalogue's
//!   classification the charts count by).
//! - `filters`: parameter conditions in Google's `filters` grammar (`is_suspicious==true`),
//!   checked against the catalogue's types by the service's parser, as the native API does. A
//!   value may be typed as its catalogue name in either language (`密碼無效`).
//! - `actor`, `result`, `application`, `session` (the native `sessionId`): as the native API.
//! - `ip`: an address (an index lookup) or a CIDR block such as `203.0.113.0/24` (checked on the
//!   rows, within the store's scan budget).
//! - `range`: `1h`, `24h`, `7d` (the default), `30d`, or `custom` with `from`/`to`
//!   (`YYYY-MM-DDTHH:MM` as a `datetime-local` input sends them, in the viewer's zone `tz`); a
//!   `from` or `to` makes the range custom whatever `range` says.
//! - `tz`: the viewer's IANA time zone (read by the page context, `page::Zone`), default UTC.
//! - `cursor`: the page token (the service's, as the native API's).
//!
//! Every refusal names the field and says what is wrong in the page's language, with
//! did-you-mean suggestions from the catalogue where a name was mistyped.

use authtrail_catalog::{Application, Catalog, Lang, ParamKind, Tag};
use authtrail_formats::display;
use authtrail_model::filters::{self as grammar, ParamFilter};
use authtrail_model::query::IpFilter;
use authtrail_model::{ActivityQuery, ActorFilter, Outcome};
use serde::Serialize;

use super::i18n;
use crate::error::ApiError;
use crate::params::Params;

pub const KNOWN: &[&str] = &[
    "event",
    "filters",
    "actor",
    "ip",
    "session",
    "result",
    "application",
    "range",
    "from",
    "to",
    "cursor",
    "lang",
    "tz",
    // "Count all" on the audit log (`count.rs`); no condition.
    "count",
];

/// The filters as the form shows them back.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Form {
    pub event: String,
    pub filters: String,
    pub actor: String,
    pub ip: String,
    pub session: String,
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

/// The prefix of a tag in the event picker (`tag:sign_in_attempt`).
pub const TAG_PREFIX: &str = "tag:";

/// Native parameter names → the console's, so an error names the field the user sees.
pub fn console_field(native: &str) -> &str {
    match native {
        "eventName" => "event",
        "startTime" => "from",
        "endTime" => "to",
        other => other,
    }
}

/// A refusal naming `field`, in `lang`: the message `key` with `{v}` (and `{k}`) filled in.
fn refuse(lang: Lang, field: &str, key: &str, v: &str, k: &str) -> ApiError {
    ApiError::field(
        field,
        i18n::text(lang, key).replace("{v}", v).replace("{k}", k),
    )
}

/// `message` followed by up to three suggestions (the closest of `candidates` to `typed`).
fn with_suggestions<'a>(
    lang: Lang,
    message: String,
    typed: &str,
    candidates: impl Iterator<Item = &'a str>,
) -> String {
    let typed_l = typed.to_lowercase();
    let mut scored: Vec<(f64, &str)> = candidates
        .filter(|c| !c.is_empty())
        .map(|c| {
            (
                strsim::normalized_levenshtein(&typed_l, &c.to_lowercase()),
                c,
            )
        })
        .filter(|(s, _)| *s >= 0.6)
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(b.1)));
    scored.dedup_by(|a, b| a.1 == b.1);
    if scored.is_empty() {
        return message;
    }
    let list: Vec<&str> = scored.iter().take(3).map(|s| s.1).collect();
    let sep = if lang == Lang::ZhTw { "、" } else { ", " };
    format!(
        "{message} {}",
        i18n::text(lang, "did_you_mean").replace("{s}", &list.join(sep))
    )
}

fn apps_in<'a>(catalog: &'a Catalog, app: Option<&str>) -> Vec<&'a Application> {
    match app {
        Some(a) => catalog.application(a).into_iter().collect(),
        None => catalog.applications().collect(),
    }
}

/// Resolves what the user typed in the event picker to canonical keys: comma-separated keys,
/// names in either language, categories (`app/type`) and tags (`tag:…`).
pub fn resolve_event(
    catalog: &Catalog,
    app: Option<&str>,
    typed: &str,
    lang: Lang,
) -> Result<Vec<String>, ApiError> {
    let apps = apps_in(catalog, app);
    let mut out: Vec<String> = Vec::new();
    for entry in typed.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let found = resolve_entry(&apps, entry);
        if found.is_empty() {
            let message = refuse(lang, "event", "err_event", entry, "")
                .details()
                .first()
                .map(|d| d.message.clone())
                .unwrap_or_default();
            let candidates = apps.iter().flat_map(|a| {
                a.events
                    .iter()
                    .flat_map(move |e| [e.name.as_str(), e.names.get(lang)])
                    .chain(a.types.iter().map(|t| t.id.as_str()))
            });
            let tags = Tag::ALL.iter().map(|t| t.as_str());
            return Err(ApiError::field(
                "event",
                with_suggestions(lang, message, entry, candidates.chain(tags)),
            ));
        }
        for f in found {
            if !out.contains(&f) {
                out.push(f);
            }
        }
    }
    if out.is_empty() {
        return Err(refuse(lang, "event", "err_event", typed, ""));
    }
    Ok(out)
}

/// The canonical names one picker entry selects (none when it names nothing).
fn resolve_entry(apps: &[&Application], entry: &str) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(tag) = entry.strip_prefix(TAG_PREFIX) {
        if let Some(tag) = Tag::parse(tag.trim()) {
            for a in apps {
                out.extend(
                    a.events
                        .iter()
                        .filter(|e| e.has(tag))
                        .map(|e| e.name.clone()),
                );
            }
        }
        return out;
    }
    if let Some((app, ty)) = entry.split_once('/') {
        for a in apps.iter().filter(|a| a.name == app) {
            if a.event_type(ty).is_some() {
                out.extend(a.events_of_type(ty).map(|e| e.name.clone()));
            }
        }
        return out;
    }
    for a in apps {
        if let Some(e) = a.event(entry) {
            out.push(e.name.clone());
            continue;
        }
        for e in &a.events {
            let named = Lang::ALL.iter().any(|&l| {
                let n = e.names.get(l);
                n == entry || n.eq_ignore_ascii_case(entry)
            });
            if named {
                out.push(e.name.clone());
            }
        }
    }
    out
}

/// Parses `filters` with the service's parser (the native API's, checking the catalogue's
/// types), after replacing values typed as their catalogue names by the values themselves.
/// Refusals are worded in `lang`, naming the clause.
pub fn parse_conditions(
    catalog: &Catalog,
    app: Option<&str>,
    event_names: &[String],
    raw: &str,
    lang: Lang,
) -> Result<Vec<ParamFilter>, ApiError> {
    let clauses = grammar::parse(raw).map_err(|detail| {
        let typed = raw.trim();
        ApiError::field(
            "filters",
            format!(
                "{} ({detail})",
                i18n::text(lang, "err_conditions").replace("{v}", typed)
            ),
        )
    })?;
    // The applications the conditions apply to: the chosen one, narrowed to those of the
    // chosen events.
    let apps: Vec<&Application> = apps_in(catalog, app)
        .into_iter()
        .filter(|a| {
            event_names.is_empty() || a.events.iter().any(|e| event_names.contains(&e.name))
        })
        .collect();
    let declared = |name: &str| apps.iter().find_map(|a| a.parameters.get(name));
    let mut out = Vec::with_capacity(clauses.len());
    for mut c in clauses {
        // A value typed as its name (`密碼無效`) means the value it names.
        if let Some(def) = declared(&c.name)
            && let Some((v, _)) = def
                .value_names
                .iter()
                .find(|(_, n)| Lang::ALL.iter().any(|&l| n.get(l) == c.value))
        {
            c.value = v.clone();
        }
        if declared(&c.name).is_none() {
            // A parameter no application in scope declares is a mistake unless one of them
            // keeps undeclared parameters (Logto's open payloads may carry any field).
            let names = || {
                apps.iter()
                    .flat_map(|a| a.parameters.keys().map(String::as_str))
            };
            let open = apps
                .iter()
                .any(|a| a.extra_parameters == authtrail_catalog::ExtraParameters::Allow);
            if !open {
                let message = i18n::text(lang, "err_condition_param").replace("{v}", &c.name);
                return Err(ApiError::field(
                    "filters",
                    with_suggestions(lang, message, &c.name, names()),
                ));
            }
        }
        let one = c.to_string();
        authtrail_service::query::parse_filters(catalog, app, event_names, &one, "filters")
            .map_err(|_| {
                let kind = declared(&c.name).map_or("", |d| d.kind.as_str());
                refuse(lang, "filters", "err_condition_type", &one, kind)
            })?;
        out.push(c);
    }
    Ok(out)
}

/// A `datetime-local` value, read in the viewer's zone.
fn local_time(field: &str, v: &str, tz: &jiff::tz::TimeZone, lang: Lang) -> Result<i64, ApiError> {
    display::parse_datetime_local_in(v, tz).map_err(|_| refuse(lang, field, "err_time", v, ""))
}

/// The form's values as typed (bounded, unknown fields refused), before they are checked: what
/// the page shows back, also above an error.
pub fn read_form(raw: Option<&str>, lang: Lang) -> Result<Form, ApiError> {
    let p = Params::parse(raw)?;
    if let Err(e) = p.only(KNOWN) {
        let field = e
            .details()
            .first()
            .map(|d| d.field.clone())
            .unwrap_or_default();
        return Err(refuse(lang, &field, "err_unknown_field", &field, ""));
    }
    let get = |k: &str, max: usize| -> Result<String, ApiError> {
        Ok(p.bounded(k, max)?.unwrap_or("").trim().to_string())
    };
    let mut form = Form {
        event: get("event", 2048)?,
        filters: get("filters", grammar::MAX_FILTERS_BYTES)?,
        actor: get("actor", 320)?,
        ip: get("ip", 64)?,
        session: get("session", 320)?,
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
    if !form.from.is_empty() || !form.to.is_empty() {
        form.range = "custom".into();
    }
    Ok(form)
}

/// The filters of `raw`; `from`/`to` are wall-clock times in `tz`, the viewer's zone. Refusals
/// are worded in `lang`.
pub fn parse(
    catalog: &Catalog,
    now_us: i64,
    tz: &jiff::tz::TimeZone,
    raw: Option<&str>,
    lang: Lang,
) -> Result<Parsed, ApiError> {
    let form = read_form(raw, lang)?;
    let mut query = ActivityQuery::default();
    let application = (!form.application.is_empty()).then(|| form.application.clone());
    if let Some(a) = &application {
        if catalog.application(a).is_none() {
            let names = catalog.applications().map(|x| x.name.as_str());
            let message = i18n::text(lang, "err_application").replace("{v}", a);
            return Err(ApiError::field(
                "application",
                with_suggestions(lang, message, a, names),
            ));
        }
        query.application = Some(a.clone());
    }
    let mut event_names = Vec::new();
    if !form.event.is_empty() {
        event_names = resolve_event(catalog, application.as_deref(), &form.event, lang)?;
        query.event_names = event_names.clone();
    }
    if !form.filters.is_empty() {
        query.filters = parse_conditions(
            catalog,
            application.as_deref(),
            &event_names,
            &form.filters,
            lang,
        )?;
    }
    if !form.actor.is_empty() {
        query.actor = Some(ActorFilter::from_key(&form.actor));
    }
    if !form.ip.is_empty() {
        let ip = form
            .ip
            .parse::<IpFilter>()
            .map_err(|_| refuse(lang, "ip", "err_ip", &form.ip, ""))?;
        query.ip = Some(ip);
    }
    if !form.session.is_empty() {
        query.session_id = Some(form.session.clone());
    }
    match form.result.as_str() {
        "" => {}
        r @ ("success" | "failure") => query.result = Outcome::parse(r),
        r => return Err(refuse(lang, "result", "err_result", r, "")),
    }
    if form.range == "custom" {
        let start = (!form.from.is_empty())
            .then(|| local_time("from", &form.from, tz, lang))
            .transpose()?;
        let end = (!form.to.is_empty())
            .then(|| local_time("to", &form.to, tz, lang))
            .transpose()?;
        if let (Some(s), Some(e)) = (start, end)
            && s >= e
        {
            return Err(refuse(lang, "from", "err_order", "", ""));
        }
        query.start_us = start;
        query.end_us = end;
    } else {
        let secs = preset_secs(&form.range)
            .ok_or_else(|| refuse(lang, "range", "err_range", &form.range, ""))?;
        query.start_us = Some(now_us - secs * 1_000_000);
    }
    let p = Params::parse(raw)?;
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

/// `(s)`, with full-width parentheses in Chinese.
fn paren(lang: Lang, s: &str) -> String {
    match lang {
        Lang::ZhTw => format!("（{s}）"),
        Lang::En => format!("({s})"),
    }
}

/// The event picker's options, in the viewer's language: every tag (across applications), every
/// category (all its events) and every event. Labels say what an option is and where it is from
/// ("application › category › name"); the value is what the filter accepts.
pub fn event_options(catalog: &Catalog, lang: Lang) -> Vec<Choice> {
    let mut out = Vec::new();
    for tag in Tag::ALL {
        out.push(Choice {
            value: format!("{TAG_PREFIX}{}", tag.as_str()),
            label: format!(
                "{}{}{} {}",
                i18n::text(lang, "tag_label"),
                if lang == Lang::ZhTw { "：" } else { ": " },
                i18n::text(lang, &format!("tag_{}", tag.as_str())),
                paren(lang, i18n::text(lang, "all_apps"))
            ),
        });
    }
    for a in catalog.applications() {
        for ty in &a.types {
            out.push(Choice {
                value: format!("{}/{}", a.name, ty.id),
                label: format!(
                    "{} › {} {}",
                    a.names.get(lang),
                    ty.names.get(lang),
                    paren(lang, i18n::text(lang, "whole_category"))
                ),
            });
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
    // Two events of one category may share a name (Logto names some steps alike): the key
    // tells them apart.
    let mut seen: std::collections::HashMap<String, usize> = Default::default();
    for o in &out {
        *seen.entry(o.label.clone()).or_default() += 1;
    }
    for o in &mut out {
        if seen[&o.label] > 1 {
            o.label = format!("{} ({})", o.label, o.value);
        }
    }
    out
}

/// Ready-made parameter conditions for the conditions field, typed by the catalogue: each known
/// value of an enumeration, both values of a boolean, and a numeric comparison to complete for
/// an integer. Labelled "application › parameter = value name" in the viewer's language.
pub fn condition_options(catalog: &Catalog, lang: Lang) -> Vec<Choice> {
    let mut out = Vec::new();
    for a in catalog.applications() {
        for (name, def) in &a.parameters {
            let label = |v: &str| format!("{} › {} = {v}", a.names.get(lang), def.names.get(lang));
            match def.kind {
                ParamKind::Bool => {
                    for (v, word) in [("true", "yes"), ("false", "no")] {
                        out.push(Choice {
                            value: format!("{name}=={v}"),
                            label: label(i18n::text(lang, word)),
                        });
                    }
                }
                ParamKind::Int64 | ParamKind::MultiInt64 => out.push(Choice {
                    value: format!("{name}>="),
                    label: format!("{} › {} (int64)", a.names.get(lang), def.names.get(lang)),
                }),
                ParamKind::String | ParamKind::MultiString => {
                    for v in def.values.iter().flatten().filter(|v| !v.contains(',')) {
                        out.push(Choice {
                            value: format!("{name}=={v}"),
                            label: label(def.value_name(v, lang).unwrap_or(v)),
                        });
                    }
                }
                ParamKind::Message | ParamKind::Json => {}
            }
        }
    }
    out
}

/// The quick filters: the list of what a chart counts, defined by the same catalogue tags.
pub fn quick_filters(lang: Lang) -> Vec<(Choice, Vec<(&'static str, String)>)> {
    let tag = |t: Tag| format!("{TAG_PREFIX}{}", t.as_str());
    [
        (
            "quick_failed",
            vec![
                ("event", tag(Tag::SignInAttempt)),
                ("result", "failure".to_string()),
            ],
        ),
        (
            "quick_suspicious",
            vec![("event", tag(Tag::AccountWarning))],
        ),
        ("quick_2sv", vec![("event", tag(Tag::CredentialChange))]),
    ]
    .into_iter()
    .map(|(key, pairs)| {
        (
            Choice {
                value: key.to_string(),
                label: i18n::text(lang, key).to_string(),
            },
            pairs,
        )
    })
    .collect()
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

    fn parsed(q: &str) -> Result<Parsed, ApiError> {
        parse(&cat(), 0, &jiff::tz::TimeZone::UTC, Some(q), Lang::En)
    }

    #[test]
    fn events_resolve_from_keys_aliases_and_names_in_either_language() {
        let c = cat();
        let r = |app, typed| resolve_event(&c, app, typed, Lang::En);
        assert_eq!(r(None, "login_failure").unwrap(), vec!["login_failure"]);
        assert_eq!(r(None, "登入失敗").unwrap(), vec!["login_failure"]);
        assert_eq!(
            r(Some("login"), "failed login").unwrap(),
            vec!["login_failure"]
        );
        assert!(r(None, "no such thing").is_err());
    }

    #[test]
    fn several_events_categories_and_tags_select_what_the_catalogue_says() {
        let c = cat();
        let r = |typed| resolve_event(&c, None, typed, Lang::En).unwrap();
        assert_eq!(
            r("login_failure, login_success"),
            vec!["login_failure", "login_success"]
        );
        let twosv: Vec<String> = c
            .application("login")
            .unwrap()
            .events_of_type("2sv_change")
            .map(|e| e.name.clone())
            .collect();
        assert!(twosv.len() >= 2);
        assert_eq!(r("login/2sv_change"), twosv);
        // A tag is exactly the chart's definition.
        let mut tagged = r("tag:sign_in_attempt");
        let mut chart = super::super::charts::names_with_tag(&c, Tag::SignInAttempt);
        tagged.sort();
        chart.sort();
        chart.dedup();
        assert_eq!(tagged, chart);
        assert!(tagged.contains(&"Interaction.SignIn.Submit".to_string()));
    }

    #[test]
    fn mistakes_suggest_the_catalogues_names_in_the_pages_language() {
        let c = cat();
        let e = resolve_event(&c, None, "login_failur", Lang::En).unwrap_err();
        let m = &e.details()[0].message;
        assert!(m.contains("Did you mean: login_failure"), "{m}");
        let e = resolve_event(&c, None, "登入失", Lang::ZhTw).unwrap_err();
        let m = &e.details()[0].message;
        assert!(
            m.starts_with("「登入失」不是目錄中的事件") && m.contains("登入失敗"),
            "{m}"
        );
        let e = parsed("application=login&filters=is_suspicous==true").unwrap_err();
        assert_eq!(e.details()[0].field, "filters");
        assert!(e.details()[0].message.contains("is_suspicious"), "{e:?}");
    }

    #[test]
    fn parameter_conditions_are_typed_by_the_catalogue() {
        let p = parsed("filters=is_suspicious==true").unwrap();
        assert_eq!(grammar::to_string(&p.query.filters), "is_suspicious==true");
        // A value typed as its name in either language is the value it names.
        let p =
            parsed("filters=login_failure_type%3D%3D%E5%AF%86%E7%A2%BC%E7%84%A1%E6%95%88").unwrap();
        assert_eq!(
            grammar::to_string(&p.query.filters),
            "login_failure_type==login_failure_invalid_password"
        );
        for q in [
            "filters=is_suspicious==maybe",
            "filters=login_timestamp>=soon",
            "filters=is_suspicious=true",
        ] {
            let e = parsed(q).unwrap_err();
            assert_eq!(e.details()[0].field, "filters", "{q}");
        }
        // Logto's payloads are open: an undeclared field far from any declared one is a condition.
        assert!(parsed("application=logto&filters=hookRequestUrl==x").is_ok());
    }

    #[test]
    fn bad_filters_name_their_field() {
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
            let e = parsed(q).unwrap_err();
            assert_eq!(e.details()[0].field, field, "{q}");
        }
    }

    #[test]
    fn cidr_blocks_and_addresses_both_go_to_the_query() {
        let p = parsed("ip=203.0.113.0/24").unwrap();
        assert!(matches!(p.query.ip, Some(IpFilter::Net(_))));
        let p = parsed("ip=203.0.113.7").unwrap();
        assert!(matches!(p.query.ip, Some(IpFilter::Addr(_))));
    }

    #[test]
    fn every_option_label_is_unique_in_both_languages() {
        let c = cat();
        for lang in Lang::ALL {
            let opts = event_options(&c, lang);
            let mut labels: Vec<(&str, &str)> = opts
                .iter()
                .map(|o| (o.label.as_str(), o.value.as_str()))
                .collect();
            labels.sort();
            for w in labels.windows(2) {
                assert!(
                    w[0].0 != w[1].0 || w[0].1 == w[1].1,
                    "{lang:?}: {:?} labels two options",
                    w[0].0
                );
            }
        }
    }
}
