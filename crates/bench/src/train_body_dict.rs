//! `authtrail-train-body-dict`: trains the zstd dictionary of the stored activity bodies
//! (`crates/body-codec`, tag 3's `body-dict-2.zstd`) and reports what it would store.
//!
//! ```sh
//! cargo run --release -p authtrail-bench --bin authtrail-train-body-dict -- --sizes 4096,8192,16384
//! cargo run --release -p authtrail-bench --bin authtrail-train-body-dict -- \
//!     --size 8192 --out crates/body-codec/src/body-dict-2.zstd
//! ```
//!
//! The samples are what the stores compress: the demo workload (`authtrail-workload`, both
//! vocabularies, the stream `authtrail demo` and the benchmarks ingest) is validated and appended
//! to a throwaway SQLite store through the service, exactly as `POST /v1/activities` does, and
//! each stored body is read back and decoded, so it is the JSON the SQLite writer handed to
//! `body_codec::encode`. PostgreSQL's rows keep the producer's `eventId` in the body (SQLite moves
//! it to a column), so each body is also put in that form. Everything is seeded and the clock is
//! fixed: the same code trains the same dictionary, byte for byte (debug and release alike). A
//! change to the generator or to what the stores keep in a body changes what it trains; the
//! committed file does not follow, it is frozen.
//!
//! It reports, on bodies of another seed than the training ones, the average stored size of a
//! body as tag 2 writes it (dictionary 1, zstd level 1) and as tag 3 would with each candidate
//! size and zstd levels 1-3. The committed dictionary is part of the stored format and never
//! changes; a better one gets a new tag (and this tool's `--out` a new file).

use std::sync::Arc;

use anyhow::Context as _;
use authtrail_model::{ActivityBody, Clock, ManualClock, Stopwatch, Tenant};
use authtrail_service::Source;
use clap::Parser;

mod throwaway;

use throwaway::{BATCH, Throwaway, parse_and_validate};

/// 2026-12-01T00:00:00Z: the workload's times (and the `login_timestamp` values in its bodies)
/// are relative to "now", so a fixed one keeps the samples the same from run to run.
const NOW_US: i64 = 1_796_083_200_000_000;
const TRAIN_SEED: u64 = 18;
/// The evaluation stream: another seed than the training one (the profile ingests seed 1).
const EVAL_SEED: u64 = 1;

/// Tag 2's dictionary, to compare with.
const DICT_1: &[u8] = include_bytes!("../../body-codec/src/body-dict-1.txt");

#[derive(Parser)]
struct Args {
    /// Events of the training stream (each gives two samples: SQLite's and PostgreSQL's form).
    #[arg(long, default_value_t = 50_000)]
    events: u64,
    /// Events of the evaluation stream.
    #[arg(long, default_value_t = 20_000)]
    eval_events: u64,
    /// Dictionary sizes to train and report, in bytes.
    #[arg(long, value_delimiter = ',', default_value = "8192")]
    sizes: Vec<usize>,
    /// The size of the dictionary written to `--out`.
    #[arg(long, default_value_t = 8192)]
    size: usize,
    /// Where to write the dictionary of `--size` (nothing is written without it).
    #[arg(long)]
    out: Option<std::path::PathBuf>,
    /// Also write every trained candidate, as DIR/dict-SIZE.zstd, for `--measure`.
    #[arg(long, value_name = "DIR")]
    keep: Option<std::path::PathBuf>,
    /// Also write the evaluation bodies in SQLite's form (what `authtrail-ingest-profile`
    /// ingests), one JSON per line, for `--measure`.
    #[arg(long, value_name = "FILE")]
    samples_out: Option<std::path::PathBuf>,
    /// Print the first evaluation body of each vocabulary, as the SQLite store compresses it.
    #[arg(long)]
    show: bool,
    /// Instead of training: compress every body of `--samples` against this dictionary at
    /// `--level` once, as `body_codec::encode` does, to count the instructions under callgrind
    /// (`--toggle-collect='*compress_all*'`), then decompress them (`*decompress_frames*`).
    #[arg(long, value_name = "DICT")]
    measure: Option<std::path::PathBuf>,
    #[arg(long, value_name = "FILE")]
    samples: Option<std::path::PathBuf>,
    #[arg(long, default_value_t = 1)]
    level: i32,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if let Some(dict) = &args.measure {
        let samples = args.samples.as_ref().context("--measure needs --samples")?;
        let bodies: Vec<Vec<u8>> = std::fs::read(samples)?
            .split(|b| *b == b'\n')
            .filter(|l| !l.is_empty())
            .map(<[u8]>::to_vec)
            .collect();
        let dict = std::fs::read(dict)?;
        let (n, bytes) = compress_all(&bodies, &dict, args.level, 4)?;
        decompress_all(&bodies, &dict, args.level)?;
        println!(
            "{n} bodies, {:.1} bytes/body stored at level {}",
            bytes as f64 / n as f64,
            args.level
        );
        return Ok(());
    }
    let demo = |seed, events| {
        authtrail_workload::Generator::new(seed, events, NOW_US, 30)
            .map(|a| a.to_string())
            .collect::<Vec<_>>()
    };
    let (mut train, mut train_pg) = stored_bodies(demo(TRAIN_SEED, args.events))?;
    train.append(&mut train_pg);
    let (sqlite, postgres) = stored_bodies(demo(EVAL_SEED, args.eval_events))?;
    // Bodies the dictionary did not learn from: the detectors' labelled traffic, another
    // generator (Google's vocabulary only, other user agents and parameters), to show how much
    // of the gain is the demo's own strings.
    let other = authtrail_workload::labelled::Traffic::generate(EVAL_SEED, 400, 30, 3, NOW_US);
    let (other, _) = stored_bodies(other.iter().map(|l| l.item.to_string()).collect())?;
    if let Some(path) = &args.samples_out {
        std::fs::write(path, sqlite.join(&b'\n'))?;
    }
    if args.show {
        for needle in ["\"login_", "\"Interaction."] {
            let first = sqlite
                .iter()
                .find(|b| b.windows(needle.len()).any(|w| w == needle.as_bytes()));
            println!(
                "{}",
                String::from_utf8_lossy(first.map_or(&[][..], Vec::as_slice))
            );
        }
    }
    let json = |s: &[Vec<u8>]| s.iter().map(Vec::len).sum::<usize>() as f64 / s.len() as f64;
    println!(
        "{} training samples ({:.1} bytes of JSON each)",
        train.len(),
        json(&train)
    );
    let sets = [&sqlite, &postgres, &other];
    println!(
        "bytes/body stored, tag byte included, for: demo (seed {EVAL_SEED}) as SQLite stores it \
         ({:.1} bytes of JSON) | as PostgreSQL does ({:.1}) | labelled traffic, SQLite ({:.1})",
        json(&sqlite),
        json(&postgres),
        json(&other)
    );
    let mut line = "tag 2 (dictionary 1, raw content), level 1:".to_string();
    for set in sets {
        line += &format!(" {:.1}", stored_size(set, DICT_1, 1, 0)?);
    }
    println!("{line}");
    let mut sizes = args.sizes.clone();
    if args.out.is_some() && !sizes.contains(&args.size) {
        sizes.push(args.size);
    }
    for size in sizes {
        let dict = zstd::dict::from_samples(&train, size).context("training failed")?;
        let mut line = format!("trained, {size} bytes ({} written):", dict.len());
        for level in 1..=3 {
            line += &format!("  level {level}");
            for set in sets {
                // Tag 3 stores the frame without its 4-byte magic number.
                line += &format!(" {:.1}", stored_size(set, &dict, level, 4)?);
            }
        }
        println!("{line}");
        if let Some(dir) = &args.keep {
            std::fs::write(dir.join(format!("dict-{size}.zstd")), &dict)?;
        }
        if let (Some(out), true) = (&args.out, size == args.size) {
            std::fs::write(out, &dict)
                .with_context(|| format!("cannot write {}", out.display()))?;
            println!("wrote {} ({} bytes)", out.display(), dict.len());
        }
    }
    Ok(())
}

/// The JSON of each body as the stores compress it: in SQLite's form and in PostgreSQL's.
type Samples = (Vec<Vec<u8>>, Vec<Vec<u8>>);

fn stored_bodies(all: Vec<String>) -> anyhow::Result<Samples> {
    let clock: Arc<dyn Clock> = Arc::new(ManualClock::at(NOW_US));
    let Throwaway { dir, rt, service } = Throwaway::open(clock)?;
    let tenant = Tenant::new("train").map_err(anyhow::Error::msg)?;
    for chunk in all.chunks(BATCH) {
        let body = format!("[{}]", chunk.join(","));
        let batch = parse_and_validate(&service, &tenant, body.as_bytes())?;
        rt.block_on(service.ingest(&tenant, Source::Native, batch, Stopwatch::start()))?;
    }
    drop(service);
    let db = rusqlite::Connection::open(dir.path().join(authtrail_store_sqlite::DB_FILE))?;
    let mut rows = db.prepare("SELECT body, source_id FROM activities ORDER BY rowid")?;
    let mut sqlite = Vec::new();
    let mut postgres = Vec::new();
    let mut q = rows.query([])?;
    while let Some(row) = q.next()? {
        let blob: Vec<u8> = row.get(0)?;
        let source: Option<String> = row.get(1)?;
        let json = authtrail_body_codec::decode(&blob)
            .map_err(anyhow::Error::msg)?
            .into_owned();
        // PostgreSQL's `Item::new` takes the same columns out but leaves `eventId` in the body.
        let mut body: ActivityBody = serde_json::from_slice(&json)?;
        body.event_id = source;
        postgres.push(serde_json::to_vec(&body)?);
        sqlite.push(json);
    }
    Ok((sqlite, postgres))
}

/// The average stored size of `bodies` compressed against `dict` at `level`, tag byte
/// included, less `unmagic` bytes of the frame.
fn stored_size(bodies: &[Vec<u8>], dict: &[u8], level: i32, unmagic: usize) -> anyhow::Result<f64> {
    let (n, bytes) = compress_all(bodies, dict, level, unmagic)?;
    Ok(bytes as f64 / n as f64)
}

/// Compresses each body once against a prepared `dict`, as `body_codec::encode` does (one
/// context, no dictionary id): the function to read in callgrind. Returns the bodies and the
/// bytes stored, tag byte included, less `unmagic` bytes of each frame (tag 3 leaves out the
/// 4-byte magic number); a body that would not shrink is stored as it is.
#[inline(never)]
fn compress_all(
    bodies: &[Vec<u8>],
    dict: &[u8],
    level: i32,
    unmagic: usize,
) -> anyhow::Result<(usize, usize)> {
    let prepared = zstd::dict::EncoderDictionary::copy(dict, level);
    let mut c = zstd::bulk::Compressor::with_prepared_dictionary(&prepared)?;
    c.set_parameter(zstd::zstd_safe::CParameter::DictIdFlag(false))?;
    let mut out = Vec::with_capacity(64 * 1024);
    let mut bytes = 0;
    for b in bodies {
        out.clear();
        let n = c.compress_to_buffer(&b[..], &mut out)?;
        bytes += (1 + n - unmagic).min(b.len());
    }
    Ok((bodies.len(), bytes))
}

/// Decompresses each body's frame once against a prepared `dict`, as `body_codec::decode` does:
/// the function to read in callgrind for the cost of a read. The frames are made first, outside
/// it.
fn decompress_all(bodies: &[Vec<u8>], dict: &[u8], level: i32) -> anyhow::Result<()> {
    let mut c = zstd::bulk::Compressor::with_dictionary(level, dict)?;
    let frames = bodies
        .iter()
        .map(|b| c.compress(b))
        .collect::<Result<Vec<_>, _>>()?;
    let json = decompress_frames(&frames, dict)?;
    anyhow::ensure!(json == bodies.iter().map(Vec::len).sum::<usize>());
    Ok(())
}

#[inline(never)]
fn decompress_frames(frames: &[Vec<u8>], dict: &[u8]) -> anyhow::Result<usize> {
    let prepared = zstd::dict::DecoderDictionary::copy(dict);
    let mut d = zstd::bulk::Decompressor::with_prepared_dictionary(&prepared)?;
    let mut out = Vec::with_capacity(64 * 1024);
    let mut total = 0;
    for f in frames {
        out.clear();
        total += d.decompress_to_buffer(&f[..], &mut out)?;
    }
    Ok(total)
}
