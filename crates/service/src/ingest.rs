//! Ingest: a batch is validated whole (every problem named, nothing stored if any), then appended
//! atomically and durably. Every path that stores activities (native, Logto, Logto webhooks, the
//! CLI, self-audit) ends in [`Service::ingest`], which is where ingest is counted.

use authtrail_model::Stopwatch;
use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::Value;

use authtrail_model::activity::DERIVED_EVENT_ID_PREFIX;
use authtrail_model::validate::{Context, validate_item, validate_wire};
use authtrail_model::wire::WireItem;
use authtrail_model::{NewActivity, ParamValue, Receipt, StoreErrorKind, Tenant};

use crate::Service;
use crate::error::{Detail, ServiceError};

/// Most per-field problems reported for one batch (the rest are counted).
pub const MAX_REPORTED_ERRORS: usize = 1000;

/// The catalogue application of the detectors' findings, which only [`Source::Detection`]
/// may store.
pub const DETECTION_APPLICATION: &str = "detection";

/// Where a batch came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Source {
    /// `POST /v1/activities`.
    Native,
    /// `POST /api/logs` (Logto log objects).
    Logto,
    /// `POST /v1/logto/webhook`.
    LogtoWebhook,
    /// `authtrail ingest` straight on a store.
    Cli,
    /// authtrail's own admin events.
    SelfAudit,
    /// authtrail's own findings about sign-ins (the `detection` application).
    Detection,
}

impl Source {
    /// Refuses an activity of the `detection` application from anywhere but the detectors, and
    /// one whose eventId lies in authtrail's own namespace unless authtrail derived it itself
    /// (a webhook delivery, a self-audit event, a finding).
    fn may_carry(self, i: usize, a: NewActivity) -> Result<NewActivity, Vec<Detail>> {
        // Findings are authtrail's own conclusions: a producer that could send them could make
        // an admin (or an alert rule) act on an attack that never happened.
        if a.application == DETECTION_APPLICATION && self != Source::Detection {
            return Err(vec![Detail {
                index: Some(i),
                field: format!("activities[{i}].id.applicationName"),
                message: format!(
                    "{DETECTION_APPLICATION:?} holds authtrail's own findings and cannot be sent"
                ),
            }]);
        }
        let derived = matches!(
            self,
            Source::LogtoWebhook | Source::SelfAudit | Source::Detection
        );
        match &a.body.event_id {
            Some(id) if !derived && id.starts_with(DERIVED_EVENT_ID_PREFIX) => Err(vec![Detail {
                index: Some(i),
                field: format!("activities[{i}].eventId"),
                message: format!(
                    "eventIds starting with {DERIVED_EVENT_ID_PREFIX:?} are reserved for ids authtrail derives itself"
                ),
            }]),
            _ => Ok(a),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Source::Native => "native",
            Source::Logto => "logto",
            Source::LogtoWebhook => "logto_webhook",
            Source::Cli => "cli",
            Source::SelfAudit => "self_audit",
            Source::Detection => "detection",
        }
    }
}

/// Told about every batch refused or stored (the server's `/metrics` implements it), so that the
/// application layer does not depend on the HTTP crate.
pub trait IngestObserver: Send + Sync + 'static {
    /// `items` activities of a batch from `source` were refused as invalid.
    fn rejected(&self, source: Source, items: usize);
    /// A batch was stored: `since_received` from when its request arrived, `append` in the store.
    fn stored(
        &self,
        source: Source,
        receipts: &[Receipt],
        since_received: Duration,
        append: Duration,
    );
    /// `values` values of `parameter` (of `application`) outside its open set of known values
    /// were accepted.
    fn unlisted(&self, _application: &str, _parameter: &str, _values: u64) {}
}

/// The observer of a service nobody watches (the CLI).
pub(crate) struct Unobserved;

impl IngestObserver for Unobserved {
    fn rejected(&self, _: Source, _: usize) {}
    fn stored(&self, _: Source, _: &[Receipt], _: Duration, _: Duration) {}
}

/// What the nouns of a refusal's message are ("3 of 10 activities are invalid").
pub struct Noun(pub &'static str);

impl Service {
    /// The validation context of `tenant` now.
    pub fn context<'a>(&'a self, tenant: &'a Tenant) -> Context<'a> {
        Context {
            catalog: self.catalog(),
            tenant,
            now_us: self.now_us(),
        }
    }

    /// Validates native (Google-shaped) activities: all of them, or every problem.
    pub fn validate(
        &self,
        tenant: &Tenant,
        source: Source,
        items: &[Value],
    ) -> Result<Vec<NewActivity>, ServiceError> {
        self.validate_with(tenant, source, Noun("activities"), items, |ctx, i, item| {
            validate_item(ctx, i, item).map_err(|errs| errs.into_iter().map(Detail::from).collect())
        })
    }

    /// Validates native activities as deserialized from a request body (`POST /v1/activities`):
    /// the checks of [`Service::validate`], without building a JSON tree first.
    pub fn validate_wire(
        &self,
        tenant: &Tenant,
        source: Source,
        items: &[WireItem<'_>],
    ) -> Result<Vec<NewActivity>, ServiceError> {
        self.validate_with(tenant, source, Noun("activities"), items, |ctx, i, item| {
            validate_wire(ctx, i, item).map_err(|errs| errs.into_iter().map(Detail::from).collect())
        })
    }

    /// Validates a batch of any inbound shape: `check` turns item `i` into an activity or the
    /// problems it has (named in the inbound shape). Returns all activities, or one `Invalid`
    /// naming up to [`MAX_REPORTED_ERRORS`] problems; a refusal is counted.
    pub fn validate_with<T>(
        &self,
        tenant: &Tenant,
        source: Source,
        noun: Noun,
        items: &[T],
        check: impl Fn(&Context, usize, &T) -> Result<NewActivity, Vec<Detail>>,
    ) -> Result<Vec<NewActivity>, ServiceError> {
        let ctx = self.context(tenant);
        let mut out = Vec::with_capacity(items.len());
        let mut details: Vec<Detail> = Vec::new();
        let (mut bad_items, mut total_errors) = (0, 0);
        for (i, item) in items.iter().enumerate() {
            match check(&ctx, i, item).and_then(|a| source.may_carry(i, a)) {
                Ok(a) => out.push(a),
                Err(errs) => {
                    bad_items += 1;
                    total_errors += errs.len();
                    let room = MAX_REPORTED_ERRORS.saturating_sub(details.len());
                    details.extend(errs.into_iter().take(room));
                }
            }
        }
        if bad_items == 0 {
            self.count_unlisted(&out);
            return Ok(out);
        }
        self.0.observer.rejected(source, items.len());
        let mut message = format!(
            "{bad_items} of {} {} are invalid ({total_errors} problems); nothing was stored",
            items.len(),
            noun.0
        );
        if total_errors > details.len() {
            message.push_str(&format!(
                "; the first {} problems are listed",
                details.len()
            ));
        }
        Err(ServiceError::Invalid { message, details })
    }

    /// Reports the values of open enumerations that the catalogue does not list (a new challenge
    /// method from Google, say): stored as sent, and counted so that an operator sees them.
    fn count_unlisted(&self, activities: &[NewActivity]) {
        let mut counts: BTreeMap<(&str, &str), u64> = BTreeMap::new();
        for a in activities {
            let Some(app) = self.catalog().application(&a.application) else {
                continue;
            };
            for p in a.body.events.iter().flat_map(|e| &e.parameters) {
                let Some(def) = app.parameters.get(&p.name) else {
                    continue;
                };
                let unlisted = match &p.value {
                    ParamValue::Str(s) => u64::from(def.is_unlisted(s)),
                    ParamValue::MultiStr(v) => {
                        v.iter().filter(|s| def.is_unlisted(s)).count() as u64
                    }
                    _ => 0,
                };
                if unlisted > 0 {
                    *counts.entry((&app.name, &def.name)).or_default() += unlisted;
                }
            }
        }
        for ((app, param), n) in counts {
            self.0.observer.unlisted(app, param, n);
        }
    }

    /// Appends a validated batch durably and counts it; `received` is when its request arrived.
    /// Items whose `eventId` is stored already come back as duplicates.
    pub async fn ingest(
        &self,
        tenant: &Tenant,
        source: Source,
        batch: Vec<NewActivity>,
        received: Stopwatch,
    ) -> Result<Vec<Receipt>, ServiceError> {
        let appending = Stopwatch::start();
        let receipts = match self.store().append(tenant, batch).await {
            Ok(r) => {
                self.0.writes.succeeded(self.now_us());
                r
            }
            Err(e) => {
                if matches!(
                    e.kind(),
                    StoreErrorKind::Unavailable | StoreErrorKind::Backend
                ) {
                    self.0.writes.failed(self.now_us());
                }
                return Err(e.into());
            }
        };
        self.0
            .observer
            .stored(source, &receipts, received.elapsed(), appending.elapsed());
        Ok(receipts)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::testing::{fixture, tenant};

    #[tokio::test]
    async fn a_bad_item_is_invalid_naming_its_field_and_nothing_is_stored() {
        let f = fixture().await;
        let t = tenant("Ca");
        let items = [
            json!({"id": {"applicationName": "login"}, "actor": {"email": "a@example.com"}, "events": [{"name": "login_success"}]}),
            json!({"id": {"applicationName": "login"}, "actor": {"email": "a@example.com"}, "events": [{"name": "no_such_event"}]}),
        ];
        let e = f.service.validate(&t, Source::Cli, &items).unwrap_err();
        assert!(matches!(e, ServiceError::Invalid { .. }), "{e:?}");
        assert_eq!(e.details()[0].field, "activities[1].events[0].name");
        assert!(e.to_string().starts_with("1 of 2 activities are invalid"));

        let ok = f.service.validate(&t, Source::Cli, &items[..1]).unwrap();
        let r = f
            .service
            .ingest(&t, Source::Cli, ok, Stopwatch::start())
            .await
            .unwrap();
        assert_eq!(r.len(), 1);
        assert!(!r[0].duplicate);
    }
}
