//! Wire codecs: req/resp `ssz_snappy` (framed snappy), gossip payloads (block snappy),
//! gossip message ids and topic names.
//!
//! Every decoder here is bounded against hostile input. A length is checked against the type's
//! SSZ bounds and [`MAX_PAYLOAD_SIZE`] before anything is allocated for it; decompression
//! reads at most [`max_compressed_len`] bytes of input; output buffers grow with the data
//! actually decompressed, not with the length a peer claims; and no input makes a decoder
//! panic.
//!
//! - Req/resp: [`encode_request`], [`encode_response`], [`encode_error_response`] and
//!   [`encode_empty_request`]; whole streams with [`decode_request`], [`decode_response`],
//!   [`decode_optional_response`] and [`decode_empty_request`]; partial buffers with
//!   [`decode_request_chunk`] and [`decode_response_chunk`], which return `Ok(None)` until
//!   a chunk is complete.
//! - Gossip: [`encode_gossip`], [`decode_gossip`], [`decompress_gossip`],
//!   [`gossip_message_id`] and [`gossip_message_id_decompressed`].
//! - Topics: [`GossipTopic`], [`GossipKind`], [`GossipEncoding`].
//!
//! # Example
//!
//! ```
//! use valtrack_core::ssz::Ping;
//! use valtrack_core::codec::{decode_response, decode_response_chunk, encode_response};
//!
//! let wire = encode_response(&Ping { seq_number: 7 })?;
//! assert_eq!(wire[..2], [0x00, 0x08]); // result byte, then uvarint(8)
//! assert_eq!(decode_response::<Ping>(&wire)?.seq_number, 7);
//!
//! // A partial chunk asks for more bytes instead of failing.
//! assert!(decode_response_chunk::<Ping>(&wire[..wire.len() - 1])?.is_none());
//! let (ping, consumed) = decode_response_chunk::<Ping>(&wire)?.expect("complete");
//! assert_eq!((ping.seq_number, consumed), (7, wire.len()));
//! # Ok::<(), valtrack_core::CodecError>(())
//! ```
//!
//! [`MAX_PAYLOAD_SIZE`]: crate::constants::MAX_PAYLOAD_SIZE

mod gossip;
mod ssz_snappy;
mod topic;

pub use gossip::{
    decode_gossip, decompress_gossip, encode_gossip, gossip_len_bound, gossip_message_id,
    gossip_message_id_decompressed, MessageIdFork, MESSAGE_DOMAIN_INVALID_SNAPPY,
    MESSAGE_DOMAIN_VALID_SNAPPY,
};
pub use ssz_snappy::{
    decode_empty_request, decode_optional_response, decode_request, decode_request_chunk,
    decode_response, decode_response_chunk, encode_empty_request, encode_error_response,
    encode_request, encode_response, ResponseCode, VarintError, MAX_VARINT_LEN,
};
pub use topic::{GossipEncoding, GossipKind, GossipTopic, TopicError};

use crate::constants::MAX_PAYLOAD_SIZE;
use crate::ssz::SszError;
use thiserror::Error;

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
        code: ResponseCode,
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
    pub fn response_code(&self) -> Option<ResponseCode> {
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

/// `max_compressed_len(n) = 32 + n + n / 6`: the most bytes snappy may take to compress `n`
/// bytes, and so the most compressed bytes a decoder reads for an `n`-byte payload.
/// Saturates instead of overflowing.
pub const fn max_compressed_len(n: usize) -> usize {
    32usize.saturating_add(n).saturating_add(n / 6)
}

/// `max_message_size()`: the largest gossipsub RPC frame,
/// `max(max_compressed_len(MAX_PAYLOAD_SIZE) + 1024, 1 MiB)` = 12,234,442 bytes.
pub const fn max_message_size() -> usize {
    let size = max_compressed_len(MAX_PAYLOAD_SIZE) + 1024;
    if size > 1024 * 1024 {
        size
    } else {
        1024 * 1024
    }
}

/// Checks a declared or encoded payload length against `MAX_PAYLOAD_SIZE`, then against the
/// type's bounds `min..=max`, before anything is allocated for it.
fn checked_len(
    len: u64,
    type_name: &'static str,
    min: usize,
    max: usize,
) -> Result<usize, CodecError> {
    let too_large = CodecError::PayloadTooLarge {
        len,
        max: MAX_PAYLOAD_SIZE,
    };
    let Ok(n) = usize::try_from(len) else {
        return Err(too_large);
    };
    if n > MAX_PAYLOAD_SIZE {
        return Err(too_large);
    }
    if !(min..=max).contains(&n) {
        return Err(CodecError::LengthOutOfBounds {
            type_name,
            len,
            min,
            max,
        });
    }
    Ok(n)
}

#[cfg(test)]
pub(crate) mod test_util;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn size_limits_match_the_reference() {
        assert_eq!(max_compressed_len(0), 32);
        assert_eq!(max_compressed_len(84), 32 + 84 + 14);
        assert_eq!(max_compressed_len(MAX_PAYLOAD_SIZE), 12_233_418);
        assert_eq!(max_message_size(), 12_234_442);
        assert_eq!(max_compressed_len(usize::MAX), usize::MAX);
    }

    #[test]
    fn allocation_probe_sees_allocations() {
        let (v, largest) = test_util::largest_allocation(|| vec![0u8; 1 << 20]);
        assert_eq!(v.len(), 1 << 20);
        assert!(largest >= 1 << 20, "{largest}");
        let ((), largest) = test_util::largest_allocation(|| ());
        assert_eq!(largest, 0);
    }

    #[test]
    fn max_compressed_len_matches_snap() {
        for n in [0, 1, 5, 6, 7, 84, 65_536, MAX_PAYLOAD_SIZE] {
            assert_eq!(
                max_compressed_len(n),
                snap::raw::max_compress_len(n),
                "n = {n}"
            );
        }
    }
}
