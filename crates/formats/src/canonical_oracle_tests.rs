//! The hand-written encoder against the oracle it replaced: `serde_json_canonicalizer` (RFC 8785)
//! over the serde form of the activity. Any byte of difference would change a leaf hash, so every
//! generated activity must encode to exactly the oracle's bytes.

use proptest::prelude::*;
use serde::Serialize;
use serde_json::{Map, Number, Value};

use authtrail_model::activity::{I64Str, MessageValue, NestedParameter, NetworkInfo};
use authtrail_model::{
    Activity, ActivityBody, Actor, Event, Outcome, ParamValue, Parameter, Tenant,
};

use super::*;
use crate::export::Row;

/// The canonical form as serde sees it: what `encode` was, before it wrote the members itself.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Form<'a> {
    format: &'static str,
    tenant: &'a str,
    unique_qualifier: I64Str,
    time_us: I64Str,
    received_us: I64Str,
    application: &'a str,
    body: &'a ActivityBody,
}

fn oracle(a: &Activity) -> Vec<u8> {
    let form = Form {
        format: FORMAT,
        tenant: a.tenant.as_str(),
        unique_qualifier: I64Str(a.unique_qualifier),
        time_us: I64Str(a.time_us),
        received_us: I64Str(a.received_us),
        application: &a.application,
        body: &a.body,
    };
    serde_json_canonicalizer::to_vec(&form).unwrap()
}

/// Text with what JCS treats specially: control characters, `"` and `\`, non-ASCII, characters
/// beyond U+FFFF (surrogate pairs in UTF-16) next to U+E000–U+FFFF (which sort after them in
/// UTF-16 but before them in UTF-8), and the empty string.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => any::<String>(),
        2 => "[a-z]{0,6}",
        2 => prop::collection::vec(
            prop::sample::select(vec![
                "a", "Z", "1", "\"", "\\", "/", "\u{0}", "\u{1}", "\u{8}", "\t", "\n", "\u{c}",
                "\r", "\u{1f}", "\u{7f}", "\u{80}", "é", "€", "\u{e000}", "\u{fb33}", "\u{ffff}",
                "\u{10000}", "😀", "名",
            ]),
            0..6,
        )
        .prop_map(|parts| parts.concat()),
    ]
}

fn opt_text() -> impl Strategy<Value = Option<String>> {
    prop::option::of(text())
}

/// Numbers as serde_json holds them: u64, i64 and finite f64, edge cases included.
fn number() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<u64>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        prop::sample::select(vec![
            0u64,
            1,
            (1 << 53) - 1,
            1 << 53,
            (1 << 53) + 1,
            u64::MAX,
            12345678901234567890
        ])
        .prop_map(Value::from),
        any::<f64>().prop_filter_map("finite", |f| Number::from_f64(f).map(Value::Number)),
        prop::sample::select(vec![
            -0.0f64,
            0.1,
            1e21,
            1e-7,
            1e-6,
            4.5,
            -2.5e-7,
            5e-324,
            1.7976931348623157e308,
            333_333_333.333_333_3,
            9.999999999999997e22
        ])
        .prop_map(|f| Value::Number(Number::from_f64(f).unwrap())),
    ]
}

/// Any JSON: objects with member names in random (insertion) order.
fn json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        number(),
        text().prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::vec((text(), inner), 0..6)
                .prop_map(|members| Value::Object(members.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

fn nested() -> impl Strategy<Value = NestedParameter> {
    (
        text(),
        opt_text(),
        prop::option::of(any::<i64>()),
        prop::option::of(any::<bool>()),
        prop::option::of(prop::collection::vec(text(), 0..3)),
        prop::option::of(prop::collection::vec(any::<i64>(), 0..3)),
        prop::option::of(prop::collection::vec(any::<bool>(), 0..3)),
    )
        .prop_map(
            |(name, value, int, b, multi, multi_int, multi_bool)| NestedParameter {
                name,
                value,
                int_value: int.map(I64Str),
                bool_value: b,
                multi_value: multi,
                multi_int_value: multi_int.map(|v| v.into_iter().map(I64Str).collect()),
                multi_bool_value: multi_bool,
            },
        )
}

fn param_value() -> impl Strategy<Value = ParamValue> {
    prop_oneof![
        text().prop_map(ParamValue::Str),
        any::<i64>().prop_map(ParamValue::Int),
        any::<bool>().prop_map(ParamValue::Bool),
        prop::collection::vec(text(), 0..4).prop_map(ParamValue::MultiStr),
        prop::collection::vec(any::<i64>(), 0..4).prop_map(ParamValue::MultiInt),
        prop::collection::vec(nested(), 0..3)
            .prop_map(|parameter| ParamValue::Message(MessageValue { parameter })),
        json().prop_map(ParamValue::Json),
    ]
}

fn event() -> impl Strategy<Value = Event> {
    (
        text(),
        text(),
        prop::collection::vec((text(), param_value()), 0..5),
    )
        .prop_map(|(event_type, name, params)| Event {
            event_type,
            name,
            parameters: params
                .into_iter()
                .map(|(name, value)| Parameter { name, value })
                .collect(),
        })
}

fn body() -> impl Strategy<Value = ActivityBody> {
    let actor = (opt_text(), opt_text(), opt_text(), opt_text()).prop_map(|(e, p, c, k)| Actor {
        email: e,
        profile_id: p,
        caller_type: c,
        key: k,
    });
    let network = prop::option::of(
        (
            prop::collection::vec(any::<i32>(), 0..3),
            opt_text(),
            opt_text(),
        )
            .prop_map(|(ip_asn, region_code, subdivision_code)| NetworkInfo {
                ip_asn,
                region_code,
                subdivision_code,
            }),
    );
    (
        (actor, opt_text(), opt_text(), network),
        prop::collection::vec(event(), 0..3),
        (opt_text(), opt_text(), opt_text(), any::<bool>()),
        (
            prop::option::of(json()),
            opt_text(),
            prop::option::of(any::<i64>()),
        ),
    )
        .prop_map(
            |(
                (actor, owner_domain, ip_address, network_info),
                events,
                (user_agent, session_id, client_application_id, ok),
                (error, event_id, erased_by),
            )| ActivityBody {
                actor,
                owner_domain,
                ip_address,
                network_info,
                events,
                user_agent,
                session_id,
                client_application_id,
                result: if ok {
                    Outcome::Success
                } else {
                    Outcome::Failure
                },
                error,
                event_id,
                erased_by: erased_by.map(I64Str),
            },
        )
}

fn activity() -> impl Strategy<Value = Activity> {
    (
        "[A-Za-z0-9_-]{1,64}",
        1..=i64::MAX,
        any::<i64>(),
        any::<i64>(),
        text(),
        body(),
    )
        .prop_map(
            |(tenant, uq, time_us, received_us, application, body)| Activity {
                tenant: Tenant::new(&tenant).unwrap(),
                unique_qualifier: uq,
                time_us,
                received_us,
                application,
                body,
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    /// Every generated activity, and the same activity after a trip through an export row (whose
    /// objects come back with their members in UTF-8 order and its numbers re-parsed), encodes to
    /// the oracle's bytes.
    #[test]
    fn encode_is_byte_for_byte_the_oracle(a in activity()) {
        prop_assert_eq!(String::from_utf8(encode(&a)).unwrap(), String::from_utf8(oracle(&a)).unwrap());
        let mut buf = b"left over".to_vec();
        buf.clear();
        encode_into(&a, &mut buf);
        prop_assert_eq!(&buf, &oracle(&a));
        let row = crate::export::encode(&a).unwrap();
        let back = Row::decode(&row).unwrap().into_activity().unwrap();
        prop_assert_eq!(encode(&back), oracle(&back));
    }
}

/// Rows with the corners a generator may rarely hit: names on both sides of the UTF-16/UTF-8
/// order difference, `-0`, numbers beyond 2^53 and i64's minimum, empty objects and strings.
#[test]
fn corner_rows_agree_with_the_oracle() {
    for line in CORNER_ROWS {
        let a = Row::decode(line.as_bytes())
            .unwrap()
            .into_activity()
            .unwrap();
        assert_eq!(encode(&a), oracle(&a));
    }
}

const CORNER_ROWS: &[&str] = &[
    r#"{"tenant":"C01","uniqueQualifier":7,"timeUs":0,"receivedUs":0,"application":"logto","body":{"actor":{},"networkInfo":{},"events":[],"result":"success","error":{"😀":1,"\ufb33":2,"\ue000":3,"a":[-0,0.1,1E21,12345678901234567890,-9223372036854775808],"b":{"y":null,"x":true}}}}"#,
    r#"{"tenant":"C01","uniqueQualifier":8,"timeUs":0,"receivedUs":0,"application":"","body":{"actor":{},"events":[{"type":"","name":""}],"result":"failure","error":"\u0000\u001f\u007f"}}"#,
];
