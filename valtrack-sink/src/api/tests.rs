//! The API over real HTTP on port 0, with a minimal HTTP/1.1 client (no client crate needed).

use std::net::SocketAddr;
use std::path::Path;

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use valtrack_core::events::DiscoveryReason;

use valtrack_core::Event;

use super::{serve, ApiKeys, Arc, TrackerSource};
use crate::geoip::GeoIp;
use crate::tracker::fixtures::{attestation, discovery, estimate, failure, handshake, peer};
use crate::tracker::{TrackerConfig, TrackerStore};

const KEY: &str = "admin-key-0123456789";

struct Server {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Server {
    async fn start(store: TrackerSource) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = oneshot::channel();
        let keys = ApiKeys::from_keys([KEY]).unwrap();
        let task = tokio::spawn(serve(listener, store, keys, async {
            let _ = rx.await;
        }));
        Self {
            addr,
            stop: Some(tx),
            task,
        }
    }

    async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        (&mut self.task).await.unwrap().unwrap();
    }

    /// GET `path`; returns the status and the JSON body.
    async fn get(&self, path: &str, key: Option<&str>) -> (u16, Value) {
        self.request("GET", path, key).await
    }

    /// `method` `path` (no body); returns the status and the JSON body.
    async fn request(&self, method: &str, path: &str, key: Option<&str>) -> (u16, Value) {
        let mut stream = TcpStream::connect(self.addr).await.unwrap();
        let key = key.map_or(String::new(), |k| format!("X-API-Key: {k}\r\n"));
        let req = format!(
            "{method} {path} HTTP/1.1\r\nHost: test\r\n{key}Content-Length: 0\r\nConnection: close\r\n\r\n"
        );
        stream.write_all(req.as_bytes()).await.unwrap();
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).await.unwrap();
        let text = String::from_utf8(raw).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        let status: u16 = head.split(' ').nth(1).unwrap().parse().unwrap();
        let chunked = head
            .to_ascii_lowercase()
            .contains("transfer-encoding: chunked");
        let body = if chunked {
            dechunk(body)
        } else {
            body.to_owned()
        };
        let json = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body:?}"));
        (status, json)
    }
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap();
        if n == 0 {
            break;
        }
        out.push_str(&rest[..n]);
        body = &rest[n + 2..];
    }
    out
}

fn testdata(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata")
        .join(name)
}

/// The stores the suite runs against: every test of the API's answers runs on both, so
/// the two answer alike.
#[derive(Debug, Clone, Copy)]
enum Backend {
    Embedded,
    #[cfg(feature = "postgres")]
    Postgres,
}

/// A tracker store of one backend, and what keeps it alive.
struct TestStore {
    embedded: Option<Arc<TrackerStore>>,
    #[cfg(feature = "postgres")]
    pg: Option<Arc<crate::PgStore>>,
    #[cfg(feature = "postgres")]
    _db: Option<crate::postgres::testdb::TestDb>,
    dir: tempfile::TempDir,
    config: TrackerConfig,
}

impl TestStore {
    async fn open(backend: Backend) -> Self {
        Self::open_with(backend, TrackerConfig::default()).await
    }

    async fn open_with(backend: Backend, config: TrackerConfig) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Self {
            embedded: None,
            #[cfg(feature = "postgres")]
            pg: None,
            #[cfg(feature = "postgres")]
            _db: None,
            dir,
            config,
        };
        match backend {
            Backend::Embedded => {
                store.embedded = Some(Arc::new(
                    TrackerStore::open_with(store.dir.path().join("t.redb"), config).unwrap(),
                ));
            }
            #[cfg(feature = "postgres")]
            Backend::Postgres => {
                let db = crate::postgres::testdb::TestDb::new().await;
                let pg = crate::PgStore::connect_with(
                    &db.url,
                    crate::PgStoreConfig {
                        tracker: config,
                        ..Default::default()
                    },
                )
                .await
                .unwrap();
                store.pg = Some(Arc::new(pg));
                store._db = Some(db);
            }
        }
        store
    }

    fn source(&self) -> TrackerSource {
        #[cfg(feature = "postgres")]
        if let Some(pg) = &self.pg {
            return TrackerSource::from(pg.clone());
        }
        TrackerSource::from(self.embedded.clone().expect("one backend is open"))
    }

    /// Applies `events` as the store's writer does (durably).
    async fn apply(&self, events: Vec<Event>, geoip: Option<Arc<GeoIp>>) {
        if let Some(store) = &self.embedded {
            let store = store.clone();
            tokio::task::spawn_blocking(move || {
                store.apply_all(&events, geoip.as_deref()).unwrap();
                store.sync().unwrap();
            })
            .await
            .unwrap();
            return;
        }
        #[cfg(feature = "postgres")]
        if let Some(pg) = &self.pg {
            use valtrack_core::EventSink;
            let sink = crate::PgSink::new(pg.clone(), crate::PgWrites::all(), geoip);
            for e in events {
                sink.send(e).await.unwrap();
            }
            sink.flush().await.unwrap();
        }
    }

    /// The same store, closed and opened again.
    async fn reopen(mut self) -> Self {
        if let Some(store) = self.embedded.take() {
            drop(store);
            self.embedded = Some(Arc::new(
                TrackerStore::open_with(self.dir.path().join("t.redb"), self.config).unwrap(),
            ));
        }
        #[cfg(feature = "postgres")]
        if let (Some(pg), Some(db)) = (self.pg.take(), &self._db) {
            drop(pg);
            let pg = crate::PgStore::connect_with(
                &db.url,
                crate::PgStoreConfig {
                    tracker: self.config,
                    ..Default::default()
                },
            )
            .await
            .unwrap();
            self.pg = Some(Arc::new(pg));
        }
        self
    }
}

/// Runs each listed `async fn(Backend)` as a test per backend:
/// `api::tests::embedded::NAME` and `api::tests::postgres::NAME`.
macro_rules! on_both_stores {
    ($($name:ident),* $(,)?) => {
        mod embedded {
            $(#[tokio::test]
            async fn $name() {
                super::$name(super::Backend::Embedded).await;
            })*
        }
        #[cfg(feature = "postgres")]
        mod postgres {
            $(#[tokio::test]
            async fn $name() {
                super::$name(super::Backend::Postgres).await;
            })*
        }
    };
}

on_both_stores!(
    public_and_admin_views_and_errors,
    unknown_routes_and_methods_are_json_errors,
    stats_are_reused_briefly_then_recomputed,
    data_survives_a_restart,
    a_peer_id_shaped_right_but_off_the_curve_is_not_known,
    other_methods_are_405_whatever_the_key,
);

fn test_geoip() -> Arc<GeoIp> {
    Arc::new(
        GeoIp::open(
            Some(&testdata("test-city.mmdb")),
            Some(&testdata("test-asn.mmdb")),
        )
        .unwrap(),
    )
}

/// A store with two located peers, estimates and a handshake.
async fn populate(store: &TestStore) {
    let agent = "Lighthouse/v5.3.0-2e0eb6d/x86_64-linux";
    let events = vec![
        handshake(peer(1), 1_000, "/ip4/88.198.1.1/tcp/9000", agent, 10),
        discovery(peer(1), 1_100, "88.198.1.1", DiscoveryReason::SeqChanged),
        discovery(peer(2), 1_200, "81.2.69.160", DiscoveryReason::FirstSeen),
        // 2026-01-01T00:00:00Z = 1_767_225_600_000 ms.
        estimate(peer(1), 1_767_225_600_000, 100, 10),
        estimate(peer(1), 1_767_225_700_000, 101, 11),
        estimate(peer(2), 1_767_225_800_000, 101, 3),
    ];
    store.apply(events, Some(test_geoip())).await;
}

async fn public_and_admin_views_and_errors(backend: Backend) {
    let store = TestStore::open(backend).await;
    populate(&store).await;
    let server = Server::start(store.source()).await;
    let p1 = peer(1).to_string();

    let (status, body) = server.get("/healthz", None).await;
    assert_eq!((status, body["status"].as_str()), (200, Some("ok")));

    // Public view of one peer: no IP, ENR, multiaddr; coordinates rounded.
    let (status, body) = server.get(&format!("/peers/{p1}"), None).await;
    assert_eq!(status, 200, "{body}");
    let p = &body["peer"];
    assert_eq!(p["peer_id"].as_str(), Some(p1.as_str()));
    assert!(
        p["ip"].is_null() && p["enr"].is_null() && p["multiaddr"].is_null(),
        "{p}"
    );
    assert_eq!(p["location"]["ip"].as_str(), Some("0.0.0.0"));
    assert_eq!(p["location"]["latitude"].as_f64(), Some(50.5));
    assert_eq!(p["location"]["longitude"].as_f64(), Some(12.4));
    assert_eq!(p["location"]["country"].as_str(), Some("DE"));
    assert_eq!(p["location"]["hosting"].as_bool(), Some(true));
    assert_eq!(p["estimate"]["estimated_validators"].as_u64(), Some(11));
    let epochs: Vec<_> = body["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["epoch"].as_u64().unwrap())
        .collect();
    assert_eq!(epochs, vec![101, 100]);

    // Admin view: everything.
    let (status, body) = server.get(&format!("/peers/{p1}"), Some(KEY)).await;
    assert_eq!(status, 200);
    let p = &body["peer"];
    assert_eq!(p["ip"].as_str(), Some("88.198.1.1"));
    assert_eq!(p["enr"].as_str(), Some("enr:-test"));
    assert_eq!(p["multiaddr"].as_str(), Some("/ip4/88.198.1.1/tcp/9000"));
    assert_eq!(p["location"]["latitude"].as_f64(), Some(50.4779));

    // Wrong key: 401, on every route.
    for path in ["/healthz", "/peers", "/stats", &format!("/peers/{p1}")] {
        let (status, body) = server.get(path, Some("not-the-admin-key-at-all")).await;
        assert_eq!(status, 401, "{path}");
        assert_eq!(body["error"].as_str(), Some("invalid API key"));
    }

    // Unknown and malformed peers.
    let (status, body) = server.get(&format!("/peers/{}", peer(3)), None).await;
    assert_eq!(status, 404);
    assert!(body["error"].as_str().unwrap().contains("not known"));
    let (status, body) = server.get("/peers/not-a-peer-id", None).await;
    assert_eq!(status, 400);
    assert!(body["error"]
        .as_str()
        .unwrap()
        .contains("malformed peer id"));

    // Pages.
    let (status, body) = server.get("/peers?limit=1&offset=1", None).await;
    assert_eq!(status, 200);
    assert_eq!(body["total"].as_u64(), Some(2));
    assert_eq!(body["peers"].as_array().unwrap().len(), 1);
    assert!(body["peers"][0]["ip"].is_null());
    let (_, body) = server.get("/peers", Some(KEY)).await;
    assert_eq!(body["peers"].as_array().unwrap().len(), 2);
    assert!(body["peers"]
        .as_array()
        .unwrap()
        .iter()
        .all(|p| !p["ip"].is_null()));
    for bad in [
        "/peers?limit=x",
        "/peers?limit=0",
        "/peers?limit=100000000",
        "/peers?offset=-1",
    ] {
        let (status, body) = server.get(bad, None).await;
        assert_eq!(status, 400, "{bad}");
        assert!(body["error"].is_string());
    }

    // Validators in windows, RFC 3339 or unix ms.
    let (status, body) = server.get("/validators", None).await;
    assert_eq!((status, body["count"].as_u64()), (200, Some(3)));
    let (_, body) = server
        .get(
            "/validators?from=2026-01-01T00:01:00Z&to=1767225750000",
            None,
        )
        .await;
    assert_eq!(body["count"].as_u64(), Some(1));
    assert_eq!(body["estimates"][0]["epoch"].as_u64(), Some(101));
    assert_eq!(
        body["estimates"][0]["estimated_validators"].as_u64(),
        Some(11)
    );
    assert_eq!(body["from"].as_u64(), Some(1_767_225_660_000));
    let (_, body) = server.get("/validators?limit=2", None).await;
    assert_eq!(body["count"].as_u64(), Some(2));
    // No upper bound given: `to` is null, not u64::MAX. A confidence prints as the f32 it
    // is (0.65), not its f64 widening (0.6499999761581421).
    assert!(body["to"].is_null(), "{body}");
    for e in body["estimates"].as_array().unwrap() {
        let c = e["confidence"].as_f64().unwrap();
        assert_eq!(c, format!("{}", c as f32).parse::<f64>().unwrap(), "{e}");
    }
    // Before 1970 is the start of time, not an error.
    let (status, body) = server
        .get("/validators?from=1969-07-20T20:17:40Z", None)
        .await;
    assert_eq!((status, body["from"].as_u64()), (200, Some(0)), "{body}");
    assert_eq!(body["count"].as_u64(), Some(3));
    for bad in [
        "/validators?from=yesterday",
        "/validators?to=2026-13-01T00:00:00Z",
        "/validators?from=99999999999999999999999",
        "/validators?from=2000&to=1000",
        "/validators?limit=0",
        "/validators?from=%ZZ",
    ] {
        let (status, body) = server.get(bad, None).await;
        assert_eq!(status, 400, "{bad}: {body}");
        assert!(body["error"].is_string(), "{bad}");
    }

    // Stats.
    let (status, body) = server.get("/stats", None).await;
    assert_eq!(status, 200);
    assert_eq!(body["peers"].as_u64(), Some(2));
    assert_eq!(body["clients"]["lighthouse"].as_u64(), Some(1));
    assert_eq!(body["countries"]["DE"].as_u64(), Some(1));
    assert_eq!(body["countries"]["GB"].as_u64(), Some(1));
    assert_eq!(body["asns"]["AS24940"].as_u64(), Some(1));
    assert_eq!(body["fork_digests"]["8c9f62fe"].as_u64(), Some(1));
    assert_eq!(body["estimated_validators"].as_u64(), Some(14));
    // A lower bound; the custody bounds (287 ETH: 8 validators) allow up to 11 + 8.
    assert_eq!(body["estimated_validators_max"].as_u64(), Some(19));
    assert_eq!(body["peers_unbounded"].as_u64(), Some(0));

    // Past the last page: empty, with the total.
    let (status, body) = server.get("/peers?offset=18446744073709551615", None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["total"].as_u64(), Some(2));
    assert_eq!(body["peers"].as_array().map(Vec::len), Some(0));

    server.stop().await;
}

/// Unknown routes and methods other than GET answer in JSON too, as the module docs promise.
async fn unknown_routes_and_methods_are_json_errors(backend: Backend) {
    let store = TestStore::open(backend).await;
    let server = Server::start(store.source()).await;
    let (status, body) = server.get("/nosuchroute", None).await;
    assert_eq!(status, 404);
    assert!(body["error"].is_string(), "{body}");
    let (status, body) = server.request("POST", "/stats", None).await;
    assert_eq!(status, 405);
    assert!(body["error"].is_string(), "{body}");
    // A path that is not UTF-8 once decoded.
    let (status, body) = server.get("/peers/%ff%fe", None).await;
    assert_eq!(status, 400);
    assert!(body["error"].is_string(), "{body}");
    server.stop().await;
}

/// A client that sends its headers slowly, or keeps a connection idle, is cut off after
/// `HEADER_READ_TIMEOUT`, so such sockets cannot pile up.
#[tokio::test]
async fn slow_headers_and_idle_connections_are_closed() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(TrackerStore::open(dir.path().join("t.redb")).unwrap());
    let server = Server::start(store.into()).await;
    let mut slow = TcpStream::connect(server.addr).await.unwrap();
    slow.write_all(b"GET /stats HTTP/1.1\r\nHost: te")
        .await
        .unwrap();
    let mut idle = TcpStream::connect(server.addr).await.unwrap();
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n")
        .await
        .unwrap();
    let mut first = [0u8; 12];
    idle.read_exact(&mut first).await.unwrap();
    assert_eq!(&first, b"HTTP/1.1 200");
    let bound = crate::HEADER_READ_TIMEOUT + std::time::Duration::from_secs(5);
    for (name, stream) in [("slow", &mut slow), ("idle", &mut idle)] {
        let closed = tokio::time::timeout(bound, async {
            let mut rest = Vec::new();
            stream.read_to_end(&mut rest).await.map(|_| rest)
        })
        .await;
        assert!(
            closed.is_ok(),
            "{name} connection still open after {bound:?}"
        );
    }
    server.stop().await;
}

/// `/stats` reads every peer record, so an answer is reused for a while, then recomputed.
async fn stats_are_reused_briefly_then_recomputed(backend: Backend) {
    let store = TestStore::open(backend).await;
    populate(&store).await;
    let server = Server::start(store.source()).await;
    let asked = std::time::Instant::now();
    let (_, body) = server.get("/stats", None).await;
    assert_eq!(body["peers"].as_u64(), Some(2));
    store
        .apply(
            vec![discovery(
                peer(3),
                1_300,
                "81.2.69.161",
                DiscoveryReason::FirstSeen,
            )],
            None,
        )
        .await;
    let (_, body) = server.get("/stats", None).await;
    if asked.elapsed() < std::time::Duration::from_millis(1500) {
        assert_eq!(body["peers"].as_u64(), Some(2), "reused");
    }
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let (_, body) = server.get("/stats", None).await;
    assert_eq!(body["peers"].as_u64(), Some(3), "recomputed");
    // many at once: each waits for a query slot, none is refused
    let answers = futures::future::join_all((0..20).map(|_| server.get("/peers", None))).await;
    assert!(answers.iter().all(|(status, _)| *status == 200));
    server.stop().await;
}

#[tokio::test]
async fn openapi_lists_every_route_and_parameter() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(TrackerStore::open(dir.path().join("t.redb")).unwrap());
    let server = Server::start(store.into()).await;
    let (status, doc) = server.get("/openapi.json", None).await;
    assert_eq!(status, 200);
    assert_eq!(doc["openapi"].as_str(), Some("3.0.3"));
    let params = |path: &str| -> Vec<String> {
        doc["paths"][path]["get"]["parameters"]
            .as_array()
            .unwrap_or_else(|| panic!("{path} missing"))
            .iter()
            .map(|p| p["name"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(params("/validators"), ["from", "to", "limit", "X-API-Key"]);
    assert_eq!(params("/peers"), ["limit", "offset", "X-API-Key"]);
    assert_eq!(params("/peers/{peer_id}"), ["peer_id", "X-API-Key"]);
    for path in ["/stats", "/healthz", "/openapi.json"] {
        assert_eq!(params(path), ["X-API-Key"]);
    }
    assert_eq!(doc["paths"].as_object().unwrap().len(), 6);
    // Every schema reference resolves.
    let text = doc.to_string();
    for r in text.split("\"$ref\":\"#/components/schemas/").skip(1) {
        let name = r.split('"').next().unwrap();
        assert!(doc["components"]["schemas"][name].is_object(), "{name}");
    }
    server.stop().await;
}

async fn data_survives_a_restart(backend: Backend) {
    let store = TestStore::open(backend).await;
    populate(&store).await;
    {
        let server = Server::start(store.source()).await;
        let (_, body) = server.get("/stats", None).await;
        assert_eq!(body["peers"].as_u64(), Some(2));
        server.stop().await;
    }
    let store = store.reopen().await;
    let server = Server::start(store.source()).await;
    let (status, body) = server.get(&format!("/peers/{}", peer(2)), Some(KEY)).await;
    assert_eq!(status, 200);
    assert_eq!(body["peer"]["ip"].as_str(), Some("81.2.69.160"));
    assert_eq!(
        body["peer"]["estimate"]["estimated_validators"].as_u64(),
        Some(3)
    );
    let (_, body) = server.get("/validators", None).await;
    assert_eq!(body["count"].as_u64(), Some(3));
    server.stop().await;
}

#[test]
fn rfc3339_times_take_any_utc_offset() {
    let z = super::parse_time("from", "2026-01-07T01:01:11Z").unwrap();
    assert_eq!(
        super::parse_time("from", "2026-01-07T03:01:11+02:00").unwrap(),
        z
    );
    assert_eq!(
        super::parse_time("from", "2026-01-06T12:54:11-12:07").unwrap(),
        z
    );
    assert_eq!(
        super::parse_time("from", "2026-01-07T01:01:11.5+00:00").unwrap(),
        z + 500
    );
    // before 1970 once shifted: the start
    assert_eq!(
        super::parse_time("from", "1970-01-01T00:00:00+01:00").unwrap(),
        0
    );
    // a multi-byte character where an offset would be: an error, not a panic
    assert!(super::parse_time("from", "2026-01-07T01:01:1é1:11").is_err());
}

async fn a_peer_id_shaped_right_but_off_the_curve_is_not_known(backend: Backend) {
    let store = TestStore::open(backend).await;
    let server = Server::start(store.source()).await;
    let (status, body) = server
        .get(
            "/peers/16Uiu2HA1WjT9t9yUMn5FJKRifpmXJZi6hWzEUvx41gvy8XaRFqCu",
            None,
        )
        .await;
    assert_eq!(status, 404, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("is not known"),
        "{body}"
    );
    let (status, _) = server.get("/peers/16Uiu2HA", None).await;
    assert_eq!(status, 400);
    server.stop().await;
}

async fn other_methods_are_405_whatever_the_key(backend: Backend) {
    let store = TestStore::open(backend).await;
    let server = Server::start(store.source()).await;
    for method in ["POST", "TRACE", "DELETE"] {
        let (status, _) = server
            .request(method, "/validators", Some("no-such-key"))
            .await;
        assert_eq!(status, 405, "{method}");
    }
    server.stop().await;
}

/// Many peers and every kind of update, with small bounds so the history and attribution
/// limits bite: both stores give byte-identical answers on every route.
#[cfg(feature = "postgres")]
#[tokio::test]
async fn both_stores_answer_alike() {
    let config = TrackerConfig {
        history_per_peer: 5,
        max_attributed_per_peer: 4,
        ..TrackerConfig::default()
    };
    let embedded = TestStore::open_with(Backend::Embedded, config).await;
    let pg = TestStore::open_with(Backend::Postgres, config).await;
    let agents = [
        "Lighthouse/v5.3.0-2e0eb6d/x86_64-linux",
        "Prysm/v5.1.0/abc",
        "teku/v24.8.0/linux-x86_64/-eclipseadoptium-openjdk64bitservervm-java-21",
        "nimbus",
        "",
    ];
    let ips = [
        "88.198.1.1",
        "81.2.69.160",
        "81.2.69.161",
        "10.0.0.1",
        "2.125.160.216",
    ];
    let mut events = Vec::new();
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = |n: u64| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x % n
    };
    let mut ts = 1_767_225_600_000u64;
    for round in 0..4u64 {
        for n in 0..40u8 {
            let p = peer(n);
            ts += 1 + next(3);
            let ip = ips[next(ips.len() as u64) as usize];
            let reason = if round == 0 {
                DiscoveryReason::FirstSeen
            } else if next(6) == 0 {
                DiscoveryReason::Disappeared
            } else {
                DiscoveryReason::SeqChanged
            };
            events.push(discovery(p, ts, ip, reason));
            ts += 1;
            if next(5) == 0 {
                events.push(failure(p, ts));
            } else {
                let agent = agents[next(agents.len() as u64) as usize];
                let addr = format!("/ip4/{}/tcp/9000", ips[next(ips.len() as u64) as usize]);
                events.push(handshake(p, ts, &addr, agent, 4 + next(128)));
            }
            for _ in 0..3 {
                ts += 1;
                // epochs repeat across rounds: replaced, not added
                let epoch = round * 2 + next(4);
                events.push(estimate(p, ts, epoch, next(200)));
            }
            for _ in 0..4 {
                ts += 1;
                events.push(attestation(p, ts, next(8), next(3) != 0));
            }
        }
    }
    // one event delivered twice: applied once
    events.push(events[7].clone());
    let geoip = test_geoip();
    for chunk in events.chunks(97) {
        embedded.apply(chunk.to_vec(), Some(geoip.clone())).await;
    }
    pg.apply(events, Some(geoip)).await;

    let (a, b) = (
        Server::start(embedded.source()).await,
        Server::start(pg.source()).await,
    );
    let mut paths = vec![
        "/peers?limit=10000".to_owned(),
        "/peers?limit=7&offset=13".to_owned(),
        "/validators?limit=10000".to_owned(),
        "/validators?from=1767225600100&to=1767225601000&limit=50".to_owned(),
        "/stats".to_owned(),
    ];
    paths.extend((0..41u8).map(|n| format!("/peers/{}", peer(n))));
    for path in &paths {
        for key in [None, Some(KEY)] {
            let (sa, ja) = a.get(path, key).await;
            let (sb, jb) = b.get(path, key).await;
            assert_eq!(sa, sb, "{path}");
            assert_eq!(ja, jb, "{path} (key: {})", key.is_some());
        }
    }
    let (_, all) = a.get("/peers?limit=10000", Some(KEY)).await;
    assert_eq!(all["total"].as_u64(), Some(40));
    let (_, stats) = a.get("/stats", None).await;
    assert!(
        stats["countries"].as_object().unwrap().len() >= 2,
        "{stats}"
    );
    for n in 0..40u8 {
        let (sa, sb) = (embedded.embedded.as_ref().unwrap(), pg.pg.as_ref().unwrap());
        let va = sa.attributed_validators(&peer(n), 100).unwrap();
        let vb = sb.attributed_validators(&peer(n), 100).await.unwrap();
        assert_eq!(va, vb, "peer {n}");
        assert!(va.len() <= 4);
    }
    a.stop().await;
    b.stop().await;
}
