//! The SignInScores capability: a sign-in's first score is kept (a second node's or a replay's
//! is ignored), scores are read back per tenant in sequence order, in their bounded form, only
//! for stored sign-ins; retention deletes them with their sign-ins (not a held tenant's), and
//! erasing rows deletes theirs.

use authtrail_model::store::LegalHold;
use authtrail_model::store::SignInScore;
use authtrail_model::store::sign_in_scores::{MAX_REASON_BYTES, MAX_REASONS, MAX_SCORES_PER_CALL};

use crate::*;

fn score(seq: i64, secs: i64, risk: u8, reasons: &[&str]) -> SignInScore {
    SignInScore {
        seq,
        time_us: T0 + secs * 1_000_000,
        risk,
        threshold: 35,
        reasons: reasons.iter().map(|r| r.to_string()).collect(),
    }
}

async fn seqs(store: &dyn Store, t: &Tenant, of: &[i64]) -> Vec<i64> {
    let got = store.sign_in_scores(t, of).await.unwrap();
    got.iter().map(|s| s.seq).collect()
}

pub async fn the_first_score_of_a_sign_in_is_kept(store: Arc<dyn Store>) {
    let (t, u) = (tenant("Sc"), tenant("Scu"));
    let batch = (1..=3).map(|i| login(&t, "ada@x.io", i)).collect();
    store.append(&t, batch).await.unwrap();
    store
        .append(&u, vec![login(&u, "ada@x.io", 1)])
        .await
        .unwrap();
    let calm = score(1, 1, 0, &[]);
    let odd = score(2, 2, 45, &["new_country: TW→BR", "velocity_kmh: 9120"]);
    // 9 is not a stored sign-in: skipped.
    let n = store
        .record_sign_in_scores(&t, &[calm.clone(), odd.clone(), score(9, 9, 5, &["x: y"])])
        .await
        .unwrap();
    assert_eq!(n, 2);
    // The same sign-ins scored again (another node, a replay), differently: the first stays.
    let again = [
        score(2, 2, 80, &["new_device: curl"]),
        score(1, 1, 10, &["new_ip: 1"]),
    ];
    assert_eq!(store.record_sign_in_scores(&t, &again).await.unwrap(), 0);
    assert_eq!(
        store.sign_in_scores(&t, &[3, 2, 99, 1, 2]).await.unwrap(),
        vec![calm, odd],
        "ascending, once each, only those scored"
    );
    // Tenants are apart.
    assert_eq!(seqs(&*store, &u, &[1, 2]).await, Vec::<i64>::new());
    assert_eq!(
        seqs(&*store, &tenant("Scnone"), &[1]).await,
        Vec::<i64>::new()
    );
    assert_eq!(store.sign_in_scores(&t, &[]).await.unwrap(), vec![]);
}

pub async fn scores_are_stored_bounded(store: Arc<dyn Store>) {
    let t = tenant("Scb");
    store
        .append(&t, vec![login(&t, "ada@x.io", 1)])
        .await
        .unwrap();
    let long = "é".repeat(300); // 600 bytes
    let mut reasons: Vec<String> = (0..20).map(|i| format!("r{i}: {i}")).collect();
    reasons[0] = format!("new_device: {long}");
    reasons[1] = "new_device: a\0b".into();
    let s = SignInScore {
        seq: 1,
        time_us: T0 + 1_000_000,
        risk: 200,
        threshold: u32::MAX,
        reasons,
    };
    store.record_sign_in_scores(&t, &[s]).await.unwrap();
    let got = store.sign_in_scores(&t, &[1]).await.unwrap().remove(0);
    assert_eq!(got.risk, 100);
    assert_eq!(got.threshold, i32::MAX as u32);
    assert_eq!(got.reasons.len(), MAX_REASONS);
    assert!(got.reasons[0].len() <= MAX_REASON_BYTES);
    assert!(
        got.reasons[0].len() >= MAX_REASON_BYTES - 1,
        "cut at a character boundary"
    );
    assert!(got.reasons[0].starts_with("new_device: éé"));
    assert_eq!(got.reasons[1], "new_device: a\u{FFFD}b");
    assert_eq!(got.reasons[15], "r15: 15");

    // A limit on every input.
    let many: Vec<SignInScore> = (0..=MAX_SCORES_PER_CALL as i64)
        .map(|i| score(i + 1, 1, 0, &[]))
        .collect();
    let err = store.record_sign_in_scores(&t, &many).await.unwrap_err();
    assert_eq!(err.kind(), StoreErrorKind::Invalid, "{err}");
    let many: Vec<i64> = (1..=MAX_SCORES_PER_CALL as i64 + 1).collect();
    let err = store.sign_in_scores(&t, &many).await.unwrap_err();
    assert_eq!(err.kind(), StoreErrorKind::Invalid, "{err}");
}

pub async fn a_purge_deletes_the_scores_of_the_sign_ins_it_deletes(store: Arc<dyn Store>) {
    let (t, held) = (tenant("Scp"), tenant("Scph"));
    // Uniquequalifier 1 lies 100 days back (PostgreSQL drops its month whole), 2 just before the
    // cut-off in its month, 3 after it.
    let hundred_days = 100 * 86_400;
    for x in [&t, &held] {
        let batch = vec![
            login(x, "a@x.io", -hundred_days),
            login(x, "a@x.io", 10),
            login(x, "a@x.io", 100),
        ];
        store.append(x, batch).await.unwrap();
        let scores = [
            score(1, -hundred_days, 0, &[]),
            score(2, 10, 5, &["new_ip: 203.0.113.7"]),
            score(3, 100, 0, &[]),
        ];
        assert_eq!(store.record_sign_in_scores(x, &scores).await.unwrap(), 3);
    }
    store
        .set_legal_hold(&LegalHold {
            tenant: held.clone(),
            reason: "case 12".into(),
            set_by: "tok_admin".into(),
            set_us: 1,
        })
        .await
        .unwrap();
    assert_eq!(store.purge_before(T0 + 50_000_000).await.unwrap(), 2);
    assert_eq!(seqs(&*store, &t, &[1, 2, 3]).await, vec![3]);
    assert_eq!(seqs(&*store, &held, &[1, 2, 3]).await, vec![1, 2, 3]);
    // A sign-in purged before its score arrives gets none.
    assert_eq!(
        store
            .record_sign_in_scores(&t, &[score(2, 10, 5, &[])])
            .await
            .unwrap(),
        0
    );
    assert_eq!(seqs(&*store, &t, &[1, 2, 3]).await, vec![3]);
}

pub async fn erasing_rows_deletes_their_scores(store: Arc<dyn Store>) {
    let (t, other) = (tenant("Sce"), tenant("Sceo"));
    let batch = vec![login(&t, "ada@x.io", 1), login(&t, "bob@x.io", 2)];
    store.append(&t, batch).await.unwrap();
    store
        .append(&other, vec![login(&other, "ada@x.io", 1)])
        .await
        .unwrap();
    let evidence = ["new_network: 203.0.113.0/24", "new_device: Mozilla/5.0"];
    for x in [&t, &other] {
        let scores = [score(1, 1, 45, &evidence), score(2, 2, 45, &evidence)];
        store.record_sign_in_scores(x, &scores).await.unwrap();
    }
    assert_eq!(store.erase_personal(&t, &[1], 3).await.unwrap(), 1);
    assert_eq!(seqs(&*store, &t, &[1, 2]).await, vec![2]);
    assert_eq!(
        seqs(&*store, &other, &[1]).await,
        vec![1],
        "another tenant's stay"
    );
}
