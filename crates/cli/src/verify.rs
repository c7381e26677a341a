//! Reading an export file and proving an import complete: `authtrail verify-export FILE` (and
//! `import --verify`). The row, its canonical bytes and the per-tenant digests are defined once,
//! in `authtrail_formats::export`; this module reads files and stores.

use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::{Context, bail};
use authtrail_formats::export::Row;
pub use authtrail_formats::export::{Digests, TenantDigest};
use authtrail_model::{Activity, Store, Tenant};

use crate::StoreArgs;

/// Longest line read from an export (a row is far smaller: request bodies are capped at 16 MiB).
pub const MAX_LINE_BYTES: usize = 32 * 1024 * 1024;

/// Activities read per `Store::tail` call.
pub const PAGE: usize = 1000;

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
            let row = Row::decode(&self.line)
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
