//! The probe seam: a [`SubnetProbe`] watches GossipSub and reports what peers do on subnet
//! topics ([`SubnetObservation`]): subscriptions, unsubscriptions, disconnections and first
//! deliveries of attestations.

use std::sync::Arc;

use futures_core::Stream;

use crate::peer_id::PeerId;
use crate::primitives::ForkDigest;
use crate::ssz::{Attestation, SingleAttestation};

/// A GossipSub subnet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Subnet {
    /// `beacon_attestation_{n}`, n < 64.
    Attestation(u8),
    /// `sync_committee_{n}`, n < 4.
    SyncCommittee(u8),
}

/// An attestation payload seen on gossip.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ObservedAttestation {
    /// Electra and later.
    Single(SingleAttestation),
    /// Phase0 to Deneb.
    Phase0(Attestation),
}

/// Something a [`SubnetProbe`] saw a peer do on GossipSub.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SubnetObservation {
    /// The peer subscribed to a subnet topic.
    Subscribed {
        /// The peer.
        peer_id: PeerId,
        /// The topic's fork digest.
        fork_digest: ForkDigest,
        /// The subnet.
        subnet: Subnet,
        /// When (unix ms).
        at_ms: u64,
    },
    /// The peer unsubscribed from a subnet topic.
    Unsubscribed {
        /// The peer.
        peer_id: PeerId,
        /// The topic's fork digest.
        fork_digest: ForkDigest,
        /// The subnet.
        subnet: Subnet,
        /// When (unix ms).
        at_ms: u64,
    },
    /// The peer's last connection closed: its subscriptions are gone with it (GossipSub
    /// sends no unsubscriptions then).
    Disconnected {
        /// The peer.
        peer_id: PeerId,
        /// When (unix ms).
        at_ms: u64,
    },
    /// The peer was the first to deliver an attestation to us.
    Attestation {
        /// The delivering peer.
        peer_id: PeerId,
        /// The topic's fork digest.
        fork_digest: ForkDigest,
        /// The attestation subnet.
        subnet: u8,
        /// When it arrived (unix ms).
        at_ms: u64,
        /// The payload.
        attestation: ObservedAttestation,
    },
}

impl SubnetObservation {
    /// A `Subscribed` (or, with `subscribed == false`, `Unsubscribed`) observation.
    pub fn subscription(
        subscribed: bool,
        peer_id: PeerId,
        fork_digest: ForkDigest,
        subnet: Subnet,
        at_ms: u64,
    ) -> Self {
        if subscribed {
            Self::Subscribed {
                peer_id,
                fork_digest,
                subnet,
                at_ms,
            }
        } else {
            Self::Unsubscribed {
                peer_id,
                fork_digest,
                subnet,
                at_ms,
            }
        }
    }
}

/// Watches GossipSub for subnet subscriptions and first deliveries of attestations.
pub trait SubnetProbe: Send + Sync + 'static {
    /// A stream of observations. Each call subscribes anew.
    fn observations(&self) -> impl Stream<Item = SubnetObservation> + Send + 'static;
}

/// A shared probe is a probe too.
impl<T: SubnetProbe> SubnetProbe for Arc<T> {
    fn observations(&self) -> impl Stream<Item = SubnetObservation> + Send + 'static {
        (**self).observations()
    }
}

#[cfg(test)]
mod tests {
    use std::pin::Pin;
    use std::task::{Context, Poll};

    use futures::StreamExt;

    use super::*;

    /// Reports one disconnection per call.
    #[derive(Debug)]
    struct OneDisconnect(PeerId);

    struct Once(Option<SubnetObservation>);

    impl Stream for Once {
        type Item = SubnetObservation;
        fn poll_next(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
            Poll::Ready(self.0.take())
        }
    }

    impl SubnetProbe for OneDisconnect {
        fn observations(&self) -> impl Stream<Item = SubnetObservation> + Send + 'static {
            Once(Some(SubnetObservation::Disconnected {
                peer_id: self.0,
                at_ms: 7,
            }))
        }
    }

    async fn collect(probe: &impl SubnetProbe) -> Vec<SubnetObservation> {
        probe.observations().collect().await
    }

    #[test]
    fn a_shared_probe_is_a_probe() {
        let peer_id: PeerId = "16Uiu2HAm4oaDUR2JCEyotxAs7eEVkCVJffoBKiTs8So4HkERrdpW"
            .parse()
            .unwrap();
        let shared = Arc::new(OneDisconnect(peer_id));
        assert_eq!(
            futures::executor::block_on(collect(&shared)),
            vec![SubnetObservation::Disconnected { peer_id, at_ms: 7 }]
        );
    }
}
