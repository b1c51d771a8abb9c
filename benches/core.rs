//! Benchmarks of valtrack-core hot paths (filled in below).
fn main() {}
