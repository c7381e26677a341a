//! The event detail page: the catalogue message in the viewer's language, every field and typed
//! parameter, the related events, and the raw JSON.

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

/// A detection finding's explanation: each reason code in the viewer's language with its
/// evidence, the risk score, and links to the events behind it.
#[derive(Serialize)]
struct FindingView {
    heading: &'static str,
    risk_label: &'static str,
    risk: Option<i64>,
    reasons_label: &'static str,
    evidence_label: &'static str,
    reasons: Vec<ReasonRow>,
    behind_label: &'static str,
    sequences: Vec<i64>,
}

#[derive(Serialize)]
struct ReasonRow {
    code: String,
    label: String,
    evidence: String,
}

/// The words of the finding section and the reason codes of `authtrail_detect`, (key, English,
/// Traditional Chinese). A code missing here is shown as it is.
const FINDING_WORDS: &[(&str, &str, &str)] = &[
    ("heading", "Why this was flagged", "標記原因"),
    ("risk", "Risk score", "風險分數"),
    ("reasons", "Reason", "原因"),
    ("evidence", "Evidence", "依據"),
    ("behind", "Events behind it", "相關事件"),
    (
        "flagged_by",
        "Findings about this event",
        "與此事件相關的偵測結果",
    ),
    (
        "failures_account_ip",
        "Failures on the account from this address",
        "此位址對帳戶的失敗次數",
    ),
    (
        "failures_ip",
        "Failures from this address",
        "此位址的失敗次數",
    ),
    ("threshold", "Threshold", "門檻"),
    ("accounts", "Accounts", "帳戶數"),
    (
        "accounts_from_ip",
        "Accounts tried from this address",
        "此位址嘗試的帳戶數",
    ),
    (
        "tries_per_account",
        "Tries per account",
        "每個帳戶的嘗試次數",
    ),
    ("ips", "Addresses", "位址數"),
    ("failure_rate", "Failure rate", "失敗率"),
    (
        "attempts_from_unfamiliar_ips",
        "Attempts from unfamiliar addresses",
        "來自陌生位址的嘗試",
    ),
    (
        "mfa_failures",
        "Failed second-factor challenges",
        "多重要素驗證失敗次數",
    ),
    (
        "velocity_kmh",
        "Speed between sign-ins (km/h)",
        "兩次登入間的速度（公里／小時）",
    ),
    ("distance_km", "Distance (km)", "距離（公里）"),
    ("countries", "Countries", "國家"),
    ("new_device", "New device", "新裝置"),
    ("new_network", "New network", "新網路"),
    ("new_ip", "New address", "新位址"),
    ("new_country", "New country", "新國家"),
    ("new_asn", "New network provider (ASN)", "新網路業者（ASN）"),
    ("unusual_hour", "Unusual hour", "不尋常的時段"),
    (
        "after_credential_change",
        "Soon after a credential change",
        "憑證變更後不久",
    ),
    ("failures_before", "Failures just before", "之前的失敗次數"),
    (
        "ip_in_attack",
        "Address in an ongoing attack",
        "位址屬於進行中的攻擊",
    ),
];

fn finding_word(lang: authtrail_catalog::Lang, key: &str) -> Option<&'static str> {
    FINDING_WORDS
        .iter()
        .find(|(k, ..)| *k == key)
        .map(|(_, en, zh)| {
            if lang == authtrail_catalog::Lang::ZhTw {
                *zh
            } else {
                *en
            }
        })
}

/// The explanation of a `detection` activity's first event, read from its parameters.
fn finding_view(lang: authtrail_catalog::Lang, event: &authtrail_model::Event) -> FindingView {
    let w = |k: &str| finding_word(lang, k).unwrap_or("");
    let reasons = match event.param("reasons") {
        Some(ParamValue::MultiStr(v)) => v
            .iter()
            .map(|r| {
                let (code, evidence) = r.split_once(": ").unwrap_or((r.as_str(), ""));
                ReasonRow {
                    code: code.to_string(),
                    label: finding_word(lang, code).unwrap_or(code).to_string(),
                    evidence: evidence.to_string(),
                }
            })
            .collect(),
        _ => Vec::new(),
    };
    FindingView {
        heading: w("heading"),
        risk_label: w("risk"),
        risk: match event.param("risk_score") {
            Some(ParamValue::Int(n)) => Some(*n),
            _ => None,
        },
        reasons_label: w("reasons"),
        evidence_label: w("evidence"),
        reasons,
        behind_label: w("behind"),
        sequences: match event.param("sequences") {
            Some(ParamValue::MultiInt(v)) => v.clone(),
            _ => Vec::new(),
        },
    }
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
            finding => finding, flagged_by => flagged_by,
            flagged_by_label => finding_word(lang, "flagged_by").unwrap_or(""),
        },
    )
}
