//! Differential checks that need crates the fuzzers use and the library does not.

#[path = "../../valtrack-core/tests/common/ssz_mirror.rs"]
mod ssz_mirror;

pub use ssz_mirror::ssz_differential;
