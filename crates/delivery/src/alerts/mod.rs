//! Alert rules (`authtrail_service::alerts`), evaluated and delivered by the same leased
//! worker as a subscription (crate::worker hands a rule's round to [`round`]), with the same
//! ledger, backoff and failing horizon.
//!
//! A round does one of three things, in this order:
//!
//! 1. **An alert waits** (`pending` in the rule's state, saved when a recipient refused it):
//!    send it to each recipient that has not accepted it yet, recording each acceptance at
//!    once; when all have, record it in the trail (`alert.fire`) and move the ledger on. While
//!    it waits nothing new is evaluated, so a failing SMTP server delays alerts but loses none,
//!    and a recipient that accepted is never sent the same alert again.
//! 2. **A throttle period is over** for a group with held-back matches: send a summary.
//! 3. **New activities** (read once per node for all rules, [`tail`]): [`eval::evaluate`]
//!    them up to the first alert, render it ([`message`]) and send it; then save the state,
//!    the ledger and the record in one compare-and-set (or, if a recipient refused, the alert
//!    as pending). Activities that change nothing are not saved at each commit ([`Cursor`]).
//!
//! - [`smtp`]: e-mail (lettre); [`chat`]: Slack and Google Chat webhooks.

pub mod chat;
pub mod eval;
pub mod message;
pub mod smtp;
pub mod tail;
#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::time::Duration;

use authtrail_model::store::prelude::*;
use authtrail_model::{Activity, Ledger, Subscription, SubscriptionChange};
use authtrail_service::alerts::{AlertPlan, AlertState, FiredAlert, PendingAlert, Target, state};

use crate::worker::Worker;
use eval::{Fire, Step};
pub use smtp::Mailer;

/// What a node needs to send alerts.
#[derive(Debug, Default)]
pub struct Settings {
    /// The SMTP server and sender (`smtp_url`, `alert_from`); without them an e-mail recipient
    /// fails (and is retried) with an error that names the settings.
    pub mailer: Option<Mailer>,
    /// Where people reach the console, for the links in alerts (`public_url`).
    pub console_url: String,
    /// Recent activities, read once for all the rules of the node.
    pub tails: tail::TailCache,
}

/// Most activities read per round.
const READ: usize = 1000;
/// Longest time a rule's progress over activities that changed nothing stays unsaved.
const SAVE_EVERY_US: i64 = 5_000_000;

/// Progress over activities that matched nothing (or changed nothing in the state): kept in
/// memory rather than written at every commit, which would cost every rule a store write per
/// ingest. Valid while the stored rule is at `version`; saved within [`SAVE_EVERY_US`]. Losing
/// it (a restart, another node) only means reading those activities again: they change
/// nothing, so nothing is decided twice.
#[derive(Debug, Clone, Copy)]
pub struct Cursor {
    version: i64,
    scanned: i64,
    since_us: i64,
}

/// What a rule's worker keeps between rounds: its unsaved progress, and its plan (the rule
/// decoded, its query resolved, its webhooks unsealed) for as long as the stored rule is at the
/// same version, so that a commit costs a rule no more than reading its row and the new
/// activities.
#[derive(Default)]
pub struct Memo {
    cursor: Option<Cursor>,
    plan: Option<(i64, Arc<AlertPlan>)>,
    /// When the last round started (µs, the service's clock).
    last_round_us: i64,
    /// The last round ended waiting (for a commit, a retry or a summary), not with more to do.
    waited: bool,
}

/// Shortest time between two rounds of a rule: commits that come closer together are looked
/// at together, so that a busy ingest costs each rule at most ten rounds a second, not one per
/// commit (an alert waits at most this much longer).
const GATHER_US: i64 = 100_000;

/// One round of a rule's worker (the lease is held). `None`: go on at once; `Some(d)`: wait
/// up to `d` or until a commit.
pub(crate) async fn round(
    w: &mut Worker,
    sub: Subscription,
) -> Result<Option<Duration>, StoreError> {
    // Woken soon after the last round: let more commits come first. Work left over from the
    // last round (more to read, another alert) goes on at once.
    let since_last = w.now() - w.alert_memo.last_round_us;
    if w.alert_memo.waited && (0..GATHER_US).contains(&since_last) {
        tokio::time::sleep(Duration::from_micros((GATHER_US - since_last) as u64)).await;
    }
    w.alert_memo.last_round_us = w.now();
    let result = evaluate_and_send(w, sub).await;
    w.alert_memo.waited = matches!(result, Ok(Some(_)));
    result
}

async fn evaluate_and_send(
    w: &mut Worker,
    sub: Subscription,
) -> Result<Option<Duration>, StoreError> {
    let renew = w.node.timing.renew;
    let now = w.now();
    let plan = match &w.alert_memo.plan {
        Some((v, p)) if *v == sub.version => p.clone(),
        _ => match w.node.service.alert_plan(&sub) {
            Ok(p) => {
                let p = Arc::new(p);
                w.alert_memo.plan = Some((sub.version, p.clone()));
                p
            }
            Err(e) => {
                w.fail(&sub, &e.to_string()).await?;
                return Ok(Some(renew));
            }
        },
    };
    let plan = &*plan;
    if let Some(next) = sub.ledger.next_attempt_us
        && next > now
    {
        return Ok(Some(Duration::from_micros((next - now) as u64).min(renew)));
    }
    if let Some(p) = plan.state.pending.clone() {
        return deliver(w, sub, plan, p).await;
    }
    let mut state = plan.state.clone();
    let mut ledger = sub.ledger.clone();
    let cursor = w.alert_memo.cursor.filter(|c| c.version == sub.version);
    let scanned = cursor.map_or(ledger.scanned_seq, |c| c.scanned);
    if !plan.rule.enabled {
        // A disabled rule skips what arrives, so that switching it back on does not alert
        // about the past.
        let latest = w.store().last_sequence(&w.tenant).await?;
        if latest > ledger.scanned_seq {
            ledger.scanned_seq = latest;
            commit(w, &sub, &plan.state, &state, ledger).await?;
        }
        return Ok(Some(renew));
    }
    if let Some(fire) = eval::due_summary(plan, &mut state, now) {
        let pending = decide(w, plan, &fire, &[], now).await?;
        ledger.scanned_seq = scanned;
        return send_new(w, sub, plan, state, ledger, pending).await;
    }
    // The rules' own read-ahead: its readers queue per tenant, so that the rules woken by one
    // commit read the store once between them (the subscriptions' `crate::cache` lets each
    // worker that misses read).
    let read = w
        .alerts
        .tails
        .tail(w.store(), &w.tenant, scanned, READ)
        .await?;
    if read.is_empty() {
        match cursor {
            Some(c) if c.scanned > ledger.scanned_seq => {
                if now - c.since_us >= SAVE_EVERY_US {
                    ledger.scanned_seq = c.scanned;
                    commit(w, &sub, &plan.state, &state, ledger).await?;
                    return Ok(None);
                }
            }
            // Caught up and saved: the metrics hear how far behind it is.
            _ => w.report(&sub).await,
        }
        let summary = eval::next_summary_in(plan, &state, now)
            .map_or(renew, |us| Duration::from_micros(us.max(0) as u64));
        return Ok(Some(summary.min(renew)));
    }
    match eval::evaluate(plan, &mut state, &read, now) {
        Step::Fire { fire, through } => {
            let pending = decide(w, plan, &fire, &read, now).await?;
            ledger.scanned_seq = through;
            send_new(w, sub, plan, state, ledger, pending).await
        }
        Step::Scanned { through } => {
            let since = cursor.map_or(now, |c| c.since_us);
            if state == plan.state && now - since < SAVE_EVERY_US {
                w.alert_memo.cursor = Some(Cursor {
                    version: sub.version,
                    scanned: through,
                    since_us: since,
                });
                // Caught up: wait for the next commit (one that came meanwhile wakes it at
                // once) rather than read an empty tail.
                if read.len() < READ {
                    return Ok(Some(renew));
                }
            } else {
                ledger.scanned_seq = through;
                commit(w, &sub, &plan.state, &state, ledger).await?;
            }
            Ok(None)
        }
    }
}

/// Sends a newly decided alert at once. It is saved only when a recipient refuses it (as
/// pending, with those that accepted, so that retries send the same message to the others) or
/// once every recipient accepted it (with the state and the ledger): one write per alert.
async fn send_new(
    w: &mut Worker,
    sub: Subscription,
    plan: &AlertPlan,
    mut state: AlertState,
    mut ledger: Ledger,
    mut pending: PendingAlert,
) -> Result<Option<Duration>, StoreError> {
    w.alert_memo.cursor = None;
    let mut error = None;
    for (key, target) in &plan.targets {
        match send(w, plan, target, &pending).await {
            Ok(()) => pending.delivered.push(key.clone()),
            Err(e) => {
                error = Some(e);
                break;
            }
        }
    }
    if error.is_none()
        && let Err(e) = w
            .node
            .service
            .note_alert_fired(&sub, &plan.rule, &pending)
            .await
    {
        // The recipients have it; it is recorded on the next attempt, not sent again.
        error = Some(format!("cannot record the alert in the trail: {e}"));
    }
    if let Some(e) = error {
        state.pending = Some(pending);
        if let Some(saved) = commit(w, &sub, &plan.state, &state, ledger).await? {
            w.fail(&saved, &e).await?;
        }
        return Ok(Some(w.node.timing.renew));
    }
    let count = pending.count;
    fired(&mut state, &mut ledger, pending, w.now());
    commit(w, &sub, &plan.state, &state, ledger).await?;
    w.node.observer.delivered(&w.tenant, &w.id, count);
    Ok(None)
}

async fn send(
    w: &Worker,
    plan: &AlertPlan,
    target: &Target,
    pending: &PendingAlert,
) -> Result<(), String> {
    match target {
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
        Target::Chat { url, format } => chat::send(&w.node.http, url, *format, &pending.chat).await,
    }
}

/// Records a sent alert in the state (recent alerts) and the ledger.
fn fired(state: &mut AlertState, ledger: &mut Ledger, p: PendingAlert, now: i64) {
    if let Some(last) = p.sequences.iter().copied().max() {
        ledger.delivered_seq = ledger.delivered_seq.max(last);
    }
    ledger.delivered_us = Some(now);
    ledger.messages += 1;
    ledger.attempts = 0;
    ledger.last_error = None;
    ledger.next_attempt_us = None;
    ledger.failing_since_us = None;
    ledger.last_attempt_us = Some(now);
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
}

/// Saves `state` and `ledger`, computed from `sub` (whose state was `read`). An edit of the
/// rule in between (which keeps the state and the ledger as they were) is kept: the new state
/// is written onto it. Anything else that moved on (another node's progress) wins, and `None`
/// says so.
async fn commit(
    w: &Worker,
    sub: &Subscription,
    read: &AlertState,
    state: &AlertState,
    ledger: Ledger,
) -> Result<Option<Subscription>, StoreError> {
    let mut base = sub.clone();
    for _ in 0..5 {
        if let Some(saved) = save(w, &base, state, ledger.clone()).await? {
            w.report(&saved).await;
            return Ok(Some(saved));
        }
        let Some(fresh) = w.store().subscription(&w.tenant, &w.id).await? else {
            return Ok(None);
        };
        let fresh_state: AlertState = fresh
            .definition
            .get("alertState")
            .and_then(|s| serde_json::from_value(s.clone()).ok())
            .unwrap_or_default();
        if fresh.ledger != sub.ledger || &fresh_state != read {
            return Ok(None);
        }
        base = fresh;
    }
    Ok(None)
}

/// Renders `fire`, listing its first activities (from `read` when there, else from the store).
async fn decide(
    w: &Worker,
    plan: &AlertPlan,
    fire: &Fire,
    read: &[Arc<Activity>],
    now: i64,
) -> Result<PendingAlert, StoreError> {
    let mut shown = Vec::new();
    for seq in fire.all_sequences().into_iter().take(message::SHOWN) {
        match read.iter().find(|a| a.unique_qualifier == seq) {
            Some(a) => shown.push(Activity::clone(a)),
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

/// Sends a saved pending alert (refused before) to each recipient that has not accepted it,
/// recording each acceptance at once, then records the alert.
async fn deliver(
    w: &mut Worker,
    mut sub: Subscription,
    plan: &AlertPlan,
    pending: PendingAlert,
) -> Result<Option<Duration>, StoreError> {
    w.alert_memo.cursor = None;
    for (key, target) in &plan.targets {
        if pending.delivered.contains(key) {
            continue;
        }
        match send(w, plan, target, &pending).await {
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
    change(w, sub, |state, ledger| {
        if let Some(p) = state.pending.take_if(|p| p.decided_us == decided) {
            fired(state, ledger, p, now);
        }
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
