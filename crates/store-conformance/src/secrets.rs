//! The SecretStore capability: server secrets and tenants' named secrets, stored as given,
//! inserted once and changed only by compare-and-set.

use authtrail_model::store::tenant_secret_key;

use crate::*;

pub async fn secrets_are_inserted_once(store: Arc<dyn Store>) {
    assert_eq!(store.get_secret("cursor").await.unwrap(), None);
    assert_eq!(
        store.insert_secret("cursor", b"first").await.unwrap(),
        b"first"
    );
    assert_eq!(
        store.insert_secret("cursor", b"second").await.unwrap(),
        b"first",
        "the value stored first stays"
    );
    assert_eq!(
        store.get_secret("cursor").await.unwrap(),
        Some(b"first".to_vec())
    );
    assert_eq!(store.insert_secret("other", b"x").await.unwrap(), b"x");
}

pub async fn racing_inserts_agree_on_one_value(store: Arc<dyn Store>) {
    let (a, b) = tokio::join!(
        store.insert_secret("raced", b"node-a"),
        store.insert_secret("raced", b"node-b")
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a, b, "both nodes use the same secret");
    assert!(a == b"node-a" || a == b"node-b");
}

pub async fn secrets_change_only_by_compare_and_set(store: Arc<dyn Store>) {
    store.insert_secret("log-key", b"clear").await.unwrap();
    assert!(
        !store
            .swap_secret("log-key", b"stale", b"sealed")
            .await
            .unwrap(),
        "a stale expectation changes nothing"
    );
    assert!(
        !store.swap_secret("absent", b"", b"x").await.unwrap(),
        "nothing to swap"
    );
    assert_eq!(store.get_secret("absent").await.unwrap(), None);
    assert!(
        store
            .swap_secret("log-key", b"clear", b"sealed")
            .await
            .unwrap()
    );
    assert_eq!(
        store.get_secret("log-key").await.unwrap(),
        Some(b"sealed".to_vec())
    );
    // Binary values compare byte for byte.
    let bin = [0u8, 255, 0, 1];
    store.insert_secret("bin", &bin).await.unwrap();
    assert!(store.swap_secret("bin", &bin, b"y").await.unwrap());
    // Two swaps from the same value: one wins.
    let (a, b) = tokio::join!(
        store.swap_secret("log-key", b"sealed", b"by-a"),
        store.swap_secret("log-key", b"sealed", b"by-b")
    );
    assert_eq!([a.unwrap(), b.unwrap()].iter().filter(|w| **w).count(), 1);
}

pub async fn secret_names_list_server_and_tenant_secrets(store: Arc<dyn Store>) {
    let t = tenant("Kn");
    store.insert_secret("zz-server", b"v").await.unwrap();
    store
        .set_tenant_secret(&t, "hook", Some(b"k"))
        .await
        .unwrap();
    let names = store.secret_names().await.unwrap();
    let key = tenant_secret_key(&t, "hook");
    assert!(names.contains(&"zz-server".to_string()), "{names:?}");
    assert!(names.contains(&key), "{names:?}");
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted, "in name order");
    assert_eq!(store.get_secret(&key).await.unwrap(), Some(b"k".to_vec()));
    store.set_tenant_secret(&t, "hook", None).await.unwrap();
    assert!(!store.secret_names().await.unwrap().contains(&key));
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
    let s = store.insert_secret("cursor-signing", b"s").await.unwrap();
    assert_eq!(store.get_secret("cursor-signing").await.unwrap(), Some(s));
}
