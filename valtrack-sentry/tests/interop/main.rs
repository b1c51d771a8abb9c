//! Interop tests against a real beacon node: Lodestar v1.5.1, two nodes in dev mode (minimal
//! preset, Altair at epoch 0) on loopback.
//!
//! The tests are `#[ignore]`d: `scripts/interop-lodestar.sh` installs and starts the devnet,
//! exports `VALTRACK_LODESTAR_REST` and runs them:
//!
//! ```text
//! scripts/interop-lodestar.sh      # = cargo test -p valtrack-sentry \
//!                                  #   --test interop -- --ignored --nocapture --test-threads 1
//! ```
//!
//! What the node says about itself over REST (`/eth/v1/node/identity`, `/eth/v1/beacon/genesis`,
//! `/eth/v1/config/spec`) is the ground truth; our fork digests, ENR decoding and handshake
//! must agree with it. Set `VALTRACK_CAPTURE_DIR` to also write the raw req/resp response
//! bytes of each handshake there (hex), to refresh `testdata/` captures.

mod rest;

use std::error::Error;
use std::net::Ipv4Addr;
use std::path::Path;
use std::time::{Duration, SystemTime};

use serde_json::Value;
use valtrack_core::enr_info::EnrForkIdInfo;
use valtrack_core::events::{Muxer, Transport};
use valtrack_core::network::parse_genesis_validators_root;
use valtrack_core::{
    ClientKind, ConsensusConfig, DiscoveredNode, EnrClass, EnrInfo, Epoch, ForkDigest, Handshaker,
    MetaData, Network, NodeUpdate, PeerInfo, Root, Status, Version,
};
use valtrack_sentry::{HandshakeConfig, Host, HostConfig, Libp2pHandshaker};

use rest::{encode_hex, get_json, hex_at, rest_urls, str_at, u64_at};

type TestResult = Result<(), Box<dyn Error>>;

/// The whole handshake, dial to Goodbye, must finish within this.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(60);
/// Lodestar 1.5.1's identify agent version starts with this.
const LODESTAR_AGENT: &str = "lodestar/v1.5.1";
const STATUS_V1: &str = "/eth2/beacon_chain/req/status/1/ssz_snappy";
const METADATA_V2: &str = "/eth2/beacon_chain/req/metadata/2/ssz_snappy";
const METADATA_V3: &str = "/eth2/beacon_chain/req/metadata/3/ssz_snappy";
const STATUS_V2: &str = "/eth2/beacon_chain/req/status/2/ssz_snappy";

// ---------------------------------------------------------------------------------------------
// What a node says about itself over REST

/// `/eth/v1/node/identity`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Identity {
    peer_id: String,
    enr: String,
    p2p_addresses: Vec<String>,
    seq_number: u64,
    attnets: Vec<u8>,
    syncnets: Vec<u8>,
}

/// One devnet node as its REST API describes it.
#[derive(Debug)]
struct NodeFacts {
    name: String,
    rest: String,
    identity: Identity,
    genesis_validators_root: Root,
    genesis_time: u64,
    /// `/eth/v1/config/spec`'s `data`, as JSON text (JSON is YAML, so `from_yaml` reads it).
    spec: String,
    /// `/eth/v1/config/fork_schedule`'s `data`.
    fork_schedule: Vec<Value>,
}

async fn identity(rest: &str) -> Identity {
    let json = get_json(rest, "/eth/v1/node/identity").await;
    let p2p_addresses = json
        .pointer("/data/p2p_addresses")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    Identity {
        peer_id: str_at(&json, "/data/peer_id").to_owned(),
        enr: str_at(&json, "/data/enr").to_owned(),
        p2p_addresses,
        seq_number: u64_at(&json, "/data/metadata/seq_number"),
        attnets: hex_at(&json, "/data/metadata/attnets"),
        syncnets: hex_at(&json, "/data/metadata/syncnets"),
    }
}

async fn node_facts(name: &str, rest: &str) -> NodeFacts {
    let identity = identity(rest).await;
    let genesis = get_json(rest, "/eth/v1/beacon/genesis").await;
    let gvr_text = str_at(&genesis, "/data/genesis_validators_root");
    let genesis_validators_root = parse_genesis_validators_root(gvr_text)
        .unwrap_or_else(|e| panic!("{name}: genesis_validators_root {gvr_text:?}: {e}"));
    let spec = get_json(rest, "/eth/v1/config/spec").await;
    let spec_data = spec
        .get("data")
        .unwrap_or_else(|| panic!("{name}: spec without data: {spec}"));
    let schedule = get_json(rest, "/eth/v1/config/fork_schedule").await;
    NodeFacts {
        name: name.to_owned(),
        rest: rest.to_owned(),
        identity,
        genesis_validators_root,
        genesis_time: u64_at(&genesis, "/data/genesis_time"),
        spec: spec_data.to_string(),
        fork_schedule: schedule
            .get("data")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default(),
    }
}

/// Every node of the devnet, nodeA first (the order of `VALTRACK_LODESTAR_REST`).
async fn devnet() -> Vec<NodeFacts> {
    let mut nodes = Vec::new();
    for (i, rest) in rest_urls().iter().enumerate() {
        let name = format!("node{}", char::from(b'A' + i as u8));
        nodes.push(node_facts(&name, rest).await);
    }
    nodes
}

// ---------------------------------------------------------------------------------------------
// Our view of the same network

/// The network from the node's own spec and genesis, as a crawler configured for it would
/// build it.
fn network_of(node: &NodeFacts) -> Result<Network, Box<dyn Error>> {
    let config = ConsensusConfig::from_yaml(&node.spec)?;
    let network = Network::builder(config, node.genesis_validators_root)
        .genesis_time(Duration::from_secs(node.genesis_time))
        .build()?;
    Ok(network)
}

/// The current epoch; 0 before genesis (the script starts the nodes ~12 s before it).
fn current_epoch(network: &Network) -> Epoch {
    network.current_epoch(SystemTime::now()).unwrap_or(0)
}

fn our_digests(network: &Network) -> Vec<ForkDigest> {
    network.all_digests().iter().map(|d| d.digest).collect()
}

/// The node's ENR, decoded by us, as the crawler would report it.
fn discovered(node: &NodeFacts, network: &Network) -> Result<DiscoveredNode, Box<dyn Error>> {
    let enr = node.identity.enr.clone();
    let info: EnrInfo = enr.parse()?;
    Ok(DiscoveredNode {
        class: info.classify(&our_digests(network)),
        enr,
        info,
        update: NodeUpdate::New,
    })
}

// ---------------------------------------------------------------------------------------------
// Tests that need only valtrack-core and the REST API

/// Both nodes were started with the same genesis: one network.
#[tokio::test]
#[ignore = "needs a Lodestar devnet: run scripts/interop-lodestar.sh"]
async fn nodes_share_one_network() {
    let nodes = devnet().await;
    assert!(nodes.len() >= 2, "expected two nodes, got {}", nodes.len());
    let (a, rest) = nodes.split_first().expect("at least one node");
    for b in rest {
        assert_eq!(
            a.genesis_validators_root, b.genesis_validators_root,
            "{} and {}: genesis validators root",
            a.name, b.name
        );
        assert_eq!(a.genesis_time, b.genesis_time, "{} and {}", a.name, b.name);
        assert_eq!(a.spec, b.spec, "{} and {}: config spec", a.name, b.name);
        assert_ne!(a.identity.peer_id, b.identity.peer_id);
    }
}

/// Our fork digests, fork versions and `ENRForkID` equal what Lodestar computed and put in its
/// ENR, and our ENR decoder reads Lodestar's record as the REST API describes it.
#[tokio::test]
#[ignore = "needs a Lodestar devnet: run scripts/interop-lodestar.sh"]
async fn enr_and_fork_digest_match_lodestar() -> TestResult {
    for node in devnet().await {
        let network = network_of(&node)?;
        let epoch = current_epoch(&network);
        let found = discovered(&node, &network)?;
        let info = &found.info;
        report_enr(&node, info, &network, epoch);

        assert_eq!(
            info.peer_id.to_string(),
            node.identity.peer_id,
            "{}",
            node.name
        );
        assert_eq!(info.ip4, Some(Ipv4Addr::LOCALHOST), "{}", node.name);
        let tcp = info.tcp4.expect("ENR without tcp");
        assert!(
            node.identity
                .p2p_addresses
                .iter()
                .any(|a| a.contains(&format!("/tcp/{tcp}/"))),
            "{}: ENR tcp {tcp} not among {:?}",
            node.name,
            node.identity.p2p_addresses
        );
        assert!(
            matches!(found.class, EnrClass::OurNetwork),
            "{}: ENR classified {:?}",
            node.name,
            found.class
        );

        // The proof that our fork-digest maths agrees with a real client.
        let eth2 = info
            .eth2
            .as_ref()
            .expect("Lodestar's ENR has an eth2 field");
        assert_eq!(
            eth2.fork_digest,
            network.fork_digest(epoch),
            "{}: ENR fork digest vs ours at epoch {epoch}",
            node.name
        );
        assert_eq!(
            *eth2,
            EnrForkIdInfo::from(&network.enr_fork_id(epoch)),
            "{}: ENRForkID",
            node.name
        );

        check_fork_schedule(&node, &network);
    }
    Ok(())
}

/// `/eth/v1/config/fork_schedule` against our fork versions: at every scheduled epoch the
/// last entry starting at or before it is the version we compute.
fn check_fork_schedule(node: &NodeFacts, network: &Network) {
    let entries: Vec<(Epoch, Version)> = node
        .fork_schedule
        .iter()
        .map(|e| {
            (
                u64_at(e, "/epoch"),
                parse_version(str_at(e, "/current_version")),
            )
        })
        .collect();
    assert!(!entries.is_empty(), "{}: empty fork schedule", node.name);
    for &(epoch, _) in entries.iter().filter(|(e, _)| *e != u64::MAX) {
        let theirs = entries.iter().rfind(|(e, _)| *e <= epoch).map(|(_, v)| *v);
        assert_eq!(
            theirs,
            Some(network.fork_version_at(epoch)),
            "{}: fork version at epoch {epoch}",
            node.name
        );
    }
}

fn parse_version(text: &str) -> Version {
    text.parse()
        .unwrap_or_else(|e| panic!("fork version {text:?}: {e}"))
}

fn report_enr(node: &NodeFacts, info: &EnrInfo, network: &Network, epoch: Epoch) {
    eprintln!(
        "{} ({}): peer {} ENR seq {} eth2 {:?}, our digest at epoch {epoch}: {}; \
         metadata seq {} attnets {} syncnets {}; ENR issues {:?}",
        node.name,
        node.rest,
        node.identity.peer_id,
        info.seq,
        info.eth2,
        network.fork_digest(epoch),
        node.identity.seq_number,
        encode_hex(&node.identity.attnets),
        encode_hex(&node.identity.syncnets),
        info.issues,
    );
}

// ---------------------------------------------------------------------------------------------
// The handshake

/// Our libp2p handshaker against each Lodestar node: what it learns over the wire (Status,
/// MetaData, identify) must equal what the node reports over REST.
#[tokio::test]
#[ignore = "needs a Lodestar devnet: run scripts/interop-lodestar.sh"]
async fn handshake_matches_lodestar_identity() -> TestResult {
    let nodes = devnet().await;
    let network = network_of(&nodes[0])?;
    let host = Host::spawn(
        HostConfig::builder(network.clone())
            .listen_on_loopback()
            .capture_responses(std::env::var_os("VALTRACK_CAPTURE_DIR").is_some())
            .build()?,
    )
    .await?;
    let handshaker = Libp2pHandshaker::new(host.clone(), HandshakeConfig::default());

    for node in &nodes {
        let found = discovered(node, &network)?;
        let before = node.identity.clone();
        let peer = tokio::time::timeout(HANDSHAKE_TIMEOUT, handshaker.handshake(&found))
            .await
            .map_err(|_| format!("{}: handshake took over {HANDSHAKE_TIMEOUT:?}", node.name))??;
        // MetaData may change while we handshake (subnet subscriptions at genesis): compare with
        // the identity from before or after, whichever has the seq we were given.
        let after = identity(&node.rest).await;
        eprintln!("{}: {peer:?}", node.name);

        check_identity(node, &peer);
        check_metadata(node, &peer, &[before, after]);
        check_status(node, &peer, &network, &found.info);
        check_client(node, &peer);
    }

    if let Some(dir) = std::env::var_os("VALTRACK_CAPTURE_DIR") {
        write_captures(Path::new(&dir), &host.captured_responses())?;
    }
    Ok(())
}

fn check_identity(node: &NodeFacts, peer: &PeerInfo) {
    assert_eq!(
        peer.peer_id.to_string(),
        node.identity.peer_id,
        "{}",
        node.name
    );
    assert_eq!(peer.transport, Transport::Tcp, "{}", node.name);
    assert_eq!(
        peer.muxer,
        Some(Muxer::Mplex),
        "{}: Lodestar 1.5.1 speaks mplex only",
        node.name
    );
}

fn check_metadata(node: &NodeFacts, peer: &PeerInfo, identities: &[Identity]) {
    let metadata = peer.metadata.as_ref().expect("no MetaData");
    let MetaData::V2(v2) = metadata else {
        panic!(
            "{}: expected MetaData v2 (Lodestar 1.5.1 has no metadata/3), got {metadata:?}",
            node.name
        );
    };
    let seq = metadata.seq_number();
    let Some(identity) = identities.iter().find(|i| i.seq_number == seq) else {
        panic!(
            "{}: MetaData seq {seq} is none of the REST seqs {:?}",
            node.name,
            identities.iter().map(|i| i.seq_number).collect::<Vec<_>>()
        );
    };
    assert_eq!(
        encode_hex(&v2.attnets().0),
        encode_hex(&identity.attnets),
        "{}: attnets",
        node.name
    );
    assert_eq!(
        vec![v2.syncnets().0],
        identity.syncnets,
        "{}: syncnets",
        node.name
    );
}

fn check_status(node: &NodeFacts, peer: &PeerInfo, network: &Network, enr: &EnrInfo) {
    let status = peer.status.as_ref().expect("no Status");
    assert!(
        matches!(status, Status::V1(_)),
        "{}: Lodestar 1.5.1 answers status/1 only, got {status:?}",
        node.name
    );
    let epoch = current_epoch(network);
    assert_eq!(
        status.fork_digest(),
        network.fork_digest(epoch),
        "{}: Status fork digest vs ours at epoch {epoch}",
        node.name
    );
    assert_eq!(
        Some(status.fork_digest()),
        enr.eth2.as_ref().map(|e| e.fork_digest),
        "{}: Status vs ENR fork digest",
        node.name
    );
}

fn check_client(node: &NodeFacts, peer: &PeerInfo) {
    assert_eq!(peer.client.kind, ClientKind::Lodestar, "{}", node.name);
    assert_eq!(
        peer.client.version.as_deref(),
        Some("v1.5.1"),
        "{}",
        node.name
    );
    let agent = peer.agent_version.as_deref().unwrap_or_default();
    assert!(
        agent.starts_with(LODESTAR_AGENT),
        "{}: agent {agent:?}",
        node.name
    );
    let has = |p: &str| peer.protocols.iter().any(|q| q == p);
    assert!(
        has(STATUS_V1),
        "{}: no {STATUS_V1} in {:?}",
        node.name,
        peer.protocols
    );
    assert!(has(METADATA_V2), "{}: no {METADATA_V2}", node.name);
    assert!(
        !has(STATUS_V2) && !has(METADATA_V3),
        "{}: Lodestar 1.5.1 predates Fulu",
        node.name
    );
}

/// Writes each captured response stream as hex to `<dir>/<protocol>.hex` (protocol id with
/// `/` replaced by `_`; `_2`, `_3`… for repeats).
fn write_captures(dir: &Path, captures: &[(String, Vec<u8>)]) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let mut written: Vec<String> = Vec::new();
    for (protocol, bytes) in captures {
        let stem: String = protocol
            .trim_start_matches('/')
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect();
        let repeats = written.iter().filter(|s| **s == stem).count();
        let name = match repeats {
            0 => format!("{stem}.hex"),
            n => format!("{stem}_{}.hex", n + 1),
        };
        written.push(stem);
        let path = dir.join(&name);
        std::fs::write(&path, format!("{}\n", encode_hex(bytes)))?;
        eprintln!(
            "captured {protocol}: {} bytes -> {}",
            bytes.len(),
            path.display()
        );
    }
    Ok(())
}
