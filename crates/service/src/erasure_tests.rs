//! Erasure, legal hold and the retention floor through the service: what an admin and an auditor
//! see (rows, search, counters, the admin trail, `verify`'s report).

use authtrail_integrity::{Checkpoint, NoteVerifier};
use authtrail_model::{Activity, ActivityQuery, ActorFilter, Outcome, ParamValue, Tenant};
use serde_json::json;

use super::*;
use crate::Source;
use crate::log_audit::{Audit, Finding};
use crate::testing::{fixture, tenant};

/// Five logins (ada at 1, 3, 5; bob at 2, 4), each with an IP, stored and checkpointed.
async fn trail(s: &Service, t: &Tenant) {
    let items: Vec<serde_json::Value> = (0..5)
        .map(|i| {
            let who = if i % 2 == 0 {
                "Ada@Example.com"
            } else {
                "bob@example.com"
            };
            json!({"id": {"applicationName": "login", "time": "2026-06-01T10:00:00Z"},
                   "actor": {"email": who, "profileId": format!("p{i}")},
                   "ipAddress": format!("192.0.2.{i}"),
                   "events": [{"name": "login_success"}]})
        })
        .collect();
    let batch = s.validate(t, Source::Cli, &items).unwrap();
    s.ingest(t, Source::Cli, batch, authtrail_model::Stopwatch::start())
        .await
        .unwrap();
}

fn by_email(e: &str) -> ActivityQuery {
    ActivityQuery {
        actor: Some(ActorFilter::Email(e.into())),
        limit: 100,
        ..ActivityQuery::default()
    }
}

fn admin_events(items: &[Activity]) -> Vec<String> {
    items
        .iter()
        .filter(|a| a.application == "admin")
        .map(|a| a.body.events[0].name.clone())
        .collect()
}

async fn everything(s: &Service, t: &Tenant) -> Vec<Activity> {
    s.store().tail(t, 0, 1000).await.unwrap()
}

/// The audit of `rows` against the tenant's current checkpoint, with the log's leaves.
async fn audit(s: &Service, t: &Tenant, rows: &[Activity]) -> crate::log_audit::Report {
    let v = NoteVerifier::parse(&s.log_key(t).await.unwrap()).unwrap();
    let cp = Checkpoint::open(&s.log_checkpoint(t).await.unwrap().note, &v).unwrap();
    let leaves = s.log_leaves(t, 0, 1000).await.unwrap();
    let mut a = Audit::new(cp, Some(leaves)).unwrap();
    rows.iter().for_each(|r| a.row(r));
    a.finish()
}

#[tokio::test]
async fn an_erasure_removes_one_persons_fields_and_verifies_as_erased() {
    let f = fixture().await;
    let (s, t) = (&f.service, tenant("Cerase"));
    trail(s, &t).await;
    let counts_before = s
        .store()
        .rollup(&t, 0, i64::MAX / 2, 60_000_000)
        .await
        .unwrap();

    let done = s
        .erase_subject(&t, "ADA@example.com", &AdminActor::Token("tok_1".into()))
        .await
        .unwrap();
    assert_eq!((done.erased, done.records.clone()), (3, vec![6]));
    assert_eq!(done.subject.len(), 64);
    assert_eq!(
        done.subject,
        s.erasure_subject(&t, "ada@example.com").await.unwrap(),
        "the same person gives the same subject"
    );
    assert_ne!(
        done.subject,
        s.erasure_subject(&tenant("Cother"), "ada@example.com")
            .await
            .unwrap(),
        "another tenant's subject differs"
    );

    // Search by the e-mail (any case) finds nothing; bob is untouched; counters are the same.
    for e in ["ada@example.com", "Ada@Example.com"] {
        assert!(s.list(&t, &by_email(e)).await.unwrap().items.is_empty());
    }
    assert_eq!(
        s.list(&t, &by_email("bob@example.com"))
            .await
            .unwrap()
            .items
            .len(),
        2
    );
    let counts_after = s
        .store()
        .rollup(&t, 0, i64::MAX / 2, 60_000_000)
        .await
        .unwrap();
    let login_count = |r: &authtrail_model::store::Rollup| -> u64 {
        r.cells
            .iter()
            .filter(|c| c.application == "login")
            .map(|c| c.n)
            .sum()
    };
    assert_eq!(login_count(&counts_after), login_count(&counts_before));

    let rows = everything(s, &t).await;
    let ada = &rows[0];
    assert_eq!(ada.body.actor.email, None);
    assert_eq!(ada.body.actor.profile_id, None);
    assert_eq!(ada.body.ip_address, None);
    assert_eq!(ada.body.erased_by.map(|b| b.0), Some(6));
    assert_eq!(rows[1].body.ip_address.as_deref(), Some("192.0.2.1"));

    // The record names the rows and the subject (never the e-mail).
    let record = &rows[5];
    assert_eq!(
        admin_events(std::slice::from_ref(record)),
        ["subject.erase"]
    );
    let e = &record.body.events[0];
    assert_eq!(e.param("erased"), Some(&ParamValue::Str("1,3,5".into())));
    assert_eq!(
        e.param("subject"),
        Some(&ParamValue::Str(done.subject.clone()))
    );
    assert!(
        !serde_json::to_string(&record.body)
            .unwrap()
            .contains("ada@")
    );

    // verify: the erased rows are reported as erased by 6, not as altered (the erasure hashed
    // the rows before rewriting them, and its record after).
    assert_eq!(s.store().tree_size(&t).await.unwrap(), 6);
    let r = audit(s, &t, &rows).await;
    assert!(r.ok(), "{r:?}");
    assert_eq!(r.erased_rows, vec![(1, 6), (3, 6), (5, 6)]);

    // A tampered row that was not erased is still named.
    let mut tampered = rows.clone();
    tampered[1].body.ip_address = Some("198.51.100.9".into());
    let r = audit(s, &t, &tampered).await;
    assert_eq!(r.findings, vec![Finding::Altered(2)]);
    assert_eq!(r.erased, 3);

    // A row marked erased by a record that does not name it is caught...
    let mut forged = rows.clone();
    forged[1].body.actor.email = None;
    forged[1].body.erased_by = Some(authtrail_model::activity::I64Str(6));
    let r = audit(s, &t, &forged).await;
    assert_eq!(
        r.first(),
        Some(&Finding::ErasedUnproven {
            seq: 2,
            by: 6,
            after_checkpoint: false
        })
    );
    // ...and so is an edited record trying to cover it.
    let mut covered = forged.clone();
    covered[5].body.events[0].parameters[1].value = ParamValue::Str("1-5".into());
    let r = audit(s, &t, &covered).await;
    assert_eq!(
        r.findings,
        vec![
            Finding::ErasedUnproven {
                seq: 1,
                by: 6,
                after_checkpoint: false
            },
            Finding::ErasedUnproven {
                seq: 2,
                by: 6,
                after_checkpoint: false
            },
            Finding::ErasedUnproven {
                seq: 3,
                by: 6,
                after_checkpoint: false
            },
            Finding::ErasedUnproven {
                seq: 5,
                by: 6,
                after_checkpoint: false
            },
            Finding::Altered(6),
        ]
    );

    // Without the leaves, erased rows stop the root from being rebuilt: not claimed as ok.
    let v = NoteVerifier::parse(&s.log_key(&t).await.unwrap()).unwrap();
    let cp = Checkpoint::open(&s.log_checkpoint(&t).await.unwrap().note, &v).unwrap();
    let mut a = Audit::new(cp, None).unwrap();
    rows.iter().for_each(|r| a.row(r));
    let r = a.finish();
    assert_eq!((r.found, r.root_checked, r.ok()), (0, false, false));

    // Nothing left to erase: nothing written.
    let again = s
        .erase_subject(&t, "ada@example.com", &AdminActor::System)
        .await
        .unwrap();
    assert_eq!((again.erased, again.records.len()), (0, 0));
}

#[tokio::test]
async fn an_erasure_newer_than_the_checkpoint_is_not_taken_on_trust() {
    let f = fixture().await;
    let (s, t) = (&f.service, tenant("Clate"));
    trail(s, &t).await;
    s.log_sync(&t).await.unwrap();
    let v = NoteVerifier::parse(&s.log_key(&t).await.unwrap()).unwrap();
    let saved = Checkpoint::open(&s.log_checkpoint(&t).await.unwrap().note, &v).unwrap();
    s.erase_subject(&t, "bob@example.com", &AdminActor::System)
        .await
        .unwrap();
    // The saved checkpoint covers 1..=5; the record is 6.
    let mut a = Audit::new(saved, Some(s.log_leaves(&t, 0, 5).await.unwrap())).unwrap();
    everything(s, &t).await.iter().for_each(|r| a.row(r));
    let r = a.finish();
    assert_eq!(
        r.first(),
        Some(&Finding::ErasedUnproven {
            seq: 2,
            by: 6,
            after_checkpoint: true
        })
    );
    assert!(
        r.first()
            .unwrap()
            .to_string()
            .contains("newer than the checkpoint")
    );
}

#[tokio::test]
async fn a_bad_erasure_request_names_its_field() {
    let f = fixture().await;
    let t = tenant("Cbad");
    for bad in [
        "",
        "no-at-sign",
        "a b@x.io",
        &format!("{}@x.io", "a".repeat(400)),
    ] {
        let e = f
            .service
            .erase_subject(&t, bad, &AdminActor::System)
            .await
            .unwrap_err();
        assert_eq!(e.details()[0].field, "actorEmail", "{bad:?}");
    }
}

#[tokio::test]
async fn a_legal_hold_stops_erasure_and_purges_and_every_step_is_recorded() {
    let f = fixture().await;
    let s = &f.service;
    let (held, free) = (tenant("Cheld"), tenant("Cfree"));
    for t in [&held, &free] {
        trail(s, t).await;
    }
    let admin = AdminActor::Token("tok_a".into());
    for bad in ["", "  ", "two\nlines", &"x".repeat(501)] {
        let e = s.set_legal_hold(&held, bad, &admin).await.unwrap_err();
        assert_eq!(e.details()[0].field, "reason", "{bad:?}");
    }
    let hold = s
        .set_legal_hold(&held, "case 2026-17", &admin)
        .await
        .unwrap();
    assert_eq!(hold.set_by, "tok_a");
    let again = s.set_legal_hold(&held, "other", &admin).await.unwrap_err();
    assert!(matches!(again, ServiceError::Conflict(ref m) if m.contains("case 2026-17")));

    let e = s
        .erase_subject(&held, "ada@example.com", &admin)
        .await
        .unwrap_err();
    assert!(
        matches!(e, ServiceError::Conflict(ref m) if m.contains("legal hold") && m.contains("case 2026-17")),
        "{e:?}"
    );
    assert_eq!(
        s.list(&held, &by_email("ada@example.com"))
            .await
            .unwrap()
            .items
            .len(),
        3,
        "nothing erased"
    );

    // The events are from 2026-06-01, months before the fixture's clock: a 30-day purge takes them.
    let done = s.purge(30, &AdminActor::cli()).await.unwrap();
    assert_eq!(done.affected, vec![free.clone()]);
    assert_eq!(done.held, vec![held.clone()]);
    s.record_purge(&done, &AdminActor::cli()).await.unwrap();
    let rows = everything(s, &held).await;
    assert_eq!(rows.iter().filter(|a| a.application == "login").count(), 5);
    assert_eq!(
        admin_events(&rows),
        ["legal_hold.set", "retention.refuse", "retention.refuse"]
    );
    let refusal = &rows[6].body;
    assert_eq!(refusal.result, Outcome::Failure);
    assert_eq!(
        refusal.events[0].param("attempt"),
        Some(&ParamValue::Str("erase".into()))
    );
    assert_eq!(
        rows[7].body.events[0].param("refusal"),
        Some(&ParamValue::Str("legal hold: case 2026-17".into()))
    );

    // The periodic purge records the hold's refusal once, not on every run.
    s.retention_once(30).await.unwrap();
    s.retention_once(30).await.unwrap();
    let rows = everything(s, &held).await;
    assert_eq!(
        admin_events(&rows),
        ["legal_hold.set", "retention.refuse", "retention.refuse"],
        "a person's purge was recorded since the hold, so the job adds nothing"
    );

    // Released (with a reason), the next purge takes the old rows.
    let e = s.release_legal_hold(&held, "", &admin).await.unwrap_err();
    assert_eq!(e.details()[0].field, "reason");
    s.release_legal_hold(&held, "case closed", &admin)
        .await
        .unwrap();
    assert!(matches!(
        s.release_legal_hold(&held, "again", &admin).await,
        Err(ServiceError::NotFound(_))
    ));
    s.retention_once(30).await.unwrap();
    let rows = everything(s, &held).await;
    assert_eq!(rows.iter().filter(|a| a.application == "login").count(), 0);
    assert!(
        admin_events(&rows).ends_with(&["legal_hold.release".into(), "retention.purge".into()])
    );
}

#[tokio::test]
async fn no_retention_below_the_floor_and_every_attempt_is_recorded() {
    let f = fixture().await;
    let t = tenant("Cfloor");
    trail(&f.service, &t).await;
    let s = f.service.clone().with_retention_floor(90).unwrap();
    let Err(e) = f.service.clone().with_retention_floor(40_000) else {
        panic!("a floor above the longest retention is refused");
    };
    assert_eq!(e.details()[0].field, "retention_floor_days");
    let e = s.purge(30, &AdminActor::cli()).await.unwrap_err();
    assert_eq!(e.details()[0].field, "days");
    assert!(e.to_string().contains("retention floor of 90 days"), "{e}");
    let e = s.note_retention_setting(89).await.unwrap_err();
    assert_eq!(e.details()[0].field, "days");
    let rows = everything(&s, &t).await;
    assert_eq!(rows.iter().filter(|a| a.application == "login").count(), 5);
    let attempts: Vec<_> = rows
        .iter()
        .filter(|a| a.application == "admin")
        .map(|a| {
            let e = &a.body.events[0];
            (
                e.name.clone(),
                e.param("attempt").cloned(),
                e.param("retention_days").cloned(),
            )
        })
        .collect();
    assert_eq!(
        attempts,
        [
            (
                "retention.refuse".to_string(),
                Some(ParamValue::Str("purge".into())),
                Some(ParamValue::Int(30))
            ),
            (
                "retention.refuse".to_string(),
                Some(ParamValue::Str("retention_change".into())),
                Some(ParamValue::Int(89))
            ),
        ]
    );
    // At the floor it is accepted.
    s.purge(90, &AdminActor::cli()).await.unwrap();
    // The floor can be turned off.
    let off = f.service.clone().with_retention_floor(0).unwrap();
    off.purge(1, &AdminActor::cli()).await.unwrap();
}
