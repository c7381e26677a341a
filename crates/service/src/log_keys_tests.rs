//! Key rotation and witness cosignatures, through the service as the API and CLI use it.

use authtrail_integrity::{Checkpoint, CosignatureVerifier, Cosigner, NoteVerifier};
use authtrail_model::query::ActivityQuery;

use super::*;
use crate::log_witnesses::{MAX_FUTURE_SECS, MAX_WITNESSES};
use crate::testing::{fixture, tenant};

async fn ingest(s: &Service, t: &Tenant, n: usize) {
    let items: Vec<serde_json::Value> = (0..n)
        .map(|_| {
            serde_json::json!({
                "id": {"applicationName": "login", "time": "2026-11-22T10:00:00.000000Z"},
                "actor": {"email": "ada@example.com"},
                "events": [{"name": "login_success"}]
            })
        })
        .collect();
    let batch = s.validate(t, crate::Source::Cli, &items).unwrap();
    s.store().append(t, batch).await.unwrap();
}

async fn events(s: &Service, t: &Tenant, name: &str) -> usize {
    let q = ActivityQuery {
        event_names: vec![name.into()],
        limit: 100,
        ..Default::default()
    };
    s.list(t, &q).await.unwrap().items.len()
}

async fn opened(s: &Service, t: &Tenant, vkey: &str) -> Result<Checkpoint, String> {
    let note = s.log_checkpoint(t).await.unwrap().note;
    let v = NoteVerifier::parse(vkey).unwrap();
    Checkpoint::open(&note, &v).map_err(|e| e.to_string())
}

#[tokio::test]
async fn a_rotation_signs_with_both_keys_then_with_the_new_one() {
    let f = fixture().await;
    let (s, t) = (&f.service, tenant("acme"));
    let actor = AdminActor::System;
    ingest(s, &t, 3).await;
    s.log_sync(&t).await.unwrap();
    let old = s.log_key(&t).await.unwrap();
    let other = s.log_key(&tenant("other")).await.unwrap();
    assert_eq!(s.log_keys(&t).await.unwrap().len(), 1);

    let next = s.start_key_rotation(&t, &actor).await.unwrap();
    assert_eq!(next.state, KeyState::Next);
    assert_ne!(next.vkey, old);
    let origin = s.log_origin(&t);
    assert!(
        next.vkey.starts_with(&format!("{origin}+")),
        "the key name stays the origin: {}",
        next.vkey
    );
    let keys = s.log_keys(&t).await.unwrap();
    assert_eq!(
        keys.iter()
            .map(|k| (k.state, k.vkey.as_str()))
            .collect::<Vec<_>>(),
        [
            (KeyState::Active, old.as_str()),
            (KeyState::Next, next.vkey.as_str())
        ],
        "the active key first"
    );
    assert_eq!(
        s.log_key(&t).await.unwrap(),
        old,
        "the one-key answer is unchanged"
    );
    // The stored checkpoint, signed before the rotation, is served with both signatures.
    assert_eq!(opened(s, &t, &old).await.unwrap().size, 3);
    assert_eq!(opened(s, &t, &next.vkey).await.unwrap().size, 3);
    // So is every checkpoint signed during the overlap.
    ingest(s, &t, 2).await;
    let synced = s.log_sync(&t).await.unwrap();
    assert!(synced.signed);
    // 3 + the rotation's admin event + 2.
    let size = synced.size;
    assert_eq!(size, 6);
    let stored = s.store().checkpoint(&t).await.unwrap().unwrap().note;
    for vkey in [&old, &next.vkey] {
        let v = NoteVerifier::parse(vkey).unwrap();
        assert_eq!(
            Checkpoint::open(&stored, &v).unwrap().size,
            size,
            "stored: {vkey}"
        );
        assert_eq!(opened(s, &t, vkey).await.unwrap().size, size);
    }
    assert!(matches!(
        s.start_key_rotation(&t, &actor).await,
        Err(ServiceError::Conflict(_))
    ));

    let active = s.finish_key_rotation(&t, &actor).await.unwrap();
    assert_eq!((active.state, &active.vkey), (KeyState::Active, &next.vkey));
    assert_eq!(s.log_key(&t).await.unwrap(), next.vkey);
    assert_eq!(opened(s, &t, &next.vkey).await.unwrap().size, size);
    assert!(
        opened(s, &t, &old)
            .await
            .unwrap_err()
            .contains("no signature"),
        "the retired key signs no more"
    );
    let keys = s.log_keys(&t).await.unwrap();
    assert_eq!(
        keys.iter().map(|k| k.state).collect::<Vec<_>>(),
        [KeyState::Active, KeyState::Retired]
    );
    assert_eq!(keys[1].vkey, old, "the retired key is kept for the record");
    assert!(matches!(
        s.finish_key_rotation(&t, &actor).await,
        Err(ServiceError::Conflict(_))
    ));
    // Other tenants keep the server's key.
    assert_eq!(s.log_key(&tenant("other")).await.unwrap(), other);
    assert_eq!(events(s, &t, "log_key.rotation_start").await, 1);
    assert_eq!(events(s, &t, "log_key.rotation_finish").await, 1);

    // The ring is sealed: no private key is readable in the store.
    let row = tenant_secret_key(&t, RING);
    let raw = s.store().get_secret(&row).await.unwrap().unwrap();
    assert!(crate::sealing::SealingKey::is_sealed(&raw));
    // A second rotation retires the first new key; the old one stays in the record.
    s.start_key_rotation(&t, &actor).await.unwrap();
    s.finish_key_rotation(&t, &actor).await.unwrap();
    let keys = s.log_keys(&t).await.unwrap();
    assert_eq!(keys.len(), 3);
    assert_eq!(
        (keys[1].vkey.as_str(), keys[2].vkey.as_str()),
        (next.vkey.as_str(), old.as_str())
    );
}

#[tokio::test]
async fn racing_rotation_steps_do_not_interleave() {
    let f = fixture().await;
    let (s, t) = (&f.service, tenant("acme"));
    let (a, b) = tokio::join!(
        s.start_key_rotation(&t, &AdminActor::System),
        s.start_key_rotation(&t, &AdminActor::System)
    );
    assert_eq!(
        [a.is_ok(), b.is_ok()].iter().filter(|ok| **ok).count(),
        1,
        "one starts, the other is refused"
    );
    assert_eq!(s.log_keys(&t).await.unwrap().len(), 2);
}

fn witness(n: u8) -> Cosigner {
    Cosigner::new(&format!("witness.example/w{n}"), &[n; 32]).unwrap()
}

fn now_s(f: &crate::testing::Fixture) -> u64 {
    (f.service.now_us() / 1_000_000) as u64
}

#[tokio::test]
async fn cosignatures_are_checked_kept_and_served_with_their_checkpoint() {
    let f = fixture().await;
    let (s, t) = (&f.service, tenant("acme"));
    let actor = AdminActor::System;
    ingest(s, &t, 4).await;
    s.log_sync(&t).await.unwrap();
    let (w1, w2, stranger) = (witness(1), witness(2), witness(3));
    for w in [&w1, &w2] {
        s.add_log_witness(&t, &w.verifier().vkey(), &actor)
            .await
            .unwrap();
    }
    assert_eq!(events(s, &t, "log_witness.add").await, 2);
    let note = s.log_checkpoint(&t).await.unwrap().note;
    let text = note.split_once("\n\n").unwrap().0.to_string() + "\n";
    let when = now_s(&f);
    let cosigned = format!(
        "{note}{}\n{}\n",
        w1.cosign(&text, when),
        w2.cosign(&text, when)
    );
    let got = s.submit_cosignature(&t, &cosigned).await.unwrap();
    assert_eq!(got.len(), 2);
    assert!(
        got.iter()
            .all(|a| a.stored && a.size == 4 && a.time == when)
    );

    // Served with the checkpoint; the log's key and each witness's verify it.
    let served = s.log_checkpoint(&t).await.unwrap().note;
    assert_eq!(served, cosigned);
    let v = NoteVerifier::parse(&s.log_key(&t).await.unwrap()).unwrap();
    assert_eq!(Checkpoint::open(&served, &v).unwrap().size, 4);
    let (body, lines) = authtrail_integrity::note::split_note(&served).unwrap();
    for w in [&w1, &w2] {
        let cv = CosignatureVerifier::parse(&w.verifier().vkey()).unwrap();
        let line = lines.iter().find(|l| cv.is_signer_of(l)).unwrap();
        assert_eq!(cv.verify(body, line), Ok(when));
    }

    // A newer checkpoint is served without the old cosignatures: they are not of it.
    ingest(s, &t, 1).await;
    s.log_sync(&t).await.unwrap();
    let next = s.log_checkpoint(&t).await.unwrap().note;
    assert_eq!(next.matches('\u{2014}').count(), 1, "{next}");
    // A witness may still submit one of an older checkpoint (it is kept, not served).
    let late = format!("{text}\n{}\n", w1.cosign(&text, when + 1));
    assert!(s.submit_cosignature(&t, &late).await.unwrap()[0].stored);

    // Refusals name the field, and store nothing.
    let field = |e: ServiceError| e.details()[0].field.clone();
    let bad = [
        (
            format!("{text}\n{}\n", stranger.cosign(&text, when)),
            "cosignature",
        ),
        (
            format!(
                "{text}\n{}\n{}\n",
                w2.cosign(&text, when + 5),
                stranger.cosign(&text, when)
            ),
            "cosignature",
        ),
        (
            format!(
                "{text}\n{}\n",
                w1.cosign(&text.replace("\n4\n", "\n3\n"), when)
            ),
            "cosignature",
        ),
        (
            format!(
                "{text}\n{}\n",
                w1.cosign(&text, when + MAX_FUTURE_SECS as u64 + 60)
            ),
            "cosignature",
        ),
        (note.split("\n\n").next().unwrap().to_string(), "checkpoint"),
        (next.replace("/acme\n", "/other\n"), "checkpoint"),
        ("x".repeat(20_000), "checkpoint"),
        (note.clone(), "cosignature"),
    ];
    for (body, want) in bad {
        let err = s.submit_cosignature(&t, &body).await.unwrap_err();
        assert_eq!(field(err), want, "{body:.200}");
    }
    // A checkpoint this log never signed: another root, or a size beyond the latest.
    let forged = Checkpoint {
        origin: s.log_origin(&t),
        size: 4,
        root: [7; 32],
    }
    .text();
    let beyond = Checkpoint {
        origin: s.log_origin(&t),
        size: 9,
        root: [7; 32],
    }
    .text();
    for text in [forged, beyond] {
        let body = format!("{text}\n{}\n", w1.cosign(&text, when));
        assert_eq!(
            field(s.submit_cosignature(&t, &body).await.unwrap_err()),
            "checkpoint"
        );
    }
    let kept = s
        .store()
        .cosignatures(&t, 4, Checkpoint::open(&note, &v).unwrap().root)
        .await;
    assert_eq!(
        kept.unwrap().len(),
        2,
        "w2's later line was refused with the stranger's"
    );

    // Removing a witness removes its cosignature; adding more than the limit is refused.
    s.remove_log_witness(&t, "witness.example/w2", &actor)
        .await
        .unwrap();
    assert!(matches!(
        s.remove_log_witness(&t, "witness.example/w2", &actor).await,
        Err(ServiceError::NotFound(_))
    ));
    assert_eq!(events(s, &t, "log_witness.remove").await, 1);
    for n in 10..10 + MAX_WITNESSES as u8 - 1 {
        s.add_log_witness(&t, &witness(n).verifier().vkey(), &actor)
            .await
            .unwrap();
    }
    let err = s
        .add_log_witness(&t, &witness(99).verifier().vkey(), &actor)
        .await
        .unwrap_err();
    assert!(matches!(err, ServiceError::Conflict(_)), "{err:?}");
    // Keys that are not cosigner keys are refused naming the field.
    let log_vkey = s.log_key(&t).await.unwrap();
    for bad in [log_vkey.as_str(), "nonsense", ""] {
        let err = s.add_log_witness(&t, bad, &actor).await.unwrap_err();
        assert_eq!(field(err), "vkey", "{bad}");
    }
}
