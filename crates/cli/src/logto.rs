//! `authtrail logto webhook-key set | clear | show`: the signing key a tenant's Logto webhook
//! signs its deliveries with (Logto Console → Webhooks → the hook → Signing key).
//!
//! The key is stored as-is, not hashed: verifying `logto-signature-sha-256` (an HMAC) needs the
//! key itself. It is never printed back.

use std::io::BufRead;

use anyhow::bail;
use authtrail_catalog::Catalog;
use authtrail_model::store::prelude::*;
use authtrail_model::{Clock, SystemClock, Tenant};
use authtrail_server::logto::webhook::{KEY_NAME, MAX_KEY_BYTES};
use authtrail_server::self_audit::{AdminActor, AdminEvent, record};

use crate::{DEFAULT_TENANT, StoreArgs};

#[derive(clap::Subcommand)]
pub enum Command {
    /// The signing key of the tenant's Logto webhook.
    #[command(subcommand, name = "webhook-key")]
    WebhookKey(KeyCommand),
}

#[derive(clap::Subcommand)]
pub enum KeyCommand {
    /// Set or replace the key. Without --key it is read from the first line of stdin, which keeps
    /// it out of shell history and process listings.
    Set {
        #[command(flatten)]
        data: StoreArgs,
        #[arg(long, default_value = DEFAULT_TENANT)]
        tenant: String,
        #[arg(long)]
        key: Option<String>,
    },
    /// Remove the key; deliveries are refused (401) until a key is set again.
    Clear {
        #[command(flatten)]
        data: StoreArgs,
        #[arg(long, default_value = DEFAULT_TENANT)]
        tenant: String,
    },
    /// Say whether a key is set (never prints it).
    Show {
        #[command(flatten)]
        data: StoreArgs,
        #[arg(long, default_value = DEFAULT_TENANT)]
        tenant: String,
    },
}

/// A key as Logto shows it: printable ASCII, no spaces, at most [`MAX_KEY_BYTES`].
fn check_key(key: &str) -> anyhow::Result<()> {
    if key.is_empty() || key.len() > MAX_KEY_BYTES {
        bail!("the signing key must be 1 to {MAX_KEY_BYTES} characters");
    }
    if !key.bytes().all(|b| b.is_ascii_graphic()) {
        bail!(
            "the signing key must be printable ASCII without spaces (copy it from Logto's Console)"
        );
    }
    Ok(())
}

/// Records a key change in the tenant's trail (self-audit); never the key.
async fn audit(store: &dyn Store, tenant: &Tenant, event: &'static str) -> anyhow::Result<()> {
    let catalog = Catalog::builtin().map_err(anyhow::Error::msg)?;
    let e = AdminEvent::new(event, AdminActor::cli()).string("source", "logto");
    record(store, &catalog, SystemClock.now_us(), tenant, e).await?;
    Ok(())
}

pub async fn run(cmd: Command) -> anyhow::Result<()> {
    let Command::WebhookKey(cmd) = cmd;
    match cmd {
        KeyCommand::Set { data, tenant, key } => {
            let tenant = Tenant::new(&tenant).map_err(anyhow::Error::msg)?;
            let key = match key {
                Some(k) => k,
                None => {
                    let mut line = String::new();
                    std::io::stdin().lock().read_line(&mut line)?;
                    line.trim().to_string()
                }
            };
            check_key(&key)?;
            let store = data.open().await?;
            store
                .set_tenant_secret(&tenant, KEY_NAME, Some(key.as_bytes()))
                .await?;
            audit(store.as_ref(), &tenant, "webhook_key.set").await?;
            eprintln!("the Logto webhook signing key of tenant {tenant} is set");
        }
        KeyCommand::Clear { data, tenant } => {
            let tenant = Tenant::new(&tenant).map_err(anyhow::Error::msg)?;
            let store = data.open().await?;
            store.set_tenant_secret(&tenant, KEY_NAME, None).await?;
            audit(store.as_ref(), &tenant, "webhook_key.clear").await?;
            eprintln!("the Logto webhook signing key of tenant {tenant} is removed");
        }
        KeyCommand::Show { data, tenant } => {
            let tenant = Tenant::new(&tenant).map_err(anyhow::Error::msg)?;
            let set = data
                .open()
                .await?
                .tenant_secret(&tenant, KEY_NAME)
                .await?
                .is_some();
            println!("{}", if set { "set" } else { "not set" });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_checked() {
        assert!(check_key("aB3xY9_-.~").is_ok());
        assert!(check_key("").is_err());
        assert!(check_key("has space").is_err());
        assert!(check_key(&"k".repeat(MAX_KEY_BYTES + 1)).is_err());
    }
}
