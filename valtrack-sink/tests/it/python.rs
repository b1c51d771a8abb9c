//! The dataset read by an independent reader: pyarrow, through `scripts/check_parquet.py`.

use std::path::PathBuf;
use std::process::Command;

use valtrack_core::EventSink;
use valtrack_sink::{ParquetSink, ParquetSinkConfig};

use crate::fixtures;

fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scripts/check_parquet.py")
}

#[tokio::test]
async fn pyarrow_reads_the_dataset() {
    let has_pyarrow = Command::new("python3")
        .args(["-c", "import pyarrow"])
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        has_pyarrow,
        "pyarrow is needed to check the Parquet output independently: \
         run `python3 -m pip install pyarrow` (scripts/check does this)"
    );

    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    // small files, so the reader sees several per table
    let config = ParquetSinkConfig::builder(dir)
        .max_file_rows(16)
        .build()
        .unwrap();
    let sink = ParquetSink::open(config).unwrap();
    for event in fixtures::all(40) {
        sink.send(event).await.unwrap();
    }
    sink.close().await.unwrap();

    let out = Command::new("python3")
        .arg(script())
        .arg(dir)
        .args([
            "discovery_events=40",
            "metadata_events=40",
            "validator_metadata_events=40",
            "validator_attributions=40",
            "peer_locations=40",
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("discovery_events: 40 rows in 3 files"),
        "{stdout}"
    );
    assert!(stdout.contains("attnets: list<item: uint8>"), "{stdout}");

    // a wrong expectation fails
    let out = Command::new("python3")
        .arg(script())
        .arg(dir)
        .arg("discovery_events=41")
        .output()
        .unwrap();
    assert!(!out.status.success());
}
