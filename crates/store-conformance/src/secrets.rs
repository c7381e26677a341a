//! The SecretStore capability: server secrets and tenants' named secrets.

use crate::*;

pub async fn secrets_are_created_once(store: Arc<dyn Store>) {
    let a = store.secret("cursor").await.unwrap();
    assert_eq!(store.secret("cursor").await.unwrap(), a);
    assert_ne!(store.secret("other").await.unwrap(), a);
}

pub async fn tenant_secrets_are_set_replaced_removed_and_separate(store: Arc<dyn Store>) {
    let (a, b) = (tenant("Ks"), tenant("Kt"));
    assert_eq!(
        store.tenant_secret(&a, "logto-webhook").await.unwrap(),
        None
    );
    store
        .set_tenant_secret(&a, "logto-webhook", Some(b"first"))
        .await
        .unwrap();
    store
        .set_tenant_secret(&a, "logto-webhook", Some(b"second"))
        .await
        .unwrap();
    assert_eq!(
        store.tenant_secret(&a, "logto-webhook").await.unwrap(),
        Some(b"second".to_vec())
    );
    assert_eq!(
        store.tenant_secret(&b, "logto-webhook").await.unwrap(),
        None
    );
    assert_eq!(store.tenant_secret(&a, "other").await.unwrap(), None);
    store
        .set_tenant_secret(&a, "logto-webhook", None)
        .await
        .unwrap();
    assert_eq!(
        store.tenant_secret(&a, "logto-webhook").await.unwrap(),
        None
    );
    // Server secrets are untouched by tenant ones.
    let s = store.secret("cursor-signing").await.unwrap();
    assert_eq!(store.secret("cursor-signing").await.unwrap(), s);
}
