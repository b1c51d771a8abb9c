//! The `valtrack` binary: help text shape and one clear error line for bad input.

use std::process::{Command, Output};

fn valtrack(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_valtrack"))
        .args(args)
        .env_remove("VALTRACK_NETWORK")
        .env_remove("VALTRACK_BOOTNODES")
        .output()
        .expect("runs")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn help_keeps_the_seed_shape() {
    let o = valtrack(&["--help"]);
    assert!(o.status.success());
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.starts_with("valtrack - Ethereum consensus validator tracking tool"),
        "{out}"
    );
    for needle in [
        "-l, --log-level",
        "[default: info]",
        "-n, --nats-url",
        "nats://localhost:4222",
        "JetStream",
        "sentry",
    ] {
        assert!(out.contains(needle), "help lacks {needle:?}:\n{out}");
    }
}

/// Runtime errors: exit 1, a single `error: …` line, no backtrace.
fn assert_one_error_line(o: &Output, needle: &str) {
    assert_eq!(o.status.code(), Some(1), "{}", stderr(o));
    let err = stderr(o);
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "expected one line, got:\n{err}");
    assert!(
        lines[0].starts_with("error: ") && lines[0].contains(needle),
        "{err}"
    );
    assert!(
        !err.contains("panicked") && !err.contains("backtrace"),
        "{err}"
    );
}

#[test]
fn bad_network_bootnodes_and_configs_are_one_line_errors() {
    let o = valtrack(&["sentry", "--network", "sepolia"]);
    assert_one_error_line(&o, "no built-in bootnodes for `sepolia`");
    let dir = std::env::temp_dir().join(format!("valtrack-cli-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("config.yaml"),
        "PRESET_BASE: 'minimal'\nALTAIR_FORK_EPOCH: [1]\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("genesis_validators_root.txt"),
        "0x".to_owned() + &"ab".repeat(32),
    )
    .unwrap();
    let o = valtrack(&["sentry", "--network", dir.to_str().unwrap()]);
    assert_one_error_line(&o, "config.yaml");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bad_flags_are_usage_errors() {
    for args in [
        &["sentry", "--sink", "kafka"][..],
        &["sentry", "--revisit-interval", "soon"],
        &["sentry", "--fork-digest", "xyz"],
        &["sentry", "--tcp-port", "70000"],
        // a beacon API only serves attestation attribution, and must be an http(s) URL
        &["sentry", "--beacon-api", "http://127.0.0.1:5052"],
        &["sentry", "--attestations", "--beacon-api", "localhost:5052"],
        &["run", "--attestations", "--beacon-api", "ftp://node/"],
        &["--log-level"],
        &["nosuchcommand"],
        // found while parsing, before anything starts (a simulated network included)
        &["run", "--network", "notanetwork"],
        &["consumer", "--network", "notanetwork"],
        &[
            "run",
            "--network",
            "sim",
            "--bootnodes",
            "enr:-Ku4QHqVe,enr:xyz",
        ],
        &["run", "--bootnodes", ","],
        &["run", "--concurrency", "0"],
        &["run", "--concurrency", "18446744073709551615"],
        &["run", "--revisit-interval", "1ns"],
        &["sentry", "--recrawl-interval", "10ms"],
        &["sentry", "-n", "notaurl"],
        &["-n", "nats://bad url:x", "sentry", "--sink", "nats"],
    ] {
        let o = valtrack(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(
            stderr(&o).starts_with("error: "),
            "{args:?}: {}",
            stderr(&o)
        );
        assert!(!stderr(&o).contains("panicked"));
    }
    let o = valtrack(&["--log-level", "[[", "sentry"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("invalid --log-level"), "{}", stderr(&o));
}

/// `valtrack run` over a simulated network of 20 nodes revisited every 2 s.
const SIM_20: [&str; 7] = [
    "run",
    "--network",
    "sim",
    "--sim-nodes",
    "20",
    "--revisit-interval",
    "2s",
];

/// Starts `valtrack ARGS --data-dir DIR` with its log lines sent to the returned channel.
fn spawn_logged(
    args: &[&str],
    dir: &std::path::Path,
) -> (std::process::Child, std::sync::mpsc::Receiver<String>) {
    use std::io::{BufRead, BufReader};
    let mut child = Command::new(env!("CARGO_BIN_EXE_valtrack"))
        .args(args)
        .arg("--data-dir")
        .arg(dir)
        .env_remove("VALTRACK_NETWORK")
        .env("NO_COLOR", "1")
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let piped = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::sync_channel(100_000);
    std::thread::spawn(move || {
        for line in BufReader::new(piped).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    (child, rx)
}

/// Parquet files under `dir/table`, each checked for the `PAR1` magic at both ends (a
/// complete file with its footer; the sink's own tests read the contents back).
fn parquet_files(dir: &std::path::Path, table: &str) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.join(table)];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "parquet") {
                let bytes = std::fs::read(&path).unwrap();
                assert!(
                    bytes.starts_with(b"PAR1") && bytes.ends_with(b"PAR1"),
                    "incomplete {}",
                    path.display()
                );
                out.push(path);
            }
        }
    }
    out
}

#[test]
fn run_over_a_simulated_network_stops_cleanly_on_ctrl_c() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, rx) = spawn_logged(&SIM_20, dir.path());
    // Wait for the first handshakes (summary lines come every 10 s), then Ctrl-C.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let mut log = Vec::new();
    while std::time::Instant::now() < deadline {
        if let Ok(line) = rx.recv_timeout(std::time::Duration::from_millis(200)) {
            let ready = line.contains("handshakes ok") && !line.contains("handshakes ok 0 ");
            log.push(line);
            if ready {
                break;
            }
        }
    }
    let pid = child.id().to_string();
    let killed = Command::new("kill").args(["-INT", &pid]).status().unwrap();
    assert!(killed.success());
    let status = child.wait().unwrap();
    log.extend(rx.try_iter());
    let log = log.join("\n");
    assert!(status.success(), "exit {status:?}\n{log}");
    assert!(log.contains("stopped:"), "{log}");
    let last = log.lines().last().unwrap_or_default();
    assert!(
        last.contains("written to") && last.contains("discovery_events 21"),
        "{log}"
    );
    assert!(!parquet_files(dir.path(), "discovery_events").is_empty());
    assert!(!parquet_files(dir.path(), "metadata_events").is_empty());
    assert!(!parquet_files(dir.path(), "validator_metadata_events").is_empty());
    assert!(dir.path().join("tracker.redb").is_file());
}

#[test]
fn bad_consumer_settings_are_one_line_errors() {
    let o = valtrack(&["consumer", "--batch-size", "0"]);
    assert_one_error_line(&o, "batch_size must be greater than zero");
    let o = valtrack(&["consumer", "--name", "a.b"]);
    assert_one_error_line(&o, "consumer name \"a.b\" is not a valid JetStream name");
    let o = valtrack(&["consumer", "--stream", "has space"]);
    assert_one_error_line(&o, "is not a valid JetStream name");
    let o = valtrack(&["consumer", "--batch-size", "many"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
}

/// `--nats-url` belongs to `sentry` and `consumer`, before or after the command; `run` uses
/// no NATS and refuses it.
#[test]
fn nats_url_is_for_the_commands_that_use_nats() {
    for command in ["sentry", "consumer"] {
        let o = valtrack(&[command, "--help"]);
        let out = String::from_utf8_lossy(&o.stdout);
        assert!(out.contains("-n, --nats-url"), "{command}: {out}");
    }
    let o = valtrack(&["run", "--help"]);
    assert!(!String::from_utf8_lossy(&o.stdout).contains("--nats-url"));
    let o = valtrack(&["-n", "nats://127.0.0.1:1", "run", "--network", "sim"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("`run` uses no NATS"), "{}", stderr(&o));
    let o = valtrack(&["run", "-n", "nats://127.0.0.1:1"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    // after the command, as before it: a bad URL is a usage error that names it
    let o = valtrack(&["sentry", "-n", "nats://bad url:x", "--sink", "nats"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("`nats://bad url:x` is not a NATS server URL"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn help_lists_the_consumer_and_the_nats_sink() {
    let o = valtrack(&["--help"]);
    assert!(String::from_utf8_lossy(&o.stdout).contains("consumer"));
    let o = valtrack(&["consumer", "--help"]);
    let out = String::from_utf8_lossy(&o.stdout);
    for needle in [
        "--output-dir",
        "./data",
        "--name",
        "valtrack-consumer",
        "--batch-size",
        "--stream",
    ] {
        assert!(
            out.contains(needle),
            "consumer help lacks {needle:?}:\n{out}"
        );
    }
    let o = valtrack(&["sentry", "--help"]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("`nats`") && out.contains("--spool-dir"),
        "{out}"
    );
}

/// A network directory in a fresh temporary folder: sepolia's consensus config and a
/// genesis validators root (no genesis.ssz, no bootnode list).
fn network_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("valtrack-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/valtrack-core/src/network/presets/sepolia.yaml"
        ),
        dir.join("config.yaml"),
    )
    .unwrap();
    std::fs::write(
        dir.join("genesis_validators_root.txt"),
        "0x".to_owned() + &"ab".repeat(32),
    )
    .unwrap();
    dir
}

#[test]
fn network_directory_bootnode_lists_and_genesis_time_errors_are_one_line() {
    let dir = network_dir("errors");
    let d = dir.to_str().unwrap();
    // (with --genesis-time: no warning about the clock before the error line)
    let o = valtrack(&["sentry", "--network", d, "--genesis-time", "1655733600"]);
    assert_one_error_line(&o, "no bootnodes for");
    assert!(stderr(&o).contains("bootstrap_nodes.txt"), "{}", stderr(&o));

    let good = valtrack::core::MAINNET_BOOTNODES[0];
    std::fs::write(
        dir.join("bootstrap_nodes.txt"),
        format!("# a comment\n{good}\nenr:-notanenr\n"),
    )
    .unwrap();
    let o = valtrack(&["sentry", "--network", d, "--genesis-time", "1655733600"]);
    assert_one_error_line(&o, "bootstrap_nodes.txt line 3: not a valid ENR");
    // --bootnodes overrides the directory's list, broken or not: the list is not read
    let events = dir.join("events.jsonl");
    let sink = format!("jsonl:{}", events.display());
    let mut args = vec!["sentry", "--network", d, "--genesis-time", "1655733600"];
    args.extend(["--bootnodes", good, "--duration", "1s", "--sink", &sink]);
    args.extend(LOOPBACK);
    let o = valtrack(&args);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    std::fs::write(dir.join("bootstrap_nodes.txt"), "# only comments\n\n").unwrap();
    let o = valtrack(&["sentry", "--network", d, "--genesis-time", "1655733600"]);
    assert_one_error_line(&o, "no ENRs in it");

    // --genesis-time is only for a directory, and must agree with its genesis.ssz
    let o = valtrack(&["sentry", "--network", "sepolia", "--genesis-time", "1"]);
    assert_one_error_line(&o, "--genesis-time is for a network directory");
    let o = valtrack(&["run", "--network", "sim", "--genesis-time", "1"]);
    assert_one_error_line(&o, "--genesis-time is for a network directory");
    let mut state = 1_700_000_000u64.to_le_bytes().to_vec();
    state.extend_from_slice(&[0xab; 32]);
    std::fs::write(dir.join("genesis.ssz"), state).unwrap();
    let o = valtrack(&["sentry", "--network", d, "--genesis-time", "1700000001"]);
    assert_one_error_line(&o, "--genesis-time 1700000001 disagrees with");
    let o = valtrack(&["sentry", "--network", d, "--genesis-time", "soon"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A network directory's `boot_enr.yaml` (the eth-clients layout: a YAML list, quoted or
/// not) gives the bootnodes, and `--genesis-time` its clock: the sentry starts, reports both
/// and stops cleanly (the bootnodes, mainnet's, are unreachable from loopback).
#[test]
fn a_network_directory_brings_its_bootnodes_and_genesis_time() {
    let dir = network_dir("bootnodes");
    let [a, b, ..] = valtrack::core::MAINNET_BOOTNODES else {
        panic!("mainnet has bootnodes")
    };
    std::fs::write(
        dir.join("boot_enr.yaml"),
        format!("# Teku team's bootnodes\n- {a}\n- \"{b}\" # quoted\n"),
    )
    .unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_valtrack"))
        .args(["-l", "info", "sentry", "--network", dir.to_str().unwrap()])
        .args(["--genesis-time", "1655733600"])
        .args(LOOPBACK)
        .args(["--duration", "1s", "--sink"])
        .arg(format!("jsonl:{}", dir.join("events.jsonl").display()))
        .env_remove("VALTRACK_NETWORK")
        .env_remove("VALTRACK_BOOTNODES")
        .env("NO_COLOR", "1")
        .output()
        .expect("runs");
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert!(
        err.contains("bootnodes from the network directory") && err.contains("bootnodes=2"),
        "{err}"
    );
    assert!(!err.contains("no genesis.ssz"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `valtrack sentry --sink stdout`: every line is one whole event, and each peer's
/// discovery comes before the handshakes it dials (one stdout handle keeps the sentry's
/// order). A second `--sink jsonl:…` receives the very same events; a sink given twice is
/// refused.
#[test]
fn the_stdout_sink_writes_whole_events_in_order() {
    let dir = network_dir("two-sinks");
    let copy = dir.join("copy.jsonl");
    let twice = valtrack(&[
        "sentry",
        "--network",
        "sim",
        "--sink",
        "stdout",
        "--sink",
        "stdout",
    ]);
    assert_one_error_line(&twice, "--sink stdout is given twice");
    let o = Command::new(env!("CARGO_BIN_EXE_valtrack"))
        .args([
            "-l",
            "warn",
            "sentry",
            "--network",
            "sim",
            "--sim-nodes",
            "20",
        ])
        .args(["--duration", "6s", "--sink", "stdout", "--sink"])
        .arg(format!("jsonl:{}", copy.display()))
        .env_remove("VALTRACK_NETWORK")
        .env_remove("VALTRACK_BOOTNODES")
        .output()
        .expect("runs");
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = String::from_utf8(o.stdout).expect("UTF-8");
    let copied = std::fs::read_to_string(&copy).unwrap();
    let ids = |text: &str| -> Vec<String> {
        let mut ids: Vec<String> = text
            .lines()
            .map(|l| {
                valtrack::core::Event::from_json(l.as_bytes())
                    .unwrap()
                    .meta()
                    .event_id
                    .clone()
            })
            .collect();
        ids.sort();
        ids
    };
    assert_eq!(ids(&out), ids(&copied), "both sinks got every event");
    std::fs::remove_dir_all(&dir).unwrap();
    let events: Vec<valtrack::core::Event> = out
        .lines()
        .map(|l| valtrack::core::Event::from_json(l.as_bytes()).expect("a whole event per line"))
        .collect();
    let mut discovered = std::collections::HashSet::new();
    let mut handshaken = 0;
    for e in &events {
        match e {
            valtrack::core::Event::Discovery(d) => {
                discovered.insert(d.meta.peer_id);
            }
            valtrack::core::Event::Metadata(m)
                if m.error.is_none()
                    && m.direction == valtrack::core::events::Direction::Outbound =>
            {
                handshaken += 1;
                assert!(
                    discovered.contains(&m.meta.peer_id),
                    "metadata before discovery for {}",
                    m.meta.peer_id
                );
            }
            _ => {}
        }
    }
    assert!(
        discovered.len() >= 15 && handshaken >= 15,
        "{discovered:?} {handshaken}"
    );
}

/// The number after `key ` in `line`.
fn number_after(line: &str, key: &str) -> Option<u64> {
    let rest = &line[line.find(&format!("{key} "))? + key.len() + 1..];
    rest.split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()
}

/// Rows in the tables under `dir` dated before `before_ms`.
fn rows_before(dir: &std::path::Path, before_ms: i64) -> u64 {
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    let mut n = 0;
    for table in [
        "discovery_events",
        "metadata_events",
        "validator_metadata_events",
    ] {
        for path in parquet_files(dir, table) {
            let reader =
                ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(&path).unwrap())
                    .unwrap()
                    .build()
                    .unwrap();
            for batch in reader {
                let batch = batch.unwrap();
                let ts = batch
                    .column_by_name("timestamp")
                    .unwrap()
                    .as_any()
                    .downcast_ref::<arrow::array::TimestampMillisecondArray>()
                    .unwrap();
                n += ts.iter().flatten().filter(|t| *t < before_ms).count() as u64;
            }
        }
    }
    n
}

/// `kill -9` loses no row a summary line said was on disk: rows synced to the journal
/// (every second) are published at the next start. README, "When the disk fails, and what a crash loses".
#[test]
fn kill_9_loses_no_row_reported_on_disk() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, rx) = spawn_logged(&SIM_20, dir.path());
    // The first summary that reports rows on disk, some of them only in journals (files
    // are published after 60 s): kill -9 at once.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let mut log = Vec::new();
    let mut claimed = None;
    while claimed.is_none() && std::time::Instant::now() < deadline {
        if let Ok(line) = rx.recv_timeout(std::time::Duration::from_millis(100)) {
            if let Some(on_disk) = number_after(&line, "rows on disk") {
                if on_disk > 0 && line.contains(" in journals)") {
                    claimed = Some(on_disk);
                }
            }
            log.push(line);
        }
    }
    let killed = Command::new("kill")
        .args(["-KILL", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    child.wait().unwrap();
    let log = log.join("\n");
    let claimed = claimed.unwrap_or_else(|| panic!("no summary with rows on disk\n{log}"));
    let restart_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    // The restart publishes the journals; rows it crawls itself are dated after the kill.
    let o = Command::new(env!("CARGO_BIN_EXE_valtrack"))
        .args(SIM_20)
        .args(["--duration", "1s", "--data-dir"])
        .arg(dir.path())
        .env_remove("VALTRACK_NETWORK")
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("publishing the rows of journals"),
        "{}",
        stderr(&o)
    );
    let recovered = rows_before(dir.path(), restart_ms);
    assert!(
        recovered >= claimed,
        "{recovered} rows on disk after kill -9, {claimed} claimed\n{log}"
    );
    eprintln!("kill -9: {claimed} rows reported on disk, {recovered} recovered");
}

/// A port in use names the flag that changes it.
#[test]
fn a_port_in_use_names_its_flag() {
    let taken = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let dir = tempfile::tempdir().unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_valtrack"))
        .args([
            "run",
            "--network",
            "sim",
            "--sim-nodes",
            "1",
            "--duration",
            "5s",
        ])
        .args([
            "--listen-addr",
            "127.0.0.1",
            "--discovery-port",
            &port,
            "--data-dir",
        ])
        .arg(dir.path())
        .env_remove("VALTRACK_NETWORK")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let last = stderr(&o).lines().last().unwrap_or_default().to_owned();
    assert!(
        last.starts_with("error: could not start discv5")
            && last.contains("choose another with --discovery-port"),
        "{}",
        stderr(&o)
    );
}

/// `valtrack sim` runs the simulated network alone and writes its network directory; a
/// `valtrack run` in another process, given the directory and the genesis time `sim`
/// printed, crawls it, handshakes its nodes and records their attestations; Ctrl-C stops
/// `sim` cleanly.
#[test]
fn a_sentry_in_another_process_crawls_valtrack_sim() {
    use std::io::{BufRead, BufReader};
    let dir = tempfile::tempdir().unwrap();
    let net = dir.path().join("net");
    let sim = Command::new(env!("CARGO_BIN_EXE_valtrack"))
        .args(["-l", "warn", "sim", "--sim-nodes", "20", "--attestations"])
        .arg("--out")
        .arg(&net)
        .env("NO_COLOR", "1")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut sim = KillOnDrop(Some(sim));
    let stdout = sim.0.as_mut().and_then(|c| c.stdout.take()).unwrap();
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).unwrap();
    let genesis = line
        .split_whitespace()
        .skip_while(|w| *w != "--genesis-time")
        .nth(1)
        .unwrap_or_else(|| panic!("no genesis time in {line:?}"))
        .to_owned();
    assert!(
        line.starts_with(&format!("valtrack run --network {}", net.display())),
        "{line}"
    );
    for file in [
        "config.yaml",
        "genesis_validators_root.txt",
        "bootstrap_nodes.txt",
    ] {
        assert!(net.join(file).is_file(), "{file}");
    }
    let (net_arg, data) = (net.to_str().unwrap(), dir.path().join("data"));
    let mut args = vec!["-l", "info", "run", "--network", net_arg];
    args.extend([
        "--genesis-time",
        &genesis,
        "--attestations",
        "--duration",
        "15s",
    ]);
    args.extend(LOOPBACK);
    args.extend(["--data-dir", data.to_str().unwrap()]);
    let run = valtrack(&args);
    let err = stderr(&run);
    assert_eq!(run.status.code(), Some(0), "{err}");
    assert!(!err.contains("no genesis.ssz"), "{err}");
    let stopped = err
        .lines()
        .find(|l| l.contains("stopped:"))
        .unwrap_or_default();
    let ok = number_after(stopped, "handshakes ok").unwrap_or(0);
    let attributed = number_after(stopped, "attributed").unwrap_or(0);
    assert!(ok >= 10, "{err}");
    assert!(attributed > 0, "{err}");
    assert_eq!(number_after(stopped, "undecodable"), Some(0), "{err}");
    let mut sim = sim.0.take().unwrap();
    let killed = Command::new("kill")
        .args(["-INT", &sim.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    assert!(sim.wait().unwrap().success());
}

/// Loopback and OS-chosen ports for a sentry under test.
const LOOPBACK: [&str; 8] = [
    "--listen-addr",
    "127.0.0.1",
    "--discovery-port",
    "0",
    "--tcp-port",
    "0",
    "--quic-port",
    "0",
];

/// A child process killed when dropped (a failing test leaves none behind).
struct KillOnDrop(Option<std::process::Child>);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if let Some(mut c) = self.0.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

#[test]
fn bad_database_urls_are_one_line_errors_without_the_password() {
    // (-l warn: the simulated network's start line comes first)
    let o = valtrack(&[
        "-l",
        "warn",
        "run",
        "--network",
        "sim",
        "--sim-nodes",
        "2",
        "--database",
        "postgres://valtrack:s3cret-pw@127.0.0.1:1/valtrack",
    ]);
    assert_one_error_line(
        &o,
        "cannot connect to the database postgres://127.0.0.1:1/valtrack",
    );
    assert!(!stderr(&o).contains("s3cret-pw"), "{}", stderr(&o));
    let o = valtrack(&[
        "-l",
        "warn",
        "run",
        "--network",
        "sim",
        "--database",
        "postgres://[::1",
    ]);
    assert_one_error_line(&o, "invalid database URL");
}

/// A database for one CLI test on the server `VALTRACK_TEST_DATABASE_URL` names (scripts/check
/// starts one), made and dropped with psql; the test fails without them.
struct TestDatabase {
    admin: String,
    name: String,
    url: String,
}

impl TestDatabase {
    fn new(tag: &str) -> Self {
        let admin = std::env::var("VALTRACK_TEST_DATABASE_URL").expect(
            "VALTRACK_TEST_DATABASE_URL names a PostgreSQL server (scripts/check starts one)",
        );
        let name = format!("vt_cli_{tag}_{}", std::process::id());
        psql(&admin, &format!("DROP DATABASE IF EXISTS {name}"));
        psql(&admin, &format!("CREATE DATABASE {name}"));
        let base = admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b);
        let url = format!("{base}/{name}");
        Self { admin, name, url }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let _ = Command::new("psql")
            .args([
                &self.admin,
                "-qAtXc",
                &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
            ])
            .output();
    }
}

fn psql(url: &str, sql: &str) -> String {
    let o = Command::new("psql")
        .args([url, "-qAtXc", sql])
        .output()
        .expect("psql runs (Debian's postgresql-client)");
    assert!(o.status.success(), "psql {sql}: {}", stderr(&o));
    String::from_utf8_lossy(&o.stdout).trim().to_owned()
}

#[test]
fn run_writes_the_tables_and_the_tracker_to_a_database() {
    let db = TestDatabase::new("run");
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let o = valtrack(&[
        "run",
        "--network",
        "sim",
        "--sim-nodes",
        "10",
        "--duration",
        "8s",
        "--data-dir",
        data.to_str().unwrap(),
        "--database",
        &db.url,
    ]);
    let err = stderr(&o);
    assert!(o.status.success(), "{err}");
    let last = err.lines().last().unwrap_or_default();
    assert!(last.contains("written to postgres://"), "{err}");
    let discovered: u64 = psql(&db.url, "SELECT count(*) FROM discovery_events")
        .parse()
        .unwrap();
    let handshakes: u64 = psql(&db.url, "SELECT count(*) FROM metadata_events")
        .parse()
        .unwrap();
    let peers: u64 = psql(&db.url, "SELECT count(*) FROM tracker_peers")
        .parse()
        .unwrap();
    assert!(
        discovered >= 10 && handshakes > 0,
        "{discovered} {handshakes}\n{err}"
    );
    assert_eq!(
        psql(
            &db.url,
            "SELECT count(DISTINCT peer_id) FROM discovery_events"
        )
        .parse::<u64>()
        .unwrap(),
        peers
    );
    assert!(
        last.contains(&format!("discovery_events {discovered},")),
        "{last}"
    );
    // Nothing went to the data directory.
    assert!(!data.exists(), "{}", data.display());
}
