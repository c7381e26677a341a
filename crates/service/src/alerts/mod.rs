//! Alert rules (`/v1/alert-rules`): creating, reading, changing and deleting them, each change
//! audited, and what the delivery engine needs to evaluate and deliver them
//! ([`Service::alert_plan`]). docs/alerts.md describes them for administrators.
//!
//! A rule is stored through the [`Subscriptions`](authtrail_model::store::Subscriptions)
//! capability, as a subscription whose definition holds `alert` (the [`Rule`]) and
//! `alertState` (its [`AlertState`]): it shares the subscriptions' ledger, version
//! compare-and-set, lease, backoff and per-tenant limit, and the delivery engine runs it in the
//! same leased worker. `/v1/subscriptions` does not show rules, and this API shows nothing else.

pub mod presets;
pub mod rule;
pub mod state;

use authtrail_model::wire_time::{Precision, format_rfc3339};
use authtrail_model::{ActivityQuery, Subscription, Tenant};
use serde::Serialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::Service;
use crate::audit::{AdminActor, AdminEvent};
use crate::error::ServiceError;
use crate::subscriptions::kept::{Kept, not_found};
use crate::subscriptions::{LedgerView, Sink};
pub use rule::{ChatFormat, GroupBy, Recipient, RecipientInput, Rule, RuleInput, Threshold};
pub use state::{AlertState, FiredAlert, GroupState, Held, PendingAlert};

/// Is this stored definition an alert rule's?
pub fn is_alert_rule(definition: &Value) -> bool {
    definition.get("alert").is_some()
}

/// A recipient ready to send to.
#[derive(Debug, Clone)]
pub enum Target {
    Email(String),
    Chat { url: String, format: ChatFormat },
}

/// What evaluating and delivering one rule takes, read afresh from its definition.
#[derive(Debug, Clone)]
pub struct AlertPlan {
    pub rule: Rule,
    pub query: ActivityQuery,
    pub state: AlertState,
    /// Each recipient with its key (see [`Service::recipient_key`]).
    pub targets: Vec<(String, Target)>,
}

impl AlertPlan {
    /// Does the rule look at `a`? Never at the trail's own alert records: a rule that matched
    /// them would alert about its alerts, for ever.
    pub fn matches(&self, a: &authtrail_model::Activity) -> bool {
        let own =
            a.application == "admin" && a.body.events.iter().any(|e| e.name.starts_with("alert"));
        !own && self.query.matches(a)
    }
}

/// A rule as the API shows it (a chat webhook by its host only: its URL holds a token).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AlertRuleView {
    pub id: String,
    #[serde(flatten)]
    pub rule: Value,
    pub created_time: String,
    pub status: StatusView,
    pub recent_alerts: Vec<Value>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusView {
    /// `active`, `disabled`, `retrying` (a recipient refuses; the alert waits) or `failing`
    /// (refused for 72 hours; still retried).
    pub state: &'static str,
    /// An alert waits for a recipient.
    pub pending: bool,
    /// Alerts sent, ever.
    pub alerts: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_fired_time: Option<String>,
    pub ledger: LedgerView,
}

fn time(us: i64) -> String {
    format_rfc3339(us, Precision::Millis)
}

fn owner(tenant: &Tenant, id: &str) -> String {
    format!("{tenant}/{id}")
}

fn decode(sub: &Subscription) -> Result<(Rule, AlertState), ServiceError> {
    let bad = |e: serde_json::Error| {
        ServiceError::internal(format!(
            "alert rule {} of {} has an unreadable definition: {e}",
            sub.id, sub.tenant
        ))
    };
    let rule = serde_json::from_value(sub.definition["alert"].clone()).map_err(bad)?;
    let state = match sub.definition.get("alertState") {
        Some(s) => serde_json::from_value(s.clone()).map_err(bad)?,
        None => AlertState::default(),
    };
    Ok((rule, state))
}

/// The stored definition of a rule and its state.
pub fn encode(rule: &Rule, state: &AlertState) -> Value {
    json!({"alert": rule, "alertState": state})
}

/// Alert rules, as [`kept`](crate::subscriptions::kept) rows.
pub(crate) struct AlertRules;

impl Kept for AlertRules {
    const NOUN: &'static str = "alert rule";
    const LIMIT_COUNTS: &'static str = "subscriptions, watch channels and alert rules";
    type Definition = (Rule, AlertState);

    fn is_mine(definition: &Value) -> bool {
        is_alert_rule(definition)
    }

    fn decode(sub: &Subscription) -> Result<(Rule, AlertState), ServiceError> {
        decode(sub)
    }

    fn encode((rule, state): &(Rule, AlertState)) -> Value {
        encode(rule, state)
    }
}

impl Service {
    /// A recipient's identity in a pending alert's `delivered` list: stable across edits of
    /// the rule, and never the webhook's URL itself.
    pub fn recipient_key(target: &Target) -> String {
        match target {
            Target::Email(e) => format!("mailto:{}", e.to_lowercase()),
            Target::Chat { url, .. } => {
                format!("hook:{}", hex::encode(&Sha256::digest(url.as_bytes())[..8]))
            }
        }
    }

    async fn load_rule(
        &self,
        tenant: &Tenant,
        id: &str,
    ) -> Result<(Subscription, Rule, AlertState), ServiceError> {
        let (sub, (rule, state)) = self.load_kept::<AlertRules>(tenant, id).await?;
        Ok((sub, rule, state))
    }

    /// Checks and seals the recipients; an e-mail needs the node's SMTP settings only to be
    /// sent, not to be written down.
    fn recipients(
        &self,
        tenant: &Tenant,
        id: &str,
        input: Vec<RecipientInput>,
    ) -> Result<Vec<Recipient>, ServiceError> {
        input
            .into_iter()
            .enumerate()
            .map(|(i, r)| match r {
                RecipientInput::Email(email) => Ok(Recipient::Email { email }),
                RecipientInput::Webhook { url, format } => {
                    let field = format!("recipients[{i}].webhook");
                    let dest = self.destinations().check(&url, &field)?;
                    if dest.sink != Sink::Webhook {
                        return Err(ServiceError::field(&field, "must be an https URL"));
                    }
                    let sealed = self
                        .sealing()
                        .seal(dest.url.as_str().as_bytes(), &owner(tenant, id))
                        .map_err(|e| ServiceError::field(&field, e.to_string()))?;
                    Ok(Recipient::Webhook {
                        webhook: format!("{}://{}/…", dest.url.scheme(), dest.host()),
                        sealed,
                        format,
                    })
                }
            })
            .collect()
    }

    /// Lays `input` over `rule` and checks the result against the catalogue.
    fn apply(
        &self,
        tenant: &Tenant,
        id: &str,
        rule: &mut Rule,
        input: RuleInput,
    ) -> Result<(), ServiceError> {
        if let Some(n) = input.name {
            rule.name = n;
        }
        if let Some(e) = input.enabled {
            rule.enabled = e;
        }
        if let Some(l) = input.language {
            rule.language = l;
        }
        if let Some(t) = input.throttle_minutes {
            rule.throttle_minutes = t;
        }
        if let Some((q, category, tag)) = input.query {
            rule.query = q;
            rule.category = category;
            rule.tag = tag;
        }
        if let Some(t) = input.threshold {
            rule.threshold = t;
        }
        if let Some(g) = input.group_by {
            rule.group_by = g;
        }
        if let Some(r) = input.recipients {
            rule.recipients = self.recipients(tenant, id, r)?;
        }
        rule.resolve(self.catalog())?;
        Ok(())
    }

    /// Creates a rule; it looks at what arrives from now on (or after `startAfter`).
    pub async fn create_alert_rule(
        &self,
        tenant: &Tenant,
        input: RuleInput,
        preset: Option<&str>,
        actor: &AdminActor,
    ) -> Result<AlertRuleView, ServiceError> {
        input.require()?;
        let id = format!("alr_{}", hex::encode(rand::random::<[u8; 10]>()));
        let start = match input.start_after {
            Some(s) => {
                let last = self.store().last_sequence(tenant).await?;
                if s > last {
                    return Err(ServiceError::field(
                        "startAfter",
                        format!("must be 0 to {last}, the tenant's last sequence number"),
                    ));
                }
                s
            }
            None => self.store().last_sequence(tenant).await?,
        };
        let mut rule = Rule {
            name: String::new(),
            enabled: true,
            language: "en".into(),
            throttle_minutes: 0,
            query: Default::default(),
            category: Vec::new(),
            tag: Vec::new(),
            threshold: None,
            group_by: GroupBy::Overall,
            recipients: Vec::new(),
            preset: preset.map(str::to_string),
        };
        self.apply(tenant, &id, &mut rule, input)?;
        let def = (rule, AlertState::default());
        self.insert_kept::<AlertRules>(tenant, &id, &def, start)
            .await?;
        let (rule, _) = def;
        self.audit_rule("alert_rule.create", tenant, &id, &rule, actor)
            .await?;
        self.subscriptions_changed();
        self.get_alert_rule(tenant, &id).await
    }

    /// Switches a ready-made rule on: `body` gives at least the recipients, and may override
    /// any field of the preset.
    pub async fn create_alert_preset(
        &self,
        tenant: &Tenant,
        name: &str,
        body: &Value,
        actor: &AdminActor,
    ) -> Result<AlertRuleView, ServiceError> {
        let preset = presets::find(name).ok_or_else(|| {
            ServiceError::NotFound(format!(
                "no ready-made rule {name:?} (known: {})",
                presets::PRESETS
                    .iter()
                    .map(|p| p.name)
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })?;
        if !body.is_object() {
            return Err(ServiceError::field("body", "must be a JSON object"));
        }
        let input = RuleInput::from_json(&presets::merge(preset, body), true)?;
        self.create_alert_rule(tenant, input, Some(preset.name), actor)
            .await
    }

    pub async fn list_alert_rules(
        &self,
        tenant: &Tenant,
    ) -> Result<Vec<AlertRuleView>, ServiceError> {
        let latest = self.store().last_sequence(tenant).await?;
        let mut out = Vec::new();
        for sub in self.store().subscriptions(Some(tenant)).await? {
            if is_alert_rule(&sub.definition) {
                let (rule, state) = decode(&sub)?;
                out.push(self.rule_view(&sub, &rule, &state, latest));
            }
        }
        Ok(out)
    }

    pub async fn get_alert_rule(
        &self,
        tenant: &Tenant,
        id: &str,
    ) -> Result<AlertRuleView, ServiceError> {
        let (sub, rule, state) = self.load_rule(tenant, id).await?;
        let latest = self.store().last_sequence(tenant).await?;
        Ok(self.rule_view(&sub, &rule, &state, latest))
    }

    fn rule_view(
        &self,
        sub: &Subscription,
        rule: &Rule,
        state: &AlertState,
        latest: i64,
    ) -> AlertRuleView {
        let mut shown = serde_json::to_value(rule).expect("rules serialize");
        // The view's query reads as it is written: categories and tags inside it.
        if let Some(o) = shown.as_object_mut() {
            let mut q = o.remove("query").unwrap_or_else(|| json!({}));
            for k in ["category", "tag"] {
                if let Some(v) = o.remove(k) {
                    q[k] = v;
                }
            }
            if let Some(e) = q.get("eventName").and_then(Value::as_str) {
                q["eventName"] = json!(e.split(',').collect::<Vec<_>>());
            }
            o.insert("query".into(), q);
            if let Some(rs) = o.get_mut("recipients").and_then(Value::as_array_mut) {
                for r in rs {
                    if let Some(m) = r.as_object_mut() {
                        m.remove("sealed");
                    }
                }
            }
        }
        let (ledger, failing) = self.ledger_view(sub, latest);
        let state_name = if failing {
            "failing"
        } else if sub.ledger.attempts > 0 {
            "retrying"
        } else if !rule.enabled {
            "disabled"
        } else {
            "active"
        };
        AlertRuleView {
            id: sub.id.clone(),
            rule: shown,
            created_time: time(sub.created_us),
            status: StatusView {
                state: state_name,
                pending: state.pending.is_some(),
                alerts: sub.ledger.messages,
                last_fired_time: sub.ledger.delivered_us.map(time),
                ledger,
            },
            recent_alerts: state
                .recent
                .iter()
                .map(|f| {
                    json!({"time": time(f.time_us), "subject": f.subject, "group": f.group,
                           "count": f.count, "sequences": f.sequences})
                })
                .collect(),
        }
    }

    /// Changes the fields `input` names. The rule's place in the trail and its state (windows,
    /// throttles, an alert waiting to be sent) are kept.
    pub async fn update_alert_rule(
        &self,
        tenant: &Tenant,
        id: &str,
        input: RuleInput,
        actor: &AdminActor,
    ) -> Result<AlertRuleView, ServiceError> {
        // The state changes under the worker: the rule is written against the version read,
        // and laid over the state again when the worker saved in between.
        let (_, (rule, _)) = self
            .patch_kept::<AlertRules>(tenant, id, |(rule, _)| {
                self.apply(tenant, id, rule, input.clone())
            })
            .await?;
        self.audit_rule("alert_rule.update", tenant, id, &rule, actor)
            .await?;
        self.subscriptions_changed();
        self.get_alert_rule(tenant, id).await
    }

    pub async fn delete_alert_rule(
        &self,
        tenant: &Tenant,
        id: &str,
        actor: &AdminActor,
    ) -> Result<(), ServiceError> {
        let (_, rule, _) = self.load_rule(tenant, id).await?;
        if !self.store().delete_subscription(tenant, id).await? {
            return Err(not_found::<AlertRules>(id));
        }
        self.audit_rule("alert_rule.delete", tenant, id, &rule, actor)
            .await?;
        self.subscriptions_changed();
        Ok(())
    }

    async fn audit_rule(
        &self,
        name: &'static str,
        tenant: &Tenant,
        id: &str,
        rule: &Rule,
        actor: &AdminActor,
    ) -> Result<(), ServiceError> {
        let to = recipients_shown(rule);
        let to: Vec<&str> = to.iter().map(String::as_str).collect();
        self.audit(
            tenant,
            AdminEvent::new(name, actor.clone())
                .string("alert_rule_id", id)
                .string("alert_rule_name", &rule.name)
                .strings("recipients", &to),
        )
        .await
    }

    /// What delivering `sub` (an alert rule) takes: the rule, its resolved query, its state,
    /// and its recipients with webhook URLs unsealed.
    pub fn alert_plan(&self, sub: &Subscription) -> Result<AlertPlan, ServiceError> {
        let (rule, state) = decode(sub)?;
        let query = rule.resolve(self.catalog())?;
        let targets = rule
            .recipients
            .iter()
            .map(|r| {
                let t = match r {
                    Recipient::Email { email } => Target::Email(email.clone()),
                    Recipient::Webhook { sealed, format, .. } => {
                        let url = self.sealing().open(sealed, &owner(&sub.tenant, &sub.id))?;
                        let url = String::from_utf8(url)
                            .map_err(|_| ServiceError::internal("a sealed URL is not UTF-8"))?;
                        // The policy may have changed since the rule was written.
                        self.destinations().check(&url, "webhook")?;
                        Target::Chat {
                            url,
                            format: *format,
                        }
                    }
                };
                Ok((Self::recipient_key(&t), t))
            })
            .collect::<Result<_, ServiceError>>()?;
        Ok(AlertPlan {
            rule,
            query,
            state,
            targets,
        })
    }

    /// Records a fired alert in the trail: the rule, its group, how many activities it
    /// reports, their sequence numbers, and who accepted it.
    pub async fn note_alert_fired(
        &self,
        sub: &Subscription,
        rule: &Rule,
        alert: &PendingAlert,
    ) -> Result<(), ServiceError> {
        let to = recipients_shown(rule);
        let to: Vec<&str> = to.iter().map(String::as_str).collect();
        let mut ev = AdminEvent::new("alert.fire", AdminActor::System)
            .string("alert_rule_id", &sub.id)
            .string("alert_rule_name", &rule.name)
            .string(
                "alert_group",
                if alert.group.is_empty() {
                    "-"
                } else {
                    &alert.group
                },
            )
            .int("matches", alert.count as i64)
            .strings("recipients", &to);
        ev.parameters.push(json!({
            "name": "sequences",
            "multiIntValue": alert.sequences.iter().map(i64::to_string).collect::<Vec<_>>(),
        }));
        self.audit(&sub.tenant, ev).await
    }
}

/// The recipients as the trail and views name them.
fn recipients_shown(rule: &Rule) -> Vec<String> {
    rule.recipients
        .iter()
        .map(|r| match r {
            Recipient::Email { email } => email.clone(),
            Recipient::Webhook {
                webhook, format, ..
            } => format!("{webhook} ({})", format.as_str()),
        })
        .collect()
}
