#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| valtrack_fuzz::ssz_differential(data));
