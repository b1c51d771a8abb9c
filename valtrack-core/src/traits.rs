//! The four seams of valtrack: [`Crawler`], [`Handshaker`], [`SubnetProbe`] and
//! [`EventSink`], with the data that flows between them.
//!
//! Each trait returns `impl Future + Send` / `impl Stream + Send` (no `async_trait`), so an
//! implementation can use `async fn`. Where a program must choose an implementation at run
//! time, [`DynEventSink`] is the object-safe twin of [`EventSink`] (every `EventSink` is one,
//! and `Box<dyn DynEventSink>` is again an `EventSink`).

use std::fmt::Debug;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures_core::future::BoxFuture;
use futures_core::Stream;

use crate::client::ClientInfo;
use crate::enr_info::{EnrClass, EnrInfo};
use crate::events::{
    Direction, Event, EventMeta, HandshakeTimingsMs, MetaDataInfo, MetadataEvent, Muxer,
    StatusInfo, Transport,
};
use crate::handshake::HandshakeError;
use crate::peer_id::PeerId;
use crate::primitives::ForkDigest;
use crate::sink::SinkError;
use crate::ssz::{Attestation, MetaData, SingleAttestation, Status};

/// What a crawl found out about one node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodeUpdate {
    /// First sight.
    New,
    /// A higher ENR seq than before.
    SeqChanged {
        /// The seq we had.
        previous: u64,
    },
    /// Not seen for the configured time; forgotten.
    Gone,
}

/// A node found on discv5, with its ENR decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiscoveredNode {
    /// The ENR in text form (`enr:…`), the highest seq seen.
    pub enr: String,
    /// Its fields, decoded.
    pub info: EnrInfo,
    /// Our network, another network, or no eth2 field.
    pub class: EnrClass,
    /// Why it is reported.
    pub update: NodeUpdate,
}

/// Enumerates the discv5 DHT and reports every node it finds.
///
/// ```
/// use futures::stream::{self, Stream, StreamExt};
/// use valtrack_core::{Crawler, DiscoveredNode, EnrClass, EnrInfo, NodeUpdate};
///
/// /// A crawler that "finds" a fixed list: handy in tests of what consumes a crawler.
/// #[derive(Debug)]
/// struct Fixed(Vec<DiscoveredNode>);
///
/// impl Crawler for Fixed {
///     fn discovered(&self) -> impl Stream<Item = DiscoveredNode> + Send + 'static {
///         stream::iter(self.0.clone())
///     }
/// }
///
/// let enr = "enr:-Ku4QHqVeJ8PPICcWk1vSn_XcSkjOkNiTg6Fmii5j6vUQgvzMc9L1goFnLKgXqBJspJjIsB91LTOleFmyWWrFVATGngBh2F0dG5ldHOIAAAAAAAAAACEZXRoMpC1MD8qAAAAAP__________gmlkgnY0gmlwhAMRHkWJc2VjcDI1NmsxoQKLVXFOhp2uX6jeT0DvvDpPcU8FWMjQdR4wMuORMhpX24N1ZHCCIyg";
/// let info: EnrInfo = enr.parse()?;
/// let node = DiscoveredNode { enr: enr.into(), info, class: EnrClass::NoEth2, update: NodeUpdate::New };
/// let crawler = Fixed(vec![node]);
/// let found: Vec<_> = futures::executor::block_on(crawler.discovered().collect());
/// assert_eq!(found.len(), 1);
/// # Ok::<(), valtrack_core::EnrError>(())
/// ```
pub trait Crawler: Send + Sync + Debug + 'static {
    /// A stream of discoveries: new nodes, ENR updates and nodes gone. Each call subscribes
    /// anew; a slow reader may miss updates only if the implementation documents so.
    fn discovered(&self) -> impl Stream<Item = DiscoveredNode> + Send + 'static;
}

/// A shared crawler is a crawler too: a program can hand an `Arc` of one to a sentry and keep
/// reading its state.
impl<T: Crawler> Crawler for Arc<T> {
    fn discovered(&self) -> impl Stream<Item = DiscoveredNode> + Send + 'static {
        (**self).discovered()
    }
}

/// What a handshake learned about a peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerInfo {
    /// The peer.
    pub peer_id: PeerId,
    /// The address used.
    pub multiaddr: String,
    /// Who dialed.
    pub direction: Direction,
    /// Transport used.
    pub transport: Transport,
    /// Muxer negotiated (TCP only).
    pub muxer: Option<Muxer>,
    /// The peer's Status.
    pub status: Option<Status>,
    /// The peer's MetaData (newest version it speaks).
    pub metadata: Option<MetaData>,
    /// identify's agent version.
    pub agent_version: Option<String>,
    /// The agent version parsed.
    pub client: ClientInfo,
    /// Protocols the peer announced.
    pub protocols: Vec<String>,
    /// Addresses the peer listens on (identify).
    pub listen_addrs: Vec<String>,
    /// How long each step took.
    pub timings: HandshakeTimings,
}

impl MetadataEvent {
    /// The event for a successful handshake.
    pub fn from_peer_info(meta: EventMeta, info: &PeerInfo) -> Self {
        let ms = |d: Option<std::time::Duration>| d.map(|d| d.as_millis() as u64);
        Self {
            meta,
            multiaddr: Some(info.multiaddr.clone()),
            direction: info.direction,
            transport: Some(info.transport),
            muxer: info.muxer,
            status: info.status.as_ref().map(StatusInfo::from),
            metadata: info.metadata.as_ref().map(MetaDataInfo::from),
            agent_version: info.agent_version.clone(),
            client: Some(info.client.clone()),
            subscribed_attnets: None,
            subscribed_syncnets: None,
            protocols: info.protocols.clone(),
            timings: HandshakeTimingsMs {
                connect_ms: ms(info.timings.connect),
                status_ms: ms(info.timings.status),
                metadata_ms: ms(info.timings.metadata),
                ping_ms: ms(info.timings.ping),
                total_ms: ms(info.timings.total),
            },
            error: None,
        }
    }
}

/// Round-trip times of one handshake.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct HandshakeTimings {
    /// Dial to a secured, muxed connection.
    pub connect: Option<Duration>,
    /// Status request to response.
    pub status: Option<Duration>,
    /// MetaData request to response.
    pub metadata: Option<Duration>,
    /// Ping request to response.
    pub ping: Option<Duration>,
    /// The whole handshake.
    pub total: Option<Duration>,
}

/// Dials a node and learns what it is: Status, MetaData, Ping, identify, then Goodbye.
///
/// ```
/// use valtrack_core::{DiscoveredNode, HandshakeError, HandshakeStage, Handshaker, PeerInfo};
///
/// /// A handshaker for a network we cannot reach.
/// #[derive(Debug)]
/// struct Offline;
///
/// impl Handshaker for Offline {
///     async fn handshake(&self, _node: &DiscoveredNode) -> Result<PeerInfo, HandshakeError> {
///         Err(HandshakeError::Timeout { stage: HandshakeStage::Connect })
///     }
/// }
/// ```
pub trait Handshaker: Send + Sync + Debug + 'static {
    /// Handshakes one node. Implementations bound every step by a timeout, so the future
    /// always completes. Dropping it abandons the attempt (cancel-safe).
    fn handshake(
        &self,
        node: &DiscoveredNode,
    ) -> impl Future<Output = Result<PeerInfo, HandshakeError>> + Send;
}

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
pub trait SubnetProbe: Send + Sync + Debug + 'static {
    /// A stream of observations. Each call subscribes anew.
    fn observations(&self) -> impl Stream<Item = SubnetObservation> + Send + 'static;
}

/// Where events go: NATS, Parquet, a file, a channel, or your own.
///
/// Implementing one takes a few lines, and `async fn` works:
///
/// ```
/// use std::sync::Mutex;
/// use valtrack_core::{Event, EventSink, SinkError};
///
/// /// Counts events by kind.
/// #[derive(Debug, Default)]
/// struct Counter(Mutex<std::collections::HashMap<&'static str, u64>>);
///
/// impl EventSink for Counter {
///     async fn send(&self, event: Event) -> Result<(), SinkError> {
///         *self.0.lock().unwrap().entry(event.kind().as_str()).or_default() += 1;
///         Ok(())
///     }
///     async fn flush(&self) -> Result<(), SinkError> {
///         Ok(())
///     }
/// }
///
/// // Picked at run time, as a trait object:
/// let sink: Box<dyn valtrack_core::DynEventSink> = Box::new(Counter::default());
/// futures::executor::block_on(sink.flush_boxed()).unwrap();
/// ```
pub trait EventSink: Send + Sync + Debug + 'static {
    /// Accepts one event. When this resolves `Ok`, the sink has taken responsibility for the
    /// event (buffered, spooled or written; see each sink's docs for durability).
    fn send(&self, event: Event) -> impl Future<Output = Result<(), SinkError>> + Send;

    /// Makes every event accepted so far durable (written, acknowledged).
    fn flush(&self) -> impl Future<Output = Result<(), SinkError>> + Send;
}

/// The object-safe form of [`EventSink`], for sinks chosen at run time. Every `EventSink`
/// implements it; `Box<dyn DynEventSink>` and `Arc<dyn DynEventSink>` implement `EventSink`.
pub trait DynEventSink: Send + Sync + Debug + 'static {
    /// [`EventSink::send`], boxed.
    fn send_boxed(&self, event: Event) -> BoxFuture<'_, Result<(), SinkError>>;
    /// [`EventSink::flush`], boxed.
    fn flush_boxed(&self) -> BoxFuture<'_, Result<(), SinkError>>;
}

impl<T: EventSink> DynEventSink for T {
    fn send_boxed(&self, event: Event) -> BoxFuture<'_, Result<(), SinkError>> {
        Box::pin(self.send(event))
    }

    fn flush_boxed(&self) -> BoxFuture<'_, Result<(), SinkError>> {
        Box::pin(self.flush())
    }
}

impl EventSink for Box<dyn DynEventSink> {
    fn send(&self, event: Event) -> impl Future<Output = Result<(), SinkError>> + Send {
        (**self).send_boxed(event)
    }

    fn flush(&self) -> impl Future<Output = Result<(), SinkError>> + Send {
        (**self).flush_boxed()
    }
}

impl EventSink for Arc<dyn DynEventSink> {
    fn send(&self, event: Event) -> impl Future<Output = Result<(), SinkError>> + Send {
        (**self).send_boxed(event)
    }

    fn flush(&self) -> impl Future<Output = Result<(), SinkError>> + Send {
        (**self).flush_boxed()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    #[derive(Debug, Default)]
    struct Collect(Mutex<Vec<Event>>, Mutex<u32>);

    impl EventSink for Collect {
        async fn send(&self, event: Event) -> Result<(), SinkError> {
            self.0.lock().unwrap().push(event);
            Ok(())
        }
        async fn flush(&self) -> Result<(), SinkError> {
            *self.1.lock().unwrap() += 1;
            Ok(())
        }
    }

    #[derive(Debug)]
    struct Broken;

    impl EventSink for Broken {
        async fn send(&self, _event: Event) -> Result<(), SinkError> {
            Err(SinkError::Closed)
        }
        async fn flush(&self) -> Result<(), SinkError> {
            Err(SinkError::Closed)
        }
    }

    fn event() -> Event {
        let json = r#"{"kind":"discovery","event_id":"00","crawler_id":"c1","crawler_location":"eu",
          "timestamp":1,"peer_id":"16Uiu2HAm4oaDUR2JCEyotxAs7eEVkCVJffoBKiTs8So4HkERrdpW",
          "node_id":"ef4cf7caa876063f4b8a8d1dad0f58fe9cd0ce945abba6b85dbf31c5fac98269","enr":null,
          "reason":"first_seen","seq":1,"class":"no_eth2"}"#;
        Event::from_json(json.as_bytes()).unwrap()
    }

    /// Generic code over `impl EventSink` works with boxed and shared trait objects.
    async fn pump(sink: &impl EventSink, n: usize) -> Result<(), SinkError> {
        for _ in 0..n {
            sink.send(event()).await?;
        }
        sink.flush().await
    }

    #[test]
    fn trait_objects_forward_to_the_sink() {
        let shared = Arc::new(Collect::default());
        let boxed: Box<dyn DynEventSink> = Box::new(Collect::default());
        futures::executor::block_on(pump(&boxed, 3)).unwrap();
        let arc: Arc<dyn DynEventSink> = shared.clone();
        futures::executor::block_on(pump(&arc, 2)).unwrap();
        assert_eq!(shared.0.lock().unwrap().len(), 2);
        assert_eq!(*shared.1.lock().unwrap(), 1);
        let broken: Box<dyn DynEventSink> = Box::new(Broken);
        assert!(matches!(
            futures::executor::block_on(pump(&broken, 1)),
            Err(SinkError::Closed)
        ));
    }

    #[test]
    fn handshake_errors_classify() {
        use crate::events::HandshakeErrorKind;
        assert_eq!(
            HandshakeError::Goodbye { code: 129 }.kind(),
            HandshakeErrorKind::TooManyPeers
        );
        assert_eq!(
            HandshakeError::Goodbye { code: 2 }.kind(),
            HandshakeErrorKind::IrrelevantNetwork
        );
        assert_eq!(
            HandshakeError::Goodbye { code: 251 }.kind(),
            HandshakeErrorKind::Goodbye
        );
        assert!(HandshakeError::Goodbye { code: 129 }.is_retryable());
        assert!(!HandshakeError::Goodbye { code: 251 }.is_retryable());
        let failure = HandshakeError::Goodbye { code: 129 }.to_failure();
        assert_eq!(failure.goodbye_code, Some(129));
        assert_eq!(failure.kind, HandshakeErrorKind::TooManyPeers);
    }
}
