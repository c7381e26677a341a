//! `authtrail-bench`: one run, one data set, every contender.
//!
//! authtrail (SQLite and PostgreSQL engines, each as the real `authtrail serve` binary, driven
//! through its HTTP APIs) against what its users would otherwise pick: Logto's `logs` table in
//! the same PostgreSQL (one INSERT per event, and COPY), a plain SQLite table, and authtrail's own
//! engine without HTTP. Prints a table and writes every figure to a JSON file. See
//! docs/performance.md.

// Reading the real clocks (and waiting in real time for servers to start and stop) is what a
// benchmark is for; the workspace's clippy.toml bans it everywhere else.
#![allow(
    clippy::disallowed_methods,
    reason = "a benchmark measures real time on purpose"
)]

mod alert_latency;
mod console;
mod data;
mod delivery;
mod engine;
mod ingest;
mod integrity;
mod logto;
mod query;
mod report;
mod server;
mod soak;
mod sqlite_baseline;
mod stats;
mod verify;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::bail;
use clap::Parser;
use serde_json::{Value, json};

use authtrail_model::{Clock, SystemClock};

use crate::data::Dataset;
use crate::engine::Backing;
use crate::query::{Budget, CAP};
use crate::stats::Latency;

#[derive(Parser)]
#[command(
    name = "authtrail-bench",
    about = "Benchmarks authtrail against a Logto-style table"
)]
struct Args {
    /// Events in the data set.
    #[arg(long, default_value_t = 1_000_000)]
    events: usize,
    /// 200,000 events and shorter query loops: about a minute.
    #[arg(long)]
    quick: bool,
    /// 5,000 events: checks that everything runs (CI), figures mean little.
    #[arg(long)]
    smoke: bool,
    /// 10,000,000 events.
    #[arg(long = "10m")]
    ten_million: bool,
    /// Seed of the workload generator.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// PostgreSQL for the PostgreSQL engine and the Logto-style baseline.
    #[arg(
        long,
        env = "AUTHTRAIL_BENCH_POSTGRES",
        default_value = "postgres://postgres@127.0.0.1:5432/test"
    )]
    postgres: String,
    /// Skip everything that needs PostgreSQL.
    #[arg(long)]
    no_postgres: bool,
    /// Skip authtrail's PostgreSQL engine, keeping the Logto-style baseline (its ingest is the
    /// slowest part of a large run).
    #[arg(long)]
    no_postgres_engine: bool,
    /// The `authtrail` binary to benchmark (default: next to this one).
    #[arg(long)]
    server_bin: Option<PathBuf>,
    /// Print the tables of an earlier run's JSON file, and run nothing.
    #[arg(long, value_name = "FILE")]
    table_from: Option<PathBuf>,
    /// Run the soak test instead of the benchmark: this many seconds per engine of mixed ingest,
    /// reads, slow clients and kill -9 rounds, then an audit of what was stored against what was
    /// answered (scripts/soak.sh). Fails on any lost, refused-but-stored, gap or duplicate.
    #[arg(long, value_name = "SECONDS")]
    soak: Option<u64>,
    /// Run the push-delivery benchmark instead (`delivery`): this many seconds of steady ingest
    /// per phase, with --delivery-subscriptions webhook subscriptions.
    #[arg(long, value_name = "SECONDS")]
    delivery: Option<u64>,
    /// Webhook subscriptions of --delivery.
    #[arg(long, default_value_t = 10)]
    delivery_subscriptions: usize,
    /// Events per second of --delivery's steady ingest.
    #[arg(long, default_value_t = 1000)]
    delivery_rate: usize,
    /// Events per throughput cell of --delivery.
    #[arg(long, default_value_t = 100_000)]
    delivery_bulk: usize,
    /// Run the alert and detection latency benchmark instead (`alert_latency`): this many
    /// samples each of ack -> SMTP accepted and ack -> brute-force finding readable.
    #[arg(long, value_name = "SAMPLES")]
    alert_latency: Option<usize>,
    /// Seconds between two kill -9 rounds of --soak.
    #[arg(long, default_value_t = 10)]
    soak_kill_every: u64,
    /// Concurrent writers of --soak.
    #[arg(long, default_value_t = 8)]
    soak_writers: usize,
    /// Run the console benchmark instead (`console`): the console's pages, every chart over 30
    /// days (checked against exact counts) and the CSV export, on --events demo events.
    #[arg(long)]
    console: bool,
    /// With --console: also measure this `authtrail` binary (say, main's) on the same data in the
    /// same run, before --server-bin's, for a same-run before/after ratio.
    #[arg(long, value_name = "BIN")]
    console_baseline_bin: Option<PathBuf>,
    /// With --console: load into this data directory and keep it; if it already holds a trail,
    /// measure that one without loading (a 10-million-event load takes about 13 minutes). A
    /// newer binary migrates it, after which an older one refuses it: copy it first for a
    /// second before/after run.
    #[arg(long, value_name = "DIR")]
    console_data: Option<PathBuf>,
    /// Run the transparency-log benchmark instead (issue #15's targets, crates/bench/src/integrity.rs):
    /// ingest with checkpoints off and on, checkpoint lag at 10,000 ev/s, inclusion proofs, and
    /// offline verify throughput.
    #[arg(long)]
    integrity: bool,
    /// Leaves of --integrity's tree for inclusion proofs.
    #[arg(long, default_value_t = 1_000_000)]
    integrity_proof_size: u64,
    /// Activities of --integrity's offline verify run (also the events of each ingest round).
    #[arg(long, default_value_t = 1_000_000)]
    integrity_verify_events: usize,
    /// Run only --integrity's offline verify throughput (`authtrail verify --export --log --key`
    /// of --integrity-verify-events activities, median of --verify-runs runs).
    #[arg(long)]
    verify_throughput: bool,
    /// With --verify-throughput: also time this `authtrail` binary (say, main's) on the same
    /// export, alternating with --server-bin's runs, for a same-run before/after ratio.
    #[arg(long, value_name = "BIN")]
    verify_baseline_bin: Option<PathBuf>,
    /// Timed runs of each binary for --verify-throughput.
    #[arg(long, default_value_t = 3)]
    verify_runs: usize,
    /// With --verify-throughput: also keep the export, its log and the key in this directory
    /// (`t.ndjson`, `t.log`, `t.vkey`), to profile `authtrail verify` by hand on the same input.
    #[arg(long, value_name = "DIR")]
    verify_keep: Option<PathBuf>,
    /// Where to write the JSON of every figure.
    #[arg(long, default_value = "bench-results.json")]
    out: PathBuf,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(run(args))
}

/// Baselines on PostgreSQL: Logto's table by INSERT (1 and 16 clients) and COPY, then queried.
pub(crate) struct LogtoRun {
    pub insert_1: (usize, f64, Latency),
    pub insert_16: (usize, f64, Latency),
    pub copy_eps: f64,
    pub queries: Vec<(String, Latency)>,
    pub bytes: u64,
}

async fn logto_run(
    url: &str,
    schema: &str,
    data: &Dataset,
    budget: Budget,
) -> anyhow::Result<LogtoRun> {
    logto::create(url, schema).await?;
    let len = data.len();
    let n1 = (len / 300).clamp(50, 3_000).min(len);
    let n16 = (len / 50).clamp(200, 20_000).min(len - n1);
    let (e1, l1) = logto::insert_each(url, schema, data.logto_rows(0..n1)?, 1).await?;
    eprintln!(
        "  logto    INSERT per event x  1: {n1:>8} events {e1:>9.0} ev/s  p50 {:>6.2} ms  p99 {:>6.2} ms",
        l1.p50_ms, l1.p99_ms
    );
    let (e16, l16) = logto::insert_each(url, schema, data.logto_rows(n1..n1 + n16)?, 16).await?;
    eprintln!(
        "  logto    INSERT per event x 16: {n16:>8} events {e16:>9.0} ev/s  p50 {:>6.2} ms  p99 {:>6.2} ms",
        l16.p50_ms, l16.p99_ms
    );
    let copy_eps = logto::copy(url, schema, data, n1 + n16..len).await?;
    eprintln!(
        "  logto    COPY: {:>8} events {copy_eps:>9.0} ev/s",
        len - n1 - n16
    );
    let bytes = logto::schema_bytes(url, schema).await?;
    // Autovacuum would have analysed a table this size; do it now rather than wait for it.
    let c = logto::connect(url).await?;
    c.batch_execute(&format!("ANALYZE {schema}.logs")).await?;

    let mut queries = Vec::new();
    for case in query::cases(data) {
        let (sql, params) = &case.logto;
        let l = query::time_sql(url, schema, sql, params, budget).await?;
        eprintln!(
            "  logto    {:<22} p50 {:>7.2} ms  p99 {:>7.2} ms",
            case.name, l.p50_ms, l.p99_ms
        );
        queries.push((case.name.to_string(), l));
    }
    let page = |offset: usize| {
        format!(
            "SELECT id, key, payload, created_at FROM logs WHERE tenant_id = $1 ORDER BY created_at DESC LIMIT {} OFFSET {offset}",
            query::PAGE
        )
    };
    let deep = ((len / query::PAGE).clamp(1, 1000) - 1) * query::PAGE;
    let names: Vec<Vec<String>> = data
        .sample(16)
        .iter()
        .map(|e| vec![e.name.clone()])
        .collect();
    let count_sql = [
        ("page 1".to_string(), page(0), vec![vec![]]),
        ("page 1000".to_string(), page(deep), vec![vec![]]),
        (
            "capped count".to_string(),
            format!(
                "SELECT count(*) FROM (SELECT 1 FROM logs WHERE tenant_id = $1 AND key = $2 LIMIT {CAP}) t"
            ),
            names.clone(),
        ),
        (
            "exact count".to_string(),
            "SELECT count(*) FROM logs WHERE tenant_id = $1 AND key = $2".to_string(),
            names,
        ),
    ];
    for (name, sql, params) in count_sql {
        let l = query::time_sql(url, schema, &sql, &params, budget).await?;
        eprintln!(
            "  logto    {name:<22} p50 {:>7.2} ms  p99 {:>7.2} ms",
            l.p50_ms, l.p99_ms
        );
        queries.push((name, l));
    }
    Ok(LogtoRun {
        insert_1: (n1, e1, l1),
        insert_16: (n16, e16, l16),
        copy_eps,
        queries,
        bytes,
    })
}

fn machine() -> Value {
    let cpu = std::fs::read_to_string("/proc/cpuinfo").ok().and_then(|s| {
        s.lines()
            .find(|l| l.starts_with("model name"))
            .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
    });
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    json!({
        "cpus": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        "cpu_model": cpu,
        "load_average_at_start": load.split_whitespace().take(3).collect::<Vec<_>>().join(" "),
    })
}

async fn run(args: Args) -> anyhow::Result<()> {
    if let Some(seconds) = args.soak {
        return soak_all(&args, seconds).await;
    }
    if let Some(n) = args.alert_latency {
        let bin = args
            .server_bin
            .clone()
            .unwrap_or_else(server::default_binary);
        let tmp = tempfile::tempdir()?;
        let out = alert_latency::run(&bin, tmp.path(), n).await?;
        std::fs::write(&args.out, serde_json::to_string_pretty(&out)?)?;
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(());
    }
    if let Some(seconds) = args.delivery {
        let bin = args
            .server_bin
            .clone()
            .unwrap_or_else(server::default_binary);
        let tmp = tempfile::Builder::new()
            .prefix("authtrail-delivery-")
            .tempdir()?;
        let plan = delivery::Plan {
            seconds,
            rate: args.delivery_rate,
            subscriptions: args.delivery_subscriptions,
            bulk_events: args.delivery_bulk,
        };
        let out = delivery::run(&bin, tmp.path(), &plan, args.seed).await?;
        std::fs::write(&args.out, serde_json::to_string_pretty(&out)?)?;
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(());
    }
    if args.console {
        let bin = args
            .server_bin
            .clone()
            .unwrap_or_else(server::default_binary);
        let tmp = tempfile::Builder::new()
            .prefix("authtrail-console-")
            .tempdir()?;
        let smoke = args.smoke;
        let plan = console::Plan {
            events: if smoke { 5_000 } else { args.events as u64 },
            page_runs: if smoke { 5 } else { 100 },
            chart_runs: if smoke { 3 } else { 30 },
            csv_runs: if smoke { 1 } else { 3 },
            baseline: args.console_baseline_bin.clone(),
            data: args.console_data.clone(),
        };
        let out = console::run(&bin, tmp.path(), &plan).await?;
        std::fs::write(&args.out, serde_json::to_string_pretty(&out)?)?;
        println!("{}", console::table(&out));
        return Ok(());
    }
    if args.verify_throughput {
        let bin = args
            .server_bin
            .clone()
            .unwrap_or_else(server::default_binary);
        let events = if args.smoke {
            5_000
        } else {
            args.integrity_verify_events
        };
        let out = verify::run_ab(
            events,
            args.seed + 2,
            SystemClock.now_us(),
            &bin,
            args.verify_baseline_bin.as_deref(),
            args.verify_runs.max(1),
            args.verify_keep.as_deref(),
        )
        .await?;
        std::fs::write(&args.out, serde_json::to_string_pretty(&out)?)?;
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(());
    }
    if args.integrity {
        let cfg = integrity::Settings {
            ingest_events: if args.smoke { 5_000 } else { 200_000 },
            rounds: if args.smoke { 1 } else { 3 },
            lag_secs: if args.smoke { 2 } else { 20 },
            lag_rate: 10_000,
            proof_size: if args.smoke {
                10_000
            } else {
                args.integrity_proof_size
            },
            proofs: if args.smoke { 200 } else { 5_000 },
            verify_events: if args.smoke {
                5_000
            } else {
                args.integrity_verify_events
            },
            seed: args.seed,
            server_bin: args
                .server_bin
                .clone()
                .unwrap_or_else(server::default_binary),
        };
        let out = integrity::run(&cfg).await?;
        std::fs::write(&args.out, serde_json::to_string_pretty(&out)?)?;
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(());
    }
    if let Some(path) = &args.table_from {
        let out: Value = serde_json::from_str(&std::fs::read_to_string(path)?)?;
        println!("{}", report::table(&out));
        return Ok(());
    }
    let n = if args.smoke {
        5_000
    } else if args.quick {
        200_000
    } else if args.ten_million {
        10_000_000
    } else {
        args.events
    };
    let budget = match n {
        0..=20_000 => Budget {
            iterations: 20,
            max_time: Duration::from_secs(2),
        },
        20_001..=500_000 => Budget {
            iterations: 100,
            max_time: Duration::from_secs(4),
        },
        _ => Budget {
            iterations: 200,
            max_time: Duration::from_secs(10),
        },
    };
    let bin = args
        .server_bin
        .clone()
        .unwrap_or_else(server::default_binary);
    let started = Instant::now();
    let machine = machine();
    eprintln!(
        "authtrail-bench: {n} events, seed {}, machine {machine}",
        args.seed
    );
    let data = Arc::new(Dataset::generate(
        n as u64,
        args.seed,
        SystemClock.now_us(),
        7,
    )?);
    let mean = data.mean_json_len;
    eprintln!(
        "generated in {:.1} s ({mean:.0} bytes of JSON per event)",
        started.elapsed().as_secs_f64()
    );

    let tmp = tempfile::Builder::new()
        .prefix("authtrail-bench-")
        .tempdir()?;
    let mut engines = Vec::new();
    let sqlite_dir = tmp.path().join("sqlite");
    engines.push(
        engine::run(
            "sqlite",
            &bin,
            &Backing::Sqlite(sqlite_dir),
            &tmp.path().join("sqlite.log"),
            &data,
            budget,
        )
        .await?,
    );

    let pid = std::process::id();
    let (engine_schema, logto_schema) =
        (format!("bench_{pid}_engine"), format!("bench_{pid}_logto"));
    let mut logto_result = None;
    if !args.no_postgres {
        let result = async {
            if !args.no_postgres_engine {
                logto::connect(&args.postgres)
                    .await?
                    .batch_execute(&format!("CREATE SCHEMA {engine_schema}"))
                    .await?;
                let backing = Backing::Postgres {
                    url: args.postgres.clone(),
                    schema: engine_schema.clone(),
                };
                engines.push(
                    engine::run(
                        "postgres",
                        &bin,
                        &backing,
                        &tmp.path().join("postgres.log"),
                        &data,
                        budget,
                    )
                    .await?,
                );
            }
            logto_result = Some(logto_run(&args.postgres, &logto_schema, &data, budget).await?);
            Ok::<_, anyhow::Error>(())
        }
        .await;
        for s in [&engine_schema, &logto_schema] {
            if let Err(e) = logto::drop_schema(&args.postgres, s).await {
                eprintln!("could not drop schema {s}: {e}");
            }
        }
        result?;
    }

    let direct_eps = sqlite_baseline::engine(&tmp.path().join("direct"), &data).await?;
    eprintln!("  sqlite engine without HTTP (batch 1000): {direct_eps:.0} ev/s");
    let table_path = tmp.path().join("table.db");
    let table_eps = sqlite_baseline::table(&table_path, &data)?;
    let table_bytes = sqlite_baseline::file_bytes(&table_path);
    eprintln!("  sqlite table (batch 1000): {table_eps:.0} ev/s");

    let baselines = report::Baselines {
        direct_eps,
        table_eps,
        table_bytes,
        logto: logto_result.as_ref(),
    };
    let out = report::build(
        n,
        &args_json(&args, n),
        machine,
        &engines,
        &baselines,
        started.elapsed(),
    );
    println!("{}", report::table(&out));
    std::fs::write(&args.out, serde_json::to_string_pretty(&out)? + "\n")?;
    eprintln!("wrote {}", args.out.display());
    Ok(())
}

fn args_json(args: &Args, n: usize) -> Value {
    json!({"events": n, "seed": args.seed, "quick": args.quick, "smoke": args.smoke, "postgres": !args.no_postgres,
           "postgres_engine": !args.no_postgres && !args.no_postgres_engine})
}

/// `--soak`: the soak test on each engine (see `soak`), its JSON written to `--out`.
async fn soak_all(args: &Args, seconds: u64) -> anyhow::Result<()> {
    let bin = args
        .server_bin
        .clone()
        .unwrap_or_else(server::default_binary);
    let plan = soak::Plan {
        seconds,
        kill_every: args.soak_kill_every,
        writers: args.soak_writers,
    };
    let tmp = tempfile::Builder::new()
        .prefix("authtrail-soak-")
        .tempdir()?;
    let mut runs = vec![
        soak::run(
            "sqlite",
            &bin,
            &Backing::Sqlite(tmp.path().join("sqlite")),
            tmp.path(),
            &plan,
        )
        .await?,
    ];
    eprintln!("{}", runs[0].line());
    if !args.no_postgres {
        let schema = format!("bench_soak_{}", std::process::id());
        logto::connect(&args.postgres)
            .await?
            .batch_execute(&format!("CREATE SCHEMA {schema}"))
            .await?;
        let backing = Backing::Postgres {
            url: args.postgres.clone(),
            schema: schema.clone(),
        };
        let result = soak::run("postgres", &bin, &backing, tmp.path(), &plan).await;
        if let Err(e) = logto::drop_schema(&args.postgres, &schema).await {
            eprintln!("could not drop schema {schema}: {e}");
        }
        runs.push(result?);
        eprintln!("{}", runs[1].line());
    }
    let out: serde_json::Map<String, Value> = runs
        .iter()
        .map(|r| (r.engine.to_string(), r.json()))
        .collect();
    std::fs::write(
        &args.out,
        serde_json::to_string_pretty(&Value::Object(out))?,
    )?;
    for r in &runs {
        println!("{}", r.line());
    }
    if runs.iter().any(soak::Soak::failed) {
        bail!("the soak test found lost, refused-but-stored, missing or duplicated events");
    }
    Ok(())
}
