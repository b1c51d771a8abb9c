//! Error types of valtrack-core, one enum per layer.

use thiserror::Error;

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
