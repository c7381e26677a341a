//! The export format's rows, their canonical bytes, and the per-tenant digests that prove an
//! import complete: `authtrail verify-export FILE` (and `import --verify`).
//!
//! A tenant's digest is the SHA-256 of its canonical rows in ascending `uniqueQualifier` order,
//! each followed by a newline. A row holds everything a store keeps about an activity (tenant,
//! uniqueQualifier, event and receive times, application, the whole body with its eventId), and
//! its JSON objects have their keys sorted, so that the same activity gives the same bytes from
//! either engine (PostgreSQL's jsonb does not keep key order). Equal counts and equal digests mean
//! that every activity arrived, with identical content and the same sequence numbers.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::{Context, bail};
use authtrail_model::store::prelude::*;
use authtrail_model::{Activity, ActivityBody, Tenant};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest as _, Sha256};

use crate::StoreArgs;

/// Longest line read from an export (a row is far smaller: request bodies are capped at 16 MiB).
pub const MAX_LINE_BYTES: usize = 32 * 1024 * 1024;

/// Activities read per `Store::tail` call.
pub const PAGE: usize = 1000;

/// One line of an export.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Row {
    pub tenant: Tenant,
    pub unique_qualifier: i64,
    pub time_us: i64,
    pub received_us: i64,
    pub application: String,
    pub body: ActivityBody,
}

impl Row {
    pub fn of(a: &Activity) -> Row {
        Row {
            tenant: a.tenant.clone(),
            unique_qualifier: a.unique_qualifier,
            time_us: a.time_us,
            received_us: a.received_us,
            application: a.application.clone(),
            body: a.body.clone(),
        }
    }

    /// Checks what serde cannot (the tenant's shape) and makes the activity.
    pub fn into_activity(self) -> anyhow::Result<Activity> {
        let tenant = Tenant::new(self.tenant.as_str()).map_err(anyhow::Error::msg)?;
        if self.unique_qualifier < 1 {
            bail!("uniqueQualifier {} is not positive", self.unique_qualifier);
        }
        Ok(Activity {
            tenant,
            unique_qualifier: self.unique_qualifier,
            time_us: self.time_us,
            received_us: self.received_us,
            application: self.application,
            body: self.body,
        })
    }
}

/// The canonical bytes of an activity: its row as JSON with every object's keys sorted.
pub fn canonical(a: &Activity) -> anyhow::Result<Vec<u8>> {
    let v = serde_json::to_value(Row::of(a))?;
    Ok(serde_json::to_vec(&sorted(v))?)
}

fn sorted(v: Value) -> Value {
    match v {
        Value::Object(m) => {
            let mut entries: Vec<(String, Value)> = m.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(entries.into_iter().map(|(k, v)| (k, sorted(v))).collect())
        }
        Value::Array(a) => Value::Array(a.into_iter().map(sorted).collect()),
        other => other,
    }
}

/// What one tenant's activities add up to.
#[derive(Clone)]
pub struct TenantDigest {
    pub count: u64,
    pub first: i64,
    pub last: i64,
    hash: Sha256,
}

impl Default for TenantDigest {
    fn default() -> TenantDigest {
        TenantDigest {
            count: 0,
            first: 0,
            last: 0,
            hash: Sha256::new(),
        }
    }
}

impl TenantDigest {
    /// Adds the next activity; they must come in ascending uniqueQualifier order.
    pub fn add(&mut self, a: &Activity) -> anyhow::Result<()> {
        if self.count > 0 && a.unique_qualifier <= self.last {
            bail!(
                "tenant {}: uniqueQualifier {} follows {}; rows must ascend",
                a.tenant,
                a.unique_qualifier,
                self.last
            );
        }
        if self.count == 0 {
            self.first = a.unique_qualifier;
        }
        self.count += 1;
        self.last = a.unique_qualifier;
        self.hash.update(canonical(a)?);
        self.hash.update(b"\n");
        Ok(())
    }

    pub fn hex(&self) -> String {
        hex::encode(self.hash.clone().finalize())
    }

    /// Same activities, same sequence, same content.
    pub fn same(&self, other: &TenantDigest) -> bool {
        (self.count, self.first, self.last, self.hex())
            == (other.count, other.first, other.last, other.hex())
    }
}

pub type Digests = BTreeMap<Tenant, TenantDigest>;

/// Counts the bytes read from the file (below the decompressor), for the progress bar.
struct Counting<R> {
    inner: R,
    read: Arc<AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// An export being read row by row (plain NDJSON, or zstd-compressed: recognised by its magic
/// number, whatever the file is called).
pub struct Rows {
    reader: Box<dyn BufRead>,
    line: Vec<u8>,
    /// The 1-based number of the line last read.
    pub line_no: usize,
    /// Bytes of the file read so far.
    pub bytes_read: Arc<AtomicU64>,
    /// The file's size in bytes.
    pub size: u64,
}

impl Rows {
    pub fn open(path: &Path) -> anyhow::Result<Rows> {
        let mut f =
            std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
        let size = f.metadata().map(|m| m.len()).unwrap_or(0);
        let mut magic = [0u8; 4];
        let n = f.read(&mut magic)?;
        f.seek(SeekFrom::Start(0))?;
        let bytes_read = Arc::new(AtomicU64::new(0));
        let counted = Counting {
            inner: f,
            read: bytes_read.clone(),
        };
        let reader: Box<dyn BufRead> = if n == 4 && magic == ZSTD_MAGIC {
            Box::new(BufReader::new(zstd::Decoder::new(counted)?))
        } else {
            Box::new(BufReader::new(counted))
        };
        Ok(Rows {
            reader,
            line: Vec::new(),
            line_no: 0,
            bytes_read,
            size,
        })
    }

    /// The next activity, or `None` at the end of the file.
    pub fn next_row(&mut self) -> anyhow::Result<Option<Activity>> {
        loop {
            self.line.clear();
            let n = Read::take(&mut self.reader, MAX_LINE_BYTES as u64 + 1)
                .read_until(b'\n', &mut self.line)?;
            if n == 0 {
                return Ok(None);
            }
            self.line_no += 1;
            let no = self.line_no;
            if self.line.len() > MAX_LINE_BYTES {
                bail!("line {no} is longer than {MAX_LINE_BYTES} bytes");
            }
            if self.line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            let row: Row = serde_json::from_slice(&self.line)
                .with_context(|| format!("line {no} is not an export row"))?;
            return row
                .into_activity()
                .map(Some)
                .with_context(|| format!("line {no}"));
        }
    }
}

/// zstd's frame magic number.
pub const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];

/// The digests of an export file.
pub fn digest_file(path: &Path) -> anyhow::Result<Digests> {
    let mut rows = Rows::open(path)?;
    let mut out = Digests::new();
    while let Some(a) = rows.next_row()? {
        out.entry(a.tenant.clone())
            .or_default()
            .add(&a)
            .with_context(|| format!("line {}", rows.line_no))?;
    }
    Ok(out)
}

/// The digest of one tenant's activities in a store, read through `Store::tail`.
pub async fn digest_store(store: &dyn Store, tenant: &Tenant) -> anyhow::Result<TenantDigest> {
    let mut d = TenantDigest::default();
    let mut after = 0;
    loop {
        let page = store.tail(tenant, after, PAGE).await?;
        for a in &page {
            d.add(a)?;
        }
        match page.last() {
            Some(a) if page.len() == PAGE => after = a.unique_qualifier,
            _ => return Ok(d),
        }
    }
}

#[derive(clap::Args)]
pub struct Args {
    /// The export file (plain or zstd NDJSON).
    file: PathBuf,
    #[command(flatten)]
    store: StoreArgs,
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let store = args.store.open().await?;
    let expected = digest_file(&args.file)?;
    compare(&*store, &expected).await
}

/// Compares a store with an export's digests, tenant by tenant; prints one line per tenant and
/// fails if any differs.
pub async fn compare(store: &dyn Store, expected: &Digests) -> anyhow::Result<()> {
    let mut bad = 0;
    for (tenant, want) in expected {
        let got = digest_store(store, tenant).await?;
        let ok = got.same(want);
        eprintln!(
            "{} tenant {tenant}: file {} activities (#{}..#{}) sha256 {}; store {} activities (#{}..#{}) sha256 {}",
            if ok { "ok  " } else { "DIFF" },
            want.count,
            want.first,
            want.last,
            want.hex(),
            got.count,
            got.first,
            got.last,
            got.hex()
        );
        bad += usize::from(!ok);
    }
    let others: Vec<String> = store
        .tenants()
        .await?
        .into_iter()
        .filter(|t| !expected.contains_key(t))
        .map(|t| t.to_string())
        .collect();
    if !others.is_empty() {
        eprintln!(
            "note: the store also holds tenants that are not in the export: {}",
            others.join(", ")
        );
    }
    if bad > 0 {
        bail!("{bad} of {} tenants differ from the export", expected.len());
    }
    let total: u64 = expected.values().map(|d| d.count).sum();
    eprintln!(
        "verified: {total} activities in {} tenants, identical content and sequence",
        expected.len()
    );
    Ok(())
}
