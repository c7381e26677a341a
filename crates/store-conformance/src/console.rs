//! The ConsoleStore capability: users and sessions.

use crate::*;

fn console_user(name: &str, t: &str) -> ConsoleUser {
    ConsoleUser {
        username: name.into(),
        tenant: tenant(t),
        password_hash: format!("$argon2id$v=19$m=19456,t=2,p=1$fake${name}"),
        created_us: T0,
    }
}

pub async fn console_users_are_unique_listed_and_deleted(store: Arc<dyn Store>) {
    let alice = console_user("alice@example.com", "Ca");
    let bob = console_user("bob", "Cb");
    assert!(store.put_console_user(&alice).await.unwrap());
    assert!(store.put_console_user(&bob).await.unwrap());
    let mut again = console_user("alice@example.com", "Cb");
    again.password_hash = "other".into();
    assert!(
        !store.put_console_user(&again).await.unwrap(),
        "a taken username is refused"
    );
    assert_eq!(
        store.console_user("alice@example.com").await.unwrap(),
        Some(alice.clone()),
        "the refused insert changed nothing"
    );
    assert_eq!(store.console_user("carol").await.unwrap(), None);
    assert_eq!(
        store.list_console_users(Some(&tenant("Ca"))).await.unwrap(),
        vec![alice.clone()]
    );
    assert_eq!(
        store.list_console_users(None).await.unwrap(),
        vec![alice.clone(), bob.clone()]
    );
    assert!(store.set_console_password("bob", "new-hash").await.unwrap());
    assert_eq!(
        store
            .console_user("bob")
            .await
            .unwrap()
            .unwrap()
            .password_hash,
        "new-hash"
    );
    assert!(!store.set_console_password("carol", "x").await.unwrap());
    assert!(store.delete_console_user("bob").await.unwrap());
    assert!(!store.delete_console_user("bob").await.unwrap());
    assert_eq!(store.console_user("bob").await.unwrap(), None);
}

pub async fn console_sessions_end_with_their_user(store: Arc<dyn Store>) {
    let alice = console_user("alice", "Ca");
    let bob = console_user("bob", "Ca");
    store.put_console_user(&alice).await.unwrap();
    store.put_console_user(&bob).await.unwrap();
    let session = |h: u8, user: &str| ConsoleSession {
        hash: [h; 32],
        username: user.into(),
        tenant: tenant("Ca"),
        created_us: T0,
        expires_us: T0 + 3_600_000_000,
    };
    for (h, u) in [(1, "alice"), (2, "alice"), (3, "bob")] {
        store.put_console_session(&session(h, u)).await.unwrap();
    }
    assert_eq!(
        store.console_session(&[1; 32]).await.unwrap(),
        Some(session(1, "alice"))
    );
    assert_eq!(store.console_session(&[9; 32]).await.unwrap(), None);
    assert!(store.delete_console_session(&[1; 32]).await.unwrap());
    assert!(!store.delete_console_session(&[1; 32]).await.unwrap());
    assert_eq!(store.console_session(&[1; 32]).await.unwrap(), None);
    // A password change ends the user's other sessions; another user's stay.
    assert!(store.set_console_password("alice", "h2").await.unwrap());
    assert_eq!(store.console_session(&[2; 32]).await.unwrap(), None);
    assert!(store.console_session(&[3; 32]).await.unwrap().is_some());
    assert!(store.delete_console_user("bob").await.unwrap());
    assert_eq!(store.console_session(&[3; 32]).await.unwrap(), None);
}
