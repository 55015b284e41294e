//! Replays the fuzz corpora and the minimized crashers through the fuzz targets' own
//! harnesses (`fuzz/harness.rs`, included here by path), natively and without libFuzzer, so every input the
//! fuzzer kept (fuzz/corpus/<target>/) and every crash it found (fuzz/regressions/<target>/)
//! runs in CI. A panic here is a regression.
//!
//! `cargo test --test fuzz_corpus -- --ignored write_seeds` (re)writes the seed inputs
//! the corpora started from (demo streams, the arrow-testing golden streams, specs).

use std::path::{Path, PathBuf};
use std::time::Instant;

use sightline::demo::{self, Compression, DemoOptions};

const FUZZ: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fuzz");

/// Most bytes one input may have allocated at once (libFuzzer's limit is 2 GiB of RSS;
/// the engine runs in wasm32's 4 GiB). A query over the fuzz targets' 2,000 demo rows
/// once allocated a 1.5 GB grid (fuzz/regressions/query/rate-grid-oom-*).
const MAX_PEAK_BYTES: u64 = 256 << 20;

#[path = "../fuzz/harness.rs"]
mod fuzzing;

#[path = "common/counting_alloc.rs"]
mod counting_alloc;
use counting_alloc::{LIVE, PEAK};

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = match std::fs::read_dir(dir) {
        Ok(entries) => entries.flatten().map(|e| e.path()).filter(|p| p.is_file()).collect(),
        Err(_) => Vec::new(),
    };
    out.sort();
    out
}

fn replay(target: &str, run: fn(&[u8])) {
    // The harnesses' fixed dataset is built once, outside any input's measure.
    fuzzing::query(&[]);
    let _ = fuzzing::query_dataset();
    let started = Instant::now();
    let (mut n, mut most) = (0, (0u64, PathBuf::new()));
    for sub in ["corpus", "regressions"] {
        for path in files(&Path::new(FUZZ).join(sub).join(target)) {
            let bytes = std::fs::read(&path).unwrap();
            let base = LIVE.with(|l| l.get());
            PEAK.with(|p| p.set(base));
            let result = std::panic::catch_unwind(|| run(&bytes));
            let peak = (PEAK.with(|p| p.get()) - base).max(0) as u64;
            assert!(result.is_ok(), "{target}: {} panicked", path.display());
            assert!(peak <= MAX_PEAK_BYTES, "{target}: {} allocated {peak} bytes at once", path.display());
            if peak > most.0 {
                most = (peak, path);
            }
            n += 1;
        }
    }
    println!(
        "{target}: replayed {n} inputs in {:.2?}; most allocated at once: {} bytes ({})",
        started.elapsed(),
        most.0,
        most.1.display()
    );
    assert!(n > 0, "no inputs for {target} under {FUZZ}");
}

#[test]
fn push_corpus_and_regressions() {
    replay("push", fuzzing::push);
}

#[test]
fn query_corpus_and_regressions() {
    replay("query", fuzzing::query);
}

/// Chunkings the push seeds start with: (count byte, size bytes).
const CHUNKINGS: [&[u8]; 3] = [&[0, 0xff], &[2, 7, 0x85, 0], &[0, 63]];

#[test]
#[ignore = "writes the seed inputs into fuzz/seeds/"]
fn write_seeds() {
    let push = Path::new(FUZZ).join("seeds/push");
    let query = Path::new(FUZZ).join("seeds/query");
    std::fs::create_dir_all(&push).unwrap();
    std::fs::create_dir_all(&query).unwrap();
    let mut streams: Vec<(String, Vec<u8>)> = Vec::new();
    for (rows, batch_rows) in [(1, 1), (10, 4), (100, 40), (600, 250)] {
        for (name, c) in [("none", Compression::None), ("lz4", Compression::Lz4), ("zstd", Compression::Zstd)] {
            let opts = DemoOptions { rows, batch_rows, ..Default::default() };
            let bytes = demo::write_ipc(&opts, c, Vec::new(), |_| Ok(())).unwrap();
            streams.push((format!("demo-{rows}-{name}"), bytes));
        }
    }
    let golden = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/arrow-testing");
    let mut stack = vec![golden];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "stream") && e.metadata().unwrap().len() <= 64 << 10 {
                let parent = p.parent().unwrap().file_name().unwrap().to_string_lossy().into_owned();
                let stem = p.file_stem().unwrap().to_string_lossy().into_owned();
                streams.push((format!("golden-{parent}-{stem}"), std::fs::read(&p).unwrap()));
            }
        }
    }
    for (i, (name, bytes)) in streams.iter().enumerate() {
        let mut input = CHUNKINGS[i % CHUNKINGS.len()].to_vec();
        input.extend_from_slice(bytes);
        std::fs::write(push.join(name), input).unwrap();
    }
    let specs: [(u8, &str); 12] = [
        (0, "{}"),
        (
            0,
            r#"{"calculations":[{"op":"P99","column":"duration_ms"},{"op":"HEATMAP","column":"duration_ms"}],"breakdowns":["endpoint"],"time_range":3600}"#,
        ),
        (
            0,
            r#"{"calculations":[{"op":"COUNT"},{"op":"AVG","column":"db_calls"}],"filters":[{"column":"status_code","op":">=","value":500},{"column":"endpoint","op":"in","value":["/api/v2/search","/health"]}],"filter_combination":"OR","breakdowns":["region","build_id"],"orders":[{"op":"COUNT","order":"descending"}],"havings":[{"calculate_op":"COUNT","op":">","value":2}],"limit":5}"#,
        ),
        (
            0,
            r#"{"calculations":[{"op":"CONCURRENCY"},{"op":"RATE_SUM","column":"response_bytes"},{"op":"COUNT_DISTINCT","column":"customer_id"}],"granularity":600,"heatmap":{"value_buckets":10,"scale":"linear"}}"#,
        ),
        (
            0,
            r#"{"filters":[{"column":"error","op":"exists"},{"column":"customer_id","op":"starts-with","value":"cust_0"}],"breakdowns":["cache_hit"],"disable_series":true}"#,
        ),
        (1, r#"{"selection":{"filters":[{"column":"duration_ms","op":">","value":1000}]}}"#),
        (
            1,
            r#"{"scope":{"time_range":86400},"selection":{"start_time":1793480000,"end_time":1793490000},"baseline":{"period":3600},"top":3,"min_count":2,"alpha":0.1}"#,
        ),
        (1, r#"{"selection":{},"dimensions":["endpoint","plan"],"measures":["duration_ms"]}"#),
        (2, r#"{"limit":5,"order":"oldest","columns":["timestamp","endpoint","error"]}"#),
        (2, r#"{"filters":[{"column":"status_code","op":"=","value":503}],"offset":3,"time_range":7200}"#),
        (3, "\u{0}\u{1}\u{2}\u{3}\u{4}\u{5}\u{6}\u{7}\u{8}\u{9}"),
        (3, "\u{2}\u{1}\u{3}\u{7}\u{1}\u{1}\u{2}\u{5}\u{9}\u{0}\u{1}\u{4}\u{3}\u{3}\u{1}\u{0}\u{2}"),
    ];
    for (i, (sel, text)) in specs.iter().enumerate() {
        let mut input = vec![*sel];
        input.extend_from_slice(text.as_bytes());
        std::fs::write(query.join(format!("seed-{i:02}")), input).unwrap();
    }
    println!("{} push seeds, {} query seeds", streams.len(), specs.len());
}
