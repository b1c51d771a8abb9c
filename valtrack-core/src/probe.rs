//! The probe seam: a [`SubnetProbe`] watches GossipSub and reports what peers do on subnet
//! topics ([`SubnetObservation`]): subscriptions, unsubscriptions and disconnections, and,
//! for attribution, the raw [`GossipMessage`]s on attestation subnet topics
//! ([`SubnetProbe::attestations`]).

use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::SystemTime;

use futures_core::Stream;

use crate::codec::GossipTopic;
use crate::peer_id::PeerId;
use crate::primitives::ForkDigest;

/// A GossipSub subnet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Subnet {
    /// `beacon_attestation_{n}`, n < 64.
    Attestation(u8),
    /// `sync_committee_{n}`, n < 4.
    SyncCommittee(u8),
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

/// A message received on an attestation subnet topic, one per message id (GossipSub drops
/// duplicates): the copy that arrived first, as far as the host learned (valtrack-sentry's
/// host holds each first delivery briefly for a copy stamped earlier).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GossipMessage {
    /// The topic it arrived on.
    pub topic: GossipTopic,
    /// The peer whose copy it is (its propagation source; never necessarily its origin).
    pub source: PeerId,
    /// When it arrived.
    pub received: SystemTime,
    /// The decompressed SSZ payload, at most the topic type's largest encoding long.
    pub data: Vec<u8>,
}

/// Watches GossipSub for subnet subscriptions and first deliveries of attestations.
pub trait SubnetProbe: Send + Sync + 'static {
    /// A stream of observations. Each call subscribes anew.
    fn observations(&self) -> impl Stream<Item = SubnetObservation> + Send + 'static;

    /// The raw messages on attestation subnet topics, for attribution. Each call subscribes
    /// anew.
    ///
    /// The default is a stream that ends at once, for probes that see subscriptions only.
    fn attestations(&self) -> impl Stream<Item = GossipMessage> + Send + 'static {
        Empty::default()
    }
}

/// A shared probe is a probe too.
impl<T: SubnetProbe> SubnetProbe for Arc<T> {
    fn observations(&self) -> impl Stream<Item = SubnetObservation> + Send + 'static {
        (**self).observations()
    }

    fn attestations(&self) -> impl Stream<Item = GossipMessage> + Send + 'static {
        (**self).attestations()
    }
}

/// A stream that ends at once: the default [`SubnetProbe::attestations`]. (Core depends on
/// `futures-core` only, which has no such stream.)
struct Empty<T>(PhantomData<fn() -> T>);

impl<T> Default for Empty<T> {
    fn default() -> Self {
        Self(PhantomData)
    }
}

impl<T> Stream for Empty<T> {
    type Item = T;

    fn poll_next(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Option<T>> {
        Poll::Ready(None)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, Some(0))
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

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

    /// Forwards one message per call.
    #[derive(Debug)]
    struct Relay(GossipMessage);

    impl SubnetProbe for Relay {
        fn observations(&self) -> impl Stream<Item = SubnetObservation> + Send + 'static {
            Once(None)
        }

        fn attestations(&self) -> impl Stream<Item = GossipMessage> + Send + 'static {
            futures::stream::iter([self.0.clone()])
        }
    }

    #[test]
    fn attestations_default_to_an_empty_stream() {
        let peer_id: PeerId = "16Uiu2HAm4oaDUR2JCEyotxAs7eEVkCVJffoBKiTs8So4HkERrdpW"
            .parse()
            .unwrap();
        let probe = OneDisconnect(peer_id);
        let stream = probe.attestations();
        assert_eq!(stream.size_hint(), (0, Some(0)));
        assert_eq!(futures::executor::block_on(stream.count()), 0);
        let shared = Arc::new(probe);
        assert_eq!(
            futures::executor::block_on(shared.attestations().count()),
            0
        );
    }

    #[test]
    fn a_shared_probe_forwards_attestations() {
        let message = GossipMessage {
            topic: "/eth2/8c9f62fe/beacon_attestation_17/ssz_snappy"
                .parse()
                .unwrap(),
            source: "16Uiu2HAm4oaDUR2JCEyotxAs7eEVkCVJffoBKiTs8So4HkERrdpW"
                .parse()
                .unwrap(),
            received: SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000),
            data: vec![1, 2, 3],
        };
        let shared = Arc::new(Relay(message.clone()));
        let got: Vec<_> = futures::executor::block_on(shared.attestations().collect());
        assert_eq!(got, vec![message]);
        assert_eq!(
            futures::executor::block_on(shared.observations().count()),
            0
        );
    }
}
