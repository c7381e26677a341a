//! `authtrail token create | list | revoke`, straight on a data directory.

use std::sync::Arc;

use anyhow::{Context, bail};
use authtrail_catalog::Catalog;
use authtrail_model::store::prelude::*;
use authtrail_model::wire_time::{Precision, format_rfc3339};
use authtrail_model::{Clock, Scope, SystemClock, Tenant};
use authtrail_server::auth::mint_token;
use authtrail_server::self_audit::{AdminActor, AdminEvent, record};

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
        /// Expire the token after this many days.
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

/// Records a CLI admin action in the tenant's trail (self-audit).
async fn audit(store: &dyn Store, tenant: &Tenant, event: AdminEvent) -> anyhow::Result<()> {
    let catalog = Catalog::builtin().map_err(anyhow::Error::msg)?;
    record(store, &catalog, SystemClock.now_us(), tenant, event)
        .await
        .context("recording the action in the audit trail")
}

async fn open(data: &StoreArgs) -> anyhow::Result<Arc<dyn Store>> {
    data.open().await
}

pub async fn run(cmd: Command) -> anyhow::Result<()> {
    let now = SystemClock.now_us();
    match cmd {
        Command::Create {
            data,
            tenant,
            scopes,
            name,
            expires_in_days,
        } => {
            let tenant = Tenant::new(&tenant).map_err(anyhow::Error::msg)?;
            let mut parsed = Vec::new();
            for s in &scopes {
                let scope = Scope::parse(s.trim())
                    .with_context(|| format!("unknown scope {s:?}: use ingest, read or admin"))?;
                if !parsed.contains(&scope) {
                    parsed.push(scope);
                }
            }
            let expires = expires_in_days.map(|d| now + i64::from(d) * 86_400_000_000);
            let minted = mint_token(tenant, &name, parsed, now, expires);
            let store = open(&data).await?;
            store.put_token(&minted.record).await?;
            let scopes: Vec<&str> = minted.record.scopes.iter().map(|s| s.as_str()).collect();
            let event = AdminEvent::new("token.create", AdminActor::cli())
                .string("token_id", &minted.record.id)
                .string("tenant", minted.record.tenant.as_str())
                .strings("scopes", &scopes);
            if let Err(e) = audit(store.as_ref(), &minted.record.tenant, event).await {
                // An unaudited token must not work.
                let _ = store
                    .revoke_token(&minted.record.tenant, &minted.record.id, now)
                    .await;
                return Err(e);
            }
            eprintln!(
                "created {} for tenant {}",
                minted.record.id, minted.record.tenant
            );
            println!("{}", minted.secret);
        }
        Command::List { data, tenant } => {
            let tenant = tenant
                .map(|t| Tenant::new(&t))
                .transpose()
                .map_err(anyhow::Error::msg)?;
            let tokens = open(&data).await?.list_tokens(tenant.as_ref()).await?;
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
        Command::Revoke { data, tenant, id } => {
            let tenant = Tenant::new(&tenant).map_err(anyhow::Error::msg)?;
            let store = open(&data).await?;
            let tokens = store.list_tokens(Some(&tenant)).await?;
            let Some(token) = tokens.into_iter().find(|t| t.id == id) else {
                bail!("tenant {tenant} has no token {id}");
            };
            store.revoke_token(&tenant, &id, now).await?;
            let scopes: Vec<&str> = token.scopes.iter().map(|s| s.as_str()).collect();
            let event = AdminEvent::new("token.revoke", AdminActor::cli())
                .string("token_id", &id)
                .string("tenant", tenant.as_str())
                .strings("scopes", &scopes);
            audit(store.as_ref(), &tenant, event).await?;
            eprintln!("revoked {id}");
        }
    }
    Ok(())
}
