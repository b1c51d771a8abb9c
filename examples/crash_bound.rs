//! What a crash costs a journaled Parquet sink (`valtrack run`'s tables): writes events at a
//! steady rate and prints the count accepted after each one; `kill -9` it, then run it again
//! with `--recover` to publish the journals it left and print the rows on disk.
//! `scripts/crash-bound.sh` does both at several rates and prints the table.
//!
//! ```sh
//! cargo run --release --example crash_bound -- DIR 3000      # until killed
//! cargo run --release --example crash_bound -- DIR --recover # rows on disk
//! ```

use std::io::Write;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use valtrack::core::{Event, EventSink};
use valtrack::sink::{ParquetSink, ParquetSinkConfig};

fn event(n: u64) -> Event {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    let json = format!(
        r#"{{"kind":"discovery","event_id":"{n:032x}","crawler_id":"c1","crawler_location":"eu",
          "timestamp":{now},"peer_id":"16Uiu2HAm4oaDUR2JCEyotxAs7eEVkCVJffoBKiTs8So4HkERrdpW",
          "node_id":"ef4cf7caa876063f4b8a8d1dad0f58fe9cd0ce945abba6b85dbf31c5fac98269","enr":null,
          "reason":"first_seen","seq":{n},"class":"no_eth2","attnets":[3,4]}}"#
    );
    Event::from_json(json.as_bytes()).expect("the template is an event")
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let usage = "usage: crash_bound DIR (EVENTS_PER_SECOND | --recover)";
    let dir = args.get(1).ok_or(usage)?;
    let mode = args.get(2).ok_or(usage)?;
    // As `valtrack run` opens its tables.
    let config = ParquetSinkConfig::builder(dir)
        .journal(true)
        .max_file_age(valtrack::sink::store::DEFAULT_MAX_FILE_AGE)
        .build()?;
    let sink = ParquetSink::open(config)?;
    if mode == "--recover" {
        sink.flush().await?;
        println!("{}", sink.stats().published_total());
        sink.close().await?;
        return Ok(());
    }
    let rate: f64 = mode.parse().map_err(|_| usage)?;
    let start = Instant::now();
    let mut stdout = std::io::stdout();
    for n in 1u64.. {
        let due = start + Duration::from_secs_f64(n as f64 / rate);
        tokio::time::sleep_until(due.into()).await;
        sink.send(event(n)).await?;
        // One write per line: a kill never leaves half a count.
        stdout.write_all(format!("{n}\n").as_bytes())?;
    }
    Ok(())
}
