//! Offline `authtrail verify` throughput (issue #15: ≥ 200,000 activities/s), through the real
//! binary: a trail of generated activities is ingested and checkpointed into a throwaway store,
//! exported once with `authtrail export --log`, then `authtrail verify --export --log --key` is
//! timed on it. `--integrity` runs it as one of its targets; `--verify-throughput` runs it alone,
//! and with `--verify-baseline-bin` (say, main's binary) alternates the two binaries on the same
//! export for a same-run before/after ratio.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, bail};
use serde_json::{Value, json};

use authtrail_model::Tenant;

use crate::data::Dataset;
use crate::integrity::{batches, service};
use crate::stats::round;

/// An exported, checkpointed trail and what `verify` needs to check it.
pub struct Trail {
    /// The store's directory (kept until the trail is dropped).
    _store: tempfile::TempDir,
    _files: tempfile::TempDir,
    pub export: PathBuf,
    pub log: PathBuf,
    pub key: String,
    pub events: usize,
}

fn run(bin: &Path, args: &[&str]) -> anyhow::Result<()> {
    let out = std::process::Command::new(bin).args(args).output()?;
    if !out.status.success() {
        bail!(
            "{} {}: {}",
            bin.display(),
            args[0],
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}

/// Ingests `data` into a store, checkpoints it, and exports it with `bin`.
pub async fn trail(data: &Dataset, bin: &Path) -> anyhow::Result<Trail> {
    let store = tempfile::tempdir()?;
    let key = {
        let s = service(store.path()).await?;
        let t = Tenant::new("Cverify").map_err(anyhow::Error::msg)?;
        for b in batches(&s, &t, data)?.chunks(50) {
            s.store().append(&t, b.concat()).await?;
        }
        while s.log_sync(&t).await?.more {}
        s.log_key(&t).await?
    };
    let files = tempfile::tempdir()?;
    let (export, log) = (files.path().join("t.ndjson"), files.path().join("t.log"));
    run(
        bin,
        &[
            "export",
            "--data",
            store.path().to_str().context("path")?,
            "--out",
            export.to_str().context("path")?,
            "--log",
            log.to_str().context("path")?,
        ],
    )?;
    Ok(Trail {
        _store: store,
        _files: files,
        export,
        log,
        key: key.trim().to_string(),
        events: data.len(),
    })
}

/// Seconds of one `bin verify` of the trail (which must succeed).
pub fn time_verify(bin: &Path, t: &Trail) -> anyhow::Result<f64> {
    let started = Instant::now();
    run(
        bin,
        &[
            "verify",
            "--export",
            t.export.to_str().context("path")?,
            "--log",
            t.log.to_str().context("path")?,
            "--key",
            &t.key,
        ],
    )?;
    Ok(started.elapsed().as_secs_f64())
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// `runs` timed verifies of each binary, alternating (baseline first) so that both see the same
/// machine; per binary: (median ev/s, median seconds, every run's seconds).
pub fn alternate(
    bins: &[&Path],
    t: &Trail,
    runs: usize,
) -> anyhow::Result<Vec<(f64, f64, Vec<f64>)>> {
    let mut secs = vec![Vec::new(); bins.len()];
    for round in 0..runs {
        for (i, bin) in bins.iter().enumerate() {
            let s = time_verify(bin, t)?;
            eprintln!(
                "  verify round {round}: {}: {s:.2} s, {:.0} ev/s",
                bin.display(),
                t.events as f64 / s
            );
            secs[i].push(s);
        }
    }
    Ok(secs
        .into_iter()
        .map(|all| {
            let m = median(all.clone());
            (t.events as f64 / m, m, all)
        })
        .collect())
}

/// `--verify-throughput`: `bin` alone, or after `baseline` in alternating runs.
pub async fn run_ab(
    events: usize,
    seed: u64,
    now_us: i64,
    bin: &Path,
    baseline: Option<&Path>,
    runs: usize,
    keep: Option<&Path>,
) -> anyhow::Result<Value> {
    let data = Dataset::generate(events as u64, seed, now_us, 30)?;
    // The export's format is the same from either binary; the new one writes it.
    let t = trail(&data, bin).await?;
    if let Some(dir) = keep {
        // For profiling one binary by hand (callgrind, perf) on the very same input.
        std::fs::create_dir_all(dir)?;
        std::fs::copy(&t.export, dir.join("t.ndjson"))?;
        std::fs::copy(&t.log, dir.join("t.log"))?;
        std::fs::write(dir.join("t.vkey"), &t.key)?;
        eprintln!("  kept t.ndjson, t.log and t.vkey in {}", dir.display());
    }
    let bytes = std::fs::metadata(&t.export)?.len();
    eprintln!(
        "  export of {events} activities: {:.1} MiB",
        bytes as f64 / 1048576.0
    );
    let mut bins: Vec<&Path> = baseline.into_iter().collect();
    bins.push(bin);
    let got = alternate(&bins, &t, runs)?;
    let figure = |(eps, secs, all): &(f64, f64, Vec<f64>), bin: &Path| {
        json!({
            "bin": bin.display().to_string(),
            "eps": round(*eps),
            "median_secs": round(*secs),
            "secs": all.iter().map(|s| round(*s)).collect::<Vec<_>>(),
        })
    };
    let new = got.last().context("a run")?;
    eprintln!(
        "  verify offline: {events} activities, median of {runs}: {:.0} ev/s (target ≥ 200000)",
        new.0
    );
    let mut out = json!({
        "events": events,
        "export_bytes": bytes,
        "runs": runs,
        "new": figure(new, bin),
    });
    if let Some(b) = baseline {
        let old = &got[0];
        eprintln!(
            "  baseline {:.0} ev/s, new {:.0} ev/s: ratio {:.2}",
            old.0,
            new.0,
            new.0 / old.0
        );
        out["baseline"] = figure(old, b);
        out["ratio"] = json!(round(new.0 / old.0));
    }
    Ok(out)
}
