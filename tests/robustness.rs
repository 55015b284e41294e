//! "No byte sequence makes the engine panic; an error names the byte offset; every batch
//! completed before the fault stays loaded."
//!
//! Truncation at every byte offset, seeded corruption, hostile headers, garbage, and
//! streams appended after `finish()`.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::{ArrayRef, Int64Array, RecordBatch, StringArray};
use arrow_ipc::writer::StreamWriter;
use arrow_ipc::MessageHeader;
use arrow_schema::{DataType, Field, Schema};
use sightline::column::{Column, ColumnData};
use sightline::demo::{write_ipc, Compression, DemoOptions};
use sightline::{Dataset, Error};

const TESTING: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/arrow-testing");

// ---------------------------------------------------------------------------------
// Helpers.

/// A tiny xorshift64 generator, so that every corruption case is reproducible by seed.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// One framed message of a stream, as read independently of the engine.
#[derive(Debug, Clone, Copy)]
struct Msg {
    start: usize,
    /// End of the prefix and metadata (where the body starts).
    meta_end: usize,
    end: usize,
    kind: MessageHeader,
    /// Rows, for record batches.
    rows: usize,
}

/// Splits a valid stream into its messages (the end-of-stream marker is a message of
/// kind `NONE`).
fn frames(bytes: &[u8]) -> Vec<Msg> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let word = |i: usize| i32::from_le_bytes(bytes[i..i + 4].try_into().unwrap());
        let (prefix, len) = if word(at) == -1 { (8, word(at + 4)) } else { (4, word(at)) };
        if len == 0 {
            out.push(Msg { start: at, meta_end: at + prefix, end: at + prefix, kind: MessageHeader::NONE, rows: 0 });
            at += prefix;
            continue;
        }
        let meta_end = at + prefix + len as usize;
        let m = arrow_ipc::root_as_message(&bytes[at + prefix..meta_end]).expect("valid test stream");
        let rows = m.header_as_record_batch().map_or(0, |b| b.length() as usize);
        let end = meta_end + m.bodyLength() as usize;
        out.push(Msg { start: at, meta_end, end, kind: m.header_type(), rows });
        at = end;
    }
    assert_eq!(at, bytes.len(), "test stream does not end on a message boundary");
    out
}

/// Rows of the record batches wholly inside `bytes[..cut]`.
fn rows_before(msgs: &[Msg], cut: usize) -> usize {
    msgs.iter().filter(|m| m.end <= cut && m.kind == MessageHeader::RecordBatch).map(|m| m.rows).sum()
}

/// One value of a column, for comparing loads.
#[derive(Debug, Clone, PartialEq)]
enum Val {
    Null,
    I(i64),
    U(u64),
    F(u64),
    B(u8),
    S(Option<String>),
    Other,
}

fn val(c: &Column, i: usize) -> Val {
    if c.is_null(i) && !matches!(c.data, ColumnData::Other) {
        return Val::Null;
    }
    match &c.data {
        ColumnData::Time { values, .. } | ColumnData::Int(values) => Val::I(values[i]),
        ColumnData::UInt(v) => Val::U(v[i]),
        ColumnData::Float(v) => Val::F(v[i].to_bits()),
        ColumnData::Bool(v) => Val::B(v[i]),
        ColumnData::Str(s) => Val::S(s.get(i).map(str::to_string)),
        ColumnData::Other => Val::Other,
    }
}

/// Every column holds exactly `row_count` rows, in its values as in its validity.
fn check_consistent(ds: &Dataset) -> Result<(), String> {
    let rows = ds.row_count();
    for c in ds.columns() {
        let data = match &c.data {
            ColumnData::Time { values, .. } | ColumnData::Int(values) => Some(values.len()),
            ColumnData::UInt(v) => Some(v.len()),
            ColumnData::Float(v) => Some(v.len()),
            ColumnData::Bool(v) => Some(v.len()),
            ColumnData::Str(s) => Some(s.len()),
            ColumnData::Other => None,
        };
        if c.len() != rows || data.is_some_and(|d| d != rows) {
            return Err(format!("column \"{}\": len {} / {data:?} values, row_count {rows}", c.name, c.len()));
        }
        if let Some((codes, dict)) = match &c.data {
            ColumnData::Str(s) => s.dictionary(),
            _ => None,
        } {
            if let Some(bad) = codes.iter().find(|k| **k != 0 && dict.get(**k).is_none()) {
                return Err(format!("column \"{}\": code {bad} is not in its dictionary", c.name));
            }
        }
        if let ColumnData::Bool(v) = &c.data {
            if let Some(bad) = v.iter().find(|b| **b > 2) {
                return Err(format!("column \"{}\": bool byte {bad}", c.name));
            }
        }
    }
    Ok(())
}

/// The first `n` rows of `ds` equal those of `reference` (rows `skip..skip + n` of it).
fn same_rows(ds: &Dataset, reference: &Dataset, skip: usize, n: usize) -> Result<(), String> {
    if n == 0 {
        return Ok(());
    }
    if ds.columns().len() != reference.columns().len() {
        return Err(format!("{} columns, the reference has {}", ds.columns().len(), reference.columns().len()));
    }
    for (a, b) in ds.columns().iter().zip(reference.columns()) {
        if a.name != b.name || a.arrow_type != b.arrow_type {
            return Err(format!("column \"{}\" {} vs reference \"{}\" {}", a.name, a.arrow_type, b.name, b.arrow_type));
        }
        for i in 0..n {
            let (x, y) = (val(a, i), val(b, skip + i));
            if x != y {
                return Err(format!("column \"{}\" row {i}: {x:?}, the reference has {y:?}", a.name));
            }
        }
    }
    Ok(())
}

fn load_whole(bytes: &[u8]) -> Dataset {
    let mut ds = Dataset::new();
    ds.push(bytes).expect("reference stream loads");
    ds.finish().expect("reference stream finishes");
    check_consistent(&ds).expect("reference stream is consistent");
    ds
}

fn panic_message(p: Box<dyn std::any::Any + Send>) -> String {
    p.downcast_ref::<String>().cloned().or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string())).unwrap_or_default()
}

fn demo(rows: usize, batch_rows: usize, compression: Compression) -> Vec<u8> {
    let opts = DemoOptions { rows, batch_rows, ..Default::default() };
    write_ipc(&opts, compression, Vec::new(), |_| Ok(())).expect("demo stream")
}

/// Small demo streams (a few batches each) plus the golden streams of other writers
/// (`../shared/arrow-testing`: every type the IPC format has, compressed bodies, shared
/// dictionaries).
fn corpus() -> Vec<(String, Vec<u8>)> {
    let mut out = vec![
        ("demo, uncompressed".to_string(), demo(130, 40, Compression::None)),
        ("demo, LZ4".to_string(), demo(160, 50, Compression::Lz4)),
        ("demo, ZSTD".to_string(), demo(240, 70, Compression::Zstd)),
    ];
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for p in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())).flatten().map(|e| e.path())
        {
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|e| e == "stream") {
                out.push(p);
            }
        }
    }
    let mut paths = Vec::new();
    walk(Path::new(TESTING), &mut paths);
    paths.sort();
    assert!(paths.len() >= 30, "expected the arrow-testing streams in {TESTING}");
    for p in paths {
        let name = p.strip_prefix(TESTING).unwrap_or(&p).display().to_string();
        out.push((name.trim_start_matches('/').to_string(), std::fs::read(&p).unwrap()));
    }
    out
}

/// Runs `f` on every item, on two threads, collecting the failures.
fn on_two_threads<T: Sync>(items: &[T], f: impl Fn(&T) -> Vec<String> + Sync) -> Vec<String> {
    let next = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|s| {
        let workers: Vec<_> = (0..2)
            .map(|_| {
                s.spawn(|| {
                    let mut failures = Vec::new();
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(item) = items.get(i) else { break };
                        failures.extend(f(item));
                    }
                    failures
                })
            })
            .collect();
        workers.into_iter().flat_map(|w| w.join().unwrap_or_else(|_| vec!["worker thread panicked".into()])).collect()
    })
}

fn report(what: &str, failures: &[String]) {
    assert!(
        failures.is_empty(),
        "{what}: {} failures, the first ones:\n{}",
        failures.len(),
        failures.iter().take(40).cloned().collect::<Vec<_>>().join("\n")
    );
}

// ---------------------------------------------------------------------------------
// Truncation.

/// Pushes `bytes[..cut]` in three odd chunks and checks what the prefix left loaded.
fn truncated(bytes: &[u8], msgs: &[Msg], reference: &Dataset, cut: usize, deep: bool) -> Result<(), String> {
    let prefix = &bytes[..cut];
    let a = (cut / 3) | 1;
    let b = a + ((cut.saturating_sub(a) / 2) | 1);
    let (a, b) = (a.min(cut), b.min(cut));
    let mut ds = Dataset::new();
    for chunk in [&prefix[..a], &prefix[a..b], &prefix[b..]] {
        // The bytes so far are valid: no push may fail.
        ds.push(chunk).map_err(|e| format!("push of a valid prefix failed: {e}"))?;
    }
    let expected_rows = rows_before(msgs, cut);
    let boundary = cut == 0 || msgs.iter().any(|m| m.end == cut);
    let end = ds.finish();
    match (&end, boundary) {
        (Ok(()), true) => {}
        (Err(e), false) => {
            let start = msgs.iter().filter(|m| m.start < cut).map(|m| m.start).max().unwrap_or(0);
            let msg = e.to_string();
            if !matches!(e, Error::Ingest { .. })
                || !msg.contains(&format!("at byte {start}:"))
                || !msg.contains(&format!("byte {cut} "))
            {
                return Err(format!("error does not name the message at byte {start} and the end {cut}: {msg}"));
            }
        }
        (Ok(()), false) => return Err("finish() is Ok, but the stream ends inside a message".into()),
        (Err(e), true) => return Err(format!("finish() failed at a message boundary: {e}")),
    }
    if ds.row_count() != expected_rows {
        return Err(format!("{} rows loaded, the whole batches in the prefix hold {expected_rows}", ds.row_count()));
    }
    check_consistent(&ds)?;
    if deep {
        same_rows(&ds, reference, 0, expected_rows)?;
        // The loaded rows stay, and the dataset takes a whole stream after them.
        ds.push(bytes).map_err(|e| format!("the full stream after the truncated one: {e}"))?;
        ds.finish().map_err(|e| format!("the full stream after the truncated one: {e}"))?;
        let total = reference.row_count();
        if ds.row_count() != expected_rows + total {
            return Err(format!("after appending: {} rows, expected {}", ds.row_count(), expected_rows + total));
        }
        check_consistent(&ds)?;
        same_rows(&ds, reference, 0, expected_rows)?;
    }
    Ok(())
}

#[test]
fn truncation_at_every_byte() {
    let corpus = corpus();
    for (name, bytes) in &corpus {
        let msgs = frames(bytes);
        println!("{name}: {} bytes, {} messages, {} rows", bytes.len(), msgs.len(), rows_before(&msgs, bytes.len()));
    }
    let failures = on_two_threads(&corpus, |(name, bytes)| {
        let msgs = frames(bytes);
        let reference = load_whole(bytes);
        assert_eq!(reference.row_count(), rows_before(&msgs, bytes.len()), "{name}: reference rows");
        let mut failures = Vec::new();
        for cut in 0..=bytes.len() {
            let deep = cut % 127 == 0 || msgs.iter().any(|m| m.end == cut || m.meta_end == cut);
            match catch_unwind(AssertUnwindSafe(|| truncated(bytes, &msgs, &reference, cut, deep))) {
                Ok(Ok(())) => {}
                Ok(Err(e)) => failures.push(format!("{name}, cut at byte {cut}: {e}")),
                Err(p) => failures.push(format!("{name}, cut at byte {cut}: PANIC {}", panic_message(p))),
            }
        }
        failures
    });
    report("truncation", &failures);
}

// ---------------------------------------------------------------------------------
// Corruption.

/// Interesting 32-bit values to write over length fields.
const WORDS: [u32; 10] = [0, 1, 7, 0xff, 0x7fff_ffff, 0x8000_0000, 0xffff_ffff, 0xffff_fff8, 0x10_0000, 0x0100_0000];

/// A copy of `bytes` with a few bytes changed, and what was changed.
fn mutate(bytes: &[u8], msgs: &[Msg], rng: &mut Rng) -> (Vec<u8>, String) {
    let mut data = bytes.to_vec();
    // Half of the cases hit message headers (prefix and metadata), where lengths live.
    let pos = if rng.below(2) == 0 {
        let m = msgs[rng.below(msgs.len())];
        m.start + rng.below(m.meta_end - m.start)
    } else {
        rng.below(data.len())
    };
    let mode = rng.below(5);
    let what = match mode {
        0 => {
            let bit = rng.below(8);
            data[pos] ^= 1 << bit;
            format!("bit {bit} flipped at byte {pos}")
        }
        1 => {
            data[pos] = rng.next() as u8;
            format!("byte {pos} randomized")
        }
        2 => {
            let n = 2 + rng.below(15);
            for b in data.iter_mut().skip(pos).take(n) {
                *b = rng.next() as u8;
            }
            format!("{n} bytes randomized at byte {pos}")
        }
        3 => {
            let w = WORDS[rng.below(WORDS.len())].to_le_bytes();
            let p = pos.min(data.len() - 4);
            data[p..p + 4].copy_from_slice(&w);
            format!("word {:#x} written at byte {p}", u32::from_le_bytes(w))
        }
        _ => {
            // Several single-byte changes across the stream.
            let n = 2 + rng.below(6);
            for _ in 0..n {
                let p = rng.below(data.len());
                data[p] = rng.next() as u8;
            }
            format!("{n} random bytes changed, the first drawn at byte {pos}")
        }
    };
    (data, what)
}

/// Loads a corrupted stream in random chunks and checks the dataset stays sound.
fn load_corrupted(data: &[u8], bytes: &[u8], msgs: &[Msg], reference: &Dataset, rng: &mut Rng) -> Result<(), String> {
    let Some(first_changed) = data.iter().zip(bytes).position(|(a, b)| a != b) else {
        return Ok(()); // the change happened to write the same bytes
    };
    let intact_rows = rows_before(msgs, first_changed);

    let mut ds = Dataset::new();
    let mut rest = data;
    let mut failure: Option<Error> = None;
    while !rest.is_empty() {
        let n = (1 + rng.below(3000)).min(rest.len());
        let (chunk, tail) = rest.split_at(n);
        rest = tail;
        if let Err(e) = ds.push(chunk) {
            failure = Some(e);
            break;
        }
    }
    check_consistent(&ds)?;
    if let Some(e) = &failure {
        if let Error::Ingest { offset, .. } | Error::Budget { offset, .. } = e {
            let msg = e.to_string();
            // The fault is in the message holding the first changed byte, or after it.
            let start = msgs.iter().filter(|m| m.start <= first_changed).map(|m| m.start).max().unwrap_or(0);
            if !msg.contains(&format!("at byte {offset}"))
                || (*offset as usize) < start
                || *offset as usize > data.len()
            {
                return Err(format!("error with a bad offset: {msg}"));
            }
        }
        // A failed stream refuses more bytes and keeps its rows.
        let rows = ds.row_count();
        match ds.push(&data[..data.len().min(16)]) {
            Err(Error::State(_)) => {}
            other => return Err(format!("push after the error {e} returned {other:?}")),
        }
        if ds.row_count() != rows {
            return Err(format!("rows went from {rows} to {} after a refused push", ds.row_count()));
        }
    }
    let end = ds.finish();
    if let Some(e) = &failure {
        if end.as_ref().err() != Some(e) {
            return Err(format!("push failed with {e}, finish() returned {end:?}"));
        }
    }
    check_consistent(&ds)?;
    if ds.row_count() < intact_rows {
        return Err(format!(
            "{} rows loaded, but the batches before the first changed byte {first_changed} hold {intact_rows}",
            ds.row_count()
        ));
    }
    same_rows(&ds, reference, 0, intact_rows)?;
    Ok(())
}

#[test]
fn corruption_never_panics() {
    // SIGHTLINE_CASES=n runs n cases per stream instead of 600 (for a longer search).
    let cases: u64 = std::env::var("SIGHTLINE_CASES").ok().and_then(|s| s.parse().ok()).unwrap_or(600);
    let corpus = corpus();
    // To replay one reported case with a backtrace: SIGHTLINE_SEED=0x... (runs it on
    // every stream of the corpus, without catching the panic).
    if let Some(seed) =
        std::env::var("SIGHTLINE_SEED").ok().and_then(|s| u64::from_str_radix(s.trim_start_matches("0x"), 16).ok())
    {
        for (name, bytes) in &corpus {
            let (msgs, mut rng) = (frames(bytes), Rng::new(seed));
            let (data, what) = mutate(bytes, &msgs, &mut rng);
            let r = load_corrupted(&data, bytes, &msgs, &load_whole(bytes), &mut rng);
            println!("{name}, seed {seed:#x} ({what}): {r:?}");
        }
        return;
    }
    let failures = on_two_threads(&corpus, |(name, bytes)| {
        let msgs = frames(bytes);
        let reference = load_whole(bytes);
        let mut failures = Vec::new();
        let base = bytes.len() as u64;
        for case in 0..cases {
            let seed = (base << 20 | case).wrapping_mul(0x9E37_79B9_7F4A_7C15);
            let mut rng = Rng::new(seed);
            let (data, what) = mutate(bytes, &msgs, &mut rng);
            match catch_unwind(AssertUnwindSafe(|| load_corrupted(&data, bytes, &msgs, &reference, &mut rng))) {
                Ok(Ok(())) => {}
                Ok(Err(e)) => failures.push(format!("{name}, seed {seed:#x} ({what}): {e}")),
                Err(p) => failures.push(format!("{name}, seed {seed:#x} ({what}): PANIC {}", panic_message(p))),
            }
        }
        failures
    });
    report("corruption", &failures);
}

// ---------------------------------------------------------------------------------
// Hostile headers and garbage.

#[test]
fn huge_metadata_length_is_refused_before_the_bytes() {
    for header in [
        vec![0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f], // continuation + 0x7fffffff
        vec![0xff, 0xff, 0xff, 0x7f],                         // legacy framing, 0x7fffffff
        vec![0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x80], // negative length
    ] {
        let mut ds = Dataset::new();
        let e = ds.push(&header).expect_err("a 2 GiB metadata length must be refused at once");
        let msg = e.to_string();
        assert!(msg.contains("at byte 0") && msg.contains("limit"), "{msg}");
        assert!(matches!(ds.push(&[0; 8]), Err(Error::State(_))));
        assert!(ds.finish().is_err());
        assert_eq!(ds.row_count(), 0);
    }
}

/// The demo stream with the declared body length of its second message (the first after
/// the schema) patched to `body`; returns the bytes up to that message's body.
fn with_body_length(body: i64) -> (Vec<u8>, Msg) {
    let bytes = demo(100, 50, Compression::None);
    let msgs = frames(&bytes);
    let m = msgs[1];
    let real = (m.end - m.meta_end) as i64;
    let mut head = bytes[..m.meta_end].to_vec();
    let meta_start = m.start + 8;
    // Find the body length in the metadata flatbuffer: the 8-byte field that holds it.
    let at = (meta_start..m.meta_end - 8)
        .filter(|i| head[*i..*i + 8] == real.to_le_bytes())
        .find(|i| {
            let mut t = head.clone();
            t[*i..*i + 8].copy_from_slice(&(real + 1).to_le_bytes());
            arrow_ipc::root_as_message(&t[meta_start..m.meta_end]).is_ok_and(|x| x.bodyLength() == real + 1)
        })
        .expect("the body length field");
    head[at..at + 8].copy_from_slice(&body.to_le_bytes());
    assert_eq!(arrow_ipc::root_as_message(&head[meta_start..]).unwrap().bodyLength(), body);
    (head, m)
}

#[test]
fn huge_body_is_refused_before_the_bytes() {
    for body in [1i64 << 40, i64::MAX, -1] {
        let (head, m) = with_body_length(body);
        let mut ds = Dataset::new();
        // Everything but the last byte of the metadata: nothing to refuse yet.
        ds.push(&head[..head.len() - 1]).expect("a valid schema and a partial header");
        let e = ds.push(&head[head.len() - 1..]).expect_err("a body of 1 TiB must be refused once its header is read");
        let msg = e.to_string();
        assert!(msg.contains(&format!("at byte {}", m.start)), "{msg}");
        assert!(msg.contains("limit") && msg.contains(&body.to_string()), "{msg}");
        assert!(matches!(ds.push(&[0; 8]), Err(Error::State(_))));
        assert_eq!(ds.finish(), Err(e));
        assert_eq!(ds.row_count(), 0);
        assert!(!ds.columns().is_empty(), "the schema read before the fault stays");
    }
    // A budget below the body refuses it the same way.
    let (head, m) = with_body_length(1 << 30);
    let mut ds = Dataset::with_budget(1 << 20);
    let e = ds.push(&head).expect_err("a body above the budget");
    assert!(e.to_string().contains(&format!("at byte {}", m.start)), "{e}");
}

fn int_stream(values: &[i64]) -> Vec<u8> {
    let schema = Arc::new(Schema::new(vec![Field::new("n", DataType::Int64, true)]));
    let batch =
        RecordBatch::try_new(schema.clone(), vec![Arc::new(Int64Array::from(values.to_vec())) as ArrayRef]).unwrap();
    let mut w = StreamWriter::try_new(Vec::new(), &schema).unwrap();
    w.write(&batch).unwrap();
    w.finish().unwrap();
    w.into_inner().unwrap()
}

#[test]
fn batch_before_schema_is_refused() {
    let bytes = int_stream(&[1, 2, 3]);
    let msgs = frames(&bytes);
    assert_eq!(msgs[1].kind, MessageHeader::RecordBatch);
    let mut ds = Dataset::new();
    let e = ds.push(&bytes[msgs[1].start..]).expect_err("a record batch without a schema");
    let msg = e.to_string();
    assert!(msg.contains("at byte 0") && msg.contains("before the schema"), "{msg}");
    assert_eq!(ds.row_count(), 0);
    assert!(ds.finish().is_err());

    // A dictionary batch before the schema, too.
    let bytes = demo(50, 50, Compression::None);
    let msgs = frames(&bytes);
    assert_eq!(msgs[1].kind, MessageHeader::DictionaryBatch);
    let mut ds = Dataset::new();
    let e = ds.push(&bytes[msgs[1].start..]).expect_err("a dictionary batch without a schema");
    assert!(e.to_string().contains("before the schema"), "{e}");

    // And a second schema inside one stream.
    let mut twice = bytes[..msgs[1].start].to_vec();
    twice.extend_from_slice(&bytes);
    let mut ds = Dataset::new();
    let e = ds.push(&twice).expect_err("two schemas in one stream");
    assert!(e.to_string().contains(&format!("at byte {}", msgs[1].start)), "{e}");
}

#[test]
fn garbage_is_refused() {
    let arrow_file = {
        let mut f = b"ARROW1\0\0".to_vec();
        f.extend(int_stream(&[1]));
        f
    };
    let mut rng = Rng::new(7);
    let random: Vec<u8> = (0..4096).map(|_| rng.next() as u8).collect();
    let inputs: Vec<(&str, Vec<u8>)> = vec![
        ("text", b"timestamp,duration_ms\n2024-01-01T00:00:00Z,12.5\n".to_vec()),
        ("json", br#"{"schema": {"fields": []}, "batches": []}"#.to_vec()),
        ("parquet magic", b"PAR1\x15\x04\x15\x10\x15\x14L\x15\x02\x15\x00\x12\x00\x00".to_vec()),
        ("arrow file (not a stream)", arrow_file),
        ("random", random),
        ("continuation only", vec![0xff; 4]),
        ("one byte", vec![0x10]),
        ("small metadata of garbage", {
            let mut v = vec![0xff, 0xff, 0xff, 0xff, 16, 0, 0, 0];
            v.extend_from_slice(b"not a flatbuffer");
            v
        }),
    ];
    for (name, bytes) in inputs {
        for sizes in [bytes.len(), 1, 5] {
            let result = catch_unwind(AssertUnwindSafe(|| {
                let mut ds = Dataset::new();
                let pushed: Result<(), Error> = bytes.chunks(sizes.max(1)).try_for_each(|c| ds.push(c).map(|_| ()));
                let end = ds.finish();
                (pushed, end, ds.row_count())
            }));
            let (pushed, end, rows) = result.unwrap_or_else(|p| panic!("{name}: PANIC {}", panic_message(p)));
            assert!(end.is_err(), "{name} in chunks of {sizes}: finish() is Ok ({pushed:?})");
            if let Err(e) = pushed {
                assert_eq!(end, Err(e.clone()), "{name}");
                assert!(e.to_string().contains("at byte "), "{name}: {e}");
            }
            assert_eq!(rows, 0, "{name}");
        }
    }
}

#[test]
fn empty_input_is_an_empty_dataset() {
    let mut ds = Dataset::new();
    assert!(ds.finish().is_ok());
    assert_eq!(ds.row_count(), 0);
    assert!(ds.columns().is_empty());
    let s = ds.push(&[]).unwrap();
    assert_eq!((s.rows, s.batches), (0, 0));
    assert!(ds.finish().is_ok());
    assert_eq!(ds.row_count(), 0);

    // A schema and no batches: columns, no rows.
    let bytes = int_stream(&[1]);
    let msgs = frames(&bytes);
    let mut ds = Dataset::new();
    ds.push(&bytes[..msgs[0].end]).unwrap();
    ds.finish().unwrap();
    assert_eq!(ds.row_count(), 0);
    assert_eq!(ds.columns().len(), 1);
    assert_eq!(ds.columns()[0].len(), 0);
}

// ---------------------------------------------------------------------------------
// Appending streams.

#[test]
fn second_stream_after_finish_appends() {
    let a = demo(700, 300, Compression::None);
    let opts_b = DemoOptions { rows: 500, batch_rows: 200, seed: 7, ..Default::default() };
    let b = write_ipc(&opts_b, Compression::Zstd, Vec::new(), |_| Ok(())).unwrap();
    let (ra, rb) = (load_whole(&a), load_whole(&b));

    let mut ds = Dataset::new();
    for chunk in a.chunks(777) {
        ds.push(chunk).unwrap();
    }
    ds.finish().unwrap();
    assert_eq!(ds.row_count(), 700);
    for chunk in b.chunks(333) {
        ds.push(chunk).unwrap();
    }
    ds.finish().unwrap();
    assert_eq!(ds.row_count(), 1200);
    check_consistent(&ds).unwrap();
    same_rows(&ds, &ra, 0, 700).unwrap();
    for (c, r) in ds.columns().iter().zip(rb.columns()) {
        for i in 0..500 {
            assert_eq!(val(c, 700 + i), val(r, i), "column {} row {}", c.name, 700 + i);
        }
    }

    // Two streams back to back without finish() in between: the end-of-stream marker
    // separates them.
    let mut both = a.clone();
    both.extend_from_slice(&b);
    let mut ds2 = Dataset::new();
    for chunk in both.chunks(4093) {
        ds2.push(chunk).unwrap();
    }
    ds2.finish().unwrap();
    assert_eq!(ds2.row_count(), 1200);
    for (x, y) in ds.columns().iter().zip(ds2.columns()) {
        for i in 0..1200 {
            assert_eq!(val(x, i), val(y, i), "column {} row {i}", x.name);
        }
    }
}

/// A stream whose schema is the demo schema with `edit` applied, and no batches.
fn demo_schema_stream(edit: impl FnOnce(&mut Vec<Field>)) -> Vec<u8> {
    let base = sightline::demo::schema();
    let mut fields: Vec<Field> = base.fields().iter().map(|f| f.as_ref().clone()).collect();
    edit(&mut fields);
    let schema = Arc::new(Schema::new(fields));
    let mut w = StreamWriter::try_new(Vec::new(), &schema).unwrap();
    w.write(&RecordBatch::new_empty(schema.clone())).unwrap();
    w.finish().unwrap();
    w.into_inner().unwrap()
}

#[test]
fn second_stream_with_another_schema_is_refused() {
    let a = demo(300, 100, Compression::None);
    let cases: Vec<(&str, Vec<u8>)> = vec![
        (
            "duration_ms",
            demo_schema_stream(|f| {
                let i = f.iter().position(|x| x.name() == "duration_ms").unwrap();
                f[i] = Field::new("duration_ms", DataType::Utf8, false);
            }),
        ),
        (
            "timestamp",
            demo_schema_stream(|f| {
                f[0] = Field::new("timestamp", DataType::Timestamp(arrow_schema::TimeUnit::Second, None), false)
            }),
        ),
        ("extra", demo_schema_stream(|f| f.push(Field::new("extra", DataType::Int64, true)))),
        ("cache_hit", demo_schema_stream(|f| f.retain(|x| x.name() != "cache_hit"))),
    ];
    for (column, other) in cases {
        let mut ds = Dataset::new();
        ds.push(&a).unwrap();
        ds.finish().unwrap();
        let e = ds.push(&other).expect_err("a different schema");
        assert!(matches!(e, Error::SchemaMismatch { .. }), "{e:?}");
        assert!(e.to_string().contains(&format!("\"{column}\"")), "{column}: {e}");
        assert_eq!(ds.row_count(), 300);
        check_consistent(&ds).unwrap();
        assert_eq!(ds.finish(), Err(e));
        // The dataset still takes a stream of its own schema.
        ds.push(&a).unwrap();
        ds.finish().unwrap();
        assert_eq!(ds.row_count(), 600);
    }

    // A one-column stream whose column changed type.
    let s = int_stream(&[5, 6]);
    let mut ds = Dataset::new();
    ds.push(&s).unwrap();
    ds.finish().unwrap();
    let other = {
        let schema = Arc::new(Schema::new(vec![Field::new("n", DataType::Utf8, true)]));
        let batch =
            RecordBatch::try_new(schema.clone(), vec![Arc::new(StringArray::from(vec!["x"])) as ArrayRef]).unwrap();
        let mut w = StreamWriter::try_new(Vec::new(), &schema).unwrap();
        w.write(&batch).unwrap();
        w.finish().unwrap();
        w.into_inner().unwrap()
    };
    let e = ds.push(&other).expect_err("n is Int64, not Utf8");
    assert!(e.to_string().contains("\"n\""), "{e}");
    assert_eq!(ds.row_count(), 2);
}

// ---------------------------------------------------------------------------------
// Memory bounds: hostile streams are refused before the engine allocates for them.

#[path = "common/counting_alloc.rs"]
mod counting_alloc;
use counting_alloc::{LIVE, PEAK};

/// Runs `f` and returns its result with the most bytes it had allocated at once on this
/// thread (beyond what was allocated before it).
fn peak_growth<T>(f: impl FnOnce() -> T) -> (T, u64) {
    let base = LIVE.with(|l| l.get());
    PEAK.with(|p| p.set(base));
    let out = f();
    (out, (PEAK.with(|p| p.get()) - base).max(0) as u64)
}

const MIB: u64 = 1 << 20;

/// A stream of `batches` of `schema`, with bodies compressed as asked.
fn stream_of(
    schema: &Arc<Schema>,
    batches: &[RecordBatch],
    compression: Option<arrow_ipc::CompressionType>,
) -> Vec<u8> {
    let options = arrow_ipc::writer::IpcWriteOptions::default().try_with_compression(compression).unwrap();
    let mut w = StreamWriter::try_new_with_options(Vec::new(), schema, options).unwrap();
    for b in batches {
        w.write(b).unwrap();
    }
    w.finish().unwrap();
    w.into_inner().unwrap()
}

/// The absolute (offset, length) in the stream of each buffer of record batch `m`.
fn buffers_of(bytes: &[u8], m: &Msg) -> Vec<(usize, usize)> {
    let meta_start = if bytes[m.start..m.start + 4] == [0xff; 4] { m.start + 8 } else { m.start + 4 };
    let msg = arrow_ipc::root_as_message(&bytes[meta_start..m.meta_end]).unwrap();
    let batch = msg
        .header_as_record_batch()
        .or_else(|| msg.header_as_dictionary_batch().and_then(|d| d.data()))
        .expect("a batch message");
    batch.buffers().unwrap().iter().map(|b| (m.meta_end + b.offset() as usize, b.length() as usize)).collect()
}

/// A COUNT over every row of `ds` (which has a time column).
fn count_all(ds: &Dataset) -> u64 {
    sightline::query::run(ds, &sightline::query::QuerySpec::default()).expect("COUNT").matched
}

#[test]
fn declared_lengths_far_beyond_the_data_allocate_nothing() {
    // A record batch declaring a 1 GiB body (under the 2 GiB limit), then 100 bytes.
    let (head, m) = with_body_length(1 << 30);
    let mut ds = Dataset::new();
    let ((), grew) = peak_growth(|| {
        ds.push(&head).unwrap();
        ds.push(&[0u8; 100]).unwrap();
    });
    println!("1 GiB declared body, 100 bytes sent: peak growth {grew} bytes");
    assert!(grew < 2 * MIB, "a 1 GiB declared body made the decoder allocate {grew} bytes");
    let e = ds.finish().expect_err("the stream ended inside the body");
    let msg = e.to_string();
    assert!(msg.contains(&format!("at byte {}", m.start)) && msg.contains("body"), "{msg}");
    assert!(!ds.columns().is_empty());

    // A 16 MiB (the limit) metadata length, then 10 bytes.
    let mut ds = Dataset::new();
    let mut head = vec![0xff; 4];
    head.extend_from_slice(&(16i32 << 20).to_le_bytes());
    let (_, grew) = peak_growth(|| ds.push(&head).and_then(|_| ds.push(&[1u8; 10])).unwrap());
    println!("16 MiB declared metadata, 10 bytes sent: peak growth {grew} bytes");
    assert!(grew < 2 * MIB, "{grew}");
    assert!(ds.finish().unwrap_err().to_string().contains("at byte 0"));
}

#[test]
fn compressed_buffers_declaring_more_than_their_codec_allows_are_refused() {
    for (name, compression) in [("lz4", Compression::Lz4), ("zstd", Compression::Zstd)] {
        let bytes = demo(1000, 500, compression);
        let msgs = frames(&bytes);
        let batches: Vec<&Msg> = msgs.iter().filter(|m| m.kind == MessageHeader::RecordBatch).collect();
        let (first, second) = (batches[0], batches[1]);
        // The second batch's largest compressed buffer claims to decompress to 1 GiB.
        let (at, _) = buffers_of(&bytes, second)
            .into_iter()
            .filter(|(at, len)| *len > 8 && bytes[*at..*at + 8] != (-1i64).to_le_bytes())
            .max_by_key(|(_, len)| *len)
            .expect("a compressed buffer");
        let mut bad = bytes.clone();
        bad[at..at + 8].copy_from_slice(&(1i64 << 30).to_le_bytes());
        let mut ds = Dataset::new();
        let (r, grew) = peak_growth(|| ds.push(&bad));
        let e = r.expect_err("1 GiB from a few compressed bytes");
        println!("{name}: buffer declaring 1 GiB decompressed: {e}; peak growth {grew} bytes");
        assert!(matches!(e, Error::Ingest { offset, .. } if offset == second.start as u64), "{e:?}");
        assert!(e.to_string().contains("decompression"), "{e}");
        assert!(grew < bytes.len() as u64 * 4 + 4 * MIB, "{name}: grew {grew} bytes");
        assert_eq!(ds.row_count(), first.rows);
        check_consistent(&ds).unwrap();
        assert_eq!(count_all(&ds), first.rows as u64);
    }
}

#[test]
fn decompressed_size_beyond_the_budget_is_refused_before_decompressing() {
    let schema = Arc::new(Schema::new(vec![
        Field::new("timestamp", DataType::Timestamp(arrow_schema::TimeUnit::Second, None), false),
        Field::new("n", DataType::Int64, false),
    ]));
    let batch = |rows: i64| {
        let t =
            arrow_array::TimestampSecondArray::from((0..rows).map(|i| 1_700_000_000 + i % 3600).collect::<Vec<_>>());
        let n = Int64Array::from((0..rows).map(|i| i % 1000).collect::<Vec<_>>());
        RecordBatch::try_new(schema.clone(), vec![Arc::new(t) as ArrayRef, Arc::new(n)]).unwrap()
    };
    // 1,000 rows, then 4 Mi rows (64 MiB decompressed) in a few hundred KiB of ZSTD.
    let bytes = stream_of(&schema, &[batch(1000), batch(4 << 20)], Some(arrow_ipc::CompressionType::ZSTD));
    let msgs = frames(&bytes);
    let second = msgs.iter().filter(|m| m.kind == MessageHeader::RecordBatch).nth(1).unwrap();
    let budget = 16 * MIB;
    let mut ds = Dataset::with_budget(budget);
    let (r, grew) = peak_growth(|| ds.push(&bytes));
    let e = r.expect_err("64 MiB in a 16 MiB budget");
    println!("{} byte ZSTD stream, 64 MiB decompressed, 16 MiB budget: {e}; peak growth {grew} bytes", bytes.len());
    assert!(
        matches!(e, Error::Budget { offset, budget: b, .. } if offset == second.start as u64 && b == budget),
        "{e:?}"
    );
    assert!(e.to_string().contains(&format!("at byte {}", second.start)), "{e}");
    assert!(grew < bytes.len() as u64 * 2 + 2 * MIB, "grew {grew} bytes");
    assert_eq!(ds.row_count(), 1000);
    assert_eq!(count_all(&ds), 1000);
}

#[test]
fn giant_dictionary_is_refused_by_the_budget() {
    use arrow_array::{DictionaryArray, Int32Array};
    let dict = DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8));
    let schema = Arc::new(Schema::new(vec![
        Field::new("timestamp", DataType::Timestamp(arrow_schema::TimeUnit::Second, None), false),
        Field::new("k", dict, false),
    ]));
    let batch = |values: Vec<String>, keys: Vec<i32>| {
        let t = arrow_array::TimestampSecondArray::from(vec![1_700_000_000; keys.len()]);
        let k = DictionaryArray::try_new(Int32Array::from(keys), Arc::new(StringArray::from(values))).unwrap();
        RecordBatch::try_new(schema.clone(), vec![Arc::new(t) as ArrayRef, Arc::new(k)]).unwrap()
    };
    let huge: Vec<String> = (0..300_000).map(|i| format!("value-{i:034}")).collect(); // 12 MB
    let bytes = stream_of(&schema, &[batch(vec!["a".into(), "b".into()], vec![0, 1, 0]), batch(huge, vec![0])], None);
    let msgs = frames(&bytes);
    let first_batch = msgs.iter().position(|m| m.kind == MessageHeader::RecordBatch).unwrap();
    let dict_msg =
        msgs[first_batch..].iter().find(|m| m.kind == MessageHeader::DictionaryBatch).expect("a second dictionary");
    let budget = 4 * MIB;
    let mut ds = Dataset::with_budget(budget);
    let (r, grew) = peak_growth(|| ds.push(&bytes));
    let e = r.expect_err("a 12 MB dictionary in a 4 MiB budget");
    println!("12 MB dictionary, 4 MiB budget: {e}; peak growth {grew} bytes");
    assert!(matches!(e, Error::Budget { offset, .. } if offset == dict_msg.start as u64), "{e:?}");
    assert!(grew < 2 * MIB, "grew {grew} bytes");
    assert_eq!(ds.row_count(), 3);
    assert_eq!(count_all(&ds), 3);
}

#[test]
fn absurd_schemas_are_refused_before_they_are_built() {
    let one = int_stream(&[1, 2]);
    let schema_stream = |schema: Schema| {
        let mut w = StreamWriter::try_new(Vec::new(), &Arc::new(schema)).unwrap();
        w.finish().unwrap();
        w.into_inner().unwrap()
    };
    let many = schema_stream(Schema::new(
        (0..20_000).map(|i| Field::new(format!("f{i}"), DataType::Int8, true)).collect::<Vec<_>>(),
    ));
    let meta = schema_stream(
        Schema::new(vec![Field::new("n", DataType::Int64, true)])
            .with_metadata(std::collections::HashMap::from([("big".to_string(), "x".repeat(2 << 20))])),
    );
    let field_meta = schema_stream(Schema::new(
        (0..300)
            .map(|i| {
                Field::new(format!("f{i}"), DataType::Int8, true)
                    .with_metadata(std::collections::HashMap::from([("k".to_string(), "y".repeat(8 << 10))]))
            })
            .collect::<Vec<_>>(),
    ));
    let mut deep = DataType::Int8;
    for _ in 0..40 {
        deep = DataType::Struct(vec![Field::new("c", deep, true)].into());
    }
    let deep = schema_stream(Schema::new(vec![Field::new("deep", deep, true)]));
    for (name, hostile, says) in [
        ("20,000 fields", many, "fields"),
        ("2 MiB of schema metadata", meta, "custom metadata"),
        ("2.4 MB of field metadata", field_meta, "custom metadata"),
        ("40 nested structs", deep, "nested"),
    ] {
        // After a valid stream, in the same push: the error names the hostile schema's
        // offset, and the rows of the first stream stay.
        let mut all = one.clone();
        all.extend_from_slice(&hostile);
        let mut ds = Dataset::new();
        let (r, grew) = peak_growth(|| ds.push(&all));
        let e = r.expect_err(name);
        println!("{name} ({} bytes): {e}; peak growth {grew} bytes", hostile.len());
        assert!(matches!(&e, Error::Ingest { offset, .. } if *offset == one.len() as u64), "{name}: {e:?}");
        assert!(e.to_string().contains(says), "{name}: {e}");
        assert!(grew < hostile.len() as u64 * 2 + 2 * MIB, "{name}: grew {grew} bytes");
        assert_eq!(ds.row_count(), 2);
        check_consistent(&ds).unwrap();
    }
}

/// Invalid UTF-8 in a string column: the batch is refused (not repaired), and the error
/// names the column and the batch's byte offset; earlier batches stay.
#[test]
fn invalid_utf8_refuses_the_batch_naming_column_and_offset() {
    let schema =
        Arc::new(Schema::new(vec![Field::new("n", DataType::Int64, false), Field::new("s", DataType::Utf8, true)]));
    let batch = |words: &[&str]| {
        let n = Int64Array::from((0..words.len() as i64).collect::<Vec<_>>());
        RecordBatch::try_new(schema.clone(), vec![Arc::new(n) as ArrayRef, Arc::new(StringArray::from(words.to_vec()))])
            .unwrap()
    };
    let bytes = stream_of(&schema, &[batch(&["alpha", "beta"]), batch(&["gamma", "delta", "epsilon"])], None);
    let msgs = frames(&bytes);
    let second = *msgs.iter().filter(|m| m.kind == MessageHeader::RecordBatch).nth(1).unwrap();
    // Buffers: n validity, n values, s validity, s offsets, s values.
    let (values, _) = buffers_of(&bytes, &second)[4];
    let mut bad = bytes.clone();
    bad[values + 1] = 0xff; // "g\xffmma"
    let mut ds = Dataset::new();
    let e = ds.push(&bad).expect_err("invalid UTF-8");
    println!("invalid UTF-8: {e}");
    let msg = e.to_string();
    assert!(matches!(e, Error::Ingest { offset, .. } if offset == second.start as u64), "{e:?}");
    assert!(msg.contains("column \"s\"") && msg.to_lowercase().contains("utf"), "{msg}");
    assert_eq!(ds.row_count(), 2);
    check_consistent(&ds).unwrap();
}

#[test]
fn a_batch_past_four_billion_rows_is_refused_before_it_is_appended() {
    // A null-typed column declares its length and has no buffers: 5 billion rows cost a
    // few hundred bytes of stream.
    let schema = Arc::new(Schema::new(vec![Field::new("x", DataType::Null, true)]));
    let small =
        RecordBatch::try_new(schema.clone(), vec![Arc::new(arrow_array::NullArray::new(3)) as ArrayRef]).unwrap();
    let huge =
        RecordBatch::try_new(schema.clone(), vec![Arc::new(arrow_array::NullArray::new(5_000_000_000)) as ArrayRef])
            .unwrap();
    let bytes = stream_of(&schema, &[small, huge], None);
    let msgs = frames(&bytes);
    let second = msgs.iter().filter(|m| m.kind == MessageHeader::RecordBatch).nth(1).unwrap();
    let mut ds = Dataset::new();
    let (r, grew) = peak_growth(|| ds.push(&bytes));
    let e = r.expect_err("5 billion rows");
    println!("5e9-row batch of nulls ({} bytes): {e}; peak growth {grew} bytes", bytes.len());
    assert!(matches!(e, Error::Ingest { offset, .. } if offset == second.start as u64), "{e:?}");
    assert!(e.to_string().contains("4294967295 rows"), "{e}");
    assert!(grew < MIB, "{grew}");
    assert_eq!(ds.row_count(), 3);
    check_consistent(&ds).unwrap();
}
