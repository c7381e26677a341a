//! The LogTree capability: a tenant's Merkle tree grows only from its stored size (a
//! compare-and-set that one of two racing growers wins), its nodes and checkpoint are the
//! tenant's own, checkpoints only move forward, and a purge of activities leaves all of it.
//!
//! The hashes here are arbitrary bytes: the store keeps what it is given; hashing is
//! `authtrail-integrity`'s, tested there.

use authtrail_model::store::{Cosignature, SignedCheckpoint, TreeNode, Witness};

use crate::*;

fn node(level: u8, index: u64) -> TreeNode {
    TreeNode {
        level,
        index,
        hash: [level.wrapping_mul(31) ^ index as u8; 32],
    }
}

/// The full nodes a growth from `from` to `to` leaves completes (`from >> l .. to >> l` on each
/// level `l`), with arbitrary hashes that hold zero bytes and differ byte by byte: what the
/// engines' migration tests store in an older layout and read back.
pub fn grown(from: u64, to: u64) -> Vec<TreeNode> {
    (0..64u8)
        .take_while(|l| to >> l > 0)
        .flat_map(|l| ((from >> l)..(to >> l)).map(move |i| (l, i)))
        .map(|(level, index)| TreeNode {
            level,
            index,
            hash: std::array::from_fn(|b| (b as u64 * 7 + index + level as u64) as u8 & 0x3f),
        })
        .collect()
}

fn cp(size: u64) -> SignedCheckpoint {
    SignedCheckpoint {
        size,
        note: format!("origin\n{size}\nroot\n\n\u{2014} origin sig\n"),
    }
}

fn sorted(mut v: Vec<TreeNode>) -> Vec<TreeNode> {
    v.sort_by_key(|n| (n.level, n.index));
    v
}

pub async fn tree_grows_only_from_its_stored_size(store: Arc<dyn Store>) {
    let (t, u) = (tenant("Lg"), tenant("Lgu"));
    for x in [&t, &u] {
        store
            .append(x, (0..3).map(|i| login(x, "a@x.io", i)).collect())
            .await
            .unwrap();
    }
    assert_eq!(store.tree_size(&t).await.unwrap(), 0);
    let first = vec![node(0, 0), node(0, 1), node(1, 0)];
    store.grow_tree(&t, 0, 2, first.clone()).await.unwrap();
    assert_eq!(store.tree_size(&t).await.unwrap(), 2);
    let err = store
        .grow_tree(&t, 0, 3, vec![node(0, 2)])
        .await
        .unwrap_err();
    assert_eq!(err.kind(), StoreErrorKind::Conflict, "{err}");
    assert_eq!(
        store.tree_size(&t).await.unwrap(),
        2,
        "a refused growth stores nothing"
    );
    store.grow_tree(&t, 2, 3, vec![node(0, 2)]).await.unwrap();
    assert_eq!(store.tree_size(&t).await.unwrap(), 3);

    let got = store
        .tree_nodes(&t, vec![(1, 0), (0, 2), (0, 0), (1, 1), (0, 1), (5, 0)])
        .await
        .unwrap();
    let mut want = first;
    want.push(node(0, 2));
    assert_eq!(sorted(got), sorted(want), "absent nodes are left out");
    // Another tenant's tree is its own.
    assert_eq!(store.tree_size(&u).await.unwrap(), 0);
    assert!(store.tree_nodes(&u, vec![(0, 0)]).await.unwrap().is_empty());
    assert_eq!(store.tree_size(&tenant("Lgnone")).await.unwrap(), 0);
}

pub async fn racing_growers_one_wins_the_other_is_refused(store: Arc<dyn Store>) {
    let t = tenant("Lr");
    store
        .append(&t, (0..2).map(|i| login(&t, "a@x.io", i)).collect())
        .await
        .unwrap();
    let nodes = vec![node(0, 0), node(0, 1), node(1, 0)];
    let (a, b) = tokio::join!(
        store.grow_tree(&t, 0, 2, nodes.clone()),
        store.grow_tree(&t, 0, 2, nodes.clone())
    );
    let refused: Vec<_> = [a, b].into_iter().filter_map(Result::err).collect();
    assert_eq!(refused.len(), 1, "exactly one grower wins: {refused:?}");
    assert_eq!(refused[0].kind(), StoreErrorKind::Conflict);
    assert_eq!(store.tree_size(&t).await.unwrap(), 2);
}

/// A growth must bring exactly the full nodes its new leaves complete (node hashes are stored
/// in strips of 256 that only grow at their end): one that leaves a node out is refused and
/// stores nothing.
pub async fn a_growth_with_a_hole_is_refused_whole(store: Arc<dyn Store>) {
    let t = tenant("Lh");
    store
        .append(&t, (0..300).map(|i| login(&t, "a@x.io", i)).collect())
        .await
        .unwrap();
    store.grow_tree(&t, 0, 255, grown(0, 255)).await.unwrap();
    let good = grown(255, 259);
    let without = |level: u8, index: u64| -> Vec<TreeNode> {
        good.iter()
            .filter(|n| (n.level, n.index) != (level, index))
            .copied()
            .collect()
    };
    for bad in [
        without(0, 256),
        without(0, 255),
        without(1, 128),
        without(8, 0),
    ] {
        let err = store.grow_tree(&t, 255, 259, bad).await.unwrap_err();
        assert_eq!(err.kind(), StoreErrorKind::Invalid, "{err}");
        assert_eq!(store.tree_size(&t).await.unwrap(), 255, "nothing stored");
    }
    // Across a strip's end, then on.
    store.grow_tree(&t, 255, 259, good).await.unwrap();
    let ids: Vec<(u8, u64)> = (250..259).map(|i| (0, i)).collect();
    assert_eq!(
        sorted(store.tree_nodes(&t, ids).await.unwrap()),
        grown(250, 259)
            .into_iter()
            .filter(|n| n.level == 0)
            .collect::<Vec<_>>()
    );
}

pub async fn checkpoints_only_move_forward(store: Arc<dyn Store>) {
    let (t, u) = (tenant("Lc"), tenant("Lcu"));
    for x in [&t, &u] {
        store.append(x, vec![login(x, "a@x.io", 1)]).await.unwrap();
    }
    assert_eq!(store.checkpoint(&t).await.unwrap(), None);
    assert!(store.save_checkpoint(&t, cp(2)).await.unwrap());
    assert!(!store.save_checkpoint(&t, cp(1)).await.unwrap(), "older");
    assert!(
        !store.save_checkpoint(&t, cp(2)).await.unwrap(),
        "same size"
    );
    assert_eq!(store.checkpoint(&t).await.unwrap(), Some(cp(2)));
    assert!(store.save_checkpoint(&t, cp(5)).await.unwrap());
    assert_eq!(store.checkpoint(&t).await.unwrap(), Some(cp(5)));
    assert_eq!(
        store.checkpoint(&u).await.unwrap(),
        None,
        "tenants are apart"
    );
}

pub async fn purge_leaves_the_tree_and_checkpoint(store: Arc<dyn Store>) {
    let t = tenant("Lp");
    store
        .append(&t, (0..4).map(|i| login(&t, "a@x.io", i)).collect())
        .await
        .unwrap();
    let nodes = vec![
        node(0, 0),
        node(0, 1),
        node(1, 0),
        node(0, 2),
        node(0, 3),
        node(1, 1),
        node(2, 0),
    ];
    store.grow_tree(&t, 0, 4, nodes.clone()).await.unwrap();
    assert!(store.save_checkpoint(&t, cp(4)).await.unwrap());
    assert_eq!(store.purge_before(T0 + 10_000_000).await.unwrap(), 4);
    assert!(all(&*store, &t, query(10)).await.is_empty());
    assert_eq!(store.tree_size(&t).await.unwrap(), 4);
    let ids = nodes.iter().map(|n| (n.level, n.index)).collect();
    assert_eq!(
        sorted(store.tree_nodes(&t, ids).await.unwrap()),
        sorted(nodes)
    );
    assert_eq!(store.checkpoint(&t).await.unwrap(), Some(cp(4)));
}

pub async fn event_ids_lead_to_their_sequence_number(store: Arc<dyn Store>) {
    let (t, u) = (tenant("Le"), tenant("Leu"));
    let with_id = |x: &Tenant, id: &str, secs| {
        let mut a = login(x, "a@x.io", secs);
        a.body.event_id = Some(id.to_string());
        a
    };
    store
        .append(
            &t,
            vec![
                with_id(&t, "e-1", 1),
                login(&t, "a@x.io", 2),
                with_id(&t, "e-3", 3),
            ],
        )
        .await
        .unwrap();
    store.append(&u, vec![with_id(&u, "e-9", 1)]).await.unwrap();
    assert_eq!(store.event_sequence(&t, "e-1").await.unwrap(), Some(1));
    assert_eq!(store.event_sequence(&t, "e-3").await.unwrap(), Some(3));
    assert_eq!(
        store.event_sequence(&t, "e-9").await.unwrap(),
        None,
        "another tenant's"
    );
    assert_eq!(store.event_sequence(&u, "e-9").await.unwrap(), Some(1));
}

fn witness(name: &str, key: &str) -> Witness {
    Witness {
        name: name.into(),
        vkey: format!("{name}+00000000+{key}"),
    }
}

fn cosig(w: &str, size: u64, root: u8, time: u64) -> Cosignature {
    Cosignature {
        witness: w.into(),
        size,
        root: [root; 32],
        time,
        line: format!("\u{2014} {w} sig-{size}-{time}"),
    }
}

pub async fn witnesses_are_registered_per_tenant_up_to_a_limit(store: Arc<dyn Store>) {
    // No activity yet: a witness can be registered before the tenant's first one.
    let (t, u) = (tenant("Lw"), tenant("Lwu"));
    assert!(store.witnesses(&t).await.unwrap().is_empty());
    store
        .add_witness(&t, witness("w.example/b", "K1"), 2)
        .await
        .unwrap();
    store
        .add_witness(&t, witness("w.example/a", "K2"), 2)
        .await
        .unwrap();
    let err = store
        .add_witness(&t, witness("w.example/c", "K3"), 2)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), StoreErrorKind::Conflict, "{err}");
    // Replacing a registered witness's key is not one more.
    store
        .add_witness(&t, witness("w.example/a", "K4"), 2)
        .await
        .unwrap();
    assert_eq!(
        store.witnesses(&t).await.unwrap(),
        vec![witness("w.example/a", "K4"), witness("w.example/b", "K1")],
        "by name"
    );
    assert!(
        store.witnesses(&u).await.unwrap().is_empty(),
        "tenants are apart"
    );
    assert!(store.remove_witness(&t, "w.example/b").await.unwrap());
    assert!(!store.remove_witness(&t, "w.example/b").await.unwrap());
    assert!(!store.remove_witness(&u, "w.example/a").await.unwrap());
    assert_eq!(store.witnesses(&t).await.unwrap().len(), 1);
}

pub async fn cosignatures_keep_each_witnesss_latest(store: Arc<dyn Store>) {
    let (t, u) = (tenant("Ly"), tenant("Lyu"));
    let w = "w.example/1";
    assert!(
        !store
            .save_cosignature(&t, cosig(w, 5, 1, 100))
            .await
            .unwrap(),
        "not a registered witness"
    );
    store.add_witness(&t, witness(w, "K"), 8).await.unwrap();
    store
        .add_witness(&t, witness("w.example/2", "L"), 8)
        .await
        .unwrap();
    assert!(
        store
            .save_cosignature(&t, cosig(w, 5, 1, 100))
            .await
            .unwrap()
    );
    assert!(
        store
            .save_cosignature(&t, cosig("w.example/2", 5, 1, 90))
            .await
            .unwrap()
    );
    assert!(
        !store
            .save_cosignature(&t, cosig(w, 4, 9, 200))
            .await
            .unwrap(),
        "smaller tree"
    );
    assert!(
        !store
            .save_cosignature(&t, cosig(w, 5, 1, 100))
            .await
            .unwrap(),
        "not later"
    );
    assert_eq!(
        store.cosignatures(&t, 5, [1; 32]).await.unwrap(),
        vec![cosig(w, 5, 1, 100), cosig("w.example/2", 5, 1, 90)]
    );
    assert!(
        store
            .save_cosignature(&t, cosig(w, 5, 1, 150))
            .await
            .unwrap(),
        "same tree, later"
    );
    assert!(
        store
            .save_cosignature(&t, cosig(w, 7, 2, 120))
            .await
            .unwrap(),
        "larger tree"
    );
    // Only those of exactly that size and root.
    assert_eq!(
        store.cosignatures(&t, 7, [2; 32]).await.unwrap(),
        vec![cosig(w, 7, 2, 120)]
    );
    assert!(store.cosignatures(&t, 7, [3; 32]).await.unwrap().is_empty());
    assert_eq!(store.cosignatures(&t, 5, [1; 32]).await.unwrap().len(), 1);
    assert!(store.cosignatures(&u, 7, [2; 32]).await.unwrap().is_empty());
    // A witness removed, or given another key, takes its cosignature with it.
    store.add_witness(&t, witness(w, "K-new"), 8).await.unwrap();
    assert!(store.cosignatures(&t, 7, [2; 32]).await.unwrap().is_empty());
    store.remove_witness(&t, "w.example/2").await.unwrap();
    assert!(store.cosignatures(&t, 5, [1; 32]).await.unwrap().is_empty());
}
