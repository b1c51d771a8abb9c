use super::*;
use crate::tracker::fixtures::{attestation, discovery, failure, handshake, peer};
use crate::ChannelSink;

/// The value of the sample line `series` (name and labels as encoded), if present.
fn value(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

#[tokio::test]
async fn events_become_labelled_series_and_forgotten_peers_leave_the_gauges() {
    let mut registry = registry();
    let metrics = EventMetrics::register(&mut registry);
    let (inner, mut rx) = ChannelSink::new(64);
    let sink = MetricsSink::new(inner, metrics);
    let (a, b) = (peer(1), peer(2));
    let lighthouse = "Lighthouse/v5.3.0-2e0eb6d/x86_64-linux";
    for e in [
        discovery(a, 1, "1.2.3.4", DiscoveryReason::FirstSeen),
        discovery(b, 1, "1.2.3.5", DiscoveryReason::FirstSeen),
        handshake(a, 2, "/ip4/1.2.3.4/tcp/9000", lighthouse, 4),
        handshake(a, 3, "/ip4/1.2.3.4/tcp/9000", lighthouse, 4),
        handshake(b, 2, "/ip4/1.2.3.5/tcp/9000", "teku/v24.1.0", 4),
        failure(b, 4),
        attestation(a, 5, 7, true),
        attestation(a, 5, 8, false),
    ] {
        sink.send(e).await.unwrap();
    }
    let text = encode(&registry);
    assert!(text.ends_with("# EOF\n"), "{text}");
    let v = |s: &str| value(&text, s).unwrap_or_else(|| panic!("no {s} in\n{text}"));
    assert_eq!(
        v(r#"valtrack_discovery_events_total{reason="first_seen",class="our_network"}"#),
        2.0
    );
    assert_eq!(v(r#"valtrack_dht_nodes{class="our_network"}"#), 2.0);
    assert_eq!(
        v(r#"valtrack_handshakes_total{result="ok",client="lighthouse",direction="outbound"}"#),
        2.0
    );
    assert_eq!(
        v(
            r#"valtrack_handshakes_total{result="too_many_peers",client="unknown",direction="outbound"}"#
        ),
        1.0
    );
    assert_eq!(
        v(r#"valtrack_peers{client="lighthouse",fork_digest="0x8c9f62fe"}"#),
        1.0
    );
    assert_eq!(
        v(r#"valtrack_peers{client="teku",fork_digest="0x8c9f62fe"}"#),
        1.0
    );
    assert_eq!(
        v(r#"valtrack_attestation_events_total{evidence="unsubscribed_subnet"}"#),
        1.0
    );
    assert_eq!(
        v(r#"valtrack_attestation_events_total{evidence="none"}"#),
        1.0
    );
    assert_eq!(
        v("valtrack_attestation_first_seen_delay_seconds_count"),
        2.0
    );
    assert_eq!(
        v(r#"valtrack_attestation_first_seen_delay_seconds_bucket{le="1.0"}"#),
        2.0
    );
    assert_eq!(v(r#"valtrack_sink_events_total{kind="metadata"}"#), 4.0);
    assert_eq!(v("valtrack_sink_errors_total"), 0.0);

    sink.send(discovery(a, 9, "1.2.3.4", DiscoveryReason::Disappeared))
        .await
        .unwrap();
    let text = encode(&registry);
    let v = |s: &str| value(&text, s).unwrap_or_else(|| panic!("no {s} in\n{text}"));
    assert_eq!(v(r#"valtrack_dht_nodes{class="our_network"}"#), 1.0);
    assert_eq!(
        v(r#"valtrack_peers{client="lighthouse",fork_digest="0x8c9f62fe"}"#),
        0.0
    );
    assert_eq!(
        v(r#"valtrack_peers{client="teku",fork_digest="0x8c9f62fe"}"#),
        1.0
    );

    // a closed sink's refusals are counted
    drop(rx.recv().await);
    drop(rx);
    assert!(sink.send(attestation(b, 10, 9, true)).await.is_err());
    let text = encode(&registry);
    assert_eq!(value(&text, "valtrack_sink_errors_total"), Some(1.0));
}

#[tokio::test]
async fn the_endpoint_serves_the_registry_and_nothing_else() {
    let mut registry = registry();
    let metrics = EventMetrics::register(&mut registry);
    metrics.observe(&handshake(
        peer(3),
        1,
        "/ip4/1.2.3.4/tcp/9000",
        "Prysm/v5.0.0",
        4,
    ));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let served = tokio::spawn(serve(listener, Arc::new(registry), async {
        let _ = stopped.await;
    }));
    let get = |path: &'static str| async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        s.write_all(
            format!("GET {path} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n").as_bytes(),
        )
        .await
        .unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).await.unwrap();
        out
    };
    let ok = get("/metrics").await;
    assert!(ok.starts_with("HTTP/1.1 200"), "{ok}");
    assert!(ok.contains(CONTENT_TYPE), "{ok}");
    assert!(
        ok.contains(
            r#"valtrack_handshakes_total{result="ok",client="prysm",direction="outbound"} 1"#
        ),
        "{ok}"
    );
    let missing = get("/nope").await;
    assert!(missing.starts_with("HTTP/1.1 404"), "{missing}");
    stop.send(()).unwrap();
    served.await.unwrap().unwrap();
}

#[test]
fn store_collector_names_every_table() {
    let mut registry = registry();
    let stats = ParquetStats {
        published: [1, 2, 3, 4, 5],
        files: [1, 1, 1, 1, 2],
        held: 7,
        journaled: 6,
        write_errors: 1,
        fault: Some("disk full".into()),
    };
    registry.register_collector(Box::new(StoreCollector {
        stats: Box::new(move || stats.clone()),
    }));
    let text = encode(&registry);
    for kind in EventKind::ALL {
        assert!(
            text.contains(&format!(
                "valtrack_parquet_rows_total{{table=\"{}\"}}",
                kind.table()
            )),
            "{text}"
        );
    }
    assert_eq!(
        value(
            &text,
            r#"valtrack_parquet_files_total{table="peer_locations"}"#
        ),
        Some(2.0)
    );
    assert_eq!(value(&text, "valtrack_parquet_rows_held"), Some(7.0));
    assert_eq!(value(&text, "valtrack_parquet_failing"), Some(1.0));
    assert_eq!(
        value(&text, "valtrack_parquet_write_errors_total"),
        Some(1.0)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_process_collector_reports_memory_descriptors_threads_and_live_tasks() {
    let mut registry = registry();
    ProcessCollector::register(&mut registry);
    let before = encode(&registry);
    let tasks = |text: &str| value(text, "valtrack_runtime_alive_tasks").unwrap();
    let (stop, stopped) = tokio::sync::watch::channel(());
    let held: Vec<_> = (0..10)
        .map(|_| {
            let mut stopped = stopped.clone();
            tokio::spawn(async move { stopped.changed().await })
        })
        .collect();
    let files: Vec<_> = (0..5)
        .map(|_| std::fs::File::open("/proc/self/status").unwrap())
        .collect();
    let during = encode(&registry);
    assert_eq!(tasks(&during) - tasks(&before), 10.0, "{during}");
    let fds = |text: &str| value(text, "valtrack_process_open_fds").unwrap();
    // (other tests of this process open and close files meanwhile: no delta)
    assert!(fds(&during) >= 8.0, "{during}");
    assert!(value(&during, "valtrack_process_resident_memory_bytes").unwrap() > 1e6);
    assert!(value(&during, "valtrack_process_threads").unwrap() >= 2.0);
    drop((stop, files));
    for h in held {
        let _ = h.await;
    }
    assert_eq!(tasks(&encode(&registry)), tasks(&before));
}
