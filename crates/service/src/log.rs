//! The transparency log: each tenant's activities, in uniqueQualifier order, are the leaves of an
//! RFC 6962 Merkle tree (leaf `i` is the activity with uniqueQualifier `i + 1`, hashed as
//! `SHA-256(0x00 || canonical bytes)`), and signed C2SP checkpoints commit to it.
//!
//! - [`Service::log_sync`] hashes what is new and signs a checkpoint: the checkpoint job calls it
//!   for each tenant with news. It resumes from the stored tree size, so a crash loses nothing
//!   and repeats nothing; a growth another node made first is a conflict that it reads past.
//! - [`Service::log_checkpoint`], [`Service::log_key`], [`Service::inclusion_proof`] and
//!   [`Service::consistency_proof`] are what the read APIs serve.
//!
//! The default signing key is the store's server secret [`SIGNING_KEY`] (32 random bytes,
//! created at first use, sealed, and shared by every node, like the cursor key), used as an
//! Ed25519 private key; a tenant that rotated its key has a key ring of its own
//! ([`crate::log_keys`]). Each tenant's log signs under its own key name, its origin
//! `<log origin>/<tenant>`, so a tenant's verifier key verifies that tenant's checkpoints only.
//! Witnesses' cosignatures are served with the checkpoint ([`crate::log_witnesses`]).
//! `docs/integrity.md` specifies it all.

use std::collections::HashMap;

use authtrail_integrity::merkle::frontier_ids;
use authtrail_integrity::note::split_note;
use authtrail_integrity::tiles::{TILE_WIDTH, Tile};
use authtrail_integrity::{Checkpoint, Frontier, Hash, NodeId, proof, sign_note};
use authtrail_model::store::{SignedCheckpoint, StoreErrorKind, TreeNode};
use authtrail_model::{Activity, Tenant};

use crate::Service;
use crate::error::ServiceError;

/// The server secret whose 32 bytes are the log's default Ed25519 private key.
pub const SIGNING_KEY: &str = "log-signing-key";

/// The log origin used when none is configured (`log_origin`); see `docs/integrity.md`.
pub const DEFAULT_ORIGIN: &str = "authtrail.invalid";

/// Activities hashed per step of [`Service::log_sync`] (one tail read, one tree growth).
pub const SYNC_BATCH: usize = 5000;

/// At most this many batches per [`Service::log_sync`] before it signs and returns with
/// [`Synced::more`]: a large backlog (a node back after downtime) is then checkpointed as it is
/// hashed, every 50,000 activities, rather than once at the end.
pub const SYNC_BATCHES: usize = 10;

/// An RFC 6962 leaf hash of an activity: `SHA-256(0x00 || canonical bytes)`.
pub fn leaf(a: &Activity) -> Hash {
    thread_local! {
        // Leaves are computed by the hundred thousand (log sync, offline verify on every
        // core): each thread encodes into one buffer rather than allocating one per activity.
        static BYTES: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    BYTES.with_borrow_mut(|bytes| {
        bytes.clear();
        authtrail_formats::canonical::encode_into(a, bytes);
        let h = authtrail_integrity::leaf_hash(bytes);
        // A rare huge body (up to 16 MiB) is not kept for the thread's lifetime.
        bytes.truncate(0);
        bytes.shrink_to(64 * 1024);
        h
    })
}

/// What one [`Service::log_sync`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Synced {
    /// Leaves hashed by this call.
    pub hashed: u64,
    /// The tree's size afterwards.
    pub size: u64,
    /// Whether this call stored a new checkpoint.
    pub signed: bool,
    /// Whether more activities may be waiting (this call stopped after [`SYNC_BATCHES`]): call
    /// again.
    pub more: bool,
}

/// An inclusion proof, and the tree size it is against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InclusionProof {
    pub index: u64,
    pub size: u64,
    pub leaf: Hash,
    pub hashes: Vec<Hash>,
    /// The latest checkpoint, when the proof is against its size.
    pub checkpoint: Option<String>,
}

/// A consistency proof between two tree sizes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsistencyProof {
    pub old: u64,
    pub size: u64,
    pub hashes: Vec<Hash>,
    /// The latest checkpoint, when the proof leads to its size.
    pub checkpoint: Option<String>,
}

fn node(n: &TreeNode) -> (NodeId, Hash) {
    (NodeId::new(n.level, n.index), n.hash)
}

fn corrupt(what: String) -> ServiceError {
    ServiceError::internal(what)
}

impl Service {
    /// The origin (and key name) of `tenant`'s log.
    pub fn log_origin(&self, tenant: &Tenant) -> String {
        format!("{}/{tenant}", self.0.log_origin)
    }

    /// The frontier of the stored tree of `size` leaves.
    pub(crate) async fn frontier(
        &self,
        tenant: &Tenant,
        size: u64,
    ) -> Result<Frontier, ServiceError> {
        let ids = frontier_ids(size);
        let got = self.nodes(tenant, &ids).await?;
        let nodes = ids.iter().map(|id| (*id, got[id])).collect();
        Frontier::resume(size, nodes).map_err(|e| corrupt(e.to_string()))
    }

    /// The stored nodes `ids`, every one of which must exist.
    async fn nodes(
        &self,
        tenant: &Tenant,
        ids: &[NodeId],
    ) -> Result<HashMap<NodeId, Hash>, ServiceError> {
        let want = ids.iter().map(|id| (id.level, id.index)).collect();
        let got: HashMap<_, _> = self
            .store()
            .tree_nodes(tenant, want)
            .await?
            .iter()
            .map(node)
            .collect();
        if let Some(id) = ids.iter().find(|id| !got.contains_key(id)) {
            return Err(corrupt(format!(
                "tenant {tenant}: tree node {}/{} is missing",
                id.level, id.index
            )));
        }
        Ok(got)
    }

    /// Hashes `tenant`'s activities that are not in its tree yet, then signs and stores a
    /// checkpoint if the stored one is older than the tree. Safe to run on several nodes at
    /// once: the tree grows by compare-and-set, and a checkpoint replaces only a smaller one.
    pub async fn log_sync(&self, tenant: &Tenant) -> Result<Synced, ServiceError> {
        self.log_sync_in(tenant, SYNC_BATCH, SYNC_BATCHES).await
    }

    /// [`Service::log_sync`] with `batches` tail reads of `batch` activities at most.
    async fn log_sync_in(
        &self,
        tenant: &Tenant,
        batch_size: usize,
        batches: usize,
    ) -> Result<Synced, ServiceError> {
        let store = self.store();
        let mut out = Synced::default();
        let mut size = store.tree_size(tenant).await?;
        let mut frontier = self.frontier(tenant, size).await?;
        for round in 0.. {
            if round == batches {
                out.more = true;
                break;
            }
            let batch = store.tail(tenant, size as i64, batch_size).await?;
            if batch.is_empty() {
                break;
            }
            let mut grown = frontier.clone();
            let mut nodes = Vec::with_capacity(batch.len() * 2);
            for a in &batch {
                let want = grown.size() as i64 + 1;
                if a.unique_qualifier != want {
                    // Only a purge before hashing (or a deleted row) leaves a hole; the leaf is
                    // unknowable, so the tree cannot go on past it.
                    return Err(ServiceError::Conflict(format!(
                        "tenant {tenant}: uniqueQualifier {want} is missing from the store, \
                         so the log cannot be extended past {}",
                        want - 1
                    )));
                }
                for (id, hash) in grown.push(leaf(a)) {
                    nodes.push(TreeNode {
                        level: id.level,
                        index: id.index,
                        hash,
                    });
                }
            }
            match store.grow_tree(tenant, size, grown.size(), nodes).await {
                Ok(()) => {
                    out.hashed += grown.size() - size;
                    size = grown.size();
                    frontier = grown;
                }
                Err(e) if e.kind() == StoreErrorKind::Conflict => {
                    // Another node grew it first: go on from what it stored.
                    size = store.tree_size(tenant).await?;
                    frontier = self.frontier(tenant, size).await?;
                }
                Err(e) => return Err(e.into()),
            }
        }
        out.size = size;
        let stored = store.checkpoint(tenant).await?.map_or(0, |c| c.size);
        if size > stored {
            let cp = Checkpoint {
                origin: self.log_origin(tenant),
                size,
                root: frontier.root(),
            };
            let note = sign_note(&cp.text(), &self.log_signers(tenant, &cp.origin).await?)
                .map_err(ServiceError::internal)?;
            out.signed = store
                .save_checkpoint(tenant, SignedCheckpoint { size, note })
                .await?;
        }
        Ok(out)
    }

    /// `tenant`'s latest signed checkpoint, as it is served: its text signed by every current
    /// key of the tenant's log (the active one, and the next one during a rotation, so a
    /// checkpoint stored before a rotation started carries the new key's signature too), then
    /// the stored witness cosignatures of exactly this size and root. Before the first
    /// checkpoint is stored, the checkpoint of the empty tree: it commits to nothing, so every
    /// later checkpoint is consistent with it. Ed25519 signatures are deterministic, so the
    /// same keys sign the same text with the same bytes each time.
    pub async fn log_checkpoint(&self, tenant: &Tenant) -> Result<SignedCheckpoint, ServiceError> {
        let (size, text) = match self.store().checkpoint(tenant).await? {
            Some(cp) => {
                let (text, _) = split_note(&cp.note)
                    .map_err(|e| corrupt(format!("tenant {tenant}'s stored checkpoint: {e}")))?;
                (cp.size, text.to_string())
            }
            None => {
                let empty = Checkpoint {
                    origin: self.log_origin(tenant),
                    size: 0,
                    root: authtrail_integrity::merkle::empty_root(),
                };
                (0, empty.text())
            }
        };
        let cp = Checkpoint::parse_text(&text)
            .map_err(|e| corrupt(format!("tenant {tenant}'s stored checkpoint: {e}")))?;
        // Signed under its own origin line (the key name), which is this service's origin
        // unless the setting changed since it was stored.
        let mut note = sign_note(&text, &self.log_signers(tenant, &cp.origin).await?)
            .map_err(ServiceError::internal)?;
        for c in self.store().cosignatures(tenant, cp.size, cp.root).await? {
            note.push_str(&c.line);
            note.push('\n');
        }
        Ok(SignedCheckpoint { size, note })
    }

    /// The size a proof is against: `size`, or the latest checkpoint's. A size beyond the
    /// latest checkpoint has not been signed, so nobody can check a proof against it.
    async fn proof_size(
        &self,
        tenant: &Tenant,
        size: Option<u64>,
    ) -> Result<(u64, SignedCheckpoint), ServiceError> {
        let latest = self.log_checkpoint(tenant).await?;
        match size {
            None => Ok((latest.size, latest)),
            Some(0) => Err(ServiceError::field("size", "must be at least 1")),
            Some(s) if s > latest.size => Err(ServiceError::field(
                "size",
                format!("{s} is beyond the latest checkpoint's size {}", latest.size),
            )),
            Some(s) => Ok((s, latest)),
        }
    }

    /// The inclusion proof of leaf `index` (uniqueQualifier `index + 1`) in the tree of `size`
    /// leaves (default: the latest checkpoint's).
    pub async fn inclusion_proof(
        &self,
        tenant: &Tenant,
        index: u64,
        size: Option<u64>,
    ) -> Result<InclusionProof, ServiceError> {
        let (size, latest) = self.proof_size(tenant, size).await?;
        if index >= size {
            return Err(ServiceError::field(
                "index",
                format!("{index} is not below the tree size {size}"),
            ));
        }
        let mut ids = proof::inclusion_nodes(index, size).map_err(ServiceError::internal)?;
        ids.push(NodeId::new(0, index));
        let nodes = self.nodes(tenant, &ids).await?;
        let hashes = proof::inclusion_proof(index, size, &mut |id| Ok::<_, ()>(nodes[&id]))
            .map_err(ServiceError::internal)?
            .map_err(|()| corrupt("a proof node vanished".into()))?;
        Ok(InclusionProof {
            index,
            size,
            leaf: nodes[&NodeId::new(0, index)],
            hashes,
            checkpoint: (size == latest.size).then_some(latest.note),
        })
    }

    /// The inclusion proof of the activity with producer `eventId` `event_id`.
    pub async fn inclusion_proof_of_event(
        &self,
        tenant: &Tenant,
        event_id: &str,
        size: Option<u64>,
    ) -> Result<InclusionProof, ServiceError> {
        let seq = self
            .store()
            .event_sequence(tenant, event_id)
            .await?
            .ok_or_else(|| ServiceError::NotFound("no activity has this eventId".into()))?;
        let (limit, _) = self.proof_size(tenant, size).await?;
        if seq as u64 > limit {
            return Err(ServiceError::NotFound(
                "the activity with this eventId is not in a signed checkpoint yet".into(),
            ));
        }
        self.inclusion_proof(tenant, seq as u64 - 1, size).await
    }

    /// The consistency proof from the tree of `old` leaves to the tree of `size` leaves
    /// (default: the latest checkpoint's).
    pub async fn consistency_proof(
        &self,
        tenant: &Tenant,
        old: u64,
        size: Option<u64>,
    ) -> Result<ConsistencyProof, ServiceError> {
        let (size, latest) = self.proof_size(tenant, size).await?;
        if old == 0 || old > size {
            return Err(ServiceError::field(
                "old",
                format!("must be 1 to the tree size {size}"),
            ));
        }
        let ids = proof::consistency_nodes(old, size).map_err(ServiceError::internal)?;
        let nodes = self.nodes(tenant, &ids).await?;
        let hashes = proof::consistency_proof(old, size, &mut |id| Ok::<_, ()>(nodes[&id]))
            .map_err(ServiceError::internal)?
            .map_err(|()| corrupt("a proof node vanished".into()))?;
        Ok(ConsistencyProof {
            old,
            size,
            hashes,
            checkpoint: (size == latest.size).then_some(latest.note),
        })
    }

    /// A C2SP tlog-tiles resource of `tenant`'s log: a tile of hashes (their concatenation) or
    /// an entry bundle (each activity's canonical bytes after a big-endian u16 length). Only
    /// tiles within the latest checkpoint are served; entries a purge removed are not
    /// (tlog-tiles' pruning: their hashes stay available).
    pub async fn log_tile(&self, tenant: &Tenant, tile: Tile) -> Result<Vec<u8>, ServiceError> {
        let signed = self.log_checkpoint(tenant).await?.size;
        let needed = tile.leaves_needed().unwrap_or(u64::MAX);
        if needed > signed {
            return Err(ServiceError::NotFound(format!(
                "tile {} is beyond the latest checkpoint ({signed} entries)",
                tile.path()
            )));
        }
        if let Some(ids) = tile.nodes() {
            let nodes = self.nodes(tenant, &ids).await?;
            return Ok(ids.iter().flat_map(|id| nodes[id]).collect());
        }
        let start = tile.index * TILE_WIDTH;
        let rows = self
            .store()
            .tail(tenant, start as i64, tile.width as usize)
            .await?;
        let whole = rows.len() as u64 == tile.width
            && rows
                .iter()
                .zip(start as i64 + 1..)
                .all(|(a, want)| a.unique_qualifier == want);
        if !whole {
            return Err(ServiceError::NotFound(format!(
                "entries of tile {} were removed by retention (their hashes remain in the tree)",
                tile.path()
            )));
        }
        let mut out = Vec::new();
        for a in &rows {
            let bytes = authtrail_formats::canonical::encode(a);
            let len = u16::try_from(bytes.len()).map_err(|_| {
                ServiceError::Conflict(format!(
                    "activity {} is longer than the 65,535 bytes an entry bundle can hold; \
                     read it from /v1/activities",
                    a.unique_qualifier
                ))
            })?;
            out.extend_from_slice(&len.to_be_bytes());
            out.extend_from_slice(&bytes);
        }
        Ok(out)
    }

    /// Restores `tenant`'s tree from the leaf hashes of an `export --log` file, after its rows
    /// were imported: the log then goes on where the source's left off, even when retention had
    /// removed its oldest activities (whose leaves cannot be recomputed). Every stored row must
    /// hash to its leaf, and the tenant must have no tree yet. New checkpoints are signed with
    /// this store's key; a checkpoint of the source stays verifiable against this tree with the
    /// source's key (a consistency proof). Returns the tree size.
    pub async fn restore_log(&self, tenant: &Tenant, leaves: &[Hash]) -> Result<u64, ServiceError> {
        let store = self.store();
        let size = store.tree_size(tenant).await?;
        if size != 0 {
            return Err(ServiceError::Conflict(format!(
                "tenant {tenant} already has a log of {size} leaves"
            )));
        }
        let mut after = 0i64;
        // A row rewritten by a per-subject erasure stands on the record that erased it.
        let mut erasures = crate::log_audit::Erasures::default();
        'rows: loop {
            let batch = store.tail(tenant, after, SYNC_BATCH).await?;
            let Some(last) = batch.last() else { break };
            after = last.unique_qualifier;
            for a in &batch {
                let Some(want) = leaves.get(a.unique_qualifier as usize - 1) else {
                    break 'rows;
                };
                if !erasures.row(a, leaf(a) == *want) {
                    return Err(ServiceError::field(
                        "log",
                        format!(
                            "tenant {tenant}: activity {} does not hash to its leaf in the log file",
                            a.unique_qualifier
                        ),
                    ));
                }
            }
        }
        if let Some((seq, by, _)) = erasures.settle().find(|(_, _, covered)| !covered) {
            return Err(ServiceError::field(
                "log",
                format!(
                    "tenant {tenant}: activity {seq} is marked erased by {by}, which does not \
                     name it"
                ),
            ));
        }
        let mut f = Frontier::new();
        for chunk in leaves.chunks(SYNC_BATCH) {
            let from = f.size();
            let nodes = chunk
                .iter()
                .flat_map(|l| f.push(*l))
                .map(|(id, hash)| TreeNode {
                    level: id.level,
                    index: id.index,
                    hash,
                })
                .collect();
            store.grow_tree(tenant, from, f.size(), nodes).await?;
        }
        Ok(f.size())
    }

    /// Leaf hashes `from..from + n` of `tenant`'s tree (fewer at its end), for `authtrail
    /// export --log`.
    pub async fn log_leaves(
        &self,
        tenant: &Tenant,
        from: u64,
        n: u64,
    ) -> Result<Vec<Hash>, ServiceError> {
        let size = self.store().tree_size(tenant).await?;
        let ids: Vec<NodeId> = (from..(from + n).min(size))
            .map(|i| NodeId::new(0, i))
            .collect();
        let nodes = self.nodes(tenant, &ids).await?;
        Ok(ids.iter().map(|id| nodes[id]).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{fixture, tenant};
    use authtrail_integrity::proof::{verify_consistency, verify_inclusion};
    use authtrail_integrity::{Checkpoint, NoteVerifier};

    async fn ingest(s: &Service, t: &Tenant, n: usize, id: usize) {
        let items: Vec<serde_json::Value> = (0..n)
            .map(|i| {
                serde_json::json!({
                    "id": {"applicationName": "login", "time": "2026-11-22T10:00:00.000000Z"},
                    "eventId": format!("e-{}", id + i),
                    "actor": {"email": "ada@example.com"},
                    "events": [{"name": "login_success"}]
                })
            })
            .collect();
        let batch = s.validate(t, crate::Source::Cli, &items).unwrap();
        s.store().append(t, batch).await.unwrap();
    }

    #[tokio::test]
    async fn sync_hashes_signs_and_proofs_verify() {
        let f = fixture().await;
        let (s, t) = (&f.service, tenant("acme"));
        let empty = s.log_checkpoint(&t).await.unwrap();
        assert_eq!(empty.size, 0, "the empty tree's before any activity");
        ingest(s, &t, 5, 0).await;
        assert_eq!(
            s.log_sync(&t).await.unwrap(),
            Synced {
                hashed: 5,
                size: 5,
                signed: true,
                more: false,
            }
        );
        let vkey = s.log_key(&t).await.unwrap();
        assert!(vkey.starts_with("authtrail.invalid/acme+"), "{vkey}");
        let v = NoteVerifier::parse(&vkey).unwrap();
        let first = Checkpoint::open(&s.log_checkpoint(&t).await.unwrap().note, &v).unwrap();
        assert_eq!(first.size, 5);
        let empty = Checkpoint::open(&empty.note, &v).unwrap();
        assert_eq!(empty.root, authtrail_integrity::merkle::empty_root());

        // Nothing new: nothing hashed, nothing signed.
        assert!(!s.log_sync(&t).await.unwrap().signed);
        ingest(s, &t, 8, 5).await;
        assert_eq!(s.log_sync(&t).await.unwrap().hashed, 8);
        let cp = Checkpoint::open(&s.log_checkpoint(&t).await.unwrap().note, &v).unwrap();
        assert_eq!(cp.size, 13);

        for index in 0..13 {
            let p = s.inclusion_proof(&t, index, None).await.unwrap();
            let a = s.store().get(&t, index as i64 + 1).await.unwrap().unwrap();
            assert_eq!(p.leaf, leaf(&a));
            verify_inclusion(&p.leaf, index, 13, &p.hashes, &cp.root).unwrap();
            assert!(p.checkpoint.is_some());
        }
        let old = s.inclusion_proof(&t, 2, Some(5)).await.unwrap();
        verify_inclusion(&old.leaf, 2, 5, &old.hashes, &first.root).unwrap();
        assert_eq!(old.checkpoint, None, "not the latest checkpoint's size");
        let by_id = s.inclusion_proof_of_event(&t, "e-7", None).await.unwrap();
        assert_eq!(by_id.index, 7);

        let c = s.consistency_proof(&t, 5, None).await.unwrap();
        verify_consistency(5, 13, &c.hashes, &first.root, &cp.root).unwrap();

        // Bad requests name their field.
        let field = |e: ServiceError| e.details()[0].field.clone();
        assert_eq!(
            field(s.inclusion_proof(&t, 13, None).await.unwrap_err()),
            "index"
        );
        assert_eq!(
            field(s.inclusion_proof(&t, 0, Some(14)).await.unwrap_err()),
            "size"
        );
        assert_eq!(
            field(s.consistency_proof(&t, 0, None).await.unwrap_err()),
            "old"
        );
        assert_eq!(
            field(s.consistency_proof(&t, 6, Some(5)).await.unwrap_err()),
            "old"
        );
        assert!(matches!(
            s.inclusion_proof_of_event(&t, "nope", None).await,
            Err(ServiceError::NotFound(_))
        ));
    }

    #[tokio::test]
    async fn tiles_rebuild_the_root_and_entries_hash_to_their_leaves() {
        use authtrail_integrity::merkle::{Frontier, leaf_hash};
        let f = fixture().await;
        let (s, t) = (&f.service, tenant("acme"));
        ingest(s, &t, 300, 0).await;
        s.log_sync(&t).await.unwrap();
        let v = NoteVerifier::parse(&s.log_key(&t).await.unwrap()).unwrap();
        let cp = Checkpoint::open(&s.log_checkpoint(&t).await.unwrap().note, &v).unwrap();
        assert_eq!(cp.size, 300);
        // A tree of 300: one full level-0 tile, a partial one of 44, a partial level-1 tile of 1.
        let tile = |p: &str| Tile::parse(p).unwrap();
        let full = s.log_tile(&t, tile("0/000")).await.unwrap();
        let part = s.log_tile(&t, tile("0/001.p/44")).await.unwrap();
        let top = s.log_tile(&t, tile("1/000.p/1")).await.unwrap();
        assert_eq!((full.len(), part.len(), top.len()), (8192, 44 * 32, 32));
        let mut fr = Frontier::new();
        for h in full.chunks(32).chain(part.chunks(32)) {
            fr.push(h.try_into().unwrap());
        }
        assert_eq!(fr.root(), cp.root);
        let mut first = Frontier::new();
        full.chunks(32).for_each(|h| {
            first.push(h.try_into().unwrap());
        });
        assert_eq!(
            first.root()[..],
            top[..],
            "level 1 holds the full level-0 tile's root"
        );
        // Entries hash to the level-0 tile's leaves.
        let bundle = s.log_tile(&t, tile("entries/001.p/44")).await.unwrap();
        let mut rest = &bundle[..];
        for h in part.chunks(32) {
            let n = u16::from_be_bytes([rest[0], rest[1]]) as usize;
            assert_eq!(leaf_hash(&rest[2..2 + n])[..], *h);
            rest = &rest[2 + n..];
        }
        assert!(rest.is_empty());
        // Beyond the checkpoint, or purged: not found.
        for p in ["0/001", "0/001.p/45", "2/000.p/1", "entries/002.p/1"] {
            assert!(
                matches!(
                    s.log_tile(&t, tile(p)).await,
                    Err(ServiceError::NotFound(_))
                ),
                "{p}"
            );
        }
        s.store().purge_before(i64::MAX).await.unwrap();
        assert!(matches!(
            s.log_tile(&t, tile("entries/000")).await,
            Err(ServiceError::NotFound(_))
        ));
        assert_eq!(s.log_tile(&t, tile("0/000")).await.unwrap(), full);
    }

    #[tokio::test]
    async fn a_log_restored_from_leaves_goes_on_past_a_purged_prefix() {
        let (src, dst) = (fixture().await, fixture().await);
        let t = tenant("acme");
        ingest(&src.service, &t, 6, 0).await;
        src.service.log_sync(&t).await.unwrap();
        let leaves = src.service.log_leaves(&t, 0, 100).await.unwrap();
        // The source purged its first activities before the trail moved.
        let rows = src.service.store().tail(&t, 2, 100).await.unwrap();
        dst.service.store().restore(&t, rows.clone()).await.unwrap();
        let err = dst.service.log_sync(&t).await.unwrap_err();
        assert!(
            matches!(err, ServiceError::Conflict(_)),
            "without the tree: {err}"
        );
        let mut forged = leaves.clone();
        forged[4] = [0; 32];
        let err = dst.service.restore_log(&t, &forged).await.unwrap_err();
        assert_eq!(err.details()[0].field, "log");
        assert_eq!(dst.service.restore_log(&t, &leaves).await.unwrap(), 6);
        assert!(matches!(
            dst.service.restore_log(&t, &leaves).await,
            Err(ServiceError::Conflict(_))
        ));
        ingest(&dst.service, &t, 2, 100).await;
        let s = dst.service.log_sync(&t).await.unwrap();
        assert_eq!((s.hashed, s.size, s.signed), (2, 8, true));
        // The source's checkpoint is a prefix of the new tree.
        let v = NoteVerifier::parse(&src.service.log_key(&t).await.unwrap()).unwrap();
        let old =
            Checkpoint::open(&src.service.log_checkpoint(&t).await.unwrap().note, &v).unwrap();
        let v2 = NoteVerifier::parse(&dst.service.log_key(&t).await.unwrap()).unwrap();
        let new =
            Checkpoint::open(&dst.service.log_checkpoint(&t).await.unwrap().note, &v2).unwrap();
        let c = dst.service.consistency_proof(&t, 6, None).await.unwrap();
        verify_consistency(6, 8, &c.hashes, &old.root, &new.root).unwrap();
    }

    #[tokio::test]
    async fn a_backlog_is_signed_chunk_by_chunk() {
        let f = fixture().await;
        let (s, t) = (&f.service, tenant("acme"));
        ingest(s, &t, 7, 0).await;
        let first = s.log_sync_in(&t, 2, 2).await.unwrap();
        let second = s.log_sync_in(&t, 2, 2).await.unwrap();
        assert_eq!(
            [first, second].map(|x| (x.size, x.signed, x.more)),
            [(4, true, true), (7, true, true)],
            "each chunk is signed as it is hashed"
        );
        let last = s.log_sync_in(&t, 2, 2).await.unwrap();
        assert_eq!(
            (last.hashed, last.size, last.signed, last.more),
            (0, 7, false, false)
        );
    }

    #[tokio::test]
    async fn a_purge_keeps_the_tree_and_its_proofs() {
        let f = fixture().await;
        let (s, t) = (&f.service, tenant("acme"));
        ingest(s, &t, 4, 0).await;
        s.log_sync(&t).await.unwrap();
        let before = s.inclusion_proof(&t, 1, None).await.unwrap();
        s.store().purge_before(i64::MAX).await.unwrap();
        assert_eq!(s.inclusion_proof(&t, 1, None).await.unwrap(), before);
        assert_eq!(s.log_sync(&t).await.unwrap().hashed, 0);
    }

    #[tokio::test]
    async fn a_hole_before_hashing_stops_the_tenants_log_with_a_conflict() {
        let f = fixture().await;
        let (s, t) = (&f.service, tenant("acme"));
        ingest(s, &t, 3, 0).await;
        s.store().purge_before(i64::MAX).await.unwrap();
        ingest(s, &t, 1, 10).await;
        let err = s.log_sync(&t).await.unwrap_err();
        assert!(matches!(err, ServiceError::Conflict(_)), "{err:?}");
        assert!(
            err.to_string().contains("uniqueQualifier 1 is missing"),
            "{err}"
        );
    }
}

#[cfg(test)]
#[path = "log_doc_tests.rs"]
mod doc_tests;
