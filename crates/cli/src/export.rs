//! `authtrail export` and `authtrail import`: moving a trail between stores (SQLite ⇄ PostgreSQL,
//! or into a fresh one), keeping every uniqueQualifier, time and eventId.
//!
//! The operations (rows, their order, batches, digests) are `authtrail_service::export`; this
//! module is the file around them: NDJSON, optionally zstd-compressed, written as FILE.partial and
//! renamed when whole, with a progress bar. Both print each tenant's count and digest, and
//! `import --verify` (or `verify-export`) compares them with what the target store holds
//! afterwards.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;

use anyhow::Context;
use authtrail_model::Activity;
use authtrail_service::export::Digests;
use indicatif::{ProgressBar, ProgressStyle};

use crate::StoreArgs;
use crate::client::{service, tenant};
use crate::verify::{self, Rows};

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    store: StoreArgs,
    /// The file to write. It appears only once complete (written as FILE.partial, then renamed).
    #[arg(long)]
    out: PathBuf,
    /// Compress with zstd (chosen anyway when FILE ends in .zst).
    #[arg(long)]
    zstd: bool,
    /// Only this tenant; by default every tenant.
    #[arg(long)]
    tenant: Option<String>,
    /// Also write each tenant's transparency log (latest checkpoint and leaf hashes) to this
    /// file, for `authtrail verify --log`.
    #[arg(long)]
    log: Option<PathBuf>,
}

/// The output file, plain or compressed.
enum Out {
    Plain(BufWriter<File>),
    Zstd(zstd::Encoder<'static, BufWriter<File>>),
}

impl Out {
    fn writer(&mut self) -> &mut dyn Write {
        match self {
            Out::Plain(w) => w,
            Out::Zstd(w) => w,
        }
    }

    /// Flushes everything and fsyncs, so that the renamed file is whole.
    fn finish(self) -> std::io::Result<()> {
        let w = match self {
            Out::Plain(w) => w,
            Out::Zstd(z) => z.finish()?,
        };
        w.into_inner().map_err(|e| e.into_error())?.sync_all()
    }
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let service = service(&args.store).await?;
    let only = args.tenant.as_deref().map(tenant).transpose()?;
    let tenants = service.export_tenants(only).await?;
    let total = service.total(&tenants).await?;
    let partial = partial_path(&args.out);
    let file = File::create(&partial).with_context(|| format!("creating {}", partial.display()))?;
    let compress = args.zstd || args.out.extension().is_some_and(|e| e == "zst");
    let mut out = if compress {
        Out::Zstd(zstd::Encoder::new(BufWriter::new(file), 3)?)
    } else {
        Out::Plain(BufWriter::new(file))
    };
    let bar = ProgressBar::new(total);
    bar.set_style(ProgressStyle::with_template(
        "{bar:40} {pos}/{len} activities  {per_sec}  eta {eta}",
    )?);
    let mut digests = Digests::new();
    for tenant in &tenants {
        let d = service
            .export_tenant(tenant, out.writer(), &mut |n| bar.inc(n))
            .await?;
        digests.insert(tenant.clone(), d);
    }
    out.finish()
        .with_context(|| format!("writing {}", partial.display()))?;
    std::fs::rename(&partial, &args.out)
        .with_context(|| format!("renaming {} to {}", partial.display(), args.out.display()))?;
    bar.finish_and_clear();
    if let Some(log) = &args.log {
        crate::log::write_log_file(&service, &tenants, log).await?;
    }
    print_digests("exported", &digests);
    eprintln!(
        "wrote {} activities of {} tenants from {} to {}",
        digests.values().map(|d| d.count).sum::<u64>(),
        digests.len(),
        args.store.describe(),
        args.out.display()
    );
    Ok(())
}

fn partial_path(out: &Path) -> PathBuf {
    let mut name = out.file_name().unwrap_or_default().to_os_string();
    name.push(".partial");
    out.with_file_name(name)
}

pub fn print_digests(what: &str, digests: &Digests) {
    for (t, d) in digests {
        eprintln!(
            "{what} tenant {t}: {} activities (#{}..#{}) sha256 {}",
            d.count,
            d.first,
            d.last,
            d.hex()
        );
    }
}

#[derive(clap::Args)]
pub struct ImportArgs {
    /// The export file (plain or zstd NDJSON).
    file: PathBuf,
    #[command(flatten)]
    store: StoreArgs,
    /// Activities per restore transaction.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..=50_000))]
    batch: u32,
    /// Afterwards, check that the store holds exactly the file's activities (counts and digests).
    #[arg(long)]
    verify: bool,
    /// The log file written by `export --log`: restore each tenant's transparency log too, so
    /// that it goes on where the source's left off (needed when retention had removed the oldest
    /// activities). Each restored activity must hash to its leaf.
    #[arg(long)]
    log: Option<PathBuf>,
}

pub async fn import(args: ImportArgs) -> anyhow::Result<()> {
    let service = service(&args.store).await?;
    let mut rows = Rows::open(&args.file)?;
    let bar = ProgressBar::new(rows.size);
    bar.set_style(ProgressStyle::with_template(
        "{bar:40} {bytes}/{total_bytes} {msg} ({eta})",
    )?);
    let mut digests = Digests::new();
    let mut batch: Vec<Activity> = Vec::new();
    let mut first_line = 1;
    let mut restored = 0u64;
    loop {
        let next = rows.next_row()?;
        let flush = match (&next, batch.first()) {
            (_, None) => false,
            (None, Some(_)) => true,
            (Some(a), Some(b)) => a.tenant != b.tenant || batch.len() >= args.batch as usize,
        };
        if flush {
            let n = batch.len() as u64;
            let tenant = batch[0].tenant.clone();
            let last_line = rows.line_no - usize::from(next.is_some());
            service
                .import_batch(&tenant, std::mem::take(&mut batch))
                .await
                .with_context(|| {
                    format!(
                        "lines {first_line}..{last_line} (tenant {tenant}) were refused; the \
                         lines before {first_line} are stored (import into a store that does not \
                         hold these activities yet)"
                    )
                })?;
            restored += n;
            first_line = last_line + 1;
            bar.set_position(rows.bytes_read.load(Ordering::Relaxed));
            bar.set_message(format!("{restored} activities"));
        }
        let Some(a) = next else { break };
        if batch.is_empty() {
            first_line = rows.line_no;
        }
        digests
            .entry(a.tenant.clone())
            .or_default()
            .add(&a)
            .with_context(|| format!("line {}", rows.line_no))?;
        batch.push(a);
    }
    bar.finish_and_clear();
    print_digests("imported", &digests);
    eprintln!(
        "restored {restored} activities of {} tenants into {}",
        digests.len(),
        args.store.describe()
    );
    if args.verify {
        verify::compare(&service, &digests).await?;
    }
    if let Some(log) = &args.log {
        for tenant in digests.keys() {
            let (_, leaves) = crate::log::read_log_file(log, tenant)?;
            if leaves.is_empty() {
                continue;
            }
            let n = service
                .restore_log(tenant, &leaves)
                .await
                .with_context(|| format!("restoring the log of tenant {tenant}"))?;
            eprintln!("restored the log of tenant {tenant}: {n} leaves");
        }
    }
    Ok(())
}
