//! valtrack-sink integration tests (one binary, as house style asks).

mod derive;
mod fixtures;
mod fuzz_corpus;
mod jsonl_channel_fanout;
#[cfg(feature = "nats")]
mod nats;
#[cfg(feature = "nats")]
mod nats_harness;
mod parquet;
mod python;
mod storage_faults;
#[cfg(feature = "api")]
mod store;
