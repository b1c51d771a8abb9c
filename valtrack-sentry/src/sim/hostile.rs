//! Hostile behaviours of simulated nodes, written straight onto the response stream.

use std::io;
use std::time::Duration;

use futures::{AsyncWrite, AsyncWriteExt};
use valtrack_core::constants::MAX_PAYLOAD_SIZE;

use crate::rpc::{Eth2Protocol, RpcRequest, RpcResponse};

/// How a hostile simulated node misbehaves when asked for anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Hostility {
    /// Answers with random bytes.
    Garbage,
    /// Never sends a byte (past any TTFB).
    Stall,
    /// Announces a payload of `MAX_PAYLOAD_SIZE + 1` bytes and streams zeros.
    OversizePrefix,
    /// Announces a valid length, then streams frames that decompress to far more.
    SnappyBomb,
    /// Answers correctly but never closes its streams, and ignores Goodbye.
    NeverClose,
}

impl Hostility {
    /// Every hostility, for tests.
    pub const ALL: [Self; 5] = [
        Self::Garbage,
        Self::Stall,
        Self::OversizePrefix,
        Self::SnappyBomb,
        Self::NeverClose,
    ];

    /// The response a node with this hostility gives instead of `honest`, if any.
    pub(crate) fn response_to(
        &self,
        request: &RpcRequest,
        honest: RpcResponse,
    ) -> Option<RpcResponse> {
        match (self, request) {
            (_, RpcRequest::Goodbye(_)) => None,
            (Self::NeverClose, _) => Some(RpcResponse::Hostile(HostileResponse::NeverClose(
                Box::new(honest),
            ))),
            (h, _) => Some(RpcResponse::Hostile(match h {
                Self::Garbage => HostileResponse::Garbage,
                Self::Stall => HostileResponse::Stall,
                Self::OversizePrefix => HostileResponse::OversizePrefix,
                Self::SnappyBomb => HostileResponse::SnappyBomb,
                Self::NeverClose => unreachable!("handled above"),
            })),
        }
    }
}

/// One hostile response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostileResponse {
    /// Random bytes.
    Garbage,
    /// Nothing, for a long time.
    Stall,
    /// An oversize length prefix.
    OversizePrefix,
    /// A decompression bomb.
    SnappyBomb,
    /// The honest response, then the stream is held open.
    NeverClose(Box<RpcResponse>),
}

/// How long a stalling or never-closing node holds a stream (the requester's timeouts and
/// the host's inbound timeout end it sooner).
const HOLD: Duration = Duration::from_secs(120);

impl HostileResponse {
    pub(crate) async fn write<T: AsyncWrite + Unpin + Send>(
        self,
        protocol: &Eth2Protocol,
        io: &mut T,
    ) -> io::Result<()> {
        match self {
            Self::Garbage => {
                let mut x = 0x2545_f491_4f6c_dd1du64;
                let bytes: Vec<u8> = (0..200)
                    .map(|_| {
                        x ^= x << 13;
                        x ^= x >> 7;
                        x ^= x << 17;
                        x as u8
                    })
                    .collect();
                io.write_all(&bytes).await
            }
            Self::Stall => {
                tokio::time::sleep(HOLD).await;
                Ok(())
            }
            Self::OversizePrefix => {
                let mut bytes = vec![0u8];
                let mut n = (MAX_PAYLOAD_SIZE + 1) as u64;
                while n >= 0x80 {
                    bytes.push((n as u8) | 0x80);
                    n >>= 7;
                }
                bytes.push(n as u8);
                bytes.extend_from_slice(&[0xff, 0x06, 0, 0, b's', b'N', b'a', b'P', b'p', b'Y']);
                io.write_all(&bytes).await?;
                let zeros = vec![0u8; 64 * 1024];
                for _ in 0..64 {
                    io.write_all(&zeros).await?;
                }
                Ok(())
            }
            Self::SnappyBomb => {
                // A valid-looking prefix for the type, then frames of 64 KiB of zeros each
                // (a few bytes compressed).
                let mut framed = snap::write::FrameEncoder::new(Vec::new());
                let zeros = vec![0u8; 64 * 1024];
                for _ in 0..256 {
                    std::io::Write::write_all(&mut framed, &zeros)?;
                }
                let frames = framed
                    .into_inner()
                    .map_err(|e| io::Error::other(e.to_string()))?;
                let len: u8 = match protocol {
                    Eth2Protocol::StatusV1 => 84,
                    Eth2Protocol::StatusV2 => 92,
                    Eth2Protocol::MetaDataV3 => 25,
                    Eth2Protocol::MetaDataV2 => 17,
                    Eth2Protocol::MetaDataV1 => 16,
                    Eth2Protocol::Ping | Eth2Protocol::Goodbye => 8,
                };
                io.write_all(&[0, len]).await?;
                io.write_all(&frames).await
            }
            Self::NeverClose(honest) => {
                let bytes = crate::rpc::encode_response_bytes(*protocol, *honest)?;
                io.write_all(&bytes).await?;
                io.flush().await?;
                tokio::time::sleep(HOLD).await;
                Ok(())
            }
        }
    }
}
