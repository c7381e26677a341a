//! `authtrail token create | list | revoke`, straight on a store (`authtrail_service::tokens`
//! does the work and its self-audit).

use anyhow::Context;
use authtrail_model::Scope;
use authtrail_model::wire_time::{Precision, format_rfc3339};
use authtrail_service::AdminActor;
use authtrail_service::tokens::{Caller, NewToken};

use crate::client::{service, tenant};
use crate::{DEFAULT_TENANT, StoreArgs};

#[derive(clap::Subcommand)]
pub enum Command {
    /// Create a token and print it (only the token, on stdout). Only its hash is stored.
    Create {
        #[command(flatten)]
        data: StoreArgs,
        /// The tenant the token is bound to (Google's customerId).
        #[arg(long, default_value = DEFAULT_TENANT)]
        tenant: String,
        /// Comma-separated scopes: ingest, read, admin.
        #[arg(long, value_delimiter = ',', required = true)]
        scopes: Vec<String>,
        /// A name to recognise the token by in listings.
        #[arg(long, default_value = "")]
        name: String,
        /// Expire the token after this many days (1 to 3650).
        #[arg(long)]
        expires_in_days: Option<u32>,
    },
    /// List tokens (never their secrets).
    List {
        #[command(flatten)]
        data: StoreArgs,
        /// Only this tenant's tokens.
        #[arg(long)]
        tenant: Option<String>,
    },
    /// Revoke a token by its id (tok_…); it stops working at once.
    Revoke {
        #[command(flatten)]
        data: StoreArgs,
        #[arg(long, default_value = DEFAULT_TENANT)]
        tenant: String,
        id: String,
    },
}

fn caller() -> Caller {
    Caller::new(AdminActor::cli(), None)
}

pub async fn run(cmd: Command) -> anyhow::Result<()> {
    match cmd {
        Command::Create {
            data,
            tenant: t,
            scopes,
            name,
            expires_in_days,
        } => {
            let tenant = tenant(&t)?;
            let scopes = scopes
                .iter()
                .map(|s| {
                    Scope::parse(s.trim())
                        .with_context(|| format!("unknown scope {s:?}: use ingest, read or admin"))
                })
                .collect::<anyhow::Result<_>>()?;
            let req = NewToken {
                tenant,
                name,
                scopes,
                expires_in_days: expires_in_days.map(i64::from),
            };
            let minted = service(&data)
                .await?
                .create_token(req, &caller())
                .await
                .map_err(|e| anyhow::anyhow!(e.explain()))?;
            eprintln!(
                "created {} for tenant {}",
                minted.record.id, minted.record.tenant
            );
            println!("{}", minted.secret);
        }
        Command::List { data, tenant: t } => {
            let t = t.as_deref().map(tenant).transpose()?;
            let tokens = service(&data).await?.list_tokens(t.as_ref()).await?;
            println!(
                "{:<18} {:<12} {:<18} {:<20} {:<24} {:<24} REVOKED",
                "ID", "TENANT", "SCOPES", "NAME", "CREATED", "EXPIRES"
            );
            let t = |us: Option<i64>| {
                us.map(|u| format_rfc3339(u, Precision::Millis))
                    .unwrap_or_else(|| "-".into())
            };
            for k in tokens {
                let scopes: Vec<&str> = k.scopes.iter().map(|s| s.as_str()).collect();
                println!(
                    "{:<18} {:<12} {:<18} {:<20} {:<24} {:<24} {}",
                    k.id,
                    k.tenant,
                    scopes.join(","),
                    k.name,
                    t(Some(k.created_us)),
                    t(k.expires_us),
                    t(k.revoked_us)
                );
            }
        }
        Command::Revoke {
            data,
            tenant: t,
            id,
        } => {
            let tenant = tenant(&t)?;
            service(&data)
                .await?
                .revoke_token(&tenant, &id, &caller())
                .await
                .map_err(|e| anyhow::anyhow!("tenant {tenant}: {e}"))?;
            eprintln!("revoked {id}");
        }
    }
    Ok(())
}
