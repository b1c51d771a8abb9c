//! A progress line on a terminal: redrawn in place on standard error, cleared before each
//! log line; nothing at all when standard error is not a terminal (logs stay plain lines).

use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Whether a progress line may be on screen now (log lines clear it first).
static SHOWN: AtomicBool = AtomicBool::new(false);

/// Erases the current terminal line.
const CLEAR: &[u8] = b"\r\x1b[2K";

/// How often the line is redrawn at most.
const REDRAW: Duration = Duration::from_millis(200);

/// Standard error for log lines: clears a progress line before the first write of each
/// line.
#[derive(Debug)]
pub(crate) struct LogWriter {
    cleared: bool,
}

pub(crate) fn log_writer() -> LogWriter {
    LogWriter { cleared: false }
}

impl Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let mut err = std::io::stderr().lock();
        if !self.cleared {
            self.cleared = true;
            if SHOWN.swap(false, Ordering::Relaxed) {
                err.write_all(CLEAR)?;
            }
        }
        err.write(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

/// One line of progress, shown only on a terminal.
#[derive(Debug)]
pub(crate) struct ProgressLine {
    on: bool,
    last: Option<Instant>,
}

impl ProgressLine {
    pub(crate) fn new() -> Self {
        Self {
            on: std::io::stderr().is_terminal(),
            last: None,
        }
    }

    /// Shows `text` (at most every 200 ms).
    pub(crate) fn show(&mut self, text: &str) {
        if !self.on || self.last.is_some_and(|t| t.elapsed() < REDRAW) {
            return;
        }
        self.last = Some(Instant::now());
        let mut err = std::io::stderr().lock();
        let _ = err.write_all(CLEAR);
        let _ = err.write_all(text.as_bytes());
        let _ = err.flush();
        SHOWN.store(true, Ordering::Relaxed);
    }

    /// Removes the line.
    pub(crate) fn clear(&mut self) {
        if self.on && SHOWN.swap(false, Ordering::Relaxed) {
            let _ = std::io::stderr().write_all(CLEAR);
        }
    }
}

/// Redraws `text()` every second until aborted (on a terminal only).
pub(crate) fn spawn_progress(
    text: impl Fn() -> String + Send + 'static,
) -> Option<tokio::task::JoinHandle<()>> {
    let mut line = ProgressLine::new();
    if !line.on {
        return None;
    }
    Some(tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_secs(1));
        loop {
            every.tick().await;
            line.last = None;
            line.show(&text());
        }
    }))
}

/// The crawl and handshake counts of a running sentry, for its progress line.
pub(crate) fn sentry_progress<S: valtrack::core::EventSink>(
    service: &valtrack::sentry::SentryService<S>,
) -> impl Fn() -> String + Send + 'static {
    use std::sync::atomic::Ordering::Relaxed;
    let (stats, crawler) = (service.stats(), service.crawler().clone());
    move || {
        let c = crawler.stats();
        format!(
            "dht nodes {} · peers {} · handshakes ok {} failed {} · attestations {} · events {}",
            c.known,
            stats.peers.load(Relaxed),
            stats.handshakes_ok.load(Relaxed),
            stats.handshakes_failed.load(Relaxed),
            stats.attestations.load(Relaxed),
            stats.events.load(Relaxed),
        )
    }
}
