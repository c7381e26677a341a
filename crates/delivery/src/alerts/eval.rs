//! A rule's evaluation: pure, so that it is tested without a store or a clock, and so that
//! what it decides depends only on the saved state, the activities and the time given.
//!
//! Activities are looked at in sequence order. A match joins its group (the actor, the IP,
//! or the whole rule); without a threshold each match triggers, with one a group triggers
//! once its window (in event time) holds `count` matches, and the window starts again. A
//! trigger inside the throttle period of the group's last alert is held back and summarised
//! in the group's next alert, or in a summary of its own once the period is over.

use authtrail_model::Activity;
use authtrail_service::alerts::{AlertPlan, AlertState, GroupBy, Held, state};

/// Why an alert fires.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    /// One matching activity.
    Match,
    /// At least `count` matches within `window_minutes`.
    Threshold { count: u32, window_minutes: u32 },
    /// Only what the throttle held back, now that its period is over.
    Summary,
}

/// An alert to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fire {
    pub reason: Reason,
    pub group: String,
    /// The activities that triggered it (sequence numbers, the first [`state::MAX_SEQUENCES`]).
    pub sequences: Vec<i64>,
    /// How many triggered it.
    pub count: u64,
    /// What the throttle held back before it, reported with it.
    pub held: Option<Held>,
}

impl Fire {
    pub fn total(&self) -> u64 {
        self.count + self.held.as_ref().map_or(0, |h| h.count)
    }

    /// Every sequence number it reports, held-back ones first (cut at the maximum).
    pub fn all_sequences(&self) -> Vec<i64> {
        let mut out: Vec<i64> = self
            .held
            .iter()
            .flat_map(|h| h.sequences.iter().copied())
            .chain(self.sequences.iter().copied())
            .collect();
        out.truncate(state::MAX_SEQUENCES);
        out
    }
}

/// What one evaluation decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Send this; everything up to `through` is accounted for (in `fire` or in the state).
    Fire { fire: Fire, through: i64 },
    /// Nothing to send; everything up to `through` is accounted for.
    Scanned { through: i64 },
}

/// The group an activity counts in.
pub fn group_of(a: &Activity, by: GroupBy) -> String {
    let actor = &a.body.actor;
    match by {
        GroupBy::Overall => String::new(),
        GroupBy::Actor => actor
            .email
            .as_ref()
            .map(|e| e.to_lowercase())
            .or_else(|| actor.profile_id.clone())
            .unwrap_or_else(|| "unknown".into()),
        GroupBy::Ip => a
            .body
            .ip_address
            .clone()
            .unwrap_or_else(|| "unknown".into()),
    }
}

/// How late a match may arrive (after the rule's newest match) and still count in a window.
pub const LATE_GRACE_US: i64 = 3_600_000_000;

fn minutes(m: u32) -> i64 {
    i64::from(m) * 60_000_000
}

/// Looks at `read` (activities after the rule's ledger, in sequence order) and stops at the
/// first alert to send. `state` is changed as it goes: save it with `through`.
pub fn evaluate(
    plan: &AlertPlan,
    state: &mut AlertState,
    read: &[impl std::borrow::Borrow<Activity>],
    now_us: i64,
) -> Step {
    let rule = &plan.rule;
    let throttle = minutes(rule.throttle_minutes);
    let mut through = read.first().map_or(0, |a| a.borrow().unique_qualifier - 1);
    for a in read {
        let a: &Activity = a.borrow();
        through = a.unique_qualifier;
        if !plan.matches(a) {
            continue;
        }
        state.newest_us = state.newest_us.max(a.time_us);
        let key = group_of(a, rule.grouping());
        let g = state.groups.entry(key.clone()).or_default();
        let trigger = match rule.threshold {
            None => Some((Reason::Match, vec![a.unique_qualifier])),
            Some(t) => {
                let at = g.window.partition_point(|&(time, _)| time <= a.time_us);
                g.window.insert(at, (a.time_us, a.unique_qualifier));
                let newest = g.window.last().map_or(a.time_us, |w| w.0);
                // The window is the `window_minutes` ending at the newest match seen.
                g.window
                    .retain(|&(time, _)| time > newest - minutes(t.window_minutes));
                (g.window.len() >= t.count as usize).then(|| {
                    let mut seqs: Vec<i64> = g.window.drain(..).map(|w| w.1).collect();
                    seqs.sort_unstable();
                    (
                        Reason::Threshold {
                            count: t.count,
                            window_minutes: t.window_minutes,
                        },
                        seqs,
                    )
                })
            }
        };
        let Some((reason, sequences)) = trigger else {
            continue;
        };
        let count = sequences.len() as u64;
        let throttled = throttle > 0 && g.last_fired_us.is_some_and(|l| now_us - l < throttle);
        if throttled {
            let h = g.held.get_or_insert_with(|| Held {
                first_us: a.time_us,
                last_us: a.time_us,
                ..Held::default()
            });
            h.count += count;
            h.first_us = h.first_us.min(a.time_us);
            h.last_us = h.last_us.max(a.time_us);
            for s in sequences {
                if h.sequences.len() < state::MAX_SEQUENCES {
                    h.sequences.push(s);
                }
            }
            continue;
        }
        g.last_fired_us = Some(now_us);
        let mut sequences = sequences;
        sequences.truncate(state::MAX_SEQUENCES);
        let fire = Fire {
            reason,
            group: key,
            sequences,
            count,
            held: g.held.take(),
        };
        prune(plan, state, now_us);
        return Step::Fire { fire, through };
    }
    prune(plan, state, now_us);
    Step::Scanned { through }
}

/// A summary of what the throttle held back in a group whose period is over, if any.
pub fn due_summary(plan: &AlertPlan, state: &mut AlertState, now_us: i64) -> Option<Fire> {
    let throttle = minutes(plan.rule.throttle_minutes);
    let (key, g) = state.groups.iter_mut().find(|(_, g)| {
        g.held.is_some() && g.last_fired_us.is_none_or(|l| now_us - l >= throttle)
    })?;
    g.last_fired_us = Some(now_us);
    Some(Fire {
        reason: Reason::Summary,
        group: key.clone(),
        sequences: Vec::new(),
        count: 0,
        held: g.held.take(),
    })
}

/// How long until the next summary is due, if one waits.
pub fn next_summary_in(plan: &AlertPlan, state: &AlertState, now_us: i64) -> Option<i64> {
    let throttle = minutes(plan.rule.throttle_minutes);
    state
        .groups
        .values()
        .filter(|g| g.held.is_some())
        .map(|g| {
            g.last_fired_us
                .map_or(0, |l| (l + throttle - now_us).max(0))
        })
        .min()
}

/// Forgets groups that hold nothing any more (no window, nothing held, throttle over), and
/// past [`state::MAX_GROUPS`] the quietest ones, so that a rule grouped by IP under a
/// spraying attack keeps a bounded state.
fn prune(plan: &AlertPlan, state: &mut AlertState, now_us: i64) {
    let throttle = minutes(plan.rule.throttle_minutes);
    // A group that went quiet keeps no old matches, so the state stays small: matches older
    // than the window before the rule's newest match, with an hour's grace for late arrivals
    // (Google's reports can lag), could only count with matches arriving later still.
    let horizon = plan.rule.threshold.map_or(i64::MAX, |t| {
        state.newest_us - minutes(t.window_minutes) - LATE_GRACE_US
    });
    for g in state.groups.values_mut() {
        g.window.retain(|&(time, _)| time > horizon);
    }
    state.groups.retain(|_, g| {
        !g.window.is_empty()
            || g.held.is_some()
            || g.last_fired_us.is_some_and(|l| now_us - l < throttle)
    });
    if state.groups.len() > state::MAX_GROUPS {
        let mut quiet: Vec<(i64, String)> = state
            .groups
            .iter()
            .filter(|(_, g)| g.held.is_none())
            .map(|(k, g)| {
                let last = g
                    .window
                    .last()
                    .map_or(0, |w| w.0)
                    .max(g.last_fired_us.unwrap_or(0));
                (last, k.clone())
            })
            .collect();
        quiet.sort();
        let excess = state.groups.len() - state::MAX_GROUPS;
        for (_, k) in quiet.into_iter().take(excess) {
            state.groups.remove(&k);
        }
    }
}
