//! Inclusion and consistency proofs (RFC 9162 §2.1.3, §2.1.4): making them from stored full
//! nodes, and checking them.
//!
//! Making a proof needs node hashes that a store holds, and reading them is I/O, so the makers
//! are generic over a `get` function; [`inclusion_nodes`] and [`consistency_nodes`] first list the
//! nodes a proof will read, so that a caller can fetch them in one round trip.

use std::collections::BTreeSet;
use std::convert::Infallible;

use crate::merkle::{Hash, NodeId, node_hash, range_hash, split};

/// Why a proof cannot be made or does not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    #[error("index {index} is not below the tree size {size}")]
    IndexBeyondSize { index: u64, size: u64 },
    #[error("old size {old} is greater than the new size {new}")]
    OldBeyondNew { old: u64, new: u64 },
    #[error("a consistency proof from the empty tree means nothing")]
    EmptyOld,
    #[error("the proof has the wrong number of hashes")]
    WrongLength,
    #[error("a hash is not 32 bytes")]
    BadHash,
    #[error("the proof does not lead to the expected root")]
    RootMismatch,
}

/// RFC 9162 PATH(m, D[start:end]) over leaf indices, appended to `out` (lowest level first).
fn path<E>(
    m: u64,
    start: u64,
    end: u64,
    get: &mut impl FnMut(NodeId) -> Result<Hash, E>,
    out: &mut Vec<Hash>,
) -> Result<(), E> {
    let n = end - start;
    if n <= 1 {
        return Ok(());
    }
    let k = split(n);
    if m < k {
        path(m, start, start + k, get, out)?;
        out.push(range_hash(start + k, end, get)?);
    } else {
        path(m - k, start + k, end, get, out)?;
        out.push(range_hash(start, start + k, get)?);
    }
    Ok(())
}

/// RFC 9162 SUBPROOF(m, D[start:end], b), appended to `out`.
fn subproof<E>(
    m: u64,
    start: u64,
    end: u64,
    complete: bool,
    get: &mut impl FnMut(NodeId) -> Result<Hash, E>,
    out: &mut Vec<Hash>,
) -> Result<(), E> {
    let n = end - start;
    if m == n {
        if !complete {
            out.push(range_hash(start, end, get)?);
        }
        return Ok(());
    }
    let k = split(n);
    if m <= k {
        subproof(m, start, start + k, complete, get, out)?;
        out.push(range_hash(start + k, end, get)?);
    } else {
        subproof(m - k, start + k, end, false, get, out)?;
        out.push(range_hash(start, start + k, get)?);
    }
    Ok(())
}

/// The inclusion proof of leaf `index` in the tree of `size` leaves.
pub fn inclusion_proof<E>(
    index: u64,
    size: u64,
    get: &mut impl FnMut(NodeId) -> Result<Hash, E>,
) -> Result<Result<Vec<Hash>, E>, ProofError> {
    if index >= size {
        return Err(ProofError::IndexBeyondSize { index, size });
    }
    let mut out = Vec::new();
    Ok(path(index, 0, size, get, &mut out).map(|()| out))
}

/// The consistency proof from the tree of `old` leaves to the tree of `new` leaves (empty when
/// they are equal).
pub fn consistency_proof<E>(
    old: u64,
    new: u64,
    get: &mut impl FnMut(NodeId) -> Result<Hash, E>,
) -> Result<Result<Vec<Hash>, E>, ProofError> {
    if old > new {
        return Err(ProofError::OldBeyondNew { old, new });
    }
    if old == 0 {
        return Err(ProofError::EmptyOld);
    }
    let mut out = Vec::new();
    if old == new {
        return Ok(Ok(out));
    }
    Ok(subproof(old, 0, new, true, get, &mut out).map(|()| out))
}

/// Runs a proof maker with a `get` that only records which nodes it asks for.
fn recorded(make: impl FnOnce(&mut dyn FnMut(NodeId) -> Result<Hash, Infallible>)) -> Vec<NodeId> {
    let mut ids = BTreeSet::new();
    make(&mut |id| {
        ids.insert(id);
        Ok([0; 32])
    });
    ids.into_iter().collect()
}

/// The full nodes [`inclusion_proof`] reads.
pub fn inclusion_nodes(index: u64, size: u64) -> Result<Vec<NodeId>, ProofError> {
    if index >= size {
        return Err(ProofError::IndexBeyondSize { index, size });
    }
    Ok(recorded(|get| {
        let _ = inclusion_proof(index, size, &mut |id| get(id));
    }))
}

/// The full nodes [`consistency_proof`] reads.
pub fn consistency_nodes(old: u64, new: u64) -> Result<Vec<NodeId>, ProofError> {
    // Refuses what consistency_proof refuses; its hashes are not wanted here.
    let _ = consistency_proof::<Infallible>(old, new, &mut |_| Ok([0; 32]))?;
    Ok(recorded(|get| {
        let _ = consistency_proof(old, new, &mut |id| get(id));
    }))
}

fn hash_of(b: &[u8]) -> Result<Hash, ProofError> {
    b.try_into().map_err(|_| ProofError::BadHash)
}

/// Checks that `leaf` (a leaf hash) is leaf `index` of the tree of `size` leaves whose root is
/// `root` (RFC 9162 §2.1.3.2).
pub fn verify_inclusion(
    leaf: &[u8],
    index: u64,
    size: u64,
    proof: &[impl AsRef<[u8]>],
    root: &[u8],
) -> Result<(), ProofError> {
    if index >= size {
        return Err(ProofError::IndexBeyondSize { index, size });
    }
    let (mut f, mut s) = (index, size - 1);
    let mut r = hash_of(leaf)?;
    for p in proof {
        let p = hash_of(p.as_ref())?;
        if s == 0 {
            return Err(ProofError::WrongLength);
        }
        if f & 1 == 1 || f == s {
            r = node_hash(&p, &r);
            while f & 1 == 0 && f != 0 {
                f >>= 1;
                s >>= 1;
            }
        } else {
            r = node_hash(&r, &p);
        }
        f >>= 1;
        s >>= 1;
    }
    if s != 0 {
        return Err(ProofError::WrongLength);
    }
    if r[..] != *root {
        return Err(ProofError::RootMismatch);
    }
    Ok(())
}

/// Checks that the tree of `old` leaves with root `old_root` is a prefix of the tree of `new`
/// leaves with root `new_root` (RFC 9162 §2.1.4.2).
pub fn verify_consistency(
    old: u64,
    new: u64,
    proof: &[impl AsRef<[u8]>],
    old_root: &[u8],
    new_root: &[u8],
) -> Result<(), ProofError> {
    if old > new {
        return Err(ProofError::OldBeyondNew { old, new });
    }
    if old == 0 {
        return Err(ProofError::EmptyOld);
    }
    if old == new {
        if !proof.is_empty() {
            return Err(ProofError::WrongLength);
        }
        return if old_root == new_root {
            Ok(())
        } else {
            Err(ProofError::RootMismatch)
        };
    }
    let mut path = Vec::with_capacity(proof.len() + 1);
    if old.is_power_of_two() {
        path.push(hash_of(old_root)?);
    }
    for p in proof {
        path.push(hash_of(p.as_ref())?);
    }
    let Some((first, rest)) = path.split_first() else {
        return Err(ProofError::WrongLength);
    };
    let (mut f, mut s) = (old - 1, new - 1);
    while f & 1 == 1 {
        f >>= 1;
        s >>= 1;
    }
    let (mut fr, mut sr) = (*first, *first);
    for c in rest {
        if s == 0 {
            return Err(ProofError::WrongLength);
        }
        if f & 1 == 1 || f == s {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            while f & 1 == 0 && f != 0 {
                f >>= 1;
                s >>= 1;
            }
        } else {
            sr = node_hash(&sr, c);
        }
        f >>= 1;
        s >>= 1;
    }
    if s != 0 {
        return Err(ProofError::WrongLength);
    }
    if fr[..] != *old_root || sr[..] != *new_root {
        return Err(ProofError::RootMismatch);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::merkle::{Frontier, leaf_hash};
    use crate::vectors::{self, LEAF_INPUTS, ROOTS, hx};

    fn tree(n: u64) -> (HashMap<NodeId, Hash>, Vec<Hash>) {
        let mut f = Frontier::new();
        let mut nodes = HashMap::new();
        let mut roots = vec![f.root()];
        for i in 0..n {
            nodes.extend(f.push(leaf_hash(&i.to_be_bytes())));
            roots.push(f.root());
        }
        (nodes, roots)
    }

    #[test]
    fn transparency_dev_inclusion_vectors() {
        for v in vectors::inclusion() {
            let got = verify_inclusion(&v.leaf_hash, v.leaf_idx, v.tree_size, &v.proof, &v.root);
            assert_eq!(got.is_err(), v.want_err, "{}: {got:?}", v.file);
        }
    }

    #[test]
    fn transparency_dev_consistency_vectors() {
        for v in vectors::consistency() {
            let got = verify_consistency(v.size1, v.size2, &v.proof, &v.root1, &v.root2);
            assert_eq!(got.is_err(), v.want_err, "{}: {got:?}", v.file);
        }
    }

    #[test]
    fn made_proofs_match_the_vectors_and_verify() {
        let mut f = Frontier::new();
        let mut nodes = HashMap::new();
        for input in LEAF_INPUTS {
            nodes.extend(f.push(leaf_hash(&hx(input))));
        }
        let mut get = |id: NodeId| Ok::<_, Infallible>(nodes[&id]);
        for v in vectors::inclusion().iter().filter(|v| !v.want_err) {
            let proof = inclusion_proof(v.leaf_idx, v.tree_size, &mut get)
                .unwrap()
                .unwrap();
            let proof: Vec<Vec<u8>> = proof.iter().map(|h| h.to_vec()).collect();
            assert_eq!(proof, v.proof, "{}", v.file);
        }
        for v in vectors::consistency().iter().filter(|v| !v.want_err) {
            if v.size2 > 8 || v.size1 == 0 || v.size1 == v.size2 {
                continue;
            }
            let proof = consistency_proof(v.size1, v.size2, &mut get)
                .unwrap()
                .unwrap();
            let proof: Vec<Vec<u8>> = proof.iter().map(|h| h.to_vec()).collect();
            assert_eq!(proof, v.proof, "{}", v.file);
            assert_eq!(hex::encode(v.root2.as_slice()), ROOTS[v.size2 as usize]);
        }
    }

    #[test]
    fn every_proof_of_a_small_tree_verifies_and_reads_only_listed_nodes() {
        let (nodes, roots) = tree(70);
        for size in 1..=70u64 {
            for index in 0..size {
                let listed = inclusion_nodes(index, size).unwrap();
                let proof = inclusion_proof(index, size, &mut |id: NodeId| {
                    assert!(listed.contains(&id));
                    assert!(id.end() <= size, "{id:?} is not yet full at {size}");
                    Ok::<_, Infallible>(nodes[&id])
                })
                .unwrap()
                .unwrap();
                let leaf = leaf_hash(&index.to_be_bytes());
                verify_inclusion(&leaf, index, size, &proof, &roots[size as usize]).unwrap();
                let other = leaf_hash(b"x");
                assert!(
                    verify_inclusion(&other, index, size, &proof, &roots[size as usize]).is_err()
                );
            }
            for old in 1..=size {
                let listed = consistency_nodes(old, size).unwrap();
                let proof = consistency_proof(old, size, &mut |id: NodeId| {
                    assert!(listed.contains(&id));
                    Ok::<_, Infallible>(nodes[&id])
                })
                .unwrap()
                .unwrap();
                let (o, n) = (&roots[old as usize], &roots[size as usize]);
                verify_consistency(old, size, &proof, o, n).unwrap();
                if old < size {
                    assert!(verify_consistency(old, size, &proof, n, n).is_err());
                }
            }
        }
    }

    #[test]
    fn bad_requests_are_refused() {
        let mut get = |_| Ok::<_, Infallible>([0; 32]);
        assert_eq!(
            inclusion_proof(3, 3, &mut get).unwrap_err(),
            ProofError::IndexBeyondSize { index: 3, size: 3 }
        );
        assert_eq!(
            consistency_proof(4, 3, &mut get).unwrap_err(),
            ProofError::OldBeyondNew { old: 4, new: 3 }
        );
        assert_eq!(consistency_nodes(0, 3).unwrap_err(), ProofError::EmptyOld);
    }
}
