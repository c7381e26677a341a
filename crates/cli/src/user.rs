//! `authtrail user create | list | delete | passwd`: console users, straight on the store.
//! Passwords are read from the first line of stdin (never from a flag, which would leave them in
//! shell history and the process list) and stored only as argon2id hashes. Every change is
//! recorded as an `admin` event in the user's tenant, with the operating-system user as actor.

use std::io::BufRead;

use anyhow::{Context, bail};
use authtrail_catalog::Catalog;
use authtrail_model::store::prelude::*;
use authtrail_model::wire_time::{Precision, format_rfc3339};
use authtrail_model::{Clock, ConsoleUser, SystemClock, Tenant};
use authtrail_server::console::password;
use authtrail_server::self_audit::{AdminActor, AdminEvent, record};

use crate::{DEFAULT_TENANT, StoreArgs};

/// Longest username: an e-mail address fits.
const MAX_USERNAME: usize = 320;

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

fn check_username(u: &str) -> anyhow::Result<()> {
    if u.is_empty()
        || u.len() > MAX_USERNAME
        || u.trim() != u
        || u.chars().any(|c| c.is_control() || c.is_whitespace())
    {
        bail!(
            "username {u:?} must be 1 to {MAX_USERNAME} bytes without spaces or control characters"
        );
    }
    Ok(())
}

/// Who ran the command, as the actor of the admin event.
async fn audit(
    store: &dyn Store,
    tenant: &Tenant,
    name: &'static str,
    target: &str,
) -> anyhow::Result<()> {
    let catalog = Catalog::builtin()?;
    let event = AdminEvent::new(name, AdminActor::cli()).string("target_user", target);
    record(store, &catalog, SystemClock.now_us(), tenant, event).await?;
    Ok(())
}

pub async fn run(cmd: Command) -> anyhow::Result<()> {
    match cmd {
        Command::Create {
            data,
            tenant,
            username,
        } => {
            check_username(&username)?;
            let tenant = Tenant::new(&tenant).map_err(anyhow::Error::msg)?;
            let hash = password::hash(&read_password()?).map_err(anyhow::Error::msg)?;
            let store = data.open().await?;
            let user = ConsoleUser {
                username: username.clone(),
                tenant: tenant.clone(),
                password_hash: hash,
                created_us: SystemClock.now_us(),
            };
            if !store.put_console_user(&user).await? {
                bail!("a console user named {username:?} already exists");
            }
            audit(&*store, &tenant, "user.create", &username).await?;
            eprintln!("created console user {username} for tenant {tenant}");
        }
        Command::List { data, tenant } => {
            let tenant = tenant
                .map(|t| Tenant::new(&t))
                .transpose()
                .map_err(anyhow::Error::msg)?;
            let users = data
                .open()
                .await?
                .list_console_users(tenant.as_ref())
                .await?;
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
            let store = data.open().await?;
            let Some(user) = store.console_user(&username).await? else {
                bail!("no console user named {username:?}");
            };
            if !store.delete_console_user(&username).await? {
                bail!("no console user named {username:?}");
            }
            audit(&*store, &user.tenant, "user.delete", &username).await?;
            eprintln!("deleted console user {username}");
        }
        Command::Passwd { data, username } => {
            let hash = password::hash(&read_password()?).map_err(anyhow::Error::msg)?;
            let store = data.open().await?;
            let Some(user) = store.console_user(&username).await? else {
                bail!("no console user named {username:?}");
            };
            if !store.set_console_password(&username, &hash).await? {
                bail!("no console user named {username:?}");
            }
            audit(&*store, &user.tenant, "user.password_change", &username).await?;
            eprintln!("changed the password of {username}; their sessions have ended");
        }
    }
    Ok(())
}
