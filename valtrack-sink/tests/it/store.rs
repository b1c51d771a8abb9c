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
    assert!(store.tracker().unwrap().stats().unwrap().peers > 0);

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

/// A fleet's roles on one directory: `Tables` writes the events as received (nothing
/// derived, no tracker, no API); `Tracker` writes only what it derives and the tracker, and
/// an event sent to it again (a redelivery after a restart) changes nothing.
#[tokio::test]
async fn fleet_roles_split_the_tables_and_repeat_nothing() {
    use valtrack_sink::StoreRole;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let config = |role| {
        StoreConfig::builder(&data)
            .network(Network::mainnet())
            .role(role)
    };
    assert!(matches!(
        config(StoreRole::Tables)
            .api_listen("127.0.0.1:0".parse().unwrap())
            .build(),
        Err(StoreError::ApiWithoutTracker)
    ));
    let events: Vec<_> = (0..3).map(fixtures::metadata).collect();

    let (tables, sink) = Store::open(config(StoreRole::Tables).build().unwrap())
        .await
        .unwrap();
    assert!(tables.tracker().is_none());
    for e in &events {
        sink.send(e.clone()).await.unwrap();
    }
    sink.flush().await.unwrap();
    assert_eq!(tables.counts().metadata_events, 3);
    assert_eq!(
        tables.counts().validator_metadata_events,
        0,
        "nothing derived"
    );
    assert!(!data.join(TRACKER_FILE).exists());

    let derived_rows = || rows(&read_table(&data, EventKind::ValidatorMetadata));
    let mut derived = 0;
    for round in 0..2 {
        // the second round: a restarted tracker process given the same events again
        let (tracker, sink) = Store::open(config(StoreRole::Tracker).build().unwrap())
            .await
            .unwrap();
        for e in &events {
            sink.send(e.clone()).await.unwrap();
        }
        sink.flush().await.unwrap();
        let counts = tracker.counts();
        assert_eq!(counts.metadata_events, 0, "the tables role writes those");
        if round == 0 {
            derived = counts.validator_metadata_events;
            assert!(derived > 0, "{counts}");
        } else {
            assert_eq!(
                counts.validator_metadata_events, 0,
                "already in the dataset"
            );
        }
        // every event (given and derived) applied once, the second round none again
        let applied = tracker
            .tracker()
            .unwrap()
            .applied_event_ids()
            .unwrap()
            .len() as u64;
        assert_eq!(applied, 3 + derived);
        drop(sink);
        tracker.close().await;
    }
    assert_eq!(derived_rows() as u64, derived);
    assert_eq!(rows(&read_table(&data, EventKind::Metadata)), 3);
}
