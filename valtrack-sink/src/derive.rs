//! [`DeriveSink`]: the consumer's enrichment step in front of the storage sinks. Each event
//! is passed on, and from it are derived
//!
//! * a `validator_metadata_events` row for each successful handshake (long-lived and
//!   short-lived subnets, custody-implied stake, estimated validators with method and
//!   confidence — [`ValidatorMetadataEvent::from_metadata_event`]), counting the validators
//!   attributed to the peer so far (see [`AttributedValidators`] for which count);
//! * a `peer_locations` row when a peer is first seen at an address (or moves), when a
//!   [`GeoIp`] is configured.
//!
//! State is bounded: at most [`MAX_PEERS`] peers are remembered (the oldest half is dropped
//! when full) and at most [`MAX_ATTRIBUTED_PER_PEER`] attributed validators per peer, whose
//! unconfirmed weak evidence expires after [`WEAK_EVIDENCE_EPOCHS`].

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, UNIX_EPOCH};

use valtrack_core::events::{AttributionEvidence, ValidatorMetadataEvent};
use valtrack_core::{Epoch, Event, EventSink, Network, PeerId, SinkError};

use crate::geoip::GeoIp;

/// Most peers whose address and attributions are remembered.
pub const MAX_PEERS: usize = 200_000;
/// Most distinct attributed validators remembered per peer (counted or waiting to be).
pub const MAX_ATTRIBUTED_PER_PEER: usize = 100_000;

/// Slots per epoch of the mainnet preset (minimal-preset devnets differ, but this fallback is
/// only used for peers off the configured network, or without one).
const FALLBACK_SLOTS_PER_EPOCH: u64 = 32;

#[derive(Debug, Default)]
struct State {
    /// Last address each peer was located at, with insertion order for eviction.
    located: HashMap<PeerId, (IpAddr, u64)>,
    attributed: HashMap<PeerId, (AttributedValidators, u64)>,
    tick: u64,
}

/// The validators attributed to one peer, as an estimate counts them.
///
/// An attestation delivered on a subnet the peer is not on
/// ([`AttributionEvidence::UnsubscribedSubnet`]) can only be its own: its validator counts at
/// once. Weaker evidence (first delivery on a subnet the peer is on) is right nearly always,
/// but a rare relay that won the race would stay in the count for good, and on a node with a
/// few validators one such stray is a large error. So a validator with only weaker evidence
/// counts once the peer has delivered it first in two different epochs: a validator attests
/// every epoch, and its own node keeps delivering it, a relay does not. (Measured with
/// `cargo bench --bench attribution`: counting weak evidence at once put 75 % of 8-validator
/// nodes within ±10 %; counting only unsubscribed-subnet evidence under-counted 500-validator
/// nodes by half.)
///
/// Weak evidence not confirmed within [`WEAK_EVIDENCE_EPOCHS`] epochs is forgotten (a
/// validator attests every epoch; a relay's stray wins would otherwise pile up for good).
#[derive(Debug, Default)]
pub struct AttributedValidators {
    seen: HashMap<u64, Seen>,
    counted: u64,
    /// When unconfirmed weak evidence was last swept out.
    swept_at: Epoch,
}

/// How many epochs weak evidence waits for its confirmation in another epoch.
pub const WEAK_EVIDENCE_EPOCHS: u64 = 8;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Seen {
    /// Weaker evidence, in this epoch only so far.
    Once(Epoch),
    /// Counted.
    Counted,
}

impl AttributedValidators {
    /// Records that the peer delivered `validator`'s attestation of `epoch` first, with
    /// `evidence`. Returns whether the validator was remembered (at most
    /// [`MAX_ATTRIBUTED_PER_PEER`] are).
    pub fn record(&mut self, validator: u64, epoch: Epoch, evidence: AttributionEvidence) -> bool {
        if epoch >= self.swept_at.saturating_add(WEAK_EVIDENCE_EPOCHS) {
            self.seen.retain(|_, seen| match seen {
                Seen::Counted => true,
                Seen::Once(first) => first.saturating_add(WEAK_EVIDENCE_EPOCHS) > epoch,
            });
            self.swept_at = epoch;
        }
        let strong = evidence == AttributionEvidence::UnsubscribedSubnet;
        match self.seen.get(&validator).copied() {
            Some(Seen::Counted) => true,
            Some(Seen::Once(first)) => {
                if strong || first != epoch {
                    self.seen.insert(validator, Seen::Counted);
                    self.counted += 1;
                }
                true
            }
            None if self.seen.len() >= MAX_ATTRIBUTED_PER_PEER => false,
            None => {
                if strong {
                    self.seen.insert(validator, Seen::Counted);
                    self.counted += 1;
                } else {
                    self.seen.insert(validator, Seen::Once(epoch));
                }
                true
            }
        }
    }

    /// The validators counted.
    pub fn count(&self) -> u64 {
        self.counted
    }
}

impl State {
    fn next_tick(&mut self) -> u64 {
        self.tick += 1;
        self.tick
    }
}

/// Drops the older half of `map` (by insertion tick) when it holds `max` entries.
fn make_room<K: Eq + std::hash::Hash, V>(
    map: &mut HashMap<K, V>,
    max: usize,
    tick: impl Fn(&V) -> u64,
) {
    if map.len() < max {
        return;
    }
    let mut ticks: Vec<u64> = map.values().map(&tick).collect();
    let mid = ticks.len() / 2;
    let (_, median, _) = ticks.select_nth_unstable(mid);
    let cutoff = *median;
    map.retain(|_, v| tick(v) > cutoff);
}

/// Derives validator estimates and peer locations from the events it passes on to `inner`.
#[derive(Debug)]
pub struct DeriveSink<S> {
    inner: S,
    network: Option<Network>,
    geoip: Option<Arc<GeoIp>>,
    state: Mutex<State>,
}

impl<S: EventSink> DeriveSink<S> {
    /// Passes events to `inner`. Without a network (or for a peer on another network) the
    /// epoch of an estimate is taken from the peer's own Status head slot.
    pub fn new(inner: S) -> Self {
        Self {
            inner,
            network: None,
            geoip: None,
            state: Mutex::default(),
        }
    }

    /// The network whose clock dates estimates (the epoch at the event's timestamp).
    pub fn with_network(mut self, network: Network) -> Self {
        self.network = Some(network);
        self
    }

    /// Locates peers with `geoip` (a `peer_locations` row per new address).
    pub fn with_geoip(mut self, geoip: Arc<GeoIp>) -> Self {
        self.geoip = Some(geoip);
        self
    }

    /// The epoch an event falls in: by the network's clock when the peer is on that network
    /// (its Status digest is one of the network's), else from the peer's own head slot.
    fn epoch(
        &self,
        timestamp_ms: u64,
        head_slot: Option<u64>,
        digest: Option<valtrack_core::ForkDigest>,
    ) -> u64 {
        let clock = self
            .network
            .as_ref()
            .filter(|n| digest.is_none_or(|d| n.find_digest(d).is_some()))
            .and_then(|n| n.current_epoch(UNIX_EPOCH + Duration::from_millis(timestamp_ms)));
        clock
            .or_else(|| head_slot.map(|s| s / FALLBACK_SLOTS_PER_EPOCH))
            .unwrap_or(0)
    }

    /// The events derived from `event` (computed under the lock, sent after it).
    fn derive(&self, event: &Event) -> Vec<Event> {
        let mut out = Vec::new();
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let ip = match event {
            Event::Discovery(d) => d.ip.map(IpAddr::V4).or(d.ip6.map(IpAddr::V6)),
            Event::Metadata(m) if m.error.is_none() => {
                m.multiaddr.as_deref().and_then(ip_of_multiaddr)
            }
            _ => None,
        };
        if let (Some(geoip), Some(ip)) = (&self.geoip, ip) {
            let peer = event.meta().peer_id;
            if state.located.get(&peer).map(|(at, _)| *at) != Some(ip) {
                make_room(&mut state.located, MAX_PEERS, |v| v.1);
                let tick = state.next_tick();
                state.located.insert(peer, (ip, tick));
                match geoip.peer_location_event(event.meta(), ip) {
                    Ok(loc) => out.push(Event::PeerLocation(loc)),
                    Err(e) => {
                        tracing::debug!(target: "valtrack::derive", %peer, %ip, error = %e, "not located")
                    }
                }
            }
        }
        match event {
            Event::Attestation(a) if a.evidence.is_some() => {
                if let (Some(index), Some(evidence)) = (a.attester_index, a.evidence) {
                    let peer = a.meta.peer_id;
                    if !state.attributed.contains_key(&peer) {
                        make_room(&mut state.attributed, MAX_PEERS, |v| v.1);
                    }
                    let tick = state.next_tick();
                    let entry = state
                        .attributed
                        .entry(peer)
                        .or_insert_with(|| (AttributedValidators::default(), tick));
                    entry.0.record(index, a.target_epoch, evidence);
                }
            }
            Event::Metadata(m) => {
                let attributed = state
                    .attributed
                    .get(&m.meta.peer_id)
                    .map_or(0, |(validators, _)| validators.count());
                let head = m.status.as_ref().map(|s| s.head_slot);
                let digest = m.status.as_ref().map(|s| s.fork_digest);
                let epoch = self.epoch(m.meta.timestamp, head, digest);
                if let Some(row) = ValidatorMetadataEvent::from_metadata_event(
                    m,
                    epoch,
                    m.subscribed_attnets,
                    attributed,
                ) {
                    out.push(Event::ValidatorMetadata(row));
                }
            }
            _ => {}
        }
        out
    }
}

/// The IP address of a multiaddr's first component (`/ip4/…` or `/ip6/…`).
fn ip_of_multiaddr(addr: &str) -> Option<IpAddr> {
    let mut parts = addr.split('/').skip(1);
    match (parts.next()?, parts.next()?) {
        ("ip4" | "ip6", ip) => ip.parse().ok(),
        _ => None,
    }
}

impl<S: EventSink> EventSink for DeriveSink<S> {
    async fn send(&self, event: Event) -> Result<(), SinkError> {
        let derived = self.derive(&event);
        self.inner.send(event).await?;
        for e in derived {
            self.inner.send(e).await?;
        }
        Ok(())
    }

    async fn flush(&self) -> Result<(), SinkError> {
        self.inner.flush().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multiaddr_ips() {
        assert_eq!(
            ip_of_multiaddr("/ip4/1.2.3.4/tcp/9000"),
            Some("1.2.3.4".parse().unwrap())
        );
        assert_eq!(
            ip_of_multiaddr("/ip6/::1/udp/9000/quic-v1"),
            Some("::1".parse().unwrap())
        );
        assert_eq!(ip_of_multiaddr("/dns4/example.org/tcp/1"), None);
        assert_eq!(ip_of_multiaddr("garbage"), None);
    }

    #[test]
    fn weak_evidence_counts_from_a_second_epoch_strong_at_once() {
        use AttributionEvidence::*;
        let mut v = AttributedValidators::default();
        assert!(v.record(1, 10, FirstOnShortLivedSubnet));
        assert!(v.record(1, 10, FirstOnBackboneSubnet));
        assert_eq!(v.count(), 0, "one epoch of weak evidence is not enough");
        assert!(v.record(1, 11, FirstOnShortLivedSubnet));
        assert_eq!(v.count(), 1);
        v.record(1, 12, FirstOnShortLivedSubnet);
        assert_eq!(v.count(), 1, "counted once");
        v.record(2, 10, UnsubscribedSubnet);
        assert_eq!(v.count(), 2, "strong evidence counts at once");
        v.record(3, 10, FirstOnBackboneSubnet);
        v.record(3, 10, UnsubscribedSubnet);
        assert_eq!(v.count(), 3, "weak then strong in one epoch");
        let mut full = AttributedValidators::default();
        for i in 0..MAX_ATTRIBUTED_PER_PEER as u64 {
            assert!(full.record(i, 1, UnsubscribedSubnet));
        }
        assert!(!full.record(u64::MAX, 1, UnsubscribedSubnet), "bounded");
        assert!(
            full.record(0, 2, UnsubscribedSubnet),
            "a known one still is"
        );
        assert_eq!(full.count(), MAX_ATTRIBUTED_PER_PEER as u64);
    }

    #[test]
    fn unconfirmed_weak_evidence_is_forgotten() {
        use AttributionEvidence::*;
        let mut v = AttributedValidators::default();
        // a relay's stray first deliveries in epoch 100, and one real validator
        for stray in 0..1_000 {
            v.record(stray, 100, FirstOnBackboneSubnet);
        }
        v.record(5_000, 100, UnsubscribedSubnet);
        assert_eq!(v.seen.len(), 1_001);
        // confirmed within the window: counts
        v.record(7, 100 + WEAK_EVIDENCE_EPOCHS - 1, FirstOnBackboneSubnet);
        assert_eq!(v.count(), 2);
        // after the window the unconfirmed ones are gone; counted ones stay
        v.record(9_000, 100 + WEAK_EVIDENCE_EPOCHS, FirstOnBackboneSubnet);
        assert_eq!(v.seen.len(), 3, "7 and 5 000 counted, 9 000 new");
        v.record(8, 100 + WEAK_EVIDENCE_EPOCHS + 1, FirstOnBackboneSubnet);
        assert_eq!(v.count(), 2, "8's evidence from epoch 100 had expired");
    }

    #[test]
    fn make_room_drops_the_older_half() {
        let mut map: HashMap<u32, u64> = (0..10).map(|i| (i, u64::from(i))).collect();
        make_room(&mut map, 11, |v| *v);
        assert_eq!(map.len(), 10, "room left: nothing dropped");
        make_room(&mut map, 10, |v| *v);
        assert_eq!(map.len(), 4);
        assert!(map.values().all(|v| *v > 5));
    }
}
