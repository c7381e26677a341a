//! `authtrail-bench --integrity`: the targets of issue #15 (tamper evidence), each on the
//! embedded engine through the service layer the server uses (no HTTP, so that the figures are
//! the log's cost, not the network's):
//!
//! 1. **Ingest cost of the log**: the same batches ingested with the checkpoint loop off and on,
//!    alternating rounds in one run; the ratio of the medians (target: on ≥ 0.9 × off).
//! 2. **Checkpoint lag** at a paced 10,000 ev/s: from each batch's commit to the first stored
//!    checkpoint that covers it (target: p99 ≤ 1 s).
//! 3. **Inclusion proof latency** at a tree of `--integrity-proof-size` leaves (target: p99 ≤
//!    5 ms at 10M). The tree is grown from synthetic leaf hashes straight into the store — the
//!    hashes of 10M activities cost the same to look up as any others, and ingesting 10M
//!    activities first would take most of an hour here; each proof is checked against the root.
//! 4. **Offline verify throughput**: the real `authtrail export --log` and `authtrail verify`
//!    binaries on a trail of `--integrity-verify-events` activities (target: ≥ 200,000 ev/s;
//!    `crate::verify`, which `--verify-throughput` also runs alone).
//!
//! The checkpoint loop is the `checkpoints` job's body (crates/cli/src/jobs.rs): gather for
//! 200 ms, then `Service::log_sync` until nothing is left.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::{Value, json};

use authtrail_catalog::Catalog;
use authtrail_integrity::proof::verify_inclusion;
use authtrail_integrity::{Frontier, Hash};
use authtrail_model::store::TreeNode;
use authtrail_model::store::prelude::*;
use authtrail_model::{NewActivity, Stopwatch, SystemClock, Tenant};
use authtrail_service::{Service, Source};
use authtrail_store_sqlite::SqliteStore;

use crate::data::Dataset;
use crate::stats::{Latency, round};

/// What `--integrity` measures, and at which sizes.
pub struct Settings {
    /// Events per ingest round (rounds alternate off and on).
    pub ingest_events: usize,
    pub rounds: usize,
    /// Seconds of paced ingest for the lag, and its rate.
    pub lag_secs: u64,
    pub lag_rate: usize,
    pub proof_size: u64,
    pub proofs: usize,
    pub verify_events: usize,
    pub seed: u64,
    pub server_bin: PathBuf,
}

/// The checkpoints job's gather delay.
const GATHER: Duration = Duration::from_millis(200);
/// Activities per ingest call (a typical producer batch).
const BATCH: usize = 100;
/// Concurrent producers in the throughput rounds.
const PRODUCERS: usize = 8;

pub(crate) async fn service(dir: &Path) -> anyhow::Result<Service> {
    let clock = Arc::new(SystemClock);
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(dir, clock.clone())?);
    // A throwaway store with a key of its own, kept where the CLI looks for it (`sealing.key`
    // in the data directory), so that `authtrail export` of the verify run opens its secrets.
    use authtrail_service::sealing::SealingKey;
    let text = SealingKey::generate_file();
    std::fs::write(dir.join("sealing.key"), &text)?;
    let sealing = SealingKey::parse_file(&text).map_err(anyhow::Error::msg)?;
    Ok(Service::open(store, Arc::new(Catalog::builtin()?), clock, sealing).await?)
}

/// Validated batches of the data set for `tenant`.
pub(crate) fn batches(
    s: &Service,
    tenant: &Tenant,
    data: &Dataset,
) -> anyhow::Result<Vec<Vec<NewActivity>>> {
    let items: Vec<Value> = data
        .json_items(0..data.len())?
        .iter()
        .map(|e| serde_json::from_str(e))
        .collect::<Result<_, _>>()?;
    items
        .chunks(BATCH)
        .map(|c| {
            s.validate(tenant, Source::Cli, c)
                .map_err(|e| anyhow::anyhow!("{e}"))
        })
        .collect()
}

/// The checkpoints job's loop until `stop`: each round gathers, then hashes and signs until the
/// tree is caught up. `signed` gets (tree size, when) of every stored checkpoint.
fn checkpointer(
    s: Service,
    tenant: Tenant,
    stop: Arc<AtomicBool>,
) -> tokio::task::JoinHandle<anyhow::Result<Vec<(u64, Instant)>>> {
    tokio::spawn(async move {
        let mut signed = Vec::new();
        while !stop.load(Ordering::Relaxed) {
            tokio::time::sleep(GATHER).await;
            loop {
                let r = s.log_sync(&tenant).await?;
                if r.signed {
                    signed.push((r.size, Instant::now()));
                }
                if !r.more {
                    break;
                }
            }
        }
        Ok(signed)
    })
}

/// One throughput round: every batch ingested by [`PRODUCERS`] tasks; events per second.
async fn ingest_round(data: &Dataset, with_log: bool) -> anyhow::Result<f64> {
    let dir = tempfile::tempdir()?;
    let s = service(dir.path()).await?;
    let t = Tenant::new("Cbench").map_err(anyhow::Error::msg)?;
    let all = batches(&s, &t, data)?;
    let n: usize = all.iter().map(Vec::len).sum();
    let stop = Arc::new(AtomicBool::new(false));
    let log = with_log.then(|| checkpointer(s.clone(), t.clone(), stop.clone()));
    let queue = Arc::new(std::sync::Mutex::new(all.into_iter()));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..PRODUCERS {
        let (s, t, queue) = (s.clone(), t.clone(), queue.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let Some(b) = queue.lock().unwrap().next() else {
                    return anyhow::Ok(());
                };
                s.ingest(&t, Source::Cli, b, Stopwatch::start()).await?;
            }
        }));
    }
    for task in tasks {
        task.await??;
    }
    let eps = n as f64 / started.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    if let Some(log) = log {
        log.await??;
        // The log must have kept up: everything ingested is in the tree by now.
        let size = s.store().tree_size(&t).await?;
        if size != n as u64 {
            s.log_sync(&t).await?;
        }
    }
    Ok(eps)
}

/// Paced ingest at `rate` ev/s for `secs`, the checkpoint loop on: the lag of every batch.
async fn lag(data: &Dataset, rate: usize, secs: u64) -> anyhow::Result<(Latency, f64)> {
    let dir = tempfile::tempdir()?;
    let s = service(dir.path()).await?;
    let t = Tenant::new("Clag").map_err(anyhow::Error::msg)?;
    let all = batches(&s, &t, data)?;
    let stop = Arc::new(AtomicBool::new(false));
    let log = checkpointer(s.clone(), t.clone(), stop.clone());
    let every = Duration::from_secs_f64(BATCH as f64 / rate as f64);
    let wanted = (rate as u64 * secs) as usize / BATCH;
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let (done_tx, mut done_rx) = tokio::sync::mpsc::unbounded_channel();
    let started = Instant::now();
    for b in all.into_iter().cycle().take(wanted) {
        tick.tick().await;
        let (s, t, done) = (s.clone(), t.clone(), done_tx.clone());
        tokio::spawn(async move {
            let r = s.ingest(&t, Source::Cli, b, Stopwatch::start()).await;
            let last = r.ok().and_then(|r| r.last().map(|x| x.unique_qualifier));
            let _ = done.send((last, Instant::now()));
        });
    }
    drop(done_tx);
    let mut commits = Vec::new();
    while let Some((last, at)) = done_rx.recv().await {
        commits.push((last.context("a paced batch failed")? as u64, at));
    }
    let achieved = commits.len() as f64 * BATCH as f64 / started.elapsed().as_secs_f64();
    // Let the last batches be checkpointed, then stop.
    tokio::time::sleep(Duration::from_secs(2)).await;
    stop.store(true, Ordering::Relaxed);
    let signed = log.await??;
    let mut lags = Vec::with_capacity(commits.len());
    for (last, at) in commits {
        let Some((_, when)) = signed.iter().find(|(size, _)| *size >= last) else {
            bail!("no checkpoint ever covered uniqueQualifier {last}");
        };
        lags.push(when.saturating_duration_since(at).as_secs_f64() * 1e3);
    }
    Ok((Latency::of(lags), achieved))
}

/// Inclusion proofs at a tree of `size` synthetic leaves: (latency, seconds to build the tree).
async fn proofs(size: u64, n: usize) -> anyhow::Result<(Latency, f64)> {
    use rand::RngExt;
    let dir = tempfile::tempdir()?;
    let s = service(dir.path()).await?;
    let t = Tenant::new("Cproof").map_err(anyhow::Error::msg)?;
    // The tenant exists once it has an activity.
    let one = batches(&s, &t, &Dataset::generate(1, 1, now_us(), 1)?)?;
    s.store().append(&t, one.concat()).await?;
    let built = Instant::now();
    let mut f = Frontier::new();
    let leaf = |i: u64| -> Hash { authtrail_integrity::leaf_hash(&i.to_be_bytes()) };
    const CHUNK: u64 = 100_000;
    while f.size() < size {
        let from = f.size();
        let to = (from + CHUNK).min(size);
        let nodes: Vec<TreeNode> = (from..to)
            .flat_map(|i| f.push(leaf(i)))
            .map(|(id, hash)| TreeNode {
                level: id.level,
                index: id.index,
                hash,
            })
            .collect();
        s.store().grow_tree(&t, from, to, nodes).await?;
    }
    let build_secs = built.elapsed().as_secs_f64();
    let root = f.root();
    // A real signed checkpoint of the grown tree, as the checkpoints job makes it: proofs are
    // served against the stored checkpoint, which is read as a signed note.
    let synced = s.log_sync(&t).await?;
    if synced.size != size {
        bail!("the log synced {} leaves, not {size}", synced.size);
    }
    let mut rng = rand::rng();
    let mut samples = Vec::with_capacity(n);
    for k in 0..n {
        let index = rng.random_range(0..size);
        let started = Instant::now();
        let p = s.inclusion_proof(&t, index, None).await?;
        samples.push(started.elapsed().as_secs_f64() * 1e3);
        if k % 100 == 0 {
            let hashes: Vec<Vec<u8>> = p.hashes.iter().map(|h| h.to_vec()).collect();
            verify_inclusion(&leaf(index), index, size, &hashes, &root)
                .map_err(|e| anyhow::anyhow!("proof of {index} does not verify: {e}"))?;
        }
    }
    Ok((Latency::of(samples), build_secs))
}

fn now_us() -> i64 {
    use authtrail_model::Clock;
    SystemClock.now_us()
}

/// Runs every measurement, printing each figure as it comes, and answers them as JSON.
pub async fn run(cfg: &Settings) -> anyhow::Result<Value> {
    let now = now_us();
    let data = Dataset::generate(cfg.ingest_events as u64, cfg.seed, now, 30)?;
    let (mut off, mut on) = (Vec::new(), Vec::new());
    for round in 0..cfg.rounds * 2 {
        let with_log = round % 2 == 1;
        let eps = ingest_round(&data, with_log).await?;
        eprintln!(
            "  ingest round {round}: checkpoints {}: {eps:>9.0} ev/s",
            if with_log { "on " } else { "off" }
        );
        if with_log { &mut on } else { &mut off }.push(eps);
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (off_eps, on_eps) = (median(&mut off), median(&mut on));
    let ratio = on_eps / off_eps;
    eprintln!(
        "  ingest: off {off_eps:.0} ev/s, on {on_eps:.0} ev/s, ratio {ratio:.3} (target ≥ 0.9)"
    );

    let lag_data = Dataset::generate(cfg.lag_rate as u64 * 2, cfg.seed + 1, now, 30)?;
    let (lag, achieved) = lag(&lag_data, cfg.lag_rate, cfg.lag_secs).await?;
    eprintln!(
        "  checkpoint lag at {achieved:.0} ev/s: p50 {:.0} ms, p99 {:.0} ms (target p99 ≤ 1000)",
        lag.p50_ms, lag.p99_ms
    );

    let (proof, build_secs) = proofs(cfg.proof_size, cfg.proofs).await?;
    eprintln!(
        "  inclusion proof at {} leaves (tree built in {build_secs:.0} s): p50 {:.3} ms, p99 {:.3} ms (target p99 ≤ 5)",
        cfg.proof_size, proof.p50_ms, proof.p99_ms
    );

    let verify = if cfg.server_bin.exists() {
        let verify_data = Dataset::generate(cfg.verify_events as u64, cfg.seed + 2, now, 30)?;
        let trail = crate::verify::trail(&verify_data, &cfg.server_bin).await?;
        let (eps, secs, _) = crate::verify::alternate(&[&cfg.server_bin], &trail, 3)?
            .pop()
            .context("a run")?;
        eprintln!(
            "  verify offline: {} activities in {secs:.2} s: {eps:.0} ev/s (target ≥ 200000)",
            cfg.verify_events
        );
        json!({"events": cfg.verify_events, "median_secs": round(secs), "eps": round(eps)})
    } else {
        eprintln!(
            "  verify offline: skipped, no authtrail binary at {}",
            cfg.server_bin.display()
        );
        Value::Null
    };

    Ok(json!({
        "ingest": {
            "events_per_round": cfg.ingest_events,
            "rounds_each": cfg.rounds,
            "off_eps": round(off_eps),
            "on_eps": round(on_eps),
            "ratio": round(ratio),
        },
        "checkpoint_lag_ms": {
            "rate_eps": round(achieved),
            "seconds": cfg.lag_secs,
            "latency": lag.json(),
        },
        "inclusion_proof_ms": {
            "tree_size": cfg.proof_size,
            "build_secs": round(build_secs),
            "latency": proof.json(),
        },
        "verify_offline": verify,
    }))
}
