//! Offline verification of an export against a signed checkpoint (`authtrail verify`): rebuild
//! the tenant's Merkle tree from the exported rows and compare its root with the checkpoint's.
//!
//! The root alone says *whether* the rows are what the log committed to, not *which* row
//! differs. To name it, the verifier can also be given the log's leaf hashes (`authtrail export
//! --log`, read from the tree the store keeps apart from the rows): they are first checked
//! against the signed root, so they are as trustworthy as the checkpoint, then each row's leaf
//! is compared with its own. A missing or misplaced uniqueQualifier is found from the sequence
//! alone. Memory stays flat apart from the leaves (32 bytes per activity).
//!
//! Retention removes the oldest activities, so an export may start after uniqueQualifier 1. Such
//! a missing *prefix* is reported as pruned, not as tampering: the tree keeps their leaves, so with
//! the log's leaves the rest is still checked against the root (tlog-tiles' minimum index). Without
//! them the root cannot be rebuilt, and the report says so rather than claiming a match.
//!
//! A per-subject erasure (`crate::erasure`) rewrites rows, so their content no longer hashes to
//! their leaf. Such a row carries `erasedBy: N`; it is accepted — reported as erased, not as
//! altered — only when activity N is a `subject.erase` record whose own content matches its leaf
//! and whose `erased` list names the row. Its leaf is then the log's, so everything else is still
//! checked against the root; without the log's leaves an erased row, like a pruned one, means the
//! root cannot be rebuilt.

use std::collections::HashMap;

use authtrail_integrity::{Checkpoint, Frontier, Hash};
use authtrail_model::erasure::decode_ranges;
use authtrail_model::{Activity, ParamValue};

use crate::log::leaf;

/// At most this many findings are kept; the count goes on.
pub const MAX_FINDINGS: usize = 100;

/// Something in the export that the checkpoint does not vouch for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finding {
    /// This row's content is not what the log committed to (an edited or swapped row).
    Altered(i64),
    /// No row has this uniqueQualifier, though later ones follow (a deleted row).
    Missing(i64),
    /// This row comes after a larger uniqueQualifier (a duplicated or moved row).
    OutOfOrder(i64),
    /// The rows end before the checkpoint's size: this uniqueQualifier and every later one up
    /// to the size are missing (a truncated log).
    Truncated { from: i64, size: u64 },
    /// The rows do not rebuild the checkpoint's root; without the log's leaves the row at fault
    /// cannot be named.
    RootMismatch,
    /// This row says it was erased by the record `by`, but no verified erasure record `by`
    /// covers it: its content was changed (`after_checkpoint`: the record is newer than the
    /// checkpoint, so a later checkpoint may vouch for it).
    ErasedUnproven {
        seq: i64,
        by: i64,
        after_checkpoint: bool,
    },
}

impl Finding {
    /// The uniqueQualifier it names, if any (to order findings).
    pub fn sequence(&self) -> Option<i64> {
        match self {
            Finding::Altered(s) | Finding::Missing(s) | Finding::OutOfOrder(s) => Some(*s),
            Finding::Truncated { from, .. } => Some(*from),
            Finding::ErasedUnproven { seq, .. } => Some(*seq),
            Finding::RootMismatch => None,
        }
    }
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Finding::Altered(s) => write!(
                f,
                "uniqueQualifier {s}: the content does not match the log (edited or swapped)"
            ),
            Finding::Missing(s) => write!(f, "uniqueQualifier {s}: missing (deleted)"),
            Finding::OutOfOrder(s) => {
                write!(f, "uniqueQualifier {s}: out of order (duplicated or moved)")
            }
            Finding::Truncated { from, size } => write!(
                f,
                "uniqueQualifier {from}: missing, and every later one up to {size} (truncated)"
            ),
            Finding::RootMismatch => write!(
                f,
                "the rows do not rebuild the checkpoint's root hash (give the log's leaves with \
                 --log to name the row)"
            ),
            Finding::ErasedUnproven {
                seq,
                by,
                after_checkpoint: true,
            } => write!(
                f,
                "uniqueQualifier {seq}: marked erased by {by}, which is newer than the checkpoint \
                 (verify against a checkpoint that covers {by})"
            ),
            Finding::ErasedUnproven { seq, by, .. } => write!(
                f,
                "uniqueQualifier {seq}: marked erased by {by}, but no verified erasure record \
                 {by} covers it (edited)"
            ),
        }
    }
}

/// The log's leaf hashes do not rebuild the checkpoint's root: they are not this log's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the log's leaf hashes ({got} of them) do not lead to the checkpoint's root at size {size}"
)]
pub struct LeavesMismatch {
    pub got: u64,
    pub size: u64,
}

/// The outcome of an audit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// The checkpoint's tree size.
    pub size: u64,
    /// Rows read.
    pub rows: u64,
    /// Rows beyond the checkpoint (newer than it, so not vouched for by it).
    pub beyond: u64,
    /// The uniqueQualifiers `1..=pruned` are absent from the start of the export: removed by
    /// retention (or by whoever could delete the oldest rows: compare with the retention policy).
    pub pruned: u64,
    /// Whether the rows were checked against the checkpoint's root (always with the log's
    /// leaves; without them only when nothing was pruned).
    pub root_checked: bool,
    /// What was found, in the order of the sequence (at most [`MAX_FINDINGS`]).
    pub findings: Vec<Finding>,
    /// How many findings there were in all.
    pub found: u64,
    /// Erased rows accepted: (uniqueQualifier, the erasure record's), in order (at most
    /// [`MAX_FINDINGS`]; `erased` counts them all).
    pub erased_rows: Vec<(i64, i64)>,
    pub erased: u64,
}

impl Report {
    /// True when every row up to the checkpoint's size, past the pruned prefix, is exactly what
    /// it committed to.
    pub fn ok(&self) -> bool {
        self.found == 0 && self.root_checked
    }

    /// The first finding by uniqueQualifier.
    pub fn first(&self) -> Option<&Finding> {
        self.findings.first()
    }
}

/// One tenant's rows, fed in export order, checked against a verified checkpoint.
pub struct Audit {
    checkpoint: Checkpoint,
    leaves: Option<Vec<Hash>>,
    frontier: Frontier,
    /// The next uniqueQualifier expected.
    next: i64,
    /// Whether a row was seen yet (the first one may follow a pruned prefix).
    started: bool,
    pruned: u64,
    rows: u64,
    beyond: u64,
    findings: Vec<Finding>,
    found: u64,
    erasures: Erasures,
}

/// The ranges an activity erased, if it is a `subject.erase` record.
fn erasure_ranges(a: &Activity) -> Option<Vec<(i64, i64)>> {
    if a.application != "admin" {
        return None;
    }
    let e = a.body.events.iter().find(|e| e.name == "subject.erase")?;
    match e.param("erased") {
        Some(ParamValue::Str(s)) => decode_ranges(s).ok(),
        _ => None,
    }
}

/// Rows that do not hash to their leaf because an erasure rewrote them, matched with the erasure
/// records that vouch for them: what `verify` and a restore of the log (`import --log`) check.
/// Rows are fed in sequence order; a record comes after the rows it erased.
#[derive(Default)]
pub struct Erasures {
    /// Rows marked erased: (uniqueQualifier, the record's).
    marked: Vec<(i64, i64)>,
    /// Records whose own content matched their leaf: uniqueQualifier → the ranges they erased.
    records: HashMap<i64, Vec<(i64, i64)>>,
}

/// What an audit needs of a row besides its leaf: its place, the erasure record it says rewrote
/// it, and the rows it erased if it is itself such a record. Offline verify takes these where it
/// decoded the row, so that the row itself is freed by the thread that allocated it.
pub struct RowFacts {
    pub unique_qualifier: i64,
    pub erased_by: Option<i64>,
    erases: Option<Vec<(i64, i64)>>,
}

impl RowFacts {
    pub fn of(a: &Activity) -> RowFacts {
        RowFacts {
            unique_qualifier: a.unique_qualifier,
            erased_by: a.body.erased_by.map(|by| by.0),
            erases: erasure_ranges(a),
        }
    }
}

impl Erasures {
    /// Notes a row whose leaf is known. `matches`: its content hashes to its leaf. False when the
    /// row is simply altered (not marked erased).
    pub fn row(&mut self, a: &Activity, matches: bool) -> bool {
        self.facts(RowFacts::of(a), matches)
    }

    fn facts(&mut self, f: RowFacts, matches: bool) -> bool {
        match (matches, f.erased_by) {
            (true, _) => {
                if let Some(ranges) = f.erases {
                    self.records.insert(f.unique_qualifier, ranges);
                }
                true
            }
            (false, Some(by)) => {
                self.marked.push((f.unique_qualifier, by));
                true
            }
            (false, None) => false,
        }
    }

    /// Notes a row marked erased whose leaf is unknown (nothing about it can be proven).
    fn unknown(&mut self, f: &RowFacts) {
        if let Some(by) = f.erased_by {
            self.marked.push((f.unique_qualifier, by));
        }
    }

    /// Every marked row, with whether a verified record names it, in sequence order.
    pub fn settle(self) -> impl Iterator<Item = (i64, i64, bool)> {
        let records = self.records;
        self.marked.into_iter().map(move |(seq, by)| {
            let covered = records
                .get(&by)
                .is_some_and(|r| r.iter().any(|(a, b)| (*a..=*b).contains(&seq)));
            (seq, by, covered)
        })
    }
}

/// The `erasedBy` of an entry's canonical bytes (the tile entry bundle's form): the erasure
/// record an online verifier must check before accepting an entry that does not hash to its leaf.
pub fn entry_erased_by(canonical: &[u8]) -> Option<i64> {
    let v: serde_json::Value = serde_json::from_slice(canonical).ok()?;
    v["body"]["erasedBy"].as_str()?.parse().ok()
}

/// Whether the canonical bytes of an activity (which the caller has proven to be its leaf) are a
/// `subject.erase` record that names uniqueQualifier `seq`.
pub fn entry_erases(canonical: &[u8], seq: i64) -> bool {
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(canonical) else {
        return false;
    };
    if v["application"] != "admin" {
        return false;
    }
    let Some(events) = v["body"]["events"].as_array() else {
        return false;
    };
    events
        .iter()
        .filter(|e| e["name"] == "subject.erase")
        .flat_map(|e| e["parameters"].as_array().into_iter().flatten())
        .filter(|p| p["name"] == "erased")
        .filter_map(|p| decode_ranges(p["value"].as_str()?).ok())
        .any(|ranges| ranges.iter().any(|(a, b)| (*a..=*b).contains(&seq)))
}

impl Audit {
    /// An audit against `checkpoint` (whose signature the caller has verified), with the log's
    /// leaf hashes when they are known; they must rebuild the checkpoint's root.
    pub fn new(checkpoint: Checkpoint, leaves: Option<Vec<Hash>>) -> Result<Audit, LeavesMismatch> {
        if let Some(l) = &leaves {
            let mut f = Frontier::new();
            for h in l.iter().take(checkpoint.size as usize) {
                f.push(*h);
            }
            if f.size() != checkpoint.size || f.root() != checkpoint.root {
                return Err(LeavesMismatch {
                    got: l.len() as u64,
                    size: checkpoint.size,
                });
            }
        }
        Ok(Audit {
            checkpoint,
            leaves,
            frontier: Frontier::new(),
            next: 1,
            started: false,
            pruned: 0,
            rows: 0,
            beyond: 0,
            findings: Vec::new(),
            found: 0,
            erasures: Erasures::default(),
        })
    }

    fn find(&mut self, f: Finding) {
        self.found += 1;
        if self.findings.len() < MAX_FINDINGS {
            self.findings.push(f);
        }
    }

    /// Checks the next row.
    pub fn row(&mut self, a: &Activity) {
        self.row_with_leaf(RowFacts::of(a), leaf(a));
    }

    /// Checks the next row, of which the caller took the facts and computed the leaf hash `h`
    /// ([`crate::log::leaf`]): offline verify does both on every core, and feeds the rows in
    /// file order.
    pub fn row_with_leaf(&mut self, f: RowFacts, h: Hash) {
        self.rows += 1;
        let uq = f.unique_qualifier;
        let size = self.checkpoint.size as i64;
        if uq < self.next {
            // A row found missing at its place that turns up later was moved, not deleted.
            match self
                .findings
                .iter_mut()
                .find(|f| **f == Finding::Missing(uq))
            {
                Some(f) => *f = Finding::OutOfOrder(uq),
                None => self.find(Finding::OutOfOrder(uq)),
            }
            return;
        }
        if uq > size {
            self.beyond += 1;
            self.next = uq + 1;
            return;
        }
        if !self.started && uq > 1 {
            // A missing prefix is what retention leaves.
            self.pruned = uq as u64 - 1;
            self.next = uq;
        }
        self.started = true;
        if uq > self.next {
            for missing in self.next..uq {
                self.find(Finding::Missing(missing));
            }
        }
        self.next = uq + 1;
        let erased = f.erased_by.is_some();
        match self.leaves.as_ref().map(|l| l[uq as usize - 1] == h) {
            Some(matches) => {
                if !self.erasures.facts(f, matches) {
                    self.find(Finding::Altered(uq));
                }
            }
            // Without the leaves an erased row's leaf is unknown: like a pruned one, it stops
            // the rebuild of the tree (the report says the root was not checked).
            None => self.erasures.unknown(&f),
        }
        // The tree can be rebuilt only while no row is missing or erased.
        if self.frontier.size() == uq as u64 - 1 && !erased {
            self.frontier.push(h);
        }
    }

    /// The report, once every row is fed.
    pub fn finish(mut self) -> Report {
        let size = self.checkpoint.size;
        let last = (self.next - 1).min(size as i64);
        if last < size as i64 && last as u64 > self.pruned.min(size) {
            self.find(Finding::Truncated {
                from: last + 1,
                size,
            });
        }
        if last < size as i64 && last as u64 <= self.pruned.min(size) && size > 0 {
            // Nothing at all below the checkpoint's size (every row pruned, or none exported).
            self.find(Finding::Truncated {
                from: last + 1,
                size,
            });
        }
        // An erased row stands only on a verified record that names it.
        let (mut erased_rows, mut erased) = (Vec::new(), 0);
        for (seq, by, covered) in std::mem::take(&mut self.erasures).settle() {
            if covered {
                erased += 1;
                if erased_rows.len() < MAX_FINDINGS {
                    erased_rows.push((seq, by));
                }
            } else if self.leaves.is_some() {
                self.find(Finding::ErasedUnproven {
                    seq,
                    by,
                    after_checkpoint: by > size as i64,
                });
            } else {
                // Nothing can be proven without the leaves; the root is not checked either.
                erased += 1;
            }
        }
        // With the leaves, the root was checked when the audit began, and each row against its
        // leaf; without them, only a tree rebuilt from uniqueQualifier 1 can be compared, and
        // only when no row was erased.
        let root_checked = self.leaves.is_some() || (self.pruned == 0 && erased == 0);
        if self.found == 0
            && self.leaves.is_none()
            && root_checked
            && self.frontier.root() != self.checkpoint.root
        {
            self.find(Finding::RootMismatch);
        }
        self.findings
            .sort_by_key(|f| f.sequence().unwrap_or(i64::MAX));
        Report {
            size,
            rows: self.rows,
            beyond: self.beyond,
            pruned: self.pruned,
            root_checked,
            findings: self.findings,
            found: self.found,
            erased_rows,
            erased,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Source;
    use crate::testing::{fixture, tenant};
    use authtrail_integrity::NoteVerifier;

    #[tokio::test]
    async fn each_kind_of_tampering_is_named() {
        let f = fixture().await;
        let (s, t) = (&f.service, tenant("acme"));
        let items: Vec<serde_json::Value> = (0..6)
            .map(|i| {
                serde_json::json!({
                    "id": {"applicationName": "login", "time": "2026-11-22T10:00:00.000000Z"},
                    "actor": {"email": format!("u{i}@example.com")},
                    "events": [{"name": "login_success"}]
                })
            })
            .collect();
        let batch = s.validate(&t, Source::Cli, &items).unwrap();
        s.store().append(&t, batch).await.unwrap();
        s.log_sync(&t).await.unwrap();
        let v = NoteVerifier::parse(&s.log_key(&t).await.unwrap()).unwrap();
        let cp = Checkpoint::open(&s.log_checkpoint(&t).await.unwrap().note, &v).unwrap();
        let leaves = s.log_leaves(&t, 0, 100).await.unwrap();
        let rows = s.store().tail(&t, 0, 100).await.unwrap();
        let audit = |rows: &[Activity], with_leaves: bool| {
            let mut a = Audit::new(cp.clone(), with_leaves.then(|| leaves.clone())).unwrap();
            rows.iter().for_each(|r| a.row(r));
            a.finish()
        };

        let ok = audit(&rows, true);
        assert!(ok.ok(), "{ok:?}");
        assert!(audit(&rows, false).ok());

        let mut edited = rows.clone();
        edited[2].body.ip_address = Some("198.51.100.1".into());
        assert_eq!(audit(&edited, true).first(), Some(&Finding::Altered(3)));
        assert_eq!(audit(&edited, false).first(), Some(&Finding::RootMismatch));

        let mut swapped = rows.clone();
        let (a, b) = (swapped[1].body.clone(), swapped[4].body.clone());
        (swapped[1].body, swapped[4].body) = (b, a);
        let r = audit(&swapped, true);
        assert_eq!(r.findings, vec![Finding::Altered(2), Finding::Altered(5)]);

        let deleted: Vec<_> = rows
            .iter()
            .filter(|a| a.unique_qualifier != 4)
            .cloned()
            .collect();
        assert_eq!(audit(&deleted, false).first(), Some(&Finding::Missing(4)));

        let truncated = &rows[..3];
        assert_eq!(
            audit(truncated, false).first(),
            Some(&Finding::Truncated { from: 4, size: 6 })
        );

        let mut moved = rows.clone();
        moved.swap(1, 2);
        assert_eq!(audit(&moved, false).first(), Some(&Finding::OutOfOrder(2)));

        // Retention removed the oldest two: reported as pruned; the rest still checks with the
        // leaves, and cannot without them.
        let retained = &rows[2..];
        let r = audit(retained, true);
        assert!(r.ok(), "{r:?}");
        assert_eq!(r.pruned, 2);
        let r = audit(retained, false);
        assert_eq!((r.found, r.root_checked, r.ok()), (0, false, false));
        let mut edited_retained = retained.to_vec();
        edited_retained[1].body.ip_address = Some("198.51.100.1".into());
        assert_eq!(
            audit(&edited_retained, true).first(),
            Some(&Finding::Altered(4))
        );

        // Leaves that are not the log's are refused before any row is read.
        let mut forged = leaves.clone();
        forged[0] = [0; 32];
        assert!(Audit::new(cp.clone(), Some(forged)).is_err());
    }
}
