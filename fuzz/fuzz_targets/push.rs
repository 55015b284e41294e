//! The push decoder with random chunking; see `sightline::fuzzing::push`.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| sightline::fuzzing::push(data));
