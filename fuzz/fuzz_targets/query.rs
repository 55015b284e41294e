//! Query, compare and events specs against a fixed demo dataset; see `sightline::fuzzing::query`.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| sightline::fuzzing::query(data));
