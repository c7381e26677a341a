//! The transparency log's pure logic, shared by the checkpoint job, the proof APIs and the
//! offline verifier (`authtrail verify`): no I/O, no async, no clock.
//!
//! - [`merkle`]: RFC 6962/9162 leaf and node hashes, full subtrees named by [`merkle::NodeId`],
//!   the [`merkle::Frontier`] that appends leaves and yields the nodes to store.
//! - [`proof`]: inclusion and consistency proofs, made from stored nodes and verified.
//! - [`note`]: C2SP signed notes with Ed25519 keys, and verifier keys.
//! - [`checkpoint`]: C2SP tlog checkpoints (origin, size, root) as signed notes.
//! - [`cosignature`]: C2SP witness cosignatures (Ed25519, `cosignature/v1`).
//! - [`tiles`]: C2SP tlog-tiles paths: which tile of hashes or entries a request names.
//!
//! A leaf of authtrail's log is `leaf_hash(canonical bytes)` of one activity, the canonical
//! bytes being `authtrail_formats::canonical::encode`; `docs/integrity.md` specifies the whole.

pub mod checkpoint;
pub mod cosignature;
pub mod merkle;
pub mod note;
pub mod proof;
pub mod tiles;

pub use checkpoint::{Checkpoint, CheckpointError};
pub use cosignature::{CosignatureVerifier, Cosigner, check_cosignatures};
pub use merkle::{Frontier, Hash, NodeId, leaf_hash};
pub use note::{NoteError, NoteSigner, NoteVerifier, sign_note};
pub use proof::ProofError;

#[cfg(test)]
mod vectors;
