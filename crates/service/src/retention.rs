//! Retention: removing activities older than N days, and recording that it happened.
//!
//! The engines do the deleting (`Store::purge_before`): PostgreSQL drops whole monthly partitions
//! and trims the boundary month in bounded batches; SQLite deletes in bounded batches, each a short
//! transaction queued behind waiting appends. So a purge never blocks ingest for long.
//!
//! Every run is written to the `admin` trail (`retention.purge`) of each tenant that loses
//! activities, and a changed retention period to `retention.change`, so a tenant's auditors can
//! see that, when and by which policy old records were removed. [`Service::retention_once`] is
//! one whole periodic run (what a background job calls); `authtrail retention` runs
//! [`Service::purge`] and [`Service::record_purge`] itself.
//!
//! Two things limit a purge. The **retention floor** (`retention_floor_days`, default
//! [`DEFAULT_FLOOR_DAYS`]) is the shortest period anyone may set: a shorter one is refused before
//! anything is deleted. A **legal hold** (`crate::hold`) keeps every activity of its tenant: the
//! engines skip a held tenant inside each purge step. Each refusal is recorded as
//! `retention.refuse` in the trail of the tenant it concerns.

use authtrail_model::Stopwatch;
use std::time::Duration;

use authtrail_model::wire_time::{Precision, format_rfc3339};
use authtrail_model::{ActivityQuery, Outcome, ParamValue, Tenant};

use crate::Service;
use crate::audit::{AdminActor, AdminEvent};
use crate::error::ServiceError;

const DAY_US: i64 = 86_400_000_000;

pub use authtrail_model::limits::MAX_RETENTION_DAYS as MAX_DAYS;

/// The retention floor when none is configured: no purge may keep less than 30 days. Long
/// enough that a mistyped `--days 3` cannot wipe a month of evidence; short enough not to
/// contradict a data-minimisation policy. `retention_floor_days = 0` turns the floor off.
pub const DEFAULT_FLOOR_DAYS: u32 = 30;

/// The outcome of one retention run, as `/metrics` and the logs report it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PurgeRun {
    /// When the run finished, microseconds since the epoch.
    pub finished_us: i64,
    /// Activities older than this were removed, microseconds since the epoch.
    pub cutoff_us: i64,
    pub rows: u64,
    pub duration: Duration,
}

/// A finished purge, and the tenants whose trails must record it.
#[derive(Debug, Clone)]
pub struct Purged {
    pub run: PurgeRun,
    pub days: u32,
    /// The tenants that had activities older than the cut-off.
    pub affected: Vec<Tenant>,
    /// The tenants under legal hold that had activities older than the cut-off, and kept them.
    pub held: Vec<Tenant>,
}

/// The refusal of a retention period below the floor, naming `days` and the setting.
fn below_floor(days: u32, floor: u32) -> ServiceError {
    ServiceError::field(
        "days",
        format!(
            "{days} is below the retention floor of {floor} days (retention_floor_days): \
             activities must be kept at least that long"
        ),
    )
}

fn check_days(days: u32) -> Result<(), ServiceError> {
    if (1..=MAX_DAYS).contains(&days) {
        Ok(())
    } else {
        Err(ServiceError::field(
            "days",
            format!("must be from 1 to {MAX_DAYS}"),
        ))
    }
}

impl Service {
    /// The same service, refusing retention periods shorter than `days` (0: no floor).
    pub fn with_retention_floor(self, days: u32) -> Result<Service, ServiceError> {
        if days > MAX_DAYS {
            return Err(ServiceError::field(
                "retention_floor_days",
                format!("must be from 0 to {MAX_DAYS}"),
            ));
        }
        Ok(Service(std::sync::Arc::new(crate::Inner {
            retention_floor_days: days,
            ..(*self.0).clone()
        })))
    }

    /// The shortest retention period accepted, in days (0: no floor).
    pub fn retention_floor(&self) -> u32 {
        self.0.retention_floor_days
    }

    /// Refuses `days` below the floor, recording the refusal (`attempt`: `purge` or
    /// `retention_change`) in every tenant's trail.
    async fn check_floor(
        &self,
        days: u32,
        attempt: &str,
        actor: &AdminActor,
    ) -> Result<(), ServiceError> {
        let floor = self.retention_floor();
        if days >= floor {
            return Ok(());
        }
        let refusal = format!("below the retention floor of {floor} days");
        for tenant in self.store().tenants().await? {
            let event = AdminEvent::new("retention.refuse", actor.clone())
                .outcome(Outcome::Failure)
                .string("attempt", attempt)
                .string("refusal", &refusal)
                .int("retention_days", i64::from(days));
            self.audit(&tenant, event).await?;
        }
        tracing::warn!(retention_days = days, floor, "{attempt} refused: {refusal}");
        Err(below_floor(days, floor))
    }

    /// Removes every tenant's activities older than `days` days, logging the run. Refused (and
    /// recorded) below the retention floor; tenants under legal hold lose nothing, and each that
    /// had older activities records the refusal (see [`Service::record_purge`]).
    pub async fn purge(&self, days: u32, actor: &AdminActor) -> Result<Purged, ServiceError> {
        check_days(days)?;
        self.check_floor(days, "purge", actor).await?;
        let store = self.store();
        let cutoff_us = self.now_us() - i64::from(days) * DAY_US;
        let cutoff = format_rfc3339(cutoff_us, Precision::Millis);
        // Only the trails of tenants that lose something record the run (a capped count stops at
        // the first match, through the time index).
        let older = ActivityQuery {
            end_us: Some(cutoff_us),
            ..ActivityQuery::default()
        };
        let held: Vec<Tenant> = store
            .legal_holds()
            .await?
            .into_iter()
            .map(|h| h.tenant)
            .collect();
        let (mut affected, mut kept) = (Vec::new(), Vec::new());
        for tenant in store.tenants().await? {
            if store.count(&tenant, &older, Some(1)).await?.n > 0 {
                if held.contains(&tenant) {
                    kept.push(tenant);
                } else {
                    affected.push(tenant);
                }
            }
        }
        let started = Stopwatch::start();
        tracing::info!(%cutoff, retention_days = days, "retention purge started");
        let rows = store.purge_before(cutoff_us).await?;
        let run = PurgeRun {
            finished_us: self.now_us(),
            cutoff_us,
            rows,
            duration: started.elapsed(),
        };
        tracing::info!(
            rows,
            %cutoff,
            retention_days = days,
            ms = run.duration.as_millis() as u64,
            "retention purge finished"
        );
        Ok(Purged {
            run,
            days,
            affected,
            held: kept,
        })
    }

    /// Records `retention.purge` in the admin trail of each tenant that lost activities (a run
    /// that removed nothing from a tenant is only logged and counted), and `retention.refuse` in
    /// each held tenant that kept older activities: always for a person's purge, and for the
    /// periodic job once per hold (not every hour while it lasts).
    pub async fn record_purge(
        &self,
        done: &Purged,
        actor: &AdminActor,
    ) -> Result<(), ServiceError> {
        let cutoff = format_rfc3339(done.run.cutoff_us, Precision::Millis);
        for tenant in &done.affected {
            let event = AdminEvent::new("retention.purge", actor.clone())
                .int("retention_days", i64::from(done.days))
                .string("cutoff", &cutoff);
            self.audit(tenant, event).await?;
        }
        for tenant in &done.held {
            let Some(hold) = self.store().legal_hold(tenant).await? else {
                continue; // released since
            };
            if matches!(actor, AdminActor::System)
                && self.refused_since(tenant, "purge", hold.set_us).await?
            {
                continue;
            }
            self.record_refusal(tenant, actor, "purge", &hold, Some(done.days))
                .await?;
        }
        Ok(())
    }

    /// Records `retention.change` in each tenant whose last recorded period differs from `days`
    /// (a node restarting with the same setting records nothing).
    ///
    /// A period below the retention floor is refused, recorded as `retention.refuse` in every
    /// tenant: the server does not start with it.
    pub async fn note_retention_setting(&self, days: u32) -> Result<(), ServiceError> {
        check_days(days)?;
        self.check_floor(days, "retention_change", &AdminActor::System)
            .await?;
        let query = ActivityQuery {
            application: Some("admin".into()),
            event_names: vec!["retention.change".into()],
            limit: 1,
            ..ActivityQuery::default()
        };
        for tenant in self.store().tenants().await? {
            let last = self
                .store()
                .list(&tenant, &query)
                .await?
                .items
                .into_iter()
                .next();
            let last_days = last.as_ref().and_then(|a| {
                a.body
                    .events
                    .iter()
                    .find_map(|e| match e.param("retention_days") {
                        Some(ParamValue::Int(d)) if e.name == "retention.change" => Some(*d),
                        _ => None,
                    })
            });
            if last_days != Some(i64::from(days)) {
                let event = AdminEvent::new("retention.change", AdminActor::System)
                    .int("retention_days", i64::from(days));
                self.audit(&tenant, event).await?;
            }
        }
        Ok(())
    }

    /// One run of the periodic purge (the background job's body): purges, then records the run
    /// in the affected trails. A failed audit record does not make the purge a failure; it is
    /// logged. The answer is the run, for `/metrics`.
    pub async fn retention_once(&self, days: u32) -> Result<PurgeRun, ServiceError> {
        let done = self.purge(days, &AdminActor::System).await?;
        if let Err(e) = self.record_purge(&done, &AdminActor::System).await {
            tracing::error!(error = %e, "the purge ran, but recording it in the admin trail failed");
        }
        Ok(done.run)
    }
}

#[cfg(test)]
mod tests {
    use authtrail_model::Stopwatch;

    use serde_json::json;

    use super::*;
    use crate::Source;
    use crate::testing::{fixture, tenant};

    #[tokio::test]
    async fn a_purge_removes_old_activities_and_is_recorded_where_it_removed_some() {
        let f = fixture().await;
        let s = &f.service;
        let (old, fresh) = (tenant("Cold"), tenant("Cfresh"));
        for (t, time) in [
            (&old, "2026-01-01T00:00:00Z"),
            (&fresh, "2026-11-22T00:00:00Z"),
        ] {
            let item = json!({"id": {"applicationName": "login", "time": time},
                              "actor": {"email": "a@example.com"}, "events": [{"name": "login_success"}]});
            let batch = s.validate(t, Source::Cli, &[item]).unwrap();
            s.ingest(t, Source::Cli, batch, Stopwatch::start())
                .await
                .unwrap();
        }
        assert_eq!(
            s.purge(0, &AdminActor::System).await.unwrap_err().details()[0].field,
            "days"
        );
        let run = s.retention_once(30).await.unwrap();
        assert_eq!(run.rows, 1);
        let q = ActivityQuery {
            limit: 10,
            ..ActivityQuery::default()
        };
        let names = |items: Vec<authtrail_model::Activity>| -> Vec<String> {
            items
                .iter()
                .map(|a| a.body.events[0].name.clone())
                .collect()
        };
        assert_eq!(
            names(s.list(&old, &q).await.unwrap().items),
            ["retention.purge"]
        );
        assert_eq!(
            names(s.list(&fresh, &q).await.unwrap().items),
            ["login_success"]
        );
    }
}
