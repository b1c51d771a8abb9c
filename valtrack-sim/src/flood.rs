//! Floods against a sentry's libp2p port, for proving its bounds (`scripts/flood.py`, the
//! `flood` tests): a GossipSub peer publishing malformed, oversized and far-future
//! attestations on every subnet ([`gossip_flood`]), a peer abusing req/resp streams
//! ([`rpc_abuse`]), and thousands of short-lived inbound connections ([`inbound_churn`]).
//!
//! Every loop is bounded by a count or a duration; the target is whatever address the caller
//! gives (the tests and the script give only loopback ones).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use futures::{AsyncReadExt, AsyncWriteExt, StreamExt};
use libp2p::{Multiaddr, PeerId, StreamProtocol};
use valtrack_core::codec::GossipKind;
use valtrack_core::constants::ATTESTATION_SUBNET_COUNT;
use valtrack_core::ssz::{AttestationData, Checkpoint, SingleAttestation};
use valtrack_core::{Network, SszMessage};
use valtrack_sentry::host::{Host, HostConfig};
use valtrack_sentry::rpc::Eth2Protocol;
use valtrack_sentry::HostError;

/// xorshift64*: the floods' pseudo-random bytes (no cryptographic need).
#[derive(Debug, Clone)]
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// What a [`gossip_flood`] publishes, in turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum GossipJunk {
    /// Snappy-compressed random bytes that are not a `SingleAttestation` (REJECT).
    MalformedSsz,
    /// Bytes that are not snappy at all (GossipSub's transform fails: invalid).
    NotSnappy,
    /// Snappy that decompresses to 4 KiB, eight times an attestation's bound (invalid).
    Oversized,
    /// A well-formed `SingleAttestation` a thousand slots ahead (IGNORE, penalised).
    FarFuture,
}

impl GossipJunk {
    /// Every kind, in the order published.
    pub const ALL: [Self; 4] = [
        Self::MalformedSsz,
        Self::NotSnappy,
        Self::Oversized,
        Self::FarFuture,
    ];
}

/// Settings of a [`gossip_flood`].
#[derive(Debug, Clone)]
pub struct GossipFloodConfig {
    /// Junk messages a second (spread over every subnet, kinds in turn); 0 for none.
    pub rate: u32,
    /// How long to flood (and then to try reconnecting).
    pub duration: Duration,
    /// Also publish one frame a second beyond GossipSub's frame limit (13 MB), the first
    /// before any other message. The target's codec drops such a frame and the stream with
    /// it; after a few, our GossipSub gives up on the target, so junk sent along mostly
    /// never arrives: flood with one or the other.
    pub oversized_frames: bool,
    /// Seed of the junk.
    pub seed: u64,
}

impl Default for GossipFloodConfig {
    fn default() -> Self {
        Self {
            rate: 1_000,
            duration: Duration::from_secs(10),
            oversized_frames: false,
            seed: 1,
        }
    }
}

/// What a [`gossip_flood`] did and saw.
#[derive(Debug, Clone, Default)]
pub struct GossipFloodReport {
    /// Messages handed to GossipSub, by [`GossipJunk`] kind (in [`GossipJunk::ALL`] order).
    pub published: [u64; 4],
    /// Frames beyond the limit handed to GossipSub.
    pub oversized_frames: u64,
    /// Publishes GossipSub refused (no subscribed peer left, mostly: after the ban).
    pub refused: u64,
    /// Time from the first message until the target closed the connection.
    pub disconnected_after: Option<Duration>,
    /// Dials made after the disconnect, and of those how many connections the target
    /// closed again within a second.
    pub redials: (u64, u64),
}

impl GossipFloodReport {
    /// All messages handed to GossipSub.
    pub fn total(&self) -> u64 {
        self.published.iter().sum::<u64>() + self.oversized_frames
    }
}

/// The payload of one junk message of `kind` (what goes on the wire: raw gossip).
fn junk(kind: GossipJunk, rng: &mut Rng, network: &Network, n: u64) -> Vec<u8> {
    let compress = |data: &[u8]| {
        snap::raw::Encoder::new()
            .compress_vec(data)
            .unwrap_or_default()
    };
    match kind {
        GossipJunk::MalformedSsz => {
            // any length but a SingleAttestation's
            let mut len = 1 + rng.below(484) as usize;
            if len == SingleAttestation::SSZ_MAX_LEN {
                len += 1;
            }
            compress(&rng.bytes(len))
        }
        GossipJunk::NotSnappy => {
            // a stream identifier chunk (framed format), never valid raw snappy here
            let mut bytes = vec![0xff, 0x06, 0x00, 0x00];
            let len = 16 + rng.below(200) as usize;
            bytes.extend(rng.bytes(len));
            bytes
        }
        GossipJunk::Oversized => {
            let mut data = vec![0u8; 4 * 1024];
            data[..8].copy_from_slice(&n.to_le_bytes());
            compress(&data)
        }
        GossipJunk::FarFuture => {
            let now = network.current_slot(SystemTime::now()).unwrap_or(0);
            let slot = now + 1_000 + rng.below(1_000_000);
            let epoch = slot / network.slots_per_epoch().max(1);
            let att = SingleAttestation {
                committee_index: rng.below(64),
                attester_index: rng.below(1 << 20),
                data: AttestationData {
                    slot,
                    index: 0,
                    beacon_block_root: [0x77; 32],
                    source: Checkpoint {
                        epoch: epoch.saturating_sub(1),
                        root: [0x11; 32],
                    },
                    target: Checkpoint {
                        epoch,
                        root: [0x22; 32],
                    },
                },
                ..SingleAttestation::default()
            };
            compress(&att.to_ssz_bytes())
        }
    }
}

/// Connects to `target` at `addrs` as a GossipSub peer of `network` (answering Status and
/// MetaData honestly, so a sentry keeps it) and publishes junk attestations on every subnet
/// at `config.rate` for `config.duration` or until the target drops it; then tries to
/// reconnect three times.
pub async fn gossip_flood(
    network: &Network,
    target: PeerId,
    addrs: Vec<Multiaddr>,
    config: &GossipFloodConfig,
) -> Result<GossipFloodReport, HostError> {
    let host = Host::spawn(
        HostConfig::builder(network.clone())
            .listen_on("/ip4/127.0.0.1/tcp/0".parse().expect("valid multiaddr"))
            .agent_version("valtrack-sim/flood")
            .raw_gossip(true)
            .gossip_mesh(false)
            .build()?,
    )
    .await?;
    let mut report = GossipFloodReport::default();
    host.dial(target, addrs.clone())
        .await
        .map_err(|e| HostError::Config(leak(format!("flood: cannot connect: {e}"))))?;
    // GossipSub learns the target's subscriptions in its first RPC.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut rng = Rng(config.seed | 1);
    let started = Instant::now();
    let tick = Duration::from_millis(10);
    let per_tick = f64::from(config.rate) * tick.as_secs_f64();
    let mut owed = 0.0;
    let mut n = 0u64;
    let mut last_frame: Option<Instant> = None;
    let mut last_check = started;
    while started.elapsed() < config.duration {
        if config.oversized_frames
            && last_frame.is_none_or(|t| t.elapsed() >= Duration::from_secs(1))
        {
            last_frame = Some(Instant::now());
            let data = rng.bytes(13_000_000);
            match host
                .publish(GossipKind::BeaconAttestation(rng.below(64)), data)
                .await
            {
                Ok(()) => report.oversized_frames += 1,
                Err(_) => report.refused += 1,
            }
        }
        owed += per_tick;
        while owed >= 1.0 {
            owed -= 1.0;
            let kind = GossipJunk::ALL[(n % 4) as usize];
            let subnet = n % ATTESTATION_SUBNET_COUNT;
            let data = junk(kind, &mut rng, network, n);
            n += 1;
            match host
                .publish(GossipKind::BeaconAttestation(subnet), data)
                .await
            {
                Ok(()) => report.published[(n - 1) as usize % 4] += 1,
                Err(_) => report.refused += 1,
            }
        }
        if report.disconnected_after.is_none() && last_check.elapsed() >= Duration::from_millis(100)
        {
            last_check = Instant::now();
            if !host.is_connected(target).await {
                report.disconnected_after = Some(started.elapsed());
                break;
            }
        }
        tokio::time::sleep(tick).await;
    }
    if report.disconnected_after.is_none() && !host.is_connected(target).await {
        report.disconnected_after = Some(started.elapsed());
    }
    // Redial: a banned peer's connections are closed at once.
    if report.disconnected_after.is_some() {
        for _ in 0..3 {
            report.redials.0 += 1;
            let connected = host.dial(target, addrs.clone()).await.is_ok();
            tokio::time::sleep(Duration::from_secs(1)).await;
            if !connected || !host.is_connected(target).await {
                report.redials.1 += 1;
            }
        }
    }
    Ok(report)
}

/// A `'static` message for [`HostError::Config`] (floods fail rarely, once).
fn leak(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

/// What an [`rpc_abuse`] stream does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RpcAbuse {
    /// Opens a stream and sends nothing.
    Silent,
    /// Sends a Status request one byte a second.
    Drip,
    /// Announces a request of 2^30 bytes and sends zeros.
    OversizePrefix,
}

impl RpcAbuse {
    /// Every abuse, in the order used.
    pub const ALL: [Self; 3] = [Self::Silent, Self::Drip, Self::OversizePrefix];
}

/// Settings of an [`rpc_abuse`].
#[derive(Debug, Clone)]
pub struct RpcAbuseConfig {
    /// Streams opened in all (abuses in turn, over Status, MetaData and Ping).
    pub streams: u32,
    /// Streams held open at once.
    pub concurrency: u32,
    /// How long one stream is held at most (the target should close it sooner).
    pub hold: Duration,
}

impl Default for RpcAbuseConfig {
    fn default() -> Self {
        Self {
            streams: 300,
            concurrency: 100,
            hold: Duration::from_secs(60),
        }
    }
}

/// What an [`rpc_abuse`] saw, per [`RpcAbuse`] (in [`RpcAbuse::ALL`] order).
#[derive(Debug, Clone, Default)]
pub struct RpcAbuseReport {
    /// Streams opened.
    pub opened: [u64; 3],
    /// Streams the target would not open (refused protocol, too many streams, closed).
    pub refused: [u64; 3],
    /// Streams the target closed or reset before `hold`.
    pub closed_by_target: [u64; 3],
    /// Longest time a stream stayed open before the target closed it.
    pub longest: [Duration; 3],
    /// Requests the target sent us (its inbound handshake), answered with 2^30-byte prefixes.
    pub hostile_answers: u64,
    /// Whether the connection was still up at the end.
    pub connected_at_end: bool,
}

/// Connects to `target` at `addr` with raw streams and abuses its req/resp protocols:
/// `config.streams` streams, `config.concurrency` at once, each [`RpcAbuse`] in turn over
/// Status, MetaData and Ping; the target's own requests (its inbound handshake) get
/// oversize length prefixes.
pub async fn rpc_abuse(
    target: PeerId,
    addr: Multiaddr,
    config: &RpcAbuseConfig,
) -> Result<RpcAbuseReport, Box<dyn std::error::Error + Send + Sync>> {
    let mut swarm = raw_swarm()?;
    let mut control = swarm.behaviour().new_control();
    let protocols: Vec<StreamProtocol> = [
        Eth2Protocol::StatusV2,
        Eth2Protocol::MetaDataV3,
        Eth2Protocol::Ping,
    ]
    .iter()
    .map(|p| StreamProtocol::new(p.id()))
    .collect();
    // The target's requests to us (its inbound handshake): oversize prefixes.
    let answered = Arc::new(AtomicU64::new(0));
    for p in Eth2Protocol::STATUS
        .iter()
        .chain(Eth2Protocol::METADATA.iter())
        .chain([Eth2Protocol::Ping].iter())
    {
        if let Ok(mut incoming) = control.accept(StreamProtocol::new(p.id())) {
            let answered = answered.clone();
            tokio::spawn(async move {
                while let Some((_, mut stream)) = incoming.next().await {
                    answered.fetch_add(1, Ordering::Relaxed);
                    tokio::spawn(async move {
                        let mut sink = [0u8; 256];
                        let _ = stream.read(&mut sink).await;
                        // result 0, then a varint of 2^30
                        let _ = stream
                            .write_all(&[0x00, 0x80, 0x80, 0x80, 0x80, 0x04])
                            .await;
                        let _ = stream.write_all(&[0u8; 4096]).await;
                        let _ = stream.close().await;
                    });
                }
            });
        }
    }
    swarm.dial(
        addr.with_p2p(target)
            .map_err(|_| "target address has another peer id")?,
    )?;
    let connected = drive_until_connected(&mut swarm, target).await?;
    if !connected {
        return Err("could not connect to the target".into());
    }
    // The swarm runs on its own task; streams need it polled.
    let up = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let driver = {
        let up = up.clone();
        tokio::spawn(async move {
            use libp2p::swarm::SwarmEvent;
            loop {
                match swarm.select_next_some().await {
                    SwarmEvent::ConnectionClosed {
                        peer_id,
                        num_established: 0,
                        ..
                    } if peer_id == target => up.store(false, Ordering::Relaxed),
                    SwarmEvent::ConnectionEstablished { peer_id, .. } if peer_id == target => {
                        up.store(true, Ordering::Relaxed);
                    }
                    _ => {}
                }
            }
        })
    };
    let report = Arc::new(std::sync::Mutex::new(RpcAbuseReport::default()));
    let limit = Arc::new(tokio::sync::Semaphore::new(
        config.concurrency.max(1) as usize
    ));
    let mut tasks = Vec::new();
    for i in 0..config.streams {
        let abuse_index = i as usize % 3;
        let abuse = RpcAbuse::ALL[abuse_index];
        let protocol = protocols[(i as usize / 3) % protocols.len()].clone();
        let permit = limit.clone().acquire_owned().await?;
        let mut control = control.clone();
        let report = report.clone();
        let hold = config.hold;
        tasks.push(tokio::spawn(async move {
            let _permit = permit;
            let Ok(mut stream) = control.open_stream(target, protocol).await else {
                report.lock().unwrap_or_else(|p| p.into_inner()).refused[abuse_index] += 1;
                return;
            };
            report.lock().unwrap_or_else(|p| p.into_inner()).opened[abuse_index] += 1;
            let opened = Instant::now();
            let closed = tokio::time::timeout(hold, abuse_stream(&mut stream, abuse)).await;
            let mut r = report.lock().unwrap_or_else(|p| p.into_inner());
            if closed.is_ok() {
                r.closed_by_target[abuse_index] += 1;
                r.longest[abuse_index] = r.longest[abuse_index].max(opened.elapsed());
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    let connected_at_end = up.load(Ordering::Relaxed);
    driver.abort();
    let mut report = report.lock().unwrap_or_else(|p| p.into_inner()).clone();
    report.hostile_answers = answered.load(Ordering::Relaxed);
    report.connected_at_end = connected_at_end;
    Ok(report)
}

/// Abuses one stream until the target closes or resets it.
async fn abuse_stream(stream: &mut libp2p::Stream, abuse: RpcAbuse) {
    let mut buf = [0u8; 1024];
    match abuse {
        RpcAbuse::Silent => {}
        RpcAbuse::Drip => {
            // a Status v2 request's prefix (92 bytes) and then its frame, byte by byte
            let mut request = vec![92u8];
            request.extend([0xff, 0x06, 0x00, 0x00, b's', b'N', b'a', b'P', b'p', b'Y']);
            request.extend([0u8; 200]);
            for byte in request {
                if stream.write_all(&[byte]).await.is_err() || stream.flush().await.is_err() {
                    return;
                }
                // the target may have answered or closed meanwhile
                if let Ok(Ok(0) | Err(_)) =
                    tokio::time::timeout(Duration::from_secs(1), stream.read(&mut buf)).await
                {
                    return;
                }
            }
        }
        RpcAbuse::OversizePrefix => {
            if stream
                .write_all(&[0x80, 0x80, 0x80, 0x80, 0x04])
                .await
                .is_err()
            {
                return;
            }
            for _ in 0..256 {
                if stream.write_all(&[0u8; 4096]).await.is_err() {
                    return;
                }
            }
        }
    }
    // wait for the target to close (EOF) or reset (error)
    loop {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
    }
}

/// A swarm of a fresh identity with raw streams only (TCP, noise, yamux).
fn raw_swarm(
) -> Result<libp2p::Swarm<libp2p_stream::Behaviour>, Box<dyn std::error::Error + Send + Sync>> {
    Ok(libp2p::SwarmBuilder::with_new_identity()
        .with_tokio()
        .with_tcp(
            libp2p::tcp::Config::default().nodelay(true),
            libp2p::noise::Config::new,
            libp2p::yamux::Config::default,
        )?
        .with_behaviour(|_| libp2p_stream::Behaviour::new())?
        .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(60)))
        .build())
}

/// Drives `swarm` until it is connected to `target` (true) or the dial failed (false), for
/// at most 10 s.
async fn drive_until_connected(
    swarm: &mut libp2p::Swarm<libp2p_stream::Behaviour>,
    target: PeerId,
) -> Result<bool, Box<dyn std::error::Error + Send + Sync>> {
    use libp2p::swarm::SwarmEvent;
    let deadline = tokio::time::sleep(Duration::from_secs(10));
    tokio::pin!(deadline);
    loop {
        tokio::select! {
            event = swarm.select_next_some() => match event {
                SwarmEvent::ConnectionEstablished { peer_id, .. } if peer_id == target => return Ok(true),
                SwarmEvent::OutgoingConnectionError { .. } => return Ok(false),
                _ => {}
            },
            _ = &mut deadline => return Ok(false),
        }
    }
}

/// Settings of an [`inbound_churn`].
#[derive(Debug, Clone)]
pub struct ChurnConfig {
    /// Connections in all, each from a fresh identity.
    pub connections: u32,
    /// Connections being set up at once.
    pub concurrency: u32,
}

impl Default for ChurnConfig {
    fn default() -> Self {
        Self {
            connections: 2_000,
            concurrency: 50,
        }
    }
}

/// What an [`inbound_churn`] did.
#[derive(Debug, Clone, Default)]
pub struct ChurnReport {
    /// Connections that completed noise and the muxer, then were closed by us.
    pub completed: u64,
    /// Connections that failed (refused, limits, timeouts).
    pub failed: u64,
    /// Wall time of the whole churn.
    pub elapsed: Duration,
}

/// Opens `config.connections` inbound connections to `target` at `addr`, each from a fresh
/// identity: TCP, noise, yamux, then closed at once.
pub async fn inbound_churn(target: PeerId, addr: Multiaddr, config: &ChurnConfig) -> ChurnReport {
    let started = Instant::now();
    let completed = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let limit = Arc::new(tokio::sync::Semaphore::new(
        config.concurrency.max(1) as usize
    ));
    let mut tasks = Vec::new();
    let Ok(addr) = addr.with_p2p(target) else {
        return ChurnReport {
            failed: u64::from(config.connections),
            ..ChurnReport::default()
        };
    };
    for _ in 0..config.connections {
        let Ok(permit) = limit.clone().acquire_owned().await else {
            break;
        };
        let (addr, completed, failed) = (addr.clone(), completed.clone(), failed.clone());
        tasks.push(tokio::spawn(async move {
            let _permit = permit;
            let ok = match raw_swarm() {
                Ok(mut swarm) => {
                    swarm.dial(addr).is_ok()
                        && matches!(drive_until_connected(&mut swarm, target).await, Ok(true))
                }
                Err(_) => false,
            };
            if ok {
                completed.fetch_add(1, Ordering::Relaxed);
            } else {
                failed.fetch_add(1, Ordering::Relaxed);
            }
            // dropping the swarm closes the connection
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    ChurnReport {
        completed: completed.load(Ordering::Relaxed),
        failed: failed.load(Ordering::Relaxed),
        elapsed: started.elapsed(),
    }
}
