//! Console users and their sessions. Every change (create, password, delete) and every sign-in,
//! failed sign-in and sign-out is recorded as an `admin` event in the user's tenant.
//!
//! Usernames are unique across the store (a sign-in form names no tenant); passwords are stored
//! only as argon2id hashes ([`crate::password`]). A session id lives only in the browser's cookie;
//! the store keeps its SHA-256, so sign-out and revocation take effect on every node at once and a
//! copy of the database cannot be replayed as a cookie.

use std::net::IpAddr;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

use authtrail_model::{ConsoleSession, ConsoleUser, Outcome, Tenant};

use crate::Service;
use crate::audit::{AdminActor, AdminEvent};
use crate::error::ServiceError;
use crate::password;

/// Longest username: an e-mail address fits.
pub const MAX_USERNAME: usize = 320;
/// Longest export filter recorded with a console export.
pub const MAX_EXPORT_FILTER: usize = 1024;
/// A session lasts 12 hours from sign-in; then the user signs in again.
pub const SESSION_TTL_US: i64 = 12 * 3_600_000_000;

/// The browser a sign-in or sign-out comes from, for its audit record.
#[derive(Debug, Clone, Default)]
pub struct Client {
    pub ip: Option<IpAddr>,
    pub user_agent: Option<String>,
}

/// A started session: the user, and the id for the cookie (never stored).
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub user: ConsoleUser,
    pub session_id: String,
}

/// A fresh random id (session or pre-session), URL-safe.
pub fn new_id() -> String {
    let bytes: [u8; 32] = rand::random();
    URL_SAFE_NO_PAD.encode(bytes)
}

/// What the store keeps of a session id.
pub fn hash_session_id(id: &str) -> [u8; 32] {
    Sha256::digest(id.as_bytes()).into()
}

fn check_username(u: &str) -> Result<(), ServiceError> {
    if u.is_empty()
        || u.len() > MAX_USERNAME
        || u.trim() != u
        || u.chars().any(|c| c.is_control() || c.is_whitespace())
    {
        return Err(ServiceError::field(
            "username",
            format!("{u:?} must be 1 to {MAX_USERNAME} bytes without spaces or control characters"),
        ));
    }
    Ok(())
}

fn hash_password(pw: &str) -> Result<String, ServiceError> {
    password::hash(pw).map_err(|m| ServiceError::field("password", m))
}

fn no_user(username: &str) -> ServiceError {
    ServiceError::NotFound(format!("no console user named {username:?}"))
}

fn user_event(name: &'static str, actor: &AdminActor, target: &str) -> AdminEvent {
    AdminEvent::new(name, actor.clone()).string("target_user", target)
}

impl Service {
    /// Creates a console user who sees `tenant`; `Conflict` when the name is taken.
    pub async fn create_user(
        &self,
        tenant: &Tenant,
        username: &str,
        password: &str,
        actor: &AdminActor,
    ) -> Result<ConsoleUser, ServiceError> {
        check_username(username)?;
        // Usernames are unique regardless of case: "Admin" beside "admin" would be two accounts
        // that read as one in every audit record. Checked here, over the (few) console users,
        // with Unicode case folding, so both engines agree; the store's own uniqueness is exact.
        let folded = username.to_lowercase();
        if let Some(taken) = self
            .store()
            .list_console_users(None)
            .await?
            .into_iter()
            .find(|u| u.username.to_lowercase() == folded)
        {
            return Err(ServiceError::Conflict(format!(
                "a console user named {:?} already exists (usernames are case-insensitive)",
                taken.username
            )));
        }
        let user = ConsoleUser {
            username: username.to_string(),
            tenant: tenant.clone(),
            password_hash: hash_password(password)?,
            created_us: self.now_us(),
        };
        if !self.store().put_console_user(&user).await? {
            return Err(ServiceError::Conflict(format!(
                "a console user named {username:?} already exists"
            )));
        }
        self.audit(tenant, user_event("user.create", actor, username))
            .await?;
        Ok(user)
    }

    /// A tenant's console users, or every one, ordered by username.
    pub async fn list_users(
        &self,
        tenant: Option<&Tenant>,
    ) -> Result<Vec<ConsoleUser>, ServiceError> {
        Ok(self.store().list_console_users(tenant).await?)
    }

    /// Sets a new password; every session of the user ends (on every node).
    pub async fn set_password(
        &self,
        username: &str,
        password: &str,
        actor: &AdminActor,
    ) -> Result<(), ServiceError> {
        let hash = hash_password(password)?;
        let user = self
            .store()
            .console_user(username)
            .await?
            .ok_or_else(|| no_user(username))?;
        if !self.store().set_console_password(username, &hash).await? {
            return Err(no_user(username));
        }
        self.audit(
            &user.tenant,
            user_event("user.password_change", actor, username),
        )
        .await
    }

    /// Deletes a user and every session of theirs.
    pub async fn delete_user(
        &self,
        username: &str,
        actor: &AdminActor,
    ) -> Result<(), ServiceError> {
        let user = self
            .store()
            .console_user(username)
            .await?
            .ok_or_else(|| no_user(username))?;
        if !self.store().delete_console_user(username).await? {
            return Err(no_user(username));
        }
        self.audit(&user.tenant, user_event("user.delete", actor, username))
            .await
    }

    /// Checks a password and, when it is right, records the sign-in and starts a session. A
    /// wrong password (or unknown user: it costs the same time) is recorded as a failure and
    /// answers `None`. No trail, no session: a sign-in that cannot be recorded fails.
    pub async fn sign_in(
        &self,
        username: &str,
        pw: String,
        client: &Client,
    ) -> Result<Option<SignedIn>, ServiceError> {
        let user = self.store().console_user(username).await?;
        let phc = user
            .as_ref()
            .map(|u| u.password_hash.clone())
            .unwrap_or_else(|| password::decoy().to_string());
        let ok = tokio::task::spawn_blocking(move || password::verify(&pw, &phc))
            .await
            .unwrap_or(false);
        let Some(user) = user.filter(|_| ok) else {
            self.sign_in_failed(username, client, "wrong_password")
                .await;
            return Ok(None);
        };
        let e = AdminEvent::new("console.sign_in", AdminActor::User(user.username.clone()))
            .ip(client.ip)
            .user_agent(client.user_agent.as_deref());
        self.audit(&user.tenant, e).await?;
        let session_id = new_id();
        let now = self.now_us();
        self.store()
            .put_console_session(&ConsoleSession {
                hash: hash_session_id(&session_id),
                username: user.username.clone(),
                tenant: user.tenant.clone(),
                created_us: now,
                expires_us: now + SESSION_TTL_US,
            })
            .await?;
        Ok(Some(SignedIn { user, session_id }))
    }

    /// Records that a console user downloaded the audit log (`format`: csv or ndjson) under
    /// `filter` (the list's query, cut to [`MAX_EXPORT_FILTER`] bytes), before the first byte is
    /// sent: an export that cannot be recorded does not happen.
    pub async fn record_export(
        &self,
        tenant: &Tenant,
        username: &str,
        client: &Client,
        format: &'static str,
        filter: &str,
    ) -> Result<(), ServiceError> {
        let mut cut = filter.len().min(MAX_EXPORT_FILTER);
        while !filter.is_char_boundary(cut) {
            cut -= 1;
        }
        let e = AdminEvent::new("console.export", AdminActor::User(username.to_string()))
            .ip(client.ip)
            .user_agent(client.user_agent.as_deref())
            .string("export_format", format)
            .string("export_filter", &filter[..cut]);
        self.audit(tenant, e).await
    }

    /// Records a refused sign-in in the tenant of the account it named. An unknown username has
    /// no tenant, so it is only logged (with no password, ever). A failure to record is logged:
    /// the sign-in is refused either way.
    pub async fn sign_in_failed(&self, username: &str, client: &Client, reason: &str) {
        let Ok(Some(user)) = self.store().console_user(username).await else {
            tracing::warn!(ip = ?client.ip, reason, "console: failed sign-in with an unknown username");
            return;
        };
        let e = AdminEvent::new("console.sign_in", AdminActor::User(username.to_string()))
            .ip(client.ip)
            .user_agent(client.user_agent.as_deref())
            .outcome(Outcome::Failure)
            .string("login_failure_reason", reason);
        if let Err(e) = self.audit(&user.tenant, e).await {
            tracing::error!(error = %e, reason, "console: cannot record a failed sign-in");
        }
    }

    /// The live session a cookie's id names; an expired one is deleted and answers `None`.
    pub async fn session(&self, session_id: &str) -> Result<Option<ConsoleSession>, ServiceError> {
        let hash = hash_session_id(session_id);
        let Some(s) = self.store().console_session(&hash).await? else {
            return Ok(None);
        };
        if s.expires_us <= self.now_us() {
            self.store().delete_console_session(&hash).await?;
            return Ok(None);
        }
        Ok(Some(s))
    }

    /// Ends a session and records the sign-out (a failure to record is logged: the session is
    /// over either way).
    pub async fn sign_out(
        &self,
        session_id: &str,
        username: &str,
        tenant: &Tenant,
        client: &Client,
    ) -> Result<(), ServiceError> {
        self.store()
            .delete_console_session(&hash_session_id(session_id))
            .await?;
        let e = AdminEvent::new("console.sign_out", AdminActor::User(username.to_string()))
            .ip(client.ip)
            .user_agent(client.user_agent.as_deref());
        if let Err(e) = self.audit(tenant, e).await {
            tracing::error!(error = %e, "console: cannot record a sign-out");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{fixture, tenant};

    /// Issue #16: case does not make another account, in any script.
    #[tokio::test]
    async fn usernames_are_unique_regardless_of_case() {
        let f = fixture().await;
        let s = &f.service;
        let actor = AdminActor::Cli("ops".into());
        for (first, second) in [("gina", "Gina"), ("ADMIN", "admin"), ("Öykü", "öYKÜ")] {
            s.create_user(&tenant("Ca"), first, "long enough pw", &actor)
                .await
                .unwrap();
            let e = s
                .create_user(&tenant("Cb"), second, "long enough pw", &actor)
                .await
                .unwrap_err();
            assert!(
                matches!(&e, ServiceError::Conflict(m) if m.contains(&format!("{first:?}"))),
                "{second} after {first}: {e:?}"
            );
        }
        assert_eq!(
            s.list_users(None).await.unwrap().len(),
            3,
            "nothing was created"
        );
    }

    #[tokio::test]
    async fn the_user_lifecycle_is_checked_and_audited() {
        let f = fixture().await;
        let s = &f.service;
        let actor = AdminActor::Cli("ops".into());
        let t = tenant("Ca");
        let e = s
            .create_user(&t, "has space", "long enough pw", &actor)
            .await
            .unwrap_err();
        assert_eq!(e.details()[0].field, "username");
        let e = s
            .create_user(&t, "gina", "short", &actor)
            .await
            .unwrap_err();
        assert_eq!(e.details()[0].field, "password");

        s.create_user(&t, "gina", "long enough pw", &actor)
            .await
            .unwrap();
        let e = s
            .create_user(&t, "gina", "long enough pw", &actor)
            .await
            .unwrap_err();
        assert!(matches!(e, ServiceError::Conflict(_)), "{e:?}");

        let client = Client::default();
        assert!(
            s.sign_in("gina", "wrong password".into(), &client)
                .await
                .unwrap()
                .is_none()
        );
        let signed = s
            .sign_in("gina", "long enough pw".into(), &client)
            .await
            .unwrap()
            .unwrap();
        assert!(s.session(&signed.session_id).await.unwrap().is_some());
        s.set_password("gina", "another password", &actor)
            .await
            .unwrap();
        assert!(
            s.session(&signed.session_id).await.unwrap().is_none(),
            "sessions end"
        );
        let again = s
            .sign_in("gina", "another password".into(), &client)
            .await
            .unwrap()
            .unwrap();
        f.clock.advance(SESSION_TTL_US);
        assert!(
            s.session(&again.session_id).await.unwrap().is_none(),
            "sessions expire"
        );

        let e = s.delete_user("nobody", &actor).await.unwrap_err();
        assert!(matches!(e, ServiceError::NotFound(_)), "{e:?}");
        s.delete_user("gina", &actor).await.unwrap();
        assert!(s.list_users(None).await.unwrap().is_empty());

        let q = authtrail_model::ActivityQuery {
            application: Some("admin".into()),
            limit: 10,
            ..Default::default()
        };
        let trail = s.list(&t, &q).await.unwrap().items;
        let names: Vec<&str> = trail
            .iter()
            .map(|a| a.body.events[0].name.as_str())
            .collect();
        assert_eq!(
            names,
            [
                "user.delete",
                "console.sign_in",
                "user.password_change",
                "console.sign_in",
                "console.sign_in",
                "user.create"
            ]
        );
    }
}
