//! The accept loop shared by the tracker API and the metrics endpoint: a bounded number of
//! connections (when all are taken, the oldest is asked to close: at once if idle, after its
//! request otherwise), a header-read timeout, and a graceful stop.

use std::future::Future;
use std::sync::Arc;

use tracing::warn;

/// Longest a client may take to send a request's headers, and longest a connection may stay
/// idle between requests.
#[cfg_attr(not(feature = "api"), allow(unreachable_pub))]
pub const HEADER_READ_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);
/// Connections held at once. A new one beyond it makes the oldest close (an idle one at once,
/// a busy one after its request), so idle sockets held open cannot lock clients out.
#[cfg_attr(not(feature = "api"), allow(unreachable_pub))]
pub const MAX_CONNECTIONS: usize = 1024;
/// Largest request head accepted (431 beyond).
const MAX_HEADER_BYTES: usize = 16 * 1024;
/// How long requests in flight may take to finish at shutdown.
const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(5);

const LOG: &str = "valtrack::http";

/// Serves `router` on `listener` until `shutdown` resolves, then finishes the requests in
/// flight (for at most 5 s) and returns. Accept errors (out of file descriptors) are logged
/// on `target` and retried.
pub(crate) async fn serve_router(
    listener: tokio::net::TcpListener,
    router: axum::Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
    target: &'static str,
) -> std::io::Result<()> {
    serve_router_with(listener, router, shutdown, target, MAX_CONNECTIONS).await
}

/// [`serve_router`] with at most `max_connections` connections.
pub(crate) async fn serve_router_with(
    listener: tokio::net::TcpListener,
    router: axum::Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
    target: &'static str,
    max_connections: usize,
) -> std::io::Result<()> {
    let slots = Arc::new(tokio::sync::Semaphore::new(max_connections.max(1)));
    let (stop, stopping) = tokio::sync::watch::channel(false);
    let mut connections = tokio::task::JoinSet::new();
    // Each live connection's "close when you can" switch, oldest first (closed ones are
    // skipped when popped; at most a few per connection ever pile up).
    let mut oldest: std::collections::VecDeque<tokio::sync::oneshot::Sender<()>> =
        std::collections::VecDeque::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let stream = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // Out of file descriptors, say: let some connections finish.
                    warn!(target: LOG, server = target, error = %e, "accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        while connections.try_join_next().is_some() {}
        oldest.retain(|evict| !evict.is_closed());
        let slot = match Arc::clone(&slots).try_acquire_owned() {
            Ok(slot) => slot,
            Err(_) => {
                // Full: the oldest live connection closes (at once when idle, after its
                // request when busy), and its slot goes to this one.
                if let Some(evict) = oldest.pop_front() {
                    let _ = evict.send(());
                }
                tokio::select! {
                    () = &mut shutdown => break,
                    slot = Arc::clone(&slots).acquire_owned() => match slot {
                        Ok(slot) => slot,
                        Err(_) => break,
                    },
                }
            }
        };
        let (evict, evicted) = tokio::sync::oneshot::channel::<()>();
        oldest.push_back(evict);
        let service = hyper_util::service::TowerToHyperService::new(router.clone());
        let mut stopping = stopping.clone();
        connections.spawn(async move {
            let _slot = slot;
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(HEADER_READ_TIMEOUT)
                .max_buf_size(MAX_HEADER_BYTES);
            let connection =
                builder.serve_connection(hyper_util::rt::TokioIo::new(stream), service);
            let mut connection = std::pin::pin!(connection);
            tokio::select! {
                _ = connection.as_mut() => {}
                _ = stopping.changed() => {
                    connection.as_mut().graceful_shutdown();
                    let _ = tokio::time::timeout(SHUTDOWN_GRACE, connection).await;
                }
                Ok(()) = evicted => {
                    connection.as_mut().graceful_shutdown();
                    let _ = tokio::time::timeout(HEADER_READ_TIMEOUT, connection).await;
                }
            }
        });
    }
    let _ = stop.send(true);
    while connections.join_next().await.is_some() {}
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;

    /// Sends `GET path` on `stream` and reads the answer to its end (the server closes).
    async fn get(stream: &mut TcpStream, path: &str) -> String {
        let request = format!("GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).await.unwrap();
        answer
    }

    /// With every slot taken, a new client is served once the oldest connection gives its
    /// slot up: an idle one closes at once, a busy one after its answer (never cut).
    #[tokio::test]
    async fn a_full_server_evicts_its_oldest_connection() {
        let router = axum::Router::new()
            .route("/", axum::routing::get(|| async { "ok" }))
            .route(
                "/slow",
                axum::routing::get(|| async {
                    tokio::time::sleep(Duration::from_millis(800)).await;
                    "slow"
                }),
            );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(super::serve_router_with(
            listener,
            router,
            async move {
                let _ = stopped.await;
            },
            "test",
            3,
        ));
        // the oldest is busy with a slow request; two idle ones follow
        let mut busy = TcpStream::connect(addr).await.unwrap();
        busy.write_all(b"GET /slow HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        let mut idle = TcpStream::connect(addr).await.unwrap();
        let _idle2 = TcpStream::connect(addr).await.unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        // full: the busy one finishes its answer, then its slot is ours
        let started = Instant::now();
        let mut late = TcpStream::connect(addr).await.unwrap();
        let answer = get(&mut late, "/").await;
        assert!(answer.ends_with("ok"), "{answer}");
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "{:?}",
            started.elapsed()
        );
        let mut slow = String::new();
        busy.read_to_string(&mut slow).await.unwrap();
        assert!(
            slow.starts_with("HTTP/1.1 200") && slow.ends_with("slow"),
            "{slow}"
        );
        // full again (the answered ones closed): the oldest is now an idle one, closed at once
        let _idle3 = TcpStream::connect(addr).await.unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        let started = Instant::now();
        let mut next = TcpStream::connect(addr).await.unwrap();
        let answer = get(&mut next, "/").await;
        assert!(answer.ends_with("ok"), "{answer}");
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "{:?}",
            started.elapsed()
        );
        let mut rest = Vec::new();
        let closed = tokio::time::timeout(Duration::from_secs(1), idle.read_to_end(&mut rest));
        assert!(matches!(closed.await, Ok(Ok(0))), "the idle one was closed");
        let _ = stop.send(());
        server.await.unwrap().unwrap();
    }
}
