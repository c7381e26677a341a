//! An alert rule as it is stored (inside a subscription's opaque definition, under `alert`)
//! and read from a request body, field by field so that every mistake names its field
//! (`threshold.count`, `recipients[1].email`) and an unknown field is refused rather than
//! ignored (a misspelt `treshold` would otherwise alert on every match).

use authtrail_catalog::{Catalog, Lang, Tag};
use authtrail_model::ActivityQuery;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::ServiceError;
use crate::json_fields::{object, only, string, uint};
use crate::query::ListConditions;

/// Longest threshold window: a day (windows are kept in the rule's state).
pub const MAX_WINDOW_MINUTES: u32 = 24 * 60;
/// Most matches a threshold may ask for (the window keeps that many sequence numbers).
pub const MAX_THRESHOLD: u32 = 1000;
/// Longest throttling period: a week.
pub const MAX_THROTTLE_MINUTES: u32 = 7 * 24 * 60;
pub const MAX_RECIPIENTS: usize = 20;
pub const MAX_NAME_BYTES: usize = 200;

/// What a threshold or a throttle counts separately.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum GroupBy {
    Actor,
    Ip,
    #[default]
    Overall,
}

impl GroupBy {
    fn parse(raw: &str, field: &str) -> Result<GroupBy, ServiceError> {
        match raw {
            "actor" => Ok(GroupBy::Actor),
            "ip" => Ok(GroupBy::Ip),
            "overall" => Ok(GroupBy::Overall),
            other => Err(ServiceError::field(
                field,
                format!("{other:?} is not a grouping: use actor, ip or overall"),
            )),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            GroupBy::Actor => "actor",
            GroupBy::Ip => "ip",
            GroupBy::Overall => "overall",
        }
    }
}

/// At least `count` matches within `window_minutes` of event time, per group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Threshold {
    pub count: u32,
    pub window_minutes: u32,
    #[serde(default)]
    pub group_by: GroupBy,
}

/// How a chat webhook wants its message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChatFormat {
    /// Slack's incoming webhooks (`text` + `blocks`), also spoken by Mattermost, Rocket.Chat.
    Slack,
    /// Google Chat's incoming webhooks (`text`).
    Googlechat,
}

impl ChatFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            ChatFormat::Slack => "slack",
            ChatFormat::Googlechat => "googlechat",
        }
    }
}

/// Where alerts go. A chat webhook's URL carries the chat's own secret token, so it is stored
/// sealed and shown by its host only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", untagged)]
pub enum Recipient {
    Email {
        email: String,
    },
    Webhook {
        /// `https://host/…`: what views show.
        webhook: String,
        /// The whole URL, sealed for this rule.
        sealed: String,
        format: ChatFormat,
    },
}

/// The stored rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Rule {
    pub name: String,
    #[serde(default = "yes")]
    pub enabled: bool,
    /// `en` or `zh-TW`.
    pub language: String,
    #[serde(default)]
    pub throttle_minutes: u32,
    #[serde(default)]
    pub query: ListConditions,
    /// Whole catalogue categories (`application/type`, e.g. `login/account_warning`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub category: Vec<String>,
    /// Catalogue tags (`sign_in_failure`, `account_warning`, …).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tag: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold: Option<Threshold>,
    /// The throttling group of a rule without a threshold (a threshold's own grouping wins).
    #[serde(default)]
    pub group_by: GroupBy,
    pub recipients: Vec<Recipient>,
    /// The ready-made rule this one was made from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preset: Option<String>,
}

fn yes() -> bool {
    true
}

impl Rule {
    pub fn lang(&self) -> Lang {
        Lang::from_tag(&self.language).unwrap_or(Lang::En)
    }

    /// The grouping of thresholds and throttling.
    pub fn grouping(&self) -> GroupBy {
        self.threshold.map_or(self.group_by, |t| t.group_by)
    }

    /// The activities this rule looks at. Categories and tags add their events to the event
    /// names (an activity matches when it holds any of them).
    pub fn resolve(&self, catalog: &Catalog) -> Result<ActivityQuery, ServiceError> {
        // A list may ask for a name no catalogue knows (Logto keeps such names); a rule that
        // waits for one is almost certainly misspelt, so it is refused.
        for n in self.query.event_name.iter().flat_map(|s| s.split(',')) {
            let n = n.trim();
            let known = match self.query.application.as_deref() {
                Some(a) => catalog.event(a, n).is_some(),
                None => catalog.find_event_anywhere(n).next().is_some(),
            };
            if !known {
                return Err(ServiceError::field(
                    "query.eventName",
                    format!("{n:?} is not an event of the catalogue"),
                ));
            }
        }
        let mut q = self.query.resolve(catalog, "query.")?;
        let mut extra = Vec::new();
        for (i, c) in self.category.iter().enumerate() {
            let field = format!("query.category[{i}]");
            let (app, ty) = c.split_once('/').ok_or_else(|| {
                ServiceError::field(&field, format!("{c:?} must be application/type"))
            })?;
            let a = catalog
                .application(app)
                .filter(|a| a.event_type(ty).is_some())
                .filter(|_| q.application.as_deref().is_none_or(|x| x == app))
                .ok_or_else(|| {
                    ServiceError::field(
                        &field,
                        format!("{c:?} is not a category of the catalogue (or of the rule's application)"),
                    )
                })?;
            extra.extend(a.events_of_type(ty).map(|e| e.name.clone()));
        }
        for (i, t) in self.tag.iter().enumerate() {
            let field = format!("query.tag[{i}]");
            let tag = Tag::parse(t).ok_or_else(|| {
                ServiceError::field(&field, format!("{t:?} is not a tag of the catalogue"))
            })?;
            extra.extend(
                catalog
                    .events_with_tag(tag)
                    .filter(|(a, _)| q.application.as_deref().is_none_or(|x| x == a.name))
                    .map(|(_, e)| e.name.clone()),
            );
        }
        if !(self.category.is_empty() && self.tag.is_empty()) && extra.is_empty() {
            return Err(ServiceError::field(
                "query.tag",
                "selects no event of the rule's application",
            ));
        }
        for n in extra {
            if !q.event_names.contains(&n) {
                q.event_names.push(n);
            }
        }
        Ok(q)
    }
}

// ---- reading a request body -----------------------------------------------------------------

/// A recipient as the client wrote it (a webhook's URL not yet checked nor sealed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecipientInput {
    Email(String),
    Webhook { url: String, format: ChatFormat },
}

/// A rule as the client wrote it: every field optional (a PATCH names only what changes; a
/// creation's required fields are checked by [`RuleInput::require`]).
#[derive(Debug, Clone, Default)]
pub struct RuleInput {
    pub name: Option<String>,
    pub enabled: Option<bool>,
    pub language: Option<String>,
    pub throttle_minutes: Option<u32>,
    pub query: Option<(ListConditions, Vec<String>, Vec<String>)>,
    /// `Some(None)`: no threshold (every match alerts).
    pub threshold: Option<Option<Threshold>>,
    pub group_by: Option<GroupBy>,
    pub recipients: Option<Vec<RecipientInput>>,
    /// Where to start: after this sequence number (default: what arrives from now on).
    pub start_after: Option<i64>,
}

/// A string, or a list of strings (as a list request's repeated parameter).
fn strings(m: &Map<String, Value>, name: &str, field: &str) -> Result<Vec<String>, ServiceError> {
    match m.get(name) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::String(s)) => Ok(s
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect()),
        Some(Value::Array(a)) => a
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| ServiceError::field(field, "must hold strings"))
            })
            .collect(),
        Some(_) => Err(ServiceError::field(
            field,
            "must be a string or a list of strings",
        )),
    }
}

fn query(v: &Value) -> Result<(ListConditions, Vec<String>, Vec<String>), ServiceError> {
    const KNOWN: [&str; 9] = [
        "application",
        "eventName",
        "category",
        "tag",
        "filters",
        "actor",
        "ip",
        "result",
        "clientApplicationId",
    ];
    let m = object(v, "query")?;
    only(m, &KNOWN, "query.")?;
    if m.contains_key("clientApplicationId") {
        return Err(ServiceError::field(
            "query.clientApplicationId",
            "is not supported in alert rules yet",
        ));
    }
    let names = strings(m, "eventName", "query.eventName")?;
    let conditions = ListConditions {
        application: string(m, "application", "query.application")?,
        event_name: (!names.is_empty()).then(|| names.join(",")),
        filters: string(m, "filters", "query.filters")?,
        actor: string(m, "actor", "query.actor")?,
        ip: string(m, "ip", "query.ip")?,
        result: string(m, "result", "query.result")?,
        ..ListConditions::default()
    };
    Ok((
        conditions,
        strings(m, "category", "query.category")?,
        strings(m, "tag", "query.tag")?,
    ))
}

fn threshold(v: &Value) -> Result<Option<Threshold>, ServiceError> {
    if v.is_null() {
        return Ok(None);
    }
    let m = object(v, "threshold")?;
    only(m, &["count", "windowMinutes", "groupBy"], "threshold.")?;
    let count = uint(m, "count", "threshold.count")?
        .ok_or_else(|| ServiceError::field("threshold.count", "is required"))?;
    if !(1..=MAX_THRESHOLD).contains(&count) {
        return Err(ServiceError::field(
            "threshold.count",
            format!("must be 1 to {MAX_THRESHOLD}"),
        ));
    }
    let window = uint(m, "windowMinutes", "threshold.windowMinutes")?
        .ok_or_else(|| ServiceError::field("threshold.windowMinutes", "is required"))?;
    if !(1..=MAX_WINDOW_MINUTES).contains(&window) {
        return Err(ServiceError::field(
            "threshold.windowMinutes",
            format!("must be 1 to {MAX_WINDOW_MINUTES} (24 hours)"),
        ));
    }
    let group_by = match string(m, "groupBy", "threshold.groupBy")? {
        Some(g) => GroupBy::parse(&g, "threshold.groupBy")?,
        None => GroupBy::Overall,
    };
    Ok(Some(Threshold {
        count,
        window_minutes: window,
        group_by,
    }))
}

/// An address as SMTP takes it: `local@domain`, no spaces or angle brackets, a domain of
/// labels. Display names are not taken (the rule's name is the sender's display name).
pub fn check_email(raw: &str, field: &str) -> Result<String, ServiceError> {
    let bad = || ServiceError::field(field, format!("{raw:?} is not an e-mail address"));
    if raw.len() > 254 || raw.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad());
    }
    let (local, domain) = raw.rsplit_once('@').ok_or_else(bad)?;
    let local_ok = !local.is_empty()
        && local.len() <= 64
        && !local.contains(['<', '>', '(', ')', ',', ';', ':', '\\', '"', '[', ']', '@']);
    let domain_ok = domain.contains('.')
        && domain.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_alphanumeric() || c == '-')
        });
    if local_ok && domain_ok {
        Ok(raw.to_string())
    } else {
        Err(bad())
    }
}

fn recipients(v: &Value) -> Result<Vec<RecipientInput>, ServiceError> {
    let list = v
        .as_array()
        .ok_or_else(|| ServiceError::field("recipients", "must be a list"))?;
    if list.is_empty() || list.len() > MAX_RECIPIENTS {
        return Err(ServiceError::field(
            "recipients",
            format!("must hold 1 to {MAX_RECIPIENTS} recipients"),
        ));
    }
    let mut out = Vec::new();
    for (i, r) in list.iter().enumerate() {
        let prefix = format!("recipients[{i}]");
        let m = object(r, &prefix)?;
        only(m, &["email", "webhook", "format"], &format!("{prefix}."))?;
        match (m.get("email"), m.get("webhook")) {
            (Some(_), None) => {
                if m.contains_key("format") {
                    return Err(ServiceError::field(
                        &format!("{prefix}.format"),
                        "is for webhooks only",
                    ));
                }
                let field = format!("{prefix}.email");
                let e = string(m, "email", &field)?.unwrap_or_default();
                out.push(RecipientInput::Email(check_email(&e, &field)?));
            }
            (None, Some(_)) => {
                let url = string(m, "webhook", &format!("{prefix}.webhook"))?.unwrap_or_default();
                let ff = format!("{prefix}.format");
                let format = match string(m, "format", &ff)?.as_deref() {
                    None | Some("slack") => ChatFormat::Slack,
                    Some("googlechat") | Some("google-chat") => ChatFormat::Googlechat,
                    Some(o) => {
                        return Err(ServiceError::field(
                            &ff,
                            format!("{o:?} is not a chat format: use slack or googlechat"),
                        ));
                    }
                };
                out.push(RecipientInput::Webhook { url, format });
            }
            _ => {
                return Err(ServiceError::field(
                    &prefix,
                    "must have either email or webhook",
                ));
            }
        }
    }
    Ok(out)
}

const FIELDS: [&str; 9] = [
    "name",
    "enabled",
    "language",
    "throttleMinutes",
    "query",
    "threshold",
    "groupBy",
    "recipients",
    "startAfter",
];

impl RuleInput {
    /// Reads a body; `creating` allows `startAfter` (a PATCH keeps the rule's place).
    pub fn from_json(body: &Value, creating: bool) -> Result<RuleInput, ServiceError> {
        let m = object(body, "body")?;
        only(m, if creating { &FIELDS } else { &FIELDS[..8] }, "")?;
        let name = string(m, "name", "name")?;
        if let Some(n) = &name
            && (n.trim().is_empty() || n.len() > MAX_NAME_BYTES || n.chars().any(char::is_control))
        {
            return Err(ServiceError::field(
                "name",
                format!("must be 1 to {MAX_NAME_BYTES} bytes without control characters"),
            ));
        }
        let language = string(m, "language", "language")?
            .map(|l| match Lang::from_tag(&l) {
                Some(lang) => Ok(lang.tag().to_string()),
                None => Err(ServiceError::field(
                    "language",
                    format!("{l:?} is not a language of authtrail: use en or zh-TW"),
                )),
            })
            .transpose()?;
        let enabled = match m.get("enabled") {
            None | Some(Value::Null) => None,
            Some(Value::Bool(b)) => Some(*b),
            Some(_) => return Err(ServiceError::field("enabled", "must be true or false")),
        };
        let throttle_minutes = uint(m, "throttleMinutes", "throttleMinutes")?;
        if throttle_minutes.is_some_and(|t| t > MAX_THROTTLE_MINUTES) {
            return Err(ServiceError::field(
                "throttleMinutes",
                format!("must be 0 to {MAX_THROTTLE_MINUTES}"),
            ));
        }
        let start_after = match m.get("startAfter") {
            None | Some(Value::Null) => None,
            Some(v) => Some(v.as_i64().filter(|n| *n >= 0).ok_or_else(|| {
                ServiceError::field(
                    "startAfter",
                    "must be a sequence number (0 for the beginning)",
                )
            })?),
        };
        Ok(RuleInput {
            name,
            enabled,
            language,
            throttle_minutes,
            query: m.get("query").map(query).transpose()?,
            threshold: m.get("threshold").map(threshold).transpose()?,
            group_by: string(m, "groupBy", "groupBy")?
                .map(|g| GroupBy::parse(&g, "groupBy"))
                .transpose()?,
            recipients: m.get("recipients").map(recipients).transpose()?,
            start_after,
        })
    }

    /// The fields a new rule must have.
    pub fn require(&self) -> Result<(), ServiceError> {
        if self.name.is_none() {
            return Err(ServiceError::field("name", "is required"));
        }
        if self.recipients.is_none() {
            return Err(ServiceError::field("recipients", "is required"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn field(body: Value) -> String {
        RuleInput::from_json(&body, true).unwrap_err().details()[0]
            .field
            .clone()
    }

    #[test]
    fn the_issue_example_reads_and_each_mistake_names_its_field() {
        let ok = json!({"name": "Suspicious sign-ins", "language": "zh-TW", "throttleMinutes": 15,
            "query": {"eventName": ["suspicious_login", "login_failure"], "filters": "is_suspicious==true", "ip": "203.0.113.0/24"},
            "threshold": {"count": 10, "windowMinutes": 5, "groupBy": "ip"},
            "recipients": [{"email": "secops@example.com"}, {"webhook": "https://chat.example.com/hook", "format": "slack"}]});
        let r = RuleInput::from_json(&ok, true).unwrap();
        assert_eq!(r.language.as_deref(), Some("zh-TW"));
        let t = r.threshold.unwrap().unwrap();
        assert_eq!(
            (t.count, t.window_minutes, t.group_by),
            (10, 5, GroupBy::Ip)
        );
        assert_eq!(r.recipients.unwrap().len(), 2);
        let base = |k: &str, v: Value| {
            let mut b = ok.clone();
            b[k] = v;
            b
        };
        assert_eq!(
            field(base("threshold", json!({"count": 0, "windowMinutes": 5}))),
            "threshold.count"
        );
        assert_eq!(
            field(base(
                "threshold",
                json!({"count": 3, "windowMinutes": 1441})
            )),
            "threshold.windowMinutes"
        );
        assert_eq!(
            field(base(
                "threshold",
                json!({"count": 3, "windowMinutes": 5, "groupBy": "host"})
            )),
            "threshold.groupBy"
        );
        assert_eq!(
            field(base("recipients", json!([{"email": "not an address"}]))),
            "recipients[0].email"
        );
        assert_eq!(
            field(base(
                "recipients",
                json!([{"email": "a@b.example"}, {"email": "a@b"}])
            )),
            "recipients[1].email"
        );
        assert_eq!(field(base("recipients", json!([]))), "recipients");
        assert_eq!(
            field(base(
                "recipients",
                json!([{"webhook": "https://x", "format": "teams"}])
            )),
            "recipients[0].format"
        );
        assert_eq!(field(base("language", json!("fr"))), "language");
        assert_eq!(
            field(base("query", json!({"evntName": "x"}))),
            "query.evntName"
        );
        assert_eq!(field(base("treshold", json!({}))), "treshold");
        assert!(RuleInput::from_json(&json!({"startAfter": 1}), false).is_err());
    }

    #[test]
    fn categories_and_tags_resolve_against_the_catalogue() {
        let c = Catalog::builtin().unwrap();
        let rule = |q: Value| -> Result<ActivityQuery, ServiceError> {
            let (query, category, tag) = super::query(&q)?;
            Rule {
                name: "x".into(),
                enabled: true,
                language: "en".into(),
                throttle_minutes: 0,
                query,
                category,
                tag,
                threshold: None,
                group_by: GroupBy::Overall,
                recipients: vec![],
                preset: None,
            }
            .resolve(&c)
        };
        let q = rule(json!({"category": ["login/account_warning"]})).unwrap();
        assert!(q.event_names.contains(&"suspicious_login".to_string()));
        assert!(
            q.event_names
                .contains(&"account_disabled_password_leak".to_string())
        );
        let q = rule(json!({"application": "logto", "tag": "account_warning"})).unwrap();
        assert!(q.event_names.contains(&"Identifier.Lockout".to_string()));
        assert!(!q.event_names.contains(&"suspicious_login".to_string()));
        let field = |q: Value| rule(q).unwrap_err().details()[0].field.clone();
        assert_eq!(
            field(json!({"category": ["login/nope"]})),
            "query.category[0]"
        );
        assert_eq!(field(json!({"category": "nope"})), "query.category[0]");
        assert_eq!(field(json!({"tag": ["hungry"]})), "query.tag[0]");
        assert_eq!(
            field(json!({"eventName": ["no_such_event"]})),
            "query.eventName"
        );
        assert_eq!(
            field(json!({"application": "logto", "category": "login/account_warning"})),
            "query.category[0]"
        );
    }
}
