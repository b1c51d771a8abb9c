//! `valtrack run`: the sentry writing the tables under `--data-dir`, in one process, no NATS.

use clap::Args;

use super::args::{CrawlArgs, StoreArgs};
use super::{shutdown_signal, spawn_reporter, target, CliError};

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
    let (store, sink) = args.store.open(target.network.clone()).await?;
    let service = target::sentry_service(&crawl, &target, sink).await?;
    tracing::info!(target: "valtrack", data_dir = %store.data_dir().display(), "writing Parquet tables and the tracker store");
    let summary = service.summary();
    let reporter = {
        let summary = service.summary();
        let counts = store.count_reader();
        let dir = store.data_dir().to_owned();
        spawn_reporter(move || {
            format!(
                "{}; rows written to {}: {}",
                summary(),
                dir.display(),
                counts().total()
            )
        })
    };
    let result = service
        .run(shutdown_signal(crawl.duration.map(|d| d.0)))
        .await;
    reporter.abort();
    drop(target);
    let written = format!(
        "written to {}: {}",
        store.data_dir().display(),
        store.counts()
    );
    store.close().await;
    tracing::info!(target: "valtrack", "stopped: {}; {written}", summary());
    result.map_err(CliError::from)
}
