//! The libp2p transport: TCP + noise + (yamux and/or mplex), and QUIC (feature `quic`),
//! recording which muxer each connection negotiated.

use std::collections::HashMap;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime};

use futures::future::{self, Either};
use futures::{AsyncRead, AsyncWrite};
use libp2p::core::muxing::StreamMuxerBox;
use libp2p::core::transport::Boxed;
use libp2p::core::upgrade::{
    InboundConnectionUpgrade, OutboundConnectionUpgrade, UpgradeInfo, Version,
};
use libp2p::identity::Keypair;
use libp2p::{noise, tcp, yamux, PeerId, Transport as _};
use valtrack_core::events::Muxer;

use super::arrival::{unix_nanos, Arrivals, ReadLateness, Registered};
use crate::error::HostError;

/// Which stream muxers we offer over TCP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MuxerOffer {
    /// yamux first, then mplex (the default: reaches Lodestar and Nimbus, which speak only
    /// mplex, and prefers yamux elsewhere).
    #[default]
    YamuxAndMplex,
    /// Only yamux.
    YamuxOnly,
    /// Only mplex (as Lodestar and Nimbus).
    MplexOnly,
}

/// Muxer negotiated per connected peer, written by the transport, read by the host.
#[derive(Debug, Clone, Default)]
pub(crate) struct MuxerRegistry(Arc<Mutex<HashMap<PeerId, Muxer>>>);

impl MuxerRegistry {
    fn record(&self, peer: PeerId, muxer: Muxer) {
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        // Entries are removed when connections close; the cap guards against leaks anyway.
        if map.len() >= 65_536 {
            map.clear();
        }
        map.insert(peer, muxer);
    }

    pub(crate) fn get(&self, peer: &PeerId) -> Option<Muxer> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(peer)
            .copied()
    }

    pub(crate) fn remove(&self, peer: &PeerId) {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(peer);
    }
}

/// Bytes the host's TCP connections carried, counted on the sockets (noise and muxer
/// framing included, TCP/IP headers not), how late their bytes were read, and the
/// GossipSub copies that reached the host out of their arrival order. QUIC connections'
/// bytes are not counted. See [`Host::traffic`](super::Host::traffic).
#[derive(Debug, Default)]
pub struct Traffic {
    /// Bytes read from TCP sockets.
    pub received: AtomicU64,
    /// Bytes written to TCP sockets.
    pub sent: AtomicU64,
    /// How long bytes waited in the kernel before the host read them (Linux; reads of
    /// sockets the kernel timestamps).
    pub read_lateness: ReadLateness,
    /// GossipSub copies stamped earlier than the copy of the same message that was delivered
    /// first (their connections handed them on out of arrival order), by how much earlier:
    /// how late a first delivery's timestamp was against the message's first arrival, and
    /// a first delivery credited to the wrong peer.
    pub earlier_copies: ReadLateness,
    /// Of those, the copies that took their message's credit: reported while the first
    /// delivery was still held, and earlier than any other copy (see
    /// [`Host::gossip_messages`](super::Host::gossip_messages)).
    pub recredited: AtomicU64,
    /// Of those, the copies reported while their message was not held: handed on already
    /// (too late to take its credit), or never held (not an attestation the host judged
    /// sound: rejected, untimely, or on another topic).
    pub earlier_unheld: AtomicU64,
}

/// A TCP socket that adds what passes through it to a [`Traffic`] and, where the kernel
/// timestamps its reads, keeps its connection's arrival clock.
#[derive(Debug)]
struct Counted {
    inner: tcp::tokio::TcpStream,
    traffic: Arc<Traffic>,
    arrival: Option<Registered>,
}

impl Counted {
    /// Wraps `inner`, asking the kernel to timestamp its reads (Linux) and registering its
    /// arrival clock in `arrivals`; a socket the kernel will not timestamp is read as usual.
    fn new(inner: tcp::tokio::TcpStream, traffic: Arc<Traffic>, arrivals: &Arrivals) -> Self {
        #[cfg(target_os = "linux")]
        let arrival = nix::sys::socket::setsockopt(
            &inner.0,
            nix::sys::socket::sockopt::ReceiveTimestampns,
            &true,
        )
        .ok()
        .and_then(|()| inner.0.peer_addr().ok())
        .map(|remote| arrivals.open(remote));
        #[cfg(not(target_os = "linux"))]
        let arrival = {
            let _ = arrivals;
            None
        };
        Self {
            inner,
            traffic,
            arrival,
        }
    }
}

fn count(counter: &AtomicU64, poll: Poll<io::Result<usize>>) -> Poll<io::Result<usize>> {
    if let Poll::Ready(Ok(n)) = poll {
        counter.fetch_add(n as u64, Relaxed);
    }
    poll
}

impl AsyncRead for Counted {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        #[cfg(target_os = "linux")]
        if let Some(arrival) = &this.arrival {
            use std::os::fd::AsRawFd;
            let stream = &this.inner.0;
            loop {
                std::task::ready!(stream.poll_read_ready(cx))?;
                let read = stream.try_io(tokio::io::Interest::READABLE, || {
                    super::arrival::recv_stamped(stream.as_raw_fd(), buf)
                });
                match read {
                    Ok((n, stamp)) => {
                        let now = unix_nanos(SystemTime::now());
                        match stamp {
                            Some(ns) => {
                                arrival.advance(ns);
                                this.traffic
                                    .read_lateness
                                    .record(Duration::from_nanos(now.saturating_sub(ns)));
                            }
                            // No time from the kernel (its timestamping was just switched
                            // on): the read's own time, so the clock never runs behind
                            // bytes already read.
                            None if n > 0 => arrival.advance(now),
                            None => {}
                        }
                        this.traffic.received.fetch_add(n as u64, Relaxed);
                        return Poll::Ready(Ok(n));
                    }
                    Err(e)
                        if matches!(
                            e.kind(),
                            io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
                        ) => {}
                    Err(e) => return Poll::Ready(Err(e)),
                }
            }
        }
        let poll = Pin::new(&mut this.inner).poll_read(cx, buf);
        count(&this.traffic.received, poll)
    }
}

impl AsyncWrite for Counted {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.inner).poll_write(cx, buf);
        count(&self.traffic.sent, poll)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        count(&self.traffic.sent, poll)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_close(cx)
    }
}

const YAMUX: &str = "/yamux/1.0.0";
const MPLEX: &str = "/mplex/6.7.0";

/// Negotiates yamux and/or mplex per [`MuxerOffer`]; the output says which one won.
#[derive(Debug, Clone, Copy)]
struct MuxerUpgrade(MuxerOffer);

impl UpgradeInfo for MuxerUpgrade {
    type Info = &'static str;
    type InfoIter = std::vec::IntoIter<&'static str>;

    fn protocol_info(&self) -> Self::InfoIter {
        match self.0 {
            MuxerOffer::YamuxAndMplex => vec![YAMUX, MPLEX],
            MuxerOffer::YamuxOnly => vec![YAMUX],
            MuxerOffer::MplexOnly => vec![MPLEX],
        }
        .into_iter()
    }
}

type Muxed<C> = Either<libp2p::yamux::Muxer<C>, libp2p_mplex::Multiplex<C>>;

fn upgrade<C>(
    socket: C,
    info: &'static str,
    outbound: bool,
) -> future::Ready<std::io::Result<Muxed<C>>>
where
    C: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    if info == YAMUX {
        let config = yamux::Config::default();
        let muxer = if outbound {
            config.upgrade_outbound(socket, info).into_inner()
        } else {
            config.upgrade_inbound(socket, info).into_inner()
        };
        future::ready(muxer.map(Either::Left))
    } else {
        let config = libp2p_mplex::Config::default();
        let muxer = if outbound {
            config.upgrade_outbound(socket, info).into_inner()
        } else {
            config.upgrade_inbound(socket, info).into_inner()
        };
        future::ready(muxer.map(Either::Right))
    }
}

impl<C> InboundConnectionUpgrade<C> for MuxerUpgrade
where
    C: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    type Output = Muxed<C>;
    type Error = std::io::Error;
    type Future = future::Ready<std::io::Result<Muxed<C>>>;

    fn upgrade_inbound(self, socket: C, info: &'static str) -> Self::Future {
        upgrade(socket, info, false)
    }
}

impl<C> OutboundConnectionUpgrade<C> for MuxerUpgrade
where
    C: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    type Output = Muxed<C>;
    type Error = std::io::Error;
    type Future = future::Ready<std::io::Result<Muxed<C>>>;

    fn upgrade_outbound(self, socket: C, info: &'static str) -> Self::Future {
        upgrade(socket, info, true)
    }
}

/// Builds the transport. `timeout` bounds a connection's setup (connect, security, muxer);
/// every TCP socket's bytes are added to `traffic`, and its arrival clock is kept in
/// `arrivals`.
pub(crate) fn build(
    key: &Keypair,
    offer: MuxerOffer,
    timeout: Duration,
    registry: MuxerRegistry,
    traffic: Arc<Traffic>,
    arrivals: Arrivals,
) -> Result<Boxed<(PeerId, StreamMuxerBox)>, HostError> {
    let noise = noise::Config::new(key).map_err(|e| HostError::Transport(Box::new(e)))?;
    let tcp = tcp::tokio::Transport::new(tcp::Config::default().nodelay(true))
        .map(move |inner, _| Counted::new(inner, Arc::clone(&traffic), &arrivals))
        .upgrade(Version::V1)
        .authenticate(noise)
        .multiplex(MuxerUpgrade(offer))
        .timeout(timeout)
        .map(move |(peer, muxer), _| {
            let kind = match &muxer {
                Either::Left(_) => Muxer::Yamux,
                Either::Right(_) => Muxer::Mplex,
            };
            registry.record(peer, kind);
            (peer, StreamMuxerBox::new(muxer))
        });

    #[cfg(feature = "quic")]
    {
        let mut quic_config = libp2p::quic::Config::new(key);
        quic_config.handshake_timeout = timeout;
        let quic = libp2p::quic::tokio::Transport::new(quic_config)
            .map(|(peer, conn), _| (peer, StreamMuxerBox::new(conn)));
        Ok(tcp
            .or_transport(quic)
            .map(|either, _| match either {
                Either::Left(out) | Either::Right(out) => out,
            })
            .boxed())
    }
    #[cfg(not(feature = "quic"))]
    Ok(tcp.boxed())
}
