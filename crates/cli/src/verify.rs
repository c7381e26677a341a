//! Reading an export file row by row (plain or zstd NDJSON), and `authtrail verify-export FILE`
//! (and `import --verify`): the file's per-tenant digests compared with the store's. Rows,
//! canonical bytes and digests are `authtrail_service::export`.

use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::{Context, bail};
use authtrail_formats::export::{Digests, Row};
use authtrail_model::Activity;
use authtrail_service::Service;

use crate::StoreArgs;
use crate::client::service;

/// Longest line read from an export (a row is far smaller: request bodies are capped at 16 MiB).
pub const MAX_LINE_BYTES: usize = 32 * 1024 * 1024;

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
    reader: Box<dyn BufRead + Send>,
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
        let reader: Box<dyn BufRead + Send> = if n == 4 && magic == ZSTD_MAGIC {
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
        let mut line = std::mem::take(&mut self.line);
        line.clear();
        let next = self.read_line(&mut line);
        let row = match next {
            Ok(Some((no, _))) => decode_row(no, &line).map(Some),
            Ok(None) => Ok(None),
            Err(e) => Err(e),
        };
        self.line = line;
        row
    }

    /// Appends the next line that is not blank to `buf`; its number and where it is in `buf`, or
    /// `None` at the end of the file.
    fn read_line(&mut self, buf: &mut Vec<u8>) -> anyhow::Result<Option<(usize, Range<usize>)>> {
        loop {
            let start = buf.len();
            let n =
                Read::take(&mut self.reader, MAX_LINE_BYTES as u64 + 1).read_until(b'\n', buf)?;
            if n == 0 {
                return Ok(None);
            }
            self.line_no += 1;
            let no = self.line_no;
            if n > MAX_LINE_BYTES {
                bail!("line {no} is longer than {MAX_LINE_BYTES} bytes");
            }
            if !buf[start..].iter().all(u8::is_ascii_whitespace) {
                return Ok(Some((no, start..buf.len())));
            }
            buf.truncate(start);
        }
    }

    /// Up to `n` lines that are not blank, as read (not yet decoded), in one buffer.
    pub fn next_lines(&mut self, n: usize) -> anyhow::Result<Chunk> {
        let mut chunk = Chunk {
            bytes: Vec::with_capacity(n * 1024),
            lines: Vec::with_capacity(n),
        };
        while chunk.lines.len() < n {
            match self.read_line(&mut chunk.bytes)? {
                Some(line) => chunk.lines.push(line),
                None => break,
            }
        }
        Ok(chunk)
    }
}

/// Lines of an export read at once: their bytes end to end (one allocation, not one a line), and
/// each line's number and place in them.
pub struct Chunk {
    pub bytes: Vec<u8>,
    pub lines: Vec<(usize, Range<usize>)>,
}

/// Line `no` of an export, decoded.
pub fn decode_row(no: usize, line: &[u8]) -> anyhow::Result<Activity> {
    let row = Row::decode(line).with_context(|| format!("line {no} is not an export row"))?;
    row.into_activity()
        .map_err(|e| anyhow::anyhow!("line {no}: {e}"))
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
            .map_err(|e| anyhow::anyhow!("line {}: {e}", rows.line_no))?;
    }
    Ok(out)
}

#[derive(clap::Args)]
pub struct Args {
    /// The export file (plain or zstd NDJSON).
    file: PathBuf,
    #[command(flatten)]
    store: StoreArgs,
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let service = service(&args.store).await?;
    let expected = digest_file(&args.file)?;
    compare(&service, &expected).await
}

/// Compares a store with an export's digests, tenant by tenant; prints one line per tenant and
/// fails if any differs.
pub async fn compare(service: &Service, expected: &Digests) -> anyhow::Result<()> {
    let v = service.verify(expected).await?;
    for (tenant, want, got) in &v.tenants {
        eprintln!(
            "{} tenant {tenant}: file {} activities (#{}..#{}) sha256 {}; store {} activities (#{}..#{}) sha256 {}",
            if got.same(want) { "ok  " } else { "DIFF" },
            want.count,
            want.first,
            want.last,
            want.hex(),
            got.count,
            got.first,
            got.last,
            got.hex()
        );
    }
    if !v.others.is_empty() {
        let others: Vec<String> = v.others.iter().map(|t| t.to_string()).collect();
        eprintln!(
            "note: the store also holds tenants that are not in the export: {}",
            others.join(", ")
        );
    }
    let bad = v.differing();
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
