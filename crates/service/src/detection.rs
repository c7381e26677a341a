//! Findings about sign-ins (`authtrail_detect`) recorded as activities of the catalogue's
//! `detection` application, in the tenant they concern: stored, queried, exported and pushed
//! like any event. Like self-audit, a finding is built as a wire-format activity and passes
//! the same `validate_item` as producer input.
//!
//! Every sign-in the detectors scored keeps its score and reasons (the `SignInScores` store
//! capability), below the threshold too, so that its detail says why it scored what it did.
//!
//! A finding's eventId is derived from what it found (its kind, subject and window of event
//! time), so every node may run the detector: the second node's copy of a finding, or a
//! replay's, is a duplicate and is not stored again.

use authtrail_detect::{Finding, FindingKind};
use authtrail_model::store::SignInScore;
use authtrail_model::validate::validate_item;
use authtrail_model::wire_time::{Precision, format_rfc3339};
use authtrail_model::{Activity, Receipt, Stopwatch, Tenant};
use serde_json::{Value, json};

use crate::error::ServiceError;
use crate::{Service, Source};

/// The tenant secret holding how far the detector has scanned the tenant's trail (8 bytes,
/// big-endian): a small value every node must share, which the secrets table already keeps on
/// both engines.
const CURSOR: &str = "detector-cursor";

/// The actor of findings that concern no single account.
pub const DETECTOR_KEY: &str = "authtrail-detect";

/// The wire-format activity of a finding.
pub fn finding_item(f: &Finding) -> Value {
    let actor = match &f.account {
        Some(a) if a.contains('@') => json!({"callerType": "USER", "email": a}),
        Some(a) => json!({"callerType": "USER", "profileId": a}),
        None => json!({"callerType": "KEY", "key": DETECTOR_KEY}),
    };
    let mut params = vec![
        json!({"name": "reasons", "multiValue": f.reasons}),
        json!({"name": "risk_score", "intValue": f.risk.to_string()}),
        json!({"name": "sequences", "multiIntValue":
            f.sequences.iter().map(i64::to_string).collect::<Vec<_>>()}),
    ];
    if matches!(
        f.kind,
        FindingKind::IpFailureBurst | FindingKind::PasswordSpray | FindingKind::CredentialStuffing
    ) {
        params.push(json!({"name": "accounts", "multiValue": f.accounts}));
        params.push(json!({"name": "account_count",
            "intValue": f.account_count.unwrap_or(f.accounts.len()).to_string()}));
    }
    let mut item = json!({
        "id": {"applicationName": "detection", "time": format_rfc3339(f.time_us, Precision::Micros)},
        "actor": actor,
        "events": [{"name": f.kind.event(), "parameters": params}],
        "result": "success",
        "eventId": f.event_id(),
    });
    if let Some(ip) = f.ip {
        item["ipAddress"] = json!(ip.to_string());
    }
    item
}

impl Service {
    /// Stores `findings` in `tenant`'s trail, durably; a finding stored before (by this node
    /// or another) comes back as a duplicate receipt.
    pub async fn record_findings(
        &self,
        tenant: &Tenant,
        findings: &[Finding],
    ) -> Result<Vec<Receipt>, ServiceError> {
        if findings.is_empty() {
            return Ok(Vec::new());
        }
        let ctx = self.context(tenant);
        let mut batch = Vec::with_capacity(findings.len());
        for f in findings {
            let activity = validate_item(&ctx, 0, &finding_item(f)).map_err(|errors| {
                // Only a programming error (a finding the catalogue lacks) lands here.
                ServiceError::internal(format!("finding {} is invalid: {errors:?}", f.kind.event()))
            })?;
            batch.push(activity);
        }
        self.ingest(tenant, Source::Detection, batch, Stopwatch::start())
            .await
    }

    /// Stores the detectors' scores of `tenant`'s sign-ins (`authtrail_detect::Observation`),
    /// durably; a sign-in scored before (by this node or another) keeps its first score. At
    /// most `MAX_SCORES_PER_CALL` (`authtrail_model::store::sign_in_scores`) at a time: the
    /// job sends one chunk's.
    pub async fn record_sign_in_scores(
        &self,
        tenant: &Tenant,
        scores: &[SignInScore],
    ) -> Result<u64, ServiceError> {
        if scores.is_empty() {
            return Ok(0);
        }
        Ok(self.store().record_sign_in_scores(tenant, scores).await?)
    }

    /// The detectors' score of the sign-in `seq`, if they scored it. An erased activity has
    /// none: its evidence named the address and user agent that erasure removed (the erasure
    /// deletes the stored score; this also hides one the job stored from a read made before it).
    pub async fn sign_in_risk(
        &self,
        tenant: &Tenant,
        activity: &Activity,
    ) -> Result<Option<SignInScore>, ServiceError> {
        if activity.body.erased_by.is_some() {
            return Ok(None);
        }
        let seq = activity.unique_qualifier;
        let mut found = self.store().sign_in_scores(tenant, &[seq]).await?;
        Ok(found.pop().filter(|s| s.seq == seq))
    }

    /// The last sequence number the detector scanned in `tenant`'s trail; `None` before its
    /// first scan.
    pub async fn detection_cursor(&self, tenant: &Tenant) -> Result<Option<i64>, ServiceError> {
        let raw = self.store().tenant_secret(tenant, CURSOR).await?;
        Ok(raw.and_then(|b| {
            <[u8; 8]>::try_from(b.as_slice())
                .ok()
                .map(i64::from_be_bytes)
        }))
    }

    /// Records that the detector scanned `tenant`'s trail up to `seq`.
    pub async fn set_detection_cursor(
        &self,
        tenant: &Tenant,
        seq: i64,
    ) -> Result<(), ServiceError> {
        self.store()
            .set_tenant_secret(tenant, CURSOR, Some(&seq.to_be_bytes()))
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use authtrail_catalog::Catalog;
    use authtrail_model::validate::Context;

    /// Every kind of finding, with and without an account, is valid catalogue input.
    #[test]
    fn every_finding_validates_against_the_catalogue() {
        let catalog = Catalog::builtin().unwrap();
        let tenant = Tenant::new("t").unwrap();
        let ctx = Context {
            catalog: &catalog,
            tenant: &tenant,
            now_us: 1_800_000_000_000_000,
        };
        for kind in FindingKind::ALL {
            for account in [None, Some("ada@example.com"), Some("u_123")] {
                let f = Finding {
                    kind,
                    time_us: 1_700_000_000_000_000,
                    account: account.map(String::from),
                    ip: Some("192.0.2.1".parse().unwrap()),
                    reasons: vec!["new_country: TW→BR".into(), "velocity_kmh: 9120".into()],
                    risk: 80,
                    sequences: vec![3, 9],
                    accounts: vec!["a@example.com".into()],
                    account_count: Some(31),
                    key: format!("{}:x:1", kind.event()),
                };
                let a = validate_item(&ctx, 0, &finding_item(&f))
                    .unwrap_or_else(|e| panic!("{kind:?}: {e:?}"));
                assert_eq!(a.application, "detection");
                assert_eq!(a.body.event_id.as_deref(), Some(f.event_id().as_str()));
            }
        }
    }
}
