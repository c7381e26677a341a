//! The Erasure capability: erased activities lose their personal fields (and every index entry
//! that finds the person), keep everything else and their counters, carry the record's
//! uniqueQualifier, and a tenant under legal hold is refused without any change.

use authtrail_model::store::LegalHold;
use authtrail_model::{ActivityBody, IpFilter};

use crate::*;

fn by_email(email: &str) -> ActivityQuery {
    ActivityQuery {
        actor: Some(ActorFilter::Email(email.into())),
        limit: 100,
        ..ActivityQuery::default()
    }
}

async fn counted(store: &dyn Store, t: &Tenant) -> Vec<authtrail_model::store::RollupCell> {
    let mut cells = store
        .rollup(t, T0 - 86_400_000_000, T0 + 86_400_000_000, 60_000_000)
        .await
        .unwrap()
        .cells;
    cells.sort_by_key(|c| (c.slot_us, c.event_name.clone(), c.result.as_str()));
    cells
}

pub async fn erased_rows_lose_personal_fields_only(store: Arc<dyn Store>) {
    let (t, other) = (tenant("Ee"), tenant("Eeo"));
    let batch = vec![
        login(&t, "Ada@X.io", 1),
        login(&t, "bob@x.io", 2),
        login(&t, "ada@x.io", 3),
    ];
    store.append(&t, batch).await.unwrap();
    store
        .append(&other, vec![login(&other, "ada@x.io", 1)])
        .await
        .unwrap();
    let before = counted(&*store, &t).await;
    let bob_before = store.get(&t, 2).await.unwrap().unwrap();
    let ada_before = store.get(&t, 3).await.unwrap().unwrap();

    // 9 is not stored: skipped.
    assert_eq!(store.erase_personal(&t, &[1, 3, 9], 4).await.unwrap(), 2);
    for uq in [1, 3] {
        let a = store.get(&t, uq).await.unwrap().unwrap();
        let mut want: ActivityBody = ada_before.body.clone();
        authtrail_model::erasure::erase_personal(&mut want, 4);
        assert_eq!(a.body, want, "uniqueQualifier {uq}");
        assert_eq!(a.body.actor.email, None);
        assert_eq!(a.body.ip_address, None);
        assert_eq!(a.body.erased_by.map(|b| b.0), Some(4));
        assert_eq!(a.time_us, T0 + uq * 1_000_000, "the rest stays");
    }
    assert_eq!(store.get(&t, 2).await.unwrap().unwrap(), bob_before);
    assert!(all(&*store, &t, by_email("ada@x.io")).await.is_empty());
    let by_profile = ActivityQuery {
        actor: Some(ActorFilter::ProfileId("p-ada@x.io".into())),
        limit: 100,
        ..ActivityQuery::default()
    };
    assert!(all(&*store, &t, by_profile).await.is_empty());
    let by_ip = ActivityQuery {
        ip: Some(IpFilter::Addr("203.0.113.7".parse().unwrap())),
        limit: 100,
        ..ActivityQuery::default()
    };
    assert_eq!(
        all(&*store, &t, by_ip).await,
        vec![2],
        "bob's address stays"
    );
    assert_eq!(all(&*store, &t, by_email("bob@x.io")).await, vec![2]);
    assert_eq!(all(&*store, &t, query(100)).await, vec![3, 2, 1]);
    assert_eq!(
        counted(&*store, &t).await,
        before,
        "aggregates do not change"
    );
    assert_eq!(
        all(&*store, &other, by_email("ada@x.io")).await,
        vec![1],
        "another tenant's rows are not touched"
    );
    let tail = store.tail(&t, 0, 10).await.unwrap();
    assert_eq!(tail[0].body.erased_by.map(|b| b.0), Some(4));
}

pub async fn a_held_tenant_is_not_erased(store: Arc<dyn Store>) {
    let t = tenant("Eh");
    store
        .append(&t, vec![login(&t, "ada@x.io", 1)])
        .await
        .unwrap();
    let before = store.get(&t, 1).await.unwrap().unwrap();
    store
        .set_legal_hold(&LegalHold {
            tenant: t.clone(),
            reason: "case 1".into(),
            set_by: "tok".into(),
            set_us: 1,
        })
        .await
        .unwrap();
    let err = store.erase_personal(&t, &[1], 2).await.unwrap_err();
    assert_eq!(err.kind(), StoreErrorKind::Conflict, "{err}");
    assert!(err.to_string().contains("legal hold"), "{err}");
    assert_eq!(store.get(&t, 1).await.unwrap().unwrap(), before);
    store.release_legal_hold(&t).await.unwrap();
    assert_eq!(store.erase_personal(&t, &[1], 2).await.unwrap(), 1);
}
