//! What the detectors report: a finding, with the reasons an admin reads, a risk score and the
//! sequence numbers of the events behind it.

use std::net::IpAddr;

use sha2::{Digest, Sha256};

/// The kinds of finding; each is an event of the catalogue's `detection` application
/// (catalog/detection.toml), named by [`FindingKind::event`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FindingKind {
    /// Many failures on one account from one IP.
    BruteForce,
    /// Many failures from one IP, whatever the accounts.
    IpFailureBurst,
    /// One IP, many accounts, few tries each.
    PasswordSpray,
    /// Many IPs, many accounts, mostly failing, from addresses the accounts never used.
    CredentialStuffing,
    /// Two successful sign-ins of one account too far apart for the time between them.
    ImpossibleTravel,
    /// Repeated second-factor challenges of one account without success.
    MfaFatigue,
    /// A successful sign-in unlike the account's history (new device, network, country, …).
    RiskySignIn,
}

impl FindingKind {
    pub const ALL: [FindingKind; 7] = [
        FindingKind::BruteForce,
        FindingKind::IpFailureBurst,
        FindingKind::PasswordSpray,
        FindingKind::CredentialStuffing,
        FindingKind::ImpossibleTravel,
        FindingKind::MfaFatigue,
        FindingKind::RiskySignIn,
    ];

    /// The event name in the `detection` application.
    pub fn event(self) -> &'static str {
        match self {
            FindingKind::BruteForce => "brute_force",
            FindingKind::IpFailureBurst => "ip_failure_burst",
            FindingKind::PasswordSpray => "password_spray",
            FindingKind::CredentialStuffing => "credential_stuffing",
            FindingKind::ImpossibleTravel => "impossible_travel",
            FindingKind::MfaFatigue => "mfa_fatigue",
            FindingKind::RiskySignIn => "risky_sign_in",
        }
    }

    pub fn parse(s: &str) -> Option<FindingKind> {
        FindingKind::ALL.into_iter().find(|k| k.event() == s)
    }
}

/// The most sequence numbers a finding lists (a multi-value parameter holds 256); the reasons
/// give the full counts.
pub const MAX_SEQUENCES: usize = 200;

/// One finding.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    pub kind: FindingKind,
    /// The event time of the activity that completed it.
    pub time_us: i64,
    /// The account concerned, when one is.
    pub account: Option<String>,
    /// The address concerned, when one is.
    pub ip: Option<IpAddr>,
    /// Reason codes with their evidence, e.g. `velocity_kmh: 9120`.
    pub reasons: Vec<String>,
    /// 0 to 100.
    pub risk: u32,
    /// The activities behind it (their uniqueQualifiers), ascending, at most [`MAX_SEQUENCES`]:
    /// the newest ones when there are more.
    pub sequences: Vec<i64>,
    /// The accounts involved when there are several (at most 20, for the reader).
    pub accounts: Vec<String>,
    /// How many accounts are involved, for the findings about several.
    pub account_count: Option<usize>,
    /// What makes it the same finding on every node and every replay: its eventId is derived
    /// from this, so a finding stored twice is stored once.
    pub key: String,
}

impl Finding {
    /// The eventId under which the finding is stored (authtrail's derived-id namespace).
    pub fn event_id(&self) -> String {
        format!("authtrail:detect:{}", self.key)
    }
}

/// A short, fixed-length stand-in for a subject (an e-mail can be 320 bytes, and an eventId no
/// longer), stable across nodes.
pub(crate) fn subject_hash(subject: &str) -> String {
    let d = Sha256::digest(subject.as_bytes());
    hex::encode(&d[..8])
}

/// Keeps the newest [`MAX_SEQUENCES`] of `seqs`, sorted and without repeats.
pub(crate) fn trim_sequences(mut seqs: Vec<i64>) -> Vec<i64> {
    seqs.sort_unstable();
    seqs.dedup();
    let cut = seqs.len().saturating_sub(MAX_SEQUENCES);
    seqs.split_off(cut)
}

/// A duration as people read evidence: `45 s`, `12 min`, `3 h`.
pub(crate) fn span(us: i64) -> String {
    let s = us.max(0) / 1_000_000;
    if s < 120 {
        format!("{s} s")
    } else if s < 7200 {
        format!("{} min", s / 60)
    } else {
        format!("{} h", s / 3600)
    }
}
