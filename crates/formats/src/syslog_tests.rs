//! Every message is read back with `syslog_rfc5424`, a maintained RFC 5424 parser, so the tests
//! check what a collector would read, not our own idea of the format.

use authtrail_catalog::Catalog;
use authtrail_model::{Event, Outcome};
use serde_json::json;
use syslog_rfc5424::{SyslogFacility, SyslogSeverity, parse_message};

use super::*;

fn header<'a>(hostname: &'a str, msgid: &'a str) -> Header<'a> {
    Header {
        facility: Facility::AUTHPRIV,
        severity: Severity::Informational,
        // 2026-01-01T00:00:00.123456Z
        time_us: 1_767_225_600_123_456,
        hostname,
        msgid,
    }
}

#[test]
fn a_message_reads_back_field_by_field() {
    let body = json!({"class_uid": 3002, "message": "ada@example.com 登入失敗"}).to_string();
    let m = message(
        &header("node-1.example.com", "login_failure"),
        &[SdElement::authtrail("C01", 42, Some(41))],
        &body,
    );
    assert!(
        m.starts_with(
            "<86>1 2026-01-01T00:00:00.123456Z node-1.example.com authtrail - login_failure \
             [authtrail@32473 tenant=\"C01\" seq=\"42\" prevSeq=\"41\"] \u{FEFF}{"
        ),
        "{m}"
    );
    let p = parse_message(&m).unwrap();
    assert_eq!(p.facility, SyslogFacility::LOG_AUTHPRIV);
    assert_eq!(p.severity, SyslogSeverity::SEV_INFO);
    assert_eq!(p.version, 1);
    assert_eq!(p.timestamp, Some(1_767_225_600));
    assert_eq!(p.timestamp_nanos, Some(123_456_000));
    assert_eq!(p.hostname.as_deref(), Some("node-1.example.com"));
    assert_eq!(p.appname.as_deref(), Some("authtrail"));
    assert!(p.procid.is_none());
    assert_eq!(p.msgid.as_deref(), Some("login_failure"));
    assert_eq!(p.sd.find_tuple(SD_ID, "tenant"), Some(&"C01".to_string()));
    assert_eq!(p.sd.find_tuple(SD_ID, "seq"), Some(&"42".to_string()));
    assert_eq!(p.sd.find_tuple(SD_ID, "prevSeq"), Some(&"41".to_string()));
    // MSG: a BOM, then the UTF-8 JSON as it was.
    let msg = p
        .msg
        .strip_prefix('\u{FEFF}')
        .expect("MSG starts with a BOM");
    assert_eq!(msg, body);
}

#[test]
fn param_values_escape_quote_backslash_and_bracket() {
    let tenant = r#"a"b\c]d 租戶 [e="f"]"#;
    let m = message(
        &header("h", "x"),
        &[SdElement::authtrail(tenant, 1, None)],
        "{}",
    );
    assert!(
        m.contains(r#"tenant="a\"b\\c\]d 租戶 [e=\"f\"\]" seq="1"]"#),
        "{m}"
    );
    let p = parse_message(&m).unwrap();
    assert_eq!(
        p.sd.find_tuple(SD_ID, "tenant").map(String::as_str),
        Some(tenant)
    );
    assert!(
        p.sd.find_tuple(SD_ID, "prevSeq").is_none(),
        "first delivery"
    );
    assert_eq!(p.msg, "\u{FEFF}{}");

    // SD-NAMEs cannot hold = ] " or spaces: they are replaced, so the element still parses.
    let odd = SdElement {
        id: "x y@1".into(),
        params: vec![("a=b]\"c".into(), "v".into())],
    };
    let m = message(&header("h", "x"), &[odd], "");
    let p = parse_message(&m).unwrap();
    assert_eq!(p.sd.find_tuple("x_y@1", "a_b__c"), Some(&"v".to_string()));
}

#[test]
fn header_fields_are_sanitised_and_cut_to_their_limits() {
    let long_host = "h".repeat(300);
    let long_event = "Interaction.SignIn.Verification.EmailVerificationCode.Submit";
    let m = message(&header(&long_host, long_event), &[], "{}");
    let p = parse_message(&m).unwrap();
    assert_eq!(p.hostname.as_deref().map(str::len), Some(HOSTNAME_MAX));
    assert_eq!(p.msgid.as_deref(), Some(&long_event[..MSGID_MAX]));
    assert!(p.sd.is_empty());

    // Without the cut, a collector refuses the message: the limits are real.
    let uncut = m.replacen(&"h".repeat(HOSTNAME_MAX), &long_host, 1);
    assert!(parse_message(&uncut).is_err());

    // Spaces, controls and non-ASCII would split or corrupt the header.
    let m = message(&header("höst name", "bad id\n登入"), &[], "{}");
    let p = parse_message(&m).unwrap();
    assert_eq!(p.hostname.as_deref(), Some("h_st_name"));
    assert_eq!(p.msgid.as_deref(), Some("bad_id___"));
    // An empty field is the NILVALUE.
    let p = parse_message(message(&header("", ""), &[], "{}")).unwrap();
    assert!(p.hostname.is_none() && p.msgid.is_none());
}

#[test]
fn frames_count_octets_not_characters() {
    let m = message(&header("h", "x"), &[], r#"{"m":"登入"}"#);
    let f = frame(&m);
    let text = String::from_utf8(f).unwrap();
    let (len, rest) = text.split_once(' ').unwrap();
    assert_eq!(len.parse::<usize>().unwrap(), rest.len());
    assert!(rest.len() > rest.chars().count(), "multi-byte characters");
    assert_eq!(rest, m);
    parse_message(rest).unwrap();
}

#[test]
fn priority_combines_facility_and_severity() {
    let mut h = header("h", "x");
    h.facility = Facility::new(23).unwrap();
    h.severity = Severity::Debug;
    assert!(message(&h, &[], "").starts_with("<191>1 "));
    h.facility = Facility::AUTH;
    h.severity = Severity::Emergency;
    let p = parse_message(message(&h, &[], "")).unwrap();
    assert_eq!(
        (p.facility, p.severity),
        (SyslogFacility::LOG_AUTH, SyslogSeverity::SEV_EMERG)
    );
    assert_eq!(Facility::new(24), None);
}

#[test]
fn severity_follows_the_catalogues_tags_and_the_result() {
    let c = Catalog::builtin().unwrap();
    let ev = |name: &str| Event {
        event_type: String::new(),
        name: name.into(),
        parameters: vec![],
    };
    let sev = |name: &str, r| severity_of(&c, "login", &ev(name), r);
    assert_eq!(sev("suspicious_login", Outcome::Success), Severity::Warning);
    assert_eq!(sev("login_failure", Outcome::Failure), Severity::Notice);
    assert_eq!(
        sev("login_success", Outcome::Success),
        Severity::Informational
    );
}
