//! Hostile behaviours of simulated nodes: a [`Responder`] answering with raw bytes.

use std::io;
use std::time::Duration;

use libp2p::PeerId;
use valtrack_core::constants::MAX_PAYLOAD_SIZE;
use valtrack_sentry::host::Responder;
use valtrack_sentry::rpc::{Eth2Protocol, RawResponse, RpcRequest, RpcResponse};

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
}

/// How long a stalling or never-closing node holds a stream (the requester's timeouts and
/// the host's inbound timeout end it sooner).
const HOLD: Duration = Duration::from_secs(120);

/// A hostile node answers every request but Goodbye its own way, through the host's public
/// extension point ([`Responder`]) with raw bytes ([`RawResponse`]).
impl Responder for Hostility {
    fn respond(&self, _peer: &PeerId, request: &RpcRequest, honest: RpcResponse) -> RpcResponse {
        if matches!(request, RpcRequest::Goodbye(_)) {
            return honest;
        }
        RpcResponse::Raw(match self {
            Self::Garbage => RawResponse::bytes(garbage()),
            Self::Stall => RawResponse::bytes(Vec::new()).hold_open(HOLD),
            Self::OversizePrefix => RawResponse::chunks(|_| {
                // 4 MiB of zeros after the prefix, 64 KiB at a time (never held whole)
                std::iter::once(Ok(oversize_prefix()))
                    .chain(std::iter::repeat_with(|| Ok(vec![0u8; 64 * 1024])).take(64))
            }),
            Self::SnappyBomb => RawResponse::new(snappy_bomb),
            Self::NeverClose => {
                RawResponse::new(move |protocol| honest.to_bytes(protocol)).hold_open(HOLD)
            }
        })
    }
}

/// 200 pseudo-random bytes (xorshift).
fn garbage() -> Vec<u8> {
    let mut x = 0x2545_f491_4f6c_dd1du64;
    (0..200)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// A success code, a length prefix of `MAX_PAYLOAD_SIZE + 1` and a snappy stream header.
fn oversize_prefix() -> Vec<u8> {
    let mut bytes = vec![0u8];
    let mut n = (MAX_PAYLOAD_SIZE + 1) as u64;
    while n >= 0x80 {
        bytes.push((n as u8) | 0x80);
        n >>= 7;
    }
    bytes.push(n as u8);
    bytes.extend_from_slice(&[0xff, 0x06, 0, 0, b's', b'N', b'a', b'P', b'p', b'Y']);
    bytes
}

/// A valid-looking prefix for the protocol's type, then frames of 64 KiB of zeros each (a
/// few bytes compressed): 16 MiB once decompressed.
fn snappy_bomb(protocol: Eth2Protocol) -> io::Result<Vec<u8>> {
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
    let mut bytes = vec![0, len];
    bytes.extend_from_slice(&frames);
    Ok(bytes)
}
