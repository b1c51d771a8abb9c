//! The composed libp2p behaviour: connection limits first, identify, GossipSub and one
//! request/response behaviour per eth2 protocol family (rust-libp2p offers every protocol of a
//! behaviour for each request, so the families must not share one).

use std::time::Duration;

use libp2p::gossipsub::{self, MessageAuthenticity, ValidationMode};
use libp2p::identity::Keypair;
use libp2p::request_response::{self, ProtocolSupport};
use libp2p::swarm::behaviour::toggle::Toggle;
use libp2p::swarm::NetworkBehaviour;
use libp2p::{connection_limits, identify};
use valtrack_core::codec::{
    decompress_gossip, gossip_message_id_decompressed, max_message_size, GossipTopic, MessageIdFork,
};
use valtrack_core::{
    constants::{MAX_PAYLOAD_SIZE, SLOTS_PER_EPOCH, SLOT_DURATION_MS},
    ForkDigest,
};

use super::config::HostConfig;
use crate::error::HostError;
use crate::rpc::{CaptureBuffer, Eth2Codec, Eth2Protocol};

/// identify's protocol version string, as Lighthouse announces.
pub const IDENTIFY_PROTOCOL_VERSION: &str = "eth2/1.0.0";

#[derive(NetworkBehaviour)]
pub(crate) struct Behaviour {
    pub(crate) limits: connection_limits::Behaviour,
    pub(crate) identify: identify::Behaviour,
    pub(crate) gossipsub: Toggle<gossipsub::Behaviour<SnappyTransform>>,
    pub(crate) status: request_response::Behaviour<Eth2Codec>,
    pub(crate) metadata: request_response::Behaviour<Eth2Codec>,
    pub(crate) ping: request_response::Behaviour<Eth2Codec>,
    pub(crate) goodbye: request_response::Behaviour<Eth2Codec>,
}

/// Gossip payloads are raw-snappy compressed SSZ: decompress (bounded) on the way in, compress
/// on the way out, so the message-id function sees decompressed data (as Lighthouse does).
/// With `raw_out` (a flooding test host) outgoing payloads are sent as given.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct SnappyTransform {
    pub(crate) raw_out: bool,
}

impl gossipsub::DataTransform for SnappyTransform {
    fn inbound_transform(
        &self,
        raw: gossipsub::RawMessage,
    ) -> Result<gossipsub::Message, std::io::Error> {
        let data = decompress_gossip(&raw.data, gossip_len_bound(raw.topic.as_str()))
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
        Ok(gossipsub::Message {
            source: raw.source,
            data,
            sequence_number: raw.sequence_number,
            topic: raw.topic,
        })
    }

    fn outbound_transform(
        &self,
        _topic: &gossipsub::TopicHash,
        data: Vec<u8>,
    ) -> Result<Vec<u8>, std::io::Error> {
        if self.raw_out {
            return Ok(data);
        }
        snap::raw::Encoder::new()
            .compress_vec(&data)
            .map_err(std::io::Error::other)
    }
}

/// The largest decompressed payload a topic can carry: an attestation subnet carries a
/// phase0 `Attestation` or an Electra `SingleAttestation` (at most 485 bytes), so a peer
/// claiming megabytes there costs no allocation; other topics get `MAX_PAYLOAD_SIZE`.
fn gossip_len_bound(topic: &str) -> usize {
    use valtrack_core::codec::GossipKind;
    use valtrack_core::ssz::{Attestation, SingleAttestation};
    use valtrack_core::SszMessage;
    match topic.parse::<GossipTopic>() {
        Ok(t) if matches!(t.kind, GossipKind::BeaconAttestation(_)) => {
            Attestation::SSZ_MAX_LEN.max(SingleAttestation::SSZ_MAX_LEN)
        }
        _ => MAX_PAYLOAD_SIZE,
    }
}

/// How long a host out of meshes remembers a message it saw (see [`gossipsub_config`]):
/// two mainnet slots. A copy arriving later is delivered again and deduplicated by the
/// reader (the sentry's attribution keeps the first delivery per epoch and validator).
pub(crate) const NO_MESH_SEEN_TTL: Duration = Duration::from_millis(2 * SLOT_DURATION_MS);

/// The backoff a host out of meshes asks for in its PRUNEs: a peer must not GRAFT it again
/// for an hour (the spec sets no bound; clients honour the value sent). Our own backoff
/// record of each refused (peer, topic) is kept as long: ~100 bytes each, up to peers met in
/// an hour times subnets. Every GRAFT it takes
/// is a moment in which the peer forwards it what it relays, copies that can beat an
/// origin's and be credited to the relay; with the usual minute, peers short of mesh
/// members re-GRAFT every minute on every subnet.
pub(crate) const NO_MESH_PRUNE_BACKOFF: Duration = Duration::from_secs(3600);

/// Out of meshes, IHAVE is taken from a peer only on a topic it has not been subscribed to
/// for this long: a peer that just left a subnet still advertises, for its gossip window
/// (3 heartbeats: 2.1-3 s in every client), what it relayed there, and those copies are not
/// its own.
pub(crate) const NO_MESH_IHAVE_UNSUBSCRIBED_FOR: Duration = Duration::from_secs(5);

/// Out of meshes, what a peer sends on a topic within this long after a GRAFT of it we refused
/// is dropped unseen (vendored patch): the peer put us in its mesh when it sent the GRAFT and
/// forwards us what it relays until our PRUNE reaches it, copies that are not its own.
/// Covers a round trip and a busy peer's delay.
pub(crate) const NO_MESH_GRAFT_QUARANTINE: Duration = Duration::from_secs(2);

/// The consensus spec's GossipSub parameters (phase0 p2p-interface), with anonymous
/// messages, manual validation (we IGNORE what we cannot validate) and the spec's message id.
///
/// Without `mesh`, we keep no mesh link: every GRAFT is pruned at once (our vendored
/// GossipSub's patch: D_hi 0 refuses outbound peers too) with a backoff of
/// [`NO_MESH_PRUNE_BACKOFF`], what the peer forwards meanwhile is dropped
/// ([`NO_MESH_GRAFT_QUARANTINE`]), and we graft nobody. Peers then push us only the messages
/// they publish themselves (to every subscribed peer if they flood-publish; else to their
/// mesh, topped up to D, or to D fanout peers), so the first delivery of a message names its
/// origin. IHAVE is taken only from a peer not subscribed to the topic (for
/// [`NO_MESH_IHAVE_UNSUBSCRIBED_FOR`]; vendored patch): such a peer can only be gossiping
/// what it published through fanout, so our IWANT brings the message from its origin even
/// when its fanout left us out. We then relay nothing, so
/// the seen-message cache only has to outlast the copies of one message arriving together:
/// [`NO_MESH_SEEN_TTL`] instead of the spec's two epochs (at mainnet's ~3,000 attestations a
/// second, two epochs of message ids are 2.3 million entries, ~330 MB).
fn gossipsub_config(
    phase0_digest: ForkDigest,
    mesh: bool,
    ihave_from_subscribed: bool,
    params: &super::config::GossipParams,
    max_transmit: usize,
) -> Result<gossipsub::Config, HostError> {
    let seen_ttl = if mesh {
        Duration::from_millis(SLOT_DURATION_MS * SLOTS_PER_EPOCH * 2)
    } else {
        NO_MESH_SEEN_TTL
    };
    let mut builder = gossipsub::ConfigBuilder::default();
    if mesh {
        builder
            .mesh_n(params.mesh_n)
            .mesh_n_low(params.mesh_n_low)
            .mesh_n_high(params.mesh_n_high)
            .mesh_outbound_min(params.mesh_outbound_min)
            .gossip_lazy(params.gossip_lazy)
            .heartbeat_interval(params.heartbeat)
            .fanout_ttl(params.fanout_ttl)
            .flood_publish(params.flood_publish);
    } else {
        builder
            .mesh_outbound_min(0)
            .mesh_n_low(0)
            .mesh_n(0)
            .mesh_n_high(0);
        if !ihave_from_subscribed {
            builder.ihave_from_unsubscribed_only(NO_MESH_IHAVE_UNSUBSCRIBED_FOR);
        }
        builder
            .refused_graft_quarantine(NO_MESH_GRAFT_QUARANTINE)
            .prune_backoff(NO_MESH_PRUNE_BACKOFF)
            .gossip_lazy(6)
            .heartbeat_interval(Duration::from_millis(700))
            .fanout_ttl(Duration::from_secs(60));
    }
    if params.floodsub {
        builder.support_floodsub();
    }
    builder
        .history_length(6)
        .history_gossip(3)
        .report_earlier_copies(true)
        .duplicate_cache_time(seen_ttl)
        .max_transmit_size(max_transmit)
        .validation_mode(ValidationMode::Anonymous)
        .validate_messages()
        .message_id_fn(move |message: &gossipsub::Message| {
            let topic = message.topic.as_str();
            let fork = match topic.parse::<GossipTopic>() {
                Ok(t) if t.fork_digest == phase0_digest => MessageIdFork::Phase0,
                _ => MessageIdFork::Altair,
            };
            gossipsub::MessageId::from(
                gossip_message_id_decompressed(topic, &message.data, fork).to_vec(),
            )
        })
        .build()
        .map_err(|_| HostError::Config("invalid GossipSub parameters"))
}

/// A peer whose GossipSub score falls to this is disconnected and banned for a while (see
/// [`peer_scoring`]). Above the graylist threshold (-100, below which GossipSub ignores the
/// peer's messages, and so stops penalising them), so a flooder's score is sure to pass it.
pub(crate) const GOSSIP_BAN_SCORE: f64 = -80.0;

/// How fast the invalid-message counter of a peer decays, per second (P4).
const INVALID_DECAY: f64 = 0.97;

/// GossipSub peer scoring that counts only what a peer itself sends us wrong, so that honest
/// peers of a sentry (which keeps out of meshes and cannot validate) always score 0:
///
/// - P4, invalid messages, on every attestation subnet of every digest of the network: a
///   payload that is not snappy, decompresses beyond the topic's bound, is not the topic's
///   SSZ container, or a frame beyond GossipSub's limit. Weight -1 on the squared counter,
///   which decays by 3 % a second: 9 invalid messages on one topic, or 80 over all subnets,
///   reach [`GOSSIP_BAN_SCORE`] within seconds; a stray one is forgotten within minutes.
/// - P5, application-specific, weight 1: the host's own penalty for attestations outside
///   the gossip window (IGNOREd per the spec, but a flood of far-future ones is hostile).
///
/// Mesh terms (P1-P3b), IP colocation (P6: simulated networks share 127.0.0.1) and
/// behaviour penalties (P7: peers grafting us within our backoff are honest) weigh 0.
///
/// Out of meshes (`mesh` false), a message's delivery record (which peers sent it, to
/// penalise copies of an invalid one) is kept as long as the message is remembered at all,
/// [`NO_MESH_SEEN_TTL`], not GossipSub's 120 s: at mainnet's rate 120 s of records are
/// ~100 MB (`vendor/libp2p-gossipsub/VALTRACK.md`).
pub(crate) fn peer_scoring(
    network: &valtrack_core::Network,
    mesh: bool,
) -> (gossipsub::PeerScoreParams, gossipsub::PeerScoreThresholds) {
    use valtrack_core::codec::GossipKind;
    use valtrack_core::constants::ATTESTATION_SUBNET_COUNT;
    let topic = gossipsub::TopicScoreParams {
        topic_weight: 1.0,
        time_in_mesh_weight: 0.0,
        first_message_deliveries_weight: 0.0,
        mesh_message_deliveries_weight: 0.0,
        mesh_failure_penalty_weight: 0.0,
        invalid_message_deliveries_weight: -1.0,
        invalid_message_deliveries_decay: INVALID_DECAY,
        ..Default::default()
    };
    let topics = network
        .all_digests()
        .iter()
        .flat_map(|d| {
            (0..ATTESTATION_SUBNET_COUNT).map(move |subnet| {
                GossipTopic::new(d.digest, GossipKind::BeaconAttestation(subnet)).to_string()
            })
        })
        .map(|t| (gossipsub::IdentTopic::new(t).hash(), topic.clone()))
        .collect();
    let params = gossipsub::PeerScoreParams {
        topics,
        topic_score_cap: 0.0,
        app_specific_weight: 1.0,
        ip_colocation_factor_weight: 0.0,
        behaviour_penalty_weight: 0.0,
        decay_interval: Duration::from_secs(1),
        decay_to_zero: 0.01,
        retain_score: Duration::from_secs(600),
        seen_msg_ttl: if mesh {
            gossipsub::PeerScoreParams::default().seen_msg_ttl
        } else {
            NO_MESH_SEEN_TTL
        },
        ..Default::default()
    };
    let thresholds = gossipsub::PeerScoreThresholds {
        gossip_threshold: -40.0,
        publish_threshold: -60.0,
        graylist_threshold: -100.0,
        ..Default::default()
    };
    (params, thresholds)
}

fn rpc(
    protocols: &[Eth2Protocol],
    codec: &Eth2Codec,
    timeout: Duration,
) -> request_response::Behaviour<Eth2Codec> {
    request_response::Behaviour::with_codec(
        codec.clone(),
        protocols.iter().map(|p| (*p, ProtocolSupport::Full)),
        // The spec allows two concurrent requests per protocol.
        request_response::Config::default()
            .with_request_timeout(timeout)
            .with_max_concurrent_streams(2),
    )
}

impl Behaviour {
    pub(crate) fn new(
        key: &Keypair,
        config: &HostConfig,
        capture: Option<CaptureBuffer>,
    ) -> Result<Self, HostError> {
        let limits = connection_limits::Behaviour::new(
            connection_limits::ConnectionLimits::default()
                .with_max_established(Some(config.max_connections))
                // Peers that dial us never take more than half the slots: the crawl's own
                // dials always find room.
                .with_max_established_incoming(Some((config.max_connections / 2).max(1)))
                .with_max_pending_incoming(Some(config.max_pending))
                .with_max_pending_outgoing(Some(config.max_pending))
                .with_max_established_per_peer(Some(2)),
        );
        let identify = identify::Behaviour::new(
            identify::Config::new(IDENTIFY_PROTOCOL_VERSION.to_owned(), key.public())
                .with_agent_version(config.agent_version.clone())
                .with_push_listen_addr_updates(false)
                .with_interval(Duration::from_secs(300)),
        );
        let gossipsub = if config.gossipsub {
            let phase0 = config.network.fork_digest(0);
            let max_transmit = if config.raw_gossip {
                2 * max_message_size()
            } else {
                max_message_size()
            };
            let mut behaviour = gossipsub::Behaviour::new_with_transform(
                MessageAuthenticity::Anonymous,
                gossipsub_config(
                    phase0,
                    config.gossip_mesh,
                    config.ihave_from_subscribed,
                    &config.gossip_params,
                    max_transmit,
                )?,
                SnappyTransform {
                    raw_out: config.raw_gossip,
                },
            )
            .map_err(|reason| HostError::Behaviour {
                behaviour: "gossipsub",
                reason,
            })?;
            let (params, thresholds) = match &config.gossip_scoring {
                Some(own) => (own.params.clone(), own.thresholds.clone()),
                None => peer_scoring(&config.network, config.gossip_mesh),
            };
            behaviour
                .with_peer_score(params, thresholds)
                .map_err(|_| HostError::Config("invalid GossipSub peer-scoring parameters"))?;
            Some(behaviour)
        } else {
            None
        };
        let mut codec = Eth2Codec::new(config.timeouts);
        if let Some(buffer) = capture {
            codec = codec.with_capture(buffer);
        }
        // The request-response timeout is the outer bound; TTFB/RESP are enforced in the codec.
        let outer = config.timeouts.ttfb + config.timeouts.resp + Duration::from_secs(1);
        Ok(Self {
            limits,
            identify,
            gossipsub: Toggle::from(gossipsub),
            status: rpc(&Eth2Protocol::STATUS, &codec, outer),
            metadata: rpc(&Eth2Protocol::METADATA, &codec, outer),
            ping: rpc(&[Eth2Protocol::Ping], &codec, outer),
            goodbye: rpc(&[Eth2Protocol::Goodbye], &codec, outer),
        })
    }
}

#[cfg(test)]
mod tests {
    use gossipsub::DataTransform;
    use valtrack_core::codec::{GossipKind, GossipTopic};
    use valtrack_core::ForkDigest;

    use super::*;

    fn raw(topic: GossipKind, data: &[u8]) -> gossipsub::RawMessage {
        let topic = GossipTopic::new(ForkDigest([1, 2, 3, 4]), topic).to_string();
        gossipsub::RawMessage {
            source: None,
            data: snap::raw::Encoder::new().compress_vec(data).unwrap(),
            sequence_number: None,
            topic: gossipsub::TopicHash::from_raw(topic),
            signature: None,
            key: None,
            validated: false,
        }
    }

    #[test]
    fn out_of_meshes_messages_are_remembered_two_slots() {
        let network = valtrack_core::Network::mainnet();
        let (mesh, _) = peer_scoring(&network, true);
        let (no_mesh, _) = peer_scoring(&network, false);
        assert_eq!(mesh.seen_msg_ttl, Duration::from_secs(120));
        assert_eq!(no_mesh.seen_msg_ttl, Duration::from_secs(24));
        assert_eq!(NO_MESH_SEEN_TTL, Duration::from_secs(24));
        assert!(no_mesh.validate().is_ok());
        let digest = ForkDigest([1, 2, 3, 4]);
        let params = super::super::config::GossipParams::default();
        assert!(gossipsub_config(digest, true, false, &params, 1 << 20).is_ok());
        // Out of meshes IHAVE comes only from unsubscribed peers, unless asked otherwise.
        let out = gossipsub_config(digest, false, false, &params, 1 << 20).unwrap();
        assert_eq!(
            out.ihave_from_unsubscribed_only(),
            Some(NO_MESH_IHAVE_UNSUBSCRIBED_FOR)
        );
        let any = gossipsub_config(digest, false, true, &params, 1 << 20).unwrap();
        assert_eq!(any.ihave_from_unsubscribed_only(), None);
        assert_eq!(any.mesh_n_high(), 0);
    }

    #[test]
    fn gossip_params_reach_gossipsub_and_bad_ones_are_refused() {
        use super::super::config::{GossipParams, HostConfig};
        let network = valtrack_core::Network::mainnet();
        // Lighthouse's default load: D 5, D_lo 3, D_hi 10, D_out 2, D_lazy 3, no flooding.
        let lighthouse = GossipParams {
            flood_publish: false,
            mesh_n: 5,
            mesh_n_low: 3,
            mesh_n_high: 10,
            mesh_outbound_min: 2,
            gossip_lazy: 3,
            heartbeat: Duration::from_millis(700),
            fanout_ttl: Duration::from_secs(60),
            floodsub: false,
        };
        let config =
            gossipsub_config(ForkDigest([0; 4]), true, false, &lighthouse, 1 << 20).unwrap();
        assert!(!config.flood_publish());
        assert!(!config.support_floodsub());
        // Prysm's library speaks floodsub too.
        let prysm = GossipParams {
            floodsub: true,
            ..lighthouse
        };
        let config = gossipsub_config(ForkDigest([0; 4]), true, false, &prysm, 1 << 20).unwrap();
        assert!(config.support_floodsub());
        assert_eq!(
            (config.mesh_n(), config.mesh_n_low(), config.mesh_n_high()),
            (5, 3, 10)
        );
        assert_eq!(config.mesh_outbound_min(), 2);
        assert_eq!(config.gossip_lazy(), 3);
        assert_eq!(config.fanout_ttl(), Duration::from_secs(60));
        assert!(HostConfig::builder(network.clone())
            .gossip_params(lighthouse)
            .build()
            .is_ok());
        for bad in [
            GossipParams {
                mesh_n_low: 6,
                ..lighthouse
            },
            GossipParams {
                mesh_n_high: 4,
                ..lighthouse
            },
            GossipParams {
                mesh_outbound_min: 3,
                ..lighthouse
            },
            GossipParams {
                mesh_n: 0,
                mesh_n_low: 0,
                mesh_outbound_min: 0,
                ..lighthouse
            },
            GossipParams {
                heartbeat: Duration::ZERO,
                ..lighthouse
            },
            GossipParams {
                fanout_ttl: Duration::ZERO,
                ..lighthouse
            },
        ] {
            assert!(
                HostConfig::builder(network.clone())
                    .gossip_params(bad)
                    .build()
                    .is_err(),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn attestation_topics_take_attestation_sized_payloads_only() {
        let t = SnappyTransform::default();
        let fits = vec![7u8; 485];
        let too_big = vec![7u8; 486];
        assert!(t
            .inbound_transform(raw(GossipKind::BeaconAttestation(5), &fits))
            .is_ok());
        assert!(t
            .inbound_transform(raw(GossipKind::BeaconAttestation(5), &too_big))
            .is_err());
        // other topics keep the spec's MAX_PAYLOAD_SIZE
        let block = t
            .inbound_transform(raw(GossipKind::BeaconBlock, &vec![7u8; 100_000]))
            .unwrap();
        assert_eq!(block.data.len(), 100_000);
    }
}
