//! Console users and sessions. Passwords are stored as argon2 PHC strings, sessions by the
//! SHA-256 of their id: neither secret is ever stored.

use authtrail_model::{ConsoleSession, ConsoleUser, StoreError, Tenant};
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use crate::{PgStore, corrupt, pg};

const USER_COLUMNS: &str = "username, tenant, password_hash, created_us";
const SESSION_COLUMNS: &str = "hash, username, tenant, created_us, expires_us";

fn decode_user(r: &Row) -> Result<ConsoleUser, StoreError> {
    Ok(ConsoleUser {
        username: r.get(0),
        tenant: Tenant::new(r.get::<_, &str>(1)).map_err(corrupt)?,
        password_hash: r.get(2),
        created_us: r.get(3),
    })
}

fn decode_session(r: &Row) -> Result<ConsoleSession, StoreError> {
    let hash: &[u8] = r.get(0);
    Ok(ConsoleSession {
        hash: hash
            .try_into()
            .map_err(|_| corrupt("session hash is not 32 bytes"))?,
        username: r.get(1),
        tenant: Tenant::new(r.get::<_, &str>(2)).map_err(corrupt)?,
        created_us: r.get(3),
        expires_us: r.get(4),
    })
}

pub(crate) async fn put_user(store: &PgStore, u: &ConsoleUser) -> Result<bool, StoreError> {
    let c = store.client().await?;
    let n = c
        .execute(
            &format!(
                "INSERT INTO console_users ({USER_COLUMNS}) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (username) DO NOTHING"
            ),
            &[
                &u.username,
                &u.tenant.as_str(),
                &u.password_hash,
                &u.created_us,
            ],
        )
        .await
        .map_err(pg)?;
    Ok(n == 1)
}

pub(crate) async fn user(
    store: &PgStore,
    username: &str,
) -> Result<Option<ConsoleUser>, StoreError> {
    let c = store.client().await?;
    let row = c
        .query_opt(
            &format!("SELECT {USER_COLUMNS} FROM console_users WHERE username = $1"),
            &[&username],
        )
        .await
        .map_err(pg)?;
    row.as_ref().map(decode_user).transpose()
}

pub(crate) async fn list_users(
    store: &PgStore,
    tenant: Option<&Tenant>,
) -> Result<Vec<ConsoleUser>, StoreError> {
    let c = store.client().await?;
    let rows = c
        .query(
            &format!(
                "SELECT {USER_COLUMNS} FROM console_users WHERE $1::text IS NULL OR tenant = $1 ORDER BY username"
            ),
            &[&tenant.map(Tenant::as_str)],
        )
        .await
        .map_err(pg)?;
    rows.iter().map(decode_user).collect()
}

/// Runs `sql` on the user and, when it touched one, ends their sessions in the same transaction,
/// so that no node keeps honouring a session of a changed or deleted user.
async fn change_user(
    store: &PgStore,
    sql: &str,
    p: &[&(dyn ToSql + Sync)],
) -> Result<bool, StoreError> {
    let mut c = store.client().await?;
    let tx = c.transaction().await.map_err(pg)?;
    let n = tx.execute(sql, p).await.map_err(pg)?;
    if n == 1 {
        tx.execute("DELETE FROM console_sessions WHERE username = $1", &[p[0]])
            .await
            .map_err(pg)?;
    }
    tx.commit().await.map_err(pg)?;
    Ok(n == 1)
}

pub(crate) async fn set_password(
    store: &PgStore,
    username: &str,
    hash: &str,
) -> Result<bool, StoreError> {
    change_user(
        store,
        "UPDATE console_users SET password_hash = $2 WHERE username = $1",
        &[&username, &hash],
    )
    .await
}

pub(crate) async fn delete_user(store: &PgStore, username: &str) -> Result<bool, StoreError> {
    change_user(
        store,
        "DELETE FROM console_users WHERE username = $1",
        &[&username],
    )
    .await
}

pub(crate) async fn put_session(store: &PgStore, s: &ConsoleSession) -> Result<(), StoreError> {
    let c = store.client().await?;
    c.execute(
        &format!("INSERT INTO console_sessions ({SESSION_COLUMNS}) VALUES ($1, $2, $3, $4, $5)"),
        &[
            &&s.hash[..],
            &s.username,
            &s.tenant.as_str(),
            &s.created_us,
            &s.expires_us,
        ],
    )
    .await
    .map_err(pg)?;
    Ok(())
}

pub(crate) async fn session(
    store: &PgStore,
    hash: &[u8; 32],
) -> Result<Option<ConsoleSession>, StoreError> {
    let c = store.client().await?;
    let stmt = c
        .prepare_cached(&format!(
            "SELECT {SESSION_COLUMNS} FROM console_sessions WHERE hash = $1"
        ))
        .await
        .map_err(pg)?;
    let row = c.query_opt(&stmt, &[&&hash[..]]).await.map_err(pg)?;
    row.as_ref().map(decode_session).transpose()
}

pub(crate) async fn delete_session(store: &PgStore, hash: &[u8; 32]) -> Result<bool, StoreError> {
    let c = store.client().await?;
    let n = c
        .execute(
            "DELETE FROM console_sessions WHERE hash = $1",
            &[&&hash[..]],
        )
        .await
        .map_err(pg)?;
    Ok(n == 1)
}
