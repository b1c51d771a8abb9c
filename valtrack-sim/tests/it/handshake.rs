use std::time::{Duration, Instant};

use valtrack_core::events::{HandshakeErrorKind, Muxer, Transport};
use valtrack_core::{
    AttestationSubnets, ClientKind, EnrClass, ForkDigest, HandshakeError, HandshakeStage,
    Handshaker, MetaData, Network, SyncSubnets,
};
use valtrack_sentry::host::{MuxerOffer, PeerMode};
use valtrack_sentry::rpc::RpcTimeouts;
use valtrack_sentry::{HandshakeConfig, Host, HostConfig, Libp2pHandshaker};
use valtrack_sim::{sim_secret_key, Hostility, SimNode, SimNodeConfig};

/// Short timeouts keep the hostile cases fast; they are still checked to be the cause.
const TTFB: Duration = Duration::from_millis(700);
const RESP: Duration = Duration::from_millis(1500);
/// No handshake may take longer than this, whatever the peer does.
const BOUND: Duration = Duration::from_secs(8);

/// Tests in this binary run one at a time: the heap measurements are process-wide.
pub(crate) static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn network() -> Network {
    Network::mainnet()
}

fn digests(n: &Network) -> Vec<ForkDigest> {
    n.all_digests().iter().map(|d| d.digest).collect()
}

async fn sentry(muxers: MuxerOffer, prefer_quic: bool) -> Libp2pHandshaker {
    let config = HostConfig::builder(network())
        .listen_on_loopback()
        .muxers(muxers)
        .rpc_timeouts(RpcTimeouts {
            ttfb: TTFB,
            resp: RESP,
        })
        .build()
        .unwrap();
    let host = Host::spawn(config).await.unwrap();
    Libp2pHandshaker::new(
        host,
        HandshakeConfig::builder()
            .prefer_quic(prefer_quic)
            .build()
            .unwrap(),
    )
}

async fn node(n: u64, f: impl FnOnce(&mut SimNodeConfig)) -> SimNode {
    let mut c = SimNodeConfig::new(network(), sim_secret_key(n));
    f(&mut c);
    SimNode::spawn(c).await.unwrap()
}

async fn handshake(
    s: &Libp2pHandshaker,
    node: &SimNode,
) -> (Result<valtrack_core::PeerInfo, HandshakeError>, Duration) {
    let t = Instant::now();
    let r = tokio::time::timeout(BOUND, s.handshake(&node.discovered(&digests(&network()))))
        .await
        .expect("handshake exceeded its bound");
    (r, t.elapsed())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn honest_node_over_tcp_reports_everything() {
    let _serial = SERIAL.lock().await;
    let s = sentry(MuxerOffer::YamuxAndMplex, false).await;
    let attnets = AttestationSubnets::from_subnets([5, 6]);
    let n = node(1, |c| {
        c.attnets = attnets;
        c.syncnets = SyncSubnets::from_subnets([2]);
        c.custody_group_count = 8;
        c.metadata_seq = 7;
        c.head_slot = Some(1234);
        c.agent_version = "Prysm/v6.0.4/5d8a0f1a".into();
    })
    .await;
    assert_eq!(
        n.discovered(&digests(&network())).class,
        EnrClass::OurNetwork
    );
    let (r, _) = handshake(&s, &n).await;
    let info = r.unwrap();
    assert_eq!(info.peer_id, n.enr_info().peer_id);
    assert_eq!(info.transport, Transport::Tcp);
    assert_eq!(info.muxer, Some(Muxer::Yamux));
    let status = info.status.unwrap();
    assert_eq!(status.fork_digest(), n.enr_info().fork_digest().unwrap());
    assert_eq!(status.head().0, 1234);
    // The sim node speaks metadata/3: the newest version is negotiated.
    let md = info.metadata.unwrap();
    assert!(matches!(md, MetaData::V3(_)), "{md:?}");
    assert_eq!((md.seq_number(), md.attnets()), (7, attnets));
    assert_eq!(md.syncnets(), Some(SyncSubnets::from_subnets([2])));
    assert_eq!(md.custody_group_count(), Some(8));
    assert_eq!(info.agent_version.as_deref(), Some("Prysm/v6.0.4/5d8a0f1a"));
    assert_eq!(info.client.kind, ClientKind::Prysm);
    assert!(info
        .protocols
        .iter()
        .any(|p| p == "/eth2/beacon_chain/req/metadata/3/ssz_snappy"));
    let t = info.timings;
    assert!(t.connect.is_some() && t.status.is_some() && t.metadata.is_some() && t.ping.is_some());
    assert!(t.total.unwrap() >= t.status.unwrap());
    // Both hosts count the connection's bytes on their sockets: what one sent, the other
    // received, once nothing is in flight.
    let (ours, theirs) = (s.host().traffic(), n.host().traffic());
    let deadline = Instant::now() + Duration::from_secs(5);
    let load = |t: &valtrack_sentry::host::Traffic| {
        use std::sync::atomic::Ordering::Relaxed;
        (t.received.load(Relaxed), t.sent.load(Relaxed))
    };
    loop {
        let (a, b) = (load(&ours), load(&theirs));
        if a.1 == b.0 && a.0 == b.1 {
            // noise handshake, multistream-select, Status, MetaData, Ping and identify
            assert!(a.0 > 500 && a.1 > 500, "{a:?}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "sent and received disagree: {a:?} {b:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_honest_nodes_head_follows_the_clock() {
    let _serial = SERIAL.lock().await;
    let s = sentry(MuxerOffer::YamuxAndMplex, false).await;
    let n = node(3, |_| {}).await;
    let before = network()
        .current_slot(std::time::SystemTime::now())
        .unwrap();
    let status = handshake(&s, &n).await.0.unwrap().status.unwrap();
    let after = network()
        .current_slot(std::time::SystemTime::now())
        .unwrap();
    let head = status.head().0;
    assert!(
        (before..=after).contains(&head),
        "{before} <= {head} <= {after}"
    );
    assert_eq!(status.finalized().0, head / 32 - 2);
}

#[cfg(feature = "quic")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quic_is_preferred_when_offered() {
    let _serial = SERIAL.lock().await;
    let s = sentry(MuxerOffer::YamuxAndMplex, true).await;
    let n = node(2, |_| {}).await;
    assert!(n.enr_info().quic4.is_some());
    let info = handshake(&s, &n).await.0.unwrap();
    assert_eq!(info.transport, Transport::Quic);
    assert_eq!(info.muxer, None);
    assert!(info.multiaddr.contains("/quic-v1"), "{}", info.multiaddr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mplex_only_node_gets_mplex() {
    let _serial = SERIAL.lock().await;
    let s = sentry(MuxerOffer::YamuxAndMplex, false).await;
    let n = node(3, |c| c.muxers = MuxerOffer::MplexOnly).await;
    let info = handshake(&s, &n).await.0.unwrap();
    assert_eq!(info.muxer, Some(Muxer::Mplex));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn yamux_only_dialer_cannot_reach_mplex_only_node() {
    let _serial = SERIAL.lock().await;
    let s = sentry(MuxerOffer::YamuxOnly, false).await;
    let n = node(4, |c| c.muxers = MuxerOffer::MplexOnly).await;
    // TCP only: QUIC has its own muxer and would succeed.
    let tcp = n.host().listen_addrs()[0].clone();
    assert!(tcp.to_string().contains("/tcp/"));
    let err = s
        .handshake_peer(n.peer_id(), vec![tcp], n.enr_info().fork_digest())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), HandshakeErrorKind::SecurityFailed, "{err:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_node_says_goodbye_129() {
    let _serial = SERIAL.lock().await;
    let s = sentry(MuxerOffer::YamuxAndMplex, false).await;
    let n = node(5, |c| c.mode = PeerMode::Full).await;
    let err = handshake(&s, &n).await.0.unwrap_err();
    assert!(
        matches!(err, HandshakeError::Goodbye { code: 129 }),
        "{err:?}"
    );
    assert_eq!(err.kind(), HandshakeErrorKind::TooManyPeers);
    assert!(err.is_retryable());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_on_another_fork_is_irrelevant() {
    let _serial = SERIAL.lock().await;
    let s = sentry(MuxerOffer::YamuxAndMplex, false).await;
    let other = ForkDigest([0xde, 0xad, 0xbe, 0xef]);
    let n = node(6, |c| c.fork_digest = Some(other)).await;
    assert_eq!(
        n.discovered(&digests(&network())).class,
        EnrClass::OtherNetwork
    );
    let err = handshake(&s, &n).await.0.unwrap_err();
    match err {
        HandshakeError::IrrelevantNetwork { theirs, .. } => assert_eq!(theirs, other),
        e => panic!("{e:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_node_is_refused() {
    let _serial = SERIAL.lock().await;
    let s = sentry(MuxerOffer::YamuxAndMplex, true).await;
    let n = node(7, |c| c.unreachable = true).await;
    let (r, took) = handshake(&s, &n).await;
    let err = r.unwrap_err();
    assert_eq!(err.kind(), HandshakeErrorKind::Refused, "{err:?}");
    assert!(took < Duration::from_secs(2), "refusal took {took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_nodes_fail_typed_fast_and_bounded() {
    let _serial = SERIAL.lock().await;
    let s = sentry(MuxerOffer::YamuxAndMplex, false).await;
    for (i, hostility) in Hostility::ALL.into_iter().enumerate() {
        let n = node(100 + i as u64, |c| c.hostility = Some(hostility)).await;
        let base = crate::alloc::reset_peak();
        let (r, took) = handshake(&s, &n).await;
        let grew = crate::alloc::peak().saturating_sub(base);
        eprintln!("{hostility:?}: peak heap growth {grew} bytes in {took:?}");
        match hostility {
            Hostility::Garbage | Hostility::OversizePrefix | Hostility::SnappyBomb => {
                let err = r.unwrap_err();
                assert!(
                    matches!(
                        err,
                        HandshakeError::ProtocolViolation {
                            stage: HandshakeStage::Status,
                            ..
                        }
                    ),
                    "{hostility:?}: {err:?}"
                );
            }
            Hostility::Stall => {
                let err = r.unwrap_err();
                assert!(
                    matches!(
                        err,
                        HandshakeError::Timeout {
                            stage: HandshakeStage::Status
                        }
                    ),
                    "{hostility:?}: {err:?}"
                );
                assert!(took >= TTFB, "stall ended before TTFB: {took:?}");
            }
            // Answers, but never closes its streams: we must not wait for EOF.
            Hostility::NeverClose => {
                let info = r.unwrap();
                assert!(info.metadata.is_some());
            }
        }
        assert!(
            took < TTFB + RESP + Duration::from_secs(2),
            "{hostility:?} took {took:?}"
        );
        // The oversize prefix announces 10 MiB and the bomb 16 MiB of zeros: neither is
        // allocated.
        assert!(grew < 4 << 20, "{hostility:?}: heap grew by {grew} bytes");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inbound_peers_are_handshaken_too() {
    let _serial = SERIAL.lock().await;
    let s = sentry(MuxerOffer::YamuxAndMplex, false).await;
    let mut inbound = s.host().inbound_connections().unwrap();
    let n = node(8, |c| {
        c.attnets = AttestationSubnets::from_subnets([40, 41])
    })
    .await;
    // The simulated node dials the sentry and sends Status first, as a dialer must.
    let sentry_addr = s.host().listen_addrs()[0].clone();
    n.host()
        .dial(s.host().peer_id(), vec![sentry_addr])
        .await
        .unwrap();
    let our_digest = network().fork_digest(
        network()
            .current_epoch(std::time::SystemTime::now())
            .unwrap(),
    );
    let status = n.host().status_for(our_digest).await.unwrap();
    let answer = n
        .host()
        .request(
            s.host().peer_id(),
            valtrack_sentry::rpc::RpcRequest::Status(status),
        )
        .await
        .unwrap();
    assert!(matches!(
        answer,
        valtrack_sentry::rpc::RpcResponse::Status(_)
    ));
    let connected = tokio::time::timeout(BOUND, inbound.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(connected.peer, n.peer_id());
    let info = tokio::time::timeout(BOUND, s.handshake_inbound(connected))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(info.direction, valtrack_core::events::Direction::Inbound);
    assert_eq!(info.metadata.unwrap().attnets().subnets(), vec![40, 41]);
    assert_eq!(info.client.kind, ClientKind::Lighthouse);
    // Its Status is recorded, as for a peer we dial (asked in turn).
    let status = info.status.expect("the inbound peer's Status");
    assert_eq!(status.fork_digest(), n.enr_info().fork_digest().unwrap());
    assert!(info.timings.status.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_metadata_and_identify_are_honest() {
    let _serial = SERIAL.lock().await;
    // A sentry with subnets configured answers MetaData with exactly those and announces
    // valtrack/<version>.
    let attnets = AttestationSubnets::from_subnets([1, 2]);
    let config = HostConfig::builder(network())
        .listen_on_loopback()
        .attnets(attnets)
        .metadata_seq(3)
        .build()
        .unwrap();
    let ours = Host::spawn(config).await.unwrap();
    let probe = sentry(MuxerOffer::YamuxAndMplex, false).await;
    let tcp = ours.listen_addrs()[0].clone();
    let digest = network().fork_digest(
        network()
            .current_epoch(std::time::SystemTime::now())
            .unwrap(),
    );
    let info = probe
        .handshake_peer(ours.peer_id(), vec![tcp], Some(digest))
        .await
        .unwrap();
    let md = info.metadata.unwrap();
    assert_eq!((md.seq_number(), md.attnets()), (3, attnets));
    assert_eq!(
        info.agent_version.as_deref(),
        Some(valtrack_sentry::host::DEFAULT_AGENT_VERSION)
    );
}

/// A dial to a peer already connected reuses the connection and reports it as it is: its
/// transport and address, not the first address the caller offered.
#[cfg(feature = "quic")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reused_connection_is_reported_as_it_is() {
    let _serial = SERIAL.lock().await;
    let s = sentry(MuxerOffer::YamuxAndMplex, true).await;
    let n = node(12, |_| {}).await;
    let (quic, tcp): (Vec<_>, Vec<_>) = n
        .host()
        .listen_addrs()
        .iter()
        .cloned()
        .partition(|a| a.to_string().contains("/quic-v1"));
    assert!(!quic.is_empty() && !tcp.is_empty());
    let first = s.host().dial(n.peer_id(), quic).await.unwrap();
    assert_eq!(first.transport, Transport::Quic);
    let again = s.host().dial(n.peer_id(), tcp).await.unwrap();
    assert_eq!(again.transport, Transport::Quic, "{again:?}");
    assert_eq!(again.address, first.address);
    assert_eq!(again.muxer, None);
    assert_eq!(again.established_in, Duration::ZERO);
}

/// `HandshakeConfig::extra_digest` (`sentry --fork-digest D`): a node on a digest given only
/// that way is handshaken (our Status mirrors its digest), where without it the node is
/// another network's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_extra_digest_is_handshaken_as_ours() {
    let _serial = SERIAL.lock().await;
    let devnet = ForkDigest([0xde, 0xad, 0xbe, 0xef]);
    assert!(!digests(&network()).contains(&devnet));
    let n = node(60, |c| c.fork_digest = Some(devnet)).await;

    let plain = sentry(MuxerOffer::YamuxAndMplex, false).await;
    let err = handshake(&plain, &n).await.0.unwrap_err();
    assert!(
        matches!(err, HandshakeError::IrrelevantNetwork { theirs, .. } if theirs == devnet),
        "{err:?}"
    );

    let host = Host::spawn(
        HostConfig::builder(network())
            .listen_on_loopback()
            .build()
            .unwrap(),
    )
    .await
    .unwrap();
    let config = HandshakeConfig::builder()
        .prefer_quic(false)
        .extra_digest(devnet)
        .build()
        .unwrap();
    assert_eq!(config.extra_digests(), [devnet]);
    let with_flag = Libp2pHandshaker::new(host, config);
    let info = handshake(&with_flag, &n).await.0.unwrap();
    assert_eq!(info.status.unwrap().fork_digest(), devnet);
    assert!(info.metadata.is_some());
}

#[test]
fn handshake_config_refuses_zero_timeouts() {
    let err = HandshakeConfig::builder()
        .identify_timeout(Duration::ZERO)
        .build()
        .unwrap_err();
    assert_eq!(err.to_string(), "identify timeout must be positive");
}
