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

/// Runs the `valtrack` binary, returning its stderr; fails the test on a non-zero exit.
fn valtrack(args: &[&str]) -> String {
    let o = Command::new(env!("CARGO_BIN_EXE_valtrack"))
        .args(args)
        .env("NO_COLOR", "1")
        .env_remove("VALTRACK_NETWORK")
        .output()
        .expect("runs");
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(o.status.success(), "valtrack {args:?}:\n{err}");
    err
}

/// The number after `label ` in the last line containing it.
fn number_after(log: &str, label: &str) -> u64 {
    let line = log
        .lines()
        .rev()
        .find(|l| l.contains(label))
        .unwrap_or_default();
    line.split(label)
        .nth(1)
        .and_then(|rest| {
            rest.trim_start()
                .split(|c: char| !c.is_ascii_digit())
                .next()
        })
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no `{label}` in:\n{log}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sentry_over_a_simulated_network_to_nats_to_consumer_to_parquet() {
    let Some(server) = nats_harness::NatsServer::start() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (spool, out) = (dir.path().join("spool"), dir.path().join("data"));
    let url = server.url();
    let (sentry_log, consumer_log) = tokio::task::spawn_blocking({
        let (spool, out, url) = (
            spool.to_str().unwrap().to_owned(),
            out.to_str().unwrap().to_owned(),
            url.clone(),
        );
        move || {
            // --sink nats is implied by -n.
            let sentry = valtrack(&[
                "-n",
                &url,
                "sentry",
                "--network",
                "sim",
                "--sim-nodes",
                "20",
                "--duration",
                "12s",
                "--revisit-interval",
                "3s",
                "--spool-dir",
                &spool,
            ]);
            let consumer = valtrack(&[
                "-n",
                &url,
                "consumer",
                // the simulated network's estimates are dated by the peers' heads
                "--network",
                "sim",
                "--data-dir",
                &out,
                "--duration",
                "6s",
                "--name",
                "e2e",
            ]);
            (sentry, consumer)
        }
    })
    .await
    .unwrap();
    let sent = number_after(&sentry_log, "events");
    assert_eq!(number_after(&sentry_log, "sink errors"), 0, "{sentry_log}");
    assert_eq!(
        number_after(&consumer_log, "received"),
        sent,
        "{consumer_log}"
    );
    assert_eq!(
        number_after(&consumer_log, "written"),
        sent,
        "{consumer_log}"
    );

    // Read back in Rust: 20 nodes and the bootnode found once each, the rest handshakes.
    let ids = |table: &str| {
        recent_event_ids(&out.join(table), usize::MAX)
            .unwrap()
            .len() as u64
    };
    let discovered = ids("discovery_events");
    let handshakes = ids("metadata_events");
    assert_eq!(discovered, 21);
    assert_eq!(discovered + handshakes, sent);
    let estimates = ids("validator_metadata_events");
    assert!(
        estimates > 0 && estimates <= handshakes,
        "{estimates} of {handshakes}"
    );

    // And by an independent reader (pyarrow), with the column types checked.
    let py = Command::new("python3")
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/scripts/check_parquet.py"
        ))
        .arg(&out)
        .arg(format!("discovery_events={discovered}"))
        .arg(format!("metadata_events={handshakes}"))
        .arg(format!("validator_metadata_events={estimates}"))
        .output()
        .unwrap();
    assert!(
        py.status.success(),
        "{}{}",
        String::from_utf8_lossy(&py.stdout),
        String::from_utf8_lossy(&py.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consumer_process_killed_with_sigkill_loses_and_duplicates_nothing() {
    let Some(server) = nats_harness::NatsServer::start() else {
        return;
    };
    let spool = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    const N: u64 = 20_000;
    publish(&server.url(), spool.path(), (0..N).map(event)).await;
    // Kill -9 as soon as the first rows are durable, mid-stream.
    let mut child = Command::new(env!("CARGO_BIN_EXE_valtrack"))
        .args([
            "-n",
            &server.url(),
            "consumer",
            "--name",
            "sigkill",
            "--ack-wait",
            "8s",
            // Commits every 200 ms: the stream (20,000 events, processed in well under the
            // default 5 s) spans several, so the kill lands between two.
            "--commit-interval",
            "200ms",
        ])
        .arg("--data-dir")
        .arg(out.path())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let table = out.path().join("discovery_events");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let before = loop {
        let n = recent_event_ids(&table, usize::MAX).map_or(0, |ids| ids.len());
        if n > 0 {
            break n;
        }
        assert!(std::time::Instant::now() < deadline, "nothing written");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    assert!((before as u64) < N, "killed mid-stream ({before} of {N})");
    // Restarted (as often as it takes a loaded machine: messages the killed consumer held
    // come back after the ack wait) until every event is in.
    for _ in 0..8 {
        let (url, out_dir) = (server.url(), out.path().to_owned());
        tokio::task::spawn_blocking(move || {
            let o = Command::new(env!("CARGO_BIN_EXE_valtrack"))
                .args(["-n", &url, "consumer", "--name", "sigkill"])
                .args(["--ack-wait", "8s", "--duration", "12s", "--data-dir"])
                .arg(&out_dir)
                .output()
                .unwrap();
            let err = String::from_utf8_lossy(&o.stderr);
            eprintln!("{}", err.lines().last().unwrap_or_default());
            assert!(o.status.success(), "{err}");
        })
        .await
        .unwrap();
        if recent_event_ids(&table, usize::MAX).unwrap().len() as u64 >= N {
            break;
        }
    }
    // Every file readable (an unreadable one is an error here), every event exactly once.
    let ids = recent_event_ids(&table, usize::MAX).unwrap();
    let unique: std::collections::HashSet<&String> = ids.iter().collect();
    assert_eq!(unique.len() as u64, N, "lost rows");
    assert_eq!(ids.len() as u64, N, "duplicated rows");
}

/// Two sentries with one `--crawler-id` on one stream: the second is refused with one clear
/// line while the first runs; once the first stopped (its claim released), the id is free.
#[test]
fn a_second_sentry_with_the_same_id_is_refused() {
    let Some(server) = nats_harness::NatsServer::start() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let sentry = |spool: &str, duration: &str| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_valtrack"));
        c.args([
            "-n",
            &server.url(),
            "sentry",
            "--network",
            "sim",
            "--sim-nodes",
            "5",
        ])
        .args([
            "--crawler-id",
            "eu-1",
            "--duration",
            duration,
            "--spool-dir",
        ])
        .arg(dir.path().join(spool))
        .env("NO_COLOR", "1")
        .env_remove("VALTRACK_NETWORK")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped());
        c
    };
    let first = sentry("a", "12s").spawn().expect("runs");
    let first = KillOnDrop(Some(first));
    // the first has claimed the id once its stream exists
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let claimed = || {
        Command::new("sh")
            .arg("-c")
            .arg(format!(
                "ls {}/jetstream/\\$G/streams 2>/dev/null",
                server.store().display()
            ))
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).contains("valtrack_sentries"))
            .unwrap_or(false)
    };
    while !claimed() {
        assert!(
            std::time::Instant::now() < deadline,
            "the first sentry never claimed its id"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    // (the claims' stream is made just before the claim is written)
    std::thread::sleep(std::time::Duration::from_millis(500));
    let second = sentry("b", "2s").output().expect("runs");
    let err = String::from_utf8_lossy(&second.stderr).into_owned();
    assert_eq!(second.status.code(), Some(1), "{err}");
    let lines: Vec<&str> = err.lines().filter(|l| l.contains("error")).collect();
    assert_eq!(lines.len(), 1, "{err}");
    assert!(
        lines[0].contains("crawler id `eu-1` is in use by another running sentry"),
        "{err}"
    );
    let out = first.wait();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // released at the first's end: free again
    let third = sentry("c", "1s").output().expect("runs");
    assert!(
        third.status.success(),
        "{}",
        String::from_utf8_lossy(&third.stderr)
    );
}

/// Kills the child if the test fails before it is waited for.
struct KillOnDrop(Option<std::process::Child>);

impl KillOnDrop {
    fn wait(mut self) -> std::process::Output {
        self.0
            .take()
            .expect("child")
            .wait_with_output()
            .expect("waits")
    }
}

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
