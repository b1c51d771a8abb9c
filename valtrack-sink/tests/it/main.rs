//! valtrack-sink integration tests (one binary, as house style asks).

mod fixtures;
mod jsonl_channel_fanout;
mod nats;
mod nats_harness;
mod parquet;
mod python;
