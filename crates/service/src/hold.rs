//! Legal holds: a tenant under hold loses nothing to retention and nothing to erasure until the
//! hold is released. Setting and releasing take a reason (a case or matter reference) and are
//! recorded in the tenant's admin trail (`legal_hold.set`, `legal_hold.release`); every purge or
//! erasure the hold stops is recorded as `retention.refuse`. The store keeps the current hold
//! (`LegalHolds`) and checks it in the same transaction that would delete or rewrite rows.

use authtrail_model::store::LegalHold;
use authtrail_model::{ActivityQuery, Outcome, StoreErrorKind, Tenant};

use crate::Service;
use crate::audit::{AdminActor, AdminEvent};
use crate::error::ServiceError;

/// Longest reason, in characters.
pub const MAX_REASON_CHARS: usize = 500;

fn check_reason(reason: &str) -> Result<String, ServiceError> {
    let r = reason.trim();
    if r.is_empty() {
        return Err(ServiceError::field(
            "reason",
            "is required: say why (e.g. a case or matter reference)",
        ));
    }
    if r.chars().count() > MAX_REASON_CHARS {
        return Err(ServiceError::field(
            "reason",
            format!("must be at most {MAX_REASON_CHARS} characters"),
        ));
    }
    if r.chars().any(char::is_control) {
        return Err(ServiceError::field(
            "reason",
            "must be one line of text, without control characters",
        ));
    }
    Ok(r.to_string())
}

/// The `reason` of a hold request's JSON body (`{"reason": "…"}`), unknown fields refused; the
/// value is checked when the hold is set or released.
pub fn reason_from_json(v: &serde_json::Value) -> Result<String, ServiceError> {
    let m = crate::json_fields::object(v, "body")?;
    crate::json_fields::only(m, &["reason"], "")?;
    crate::json_fields::string(m, "reason", "reason")?
        .ok_or_else(|| ServiceError::field("reason", "is required: say why"))
}

/// How the actor is named in a stored hold.
fn actor_name(actor: &AdminActor) -> String {
    match actor {
        AdminActor::Token(id) => id.clone(),
        AdminActor::User(name) => format!("user:{name}"),
        AdminActor::Cli(who) => format!("cli:{who}"),
        AdminActor::System => "authtrail".into(),
    }
}

impl Service {
    /// The tenant's current hold, if any.
    pub async fn legal_hold(&self, tenant: &Tenant) -> Result<Option<LegalHold>, ServiceError> {
        Ok(self.store().legal_hold(tenant).await?)
    }

    /// Puts `tenant` under legal hold, recording `legal_hold.set`. A tenant already held is a
    /// conflict naming the hold in force (one hold at a time: release it first to change it).
    pub async fn set_legal_hold(
        &self,
        tenant: &Tenant,
        reason: &str,
        actor: &AdminActor,
    ) -> Result<LegalHold, ServiceError> {
        let reason = check_reason(reason)?;
        let hold = LegalHold {
            tenant: tenant.clone(),
            reason: reason.clone(),
            set_by: actor_name(actor),
            set_us: self.now_us(),
        };
        match self.store().set_legal_hold(&hold).await {
            Ok(()) => {}
            Err(e) if e.kind() == StoreErrorKind::Conflict => {
                return Err(ServiceError::Conflict(e.message().to_string()));
            }
            Err(e) => return Err(e.into()),
        }
        tracing::info!(%tenant, "legal hold set");
        let event = AdminEvent::new("legal_hold.set", actor.clone()).string("reason", &reason);
        self.audit(tenant, event).await?;
        Ok(hold)
    }

    /// Releases the tenant's hold, recording `legal_hold.release` with `reason`. A tenant that is
    /// not held is a 404-style `NotFound`.
    pub async fn release_legal_hold(
        &self,
        tenant: &Tenant,
        reason: &str,
        actor: &AdminActor,
    ) -> Result<LegalHold, ServiceError> {
        let reason = check_reason(reason)?;
        let Some(hold) = self.store().release_legal_hold(tenant).await? else {
            return Err(ServiceError::NotFound(format!(
                "tenant {tenant} is not under legal hold"
            )));
        };
        tracing::info!(%tenant, "legal hold released");
        let event = AdminEvent::new("legal_hold.release", actor.clone()).string("reason", &reason);
        self.audit(tenant, event).await?;
        Ok(hold)
    }

    /// Records that `hold` stopped an `attempt` (`purge`, `erase`) in `tenant`.
    pub(crate) async fn record_refusal(
        &self,
        tenant: &Tenant,
        actor: &AdminActor,
        attempt: &str,
        hold: &LegalHold,
        days: Option<u32>,
    ) -> Result<(), ServiceError> {
        let mut event = AdminEvent::new("retention.refuse", actor.clone())
            .outcome(Outcome::Failure)
            .string("attempt", attempt)
            .string("refusal", &format!("legal hold: {}", hold.reason));
        if let Some(d) = days {
            event = event.int("retention_days", i64::from(d));
        }
        self.audit(tenant, event).await
    }

    /// Whether `tenant` recorded a refused `attempt` at or after `since_us` (so that the
    /// periodic purge records a hold's refusal once, not every hour).
    pub(crate) async fn refused_since(
        &self,
        tenant: &Tenant,
        attempt: &str,
        since_us: i64,
    ) -> Result<bool, ServiceError> {
        let query = ActivityQuery {
            application: Some("admin".into()),
            event_names: vec!["retention.refuse".into()],
            start_us: Some(since_us),
            limit: 50,
            ..ActivityQuery::default()
        };
        let page = self.store().list(tenant, &query).await?;
        Ok(page.items.iter().any(|a| {
            a.body.events.iter().any(|e| {
                matches!(e.param("attempt"), Some(authtrail_model::ParamValue::Str(s)) if s == attempt)
            })
        }))
    }
}

/// The error an erasure or purge of a held tenant answers: a conflict naming the hold.
pub(crate) fn held_error(hold: &LegalHold, what: &str) -> ServiceError {
    ServiceError::Conflict(format!(
        "tenant {} is under legal hold ({}): {what} is refused until the hold is released",
        hold.tenant, hold.reason
    ))
}
