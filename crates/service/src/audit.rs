//! Self-audit: authtrail records its own administrative actions (token create and revoke, console
//! sign-ins, user and retention changes) as activities of the catalogue's `admin` application, in
//! the tenant they concern. They are stored, queried and exported like any other event.
//!
//! An admin event is built as a wire-format activity and goes through the same `validate_item`
//! as producer input, so it always matches the catalogue (a misspelt event or parameter fails
//! loudly in tests instead of storing something the console cannot render).

use std::net::IpAddr;

use authtrail_model::Stopwatch;

use serde_json::{Value, json};

use authtrail_model::validate::validate_item;
use authtrail_model::{Outcome, Tenant};

use crate::error::ServiceError;
use crate::{Service, Source};

/// Who performed an admin action.
#[derive(Debug, Clone)]
pub enum AdminActor {
    /// An API token, by id (never its secret).
    Token(String),
    /// A console user, by name.
    User(String),
    /// The `authtrail` command line on the server host (the OS user, when known).
    Cli(String),
    /// authtrail itself (a scheduled job).
    System,
}

impl AdminActor {
    fn to_wire(&self) -> Value {
        match self {
            AdminActor::Token(id) => json!({"callerType": "KEY", "key": id}),
            // Console usernames are often e-mails; otherwise they are profile ids.
            AdminActor::User(name) if name.contains('@') => {
                json!({"callerType": "USER", "email": name})
            }
            AdminActor::User(name) => json!({"callerType": "USER", "profileId": name}),
            AdminActor::Cli(who) => json!({"callerType": "KEY", "key": format!("cli:{who}")}),
            AdminActor::System => json!({"callerType": "KEY", "key": "authtrail"}),
        }
    }

    /// The actor of a CLI command: the OS user running it, from the user database (`$USER` is
    /// unset under systemd, cron and in containers, where these commands often run).
    pub fn cli() -> AdminActor {
        let who = whoami::username()
            .ok()
            .or_else(|| std::env::var("USER").ok())
            .unwrap_or_else(|| format!("uid:{}", uid()));
        AdminActor::Cli(who)
    }
}

/// This process's user id, for a user the user database does not name.
fn uid() -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .and_then(|l| l.split_whitespace().next().map(str::to_string))
        })
        .unwrap_or_else(|| "unknown".into())
}

/// One admin action to record.
#[derive(Debug, Clone)]
pub struct AdminEvent {
    /// An event of the `admin` application, e.g. `token.create`.
    pub name: &'static str,
    pub actor: AdminActor,
    pub ip: Option<IpAddr>,
    pub user_agent: Option<String>,
    pub outcome: Outcome,
    /// Wire-format parameters, e.g. `[{"name": "token_id", "value": "tok_…"}]`.
    pub parameters: Vec<Value>,
}

impl AdminEvent {
    pub fn new(name: &'static str, actor: AdminActor) -> AdminEvent {
        AdminEvent {
            name,
            actor,
            ip: None,
            user_agent: None,
            outcome: Outcome::Success,
            parameters: Vec::new(),
        }
    }

    pub fn ip(mut self, ip: Option<IpAddr>) -> AdminEvent {
        self.ip = ip;
        self
    }

    /// The client's User-Agent, cut to 512 characters.
    pub fn user_agent(mut self, ua: Option<&str>) -> AdminEvent {
        self.user_agent = ua.map(|u| u.chars().take(512).collect());
        self
    }

    pub fn outcome(mut self, outcome: Outcome) -> AdminEvent {
        self.outcome = outcome;
        self
    }

    pub fn string(mut self, name: &str, value: &str) -> AdminEvent {
        self.parameters.push(json!({"name": name, "value": value}));
        self
    }

    pub fn strings(mut self, name: &str, values: &[&str]) -> AdminEvent {
        self.parameters
            .push(json!({"name": name, "multiValue": values}));
        self
    }

    pub fn int(mut self, name: &str, value: i64) -> AdminEvent {
        self.parameters
            .push(json!({"name": name, "intValue": value.to_string()}));
        self
    }
}

impl Service {
    /// Stores `event` in `tenant`'s trail, durably, before returning. Admin events go through
    /// the same validator as producer input and are ingested as [`Source::SelfAudit`].
    pub async fn audit(&self, tenant: &Tenant, event: AdminEvent) -> Result<(), ServiceError> {
        self.audit_recorded(tenant, event).await.map(|_| ())
    }

    /// [`Service::audit`], answering the record's uniqueQualifier (an erasure's rows point at
    /// their record by it).
    pub async fn audit_recorded(
        &self,
        tenant: &Tenant,
        event: AdminEvent,
    ) -> Result<i64, ServiceError> {
        let mut item = json!({
            "id": {"applicationName": "admin"},
            "actor": event.actor.to_wire(),
            "events": [{"name": event.name, "parameters": event.parameters}],
            "result": event.outcome.as_str(),
        });
        if let Some(ip) = event.ip {
            item["ipAddress"] = json!(ip.to_string());
        }
        if let Some(ua) = &event.user_agent {
            item["userAgent"] = json!(ua);
        }
        let activity = validate_item(&self.context(tenant), 0, &item).map_err(|errors| {
            // Only a programming error (an admin event the catalogue lacks) lands here.
            ServiceError::internal(format!("admin event {} is invalid: {errors:?}", event.name))
        })?;
        let receipts = self
            .ingest(
                tenant,
                Source::SelfAudit,
                vec![activity],
                Stopwatch::start(),
            )
            .await?;
        receipts
            .first()
            .map(|r| r.unique_qualifier)
            .ok_or_else(|| ServiceError::internal("an admin event was not stored"))
    }
}
