//! `valtrack run`: the sentry writing the tables under `--data-dir`, in one process, no NATS.

use clap::Args;

use super::args::{final_storage_lines, storage_line, CrawlArgs, StoreArgs};
use super::{shutdown_signal, spawn_reporter, spawn_stall_watch, target, CliError};

#[derive(Debug, Args)]
pub(crate) struct RunArgs {
    #[command(flatten)]
    pub(crate) crawl: CrawlArgs,
    #[command(flatten)]
    pub(crate) store: StoreArgs,
}

pub(crate) async fn run(args: RunArgs) -> Result<(), CliError> {
    let crawl = args.crawl;
    let target = target::target(&crawl).await?;
    let (store, sink) = args.store.open(Some(target.network.clone()), true).await?;
    let service = target::sentry_service(&crawl, &target, sink).await?;
    tracing::info!(target: "valtrack", data_dir = %store.data_dir().display(), "writing Parquet tables and the tracker store");
    let summary = service.summary();
    let reporter = {
        let summary = service.summary();
        let stats = store.stats_reader();
        spawn_reporter(move || format!("{}; {}", summary(), storage_line(&stats())))
    };
    let watch = spawn_stall_watch(service.stall_hint());
    let result = service
        .run(shutdown_signal(crawl.duration.map(|d| d.0)))
        .await;
    reporter.abort();
    watch.abort();
    drop(target);
    tracing::info!(target: "valtrack", "stopped: {}; {}", summary(), storage_line(&store.stats()));
    final_storage_lines(&store, false);
    store.close().await;
    result.map_err(CliError::from)
}
