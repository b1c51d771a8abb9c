//! Argument parsing and wiring for the `valtrack` binary: one module per command over the
//! library's entry points (`SentryService`, `Store`, `Consumer`).

mod args;
mod consumer;
mod metrics;
mod progress;
mod report;
mod run;
mod sentry;
mod sim;
mod target;

use std::process::ExitCode;
use std::time::Duration;

use clap::parser::ValueSource;
use clap::{ArgMatches, CommandFactory, FromArgMatches, Parser, Subcommand};

/// The default `--log-level`.
const DEFAULT_LOG_LEVEL: &str = "info";

/// Log targets kept quieter than the level asked for, unless the filter names them.
const QUIETER: [(&str, &str); 3] = [
    ("discv5", "error"),
    ("libp2p_swarm", "warn"),
    // Peers misbehaving towards us in gossip (grafting within backoff: 816 lines in 15 min
    // with --attestations, expected as we keep out of meshes) are not the user's to act on.
    ("libp2p_gossipsub", "error"),
];

/// How often the summary line is logged.
const SUMMARY_EVERY: Duration = Duration::from_secs(10);

/// valtrack - Ethereum consensus validator tracking tool
#[derive(Debug, Parser)]
#[command(
    name = "valtrack",
    version,
    about = "valtrack - Ethereum consensus validator tracking tool"
)]
pub(crate) struct Cli {
    /// Log level: error, warn, info, debug, trace (or a tracing filter such as
    /// `info,valtrack::crawler=debug`).
    #[arg(
        short = 'l',
        long,
        global = true,
        default_value = DEFAULT_LOG_LEVEL,
        env = "VALTRACK_LOG_LEVEL"
    )]
    log_level: String,
    #[arg(
        short = 'n',
        long = "nats-url",
        value_name = "NATS_URL",
        value_parser = args::parse_nats_url,
        help = format!(
            "NATS server URL (the server needs JetStream), for `sentry` and `consumer`; also \
             accepted after them [env: VALTRACK_NATS_URL] [default: {}]",
            valtrack::sink::DEFAULT_NATS_URL
        )
    )]
    nats_url_before: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Crawl discv5, handshake every beacon node and emit discovery and metadata events.
    Sentry(sentry::SentryArgs),
    /// Read events from NATS JetStream into Parquet tables (durable consumer, deduplicated).
    Consumer(consumer::ConsumerArgs),
    /// Sentry and storage in one process, no NATS: Parquet tables under --data-dir.
    Run(run::RunArgs),
    /// Write an HTML report with charts of what the Parquet tables under --data-dir hold.
    Report(report::ReportArgs),
    /// Run a simulated beacon network alone on loopback, for sentries in other processes:
    /// writes its network directory (crawl it with `--network DIR --genesis-time T`).
    Sim(sim::SimArgs),
}

/// A one-line user error.
#[derive(Debug)]
pub(crate) struct CliError(pub(crate) String);

impl<E: std::error::Error> From<E> for CliError {
    fn from(e: E) -> Self {
        let mut msg = e.to_string().trim_end_matches([':', ' ']).to_owned();
        let mut source = e.source();
        while let Some(s) = source {
            // libp2p's errors often repeat their source in their own text, or say nothing.
            let text = s.to_string();
            let text = text.trim_end_matches([':', ' ']);
            if !text.is_empty() && !msg.contains(text) {
                msg.push_str(": ");
                msg.push_str(text);
            }
            source = s.source();
        }
        Self(msg)
    }
}

/// Completes after `duration`, or at Ctrl-C (SIGINT). From then on a second Ctrl-C exits at
/// once (status 130) instead of waiting for the writes in progress, e.g. to a database that
/// is down; a consumer loses nothing by it (what those writes held was not acknowledged).
/// The signals are watched from now on by a task of their own, so they count even while
/// the caller is busy (a consumer waiting for its store does not poll this future).
pub(crate) fn shutdown_signal(duration: Option<Duration>) -> impl std::future::Future<Output = ()> {
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        match duration {
            Some(d) => {
                tokio::select! {
                    _ = tokio::time::sleep(d) => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            None => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
        let _ = tx.send(());
        if tokio::signal::ctrl_c().await.is_ok() {
            tracing::warn!(
                target: "valtrack",
                "second Ctrl-C: exiting without waiting for the writes in progress; what they \
                 held is not written (a consumer's messages were not acknowledged: JetStream \
                 delivers them again)"
            );
            std::process::exit(130);
        }
    });
    async move {
        let _ = rx.await;
    }
}

/// How long without a successful handshake before the CLI says why.
const STALL_AFTER: Duration = Duration::from_secs(60);

/// After [`STALL_AFTER`] and then every 5 minutes, while `hint()` says the sentry is stuck,
/// warns with the hint; until aborted.
pub(crate) fn spawn_stall_watch(
    hint: impl Fn() -> Option<String> + Send + 'static,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        tokio::time::sleep(STALL_AFTER).await;
        loop {
            match hint() {
                Some(why) => {
                    tracing::warn!(target: "valtrack", "no handshake has succeeded yet: {why}")
                }
                None => return,
            }
            tokio::time::sleep(STALL_AFTER * 5).await;
        }
    })
}

/// Logs `summary()` every [`SUMMARY_EVERY`] until aborted.
pub(crate) fn spawn_reporter(
    summary: impl Fn() -> String + Send + 'static,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(SUMMARY_EVERY);
        every.tick().await;
        loop {
            every.tick().await;
            tracing::info!(target: "valtrack", "{}", summary());
        }
    })
}

/// Whether the subcommand's `--nats-url` came from the command line or the environment
/// (not its default).
fn nats_url_given(matches: &ArgMatches) -> bool {
    matches.subcommand().is_some_and(|(_, sub)| {
        sub.try_contains_id("nats_url").unwrap_or(false)
            && !matches!(
                sub.value_source("nats_url"),
                None | Some(ValueSource::DefaultValue)
            )
    })
}

/// Sets up logging; `None` when the filter is invalid (reported).
fn init_logging(level: &str) -> Option<()> {
    // discv5 warns about every late reply, which a crawler sees all the time, and
    // libp2p_swarm logs its peer id at info once per host (once per simulated node): keep
    // them quieter unless the filter names them.
    let mut directives = level.to_owned();
    for (target, quiet) in QUIETER {
        if !level.contains(target) {
            directives.push_str(&format!(",{target}={quiet}"));
        }
    }
    let filter = match tracing_subscriber::EnvFilter::try_new(&directives) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("error: invalid --log-level `{level}`: {e}");
            return None;
        }
    };
    // Colours only on a terminal (not in log files), and never with NO_COLOR set.
    let colour = std::io::IsTerminal::is_terminal(&std::io::stderr())
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(progress::log_writer)
        .with_ansi(colour)
        .init();
    Some(())
}

pub(crate) fn main() -> ExitCode {
    let matches = Cli::command().get_matches();
    let mut given = nats_url_given(&matches);
    let mut cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    // `valtrack -n URL sentry|consumer` (the flag before the command) is the same as after it.
    if let Some(url) = cli.nats_url_before.take() {
        let nats = match &mut cli.command {
            Command::Sentry(a) => &mut a.nats,
            Command::Consumer(a) => &mut a.nats,
            Command::Run(_) | Command::Report(_) | Command::Sim(_) => {
                let which = match cli.command {
                    Command::Run(_) => "run",
                    Command::Report(_) => "report",
                    _ => "sim",
                };
                let mut cmd = Cli::command();
                cmd.error(
                    clap::error::ErrorKind::ArgumentConflict,
                    format!("--nats-url is for `sentry` and `consumer`: `{which}` uses no NATS"),
                )
                .exit()
            }
        };
        nats.nats_url = url;
        given = true;
    }
    if init_logging(&cli.log_level).is_none() {
        return ExitCode::from(2);
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Sentry(args) => sentry::run(args, given).await,
            Command::Consumer(args) => consumer::run(args).await,
            Command::Run(args) => run::run(args).await,
            Command::Report(args) => report::run(args),
            Command::Sim(args) => sim::run(args).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(CliError(msg)) => {
            eprintln!("error: {msg}");
            ExitCode::FAILURE
        }
    }
}
