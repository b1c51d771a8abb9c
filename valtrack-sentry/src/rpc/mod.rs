//! eth2 req/resp over rust-libp2p's `request_response`: protocol ids and the `ssz_snappy`
//! codec.

mod codec;
mod protocol;

pub use codec::{
    CaptureBuffer, Eth2Codec, RawChunks, RawResponse, RpcRequest, RpcResponse, RpcTimeout,
    RpcTimeouts, CAPTURE_CAPACITY, DEFAULT_RESP_TIMEOUT, DEFAULT_TTFB_TIMEOUT, GOODBYE_LINGER,
};
pub use protocol::Eth2Protocol;
