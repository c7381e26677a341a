//! Console accounts: the people who sign in to the web console, and their sessions.

use super::{BoxFuture, StoreError};
use crate::activity::Tenant;

/// A person who signs in to the web console. Usernames are unique across the whole store (a
/// sign-in form names no tenant); each user sees exactly one tenant. Only the password's argon2
/// PHC string is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsoleUser {
    pub username: String,
    pub tenant: Tenant,
    pub password_hash: String,
    pub created_us: i64,
}

/// A signed-in console session. The session id lives only in the browser's cookie; the store
/// keeps its SHA-256, so a copy of the database cannot be replayed as a cookie.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsoleSession {
    pub hash: [u8; 32],
    pub username: String,
    pub tenant: Tenant,
    pub created_us: i64,
    pub expires_us: i64,
}

pub trait ConsoleStore: Send + Sync + 'static {
    /// Saves a new console user. Returns false (and changes nothing) when the username is taken.
    fn put_console_user<'a>(
        &'a self,
        user: &'a ConsoleUser,
    ) -> BoxFuture<'a, Result<bool, StoreError>>;

    /// The console user named `username`, if any.
    fn console_user<'a>(
        &'a self,
        username: &'a str,
    ) -> BoxFuture<'a, Result<Option<ConsoleUser>, StoreError>>;

    /// A tenant's console users, or every one when `tenant` is `None`, ordered by username.
    fn list_console_users<'a>(
        &'a self,
        tenant: Option<&'a Tenant>,
    ) -> BoxFuture<'a, Result<Vec<ConsoleUser>, StoreError>>;

    /// Replaces a user's password hash and ends every session of that user (on every node).
    /// Returns false when there is no such user.
    fn set_console_password<'a>(
        &'a self,
        username: &'a str,
        password_hash: &'a str,
    ) -> BoxFuture<'a, Result<bool, StoreError>>;

    /// Deletes a user and every session of theirs. Returns false when there is no such user.
    fn delete_console_user<'a>(
        &'a self,
        username: &'a str,
    ) -> BoxFuture<'a, Result<bool, StoreError>>;

    /// Saves a new console session.
    fn put_console_session<'a>(
        &'a self,
        session: &'a ConsoleSession,
    ) -> BoxFuture<'a, Result<(), StoreError>>;

    /// The session whose id hashes to `hash` (expired ones included: the caller decides).
    fn console_session<'a>(
        &'a self,
        hash: &'a [u8; 32],
    ) -> BoxFuture<'a, Result<Option<ConsoleSession>, StoreError>>;

    /// Ends a session. Returns false when there was none.
    fn delete_console_session<'a>(
        &'a self,
        hash: &'a [u8; 32],
    ) -> BoxFuture<'a, Result<bool, StoreError>>;
}
