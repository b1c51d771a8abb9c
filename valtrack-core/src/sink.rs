//! The sink seam: an [`EventSink`] takes the [`Event`]s a sentry emits (to NATS, Parquet, a file,
//! a channel, or your own), or says why it could not ([`SinkError`]).
//!
//! [`EventSink`] returns `impl Future + Send`, so an implementation can use `async fn`. Where a
//! program must choose a sink at run time, [`DynEventSink`] is its object-safe twin: every
//! `EventSink` is one, and `Box<dyn DynEventSink>` and `Arc<dyn DynEventSink>` are again
//! `EventSink`s, as is an `Arc` of any sink.

use std::future::Future;
use std::sync::Arc;

use futures_core::future::BoxFuture;
use thiserror::Error;

use crate::events::Event;

/// A boxed error from a lower layer (transport, codec) that core cannot name.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Why a sink could not take or persist events.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum SinkError {
    /// The sink was closed.
    #[error("sink closed")]
    Closed,
    /// A file or socket failed.
    #[error("I/O error")]
    Io(#[from] std::io::Error),
    /// The event could not be encoded.
    #[error("could not encode event")]
    Encode(#[from] serde_json::Error),
    /// The backend (NATS, Parquet, …) failed.
    #[error("{backend} failed")]
    Backend {
        /// Which backend.
        backend: &'static str,
        /// Its error.
        #[source]
        source: BoxError,
    },
}

/// Where events go: NATS, Parquet, a file, a channel, or your own.
///
/// Implementing one takes a few lines, and `async fn` works:
///
/// ```
/// use std::sync::Mutex;
/// use valtrack_core::{Event, EventSink, SinkError};
///
/// /// Counts events by kind.
/// #[derive(Debug, Default)]
/// struct Counter(Mutex<std::collections::HashMap<&'static str, u64>>);
///
/// impl EventSink for Counter {
///     async fn send(&self, event: Event) -> Result<(), SinkError> {
///         *self.0.lock().unwrap().entry(event.kind().as_str()).or_default() += 1;
///         Ok(())
///     }
///     async fn flush(&self) -> Result<(), SinkError> {
///         Ok(())
///     }
/// }
///
/// // Picked at run time, as a trait object:
/// let sink: Box<dyn valtrack_core::DynEventSink> = Box::new(Counter::default());
/// futures::executor::block_on(sink.flush_boxed()).unwrap();
/// ```
pub trait EventSink: Send + Sync + 'static {
    /// Accepts one event. When this resolves `Ok`, the sink has taken responsibility for the
    /// event (buffered, spooled or written; see each sink's docs for durability).
    fn send(&self, event: Event) -> impl Future<Output = Result<(), SinkError>> + Send;

    /// Makes every event accepted so far durable (written, acknowledged).
    fn flush(&self) -> impl Future<Output = Result<(), SinkError>> + Send;
}

/// The object-safe form of [`EventSink`], for sinks chosen at run time. Every `EventSink`
/// implements it; `Box<dyn DynEventSink>` and `Arc<dyn DynEventSink>` implement `EventSink`.
pub trait DynEventSink: Send + Sync + 'static {
    /// [`EventSink::send`], boxed.
    fn send_boxed(&self, event: Event) -> BoxFuture<'_, Result<(), SinkError>>;
    /// [`EventSink::flush`], boxed.
    fn flush_boxed(&self) -> BoxFuture<'_, Result<(), SinkError>>;
}

/// A shared sink is a sink too.
impl<T: EventSink> EventSink for Arc<T> {
    fn send(&self, event: Event) -> impl Future<Output = Result<(), SinkError>> + Send {
        (**self).send(event)
    }

    fn flush(&self) -> impl Future<Output = Result<(), SinkError>> + Send {
        (**self).flush()
    }
}

impl<T: EventSink> DynEventSink for T {
    fn send_boxed(&self, event: Event) -> BoxFuture<'_, Result<(), SinkError>> {
        Box::pin(self.send(event))
    }

    fn flush_boxed(&self) -> BoxFuture<'_, Result<(), SinkError>> {
        Box::pin(self.flush())
    }
}

impl EventSink for Box<dyn DynEventSink> {
    fn send(&self, event: Event) -> impl Future<Output = Result<(), SinkError>> + Send {
        (**self).send_boxed(event)
    }

    fn flush(&self) -> impl Future<Output = Result<(), SinkError>> + Send {
        (**self).flush_boxed()
    }
}

impl EventSink for Arc<dyn DynEventSink> {
    fn send(&self, event: Event) -> impl Future<Output = Result<(), SinkError>> + Send {
        (**self).send_boxed(event)
    }

    fn flush(&self) -> impl Future<Output = Result<(), SinkError>> + Send {
        (**self).flush_boxed()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    #[derive(Debug, Default)]
    struct Collect(Mutex<Vec<Event>>, Mutex<u32>);

    impl EventSink for Collect {
        async fn send(&self, event: Event) -> Result<(), SinkError> {
            self.0.lock().unwrap().push(event);
            Ok(())
        }
        async fn flush(&self) -> Result<(), SinkError> {
            *self.1.lock().unwrap() += 1;
            Ok(())
        }
    }

    #[derive(Debug)]
    struct Broken;

    impl EventSink for Broken {
        async fn send(&self, _event: Event) -> Result<(), SinkError> {
            Err(SinkError::Closed)
        }
        async fn flush(&self) -> Result<(), SinkError> {
            Err(SinkError::Closed)
        }
    }

    fn event() -> Event {
        let json = r#"{"kind":"discovery","event_id":"00","crawler_id":"c1","crawler_location":"eu",
          "timestamp":1,"peer_id":"16Uiu2HAm4oaDUR2JCEyotxAs7eEVkCVJffoBKiTs8So4HkERrdpW",
          "node_id":"ef4cf7caa876063f4b8a8d1dad0f58fe9cd0ce945abba6b85dbf31c5fac98269","enr":null,
          "reason":"first_seen","seq":1,"class":"no_eth2"}"#;
        Event::from_json(json.as_bytes()).unwrap()
    }

    /// Generic code over `impl EventSink` works with boxed and shared trait objects.
    async fn pump(sink: &impl EventSink, n: usize) -> Result<(), SinkError> {
        for _ in 0..n {
            sink.send(event()).await?;
        }
        sink.flush().await
    }

    #[test]
    fn trait_objects_forward_to_the_sink() {
        let shared = Arc::new(Collect::default());
        let boxed: Box<dyn DynEventSink> = Box::new(Collect::default());
        futures::executor::block_on(pump(&boxed, 3)).unwrap();
        let arc: Arc<dyn DynEventSink> = shared.clone();
        futures::executor::block_on(pump(&arc, 2)).unwrap();
        assert_eq!(shared.0.lock().unwrap().len(), 2);
        assert_eq!(*shared.1.lock().unwrap(), 1);
        let broken: Box<dyn DynEventSink> = Box::new(Broken);
        assert!(matches!(
            futures::executor::block_on(pump(&broken, 1)),
            Err(SinkError::Closed)
        ));
    }

    #[test]
    fn a_shared_sink_is_a_sink() {
        let shared = Arc::new(Collect::default());
        futures::executor::block_on(pump(&shared, 4)).unwrap();
        assert_eq!(shared.0.lock().unwrap().len(), 4);
        assert_eq!(*shared.1.lock().unwrap(), 1);
        let broken = Arc::new(Broken);
        assert!(matches!(
            futures::executor::block_on(pump(&broken, 1)),
            Err(SinkError::Closed)
        ));
    }
}
