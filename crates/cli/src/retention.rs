//! Retention from the command line:
//!
//! - `authtrail retention --days N`: one purge, now (refused below the retention floor, and
//!   tenants under legal hold keep everything);
//! - `authtrail legal-hold set|release|show --tenant T`: a tenant's legal hold.
//!
//! The purge, the floor, holds and their audit records are `authtrail_service::{retention,
//! hold}`; the server's periodic purge is the `retention` job (crates/cli/src/jobs.rs).

use authtrail_model::wire_time::{Precision, format_rfc3339};
use authtrail_service::AdminActor;

pub use authtrail_service::retention::{DEFAULT_FLOOR_DAYS, MAX_DAYS};

use crate::StoreArgs;
use crate::client::{service, tenant};

/// Safe beside a running server on the same data directory: the SQLite writer reads each
/// tenant's sequence inside its own `BEGIN IMMEDIATE` transaction (see docs/operations.md).
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    store: StoreArgs,
    /// Remove every activity older than this many days (1 to 36500; not below the floor).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=MAX_DAYS as i64))]
    days: u32,
    /// The shortest retention accepted, in days (0: none); set it as the server's
    /// `retention_floor_days`.
    #[arg(long, env = "AUTHTRAIL_RETENTION_FLOOR_DAYS", default_value_t = DEFAULT_FLOOR_DAYS,
          value_parser = clap::value_parser!(u32).range(0..=MAX_DAYS as i64))]
    retention_floor_days: u32,
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let service = service(&args.store)
        .await?
        .with_retention_floor(args.retention_floor_days)?;
    let actor = AdminActor::cli();
    let done = service.purge(args.days, &actor).await?;
    eprintln!(
        "removed {} activities older than {} in {:.1} s",
        done.run.rows,
        format_rfc3339(done.run.cutoff_us, Precision::Millis),
        done.run.duration.as_secs_f64()
    );
    for t in &done.held {
        eprintln!("tenant {t} is under legal hold: it kept its older activities");
    }
    Ok(service.record_purge(&done, &actor).await?)
}

#[derive(clap::Subcommand)]
pub enum HoldCommand {
    /// Put a tenant under legal hold: no purge or erasure touches it until it is released.
    Set(HoldArgs),
    /// Release a tenant's legal hold.
    Release(HoldArgs),
    /// Show a tenant's legal hold (exit status 0 either way).
    Show {
        #[command(flatten)]
        store: StoreArgs,
        #[arg(long)]
        tenant: String,
    },
}

#[derive(clap::Args)]
pub struct HoldArgs {
    #[command(flatten)]
    store: StoreArgs,
    #[arg(long)]
    tenant: String,
    /// Why (a case or matter reference); recorded in the tenant's admin trail.
    #[arg(long)]
    reason: String,
}

pub async fn hold(cmd: HoldCommand) -> anyhow::Result<()> {
    let describe = |h: &authtrail_model::store::LegalHold| {
        format!(
            "tenant {} is under legal hold since {} (set by {}): {}",
            h.tenant,
            format_rfc3339(h.set_us, Precision::Millis),
            h.set_by,
            h.reason
        )
    };
    match cmd {
        HoldCommand::Set(a) => {
            let s = service(&a.store).await?;
            let h = s
                .set_legal_hold(&tenant(&a.tenant)?, &a.reason, &AdminActor::cli())
                .await?;
            eprintln!("{}", describe(&h));
        }
        HoldCommand::Release(a) => {
            let s = service(&a.store).await?;
            let t = tenant(&a.tenant)?;
            s.release_legal_hold(&t, &a.reason, &AdminActor::cli())
                .await?;
            eprintln!("tenant {t}: legal hold released ({})", a.reason);
        }
        HoldCommand::Show { store, tenant: t } => {
            let t = tenant(&t)?;
            match service(&store).await?.legal_hold(&t).await? {
                Some(h) => println!("{}", describe(&h)),
                None => println!("tenant {t} is not under legal hold"),
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    /// The config file's default floor and the service's (used when no config is read) agree.
    #[test]
    fn the_config_default_floor_is_the_services() {
        assert_eq!(
            authtrail_config::DEFAULT_RETENTION_FLOOR_DAYS,
            super::DEFAULT_FLOOR_DAYS
        );
    }
}
