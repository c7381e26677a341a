//! How both engines lay the tree's node hashes out on disk: in *strips*, the hashes of 256
//! consecutive nodes of one level in one row (`(tenant, level, strip)` → up to 8 KiB), the way
//! C2SP tlog-tiles groups them.
//!
//! A row per node cost 96.8 bytes per activity on SQLite and 233.5 on PostgreSQL (two nodes per
//! leaf, each with its key, row header and index entry); a strip costs 32 bytes per node and one
//! key per 256 nodes: 70.5 and 77.8 bytes per activity (30,000 demo activities). The tree only ever grows at its right edge,
//! so each level's last strip is the only one that changes, by appending.

use super::log_tree::TreeNode;
use super::{StoreError, StoreErrorKind};

/// Nodes per strip (a full tlog tile's width).
pub const STRIP_NODES: u64 = 256;
/// Bytes of one node hash.
pub const HASH_BYTES: usize = 32;

/// New hashes for the end of one strip: `bytes` go after the strip's first `slot` hashes, which
/// the strip must already hold (0 for a strip not stored yet).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StripAppend {
    pub level: u8,
    pub strip: u64,
    pub slot: u64,
    pub bytes: Vec<u8>,
}

impl StripAppend {
    /// The strip's length in bytes before this append: what the store checks it holds.
    pub fn stored_len(&self) -> usize {
        self.slot as usize * HASH_BYTES
    }
}

/// Groups the nodes of a growth from `from` to `to` leaves into per-strip appends. A tree of
/// `n` leaves has exactly `n >> level` full nodes on each level, so the growth must bring the
/// nodes `from >> level .. to >> level` of every level, in order and without a hole; anything
/// else is refused, since a strip can only be appended to and the stored tree must stay the
/// shape its size says.
pub fn appends(from: u64, to: u64, nodes: &[TreeNode]) -> Result<Vec<StripAppend>, StoreError> {
    let mut sorted: Vec<&TreeNode> = nodes.iter().collect();
    sorted.sort_by_key(|n| (n.level, n.index));
    let mut out: Vec<StripAppend> = Vec::new();
    let mut next = (u8::MAX, 0);
    for n in sorted {
        if n.level != next.0 {
            // A new level: its first new node is the one after the stored ones.
            if next.0 != u8::MAX && next.1 != to >> next.0 {
                return Err(shape(next.0, from, to));
            }
            next = (n.level, from.checked_shr(n.level.into()).unwrap_or(0));
        }
        if n.index != next.1 {
            return Err(gap(n));
        }
        next.1 += 1;
        let (strip, slot) = (n.index / STRIP_NODES, n.index % STRIP_NODES);
        match out.last_mut() {
            Some(a) if a.level == n.level && a.strip == strip => a.bytes.extend_from_slice(&n.hash),
            _ => out.push(StripAppend {
                level: n.level,
                strip,
                slot,
                bytes: n.hash.to_vec(),
            }),
        }
    }
    if next.0 != u8::MAX && next.1 != to >> next.0 {
        return Err(shape(next.0, from, to));
    }
    // Every level that gains a node must be there (they are the levels below the highest).
    let levels = out
        .iter()
        .map(|a| a.level)
        .collect::<std::collections::BTreeSet<_>>();
    for level in 0..64u8 {
        let gains = (to >> level) > (from >> level);
        if gains != levels.contains(&level) {
            return Err(shape(level, from, to));
        }
        if to >> level == 0 {
            break;
        }
    }
    Ok(out)
}

fn shape(level: u8, from: u64, to: u64) -> StoreError {
    StoreError::new(
        StoreErrorKind::Invalid,
        format!(
            "a growth from {from} to {to} leaves brings level {level}'s nodes {} to {}, no more, \
             no fewer",
            from >> level,
            (to >> level).saturating_sub(1)
        ),
    )
}

fn gap(n: &TreeNode) -> StoreError {
    StoreError::new(
        StoreErrorKind::Invalid,
        format!(
            "tree node {}/{} does not follow the stored nodes and the one before it",
            n.level, n.index
        ),
    )
}

/// The refusal when a stored strip is not as long as an append expects: the stored tree and
/// its size disagree.
pub fn not_contiguous(a: &StripAppend, stored: usize) -> StoreError {
    StoreError::new(
        StoreErrorKind::Corrupt,
        format!(
            "log strip {}/{} holds {} hashes, not the {} this growth follows",
            a.level,
            a.strip,
            stored / HASH_BYTES,
            a.slot
        ),
    )
}

/// The distinct strips that hold `ids` (`(level, index)`), sorted.
pub fn strips_of(ids: &[(u8, u64)]) -> Vec<(u8, u64)> {
    let mut s: Vec<(u8, u64)> = ids.iter().map(|&(l, i)| (l, i / STRIP_NODES)).collect();
    s.sort_unstable();
    s.dedup();
    s
}

/// The nodes among `ids` that the fetched strips hold (`strip` maps `(level, strip)` to its
/// bytes); absent ones are left out.
pub fn pick<'s>(
    ids: &[(u8, u64)],
    strip: impl Fn(u8, u64) -> Option<&'s [u8]>,
) -> Result<Vec<TreeNode>, StoreError> {
    let mut out = Vec::with_capacity(ids.len());
    for &(level, index) in ids {
        let Some(bytes) = strip(level, index / STRIP_NODES) else {
            continue;
        };
        if bytes.len() % HASH_BYTES != 0 {
            return Err(StoreError::new(
                StoreErrorKind::Corrupt,
                format!(
                    "log strip {level}/{} is not whole hashes",
                    index / STRIP_NODES
                ),
            ));
        }
        let at = (index % STRIP_NODES) as usize * HASH_BYTES;
        if let Some(h) = bytes.get(at..at + HASH_BYTES) {
            let hash = h.try_into().expect("32 bytes");
            out.push(TreeNode { level, index, hash });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(level: u8, index: u64) -> TreeNode {
        TreeNode {
            level,
            index,
            hash: [index as u8 ^ level; 32],
        }
    }

    #[test]
    fn a_growth_becomes_one_append_per_strip_and_level() {
        // From 510 to 516 leaves: leaves 510..516, level-1 nodes 255..258, level-2 nodes
        // 127..129, and one node on each level up to 9 (516 passes 512).
        let nodes: Vec<TreeNode> = (0..10u8)
            .flat_map(|l| (510u64 >> l..516u64 >> l).map(move |i| node(l, i)))
            .collect();
        let got = appends(510, 516, &nodes).unwrap();
        let shape: Vec<_> = got
            .iter()
            .map(|a| (a.level, a.strip, a.slot, a.bytes.len() / HASH_BYTES))
            .collect();
        assert_eq!(
            shape[..6],
            [
                (0, 1, 254, 2),
                (0, 2, 0, 4),
                (1, 0, 255, 1),
                (1, 1, 0, 2),
                (2, 0, 127, 2),
                (3, 0, 63, 1)
            ]
        );
        assert_eq!(shape.len(), 12);
        assert_eq!(got[0].stored_len(), 254 * 32);
        assert_eq!(&got[1].bytes[32..64], &node(0, 257).hash);
    }

    #[test]
    fn a_growth_of_another_shape_is_refused() {
        for (from, to, nodes) in [
            (3, 6, vec![node(0, 3), node(0, 5), node(1, 2)]),
            (3, 6, vec![node(0, 4), node(0, 5), node(1, 2)]),
            (3, 6, vec![node(0, 3), node(0, 4), node(0, 5)]),
            (
                3,
                6,
                vec![node(0, 3), node(0, 4), node(0, 5), node(1, 2), node(2, 1)],
            ),
        ] {
            let err = appends(from, to, &nodes).unwrap_err();
            assert_eq!(err.kind(), StoreErrorKind::Invalid, "{err}");
        }
    }

    #[test]
    fn nodes_are_read_out_of_their_strips() {
        let strip: Vec<u8> = (0..3).flat_map(|i| node(0, 256 + i).hash).collect();
        let got = pick(&[(0, 257), (0, 259), (0, 3), (1, 0)], |l, s| {
            (l == 0 && s == 1).then_some(&strip[..])
        })
        .unwrap();
        assert_eq!(got, [node(0, 257)], "absent nodes are left out");
        assert_eq!(
            strips_of(&[(0, 3), (1, 0), (0, 257), (0, 2)]),
            [(0, 0), (0, 1), (1, 0)]
        );
        let torn = [0u8; 40];
        assert!(pick(&[(0, 0)], |_, _| Some(&torn[..])).is_err());
    }
}
