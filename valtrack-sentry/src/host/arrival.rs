//! When bytes arrived on a TCP connection, as the kernel saw them, not when the host got to
//! read them.
//!
//! Each TCP socket of the host asks the kernel for receive timestamps (`SO_TIMESTAMPNS`,
//! Linux) and reads with `recvmsg`, which reports the arrival time of the newest bytes it
//! returned. Each connection keeps the latest of those times in an [`ArrivalClock`];
//! GossipSub (carried, `vendor/libp2p-gossipsub/VALTRACK.md`) stamps the messages of an RPC
//! with its connection's clock when it decodes the RPC. That time lies after the RPC's last
//! byte arrived (later reads only move it forward) and before the decode, so a sentry busy
//! with a burst stamps its first deliveries when they arrived, not when it caught up.
//!
//! The gap between a read and the arrival it reports is counted in a [`ReadLateness`]
//! histogram: how long bytes waited in the kernel for the host to read them.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use libp2p::multiaddr::Protocol;
use libp2p::Multiaddr;

/// A connection's arrival clock: when the newest bytes read from its socket arrived, in
/// nanoseconds since the Unix epoch (0 until the first timestamped read).
pub(crate) type ArrivalClock = Arc<AtomicU64>;

/// Nanoseconds since the Unix epoch of `t` (0 before it).
pub(crate) fn unix_nanos(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

/// The arrival clocks of the host's open TCP connections, by the remote end's socket
/// address (what the swarm tells a behaviour about a new connection). An address shared by
/// two open connections (two dials of one peer address) names neither: their messages are
/// stamped when decoded.
#[derive(Debug, Clone, Default)]
pub(crate) struct Arrivals(Arc<Mutex<HashMap<SocketAddr, Slot>>>);

#[derive(Debug)]
struct Slot {
    clock: ArrivalClock,
    open: u32,
}

impl Arrivals {
    /// Registers a new connection to `remote`; the clock it should advance, and a guard
    /// that unregisters it when dropped.
    pub(crate) fn open(&self, remote: SocketAddr) -> Registered {
        let clock = ArrivalClock::default();
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        map.entry(remote)
            .and_modify(|s| s.open += 1)
            .or_insert_with(|| Slot {
                clock: Arc::clone(&clock),
                open: 1,
            });
        Registered {
            arrivals: self.clone(),
            remote,
            clock,
        }
    }

    /// The clock of the one open TCP connection with the remote end at `addr`
    /// (`/ip4|ip6/…/tcp/…`); `None` for other transports, unknown or shared addresses.
    pub(crate) fn lookup(&self, addr: &Multiaddr) -> Option<ArrivalClock> {
        let remote = tcp_socket_addr(addr)?;
        let map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        map.get(&remote)
            .filter(|s| s.open == 1)
            .map(|s| Arc::clone(&s.clock))
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).len()
    }
}

/// A connection's registration in [`Arrivals`], removed on drop.
#[derive(Debug)]
pub(crate) struct Registered {
    arrivals: Arrivals,
    remote: SocketAddr,
    clock: ArrivalClock,
}

impl Registered {
    /// Moves the clock forward to `arrived_ns` (never back).
    pub(crate) fn advance(&self, arrived_ns: u64) {
        self.clock.fetch_max(arrived_ns, Relaxed);
    }
}

impl Drop for Registered {
    fn drop(&mut self) {
        let mut map = self.arrivals.0.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(slot) = map.get_mut(&self.remote) {
            slot.open = slot.open.saturating_sub(1);
            if slot.open == 0 {
                map.remove(&self.remote);
            }
        }
    }
}

/// The TCP socket address in `addr`: its first IP and the TCP port right after it; `None`
/// when it is not a TCP address (QUIC, DNS, relayed).
pub(crate) fn tcp_socket_addr(addr: &Multiaddr) -> Option<SocketAddr> {
    let mut it = addr.iter();
    let ip = match it.next()? {
        Protocol::Ip4(ip) => std::net::IpAddr::V4(ip),
        Protocol::Ip6(ip) => std::net::IpAddr::V6(ip),
        _ => return None,
    };
    match it.next()? {
        Protocol::Tcp(port) => match it.next() {
            None | Some(Protocol::P2p(_)) => Some(SocketAddr::new(ip, port)),
            Some(_) => None,
        },
        _ => None,
    }
}

/// Upper bounds of [`ReadLateness`]'s buckets, in microseconds: 0.25 ms steps to 20 ms,
/// then 50, 100, 500 ms and 1 s; one more bucket counts what is later still.
const BOUNDS_US: [u64; 84] = {
    let mut b = [0u64; 84];
    let mut i = 0;
    while i < 80 {
        b[i] = (i as u64 + 1) * 250;
        i += 1;
    }
    b[80] = 50_000;
    b[81] = 100_000;
    b[82] = 500_000;
    b[83] = 1_000_000;
    b
};

/// How long bytes waited in the kernel before the host read them (the read's time minus the
/// arrival the kernel reported for its newest bytes), one count per timestamped read of a
/// TCP socket. Older bytes returned by the same read waited longer, by at most the gap
/// between them and the newest; on a connection that carries a message every few
/// milliseconds a read seldom holds more than one. The same histogram counts
/// [`Traffic::earlier_copies`](super::Traffic::earlier_copies), one count per copy.
#[derive(Debug)]
pub struct ReadLateness {
    counts: [AtomicU64; BOUNDS_US.len() + 1],
    sum_us: AtomicU64,
}

impl Default for ReadLateness {
    fn default() -> Self {
        Self {
            counts: std::array::from_fn(|_| AtomicU64::new(0)),
            sum_us: AtomicU64::new(0),
        }
    }
}

/// A copy of a [`ReadLateness`] at one moment; subtract two to get what happened between.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LatenessSnapshot {
    counts: Vec<u64>,
    sum_us: u64,
}

impl ReadLateness {
    /// Counts one read `late` after the arrival it reports.
    pub(crate) fn record(&self, late: Duration) {
        let us = u64::try_from(late.as_micros()).unwrap_or(u64::MAX);
        let i = BOUNDS_US.partition_point(|&b| b < us);
        self.counts[i].fetch_add(1, Relaxed);
        self.sum_us.fetch_add(us, Relaxed);
    }

    /// The counts now.
    pub fn snapshot(&self) -> LatenessSnapshot {
        LatenessSnapshot {
            counts: self.counts.iter().map(|c| c.load(Relaxed)).collect(),
            sum_us: self.sum_us.load(Relaxed),
        }
    }
}

impl LatenessSnapshot {
    /// What was counted since `earlier`.
    pub fn since(&self, earlier: &Self) -> Self {
        Self {
            counts: self
                .counts
                .iter()
                .zip(&earlier.counts)
                .map(|(a, b)| a.saturating_sub(*b))
                .collect(),
            sum_us: self.sum_us.saturating_sub(earlier.sum_us),
        }
    }

    /// Reads counted.
    pub fn reads(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// Sum of the lateness of every read counted.
    pub fn sum(&self) -> Duration {
        Duration::from_micros(self.sum_us)
    }

    /// The upper bound of the bucket that holds the `q` quantile (0–1) of the reads
    /// counted; `None` when there are none or it lies past the last bound (over 1 s).
    pub fn quantile(&self, q: f64) -> Option<Duration> {
        let total = self.reads();
        if total == 0 {
            return None;
        }
        let rank = ((q.clamp(0.0, 1.0) * total as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (i, c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return BOUNDS_US.get(i).map(|&us| Duration::from_micros(us));
            }
        }
        None
    }

    /// Counts per bucket, coarsened to upper bounds (seconds) of 0.25, 0.5, 1, 2, 5, 10,
    /// 20, 50, 100 and 500 ms, 1 s and +∞ (as a Prometheus histogram is encoded: each
    /// bucket's own count).
    pub fn buckets(&self) -> Vec<(f64, u64)> {
        const COARSE_US: [u64; 11] = [
            250, 500, 1_000, 2_000, 5_000, 10_000, 20_000, 50_000, 100_000, 500_000, 1_000_000,
        ];
        let mut out: Vec<(f64, u64)> = COARSE_US
            .iter()
            .map(|&us| (us as f64 / 1e6, 0))
            .chain(std::iter::once((f64::INFINITY, 0)))
            .collect();
        for (i, c) in self.counts.iter().enumerate() {
            let at = BOUNDS_US
                .get(i)
                .map_or(COARSE_US.len(), |&b| COARSE_US.partition_point(|&u| u < b));
            out[at].1 += c;
        }
        out
    }
}

/// `recvmsg` with the kernel's receive timestamp (`SO_TIMESTAMPNS` must be on): the bytes
/// read and, when the kernel gave one, the arrival of the newest of them in nanoseconds
/// since the Unix epoch.
#[cfg(target_os = "linux")]
pub(crate) fn recv_stamped(
    fd: std::os::fd::RawFd,
    buf: &mut [u8],
) -> std::io::Result<(usize, Option<u64>)> {
    use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};

    /// Room for one `SCM_TIMESTAMPNS` (a 16-byte header and a 16-byte timespec), aligned
    /// as a `cmsghdr`.
    #[repr(C, align(8))]
    struct Control([u8; 64]);

    let mut control = Control([0; 64]);
    let mut iov = [std::io::IoSliceMut::new(buf)];
    let msg = recvmsg::<()>(fd, &mut iov, Some(&mut control.0), MsgFlags::MSG_DONTWAIT)
        .map_err(std::io::Error::from)?;
    let mut arrived = None;
    if let Ok(cmsgs) = msg.cmsgs() {
        for cmsg in cmsgs {
            if let ControlMessageOwned::ScmTimestampns(ts) = cmsg {
                let secs = u64::try_from(ts.tv_sec()).unwrap_or(0);
                let nanos = u64::try_from(ts.tv_nsec()).unwrap_or(0);
                arrived = Some(secs.saturating_mul(1_000_000_000).saturating_add(nanos));
            }
        }
    }
    Ok((msg.bytes, arrived))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tcp_addresses_name_a_socket_and_others_do_not() {
        let sa = |s: &str| tcp_socket_addr(&s.parse().unwrap());
        assert_eq!(
            sa("/ip4/10.0.0.1/tcp/9000"),
            Some("10.0.0.1:9000".parse().unwrap())
        );
        assert_eq!(
            sa("/ip6/::1/tcp/13000"),
            Some("[::1]:13000".parse().unwrap())
        );
        assert_eq!(
            sa("/ip4/10.0.0.1/tcp/9000/p2p/16Uiu2HAmAD8KDEVcHsrVPS7hzHP7t8sGh8xEjFSC1XfYPkvbCbTH"),
            Some("10.0.0.1:9000".parse().unwrap())
        );
        assert_eq!(sa("/ip4/10.0.0.1/udp/9000/quic-v1"), None);
        assert_eq!(sa("/dns4/example.org/tcp/9000"), None);
        assert_eq!(sa("/ip4/10.0.0.1/tcp/9000/ws"), None);
    }

    #[test]
    fn a_shared_remote_address_names_no_clock_until_one_closes() {
        let arrivals = Arrivals::default();
        let addr: Multiaddr = "/ip4/127.0.0.1/tcp/4000".parse().unwrap();
        let a = arrivals.open("127.0.0.1:4000".parse().unwrap());
        a.advance(5);
        a.advance(3); // never back
        assert_eq!(arrivals.lookup(&addr).unwrap().load(Relaxed), 5);
        let b = arrivals.open("127.0.0.1:4000".parse().unwrap());
        assert!(arrivals.lookup(&addr).is_none(), "two connections share it");
        drop(b);
        assert!(arrivals.lookup(&addr).is_some());
        drop(a);
        assert!(arrivals.lookup(&addr).is_none());
        assert_eq!(arrivals.len(), 0, "closed connections leave nothing behind");
    }

    #[test]
    fn lateness_quantiles_come_from_the_buckets() {
        let l = ReadLateness::default();
        let before = l.snapshot();
        for _ in 0..98 {
            l.record(Duration::from_micros(100));
        }
        l.record(Duration::from_micros(3_100));
        l.record(Duration::from_secs(2));
        let s = l.snapshot().since(&before);
        assert_eq!(s.reads(), 100);
        assert_eq!(s.quantile(0.5), Some(Duration::from_micros(250)));
        assert_eq!(s.quantile(0.99), Some(Duration::from_micros(3_250)));
        assert_eq!(s.quantile(1.0), None, "over the last bound");
        let buckets = s.buckets();
        assert_eq!(buckets[0], (0.00025, 98));
        assert_eq!(buckets[4], (0.005, 1), "3.1 ms, in the bucket up to 5 ms");
        assert_eq!(buckets.last(), Some(&(f64::INFINITY, 1)));
        assert_eq!(buckets.iter().map(|b| b.1).sum::<u64>(), 100);
    }

    /// The kernel's timestamp is when the bytes arrived, however late they are read.
    #[cfg(target_os = "linux")]
    #[test]
    fn a_late_read_reports_when_the_bytes_arrived() {
        use std::io::Write;
        use std::os::fd::AsRawFd;

        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let mut client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        nix::sys::socket::setsockopt(
            &server,
            nix::sys::socket::sockopt::ReceiveTimestampns,
            &true,
        )
        .unwrap();
        // The kernel starts timestamping shortly after the first socket asks (the switch is
        // flipped by a deferred work item); packets before that carry no time.
        std::thread::sleep(Duration::from_millis(100));
        let sent = SystemTime::now();
        client.write_all(b"attestation").unwrap();
        std::thread::sleep(Duration::from_millis(300));
        let mut buf = [0u8; 64];
        let (n, arrived) = recv_stamped(server.as_raw_fd(), &mut buf).unwrap();
        let read = SystemTime::now();
        assert_eq!(&buf[..n], b"attestation");
        let arrived = UNIX_EPOCH + Duration::from_nanos(arrived.expect("a timestamp"));
        assert!(
            arrived >= sent - Duration::from_millis(1),
            "{arrived:?} before {sent:?}"
        );
        assert!(
            read.duration_since(arrived).unwrap() >= Duration::from_millis(250),
            "the stamp is the arrival, not the read"
        );
        // Nothing left: the read would block, and says so.
        let err = recv_stamped(server.as_raw_fd(), &mut buf).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::WouldBlock);
    }
}
