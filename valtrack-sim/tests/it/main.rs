//! Integration tests of the libp2p host and handshaker against simulated beacon nodes on
//! loopback (port 0 everywhere).

pub(crate) mod alloc;
mod attrib;
mod crawl;
mod flood;
mod handshake;
mod probe;
mod publishing;
mod scoring;
mod sentry;
mod simnet;

use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use valtrack_core::{Event, EventSink, Network, SinkError, SszMessage};

/// A sentry's host on `subnet`, in GossipSub meshes or not, keeping idle connections an hour.
pub(crate) async fn gossip_sentry(
    network: &Network,
    subnet: valtrack_core::AttestationSubnets,
    in_mesh: bool,
) -> valtrack_sentry::host::Host {
    gossip_sentry_with(network, subnet, in_mesh, false).await
}

/// [`gossip_sentry`], out of meshes a floodsub peer of the peers that speak floodsub when
/// `floodsub_links`.
pub(crate) async fn gossip_sentry_with(
    network: &Network,
    subnet: valtrack_core::AttestationSubnets,
    in_mesh: bool,
    floodsub_links: bool,
) -> valtrack_sentry::host::Host {
    let config = valtrack_sentry::host::HostConfig::builder(network.clone())
        .listen_on_loopback()
        .attnets(subnet)
        .gossip_mesh(in_mesh)
        .floodsub_links(floodsub_links)
        .idle_connection_timeout(std::time::Duration::from_secs(3600))
        .build()
        .unwrap();
    valtrack_sentry::host::Host::spawn(config).await.unwrap()
}

/// The SSZ bytes of `validator`'s attestation on `subnet` at the current slot (inside every
/// gossip window), with duties as on a 1M-validator chain.
pub(crate) fn attestation_now(network: &Network, validator: u64, subnet: u64) -> Vec<u8> {
    let spe = network.slots_per_epoch();
    let slot = network
        .slot_at(SystemTime::now().duration_since(UNIX_EPOCH).unwrap())
        .unwrap_or(0);
    let mut duty = valtrack_sim::sim_duty(validator, slot / spe, 1_000_000, spe).unwrap();
    duty.slot = slot;
    duty.subnet = subnet;
    valtrack_sim::sim_attestation(&duty, spe).to_ssz_bytes()
}

/// A sink that keeps every event, for the tests to read (clones share the list).
#[derive(Debug, Clone, Default)]
pub(crate) struct Collect(pub(crate) Arc<Mutex<Vec<Event>>>);

impl EventSink for Collect {
    async fn send(&self, event: Event) -> Result<(), SinkError> {
        self.0.lock().unwrap().push(event);
        Ok(())
    }
    async fn flush(&self) -> Result<(), SinkError> {
        Ok(())
    }
}
