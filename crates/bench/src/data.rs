//! The benchmark's data: the demo workload (`authtrail-workload`), generated once and fed to every
//! engine and baseline in the same order, so that every figure of a run is about the same events.
//!
//! The events are spooled to two files beside the run (the Google JSON a producer POSTs, and the
//! row Logto would write; about 950 bytes per event) rather than held in memory: ten million of
//! them took about 15 GB of the bench's heap, which left the engines under test too little page
//! cache (the first `--10m` attempt slowed to a crawl at 7.8 million events). A contender reads
//! each batch back with one positioned read, which costs microseconds beside the milliseconds a
//! batch takes to store.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::ops::Range;
use std::os::unix::fs::FileExt;
use std::path::Path;

use anyhow::Context;
use serde_json::{Map, Value, json};

use authtrail_workload::Generator;

/// One generated activity, in each shape a contender needs (kept for the query samples).
pub struct Event {
    /// The Google-shaped JSON a producer POSTs to authtrail.
    pub json: String,
    pub time_us: i64,
    pub name: String,
    pub email: String,
    pub ip: String,
    /// The `login_type` parameter, when the event has one (Google `filters` queries).
    pub login_type: Option<String>,
    /// Logto's row: a 21-character nanoid, the key, and the jsonb payload Logto would write.
    pub logto_id: String,
    pub logto_payload: String,
}

/// One row of Logto's `logs` table.
pub struct LogtoRow {
    pub id: String,
    pub key: String,
    pub payload: String,
    pub time_us: i64,
}

/// The sample sizes a run draws query parameters with ([`Dataset::sample`]).
const SAMPLE_SIZES: [usize; 2] = [16, 64];

pub struct Dataset {
    /// Event `i`'s JSON followed by a comma, so that a run of events is a JSON array's inside.
    json: Spool,
    /// Event `i`'s Logto row: id, key, time and payload, tab-separated, ending in a newline (JSON
    /// text escapes both, so neither occurs inside a field).
    logto: Spool,
    samples: BTreeMap<usize, Event>,
    /// Mean bytes of JSON per event.
    pub mean_json_len: f64,
    /// Where the spools are; removed with the data set.
    _dir: tempfile::TempDir,
}

/// Logto's nanoid alphabet for log ids: lowercase letters and digits, 21 characters.
fn nanoid(rng: &mut impl rand::RngExt) -> String {
    const ALPHABET: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    (0..21)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect()
}

/// A parameter's value as Logto keeps it in `payload.params` (plain JSON).
fn param_value(p: &Value) -> Value {
    for k in [
        "value",
        "boolValue",
        "multiValue",
        "multiIntValue",
        "messageValue",
    ] {
        if let Some(v) = p.get(k) {
            return v.clone();
        }
    }
    p.get("intValue").cloned().unwrap_or(Value::Null)
}

/// The payload Logto's audit middleware would store for this activity (see the Logto reference,
/// §1.3): key, result, ip, userAgent, userId, applicationId, sessionId, params, error.
fn logto_payload(a: &Value, name: &str, email: &str) -> Value {
    let mut p = Map::new();
    p.insert("key".into(), json!(name));
    let ok = a.get("result").and_then(Value::as_str) != Some("failure");
    p.insert("result".into(), json!(if ok { "Success" } else { "Error" }));
    p.insert("ip".into(), a["ipAddress"].clone());
    if let Some(ua) = a.get("userAgent") {
        p.insert("userAgent".into(), ua.clone());
    }
    p.insert("userId".into(), json!(email));
    if let Some(app) = a.get("clientApplicationId") {
        p.insert("applicationId".into(), app.clone());
    }
    if let Some(s) = a.get("sessionId") {
        p.insert("sessionId".into(), s.clone());
    }
    let mut params = Map::new();
    if let Some(list) = a["events"][0]["parameters"].as_array() {
        for q in list {
            if let Some(n) = q["name"].as_str() {
                params.insert(n.to_string(), param_value(q));
            }
        }
    }
    p.insert("params".into(), Value::Object(params));
    if let Some(e) = a.get("error") {
        p.insert("error".into(), e.clone());
    }
    Value::Object(p)
}

/// One activity of the generator in every shape.
fn event(a: &Value, now_us: i64, ids: &mut impl rand::RngExt) -> Event {
    let time = a["id"]["time"].as_str().unwrap_or_default();
    let time_us = authtrail_model::wire_time::parse_rfc3339(time).unwrap_or(now_us);
    let name = a["events"][0]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let email = a["actor"]["email"]
        .as_str()
        .unwrap_or_default()
        .to_lowercase();
    let login_type = a["events"][0]["parameters"]
        .as_array()
        .and_then(|ps| ps.iter().find(|p| p["name"] == "login_type"))
        .and_then(|p| p["value"].as_str())
        .map(str::to_string);
    Event {
        json: a.to_string(),
        time_us,
        ip: a["ipAddress"].as_str().unwrap_or_default().to_string(),
        login_type,
        logto_id: nanoid(ids),
        logto_payload: logto_payload(a, &name, &email).to_string(),
        name,
        email,
    }
}

impl Dataset {
    /// `n` activities over the `days` before `now_us`, from `seed`, spooled into a temporary
    /// directory that lives as long as the data set.
    pub fn generate(n: u64, seed: u64, now_us: i64, days: u32) -> anyhow::Result<Dataset> {
        use rand::SeedableRng;
        let dir = tempfile::Builder::new()
            .prefix("authtrail-bench-data-")
            .tempdir()?;
        let mut ids = rand::rngs::StdRng::seed_from_u64(seed ^ 0x5eed);
        let mut json = SpoolWriter::create(&dir.path().join("events.json"))?;
        let mut logto = SpoolWriter::create(&dir.path().join("logto.tsv"))?;
        let sampled: BTreeSet<usize> = SAMPLE_SIZES
            .iter()
            .flat_map(|&k| sample_indices(n as usize, k))
            .collect();
        let mut samples = BTreeMap::new();
        let mut json_bytes = 0usize;
        for (i, a) in Generator::new(seed, n, now_us, days).enumerate() {
            let e = event(&a, now_us, &mut ids);
            json_bytes += e.json.len();
            json.push(&[e.json.as_bytes(), b","])?;
            let time = e.time_us.to_string();
            logto.push(&[
                e.logto_id.as_bytes(),
                b"\t",
                e.name.as_bytes(),
                b"\t",
                time.as_bytes(),
                b"\t",
                e.logto_payload.as_bytes(),
                b"\n",
            ])?;
            if sampled.contains(&i) {
                samples.insert(i, e);
            }
        }
        Ok(Dataset {
            mean_json_len: json_bytes as f64 / n.max(1) as f64,
            json: json.finish()?,
            logto: logto.finish()?,
            samples,
            _dir: dir,
        })
    }

    /// How many events the data set holds.
    pub fn len(&self) -> usize {
        self.json.len()
    }

    /// The request body of a batch: a JSON array of the events in `range`.
    pub fn body(&self, range: Range<usize>) -> anyhow::Result<bytes::Bytes> {
        let mut s = self.json.read(range, 1)?;
        s[0] = b'[';
        // The last event's separating comma becomes the closing bracket.
        if s.len() > 1 {
            let last = s.len() - 1;
            s[last] = b']';
        } else {
            s.push(b']');
        }
        Ok(bytes::Bytes::from(s))
    }

    /// The JSON of each event in `range`, one string per event.
    pub fn json_items(&self, range: Range<usize>) -> anyhow::Result<Vec<String>> {
        self.json.records(range, |r| {
            Ok(std::str::from_utf8(&r[..r.len() - 1])?.to_string())
        })
    }

    /// Logto's row for each event in `range`.
    pub fn logto_rows(&self, range: Range<usize>) -> anyhow::Result<Vec<LogtoRow>> {
        self.logto.records(range, |r| {
            let line = std::str::from_utf8(&r[..r.len() - 1])?;
            let mut f = line.splitn(4, '\t');
            let mut next = || f.next().context("short Logto row in the spool");
            let (id, key, time, payload) = (next()?, next()?, next()?, next()?);
            Ok(LogtoRow {
                id: id.to_string(),
                key: key.to_string(),
                time_us: time.parse()?,
                payload: payload.to_string(),
            })
        })
    }

    /// `k` events spread evenly over the data set: query parameters drawn from them follow the
    /// data's own skew (busy users and common events come up more often, as in real use).
    pub fn sample(&self, k: usize) -> Vec<&Event> {
        assert!(
            SAMPLE_SIZES.contains(&k),
            "the data set keeps samples of {SAMPLE_SIZES:?} events, not {k}"
        );
        sample_indices(self.len(), k)
            .into_iter()
            .map(|i| &self.samples[&i])
            .collect()
    }
}

/// `range` cut into runs of `batch` events: the batches a contender sends or stores.
pub fn batches(range: Range<usize>, batch: usize) -> Vec<Range<usize>> {
    let end = range.end;
    range
        .step_by(batch)
        .map(|s| s..(s + batch).min(end))
        .collect()
}

/// The indices of `k` events spread evenly over `n`.
fn sample_indices(n: usize, k: usize) -> Vec<usize> {
    let step = (n / k.max(1)).max(1);
    (0..n).step_by(step).take(k).collect()
}

/// Records appended to a file, and where each one starts.
struct SpoolWriter {
    out: BufWriter<File>,
    file: File,
    offsets: Vec<u64>,
}

impl SpoolWriter {
    fn create(path: &Path) -> anyhow::Result<SpoolWriter> {
        let file = File::options()
            .create(true)
            .truncate(true)
            .read(true)
            .write(true)
            .open(path)
            .with_context(|| format!("creating {}", path.display()))?;
        Ok(SpoolWriter {
            out: BufWriter::with_capacity(1 << 20, file.try_clone()?),
            file,
            offsets: vec![0],
        })
    }

    fn push(&mut self, parts: &[&[u8]]) -> anyhow::Result<()> {
        let mut end = *self.offsets.last().unwrap_or(&0);
        for p in parts {
            self.out.write_all(p)?;
            end += p.len() as u64;
        }
        self.offsets.push(end);
        Ok(())
    }

    fn finish(mut self) -> anyhow::Result<Spool> {
        self.out.flush()?;
        Ok(Spool {
            file: self.file,
            offsets: self.offsets,
        })
    }
}

/// A finished spool: reads runs of records back with one positioned read.
struct Spool {
    file: File,
    /// `offsets[i]..offsets[i + 1]` is record `i`.
    offsets: Vec<u64>,
}

impl Spool {
    fn len(&self) -> usize {
        self.offsets.len() - 1
    }

    /// The bytes of the records in `range`, after `lead` bytes left for the caller.
    fn read(&self, range: Range<usize>, lead: usize) -> anyhow::Result<Vec<u8>> {
        let (from, to) = (self.offsets[range.start], self.offsets[range.end]);
        let mut buf = vec![0; lead + (to - from) as usize];
        self.file.read_exact_at(&mut buf[lead..], from)?;
        Ok(buf)
    }

    /// Each record of `range`, through `f`.
    fn records<T>(
        &self,
        range: Range<usize>,
        f: impl Fn(&[u8]) -> anyhow::Result<T>,
    ) -> anyhow::Result<Vec<T>> {
        let base = self.offsets[range.start];
        let buf = self.read(range.clone(), 0)?;
        range
            .map(|i| {
                let (a, b) = (self.offsets[i] - base, self.offsets[i + 1] - base);
                f(&buf[a as usize..b as usize])
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spooled_events_read_back_as_generated() {
        let data = Dataset::generate(50, 7, 1_700_000_000_000_000, 1).unwrap();
        assert_eq!(data.len(), 50);
        let items = data.json_items(0..50).unwrap();
        // A body is a JSON array of exactly the range's events, in order.
        let body: Vec<Value> = serde_json::from_slice(&data.body(10..13).unwrap()).unwrap();
        let expected: Vec<Value> = items[10..13]
            .iter()
            .map(|j| serde_json::from_str(j).unwrap())
            .collect();
        assert_eq!(body, expected);
        assert_eq!(&data.body(5..5).unwrap()[..], b"[]");
        // Logto's rows carry the same event: its key and its time.
        let rows = data.logto_rows(0..50).unwrap();
        for (row, json) in rows.iter().zip(&items) {
            let v: Value = serde_json::from_str(json).unwrap();
            assert_eq!(row.key, v["events"][0]["name"]);
            assert_eq!(row.id.len(), 21);
            let payload: Value = serde_json::from_str(&row.payload).unwrap();
            assert_eq!(payload["key"], v["events"][0]["name"]);
        }
        // Samples are the events at their positions.
        for (k, e) in data.sample(16).iter().enumerate() {
            assert_eq!(e.json, items[k * 3]);
            assert_eq!(e.logto_id, rows[k * 3].id);
        }
    }
}
