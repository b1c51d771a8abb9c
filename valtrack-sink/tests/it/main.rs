//! valtrack-sink integration tests (one binary, as house style asks).

mod derive;
mod fixtures;
mod jsonl_channel_fanout;
mod parquet;
mod python;
