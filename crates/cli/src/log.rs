//! The transparency log from the command line:
//!
//! - `authtrail checkpoint`: hash every tenant's new activities into its Merkle tree and sign a
//!   checkpoint now (what `serve`'s `checkpoints` job does continuously); prints each tenant's
//!   tree size and verifier key.
//! - `authtrail verify`: offline, check an export against a signed checkpoint and the tenant's
//!   verifier key; with the log file of `export --log`, name the first row at fault.
//!
//! The operations are `authtrail_service::log` and `log_audit`; this module is files and output.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use authtrail_formats::log_export::{LEAVES_PER_LINE, LogLine};
use authtrail_integrity::{Checkpoint, Hash, NoteVerifier};
use authtrail_model::Tenant;
use authtrail_service::Service;
use authtrail_service::log_audit::Audit;

use crate::StoreArgs;
use crate::client::service;
use crate::verify::{MAX_LINE_BYTES, Rows};

#[derive(clap::Args)]
pub struct CheckpointArgs {
    #[command(flatten)]
    store: StoreArgs,
    /// The log origin prefix; must be the server's `log_origin`, or the checkpoint is signed
    /// under a key name its verifiers do not know.
    #[arg(long, env = "AUTHTRAIL_LOG_ORIGIN", default_value = authtrail_service::log::DEFAULT_ORIGIN)]
    log_origin: String,
}

pub async fn checkpoint(args: CheckpointArgs) -> anyhow::Result<()> {
    let service = service(&args.store)
        .await?
        .with_log_origin(&args.log_origin)?;
    let mut out = std::io::stdout().lock();
    for tenant in service.store().tenants().await? {
        let s = service.log_sync(&tenant).await?;
        let key = service.log_key(&tenant).await?;
        writeln!(out, "{tenant} {} {key}", s.size)?;
        eprintln!(
            "tenant {tenant}: {} leaves ({} new){}",
            s.size,
            s.hashed,
            if s.signed { ", checkpoint signed" } else { "" }
        );
    }
    Ok(())
}

/// Writes the log file of `export --log` for `tenants`: each one's stored checkpoint and leaf
/// hashes (see `authtrail_formats::log_export`).
pub async fn write_log_file(
    service: &Service,
    tenants: &[Tenant],
    path: &Path,
) -> anyhow::Result<()> {
    let file =
        std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
    let mut w = std::io::BufWriter::new(file);
    for tenant in tenants {
        let mut checkpoint = service.store().checkpoint(tenant).await?.map(|c| c.note);
        let size = service.store().tree_size(tenant).await?;
        let mut from = 0;
        while from < size || checkpoint.is_some() {
            let leaves = service
                .log_leaves(tenant, from, LEAVES_PER_LINE as u64)
                .await?;
            let line = LogLine::new(tenant, from, &leaves, checkpoint.take());
            serde_json::to_writer(&mut w, &line)?;
            w.write_all(b"\n")?;
            from += leaves.len() as u64;
            if leaves.is_empty() {
                break;
            }
        }
    }
    w.into_inner()
        .map_err(|e| e.into_error())?
        .sync_all()
        .with_context(|| format!("writing {}", path.display()))
}

/// One tenant's part of a log file: its checkpoint (if it had one) and its leaves.
fn read_log_file(path: &Path, tenant: &Tenant) -> anyhow::Result<(Option<String>, Vec<Hash>)> {
    let f = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut reader = BufReader::new(f);
    let (mut checkpoint, mut leaves) = (None, Vec::new());
    let mut buf = Vec::new();
    let mut no = 0;
    loop {
        buf.clear();
        let n = std::io::Read::take(&mut reader, MAX_LINE_BYTES as u64 + 1)
            .read_until(b'\n', &mut buf)?;
        if n == 0 {
            break;
        }
        no += 1;
        if buf.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let line: LogLine = serde_json::from_slice(&buf)
            .with_context(|| format!("{} line {no} is not a log line", path.display()))?;
        if line.tenant != *tenant {
            continue;
        }
        if line.from != leaves.len() as u64 {
            bail!(
                "{} line {no}: leaves do not follow each other",
                path.display()
            );
        }
        if line.checkpoint.is_some() {
            checkpoint = line.checkpoint.clone();
        }
        leaves.extend(
            line.hashes()
                .map_err(|e| anyhow::anyhow!("{} line {no}: {e}", path.display()))?,
        );
    }
    Ok((checkpoint, leaves))
}

#[derive(clap::Args)]
pub struct VerifyArgs {
    /// The export file (plain or zstd NDJSON, from `authtrail export`).
    #[arg(long)]
    export: PathBuf,
    /// The tenant's verifier key (from GET /v1/log/key or `authtrail checkpoint`), or a file
    /// holding it.
    #[arg(long)]
    key: String,
    /// A signed checkpoint file (from GET /v1/log/checkpoint, e.g. one saved earlier); by
    /// default the one in --log.
    #[arg(long)]
    checkpoint: Option<PathBuf>,
    /// The log file of `authtrail export --log`: its leaf hashes let verify name the row at fault.
    #[arg(long)]
    log: Option<PathBuf>,
}

pub async fn verify(args: VerifyArgs) -> anyhow::Result<()> {
    let vkey = match std::fs::read_to_string(&args.key) {
        Ok(s) => s,
        Err(_) => args.key.clone(),
    };
    let verifier = NoteVerifier::parse(&vkey).context("--key")?;
    let tenant = verifier
        .name()
        .rsplit('/')
        .next()
        .and_then(|t| Tenant::new(t).ok())
        .with_context(|| format!("the key name {} does not end in a tenant", verifier.name()))?;
    let (log_checkpoint, leaves) = match &args.log {
        Some(p) => {
            let (c, l) = read_log_file(p, &tenant)?;
            (c, Some(l))
        }
        None => (None, None),
    };
    let note = match (&args.checkpoint, log_checkpoint) {
        (Some(p), _) => {
            std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?
        }
        (None, Some(n)) => n,
        (None, None) => bail!("give --checkpoint FILE, or a --log file that holds one"),
    };
    let cp = Checkpoint::open(&note, &verifier).context("the checkpoint")?;
    eprintln!(
        "checkpoint of {}: {} activities, signature ok",
        cp.origin, cp.size
    );
    let mut audit = Audit::new(cp.clone(), leaves)?;
    let mut rows = Rows::open(&args.export)?;
    while let Some(a) = rows.next_row()? {
        if a.tenant == tenant {
            audit.row(&a);
        }
    }
    let report = audit.finish();
    if report.beyond > 0 {
        eprintln!(
            "note: {} rows are newer than the checkpoint and not covered by it",
            report.beyond
        );
    }
    if report.ok() {
        eprintln!(
            "verified: tenant {tenant}: uniqueQualifiers 1 to {} match the checkpoint's root",
            cp.size
        );
        return Ok(());
    }
    for f in &report.findings {
        eprintln!("{f}");
    }
    let first = report.first().map(ToString::to_string).unwrap_or_default();
    bail!(
        "tenant {tenant}: {} problem(s); the first: {first}",
        report.found
    )
}
