//! `valtrack sentry`: crawl, handshake and publish events (NATS, JSON lines or stdout).

use std::path::PathBuf;
use std::str::FromStr;

use clap::Args;
use valtrack::core::DynEventSink;
use valtrack::sink::{
    ClaimHolder, FanoutSink, JsonlSink, NatsSink, NatsSinkConfig, SentryClaim, StdoutSink,
};

use super::args::{CrawlArgs, NatsArgs};
use super::metrics::MetricsArgs;
use super::progress::{sentry_progress, spawn_progress};
use super::{shutdown_signal, spawn_reporter, spawn_stall_watch, target, CliError};

/// Where events go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SinkArg {
    /// One JSON object per line on standard output.
    Stdout,
    /// Appended as JSON lines to a file.
    Jsonl(PathBuf),
    /// Published to NATS JetStream (`--nats-url`), spooled to `--spool-dir` during outages.
    Nats,
}

impl std::fmt::Display for SinkArg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Stdout => f.write_str("stdout"),
            Self::Nats => f.write_str("nats"),
            Self::Jsonl(path) => write!(f, "jsonl:{}", path.display()),
        }
    }
}

impl FromStr for SinkArg {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "stdout" => Ok(Self::Stdout),
            "nats" => Ok(Self::Nats),
            _ => match s.strip_prefix("jsonl:") {
                Some(path) if !path.is_empty() => Ok(Self::Jsonl(PathBuf::from(path))),
                _ => Err(format!(
                    "unknown sink `{s}`: use `stdout`, `jsonl:PATH` or `nats`"
                )),
            },
        }
    }
}

#[derive(Debug, Args)]
pub(crate) struct SentryArgs {
    #[command(flatten)]
    pub(crate) crawl: CrawlArgs,
    #[command(flatten)]
    pub(crate) nats: NatsArgs,
    /// Where events go: `stdout`, `jsonl:PATH` or `nats`; repeat it to send every event to
    /// each (e.g. `--sink nats --sink jsonl:events.jsonl` keeps a local copy) [default: `nats`
    /// when --nats-url (or VALTRACK_NATS_URL) is given, else `stdout`].
    #[arg(long)]
    pub(crate) sink: Vec<SinkArg>,
    /// Where the NATS sink keeps events while NATS is unreachable (replayed in order when it
    /// is back).
    #[arg(long, default_value = valtrack::sink::DEFAULT_SPOOL_DIR, env = "VALTRACK_SPOOL_DIR")]
    pub(crate) spool_dir: PathBuf,
    #[command(flatten)]
    pub(crate) metrics: MetricsArgs,
}

impl SentryArgs {
    /// The NATS sink's configuration (checked before any network is touched, so a bad flag
    /// fails fast).
    fn nats_config(&self) -> Result<NatsSinkConfig, CliError> {
        let nats = self.nats.config(valtrack::sink::DEFAULT_STREAM)?;
        Ok(NatsSinkConfig::builder(nats, &self.spool_dir).build()?)
    }
}

/// Runs the sentry; `nats_url_given` tells whether `--nats-url` (or its variable) was set,
/// which makes `nats` the default sink.
pub(crate) async fn run(args: SentryArgs, nats_url_given: bool) -> Result<(), CliError> {
    let mut sink_args = args.sink.clone();
    if sink_args.is_empty() {
        sink_args.push(if nats_url_given {
            SinkArg::Nats
        } else {
            SinkArg::Stdout
        });
    }
    for (i, a) in sink_args.iter().enumerate() {
        if sink_args[..i].contains(a) {
            return Err(CliError(format!("--sink {a} is given twice")));
        }
    }
    let metrics = args.metrics.bind().await?;
    let mut registry = valtrack::sink::metrics::registry();
    valtrack::sink::metrics::ProcessCollector::register(&mut registry);
    // One running sentry per crawler id on a stream: refused before anything is published.
    let claim = if sink_args.contains(&SinkArg::Nats) {
        let config = args.nats_config()?;
        Some(
            SentryClaim::claim(
                config.nats(),
                &args.crawl.crawler_id,
                ClaimHolder::this_process(),
            )
            .await?,
        )
    } else {
        None
    };
    let mut sinks: Vec<Box<dyn DynEventSink>> = Vec::new();
    for sink_arg in &sink_args {
        sinks.push(match sink_arg {
            SinkArg::Stdout => Box::new(StdoutSink::new()),
            SinkArg::Nats => {
                let sink = NatsSink::connect(args.nats_config()?).await?;
                valtrack::sink::metrics::NatsSinkCollector::register(&mut registry, &sink);
                Box::new(sink)
            }
            SinkArg::Jsonl(path) => {
                Box::new(JsonlSink::open(path).map_err(|e| {
                    CliError(format!("{}: {}", path.display(), CliError::from(e).0))
                })?)
            }
        });
    }
    let sink: Box<dyn DynEventSink> = if sinks.len() == 1 {
        sinks.remove(0)
    } else {
        Box::new(FanoutSink::new(sinks))
    };
    let crawl = args.crawl;
    let target = target::target(&crawl).await?;
    let sink = metrics.count_events(sink, &mut registry);
    let service = target::sentry_service(&crawl, &target, sink).await?;
    service.register_metrics(&mut registry);
    let metrics = metrics.serve(registry);
    let summary = service.summary();
    let reporter = spawn_reporter(service.summary());
    let watch = spawn_stall_watch(service.stall_hint());
    let progress = spawn_progress(sentry_progress(&service));
    let lost = std::sync::Mutex::new(None);
    let stop = async {
        let signal = shutdown_signal(crawl.duration.map(|d| d.0));
        match &claim {
            Some(claim) => tokio::select! {
                () = signal => {}
                reason = claim.lost() => {
                    *lost.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(reason);
                }
            },
            None => signal.await,
        }
    };
    let result = service.run(stop).await;
    reporter.abort();
    watch.abort();
    if let Some(p) = progress {
        p.abort();
    }
    metrics.stop().await;
    tracing::info!(target: "valtrack", "stopped: {}", summary());
    drop(target);
    if let Some(claim) = claim {
        claim.release().await;
    }
    if let Some(reason) = lost
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
    {
        return Err(CliError(reason));
    }
    result.map_err(CliError::from)
}
