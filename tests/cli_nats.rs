//! `valtrack consumer` against a real `nats-server -js`: events published with the library's
//! `NatsSink` end up in Parquet, once, across two runs of the command.

#[path = "../valtrack-sink/tests/it/nats_harness.rs"]
mod nats_harness;

use std::process::Command;

use valtrack::core::{Event, EventSink};
use valtrack::sink::{recent_event_ids, NatsConfig, NatsSink, NatsSinkConfig};

fn event(i: u64) -> Event {
    let json = format!(
        r#"{{"kind":"discovery","event_id":"{i:032x}","crawler_id":"c1","crawler_location":"eu",
          "timestamp":{},"peer_id":"16Uiu2HAm4oaDUR2JCEyotxAs7eEVkCVJffoBKiTs8So4HkERrdpW",
          "node_id":"ef4cf7caa876063f4b8a8d1dad0f58fe9cd0ce945abba6b85dbf31c5fac98269","enr":null,
          "reason":"first_seen","seq":{i},"class":"no_eth2","attnets":[3,4]}}"#,
        1_764_000_000_000 + i
    );
    Event::from_json(json.as_bytes()).expect("event parses")
}

async fn publish(url: &str, spool: &std::path::Path, events: impl Iterator<Item = Event>) {
    let config = NatsSinkConfig::builder(NatsConfig::builder(url).build().unwrap(), spool)
        .build()
        .unwrap();
    let sink = NatsSink::connect(config).await.unwrap();
    for e in events {
        sink.send(e).await.unwrap();
    }
    sink.close().await.unwrap();
    let spooled = std::fs::read_dir(spool).map_or(0, |d| d.count());
    assert_eq!(spooled, 0, "everything was published");
}

fn consumer(url: &str, out: &std::path::Path) {
    let o = Command::new(env!("CARGO_BIN_EXE_valtrack"))
        .args([
            "-n",
            url,
            "consumer",
            "--duration",
            "4s",
            "--name",
            "cli-test",
        ])
        .arg("--output-dir")
        .arg(out)
        .output()
        .expect("runs");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(err.contains("stopped: received"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_consumer_command_writes_each_event_once() {
    let Some(server) = nats_harness::NatsServer::start() else {
        return;
    };
    let spool = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    publish(&server.url(), spool.path(), (0..300).map(event)).await;
    tokio::task::spawn_blocking({
        let (url, out) = (server.url(), out.path().to_owned());
        move || consumer(&url, &out)
    })
    .await
    .unwrap();
    let ids = recent_event_ids(&out.path().join("discovery_events"), usize::MAX).unwrap();
    assert_eq!(ids.len(), 300);
    // 50 events again (the stream's duplicate window drops them) and 50 new ones; a second
    // run with the same consumer name resumes after the first
    publish(&server.url(), spool.path(), (250..350).map(event)).await;
    tokio::task::spawn_blocking({
        let (url, out) = (server.url(), out.path().to_owned());
        move || consumer(&url, &out)
    })
    .await
    .unwrap();
    let mut ids = recent_event_ids(&out.path().join("discovery_events"), usize::MAX).unwrap();
    ids.sort();
    let want: Vec<String> = (0..350).map(|i| format!("{i:032x}")).collect();
    assert_eq!(ids, want);
}
