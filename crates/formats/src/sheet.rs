//! "Export what you see": the console's CSV and NDJSON downloads of a filtered list, one row per
//! activity, carrying the event's name and message in the viewer's language and every field.
//!
//! - **CSV** (RFC 4180, CRLF line ends) starts with a UTF-8 byte order mark, without which Excel
//!   (as Taiwan's admins open it) reads UTF-8 as the local code page and garbles Chinese names.
//!   Fixed columns for what people sort and filter on, then `activity`: the whole activity in the
//!   native wire JSON, so no field is lost. A cell that a spreadsheet would take for a formula
//!   (starting with `=`, `+`, `-`, `@`, tab or CR) is prefixed with `'`: a producer controls most
//!   values, and a CSV opened in Excel must not run them (OWASP's "CSV injection").
//! - **NDJSON**: one line per activity, the native wire JSON with a `localized` member
//!   (`lang`, `eventName`, `message`).

use authtrail_catalog::{Catalog, Lang};
use authtrail_model::Activity;
use authtrail_model::wire_time::{Precision as TimePrecision, format_rfc3339};
use serde_json::json;

use crate::google::{Precision, ToWire};

/// The UTF-8 byte order mark a CSV download starts with.
pub const CSV_BOM: &str = "\u{FEFF}";

/// The CSV columns, in order.
pub const CSV_COLUMNS: &[&str] = &[
    "time",
    "uniqueQualifier",
    "application",
    "event",
    "eventName",
    "message",
    "result",
    "actor",
    "profileId",
    "ipAddress",
    "sessionId",
    "userAgent",
    "eventId",
    "activity",
];

/// The first event's name and rendered message in `lang` (the list's and the detail page's
/// wording); the raw name when the catalogue does not know the event.
pub fn name_and_message(catalog: &Catalog, lang: Lang, a: &Activity) -> (String, String) {
    let first = a.body.events.first();
    let key = first.map(|e| e.name.clone()).unwrap_or_default();
    let def = first.and_then(|e| catalog.event(&a.application, &e.name));
    let name = def
        .map(|d| d.names.get(lang).to_string())
        .unwrap_or_else(|| key.clone());
    let actor = a
        .body
        .actor
        .display()
        .filter(|s| !s.is_empty())
        .unwrap_or("—")
        .to_string();
    let message = match (def, first) {
        (Some(d), Some(e)) => {
            let failed = a.body.result == authtrail_model::Outcome::Failure;
            authtrail_catalog::render(d.template_for(failed).get(lang), "—", |p| {
                if p == "actor" {
                    Some(actor.clone())
                } else {
                    e.param(p).map(|v| v.display())
                }
            })
        }
        _ => name.clone(),
    };
    (name, message)
}

/// The activity in the native wire JSON, serialized straight from the wire structs: going
/// through a `serde_json::Value` first allocated every key and value of every row again, the
/// largest cost of a CSV export (docs/performance.md, "The console").
fn wire_json(a: &Activity) -> String {
    serde_json::to_string(&a.to_wire(Precision::Micros)).unwrap_or_else(|_| "null".into())
}

/// One CSV cell: quoted when it holds a separator, quote or line break; defused when a
/// spreadsheet would read it as a formula.
fn cell(out: &mut String, v: &str) {
    let defuse = v.starts_with(['=', '+', '-', '@', '\t', '\r']);
    let quote = defuse || v.contains([',', '"', '\n', '\r']);
    if !quote {
        out.push_str(v);
        return;
    }
    out.push('"');
    if defuse {
        out.push('\'');
    }
    let mut parts = v.split('"');
    out.push_str(parts.next().unwrap_or(""));
    for p in parts {
        out.push_str("\"\"");
        out.push_str(p);
    }
    out.push('"');
}

fn line_into(out: &mut String, cells: &[&str]) {
    for (i, c) in cells.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        cell(out, c);
    }
    out.push_str("\r\n");
}

/// The BOM and the header line.
pub fn csv_head() -> String {
    let mut out = String::from(CSV_BOM);
    line_into(&mut out, CSV_COLUMNS);
    out
}

/// One activity as a CSV line (CRLF-terminated).
pub fn csv_row(catalog: &Catalog, lang: Lang, a: &Activity) -> String {
    let mut out = String::with_capacity(1024);
    csv_row_into(&mut out, catalog, lang, a);
    out
}

/// [`csv_row`], appended to `out` (an export writes a page of rows into one buffer).
pub fn csv_row_into(out: &mut String, catalog: &Catalog, lang: Lang, a: &Activity) {
    let (name, message) = name_and_message(catalog, lang, a);
    let b = &a.body;
    let events = match b.events.as_slice() {
        [one] => std::borrow::Cow::Borrowed(one.name.as_str()),
        many => std::borrow::Cow::Owned(
            many.iter()
                .map(|e| e.name.as_str())
                .collect::<Vec<_>>()
                .join(";"),
        ),
    };
    fn opt(v: &Option<String>) -> &str {
        v.as_deref().unwrap_or_default()
    }
    line_into(
        out,
        &[
            &format_rfc3339(a.time_us, TimePrecision::Micros),
            &a.unique_qualifier.to_string(),
            &a.application,
            &events,
            &name,
            &message,
            b.result.as_str(),
            opt(&b.actor.email),
            opt(&b.actor.profile_id),
            opt(&b.ip_address),
            opt(&b.session_id),
            opt(&b.user_agent),
            opt(&b.event_id),
            &wire_json(a),
        ],
    );
}

/// One activity as an NDJSON line (LF-terminated).
pub fn ndjson_row(catalog: &Catalog, lang: Lang, a: &Activity) -> String {
    let (name, message) = name_and_message(catalog, lang, a);
    let mut s = wire_json(a);
    // The wire object, its closing brace replaced by one more member: what adding `localized`
    // to its `Value` wrote, without building the `Value`.
    let localized = json!({"lang": lang.tag(), "eventName": name, "message": message});
    if s.ends_with('}') && s.len() > 2 {
        s.pop();
        s.push_str(",\"localized\":");
        s.push_str(&localized.to_string());
        s.push('}');
    } else {
        s = json!({"localized": localized}).to_string();
    }
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use authtrail_model::Tenant;
    use authtrail_model::validate::{Context, validate_item};
    use serde_json::Value;

    use super::*;

    fn activity(v: Value) -> Activity {
        let catalog = Catalog::builtin().unwrap();
        let tenant = Tenant::new("Cx").unwrap();
        let ctx = Context {
            catalog: &catalog,
            tenant: &tenant,
            now_us: 1_767_225_600_000_000,
        };
        let n = validate_item(&ctx, 0, &v).unwrap();
        Activity {
            tenant,
            unique_qualifier: 7,
            time_us: n.time_us,
            received_us: n.time_us,
            application: n.application,
            body: n.body,
        }
    }

    #[test]
    fn csv_starts_with_a_bom_and_quotes_and_defuses_cells() {
        assert!(csv_head().starts_with("\u{FEFF}time,uniqueQualifier,"));
        let mut s = String::new();
        cell(&mut s, "a,b \"c\"");
        assert_eq!(s, "\"a,b \"\"c\"\"\"");
        s.clear();
        cell(&mut s, "=HYPERLINK(\"x\")");
        assert_eq!(s, "\"'=HYPERLINK(\"\"x\"\")\"");
        s.clear();
        cell(&mut s, "登入失敗");
        assert_eq!(s, "登入失敗");
    }

    #[test]
    fn rows_carry_the_localized_name_the_message_and_every_field() {
        let catalog = Catalog::builtin().unwrap();
        let a = activity(json!({
            "id": {"applicationName": "login", "time": "2026-01-01T00:00:00Z"},
            "actor": {"email": "ada@example.com"}, "ipAddress": "203.0.113.9",
            "userAgent": "UA, with comma",
            "events": [{"name": "login_failure", "parameters": [
                {"name": "login_type", "value": "google_password"}]}]
        }));
        let row = csv_row(&catalog, Lang::ZhTw, &a);
        assert!(
            row.starts_with("2026-01-01T00:00:00.000000Z,7,login,login_failure,登入失敗,ada@example.com 登入失敗,failure,ada@example.com,,203.0.113.9,,\"UA, with comma\",,"),
            "{row}"
        );
        assert!(row.ends_with("\r\n"));
        let at = row.find(",\"{").unwrap() + 2;
        let json_cell = row[at..].trim_end_matches("\"\r\n");
        let back: Value = serde_json::from_str(&json_cell.replace("\"\"", "\"")).unwrap();
        assert_eq!(
            back["events"][0]["parameters"][0]["value"],
            "google_password"
        );

        let line = ndjson_row(&catalog, Lang::En, &a);
        let v: Value = serde_json::from_str(line.trim_end()).unwrap();
        assert_eq!(v["localized"]["eventName"], "Failed login");
        assert_eq!(v["localized"]["message"], "ada@example.com failed to login");
        assert_eq!(v["id"]["uniqueQualifier"], "7");
    }

    /// The activity cell and the NDJSON line are byte for byte what serializing through a
    /// `serde_json::Value` wrote (the export's encoding before it was made faster).
    #[test]
    fn the_json_is_what_the_value_route_wrote() {
        let catalog = Catalog::builtin().unwrap();
        let a = activity(json!({
            "id": {"applicationName": "login", "time": "2026-01-01T00:00:00Z"},
            "actor": {"email": "Ada@Example.com", "profileId": "p1"}, "ipAddress": "203.0.113.9",
            "events": [
                {"name": "login_failure", "parameters": [
                    {"name": "login_type", "value": "google_password"},
                    {"name": "login_challenge_method", "multiValue": ["password", "totp"]}]},
                {"name": "login_verification"}]
        }));
        let value = serde_json::to_value(a.to_wire(Precision::Micros)).unwrap();
        let row = csv_row(&catalog, Lang::En, &a);
        let at = row.find(",\"{").unwrap() + 2;
        let cell = row[at..].trim_end_matches("\"\r\n").replace("\"\"", "\"");
        assert_eq!(cell, value.to_string());
        assert!(row.contains(",login_failure;login_verification,"), "{row}");

        let mut v = value;
        let (name, message) = name_and_message(&catalog, Lang::ZhTw, &a);
        v["localized"] = json!({"lang": Lang::ZhTw.tag(), "eventName": name, "message": message});
        assert_eq!(ndjson_row(&catalog, Lang::ZhTw, &a), format!("{v}\n"));
    }

    /// Issue #17: a refused console sign-in read "signed in to the console".
    #[test]
    fn a_failed_attempt_reads_as_a_failure() {
        let catalog = Catalog::builtin().unwrap();
        let signed_in = |result: &str| {
            let mut v = serde_json::json!({"id": {"applicationName": "admin"},
                "actor": {"callerType": "USER", "email": "gina@example.com"},
                "events": [{"name": "console.sign_in"}], "result": result});
            if result == "failure" {
                v["events"][0]["parameters"] = serde_json::json!([{"name": "login_failure_reason", "value": "wrong_password"}]);
            }
            activity(v)
        };
        let (_, ok) = name_and_message(&catalog, Lang::En, &signed_in("success"));
        assert_eq!(ok, "gina@example.com signed in to the console");
        let (_, failed) = name_and_message(&catalog, Lang::En, &signed_in("failure"));
        assert_eq!(
            failed,
            "gina@example.com failed to sign in to the console (wrong_password)"
        );
        let (_, zh) = name_and_message(&catalog, Lang::ZhTw, &signed_in("failure"));
        assert_eq!(zh, "gina@example.com 登入主控台失敗（wrong_password）");
    }
}
