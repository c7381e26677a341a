//! Per-subject erasure: removing one person's personal fields from a tenant's trail without
//! breaking its transparency log (docs/integrity.md, "Erasure").
//!
//! The person is named by their e-mail. Every activity whose actor has that e-mail loses the
//! fields of `authtrail_model::erasure::ERASED_FIELDS` and gets an `erasedBy` marker: the
//! uniqueQualifier of a `subject.erase` admin event, appended to the same log *before* the rows
//! change, which lists the rows it covers and names the person only as a keyed hash. The Merkle
//! tree is kept apart from the rows and is not touched, so every proof stays valid; a verifier
//! accepts an erased row only when a record that itself verifies covers it (`log_audit`).
//!
//! Order of work, and what a failure leaves: the record is stored first, then the rows are
//! rewritten in one transaction. A failure in between leaves a record whose rows still hold their
//! fields, which verify as they always did; running the erasure again finishes it under a new
//! record. Rows the person gets after the erasure are not covered: erase again.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use authtrail_model::erasure::{ERASED_FIELDS, chunks, encode_ranges};
use authtrail_model::limits::MAX_ID_BYTES;
use authtrail_model::{ActivityQuery, ActorFilter, StoreErrorKind, Tenant};

use crate::Service;
use crate::audit::{AdminActor, AdminEvent};
use crate::error::ServiceError;
use crate::hold::held_error;

/// The server secret under which subjects are hashed (shared by every node through the store).
const SUBJECT_KEY: &str = "erasure-subject";

/// What an erasure did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Erased {
    /// The person, as the records name them: hex HMAC-SHA256 (see [`Service::erasure_subject`]).
    pub subject: String,
    /// The uniqueQualifiers of the `subject.erase` records written (one per chunk of rows).
    pub records: Vec<i64>,
    /// Activities rewritten.
    pub erased: u64,
}

/// The `actorEmail` of an erasure request's JSON body (`{"actorEmail": "…"}`), unknown fields
/// refused (a misspelt field must not erase somebody else, nor nothing silently).
pub fn email_from_json(v: &serde_json::Value) -> Result<String, ServiceError> {
    let m = crate::json_fields::object(v, "body")?;
    crate::json_fields::only(m, &["actorEmail"], "")?;
    crate::json_fields::string(m, "actorEmail", "actorEmail")?
        .ok_or_else(|| ServiceError::field("actorEmail", "is required: the person's e-mail"))
}

/// The e-mail, checked and lowercased (the store compares e-mails case-insensitively).
fn check_email(email: &str) -> Result<String, ServiceError> {
    let e = email.trim();
    // PostgreSQL's text cannot hold a NUL: compared with `actor_email`, it would fail there
    // while SQLite answered "nothing to erase". No stored e-mail holds one (ingest refuses it).
    if e.chars().any(char::is_control) {
        return Err(ServiceError::field(
            "actorEmail",
            "contains a control character (such as NUL)",
        ));
    }
    if e.is_empty() || !e.contains('@') || e.chars().any(char::is_whitespace) {
        return Err(ServiceError::field(
            "actorEmail",
            "must be the person's e-mail address (as activities' actor.email holds it)",
        ));
    }
    if e.len() > MAX_ID_BYTES {
        return Err(ServiceError::field(
            "actorEmail",
            format!("must be at most {MAX_ID_BYTES} bytes"),
        ));
    }
    Ok(e.to_lowercase())
}

impl Service {
    /// How erasure records name the person with `email` in `tenant`: hex HMAC-SHA256 of
    /// `tenant || 0x0A || lowercase e-mail` under the server's erasure key. The same person
    /// always gives the same value (so "was this person erased?" can be answered), a value does
    /// not give the e-mail back, and without the key nobody can test guessed e-mails against an
    /// export; the tenant in the input keeps one person's records in two tenants unlinkable.
    pub async fn erasure_subject(
        &self,
        tenant: &Tenant,
        email: &str,
    ) -> Result<String, ServiceError> {
        let email = check_email(email)?;
        let key = crate::secrets::server_key(&**self.store(), self.sealing(), SUBJECT_KEY).await?;
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&key)
            .map_err(|e| ServiceError::internal(e.to_string()))?;
        mac.update(tenant.as_str().as_bytes());
        mac.update(b"\n");
        mac.update(email.as_bytes());
        Ok(hex::encode(mac.finalize().into_bytes()))
    }

    /// Erases the personal fields of every activity of `tenant` whose actor e-mail is `email`
    /// (see the module documentation). Refused with a conflict, and recorded, when the tenant is
    /// under legal hold. A person with no activities is not an error: nothing is written.
    pub async fn erase_subject(
        &self,
        tenant: &Tenant,
        email: &str,
        actor: &AdminActor,
    ) -> Result<Erased, ServiceError> {
        let lower = check_email(email)?;
        let subject = self.erasure_subject(tenant, &lower).await?;
        if let Some(hold) = self.store().legal_hold(tenant).await? {
            self.record_refusal(tenant, actor, "erase", &hold, None)
                .await?;
            return Err(held_error(&hold, "erasure"));
        }
        let qualifiers = self.subject_rows(tenant, &lower).await?;
        let mut done = Erased {
            subject: subject.clone(),
            records: Vec::new(),
            erased: 0,
        };
        for chunk in chunks(&qualifiers) {
            self.hash_before_erasing(tenant, chunk).await?;
            let record = AdminEvent::new("subject.erase", actor.clone())
                .string("subject", &subject)
                .string("erased", &encode_ranges(chunk))
                .int("erased_count", chunk.len() as i64)
                .strings("erased_fields", &ERASED_FIELDS);
            let by = self.audit_recorded(tenant, record).await?;
            done.records.push(by);
            match self.store().erase_personal(tenant, chunk, by).await {
                Ok(n) => done.erased += n,
                // A hold set since the check above: the record stands (its rows verify as they
                // are), the refusal is recorded, nothing more is erased.
                Err(e) if e.kind() == StoreErrorKind::Conflict => {
                    if let Some(hold) = self.store().legal_hold(tenant).await? {
                        self.record_refusal(tenant, actor, "erase", &hold, None)
                            .await?;
                        return Err(held_error(&hold, "erasure"));
                    }
                    return Err(e.into());
                }
                Err(e) => return Err(e.into()),
            }
        }
        // Let the log (and a checkpoint) cover the records now, so that a verifier can accept
        // the erased rows at once rather than after the checkpoints job's next round.
        if let Some(&last) = done.records.last() {
            self.hash_before_erasing(tenant, &[last]).await?;
        }
        tracing::info!(
            %tenant,
            rows = done.erased,
            records = done.records.len(),
            "personal fields of one subject erased"
        );
        Ok(done)
    }

    /// Hashes the tenant's activities up to the last of `rows` into its tree and signs a
    /// checkpoint (what the checkpoints job would do within a second): before rows are rewritten,
    /// so that the log commits to what they held, and after, to cover the records. A tree that
    /// cannot grow (a hole left by a purge before hashing) does not stop the erasure.
    async fn hash_before_erasing(&self, tenant: &Tenant, rows: &[i64]) -> Result<(), ServiceError> {
        let last = rows.last().copied().unwrap_or(0);
        while (self.store().tree_size(tenant).await? as i64) < last {
            let synced = self.log_sync(tenant).await?;
            if synced.hashed == 0 {
                break;
            }
        }
        Ok(())
    }

    /// The ascending uniqueQualifiers of the tenant's activities by `email` (lowercase), except
    /// erasure records themselves: they must stay verifiable, and hold the person only as a hash.
    async fn subject_rows(&self, tenant: &Tenant, email: &str) -> Result<Vec<i64>, ServiceError> {
        let mut query = ActivityQuery {
            actor: Some(ActorFilter::Email(email.to_string())),
            limit: authtrail_model::query::MAX_PAGE,
            ..ActivityQuery::default()
        };
        let mut out = Vec::new();
        loop {
            let page = self.store().list(tenant, &query).await?;
            out.extend(
                page.items
                    .iter()
                    .filter(|a| {
                        !(a.application == "admin"
                            && a.body.events.iter().any(|e| e.name == "subject.erase"))
                    })
                    .map(|a| a.unique_qualifier),
            );
            match page.next {
                Some(p) => query.after = Some(p),
                None => break,
            }
        }
        out.sort_unstable();
        out.dedup();
        Ok(out)
    }
}

#[cfg(test)]
#[path = "erasure_tests.rs"]
mod tests;
