//! The `ssz_snappy` request/response codec for rust-libp2p's `request_response`, on top of
//! valtrack-core's bounded decoders.
//!
//! Reads are incremental: a response is decoded as soon as its chunk is complete, without
//! waiting for the peer to close the stream, and every read is bounded in bytes (the core
//! decoder rejects a prefix or frames beyond the type's bounds) and in time (TTFB and RESP
//! timeouts).

use std::collections::VecDeque;
use std::io;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use libp2p::request_response;
use valtrack_core::codec::{
    decode_request_chunk, decode_response_chunk, encode_error_response, encode_request,
    encode_response, max_compressed_len, ResponseCode, MAX_VARINT_LEN,
};
use valtrack_core::ssz::{
    ErrorMessage, Goodbye, MetaDataV1, MetaDataV2, MetaDataV3, Ping, StatusV1, StatusV2,
};
use valtrack_core::{CodecError, MetaData, SszMessage, Status};

use super::protocol::Eth2Protocol;

/// How many raw responses a capturing codec keeps (oldest dropped first).
pub const CAPTURE_CAPACITY: usize = 64;

/// A request we send or answer.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RpcRequest {
    /// Status (encoded as V1 or V2 per the negotiated protocol).
    Status(Status),
    /// GetMetaData (empty body).
    MetaData,
    /// Ping with our metadata seq number.
    Ping(Ping),
    /// Goodbye with a reason.
    Goodbye(Goodbye),
}

/// A response we receive or send.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RpcResponse {
    /// Status.
    Status(Status),
    /// MetaData of the negotiated version.
    MetaData(MetaData),
    /// Pong.
    Ping(Ping),
    /// Goodbye needs no answer: we never wait for one and never send one.
    GoodbyeAck,
    /// An error chunk (responders only).
    Error {
        /// Result code (not Success).
        code: ResponseCode,
        /// Message.
        message: String,
    },
    /// Bytes written to the stream as they are, past the codec (responders only): what a
    /// custom [`Responder`](crate::host::Responder) answers that no honest encoder would.
    Raw(RawResponse),
}

impl RpcResponse {
    /// The bytes of this response on `protocol`, as the host writes them: the `ssz_snappy`
    /// encoding of an honest response (an error for a response that does not belong on
    /// `protocol`), or all of a raw response's chunks.
    pub fn to_bytes(&self, protocol: Eth2Protocol) -> io::Result<Vec<u8>> {
        match self {
            Self::Raw(raw) => {
                let mut bytes = Vec::new();
                for chunk in raw.chunks_for(protocol) {
                    bytes.extend_from_slice(&chunk?);
                }
                Ok(bytes)
            }
            honest => encode_response_bytes(protocol, honest.clone()),
        }
    }
}

/// The chunks of one raw response, written in order.
pub type RawChunks = Box<dyn Iterator<Item = io::Result<Vec<u8>>> + Send>;

/// The chunks of one raw response, given the protocol it answers on.
type RawBytes = dyn Fn(Eth2Protocol) -> RawChunks + Send + Sync;

/// A response written as raw bytes, optionally holding the stream open afterwards: the way
/// a custom peer (a simulated hostile node, a fuzzer) answers with what no honest encoder
/// produces — garbage, oversize length prefixes, decompression bombs, stalls. The bytes
/// come as chunks made while writing, so a long stream need not be held in memory.
///
/// ```
/// use std::time::Duration;
/// use valtrack_sentry::rpc::{Eth2Protocol, RawResponse, RpcResponse};
///
/// // Never answers: nothing written, the stream held for two minutes.
/// let stall = RpcResponse::Raw(RawResponse::bytes(Vec::new()).hold_open(Duration::from_secs(120)));
/// assert!(stall.to_bytes(Eth2Protocol::Ping)?.is_empty());
/// // A success code, then 1 MiB of zeros, 64 KiB at a time.
/// let flood = RawResponse::chunks(|_| {
///     std::iter::once(Ok(vec![0])).chain(std::iter::repeat_with(|| Ok(vec![0; 1 << 16])).take(16))
/// });
/// assert_eq!(RpcResponse::Raw(flood).to_bytes(Eth2Protocol::Ping)?.len(), 1 + (1 << 20));
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone)]
pub struct RawResponse {
    chunks: Arc<RawBytes>,
    hold: Duration,
}

impl RawResponse {
    /// Writes `bytes(protocol)`, the protocol being the one the request came on.
    pub fn new(
        bytes: impl Fn(Eth2Protocol) -> io::Result<Vec<u8>> + Send + Sync + 'static,
    ) -> Self {
        Self::chunks(move |protocol| std::iter::once(bytes(protocol)))
    }

    /// Writes the chunks `chunks(protocol)` yields, in order, each as it is made; an error
    /// ends the response (and the stream).
    pub fn chunks<I>(chunks: impl Fn(Eth2Protocol) -> I + Send + Sync + 'static) -> Self
    where
        I: Iterator<Item = io::Result<Vec<u8>>> + Send + 'static,
    {
        Self {
            chunks: Arc::new(move |protocol| Box::new(chunks(protocol)) as RawChunks),
            hold: Duration::ZERO,
        }
    }

    /// Writes these bytes, whatever the protocol.
    pub fn bytes(bytes: Vec<u8>) -> Self {
        Self::new(move |_| Ok(bytes.clone()))
    }

    /// After writing, keeps the stream open this long instead of closing it (the requester's
    /// timeouts and the host's inbound timeout end it sooner). Default: zero.
    pub fn hold_open(mut self, hold: Duration) -> Self {
        self.hold = hold;
        self
    }

    /// How long the stream is held open after the bytes.
    pub fn hold(&self) -> Duration {
        self.hold
    }

    /// The chunks to write on `protocol`.
    pub fn chunks_for(&self, protocol: Eth2Protocol) -> RawChunks {
        (self.chunks)(protocol)
    }
}

impl std::fmt::Debug for RawResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawResponse")
            .field("hold", &self.hold)
            .finish_non_exhaustive()
    }
}

/// Equal when they are the same response (clones of one `RawResponse`).
impl PartialEq for RawResponse {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.chunks, &other.chunks) && self.hold == other.hold
    }
}

impl Eq for RawResponse {}

/// Timeouts of one request, as the requester sees them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RpcTimeouts {
    /// Time to the first byte of the response. Default: [`DEFAULT_TTFB_TIMEOUT`].
    pub ttfb: Duration,
    /// Time to the whole response. Default: [`DEFAULT_RESP_TIMEOUT`].
    pub resp: Duration,
}

/// How long we wait for a peer's end of a Goodbye stream (it owes us nothing).
pub const GOODBYE_LINGER: Duration = Duration::from_millis(500);
/// Default time to first byte (what Prysm and Lighthouse use).
pub const DEFAULT_TTFB_TIMEOUT: Duration = Duration::from_secs(5);
/// Default time to the whole response.
pub const DEFAULT_RESP_TIMEOUT: Duration = Duration::from_secs(10);

impl Default for RpcTimeouts {
    fn default() -> Self {
        Self {
            ttfb: DEFAULT_TTFB_TIMEOUT,
            resp: DEFAULT_RESP_TIMEOUT,
        }
    }
}

/// Which stage of a read timed out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RpcTimeout {
    /// No byte within TTFB.
    #[error("no response byte within {0:?} (TTFB)")]
    Ttfb(Duration),
    /// The response did not complete within RESP.
    #[error("response incomplete after {0:?} (RESP)")]
    Resp(Duration),
}

/// Shared, bounded store of raw response bytes, for capturing real clients' bytes.
pub type CaptureBuffer = Arc<Mutex<VecDeque<(String, Vec<u8>)>>>;

/// The eth2 `ssz_snappy` codec. One instance serves one protocol family (status, metadata,
/// ping or goodbye): rust-libp2p offers every protocol of a behaviour for each request.
#[derive(Debug, Clone, Default)]
pub struct Eth2Codec {
    timeouts: RpcTimeouts,
    capture: Option<CaptureBuffer>,
}

impl Eth2Codec {
    /// A codec with these timeouts.
    pub fn new(timeouts: RpcTimeouts) -> Self {
        Self {
            timeouts,
            capture: None,
        }
    }

    /// Keeps the raw bytes of every response read (the last [`CAPTURE_CAPACITY`]).
    pub fn with_capture(mut self, buffer: CaptureBuffer) -> Self {
        self.capture = Some(buffer);
        self
    }
}

fn invalid(e: CodecError) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e)
}

/// Upper bound on the bytes of one chunk of `T`: result byte, varint, and at most
/// `max_compressed_len` of frames (the core decoder enforces the exact bound; this only caps
/// the buffer).
fn chunk_bound<T: SszMessage>() -> usize {
    1 + MAX_VARINT_LEN + max_compressed_len(T::SSZ_MAX_LEN) + 64
}

/// Reads until `decode` returns a value, bounded by `max` bytes.
async fn read_incremental<R, T, F>(
    io: &mut R,
    max: usize,
    mut decode: F,
) -> io::Result<(T, Vec<u8>)>
where
    R: AsyncRead + Unpin + Send,
    F: FnMut(&[u8]) -> Result<Option<(T, usize)>, CodecError>,
{
    let mut buf = Vec::with_capacity(128);
    let mut chunk = [0u8; 1024];
    loop {
        let n = io.read(&mut chunk).await?;
        if n == 0 {
            // Let the decoder say whether this is an early EOF or a complete message.
            return match decode(&buf).map_err(invalid)? {
                Some((v, used)) => Ok((v, buf[..used].to_vec())),
                None => Err(invalid(CodecError::UnexpectedEof)),
            };
        }
        if buf.len() + n > max {
            return Err(invalid(CodecError::CompressedTooLarge {
                len: buf.len() + n,
                max,
            }));
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some((v, used)) = decode(&buf).map_err(invalid)? {
            buf.truncate(used);
            return Ok((v, buf));
        }
    }
}

/// Reads one response chunk of `T` with TTFB and RESP timeouts.
async fn read_response_chunk<R, T>(io: &mut R, t: RpcTimeouts) -> io::Result<(T, Vec<u8>)>
where
    R: AsyncRead + Unpin + Send,
    T: SszMessage + Send,
{
    let read = async {
        // TTFB: the first byte must come in time.
        let mut first = [0u8; 1];
        let n = tokio::time::timeout(t.ttfb, io.read(&mut first))
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, RpcTimeout::Ttfb(t.ttfb)))??;
        if n == 0 {
            return Err(invalid(CodecError::UnexpectedEof));
        }
        let mut chained = (&first[..]).chain(&mut *io);
        read_incremental(&mut chained, chunk_bound::<T>(), decode_response_chunk::<T>).await
    };
    tokio::time::timeout(t.resp, read)
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, RpcTimeout::Resp(t.resp)))?
}

async fn read_request_chunk<R, T>(io: &mut R) -> io::Result<T>
where
    R: AsyncRead + Unpin + Send,
    T: SszMessage + Send,
{
    let bound = MAX_VARINT_LEN + max_compressed_len(T::SSZ_MAX_LEN) + 64;
    read_incremental(io, bound, decode_request_chunk::<T>)
        .await
        .map(|(v, _)| v)
}

impl Eth2Codec {
    fn record(&self, protocol: Eth2Protocol, raw: Vec<u8>) {
        if let Some(capture) = &self.capture {
            let mut c = capture.lock().unwrap_or_else(|p| p.into_inner());
            if c.len() == CAPTURE_CAPACITY {
                c.pop_front();
            }
            c.push_back((protocol.id().to_owned(), raw));
        }
    }
}

impl request_response::Codec for Eth2Codec {
    type Protocol = Eth2Protocol;
    type Request = RpcRequest;
    type Response = RpcResponse;

    async fn read_request<T>(
        &mut self,
        protocol: &Eth2Protocol,
        io: &mut T,
    ) -> io::Result<RpcRequest>
    where
        T: AsyncRead + Unpin + Send,
    {
        Ok(match protocol {
            Eth2Protocol::StatusV1 => RpcRequest::Status(Status::V1(read_request_chunk(io).await?)),
            Eth2Protocol::StatusV2 => RpcRequest::Status(Status::V2(read_request_chunk(io).await?)),
            Eth2Protocol::MetaDataV1 | Eth2Protocol::MetaDataV2 | Eth2Protocol::MetaDataV3 => {
                // The body is empty: anything before EOF is a violation. Read at most one byte.
                let mut one = [0u8; 1];
                if io.read(&mut one).await? != 0 {
                    return Err(invalid(CodecError::TrailingBytes { count: 1 }));
                }
                RpcRequest::MetaData
            }
            Eth2Protocol::Ping => RpcRequest::Ping(read_request_chunk(io).await?),
            Eth2Protocol::Goodbye => RpcRequest::Goodbye(read_request_chunk(io).await?),
        })
    }

    async fn read_response<T>(
        &mut self,
        protocol: &Eth2Protocol,
        io: &mut T,
    ) -> io::Result<RpcResponse>
    where
        T: AsyncRead + Unpin + Send,
    {
        let t = self.timeouts;
        let (response, raw) = match protocol {
            Eth2Protocol::StatusV1 => {
                let (v, raw) = read_response_chunk::<_, StatusV1>(io, t).await?;
                (RpcResponse::Status(Status::V1(v)), raw)
            }
            Eth2Protocol::StatusV2 => {
                let (v, raw) = read_response_chunk::<_, StatusV2>(io, t).await?;
                (RpcResponse::Status(Status::V2(v)), raw)
            }
            Eth2Protocol::MetaDataV1 => {
                let (v, raw) = read_response_chunk::<_, MetaDataV1>(io, t).await?;
                (RpcResponse::MetaData(MetaData::V1(v)), raw)
            }
            Eth2Protocol::MetaDataV2 => {
                let (v, raw) = read_response_chunk::<_, MetaDataV2>(io, t).await?;
                (RpcResponse::MetaData(MetaData::V2(v)), raw)
            }
            Eth2Protocol::MetaDataV3 => {
                let (v, raw) = read_response_chunk::<_, MetaDataV3>(io, t).await?;
                (RpcResponse::MetaData(MetaData::V3(v)), raw)
            }
            Eth2Protocol::Ping => {
                let (v, raw) = read_response_chunk::<_, Ping>(io, t).await?;
                (RpcResponse::Ping(v), raw)
            }
            // Peers answer Goodbye with one chunk, nothing, or a hang-up. Wait only briefly
            // for their end of the stream, so they have read our Goodbye before we hang up,
            // and accept whatever comes.
            Eth2Protocol::Goodbye => {
                let mut sink = [0u8; 64];
                let drain = async {
                    while io.read(&mut sink).await? != 0 {}
                    Ok::<_, io::Error>(())
                };
                let _ = tokio::time::timeout(GOODBYE_LINGER, drain).await;
                return Ok(RpcResponse::GoodbyeAck);
            }
        };
        self.record(*protocol, raw);
        Ok(response)
    }

    async fn write_request<T>(
        &mut self,
        protocol: &Eth2Protocol,
        io: &mut T,
        request: RpcRequest,
    ) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        let bytes = match (protocol, &request) {
            (Eth2Protocol::StatusV1, RpcRequest::Status(s)) => encode_request(&s.to_v1()),
            (Eth2Protocol::StatusV2, RpcRequest::Status(s)) => encode_request(&s.to_v2()),
            (
                Eth2Protocol::MetaDataV1 | Eth2Protocol::MetaDataV2 | Eth2Protocol::MetaDataV3,
                RpcRequest::MetaData,
            ) => Ok(Vec::new()),
            (Eth2Protocol::Ping, RpcRequest::Ping(p)) => encode_request(p),
            (Eth2Protocol::Goodbye, RpcRequest::Goodbye(g)) => encode_request(g),
            _ => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("request {request:?} sent on {protocol}"),
                ))
            }
        }
        .map_err(invalid)?;
        io.write_all(&bytes).await
    }

    async fn write_response<T>(
        &mut self,
        protocol: &Eth2Protocol,
        io: &mut T,
        response: RpcResponse,
    ) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        let RpcResponse::Raw(raw) = response else {
            let bytes = response.to_bytes(*protocol)?;
            return io.write_all(&bytes).await;
        };
        for chunk in raw.chunks_for(*protocol) {
            io.write_all(&chunk?).await?;
        }
        if !raw.hold.is_zero() {
            io.flush().await?;
            tokio::time::sleep(raw.hold).await;
        }
        Ok(())
    }
}

/// The bytes of an honest response on `protocol`.
fn encode_response_bytes(protocol: Eth2Protocol, response: RpcResponse) -> io::Result<Vec<u8>> {
    match (protocol, response) {
        (Eth2Protocol::StatusV1, RpcResponse::Status(s)) => encode_response(&s.to_v1()),
        (Eth2Protocol::StatusV2, RpcResponse::Status(s)) => encode_response(&s.to_v2()),
        (Eth2Protocol::MetaDataV1, RpcResponse::MetaData(m)) => {
            encode_response(&MetaDataV1::new(m.seq_number(), m.attnets()))
        }
        (Eth2Protocol::MetaDataV2, RpcResponse::MetaData(m)) => encode_response(&MetaDataV2::new(
            m.seq_number(),
            m.attnets(),
            m.syncnets().unwrap_or_default(),
        )),
        (Eth2Protocol::MetaDataV3, RpcResponse::MetaData(m)) => encode_response(&MetaDataV3::new(
            m.seq_number(),
            m.attnets(),
            m.syncnets().unwrap_or_default(),
            m.custody_group_count()
                .unwrap_or(valtrack_core::constants::CUSTODY_REQUIREMENT),
        )),
        (Eth2Protocol::Ping, RpcResponse::Ping(p)) => encode_response(&p),
        (_, RpcResponse::GoodbyeAck) => Ok(Vec::new()),
        (_, RpcResponse::Error { code, message }) => {
            encode_error_response(code, &ErrorMessage::from_text(&message))
        }
        (protocol, response) => {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("response {response:?} on {protocol}"),
            ))
        }
    }
    .map_err(invalid)
}

#[cfg(test)]
mod tests;
