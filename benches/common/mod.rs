//! What the benches share: this process's RSS and CPU time, and the regression guard that
//! compares a run's figures with the ones committed in `benches/baseline.json`.
//!
//! `VALTRACK_BENCH_GUARD=check cargo bench --bench crawl` prints each guarded figure beside
//! the committed one with their ratio and exits with status 1 when one is worse than its
//! tolerance allows; `VALTRACK_BENCH_GUARD=write` records this run's figures as the new
//! baseline (commit the file with the change that moved them). `VALTRACK_BENCH_BASELINE`
//! names another file. Guarded figures are costs (CPU, memory, requests, time): larger is
//! worse, and only "larger by more than the tolerance" fails; each figure's name carries the
//! size it was measured at, so a run at other sizes is compared with nothing.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

/// Resident set size of this process, in bytes (Linux).
pub(crate) fn rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .unwrap_or(0)
        * 1024
}

/// User + system CPU time of this process so far (Linux `/proc/self/stat`, ticks of 10 ms).
pub(crate) fn cpu() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // The command name (in parentheses) may hold spaces: count fields after the last ')'.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    // utime and stime are fields 14 and 15 of the line: 12 and 13 after the name.
    Duration::from_millis((ticks(11) + ticks(12)) * 10)
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Mode {
    Off,
    Check,
    Write,
}

/// One figure of a run.
struct Figure {
    name: String,
    value: f64,
    /// The worst ratio now/committed that still passes.
    tolerance: f64,
}

/// Collects a bench's guarded figures; [`Guard::finish`] compares or records them.
pub(crate) struct Guard {
    bench: &'static str,
    mode: Mode,
    path: PathBuf,
    figures: Vec<Figure>,
}

type Baseline = BTreeMap<String, BTreeMap<String, serde_json::Value>>;

impl Guard {
    /// The guard of bench `bench`, in the mode `VALTRACK_BENCH_GUARD` asks for (off when
    /// unset). An unknown mode is an error, not a silent pass.
    pub(crate) fn from_env(bench: &'static str) -> Self {
        let mode = match std::env::var("VALTRACK_BENCH_GUARD").as_deref() {
            Err(_) | Ok("") | Ok("off") => Mode::Off,
            Ok("check") => Mode::Check,
            Ok("write") => Mode::Write,
            Ok(other) => {
                eprintln!("VALTRACK_BENCH_GUARD={other}: expected check, write or off");
                std::process::exit(2);
            }
        };
        let path = std::env::var_os("VALTRACK_BENCH_BASELINE")
            .map(PathBuf::from)
            .unwrap_or_else(|| {
                PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("benches/baseline.json")
            });
        Self {
            bench,
            mode,
            path,
            figures: Vec::new(),
        }
    }

    /// Records `value` of figure `name` (a cost: larger is worse); a check fails when it is
    /// more than `tolerance` times the committed one.
    pub(crate) fn figure(&mut self, name: impl Into<String>, value: f64, tolerance: f64) {
        self.figures.push(Figure {
            name: name.into(),
            value,
            tolerance,
        });
    }

    fn load(&self) -> Baseline {
        match std::fs::read_to_string(&self.path) {
            Ok(text) => serde_json::from_str(&text).unwrap_or_else(|e| {
                eprintln!("{}: not a baseline file: {e}", self.path.display());
                std::process::exit(2);
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Baseline::new(),
            Err(e) => {
                eprintln!("{}: {e}", self.path.display());
                std::process::exit(2);
            }
        }
    }

    /// Prints the comparison and exits with status 1 on a regression (check), or writes the
    /// figures into the baseline file (write). Does nothing when the guard is off.
    pub(crate) fn finish(self) {
        match self.mode {
            Mode::Off => {}
            Mode::Write => {
                let mut baseline = self.load();
                let entry = baseline.entry(self.bench.to_string()).or_default();
                for f in &self.figures {
                    entry.insert(
                        f.name.clone(),
                        serde_json::json!({ "value": round(f.value), "tolerance": f.tolerance }),
                    );
                }
                let text = serde_json::to_string_pretty(&baseline).expect("baseline to JSON");
                if let Err(e) = std::fs::write(&self.path, text + "\n") {
                    eprintln!("{}: {e}", self.path.display());
                    std::process::exit(2);
                }
                println!(
                    "\n{} figures of `{}` written to {}",
                    self.figures.len(),
                    self.bench,
                    self.path.display()
                );
            }
            Mode::Check => {
                let baseline = self.load();
                let committed = baseline.get(self.bench);
                println!(
                    "\nRegression guard: `{}` against {}\n",
                    self.bench,
                    self.path.display()
                );
                println!("| figure | committed | now | ratio | allowed | verdict |");
                println!("|---|---|---|---|---|---|");
                let mut failed = 0;
                for f in &self.figures {
                    let base = committed
                        .and_then(|c| c.get(&f.name))
                        .and_then(|v| v.get("value"))
                        .and_then(serde_json::Value::as_f64);
                    match base {
                        Some(base) => {
                            let ratio = match (base > 0.0, f.value > 0.0) {
                                (true, _) => f.value / base,
                                (false, false) => 1.0,
                                (false, true) => f64::INFINITY,
                            };
                            let ok = f.value <= base || ratio <= f.tolerance;
                            failed += usize::from(!ok);
                            println!(
                                "| {} | {} | {} | {:.2} | ≤ {:.2} | {} |",
                                f.name,
                                round(base),
                                round(f.value),
                                ratio,
                                f.tolerance,
                                if ok { "ok" } else { "REGRESSION" }
                            );
                        }
                        None => println!(
                            "| {} | — | {} | — | — | nothing committed |",
                            f.name,
                            round(f.value)
                        ),
                    }
                }
                if failed > 0 {
                    eprintln!("{failed} figure(s) regressed beyond their tolerance");
                    std::process::exit(1);
                }
            }
        }
    }
}

/// Four significant digits: baselines should not pretend to more.
fn round(v: f64) -> f64 {
    if v == 0.0 || !v.is_finite() {
        return v;
    }
    let scale = 10f64.powi(3 - v.abs().log10().floor() as i32);
    (v * scale).round() / scale
}
