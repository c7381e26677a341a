//! `authtrail erase --tenant T --actor-email E`: erase one person's personal fields from a
//! tenant's trail, keeping its transparency log verifiable. The operation and its record are
//! `authtrail_service::erasure` (docs/integrity.md, "Erasure").

use authtrail_service::AdminActor;

use crate::StoreArgs;
use crate::client::{service, tenant};

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    store: StoreArgs,
    #[arg(long)]
    tenant: String,
    /// The person's e-mail (compared case-insensitively with the activities' actor e-mail).
    #[arg(long)]
    actor_email: String,
    /// The log origin prefix (the server's `log_origin`): the activities not yet in the tenant's
    /// Merkle tree are hashed (and a checkpoint signed) before any row changes.
    #[arg(long, env = "AUTHTRAIL_LOG_ORIGIN", default_value = authtrail_service::log::DEFAULT_ORIGIN)]
    log_origin: String,
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let service = service(&args.store)
        .await?
        .with_log_origin(&args.log_origin)?;
    let t = tenant(&args.tenant)?;
    let done = service
        .erase_subject(&t, &args.actor_email, &AdminActor::cli())
        .await?;
    if done.erased == 0 {
        eprintln!("tenant {t}: no activity has this actor e-mail; nothing erased");
    } else {
        let records: Vec<String> = done.records.iter().map(i64::to_string).collect();
        eprintln!(
            "tenant {t}: erased the personal fields of {} activities (erasure records: \
             uniqueQualifier {})",
            done.erased,
            records.join(", ")
        );
    }
    println!("{}", done.subject);
    Ok(())
}
