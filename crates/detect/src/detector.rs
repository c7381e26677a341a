//! The detectors of one tenant, with their per-account and per-IP state. Pure: signals in,
//! findings out, every window on the signals' event time (no clock is read), so the same traffic
//! gives the same findings however late or batched it arrives, on any node.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::net::IpAddr;
use std::sync::Arc;

use authtrail_model::store::SignInScore;

use crate::config::Thresholds;
use crate::finding::{Finding, FindingKind, span, subject_hash, trim_sequences};
use crate::geo::{Geo, Place, distance_km};
use crate::signal::{Kind, Signal, prefix};
use crate::window::Window;

const S: i64 = 1_000_000;
/// Most devices, addresses and networks remembered per account: enough for anyone's own, and a
/// bound on what an attacker cycling addresses can make the detector hold.
const MAX_KNOWN: usize = 64;
/// Most of an address's recent failures (or of a tenant's recent attempts from unfamiliar
/// addresses) read to judge a spray (or a stuffing campaign): enough to see ten accounts or
/// twenty, and a bound on the work per event during a flood.
const SAMPLE: usize = 512;
/// How often (in signals) state with nothing in its windows is dropped.
const SWEEP_EVERY: u64 = 50_000;

#[derive(Default)]
struct Account {
    /// Successful sign-ins seen.
    successes: usize,
    devices: HashSet<String>,
    ips: HashSet<IpAddr>,
    /// Successful sign-ins per network and per ASN: a network seen once in a hundred sign-ins
    /// is almost as unfamiliar as a new one (the RBA literature scores by frequency).
    networks: HashMap<String, u32>,
    countries: HashSet<String>,
    asns: HashMap<u32, u32>,
    /// Successful sign-ins per hour of the day (UTC).
    hours: [u32; 24],
    last_success: Option<LastSuccess>,
    /// Failures per address since that address's last success (brute force).
    failures_by_ip: HashMap<IpAddr, Window<i64>>,
    /// Every failure, for the score ("failures before this success").
    failures: Window<i64>,
    /// Failed second-factor challenges since the last success.
    mfa_failures: Window<i64>,
    /// Credential and recovery-information changes: (seq, event).
    changes: Window<(i64, String)>,
}

#[derive(Clone)]
struct LastSuccess {
    time_us: i64,
    seq: i64,
    place: Option<Place>,
}

/// Failures from one address: (seq, account).
#[derive(Default)]
struct IpState {
    failures: Window<(i64, Option<String>)>,
}

/// A sign-in attempt from an address the account never signed in from.
#[derive(Clone)]
struct Foreign {
    seq: i64,
    ip: IpAddr,
    account: Option<String>,
    failed: bool,
}

/// What one signal gives.
#[derive(Debug, Default)]
pub struct Observation {
    /// The findings it completes.
    pub findings: Vec<Finding>,
    /// For a successful sign-in of an account, its score and reasons, whether or not it
    /// reaches the threshold (risk 0 with no reasons: scored, nothing unusual).
    pub score: Option<SignInScore>,
}

/// The detectors of one tenant.
pub struct Detector {
    t: Thresholds,
    geo: Option<Arc<dyn Geo>>,
    accounts: HashMap<String, Account>,
    ips: HashMap<IpAddr, IpState>,
    foreign: Window<Foreign>,
    /// When each (kind, subject) last fired, so one burst is one finding.
    fired: HashMap<(FindingKind, String), i64>,
    latest_us: i64,
    seen: u64,
}

impl Detector {
    /// Without `geo`, the country, ASN and velocity features are off.
    pub fn new(thresholds: Thresholds, geo: Option<Arc<dyn Geo>>) -> Detector {
        Detector {
            t: thresholds,
            geo,
            accounts: HashMap::new(),
            ips: HashMap::new(),
            foreign: Window::default(),
            fired: HashMap::new(),
            latest_us: i64::MIN,
            seen: 0,
        }
    }

    pub fn thresholds(&self) -> &Thresholds {
        &self.t
    }

    /// Whether the country, ASN and velocity features are on.
    pub fn has_geo(&self) -> bool {
        self.geo.is_some()
    }

    /// Takes one signal into the state and returns the findings it completes and, for a
    /// successful sign-in of an account, its score.
    pub fn observe(&mut self, s: &Signal) -> Observation {
        self.latest_us = self.latest_us.max(s.time_us);
        self.seen += 1;
        if self.seen.is_multiple_of(SWEEP_EVERY) {
            self.sweep();
        }
        let mut out = Vec::new();
        let mut score = None;
        match s.kind {
            Kind::Attempt { success: false } => self.failure(s, &mut out),
            Kind::Attempt { success: true } => score = self.success(s, &mut out),
            Kind::Mfa { success } => self.mfa(s, success, &mut out),
            Kind::CredentialChange => {
                if let Some(acc) = &s.account {
                    let a = self.accounts.entry(acc.clone()).or_default();
                    a.changes.insert(s.time_us, (s.seq, s.event.clone()));
                    a.changes
                        .prune(self.latest_us - 2 * self.t.after_change_s * S);
                }
            }
        }
        Observation {
            findings: out,
            score,
        }
    }

    /// Whether `(kind, subject)` fired within `window_us` of `time_us`: then the burst is
    /// reported already, and is not measured again.
    fn fired_near(&self, kind: FindingKind, subject: &str, time_us: i64, window_us: i64) -> bool {
        self.fired
            .get(&(kind, subject.to_string()))
            .is_some_and(|t| (time_us - t).abs() < window_us)
    }

    /// True (and remembered) unless `(kind, subject)` fired within `window_us` of `time_us`.
    fn first_in(&mut self, kind: FindingKind, subject: &str, time_us: i64, window_us: i64) -> bool {
        let key = (kind, subject.to_string());
        if let Some(t) = self.fired.get(&key)
            && (time_us - t).abs() < window_us
        {
            return false;
        }
        self.fired.insert(key, time_us);
        true
    }

    fn failure(&mut self, s: &Signal, out: &mut Vec<Finding>) {
        let t = self.t.clone();
        let cut = self.latest_us;
        if let Some(ip) = s.ip {
            self.foreign_attempt(s, ip, true, out);
            let st = self.ips.entry(ip).or_default();
            st.failures.insert(s.time_us, (s.seq, s.account.clone()));
            st.failures
                .prune(cut - 2 * t.ip_failures_window_s.max(t.spray_window_s) * S);
            self.ip_burst(s, ip, out);
            self.spray(s, ip, out);
        }
        let Some(acc) = s.account.clone() else {
            return;
        };
        let a = self.accounts.entry(acc.clone()).or_default();
        a.failures.insert(s.time_us, s.seq);
        a.failures.prune(cut - 2 * t.brute_force_window_s * S);
        let Some(ip) = s.ip else { return };
        let w = a.failures_by_ip.entry(ip).or_default();
        w.insert(s.time_us, s.seq);
        w.prune(cut - 2 * t.brute_force_window_s * S);
        let subject = format!("{acc}|{ip}");
        if self.fired_near(
            FindingKind::BruteForce,
            &subject,
            s.time_us,
            t.brute_force_window_s * S,
        ) {
            return;
        }
        let w = &self.accounts[&acc].failures_by_ip[&ip];
        let burst = w.densest(s.time_us, t.brute_force_window_s * S);
        if burst.len() < t.brute_force_failures {
            return;
        }
        let (first, last) = (burst[0].0, burst[burst.len() - 1].0);
        let seqs: Vec<i64> = burst.iter().map(|e| e.1).collect();
        let n = burst.len();
        if !self.first_in(
            FindingKind::BruteForce,
            &subject,
            s.time_us,
            t.brute_force_window_s * S,
        ) {
            return;
        }
        out.push(Finding {
            kind: FindingKind::BruteForce,
            time_us: s.time_us,
            account: Some(acc),
            ip: Some(ip),
            reasons: vec![
                format!("failures_account_ip: {n} in {}", span(last - first)),
                format!("threshold: {}", t.brute_force_failures),
            ],
            risk: 70,
            sequences: trim_sequences(seqs),
            accounts: Vec::new(),
            account_count: None,
            key: key(
                FindingKind::BruteForce,
                &subject,
                s.time_us,
                t.brute_force_window_s,
            ),
        });
    }

    fn ip_burst(&mut self, s: &Signal, ip: IpAddr, out: &mut Vec<Finding>) {
        let width = self.t.ip_failures_window_s * S;
        let subject = ip.to_string();
        if self.fired_near(FindingKind::IpFailureBurst, &subject, s.time_us, width) {
            return;
        }
        let burst = self.ips[&ip].failures.densest(s.time_us, width);
        if burst.len() < self.t.ip_failures {
            return;
        }
        let accounts: BTreeSet<&str> = burst.iter().filter_map(|e| e.1.1.as_deref()).collect();
        let reasons = vec![
            format!(
                "failures_ip: {} in {}",
                burst.len(),
                span(burst[burst.len() - 1].0 - burst[0].0)
            ),
            format!("accounts: {}", accounts.len()),
            format!("threshold: {}", self.t.ip_failures),
        ];
        let sample = accounts.iter().take(20).map(|a| a.to_string()).collect();
        let n_accounts = accounts.len();
        let seqs = burst.iter().map(|e| e.1.0).collect();
        if !self.first_in(FindingKind::IpFailureBurst, &subject, s.time_us, width) {
            return;
        }
        out.push(Finding {
            kind: FindingKind::IpFailureBurst,
            time_us: s.time_us,
            account: None,
            ip: Some(ip),
            reasons,
            risk: 60,
            sequences: trim_sequences(seqs),
            accounts: sample,
            account_count: Some(n_accounts),
            key: key(
                FindingKind::IpFailureBurst,
                &subject,
                s.time_us,
                self.t.ip_failures_window_s,
            ),
        });
    }

    fn spray(&mut self, s: &Signal, ip: IpAddr, out: &mut Vec<Finding>) {
        let width = self.t.spray_window_s * S;
        let subject = ip.to_string();
        if self.fired_near(FindingKind::PasswordSpray, &subject, s.time_us, width) {
            return;
        }
        let recent = self.ips[&ip].failures.before(s.time_us, width);
        let recent = &recent[recent.len().saturating_sub(SAMPLE)..];
        let mut tries: HashMap<&str, usize> = HashMap::new();
        for e in recent {
            if let Some(a) = e.1.1.as_deref() {
                *tries.entry(a).or_default() += 1;
            }
        }
        if tries.len() < self.t.spray_accounts {
            return;
        }
        let per = tries.values().sum::<usize>() as f64 / tries.len() as f64;
        if per > self.t.spray_max_tries_per_account {
            return;
        }
        let reasons = vec![
            format!(
                "accounts_from_ip: {} in {}",
                tries.len(),
                span(s.time_us - recent[0].0)
            ),
            format!("tries_per_account: {per:.1}"),
            format!("threshold: {} accounts", self.t.spray_accounts),
        ];
        let mut sample: Vec<String> = tries.keys().map(|a| a.to_string()).collect();
        sample.sort();
        sample.truncate(20);
        let n_accounts = tries.len();
        let seqs = recent.iter().map(|e| e.1.0).collect();
        if !self.first_in(FindingKind::PasswordSpray, &subject, s.time_us, width) {
            return;
        }
        out.push(Finding {
            kind: FindingKind::PasswordSpray,
            time_us: s.time_us,
            account: None,
            ip: Some(ip),
            reasons,
            risk: 80,
            sequences: trim_sequences(seqs),
            accounts: sample,
            account_count: Some(n_accounts),
            key: key(
                FindingKind::PasswordSpray,
                &subject,
                s.time_us,
                self.t.spray_window_s,
            ),
        });
    }

    /// Records an attempt from an address its account never signed in from, and reports a
    /// campaign of them (credential stuffing).
    fn foreign_attempt(&mut self, s: &Signal, ip: IpAddr, failed: bool, out: &mut Vec<Finding>) {
        let known = s
            .account
            .as_ref()
            .and_then(|a| self.accounts.get(a))
            .is_some_and(|a| a.ips.contains(&ip));
        if known {
            return;
        }
        let width = self.t.stuffing_window_s * S;
        self.foreign.insert(
            s.time_us,
            Foreign {
                seq: s.seq,
                ip,
                account: s.account.clone(),
                failed,
            },
        );
        self.foreign.prune(self.latest_us - 2 * width);
        if !failed || self.fired_near(FindingKind::CredentialStuffing, "", s.time_us, width) {
            return;
        }
        let recent = self.foreign.before(s.time_us, width);
        let recent = &recent[recent.len().saturating_sub(SAMPLE)..];
        // Cheapest test first: a flood from one address stops at the count of addresses.
        let failures: Vec<&Foreign> = recent.iter().map(|e| &e.1).filter(|f| f.failed).collect();
        let rate = failures.len() as f64 / recent.len() as f64;
        if failures.len() < self.t.stuffing_accounts || rate < self.t.stuffing_failure_rate {
            return;
        }
        let ips: HashSet<IpAddr> = failures.iter().map(|f| f.ip).collect();
        if ips.len() < self.t.stuffing_ips {
            return;
        }
        let accounts: BTreeSet<&str> = failures
            .iter()
            .filter_map(|f| f.account.as_deref())
            .collect();
        if accounts.len() < self.t.stuffing_accounts {
            return;
        }
        let reasons = vec![
            format!("ips: {}", ips.len()),
            format!("accounts: {}", accounts.len()),
            format!("failure_rate: {:.0}%", rate * 100.0),
            format!(
                "attempts_from_unfamiliar_ips: {} in {}",
                recent.len(),
                span(s.time_us - recent[0].0)
            ),
        ];
        let sample = accounts.iter().take(20).map(|a| a.to_string()).collect();
        let n_accounts = accounts.len();
        let seqs = failures.iter().map(|f| f.seq).collect();
        if !self.first_in(FindingKind::CredentialStuffing, "", s.time_us, width) {
            return;
        }
        out.push(Finding {
            kind: FindingKind::CredentialStuffing,
            time_us: s.time_us,
            account: None,
            ip: None,
            reasons,
            risk: 90,
            sequences: trim_sequences(seqs),
            accounts: sample,
            account_count: Some(n_accounts),
            key: key(
                FindingKind::CredentialStuffing,
                "",
                s.time_us,
                self.t.stuffing_window_s,
            ),
        });
    }

    /// Whether `ip` failed in the current credential-stuffing window.
    fn in_stuffing(&self, ip: IpAddr, time_us: i64) -> bool {
        let width = self.t.stuffing_window_s * S;
        let recent = self.foreign.before(time_us, width);
        recent.iter().any(|e| e.1.failed && e.1.ip == ip)
            && self
                .fired
                .get(&(FindingKind::CredentialStuffing, String::new()))
                .is_some_and(|t| (time_us - t).abs() < width)
    }

    fn mfa(&mut self, s: &Signal, success: bool, out: &mut Vec<Finding>) {
        let Some(acc) = s.account.clone() else {
            return;
        };
        let t = self.t.clone();
        let width = t.mfa_window_s * S;
        let a = self.accounts.entry(acc.clone()).or_default();
        if success {
            a.mfa_failures.clear();
            return;
        }
        a.mfa_failures.insert(s.time_us, s.seq);
        a.mfa_failures.prune(self.latest_us - 2 * width);
        if self.fired_near(FindingKind::MfaFatigue, &acc, s.time_us, width) {
            return;
        }
        let burst = self.accounts[&acc].mfa_failures.densest(s.time_us, width);
        if burst.len() < t.mfa_failures {
            return;
        }
        let reasons = vec![
            format!(
                "mfa_failures: {} in {}",
                burst.len(),
                span(burst[burst.len() - 1].0 - burst[0].0)
            ),
            format!("threshold: {}", t.mfa_failures),
        ];
        let seqs = burst.iter().map(|e| e.1).collect();
        if !self.first_in(FindingKind::MfaFatigue, &acc, s.time_us, width) {
            return;
        }
        out.push(Finding {
            kind: FindingKind::MfaFatigue,
            time_us: s.time_us,
            account: Some(acc.clone()),
            ip: s.ip,
            reasons,
            risk: 85,
            sequences: trim_sequences(seqs),
            accounts: Vec::new(),
            account_count: None,
            key: key(FindingKind::MfaFatigue, &acc, s.time_us, t.mfa_window_s),
        });
    }

    /// Judges a successful sign-in: its score (`None` without an account, which has no
    /// history to judge it by), and the findings it makes.
    fn success(&mut self, s: &Signal, out: &mut Vec<Finding>) -> Option<SignInScore> {
        let place = match (&self.geo, s.ip) {
            (Some(g), Some(ip)) => g.lookup(ip),
            _ => None,
        };
        let in_stuffing = s.ip.is_some_and(|ip| self.in_stuffing(ip, s.time_us));
        if let Some(ip) = s.ip {
            self.foreign_attempt(s, ip, false, out);
        }
        let acc = s.account.clone()?;
        let t = self.t.clone();
        let has_geo = self.geo.is_some();
        let a = self.accounts.entry(acc.clone()).or_default();
        let scored = score(a, s, place.as_ref(), &t, has_geo, in_stuffing);
        learn(a, s, place);
        let kept = SignInScore {
            seq: s.seq,
            time_us: s.time_us,
            risk: scored.risk.min(100) as u8,
            threshold: t.risky_sign_in_score,
            reasons: scored.reasons.clone(),
        };
        if let Some(travel) = scored.travel {
            out.push(Finding {
                kind: FindingKind::ImpossibleTravel,
                time_us: s.time_us,
                account: Some(acc.clone()),
                ip: s.ip,
                reasons: travel.reasons,
                risk: 80,
                sequences: vec![travel.from_seq, s.seq],
                accounts: Vec::new(),
                account_count: None,
                key: format!("impossible_travel:{}", s.seq),
            });
        }
        // Nothing unusual is never a finding, whatever the threshold.
        if !scored.reasons.is_empty() && scored.risk >= t.risky_sign_in_score {
            out.push(Finding {
                kind: FindingKind::RiskySignIn,
                time_us: s.time_us,
                account: Some(acc),
                ip: s.ip,
                reasons: scored.reasons,
                risk: scored.risk.min(100),
                sequences: trim_sequences(scored.sequences),
                accounts: Vec::new(),
                account_count: None,
                key: format!("risky_sign_in:{}", s.seq),
            });
        }
        Some(kept)
    }

    /// Drops per-address and per-account windows that hold nothing, and old firing marks.
    fn sweep(&mut self) {
        let t = &self.t;
        let horizon = self.latest_us
            - 2 * S
                * [
                    t.ip_failures_window_s,
                    t.spray_window_s,
                    t.brute_force_window_s,
                    t.mfa_window_s,
                    t.stuffing_window_s,
                ]
                .into_iter()
                .max()
                .unwrap_or(0);
        self.ips.retain(|_, st| {
            st.failures.prune(horizon);
            !st.failures.is_empty()
        });
        for a in self.accounts.values_mut() {
            a.failures_by_ip.retain(|_, w| {
                w.prune(horizon);
                !w.is_empty()
            });
        }
        self.fired.retain(|_, t| *t >= horizon);
    }
}

/// The finding's identity: its kind, its subject and the window of event time it fired in.
fn key(kind: FindingKind, subject: &str, time_us: i64, window_s: i64) -> String {
    let bucket = time_us.div_euclid(window_s.max(1) * S);
    format!("{}:{}:{bucket}", kind.event(), subject_hash(subject))
}

struct Travel {
    from_seq: i64,
    reasons: Vec<String>,
}

struct Scored {
    risk: u32,
    reasons: Vec<String>,
    sequences: Vec<i64>,
    travel: Option<Travel>,
}

/// Scores a successful sign-in against the account's history: no reasons (risk 0) when nothing
/// is unusual, or while the history is too short to say what is.
fn score(
    a: &Account,
    s: &Signal,
    place: Option<&Place>,
    t: &Thresholds,
    has_geo: bool,
    in_stuffing: bool,
) -> Scored {
    let mut risk = 0u32;
    let mut reasons = Vec::new();
    let mut sequences = vec![s.seq];
    let mut travel = None;
    // Evidence that needs no history.
    // The hit of a campaign: an address failing on many accounts right now gets in.
    if in_stuffing {
        risk += 60;
        reasons.push("ip_in_attack: credential_stuffing".to_string());
    }
    let recent = a.failures.before(s.time_us, 3600 * S);
    if recent.len() >= 3 {
        risk += 15;
        reasons.push(format!("failures_before: {} in 1 h", recent.len()));
        sequences.extend(recent.iter().map(|e| e.1));
    }
    let change = a.changes.before(s.time_us, t.after_change_s * S).last();
    if let Some((when, (seq, event))) = change {
        risk += 25;
        reasons.push(format!(
            "after_credential_change: {event} {} before",
            span(s.time_us - when)
        ));
        sequences.push(*seq);
    }
    if a.successes >= t.min_history {
        if let Some(ua) = &s.user_agent
            && !a.devices.contains(ua)
        {
            risk += 20;
            reasons.push(format!(
                "new_device: {}",
                ua.chars().take(80).collect::<String>()
            ));
        }
        if let Some(ip) = s.ip {
            let net = prefix(ip);
            match a.networks.get(&net) {
                None => {
                    risk += 25;
                    reasons.push(format!("new_network: {net}"));
                }
                Some(&n) if rare(n, a.successes, t) => {
                    risk += 20;
                    reasons.push(format!(
                        "rare_network: {net} ({n} of {} sign-ins)",
                        a.successes
                    ));
                }
                Some(_) => {}
            }
            if a.networks.contains_key(&net) && !a.ips.contains(&ip) {
                risk += 5;
                reasons.push(format!("new_ip: {ip}"));
            }
        }
        if let Some(p) = place {
            if let Some(c) = &p.country
                && !a.countries.is_empty()
                && !a.countries.contains(c)
            {
                let from = a
                    .last_success
                    .as_ref()
                    .and_then(|l| l.place.as_ref())
                    .and_then(|p| p.country.clone())
                    .unwrap_or_else(|| "?".into());
                risk += 35;
                reasons.push(format!("new_country: {from}→{c}"));
            }
            if let Some(asn) = p.asn
                && !a.asns.is_empty()
            {
                match a.asns.get(&asn) {
                    None => {
                        risk += 10;
                        reasons.push(format!("new_asn: AS{asn}"));
                    }
                    Some(&n) if rare(n, a.successes, t) => {
                        risk += 10;
                        reasons.push(format!(
                            "rare_asn: AS{asn} ({n} of {} sign-ins)",
                            a.successes
                        ));
                    }
                    Some(_) => {}
                }
            }
        }
        let hour = hour_of(s.time_us);
        let total: u32 = a.hours.iter().sum();
        let near: u32 = [23, 0, 1].iter().map(|d| a.hours[(hour + d) % 24]).sum();
        if total >= 10 && near == 0 {
            risk += 10;
            reasons.push(format!(
                "unusual_hour: {hour:02}h UTC (0 of {total} sign-ins within an hour of it)"
            ));
        }
    }
    if has_geo
        && let (Some(last), Some(here)) = (&a.last_success, place.and_then(|p| p.location))
        && let Some(there) = last.place.as_ref().and_then(|p| p.location)
    {
        let km = distance_km(there, here);
        // At least a minute apart: two sign-ins in the same second are not infinitely fast.
        let hours = ((s.time_us - last.time_us).abs().max(60 * S)) as f64 / 3600e6;
        let kmh = km / hours;
        if km >= t.travel_min_km && kmh > t.travel_kmh {
            let mut r = vec![
                format!("velocity_kmh: {kmh:.0}"),
                format!(
                    "distance_km: {km:.0} in {}",
                    span((s.time_us - last.time_us).abs())
                ),
            ];
            let from = last.place.as_ref().and_then(|p| p.country.clone());
            let to = place.and_then(|p| p.country.clone());
            if let (Some(f), Some(t)) = (from, to)
                && f != t
            {
                r.push(format!("countries: {f}→{t}"));
            }
            risk += 50;
            reasons.extend(r.iter().cloned());
            sequences.push(last.seq);
            travel = Some(Travel {
                from_seq: last.seq,
                reasons: r,
            });
        }
    }
    Scored {
        risk,
        reasons,
        sequences,
        travel,
    }
}

/// Adds a successful sign-in to the account's history.
fn learn(a: &mut Account, s: &Signal, place: Option<Place>) {
    a.successes += 1;
    if let Some(ua) = &s.user_agent
        && a.devices.len() < MAX_KNOWN
    {
        a.devices.insert(ua.clone());
    }
    if let Some(ip) = s.ip {
        if a.ips.len() < MAX_KNOWN {
            a.ips.insert(ip);
        }
        let net = prefix(ip);
        if a.networks.len() < MAX_KNOWN || a.networks.contains_key(&net) {
            *a.networks.entry(net).or_default() += 1;
        }
        // A success from an address ends that address's failure streak (as Auth0's does).
        a.failures_by_ip.remove(&ip);
    }
    if let Some(p) = &place {
        if let Some(c) = &p.country
            && a.countries.len() < MAX_KNOWN
        {
            a.countries.insert(c.clone());
        }
        if let Some(asn) = p.asn
            && (a.asns.len() < MAX_KNOWN || a.asns.contains_key(&asn))
        {
            *a.asns.entry(asn).or_default() += 1;
        }
    }
    a.hours[hour_of(s.time_us)] += 1;
    a.mfa_failures.clear();
    if a.last_success
        .as_ref()
        .is_none_or(|l| l.time_us <= s.time_us)
    {
        a.last_success = Some(LastSuccess {
            time_us: s.time_us,
            seq: s.seq,
            place,
        });
    }
}

/// Whether `seen` of an account's `successes` sign-ins make a network or provider rare: at most
/// `rare_sign_ins` of them, and under `rare_percent` % of the history (so that a long history
/// is needed before anything it holds counts as rare).
fn rare(seen: u32, successes: usize, t: &Thresholds) -> bool {
    seen <= t.rare_sign_ins && (seen as usize) * 100 < successes * t.rare_percent as usize
}

fn hour_of(time_us: i64) -> usize {
    (time_us.div_euclid(3600 * S).rem_euclid(24)) as usize
}
