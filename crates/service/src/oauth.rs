//! The OAuth 2.0 client-credentials grant (RFC 6749 §4.4), so that clients written for Logto's
//! Management API work unchanged: `@logto/api`'s `createManagementApi` posts its client id and
//! secret to `{baseUrl}/oidc/token` and then calls `/api/logs` with the access token it gets.
//!
//! An authtrail API token is the client: its id is the `client_id`, its secret the
//! `client_secret`. The access token is a new API token, stored like any other (only its hash),
//! for the same tenant with the same scopes (or fewer, if the client asks), that expires after
//! [`ACCESS_TOKEN_TTL_US`] (or with its credential, if that is sooner) and is revoked with it.
//! So the long-lived secret travels only to the token endpoint, and what travels with every API
//! call dies within the hour.

use authtrail_model::{Scope, TokenRecord};

use crate::Service;
use crate::audit::{AdminActor, AdminEvent};
use crate::error::ServiceError;
use crate::tokens::{MintedToken, mint_token};

/// How long an access token lives.
pub const ACCESS_TOKEN_TTL_US: i64 = 3_600_000_000;
/// The name of an access token minted for the credential `id`; how revocation finds them.
pub fn access_token_name(credential_id: &str) -> String {
    format!("oauth2:{credential_id}")
}
/// The scope Logto's Management API clients ask for: everything the credential may do.
pub const ALL_SCOPE: &str = "all";

/// An RFC 6749 §5.2 error: its `error` code, and a description for people.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthError {
    pub error: &'static str,
    pub description: String,
}

impl OAuthError {
    fn new(error: &'static str, description: impl Into<String>) -> OAuthError {
        OAuthError {
            error,
            description: description.into(),
        }
    }

    /// The client could not be authenticated: 401 (every cause reads the same to the caller).
    pub fn is_client_error(&self) -> bool {
        self.error == "invalid_client"
    }
}

/// A client-credentials request, as parsed from the form and the `Authorization` header.
pub struct ClientCredentials<'a> {
    pub client_id: &'a str,
    pub client_secret: &'a str,
    /// Space-separated scopes asked for; `None` or `all`: every scope of the credential.
    pub scope: Option<&'a str>,
}

/// What the token endpoint answers.
pub struct AccessToken {
    pub secret: String,
    pub expires_in_secs: i64,
    /// The granted scope: `all` when that was asked for, else the granted scope names.
    pub scope: String,
}

impl Service {
    /// Exchanges a credential for a short-lived access token and records `token.exchange`.
    pub async fn client_credentials(
        &self,
        req: ClientCredentials<'_>,
    ) -> Result<AccessToken, OAuthOutcome> {
        let invalid_client = || {
            OAuthOutcome::OAuth(OAuthError::new(
                "invalid_client",
                "unknown client, wrong secret, or a revoked or expired credential",
            ))
        };
        let Some(credential) = self.token(req.client_secret).await? else {
            return Err(invalid_client());
        };
        // The secret identifies the credential; the id must name the same one.
        if credential.id != req.client_id || credential.name.starts_with("oauth2:") {
            tracing::info!(token = %credential.id, "client credentials: id and secret disagree, or an access token used as a client");
            return Err(invalid_client());
        }
        let (scopes, scope) = granted(&credential, req.scope).map_err(OAuthOutcome::OAuth)?;
        let now = self.now_us();
        let expires = credential
            .expires_us
            .map_or(now + ACCESS_TOKEN_TTL_US, |e| {
                e.min(now + ACCESS_TOKEN_TTL_US)
            });
        let MintedToken { secret, record } = mint_token(
            credential.tenant.clone(),
            &access_token_name(&credential.id),
            scopes,
            now,
            Some(expires),
        );
        self.store().put_token(&record).await?;
        let names: Vec<&str> = record.scopes.iter().map(|s| s.as_str()).collect();
        let event = AdminEvent::new("token.exchange", AdminActor::Token(credential.id.clone()))
            .string("token_id", &record.id)
            .string("tenant", record.tenant.as_str())
            .strings("scopes", &names);
        if let Err(e) = self.audit(&record.tenant, event).await {
            // Unaudited, so it must not work.
            let _ = self
                .store()
                .revoke_token(&record.tenant, &record.id, now)
                .await;
            return Err(e.into());
        }
        Ok(AccessToken {
            secret,
            expires_in_secs: (expires - now) / 1_000_000,
            scope,
        })
    }
}

/// The scopes an access token gets: the credential's, or the subset asked for.
fn granted(
    credential: &TokenRecord,
    asked: Option<&str>,
) -> Result<(Vec<Scope>, String), OAuthError> {
    let asked = asked.map(str::trim).filter(|s| !s.is_empty());
    match asked {
        None => Ok((credential.scopes.clone(), scope_names(&credential.scopes))),
        Some(ALL_SCOPE) => Ok((credential.scopes.clone(), ALL_SCOPE.to_string())),
        Some(list) => {
            let mut out = Vec::new();
            for name in list.split(' ').filter(|n| !n.is_empty()) {
                let scope = Scope::parse(name).ok_or_else(|| {
                    OAuthError::new(
                        "invalid_scope",
                        format!("{name:?} is not a scope (all, ingest, read, admin)"),
                    )
                })?;
                if !credential.scopes.contains(&scope) {
                    return Err(OAuthError::new(
                        "invalid_scope",
                        format!("the credential does not hold the {name:?} scope"),
                    ));
                }
                if !out.contains(&scope) {
                    out.push(scope);
                }
            }
            let names = scope_names(&out);
            Ok((out, names))
        }
    }
}

fn scope_names(scopes: &[Scope]) -> String {
    scopes
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(" ")
}

/// A refusal in OAuth's terms, or a fault of ours (the store).
#[derive(Debug)]
pub enum OAuthOutcome {
    OAuth(OAuthError),
    Service(ServiceError),
}

impl From<ServiceError> for OAuthOutcome {
    fn from(e: ServiceError) -> OAuthOutcome {
        OAuthOutcome::Service(e)
    }
}

impl From<authtrail_model::StoreError> for OAuthOutcome {
    fn from(e: authtrail_model::StoreError) -> OAuthOutcome {
        OAuthOutcome::Service(e.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{fixture, tenant};
    use crate::tokens::{Caller, NewToken};

    async fn credential(f: &crate::testing::Fixture, scopes: Vec<Scope>) -> MintedToken {
        let req = NewToken {
            tenant: tenant("Coauth"),
            name: "m2m".into(),
            scopes,
            expires_in_days: None,
        };
        f.service
            .create_token(req, &Caller::new(AdminActor::System, None))
            .await
            .unwrap()
    }

    fn oauth(r: Result<AccessToken, OAuthOutcome>) -> OAuthError {
        match r {
            Err(OAuthOutcome::OAuth(e)) => e,
            Err(OAuthOutcome::Service(e)) => panic!("a fault: {e:?}"),
            Ok(t) => panic!("granted {}", t.scope),
        }
    }

    #[tokio::test]
    async fn a_credential_gets_a_short_lived_token_scoped_like_it_revoked_with_it() {
        let f = fixture().await;
        let s = &f.service;
        let cred = credential(&f, vec![Scope::Read, Scope::Ingest]).await;
        let req = |scope| ClientCredentials {
            client_id: &cred.record.id,
            client_secret: &cred.secret,
            scope,
        };
        let t = s.client_credentials(req(Some("all"))).await.unwrap();
        assert_eq!((t.scope.as_str(), t.expires_in_secs), ("all", 3600));
        let record = s.token(&t.secret).await.unwrap().unwrap();
        assert_eq!(record.scopes, vec![Scope::Read, Scope::Ingest]);
        assert_eq!(record.tenant, cred.record.tenant);

        let narrow = s.client_credentials(req(Some("read"))).await.unwrap();
        assert_eq!(narrow.scope, "read");
        assert_eq!(
            s.token(&narrow.secret).await.unwrap().unwrap().scopes,
            vec![Scope::Read]
        );
        assert_eq!(
            oauth(s.client_credentials(req(Some("admin"))).await).error,
            "invalid_scope"
        );
        assert_eq!(
            oauth(s.client_credentials(req(Some("root"))).await).error,
            "invalid_scope"
        );

        // A wrong id, a wrong secret, and an access token used as a client are one refusal.
        for (id, secret) in [
            ("tok_000000000000", cred.secret.as_str()),
            (cred.record.id.as_str(), "atr_wrong"),
            (record.id.as_str(), t.secret.as_str()),
        ] {
            let r = s
                .client_credentials(ClientCredentials {
                    client_id: id,
                    client_secret: secret,
                    scope: None,
                })
                .await;
            assert!(oauth(r).is_client_error());
        }

        // Revoking the credential revokes its access tokens at once.
        s.revoke_token(
            &cred.record.tenant,
            &cred.record.id,
            &Caller::new(AdminActor::System, None),
        )
        .await
        .unwrap();
        assert!(s.token(&t.secret).await.unwrap().is_none());
        assert!(s.token(&narrow.secret).await.unwrap().is_none());
    }

    #[tokio::test]
    async fn access_tokens_expire_after_an_hour() {
        let f = fixture().await;
        let cred = credential(&f, vec![Scope::Read]).await;
        let t = f
            .service
            .client_credentials(ClientCredentials {
                client_id: &cred.record.id,
                client_secret: &cred.secret,
                scope: None,
            })
            .await
            .unwrap();
        assert_eq!(t.scope, "read");
        f.clock.advance(ACCESS_TOKEN_TTL_US);
        assert!(f.service.token(&t.secret).await.unwrap().is_none());
        assert!(f.service.token(&cred.secret).await.unwrap().is_some());
    }
}
