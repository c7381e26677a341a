//! The wire shape of a native (Google-shaped) activity, deserialized straight from the request
//! bytes into borrowed, typed structs: no `serde_json::Value` tree, and no copy of a string that
//! holds no escapes. [`crate::validate`] checks these structs against the catalogue.
//!
//! The structs are typed where the wire is: an object field is a struct, a list is a `Vec`. But
//! a producer that sends the wrong kind of value must learn which field and what was expected,
//! for every bad field of a batch at once, so nothing here fails on a wrong kind: a field keeps
//! a scalar as sent ([`Leaf`]), or the kind of whatever came instead of the object or list it
//! should be ([`Obj::Not`], [`List::Not`]), and validation words the message. Parsing fails
//! only on what is not JSON at all, and on a key repeated in one object (at any depth, with the
//! message of [`crate::strict_json`]): values that are dropped are still checked for that.
//!
//! Keys that are not fields are kept (in the order sent) so that validation can name each one.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Number, Value};

use crate::strict_json::StrictVisitor;

/// A string as sent: borrowed from the request, owned only when it held escapes.
pub type Str<'a> = Cow<'a, str>;

/// The kind of a JSON value, for messages such as "must be a string, not a number".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Null,
    Bool,
    Number,
    String,
    Array,
    Object,
}

impl Kind {
    pub fn of(v: &Value) -> Kind {
        match v {
            Value::Null => Kind::Null,
            Value::Bool(_) => Kind::Bool,
            Value::Number(_) => Kind::Number,
            Value::String(_) => Kind::String,
            Value::Array(_) => Kind::Array,
            Value::Object(_) => Kind::Object,
        }
    }

    /// "null", "a boolean", "a number", "a string", "an array", "an object".
    pub fn describe(self) -> &'static str {
        match self {
            Kind::Null => "null",
            Kind::Bool => "a boolean",
            Kind::Number => "a number",
            Kind::String => "a string",
            Kind::Array => "an array",
            Kind::Object => "an object",
        }
    }
}

/// A value where a scalar is expected: the scalar as sent, or only the kind of an array or
/// object (its content checked for repeated keys, then dropped).
#[derive(Debug, Clone, PartialEq)]
pub enum Leaf<'a> {
    Null,
    Bool(bool),
    Number(Number),
    Str(Str<'a>),
    Array,
    Object,
}

impl Leaf<'_> {
    pub fn kind(&self) -> Kind {
        match self {
            Leaf::Null => Kind::Null,
            Leaf::Bool(_) => Kind::Bool,
            Leaf::Number(_) => Kind::Number,
            Leaf::Str(_) => Kind::String,
            Leaf::Array => Kind::Array,
            Leaf::Object => Kind::Object,
        }
    }
}

/// A value where an object of shape `T` is expected, or the kind of what came instead.
#[derive(Debug)]
pub enum Obj<T> {
    Is(T),
    Not(Kind),
}

/// A value where a list of `T` is expected, or the kind of what came instead.
#[derive(Debug)]
pub enum List<T> {
    Is(Vec<T>),
    Not(Kind),
}

/// A value that is only checked (repeated keys) and dropped: fields authtrail ignores (`kind`,
/// `etag`) or only needs to know were sent (`uniqueQualifier`), and keys that are not fields.
#[derive(Debug)]
pub struct Ignored;

/// Checks a value that is not kept for repeated keys. Rare (a wrong kind, an ignored field), so
/// building its tree and dropping it costs nothing that matters.
fn drain_seq<'de, A: SeqAccess<'de>>(seq: A) -> Result<(), A::Error> {
    StrictVisitor.visit_seq(seq).map(drop)
}

fn drain_map<'de, A: MapAccess<'de>>(map: A) -> Result<(), A::Error> {
    StrictVisitor.visit_map(map).map(drop)
}

/// The visits every shape answers alike: the scalar kinds, turned into `$not(Kind)`.
macro_rules! scalars_are_not {
    ($not:expr) => {
        fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
            Ok($not(Kind::Bool))
        }
        fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
            Ok($not(Kind::Number))
        }
        fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
            Ok($not(Kind::Number))
        }
        fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
            Ok($not(Kind::Number))
        }
        fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
            Ok($not(Kind::String))
        }
        fn visit_unit<E>(self) -> Result<Self::Value, E> {
            Ok($not(Kind::Null))
        }
    };
}

impl<'de> Deserialize<'de> for Leaf<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Leaf<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_bool<E>(self, v: bool) -> Result<Leaf<'de>, E> {
                Ok(Leaf::Bool(v))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Leaf<'de>, E> {
                Ok(Leaf::Number(v.into()))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Leaf<'de>, E> {
                Ok(Leaf::Number(v.into()))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Leaf<'de>, E> {
                // JSON text cannot spell NaN or infinity, so this is always a number.
                Ok(Number::from_f64(v).map_or(Leaf::Null, Leaf::Number))
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Leaf<'de>, E> {
                Ok(Leaf::Str(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Leaf<'de>, E> {
                Ok(Leaf::Str(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E>(self, v: String) -> Result<Leaf<'de>, E> {
                Ok(Leaf::Str(Cow::Owned(v)))
            }
            fn visit_unit<E>(self) -> Result<Leaf<'de>, E> {
                Ok(Leaf::Null)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Leaf<'de>, A::Error> {
                drain_seq(seq).map(|()| Leaf::Array)
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Leaf<'de>, A::Error> {
                drain_map(map).map(|()| Leaf::Object)
            }
        }
        d.deserialize_any(V)
    }
}

/// An object shape: built from the entries of a JSON object.
pub trait Shape<'de>: Sized {
    fn from_map<A: MapAccess<'de>>(map: A) -> Result<Self, A::Error>;
}

impl<'de, T: Shape<'de>> Deserialize<'de> for Obj<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(PhantomData<T>);
        impl<'de, T: Shape<'de>> Visitor<'de> for V<T> {
            type Value = Obj<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }
            scalars_are_not!(Obj::Not);
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Obj<T>, A::Error> {
                drain_seq(seq).map(|()| Obj::Not(Kind::Array))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Obj<T>, A::Error> {
                T::from_map(map).map(Obj::Is)
            }
        }
        d.deserialize_any(V(PhantomData))
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for List<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = List<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }
            scalars_are_not!(List::Not);
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<List<T>, A::Error> {
                let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1024));
                while let Some(item) = seq.next_element()? {
                    items.push(item);
                }
                Ok(List::Is(items))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<List<T>, A::Error> {
                drain_map(map).map(|()| List::Not(Kind::Object))
            }
        }
        d.deserialize_any(V(PhantomData))
    }
}

impl<'de> Deserialize<'de> for Ignored {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(StrictVisitor).map(|_| Ignored)
    }
}

/// A JSON value kept whole (`jsonValue`, `error`), with the repeated-key check.
#[derive(Debug)]
pub struct Json(pub Value);

impl<'de> Deserialize<'de> for Json {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(StrictVisitor).map(Json)
    }
}

/// A key, borrowed from the request when it holds no escapes.
struct Key<'a>(Str<'a>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a key")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E>(self, v: String) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v)))
            }
        }
        d.deserialize_str(V)
    }
}

fn repeated<E: de::Error>(key: &str) -> E {
    E::custom(format_args!("duplicate key {key:?}"))
}

/// The value of a field, refused if the field was already filled.
fn fill<'de, A: MapAccess<'de>, T: Deserialize<'de>>(
    map: &mut A,
    slot: &mut Option<T>,
    key: &str,
) -> Result<(), A::Error> {
    if slot.is_some() {
        return Err(repeated(key));
    }
    *slot = Some(map.next_value()?);
    Ok(())
}

/// A key that is not a field: remembered (validation names it), its value checked and dropped.
fn unknown<'de, A: MapAccess<'de>>(
    map: &mut A,
    unknown: &mut Vec<Str<'de>>,
    key: Str<'de>,
) -> Result<(), A::Error> {
    if unknown.contains(&key) {
        return Err(repeated(&key));
    }
    map.next_value::<Ignored>()?;
    unknown.push(key);
    Ok(())
}

/// Declares an object shape: its fields (each an `Option` of what the wire holds), the JSON key
/// of each, and the `unknown` keys; `from_map` fills them.
macro_rules! shape {
    (
        $(#[$meta:meta])*
        pub struct $name:ident<$a:lifetime> {
            $( $field:ident : $ty:ty = $key:literal, )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Default)]
        pub struct $name<$a> {
            /// Keys that are not fields, in the order sent.
            pub unknown: Vec<Str<$a>>,
            $( pub $field: Option<$ty>, )*
        }

        impl<'de> Shape<'de> for $name<'de> {
            fn from_map<A: MapAccess<'de>>(mut map: A) -> Result<Self, A::Error> {
                let mut out = $name::default();
                while let Some(Key(key)) = map.next_key::<Key<'de>>()? {
                    match key.as_ref() {
                        $( $key => fill(&mut map, &mut out.$field, $key)?, )*
                        _ => unknown(&mut map, &mut out.unknown, key)?,
                    }
                }
                Ok(out)
            }
        }
    };
}

shape! {
    /// A native activity (`POST /v1/activities`, one item of the array or one NDJSON line).
    pub struct WireActivity<'a> {
        kind: Ignored = "kind",
        etag: Ignored = "etag",
        event_id: Leaf<'a> = "eventId",
        id: Obj<WireId<'a>> = "id",
        actor: Obj<WireActor<'a>> = "actor",
        owner_domain: Leaf<'a> = "ownerDomain",
        ip_address: Leaf<'a> = "ipAddress",
        network_info: Obj<WireNetworkInfo<'a>> = "networkInfo",
        events: List<Obj<WireEvent<'a>>> = "events",
        user_agent: Leaf<'a> = "userAgent",
        session_id: Leaf<'a> = "sessionId",
        client_application_id: Leaf<'a> = "clientApplicationId",
        result: Leaf<'a> = "result",
        error: Json = "error",
    }
}

shape! {
    pub struct WireId<'a> {
        time: Leaf<'a> = "time",
        application_name: Leaf<'a> = "applicationName",
        customer_id: Leaf<'a> = "customerId",
        unique_qualifier: Ignored = "uniqueQualifier",
    }
}

shape! {
    pub struct WireActor<'a> {
        email: Leaf<'a> = "email",
        profile_id: Leaf<'a> = "profileId",
        caller_type: Leaf<'a> = "callerType",
        key: Leaf<'a> = "key",
    }
}

shape! {
    pub struct WireNetworkInfo<'a> {
        ip_asn: List<Leaf<'a>> = "ipAsn",
        region_code: Leaf<'a> = "regionCode",
        subdivision_code: Leaf<'a> = "subdivisionCode",
    }
}

shape! {
    pub struct WireEvent<'a> {
        event_type: Leaf<'a> = "type",
        name: Leaf<'a> = "name",
        parameters: List<Obj<WireParameter<'a>>> = "parameters",
    }
}

shape! {
    pub struct WireParameter<'a> {
        name: Leaf<'a> = "name",
        value: Leaf<'a> = "value",
        int_value: Leaf<'a> = "intValue",
        bool_value: Leaf<'a> = "boolValue",
        multi_value: List<Leaf<'a>> = "multiValue",
        multi_int_value: List<Leaf<'a>> = "multiIntValue",
        message_value: Obj<WireMessage<'a>> = "messageValue",
        json_value: Json = "jsonValue",
    }
}

shape! {
    pub struct WireMessage<'a> {
        parameter: List<Obj<WireNestedParameter<'a>>> = "parameter",
    }
}

shape! {
    pub struct WireNestedParameter<'a> {
        name: Leaf<'a> = "name",
        value: Leaf<'a> = "value",
        int_value: Leaf<'a> = "intValue",
        bool_value: Leaf<'a> = "boolValue",
        multi_value: List<Leaf<'a>> = "multiValue",
        multi_int_value: List<Leaf<'a>> = "multiIntValue",
        multi_bool_value: List<Leaf<'a>> = "multiBoolValue",
    }
}

/// One item of a batch: an activity, or the kind of what was sent instead of an object.
pub type WireItem<'a> = Obj<WireActivity<'a>>;

/// A batch as a JSON array: the items, or the kind of what was sent instead of an array.
pub fn batch_from_str(text: &str) -> Result<List<WireItem<'_>>, serde_json::Error> {
    serde_json::from_str(text)
}

/// One item (an NDJSON line).
pub fn item_from_str(text: &str) -> Result<WireItem<'_>, serde_json::Error> {
    serde_json::from_str(text)
}

/// The item a [`Value`] holds (activities built in process: self-audit, Logto, tests), borrowing
/// its strings. Fails only on what a `Value` cannot hold (a repeated key), so never in practice.
pub fn item_from_value(v: &Value) -> Result<WireItem<'_>, serde_json::Error> {
    WireItem::deserialize(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_without_escapes_are_borrowed() {
        let text = r#"{"eventId": "plain", "userAgent": "with \"escape\"", "bogus": 1}"#;
        let Obj::Is(a) = item_from_str(text).unwrap() else {
            panic!("an object")
        };
        assert!(matches!(
            a.event_id,
            Some(Leaf::Str(Cow::Borrowed("plain")))
        ));
        assert!(
            matches!(a.user_agent, Some(Leaf::Str(Cow::Owned(ref s))) if s == "with \"escape\"")
        );
        assert_eq!(a.unknown, ["bogus"]);
    }

    #[test]
    fn wrong_kinds_are_kept_as_kinds_not_errors() {
        let text = r#"[{"id": [1], "events": "x", "actor": null, "ipAddress": {"a": 1}}, 5]"#;
        let List::Is(items) = batch_from_str(text).unwrap() else {
            panic!("a list")
        };
        let Obj::Is(a) = &items[0] else { panic!() };
        assert!(matches!(a.id, Some(Obj::Not(Kind::Array))));
        assert!(matches!(a.events, Some(List::Not(Kind::String))));
        assert!(matches!(a.actor, Some(Obj::Not(Kind::Null))));
        assert_eq!(a.ip_address, Some(Leaf::Object));
        assert!(matches!(items[1], Obj::Not(Kind::Number)));
        assert!(matches!(
            batch_from_str("{}").unwrap(),
            List::Not(Kind::Object)
        ));
    }

    #[test]
    fn a_repeated_key_is_refused_wherever_it_is_with_the_strict_parsers_message() {
        for (text, key) in [
            (r#"[{"eventId": "a", "eventId": "b"}]"#, "eventId"),
            (r#"[{"bogus": 1, "bogus": 2}]"#, "bogus"),
            (r#"[{"id": {"time": null, "time": null}}]"#, "time"),
            (r#"[{"error": {"a": 1}, "error": "x"}]"#, "error"),
            (r#"[{"error": {"a": 1, "a": 2}}]"#, "a"),
            (r#"[{"kind": {"a": [{"b": 1, "b": 1}]}}]"#, "b"),
            (r#"[{"ipAddress": [{"b": 1, "b": 1}]}]"#, "b"),
            (
                r#"[{"events": [{"parameters": [{"name": "x", "name": "y"}]}]}]"#,
                "name",
            ),
        ] {
            let ours = batch_from_str(text).unwrap_err().to_string();
            let strict = crate::strict_json::from_str(text).unwrap_err().to_string();
            assert_eq!(ours, strict, "{text}");
            assert!(ours.contains(&format!("duplicate key {key:?}")), "{ours}");
        }
    }

    #[test]
    fn values_deserialize_the_same_as_text() {
        let text = r#"{"eventId": "e", "id": {"applicationName": "login"}, "events": [{"name": "n", "parameters": [{"name": "p", "intValue": 18446744073709551615}]}]}"#;
        let v: Value = serde_json::from_str(text).unwrap();
        let (Obj::Is(a), Obj::Is(b)) = (item_from_str(text).unwrap(), item_from_value(&v).unwrap())
        else {
            panic!()
        };
        assert_eq!(format!("{a:?}"), format!("{b:?}"));
    }
}
