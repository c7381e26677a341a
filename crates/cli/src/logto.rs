//! `authtrail logto webhook-key set | clear | show`: the signing key a tenant's Logto webhook
//! signs its deliveries with (`authtrail_service::webhook_key` checks, stores and audits it). It
//! is never printed back.

use std::io::BufRead;

use authtrail_service::AdminActor;

use crate::client::{service, tenant};
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

pub async fn run(cmd: Command) -> anyhow::Result<()> {
    let Command::WebhookKey(cmd) = cmd;
    match cmd {
        KeyCommand::Set {
            data,
            tenant: t,
            key,
        } => {
            let tenant = tenant(&t)?;
            let key = match key {
                Some(k) => k,
                None => {
                    let mut line = String::new();
                    std::io::stdin().lock().read_line(&mut line)?;
                    line.trim().to_string()
                }
            };
            service(&data)
                .await?
                .set_webhook_key(&tenant, Some(&key), &AdminActor::cli())
                .await
                .map_err(|e| anyhow::anyhow!(e.explain()))?;
            eprintln!("the Logto webhook signing key of tenant {tenant} is set");
        }
        KeyCommand::Clear { data, tenant: t } => {
            let tenant = tenant(&t)?;
            service(&data)
                .await?
                .set_webhook_key(&tenant, None, &AdminActor::cli())
                .await?;
            eprintln!("the Logto webhook signing key of tenant {tenant} is removed");
        }
        KeyCommand::Show { data, tenant: t } => {
            let tenant = tenant(&t)?;
            let set = service(&data).await?.webhook_key(&tenant).await?.is_some();
            println!("{}", if set { "set" } else { "not set" });
        }
    }
    Ok(())
}
