//! The libp2p host: one swarm task driven by commands from cheap, cloneable [`Host`] handles.
//!
//! The task owns the swarm (transport, connection limits, identify, GossipSub, and the eth2
//! req/resp behaviours). It answers peers' requests itself — Status, MetaData, Ping, Goodbye —
//! from its configuration, and turns handle calls (dial, request, wait for identify,
//! disconnect) into swarm actions, replying through one-shot channels. Every queue is bounded.

mod arrival;
mod behaviour;
mod boxed;
mod config;
mod hold;
mod responder;
mod status;
mod task;
mod transport;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::channel::oneshot;
use libp2p::{identify, Multiaddr, PeerId};
use tokio::sync::mpsc;
use valtrack_core::events::{Muxer, Transport};
use valtrack_core::{ForkDigest, HandshakeError, Status};

pub use arrival::{LatenessSnapshot, ReadLateness};
pub use behaviour::IDENTIFY_PROTOCOL_VERSION;
pub use config::{
    GossipParams, HostConfig, HostConfigBuilder, PeerMode, DEFAULT_AGENT_VERSION,
    DEFAULT_COMMAND_QUEUE, DEFAULT_CONNECT_TIMEOUT, DEFAULT_IDLE_CONNECTION_TIMEOUT,
    DEFAULT_MAX_CONNECTIONS, DEFAULT_MAX_PENDING,
};
pub use responder::Responder;
pub use transport::{MuxerOffer, Traffic};

use crate::error::{HostError, RequestError};
use crate::rpc::{CaptureBuffer, RpcRequest, RpcResponse};

/// Capacity of the broadcast queue of GossipSub observations; a subscriber that falls further
/// behind loses the oldest ones (and is told how many).
pub const OBSERVATION_QUEUE: usize = 4096;

/// Capacity of the broadcast queue of raw attestation-subnet messages
/// ([`Host::gossip_messages`]); a subscriber that falls further behind loses the oldest.
pub const GOSSIP_QUEUE: usize = 8192;

/// Capacity of the queue of inbound connections handed to [`Host::inbound_connections`].
pub const INBOUND_QUEUE: usize = 256;

/// An established connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connected {
    /// The peer.
    pub peer: PeerId,
    /// The address of the connection.
    pub address: Multiaddr,
    /// TCP or QUIC.
    pub transport: Transport,
    /// The TCP muxer negotiated.
    pub muxer: Option<Muxer>,
    /// How long setting it up took.
    pub established_in: Duration,
}

pub(crate) enum Command {
    Dial {
        peer: PeerId,
        addrs: Vec<Multiaddr>,
        reply: oneshot::Sender<Result<Connected, HandshakeError>>,
    },
    Request {
        peer: PeerId,
        request: RpcRequest,
        reply: oneshot::Sender<Result<RpcResponse, RequestError>>,
    },
    Identify {
        peer: PeerId,
        reply: oneshot::Sender<identify::Info>,
    },
    Disconnect {
        peer: PeerId,
    },
    StatusFor {
        digest: ForkDigest,
        reply: oneshot::Sender<Status>,
    },
    SetAttnets {
        attnets: valtrack_core::AttestationSubnets,
        reply: oneshot::Sender<Result<(), HostError>>,
    },
    Publish {
        kind: valtrack_core::codec::GossipKind,
        ssz: Vec<u8>,
        reply: oneshot::Sender<Result<(), HostError>>,
    },
    Subscribe {
        kind: valtrack_core::codec::GossipKind,
        on: bool,
        reply: oneshot::Sender<Result<(), HostError>>,
    },
    GossipScore {
        peer: PeerId,
        reply: oneshot::Sender<Option<f64>>,
    },
    IsConnected {
        peer: PeerId,
        reply: oneshot::Sender<bool>,
    },
}

struct Inner {
    commands: mpsc::Sender<Command>,
    network: valtrack_core::Network,
    peer_id: PeerId,
    listen_addrs: Vec<Multiaddr>,
    capture: Option<CaptureBuffer>,
    inbound: Mutex<Option<mpsc::Receiver<Connected>>>,
    observations: tokio::sync::broadcast::Sender<valtrack_core::SubnetObservation>,
    gossip: tokio::sync::broadcast::Sender<valtrack_core::GossipMessage>,
    task: tokio::task::JoinHandle<()>,
    connected: Arc<std::sync::atomic::AtomicU64>,
    mesh_links: Arc<std::sync::atomic::AtomicU64>,
    defence: Arc<GossipDefenceStats>,
    traffic: Arc<Traffic>,
}

/// What the host did against peers misbehaving in GossipSub (see
/// [`Host::gossip_defence`]).
#[derive(Debug, Default)]
pub struct GossipDefenceStats {
    /// Attestation messages REJECTed: not the topic's SSZ container (payloads that are not
    /// snappy or decompress beyond the topic's bound never reach the host: GossipSub drops
    /// and penalises them itself).
    pub rejected: std::sync::atomic::AtomicU64,
    /// Attestation messages outside the gossip window (IGNOREd, penalised per peer).
    pub untimely: std::sync::atomic::AtomicU64,
    /// Peers disconnected and banned for their GossipSub score.
    pub banned: std::sync::atomic::AtomicU64,
    /// Connections from or to a banned peer closed at once.
    pub refused: std::sync::atomic::AtomicU64,
    /// Peers banned now.
    pub banned_now: std::sync::atomic::AtomicU64,
    /// Attestation messages a reader of [`Host::gossip_messages`] lost by falling more than
    /// [`GOSSIP_QUEUE`] messages behind (counted by [`GossipProbe`](crate::GossipProbe)).
    pub lagged: std::sync::atomic::AtomicU64,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A handle to a running libp2p host. Cloning is cheap; the host stops when the last handle
/// is dropped (its connections close with it).
#[derive(Clone)]
pub struct Host {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Host {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Host")
            .field("peer_id", &self.inner.peer_id)
            .field("listen_addrs", &self.inner.listen_addrs)
            .finish_non_exhaustive()
    }
}

impl Host {
    /// Builds the swarm, starts listening on the configured addresses (waiting until each
    /// has its real port) and spawns the host task on the current tokio runtime.
    pub async fn spawn(config: HostConfig) -> Result<Self, HostError> {
        let capture = config
            .capture_responses
            .then(|| Arc::new(Mutex::new(std::collections::VecDeque::new())));
        let (commands, rx) = mpsc::channel(config.command_queue);
        let network = config.network.clone();
        let (inbound_tx, inbound_rx) = mpsc::channel(INBOUND_QUEUE);
        let (observations, _) = tokio::sync::broadcast::channel(OBSERVATION_QUEUE);
        let (gossip, _) = tokio::sync::broadcast::channel(GOSSIP_QUEUE);
        let connected = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let mesh_links = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let defence = Arc::new(GossipDefenceStats::default());
        let traffic = Arc::new(Traffic::default());
        let (task, peer_id, listen_addrs) = task::HostTask::start(
            config,
            rx,
            inbound_tx,
            task::Broadcasts {
                observations: observations.clone(),
                gossip: gossip.clone(),
                connected: Arc::clone(&connected),
                mesh_links: Arc::clone(&mesh_links),
                defence: Arc::clone(&defence),
                traffic: Arc::clone(&traffic),
            },
            capture.clone(),
        )
        .await?;
        let task = tokio::spawn(task.run());
        Ok(Self {
            inner: Arc::new(Inner {
                commands,
                network,
                peer_id,
                listen_addrs,
                capture,
                inbound: Mutex::new(Some(inbound_rx)),
                observations,
                gossip,
                task,
                connected,
                mesh_links,
                defence,
                traffic,
            }),
        })
    }

    /// The network this host speaks for.
    pub fn network(&self) -> &valtrack_core::Network {
        &self.inner.network
    }

    /// Our libp2p PeerId.
    pub fn peer_id(&self) -> PeerId {
        self.inner.peer_id
    }

    /// Our PeerId in valtrack-core's form.
    pub fn core_peer_id(&self) -> valtrack_core::PeerId {
        to_core_peer_id(&self.inner.peer_id).expect("our key is secp256k1")
    }

    /// Peers with at least one open connection now (as of the host task's last connection
    /// event).
    pub fn connected_peers(&self) -> u64 {
        self.inner
            .connected
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// GossipSub mesh links now, summed over the topics we subscribe to (a peer in the mesh
    /// of three subnets counts three): 0 for a host out of meshes. Updated every second.
    pub fn gossip_mesh_links(&self) -> u64 {
        self.inner
            .mesh_links
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// What the host did against peers misbehaving in GossipSub: messages rejected and
    /// ignored as untimely, peers banned (a peer whose GossipSub score falls to -80 is
    /// disconnected and refused for ten minutes).
    pub fn gossip_defence(&self) -> Arc<GossipDefenceStats> {
        Arc::clone(&self.inner.defence)
    }

    /// Bytes carried by the host's TCP connections since it started, counted on the sockets
    /// (GossipSub, req/resp and identify, with noise and muxer framing; QUIC not counted),
    /// with how late they were read and the GossipSub copies stamped before their message's
    /// first-delivered copy.
    pub fn traffic(&self) -> Arc<Traffic> {
        Arc::clone(&self.inner.traffic)
    }

    /// The addresses we listen on (with the real ports).
    pub fn listen_addrs(&self) -> &[Multiaddr] {
        &self.inner.listen_addrs
    }

    async fn call<T>(&self, make: impl FnOnce(oneshot::Sender<T>) -> Command) -> Option<T> {
        let (tx, rx) = oneshot::channel();
        self.inner.commands.send(make(tx)).await.ok()?;
        rx.await.ok()
    }

    /// Dials `peer` at `addrs` (tried in order), or returns the existing connection.
    pub async fn dial(
        &self,
        peer: PeerId,
        addrs: Vec<Multiaddr>,
    ) -> Result<Connected, HandshakeError> {
        self.call(|reply| Command::Dial { peer, addrs, reply })
            .await
            .unwrap_or_else(|| {
                Err(HandshakeError::Transport {
                    source: Box::new(HostError::Closed),
                })
            })
    }

    /// Sends one request on a connected peer and waits for the response. A Goodbye resolves
    /// as soon as it is sent.
    pub async fn request(
        &self,
        peer: PeerId,
        request: RpcRequest,
    ) -> Result<RpcResponse, RequestError> {
        self.call(|reply| Command::Request {
            peer,
            request,
            reply,
        })
        .await
        .unwrap_or(Err(RequestError::HostClosed))
    }

    /// Waits until identify information from `peer` has arrived (returns at once if it has).
    /// Not bounded in time: wrap it in a timeout.
    pub async fn identify(&self, peer: PeerId) -> Option<identify::Info> {
        self.call(|reply| Command::Identify { peer, reply }).await
    }

    /// Closes every connection to `peer`.
    pub async fn disconnect(&self, peer: PeerId) {
        let _ = self.inner.commands.send(Command::Disconnect { peer }).await;
    }

    /// The Status we would send to a peer on `digest`.
    pub async fn status_for(&self, digest: ForkDigest) -> Option<Status> {
        self.call(|reply| Command::StatusFor { digest, reply })
            .await
    }

    /// Subscribes to GossipSub observations: peers' subnet (un)subscriptions and the first
    /// delivery of each attestation on the subnets we subscribe to.
    pub fn observations(
        &self,
    ) -> tokio::sync::broadcast::Receiver<valtrack_core::SubnetObservation> {
        self.inner.observations.subscribe()
    }

    /// Subscribes to every message received on an attestation subnet topic (raw, for
    /// attribution). Messages are queued only while someone subscribes; a reader more than
    /// [`GOSSIP_QUEUE`] messages behind loses the oldest.
    ///
    /// Each message is handed on 25–30 ms after GossipSub delivered it, and names the copy that
    /// arrived first: when a copy that GossipSub handled later (a duplicate) is reported as
    /// stamped before the delivered one within that time, its peer and stamp replace the
    /// delivered copy's ([`Traffic::recredited`]; reported after it was handed on:
    /// [`Traffic::earlier_unheld`]).
    pub fn gossip_messages(
        &self,
    ) -> tokio::sync::broadcast::Receiver<valtrack_core::GossipMessage> {
        self.inner.gossip.subscribe()
    }

    /// Whether we have a connection to `peer`.
    pub async fn is_connected(&self, peer: PeerId) -> bool {
        self.call(|reply| Command::IsConnected { peer, reply })
            .await
            .unwrap_or(false)
    }

    /// Our GossipSub score of `peer` (`None` without GossipSub or for a peer never scored).
    pub async fn gossip_score(&self, peer: PeerId) -> Option<f64> {
        self.call(|reply| Command::GossipScore { peer, reply })
            .await
            .flatten()
    }

    /// Subscribes to (or, with `on == false`, unsubscribes from) one topic of our current
    /// digest *without* changing what MetaData advertises: a short-lived (aggregator duty)
    /// subscription.
    pub async fn subscribe_topic(
        &self,
        kind: valtrack_core::codec::GossipKind,
        on: bool,
    ) -> Result<(), HostError> {
        self.call(|reply| Command::Subscribe { kind, on, reply })
            .await
            .unwrap_or(Err(HostError::Closed))
    }

    /// Changes the attestation subnets we subscribe to; MetaData follows (its seq number is
    /// incremented), so what we advertise stays what we do.
    pub async fn set_attnets(
        &self,
        attnets: valtrack_core::AttestationSubnets,
    ) -> Result<(), HostError> {
        self.call(|reply| Command::SetAttnets { attnets, reply })
            .await
            .unwrap_or(Err(HostError::Closed))
    }

    /// Publishes an SSZ payload on a gossip topic of our current fork digest (the host
    /// snappy-compresses it).
    pub async fn publish(
        &self,
        kind: valtrack_core::codec::GossipKind,
        ssz: Vec<u8>,
    ) -> Result<(), HostError> {
        self.call(|reply| Command::Publish { kind, ssz, reply })
            .await
            .unwrap_or(Err(HostError::Closed))
    }

    /// Takes the stream of inbound connections (peers that dialed us). Only the first call
    /// gets it; while nobody holds it, inbound connections are not queued.
    pub fn inbound_connections(&self) -> Option<mpsc::Receiver<Connected>> {
        self.inner
            .inbound
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
    }

    /// The raw bytes of the last responses read, as `(protocol id, bytes)`, when the host was
    /// configured with `capture_responses(true)`.
    pub fn captured_responses(&self) -> Vec<(String, Vec<u8>)> {
        self.inner
            .capture
            .as_ref()
            .map(|c| {
                c.lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .iter()
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// A fresh random secp256k1 secret key, to share between the host and the discv5 crawler
/// (one key: the ENR's node id and the libp2p PeerId then name the same node).
pub fn generate_secret_key() -> [u8; 32] {
    libp2p::identity::secp256k1::SecretKey::generate().to_bytes()
}

/// Converts a libp2p PeerId to valtrack-core's (secp256k1 keys only).
pub fn to_core_peer_id(peer: &PeerId) -> Option<valtrack_core::PeerId> {
    valtrack_core::PeerId::from_bytes(&peer.to_bytes()).ok()
}

/// Converts valtrack-core's PeerId to libp2p's.
pub fn to_libp2p_peer_id(peer: &valtrack_core::PeerId) -> PeerId {
    PeerId::from_bytes(&peer.to_bytes()).expect("a secp256k1 identity multihash is a PeerId")
}
