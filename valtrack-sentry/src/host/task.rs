//! The host task: owns the swarm and serves commands and peers.

use std::collections::HashMap;
use std::error::Error as StdError;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use futures::channel::oneshot;
use futures::StreamExt;
use libp2p::core::ConnectedPoint;
use libp2p::request_response::{self, OutboundFailure, OutboundRequestId};
use libp2p::swarm::dial_opts::{DialOpts, PeerCondition};
use libp2p::swarm::{DialError, SwarmEvent};
use libp2p::{identify, identity, Multiaddr, PeerId, Swarm};
use tokio::sync::mpsc;
use tracing::{debug, warn};
use valtrack_core::events::Transport;
use valtrack_core::ssz::{Goodbye, Ping};
use valtrack_core::{
    AttestationSubnets, HandshakeError, HandshakeStage, MetaData, SubnetObservation, SyncSubnets,
};

use super::behaviour::Behaviour;
use super::boxed::Boxed;
use super::config::{HostConfig, PeerMode};
use super::status::StatusTracker;
use super::transport::{self, MuxerRegistry};
use super::{Command, Connected};
use crate::error::{HostError, RequestError};
use crate::rpc::{CaptureBuffer, RpcRequest, RpcResponse};

/// The floodsub protocol's name (what identify lists).
const FLOODSUB: &str = "/floodsub/1.0.0";

const LOG: &str = "valtrack::host";
/// How long a received Goodbye is remembered to explain failures that follow it.
const GOODBYE_MEMORY: std::time::Duration = std::time::Duration::from_secs(30);
/// Bound on remembered Goodbyes.
const MAX_GOODBYES: usize = 4096;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Family {
    Status,
    MetaData,
    Ping,
    Goodbye,
}

type RequestReply = oneshot::Sender<Result<RpcResponse, RequestError>>;

/// The host's broadcast channels.
pub(crate) struct Broadcasts {
    pub(crate) observations: tokio::sync::broadcast::Sender<SubnetObservation>,
    pub(crate) gossip: tokio::sync::broadcast::Sender<valtrack_core::GossipMessage>,
    /// Peers connected now, kept by the task for [`Host::connected_peers`](super::Host::connected_peers).
    pub(crate) connected: Arc<std::sync::atomic::AtomicU64>,
    /// GossipSub mesh links summed over topics, for [`Host::gossip_mesh_links`](super::Host::gossip_mesh_links).
    pub(crate) mesh_links: Arc<std::sync::atomic::AtomicU64>,
    /// The GossipSub defence's counters, for [`Host::gossip_defence`](super::Host::gossip_defence).
    pub(crate) defence: Arc<super::GossipDefenceStats>,
    /// Bytes on TCP sockets, for [`Host::traffic`](super::Host::traffic).
    pub(crate) traffic: Arc<super::Traffic>,
}

/// How long a peer banned for its GossipSub score is refused.
pub(crate) const BAN: Duration = Duration::from_secs(600);
/// Bound on peers banned at once (beyond it the ban ending soonest is dropped).
pub(crate) const MAX_BANS: usize = 10_000;
/// How often peers' GossipSub scores are checked and bans expired.
const SWEEP_EVERY: Duration = Duration::from_secs(1);
/// Decay per second of a peer's untimely-attestation penalty (P5).
const UNTIMELY_DECAY: f64 = 0.97;
/// P5 penalty per untimely attestation: a hundred a second for a few seconds bans a peer;
/// an honest peer whose every attestation (a few a second) came late stays above -10.
const UNTIMELY_PENALTY: f64 = 0.1;

pub(crate) struct HostTask {
    swarm: Swarm<Boxed<Behaviour>>,
    commands: mpsc::Receiver<Command>,
    inbound: mpsc::Sender<Connected>,
    observations: tokio::sync::broadcast::Sender<SubnetObservation>,
    gossip: tokio::sync::broadcast::Sender<valtrack_core::GossipMessage>,
    config: HostConfig,
    muxers: MuxerRegistry,
    pending_dials: HashMap<PeerId, Vec<oneshot::Sender<Result<Connected, HandshakeError>>>>,
    dial_started: HashMap<PeerId, Instant>,
    /// The first live connection of each connected peer, reported again when a dial reuses
    /// it (bounded by the connection limits).
    live: HashMap<PeerId, Connected>,
    pending_requests: HashMap<(Family, OutboundRequestId), RequestReply>,
    identified: HashMap<PeerId, identify::Info>,
    /// Peers disconnected to be dialed again at this address, speaking floodsub
    /// ([`HostConfigBuilder::floodsub_links`](super::HostConfigBuilder::floodsub_links)).
    floodsub_redials: HashMap<PeerId, Multiaddr>,
    /// With `floodsub_links`, the address of each connected peer whose first connection we
    /// dialed.
    dialed: HashMap<PeerId, Multiaddr>,
    identify_waiters: HashMap<PeerId, Vec<oneshot::Sender<identify::Info>>>,
    goodbyes: HashMap<PeerId, (u64, Instant)>,
    statuses: StatusTracker,
    connected: Arc<std::sync::atomic::AtomicU64>,
    mesh_links: Arc<std::sync::atomic::AtomicU64>,
    /// Per connected peer: its untimely-attestation counter and when it was last decayed.
    untimely: HashMap<PeerId, (f64, Instant)>,
    /// Banned peers and until when (at most [`MAX_BANS`]).
    bans: HashMap<PeerId, Instant>,
    defence: Arc<super::GossipDefenceStats>,
    /// Where GossipSub copies stamped before their first-delivered copy are counted.
    traffic: Arc<super::Traffic>,
    /// First deliveries waiting a moment for an earlier copy to take their credit.
    held: super::hold::Held,
    /// Each connected peer's id in valtrack-core's form: converting checks that the key is a
    /// curve point (a square root), too dear for every gossip message.
    core_ids: HashMap<PeerId, valtrack_core::PeerId>,
}

impl HostTask {
    /// GossipSub's score of `peer` (`None` without GossipSub or for an unscored peer).
    fn gossip_score(&self, peer: &PeerId) -> Option<f64> {
        self.swarm
            .behaviour()
            .gossipsub
            .as_ref()
            .and_then(|g| g.peer_score(peer))
    }

    /// The network's fork digest now (gossip topics are named with it).
    fn current_digest(&self) -> valtrack_core::ForkDigest {
        let epoch = self
            .config
            .network
            .current_epoch(SystemTime::now())
            .unwrap_or(0);
        self.config.network.fork_digest(epoch)
    }

    pub(crate) async fn start(
        config: HostConfig,
        commands: mpsc::Receiver<Command>,
        inbound: mpsc::Sender<Connected>,
        broadcasts: Broadcasts,
        capture: Option<CaptureBuffer>,
    ) -> Result<(Self, PeerId, Vec<Multiaddr>), HostError> {
        let secret = match config.secret_key {
            Some(bytes) => identity::secp256k1::SecretKey::try_from_bytes(bytes)
                .map_err(|_| HostError::Config("secret key is not a valid secp256k1 scalar"))?,
            None => identity::secp256k1::SecretKey::generate(),
        };
        let key = identity::Keypair::from(identity::secp256k1::Keypair::from(secret));
        let muxers = MuxerRegistry::default();
        let arrivals = super::arrival::Arrivals::default();
        let transport = transport::build(
            &key,
            config.muxers,
            config.connect_timeout,
            muxers.clone(),
            Arc::clone(&broadcasts.traffic),
            arrivals.clone(),
        )?;
        let mut behaviour = Behaviour::new(&key, &config, capture)?;
        if let Some(gossipsub) = behaviour.gossipsub.as_mut() {
            // First deliveries are stamped when their bytes arrived, not when decoded.
            gossipsub.set_arrival_clocks(Arc::new(move |remote| arrivals.lookup(remote)));
        }
        let peer_id = key.public().to_peer_id();
        let mut swarm = Swarm::new(
            transport,
            Boxed(behaviour),
            peer_id,
            libp2p::swarm::Config::with_tokio_executor()
                .with_idle_connection_timeout(config.idle_connection_timeout)
                // Try a peer's addresses one at a time, in the order given (QUIC first when
                // preferred), instead of racing them.
                .with_dial_concurrency_factor(std::num::NonZeroU8::MIN),
        );
        for addr in &config.listen {
            swarm
                .listen_on(addr.clone())
                .map_err(|e| HostError::Listen {
                    addr: addr.to_string(),
                    source: Box::new(e),
                })?;
        }
        // Wait for each listener's real address (port 0 resolves here).
        let mut listen_addrs = Vec::new();
        while listen_addrs.len() < config.listen.len() {
            match swarm.select_next_some().await {
                SwarmEvent::NewListenAddr { address, .. } => listen_addrs.push(address),
                SwarmEvent::ListenerError { error, .. } => {
                    return Err(HostError::Listen {
                        addr: "listener".into(),
                        source: Box::new(error),
                    })
                }
                SwarmEvent::ListenerClosed {
                    addresses, reason, ..
                } => {
                    return Err(HostError::Listen {
                        addr: format!("{addresses:?}"),
                        source: match reason {
                            Err(e) => Box::new(e),
                            Ok(()) => Box::new(HostError::Closed),
                        },
                    })
                }
                _ => {}
            }
        }
        if let Some(gossipsub) = swarm.behaviour_mut().gossipsub.as_mut() {
            subscribe_subnets(gossipsub, &config, true)?;
        }
        let task = Self {
            swarm,
            commands,
            inbound,
            observations: broadcasts.observations,
            gossip: broadcasts.gossip,
            config,
            muxers,
            pending_dials: HashMap::new(),
            dial_started: HashMap::new(),
            live: HashMap::new(),
            pending_requests: HashMap::new(),
            identified: HashMap::new(),
            floodsub_redials: HashMap::new(),
            dialed: HashMap::new(),
            identify_waiters: HashMap::new(),
            goodbyes: HashMap::new(),
            statuses: StatusTracker::default(),
            connected: broadcasts.connected,
            mesh_links: broadcasts.mesh_links,
            untimely: HashMap::new(),
            core_ids: HashMap::new(),
            bans: HashMap::new(),
            defence: broadcasts.defence,
            traffic: broadcasts.traffic,
            held: super::hold::Held::default(),
        };
        Ok((task, peer_id, listen_addrs))
    }

    pub(crate) async fn run(mut self) {
        let mut sweep = tokio::time::interval(SWEEP_EVERY);
        sweep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // Armed for the oldest held first delivery, plus a batch's slack, so that held
        // messages leave in batches (a wake-up of this loop polls the whole swarm); re-armed
        // only when the oldest changes.
        let release = tokio::time::sleep(Duration::ZERO);
        tokio::pin!(release);
        let mut armed: Option<Instant> = None;
        loop {
            let due = self.held.next_due();
            if due != armed {
                if let Some(at) = due {
                    release.as_mut().reset((at + super::hold::BATCH).into());
                }
                armed = due;
            }
            tokio::select! {
                command = self.commands.recv() => match command {
                    Some(c) => self.on_command(c),
                    None => break, // every handle dropped
                },
                event = self.swarm.select_next_some() => self.on_swarm_event(event),
                () = &mut release, if armed.is_some() => {
                    for message in self.held.due(Instant::now()) {
                        let _ = self.gossip.send(message);
                    }
                }
                _ = sweep.tick() => self.sweep(),
            }
        }
        for message in self.held.drain() {
            let _ = self.gossip.send(message);
        }
        debug!(target: LOG, "host stopped");
    }

    fn now(&self) -> Option<(u64, u64)> {
        let network = &self.config.network;
        Some((
            network.current_epoch(SystemTime::now())?,
            network.current_slot(SystemTime::now())?,
        ))
    }

    fn on_command(&mut self, command: Command) {
        match command {
            Command::Dial { peer, addrs, reply } => self.dial(peer, addrs, reply),
            Command::Request {
                peer,
                request,
                reply,
            } => {
                let family = match request {
                    RpcRequest::Status(_) => Family::Status,
                    RpcRequest::MetaData => Family::MetaData,
                    RpcRequest::Ping(_) => Family::Ping,
                    RpcRequest::Goodbye(_) => Family::Goodbye,
                };
                if !self.swarm.is_connected(&peer) {
                    let _ = reply.send(Err(self.closed_error(&peer, None)));
                    return;
                }
                let b = self.swarm.behaviour_mut();
                let id = match family {
                    Family::Status => b.status.send_request(&peer, request),
                    Family::MetaData => b.metadata.send_request(&peer, request),
                    Family::Ping => b.ping.send_request(&peer, request),
                    Family::Goodbye => b.goodbye.send_request(&peer, request),
                };
                self.pending_requests.insert((family, id), reply);
            }
            Command::Identify { peer, reply } => match self.identified.get(&peer) {
                Some(info) => {
                    let _ = reply.send(info.clone());
                }
                None if self.swarm.is_connected(&peer) => {
                    self.identify_waiters.entry(peer).or_default().push(reply);
                }
                None => {} // dropping the sender tells the caller: nothing will come
            },
            Command::Disconnect { peer } => {
                let _ = self.swarm.disconnect_peer_id(peer);
            }
            Command::StatusFor { digest, reply } => {
                let slots = self.config.network.slots_per_epoch();
                let _ = reply.send(self.statuses.status_for(digest, slots));
            }
            Command::SetAttnets { attnets, reply } => {
                // Only the difference changes, so peers see no flap on kept subnets.
                let old = self.config.attnets;
                let mut removed = self.config.clone();
                removed.attnets = AttestationSubnets::from_subnets(
                    old.subnets().into_iter().filter(|n| !attnets.contains(*n)),
                );
                removed.syncnets = SyncSubnets::default();
                let mut added = removed.clone();
                added.attnets = AttestationSubnets::from_subnets(
                    attnets.subnets().into_iter().filter(|n| !old.contains(*n)),
                );
                self.config.attnets = attnets;
                let result = match self.swarm.behaviour_mut().gossipsub.as_mut() {
                    Some(g) => subscribe_subnets(g, &removed, false)
                        .and_then(|()| subscribe_subnets(g, &added, true)),
                    None => Ok(()),
                };
                self.config.metadata_seq = self.config.metadata_seq.saturating_add(1);
                let _ = reply.send(result);
            }
            Command::IsConnected { peer, reply } => {
                let _ = reply.send(self.swarm.is_connected(&peer));
            }
            Command::GossipScore { peer, reply } => {
                let _ = reply.send(self.gossip_score(&peer));
            }
            Command::Subscribe { kind, on, reply } => {
                let digest = self.current_digest();
                let topic = libp2p::gossipsub::IdentTopic::new(
                    valtrack_core::codec::GossipTopic::new(digest, kind).to_string(),
                );
                let result = match self.swarm.behaviour_mut().gossipsub.as_mut() {
                    Some(g) if on => g
                        .subscribe(&topic)
                        .map(|_| ())
                        .map_err(|_| HostError::Config("gossipsub subscription refused")),
                    Some(g) => {
                        g.unsubscribe(&topic);
                        Ok(())
                    }
                    None => Err(HostError::Config("gossipsub is off")),
                };
                let _ = reply.send(result);
            }
            Command::Publish { kind, ssz, reply } => {
                let digest = self.current_digest();
                let result = match self.swarm.behaviour_mut().gossipsub.as_mut() {
                    Some(g) => {
                        let topic =
                            valtrack_core::codec::GossipTopic::new(digest, kind).to_string();
                        g.publish(libp2p::gossipsub::IdentTopic::new(topic), ssz)
                            .map(|_| ())
                            .map_err(|_| HostError::Config("gossipsub publish failed"))
                    }
                    None => Err(HostError::Config("gossipsub is off")),
                };
                let _ = reply.send(result);
            }
        }
    }

    fn dial(
        &mut self,
        peer: PeerId,
        addrs: Vec<Multiaddr>,
        reply: oneshot::Sender<Result<Connected, HandshakeError>>,
    ) {
        if self.swarm.is_connected(&peer) {
            // Reuse the connection: report it as it is (its address, transport and muxer);
            // nothing was set up now, so it took no time.
            let connected = match self.live.get(&peer) {
                Some(c) => Connected {
                    established_in: std::time::Duration::ZERO,
                    ..c.clone()
                },
                None => Connected {
                    peer,
                    address: addrs.first().cloned().unwrap_or_else(Multiaddr::empty),
                    transport: Transport::Tcp,
                    muxer: self.muxers.get(&peer),
                    established_in: std::time::Duration::ZERO,
                },
            };
            let _ = reply.send(Ok(connected));
            return;
        }
        if addrs.is_empty() {
            let _ = reply.send(Err(HandshakeError::NoAddress));
            return;
        }
        let first = !self.pending_dials.contains_key(&peer);
        self.pending_dials.entry(peer).or_default().push(reply);
        if first {
            self.dial_started.insert(peer, Instant::now());
            let opts = DialOpts::peer_id(peer)
                .addresses(addrs)
                .condition(PeerCondition::DisconnectedAndNotDialing)
                .build();
            if let Err(error) = self.swarm.dial(opts) {
                self.fail_dial(peer, &error);
            }
        }
    }

    fn fail_dial(&mut self, peer: PeerId, error: &DialError) {
        self.dial_started.remove(&peer);
        for reply in self.pending_dials.remove(&peer).unwrap_or_default() {
            let _ = reply.send(Err(classify_dial_error(error)));
        }
    }

    fn closed_error(&self, peer: &PeerId, source: Option<valtrack_core::BoxError>) -> RequestError {
        match self.goodbyes.get(peer) {
            Some((code, at)) if at.elapsed() < GOODBYE_MEMORY => RequestError::Goodbye(*code),
            _ => RequestError::Closed(source),
        }
    }

    fn on_swarm_event(&mut self, event: SwarmEvent<super::behaviour::BehaviourEvent>) {
        if matches!(
            event,
            SwarmEvent::ConnectionEstablished { .. } | SwarmEvent::ConnectionClosed { .. }
        ) {
            let peers = self.swarm.network_info().num_peers() as u64;
            self.connected
                .store(peers, std::sync::atomic::Ordering::Relaxed);
        }
        match event {
            SwarmEvent::ConnectionEstablished { peer_id, .. } if self.is_banned(&peer_id) => {
                debug!(target: LOG, peer = %peer_id, "banned: connection closed");
                self.defence.refused.fetch_add(1, Ordering::Relaxed);
                let _ = self.swarm.disconnect_peer_id(peer_id);
                self.dial_started.remove(&peer_id);
                for reply in self.pending_dials.remove(&peer_id).unwrap_or_default() {
                    let _ = reply.send(Err(HandshakeError::ProtocolViolation {
                        stage: HandshakeStage::Connect,
                        source: "peer banned for its GossipSub score".into(),
                    }));
                }
            }
            SwarmEvent::ConnectionEstablished {
                peer_id,
                endpoint,
                num_established,
                ..
            } => {
                let address = endpoint.get_remote_address().clone();
                let transport = if address
                    .iter()
                    .any(|p| matches!(p, libp2p::multiaddr::Protocol::QuicV1))
                {
                    Transport::Quic
                } else {
                    Transport::Tcp
                };
                let muxer = match transport {
                    Transport::Tcp => self.muxers.get(&peer_id),
                    Transport::Quic => None,
                };
                let established_in = self
                    .dial_started
                    .remove(&peer_id)
                    .map(|t| t.elapsed())
                    .unwrap_or_default();
                let connected = Connected {
                    peer: peer_id,
                    address,
                    transport,
                    muxer,
                    established_in,
                };
                self.live
                    .entry(peer_id)
                    .or_insert_with(|| connected.clone());
                if let std::collections::hash_map::Entry::Vacant(slot) =
                    self.core_ids.entry(peer_id)
                {
                    if let Some(core) = super::to_core_peer_id(&peer_id) {
                        slot.insert(core);
                    }
                }
                match endpoint {
                    ConnectedPoint::Dialer { .. } => {
                        if self.config.floodsub_links {
                            self.dialed
                                .entry(peer_id)
                                .or_insert_with(|| connected.address.clone());
                        }
                        for reply in self.pending_dials.remove(&peer_id).unwrap_or_default() {
                            let _ = reply.send(Ok(connected.clone()));
                        }
                    }
                    ConnectedPoint::Listener { .. } => {
                        self.on_inbound_connection(connected, num_established.get());
                    }
                }
            }
            SwarmEvent::OutgoingConnectionError {
                peer_id: Some(peer),
                error,
                ..
            } => {
                debug!(target: LOG, %peer, %error, "dial failed");
                self.fail_dial(peer, &error);
                if !self.swarm.is_connected(&peer) {
                    self.forget_floodsub(peer);
                }
            }
            SwarmEvent::ConnectionClosed {
                peer_id,
                num_established: 0,
                cause,
                ..
            } => {
                debug!(target: LOG, peer = %peer_id, ?cause, "disconnected");
                if let Some(peer) = super::to_core_peer_id(&peer_id) {
                    let _ = self.observations.send(SubnetObservation::Disconnected {
                        peer_id: peer,
                        at_ms: unix_ms(),
                    });
                }
                self.muxers.remove(&peer_id);
                self.live.remove(&peer_id);
                self.core_ids.remove(&peer_id);
                self.untimely.remove(&peer_id);
                self.identified.remove(&peer_id);
                self.identify_waiters.remove(&peer_id);
                self.dialed.remove(&peer_id);
                if let Some(address) = self.floodsub_redials.remove(&peer_id) {
                    let dial = DialOpts::peer_id(peer_id)
                        .addresses(vec![address])
                        .condition(PeerCondition::Disconnected)
                        .build();
                    if let Err(error) = self.swarm.dial(dial) {
                        debug!(target: LOG, peer = %peer_id, %error, "floodsub redial failed");
                        self.forget_floodsub(peer_id);
                    }
                } else {
                    // Kept only while connected: the set stays as small as the peerstore.
                    self.forget_floodsub(peer_id);
                }
            }
            // Another connection to the peer remains: the closed one is no longer the one
            // to report on reuse.
            SwarmEvent::ConnectionClosed {
                peer_id, endpoint, ..
            } if self
                .live
                .get(&peer_id)
                .is_some_and(|c| c.address == *endpoint.get_remote_address()) =>
            {
                self.live.remove(&peer_id);
            }
            SwarmEvent::Behaviour(event) => self.on_behaviour_event(event),
            _ => {}
        }
    }

    /// With [`floodsub_links`](super::HostConfigBuilder::floodsub_links): a peer we dialed whose
    /// identify lists `/floodsub/1.0.0`, and whose connection speaks GossipSub, is disconnected
    /// and dialed again; its next connections speak floodsub only.
    fn floodsub_link(&mut self, peer: PeerId, info: &identify::Info) {
        if !self.config.floodsub_links || !info.protocols.iter().any(|p| p.as_ref() == FLOODSUB) {
            return;
        }
        // A peer that dialed us cannot be dialed back at the address it came from.
        let Some(address) = self.dialed.get(&peer).cloned() else {
            return;
        };
        let Some(gossipsub) = self.swarm.behaviour_mut().gossipsub.as_mut() else {
            return;
        };
        if !gossipsub.set_floodsub_only(peer, true) {
            return; // this connection already speaks floodsub
        }
        debug!(target: LOG, %peer, "speaks floodsub: reconnecting as a floodsub peer");
        self.floodsub_redials.insert(peer, address);
        let _ = self.swarm.disconnect_peer_id(peer);
    }

    /// The peer's next connections speak what every peer's do.
    fn forget_floodsub(&mut self, peer: PeerId) {
        if let Some(gossipsub) = self.swarm.behaviour_mut().gossipsub.as_mut() {
            gossipsub.set_floodsub_only(peer, false);
        }
    }

    fn on_inbound_connection(&mut self, connected: Connected, num_established: u32) {
        let peer = connected.peer;
        match &self.config.mode {
            PeerMode::Full => {
                debug!(target: LOG, %peer, "full: goodbye 129");
                let request = RpcRequest::Goodbye(Goodbye { reason: 129 });
                let id = self
                    .swarm
                    .behaviour_mut()
                    .goodbye
                    .send_request(&peer, request);
                // The reply is not awaited by anyone; the disconnect follows its completion.
                let (tx, _rx) = oneshot::channel();
                self.pending_requests.insert((Family::Goodbye, id), tx);
            }
            _ if num_established == 1 => {
                // Hand the peer to whoever handshakes inbound peers; never block on it.
                if let Err(e) = self.inbound.try_send(connected) {
                    if matches!(e, mpsc::error::TrySendError::Full(_)) {
                        warn!(target: LOG, %peer, "inbound queue full, not handshaking");
                    }
                }
            }
            _ => {}
        }
    }

    fn on_behaviour_event(&mut self, event: super::behaviour::BehaviourEvent) {
        use super::behaviour::BehaviourEvent as E;
        match event {
            E::Status(e) => self.on_rpc_event(Family::Status, e),
            E::Metadata(e) => self.on_rpc_event(Family::MetaData, e),
            E::Ping(e) => self.on_rpc_event(Family::Ping, e),
            E::Goodbye(e) => self.on_rpc_event(Family::Goodbye, e),
            E::Identify(identify::Event::Received { peer_id, info, .. }) => {
                for waiter in self.identify_waiters.remove(&peer_id).unwrap_or_default() {
                    let _ = waiter.send(info.clone());
                }
                if self.swarm.is_connected(&peer_id) {
                    self.floodsub_link(peer_id, &info);
                    self.identified.insert(peer_id, info);
                }
            }
            E::Gossipsub(libp2p::gossipsub::Event::Message {
                propagation_source,
                message_id,
                message,
                received,
            }) => {
                let (acceptance, sound) = self.judge_gossip(&propagation_source, &message);
                if let Some(g) = self.swarm.behaviour_mut().gossipsub.as_mut() {
                    g.report_message_validation_result(
                        &message_id,
                        &propagation_source,
                        acceptance,
                    );
                }
                // Gossipsub deduplicates by message id: this is the first delivery. What we
                // rejected or found untimely goes no further: a flood of it must not crowd
                // real messages out of the gossip queue.
                if let Some(topic) = sound {
                    self.report_gossip(propagation_source, topic, message_id, &message, received);
                }
            }
            E::Gossipsub(libp2p::gossipsub::Event::EarlierCopy {
                propagation_source,
                message_id,
                earlier_by,
            }) => {
                self.traffic.earlier_copies.record(earlier_by);
                if self.gossip.receiver_count() == 0 {
                    return; // nothing was held
                }
                let Some(source) = self.core_id(&propagation_source) else {
                    return;
                };
                let counter = match self.held.earlier(&message_id, source, earlier_by) {
                    super::hold::Earlier::Recredited => &self.traffic.recredited,
                    super::hold::Earlier::Kept => return,
                    super::hold::Earlier::NotHeld => &self.traffic.earlier_unheld,
                };
                counter.fetch_add(1, Ordering::Relaxed);
            }
            E::Gossipsub(libp2p::gossipsub::Event::Subscribed { peer_id, topic, .. }) => {
                if let Some(obs) = subscription(peer_id, topic.as_str(), true) {
                    let _ = self.observations.send(obs);
                }
            }
            E::Gossipsub(libp2p::gossipsub::Event::Unsubscribed { peer_id, topic }) => {
                if let Some(obs) = subscription(peer_id, topic.as_str(), false) {
                    let _ = self.observations.send(obs);
                }
            }
            _ => {}
        }
    }

    fn on_rpc_event(
        &mut self,
        family: Family,
        event: request_response::Event<RpcRequest, RpcResponse>,
    ) {
        use request_response::{Event, Message};
        match event {
            Event::Message {
                peer,
                message:
                    Message::Request {
                        request, channel, ..
                    },
                ..
            } => {
                let response = self.answer(peer, request);
                let b = self.swarm.behaviour_mut();
                let behaviour = match family {
                    Family::Status => &mut b.status,
                    Family::MetaData => &mut b.metadata,
                    Family::Ping => &mut b.ping,
                    Family::Goodbye => &mut b.goodbye,
                };
                let _ = behaviour.send_response(channel, response);
            }
            Event::Message {
                peer,
                message:
                    Message::Response {
                        request_id,
                        response,
                    },
                ..
            } => {
                if let RpcResponse::Status(status) = &response {
                    let now = self.now();
                    self.statuses.observe(peer, status, now);
                }
                if family == Family::Goodbye && self.config.mode == PeerMode::Full {
                    let _ = self.swarm.disconnect_peer_id(peer);
                }
                if let Some(reply) = self.pending_requests.remove(&(family, request_id)) {
                    let _ = reply.send(Ok(response));
                }
            }
            Event::OutboundFailure {
                peer,
                request_id,
                error,
                ..
            } => {
                if family == Family::Goodbye && self.config.mode == PeerMode::Full {
                    let _ = self.swarm.disconnect_peer_id(peer);
                }
                if let Some(reply) = self.pending_requests.remove(&(family, request_id)) {
                    let _ = reply.send(Err(self.classify_outbound_failure(&peer, error)));
                }
            }
            Event::InboundFailure { peer, error, .. } => {
                debug!(target: LOG, %peer, ?family, %error, "inbound request failed");
            }
            Event::ResponseSent { .. } => {}
        }
    }

    /// Our verdict on a gossip message, and whether it is sound (worth reporting). We cannot
    /// fully validate gossip: IGNORE, so nothing unvalidated is forwarded (simulated nodes
    /// relay among themselves: ACCEPT). But an attestation that is not the topic's SSZ
    /// container is REJECTed (GossipSub penalises its sender), and one outside the gossip
    /// window costs its sender a P5 penalty; neither is sound.
    fn judge_gossip(
        &mut self,
        from: &PeerId,
        message: &libp2p::gossipsub::Message,
    ) -> (
        libp2p::gossipsub::MessageAcceptance,
        Option<valtrack_core::codec::GossipTopic>,
    ) {
        use libp2p::gossipsub::MessageAcceptance;
        use valtrack_core::attribution::AttestationFacts;
        use valtrack_core::codec::{GossipKind, GossipTopic};
        let pass = if self.config.accept_gossip {
            MessageAcceptance::Accept
        } else {
            MessageAcceptance::Ignore
        };
        let Ok(topic) = message.topic.as_str().parse::<GossipTopic>() else {
            return (pass, None);
        };
        let GossipKind::BeaconAttestation(subnet) = topic.kind else {
            return (pass, None);
        };
        let network = &self.config.network;
        let Some(fork) = network.find_digest(topic.fork_digest).map(|d| d.fork) else {
            return (pass, Some(topic));
        };
        let electra = fork >= valtrack_core::ForkName::Electra;
        let Ok(facts) = AttestationFacts::decode(&message.data, subnet, electra) else {
            self.defence.rejected.fetch_add(1, Ordering::Relaxed);
            return (MessageAcceptance::Reject, None);
        };
        let now_slot = network.current_slot(SystemTime::now()).unwrap_or(0);
        if !facts.in_gossip_window(now_slot, network.slots_per_epoch()) {
            self.defence.untimely.fetch_add(1, Ordering::Relaxed);
            let now = Instant::now();
            let (count, at) = self.untimely.entry(*from).or_insert((0.0, now));
            *count = decayed(*count, *at, now) + 1.0;
            *at = now;
            let score = -*count * UNTIMELY_PENALTY;
            if let Some(g) = self.swarm.behaviour_mut().gossipsub.as_mut() {
                g.set_application_score(from, score);
            }
            return (MessageAcceptance::Ignore, None);
        }
        (pass, Some(topic))
    }

    fn is_banned(&self, peer: &PeerId) -> bool {
        self.bans
            .get(peer)
            .is_some_and(|until| *until > Instant::now())
    }

    /// Every second: ban the connected peers whose GossipSub score fell to
    /// [`GOSSIP_BAN_SCORE`](super::behaviour::GOSSIP_BAN_SCORE) (disconnect, GossipSub
    /// blacklist, connections refused for [`BAN`]), lift the bans that ended, and let the
    /// untimely penalties decay.
    fn sweep(&mut self) {
        let now = Instant::now();
        let Some(g) = self.swarm.behaviour_mut().gossipsub.as_mut() else {
            return;
        };
        let links: usize = g.topics().map(|t| g.mesh_peers(t).count()).sum();
        self.mesh_links
            .store(links as u64, std::sync::atomic::Ordering::Relaxed);
        self.bans.retain(|peer, until| {
            let keep = *until > now;
            if !keep {
                g.remove_blacklisted_peer(peer);
            }
            keep
        });
        self.untimely.retain(|peer, (count, at)| {
            *count = decayed(*count, *at, now);
            *at = now;
            g.set_application_score(peer, -*count * UNTIMELY_PENALTY);
            *count > 0.5
        });
        let low: Vec<PeerId> = self
            .swarm
            .connected_peers()
            .filter(|p| {
                self.swarm
                    .behaviour()
                    .gossipsub
                    .as_ref()
                    .and_then(|g| g.peer_score(p))
                    .is_some_and(|s| s <= super::behaviour::GOSSIP_BAN_SCORE)
            })
            .copied()
            .collect();
        for peer in low {
            if self.bans.len() >= MAX_BANS {
                if let Some(first) = self.bans.iter().min_by_key(|(_, u)| **u).map(|(p, _)| *p) {
                    self.bans.remove(&first);
                    if let Some(g) = self.swarm.behaviour_mut().gossipsub.as_mut() {
                        g.remove_blacklisted_peer(&first);
                    }
                }
            }
            let score = self.gossip_score(&peer);
            debug!(target: LOG, %peer, ?score, "GossipSub score too low: disconnected and banned");
            self.bans.insert(peer, now + BAN);
            self.defence.banned.fetch_add(1, Ordering::Relaxed);
            if let Some(g) = self.swarm.behaviour_mut().gossipsub.as_mut() {
                g.blacklist_peer(&peer);
            }
            let _ = self.swarm.disconnect_peer_id(peer);
        }
        self.defence
            .banned_now
            .store(self.bans.len() as u64, Ordering::Relaxed);
    }

    /// Hands a message on an attestation subnet (its `topic` parsed by
    /// [`judge_gossip`](Self::judge_gossip)) to [`Host::gossip_messages`] readers (if any),
    /// bounded by the largest attestation encoding, after holding it for
    /// [`HOLD`](super::hold::HOLD): a copy reported meanwhile as stamped earlier takes its
    /// source and stamp. `received` is when the bytes of the RPC carrying it arrived on its
    /// connection (vendored GossipSub), not when the swarm got to it.
    fn report_gossip(
        &mut self,
        from: PeerId,
        topic: valtrack_core::codec::GossipTopic,
        id: libp2p::gossipsub::MessageId,
        message: &libp2p::gossipsub::Message,
        received: SystemTime,
    ) {
        use valtrack_core::ssz::{Attestation, SingleAttestation};
        use valtrack_core::SszMessage;
        if self.gossip.receiver_count() == 0 {
            return;
        }
        let max = Attestation::SSZ_MAX_LEN.max(SingleAttestation::SSZ_MAX_LEN);
        if message.data.len() > max {
            debug!(target: LOG, peer = %from, len = message.data.len(), max, "oversized attestation");
            return;
        }
        let Some(source) = self.core_id(&from) else {
            return;
        };
        let message = valtrack_core::GossipMessage {
            topic,
            source,
            received,
            data: message.data.clone(),
        };
        if let Some(oldest) = self.held.push(id, message, Instant::now()) {
            let _ = self.gossip.send(oldest);
        }
    }

    /// `peer`'s id in valtrack-core's form.
    fn core_id(&self, peer: &PeerId) -> Option<valtrack_core::PeerId> {
        self.core_ids
            .get(peer)
            .copied()
            .or_else(|| super::to_core_peer_id(peer))
    }

    fn answer(&mut self, peer: PeerId, request: RpcRequest) -> RpcResponse {
        let honest = self.normal_answer(peer, &request);
        match &self.config.responder {
            Some(responder) => responder.0.respond(&peer, &request, honest),
            None => honest,
        }
    }

    fn normal_answer(&mut self, peer: PeerId, request: &RpcRequest) -> RpcResponse {
        let c = &self.config;
        match request {
            RpcRequest::Status(theirs) => {
                // An unasked Status is not learned from (see `status`): it costs a peer nothing.
                let now = self.now();
                RpcResponse::Status(match &self.config.fixed_status {
                    Some(status) => (status.0)(now),
                    None => {
                        let epoch = now.map(|(e, _)| e).unwrap_or(0);
                        let digest = self.config.network.fork_digest(epoch);
                        let slots = self.config.network.slots_per_epoch();
                        self.statuses.answer(digest, theirs, slots)
                    }
                })
            }
            RpcRequest::MetaData => {
                RpcResponse::MetaData(MetaData::V3(valtrack_core::ssz::MetaDataV3::new(
                    c.metadata_seq,
                    c.attnets,
                    c.syncnets,
                    c.custody_group_count,
                )))
            }
            RpcRequest::Ping(_) => RpcResponse::Ping(Ping {
                seq_number: c.metadata_seq,
            }),
            RpcRequest::Goodbye(Goodbye { reason }) => {
                debug!(target: LOG, %peer, reason, "peer said goodbye");
                if self.goodbyes.len() >= MAX_GOODBYES {
                    self.goodbyes
                        .retain(|_, (_, at)| at.elapsed() < GOODBYE_MEMORY);
                    if self.goodbyes.len() >= MAX_GOODBYES {
                        self.goodbyes.clear();
                    }
                }
                self.goodbyes.insert(peer, (*reason, Instant::now()));
                RpcResponse::GoodbyeAck
            }
        }
    }

    fn classify_outbound_failure(&self, peer: &PeerId, error: OutboundFailure) -> RequestError {
        match error {
            OutboundFailure::Timeout => RequestError::Timeout(None),
            OutboundFailure::UnsupportedProtocols => RequestError::Unsupported,
            OutboundFailure::DialFailure | OutboundFailure::ConnectionClosed => {
                self.closed_error(peer, None)
            }
            OutboundFailure::Io(e) => match e.kind() {
                std::io::ErrorKind::TimedOut => RequestError::Timeout(Some(Box::new(e))),
                std::io::ErrorKind::InvalidData => {
                    // An error response is the peer's answer, not garbage; report it as such.
                    if let Some(code) = e
                        .get_ref()
                        .and_then(|inner| inner.downcast_ref::<valtrack_core::CodecError>())
                        .and_then(valtrack_core::CodecError::response_code)
                    {
                        debug!(target: LOG, %peer, %code, "error response");
                    }
                    match self.goodbyes.get(peer) {
                        Some((code, at)) if at.elapsed() < GOODBYE_MEMORY => {
                            RequestError::Goodbye(*code)
                        }
                        _ => RequestError::Violation(Box::new(e)),
                    }
                }
                _ => self.closed_error(peer, Some(Box::new(e))),
            },
        }
    }
}

/// `count` decayed by [`UNTIMELY_DECAY`] per second from `at` to `now`.
fn decayed(count: f64, at: Instant, now: Instant) -> f64 {
    count * UNTIMELY_DECAY.powf(now.saturating_duration_since(at).as_secs_f64())
}

fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// A peer's (un)subscription to a subnet topic, if the topic is one.
fn subscription(peer: PeerId, topic: &str, subscribed: bool) -> Option<SubnetObservation> {
    use valtrack_core::codec::GossipKind;
    use valtrack_core::Subnet;
    let topic: valtrack_core::codec::GossipTopic = topic.parse().ok()?;
    let subnet = match topic.kind {
        GossipKind::BeaconAttestation(n) => Subnet::Attestation(u8::try_from(n).ok()?),
        GossipKind::SyncCommittee(n) => Subnet::SyncCommittee(u8::try_from(n).ok()?),
        _ => return None,
    };
    Some(SubnetObservation::subscription(
        subscribed,
        super::to_core_peer_id(&peer)?,
        topic.fork_digest,
        subnet,
        unix_ms(),
    ))
}

/// Subscribes to (or, with `on == false`, unsubscribes from) the attestation and sync subnets
/// we advertise, on the current digest.
fn subscribe_subnets(
    gossipsub: &mut libp2p::gossipsub::Behaviour<super::behaviour::SnappyTransform>,
    config: &HostConfig,
    on: bool,
) -> Result<(), HostError> {
    use valtrack_core::codec::{GossipKind, GossipTopic};
    let epoch = config.network.current_epoch(SystemTime::now()).unwrap_or(0);
    let digest = config.network.fork_digest(epoch);
    let kinds = config
        .attnets
        .subnets()
        .into_iter()
        .map(GossipKind::BeaconAttestation)
        .chain(
            config
                .syncnets
                .subnets()
                .into_iter()
                .map(GossipKind::SyncCommittee),
        );
    for kind in kinds {
        let topic = libp2p::gossipsub::IdentTopic::new(GossipTopic::new(digest, kind).to_string());
        if on {
            gossipsub
                .subscribe(&topic)
                .map_err(|_| HostError::Config("gossipsub subscription refused"))?;
        } else {
            gossipsub.unsubscribe(&topic);
        }
    }
    Ok(())
}

/// Maps a dial failure to the handshake's typed error.
pub(crate) fn classify_dial_error(error: &DialError) -> HandshakeError {
    match error {
        DialError::NoAddresses => HandshakeError::NoAddress,
        DialError::WrongPeerId { .. } => HandshakeError::SecurityFailed {
            source: Box::new(std::io::Error::other(error.to_string())),
        },
        DialError::Transport(errors) => {
            let mut kinds = errors.iter().map(|(_, e)| classify_transport_error(e));
            // Report the most telling failure among the addresses tried.
            let all: Vec<Classified> = kinds.by_ref().collect();
            let pick = all
                .iter()
                .find(|c| matches!(c, Classified::Security))
                .or_else(|| all.iter().find(|c| matches!(c, Classified::Refused)))
                .or_else(|| all.iter().find(|c| matches!(c, Classified::Timeout)))
                .copied()
                .unwrap_or(Classified::Other);
            let source: valtrack_core::BoxError =
                Box::new(std::io::Error::other(error.to_string()));
            match pick {
                Classified::Security => HandshakeError::SecurityFailed { source },
                Classified::Refused => HandshakeError::Refused { source },
                Classified::Timeout => HandshakeError::Timeout {
                    stage: HandshakeStage::Connect,
                },
                Classified::Other => HandshakeError::Transport { source },
            }
        }
        other => HandshakeError::Transport {
            source: Box::new(std::io::Error::other(other.to_string())),
        },
    }
}

#[derive(Debug, Clone, Copy)]
enum Classified {
    Refused,
    Timeout,
    Security,
    Other,
}

fn classify_transport_error(error: &libp2p::TransportError<std::io::Error>) -> Classified {
    let libp2p::TransportError::Other(io) = error else {
        return Classified::Other;
    };
    let mut current: Option<&(dyn StdError + 'static)> = Some(io);
    while let Some(e) = current {
        let mut next = e.source();
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            match io.kind() {
                std::io::ErrorKind::ConnectionRefused => return Classified::Refused,
                std::io::ErrorKind::TimedOut => return Classified::Timeout,
                _ => {}
            }
            // io::Error's source() skips its own inner error: visit that first.
            if let Some(inner) = io.get_ref() {
                next = Some(inner as &(dyn StdError + 'static));
            }
        }
        if e.downcast_ref::<libp2p::noise::Error>().is_some()
            || e.downcast_ref::<libp2p::core::upgrade::NegotiationError>()
                .is_some()
        {
            return Classified::Security;
        }
        let text = e.to_string();
        if text.contains("Connection refused") {
            return Classified::Refused;
        }
        if text.contains("Timeout has been reached") || text.contains("timed out") {
            return Classified::Timeout;
        }
        if text.contains("ultistream") || text.contains("egotiat") || text.contains("noise") {
            return Classified::Security;
        }
        current = next;
    }
    Classified::Other
}
