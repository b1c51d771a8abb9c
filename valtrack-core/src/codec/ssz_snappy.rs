//! The req/resp `ssz_snappy` encoding, with *framed* snappy:
//!
//! ```text
//! request        = uvarint(len(ssz)) ‖ snappy_frames(ssz)
//! response_chunk = result:u8 ‖ uvarint(len(ssz)) ‖ snappy_frames(ssz)
//! ```
//!
//! Context bytes (the fork digest that block, sidecar and light-client responses carry after
//! the result byte) are not handled here: Status, MetaData, Ping and Goodbye have none.
//!
//! Decoding follows Lighthouse's `ssz_snappy` codec: the varint is checked against the type's
//! bounds and `MAX_PAYLOAD_SIZE` first, then a `snap` `FrameDecoder` reads from a cursor over
//! at most `max_compressed_len(len)` bytes of input, and the bytes consumed are the cursor's
//! position. Unlike Lighthouse, the output buffer grows with the data actually decompressed
//! (a few bytes claiming a 10 MiB payload do not make us allocate 10 MiB), and a last chunk that
//! holds more than the declared length is rejected instead of silently cut.

use std::fmt;
use std::io::{self, Cursor, Read, Write};

use snap::read::FrameDecoder;
use snap::write::FrameEncoder;

use thiserror::Error;

use super::{checked_len, max_compressed_len, CodecError};
use crate::ssz::{ErrorMessage, SszMessage};

/// The longest valid length prefix: a `u64` needs at most ten 7-bit groups.
pub const MAX_VARINT_LEN: usize = 10;

/// The snappy framing format's stream identifier chunk (`ff 06 00 00 "sNaPpY"`).
const STREAM_IDENTIFIER: [u8; 10] = *b"\xff\x06\x00\x00sNaPpY";

/// The first step by which a decompression buffer grows (one snappy chunk); later steps
/// double, and the buffer never grows past the declared length.
const FIRST_READ_STEP: usize = 64 * 1024;

/// The result byte that starts every response chunk.
///
/// Build one from the wire byte with [`ResponseCode::from_u8`] (or `From<u8>`), which puts
/// every byte in the right variant; [`ResponseCode::as_u8`] gives the byte back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ResponseCode {
    /// `0`: the payload is the requested type.
    Success,
    /// `1`: the request was malformed; the payload is an `ErrorMessage`.
    InvalidRequest,
    /// `2`: the responder failed; the payload is an `ErrorMessage`.
    ServerError,
    /// `3`: the responder lacks the data (for example, pruned blocks).
    ResourceUnavailable,
    /// `4..=127`: reserved by the spec; treated as an error.
    Reserved(u8),
    /// `128..=255`: client-specific errors.
    ClientSpecific(u8),
}

impl ResponseCode {
    /// Classifies a result byte.
    pub const fn from_u8(byte: u8) -> Self {
        match byte {
            0 => Self::Success,
            1 => Self::InvalidRequest,
            2 => Self::ServerError,
            3 => Self::ResourceUnavailable,
            4..=127 => Self::Reserved(byte),
            _ => Self::ClientSpecific(byte),
        }
    }

    /// The result byte.
    pub const fn as_u8(self) -> u8 {
        match self {
            Self::Success => 0,
            Self::InvalidRequest => 1,
            Self::ServerError => 2,
            Self::ResourceUnavailable => 3,
            Self::Reserved(byte) | Self::ClientSpecific(byte) => byte,
        }
    }

    /// Whether this is `Success` (every other code carries an `ErrorMessage`).
    pub const fn is_success(self) -> bool {
        matches!(self, Self::Success)
    }
}

impl From<u8> for ResponseCode {
    fn from(byte: u8) -> Self {
        Self::from_u8(byte)
    }
}

impl From<ResponseCode> for u8 {
    fn from(code: ResponseCode) -> Self {
        code.as_u8()
    }
}

impl fmt::Display for ResponseCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            Self::Success => "Success",
            Self::InvalidRequest => "InvalidRequest",
            Self::ServerError => "ServerError",
            Self::ResourceUnavailable => "ResourceUnavailable",
            Self::Reserved(_) => "Reserved",
            Self::ClientSpecific(_) => "ClientSpecific",
        };
        write!(f, "{name} ({})", self.as_u8())
    }
}

/// Encodes a request: `uvarint(len) ‖ snappy_frames(ssz)`.
///
/// Fails only if the value's encoding is outside its type's bounds or `MAX_PAYLOAD_SIZE`.
pub fn encode_request<T: SszMessage>(value: &T) -> Result<Vec<u8>, CodecError> {
    encode_message(value, Vec::new())
}

/// Encodes a success response chunk: `00 ‖ uvarint(len) ‖ snappy_frames(ssz)`.
///
/// Fails only if the value's encoding is outside its type's bounds or `MAX_PAYLOAD_SIZE`.
pub fn encode_response<T: SszMessage>(value: &T) -> Result<Vec<u8>, CodecError> {
    encode_message(value, vec![ResponseCode::Success.as_u8()])
}

/// Appends `uvarint(len) ‖ snappy_frames(ssz)` of `value` to `out`.
fn encode_message<T: SszMessage>(value: &T, mut out: Vec<u8>) -> Result<Vec<u8>, CodecError> {
    let ssz = value.to_ssz_bytes();
    encode_payload(&ssz, T::TYPE_NAME, T::SSZ_MIN_LEN, T::SSZ_MAX_LEN, &mut out)?;
    Ok(out)
}

/// Encodes an error response chunk: `code ‖ uvarint(len) ‖ snappy_frames(ErrorMessage)`.
///
/// Fails with [`CodecError::SuccessCodeForError`] when `code` is `Success`.
pub fn encode_error_response(
    code: ResponseCode,
    message: &ErrorMessage,
) -> Result<Vec<u8>, CodecError> {
    if code.is_success() {
        return Err(CodecError::SuccessCodeForError);
    }
    let mut out = vec![code.as_u8()];
    encode_payload(
        &message.to_ssz_bytes(),
        ErrorMessage::TYPE_NAME,
        ErrorMessage::SSZ_MIN_LEN,
        ErrorMessage::SSZ_MAX_LEN,
        &mut out,
    )?;
    Ok(out)
}

/// The body of a request without payload, such as GetMetaData (`metadata/1`, `/2`, `/3`):
/// nothing at all, not even a length prefix. Write it (that is, nothing) and half-close the
/// stream.
pub fn encode_empty_request() -> Vec<u8> {
    Vec::new()
}

/// Checks the body of a request without payload (GetMetaData): it must be empty.
pub fn decode_empty_request(bytes: &[u8]) -> Result<(), CodecError> {
    if bytes.is_empty() {
        Ok(())
    } else {
        Err(CodecError::TrailingBytes { count: bytes.len() })
    }
}

/// Decodes a request from the front of a buffer that may not hold all of it yet.
///
/// Returns `Ok(None)` when more bytes are needed (partial varint or partial frame), and
/// `Ok(Some((value, consumed)))` once the request is complete, where `consumed` counts the
/// bytes it took from the front of `src`. `consumed` never exceeds the varint's length plus
/// `max_compressed_len(len)`; once that many bytes are buffered without completing the request
/// the result is [`CodecError::CompressedTooLarge`].
///
/// A payload declared as zero bytes long may or may not be followed by a snappy stream
/// identifier; this returns `Ok(None)` while that cannot be told. Use [`decode_request`] at the
/// end of the stream.
pub fn decode_request_chunk<T: SszMessage>(src: &[u8]) -> Result<Option<(T, usize)>, CodecError> {
    decode_payload(src, Input::Partial)
}

/// Decodes one response chunk from the front of a buffer that may not hold all of it yet.
///
/// As [`decode_request_chunk`], with the result byte in front (counted in `consumed`). An
/// error chunk (non-zero result code) decodes, once complete, to
/// [`CodecError::ErrorResponse`]. Call it again on the rest of the buffer for the next chunk.
pub fn decode_response_chunk<T: SszMessage>(src: &[u8]) -> Result<Option<(T, usize)>, CodecError> {
    decode_response_payload(src, Input::Partial)
}

/// Decodes a whole request stream: exactly one request, then the end of the stream.
///
/// Early end of input is [`CodecError::UnexpectedEof`]; bytes after the request are
/// [`CodecError::TrailingBytes`].
pub fn decode_request<T: SszMessage>(bytes: &[u8]) -> Result<T, CodecError> {
    exactly(bytes, decode_payload(bytes, Input::Complete)?)
}

/// Decodes a whole response stream holding exactly one chunk (Status, Ping, MetaData).
///
/// An empty stream is [`CodecError::UnexpectedEof`]; an error chunk is
/// [`CodecError::ErrorResponse`]; bytes after the chunk are [`CodecError::TrailingBytes`].
pub fn decode_response<T: SszMessage>(bytes: &[u8]) -> Result<T, CodecError> {
    exactly(bytes, decode_response_payload(bytes, Input::Complete)?)
}

/// Decodes a whole response stream holding zero or one chunk: `Ok(None)` when the stream is
/// empty.
///
/// This is for Goodbye, which the spec answers with one chunk but peers often answer by just
/// closing the stream (Lodestar does either; Lighthouse expects nothing).
pub fn decode_optional_response<T: SszMessage>(bytes: &[u8]) -> Result<Option<T>, CodecError> {
    if bytes.is_empty() {
        return Ok(None);
    }
    decode_response(bytes).map(Some)
}

/// Whether more bytes may follow the buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Input {
    /// More bytes may arrive: an incomplete message is `Ok(None)`.
    Partial,
    /// The stream has ended: an incomplete message is an error.
    Complete,
}

fn incomplete<T>(input: Input) -> Result<Option<T>, CodecError> {
    match input {
        Input::Partial => Ok(None),
        Input::Complete => Err(CodecError::UnexpectedEof),
    }
}

/// A complete decode of a whole stream must have used every byte.
fn exactly<T>(bytes: &[u8], decoded: Option<(T, usize)>) -> Result<T, CodecError> {
    match decoded {
        Some((value, consumed)) if consumed >= bytes.len() => Ok(value),
        Some((_, consumed)) => Err(CodecError::TrailingBytes {
            count: bytes.len() - consumed,
        }),
        None => Err(CodecError::UnexpectedEof),
    }
}

fn decode_response_payload<T: SszMessage>(
    src: &[u8],
    input: Input,
) -> Result<Option<(T, usize)>, CodecError> {
    let Some((&code, payload)) = src.split_first() else {
        return incomplete(input);
    };
    let code = ResponseCode::from_u8(code);
    if code.is_success() {
        return Ok(decode_payload::<T>(payload, input)?.map(|(value, n)| (value, n + 1)));
    }
    match decode_payload::<ErrorMessage>(payload, input)? {
        None => Ok(None),
        Some((message, _)) => Err(CodecError::ErrorResponse {
            code,
            message: message.text(),
        }),
    }
}

/// Decodes `uvarint(len) ‖ snappy_frames(ssz)` from the front of `src`.
fn decode_payload<T: SszMessage>(
    src: &[u8],
    input: Input,
) -> Result<Option<(T, usize)>, CodecError> {
    let Some((declared, prefix_len)) = read_uvarint(src).map_err(CodecError::InvalidVarint)? else {
        return incomplete(input);
    };
    let len = checked_len(declared, T::TYPE_NAME, T::SSZ_MIN_LEN, T::SSZ_MAX_LEN)?;
    let Some((ssz, frames_len)) = decompress_frames(&src[prefix_len..], len, input)? else {
        return Ok(None);
    };
    let value = T::from_ssz_bytes(&ssz)?;
    Ok(Some((value, prefix_len + frames_len)))
}

/// Reads exactly `len` bytes from framed snappy at the front of `frames`, reading at most
/// `max_compressed_len(len)` bytes of it. Returns the payload and the bytes of `frames` used.
fn decompress_frames(
    frames: &[u8],
    len: usize,
    input: Input,
) -> Result<Option<(Vec<u8>, usize)>, CodecError> {
    if len == 0 {
        return empty_frames(frames, input);
    }
    let limit = max_compressed_len(len);
    let bounded = &frames[..frames.len().min(limit)];
    let mut decoder = FrameDecoder::new(Cursor::new(bounded));
    match read_exactly(&mut decoder, len) {
        Ok(payload) => {
            let position = decoder.get_ref().position();
            let consumed =
                usize::try_from(position).map_or(bounded.len(), |p| p.min(bounded.len()));
            // The decoder hands out whole chunks. With its input moved to the end, any byte it
            // still yields came from the last chunk read: more than the declared length.
            decoder.get_mut().set_position(bounded.len() as u64);
            let mut probe = [0u8; 1];
            if decoder.read(&mut probe).map_err(snappy_error)? != 0 {
                return Err(CodecError::DecompressedTooLong { declared: len });
            }
            Ok(Some((payload, consumed)))
        }
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
            if frames.len() >= limit {
                Err(CodecError::CompressedTooLarge { len, max: limit })
            } else {
                incomplete(input)
            }
        }
        Err(e) => Err(snappy_error(e)),
    }
}

/// An empty payload is encoded as no frames at all (what `snap` writes) or as just the stream
/// identifier; what follows belongs to the next message.
fn empty_frames(frames: &[u8], input: Input) -> Result<Option<(Vec<u8>, usize)>, CodecError> {
    if frames.starts_with(&STREAM_IDENTIFIER) {
        return Ok(Some((Vec::new(), STREAM_IDENTIFIER.len())));
    }
    if !STREAM_IDENTIFIER.starts_with(frames) {
        return Ok(Some((Vec::new(), 0)));
    }
    // `frames` is empty or a strict prefix of the identifier.
    match input {
        Input::Partial => Ok(None),
        Input::Complete if frames.is_empty() => Ok(Some((Vec::new(), 0))),
        Input::Complete => Err(CodecError::UnexpectedEof),
    }
}

/// `read_exact` of `len` bytes into a buffer that grows step by step (64 KiB, then doubling),
/// so a short input claiming a large length costs memory in proportion to what it really
/// decompresses to.
fn read_exactly(reader: &mut impl Read, len: usize) -> io::Result<Vec<u8>> {
    let mut out = Vec::new();
    let mut step = FIRST_READ_STEP;
    while out.len() < len {
        let start = out.len();
        let end = start + step.min(len - start);
        out.reserve_exact(end - start);
        out.resize(end, 0);
        reader.read_exact(&mut out[start..end])?;
        step = step.saturating_mul(2);
    }
    Ok(out)
}

/// Unwraps the `snap::Error` that `FrameDecoder` boxes into an `io::Error`.
fn snappy_error(e: io::Error) -> CodecError {
    let kind = e.kind();
    match e.into_inner() {
        Some(inner) => match inner.downcast::<snap::Error>() {
            Ok(snap) => CodecError::Snappy(*snap),
            Err(other) => CodecError::Io(io::Error::new(kind, other)),
        },
        None => CodecError::Io(io::Error::from(kind)),
    }
}

/// `uvarint(len) ‖ snappy_frames(ssz)`, appended to `out`.
fn encode_payload(
    ssz: &[u8],
    type_name: &'static str,
    min: usize,
    max: usize,
    out: &mut Vec<u8>,
) -> Result<(), CodecError> {
    let len = u64::try_from(ssz.len()).unwrap_or(u64::MAX);
    checked_len(len, type_name, min, max)?;
    write_uvarint(len, out);
    let mut encoder = FrameEncoder::new(out);
    encoder.write_all(ssz).map_err(CodecError::Io)?;
    encoder.flush().map_err(CodecError::Io)
}

/// Appends the protobuf varint of `n`.
fn write_uvarint(mut n: u64, out: &mut Vec<u8>) {
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
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

/// Reads a protobuf unsigned varint from the front of `src`: `Ok(None)` if `src` ends inside
/// it, otherwise the value and its length in bytes. Rejects varints longer than ten bytes,
/// beyond `u64` or not minimally encoded.
fn read_uvarint(src: &[u8]) -> Result<Option<(u64, usize)>, VarintError> {
    let mut value = 0u64;
    for (i, &byte) in src.iter().take(MAX_VARINT_LEN).enumerate() {
        let more = byte & 0x80 != 0;
        if i == MAX_VARINT_LEN - 1 {
            if more {
                return Err(VarintError::TooLong);
            }
            if byte > 1 {
                return Err(VarintError::Overflow);
            }
        }
        value |= u64::from(byte & 0x7f) << (7 * i);
        if !more {
            if byte == 0 && i > 0 {
                return Err(VarintError::NotMinimal);
            }
            return Ok(Some((value, i + 1)));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests;
