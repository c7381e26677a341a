//! The event detail page: the catalogue message in the viewer's language, every field and typed
//! parameter, a finding's reasons or a sign-in's risk ([`super::risk`]), the related events, and
//! the raw JSON.

use authtrail_formats::display;
use authtrail_formats::google::{Precision, ToWire};
use authtrail_model::wire_time::format_rfc3339;
use authtrail_model::{ActivityQuery, ActorFilter, ParamValue};
use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde::Serialize;

use super::i18n;
use super::logs::{Row, row_from_activity};
use super::page::Ctx;
use super::risk::{finding_view, finding_word, risk_view};
use super::routes::Console;
use crate::native;

#[derive(Serialize)]
struct Field {
    label: String,
    value: String,
    time: Option<String>,
    /// "Filter by this": the list the page came from, narrowed to this value.
    href: Option<String>,
}

#[derive(Serialize)]
struct ParamRow {
    label: String,
    name: String,
    kind: String,
    /// For people: an enum value's name in the page's language, a time in the viewer's zone,
    /// yes or no.
    value: String,
    /// The stored value, beside a readable one that differs from it.
    raw: Option<String>,
    /// "Filter by this": the list of this event with this parameter value.
    href: Option<String>,
}

#[derive(Serialize)]
struct EventView {
    key: String,
    name: String,
    params: Vec<ParamRow>,
}

/// The list of `query` (the list a detail page came from; its page dropped) with `set`
/// applied: each key replaced, except `filters`, whose condition is added to the others.
fn narrowed(query: &[(String, String)], set: &[(&str, &str)]) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    let mut filters: Vec<String> = Vec::new();
    for (k, v) in query {
        if k == "cursor" || v.is_empty() {
            continue;
        }
        if k == "filters" {
            filters.push(v.clone());
        } else if !set.iter().any(|(x, _)| x == k) {
            s.append_pair(k, v);
        }
    }
    for (k, v) in set {
        if *k == "filters" {
            filters.push(v.to_string());
        } else {
            s.append_pair(k, v);
        }
    }
    if !filters.is_empty() {
        s.append_pair("filters", &filters.join(","));
    }
    format!("/console/logs?{}", s.finish())
}

/// One parameter as the page shows it: its name and type from the catalogue (or the type it
/// arrived as), its value readable in `lang`, and a "filter by this" link where the value can
/// be a condition of Google's grammar (one value, no comma).
fn param_row(
    pd: Option<&authtrail_catalog::ParamDef>,
    p: &authtrail_model::Parameter,
    event: &str,
    lang: authtrail_catalog::Lang,
    ctx: &Ctx,
    list: &[(String, String)],
) -> ParamRow {
    let t = |k: &str| i18n::text(lang, k).to_string();
    let named = |v: &str| pd.and_then(|d| d.value_name(v, lang));
    // Declared and arrived as declared: the catalogue's type. Undeclared (Logto's open
    // payloads), or arrived in another form: the type it arrived as.
    let kind = match pd {
        Some(x) if x.kind == p.value.kind() => x.kind.as_str().to_string(),
        _ => format!("{} ({})", p.value.kind().as_str(), t("undeclared")),
    };
    let (value, raw) = match (&p.value, pd.is_some_and(|x| x.time_us)) {
        // A time: in the viewer's zone, with the raw value kept.
        (ParamValue::Int(us), true) => (
            format!(
                "{} ({us})",
                display::datetime(*us, ctx.zone.offset(*us), lang)
            ),
            None,
        ),
        (ParamValue::Bool(v), _) => (t(if *v { "yes" } else { "no" }), Some(v.to_string())),
        (ParamValue::Str(v), _) => match named(v) {
            Some(n) => (n.to_string(), Some(v.clone())),
            None => (v.clone(), None),
        },
        (ParamValue::MultiStr(vs), _) if vs.iter().any(|v| named(v).is_some()) => {
            let sep = if lang == authtrail_catalog::Lang::ZhTw {
                "、"
            } else {
                ", "
            };
            let names: Vec<&str> = vs.iter().map(|v| named(v).unwrap_or(v)).collect();
            (names.join(sep), Some(vs.join(", ")))
        }
        _ => (p.value.display(), None),
    };
    let clause_value = match &p.value {
        ParamValue::Str(v) => Some(v.clone()),
        ParamValue::Int(v) => Some(v.to_string()),
        ParamValue::Bool(v) => Some(v.to_string()),
        _ => None,
    };
    let href = clause_value
        .filter(|v| !v.is_empty() && !v.contains(',') && v.len() <= 200)
        .map(|v| {
            let clause = format!("{}=={v}", p.name);
            narrowed(list, &[("event", event), ("filters", &clause)])
        });
    ParamRow {
        label: pd
            .map(|x| x.names.get(lang).to_string())
            .unwrap_or_else(|| p.name.clone()),
        name: p.name.clone(),
        kind,
        value,
        raw,
        href,
    }
}

/// How long around an event "the same actor" counts as the same sign-in, when no session id
/// ties events together.
pub const RELATED_WINDOW_US: i64 = 30 * 60 * 1_000_000;

pub async fn detail(
    State(console): State<Console>,
    headers: HeaderMap,
    Path(raw_uq): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    let ctx = match Ctx::signed_in(
        &console,
        &headers,
        &format!("/logs/{raw_uq}"),
        raw.as_deref(),
    )
    .await
    {
        Ok(c) => c,
        Err(r) => return r,
    };
    let app = &console.app;
    let lang = ctx.lang;
    let tenant = &ctx.viewer().tenant;
    let uq = match native::parse_unique_qualifier(&raw_uq) {
        Ok(n) => n,
        Err(e) => return ctx.api_error(e),
    };
    let a = match app.service.get(tenant, uq).await {
        Ok(a) => a,
        Err(e) => return ctx.api_error(e.into()),
    };
    let catalog = &app.catalog;
    let application = catalog.application(&a.application);
    let actor = a.body.actor.display().unwrap_or("").to_string();
    let first = a.body.events.first();
    let key = first.map(|e| e.name.clone()).unwrap_or_default();
    // The same wording as the list and the downloads.
    let (name, message) = authtrail_formats::sheet::name_and_message(catalog, lang, &a);
    let t = |k: &str| i18n::text(lang, k).to_string();
    let mut fields = vec![
        Field {
            label: t("id"),
            value: a.unique_qualifier.to_string(),
            time: None,
            href: None,
        },
        Field {
            label: t("time"),
            value: display::datetime(a.time_us, ctx.zone.offset(a.time_us), lang),
            time: Some(format_rfc3339(a.time_us, Precision::Micros)),
            href: None,
        },
        Field {
            label: t("received"),
            value: display::datetime(a.received_us, ctx.zone.offset(a.received_us), lang),
            time: Some(format_rfc3339(a.received_us, Precision::Micros)),
            href: None,
        },
        Field {
            label: t("application"),
            value: format!(
                "{} ({})",
                application.map(|x| x.names.get(lang)).unwrap_or(""),
                a.application
            ),
            time: None,
            href: None,
        },
        Field {
            label: t("actor"),
            value: actor.clone(),
            time: None,
            href: None,
        },
        Field {
            label: t("result"),
            value: t(a.body.result.as_str()),
            time: None,
            href: None,
        },
    ];
    let b = &a.body;
    for (k, v) in [
        ("ip_col", b.ip_address.clone()),
        ("user_agent", b.user_agent.clone()),
        (
            "user_agent_parsed",
            b.user_agent
                .as_deref()
                .map(|ua| authtrail_useragent::parse(ua).to_string())
                .filter(|s| !s.is_empty()),
        ),
        ("session", b.session_id.clone()),
        (
            "application",
            b.client_application_id
                .clone()
                .map(|c| format!("client: {c}")),
        ),
        (
            "actor",
            b.actor
                .caller_type
                .clone()
                .map(|c| format!("callerType: {c}")),
        ),
        (
            "actor",
            b.actor
                .profile_id
                .clone()
                .filter(|_| b.actor.email.is_some())
                .map(|p| format!("profileId: {p}")),
        ),
        ("id", b.event_id.clone().map(|e| format!("eventId: {e}"))),
        (
            "fields",
            b.owner_domain.clone().map(|d| format!("ownerDomain: {d}")),
        ),
        ("failure", b.error.as_ref().map(|e| e.to_string())),
    ] {
        if let Some(v) = v {
            fields.push(Field {
                label: t(k),
                value: v,
                time: None,
                href: None,
            });
        }
    }
    // "Filter by this" on the values the list filters by: the list this page came from (its
    // filters, range, zone and language), narrowed to the value.
    let narrow = |set: &[(&str, &str)]| narrowed(&ctx.query, set);
    let profile = b.actor.profile_id.as_deref();
    for f in &mut fields {
        let l = f.label.as_str();
        f.href = if l == t("actor") && f.value == actor && !actor.is_empty() {
            Some(narrow(&[("actor", &actor)]))
        } else if l == t("actor") && profile.is_some_and(|p| f.value == format!("profileId: {p}")) {
            profile.map(|p| narrow(&[("actor", p)]))
        } else if l == t("ip_col") {
            Some(narrow(&[("ip", &f.value)]))
        } else if l == t("session") {
            Some(narrow(&[("session", &f.value)]))
        } else if l == t("application") && f.value.ends_with(&format!("({})", a.application)) {
            Some(narrow(&[("application", &a.application)]))
        } else {
            None
        };
    }
    let event_href = narrow(&[("event", &key)]);
    let events: Vec<EventView> = b
        .events
        .iter()
        .map(|e| {
            let d = catalog.event(&a.application, &e.name);
            EventView {
                key: e.name.clone(),
                name: d
                    .map(|d| d.names.get(lang).to_string())
                    .unwrap_or_else(|| e.name.clone()),
                params: e
                    .parameters
                    .iter()
                    .map(|p| {
                        let pd = application.and_then(|x| x.parameters.get(&p.name));
                        param_row(pd, p, &e.name, lang, &ctx, &ctx.query)
                    })
                    .collect(),
            }
        })
        .collect();
    // Related: the same session id when the event has one; otherwise the same actor within
    // RELATED_WINDOW_US either side. Newest 20, this event excluded.
    let (rule, q) = match (&b.session_id, actor.is_empty()) {
        (Some(s), _) => (
            t("related_session"),
            Some(ActivityQuery {
                session_id: Some(s.clone()),
                limit: 21,
                ..Default::default()
            }),
        ),
        (None, false) => (
            t("related_actor"),
            Some(ActivityQuery {
                actor: Some(ActorFilter::from_key(
                    b.actor
                        .email
                        .as_deref()
                        .or(b.actor.profile_id.as_deref())
                        .unwrap_or(&actor),
                )),
                start_us: Some(a.time_us - RELATED_WINDOW_US),
                end_us: Some(a.time_us + RELATED_WINDOW_US),
                limit: 21,
                ..Default::default()
            }),
        ),
        (None, true) => (t("none"), None),
    };
    let related: Vec<Row> = match q {
        Some(q) => match app.service.list(tenant, &q).await {
            Ok(p) => p
                .items
                .iter()
                .filter(|r| r.unique_qualifier != a.unique_qualifier)
                .take(20)
                .map(|r| row_from_activity(catalog, lang, &ctx.zone, r))
                .collect(),
            Err(e) => return ctx.api_error(e.into()),
        },
        None => Vec::new(),
    };
    let finding = first
        .filter(|_| a.application == "detection")
        .map(|e| finding_view(lang, e));
    // The detectors' score of a sign-in, below the threshold too.
    let risk = match app.service.sign_in_risk(tenant, &a).await {
        Ok(r) => r.map(|s| risk_view(lang, &s)),
        Err(e) => return ctx.api_error(e.into()),
    };
    // The findings that name this event among the ones behind them (few: the detection
    // application's index bounds the walk).
    let flagged_by: Vec<Row> = if a.application == "detection" {
        Vec::new()
    } else {
        let q = ActivityQuery {
            application: Some("detection".into()),
            filters: vec![authtrail_model::filters::ParamFilter {
                name: "sequences".into(),
                op: authtrail_model::filters::Op::Eq,
                value: a.unique_qualifier.to_string(),
            }],
            limit: 20,
            ..Default::default()
        };
        match app.service.list(tenant, &q).await {
            Ok(p) => p
                .items
                .iter()
                .map(|r| row_from_activity(catalog, lang, &ctx.zone, r))
                .collect(),
            Err(e) => return ctx.api_error(e.into()),
        }
    };
    let raw_json = serde_json::to_string_pretty(&a.to_wire(Precision::Micros)).unwrap_or_default();
    // "Back" returns to the list this page was opened from: the list passes its query along.
    let back_href = match raw.as_deref().filter(|q| !q.is_empty()) {
        Some(q) if crate::params::escapes_are_valid(q) => format!("/console/logs?{q}"),
        _ => "/console/logs".to_string(),
    };
    ctx.render(
        &console,
        "detail.html",
        "detail",
        minijinja::context! {
            key => key, name => name, message => message, event_href => event_href, fields => fields, events => events,
            related => related, related_rule => rule, raw => raw_json, back_href => back_href,
            finding => finding, risk => risk, flagged_by => flagged_by,
            flagged_by_label => finding_word(lang, "flagged_by").unwrap_or(""),
        },
    )
}
