//! What a person watches: the metrics through a real Prometheus, the Grafana dashboard's
//! queries, and the HTML report in a real browser.

#[path = "../valtrack-sink/tests/it/nats_harness.rs"]
mod nats_harness;

use nats_harness::free_port;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Kills the child when dropped (a failed assertion does not leave it running).
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A GET over plain HTTP/1.0; the body.
fn get(addr: SocketAddr, path: &str) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    write!(s, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let (head, body) = out.split_once("\r\n\r\n").unwrap_or((&out, ""));
    assert!(
        head.starts_with("HTTP/1.") && head.contains(" 200 "),
        "{path}: {head}"
    );
    body.to_owned()
}

/// Whether the server at `addr` answers `GET path` with 200 (Prometheus answers 503 until
/// its storage is ready, though it accepts connections before).
fn answers_200(addr: SocketAddr, path: &str) -> bool {
    let Ok(mut s) = TcpStream::connect(addr) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(20)));
    if write!(s, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").is_err() {
        return false;
    }
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out.lines().next().is_some_and(|l| l.contains(" 200 "))
}

/// Starts `valtrack run` over a simulated network with attestations, metrics and the API on
/// free ports; returns the process, the metrics address and the API's.
fn run_sim(data: &Path, duration: &str) -> (Killed, SocketAddr, SocketAddr) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_valtrack"))
        .args([
            "run",
            "--network",
            "sim",
            "--sim-nodes",
            "30",
            "--attestations",
        ])
        .args(["--duration", duration, "--metrics-listen", "127.0.0.1:0"])
        .args(["--api-listen", "127.0.0.1:0"])
        .arg("--data-dir")
        .arg(data)
        .env_remove("VALTRACK_NETWORK")
        .env("NO_COLOR", "1")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = BufReader::new(child.stderr.take().unwrap());
    let (tx, rx) = std::sync::mpsc::sync_channel(100_000);
    std::thread::spawn(move || {
        for line in stderr.lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let child = Killed(child);
    let deadline = Instant::now() + Duration::from_secs(60);
    let addr_after = |line: &str, what: &str| -> Option<SocketAddr> {
        let rest = line.split(what).nth(1)?.split("addr=").nth(1)?;
        rest.split_whitespace().next()?.parse().ok()
    };
    let (mut metrics, mut api) = (None, None);
    loop {
        let line = rx
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .expect("the run logs its metrics and API addresses within 60 s");
        metrics = metrics.or_else(|| addr_after(&line, "metrics listening"));
        api = api.or_else(|| addr_after(&line, "tracker API listening"));
        if let (Some(metrics), Some(api)) = (metrics, api) {
            // keep draining the log so the child never blocks on a full pipe
            std::thread::spawn(move || while rx.recv().is_ok() {});
            return (child, metrics, api);
        }
    }
}

/// Metric names (`valtrack_…`) in a Grafana dashboard's queries, without the histogram
/// suffixes.
fn dashboard_series(path: &Path) -> std::collections::BTreeSet<String> {
    let dashboard: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut exprs = Vec::new();
    fn walk(v: &serde_json::Value, out: &mut Vec<String>) {
        match v {
            serde_json::Value::Object(m) => {
                for (k, v) in m {
                    match (k.as_str(), v) {
                        ("expr", serde_json::Value::String(s)) => out.push(s.clone()),
                        _ => walk(v, out),
                    }
                }
            }
            serde_json::Value::Array(a) => a.iter().for_each(|v| walk(v, out)),
            _ => {}
        }
    }
    walk(&dashboard, &mut exprs);
    assert!(exprs.len() >= 20, "the dashboard has its queries");
    let mut names = std::collections::BTreeSet::new();
    for e in exprs {
        let mut rest = e.as_str();
        while let Some(i) = rest.find("valtrack_") {
            let tail = &rest[i..];
            let end = tail
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(tail.len());
            let name = &tail[..end];
            names.insert(name.trim_end_matches("_bucket").to_owned());
            rest = &tail[end..];
        }
    }
    names
}

/// Series names in an OpenMetrics text (histograms by their base name).
fn exposed_series(text: &str) -> std::collections::BTreeSet<String> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| l.split(['{', ' ']).next())
        .map(|n| {
            n.trim_end_matches("_bucket")
                .trim_end_matches("_sum")
                .trim_end_matches("_count")
                .to_owned()
        })
        .collect()
}

/// The series of the collectors `run` does not have (a NATS sink, a consumer), from the
/// library itself.
fn bus_series() -> std::collections::BTreeSet<String> {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let spool = tempfile::tempdir().unwrap();
        // nothing listens on port 1: the sink spools, which is all a collector needs
        let nats = valtrack::sink::NatsConfig::builder("nats://127.0.0.1:1")
            .build()
            .unwrap();
        let sink = valtrack::sink::NatsSink::connect(
            valtrack::sink::NatsSinkConfig::builder(nats.clone(), spool.path())
                .build()
                .unwrap(),
        )
        .await
        .unwrap();
        let consumer = valtrack::sink::consumer::Consumer::new(
            valtrack::sink::consumer::ConsumerConfig::builder(nats)
                .build()
                .unwrap(),
            valtrack::sink::StdoutSink::new(),
        );
        let mut registry = valtrack::sink::metrics::registry();
        valtrack::sink::metrics::NatsSinkCollector::register(&mut registry, &sink);
        valtrack::sink::metrics::ConsumerCollector::register(&mut registry, &consumer);
        exposed_series(&valtrack::sink::metrics::encode(&registry))
    })
}

/// A Prometheus query's result vector, as `(labels, value)`.
fn query(prom: SocketAddr, q: &str) -> Vec<(serde_json::Value, f64)> {
    let encoded: String = q
        .bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect();
    let body = get(prom, &format!("/api/v1/query?query={encoded}"));
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["status"], "success", "{body}");
    v["data"]["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let value = r["value"][1].as_str().unwrap().parse().unwrap();
            (r["metric"].clone(), value)
        })
        .collect()
}

fn sum_of(prom: SocketAddr, q: &str) -> f64 {
    query(prom, q).iter().map(|(_, v)| v).sum()
}

#[test]
fn a_real_prometheus_scrapes_the_series_and_they_rise() {
    let dir = tempfile::tempdir().unwrap();
    let (_run, metrics, api) = run_sim(&dir.path().join("data"), "150s");
    assert!(get(api, "/healthz").contains("ok"));

    let prom_port = free_port();
    let prom: SocketAddr = format!("127.0.0.1:{prom_port}").parse().unwrap();
    let config = dir.path().join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: valtrack\n    static_configs:\n      - targets: ['{metrics}']\n"
        ),
    )
    .unwrap();
    let prometheus = Command::new("prometheus")
        .arg(format!("--config.file={}", config.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.path().join("tsdb").display()
        ))
        .arg(format!("--web.listen-address={prom}"))
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.path().join("prometheus.log")).unwrap())
        .spawn()
        .expect("prometheus is installed (scripts/check installs Debian's package)");
    let _prometheus = Killed(prometheus);

    // The scrape target is up and every series the dashboard needs from `run` arrives.
    let deadline = Instant::now() + Duration::from_secs(90);
    let first = loop {
        let ready = answers_200(prom, "/-/ready")
            && sum_of(prom, "up{job=\"valtrack\"}") == 1.0
            && sum_of(prom, "valtrack_handshakes_total") > 0.0
            && sum_of(prom, "valtrack_gossip_attestations_received_total") > 0.0;
        if ready {
            break (
                sum_of(prom, "valtrack_handshakes_total"),
                sum_of(prom, "valtrack_gossip_attestations_received_total"),
                sum_of(prom, "valtrack_parquet_rows_total"),
            );
        }
        assert!(
            Instant::now() < deadline,
            "no handshakes and attestations scraped in 90 s: {}",
            std::fs::read_to_string(dir.path().join("prometheus.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(500));
    };
    // They rise: the handshakes (revisits), the attestations and the rows on disk.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let now = (
            sum_of(prom, "valtrack_handshakes_total"),
            sum_of(prom, "valtrack_gossip_attestations_received_total"),
            sum_of(prom, "valtrack_parquet_rows_total"),
        );
        if now.0 > first.0 && now.1 > first.1 && now.2 > first.2 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "series did not rise: {first:?} → {now:?}"
        );
        std::thread::sleep(Duration::from_secs(1));
    }
    // Labelled series: peers by client and fork digest, handshakes by result.
    let peers = query(prom, "sum by (client) (valtrack_peers)");
    assert!(peers.len() >= 3, "several clients: {peers:?}");
    assert!(!query(prom, "valtrack_handshakes_total{result=\"ok\"}").is_empty());
    // `--attestations` keeps the sentry out of every mesh, though the simulated nodes on its
    // subnets graft it.
    let links = query(prom, "valtrack_sentry_gossip_mesh_links");
    assert!(
        links.len() == 1 && links[0].1 == 0.0,
        "mesh links out of meshes: {links:?}"
    );
    let p99 = query(
        prom,
        "histogram_quantile(0.99, sum by (le) (valtrack_handshake_duration_seconds_bucket))",
    );
    assert!(
        p99.first().is_some_and(|(_, v)| v.is_finite() && *v > 0.0),
        "{p99:?}"
    );

    // The dashboard asks only for series valtrack exports: every one `run` has is in
    // Prometheus now, and the rest are the NATS sink's and the consumer's.
    let wanted =
        dashboard_series(&Path::new(env!("CARGO_MANIFEST_DIR")).join("dashboards/valtrack.json"));
    let from_run = exposed_series(&get(metrics, "/metrics"));
    let names: serde_json::Value =
        serde_json::from_str(&get(prom, "/api/v1/label/__name__/values")).unwrap();
    let in_prometheus: std::collections::BTreeSet<String> = names["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|n| n.as_str())
        .map(|n| n.trim_end_matches("_bucket").to_owned())
        .collect();
    let bus = bus_series();
    for name in &wanted {
        if from_run.contains(name) {
            assert!(
                in_prometheus.contains(name),
                "{name} exported but not scraped"
            );
        } else {
            assert!(
                bus.contains(name),
                "the dashboard asks for {name}, which valtrack does not export"
            );
        }
    }
    assert!(
        wanted.iter().any(|n| bus.contains(n)),
        "the bus panels are checked too"
    );
}

/// Runs `valtrack report` over `data` into `html`; its log (standard error).
fn report(data: &Path, html: &Path) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_valtrack"))
        .args(["report", "--data-dir"])
        .arg(data)
        .arg("--out")
        .arg(html)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{log}");
    log
}

/// Asserts that every number the report at `html` embeds equals a DuckDB query over `data`.
fn assert_duckdb_agrees(data: &Path, html: &Path) {
    let check = Command::new("python3")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/report_check.py"))
        .arg(data)
        .arg(html)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&check.stdout);
    assert!(
        check.status.success() && said.contains("agree"),
        "report vs DuckDB:\n{said}{}",
        String::from_utf8_lossy(&check.stderr)
    );
}

/// Bytes of a PNG's image data after inflating (zlib via Python's standard library), as
/// `(distinct byte values, share of bytes that are not white)`.
fn png_ink(path: &Path) -> (usize, f64) {
    let out = Command::new("python3")
        .arg("-c")
        .arg(
            "import sys,struct,zlib\n\
             b=open(sys.argv[1],'rb').read(); assert b[:8]==b'\\x89PNG\\r\\n\\x1a\\n'\n\
             i=8; idat=b''\n\
             while i<len(b):\n\
             \x20 n,=struct.unpack('>I',b[i:i+4]); t=b[i+4:i+8]\n\
             \x20 if t==b'IDAT': idat+=b[i+8:i+8+n]\n\
             \x20 i+=12+n\n\
             raw=zlib.decompress(idat)\n\
             print(len(set(raw)), sum(1 for x in raw if x!=255)/len(raw))",
        )
        .arg(path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let mut it = text.split_whitespace();
    (
        it.next().unwrap().parse().unwrap(),
        it.next().unwrap().parse().unwrap(),
    )
}

/// Headless Chromium as the machine's probe starts it (no sandbox as root, no background
/// networking: the machine has no outside network).
fn chromium(profile: &Path) -> Command {
    let mut c = Command::new("chromium");
    c.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
    ])
    .arg(format!("--user-data-dir={}", profile.display()))
    .stdin(Stdio::null());
    c
}

#[test]
fn the_report_agrees_with_duckdb_and_renders_its_charts_in_chromium() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (mut run, _, _) = run_sim(&data, "45s");
    let status = run.0.wait().unwrap();
    assert!(status.success(), "the run ends cleanly: {status}");

    let html = dir.path().join("report.html");
    let plain = report(&data, &html);
    assert!(
        plain.contains("report written") && !plain.contains('\x1b'),
        "off a terminal, plain lines: {plain}"
    );
    // On a terminal (util-linux `script` gives it one) the rows read are shown as it goes.
    let command = format!(
        "{} report --data-dir {} --out {}",
        env!("CARGO_BIN_EXE_valtrack"),
        data.display(),
        dir.path().join("tty.html").display()
    );
    let tty = Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let shown = String::from_utf8_lossy(&tty.stdout);
    assert!(tty.status.success(), "{shown}");
    assert!(
        shown.contains("\r\x1b[2Kreading discovery_events: ") && shown.contains("report written"),
        "progress on a terminal: {shown:?}"
    );
    let page = std::fs::read_to_string(&html).unwrap();
    for fetch in ["src=", "href=", "url(", "@import"] {
        assert!(
            !page.contains(fetch),
            "self-contained: no `{fetch}` in the page"
        );
    }

    // Every number the report shows equals a DuckDB query over the same files.
    assert_duckdb_agrees(&data, &html);

    // The page as the browser builds it: the charts are there with their marks.
    let url = format!("file://{}", html.display());
    let dom = chromium(&dir.path().join("profile-dom"))
        .arg("--dump-dom")
        .arg(&url)
        .output()
        .expect("chromium is installed (scripts/check installs Debian's package)");
    assert!(
        dom.status.success(),
        "{}",
        String::from_utf8_lossy(&dom.stderr)
    );
    let dom = String::from_utf8_lossy(&dom.stdout);
    let svgs = dom.matches("<svg").count();
    assert!(svgs >= 10, "{svgs} charts in the DOM");
    assert!(dom.matches("<rect").count() >= 30, "bars drawn");
    assert!(dom.contains("<polyline"), "lines drawn");
    for heading in [
        "Clients",
        "Validators per node",
        "Crawl coverage",
        "Attestations",
    ] {
        assert!(dom.contains(&format!("<h2>{heading}</h2>")), "{heading}");
    }
    assert!(dom.contains("lighthouse"), "client names shown");

    // And as a person sees it: a screenshot with ink on it.
    let png = dir.path().join("report.png");
    let shot = chromium(&dir.path().join("profile-shot"))
        .arg("--window-size=1400,2400")
        .arg(format!("--screenshot={}", png.display()))
        .arg(&url)
        .output()
        .unwrap();
    assert!(
        shot.status.success(),
        "{}",
        String::from_utf8_lossy(&shot.stderr)
    );
    let (distinct, ink) = png_ink(&png);
    assert!(
        distinct >= 32 && ink > 0.02,
        "the screenshot is not blank: {distinct} byte values, {ink:.3} ink"
    );
}

/// The report's "Where" section over located peers (a simulated network is all loopback, so
/// the run above has none): peer_locations rows written by the library's own Parquet sink,
/// the latest per peer counted, and the numbers checked by DuckDB.
#[tokio::test]
async fn located_peers_are_counted_once_by_their_latest_place() {
    use valtrack::core::events::PeerLocationEvent;
    use valtrack::core::{EnrInfo, Event, EventKind, EventMeta, EventSink, Location};
    use valtrack::sink::{ParquetSink, ParquetSinkConfig};

    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let sink = ParquetSink::open(ParquetSinkConfig::builder(&data).build().unwrap()).unwrap();
    let peers: Vec<_> = valtrack::core::network::MAINNET_BOOTNODES
        .iter()
        .take(4)
        .map(|e| e.parse::<EnrInfo>().unwrap().peer_id)
        .collect();
    // peer 0 moves from DE to US (latest counts); peers 1-2 in DE (one hosted); peer 3 unknown
    let rows = [
        (
            0,
            1_000,
            Some("DE"),
            Some((24940, "Hetzner Online GmbH")),
            true,
        ),
        (
            0,
            2_000,
            Some("US"),
            Some((16509, "Amazon.com, Inc.")),
            true,
        ),
        (
            1,
            1_500,
            Some("DE"),
            Some((3320, "Deutsche Telekom AG")),
            false,
        ),
        (
            2,
            1_500,
            Some("DE"),
            Some((24940, "Hetzner Online GmbH")),
            true,
        ),
        (3, 1_700, None, None, false),
    ];
    for (i, (p, ts, country, asn, hosting)) in rows.into_iter().enumerate() {
        let mut location = Location::unknown("88.198.1.1".parse().unwrap());
        location.country = country.map(str::to_owned);
        location.asn = asn.map(|a| a.0);
        location.as_org = asn.map(|a| a.1.to_owned());
        location.hosting = hosting;
        let meta = EventMeta::new(
            EventKind::PeerLocation,
            "s1",
            "eu",
            ts,
            peers[p],
            None,
            &(i as u64).to_le_bytes(),
        );
        sink.send(Event::PeerLocation(PeerLocationEvent { meta, location }))
            .await
            .unwrap();
    }
    sink.flush().await.unwrap();
    drop(sink);

    let html = dir.path().join("report.html");
    report(&data, &html);
    let page = std::fs::read_to_string(&html).unwrap();
    let start = page.find("id=\"valtrack-report-data\">").unwrap() + 26;
    let json: serde_json::Value =
        serde_json::from_str(&page[start..start + page[start..].find("</script>").unwrap()])
            .unwrap();
    assert_eq!(
        json["countries"],
        serde_json::json!([["DE", 2], ["US", 1], ["unknown", 1]])
    );
    assert_eq!(
        json["hosting"],
        serde_json::json!([["hosting", 2], ["not hosting", 2]])
    );
    assert_eq!(
        json["asns"][0],
        serde_json::json!(["AS16509 Amazon.com, Inc.", 1])
    );
    assert!(page.contains("<h2>Where</h2>") && page.contains("Hosting providers"));
    assert_duckdb_agrees(&data, &html);
}
