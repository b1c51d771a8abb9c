//! Handshake errors: why dialing a node and learning what it is failed, and at which step.

use thiserror::Error;

use crate::events::{
    Direction, EventMeta, HandshakeErrorKind, HandshakeFailure, HandshakeTimingsMs, MetadataEvent,
};
use crate::sink::BoxError;

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

    /// The form stored in a [`MetadataEvent`](crate::MetadataEvent).
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
