//! Console users and sessions. Passwords are stored as argon2 PHC strings, sessions by the
//! SHA-256 of their id: neither secret is ever stored.

use authtrail_model::store::prelude::*;
use authtrail_model::{BoxFuture, ConsoleSession, ConsoleUser, Tenant};
use rusqlite::{Connection, OptionalExtension, Row, params};

use crate::SqliteStore;
use crate::errors::backend;

fn bad(m: String) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, m.into())
}

fn decode_user(r: &Row<'_>) -> rusqlite::Result<ConsoleUser> {
    let tenant: String = r.get(1)?;
    Ok(ConsoleUser {
        username: r.get(0)?,
        tenant: Tenant::new(&tenant).map_err(bad)?,
        password_hash: r.get(2)?,
        created_us: r.get(3)?,
    })
}

fn decode_session(r: &Row<'_>) -> rusqlite::Result<ConsoleSession> {
    let hash: Vec<u8> = r.get(0)?;
    let tenant: String = r.get(2)?;
    Ok(ConsoleSession {
        hash: hash
            .try_into()
            .map_err(|_| bad("session hash is not 32 bytes".into()))?,
        username: r.get(1)?,
        tenant: Tenant::new(&tenant).map_err(bad)?,
        created_us: r.get(3)?,
        expires_us: r.get(4)?,
    })
}

const USER_COLUMNS: &str = "username, tenant, password_hash, created_us";
const SESSION_COLUMNS: &str = "hash, username, tenant, created_us, expires_us";

fn put_user(c: &mut Connection, u: &ConsoleUser) -> Result<bool, StoreError> {
    let n = c
        .execute(
            &format!(
                "INSERT INTO console_users ({USER_COLUMNS}) VALUES (?1, ?2, ?3, ?4) \
                 ON CONFLICT (username) DO NOTHING"
            ),
            params![u.username, u.tenant.as_str(), u.password_hash, u.created_us],
        )
        .map_err(backend)?;
    Ok(n == 1)
}

fn user(c: &Connection, username: &str) -> Result<Option<ConsoleUser>, StoreError> {
    c.prepare_cached(&format!(
        "SELECT {USER_COLUMNS} FROM console_users WHERE username = ?1"
    ))
    .and_then(|mut s| s.query_row([username], decode_user).optional())
    .map_err(backend)
}

fn list_users(c: &Connection, tenant: Option<&Tenant>) -> Result<Vec<ConsoleUser>, StoreError> {
    let mut s = c
        .prepare_cached(&format!(
            "SELECT {USER_COLUMNS} FROM console_users WHERE ?1 IS NULL OR tenant = ?1 ORDER BY username"
        ))
        .map_err(backend)?;
    let rows = s
        .query_map([tenant.map(Tenant::as_str)], decode_user)
        .map_err(backend)?;
    rows.collect::<Result<_, _>>().map_err(backend)
}

/// Runs `sql` on the user and, when it touched one, ends their sessions in the same transaction.
fn change_user(
    c: &mut Connection,
    sql: &str,
    p: &[&dyn rusqlite::ToSql],
) -> Result<bool, StoreError> {
    let tx = c.transaction().map_err(backend)?;
    let n = tx.execute(sql, p).map_err(backend)?;
    if n == 1 {
        tx.execute("DELETE FROM console_sessions WHERE username = ?1", [p[0]])
            .map_err(backend)?;
    }
    tx.commit().map_err(backend)?;
    Ok(n == 1)
}

fn set_password(c: &mut Connection, username: &str, hash: &str) -> Result<bool, StoreError> {
    change_user(
        c,
        "UPDATE console_users SET password_hash = ?2 WHERE username = ?1",
        &[&username, &hash],
    )
}

fn delete_user(c: &mut Connection, username: &str) -> Result<bool, StoreError> {
    change_user(
        c,
        "DELETE FROM console_users WHERE username = ?1",
        &[&username],
    )
}

fn put_session(c: &mut Connection, s: &ConsoleSession) -> Result<(), StoreError> {
    c.execute(
        &format!("INSERT INTO console_sessions ({SESSION_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5)"),
        params![
            &s.hash[..],
            s.username,
            s.tenant.as_str(),
            s.created_us,
            s.expires_us
        ],
    )
    .map_err(backend)?;
    Ok(())
}

fn session(c: &Connection, hash: &[u8; 32]) -> Result<Option<ConsoleSession>, StoreError> {
    c.prepare_cached(&format!(
        "SELECT {SESSION_COLUMNS} FROM console_sessions WHERE hash = ?1"
    ))
    .and_then(|mut s| s.query_row([&hash[..]], decode_session).optional())
    .map_err(backend)
}

fn delete_session(c: &mut Connection, hash: &[u8; 32]) -> Result<bool, StoreError> {
    let n = c
        .execute("DELETE FROM console_sessions WHERE hash = ?1", [&hash[..]])
        .map_err(backend)?;
    Ok(n == 1)
}

impl ConsoleStore for SqliteStore {
    fn put_console_user<'a>(
        &'a self,
        user: &'a ConsoleUser,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        let user = user.clone();
        Box::pin(self.write(move |c| put_user(c, &user)))
    }

    fn console_user<'a>(
        &'a self,
        username: &'a str,
    ) -> BoxFuture<'a, Result<Option<ConsoleUser>, StoreError>> {
        let username = username.to_string();
        Box::pin(self.read(move |c| user(c, &username)))
    }

    fn list_console_users<'a>(
        &'a self,
        tenant: Option<&'a Tenant>,
    ) -> BoxFuture<'a, Result<Vec<ConsoleUser>, StoreError>> {
        let tenant = tenant.cloned();
        Box::pin(self.read(move |c| list_users(c, tenant.as_ref())))
    }

    fn set_console_password<'a>(
        &'a self,
        username: &'a str,
        password_hash: &'a str,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        let (username, hash) = (username.to_string(), password_hash.to_string());
        Box::pin(self.write(move |c| set_password(c, &username, &hash)))
    }

    fn delete_console_user<'a>(
        &'a self,
        username: &'a str,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        let username = username.to_string();
        Box::pin(self.write(move |c| delete_user(c, &username)))
    }

    fn put_console_session<'a>(
        &'a self,
        session: &'a ConsoleSession,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        let session = session.clone();
        Box::pin(self.write(move |c| put_session(c, &session)))
    }

    fn console_session<'a>(
        &'a self,
        hash: &'a [u8; 32],
    ) -> BoxFuture<'a, Result<Option<ConsoleSession>, StoreError>> {
        let hash = *hash;
        Box::pin(self.read(move |c| session(c, &hash)))
    }

    fn delete_console_session<'a>(
        &'a self,
        hash: &'a [u8; 32],
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        let hash = *hash;
        Box::pin(self.write(move |c| delete_session(c, &hash)))
    }
}
