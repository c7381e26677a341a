//! Alert rules (`authtrail_service::alerts`), evaluated and delivered by the same leased
//! worker as a subscription (crate::worker hands a rule's round to [`round`]), with the same
//! ledger, backoff and failing horizon.
//!
//! A round does one of three things, in this order:
//!
//! 1. **An alert waits** (`pending` in the rule's state): send it to each recipient that has
//!    not accepted it yet, and record each acceptance at once. Only when all have accepted is
//!    it recorded in the trail (`alert.fire`) and the ledger moved on. While it waits nothing
//!    new is evaluated, so a failing SMTP server delays alerts but loses none, and a recipient
//!    that accepted is never sent the same alert again.
//! 2. **A throttle period is over** for a group with held-back matches: decide a summary.
//! 3. **New activities**: [`eval::evaluate`] them up to the first alert, which is rendered
//!    ([`message`]) and saved as pending together with the ledger (one compare-and-set), so
//!    that a crash between deciding and sending sends the same message, once.
//!
//! - [`smtp`]: e-mail (lettre); [`chat`]: Slack and Google Chat webhooks.

pub mod chat;
pub mod eval;
pub mod message;
pub mod smtp;
#[cfg(test)]
mod tests;

use std::time::Duration;

use authtrail_model::store::prelude::*;
use authtrail_model::{Activity, Ledger, Subscription, SubscriptionChange};
use authtrail_service::alerts::{AlertPlan, AlertState, FiredAlert, PendingAlert, Target, state};

use crate::worker::Worker;
use eval::{Fire, Step};
pub use smtp::Mailer;

/// What a node needs to send alerts.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    /// The SMTP server and sender (`smtp_url`, `alert_from`); without them an e-mail recipient
    /// fails (and is retried) with an error that names the settings.
    pub mailer: Option<Mailer>,
    /// Where people reach the console, for the links in alerts (`public_url`).
    pub console_url: String,
}

/// Most activities read per round.
const READ: usize = 1000;

/// One round of a rule's worker (the lease is held). `None`: go on at once; `Some(d)`: wait
/// up to `d` or until a commit.
pub(crate) async fn round(
    w: &mut Worker,
    sub: Subscription,
) -> Result<Option<Duration>, StoreError> {
    let renew = w.node.timing.renew;
    let now = w.now();
    let plan = match w.node.service.alert_plan(&sub) {
        Ok(p) => p,
        Err(e) => {
            w.fail(&sub, &e.to_string()).await?;
            return Ok(Some(renew));
        }
    };
    if let Some(next) = sub.ledger.next_attempt_us
        && next > now
    {
        return Ok(Some(Duration::from_micros((next - now) as u64).min(renew)));
    }
    if let Some(p) = plan.state.pending.clone() {
        return deliver(w, sub, &plan, p).await;
    }
    let mut state = plan.state.clone();
    let mut ledger = sub.ledger.clone();
    if !plan.rule.enabled {
        // A disabled rule skips what arrives, so that switching it back on does not alert
        // about the past.
        let latest = w.store().last_sequence(&w.tenant).await?;
        if latest > ledger.scanned_seq {
            ledger.scanned_seq = latest;
            save(w, &sub, &state, ledger).await?;
        }
        return Ok(Some(renew));
    }
    if let Some(fire) = eval::due_summary(&plan, &mut state, now) {
        state.pending = Some(decide(w, &plan, &fire, &[], now).await?);
        save(w, &sub, &state, ledger).await?;
        return Ok(None);
    }
    let read = w.store().tail(&w.tenant, ledger.scanned_seq, READ).await?;
    if read.is_empty() {
        w.report(&sub).await;
        let summary = eval::next_summary_in(&plan, &state, now)
            .map_or(renew, |us| Duration::from_micros(us.max(0) as u64));
        return Ok(Some(summary.min(renew)));
    }
    match eval::evaluate(&plan, &mut state, &read, now) {
        Step::Scanned { through } => ledger.scanned_seq = through,
        Step::Fire { fire, through } => {
            state.pending = Some(decide(w, &plan, &fire, &read, now).await?);
            ledger.scanned_seq = through;
        }
    }
    save(w, &sub, &state, ledger).await?;
    Ok(None)
}

/// Renders `fire`, listing its first activities (from `read` when there, else from the store).
async fn decide(
    w: &Worker,
    plan: &AlertPlan,
    fire: &Fire,
    read: &[Activity],
    now: i64,
) -> Result<PendingAlert, StoreError> {
    let mut shown = Vec::new();
    for seq in fire.all_sequences().into_iter().take(message::SHOWN) {
        match read.iter().find(|a| a.unique_qualifier == seq) {
            Some(a) => shown.push(a.clone()),
            None => {
                let got = w.store().tail(&w.tenant, seq - 1, 1).await?;
                // A purged activity is not listed; the count still says it was there.
                shown.extend(got.into_iter().filter(|a| a.unique_qualifier == seq));
            }
        }
    }
    Ok(message::render(
        plan,
        &w.id,
        w.node.service.catalog(),
        &w.alerts.console_url,
        fire,
        &shown,
        now,
    ))
}

/// Sends the pending alert to each recipient that has not accepted it, then records it.
async fn deliver(
    w: &mut Worker,
    mut sub: Subscription,
    plan: &AlertPlan,
    pending: PendingAlert,
) -> Result<Option<Duration>, StoreError> {
    for (key, target) in &plan.targets {
        if pending.delivered.contains(key) {
            continue;
        }
        let sent = match target {
            Target::Email(to) => match &w.alerts.mailer {
                Some(m) => {
                    m.send(
                        to,
                        &plan.rule.name,
                        &pending.subject,
                        &pending.text,
                        &pending.html,
                    )
                    .await
                }
                None => Err("no SMTP server: set smtp_url and alert_from on this node".into()),
            },
            Target::Chat { url, format } => {
                chat::send(&w.node.http, url, *format, &pending.chat).await
            }
        };
        match sent {
            Ok(()) => {
                let key = key.clone();
                let decided = pending.decided_us;
                sub = change(w, sub, |state, _| {
                    if let Some(p) = state.pending.as_mut().filter(|p| p.decided_us == decided)
                        && !p.delivered.contains(&key)
                    {
                        p.delivered.push(key.clone());
                    }
                })
                .await?;
            }
            Err(e) => {
                w.fail(&sub, &e).await?;
                return Ok(Some(w.node.timing.renew));
            }
        }
    }
    if let Err(e) = w
        .node
        .service
        .note_alert_fired(&sub, &plan.rule, &pending)
        .await
    {
        // The recipients have it; without its record the alert would be sent again.
        w.fail(&sub, &format!("cannot record the alert in the trail: {e}"))
            .await?;
        return Ok(Some(w.node.timing.renew));
    }
    let now = w.now();
    let decided = pending.decided_us;
    let last = pending.sequences.iter().copied().max();
    change(w, sub, |state, ledger| {
        if state
            .pending
            .as_ref()
            .is_some_and(|p| p.decided_us == decided)
        {
            let p = state.pending.take().expect("checked");
            state.recent.insert(
                0,
                FiredAlert {
                    time_us: now,
                    subject: p.subject,
                    group: p.group,
                    count: p.count,
                    sequences: p.sequences,
                },
            );
            state.recent.truncate(state::RECENT);
            if let Some(last) = last {
                ledger.delivered_seq = ledger.delivered_seq.max(last);
            }
            ledger.delivered_us = Some(now);
            ledger.messages += 1;
        }
        ledger.attempts = 0;
        ledger.last_error = None;
        ledger.next_attempt_us = None;
        ledger.failing_since_us = None;
        ledger.last_attempt_us = Some(now);
    })
    .await?;
    w.node.observer.delivered(&w.tenant, &w.id, pending.count);
    Ok(None)
}

/// Saves the state and the ledger if nobody changed the rule since `sub` was read (an edit
/// wins; the next round evaluates under it).
async fn save(
    w: &Worker,
    sub: &Subscription,
    state: &AlertState,
    ledger: Ledger,
) -> Result<Option<Subscription>, StoreError> {
    let mut definition = sub.definition.clone();
    definition["alertState"] = serde_json::to_value(state).expect("states serialize");
    let saved = w
        .store()
        .update_subscription(
            &w.tenant,
            &w.id,
            Some(sub.version),
            SubscriptionChange {
                definition: Some(definition.clone()),
                ledger: Some(ledger.clone()),
            },
        )
        .await?;
    Ok(saved.map(|version| Subscription {
        definition,
        ledger,
        version,
        ..sub.clone()
    }))
}

/// Applies `f` to the stored state and ledger, reading again when an edit came in between:
/// what a recipient accepted must be recorded whatever else changed.
async fn change(
    w: &Worker,
    mut sub: Subscription,
    mut f: impl FnMut(&mut AlertState, &mut Ledger),
) -> Result<Subscription, StoreError> {
    loop {
        let mut state: AlertState = sub
            .definition
            .get("alertState")
            .and_then(|s| serde_json::from_value(s.clone()).ok())
            .unwrap_or_default();
        let mut ledger = sub.ledger.clone();
        f(&mut state, &mut ledger);
        if let Some(saved) = save(w, &sub, &state, ledger).await? {
            w.report(&saved).await;
            return Ok(saved);
        }
        sub = match w.store().subscription(&w.tenant, &w.id).await? {
            Some(s) => s,
            // Deleted meanwhile: nothing left to record.
            None => return Ok(sub),
        };
    }
}
