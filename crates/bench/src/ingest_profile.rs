//! `authtrail-ingest-profile [EVENTS]`: the ingest path of `POST /v1/activities` without the
//! network, for counting instructions per event under callgrind (which the neighbours' load does
//! not disturb, unlike wall-clock time):
//!
//! ```sh
//! valgrind --tool=callgrind --callgrind-out-file=cg.out target/release/authtrail-ingest-profile 20000
//! callgrind_annotate --inclusive=yes cg.out | grep -E 'parse_and_validate|commit_group|body_codec::encode'
//! ```
//!
//! It generates the demo workload (`authtrail-workload`, as `authtrail-bench` does), frames it as
//! JSON-array request bodies of 1000 events, then for each body runs the server's own decoding
//! and validation ([`parse_and_validate`]: the whole CPU cost of a request before it reaches the
//! store) and appends the batch to a fresh SQLite store (the writer thread's
//! `Writer::commit_group`: inserts, body compression, commit and fsync). The callgrind functions
//! to read are those two; their sum is the cost per event of ingest short of HTTP and the
//! response.
//!
//! It ends with the bytes stored per event: the average body, and the whole database file
//! (every table and index) after `wal_checkpoint(TRUNCATE)`, as `authtrail-bench` measures
//! storage; run it without valgrind for that, e.g. with 200000 events.

use std::sync::Arc;

use anyhow::Context as _;
use authtrail_model::{Clock, SystemClock, Tenant};
use authtrail_service::Source;

mod throwaway;

use throwaway::{BATCH, Throwaway, parse_and_validate};

/// The server's allocator (crates/cli/src/main.rs), so that the counts include what it costs.
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> anyhow::Result<()> {
    let events: u64 = match std::env::args().nth(1) {
        Some(n) => n.parse().context("EVENTS must be a number")?,
        None => 20_000,
    };
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let bodies: Vec<Vec<u8>> = {
        let all: Vec<String> = authtrail_workload::Generator::new(1, events, clock.now_us(), 30)
            .map(|a| a.to_string())
            .collect();
        all.chunks(BATCH)
            .map(|c| format!("[{}]", c.join(",")).into_bytes())
            .collect()
    };
    let json_bytes: usize = bodies.iter().map(Vec::len).sum();
    let Throwaway { dir, rt, service } = Throwaway::open(clock)?;
    let tenant = Tenant::new("bench").map_err(anyhow::Error::msg)?;
    let mut stored = 0;
    for body in &bodies {
        let batch = parse_and_validate(&service, &tenant, body)?;
        let receipts = rt.block_on(service.ingest(
            &tenant,
            Source::Native,
            batch,
            authtrail_model::Stopwatch::start(),
        ))?;
        stored += receipts.len();
    }
    drop(service);
    let db = rusqlite::Connection::open(dir.path().join(authtrail_store_sqlite::DB_FILE))?;
    let (n, body_bytes): (i64, f64) = db.query_row(
        "SELECT count(*), avg(length(body)) FROM activities",
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    // The whole file once the WAL is folded in, as the bench measures storage: every table and
    // index, not only the bodies.
    let busy: i64 = db.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get(0))?;
    anyhow::ensure!(busy == 0, "the WAL checkpoint could not finish");
    let file_bytes = std::fs::metadata(dir.path().join(authtrail_store_sqlite::DB_FILE))?.len();
    println!(
        "{stored} events acknowledged, {n} stored; producer JSON {:.0} bytes/event; stored body {body_bytes:.1} bytes/event; database file {:.1} bytes/event",
        json_bytes as f64 / events.max(1) as f64,
        file_bytes as f64 / n.max(1) as f64
    );
    Ok(())
}
