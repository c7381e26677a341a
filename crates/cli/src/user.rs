//! `authtrail user create | list | delete | passwd`: console users, straight on the store
//! (`authtrail_service::users` does the work and records each change, with the operating-system
//! user as actor). Passwords are read from the first line of stdin (never from a flag, which
//! would leave them in shell history and the process list).

use std::io::BufRead;

use anyhow::{Context, bail};
use authtrail_model::wire_time::{Precision, format_rfc3339};
use authtrail_service::{AdminActor, ServiceError};

use crate::client::{service, tenant};
use crate::{DEFAULT_TENANT, StoreArgs};

#[derive(clap::Subcommand)]
pub enum Command {
    /// Create a console user; the password is read from stdin (first line).
    Create {
        #[command(flatten)]
        data: StoreArgs,
        /// The one tenant this user sees.
        #[arg(long, default_value = DEFAULT_TENANT)]
        tenant: String,
        username: String,
    },
    /// List console users (never their password hashes).
    List {
        #[command(flatten)]
        data: StoreArgs,
        /// Only this tenant's users.
        #[arg(long)]
        tenant: Option<String>,
    },
    /// Delete a console user; their sessions end at once on every node.
    Delete {
        #[command(flatten)]
        data: StoreArgs,
        username: String,
    },
    /// Set a new password (from stdin); the user's sessions end at once on every node.
    Passwd {
        #[command(flatten)]
        data: StoreArgs,
        username: String,
    },
}

fn read_password() -> anyhow::Result<String> {
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("reading the password from stdin")?;
    let pw = line.trim_end_matches(['\n', '\r']).to_string();
    if pw.is_empty() {
        bail!("no password on stdin (e.g. `printf '%s\\n' \"$PW\" | authtrail user create NAME`)");
    }
    Ok(pw)
}

fn explain(e: ServiceError) -> anyhow::Error {
    anyhow::anyhow!(e.explain())
}

pub async fn run(cmd: Command) -> anyhow::Result<()> {
    let actor = AdminActor::cli();
    match cmd {
        Command::Create {
            data,
            tenant: t,
            username,
        } => {
            let tenant = tenant(&t)?;
            let pw = read_password()?;
            service(&data)
                .await?
                .create_user(&tenant, &username, &pw, &actor)
                .await
                .map_err(explain)?;
            eprintln!("created console user {username} for tenant {tenant}");
        }
        Command::List { data, tenant: t } => {
            let t = t.as_deref().map(tenant).transpose()?;
            let users = service(&data).await?.list_users(t.as_ref()).await?;
            println!("{:<32} {:<16} CREATED", "USERNAME", "TENANT");
            for u in users {
                println!(
                    "{:<32} {:<16} {}",
                    u.username,
                    u.tenant.as_str(),
                    format_rfc3339(u.created_us, Precision::Millis)
                );
            }
        }
        Command::Delete { data, username } => {
            service(&data)
                .await?
                .delete_user(&username, &actor)
                .await
                .map_err(explain)?;
            eprintln!("deleted console user {username}");
        }
        Command::Passwd { data, username } => {
            let pw = read_password()?;
            service(&data)
                .await?
                .set_password(&username, &pw, &actor)
                .await
                .map_err(explain)?;
            eprintln!("changed the password of {username}; their sessions have ended");
        }
    }
    Ok(())
}
