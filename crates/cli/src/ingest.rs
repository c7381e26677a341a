//! `authtrail ingest FILE`: NDJSON in, batches out, with a progress bar.

use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;

use anyhow::{Context, bail};
use indicatif::{ProgressBar, ProgressStyle};

use authtrail_service::Source;

use crate::client::{Target, TargetArgs, explain};

#[derive(clap::Args)]
pub struct Args {
    /// The NDJSON file to load (one activity per line); - reads standard input.
    file: PathBuf,
    #[command(flatten)]
    target: TargetArgs,
    /// Activities per request.
    #[arg(long, default_value_t = 1000)]
    batch: usize,
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let target = args.target.open().await?;
    let (reader, size): (Box<dyn Read>, u64) = if args.file.as_os_str() == "-" {
        (Box::new(std::io::stdin()), 0)
    } else {
        let f = std::fs::File::open(&args.file)
            .with_context(|| format!("opening {}", args.file.display()))?;
        let size = f.metadata().map(|m| m.len()).unwrap_or(0);
        (Box::new(f), size)
    };
    let bar = if size > 0 {
        ProgressBar::new(size)
    } else {
        ProgressBar::new_spinner()
    };
    bar.set_style(ProgressStyle::with_template(
        "{bar:40} {bytes}/{total_bytes} {msg} ({eta})",
    )?);
    let mut lines = BufReader::new(reader).lines();
    let (mut stored, mut duplicates, mut line_no) = (0usize, 0usize, 0usize);
    loop {
        let mut batch = Vec::with_capacity(args.batch);
        let first_line = line_no + 1;
        for line in lines.by_ref() {
            let line = line.context("reading input")?;
            line_no += 1;
            bar.inc(line.len() as u64 + 1);
            if !line.trim().is_empty() {
                batch.push(line);
            }
            if batch.len() == args.batch.max(1) {
                break;
            }
        }
        if batch.is_empty() {
            break;
        }
        let dups = send(&target, &batch).await.with_context(|| {
            format!(
                "the batch starting at line {first_line} was refused; nothing from it was stored"
            )
        })?;
        stored += batch.len() - dups;
        duplicates += dups;
        bar.set_message(format!("{stored} stored"));
    }
    bar.finish_and_clear();
    eprintln!("{stored} activities stored, {duplicates} already present (same eventId)");
    Ok(())
}

/// Sends one batch; returns how many were duplicates.
async fn send(target: &Target, lines: &[String]) -> anyhow::Result<usize> {
    match target {
        Target::Remote { http, url, token } => {
            let resp = http
                .post(format!("{url}/v1/activities"))
                .bearer_auth(token)
                .header("content-type", "application/x-ndjson")
                .body(lines.join("\n"))
                .send()
                .await?;
            if !resp.status().is_success() {
                return Err(explain(resp).await);
            }
            let body: serde_json::Value = resp.json().await?;
            let receipts = body["receipts"].as_array().cloned().unwrap_or_default();
            Ok(receipts.iter().filter(|r| r["duplicate"] == true).count())
        }
        Target::Local { service, tenant } => {
            let mut items = Vec::with_capacity(lines.len());
            for (i, l) in lines.iter().enumerate() {
                match authtrail_formats::json::from_str(l) {
                    Ok(v) => items.push(v),
                    Err(e) => bail!("item {i} of the batch is not valid JSON: {e}"),
                }
            }
            let batch = service
                .validate(tenant, Source::Cli, &items)
                .map_err(|e| anyhow::anyhow!(e.explain()))?;
            let receipts = service
                .ingest(
                    tenant,
                    Source::Cli,
                    batch,
                    authtrail_model::Stopwatch::start(),
                )
                .await?;
            Ok(receipts.iter().filter(|r| r.duplicate).count())
        }
    }
}
