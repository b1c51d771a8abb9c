//! ParquetSink: write every kind, read it back with parquet's Arrow reader.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::Duration;

use arrow::array::{
    Array, AsArray, BooleanArray, Float32Array, Float64Array, Int64Array, ListArray, RecordBatch,
    StringArray, TimestampMillisecondArray, UInt16Array, UInt32Array, UInt64Array, UInt8Array,
};
use arrow::datatypes::{DataType, TimeUnit};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::basic::Compression;
use parquet::file::reader::{FileReader, SerializedFileReader};
use valtrack_core::{EventKind, EventSink};
use valtrack_sink::{schema, ParquetSink, ParquetSinkConfig};

use crate::fixtures;

/// Every file under `dir`, recursively.
pub(crate) fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for entry in entries {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(files(&path));
        } else {
            out.push(path);
        }
    }
    out.sort();
    out
}

fn is_tmp(path: &Path) -> bool {
    let name = path.file_name().unwrap().to_string_lossy();
    name.starts_with('.') && name.ends_with(".tmp")
}

fn parquet_files(dir: &Path) -> Vec<PathBuf> {
    files(dir)
        .into_iter()
        .filter(|p| !is_tmp(p) && p.extension().is_some_and(|e| e == "parquet"))
        .collect()
}

/// Every row of a table, one batch per file, in file-name order.
pub(crate) fn read_table(dir: &Path, kind: EventKind) -> Vec<RecordBatch> {
    parquet_files(&dir.join(kind.table()))
        .into_iter()
        .flat_map(|path| {
            let reader = ParquetRecordBatchReaderBuilder::try_new(File::open(&path).unwrap())
                .unwrap()
                .build()
                .unwrap();
            reader.map(Result::unwrap).collect::<Vec<_>>()
        })
        .collect()
}

pub(crate) fn rows(batches: &[RecordBatch]) -> usize {
    batches.iter().map(RecordBatch::num_rows).sum()
}

fn concat(batches: &[RecordBatch]) -> RecordBatch {
    arrow::compute::concat_batches(&batches[0].schema(), batches).unwrap()
}

fn col<'a, T: 'static>(batch: &'a RecordBatch, name: &str) -> &'a T {
    batch
        .column_by_name(name)
        .unwrap_or_else(|| panic!("no column {name}"))
        .as_any()
        .downcast_ref::<T>()
        .unwrap_or_else(|| panic!("column {name} has another type"))
}

fn u8_list(batch: &RecordBatch, name: &str, row: usize) -> Option<Vec<u8>> {
    let list = col::<ListArray>(batch, name);
    if list.is_null(row) {
        return None;
    }
    let values = list.value(row);
    let values = values.as_any().downcast_ref::<UInt8Array>().unwrap();
    Some(values.values().to_vec())
}

fn str_list(batch: &RecordBatch, name: &str, row: usize) -> Vec<String> {
    let list = col::<ListArray>(batch, name);
    let values = list.value(row);
    values
        .as_string::<i32>()
        .iter()
        .map(|s| s.unwrap().to_owned())
        .collect()
}

async fn write_all(dir: &Path, n: u64, config: ParquetSinkConfig) {
    let sink = ParquetSink::open(config).unwrap();
    assert_eq!(sink.dir(), dir);
    for event in fixtures::all(n) {
        sink.send(event).await.unwrap();
    }
    sink.flush().await.unwrap();
    sink.close().await.unwrap();
}

#[tokio::test]
async fn every_kind_round_trips_with_typed_columns() {
    const N: u64 = 50;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    write_all(dir, N, ParquetSinkConfig::builder(dir).build().unwrap()).await;

    // Layout: <table>/date=YYYY-MM-DD/part-<ms>-<seq>.parquet, no temporary files left.
    let all = files(dir);
    assert!(all.iter().all(|p| !is_tmp(p)), "tmp files left: {all:?}");
    assert_eq!(
        all.len(),
        EventKind::ALL.len(),
        "one file per table: {all:?}"
    );
    for kind in EventKind::ALL {
        let files = parquet_files(&dir.join(kind.table()));
        assert_eq!(files.len(), 1);
        let rel = files[0]
            .strip_prefix(dir)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        assert!(
            rel.starts_with(&format!("{}/date=2025-11-24/part-", kind.table())),
            "{rel}"
        );
        // zstd-compressed
        let reader = SerializedFileReader::new(File::open(&files[0]).unwrap()).unwrap();
        let column = reader.metadata().row_group(0).column(0).compression();
        assert!(matches!(column, Compression::ZSTD(_)), "{column:?}");
        // the schema read back is the one declared
        let batches = read_table(dir, kind);
        assert_eq!(rows(&batches), N as usize, "{}", kind.table());
        let declared = schema(kind);
        let read = batches[0].schema();
        for field in declared.fields() {
            assert_eq!(
                read.field_with_name(field.name()).unwrap().data_type(),
                field.data_type(),
                "{}.{}",
                kind.table(),
                field.name()
            );
        }
        let ts = col::<TimestampMillisecondArray>(&batches[0], "timestamp");
        assert_eq!(
            ts.data_type(),
            &DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into()))
        );
        assert_eq!(ts.value(0), fixtures::T0 as i64);
    }

    let info = fixtures::info();
    let expected = fixtures::all(N);
    let event_ids: Vec<_> = expected
        .iter()
        .filter(|e| e.kind() == EventKind::Discovery)
        .map(|e| e.meta().event_id.clone())
        .collect();

    // discovery_events
    let d = concat(&read_table(dir, EventKind::Discovery));
    assert_eq!(col::<StringArray>(&d, "event_id").value(3), event_ids[3]);
    assert_eq!(col::<StringArray>(&d, "crawler_id").value(0), "sentry-1");
    assert_eq!(
        col::<StringArray>(&d, "crawler_location").value(0),
        "eu-west"
    );
    assert_eq!(
        col::<StringArray>(&d, "peer_id").value(0),
        info.peer_id.to_string()
    );
    assert!(col::<StringArray>(&d, "peer_id")
        .value(0)
        .starts_with("16Uiu2"));
    assert_eq!(
        col::<StringArray>(&d, "node_id").value(0),
        info.node_id.to_string()
    );
    assert_eq!(col::<StringArray>(&d, "enr").value(0), fixtures::BOOTNODE);
    assert_eq!(col::<StringArray>(&d, "reason").value(0), "first_seen");
    assert_eq!(col::<UInt64Array>(&d, "seq").value(5), 5);
    assert_eq!(col::<StringArray>(&d, "ip").value(0), "3.17.30.69");
    assert!(col::<StringArray>(&d, "ip6").is_null(0));
    assert_eq!(col::<UInt16Array>(&d, "udp_port").value(0), 9000);
    assert_eq!(col::<StringArray>(&d, "fork_digest").value(0), "b5303f2a");
    assert_eq!(
        col::<StringArray>(&d, "next_fork_version").value(0),
        fixtures::bootnode_next_fork_version().unwrap().to_string()
    );
    assert_eq!(u8_list(&d, "attnets", 0), Some(vec![0, 1]));
    assert_eq!(u8_list(&d, "attnets", 49), Some(vec![49, 50]));
    assert_eq!(u8_list(&d, "syncnets", 6), Some(vec![2]));
    assert_eq!(col::<UInt64Array>(&d, "cgc").value(1), 5);
    assert_eq!(col::<StringArray>(&d, "class").value(0), "other_network");
    assert!(str_list(&d, "enr_issues", 0).is_empty());

    // metadata_events: row 0 succeeded, row 1 failed (Goodbye 129)
    let m = concat(&read_table(dir, EventKind::Metadata));
    assert_eq!(col::<StringArray>(&m, "direction").value(0), "outbound");
    assert_eq!(col::<StringArray>(&m, "muxer").value(0), "mplex");
    assert_eq!(col::<UInt8Array>(&m, "status_version").value(0), 2);
    assert_eq!(
        col::<StringArray>(&m, "status_fork_digest").value(0),
        "b5303f2a"
    );
    assert_eq!(
        col::<StringArray>(&m, "status_head_root").value(0),
        format!("0x{}", "22".repeat(32))
    );
    assert_eq!(col::<UInt64Array>(&m, "status_head_slot").value(4), 3_204);
    assert!(col::<UInt64Array>(&m, "status_head_slot").is_null(1));
    assert_eq!(u8_list(&m, "metadata_attnets", 0), Some(vec![7, 17]));
    assert_eq!(u8_list(&m, "metadata_attnets", 1), None);
    assert_eq!(u8_list(&m, "metadata_syncnets", 0), Some(vec![1]));
    assert_eq!(
        col::<UInt64Array>(&m, "metadata_custody_group_count").value(0),
        8
    );
    assert_eq!(col::<StringArray>(&m, "client_name").value(0), "lighthouse");
    assert_eq!(
        col::<StringArray>(&m, "client_version").value(0),
        "v5.3.0-2e0eb6d"
    );
    assert_eq!(col::<StringArray>(&m, "client_os").value(0), "linux");
    assert_eq!(col::<StringArray>(&m, "client_arch").value(0), "x86_64");
    assert_eq!(u8_list(&m, "subscribed_attnets", 0), Some(vec![7, 17, 40]));
    assert_eq!(u8_list(&m, "subscribed_syncnets", 0), None);
    assert_eq!(str_list(&m, "protocols", 0).len(), 2);
    assert!(str_list(&m, "protocols", 1).is_empty());
    assert_eq!(col::<UInt64Array>(&m, "connect_ms").value(0), 60);
    assert_eq!(col::<UInt64Array>(&m, "total_ms").value(3), 203);
    assert!(col::<StringArray>(&m, "error_kind").is_null(0));
    assert_eq!(
        col::<StringArray>(&m, "error_kind").value(1),
        "too_many_peers"
    );
    assert_eq!(col::<UInt64Array>(&m, "goodbye_code").value(1), 129);

    // validator_metadata_events
    let v = concat(&read_table(dir, EventKind::ValidatorMetadata));
    assert_eq!(col::<UInt64Array>(&v, "epoch").value(2), 300_002);
    assert_eq!(
        u8_list(&v, "short_lived_subnets", 0),
        Some(vec![40, 41, 42])
    );
    assert!(col::<BooleanArray>(&v, "matches_node_id_prediction").value(0));
    assert_eq!(col::<UInt64Array>(&v, "stake_max_eth").value(0), 4096);
    assert_eq!(
        col::<StringArray>(&v, "method").value(0),
        "short_lived_subnets"
    );
    assert_eq!(col::<Float32Array>(&v, "confidence").value(0), 0.5);
    assert_eq!(col::<UInt64Array>(&v, "attributed_validators").value(0), 3);
    assert_eq!(col::<UInt64Array>(&v, "vantage_points").value(0), 2);
    assert_eq!(col::<UInt64Array>(&v, "contested_validators").value(0), 1);

    // validator_attributions
    let a = concat(&read_table(dir, EventKind::Attestation));
    assert_eq!(col::<StringArray>(&a, "form").value(0), "single");
    assert_eq!(col::<UInt64Array>(&a, "attester_index").value(7), 1_000_007);
    assert!(col::<UInt64Array>(&a, "aggregation_bit").is_null(0));
    assert_eq!(col::<Int64Array>(&a, "first_seen_delay_ms").value(0), -5);
    assert_eq!(
        col::<StringArray>(&a, "evidence").value(0),
        "unsubscribed_subnet"
    );

    // peer_locations
    let l = concat(&read_table(dir, EventKind::PeerLocation));
    assert_eq!(col::<StringArray>(&l, "ip").value(0), "3.17.30.69");
    assert_eq!(col::<StringArray>(&l, "address_kind").value(0), "public");
    assert_eq!(col::<StringArray>(&l, "address_kind").value(1), "private");
    assert_eq!(col::<StringArray>(&l, "country").value(0), "US");
    assert!(col::<StringArray>(&l, "country").is_null(1));
    assert_eq!(col::<Float64Array>(&l, "latitude").value(0), 39.9612);
    assert_eq!(col::<UInt32Array>(&l, "asn").value(0), 16509);
    assert!(col::<UInt32Array>(&l, "asn").is_null(1));
    assert!(col::<BooleanArray>(&l, "hosting").value(0));
    assert!(!col::<BooleanArray>(&l, "hosting").value(1));
}

#[tokio::test]
async fn rotation_by_rows_makes_several_complete_files() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let config = ParquetSinkConfig::builder(dir)
        .max_file_rows(10)
        .batch_rows(4)
        .build()
        .unwrap();
    let sink = ParquetSink::open(config).unwrap();
    for i in 0..35 {
        sink.send(fixtures::discovery(i)).await.unwrap();
    }
    sink.flush().await.unwrap();
    let table = dir.join("discovery_events");
    let parts = parquet_files(&table);
    assert_eq!(parts.len(), 4, "{parts:?}");
    let per_file: Vec<usize> = parts
        .iter()
        .map(|p| {
            ParquetRecordBatchReaderBuilder::try_new(File::open(p).unwrap())
                .unwrap()
                .metadata()
                .file_metadata()
                .num_rows() as usize
        })
        .collect();
    assert_eq!(per_file, [10, 10, 10, 5]);
    // every row once, in order
    let seqs: Vec<u64> = read_table(dir, EventKind::Discovery)
        .iter()
        .flat_map(|b| col::<UInt64Array>(b, "seq").values().to_vec())
        .collect();
    assert_eq!(seqs, (0..35).collect::<Vec<_>>());
    assert!(files(dir).iter().all(|p| !is_tmp(p)));
}

#[tokio::test]
async fn rotation_by_bytes() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let config = ParquetSinkConfig::builder(dir)
        .max_file_bytes(1)
        .batch_rows(1)
        .build()
        .unwrap();
    let sink = ParquetSink::open(config).unwrap();
    for i in 0..5 {
        sink.send(fixtures::attestation(i)).await.unwrap();
    }
    sink.flush().await.unwrap();
    assert_eq!(parquet_files(dir).len(), 5);
    assert_eq!(rows(&read_table(dir, EventKind::Attestation)), 5);
}

#[tokio::test]
async fn rotation_by_age_publishes_without_a_flush() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let config = ParquetSinkConfig::builder(dir)
        .max_file_age(Duration::from_millis(100))
        .build()
        .unwrap();
    let sink = ParquetSink::open(config).unwrap();
    for i in 0..3 {
        sink.send(fixtures::validator_metadata(i)).await.unwrap();
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while parquet_files(dir).is_empty() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no file closed by age"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(rows(&read_table(dir, EventKind::ValidatorMetadata)), 3);
    assert!(files(dir).iter().all(|p| !is_tmp(p)));
    sink.close().await.unwrap();
}

#[tokio::test]
async fn open_files_are_hidden_until_flushed() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let sink = ParquetSink::open(ParquetSinkConfig::builder(dir).build().unwrap()).unwrap();
    sink.send(fixtures::discovery(0)).await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !files(dir).iter().any(|p| is_tmp(p)) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no tmp file appeared"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let tmp_name = files(dir).into_iter().find(|p| is_tmp(p)).unwrap();
    let name = tmp_name.file_name().unwrap().to_string_lossy().into_owned();
    assert!(
        name.starts_with(".part-") && name.ends_with(".parquet.tmp"),
        "{name}"
    );
    assert!(parquet_files(dir).is_empty());
    sink.flush().await.unwrap();
    assert!(!files(dir).iter().any(|p| is_tmp(p)));
    assert_eq!(parquet_files(dir).len(), 1);
    // dropping the sink closes what is open (the writer thread finishes in the background)
    sink.send(fixtures::discovery(1)).await.unwrap();
    sink.close().await.unwrap();
    assert_eq!(parquet_files(dir).len(), 2);
}

#[tokio::test]
async fn partitions_by_utc_date_of_the_event() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let sink = ParquetSink::open(ParquetSinkConfig::builder(dir).build().unwrap()).unwrap();
    // 2025-11-24T23:59:59.999Z and 2025-11-25T00:00:00.000Z
    let midnight = 1_764_028_800_000;
    sink.send(fixtures::discovery_at(0, midnight - 1))
        .await
        .unwrap();
    sink.send(fixtures::discovery_at(1, midnight))
        .await
        .unwrap();
    sink.send(fixtures::discovery_at(2, midnight + 5))
        .await
        .unwrap();
    sink.close().await.unwrap();
    let table = dir.join("discovery_events");
    assert_eq!(parquet_files(&table.join("date=2025-11-24")).len(), 1);
    assert_eq!(parquet_files(&table.join("date=2025-11-25")).len(), 1);
    assert_eq!(rows(&read_table(dir, EventKind::Discovery)), 3);
}

#[tokio::test]
async fn failed_writes_are_held_reported_with_their_path_and_retried() {
    let tmp = tempfile::tempdir().unwrap();
    // the dataset root is a file: opening fails
    let file = tmp.path().join("not-a-dir");
    std::fs::write(&file, b"x").unwrap();
    assert!(ParquetSink::open(ParquetSinkConfig::builder(&file).build().unwrap()).is_err());
    let dir = tmp.path().join("data");
    let sink = ParquetSink::open(ParquetSinkConfig::builder(&dir).build().unwrap()).unwrap();
    // the table directory cannot be created: a file is in the way
    let blocker = dir.join("validator_attributions");
    std::fs::write(&blocker, b"x").unwrap();
    sink.send(fixtures::attestation(0)).await.unwrap();
    sink.send(fixtures::discovery(0)).await.unwrap();
    let err = sink.flush().await.unwrap_err();
    let message = std::error::Error::source(&err).unwrap().to_string();
    assert!(
        message.starts_with("creating ") && message.contains("validator_attributions"),
        "{message}"
    );
    // the other table was written; the failed row is held, and so reported again
    assert_eq!(rows(&read_table(&dir, EventKind::Discovery)), 1);
    let stats = sink.stats();
    assert_eq!((stats.published_total(), stats.held), (1, 1));
    assert!(stats.write_errors >= 1);
    assert!(stats
        .fault
        .as_deref()
        .unwrap()
        .contains("validator_attributions"));
    assert!(sink.flush().await.is_err());
    // once the cause is gone, the held row is written (by the retry or this flush)
    std::fs::remove_file(&blocker).unwrap();
    sink.flush().await.unwrap();
    assert_eq!(rows(&read_table(&dir, EventKind::Attestation)), 1);
    let stats = sink.stats();
    assert_eq!(
        (stats.published_total(), stats.held, stats.fault),
        (2, 0, None)
    );
    sink.close().await.unwrap();
}

#[tokio::test]
async fn opening_past_max_open_files_closes_the_oldest() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let config = ParquetSinkConfig::builder(dir)
        .max_open_files(2)
        .build()
        .unwrap();
    let sink = ParquetSink::open(config).unwrap();
    // five dates, one event each: at most two files are open at a time
    for day in 0..5 {
        sink.send(fixtures::discovery_at(day, fixtures::T0 + day * 86_400_000))
            .await
            .unwrap();
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let tmp_count = || files(dir).iter().filter(|p| is_tmp(p)).count();
    // the writer is asynchronous: wait for the last event to be written
    while parquet_files(dir).len() < 3 || tmp_count() < 2 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "oldest files not closed"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!((parquet_files(dir).len(), tmp_count()), (3, 2));
    sink.close().await.unwrap();
    assert_eq!(parquet_files(dir).len(), 5);
    assert_eq!(rows(&read_table(dir, EventKind::Discovery)), 5);
}

/// A restart removes the temporary files a crashed writer left (a `kill -9` leaves
/// `.part-….parquet.tmp` files behind), and nothing else: published files, other hidden
/// files and files outside the tables stay.
#[tokio::test]
async fn opening_removes_stale_temporary_files_it_owns() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    write_all(dir, 2, ParquetSinkConfig::builder(dir).build().unwrap()).await;
    let day = parquet_files(&dir.join(EventKind::Discovery.table()))[0]
        .parent()
        .unwrap()
        .to_owned();
    let stale = [
        day.join(".part-1764763200000-000001.parquet.tmp"),
        dir.join(EventKind::Metadata.table())
            .join("date=2026-12-01")
            .join(".part-1764763200000-000002.parquet.tmp"),
    ];
    let kept = [
        day.join(".notes.tmp"),
        day.join("README.txt"),
        dir.join(".part-1764763200000-000003.parquet.tmp"), // not inside a table
    ];
    for path in stale.iter().chain(&kept) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, b"").unwrap();
    }
    let published = parquet_files(dir).len();

    let sink = ParquetSink::open(ParquetSinkConfig::builder(dir).build().unwrap()).unwrap();
    for path in &stale {
        assert!(!path.exists(), "{} stayed", path.display());
    }
    for path in &kept {
        assert!(path.exists(), "{} was removed", path.display());
    }
    assert_eq!(parquet_files(dir).len(), published);
    sink.close().await.unwrap();
}

/// Sinks in one directory with `shared`: each takes its own writer slot, names its files by
/// it, and at open clears only what an earlier writer of its slot left.
#[tokio::test]
async fn shared_sinks_take_writer_slots_and_clear_only_their_own() {
    let dir = tempfile::tempdir().unwrap();
    let open = || {
        ParquetSink::open(
            ParquetSinkConfig::builder(dir.path())
                .shared(true)
                .build()
                .unwrap(),
        )
        .unwrap()
    };
    let a = open();
    let b = open();
    assert_eq!((a.writer_tag(), b.writer_tag()), (Some("w1"), Some("w2")));
    for i in 0..10 {
        let sink = if i % 2 == 0 { &a } else { &b };
        sink.send(fixtures::discovery(i)).await.unwrap();
    }
    a.flush().await.unwrap();
    b.flush().await.unwrap();
    let published: Vec<String> = files(dir.path())
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "parquet"))
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(published.len(), 2, "{published:?}");
    assert!(
        published.iter().any(|n| n.ends_with("-w1.parquet")),
        "{published:?}"
    );
    assert!(
        published.iter().any(|n| n.ends_with("-w2.parquet")),
        "{published:?}"
    );
    let ids = valtrack_sink::recent_event_ids(dir.path(), usize::MAX).unwrap();
    assert_eq!(ids.len(), 10);

    // a temporary file of slot 2, as a writer of that slot would have it mid-write
    let day = files(dir.path())
        .into_iter()
        .find(|p| p.to_string_lossy().ends_with("-w2.parquet"))
        .unwrap()
        .parent()
        .unwrap()
        .to_owned();
    let stray = day.join(".part-1-000009-w2.parquet.tmp");
    std::fs::write(&stray, b"mid-write").unwrap();
    // a third sink takes slot 3 and leaves it alone while slot 2's writer runs
    let c = open();
    assert_eq!(c.writer_tag(), Some("w3"));
    assert!(stray.exists());
    // slot 2's writer gone (crashed): the next sink takes slot 2 and clears its leftover
    drop(b);
    let d = open();
    assert_eq!(d.writer_tag(), Some("w2"));
    assert!(!stray.exists());
    // an unshared sink clears nothing of the slots'
    std::fs::write(&stray, b"mid-write").unwrap();
    drop(ParquetSink::open(ParquetSinkConfig::builder(dir.path()).build().unwrap()).unwrap());
    assert!(stray.exists());
    for s in [a, c, d] {
        s.close().await.unwrap();
    }
}
