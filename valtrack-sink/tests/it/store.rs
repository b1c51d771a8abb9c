//! `Store`: the whole storage side from one config — counts per table, Parquet and tracker
//! on disk, the API serving on the port it bound — and its refusals.

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use valtrack_core::{EventKind, EventSink, Network};
use valtrack_sink::store::{StoreConfig, StoreError, TRACKER_FILE};
use valtrack_sink::Store;

use crate::fixtures;
use crate::parquet::{read_table, rows};

/// The status line of `GET path`.
async fn status_line(addr: std::net::SocketAddr, path: &str) -> std::io::Result<String> {
    let mut stream = tokio::net::TcpStream::connect(addr).await?;
    let req = format!("GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    stream.write_all(req.as_bytes()).await?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await?;
    Ok(String::from_utf8_lossy(&raw)
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned())
}

#[tokio::test]
async fn a_store_writes_every_table_counts_them_and_serves_the_api() {
    let dir = tempfile::tempdir().unwrap();
    let config = StoreConfig::builder(dir.path().join("data"))
        .network(Network::mainnet())
        .api_listen("127.0.0.1:0".parse().unwrap())
        .build()
        .unwrap();
    let (store, sink) = Store::open(config).await.unwrap();
    let addr = store.api_addr().expect("the API was asked for");
    assert_ne!(addr.port(), 0, "the bound port is reported");
    assert!(status_line(addr, "/healthz")
        .await
        .unwrap()
        .contains(" 200 "));

    for event in fixtures::all(3) {
        sink.send(event).await.unwrap();
    }
    sink.flush().await.unwrap();
    let counts = store.counts();
    assert_eq!(counts.discovery_events, 3);
    assert_eq!(counts.metadata_events, 3);
    assert_eq!(counts.validator_attributions, 3);
    // the three given, and the estimates DeriveSink derived from the metadata events
    assert!(counts.validator_metadata_events > 3, "{counts}");
    assert!(counts.peer_locations >= 3, "{counts}");
    assert_eq!(
        counts.total(),
        3 + 3 + 3 + counts.validator_metadata_events + counts.peer_locations
    );
    assert!(counts
        .to_string()
        .starts_with("discovery_events 3, metadata_events 3, "));
    assert!(store.tracker().stats().unwrap().peers > 0);

    drop(sink); // closes the tables
    store.close().await;
    assert!(
        status_line(addr, "/healthz").await.is_err(),
        "the API stopped"
    );
    let data = dir.path().join("data");
    assert!(data.join(TRACKER_FILE).is_file());
    for (kind, n) in [
        (EventKind::Discovery, counts.discovery_events),
        (EventKind::Metadata, counts.metadata_events),
        (
            EventKind::ValidatorMetadata,
            counts.validator_metadata_events,
        ),
        (EventKind::Attestation, counts.validator_attributions),
        (EventKind::PeerLocation, counts.peer_locations),
    ] {
        assert_eq!(rows(&read_table(&data, kind)) as u64, n, "{kind:?}");
    }
}

#[tokio::test]
async fn a_store_refuses_bad_settings_naming_the_cause() {
    let err = StoreConfig::builder("data")
        .api_keys_file("keys.txt")
        .build()
        .unwrap_err();
    assert!(matches!(err, StoreError::KeysWithoutApi), "{err}");
    let err = StoreConfig::builder("").build().unwrap_err();
    assert!(matches!(err, StoreError::EmptyDataDir), "{err}");
    let err = StoreConfig::builder("data")
        .max_file_age(std::time::Duration::ZERO)
        .build()
        .unwrap_err();
    assert!(matches!(err, StoreError::ZeroFileAge), "{err}");

    // a data directory that is a file
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("not-a-dir");
    std::fs::write(&file, b"x").unwrap();
    let config = StoreConfig::builder(&file).build().unwrap();
    let err = Store::open(config).await.unwrap_err();
    assert!(
        matches!(&err, StoreError::DataDir { path, .. } if *path == file),
        "{err}"
    );
    assert!(std::error::Error::source(&err).is_some());
}
