//! `valtrack report`: the Parquet tables as one self-contained HTML page of charts.

use std::path::PathBuf;

use clap::Args;
use valtrack::report::Window;

use super::progress::ProgressLine;
use super::CliError;

#[derive(Debug, Args)]
pub(crate) struct ReportArgs {
    /// Directory of the Parquet tables (as given to `run` or `consumer`).
    #[arg(
        long,
        default_value = valtrack::sink::store::DEFAULT_DATA_DIR,
        env = "VALTRACK_DATA_DIR"
    )]
    pub(crate) data_dir: PathBuf,
    /// Only events at or after this time (RFC 3339, e.g. 2026-12-03T10:00:00Z, or unix ms).
    #[arg(long, value_parser = parse_time)]
    pub(crate) from: Option<i64>,
    /// Only events at or before this time (RFC 3339 or unix ms).
    #[arg(long, value_parser = parse_time)]
    pub(crate) to: Option<i64>,
    /// The HTML file to write.
    #[arg(long, short = 'o', default_value = "report.html")]
    pub(crate) out: PathBuf,
}

/// RFC 3339 (a date alone means its midnight UTC) or unix milliseconds.
fn parse_time(s: &str) -> Result<i64, String> {
    if let Ok(ms) = s.parse::<i64>() {
        return Ok(ms);
    }
    let with_time = if s.len() == 10 {
        format!("{s}T00:00:00Z")
    } else {
        s.to_owned()
    };
    let t = humantime::parse_rfc3339_weak(&with_time)
        .map_err(|e| format!("`{s}`: {e} (use RFC 3339, e.g. 2026-12-03T10:00:00Z, or unix ms)"))?;
    let ms = t
        .duration_since(std::time::UNIX_EPOCH)
        .map_err(|_| format!("`{s}` is before 1970"))?
        .as_millis();
    i64::try_from(ms).map_err(|_| format!("`{s}` is too far ahead"))
}

pub(crate) fn run(args: ReportArgs) -> Result<(), CliError> {
    let window = Window {
        from: args.from.unwrap_or(i64::MIN),
        to: args.to.unwrap_or(i64::MAX),
    };
    if window.from > window.to {
        return Err(CliError("--from is after --to".into()));
    }
    let mut line = ProgressLine::new();
    let mut progress = |table: &str, rows: u64| line.show(&format!("reading {table}: {rows} rows"));
    let data = valtrack::report::write(&args.data_dir, window, &args.out, &mut progress)?;
    line.clear();
    let rows: u64 = data.rows.iter().map(|(_, n)| n).sum();
    tracing::info!(
        target: "valtrack",
        out = %args.out.display(),
        rows,
        nodes = data.nodes_discovered,
        peers = data.peers_handshaken,
        "report written"
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::parse_time;

    #[test]
    fn times_are_rfc3339_dates_or_unix_ms() {
        assert_eq!(parse_time("1700000000000"), Ok(1_700_000_000_000));
        assert_eq!(parse_time("1970-01-02"), Ok(86_400_000));
        assert_eq!(parse_time("1970-01-01T00:00:01Z"), Ok(1000));
        assert!(parse_time("yesterday").unwrap_err().contains("RFC 3339"));
    }
}
