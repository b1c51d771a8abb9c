//! [`DeriveSink`]: the consumer's enrichment step in front of the storage sinks. Each event
//! is passed on, and from it are derived
//!
//! * a `validator_metadata_events` row for each successful handshake (long-lived and
//!   short-lived subnets, custody-implied stake, estimated validators with method and
//!   confidence — [`ValidatorMetadataEvent::from_metadata_event`]), counting the validators
//!   attributed to the peer so far (see [`AttributedValidators`] for which count) and the
//!   vantage points behind them (see [Several vantage points](#several-vantage-points));
//! * a `peer_locations` row when a peer is first seen at an address (or moves), when a
//!   [`GeoIp`] is configured.
//!
//! # Several vantage points
//!
//! Each sentry (`crawler_id`) is a vantage point with its own first deliveries. Once events
//! from a second one arrive, the claims on each validator's attestation of the latest epoch
//! are kept, one vote per vantage point (never comparing their timestamps: clocks differ
//! between machines):
//!
//! * the peer with the most votes gets the validator (and its count records the vantage
//!   points that voted for it: the row's `vantage_points`);
//! * every other peer named is *contested* for it: not counted, and reported as
//!   `contested_validators` (which lowers the estimate's confidence) until its own first
//!   delivery wins in a later epoch or [`WEAK_EVIDENCE_EPOCHS`] pass;
//! * a tie contests them all.
//!
//! Claims arrive in stream order, so a validator counted on the first vote and outvoted later
//! is taken back at that moment. A sentry that sees no first delivery of an attestation casts
//! no vote: silence never contests. A delivery of an epoch older than the validator's latest
//! claimed one (a sentry whose stream lags a whole epoch) counts as from one vantage point and
//! never lifts a contest.
//!
//! State is bounded: at most [`MAX_PEERS`] peers are remembered (the oldest half is dropped
//! when full), at most [`MAX_ATTRIBUTED_PER_PEER`] attributed validators per peer, whose
//! unconfirmed weak evidence expires after [`WEAK_EVIDENCE_EPOCHS`], at most
//! [`MAX_CLAIMED_VALIDATORS`] validators' latest claims (about 60 bytes with one vote, 150–200
//! with several; none are kept while a single vantage point reports) and [`MAX_VANTAGE_POINTS`] vantage points told apart
//! (later ones share the last index).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, UNIX_EPOCH};

use valtrack_core::estimate::Attribution;
use valtrack_core::events::{AttributionEvidence, ValidatorMetadataEvent};
use valtrack_core::{Epoch, Event, EventSink, Network, PeerId, SinkError};

use crate::geoip::GeoIp;

/// Most peers whose address and attributions are remembered.
pub const MAX_PEERS: usize = 200_000;
/// Most distinct attributed validators remembered per peer (counted or waiting to be).
pub const MAX_ATTRIBUTED_PER_PEER: usize = 100_000;
/// Most validators whose latest claims are kept to compare vantage points (mainnet has
/// about 1.1 million validators; the older half is dropped when full).
pub const MAX_CLAIMED_VALIDATORS: usize = 4_000_000;
/// Vantage points (`crawler_id`s) told apart; from the 64th on they share one index.
pub const MAX_VANTAGE_POINTS: usize = 64;

/// Slots per epoch of the mainnet preset (minimal-preset devnets differ, but this fallback is
/// only used for peers off the configured network, or without one).
const FALLBACK_SLOTS_PER_EPOCH: u64 = 32;

#[derive(Debug, Default)]
struct State {
    /// Last address each peer was located at, with insertion order for eviction.
    located: HashMap<PeerId, (IpAddr, u64)>,
    attributed: HashMap<PeerId, (AttributedValidators, u64)>,
    /// Vantage point (`crawler_id`) → its index (bit in a vantage mask).
    vantages: HashMap<String, u8>,
    /// Validator → the vantage points' claims on its latest epoch (once there are two).
    claims: HashMap<u64, Claim>,
    tick: u64,
}

/// The claims on one validator's attestation of one epoch: each vantage point's first
/// deliverer.
#[derive(Debug)]
struct Claim {
    epoch: Epoch,
    votes: Votes,
}

/// Almost every claim has one vote per vantage point and few vantage points; one vote is
/// kept inline.
#[derive(Debug)]
enum Votes {
    One((u8, PeerId)),
    Many(Vec<(u8, PeerId)>),
}

impl Votes {
    fn as_slice(&self) -> &[(u8, PeerId)] {
        match self {
            Self::One(vote) => std::slice::from_ref(vote),
            Self::Many(all) => all,
        }
    }

    fn push(&mut self, vote: (u8, PeerId)) {
        match self {
            Self::One(first) => *self = Self::Many(vec![*first, vote]),
            Self::Many(all) => all.push(vote),
        }
    }
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
    /// Validator → what is known, and the vantage points (bits) whose deliveries back it.
    seen: HashMap<u64, (Seen, u64)>,
    counted: u64,
    contested: u64,
    /// When unconfirmed weak evidence was last swept out.
    swept_at: Epoch,
}

/// How many epochs weak evidence waits for its confirmation in another epoch (and a
/// contest stands).
pub const WEAK_EVIDENCE_EPOCHS: u64 = 8;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Seen {
    /// Weaker evidence, in this epoch only so far.
    Once(Epoch),
    /// Counted.
    Counted,
    /// Another vantage point named another peer for it in this epoch (not counted).
    Contested(Epoch),
}

impl AttributedValidators {
    /// Records that the peer delivered `validator`'s attestation of `epoch` first, with
    /// `evidence`, as seen from one vantage point. Returns whether the validator was
    /// remembered (at most [`MAX_ATTRIBUTED_PER_PEER`] are).
    pub fn record(&mut self, validator: u64, epoch: Epoch, evidence: AttributionEvidence) -> bool {
        self.record_from(validator, epoch, evidence, 0)
    }

    /// [`record`](Self::record) from vantage point number `vantage` (`0..64`).
    pub fn record_from(
        &mut self,
        validator: u64,
        epoch: Epoch,
        evidence: AttributionEvidence,
        vantage: u8,
    ) -> bool {
        self.record_backed(validator, epoch, evidence, vantage_bit(vantage))
    }

    /// [`record_from`](Self::record_from), except that a contested validator stays contested.
    pub fn record_unless_contested(
        &mut self,
        validator: u64,
        epoch: Epoch,
        evidence: AttributionEvidence,
        vantage: u8,
    ) -> bool {
        if matches!(self.seen.get(&validator), Some((Seen::Contested(_), _))) {
            return true;
        }
        self.record_from(validator, epoch, evidence, vantage)
    }

    /// [`record`](Self::record), backed by the vantage points whose bits are in `bit`.
    fn record_backed(
        &mut self,
        validator: u64,
        epoch: Epoch,
        evidence: AttributionEvidence,
        bit: u64,
    ) -> bool {
        self.sweep(epoch);
        let strong = evidence == AttributionEvidence::UnsubscribedSubnet;
        match self.seen.get(&validator).copied() {
            Some((Seen::Counted, mask)) => {
                self.seen.insert(validator, (Seen::Counted, mask | bit));
                true
            }
            Some((Seen::Once(first), mask)) => {
                if strong || first != epoch {
                    self.seen.insert(validator, (Seen::Counted, mask | bit));
                    self.counted += 1;
                } else {
                    self.seen.insert(validator, (Seen::Once(first), mask | bit));
                }
                true
            }
            Some((Seen::Contested(_), _)) => {
                self.contested -= 1;
                self.fresh(validator, epoch, strong, bit);
                true
            }
            None if self.seen.len() >= MAX_ATTRIBUTED_PER_PEER => false,
            None => {
                self.fresh(validator, epoch, strong, bit);
                true
            }
        }
    }

    fn fresh(&mut self, validator: u64, epoch: Epoch, strong: bool, bit: u64) {
        if strong {
            self.seen.insert(validator, (Seen::Counted, bit));
            self.counted += 1;
        } else {
            self.seen.insert(validator, (Seen::Once(epoch), bit));
        }
    }

    /// Marks `validator` contested in `epoch`: other vantage points named another peer as its
    /// first deliverer. It stops counting until the peer wins it again. Returns whether it is
    /// remembered (at most [`MAX_ATTRIBUTED_PER_PEER`] are).
    pub fn contest(&mut self, validator: u64, epoch: Epoch) -> bool {
        self.sweep(epoch);
        match self.seen.get(&validator).copied() {
            Some((Seen::Counted, _)) => self.counted -= 1,
            Some((Seen::Once(_), _)) => {}
            Some((Seen::Contested(_), _)) => self.contested -= 1,
            None if self.seen.len() >= MAX_ATTRIBUTED_PER_PEER => return false,
            None => {}
        }
        self.seen.insert(validator, (Seen::Contested(epoch), 0));
        self.contested += 1;
        true
    }

    /// Forgets weak evidence and contests older than [`WEAK_EVIDENCE_EPOCHS`].
    fn sweep(&mut self, epoch: Epoch) {
        if epoch < self.swept_at.saturating_add(WEAK_EVIDENCE_EPOCHS) {
            return;
        }
        let mut expired_contests = 0;
        self.seen.retain(|_, (seen, _)| {
            let keep = match seen {
                Seen::Counted => true,
                Seen::Once(first) | Seen::Contested(first) => {
                    first.saturating_add(WEAK_EVIDENCE_EPOCHS) > epoch
                }
            };
            if !keep && matches!(seen, Seen::Contested(_)) {
                expired_contests += 1;
            }
            keep
        });
        self.contested -= expired_contests;
        self.swept_at = epoch;
    }

    /// The validators counted.
    pub fn count(&self) -> u64 {
        self.counted
    }

    /// The validators contested (not counted).
    pub fn contested(&self) -> u64 {
        self.contested
    }

    /// The vantage points whose first deliveries back the counted validators.
    pub fn vantage_points(&self) -> u32 {
        self.seen
            .values()
            .filter(|(seen, _)| *seen == Seen::Counted)
            .fold(0u64, |all, (_, mask)| all | mask)
            .count_ones()
    }

    /// What an estimate reads.
    pub fn attribution(&self) -> Attribution {
        Attribution {
            validators: self.counted,
            vantage_points: self.vantage_points(),
            contested: self.contested,
        }
    }
}

/// A vantage point's bit in a mask of vantage points.
fn vantage_bit(vantage: u8) -> u64 {
    1u64 << (vantage % 64)
}

impl State {
    fn next_tick(&mut self) -> u64 {
        self.tick += 1;
        self.tick
    }

    /// The index of the vantage point (`crawler_id`) an event came from.
    fn vantage(&mut self, crawler_id: &str) -> u8 {
        if let Some(v) = self.vantages.get(crawler_id) {
            return *v;
        }
        let next = self.vantages.len();
        if next >= MAX_VANTAGE_POINTS {
            return (MAX_VANTAGE_POINTS - 1) as u8;
        }
        self.vantages.insert(crawler_id.to_owned(), next as u8);
        next as u8
    }

    /// The validators attributed to `peer` (made room for when new).
    fn peer(&mut self, peer: PeerId) -> &mut AttributedValidators {
        if !self.attributed.contains_key(&peer) {
            make_room(&mut self.attributed, MAX_PEERS, |v| v.1);
        }
        let tick = self.next_tick();
        &mut self
            .attributed
            .entry(peer)
            .or_insert_with(|| (AttributedValidators::default(), tick))
            .0
    }

    /// A vantage point's first delivery of `validator`'s attestation, from the event's peer.
    fn on_attribution(
        &mut self,
        a: &valtrack_core::events::AttestationEvent,
        validator: u64,
        evidence: AttributionEvidence,
    ) {
        let (peer, epoch) = (a.meta.peer_id, a.target_epoch);
        let vantage = self.vantage(&a.meta.crawler_id);
        if self.vantages.len() < 2 {
            self.peer(peer)
                .record_from(validator, epoch, evidence, vantage);
            return;
        }
        if !self.claims.contains_key(&validator) && self.claims.len() >= MAX_CLAIMED_VALIDATORS {
            make_room(&mut self.claims, MAX_CLAIMED_VALIDATORS, |c| c.epoch);
        }
        let claim = self.claims.entry(validator).or_insert(Claim {
            epoch,
            votes: Votes::One((vantage, peer)),
        });
        if epoch < claim.epoch {
            // A late delivery of an older epoch: nothing left to compare it with; it counts
            // like one vantage point's, but never lifts a contest.
            self.peer(peer)
                .record_unless_contested(validator, epoch, evidence, vantage);
            return;
        }
        if epoch > claim.epoch {
            *claim = Claim {
                epoch,
                votes: Votes::One((vantage, peer)),
            };
        } else {
            let voted = claim
                .votes
                .as_slice()
                .iter()
                .find(|v| v.0 == vantage)
                .map(|v| v.1);
            match voted {
                // This vantage point's first vote (the claim's first, just made): recorded.
                // A repeat for the same peer is recorded like any delivery (a contest
                // stands); a vote for another peer is ignored (one vote each).
                Some(named) => {
                    if named == peer {
                        self.peer(peer)
                            .record_unless_contested(validator, epoch, evidence, vantage);
                    }
                    return;
                }
                None => claim.votes.push((vantage, peer)),
            }
        }
        // Tally: this peer's votes against the best other peer's.
        let votes = claim.votes.as_slice();
        let count = |p: PeerId| votes.iter().filter(|v| v.1 == p).count();
        let mine = count(peer);
        // Every vantage point that named this peer backs it.
        let backers = votes
            .iter()
            .filter(|v| v.1 == peer)
            .fold(0u64, |m, v| m | vantage_bit(v.0));
        let mut others: Vec<(PeerId, usize)> = Vec::new();
        for &(_, p) in votes {
            if p != peer && !others.iter().any(|o| o.0 == p) {
                others.push((p, count(p)));
            }
        }
        let best_other = others.iter().map(|o| o.1).max().unwrap_or(0);
        if mine > best_other {
            // It leads: counted, and every other peer named lost.
            self.peer(peer)
                .record_backed(validator, epoch, evidence, backers);
            for (p, _) in others {
                self.peer(p).contest(validator, epoch);
            }
        } else if mine == best_other {
            // A tie: nobody gets it.
            self.peer(peer).contest(validator, epoch);
            for (p, n) in others {
                if n == best_other {
                    self.peer(p).contest(validator, epoch);
                }
            }
        } else {
            // Outvoted: the leader keeps it.
            self.peer(peer).contest(validator, epoch);
        }
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
                    state.on_attribution(a, index, evidence);
                }
            }
            Event::Metadata(m) => {
                let attribution = state
                    .attributed
                    .get(&m.meta.peer_id)
                    .map_or(Attribution::default(), |(validators, _)| {
                        validators.attribution()
                    });
                let head = m.status.as_ref().map(|s| s.head_slot);
                let digest = m.status.as_ref().map(|s| s.fork_digest);
                let epoch = self.epoch(m.meta.timestamp, head, digest);
                if let Some(row) = ValidatorMetadataEvent::from_metadata_event(
                    m,
                    epoch,
                    m.subscribed_attnets,
                    attribution,
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
    use crate::tracker::fixtures;

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

    /// `crawler` saw `peer` deliver `validator`'s attestation of `epoch` first.
    fn first(crawler: &str, peer: PeerId, validator: u64, epoch: Epoch) -> Event {
        let Event::Attestation(mut a) = fixtures::attestation(peer, 1, validator, true) else {
            unreachable!("an attestation")
        };
        a.meta.crawler_id = crawler.to_owned();
        a.target_epoch = epoch;
        Event::Attestation(a)
    }

    fn attribution(state: &State, peer: PeerId) -> Attribution {
        state
            .attributed
            .get(&peer)
            .map_or(Attribution::default(), |(v, _)| v.attribution())
    }

    /// (validators, vantage points, contested) of `peer`.
    fn counts(state: &State, peer: PeerId) -> (u64, u32, u64) {
        let a = attribution(state, peer);
        (a.validators, a.vantage_points, a.contested)
    }

    /// Each (crawler, peer) in turn saw `peer` deliver `validator`'s attestation of `epoch`
    /// first.
    fn votes(state: &mut State, validator: u64, epoch: Epoch, votes: &[(&str, PeerId)]) {
        for (crawler, peer) in votes {
            let Event::Attestation(a) = first(crawler, *peer, validator, epoch) else {
                unreachable!("an attestation")
            };
            state.on_attribution(&a, validator, a.evidence.unwrap());
        }
    }

    #[test]
    fn vantage_points_back_agreements_and_contest_disagreements() {
        let (p, q, r) = (fixtures::peer(1), fixtures::peer(2), fixtures::peer(3));
        let mut state = State::default();
        // One vantage point: counted, backed by one.
        votes(&mut state, 1, 10, &[("a", p)]);
        votes(&mut state, 2, 10, &[("a", p)]);
        assert_eq!(counts(&state, p), (2, 1, 0));
        assert!(
            state.claims.is_empty(),
            "no claims kept for one vantage point"
        );
        // A second agrees on 1, and names p for 3 too.
        votes(&mut state, 1, 11, &[("b", p), ("a", p)]);
        votes(&mut state, 3, 11, &[("b", p)]);
        assert_eq!(counts(&state, p), (3, 2, 0));
        // Validator 4, epoch 12: a says p, b says q → a tie: both contested, neither counts.
        votes(&mut state, 4, 12, &[("a", p), ("b", q)]);
        assert_eq!(counts(&state, p), (3, 2, 1));
        assert_eq!(counts(&state, q), (0, 0, 1));
        // A third vantage point breaks the tie for q: q counts 4, backed by b and c; p stays
        // contested.
        votes(&mut state, 4, 12, &[("c", q)]);
        assert_eq!(counts(&state, q), (1, 2, 0));
        assert_eq!(counts(&state, p).2, 1);
        // A counted validator outvoted later is taken back: 1 for r by b and c in epoch 13
        // (a saw p first).
        votes(&mut state, 1, 13, &[("a", p), ("b", r), ("c", r)]);
        let (validators, _, contested) = counts(&state, p);
        assert_eq!((validators, contested), (2, 2), "1 and 4 contested");
        assert_eq!(counts(&state, r).0, 1);
        // One vote each: a repeats itself for r, nothing changes; for p, ignored.
        votes(&mut state, 1, 13, &[("a", r), ("b", p)]);
        assert_eq!(counts(&state, r).0, 1);
        assert_eq!(counts(&state, p).0, 2);
        // p wins 1 back in a later epoch, with all three agreeing.
        votes(&mut state, 1, 14, &[("a", p), ("b", p), ("c", p)]);
        assert_eq!(counts(&state, p), (3, 3, 1));
        // A late delivery of an older epoch counts without a vote.
        votes(&mut state, 9, 14, &[("b", q)]);
        votes(&mut state, 9, 13, &[("c", q)]);
        assert_eq!(counts(&state, q).0, 2);
        // A minority vote does not take it from the majority, whatever the order: 6 stays p's
        // (2 to 1), q is contested for it.
        votes(&mut state, 6, 15, &[("a", p), ("b", p), ("c", q)]);
        let (validators, _, contested) = counts(&state, p);
        assert_eq!((validators, contested), (4, 1));
        assert_eq!(counts(&state, q).2, 1);
        // A late delivery never lifts a contest (p's 4, contested in epoch 12).
        votes(&mut state, 4, 11, &[("a", p)]);
        assert_eq!(counts(&state, p).2, 1);
        // Contests expire like weak evidence.
        votes(&mut state, 5, 14 + WEAK_EVIDENCE_EPOCHS + 12, &[("a", p)]);
        let (validators, _, contested) = counts(&state, p);
        assert_eq!((validators, contested), (5, 0));
    }

    #[tokio::test]
    async fn estimates_say_how_many_vantage_points_back_them() {
        use crate::ChannelSink;
        use valtrack_core::EventSink;
        let p = fixtures::peer(1);
        let (inner, mut rx) = ChannelSink::new(64);
        let derive = DeriveSink::new(inner);
        for (crawler, validator) in [("a", 1), ("a", 2), ("b", 1), ("b", 2), ("b", 3)] {
            derive.send(first(crawler, p, validator, 2)).await.unwrap();
        }
        let q = fixtures::peer(2);
        derive.send(first("a", q, 3, 2)).await.unwrap();
        derive
            .send(fixtures::handshake(
                p,
                5,
                "/ip4/1.2.3.4/tcp/9000",
                "Lighthouse/v8",
                8,
            ))
            .await
            .unwrap();
        drop(derive);
        let mut row = None;
        while let Some(e) = rx.recv().await {
            if let Event::ValidatorMetadata(r) = e {
                row = Some(r);
            }
        }
        let row = row.expect("a validator_metadata row");
        // 1 and 2 agreed by a and b; 3 is b's p against a's q: a tie.
        assert_eq!(
            (
                row.attributed_validators,
                row.vantage_points,
                row.contested_validators
            ),
            (2, 2, 1)
        );
        assert_eq!(row.estimated_validators, 2);
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
