//! `--metrics-listen`: the Prometheus endpoint of `sentry`, `consumer` and `run`.

use std::net::SocketAddr;
use std::sync::Arc;

use clap::Args;
use valtrack::sink::metrics::prometheus_client::registry::Registry;

use super::CliError;

#[derive(Debug, Args)]
pub(crate) struct MetricsArgs {
    /// Serve Prometheus metrics at http://ADDR/metrics (for example 127.0.0.1:9464; port 0
    /// picks a free one, logged at start) [default: off].
    #[arg(long, value_name = "ADDR", env = "VALTRACK_METRICS_LISTEN")]
    pub(crate) metrics_listen: Option<SocketAddr>,
}

/// The endpoint's socket, bound before anything else starts so a port in use fails fast.
#[derive(Debug)]
pub(crate) struct MetricsListener(Option<tokio::net::TcpListener>);

/// The running endpoint; stopped by [`stop`](Self::stop).
#[derive(Debug)]
pub(crate) struct MetricsServer(
    Option<(
        tokio::sync::oneshot::Sender<()>,
        tokio::task::JoinHandle<std::io::Result<()>>,
    )>,
);

impl MetricsArgs {
    pub(crate) async fn bind(&self) -> Result<MetricsListener, CliError> {
        let Some(addr) = self.metrics_listen else {
            return Ok(MetricsListener(None));
        };
        match tokio::net::TcpListener::bind(addr).await {
            Ok(l) => Ok(MetricsListener(Some(l))),
            Err(e) => {
                let hint = if e.kind() == std::io::ErrorKind::AddrInUse {
                    " (another process has this port: choose another with --metrics-listen)"
                } else {
                    ""
                };
                Err(CliError(format!("--metrics-listen {addr}: {e}{hint}")))
            }
        }
    }
}

impl MetricsListener {
    /// Whether metrics were asked for (so whether counting events is worth its cost).
    pub(crate) fn enabled(&self) -> bool {
        self.0.is_some()
    }

    /// `sink`, counting its events into `registry` when metrics were asked for.
    pub(crate) fn count_events<S: valtrack::core::EventSink>(
        &self,
        sink: S,
        registry: &mut Registry,
    ) -> Box<dyn valtrack::core::DynEventSink> {
        if self.enabled() {
            let events = valtrack::sink::metrics::EventMetrics::register(registry);
            Box::new(valtrack::sink::metrics::MetricsSink::new(sink, events))
        } else {
            Box::new(sink)
        }
    }

    /// Serves `registry` (when metrics were asked for).
    pub(crate) fn serve(self, registry: Registry) -> MetricsServer {
        let Some(listener) = self.0 else {
            return MetricsServer(None);
        };
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(valtrack::sink::metrics::serve(
            listener,
            Arc::new(registry),
            async {
                let _ = stopped.await;
            },
        ));
        MetricsServer(Some((stop, task)))
    }
}

impl MetricsServer {
    pub(crate) async fn stop(self) {
        if let Some((stop, task)) = self.0 {
            let _ = stop.send(());
            let _ = task.await;
        }
    }
}
