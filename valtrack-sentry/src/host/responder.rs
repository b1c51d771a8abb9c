//! The host's extension point for custom answers to inbound requests.
//!
//! A [`Host`](super::Host) answers every request honestly from its configuration. A
//! [`Responder`] set with [`HostConfigBuilder::responder`](super::HostConfigBuilder::responder)
//! sees each request with that honest answer and returns what to send instead: a different
//! answer, an error response, or raw bytes ([`RpcResponse::Raw`]). Simulated and hostile
//! peers (the `valtrack-sim` crate), fuzzers and instrumented peers are built this way, on
//! public API, without changing the host's types.

use std::sync::Arc;

use libp2p::PeerId;

use crate::rpc::{RpcRequest, RpcResponse};

/// Decides the answer to each inbound eth2 request.
///
/// Called on the host's task for every request, so it must be quick and must not block.
///
/// ```
/// use libp2p::PeerId;
/// use valtrack_sentry::host::Responder;
/// use valtrack_sentry::rpc::{RawResponse, RpcRequest, RpcResponse};
///
/// /// Answers everything but Goodbye with bytes that are no valid response.
/// struct Garbage;
///
/// impl Responder for Garbage {
///     fn respond(&self, _peer: &PeerId, request: &RpcRequest, honest: RpcResponse) -> RpcResponse {
///         match request {
///             RpcRequest::Goodbye(_) => honest,
///             _ => RpcResponse::Raw(RawResponse::bytes(vec![0xff; 64])),
///         }
///     }
/// }
/// ```
pub trait Responder: Send + Sync + 'static {
    /// The answer to `request` from `peer`; `honest` is what the host would send.
    fn respond(&self, peer: &PeerId, request: &RpcRequest, honest: RpcResponse) -> RpcResponse;
}

impl<T: Responder + ?Sized> Responder for Arc<T> {
    fn respond(&self, peer: &PeerId, request: &RpcRequest, honest: RpcResponse) -> RpcResponse {
        (**self).respond(peer, request, honest)
    }
}

/// A shared [`Responder`] in a [`HostConfig`](super::HostConfig).
#[derive(Clone)]
pub(crate) struct SharedResponder(pub(crate) Arc<dyn Responder>);

impl std::fmt::Debug for SharedResponder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Responder")
    }
}
