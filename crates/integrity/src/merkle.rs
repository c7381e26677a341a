//! RFC 6962 / RFC 9162 Merkle tree hashing over a log whose leaves are numbered from 0.
//!
//! A tree is never held in memory whole. What is stored are the hashes of its *full* subtrees,
//! each named by a [`NodeId`] (`level`, `index`: the 2^level leaves from `index << level`); they
//! never change once the log has grown past them. Any other hash (a root, the right edge of a
//! proof) is computed from those with [`range_hash`]. A [`Frontier`] appends leaves one at a time
//! and yields the full nodes each append completes, which is what a store persists.

use sha2::{Digest, Sha256};

/// A SHA-256 hash.
pub type Hash = [u8; 32];

/// SHA-256 of the empty string: the root of the empty tree (RFC 9162 §2.1.1).
pub fn empty_root() -> Hash {
    Sha256::digest([]).into()
}

/// `SHA-256(0x00 || data)`: a leaf's hash.
pub fn leaf_hash(data: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(data);
    h.finalize().into()
}

/// `SHA-256(0x01 || left || right)`: an interior node's hash. The two prefixes keep a leaf from
/// ever passing for a node (second-preimage resistance).
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// A full subtree: the 2^`level` leaves starting at leaf `index << level`. Level 0 are leaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId {
    pub level: u8,
    pub index: u64,
}

impl NodeId {
    pub const fn new(level: u8, index: u64) -> NodeId {
        NodeId { level, index }
    }

    /// The first leaf it covers.
    pub fn start(self) -> u64 {
        self.index << self.level
    }

    /// One past the last leaf it covers.
    pub fn end(self) -> u64 {
        (self.index + 1) << self.level
    }
}

/// The largest power of two strictly less than `n` (`n` ≥ 2): RFC 9162's split point `k`.
pub(crate) fn split(n: u64) -> u64 {
    debug_assert!(n >= 2);
    1 << (63 - (n - 1).leading_zeros())
}

/// The full nodes whose hashes make up the tree of `size` leaves, largest (leftmost) first: one
/// per bit set in `size`. They are all a store needs to go on appending.
pub fn frontier_ids(size: u64) -> Vec<NodeId> {
    (0..64u8)
        .rev()
        .filter(|b| size >> b & 1 == 1)
        .map(|b| NodeId::new(b, (size >> b) - 1))
        .collect()
}

/// The hash of leaves `[start, end)` (`start < end`), computed from full nodes read with `get`.
/// The ranges RFC 9162's algorithms ask for are split at the largest power of two below their
/// size, which keeps every piece aligned, so each `get` asks for a node that exists once the log
/// holds `end` leaves.
pub fn range_hash<E>(
    start: u64,
    end: u64,
    get: &mut impl FnMut(NodeId) -> Result<Hash, E>,
) -> Result<Hash, E> {
    let n = end - start;
    if n.is_power_of_two() && start.is_multiple_of(n) {
        return get(NodeId::new(n.trailing_zeros() as u8, start / n));
    }
    let k = split(n);
    let left = range_hash(start, start + k, get)?;
    let right = range_hash(start + k, end, get)?;
    Ok(node_hash(&left, &right))
}

/// The right edge of a growing tree: the full nodes of [`frontier_ids`] with their hashes. It
/// appends leaves in order and computes roots in O(log n) memory; the offline verifier rebuilds
/// a whole tree with it, and the checkpoint job resumes one from the stored nodes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Frontier {
    size: u64,
    nodes: Vec<(NodeId, Hash)>,
}

/// Resuming a frontier from nodes that do not match its size.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("the nodes given are not the frontier of a tree of {0} leaves")]
pub struct BadFrontier(pub u64);

impl Frontier {
    /// The empty tree.
    pub fn new() -> Frontier {
        Frontier::default()
    }

    /// Resumes the tree of `size` leaves from its [`frontier_ids`] nodes (in that order).
    pub fn resume(size: u64, nodes: Vec<(NodeId, Hash)>) -> Result<Frontier, BadFrontier> {
        let ids = frontier_ids(size);
        if ids.len() != nodes.len() || ids.iter().zip(&nodes).any(|(a, (b, _))| a != b) {
            return Err(BadFrontier(size));
        }
        Ok(Frontier { size, nodes })
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    /// Appends a leaf hash and returns the full nodes it completes: the leaf itself, then each
    /// parent that now has both children (lowest first).
    pub fn push(&mut self, leaf: Hash) -> Vec<(NodeId, Hash)> {
        let n = self.size;
        let mut id = NodeId::new(0, n);
        let mut hash = leaf;
        let mut created = vec![(id, hash)];
        // Each trailing one bit of n is a full left sibling on the frontier to merge with.
        let mut level = 0u8;
        while n >> level & 1 == 1 {
            let (_, left) = self.nodes.pop().expect("a set bit has its frontier node");
            hash = node_hash(&left, &hash);
            level += 1;
            id = NodeId::new(level, n >> level);
            created.push((id, hash));
        }
        self.nodes.push((id, hash));
        self.size += 1;
        created
    }

    /// The root hash of the tree so far.
    pub fn root(&self) -> Hash {
        let mut it = self.nodes.iter().rev();
        let Some((_, last)) = it.next() else {
            return empty_root();
        };
        it.fold(*last, |acc, (_, left)| node_hash(left, &acc))
    }

    /// The frontier's nodes, largest first (what [`Frontier::resume`] takes).
    pub fn nodes(&self) -> &[(NodeId, Hash)] {
        &self.nodes
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::convert::Infallible;

    use super::*;
    use crate::vectors::{LEAF_INPUTS, NODE_HASHES, ROOTS, hx};

    #[test]
    fn hashes_and_roots_match_the_rfc6962_vectors() {
        assert_eq!(hex::encode(empty_root()), ROOTS[0]);
        let mut f = Frontier::new();
        let mut stored = HashMap::new();
        for (i, input) in LEAF_INPUTS.iter().enumerate() {
            for (id, h) in f.push(leaf_hash(&hx(input))) {
                assert!(stored.insert(id, h).is_none(), "{id:?} created twice");
            }
            assert_eq!(
                hex::encode(f.root()),
                ROOTS[i + 1],
                "root of size {}",
                i + 1
            );
        }
        // Every full node the frontier created is the reference's node hash.
        for (level, hashes) in NODE_HASHES.iter().enumerate() {
            for (index, want) in hashes.iter().enumerate() {
                let got = stored[&NodeId::new(level as u8, index as u64)];
                assert_eq!(hex::encode(got), *want, "node {level}/{index}");
            }
        }
        assert_eq!(stored.len(), 15);
        // Roots of every prefix, computed from the stored full nodes only.
        for size in 1..=8u64 {
            let root = range_hash(0, size, &mut |id| Ok::<_, Infallible>(stored[&id])).unwrap();
            assert_eq!(hex::encode(root), ROOTS[size as usize]);
        }
    }

    #[test]
    fn a_frontier_resumes_from_its_nodes() {
        let mut f = Frontier::new();
        for i in 0..13u8 {
            f.push(leaf_hash(&[i]));
            let g = Frontier::resume(f.size(), f.nodes().to_vec()).unwrap();
            assert_eq!(g, f);
            assert_eq!(
                f.nodes().iter().map(|(id, _)| *id).collect::<Vec<_>>(),
                frontier_ids(f.size())
            );
        }
        assert_eq!(
            Frontier::resume(3, vec![(NodeId::new(1, 0), [0; 32])]),
            Err(BadFrontier(3))
        );
    }

    #[test]
    fn split_is_the_largest_power_of_two_below() {
        assert_eq!(
            [2, 3, 4, 5, 8, 9, 1 << 40].map(split),
            [1, 2, 2, 4, 4, 8, 1 << 39]
        );
    }
}
