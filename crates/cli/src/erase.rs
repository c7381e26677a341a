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

/// `verify --url`: an entry whose content does not hash to its proven leaf is accepted if it
/// is marked erased and its erasure record is itself proven (inclusion in `cp`, content hashing
/// to its leaf) and names it. `Ok(Some(by))`: erased by that record; `Ok(None)`: not marked
/// erased (so it was altered); `Err`: marked, but the record does not vouch for it.
pub async fn erased_online(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    entry: &[u8],
    index: u64,
    cp: &authtrail_integrity::Checkpoint,
) -> anyhow::Result<Option<i64>> {
    use anyhow::{Context, bail};
    use authtrail_integrity::proof::verify_inclusion;
    use authtrail_service::log_audit::{entry_erased_by, entry_erases};
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD as B64;

    let Some(by) = entry_erased_by(entry) else {
        return Ok(None);
    };
    let seq = index as i64 + 1;
    if by < 1 || by as u64 > cp.size {
        bail!("marked erased by {by}, which the checkpoint does not cover");
    }
    let get = |path: String| {
        let req = http.get(format!("{base}{path}")).bearer_auth(token);
        async move {
            let resp = req.send().await?;
            if !resp.status().is_success() {
                return Err(crate::client::explain(resp).await);
            }
            Ok(resp.bytes().await?.to_vec())
        }
    };
    let at = by as u64 - 1;
    let proof: serde_json::Value = serde_json::from_slice(
        &get(format!(
            "/v1/log/proof/inclusion?index={at}&size={}",
            cp.size
        ))
        .await?,
    )?;
    let leaf = B64.decode(proof["leafHash"].as_str().context("leafHash")?)?;
    let hashes = proof["hashes"]
        .as_array()
        .context("hashes")?
        .iter()
        .map(|h| Ok(B64.decode(h.as_str().context("hash")?)?))
        .collect::<anyhow::Result<Vec<Vec<u8>>>>()?;
    verify_inclusion(&leaf, at, cp.size, &hashes, &cp.root)
        .map_err(|e| anyhow::anyhow!("the inclusion proof of erasure record {by} fails: {e}"))?;
    let tile = authtrail_integrity::tiles::Tile {
        level: None,
        index: at / 256,
        width: (cp.size - at / 256 * 256).min(256),
    };
    let bundle = get(format!("/v1/log/tile/{}", tile.path())).await?;
    let record = crate::log::nth_entry(&bundle, (at % 256) as usize)
        .with_context(|| format!("erasure record {by} is not in its entry bundle"))?;
    if authtrail_integrity::leaf_hash(&record)[..] != leaf[..] {
        bail!("erasure record {by} does not match the log");
    }
    if !entry_erases(&record, seq) {
        bail!("marked erased by {by}, but record {by} does not name uniqueQualifier {seq}");
    }
    Ok(Some(by))
}

/// `verify` (offline): the erased rows it accepted, each with the record that erased it.
pub fn print_erased(report: &authtrail_service::log_audit::Report) {
    for (seq, by) in &report.erased_rows {
        eprintln!(
            "uniqueQualifier {seq}: erased by {by} (personal fields removed; its record verifies)"
        );
    }
    let more = report.erased - report.erased_rows.len() as u64;
    if more > 0 {
        eprintln!("… and {more} more erased rows");
    }
    if report.erased > 0 && !report.root_checked {
        eprintln!(
            "note: {} rows are marked erased: give --log (from `authtrail export --log`) to check \
             them and every other row against the checkpoint",
            report.erased
        );
    }
}
