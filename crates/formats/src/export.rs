//! The export row: one line of `authtrail export`'s NDJSON, read back by `authtrail import`, and
//! the per-tenant digests that `verify-export` (and `import --verify`) compare.
//!
//! A row holds everything a store keeps about an activity (tenant, uniqueQualifier, event and
//! receive times, application, the whole body with its eventId). Its bytes are canonical: every
//! JSON object's keys sorted (by UTF-8 bytes), no whitespace, so that the same activity gives the
//! same bytes from either engine (PostgreSQL's jsonb does not keep key order). A tenant's digest
//! is the SHA-256 of its rows in ascending uniqueQualifier order, each followed by a newline:
//! equal counts and digests mean that every activity arrived, with identical content and the
//! same sequence numbers.
//!
//! This encoding predates [`crate::canonical`] and stays as it is, so that existing exports keep
//! verifying; the Merkle leaf is the RFC 8785 form instead.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest as _, Sha256};

use authtrail_model::{Activity, ActivityBody, Tenant};

/// Why a row cannot be read, written or added to a digest.
#[derive(Debug, thiserror::Error)]
pub enum RowError {
    #[error("{0}")]
    Tenant(String),
    #[error("uniqueQualifier {0} is not positive")]
    UniqueQualifier(i64),
    #[error("tenant {tenant}: uniqueQualifier {got} follows {last}; rows must ascend")]
    OutOfOrder { tenant: Tenant, got: i64, last: i64 },
    #[error("cannot encode the row")]
    Encode(#[source] serde_json::Error),
}

impl RowError {
    /// The row's field at fault, for callers that report bad input by field; `None` when the
    /// row is fine and encoding failed.
    pub fn field(&self) -> Option<&'static str> {
        match self {
            RowError::Tenant(_) => Some("tenant"),
            RowError::UniqueQualifier(_) | RowError::OutOfOrder { .. } => Some("uniqueQualifier"),
            RowError::Encode(_) => None,
        }
    }
}

/// One line of an export.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Row {
    pub tenant: Tenant,
    pub unique_qualifier: i64,
    pub time_us: i64,
    pub received_us: i64,
    pub application: String,
    pub body: ActivityBody,
}

impl Row {
    pub fn of(a: &Activity) -> Row {
        Row {
            tenant: a.tenant.clone(),
            unique_qualifier: a.unique_qualifier,
            time_us: a.time_us,
            received_us: a.received_us,
            application: a.application.clone(),
            body: a.body.clone(),
        }
    }

    /// Reads one line (without its newline). Only the JSON shape is checked here; see
    /// [`Row::into_activity`].
    pub fn decode(line: &[u8]) -> Result<Row, serde_json::Error> {
        serde_json::from_slice(line)
    }

    /// Checks what serde cannot (the tenant's shape, a positive uniqueQualifier) and makes the
    /// activity.
    pub fn into_activity(self) -> Result<Activity, RowError> {
        let tenant = Tenant::new(self.tenant.as_str()).map_err(RowError::Tenant)?;
        if self.unique_qualifier < 1 {
            return Err(RowError::UniqueQualifier(self.unique_qualifier));
        }
        Ok(Activity {
            tenant,
            unique_qualifier: self.unique_qualifier,
            time_us: self.time_us,
            received_us: self.received_us,
            application: self.application,
            body: self.body,
        })
    }
}

/// The row of an activity as canonical bytes (without the newline).
pub fn encode(a: &Activity) -> Result<Vec<u8>, RowError> {
    let v = serde_json::to_value(Row::of(a)).map_err(RowError::Encode)?;
    serde_json::to_vec(&sorted(v)).map_err(RowError::Encode)
}

fn sorted(v: Value) -> Value {
    match v {
        Value::Object(m) => {
            let mut entries: Vec<(String, Value)> = m.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(entries.into_iter().map(|(k, v)| (k, sorted(v))).collect())
        }
        Value::Array(a) => Value::Array(a.into_iter().map(sorted).collect()),
        other => other,
    }
}

/// What one tenant's activities add up to.
#[derive(Clone)]
pub struct TenantDigest {
    pub count: u64,
    pub first: i64,
    pub last: i64,
    hash: Sha256,
}

impl Default for TenantDigest {
    fn default() -> TenantDigest {
        TenantDigest {
            count: 0,
            first: 0,
            last: 0,
            hash: Sha256::new(),
        }
    }
}

impl TenantDigest {
    /// Adds the next activity; they must come in ascending uniqueQualifier order.
    pub fn add(&mut self, a: &Activity) -> Result<(), RowError> {
        let row = encode(a)?;
        self.add_encoded(a, &row)
    }

    /// Adds the next activity whose row [`encode`] has already produced (an export writes the
    /// same bytes it hashes, so it encodes once).
    pub fn add_encoded(&mut self, a: &Activity, row: &[u8]) -> Result<(), RowError> {
        if self.count > 0 && a.unique_qualifier <= self.last {
            return Err(RowError::OutOfOrder {
                tenant: a.tenant.clone(),
                got: a.unique_qualifier,
                last: self.last,
            });
        }
        if self.count == 0 {
            self.first = a.unique_qualifier;
        }
        self.count += 1;
        self.last = a.unique_qualifier;
        self.hash.update(row);
        self.hash.update(b"\n");
        Ok(())
    }

    pub fn hex(&self) -> String {
        hex::encode(self.hash.clone().finalize())
    }

    /// Same activities, same sequence, same content.
    pub fn same(&self, other: &TenantDigest) -> bool {
        (self.count, self.first, self.last, self.hex())
            == (other.count, other.first, other.last, other.hex())
    }
}

/// Every tenant's digest, in tenant order.
pub type Digests = BTreeMap<Tenant, TenantDigest>;

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn activity(uq: i64) -> Activity {
        let line = json!({"tenant": "C01", "uniqueQualifier": uq, "timeUs": 1_500_000,
            "receivedUs": 1_600_000, "application": "login",
            "body": {"result": "success", "events": [{"type": "login", "name": "login_success",
                "parameters": [{"name": "login_type", "value": "saml"}]}],
                "actor": {"email": "a@example.com"}}});
        Row::decode(line.to_string().as_bytes())
            .unwrap()
            .into_activity()
            .unwrap()
    }

    #[test]
    fn rows_have_sorted_keys_and_round_trip() {
        let a = activity(7);
        let bytes = encode(&a).unwrap();
        assert_eq!(
            String::from_utf8(bytes.clone()).unwrap(),
            r#"{"application":"login","body":{"actor":{"email":"a@example.com"},"events":[{"name":"login_success","parameters":[{"name":"login_type","value":"saml"}],"type":"login"}],"result":"success"},"receivedUs":1600000,"tenant":"C01","timeUs":1500000,"uniqueQualifier":7}"#
        );
        assert_eq!(Row::decode(&bytes).unwrap().into_activity().unwrap(), a);
    }

    #[test]
    fn bad_rows_are_refused_with_a_reason() {
        assert!(Row::decode(br#"{"tenant":"C01","extra":1}"#).is_err());
        let mut row = Row::of(&activity(1));
        row.unique_qualifier = 0;
        assert_eq!(
            row.into_activity().unwrap_err().to_string(),
            "uniqueQualifier 0 is not positive"
        );
        let mut row = Row::of(&activity(1));
        row.tenant = serde_json::from_value(json!("no spaces")).unwrap();
        assert!(row.into_activity().is_err());
    }

    #[test]
    fn digests_need_ascending_rows() {
        let mut d = TenantDigest::default();
        d.add(&activity(1)).unwrap();
        d.add(&activity(3)).unwrap();
        assert_eq!((d.count, d.first, d.last), (2, 1, 3));
        assert_eq!(
            d.add(&activity(3)).unwrap_err().to_string(),
            "tenant C01: uniqueQualifier 3 follows 3; rows must ascend"
        );
        assert_eq!(
            d.add(&activity(2)).unwrap_err().field(),
            Some("uniqueQualifier")
        );
        let mut e = TenantDigest::default();
        e.add(&activity(1)).unwrap();
        let row = encode(&activity(3)).unwrap();
        e.add_encoded(&activity(3), &row).unwrap();
        assert!(d.same(&e));
        assert_eq!(d.hex().len(), 64);
    }
}
