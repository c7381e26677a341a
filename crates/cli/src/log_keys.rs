//! `authtrail log …`: the transparency log's signing keys and witnesses, working straight on the
//! store (on the server host, like `token` and `logto webhook-key`). Each change is an admin
//! event in the tenant's trail, made by `authtrail_service::log_keys` and `log_witnesses`.
//!
//! - `log keys`: the tenant's keys, one verifier key a line with its state.
//! - `log rotate-key`: start a rotation (a new key signs beside the active one); `--finish` ends
//!   it (the new key alone signs, the old one is retired).
//! - `log witness add VKEY | remove NAME | list`: the witnesses whose cosignatures the log takes.

use clap::Subcommand;

use authtrail_service::log_keys::LogKey;
use authtrail_service::{AdminActor, Service};

use crate::client::{service, tenant};
use crate::{DEFAULT_TENANT, StoreArgs};

#[derive(clap::Args)]
pub struct Target {
    #[command(flatten)]
    store: StoreArgs,
    /// The tenant whose log it is.
    #[arg(long, default_value = DEFAULT_TENANT)]
    tenant: String,
    /// The log origin prefix: the server's `log_origin` (it names the keys).
    #[arg(long, env = "AUTHTRAIL_LOG_ORIGIN", default_value = authtrail_service::log::DEFAULT_ORIGIN)]
    log_origin: String,
}

impl Target {
    async fn open(&self) -> anyhow::Result<(Service, authtrail_model::Tenant)> {
        let s = service(&self.store)
            .await?
            .with_log_origin(&self.log_origin)?;
        Ok((s, tenant(&self.tenant)?))
    }
}

#[derive(Subcommand)]
pub enum Command {
    /// List the tenant's signing keys: `<state> <verifier key>`, the active key first.
    Keys(Target),
    /// Start rotating the tenant's signing key: a new key signs every checkpoint beside the
    /// active one until `--finish`. Publish the new verifier key (printed) in between.
    RotateKey {
        #[command(flatten)]
        target: Target,
        /// End the rotation under way: the new key becomes the only one, the old one is retired
        /// and its private key destroyed.
        #[arg(long)]
        finish: bool,
    },
    /// Witnesses (C2SP tlog-cosignature) whose cosignatures the tenant's log accepts.
    #[command(subcommand)]
    Witness(WitnessCommand),
}

#[derive(Subcommand)]
pub enum WitnessCommand {
    /// Register a witness by its cosigner verifier key (`<name>+<key ID>+<base64(0x04||key)>`).
    Add {
        #[command(flatten)]
        target: Target,
        vkey: String,
    },
    /// Remove a witness, by name, and its cosignature.
    Remove {
        #[command(flatten)]
        target: Target,
        name: String,
    },
    /// List the registered witnesses' verifier keys.
    List(Target),
}

fn line(k: &LogKey) -> String {
    format!("{} {}", k.state.as_str(), k.vkey)
}

pub async fn run(cmd: Command) -> anyhow::Result<()> {
    let actor = AdminActor::cli();
    match cmd {
        Command::Keys(t) => {
            let (s, tenant) = t.open().await?;
            for k in s.log_keys(&tenant).await? {
                println!("{}", line(&k));
            }
        }
        Command::RotateKey { target, finish } => {
            let (s, tenant) = target.open().await?;
            if finish {
                let k = s.finish_key_rotation(&tenant, &actor).await?;
                eprintln!("tenant {tenant}: rotation finished; only this key signs now:");
                println!("{}", k.vkey);
            } else {
                let k = s.start_key_rotation(&tenant, &actor).await?;
                eprintln!(
                    "tenant {tenant}: rotation started; checkpoints are signed by the active key \
                     and this new one. Publish it, then run `authtrail log rotate-key --finish`:"
                );
                println!("{}", k.vkey);
            }
        }
        Command::Witness(WitnessCommand::Add { target, vkey }) => {
            let (s, tenant) = target.open().await?;
            let w = s.add_log_witness(&tenant, &vkey, &actor).await?;
            eprintln!("tenant {tenant}: witness {} added", w.name);
        }
        Command::Witness(WitnessCommand::Remove { target, name }) => {
            let (s, tenant) = target.open().await?;
            s.remove_log_witness(&tenant, &name, &actor).await?;
            eprintln!("tenant {tenant}: witness {name} removed");
        }
        Command::Witness(WitnessCommand::List(t)) => {
            let (s, tenant) = t.open().await?;
            for w in s.log_witnesses(&tenant).await? {
                println!("{}", w.vkey);
            }
        }
    }
    Ok(())
}
