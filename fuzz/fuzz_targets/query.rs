//! Query, compare and events specs against a fixed demo dataset; see `harness::query`.
#![no_main]
#[path = "../harness.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::query(data));
