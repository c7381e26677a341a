//! The Activity: one thing that happened around sign-in, in Google's Reports API resource shape
//! (the best documented of the shapes we speak), plus first-class context that Logto and others
//! carry (user agent, session, client application, result, error).
//!
//! [`ActivityBody`] serializes to exactly the JSON Google's clients read: int64 values as strings,
//! empty fields omitted. The same JSON is what the stores keep, so reading a page never converts
//! between two representations. The envelope around it (`kind`, `etag`, `id`) is in
//! `authtrail_formats::google`.

use serde::{Deserialize, Serialize};

/// The tenant (Google's `customerId`). Every row, query and token carries exactly one.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Tenant(String);

impl Tenant {
    /// Letters, digits, `_` and `-`, 1 to 64 characters.
    pub fn new(s: &str) -> Result<Tenant, String> {
        if s.is_empty()
            || s.len() > 64
            || !s
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        {
            return Err(format!(
                "tenant {s:?} must be 1 to 64 letters, digits, '_' or '-'"
            ));
        }
        Ok(Tenant(s.to_string()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Tenant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Did what the activity records succeed?
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Success,
    Failure,
}

impl Outcome {
    pub fn parse(s: &str) -> Option<Outcome> {
        match s {
            "success" => Some(Outcome::Success),
            "failure" => Some(Outcome::Failure),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Failure => "failure",
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Actor {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub profile_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub caller_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

impl Actor {
    /// What a human reads as "who": e-mail, else profile id, else key.
    pub fn display(&self) -> Option<&str> {
        self.email
            .as_deref()
            .or(self.profile_id.as_deref())
            .or(self.key.as_deref())
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NetworkInfo {
    /// int32 values: plain JSON numbers on Google's wire, unlike the int64 fields.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ip_asn: Vec<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subdivision_code: Option<String>,
}

/// An int64 that travels as a JSON string, as Google's clients require.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct I64Str(pub i64);

impl Serialize for I64Str {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for I64Str {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Either {
            S(String),
            N(i64),
        }
        match Either::deserialize(d)? {
            Either::N(n) => Ok(I64Str(n)),
            Either::S(s) => s.parse().map(I64Str).map_err(serde::de::Error::custom),
        }
    }
}

/// A parameter nested in a `messageValue`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NestedParameter {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub int_value: Option<I64Str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bool_value: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub multi_value: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub multi_int_value: Option<Vec<I64Str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub multi_bool_value: Option<Vec<bool>>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MessageValue {
    pub parameter: Vec<NestedParameter>,
}

/// One event parameter: a name and exactly one typed value.
#[derive(Debug, Clone, PartialEq)]
pub struct Parameter {
    pub name: String,
    pub value: ParamValue,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ParamValue {
    Str(String),
    Int(i64),
    Bool(bool),
    MultiStr(Vec<String>),
    MultiInt(Vec<i64>),
    Message(MessageValue),
    /// authtrail's extension (`jsonValue`) for open payloads such as Logto's.
    Json(serde_json::Value),
}

impl ParamValue {
    /// The type the value arrived as, named as the catalogue names parameter types.
    pub fn kind(&self) -> authtrail_catalog::ParamKind {
        use authtrail_catalog::ParamKind;
        match self {
            ParamValue::Str(_) => ParamKind::String,
            ParamValue::Int(_) => ParamKind::Int64,
            ParamValue::Bool(_) => ParamKind::Bool,
            ParamValue::MultiStr(_) => ParamKind::MultiString,
            ParamValue::MultiInt(_) => ParamKind::MultiInt64,
            ParamValue::Message(_) => ParamKind::Message,
            ParamValue::Json(_) => ParamKind::Json,
        }
    }

    /// The value as text for a message template or a table cell.
    pub fn display(&self) -> String {
        match self {
            ParamValue::Str(s) => s.clone(),
            ParamValue::Int(i) => i.to_string(),
            ParamValue::Bool(b) => b.to_string(),
            ParamValue::MultiStr(v) => v.join(", "),
            ParamValue::MultiInt(v) => v
                .iter()
                .map(|i| i.to_string())
                .collect::<Vec<_>>()
                .join(", "),
            ParamValue::Message(m) => serde_json::to_string(m).unwrap_or_default(),
            ParamValue::Json(v) => v.to_string(),
        }
    }
}

/// The wire form of a parameter; private so that a `Parameter` always holds exactly one value.
#[derive(Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireParameter {
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    value: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    int_value: Option<I64Str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    bool_value: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    multi_value: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    multi_int_value: Option<Vec<I64Str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    message_value: Option<MessageValue>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    json_value: Option<serde_json::Value>,
}

/// `"jsonValue": null` is a value (a Logto payload field that was null), not a missing field.
/// serde reads a null `Option` as `None`, which made such a stored row unreadable ("has no
/// value") after ingest had accepted it: every read and the checkpoint job then failed.
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<serde_json::Value>, D::Error> {
    serde_json::Value::deserialize(d).map(Some)
}

impl Serialize for Parameter {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut w = WireParameter {
            name: self.name.clone(),
            ..WireParameter::default()
        };
        match &self.value {
            ParamValue::Str(v) => w.value = Some(v.clone()),
            ParamValue::Int(v) => w.int_value = Some(I64Str(*v)),
            ParamValue::Bool(v) => w.bool_value = Some(*v),
            ParamValue::MultiStr(v) => w.multi_value = Some(v.clone()),
            ParamValue::MultiInt(v) => {
                w.multi_int_value = Some(v.iter().map(|i| I64Str(*i)).collect())
            }
            ParamValue::Message(v) => w.message_value = Some(v.clone()),
            ParamValue::Json(v) => w.json_value = Some(v.clone()),
        }
        w.serialize(s)
    }
}

impl<'de> Deserialize<'de> for Parameter {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let w = WireParameter::deserialize(d)?;
        let value = if let Some(v) = w.value {
            ParamValue::Str(v)
        } else if let Some(v) = w.int_value {
            ParamValue::Int(v.0)
        } else if let Some(v) = w.bool_value {
            ParamValue::Bool(v)
        } else if let Some(v) = w.multi_value {
            ParamValue::MultiStr(v)
        } else if let Some(v) = w.multi_int_value {
            ParamValue::MultiInt(v.into_iter().map(|i| i.0).collect())
        } else if let Some(v) = w.message_value {
            ParamValue::Message(v)
        } else if let Some(v) = w.json_value {
            ParamValue::Json(v)
        } else {
            return Err(serde::de::Error::custom(format!(
                "parameter {} has no value",
                w.name
            )));
        };
        Ok(Parameter {
            name: w.name,
            value,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    #[serde(rename = "type")]
    pub event_type: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parameters: Vec<Parameter>,
}

impl Event {
    pub fn param(&self, name: &str) -> Option<&ParamValue> {
        self.parameters
            .iter()
            .find(|p| p.name == name)
            .map(|p| &p.value)
    }
}

/// Everything about an activity except its identity: what producers send and stores keep.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ActivityBody {
    #[serde(default)]
    pub actor: Actor,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner_domain: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip_address: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub network_info: Option<NetworkInfo>,
    pub events: Vec<Event>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_application_id: Option<String>,
    pub result: Outcome,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<serde_json::Value>,
    /// The producer's own id for this activity; a retry with the same id is stored once.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_id: Option<String>,
    /// authtrail's extension: this activity's personal fields were erased, and the
    /// `subject.erase` admin event with this uniqueQualifier records it (see [`crate::erasure`]).
    /// Never accepted from producers (validation builds bodies field by field).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub erased_by: Option<I64Str>,
}

/// A validated activity, ready to be stored. Only [`crate::validate`] makes these.
#[derive(Debug, Clone, PartialEq)]
pub struct NewActivity {
    pub time_us: i64,
    pub application: String,
    pub body: ActivityBody,
}

/// A stored activity.
#[derive(Debug, Clone, PartialEq)]
pub struct Activity {
    pub tenant: Tenant,
    /// The tenant's gap-free log sequence number; Google's `id.uniqueQualifier`.
    pub unique_qualifier: i64,
    pub time_us: i64,
    pub received_us: i64,
    pub application: String,
    pub body: ActivityBody,
}

impl Activity {
    pub fn first_event(&self) -> Option<&Event> {
        self.body.events.first()
    }
}

/// The namespace of the eventIds that authtrail derives itself (a Logto webhook delivery, which
/// carries no id of its own, is identified by its body's hash). Producers may not send an eventId
/// in it: otherwise an ingest token could store an item under a delivery's id first, and the real
/// delivery would then be answered as a duplicate and never stored (issue #16).
pub const DERIVED_EVENT_ID_PREFIX: &str = "authtrail:";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn int64_values_travel_as_strings_and_empty_fields_are_omitted() {
        let p = Parameter {
            name: "login_timestamp".into(),
            value: ParamValue::Int(1_700_000_000_000_000),
        };
        assert_eq!(
            serde_json::to_string(&p).unwrap(),
            r#"{"name":"login_timestamp","intValue":"1700000000000000"}"#
        );
        let back: Parameter =
            serde_json::from_str(r#"{"name":"x","multiIntValue":["1","-2"]}"#).unwrap();
        assert_eq!(back.value, ParamValue::MultiInt(vec![1, -2]));
    }
}
