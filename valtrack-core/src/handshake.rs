//! The handshake seam: a [`Handshaker`] dials a [`DiscoveredNode`] and learns what it is
//! (Status, MetaData, Ping, identify, then Goodbye), returning a [`PeerInfo`] with its
//! [`HandshakeTimings`], or a [`HandshakeError`] naming the [`HandshakeStage`] that failed.
//!
//! [`MetadataEvent::from_peer_info`] and [`MetadataEvent::from_failure`] turn either outcome
//! into the stored event; they live here, not in `events`, so that the event types do not
//! depend on this seam.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use thiserror::Error;

use crate::client::ClientInfo;
use crate::crawler::DiscoveredNode;
use crate::events::{
    Direction, EventMeta, HandshakeErrorKind, HandshakeFailure, HandshakeTimingsMs, MetaDataInfo,
    MetadataEvent, Muxer, StatusInfo, Transport,
};
use crate::peer_id::PeerId;
use crate::sink::BoxError;
use crate::ssz::{MetaData, Status};

/// A step of the handshake, named in timeouts and violations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HandshakeStage {
    /// Dialing and securing the connection.
    Connect,
    /// The Status exchange.
    Status,
    /// The MetaData request.
    MetaData,
    /// The Ping exchange.
    Ping,
    /// Waiting for identify.
    Identify,
    /// Sending Goodbye.
    Goodbye,
}

impl std::fmt::Display for HandshakeStage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self, f)
    }
}

/// Why a handshake failed.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum HandshakeError {
    /// A step did not finish within its timeout.
    #[error("timed out during {stage}")]
    Timeout {
        /// The step.
        stage: HandshakeStage,
    },
    /// The peer refused the connection.
    #[error("connection refused")]
    Refused {
        /// The transport's error.
        #[source]
        source: BoxError,
    },
    /// The security handshake or muxer negotiation failed.
    #[error("security/muxer negotiation failed")]
    SecurityFailed {
        /// The transport's error.
        #[source]
        source: BoxError,
    },
    /// The peer's Status names another fork digest.
    #[error("irrelevant network: we are on {ours}, the peer on {theirs}")]
    IrrelevantNetwork {
        /// Our digest.
        ours: crate::primitives::ForkDigest,
        /// The peer's digest.
        theirs: crate::primitives::ForkDigest,
    },
    /// The peer said Goodbye.
    #[error("peer said goodbye ({code})")]
    Goodbye {
        /// The reason code (129: too many peers).
        code: u64,
    },
    /// The peer broke the protocol during a step.
    #[error("protocol violation during {stage}")]
    ProtocolViolation {
        /// The step.
        stage: HandshakeStage,
        /// What was wrong.
        #[source]
        source: BoxError,
    },
    /// The node advertises no address we can dial.
    #[error("no dialable address")]
    NoAddress,
    /// Another transport failure (reset, unreachable, closed).
    #[error("transport failure")]
    Transport {
        /// The transport's error.
        #[source]
        source: BoxError,
    },
}

impl HandshakeError {
    /// The storable kind.
    pub fn kind(&self) -> HandshakeErrorKind {
        use HandshakeErrorKind as K;
        match self {
            Self::Timeout { .. } => K::Timeout,
            Self::Refused { .. } => K::Refused,
            Self::SecurityFailed { .. } => K::SecurityFailed,
            Self::IrrelevantNetwork { .. } | Self::Goodbye { code: 2 } => K::IrrelevantNetwork,
            Self::Goodbye { code: 129 } => K::TooManyPeers,
            Self::Goodbye { .. } => K::Goodbye,
            Self::ProtocolViolation { .. } => K::ProtocolViolation,
            Self::NoAddress => K::NoAddress,
            Self::Transport { .. } => K::Transport,
        }
    }

    /// Whether trying again later may succeed (timeouts, full peers, transport hiccups), as
    /// opposed to peers that are on another network, banned us or broke the protocol.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Timeout { .. } | Self::Refused { .. } | Self::Transport { .. } => true,
            Self::Goodbye { code } => matches!(code, 1 | 3 | 129 | 238),
            _ => false,
        }
    }

    /// Whether the peer broke the protocol.
    pub fn is_protocol_violation(&self) -> bool {
        matches!(self, Self::ProtocolViolation { .. })
    }

    /// The form stored in a [`MetadataEvent`].
    pub fn to_failure(&self) -> HandshakeFailure {
        let mut message = self.to_string();
        let mut source = std::error::Error::source(self);
        while let Some(s) = source {
            message.push_str(": ");
            message.push_str(&s.to_string());
            source = s.source();
        }
        HandshakeFailure {
            kind: self.kind(),
            goodbye_code: match self {
                Self::Goodbye { code } => Some(*code),
                _ => None,
            },
            message,
        }
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
pub trait Handshaker: Send + Sync + 'static {
    /// Handshakes one node. Implementations bound every step by a timeout, so the future
    /// always completes. Dropping it abandons the attempt (cancel-safe).
    fn handshake(
        &self,
        node: &DiscoveredNode,
    ) -> impl Future<Output = Result<PeerInfo, HandshakeError>> + Send;
}

/// A shared handshaker is a handshaker too.
impl<T: Handshaker> Handshaker for Arc<T> {
    fn handshake(
        &self,
        node: &DiscoveredNode,
    ) -> impl Future<Output = Result<PeerInfo, HandshakeError>> + Send {
        (**self).handshake(node)
    }
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

impl MetadataEvent {
    /// The event for a failed outbound handshake.
    pub fn from_failure(
        meta: EventMeta,
        multiaddr: Option<String>,
        error: &HandshakeError,
    ) -> Self {
        Self {
            meta,
            multiaddr,
            direction: Direction::Outbound,
            transport: None,
            muxer: None,
            status: None,
            metadata: None,
            agent_version: None,
            client: None,
            subscribed_attnets: None,
            subscribed_syncnets: None,
            protocols: Vec::new(),
            timings: HandshakeTimingsMs::default(),
            error: Some(error.to_failure()),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::enr_info::EnrClass;

    /// Counts its attempts and times out at connect.
    #[derive(Debug, Default)]
    struct Offline(AtomicUsize);

    impl Handshaker for Offline {
        async fn handshake(&self, _node: &DiscoveredNode) -> Result<PeerInfo, HandshakeError> {
            self.0.fetch_add(1, Ordering::Relaxed);
            Err(HandshakeError::Timeout {
                stage: HandshakeStage::Connect,
            })
        }
    }

    async fn attempt(
        h: &impl Handshaker,
        node: &DiscoveredNode,
    ) -> Result<PeerInfo, HandshakeError> {
        h.handshake(node).await
    }

    #[test]
    fn a_shared_handshaker_is_a_handshaker() {
        let enr = crate::MAINNET_BOOTNODES[0];
        let node = DiscoveredNode {
            enr: enr.to_owned(),
            info: enr.parse().unwrap(),
            class: EnrClass::NoEth2,
            update: crate::crawler::NodeUpdate::New,
        };
        let shared = Arc::new(Offline::default());
        let err = futures::executor::block_on(attempt(&shared, &node)).unwrap_err();
        assert!(matches!(
            err,
            HandshakeError::Timeout {
                stage: HandshakeStage::Connect
            }
        ));
        assert_eq!(shared.0.load(Ordering::Relaxed), 1);
    }

    #[test]
    fn handshake_errors_classify() {
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
