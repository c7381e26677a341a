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
use authtrail_integrity::{
    Checkpoint, CosignatureVerifier, Hash, NoteError, NoteVerifier, check_cosignatures,
};
use authtrail_model::Tenant;
use authtrail_service::Service;
use authtrail_service::log_audit::{Audit, RowFacts};

use crate::StoreArgs;
use crate::client::service;
use crate::verify::{MAX_LINE_BYTES, Rows, decode_row};

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
        let (mut s, mut hashed, mut signed) = (service.log_sync(&tenant).await?, 0, false);
        loop {
            hashed += s.hashed;
            signed |= s.signed;
            if !s.more {
                break;
            }
            s = service.log_sync(&tenant).await?;
        }
        let key = service.log_key(&tenant).await?;
        writeln!(out, "{tenant} {} {key}", s.size)?;
        eprintln!(
            "tenant {tenant}: {} leaves ({hashed} new){}",
            s.size,
            if signed { ", checkpoint signed" } else { "" }
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
        // As the API serves it: signed by every current key (both during a rotation), with its
        // witnesses' cosignatures.
        let mut checkpoint = match service.store().checkpoint(tenant).await? {
            Some(_) => Some(service.log_checkpoint(tenant).await?.note),
            None => None,
        };
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
pub fn read_log_file(path: &Path, tenant: &Tenant) -> anyhow::Result<(Option<String>, Vec<Hash>)> {
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
    /// The export file (plain or zstd NDJSON, from `authtrail export`): check it offline.
    #[arg(long, required_unless_present = "url", conflicts_with = "url")]
    export: Option<PathBuf>,
    /// Instead of an export, check a running server: its checkpoint against --checkpoint (a
    /// consistency proof), and a random sample of activities (inclusion proofs and content).
    #[arg(long)]
    url: Option<String>,
    /// The API token (scope read) for --url.
    #[arg(long, env = "AUTHTRAIL_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// With --url: how many activities to check.
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u32).range(0..=10_000))]
    sample: u32,
    /// The tenant's verifier key (from GET /v1/log/key or `authtrail checkpoint`), or a file
    /// holding it. Of a file of several keys (GET /v1/log/key during a key rotation), the first
    /// one, the active key.
    #[arg(long)]
    key: String,
    /// A signed checkpoint file (from GET /v1/log/checkpoint, e.g. one saved earlier); by
    /// default the one in --log.
    #[arg(long)]
    checkpoint: Option<PathBuf>,
    /// The log file of `authtrail export --log`: its leaf hashes let verify name the row at fault.
    #[arg(long)]
    log: Option<PathBuf>,
    /// A witness you trust, by its cosigner verifier key (`<name>+<key ID>+<base64>`, as
    /// GET /v1/log/witnesses lists them) or a file holding one per line; repeatable. The
    /// checkpoint checked must carry valid cosignatures of --witness-quorum of them.
    #[arg(long = "witness", value_name = "VKEY|FILE")]
    witnesses: Vec<String>,
    /// How many of the --witness keys must have cosigned the checkpoint (default: all of them).
    #[arg(long, requires = "witnesses", value_parser = clap::value_parser!(u32).range(1..=16))]
    witness_quorum: Option<u32>,
}

/// The verifier keys an argument names: the non-blank lines of the file it names, or, when it
/// names no readable file, the argument itself (`--key` and `--witness` take either).
fn keys_in(arg: &str) -> Vec<String> {
    match std::fs::read_to_string(arg) {
        Ok(text) => text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect(),
        Err(_) => vec![arg.to_string()],
    }
}

/// The trusted witnesses of `--witness`: each a verifier key or a file of them.
fn trusted_witnesses(args: &VerifyArgs) -> anyhow::Result<Vec<CosignatureVerifier>> {
    let mut keys = Vec::new();
    for w in &args.witnesses {
        for line in keys_in(w) {
            keys.push(
                CosignatureVerifier::parse(&line)
                    .with_context(|| format!("--witness {line}: not a cosigner verifier key"))?,
            );
        }
    }
    if let Some(q) = args.witness_quorum
        && q as usize > keys.len()
    {
        bail!(
            "--witness-quorum {q} is more than the {} witness keys given",
            keys.len()
        );
    }
    Ok(keys)
}

/// Checks the witnesses' cosignatures of the checkpoint `note` against the quorum: a log that
/// shows this checkpoint to its witnesses cannot show another history to this verifier.
fn check_witnesses(args: &VerifyArgs, note: &str) -> anyhow::Result<()> {
    let trusted = trusted_witnesses(args)?;
    if trusted.is_empty() {
        return Ok(());
    }
    let quorum = args.witness_quorum.map_or(trusted.len(), |q| q as usize);
    let mut cosigned = 0;
    for (w, found) in check_cosignatures(note, &trusted).context("the checkpoint")? {
        match found {
            Ok(time) => {
                cosigned += 1;
                let when = time::OffsetDateTime::from_unix_timestamp(time as i64)
                    .ok()
                    .and_then(|t| {
                        t.format(&time::format_description::well_known::Rfc3339)
                            .ok()
                    })
                    .unwrap_or_else(|| time.to_string());
                eprintln!("witness {}: cosigned at {when}", w.name());
            }
            Err(NoteError::NotSigned) => eprintln!("witness {}: no cosignature", w.name()),
            Err(e) => eprintln!("witness {}: its cosignature is invalid: {e}", w.name()),
        }
    }
    if cosigned < quorum {
        bail!(
            "the checkpoint is cosigned by {cosigned} of the trusted witnesses, {quorum} required \
             (witnesses cosign checkpoints as they see them: a newer one may not be cosigned yet)"
        );
    }
    Ok(())
}

pub async fn verify(args: VerifyArgs) -> anyhow::Result<()> {
    // Of a file of several keys (GET /v1/log/key during a rotation), the first: the active one.
    let vkey = keys_in(&args.key).into_iter().next().unwrap_or_default();
    let verifier = NoteVerifier::parse(&vkey).context("--key")?;
    let tenant = verifier
        .name()
        .rsplit('/')
        .next()
        .and_then(|t| Tenant::new(t).ok())
        .with_context(|| format!("the key name {} does not end in a tenant", verifier.name()))?;
    if let Some(url) = &args.url {
        return online(&args, url, &verifier).await;
    }
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
    check_witnesses(&args, &note)?;
    let mut audit = Audit::new(cp.clone(), leaves)?;
    let export = args.export.as_ref().context("--export")?;
    let mut rows = Rows::open(export)?;
    audit_rows(&mut rows, &tenant, &mut audit)?;
    let report = audit.finish();
    if report.beyond > 0 {
        eprintln!(
            "note: {} rows are newer than the checkpoint and not covered by it",
            report.beyond
        );
    }
    if report.pruned > 0 {
        eprintln!(
            "note: uniqueQualifiers 1 to {} are not in the export: pruned by retention (their \
             leaves stay in the log; compare with your retention policy)",
            report.pruned
        );
    }
    crate::erase::print_erased(&report);
    if report.ok() {
        eprintln!(
            "verified: tenant {tenant}: uniqueQualifiers {} to {} match the checkpoint's root",
            report.pruned + 1,
            cp.size
        );
        return Ok(());
    }
    if report.found == 0 {
        bail!(
            "tenant {tenant}: the first {} activities were pruned, so the tree cannot be rebuilt \
             from the rows: give --log (from `authtrail export --log`) to check the rest",
            report.pruned
        );
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

/// Lines read at a time: decoded and hashed on every core, then audited in file order.
const CHUNK_LINES: usize = 4096;

/// One decoded line: what the audit needs of it and its leaf hash if it is the audited tenant's,
/// `None` if not.
type Hashed = anyhow::Result<Option<(RowFacts, Hash)>>;

/// Feeds every row of `tenant` to the audit, in file order. Decoding a row and computing its
/// leaf (the canonical encoding and its hash) are nearly all of verify's work and independent
/// per row, so each chunk of lines is split among the machine's cores while a thread of its own
/// reads the next chunk; the audit itself (order, gaps, the tree) stays sequential. A row is
/// dropped by the core that decoded it (freeing it on another thread costs the allocator more
/// than decoding it).
fn audit_rows(rows: &mut Rows, tenant: &Tenant, audit: &mut Audit) -> anyhow::Result<()> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    std::thread::scope(|s| {
        let (tx, chunks) = std::sync::mpsc::sync_channel(1);
        s.spawn(move || {
            loop {
                let chunk = rows.next_lines(CHUNK_LINES);
                let last = !matches!(&chunk, Ok(c) if !c.lines.is_empty());
                // A closed channel: the audit stopped on an error.
                if tx.send(chunk).is_err() || last {
                    return;
                }
            }
        });
        for chunk in chunks {
            let chunk = chunk?;
            let part = chunk.lines.len().div_ceil(cores).max(1);
            let decoded: Vec<Vec<Hashed>> = std::thread::scope(|w| {
                let workers: Vec<_> = chunk
                    .lines
                    .chunks(part)
                    .map(|lines| {
                        let bytes = &chunk.bytes;
                        w.spawn(move || {
                            lines
                                .iter()
                                .map(|(no, at)| {
                                    let a = decode_row(*no, &bytes[at.clone()])?;
                                    Ok((a.tenant == *tenant).then(|| {
                                        (RowFacts::of(&a), authtrail_service::log::leaf(&a))
                                    }))
                                })
                                .collect()
                        })
                    })
                    .collect();
                workers
                    .into_iter()
                    .map(|w| w.join().expect("a verify worker panicked"))
                    .collect()
            });
            for r in decoded.into_iter().flatten() {
                if let Some((f, h)) = r? {
                    audit.row_with_leaf(f, h);
                }
            }
        }
        Ok(())
    })
}

/// `verify --url`: the server's current checkpoint is signed and consistent with the one the
/// user saved (if given), and a random sample of activities is in it, with the content the
/// server's entry bundles hold.
async fn online(args: &VerifyArgs, url: &str, verifier: &NoteVerifier) -> anyhow::Result<()> {
    use authtrail_integrity::proof::{verify_consistency, verify_inclusion};
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD as B64;

    let token = args
        .token
        .as_deref()
        .context("--url needs --token (or AUTHTRAIL_TOKEN)")?;
    let base = url.trim_end_matches('/');
    let http = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(60))
        .build()?;
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
    let note = String::from_utf8(get("/v1/log/checkpoint".into()).await?)?;
    let now = Checkpoint::open(&note, verifier).context("the server's checkpoint")?;
    eprintln!(
        "checkpoint of {}: {} activities, signature ok",
        now.origin, now.size
    );
    check_witnesses(args, &note)?;
    let b64 = |v: &serde_json::Value| -> anyhow::Result<Vec<Vec<u8>>> {
        v.as_array()
            .context("hashes")?
            .iter()
            .map(|h| Ok(B64.decode(h.as_str().context("hash")?)?))
            .collect()
    };
    if let Some(p) = &args.checkpoint {
        let saved =
            std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?;
        let saved = Checkpoint::open(&saved, verifier).context("the saved checkpoint")?;
        if saved.size > now.size {
            bail!(
                "the log shrank: the saved checkpoint has {} activities, the server's {}",
                saved.size,
                now.size
            );
        }
        let hashes = if saved.size == 0 || saved.size == now.size {
            Vec::new()
        } else {
            let body = get(format!(
                "/v1/log/proof/consistency?old={}&size={}",
                saved.size, now.size
            ))
            .await?;
            b64(&serde_json::from_slice::<serde_json::Value>(&body)?["hashes"])?
        };
        if saved.size > 0 {
            verify_consistency(saved.size, now.size, &hashes, &saved.root, &now.root).map_err(|e| {
                anyhow::anyhow!("the server's log is not an extension of the saved checkpoint ({e}): it was rewritten")
            })?;
        }
        eprintln!(
            "consistent with the saved checkpoint of {} activities",
            saved.size
        );
    }
    let mut bad = 0;
    let n = if now.size == 0 { 0 } else { args.sample };
    for _ in 0..n {
        let index = rand::random::<u64>() % now.size;
        let body = get(format!(
            "/v1/log/proof/inclusion?index={index}&size={}",
            now.size
        ))
        .await?;
        let proof: serde_json::Value = serde_json::from_slice(&body)?;
        let leaf = B64.decode(proof["leafHash"].as_str().context("leafHash")?)?;
        let hashes = b64(&proof["hashes"])?;
        let tile = authtrail_integrity::tiles::Tile {
            level: None,
            index: index / 256,
            width: (now.size - index / 256 * 256).min(256),
        };
        let entry = match get(format!("/v1/log/tile/{}", tile.path())).await {
            Ok(bundle) => nth_entry(&bundle, (index % 256) as usize),
            // Removed by retention: its hash is still proven, its content cannot be.
            Err(_) => None,
        };
        let content_ok = entry
            .as_ref()
            .is_none_or(|e| authtrail_integrity::leaf_hash(e)[..] == leaf[..]);
        // Content that differs may be a per-subject erasure: accepted on a proven record.
        let erased = match (&entry, content_ok) {
            (Some(e), false) => {
                crate::erase::erased_online(&http, base, token, e, index, &now).await
            }
            _ => Ok(None),
        };
        match (
            verify_inclusion(&leaf, index, now.size, &hashes, &now.root),
            erased,
        ) {
            (Ok(()), _) if content_ok => {}
            (Ok(()), Ok(Some(by))) => eprintln!(
                "uniqueQualifier {}: erased by {by} (its record is proven)",
                index + 1
            ),
            (Ok(()), Err(e)) => {
                bad += 1;
                eprintln!("uniqueQualifier {}: {e}", index + 1);
            }
            (Ok(()), Ok(None)) => {
                bad += 1;
                eprintln!(
                    "uniqueQualifier {}: the served content does not match the log",
                    index + 1
                );
            }
            (Err(e), _) => {
                bad += 1;
                eprintln!(
                    "uniqueQualifier {}: the inclusion proof fails: {e}",
                    index + 1
                );
            }
        }
    }
    if bad > 0 {
        bail!("{bad} of {n} sampled activities failed");
    }
    eprintln!("verified: {n} sampled activities are in the checkpoint, with their content");
    Ok(())
}

/// The `i`-th entry of a tlog-tiles entry bundle (u16 big-endian length, then the bytes).
pub(crate) fn nth_entry(bundle: &[u8], i: usize) -> Option<Vec<u8>> {
    let mut rest = bundle;
    for k in 0.. {
        let (len, tail) = rest.split_at_checked(2)?;
        let n = u16::from_be_bytes([len[0], len[1]]) as usize;
        let (entry, tail) = tail.split_at_checked(n)?;
        if k == i {
            return Some(entry.to_vec());
        }
        rest = tail;
    }
    None
}
