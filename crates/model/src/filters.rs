//! Google's `filters` grammar: comma-separated clauses `{parameter}{op}{value}`, all of which must
//! hold. Operators are `==`, `<>`, `<`, `<=`, `>`, `>=`; two-character operators are matched before
//! one-character ones. There is no OR and no escaping of commas, as in Google's API.
//!
//! Comparison semantics (Google leaves them open; these are ours, documented in
//! docs/google-reports-api.md): booleans compare as `true`/`false`, `intValue` numerically,
//! strings lexically; on a multi-value parameter `==` means "some element equals", `<>` means
//! "no element equals", and the ordering operators mean "some element satisfies".

use std::cmp::Ordering;
use std::fmt;

use crate::activity::{Event, ParamValue};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Op {
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Eq => "==",
            Op::Ne => "<>",
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
        }
    }

    fn holds(self, ord: Ordering) -> bool {
        match self {
            Op::Eq => ord == Ordering::Equal,
            Op::Ne => ord != Ordering::Equal,
            Op::Lt => ord == Ordering::Less,
            Op::Le => ord != Ordering::Greater,
            Op::Gt => ord == Ordering::Greater,
            Op::Ge => ord != Ordering::Less,
        }
    }
}

/// One clause of a `filters` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParamFilter {
    pub name: String,
    pub op: Op,
    pub value: String,
}

impl fmt::Display for ParamFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}{}", self.name, self.op.as_str(), self.value)
    }
}

/// Writes filters back in the grammar `parse` reads.
pub fn to_string(filters: &[ParamFilter]) -> String {
    filters
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

/// Longest `filters` value accepted, in bytes.
pub const MAX_FILTERS_BYTES: usize = 2048;
/// Most clauses in one `filters` value.
pub const MAX_CLAUSES: usize = 20;

/// Parses an already percent-decoded `filters` value.
pub fn parse(input: &str) -> Result<Vec<ParamFilter>, String> {
    if input.len() > MAX_FILTERS_BYTES {
        return Err(format!("is longer than {MAX_FILTERS_BYTES} bytes"));
    }
    let clauses: Vec<&str> = input.split(',').collect();
    if clauses.len() > MAX_CLAUSES {
        return Err(format!("has more than {MAX_CLAUSES} clauses"));
    }
    clauses.into_iter().map(parse_clause).collect()
}

fn parse_clause(clause: &str) -> Result<ParamFilter, String> {
    let Some(at) = clause.find(['<', '>', '=']) else {
        return Err(format!(
            "clause {clause:?} has no operator (use ==, <>, <, <=, >, >=)"
        ));
    };
    let rest = &clause[at..];
    let (op, len) = [
        ("<>", Op::Ne),
        ("<=", Op::Le),
        (">=", Op::Ge),
        ("==", Op::Eq),
        ("<", Op::Lt),
        (">", Op::Gt),
    ]
    .into_iter()
    .find(|(s, _)| rest.starts_with(s))
    .map(|(s, op)| (op, s.len()))
    .ok_or_else(|| format!("clause {clause:?}: a single '=' is not an operator; use =="))?;
    let name = &clause[..at];
    if name.is_empty()
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.')
    {
        return Err(format!(
            "clause {clause:?}: {name:?} is not a parameter name"
        ));
    }
    Ok(ParamFilter {
        name: name.to_string(),
        op,
        value: clause[at + len..].to_string(),
    })
}

impl ParamFilter {
    /// Does this clause hold for `event`? An event without the parameter never matches, as
    /// Google answers an empty report for a parameter the event does not have.
    pub fn matches(&self, event: &Event) -> bool {
        let Some(v) = event.param(&self.name) else {
            return false;
        };
        match v {
            ParamValue::Str(s) => self.op.holds(s.as_str().cmp(self.value.as_str())),
            ParamValue::Int(i) => self.int_holds(*i),
            ParamValue::Bool(b) => match self.value.as_str() {
                "true" | "false" => self.op.holds(b.cmp(&(self.value == "true"))),
                _ => false,
            },
            ParamValue::MultiStr(list) => {
                self.any_or_none(list.iter().map(|s| s.as_str().cmp(self.value.as_str())))
            }
            ParamValue::MultiInt(list) => match self.value.parse::<i64>() {
                Ok(want) => self.any_or_none(list.iter().map(|i| i.cmp(&want))),
                Err(_) => false,
            },
            ParamValue::Message(_) | ParamValue::Json(_) => false,
        }
    }

    fn int_holds(&self, have: i64) -> bool {
        match self.value.parse::<i64>() {
            Ok(want) => self.op.holds(have.cmp(&want)),
            Err(_) => false,
        }
    }

    fn any_or_none(&self, mut ords: impl Iterator<Item = Ordering>) -> bool {
        match self.op {
            Op::Ne => ords.all(|o| o != Ordering::Equal),
            op => ords.any(|o| op.holds(o)),
        }
    }
}

/// A necessary condition for a set of clauses, checked on an activity's stored JSON before it is
/// parsed. Parsing a body costs several times its decompression, and most candidates of a
/// parameter filter cannot match: other events' rows (without the parameter), and for an
/// equality the rows whose value differs (`is_suspicious==true` is false on 98 % of sign-ins).
///
/// Every clause needs its parameter on the event, so the body must hold each clause's name as a
/// JSON string. Stores serialize bodies with serde_json, which escapes only quotes, backslashes
/// and control characters, and a clause's name is ASCII letters, digits, `_` and `.` ([`parse`]),
/// so a body with the parameter holds `"name"` byte for byte. For `==`, each place the name
/// stands is also read as a parameter: where the bytes around it are exactly those
/// [`crate::activity::Parameter`]'s serializer writes (`"name":"is_suspicious","boolValue":false`)
/// and its value cannot equal the clause's, that place is passed over. Any other shape keeps the
/// row (a name inside a JSON value, keys in another order, an escaped string, a list), so the scan
/// never rules out a body that [`ParamFilter::matches`] would accept, whatever wrote it.
pub struct BodyScan {
    clauses: Vec<ClauseScan>,
}

struct ClauseScan {
    /// `"name"`, as a JSON string.
    needle: memchr::memmem::Finder<'static>,
    /// The clause's value when its operator is `==`.
    equals: Option<String>,
}

/// What the serializer writes before a parameter's name.
const NAME_KEY: &[u8] = b"\"name\":";

impl BodyScan {
    /// `None` when there is no clause (every body may match).
    pub fn new(filters: &[ParamFilter]) -> Option<BodyScan> {
        (!filters.is_empty()).then(|| BodyScan {
            clauses: filters
                .iter()
                .map(|f| ClauseScan {
                    needle: memchr::memmem::Finder::new(format!("\"{}\"", f.name).as_bytes())
                        .into_owned(),
                    equals: (f.op == Op::Eq).then(|| f.value.clone()),
                })
                .collect(),
        })
    }

    /// False when no event of `json` (a stored body) can satisfy every clause.
    pub fn may_match(&self, json: &[u8]) -> bool {
        self.clauses.iter().all(|c| c.may_match(json))
    }
}

impl ClauseScan {
    fn may_match(&self, json: &[u8]) -> bool {
        let Some(want) = &self.equals else {
            return self.needle.find(json).is_some();
        };
        self.needle.find_iter(json).any(|at| {
            let parameter = json[..at].ends_with(NAME_KEY);
            !parameter || value_may_equal(&json[at + self.needle.needle().len()..], want)
        })
    }
}

/// Whether the value serialized at the start of `rest` (the bytes after a parameter's name) may
/// equal `want` under [`ParamFilter::matches`]; true for every shape it does not decide.
fn value_may_equal(rest: &[u8], want: &str) -> bool {
    if let Some(v) = rest.strip_prefix(b",\"boolValue\":") {
        return match (v.starts_with(b"true"), v.starts_with(b"false")) {
            (true, _) => want == "true",
            (_, true) => want == "false",
            _ => true,
        };
    }
    if let Some(v) = rest.strip_prefix(b",\"value\":\"") {
        return match memchr::memchr2(b'"', b'\\', v) {
            Some(end) if v[end] == b'"' => &v[..end] == want.as_bytes(),
            _ => true,
        };
    }
    if let Some(v) = rest.strip_prefix(b",\"intValue\":\"") {
        let Ok(want) = want.parse::<i64>() else {
            // An integer never equals a value that is not one.
            return false;
        };
        return match memchr::memchr(b'"', v).map(|end| std::str::from_utf8(&v[..end])) {
            Some(Ok(have)) => have.parse::<i64>().map_or(true, |have| have == want),
            _ => true,
        };
    }
    true
}
#[cfg(test)]
mod tests {
    use super::*;
    use crate::activity::Parameter;

    fn event(params: Vec<(&str, ParamValue)>) -> Event {
        Event {
            event_type: "login".into(),
            name: "login_success".into(),
            parameters: params
                .into_iter()
                .map(|(n, v)| Parameter {
                    name: n.into(),
                    value: v,
                })
                .collect(),
        }
    }

    /// Whatever the clause and the value's type, a serialized event that satisfies every clause
    /// passes the scan; one without the parameter's name does not.
    #[test]
    fn the_scan_never_rules_out_a_match() {
        let values = [
            ("is_suspicious", ParamValue::Bool(true)),
            ("login_timestamp", ParamValue::Int(1_700_000_000_000_000)),
            ("login_type", ParamValue::Str("google_password".into())),
            (
                "login_challenge_method",
                ParamValue::MultiStr(vec!["password".into(), "idv_preregistered_phone".into()]),
            ),
            ("ids", ParamValue::MultiInt(vec![3, 5])),
            ("note", ParamValue::Str("say \"hi\"".into())),
        ];
        let clauses = "is_suspicious==true,login_timestamp>=1,login_type<>saml,\
                       login_challenge_method==password,ids>4,ids==5,\
                       login_timestamp==1700000000000000,login_type==google_password,\
                       note==say \"hi\"";
        let filters = parse(clauses).unwrap();
        let e = event(values.to_vec());
        assert!(filters.iter().all(|f| f.matches(&e)));
        let json = serde_json::to_vec(&e).unwrap();
        assert!(BodyScan::new(&filters).unwrap().may_match(&json));
        for f in &filters {
            let one = BodyScan::new(std::slice::from_ref(f)).unwrap();
            assert!(one.may_match(&json), "{f}");
        }
        // Without one of the parameters (its name only inside a longer value): ruled out.
        let mut other = values.to_vec();
        other[0] = ("note", ParamValue::Str("not is_suspicious".into()));
        let json = serde_json::to_vec(&event(other)).unwrap();
        assert!(
            !BodyScan::new(&parse("is_suspicious==true").unwrap())
                .unwrap()
                .may_match(&json)
        );
        assert!(BodyScan::new(&[]).is_none());
    }

    /// An equality whose value differs from every place the parameter stands rules the body
    /// out; every other clause, and every shape the serializer does not write, keeps it.
    #[test]
    fn an_equality_rules_out_other_values() {
        let e = event(vec![
            ("is_suspicious", ParamValue::Bool(false)),
            ("login_timestamp", ParamValue::Int(1500)),
            ("login_type", ParamValue::Str("google_password".into())),
            ("tags", ParamValue::MultiStr(vec!["a".into()])),
        ]);
        let json = serde_json::to_vec(&e).unwrap();
        let scan = |s: &str| BodyScan::new(&parse(s).unwrap()).unwrap().may_match(&json);
        let matches = |s: &str| parse(s).unwrap().iter().all(|f| f.matches(&e));
        for clause in [
            "is_suspicious==true",
            "login_timestamp==1499",
            "login_timestamp==x",
            "login_type==saml",
            "login_type==google_passwor",
        ] {
            assert!(!matches(clause), "{clause}");
            assert!(!scan(clause), "{clause} should be ruled out");
        }
        for clause in [
            "is_suspicious==false",
            "is_suspicious<>true",
            "login_timestamp==1500",
            "login_timestamp==+1500",
            "login_type==google_password",
            "login_type>a",
            "tags==b",
        ] {
            assert!(scan(clause), "{clause} should be kept");
        }
        // The same parameter with its keys in another order, or as a JSON value: kept.
        let reordered = br#"{"name":"login_success","parameters":[{"boolValue":false,"name":"is_suspicious"}]}"#;
        assert!(
            BodyScan::new(&parse("is_suspicious==true").unwrap())
                .unwrap()
                .may_match(reordered)
        );
        let other = br#"{"parameters":[{"name":"is_suspicious","boolValue":false},{"name":"x","jsonValue":{"name":"is_suspicious","boolValue":true}}]}"#;
        assert!(
            BodyScan::new(&parse("is_suspicious==true").unwrap())
                .unwrap()
                .may_match(other)
        );
    }

    #[test]
    fn parses_googles_examples() {
        let f = parse("is_suspicious==true,login_type<>saml").unwrap();
        assert_eq!(
            f[0],
            ParamFilter {
                name: "is_suspicious".into(),
                op: Op::Eq,
                value: "true".into()
            }
        );
        assert_eq!(f[1].op, Op::Ne);
        assert_eq!(parse("login_timestamp>=1000").unwrap()[0].op, Op::Ge);
        assert_eq!(parse("login_challenge_status==").unwrap()[0].value, "");
        assert!(parse("is_suspicious").is_err());
        assert!(parse("=true").is_err());
        assert!(parse("a=b").is_err());
    }

    #[test]
    fn evaluates_by_type() {
        let e = event(vec![
            ("is_suspicious", ParamValue::Bool(true)),
            ("login_timestamp", ParamValue::Int(1500)),
            (
                "login_challenge_method",
                ParamValue::MultiStr(vec!["password".into(), "security_key".into()]),
            ),
            ("login_type", ParamValue::Str("google_password".into())),
        ]);
        let holds = |s: &str| parse(s).unwrap().iter().all(|f| f.matches(&e));
        assert!(holds("is_suspicious==true"));
        assert!(!holds("is_suspicious==false"));
        assert!(holds("login_timestamp>999,login_timestamp<=1500"));
        assert!(!holds("login_timestamp>1500"));
        assert!(holds("login_challenge_method==security_key"));
        assert!(!holds("login_challenge_method<>password"));
        assert!(holds("login_challenge_method<>backup_code"));
        assert!(holds("login_type==google_password,is_suspicious==true"));
        assert!(!holds("missing_param==x"));
        // Numeric, not lexical: 1500 > 999 although "1500" < "999".
        assert!(holds("login_timestamp>999"));
    }
}
