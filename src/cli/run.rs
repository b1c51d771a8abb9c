//! `valtrack run`: the sentry writing the tables under `--data-dir`, in one process, no NATS.

use clap::Args;

use super::args::{final_storage_lines, storage_line, CrawlArgs, StoreArgs};
use super::metrics::MetricsArgs;
use super::progress::{sentry_progress, spawn_progress};
use super::{shutdown_signal, spawn_reporter, spawn_stall_watch, target, CliError};

#[derive(Debug, Args)]
pub(crate) struct RunArgs {
    #[command(flatten)]
    pub(crate) crawl: CrawlArgs,
    #[command(flatten)]
    pub(crate) store: StoreArgs,
    #[command(flatten)]
    pub(crate) metrics: MetricsArgs,
}

pub(crate) async fn run(args: RunArgs) -> Result<(), CliError> {
    let crawl = args.crawl;
    let metrics = args.metrics.bind().await?;
    let target = target::target(&crawl).await?;
    let (store, sink) = args.store.open(Some(target.network.clone()), true).await?;
    let mut registry = valtrack::sink::metrics::registry();
    valtrack::sink::metrics::ProcessCollector::register(&mut registry);
    let sink = metrics.count_events(sink, &mut registry);
    let service = target::sentry_service(&crawl, &target, sink).await?;
    service.register_metrics(&mut registry);
    valtrack::sink::metrics::StoreCollector::register(&mut registry, &store);
    let metrics = metrics.serve(registry);
    tracing::info!(target: "valtrack", writing_to = %store.location(), "writing the tables and the tracker store");
    let summary = service.summary();
    let reporter = {
        let summary = service.summary();
        let stats = store.stats_reader();
        spawn_reporter(move || format!("{}; {}", summary(), storage_line(&stats())))
    };
    let watch = spawn_stall_watch(service.stall_hint());
    let progress = spawn_progress(sentry_progress(&service));
    let result = service
        .run(shutdown_signal(crawl.duration.map(|d| d.0)))
        .await;
    reporter.abort();
    watch.abort();
    if let Some(p) = progress {
        p.abort();
    }
    metrics.stop().await;
    drop(target);
    tracing::info!(target: "valtrack", "stopped: {}; {}", summary(), storage_line(&store.stats()));
    final_storage_lines(&store, false);
    store.close().await;
    result.map_err(CliError::from)
}
