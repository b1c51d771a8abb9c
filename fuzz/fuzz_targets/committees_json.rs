#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| valtrack_core::fuzz::committees_json(data));
