//! An alert's words: subject, plain text, HTML and chat markup, in the rule's language, each
//! event in the catalogue's own message template (the admin console's e-mail wording), with
//! links to the event and to the filtered list in the console.

use authtrail_catalog::{Catalog, Lang};
use authtrail_formats::display::datetime;
use authtrail_formats::sheet::name_and_message;
use authtrail_model::Activity;
use authtrail_service::alerts::{AlertPlan, GroupBy, PendingAlert};
use time::UtcOffset;

use super::eval::{Fire, Reason};

/// How many events an alert lists (the count says how many there were).
pub const SHOWN: usize = 5;

/// One listed event: its time, message and console link.
struct Line {
    when: String,
    message: String,
    link: String,
}

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Chat markup (`<url|label>`) must not be opened or closed by the text itself.
fn chat_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn group_label(by: GroupBy, lang: Lang) -> &'static str {
    match (by, lang) {
        (GroupBy::Actor, Lang::En) => "account",
        (GroupBy::Actor, Lang::ZhTw) => "帳戶",
        (GroupBy::Ip, Lang::En) => "IP address",
        (GroupBy::Ip, Lang::ZhTw) => "IP 位址",
        (GroupBy::Overall, Lang::En) => "all",
        (GroupBy::Overall, Lang::ZhTw) => "全部",
    }
}

/// The console's list, filtered as the rule (and the group) select, over `from..=to`.
fn list_link(base: &str, plan: &AlertPlan, fire: &Fire, from_us: i64, to_us: i64) -> String {
    let q = &plan.rule.query;
    let mut ser = url::form_urlencoded::Serializer::new(String::new());
    if let Some(a) = &q.application {
        ser.append_pair("application", a);
    }
    if plan.query.event_names.len() == 1 {
        ser.append_pair("event", &plan.query.event_names[0]);
    }
    if let Some(r) = &q.result {
        ser.append_pair("result", r);
    }
    match plan.rule.grouping() {
        GroupBy::Actor if fire.group != "unknown" => {
            ser.append_pair("actor", &fire.group);
        }
        GroupBy::Ip if fire.group != "unknown" => {
            ser.append_pair("ip", &fire.group);
        }
        _ => {
            if let Some(a) = &q.actor {
                ser.append_pair("actor", a);
            }
            if let Some(ip) = &q.ip {
                ser.append_pair("ip", ip);
            }
        }
    }
    let minute = |us: i64| {
        authtrail_model::wire_time::format_rfc3339(
            us,
            authtrail_model::wire_time::Precision::Millis,
        )
        .chars()
        .take(16)
        .collect::<String>()
    };
    ser.append_pair("range", "custom");
    ser.append_pair("from", &minute(from_us));
    // The list's end is exclusive and to the minute: one minute past the last event.
    ser.append_pair("to", &minute(to_us + 60_000_000));
    ser.append_pair("tz", "UTC");
    format!("{base}/console/logs?{}", ser.finish())
}

/// Renders `fire` for the rule `id`. `shown` are the first activities it reports (fetched by
/// sequence number; an activity purged meanwhile is simply not listed).
pub fn render(
    plan: &AlertPlan,
    id: &str,
    catalog: &Catalog,
    console: &str,
    fire: &Fire,
    shown: &[Activity],
    now_us: i64,
) -> PendingAlert {
    let rule = &plan.rule;
    let lang = rule.lang();
    let base = console.trim_end_matches('/');
    let lines: Vec<Line> = shown
        .iter()
        .take(SHOWN)
        .map(|a| Line {
            when: datetime(a.time_us, UtcOffset::UTC, lang),
            message: name_and_message(catalog, lang, a).1,
            link: format!("{base}/console/logs/{}", a.unique_qualifier),
        })
        .collect();
    let total = fire.total();
    let group_by = rule.grouping();
    let group = if fire.group.is_empty() {
        None
    } else {
        Some(format!("{} {}", group_label(group_by, lang), fire.group))
    };
    // An activity purged before the alert was decided is not listed, but still counted.
    let first_message = lines.first().map_or(
        match lang {
            Lang::En => "A matching activity (no longer stored)",
            Lang::ZhTw => "一筆符合的活動（已不再保存）",
        },
        |l| l.message.as_str(),
    );
    let (headline, subject) = match (&fire.reason, lang) {
        (Reason::Match, _) if fire.held.is_none() => {
            (first_message.to_string(), first_message.to_string())
        }
        (Reason::Match, Lang::En) => (
            format!(
                "{first_message} (and {} more held back since the last alert)",
                total - 1
            ),
            format!("{first_message} (+{} more)", total - 1),
        ),
        (Reason::Match, Lang::ZhTw) => (
            format!("{first_message}（另有上次警示後暫緩的 {} 筆）", total - 1),
            format!("{first_message}（另有 {} 筆）", total - 1),
        ),
        (Reason::Threshold { window_minutes, .. }, Lang::En) => {
            let s = format!(
                "{} matching activities within {window_minutes} minutes{}",
                fire.count,
                group
                    .as_ref()
                    .map(|g| format!(" ({g})"))
                    .unwrap_or_default()
            );
            (s.clone(), s)
        }
        (Reason::Threshold { window_minutes, .. }, Lang::ZhTw) => {
            let s = format!(
                "{window_minutes} 分鐘內有 {} 筆符合的活動{}",
                fire.count,
                group
                    .as_ref()
                    .map(|g| format!("（{g}）"))
                    .unwrap_or_default()
            );
            (s.clone(), s)
        }
        (Reason::Summary, Lang::En) => {
            let s = format!(
                "{total} more matching activities since the last alert{}",
                group
                    .as_ref()
                    .map(|g| format!(" ({g})"))
                    .unwrap_or_default()
            );
            (s.clone(), s)
        }
        (Reason::Summary, Lang::ZhTw) => {
            let s = format!(
                "上次警示後另有 {total} 筆符合的活動{}",
                group
                    .as_ref()
                    .map(|g| format!("（{g}）"))
                    .unwrap_or_default()
            );
            (s.clone(), s)
        }
    };
    let subject = format!("[{}] {subject}", rule.name);
    let from = fire
        .held
        .as_ref()
        .map(|h| h.first_us)
        .into_iter()
        .chain(shown.iter().map(|a| a.time_us))
        .min()
        .unwrap_or(now_us);
    let to = fire
        .held
        .as_ref()
        .map(|h| h.last_us)
        .into_iter()
        .chain(shown.iter().map(|a| a.time_us))
        .max()
        .unwrap_or(now_us);
    let list = list_link(base, plan, fire, from, to);
    let (more, held_note, all, rule_line) = match lang {
        Lang::En => (
            format!("… and {} more.", total.saturating_sub(lines.len() as u64)),
            fire.held.as_ref().map(|h| {
                format!(
                    "{} of them were held back by throttling (at most one alert every {} minutes), between {} and {}.",
                    h.count,
                    rule.throttle_minutes,
                    datetime(h.first_us, UtcOffset::UTC, lang),
                    datetime(h.last_us, UtcOffset::UTC, lang)
                )
            }),
            "All matching activities",
            format!("Alert rule: {} ({id})", rule.name),
        ),
        Lang::ZhTw => (
            format!("……另有 {} 筆。", total.saturating_sub(lines.len() as u64)),
            fire.held.as_ref().map(|h| {
                format!(
                    "其中 {} 筆因節流而暫緩（每 {} 分鐘最多一則警示），時間介於 {} 與 {}。",
                    h.count,
                    rule.throttle_minutes,
                    datetime(h.first_us, UtcOffset::UTC, lang),
                    datetime(h.last_us, UtcOffset::UTC, lang)
                )
            }),
            "所有符合的活動",
            format!("警示規則：{}（{id}）", rule.name),
        ),
    };
    let hidden = total > lines.len() as u64;

    let mut text = format!("{headline}\n\n");
    for l in &lines {
        text.push_str(&format!("- {} {}\n  {}\n", l.when, l.message, l.link));
    }
    if hidden {
        text.push_str(&format!("{more}\n"));
    }
    if let Some(n) = &held_note {
        text.push_str(&format!("\n{n}\n"));
    }
    text.push_str(&format!("\n{all}: {list}\n\n{rule_line}\n"));

    let mut html = format!(
        "<!DOCTYPE html>\n<html lang=\"{}\"><head><meta charset=\"utf-8\"><title>{}</title></head><body>\n<p><strong>{}</strong></p>\n<ul>\n",
        lang.tag(),
        escape(&subject),
        escape(&headline)
    );
    for l in &lines {
        html.push_str(&format!(
            "<li>{} — <a href=\"{}\">{}</a></li>\n",
            escape(&l.when),
            escape(&l.link),
            escape(&l.message)
        ));
    }
    html.push_str("</ul>\n");
    if hidden {
        html.push_str(&format!("<p>{}</p>\n", escape(&more)));
    }
    if let Some(n) = &held_note {
        html.push_str(&format!("<p>{}</p>\n", escape(n)));
    }
    html.push_str(&format!(
        "<p><a href=\"{}\">{}</a></p>\n<p style=\"color:#666\">{}</p>\n</body></html>\n",
        escape(&list),
        escape(all),
        escape(&rule_line)
    ));

    let mut chat = format!("*{}*\n", chat_escape(&subject));
    for l in &lines {
        chat.push_str(&format!(
            "• {} <{}|{}>\n",
            chat_escape(&l.when),
            l.link,
            chat_escape(&l.message)
        ));
    }
    if hidden {
        chat.push_str(&format!("{}\n", chat_escape(&more)));
    }
    if let Some(n) = &held_note {
        chat.push_str(&format!("{}\n", chat_escape(n)));
    }
    chat.push_str(&format!("<{list}|{}>", chat_escape(all)));

    PendingAlert {
        subject,
        text,
        html,
        chat,
        group: fire.group.clone(),
        count: total,
        sequences: fire.all_sequences(),
        decided_us: now_us,
        delivered: Vec::new(),
    }
}
