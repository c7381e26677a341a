//! The storage interface. Every engine (SQLite, PostgreSQL) implements [`Store`] and passes the
//! one conformance suite in `crates/store-conformance`.
//!
//! Every activity operation takes the tenant as its own argument, so no query path exists that
//! could run without one: isolation is enforced here, below the handlers.

use std::future::Future;
use std::pin::Pin;

use crate::activity::{Activity, NewActivity, Tenant};
use crate::query::{ActivityQuery, Page, Position};

/// A boxed future, so that `Store` can be used as `dyn Store` and the engine chosen at start-up.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// The engine could not do its work (I/O, database, corruption). The request fails and nothing
    /// from it is acknowledged.
    #[error("storage failure: {0}")]
    Backend(String),
    /// The store is shutting down or its writer has stopped.
    #[error("the store is not accepting writes: {0}")]
    Unavailable(String),
}

/// The acknowledgement of one stored (or already stored) activity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Receipt {
    pub unique_qualifier: i64,
    pub time_us: i64,
    /// True when the producer's `eventId` was stored before and this item was not stored again.
    pub duplicate: bool,
}

/// The answer of a capped count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Count {
    /// Matching activities counted; equals the cap when `capped`.
    pub n: u64,
    /// True when counting stopped at the cap (or at the scan budget of parameter filters), so the
    /// true number is at least `n`.
    pub capped: bool,
}

/// What an API token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scope {
    Ingest,
    Read,
    Admin,
}

impl Scope {
    pub fn parse(s: &str) -> Option<Scope> {
        match s {
            "ingest" => Some(Scope::Ingest),
            "read" => Some(Scope::Read),
            "admin" => Some(Scope::Admin),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Ingest => "ingest",
            Scope::Read => "read",
            Scope::Admin => "admin",
        }
    }
}

/// A stored API token. The secret itself is never stored: only its SHA-256.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRecord {
    /// Public identifier, safe to log and list (e.g. `tok_3f9a1c2b7d4e`).
    pub id: String,
    pub tenant: Tenant,
    pub name: String,
    pub scopes: Vec<Scope>,
    pub hash: [u8; 32],
    pub created_us: i64,
    pub expires_us: Option<i64>,
    pub revoked_us: Option<i64>,
}

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

pub trait Store: Send + Sync + 'static {
    /// Stores a validated batch atomically and durably, assigning each new activity the tenant's
    /// next sequence number. Items whose `eventId` is already stored are not stored again; their
    /// receipt repeats the original one with `duplicate: true`. Returns once the batch is durable.
    fn append<'a>(
        &'a self,
        tenant: &'a Tenant,
        batch: Vec<NewActivity>,
    ) -> BoxFuture<'a, Result<Vec<Receipt>, StoreError>>;

    /// One activity by its uniqueQualifier.
    fn get<'a>(
        &'a self,
        tenant: &'a Tenant,
        unique_qualifier: i64,
    ) -> BoxFuture<'a, Result<Option<Activity>, StoreError>>;

    /// One page of a query, newest first.
    fn list<'a>(
        &'a self,
        tenant: &'a Tenant,
        query: &'a ActivityQuery,
    ) -> BoxFuture<'a, Result<Page, StoreError>>;

    /// How many activities match `query` (its `after` and `limit` are ignored). With a cap the
    /// engine stops counting at `cap`: an exact count over millions of rows is the bug that makes
    /// other audit consoles time out.
    fn count<'a>(
        &'a self,
        tenant: &'a Tenant,
        query: &'a ActivityQuery,
        cap: Option<u64>,
    ) -> BoxFuture<'a, Result<Count, StoreError>>;

    /// Activities with a uniqueQualifier greater than `after`, in ascending order, at most
    /// `limit`: for export, live tails and push delivery.
    fn tail<'a>(
        &'a self,
        tenant: &'a Tenant,
        after: i64,
        limit: usize,
    ) -> BoxFuture<'a, Result<Vec<Activity>, StoreError>>;

    /// Copies activities verbatim, keeping their uniqueQualifier, times and eventId (moving a
    /// trail between engines). Atomic; fails if any uniqueQualifier is taken. The tenant's
    /// sequence continues after the highest one restored.
    fn restore<'a>(
        &'a self,
        tenant: &'a Tenant,
        items: Vec<Activity>,
    ) -> BoxFuture<'a, Result<(), StoreError>>;

    /// Deletes every tenant's activities whose time is before `before_us`, in bounded steps that
    /// let ingest go on between them. Returns how many were deleted.
    fn purge_before<'a>(&'a self, before_us: i64) -> BoxFuture<'a, Result<u64, StoreError>>;

    /// Every tenant that has stored activities.
    fn tenants<'a>(&'a self) -> BoxFuture<'a, Result<Vec<Tenant>, StoreError>>;

    /// Saves a new token.
    fn put_token<'a>(&'a self, token: &'a TokenRecord) -> BoxFuture<'a, Result<(), StoreError>>;

    /// The token whose secret hashes to `hash`, if any (revoked and expired ones included: the
    /// caller decides, so that it can say why a token is refused).
    fn token_by_hash<'a>(
        &'a self,
        hash: &'a [u8; 32],
    ) -> BoxFuture<'a, Result<Option<TokenRecord>, StoreError>>;

    /// A tenant's tokens, or every token when `tenant` is `None`.
    fn list_tokens<'a>(
        &'a self,
        tenant: Option<&'a Tenant>,
    ) -> BoxFuture<'a, Result<Vec<TokenRecord>, StoreError>>;

    /// Marks a token revoked. Returns false when the tenant has no such token.
    fn revoke_token<'a>(
        &'a self,
        tenant: &'a Tenant,
        id: &'a str,
        at_us: i64,
    ) -> BoxFuture<'a, Result<bool, StoreError>>;

    /// A 32-byte server secret named `name`, created on first use and shared by every node that
    /// uses this store (cursor signing uses one).
    fn secret<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<[u8; 32], StoreError>>;

    /// The position of the `n`-th activity (1-based), newest first, among those matching the
    /// query's indexed conditions; `None` when fewer than `n` match. `after`, `limit` and the
    /// row checks (`filters`, `client_application_id`) are ignored: callers use it only for
    /// queries without row checks. Engines walk index entries only and never read a row, so an
    /// OFFSET-style page (Logto's `page`) costs `n` index steps rather than `n` row reads.
    fn nth_position<'a>(
        &'a self,
        tenant: &'a Tenant,
        query: &'a ActivityQuery,
        n: u64,
    ) -> BoxFuture<'a, Result<Option<Position>, StoreError>>;

    /// A tenant's named secret that must stay recoverable, e.g. a webhook signing key: verifying
    /// an HMAC needs the key itself, so unlike tokens it cannot be stored hashed. `None` when unset.
    fn tenant_secret<'a>(
        &'a self,
        tenant: &'a Tenant,
        name: &'a str,
    ) -> BoxFuture<'a, Result<Option<Vec<u8>>, StoreError>>;

    /// Sets (`Some`) or removes (`None`) a tenant's named secret.
    fn set_tenant_secret<'a>(
        &'a self,
        tenant: &'a Tenant,
        name: &'a str,
        value: Option<&'a [u8]>,
    ) -> BoxFuture<'a, Result<(), StoreError>>;

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

/// The `secrets` row name of a tenant's named secret. Tenant names hold no `/`, and server
/// secrets (`cursor-signing`) none either, so the two never collide.
pub fn tenant_secret_key(tenant: &Tenant, name: &str) -> String {
    format!("tenant/{tenant}/{name}")
}
