//! Reads the Parquet tables and computes the report's numbers.
//!
//! Every number is defined so that one SQL query over the same files gives it (the tests
//! check them with DuckDB): "latest" means the row with the greatest `(timestamp,
//! event_id)` of a peer within the window, and the window is `from <= timestamp <= to`
//! (unix ms, inclusive).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use arrow::array::{
    Array, AsArray, BooleanArray, Float32Array, Int64Array, ListArray, StringArray,
    TimestampMillisecondArray,
};
use arrow::datatypes::{DataType, Int64Type, UInt64Type, UInt8Type};
use arrow::record_batch::RecordBatch;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use serde::Serialize;

/// A failure to read the tables.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// The data directory has no table.
    #[error("{0}: no Parquet tables here (run `valtrack run` or `valtrack consumer` with --data-dir first)")]
    NoTables(PathBuf),
    /// A file could not be read.
    #[error("{path}: {message}")]
    File {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// Writing the report failed.
    #[error("{path}: {source}")]
    Write {
        /// The output path.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
}

/// The window of event timestamps a report covers, unix ms inclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// First timestamp included.
    pub from: i64,
    /// Last timestamp included.
    pub to: i64,
}

impl Default for Window {
    fn default() -> Self {
        Self {
            from: i64::MIN,
            to: i64::MAX,
        }
    }
}

/// Published Parquet files of `table` under `dir` (hidden temporaries and journals skipped),
/// sorted by path.
pub fn table_files(dir: &Path, table: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.join(table)];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let path = entry.path();
            let hidden = entry.file_name().to_string_lossy().starts_with('.');
            if path.is_dir() && !hidden {
                stack.push(path);
            } else if !hidden && path.extension().is_some_and(|e| e == "parquet") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// Rows read, for progress lines.
pub type Progress<'a> = &'a mut dyn FnMut(&str, u64);

/// One table's batches, every file in `dir/table`, read one batch at a time (memory stays
/// one batch, however large the table).
fn read_table<'a>(dir: &Path, table: &'a str, progress: Progress<'a>) -> TableReader<'a> {
    TableReader {
        files: table_files(dir, table).into_iter(),
        current: None,
        table,
        rows: 0,
        progress,
    }
}

struct TableReader<'a> {
    files: std::vec::IntoIter<PathBuf>,
    current: Option<(
        PathBuf,
        parquet::arrow::arrow_reader::ParquetRecordBatchReader,
    )>,
    table: &'a str,
    rows: u64,
    progress: Progress<'a>,
}

impl Iterator for TableReader<'_> {
    type Item = Result<RecordBatch, ReportError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some((path, reader)) = &mut self.current {
                match reader.next() {
                    Some(Ok(batch)) => {
                        self.rows += batch.num_rows() as u64;
                        (self.progress)(self.table, self.rows);
                        return Some(Ok(batch));
                    }
                    Some(Err(e)) => {
                        let path = path.clone();
                        self.current = None;
                        return Some(Err(ReportError::File {
                            path,
                            message: e.to_string(),
                        }));
                    }
                    None => self.current = None,
                }
            }
            let path = self.files.next()?;
            let opened = std::fs::File::open(&path)
                .map_err(|e| e.to_string())
                .and_then(|file| {
                    ParquetRecordBatchReaderBuilder::try_new(file)
                        .and_then(|b| b.with_batch_size(64 * 1024).build())
                        .map_err(|e| e.to_string())
                });
            match opened {
                Ok(reader) => self.current = Some((path, reader)),
                Err(message) => return Some(Err(ReportError::File { path, message })),
            }
        }
    }
}

/// A column's values as optional strings.
fn strings(b: &RecordBatch, name: &str) -> Vec<Option<String>> {
    match b.column_by_name(name) {
        Some(c) => match c.as_any().downcast_ref::<StringArray>() {
            Some(a) => a.iter().map(|v| v.map(str::to_owned)).collect(),
            None => vec![None; b.num_rows()],
        },
        None => vec![None; b.num_rows()],
    }
}

fn timestamps(b: &RecordBatch) -> Vec<i64> {
    b.column_by_name("timestamp")
        .and_then(|c| c.as_any().downcast_ref::<TimestampMillisecondArray>())
        .map_or_else(|| vec![0; b.num_rows()], |a| a.values().to_vec())
}

/// An unsigned (or non-negative signed) integer column of any width, as u64.
fn u64s(b: &RecordBatch, name: &str) -> Vec<Option<u64>> {
    let Some(c) = b.column_by_name(name) else {
        return vec![None; b.num_rows()];
    };
    match c.data_type() {
        DataType::Int8 | DataType::Int16 | DataType::Int32 | DataType::Int64 => {
            match arrow::compute::cast(c, &DataType::Int64) {
                Ok(a) => a
                    .as_primitive::<Int64Type>()
                    .iter()
                    .map(|v| v.and_then(|v| u64::try_from(v).ok()))
                    .collect(),
                Err(_) => vec![None; b.num_rows()],
            }
        }
        DataType::UInt8 | DataType::UInt16 | DataType::UInt32 | DataType::UInt64 => {
            match arrow::compute::cast(c, &DataType::UInt64) {
                Ok(a) => a.as_primitive::<UInt64Type>().iter().collect(),
                Err(_) => vec![None; b.num_rows()],
            }
        }
        _ => vec![None; b.num_rows()],
    }
}

fn i64s(b: &RecordBatch, name: &str) -> Vec<Option<i64>> {
    b.column_by_name(name)
        .and_then(|c| c.as_any().downcast_ref::<Int64Array>())
        .map_or_else(|| vec![None; b.num_rows()], |a| a.iter().collect())
}

fn f32s(b: &RecordBatch, name: &str) -> Vec<Option<f32>> {
    b.column_by_name(name)
        .and_then(|c| c.as_any().downcast_ref::<Float32Array>())
        .map_or_else(|| vec![None; b.num_rows()], |a| a.iter().collect())
}

fn bools(b: &RecordBatch, name: &str) -> Vec<Option<bool>> {
    b.column_by_name(name)
        .and_then(|c| c.as_any().downcast_ref::<BooleanArray>())
        .map_or_else(|| vec![None; b.num_rows()], |a| a.iter().collect())
}

/// The length of each list in a `List<UInt8>` column (subnets), `None` for null.
fn list_lens(b: &RecordBatch, name: &str) -> Vec<Option<u64>> {
    b.column_by_name(name)
        .and_then(|c| c.as_any().downcast_ref::<ListArray>())
        .map_or_else(
            || vec![None; b.num_rows()],
            |a| {
                (0..a.len())
                    .map(|i| {
                        (!a.is_null(i)).then(|| a.value(i).as_primitive::<UInt8Type>().len() as u64)
                    })
                    .collect()
            },
        )
}

/// A count per label, largest first (ties by label).
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Counts(pub Vec<(String, u64)>);

impl Counts {
    fn of(map: BTreeMap<String, u64>) -> Self {
        let mut v: Vec<(String, u64)> = map.into_iter().collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        Self(v)
    }

    /// The sum of the counts.
    pub fn total(&self) -> u64 {
        self.0.iter().map(|(_, n)| n).sum()
    }
}

/// A node in the top list by estimated validators.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TopNode {
    /// The peer.
    pub peer_id: String,
    /// Its client (latest successful handshake), or `unknown`.
    pub client: String,
    /// The latest estimate.
    pub estimated_validators: u64,
    /// The estimate's method.
    pub method: String,
    /// The estimate's confidence.
    pub confidence: f32,
}

/// A time series over fixed buckets.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Series {
    /// Bucket width, ms.
    pub bucket_ms: i64,
    /// Start of each bucket, unix ms.
    pub starts: Vec<i64>,
    /// Named lines, one value per bucket.
    pub lines: Vec<(String, Vec<f64>)>,
}

/// Everything the report shows.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct ReportData {
    /// First and last event timestamp in the window (unix ms), over every table.
    pub span: Option<(i64, i64)>,
    /// Rows per table in the window.
    pub rows: Vec<(String, u64)>,
    /// Distinct peers in `discovery_events`.
    pub nodes_discovered: u64,
    /// Distinct peers with a successful handshake.
    pub peers_handshaken: u64,
    /// Failed handshakes by error kind.
    pub failures_by_kind: Counts,
    /// Peers by client (latest successful handshake).
    pub clients: Counts,
    /// Peers by `client version` (latest successful handshake).
    pub versions: Counts,
    /// Peers by Status fork digest (latest successful handshake).
    pub fork_digests: Counts,
    /// Peers by MetaData custody group count (latest successful handshake; `none` before
    /// Fulu).
    pub cgc: Counts,
    /// Peers by the number of attestation subnets in their MetaData (latest successful
    /// handshake).
    pub attnets: Counts,
    /// Peers by country (latest location).
    pub countries: Counts,
    /// Peers by AS organisation (latest location).
    pub asns: Counts,
    /// Peers at hosting providers vs not (latest location).
    pub hosting: Counts,
    /// Peers by estimated validators (latest estimate), in bins.
    pub validators_per_node: Counts,
    /// Peers by the method of their latest estimate.
    pub estimate_methods: Counts,
    /// Sum of the latest estimates.
    pub validators_total: u64,
    /// The 20 nodes with the most estimated validators.
    pub top_nodes: Vec<TopNode>,
    /// Attributed attestations by evidence (`none`: delivered first, not attributed).
    pub evidence: Counts,
    /// First-delivery delays, in bins.
    pub delays: Counts,
    /// Up to the end of each bucket: distinct nodes discovered and distinct peers
    /// handshaken; and handshakes failed in the bucket.
    pub coverage: Series,
    /// Per bucket: each client's share (%) of the distinct peers with a successful
    /// handshake in that bucket (`NaN`, `null` in JSON, for a bucket without one).
    pub clients_over_time: Series,
}

/// Bins of validators per node, as `(label, lowest value)`.
pub const VALIDATOR_BINS: [(&str, u64); 8] = [
    ("0", 0),
    ("1", 1),
    ("2-3", 2),
    ("4-7", 4),
    ("8-15", 8),
    ("16-31", 16),
    ("32-63", 32),
    ("64+", 64),
];

/// Bins of first-delivery delay, as `(label, lowest ms)`; negative delays go to the first.
pub const DELAY_BINS: [(&str, i64); 7] = [
    ("<1s", i64::MIN),
    ("1-2s", 1000),
    ("2-4s", 2000),
    ("4-6s", 4000),
    ("6-12s", 6000),
    ("12-24s", 12000),
    ("24s+", 24000),
];

fn bin<T: PartialOrd + Copy>(bins: &[(&'static str, T)], v: T) -> &'static str {
    bins.iter()
        .rev()
        .find(|(_, lo)| v >= *lo)
        .map_or(bins[0].0, |(l, _)| l)
}

/// Bins in their order, zero counts kept (so charts show the whole range).
fn binned(bins: &[&'static str], map: &BTreeMap<String, u64>) -> Counts {
    Counts(
        bins.iter()
            .map(|l| ((*l).to_owned(), map.get(*l).copied().unwrap_or(0)))
            .collect(),
    )
}

/// A bucket width of at most 48 buckets over `span_ms`, from a list of round widths; at
/// least a minute, longer than the sentry's revisit of each peer in a simulated network (an
/// epoch, 32 s), so a bucket sees every peer.
pub fn bucket_width(span_ms: i64) -> i64 {
    const WIDTHS: [i64; 8] = [
        60_000,
        300_000,
        900_000,
        3_600_000,
        21_600_000,
        86_400_000,
        604_800_000,
        2_592_000_000,
    ];
    WIDTHS
        .iter()
        .copied()
        .find(|w| span_ms / w < 48)
        .unwrap_or(WIDTHS[WIDTHS.len() - 1])
}

/// Latest row per peer: `(timestamp, event_id)` greatest wins.
struct Latest<T> {
    rows: HashMap<String, ((i64, String), T)>,
}

impl<T> Latest<T> {
    fn new() -> Self {
        Self {
            rows: HashMap::new(),
        }
    }

    fn offer(&mut self, peer: String, key: (i64, String), value: T) {
        match self.rows.get(&peer) {
            Some((k, _)) if *k >= key => {}
            _ => {
                self.rows.insert(peer, (key, value));
            }
        }
    }
}

fn count<'a>(values: impl IntoIterator<Item = &'a str>) -> Counts {
    let mut m = BTreeMap::new();
    for v in values {
        *m.entry(v.to_owned()).or_insert(0u64) += 1;
    }
    Counts::of(m)
}

/// Reads every table under `dir` and computes the report's numbers for `window`.
pub fn load(dir: &Path, window: Window, progress: Progress<'_>) -> Result<ReportData, ReportError> {
    use crate::core::EventKind;
    let tables: Vec<&str> = EventKind::ALL.iter().map(|k| k.table()).collect();
    if tables.iter().all(|t| table_files(dir, t).is_empty()) {
        return Err(ReportError::NoTables(dir.to_owned()));
    }
    let mut data = ReportData::default();
    let mut span: Option<(i64, i64)> = None;
    let inside = |ts: i64| window.from <= ts && ts <= window.to;
    let mut widen = |ts: i64| {
        span = Some(span.map_or((ts, ts), |(a, b)| (a.min(ts), b.max(ts))));
    };

    // discovery_events: distinct nodes, first-seen times
    let mut first_seen: HashMap<String, i64> = HashMap::new();
    let mut rows = 0;
    for b in read_table(dir, "discovery_events", &mut *progress) {
        let b = b?;
        let (ts, peers) = (timestamps(&b), strings(&b, "peer_id"));
        for (t, p) in ts.into_iter().zip(peers) {
            if !inside(t) {
                continue;
            }
            rows += 1;
            widen(t);
            let p = p.unwrap_or_default();
            let e = first_seen.entry(p).or_insert(t);
            *e = (*e).min(t);
        }
    }
    data.rows.push(("discovery_events".into(), rows));
    data.nodes_discovered = first_seen.len() as u64;

    // metadata_events
    struct Identity {
        client: String,
        version: String,
        digest: String,
        cgc: String,
        attnets: String,
    }
    let mut latest = Latest::<Identity>::new();
    let mut failures = BTreeMap::new();
    let mut handshakes: Vec<(i64, String, Option<String>, String)> = Vec::new(); // ts, peer, error, client
    let mut rows = 0;
    for b in read_table(dir, "metadata_events", &mut *progress) {
        let b = b?;
        let ts = timestamps(&b);
        let ids = strings(&b, "event_id");
        let peers = strings(&b, "peer_id");
        let errors = strings(&b, "error_kind");
        let clients = strings(&b, "client_name");
        let versions = strings(&b, "client_version");
        let digests = strings(&b, "status_fork_digest");
        let cgcs = u64s(&b, "metadata_custody_group_count");
        let attnets = list_lens(&b, "metadata_attnets");
        for i in 0..b.num_rows() {
            let t = ts[i];
            if !inside(t) {
                continue;
            }
            rows += 1;
            widen(t);
            let peer = peers[i].clone().unwrap_or_default();
            let client = clients[i].clone().unwrap_or_else(|| "unknown".into());
            handshakes.push((t, peer.clone(), errors[i].clone(), client.clone()));
            if let Some(kind) = &errors[i] {
                *failures.entry(kind.clone()).or_insert(0u64) += 1;
                continue;
            }
            let identity = Identity {
                version: format!(
                    "{client} {}",
                    versions[i].clone().unwrap_or_else(|| "unknown".into())
                ),
                client,
                digest: digests[i].clone().unwrap_or_else(|| "unknown".into()),
                cgc: cgcs[i].map_or_else(|| "none".into(), |c| c.to_string()),
                attnets: attnets[i].map_or_else(|| "unknown".into(), |n| n.to_string()),
            };
            latest.offer(peer, (t, ids[i].clone().unwrap_or_default()), identity);
        }
    }
    data.rows.push(("metadata_events".into(), rows));
    data.failures_by_kind = Counts::of(failures);
    data.peers_handshaken = latest.rows.len() as u64;
    let ids = || latest.rows.values().map(|(_, v)| v);
    data.clients = count(ids().map(|v| v.client.as_str()));
    data.versions = count(ids().map(|v| v.version.as_str()));
    data.fork_digests = count(ids().map(|v| v.digest.as_str()));
    data.cgc = count(ids().map(|v| v.cgc.as_str()));
    data.attnets = count(ids().map(|v| v.attnets.as_str()));
    let client_of: HashMap<&str, &str> = latest
        .rows
        .iter()
        .map(|(p, (_, v))| (p.as_str(), v.client.as_str()))
        .collect();

    // validator_metadata_events
    struct Estimate {
        validators: u64,
        method: String,
        confidence: f32,
    }
    let mut estimates = Latest::<Estimate>::new();
    let mut rows = 0;
    for b in read_table(dir, "validator_metadata_events", &mut *progress) {
        let b = b?;
        let ts = timestamps(&b);
        let ids = strings(&b, "event_id");
        let peers = strings(&b, "peer_id");
        let vals = u64s(&b, "estimated_validators");
        let methods = strings(&b, "method");
        let conf = f32s(&b, "confidence");
        for i in 0..b.num_rows() {
            if !inside(ts[i]) {
                continue;
            }
            rows += 1;
            widen(ts[i]);
            estimates.offer(
                peers[i].clone().unwrap_or_default(),
                (ts[i], ids[i].clone().unwrap_or_default()),
                Estimate {
                    validators: vals[i].unwrap_or(0),
                    method: methods[i].clone().unwrap_or_else(|| "unknown".into()),
                    confidence: conf[i].unwrap_or(0.0),
                },
            );
        }
    }
    data.rows.push(("validator_metadata_events".into(), rows));
    let mut bins = BTreeMap::new();
    for (_, e) in estimates.rows.values() {
        *bins
            .entry(bin(&VALIDATOR_BINS, e.validators).to_owned())
            .or_insert(0) += 1;
        data.validators_total += e.validators;
    }
    let labels: Vec<&str> = VALIDATOR_BINS.iter().map(|(l, _)| *l).collect();
    data.validators_per_node = binned(&labels, &bins);
    data.estimate_methods = count(estimates.rows.values().map(|(_, e)| e.method.as_str()));
    let mut top: Vec<TopNode> = estimates
        .rows
        .iter()
        .map(|(p, (_, e))| TopNode {
            peer_id: p.clone(),
            client: client_of.get(p.as_str()).unwrap_or(&"unknown").to_string(),
            estimated_validators: e.validators,
            method: e.method.clone(),
            confidence: e.confidence,
        })
        .collect();
    top.sort_by(|a, b| {
        b.estimated_validators
            .cmp(&a.estimated_validators)
            .then_with(|| a.peer_id.cmp(&b.peer_id))
    });
    top.truncate(20);
    data.top_nodes = top;

    // validator_attributions
    let mut evidence = BTreeMap::new();
    let mut delays = BTreeMap::new();
    let mut rows = 0;
    for b in read_table(dir, "validator_attributions", &mut *progress) {
        let b = b?;
        let ts = timestamps(&b);
        let ev = strings(&b, "evidence");
        let delay = i64s(&b, "first_seen_delay_ms");
        for i in 0..b.num_rows() {
            if !inside(ts[i]) {
                continue;
            }
            rows += 1;
            widen(ts[i]);
            let e = ev[i].clone().unwrap_or_else(|| "none".into());
            *evidence.entry(e).or_insert(0u64) += 1;
            *delays
                .entry(bin(&DELAY_BINS, delay[i].unwrap_or(0)).to_owned())
                .or_insert(0u64) += 1;
        }
    }
    data.rows.push(("validator_attributions".into(), rows));
    data.evidence = Counts::of(evidence);
    let labels: Vec<&str> = DELAY_BINS.iter().map(|(l, _)| *l).collect();
    data.delays = if rows > 0 {
        binned(&labels, &delays)
    } else {
        Counts::default()
    };

    // peer_locations
    struct Place {
        country: String,
        org: String,
        hosting: bool,
    }
    let mut places = Latest::<Place>::new();
    let mut rows = 0;
    for b in read_table(dir, "peer_locations", &mut *progress) {
        let b = b?;
        let ts = timestamps(&b);
        let ids = strings(&b, "event_id");
        let peers = strings(&b, "peer_id");
        let countries = strings(&b, "country");
        let orgs = strings(&b, "as_org");
        let asns = u64s(&b, "asn");
        let hosting = bools(&b, "hosting");
        for i in 0..b.num_rows() {
            if !inside(ts[i]) {
                continue;
            }
            rows += 1;
            widen(ts[i]);
            let org = match (&orgs[i], asns[i]) {
                (Some(o), Some(n)) => format!("AS{n} {o}"),
                (None, Some(n)) => format!("AS{n}"),
                (Some(o), None) => o.clone(),
                (None, None) => "unknown".into(),
            };
            places.offer(
                peers[i].clone().unwrap_or_default(),
                (ts[i], ids[i].clone().unwrap_or_default()),
                Place {
                    country: countries[i].clone().unwrap_or_else(|| "unknown".into()),
                    org,
                    hosting: hosting[i].unwrap_or(false),
                },
            );
        }
    }
    data.rows.push(("peer_locations".into(), rows));
    data.countries = count(places.rows.values().map(|(_, p)| p.country.as_str()));
    data.asns = count(places.rows.values().map(|(_, p)| p.org.as_str()));
    data.hosting =
        count(
            places
                .rows
                .values()
                .map(|(_, p)| if p.hosting { "hosting" } else { "not hosting" }),
        );

    data.span = span;
    if let Some((start, end)) = span {
        let width = bucket_width(end - start);
        let origin = start - start.rem_euclid(width);
        let n = ((end - origin) / width + 1) as usize;
        let idx = |t: i64| ((t - origin) / width) as usize;
        let mut found = vec![0u64; n];
        for t in first_seen.values() {
            found[idx(*t)] += 1;
        }
        let mut first_ok: HashMap<&str, i64> = HashMap::new();
        let mut failed = vec![0f64; n];
        let mut by_client: BTreeMap<&str, Vec<BTreeSet<&str>>> = BTreeMap::new();
        let mut ok_in: Vec<BTreeSet<&str>> = vec![BTreeSet::new(); n];
        for (t, peer, error, client) in &handshakes {
            let i = idx(*t);
            if error.is_some() {
                failed[i] += 1.0;
            } else {
                let first = first_ok.entry(peer).or_insert(*t);
                *first = (*first).min(*t);
                ok_in[i].insert(peer);
                by_client
                    .entry(client)
                    .or_insert_with(|| vec![BTreeSet::new(); n])[i]
                    .insert(peer);
            }
        }
        let mut handshaken = vec![0u64; n];
        for t in first_ok.values() {
            handshaken[idx(*t)] += 1;
        }
        let cumulative = |v: Vec<u64>| -> Vec<f64> {
            v.iter()
                .scan(0u64, |sum, x| {
                    *sum += x;
                    Some(*sum as f64)
                })
                .collect()
        };
        let starts: Vec<i64> = (0..n).map(|i| origin + i as i64 * width).collect();
        data.coverage = Series {
            bucket_ms: width,
            starts: starts.clone(),
            lines: vec![
                ("nodes discovered".into(), cumulative(found)),
                ("peers handshaken".into(), cumulative(handshaken)),
                ("handshakes failed (in bucket)".into(), failed),
            ],
        };
        data.clients_over_time = Series {
            bucket_ms: width,
            starts,
            lines: by_client
                .into_iter()
                .map(|(c, sets)| {
                    let shares = sets
                        .iter()
                        .zip(&ok_in)
                        .map(|(s, all)| {
                            if all.is_empty() {
                                f64::NAN // no handshake in the bucket: no share (null in JSON)
                            } else {
                                100.0 * s.len() as f64 / all.len() as f64
                            }
                        })
                        .collect();
                    (c.to_owned(), shares)
                })
                .collect(),
        };
    }
    Ok(data)
}
