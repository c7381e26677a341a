//! Console users and sessions: the [`ConsoleStore`] capability. Passwords are stored as argon2 PHC strings, sessions by the
//! SHA-256 of their id: neither secret is ever stored.

use authtrail_model::store::prelude::*;
use authtrail_model::{BoxFuture, ConsoleSession, ConsoleUser, Tenant};
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

async fn put_user(store: &PgStore, u: &ConsoleUser) -> Result<bool, StoreError> {
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

async fn user(store: &PgStore, username: &str) -> Result<Option<ConsoleUser>, StoreError> {
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

async fn list_users(
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

async fn set_password(store: &PgStore, username: &str, hash: &str) -> Result<bool, StoreError> {
    change_user(
        store,
        "UPDATE console_users SET password_hash = $2 WHERE username = $1",
        &[&username, &hash],
    )
    .await
}

async fn delete_user(store: &PgStore, username: &str) -> Result<bool, StoreError> {
    change_user(
        store,
        "DELETE FROM console_users WHERE username = $1",
        &[&username],
    )
    .await
}

async fn put_session(store: &PgStore, s: &ConsoleSession) -> Result<(), StoreError> {
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

async fn session(store: &PgStore, hash: &[u8; 32]) -> Result<Option<ConsoleSession>, StoreError> {
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

async fn delete_session(store: &PgStore, hash: &[u8; 32]) -> Result<bool, StoreError> {
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

impl ConsoleStore for PgStore {
    fn put_console_user<'a>(
        &'a self,
        user: &'a ConsoleUser,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        Box::pin(put_user(self, user))
    }

    fn console_user<'a>(
        &'a self,
        username: &'a str,
    ) -> BoxFuture<'a, Result<Option<ConsoleUser>, StoreError>> {
        Box::pin(user(self, username))
    }

    fn list_console_users<'a>(
        &'a self,
        tenant: Option<&'a Tenant>,
    ) -> BoxFuture<'a, Result<Vec<ConsoleUser>, StoreError>> {
        Box::pin(list_users(self, tenant))
    }

    fn set_console_password<'a>(
        &'a self,
        username: &'a str,
        password_hash: &'a str,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        Box::pin(set_password(self, username, password_hash))
    }

    fn delete_console_user<'a>(
        &'a self,
        username: &'a str,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        Box::pin(delete_user(self, username))
    }

    fn put_console_session<'a>(
        &'a self,
        session: &'a ConsoleSession,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(put_session(self, session))
    }

    fn console_session<'a>(
        &'a self,
        hash: &'a [u8; 32],
    ) -> BoxFuture<'a, Result<Option<ConsoleSession>, StoreError>> {
        Box::pin(session(self, hash))
    }

    fn delete_console_session<'a>(
        &'a self,
        hash: &'a [u8; 32],
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        Box::pin(delete_session(self, hash))
    }
}
