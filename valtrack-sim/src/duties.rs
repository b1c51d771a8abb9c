//! Simulated validators: each epoch every validator gets a duty (a slot and a committee) from
//! a hash of (validator, epoch), and its node publishes an Electra `SingleAttestation` on the
//! duty's subnet at a third of the slot. About one validator in
//! `committee_len / TARGET_AGGREGATORS_PER_COMMITTEE` aggregates (the spec's `is_aggregator`
//! over a simulated selection proof); its node then subscribes to the duty's subnet for the
//! epoch (one slot ahead), without advertising it, as real clients do.

use std::collections::BTreeSet;
use std::ops::Range;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use sha2::{Digest, Sha256};
use tracing::debug;
use valtrack_core::codec::GossipKind;
use valtrack_core::ssz::{AttestationData, Checkpoint, SingleAttestation};
use valtrack_core::subnets::{committees_per_slot, compute_subnet_for_attestation, is_aggregator};
use valtrack_core::{AttestationSubnets, Epoch, Network, PeerId, Slot, SszMessage};

use valtrack_sentry::host::Host;

const LOG: &str = "valtrack::sim";

/// Bound on the published-attestation log of a [`SimNet`](super::SimNet).
pub const MAX_PUBLISHED_LOG: usize = 2_000_000;

/// A validator's duty in one epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SimDuty {
    /// The validator.
    pub validator: u64,
    /// The slot it attests in.
    pub slot: Slot,
    /// Its committee in that slot.
    pub committee_index: u64,
    /// The attestation subnet (`compute_subnet_for_attestation`).
    pub subnet: u64,
    /// Whether it aggregates for its committee (its node subscribes to the subnet).
    pub aggregator: bool,
}

fn hash_u64(parts: &[&[u8]]) -> u64 {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p);
    }
    let d = h.finalize();
    u64::from_le_bytes([d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7]])
}

/// The simulated selection proof of `validator` at `slot` (96 bytes).
fn selection_proof(validator: u64, slot: Slot) -> [u8; 96] {
    let mut out = [0u8; 96];
    for (i, chunk) in out.chunks_mut(32).enumerate() {
        let d = Sha256::new()
            .chain_update(b"sim-selection")
            .chain_update(validator.to_le_bytes())
            .chain_update(slot.to_le_bytes())
            .chain_update([i as u8])
            .finalize();
        chunk.copy_from_slice(&d);
    }
    out
}

/// The duty of `validator` in `epoch` on a network of `total_validators` validators:
/// slot = `hash(validator, epoch) % slots_per_epoch` into the epoch, committee =
/// `hash' % committees_per_slot(total_validators)`.
pub fn sim_duty(
    validator: u64,
    epoch: Epoch,
    total_validators: u64,
    slots_per_epoch: u64,
) -> Option<SimDuty> {
    let slots = slots_per_epoch.max(1);
    let committees = committees_per_slot(total_validators, slots)?;
    let h = hash_u64(&[b"sim-duty", &validator.to_le_bytes(), &epoch.to_le_bytes()]);
    let slot = epoch.checked_mul(slots)?.checked_add(h % slots)?;
    let committee_index = (h / slots) % committees;
    let subnet = compute_subnet_for_attestation(committees, slot, committee_index, slots)?;
    let committee_len = total_validators / slots / committees;
    Some(SimDuty {
        validator,
        slot,
        committee_index,
        subnet,
        aggregator: is_aggregator(committee_len, &selection_proof(validator, slot)),
    })
}

/// The `SingleAttestation` a simulated validator publishes for `duty`.
pub fn sim_attestation(duty: &SimDuty, slots_per_epoch: u64) -> SingleAttestation {
    let epoch = duty.slot / slots_per_epoch.max(1);
    let root = |tag: &[u8], n: u64| -> [u8; 32] {
        Sha256::new()
            .chain_update(tag)
            .chain_update(n.to_le_bytes())
            .finalize()
            .into()
    };
    // The signature stays zero: nobody checks it in the simulation, and `attester_index`
    // already makes each validator's message (and so its message id) unique.
    SingleAttestation {
        committee_index: duty.committee_index,
        attester_index: duty.validator,
        data: AttestationData {
            slot: duty.slot,
            index: 0,
            beacon_block_root: root(b"sim-block", duty.slot),
            source: Checkpoint {
                epoch: epoch.saturating_sub(1),
                root: root(b"sim-checkpoint", epoch.saturating_sub(1)),
            },
            target: Checkpoint {
                epoch,
                root: root(b"sim-checkpoint", epoch),
            },
        },
        ..SingleAttestation::default()
    }
}

/// One attestation a simulated node tried to publish (the ground truth of attribution).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SimAttestation {
    /// The node that hosts the validator.
    pub peer_id: PeerId,
    /// The duty.
    pub duty: SimDuty,
    /// Target epoch.
    pub epoch: Epoch,
    /// Whether GossipSub took it (it had a peer on the topic).
    pub published: bool,
    /// Whether the node was subscribed to the subnet when it published (backbone or
    /// aggregator duty): a node that does not flood then sends it to its mesh, else to fanout
    /// peers.
    pub subscribed: bool,
}

/// The shared, bounded log of published attestations.
pub(crate) type PublishedLog = Arc<Mutex<Vec<SimAttestation>>>;

/// What one node's duty task needs.
pub(crate) struct DutyTask {
    pub(crate) host: Host,
    pub(crate) network: Network,
    pub(crate) peer_id: PeerId,
    pub(crate) validators: Range<u64>,
    pub(crate) total_validators: u64,
    pub(crate) backbone: AttestationSubnets,
    pub(crate) log: PublishedLog,
}

impl DutyTask {
    fn duties(&self, epoch: Epoch) -> Vec<SimDuty> {
        let spe = self.network.slots_per_epoch();
        self.validators
            .clone()
            .filter_map(|v| sim_duty(v, epoch, self.total_validators, spe))
            .collect()
    }

    fn short_lived(&self, duties: &[SimDuty]) -> BTreeSet<u64> {
        duties
            .iter()
            .filter(|d| d.aggregator && !self.backbone.contains(d.subnet))
            .map(|d| d.subnet)
            .collect()
    }

    async fn set_short_lived(&self, current: &mut BTreeSet<u64>, wanted: &BTreeSet<u64>) {
        for s in current.difference(wanted) {
            let _ = self
                .host
                .subscribe_topic(GossipKind::BeaconAttestation(*s), false)
                .await;
        }
        for s in wanted.difference(current) {
            let _ = self
                .host
                .subscribe_topic(GossipKind::BeaconAttestation(*s), true)
                .await;
        }
        *current = wanted.clone();
    }

    /// Runs forever: per slot, publish that slot's attestations; one slot before each epoch,
    /// subscribe for the next epoch's aggregator duties.
    pub(crate) async fn run(self) {
        let spe = self.network.slots_per_epoch().max(1);
        let slot_duration = self.network.slot_duration();
        let now_unix = || {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default()
        };
        let mut slot = self.network.slot_at(now_unix()).unwrap_or(0) + 1;
        let mut epoch = slot / spe;
        let mut duties = self.duties(epoch);
        let mut short = BTreeSet::new();
        let wanted = self.short_lived(&duties);
        self.set_short_lived(&mut short, &wanted).await;
        loop {
            let Some(start) = self.network.slot_start(slot) else {
                return;
            };
            let at = start + slot_duration / 3;
            tokio::time::sleep(at.saturating_sub(now_unix())).await;
            if slot / spe != epoch {
                epoch = slot / spe;
                duties = self.duties(epoch);
                let wanted = self.short_lived(&duties);
                self.set_short_lived(&mut short, &wanted).await;
            }
            for duty in duties.iter().filter(|d| d.slot == slot) {
                let ssz = sim_attestation(duty, spe).to_ssz_bytes();
                let published = self
                    .host
                    .publish(GossipKind::BeaconAttestation(duty.subnet), ssz)
                    .await
                    .is_ok();
                if !published {
                    debug!(target: LOG, validator = duty.validator, slot, "attestation not published");
                }
                let mut log = self.log.lock().unwrap_or_else(|p| p.into_inner());
                if log.len() < MAX_PUBLISHED_LOG {
                    log.push(SimAttestation {
                        peer_id: self.peer_id,
                        duty: *duty,
                        epoch,
                        published,
                        subscribed: self.backbone.contains(duty.subnet)
                            || short.contains(&duty.subnet),
                    });
                }
            }
            // One slot ahead of the next epoch: join its aggregator subnets.
            if slot % spe == spe - 1 {
                let next = self.duties(epoch + 1);
                let mut wanted = self.short_lived(&next);
                wanted.extend(short.iter().copied());
                self.set_short_lived(&mut short, &wanted).await;
            }
            slot += 1;
            // Fell behind (a stalled runtime): skip to the present rather than burst.
            let present = self.network.slot_at(now_unix()).unwrap_or(slot);
            if present > slot + 1 {
                slot = present;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duties_are_deterministic_and_in_range() {
        let mut aggregators = 0;
        for v in 0..2000 {
            let d = sim_duty(v, 7, 2000, 32).unwrap();
            assert_eq!(d, sim_duty(v, 7, 2000, 32).unwrap());
            assert!((7 * 32..8 * 32).contains(&d.slot));
            assert_eq!(
                d.committee_index, 0,
                "2000 validators: one committee per slot"
            );
            assert_eq!(d.subnet, d.slot % 32);
            aggregators += u32::from(d.aggregator);
        }
        // Committees of 62: modulo 3, about a third aggregate.
        assert!((500..850).contains(&aggregators), "{aggregators}");
        let big = sim_duty(1, 0, 1_000_000, 32).unwrap();
        assert!(big.committee_index < 64);
    }

    #[test]
    fn attestation_names_the_validator() {
        let d = sim_duty(42, 3, 1000, 32).unwrap();
        let a = sim_attestation(&d, 32);
        assert_eq!(a.attester_index, 42);
        assert_eq!(a.data.target.epoch, 3);
        assert_eq!(a.to_ssz_bytes().len(), 240);
    }
}
