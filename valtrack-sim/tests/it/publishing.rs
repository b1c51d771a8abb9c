//! How a node's own attestations reach a sentry, by publishing behaviour (real rust-libp2p
//! GossipSub on both sides): a publisher with a full mesh on its subnet and a sentry that
//! connects afterwards. A flooding publisher sends the sentry everything; one that does not
//! flood (Lighthouse's parameters) sends it nothing while the sentry keeps out of meshes, and
//! everything once the sentry joins the mesh. On a subnet the publisher is not subscribed to,
//! a fanout chosen before the sentry came leaves it out, and the sentry gets every message
//! from the publisher all the same, by IWANT after the publisher's IHAVE. A publisher that
//! speaks floodsub (Prysm's go-libp2p-pubsub) sends a sentry that links to it as a floodsub
//! peer everything, its mesh full or not.

use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use valtrack_core::codec::GossipKind;
use valtrack_core::AttestationSubnets;
use valtrack_sentry::host::GossipParams;
use valtrack_sim::{sim_network, SimNode, SimNodeConfig};
use valtrack_sim::{LIGHTHOUSE_GOSSIP, PRYSM_GOSSIP, TEKU_GOSSIP};

const SUBNET: u64 = 5;
const RELAYS: u64 = 6;
const MESSAGES: u64 = 12;

/// The gossip messages `sentry` hands on from now, once it has dialled `publisher`.
async fn dial_to_listen(
    sentry: &valtrack_sentry::host::Host,
    publisher: &SimNode,
) -> tokio::sync::broadcast::Receiver<valtrack_core::GossipMessage> {
    let messages = sentry.gossip_messages();
    let target = publisher.host();
    sentry
        .dial(target.peer_id(), target.listen_addrs().to_vec())
        .await
        .unwrap();
    messages
}

/// Where the sentry stands in GossipSub.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Stance {
    OutOfMeshes,
    InMeshes,
    /// Out of meshes, a floodsub peer of the peers that speak floodsub.
    FloodsubLinks,
}

/// Messages of the publisher's `MESSAGES` that reach a sentry from the publisher itself; the
/// publisher subscribed to the subnet or not (then it publishes through a fanout made before
/// the sentry connects).
async fn received_from_publisher(
    publisher_gossip: GossipParams,
    stance: Stance,
    publisher_subscribed: bool,
) -> u64 {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    let network = sim_network(Duration::from_secs(now.as_secs()));
    let subnet = AttestationSubnets::from_subnets([SUBNET]);
    let node = |key: u64, gossip: GossipParams, attnets: AttestationSubnets| {
        let mut c = SimNodeConfig::new(network.clone(), valtrack_sim::sim_secret_key(key));
        c.gossipsub = true;
        c.relay = true;
        c.attnets = attnets;
        c.gossip = gossip;
        SimNode::spawn(c)
    };
    let publisher_subnets = if publisher_subscribed {
        subnet
    } else {
        AttestationSubnets::from_subnets([SUBNET + 1])
    };
    let publisher = node(1_000, publisher_gossip, publisher_subnets)
        .await
        .unwrap();
    let mut relays = Vec::new();
    // Enough to fill the publisher's mesh: a short one is topped up from the sentry too.
    let relay_count = RELAYS.max(publisher_gossip.mesh_n as u64);
    for k in 0..relay_count {
        let relay = node(1_001 + k, GossipParams::default(), subnet)
            .await
            .unwrap();
        let target = relay.host();
        publisher
            .host()
            .dial(target.peer_id(), target.listen_addrs().to_vec())
            .await
            .unwrap();
        relays.push(relay);
    }
    // A few heartbeats: the publisher's mesh on the subnet fills from its relays.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let attestation = |v: u64| crate::attestation_now(&network, v, SUBNET);
    // Not subscribed: one message now makes the fanout, from the relays only.
    let before = attestation(MESSAGES);
    if !publisher_subscribed {
        publisher
            .host()
            .publish(GossipKind::BeaconAttestation(SUBNET), before.clone())
            .await
            .unwrap();
    }
    let sentry = crate::gossip_sentry_with(
        &network,
        subnet,
        stance == Stance::InMeshes,
        stance == Stance::FloodsubLinks,
    )
    .await;
    let mut messages = dial_to_listen(&sentry, &publisher).await;
    // Subscriptions exchanged, (in meshes) the sentry's GRAFT taken, (out of them) the
    // publisher connected long enough for its IHAVE to be taken (5 s), and (floodsub links)
    // the publisher identified, disconnected and dialed again.
    tokio::time::sleep(Duration::from_secs(6)).await;
    if stance == Stance::FloodsubLinks {
        let peer = publisher.host().peer_id();
        let identified = sentry.identify(peer).await.expect("identified");
        let floodsub = identified
            .protocols
            .iter()
            .any(|p| p.as_ref() == "/floodsub/1.0.0");
        assert_eq!(floodsub, publisher_gossip.floodsub, "floodsub in identify");
    }
    let mut sent = 0;
    let mut published = Vec::new();
    for v in 0..MESSAGES {
        let ssz = attestation(v);
        published.push((ssz.clone(), SystemTime::now()));
        if publisher
            .host()
            .publish(GossipKind::BeaconAttestation(SUBNET), ssz)
            .await
            .is_ok()
        {
            sent += 1;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(sent, MESSAGES, "the publisher has peers on its subnet");
    // IHAVE goes out at the publisher's next heartbeats (1 s apart), IWANT answers follow.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let from = publisher.host().core_peer_id();
    let mut received = 0;
    while let Ok(m) = messages.try_recv() {
        if m.source == from && m.data != before {
            received += 1;
            // Stamped when its RPC was decoded on the connection: after the publish, before
            // the reader got it.
            let (_, at) = published.iter().find(|(d, _)| *d == m.data).unwrap();
            assert!(m.received >= *at, "stamped before it was published");
            assert!(m.received <= SystemTime::now(), "stamped in the future");
        }
    }
    received
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn own_attestations_reach_a_sentry_as_the_client_publishes_them() {
    let _serial = crate::handshake::SERIAL.lock().await;
    use Stance::*;
    // Teku floods its attestations: all reach a sentry out of meshes.
    let teku = received_from_publisher(TEKU_GOSSIP, OutOfMeshes, true).await;
    assert_eq!(teku, MESSAGES);
    // Lighthouse publishes to its mesh only (full here): none reach a sentry out of meshes...
    let lighthouse = received_from_publisher(LIGHTHOUSE_GOSSIP, OutOfMeshes, true).await;
    assert_eq!(lighthouse, 0);
    // ... and all once the sentry is in the mesh.
    let in_mesh = received_from_publisher(LIGHTHOUSE_GOSSIP, InMeshes, true).await;
    assert_eq!(in_mesh, MESSAGES);
    // Not subscribed, through a fanout without the sentry: all, asked for after its IHAVE.
    let fanout = received_from_publisher(LIGHTHOUSE_GOSSIP, OutOfMeshes, false).await;
    assert_eq!(fanout, MESSAGES);
    // Prysm publishes to its mesh only too: none reach a sentry out of meshes, all reach one
    // that links to it as a floodsub peer (its library speaks floodsub).
    let go = GossipParams {
        floodsub: true,
        ..PRYSM_GOSSIP
    };
    let prysm = received_from_publisher(go, OutOfMeshes, true).await;
    assert_eq!(prysm, 0);
    let floodsub = received_from_publisher(go, FloodsubLinks, true).await;
    assert_eq!(floodsub, MESSAGES);
    // Lighthouse does not speak floodsub: the link changes nothing.
    let lighthouse = received_from_publisher(LIGHTHOUSE_GOSSIP, FloodsubLinks, true).await;
    assert_eq!(lighthouse, 0);
}

/// A flooding publisher (Teku's parameters) on `SUBNET`.
async fn flooding_publisher(network: &valtrack_core::Network, key: u64) -> SimNode {
    let mut c = SimNodeConfig::new(network.clone(), valtrack_sim::sim_secret_key(key));
    c.gossipsub = true;
    c.attnets = AttestationSubnets::from_subnets([SUBNET]);
    c.gossip = TEKU_GOSSIP;
    SimNode::spawn(c).await.unwrap()
}

/// The first delivery of the message carrying `data`, within 5 s.
async fn first_copy(
    messages: &mut tokio::sync::broadcast::Receiver<valtrack_core::GossipMessage>,
    data: &[u8],
) -> valtrack_core::GossipMessage {
    tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            let m = messages.recv().await.unwrap();
            if m.data == data {
                return m;
            }
        }
    })
    .await
    .expect("the message reaches the sentry")
}

/// A sentry out of meshes on `SUBNET` whose host runs alone on a one-thread runtime of its
/// own thread, so that a test can hold it up.
struct LoneSentry {
    host: valtrack_sentry::host::Host,
    handle: tokio::runtime::Handle,
    stop: tokio::sync::oneshot::Sender<()>,
    thread: std::thread::JoinHandle<Option<()>>,
}

impl LoneSentry {
    async fn start(network: &valtrack_core::Network) -> Self {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let handle = runtime.handle().clone();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || runtime.block_on(async { stopped.await.ok() }));
        let host = {
            let network = network.clone();
            let subnet = AttestationSubnets::from_subnets([SUBNET]);
            handle
                .spawn(async move { crate::gossip_sentry(&network, subnet, false).await })
                .await
                .unwrap()
        };
        Self {
            host,
            handle,
            stop,
            thread,
        }
    }

    /// Holds the sentry's thread for `span` from when this returns; the task yields the time
    /// it let go.
    async fn hold(&self, span: Duration) -> tokio::task::JoinHandle<SystemTime> {
        use std::sync::atomic::{AtomicBool, Ordering};
        use std::sync::Arc;
        let held = Arc::new(AtomicBool::new(false));
        let task = {
            let held = Arc::clone(&held);
            self.handle.spawn(async move {
                held.store(true, Ordering::SeqCst);
                std::thread::sleep(span);
                SystemTime::now()
            })
        };
        while !held.load(Ordering::SeqCst) {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        task
    }

    fn stop(self) {
        drop(self.host);
        let _ = self.stop.send(());
        self.thread.join().unwrap();
    }
}

/// A sentry too busy to read its sockets for a while still stamps a message with when it
/// arrived (the kernel's receive timestamp), not when it got round to decoding it: the
/// sentry's host runs alone on a one-thread runtime that is held up for 500 ms while a
/// flooding publisher sends it an attestation.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_busy_sentry_stamps_a_message_with_its_arrival() {
    let _serial = crate::handshake::SERIAL.lock().await;
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    let network = sim_network(Duration::from_secs(now.as_secs()));
    let publisher = flooding_publisher(&network, 2_000).await;
    let sentry = LoneSentry::start(&network).await;
    let mut messages = dial_to_listen(&sentry.host, &publisher).await;
    // Subscriptions exchanged both ways.
    tokio::time::sleep(Duration::from_secs(3)).await;

    // Hold the sentry's thread, and publish while it is held.
    let hold = sentry.hold(Duration::from_millis(500)).await;
    let ssz = crate::attestation_now(&network, 7, SUBNET);
    let published = SystemTime::now();
    publisher
        .host()
        .publish(GossipKind::BeaconAttestation(SUBNET), ssz.clone())
        .await
        .unwrap();
    let released = hold.await.unwrap();
    let m = first_copy(&mut messages, &ssz).await;
    let read_after = released.duration_since(published).unwrap();
    assert!(
        read_after >= Duration::from_millis(300),
        "held {read_after:?} only"
    );
    assert!(m.received >= published, "stamped before it was published");
    let stamped_after = m.received.duration_since(published).unwrap();
    assert!(
        stamped_after < Duration::from_millis(100),
        "stamped {stamped_after:?} after the publish: when read ({read_after:?}), not when it arrived"
    );
    sentry.stop();
}

/// Copies handed on out of their arrival order are reported. The sentry's thread is held
/// while the first publisher sends two other messages and then M, and the second publisher
/// M and, 100 ms later, another message. Connections hand GossipSub their messages in turn,
/// so the second publisher's copy of M (first on its connection) is delivered before the
/// first publisher's (third on its own), though it arrived later, and it is stamped with the
/// newest bytes read with it, its follower's. The first publisher's copy, a duplicate, is
/// then reported as stamped earlier, by about 150 ms, while the first delivery is held, and
/// takes its credit: the message handed to readers names the first publisher, stamped before
/// the second one published. Nothing is reported before that.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_copy_handed_on_after_a_later_one_is_reported_and_credited() {
    let _serial = crate::handshake::SERIAL.lock().await;
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    let network = sim_network(Duration::from_secs(now.as_secs()));
    let first = flooding_publisher(&network, 2_100).await;
    let second = flooding_publisher(&network, 2_101).await;
    let sentry = LoneSentry::start(&network).await;
    let mut messages = dial_to_listen(&sentry.host, &first).await;
    let second_host = second.host();
    sentry
        .host
        .dial(second_host.peer_id(), second_host.listen_addrs().to_vec())
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let traffic = sentry.host.traffic();
    assert_eq!(traffic.earlier_copies.snapshot().reads(), 0, "nothing yet");

    let hold = sentry.hold(Duration::from_millis(600)).await;
    let kind = GossipKind::BeaconAttestation(SUBNET);
    let attestation = |v: u64| crate::attestation_now(&network, v, SUBNET);
    let m = attestation(9);
    let mut first_sent = SystemTime::now();
    for ssz in [attestation(7), attestation(8), m.clone()] {
        first_sent = SystemTime::now();
        first.host().publish(kind, ssz).await.unwrap();
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    tokio::time::sleep(Duration::from_millis(40)).await;
    let second_sent = SystemTime::now();
    second.host().publish(kind, m.clone()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    second.host().publish(kind, attestation(10)).await.unwrap();
    hold.await.unwrap();

    let credited = first_copy(&mut messages, &m).await;
    assert_eq!(
        credited.source,
        first.host().core_peer_id(),
        "the copy that arrived first takes the credit from the one delivered first"
    );
    assert!(
        credited.received >= first_sent && credited.received < second_sent,
        "stamped {:?} after the first publish, the second came {:?} after it",
        credited.received.duration_since(first_sent),
        second_sent.duration_since(first_sent)
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(traffic.recredited.load(Ordering::Relaxed), 1, "re-credited");
    assert_eq!(traffic.earlier_unheld.load(Ordering::Relaxed), 0);
    let earlier = traffic.earlier_copies.snapshot();
    assert_eq!(
        earlier.reads(),
        1,
        "one copy stamped before the first delivery"
    );
    // One count: the sum is its exact value (the buckets are coarse past 20 ms).
    let by = earlier.sum();
    assert!(
        by >= Duration::from_millis(100) && by <= Duration::from_millis(450),
        "reported earlier by {by:?}: the first copy arrived ~150 ms before the second's follower"
    );
    sentry.stop();
}
