//! The SignInScores capability: the risk score of every successful sign-in the detectors judged
//! (`authtrail_detect`), with its reasons, kept beside the trail so that a sign-in below the
//! tenant's `risky_sign_in_score` (which makes no finding) still says why it scored what it did.
//!
//! A score is derived data: the same trail gives the same scores on any node. So a score is
//! stored once per (tenant, sequence): the first write wins, and a second node's copy or a
//! replay's is ignored. Rows are compact (the score, the threshold, the reasons as a JSON array
//! of at most [`MAX_REASONS`] strings of at most [`MAX_REASON_BYTES`] bytes each) and follow the
//! activity they are about: retention deletes them with it (by the sign-in's time, which the row
//! keeps), and erasure of a person deletes those of the rows it erases, since their evidence
//! names addresses and user agents.

use crate::Tenant;
use crate::store::{BoxFuture, StoreError, StoreErrorKind};

/// The most reasons a stored score keeps (the detectors give at most eleven).
pub const MAX_REASONS: usize = 16;
/// The most bytes a stored reason keeps (a user agent in `new_device` evidence is cut at 80
/// characters already; this bounds what a future reason could make a row hold).
pub const MAX_REASON_BYTES: usize = 200;
/// The most scores one call records or reads.
pub const MAX_SCORES_PER_CALL: usize = 5_000;

/// One sign-in's score.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignInScore {
    /// The sign-in's uniqueQualifier.
    pub seq: i64,
    /// The sign-in's event time (µs): retention deletes the score when it deletes the sign-in.
    pub time_us: i64,
    /// 0 to 100; 0 with no reasons is "scored, nothing unusual".
    pub risk: u8,
    /// The tenant's `risky_sign_in_score` when it was scored: at or above it, the sign-in is
    /// also a `risky_sign_in` finding.
    pub threshold: u32,
    /// `code: evidence`, as the findings write them (`new_country: TW→BR`).
    pub reasons: Vec<String>,
}

impl SignInScore {
    /// The form every engine stores: the risk at most 100, the threshold at most `i32::MAX`
    /// (a 4-byte column), at most [`MAX_REASONS`] reasons of at most [`MAX_REASON_BYTES`]
    /// bytes each (cut at a character boundary), a NUL replaced by U+FFFD.
    pub fn bounded(mut self) -> SignInScore {
        self.risk = self.risk.min(100);
        self.threshold = self.threshold.min(i32::MAX as u32);
        self.reasons.truncate(MAX_REASONS);
        for r in &mut self.reasons {
            // PostgreSQL's text cannot hold a NUL; both engines store the same.
            if r.contains('\0') {
                *r = r.replace('\0', "\u{FFFD}");
            }
            if r.len() > MAX_REASON_BYTES {
                let mut cut = MAX_REASON_BYTES;
                while !r.is_char_boundary(cut) {
                    cut -= 1;
                }
                r.truncate(cut);
            }
        }
        self
    }

    /// The reasons as stored: a JSON array of strings.
    pub fn reasons_json(&self) -> String {
        serde_json::to_string(&self.reasons).expect("strings serialize")
    }

    /// The reasons from their stored form.
    pub fn reasons_from_json(stored: &str) -> Result<Vec<String>, String> {
        serde_json::from_str(stored).map_err(|e| format!("stored sign-in reasons: {e}"))
    }

    /// A score from an engine's row (its integer columns as the engine reads them); an error
    /// names what is out of range, for the engine to report as corrupt.
    pub fn from_stored(
        seq: i64,
        time_us: i64,
        risk: i64,
        threshold: i64,
        reasons: &str,
    ) -> Result<SignInScore, String> {
        Ok(SignInScore {
            seq,
            time_us,
            risk: u8::try_from(risk).map_err(|_| format!("stored risk {risk}"))?,
            threshold: u32::try_from(threshold)
                .map_err(|_| format!("stored threshold {threshold}"))?,
            reasons: SignInScore::reasons_from_json(reasons)?,
        })
    }
}

/// Refuses a call with more than [`MAX_SCORES_PER_CALL`] scores or sequences (each engine checks
/// first, so both refuse alike).
pub fn check_call_size(n: usize, what: &str) -> Result<(), StoreError> {
    if n > MAX_SCORES_PER_CALL {
        return Err(StoreError::new(
            StoreErrorKind::Invalid,
            format!("{n} {what} in one call; at most {MAX_SCORES_PER_CALL}"),
        ));
    }
    Ok(())
}

pub trait SignInScores: Send + Sync {
    /// Stores the scores of `tenant`'s sign-ins, in their [bounded](SignInScore::bounded) form,
    /// in one transaction. A sequence already scored keeps its first score (the same sign-in
    /// scored by two nodes, or again after a restart, is one row). A score whose sign-in is not
    /// stored (purged meanwhile, or never written) is skipped. Returns how many were new. More
    /// than [`MAX_SCORES_PER_CALL`] is refused as `Invalid`.
    fn record_sign_in_scores<'a>(
        &'a self,
        tenant: &'a Tenant,
        scores: &'a [SignInScore],
    ) -> BoxFuture<'a, Result<u64, StoreError>>;

    /// The scores of those of `seqs` that were scored, in ascending sequence order. More than
    /// [`MAX_SCORES_PER_CALL`] sequences is refused as `Invalid`.
    fn sign_in_scores<'a>(
        &'a self,
        tenant: &'a Tenant,
        seqs: &'a [i64],
    ) -> BoxFuture<'a, Result<Vec<SignInScore>, StoreError>>;
}
