//! Syslog messages (RFC 5424) and their octet-counted frames (RFC 6587 §3.4.1, the framing RFC
//! 5425 requires over TLS), for the SIEM sinks of issue #13. Pure: bytes in, bytes out; the
//! transport (TCP, TLS) lives with the sink.
//!
//! A message is `<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID [SD] BOM MSG`:
//! - TIMESTAMP is the event's time in UTC with microseconds (RFC 5424 allows six digits);
//! - HOSTNAME, APP-NAME, PROCID and MSGID are printable US-ASCII (33-126) of at most 255, 48,
//!   128 and 32 characters: anything else is replaced by `_` and the rest cut off, so a
//!   producer's event name can never break the header; an empty field is the NILVALUE `-`;
//! - the structured data element `authtrail@32473` carries the tenant, the event's sequence
//!   number and the previous one delivered, so a collector can prove that none is missing
//!   (32473 is the private enterprise number RFC 5612 reserves for documentation: the SD-ID has
//!   the form of a private one without claiming a number);
//! - MSG is UTF-8 (a JSON record) and starts with a byte order mark, as RFC 5424 §6.4 asks of
//!   UTF-8 text.

use authtrail_catalog::{Catalog, Tag};
use authtrail_model::wire_time::{Precision, format_rfc3339};
use authtrail_model::{Event, Outcome};

/// The SD-ID of authtrail's structured data element.
pub const SD_ID: &str = "authtrail@32473";
/// APP-NAME.
pub const APP_NAME: &str = "authtrail";
const BOM: &str = "\u{FEFF}";
const NILVALUE: &str = "-";

/// Header field limits (RFC 5424 §6).
pub const HOSTNAME_MAX: usize = 255;
pub const APP_NAME_MAX: usize = 48;
pub const PROCID_MAX: usize = 128;
pub const MSGID_MAX: usize = 32;
/// SD-ID and PARAM-NAME (SD-NAME) limit.
pub const SD_NAME_MAX: usize = 32;

/// Syslog severities (RFC 5424 §6.2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    Emergency = 0,
    Alert = 1,
    Critical = 2,
    Error = 3,
    Warning = 4,
    Notice = 5,
    Informational = 6,
    Debug = 7,
}

/// A facility code, 0 to 23 (RFC 5424 §6.2.1); e.g. 4 security/authorization, 10
/// security/authorization (authpriv), 13 log audit, 16-23 local0-local7.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Facility(u8);

impl Facility {
    pub const AUTH: Facility = Facility(4);
    pub const AUTHPRIV: Facility = Facility(10);
    pub const LOG_AUDIT: Facility = Facility(13);

    /// A facility code, if it is one (0-23).
    pub fn new(code: u8) -> Option<Facility> {
        (code <= 23).then_some(Facility(code))
    }

    pub fn code(self) -> u8 {
        self.0
    }
}

/// The severity of an event of an activity with `result`, from the catalogue's tags: a warning
/// is Warning, a failure Notice, anything else Informational.
pub fn severity_of(catalog: &Catalog, application: &str, e: &Event, result: Outcome) -> Severity {
    let warning = catalog
        .event(application, &e.name)
        .is_some_and(|d| d.has(Tag::AccountWarning));
    match (warning, result) {
        (true, _) => Severity::Warning,
        (false, Outcome::Failure) => Severity::Notice,
        (false, Outcome::Success) => Severity::Informational,
    }
}

/// One SD-ELEMENT: an SD-ID and its parameters (name, value).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SdElement {
    pub id: String,
    pub params: Vec<(String, String)>,
}

impl SdElement {
    /// authtrail's element: the tenant, the event's sequence number and the previous one the
    /// destination was sent (`prevSeq`, left out for the first delivery).
    pub fn authtrail(tenant: &str, seq: i64, prev_seq: Option<i64>) -> SdElement {
        let mut params = vec![
            ("tenant".to_string(), tenant.to_string()),
            ("seq".to_string(), seq.to_string()),
        ];
        if let Some(p) = prev_seq {
            params.push(("prevSeq".to_string(), p.to_string()));
        }
        SdElement {
            id: SD_ID.to_string(),
            params,
        }
    }
}

/// The header fields of a message that vary.
#[derive(Debug, Clone)]
pub struct Header<'a> {
    pub facility: Facility,
    pub severity: Severity,
    /// Microseconds since the Unix epoch.
    pub time_us: i64,
    pub hostname: &'a str,
    /// Typically the event's name.
    pub msgid: &'a str,
}

/// One RFC 5424 message: the header, the structured data and `msg` (UTF-8, after a BOM).
pub fn message(h: &Header, sd: &[SdElement], msg: &str) -> String {
    let pri = u16::from(h.facility.code()) * 8 + h.severity as u16;
    let mut out = format!(
        "<{pri}>1 {} {} {} {} {} ",
        format_rfc3339(h.time_us, Precision::Micros),
        header_field(h.hostname, HOSTNAME_MAX),
        header_field(APP_NAME, APP_NAME_MAX),
        NILVALUE,
        header_field(h.msgid, MSGID_MAX),
    );
    if sd.is_empty() {
        out.push_str(NILVALUE);
    }
    for e in sd {
        out.push('[');
        out.push_str(&sd_name(&e.id));
        for (name, value) in &e.params {
            out.push(' ');
            out.push_str(&sd_name(name));
            out.push_str("=\"");
            escape_param_value(&mut out, value);
            out.push('"');
        }
        out.push(']');
    }
    out.push(' ');
    out.push_str(BOM);
    out.push_str(msg);
    out
}

/// An octet-counted frame (RFC 6587 §3.4.1, RFC 5425 §4.3): `MSG-LEN SP SYSLOG-MSG`, the length
/// in octets.
pub fn frame(message: &str) -> Vec<u8> {
    let mut out = format!("{} ", message.len()).into_bytes();
    out.extend_from_slice(message.as_bytes());
    out
}

/// A header field: printable US-ASCII, at most `max` characters, `-` when empty.
fn header_field(s: &str, max: usize) -> String {
    let out: String = s
        .chars()
        .map(|c| if c.is_ascii_graphic() { c } else { '_' })
        .take(max)
        .collect();
    if out.is_empty() {
        NILVALUE.to_string()
    } else {
        out
    }
}

/// An SD-NAME: printable US-ASCII except `=`, space, `]` and `"`, at most 32 characters.
fn sd_name(s: &str) -> String {
    let out: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && !matches!(c, '=' | ']' | '"') {
                c
            } else {
                '_'
            }
        })
        .take(SD_NAME_MAX)
        .collect();
    if out.is_empty() { "_".into() } else { out }
}

/// PARAM-VALUE escaping (RFC 5424 §6.3.3): `"`, `\` and `]` get a backslash; the rest is UTF-8
/// as it is.
fn escape_param_value(out: &mut String, v: &str) {
    for c in v.chars() {
        if matches!(c, '"' | '\\' | ']') {
            out.push('\\');
        }
        out.push(c);
    }
}

#[cfg(test)]
#[path = "syslog_tests.rs"]
mod tests;
