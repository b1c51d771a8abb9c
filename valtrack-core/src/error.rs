//! Error types of valtrack-core, one enum per layer.

use thiserror::Error;

use crate::network::ForkName;
use crate::primitives::Epoch;

/// A hex string that is not the expected fixed-size value.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ParseHexError {
    /// Wrong number of hex digits.
    #[error("expected {expected} bytes ({} hex digits), got {got_digits} digits", expected * 2)]
    Length {
        /// Expected length in bytes.
        expected: usize,
        /// Number of hex digits found (after any `0x`).
        got_digits: usize,
    },
    /// A character is not a hex digit.
    #[error("not a hex string")]
    NotHex,
}

/// SSZ bytes that do not decode to the expected type.
#[derive(Debug, Error)]
pub enum SszError {
    /// The encoding's length is outside the type's bounds.
    #[error("{type_name}: SSZ length {len} outside [{min}, {max}]")]
    Length {
        /// The type being decoded.
        type_name: &'static str,
        /// Length found.
        len: usize,
        /// Smallest valid length.
        min: usize,
        /// Largest valid length.
        max: usize,
    },
    /// A variable-size field's offset is not where the layout puts it.
    #[error("{type_name}: SSZ offset {offset}, expected {expected}")]
    Offset {
        /// The type being decoded.
        type_name: &'static str,
        /// Offset found.
        offset: usize,
        /// Offset the layout requires.
        expected: usize,
    },
    /// The bytes are the right size but not a valid value.
    #[error("{type_name}: invalid SSZ")]
    Invalid {
        /// The type being decoded.
        type_name: &'static str,
        /// What the SSZ decoder said.
        #[source]
        source: ssz_rs::DeserializeError,
    },
}

/// A PeerId that is not a secp256k1 libp2p identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum PeerIdError {
    /// Not base58btc text.
    #[error("PeerId is not base58btc")]
    NotBase58,
    /// Not an identity multihash of a protobuf secp256k1 key.
    #[error("PeerId is not an identity multihash of a secp256k1 key")]
    NotSecp256k1,
    /// The key is not 33 bytes.
    #[error("secp256k1 key must be 33 compressed bytes, got {len}")]
    KeyLength {
        /// Length found.
        len: usize,
    },
    /// The bytes are not a point on the curve.
    #[error("not a valid compressed secp256k1 public key")]
    InvalidKey,
}

/// An ENR that cannot be used at all.
#[derive(Debug, Error)]
pub enum EnrError {
    /// Larger than the 300 bytes EIP-778 allows.
    #[error("ENR of {len} bytes exceeds {max}")]
    TooLarge {
        /// Length found (approximate for text).
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The text is not base64url.
    #[error("ENR text is not base64url")]
    Base64(#[from] base64::DecodeError),
    /// The record is not valid RLP, its signature does not verify, or a standard key is
    /// malformed.
    #[error("invalid ENR record")]
    Rlp(#[source] alloy_rlp::Error),
    /// The record has no valid secp256k1 public key, so no libp2p identity.
    #[error("ENR has no valid secp256k1 key")]
    NotSecp256k1,
    /// Bytes follow the record.
    #[error("{len} bytes after the ENR record")]
    TrailingBytes {
        /// Number of extra bytes.
        len: usize,
    },
}

/// One ENR field that is present but cannot be read as its type.
#[derive(Debug, Clone, PartialEq, Eq, Error, serde::Serialize, serde::Deserialize)]
#[error("ENR field `{key}`: {problem}")]
pub struct EnrFieldError {
    /// The key (`eth2`, `attnets`, …).
    pub key: String,
    /// What is wrong.
    pub problem: FieldProblem,
}

impl EnrFieldError {
    pub(crate) fn new(key: &str, problem: FieldProblem) -> Self {
        Self {
            key: key.to_owned(),
            problem,
        }
    }
}

/// What is wrong with an ENR field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum FieldProblem {
    /// The key is absent.
    #[error("missing")]
    Missing,
    /// The value is not valid RLP.
    #[error("bad RLP")]
    BadRlp,
    /// The value is an RLP list, not a byte string.
    #[error("a list where bytes were expected")]
    NotBytes,
    /// The value has the wrong length.
    #[error("expected {expected} bytes, got {got}")]
    Length {
        /// Expected length.
        expected: usize,
        /// Length found.
        got: usize,
    },
    /// An integer longer than its type.
    #[error("integer of {got} bytes, at most {max_bytes} allowed")]
    IntegerTooLarge {
        /// Allowed bytes.
        max_bytes: usize,
        /// Bytes found.
        got: usize,
    },
    /// Bits set beyond the bitvector's length.
    #[error("padding bits set")]
    PaddingBits,
}

/// A boxed error from a lower layer (transport, codec) that core cannot name.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

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
    pub fn kind(&self) -> crate::events::HandshakeErrorKind {
        use crate::events::HandshakeErrorKind as K;
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
    pub fn to_failure(&self) -> crate::events::HandshakeFailure {
        let mut message = self.to_string();
        let mut source = std::error::Error::source(self);
        while let Some(s) = source {
            message.push_str(": ");
            message.push_str(&s.to_string());
            source = s.source();
        }
        crate::events::HandshakeFailure {
            kind: self.kind(),
            goodbye_code: match self {
                Self::Goodbye { code } => Some(*code),
                _ => None,
            },
            message,
        }
    }
}

/// Why a sink could not take or persist events.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum SinkError {
    /// The sink was closed.
    #[error("sink closed")]
    Closed,
    /// A file or socket failed.
    #[error("I/O error")]
    Io(#[from] std::io::Error),
    /// The event could not be encoded.
    #[error("could not encode event")]
    Encode(#[from] serde_json::Error),
    /// The backend (NATS, Parquet, …) failed.
    #[error("{backend} failed")]
    Backend {
        /// Which backend.
        backend: &'static str,
        /// Its error.
        #[source]
        source: BoxError,
    },
}

/// A consensus network configuration (`config.yaml`, genesis data) that cannot be used.
///
/// Every variant that is about one config key names it; [`ConfigError::key`] returns it.
#[derive(Debug, Error)]
pub enum ConfigError {
    /// The text is not YAML, or not a mapping of keys to values, or a key we read holds a
    /// sequence or mapping where a scalar belongs.
    #[error("config is not a YAML mapping of consensus config keys")]
    Yaml {
        /// What the YAML parser said (with line and column).
        #[source]
        source: serde_yaml::Error,
    },
    /// A key appears twice at the top level.
    #[error("config key {key} appears more than once")]
    DuplicateKey {
        /// The repeated key.
        key: String,
    },
    /// A key without a safe default is missing.
    #[error("config key {key} is missing")]
    MissingKey {
        /// The missing key (`BLOB_SCHEDULE[i].EPOCH` for a blob schedule entry).
        key: String,
    },
    /// A value is not of the expected form or out of range.
    #[error("config key {key} = {value:?}: expected {expected}")]
    InvalidValue {
        /// The key.
        key: String,
        /// The value as written.
        value: String,
        /// What the key must hold.
        expected: &'static str,
    },
    /// A fork version is not 4 bytes of hex.
    #[error("config key {key} = {value:?} is not a 4-byte hex fork version")]
    InvalidVersion {
        /// The key.
        key: String,
        /// The value as written.
        value: String,
        /// Why the hex did not parse.
        #[source]
        source: ParseHexError,
    },
    /// `PRESET_BASE` names a preset whose `SLOTS_PER_EPOCH` we do not know.
    #[error("PRESET_BASE = {value:?}: only 'mainnet' and 'minimal' are known")]
    UnknownPresetBase {
        /// The value as written.
        value: String,
    },
    /// `SECONDS_PER_SLOT` and `SLOT_DURATION_MS` are both given and disagree.
    #[error("SECONDS_PER_SLOT = {seconds_per_slot} disagrees with SLOT_DURATION_MS = {slot_duration_ms}")]
    SlotDurationMismatch {
        /// `SECONDS_PER_SLOT`.
        seconds_per_slot: u64,
        /// `SLOT_DURATION_MS`.
        slot_duration_ms: u64,
    },
    /// A fork is scheduled before an earlier fork (missing forks count as unscheduled).
    #[error("{fork} fork epoch {epoch} comes before {previous} fork epoch {previous_epoch}")]
    ForkOrder {
        /// The fork scheduled too early.
        fork: ForkName,
        /// Its epoch.
        epoch: Epoch,
        /// The earlier fork in the canonical order.
        previous: ForkName,
        /// That fork's epoch (`FAR_FUTURE_EPOCH` when unscheduled or missing).
        previous_epoch: Epoch,
    },
    /// A `*_FORK_EPOCH` key schedules a fork this crate does not know, so its digests cannot
    /// be computed.
    #[error("config key {key} schedules an unknown fork at epoch {epoch}")]
    UnknownScheduledFork {
        /// The key (`EIP7805_FORK_EPOCH`, say).
        key: String,
        /// The scheduled epoch.
        epoch: Epoch,
    },
    /// Two `BLOB_SCHEDULE` entries share an epoch.
    #[error("BLOB_SCHEDULE has more than one entry for epoch {epoch}")]
    DuplicateBlobScheduleEpoch {
        /// The repeated epoch.
        epoch: Epoch,
    },
    /// `MIN_GENESIS_TIME + GENESIS_DELAY` does not fit in a `u64`.
    #[error("MIN_GENESIS_TIME = {min_genesis_time} + GENESIS_DELAY = {genesis_delay} overflows")]
    GenesisTimeOverflow {
        /// `MIN_GENESIS_TIME`.
        min_genesis_time: u64,
        /// `GENESIS_DELAY`.
        genesis_delay: u64,
    },
    /// A genesis validators root (e.g. `genesis_validators_root.txt`) is not 32 bytes of hex.
    #[error("genesis validators root {value:?} is not 32 bytes of hex")]
    InvalidGenesisValidatorsRoot {
        /// The text as given.
        value: String,
        /// Why the hex did not parse.
        #[source]
        source: ParseHexError,
    },
    /// SSZ bytes too short to hold a `BeaconState`'s `genesis_time` and
    /// `genesis_validators_root` (40 bytes).
    #[error("beacon state SSZ is {len} bytes, shorter than the 40 bytes of its genesis fields")]
    BeaconStateTooShort {
        /// Length given.
        len: usize,
    },
    /// A network name that is not one of the built-in presets.
    #[error("unknown network {name:?}: expected mainnet, sepolia, holesky or hoodi")]
    UnknownNetwork {
        /// The name given.
        name: String,
    },
}

impl ConfigError {
    /// The config key this error is about, if it is about one.
    pub fn key(&self) -> Option<&str> {
        match self {
            Self::DuplicateKey { key }
            | Self::MissingKey { key }
            | Self::InvalidValue { key, .. }
            | Self::InvalidVersion { key, .. }
            | Self::UnknownScheduledFork { key, .. } => Some(key),
            Self::UnknownPresetBase { .. } => Some("PRESET_BASE"),
            Self::SlotDurationMismatch { .. } => Some("SLOT_DURATION_MS"),
            Self::ForkOrder { fork, .. } => fork.epoch_key(),
            Self::DuplicateBlobScheduleEpoch { .. } => Some("BLOB_SCHEDULE"),
            Self::GenesisTimeOverflow { .. } => Some("GENESIS_DELAY"),
            Self::Yaml { .. }
            | Self::InvalidGenesisValidatorsRoot { .. }
            | Self::BeaconStateTooShort { .. }
            | Self::UnknownNetwork { .. } => None,
        }
    }
}

/// A length prefix that is not a valid protobuf unsigned varint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum VarintError {
    /// More than ten bytes (the longest `u64` varint) with the continuation bit set.
    #[error("varint longer than 10 bytes")]
    TooLong,
    /// The tenth byte sets bits beyond the 64th.
    #[error("varint overflows u64")]
    Overflow,
    /// The varint ends in a zero byte after the first, so a shorter encoding exists. (The spec
    /// says the prefix SHOULD be minimal; like Lighthouse's `unsigned-varint`, we reject it.)
    #[error("varint is not minimally encoded")]
    NotMinimal,
}

/// Bytes that do not decode as an `ssz_snappy` req/resp chunk or a gossip payload, or a value
/// that cannot be encoded as one.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum CodecError {
    /// The length prefix is not a valid varint.
    #[error("invalid length prefix")]
    InvalidVarint(#[source] VarintError),
    /// The declared (uncompressed) length exceeds `MAX_PAYLOAD_SIZE`.
    #[error("payload length {len} exceeds MAX_PAYLOAD_SIZE ({max})")]
    PayloadTooLarge {
        /// The declared or encoded length.
        len: u64,
        /// `MAX_PAYLOAD_SIZE`.
        max: usize,
    },
    /// The declared (uncompressed) length is outside the type's SSZ bounds.
    #[error("{type_name}: payload length {len} outside [{min}, {max}]")]
    LengthOutOfBounds {
        /// The type being decoded.
        type_name: &'static str,
        /// The declared or encoded length.
        len: u64,
        /// Smallest valid length.
        min: usize,
        /// Largest valid length.
        max: usize,
    },
    /// The compressed input is longer than `max_compressed_len(len)`: for req/resp, `len` is the
    /// declared length and the payload was not complete after that many bytes; for gossip,
    /// `len` is `MAX_PAYLOAD_SIZE`.
    #[error("compressed payload longer than {max} bytes, the limit for {len} uncompressed bytes")]
    CompressedTooLarge {
        /// The uncompressed length the limit was derived from.
        len: usize,
        /// `max_compressed_len(len)`.
        max: usize,
    },
    /// The snappy frames hold more data than the declared length.
    #[error("snappy frames decompress to more than the declared {declared} bytes")]
    DecompressedTooLong {
        /// The declared length.
        declared: usize,
    },
    /// Bytes remain after the message.
    #[error("{count} trailing bytes after the message")]
    TrailingBytes {
        /// How many bytes are left over.
        count: usize,
    },
    /// The input ended before the message was complete.
    #[error("input ended before the message was complete")]
    UnexpectedEof,
    /// The snappy data is corrupt (bad chunk type or length, bad checksum, bad block).
    #[error("invalid snappy data")]
    Snappy(#[source] snap::Error),
    /// The snappy frame decoder failed in another way (not expected with in-memory input).
    #[error("snappy frame decoder failed")]
    Io(#[source] std::io::Error),
    /// The decompressed payload is not valid SSZ for the type.
    #[error("invalid SSZ payload")]
    Ssz(#[from] SszError),
    /// The peer answered with an error chunk (a non-zero result code and an `ErrorMessage`).
    #[error("peer answered {code}: {message:?}")]
    ErrorResponse {
        /// The result code.
        code: crate::codec::ResponseCode,
        /// The `ErrorMessage`, decoded as lossy UTF-8.
        message: String,
    },
    /// An error chunk was to be encoded with the `Success` result code.
    #[error("an error response needs a non-zero result code")]
    SuccessCodeForError,
}

impl CodecError {
    /// Whether the bytes break the wire format or the type's bounds, as opposed to the peer
    /// reporting an error, the stream ending early or a local failure.
    pub fn is_protocol_violation(&self) -> bool {
        match self {
            Self::InvalidVarint(_)
            | Self::PayloadTooLarge { .. }
            | Self::LengthOutOfBounds { .. }
            | Self::CompressedTooLarge { .. }
            | Self::DecompressedTooLong { .. }
            | Self::TrailingBytes { .. }
            | Self::Snappy(_)
            | Self::Ssz(_) => true,
            Self::UnexpectedEof
            | Self::Io(_)
            | Self::ErrorResponse { .. }
            | Self::SuccessCodeForError => false,
        }
    }

    /// The result code, when the peer answered with an error chunk.
    pub fn response_code(&self) -> Option<crate::codec::ResponseCode> {
        match self {
            Self::ErrorResponse { code, .. } => Some(*code),
            _ => None,
        }
    }

    /// Whether the input ended before the message was complete (often the peer hanging up).
    pub fn is_unexpected_eof(&self) -> bool {
        matches!(self, Self::UnexpectedEof)
    }
}

/// A gossipsub topic string that is not a valid consensus-layer topic.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum TopicError {
    /// Not of the form `/eth2/{digest}/{name}/{encoding}`.
    #[error("topic is not of the form /eth2/{{fork_digest}}/{{name}}/{{encoding}}")]
    Malformed,
    /// The fork digest is not eight lowercase hex digits.
    #[error("fork digest {digest:?} is not 8 lowercase hex digits")]
    InvalidForkDigest {
        /// The digest segment as found.
        digest: String,
    },
    /// The topic name is not one of the consensus-layer topics.
    #[error("unknown topic name {name:?}")]
    UnknownKind {
        /// The name segment as found.
        name: String,
    },
    /// The subnet suffix is not a plain decimal number (digits only, no leading zero).
    #[error("{name:?}: subnet id is not a plain decimal number")]
    InvalidSubnetId {
        /// The name segment as found.
        name: String,
    },
    /// The subnet id is not below the topic's subnet count.
    #[error("{kind} subnet {id} out of range (must be below {count})")]
    SubnetOutOfRange {
        /// The topic family (`beacon_attestation`, …).
        kind: &'static str,
        /// The subnet id found.
        id: u64,
        /// Number of subnets of this family.
        count: u64,
    },
    /// The encoding is not `ssz_snappy`.
    #[error("unknown encoding {encoding:?}")]
    UnknownEncoding {
        /// The encoding segment as found.
        encoding: String,
    },
}
