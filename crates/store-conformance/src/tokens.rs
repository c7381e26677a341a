//! The TokenStore capability.

use crate::*;

pub async fn tokens_are_stored_listed_and_revoked(store: Arc<dyn Store>) {
    let t = tenant("Ct");
    let rec = TokenRecord {
        id: "tok_1".into(),
        tenant: t.clone(),
        name: "ci".into(),
        scopes: vec![Scope::Ingest, Scope::Read],
        hash: [7; 32],
        created_us: T0,
        expires_us: Some(T0 + 1),
        revoked_us: None,
    };
    store.put_token(&rec).await.unwrap();
    assert_eq!(
        store.token_by_hash(&[7; 32]).await.unwrap(),
        Some(rec.clone())
    );
    assert_eq!(store.token_by_hash(&[8; 32]).await.unwrap(), None);
    assert_eq!(
        store.list_tokens(Some(&t)).await.unwrap(),
        vec![rec.clone()]
    );
    assert!(
        store
            .list_tokens(Some(&tenant("Cu")))
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        !store
            .revoke_token(&tenant("Cu"), "tok_1", T0 + 5)
            .await
            .unwrap(),
        "another tenant cannot revoke it"
    );
    assert!(store.revoke_token(&t, "tok_1", T0 + 5).await.unwrap());
    assert_eq!(
        store
            .token_by_hash(&[7; 32])
            .await
            .unwrap()
            .unwrap()
            .revoked_us,
        Some(T0 + 5)
    );
}
