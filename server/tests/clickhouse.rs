//! The ClickHouse source against the real ClickHouse engine, run in-process by PyPI
//! `chdb` (installed by scripts/setup.sh): the same data is loaded into ClickHouse
//! (from Arrow IPC files written here) and into the embedded server's tables; every
//! push-down request is compiled to SQL by `server::clickhouse::compile`, run by
//! ClickHouse with `FORMAT ArrowStream`, decoded with the crate's own ingest, and
//! compared with the embedded answer to the same request (rows, columns, values,
//! order). Hostile values (quotes, backslashes, backquotes, NUL, unicode, SQL) in data,
//! filter values and column names must round-trip without injection.
//!
//! Then the proxy path: a fake ClickHouse HTTP server answers with chdb's bytes for
//! exactly the SQL compiled, and `sightline serve`'s `/api/events` must stream them
//! through intact (and mark a stream that breaks mid-way as incomplete).

#[path = "support/chdb.rs"]
mod chdb;
#[path = "support/http.rs"]
mod http;
#[path = "support/json.rs"]
mod json_diff;
use chdb::{python, ChdbHttp};

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow_array::builder::{BooleanBuilder, Float64Builder, StringBuilder, TimestampMillisecondBuilder};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit as ArrowUnit};
use serde_json::json;
use sightline::column::ColumnData;
use sightline::demo::Compression;
use sightline::Dataset;
use sightline_server::clickhouse::{self, ChConfig, ChSchema};
use sightline_server::source::{demo_table, EventsRequest, Order, Table};
use sightline_server::{Config, Server};

const DEMO_ROWS: usize = 20_000;
const T0_MS: i64 = 1_793_400_000_000;

/// Values that break naive quoting.
const HOSTILE: [&str; 16] = [
    "plain",
    "it's",
    "back\\slash",
    "trailing\\",
    "\\'",
    "tick`tick",
    "quote\"d",
    "'; DROP TABLE events; --",
    "') OR ('1'='1",
    "ünïcødé ✓ 日本語 🚀",
    "%_*?",
    "new\nline\r\n",
    "tab\there",
    "nul\0byte",
    "",
    "{\"json\": [1, 2]}",
];
const WEIRD: &str = "we`ird \"col\" \\ 'name'";

fn out_dir() -> PathBuf {
    Path::new(ROOT).join("tests/out/clickhouse")
}

fn hostile_data() -> (SchemaRef, Vec<RecordBatch>) {
    let schema = Arc::new(Schema::new(vec![
        Field::new("timestamp", DataType::Timestamp(ArrowUnit::Millisecond, Some("UTC".into())), false),
        Field::new("msg", DataType::Utf8, true),
        Field::new(WEIRD, DataType::Utf8, true),
        Field::new("service.name", DataType::Utf8, false),
        Field::new("n", DataType::Float64, true),
        Field::new("flag", DataType::Boolean, true),
    ]));
    let mut batches = Vec::new();
    let mut i = 0usize;
    for size in [700, 600, 700] {
        let mut ts = TimestampMillisecondBuilder::new().with_timezone("UTC");
        let (mut msg, mut weird, mut svc) = (StringBuilder::new(), StringBuilder::new(), StringBuilder::new());
        let (mut n, mut flag) = (Float64Builder::new(), BooleanBuilder::new());
        for _ in 0..size {
            ts.append_value(T0_MS + (i as i64 * 7919) % 3_600_000);
            msg.append_option((i % 17 != 16).then(|| HOSTILE[i % 17 % HOSTILE.len()]));
            weird.append_option((!i.is_multiple_of(5)).then(|| HOSTILE[(i / 3) % HOSTILE.len()]));
            svc.append_value(["api", "web", "wörker"][i % 3]);
            n.append_option((!i.is_multiple_of(11)).then(|| (i % 200) as f64 / 4.0 - 10.0));
            flag.append_option((!i.is_multiple_of(7)).then_some(i.is_multiple_of(2)));
            i += 1;
        }
        let cols: Vec<ArrayRef> = vec![
            Arc::new(ts.finish()),
            Arc::new(msg.finish()),
            Arc::new(weird.finish()),
            Arc::new(svc.finish()),
            Arc::new(n.finish()),
            Arc::new(flag.finish()),
        ];
        batches.push(RecordBatch::try_new(schema.clone(), cols).unwrap());
    }
    (schema, batches)
}

fn write_stream(path: &Path, schema: &SchemaRef, batches: &[RecordBatch]) {
    let mut w = arrow_ipc::writer::StreamWriter::try_new(std::fs::File::create(path).unwrap(), schema).unwrap();
    for b in batches {
        w.write(b).unwrap();
    }
    w.finish().unwrap();
}

fn decode(bytes: &[u8]) -> Dataset {
    let mut ds = Dataset::new();
    ds.push(bytes).unwrap_or_else(|e| panic!("decode: {e}"));
    ds.finish().unwrap_or_else(|e| panic!("decode: {e}"));
    ds
}

/// One cell, comparable across Arrow types: ClickHouse may widen or re-encode a type
/// (dictionaries, nullability) but never change a value.
#[derive(Debug, Clone, PartialEq)]
enum C {
    Null,
    B(bool),
    N(f64),
    S(String),
    /// Nanoseconds.
    T(i128),
}

fn rows(ds: &Dataset) -> (Vec<String>, Vec<Vec<C>>) {
    let names = ds.columns().iter().map(|c| c.name.clone()).collect();
    let mut out = vec![Vec::new(); ds.row_count()];
    for c in ds.columns() {
        for (i, row) in out.iter_mut().enumerate() {
            let valid = c.validity.is_valid(i);
            row.push(match &c.data {
                ColumnData::Str(s) => match s.get(i) {
                    None => C::Null,
                    Some(v) => C::S(v.to_string()),
                },
                ColumnData::Bool(v) => match v[i] {
                    2 => C::Null,
                    b => C::B(b == 1),
                },
                _ if !valid => C::Null,
                ColumnData::Int(v) => C::N(v[i] as f64),
                ColumnData::UInt(v) => C::N(v[i] as f64),
                ColumnData::Float(v) => C::N(v[i]),
                ColumnData::Time { values, unit, .. } => {
                    C::T(values[i] as i128 * (unit.seconds_per_unit() * 1e9).round() as i128)
                }
                ColumnData::Other => panic!("column {} not analyzed ({})", c.name, c.arrow_type),
            });
        }
    }
    (names, out)
}

fn key(r: &[C]) -> String {
    format!("{r:?}")
}

fn time_index(names: &[String]) -> Option<usize> {
    names.iter().position(|n| n == "timestamp")
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Check {
    /// Same rows (as a multiset), same columns.
    Rows,
    /// Ordered by time: same time sequence, same rows (ties at a limit's cutoff may
    /// differ, as SQL leaves them unordered).
    Ordered,
    /// Only the count (a limit without order picks any rows).
    Count,
    /// A sample: a plausible count, every row among the unsampled answer.
    Sample,
}

fn compare(id: &str, check: Check, limit: Option<u64>, embedded: &Dataset, ch: &Dataset, unsampled: Option<&Dataset>) {
    let (en, er) = rows(embedded);
    let (cn, cr) = rows(ch);
    assert_eq!(en, cn, "{id}: columns");
    match check {
        Check::Count => assert_eq!(er.len(), cr.len(), "{id}: row count"),
        Check::Sample => {
            let (un, all) = rows(unsampled.unwrap());
            // Both write the rate the sample applied (1 / 0.3) into SampleRate, the last column.
            assert_eq!(cn.last().map(String::as_str), Some("SampleRate"), "{id}: the rate column");
            assert_eq!(&cn[..cn.len() - 1], &un[..], "{id}: the other columns");
            for r in cr.iter().chain(&er) {
                assert!(matches!(r.last(), Some(C::N(x)) if (x - 1.0 / 0.3).abs() < 1e-9), "{id}: rate {:?}", r.last());
            }
            let keys: std::collections::HashSet<String> = all.iter().map(|r| key(r)).collect();
            assert!(
                cr.iter().all(|r| keys.contains(&key(&r[..r.len() - 1]))),
                "{id}: a sampled row is not in the full answer"
            );
            let expect = all.len() as f64 * 0.3;
            let sd = (all.len() as f64 * 0.3 * 0.7).sqrt();
            assert!((cr.len() as f64 - expect).abs() < 5.0 * sd, "{id}: {} rows of {}", cr.len(), all.len());
            assert!((er.len() as f64 - expect).abs() < 5.0 * sd, "{id}: {} rows of {}", er.len(), all.len());
        }
        Check::Rows | Check::Ordered => {
            assert_eq!(er.len(), cr.len(), "{id}: row count");
            let mut boundary = None;
            if check == Check::Ordered {
                let t = time_index(&en).expect("ordered cases project the time column");
                let et: Vec<&C> = er.iter().map(|r| &r[t]).collect();
                let ct: Vec<&C> = cr.iter().map(|r| &r[t]).collect();
                assert_eq!(et, ct, "{id}: time order");
                if limit.is_some_and(|l| l as usize == er.len()) {
                    boundary = er.last().map(|r| r[t].clone());
                }
            }
            let keep = |r: &&Vec<C>| boundary.as_ref().is_none_or(|b| time_index(&en).is_some_and(|t| r[t] != *b));
            let mut a: Vec<String> = er.iter().filter(keep).map(|r| key(r)).collect();
            let mut b: Vec<String> = cr.iter().filter(keep).map(|r| key(r)).collect();
            a.sort();
            b.sort();
            if a != b {
                let first = a.iter().zip(&b).position(|(x, y)| x != y).unwrap_or(a.len().min(b.len()));
                panic!(
                    "{id}: rows differ ({} vs {}); first difference:\n embedded   {:?}\n clickhouse {:?}",
                    a.len(),
                    b.len(),
                    a.get(first),
                    b.get(first)
                );
            }
        }
    }
}

struct Case {
    id: String,
    source: &'static str,
    req: EventsRequest,
    check: Check,
}

fn req(v: serde_json::Value) -> EventsRequest {
    serde_json::from_value(v).unwrap()
}

fn cases() -> Vec<Case> {
    let start = (sightline::demo::DEFAULT_END_S - 86_400 + 16 * 3600) as f64;
    let mut out = Vec::new();
    let mut add = |source: &'static str, check: Check, v: serde_json::Value| {
        let id = format!("{source}-{:02}", out.len());
        out.push(Case { id, source, req: req(v), check });
    };
    let f = |column: &str, op: &str, value: serde_json::Value| json!({ "column": column, "op": op, "value": value });
    let e = |column: &str, op: &str| json!({ "column": column, "op": op });
    let d = "events";
    // The support page: one customer's last 500 requests, a few columns.
    add(
        d,
        Check::Ordered,
        json!({ "filters": [f("customer_id", "=", json!("cust_00042"))], "order": "newest", "limit": 500,
        "columns": ["timestamp", "endpoint", "status_code", "duration_ms", "error"] }),
    );
    add(d, Check::Rows, json!({}));
    add(d, Check::Ordered, json!({ "order": "newest", "limit": 500 }));
    add(
        d,
        Check::Ordered,
        json!({ "order": "oldest", "limit": 100, "filters": [f("region", "=", json!("eu-west-1"))] }),
    );
    add(d, Check::Rows, json!({ "filters": [f("status_code", ">=", json!(500))] }));
    add(d, Check::Rows, json!({ "filters": [f("status_code", "=", json!("503"))] }));
    add(d, Check::Rows, json!({ "filters": [f("status_code", "in", json!([500, 503, 429]))] }));
    add(d, Check::Rows, json!({ "filters": [f("status_code", "not-in", json!([200, 201]))] }));
    add(d, Check::Rows, json!({ "filters": [f("endpoint", "starts-with", json!("/api/v2/orders"))] }));
    add(d, Check::Rows, json!({ "filters": [f("endpoint", "does-not-start-with", json!("/api/v2"))] }));
    add(d, Check::Rows, json!({ "filters": [f("host", "ends-with", json!("-03"))] }));
    add(d, Check::Rows, json!({ "filters": [f("host", "does-not-end-with", json!("3"))], "columns": ["host"] }));
    add(d, Check::Rows, json!({ "filters": [e("error", "exists")] }));
    add(d, Check::Rows, json!({ "filters": [e("error", "does-not-exist")], "columns": ["trace_id", "error"] }));
    add(d, Check::Rows, json!({ "filters": [f("error", "contains", json!("timeout"))] }));
    add(
        d,
        Check::Rows,
        json!({ "filters": [f("error", "does-not-contain", json!("e"))], "columns": ["error", "trace_id"] }),
    );
    add(d, Check::Rows, json!({ "filters": [f("cache_hit", "=", json!(true))] }));
    add(
        d,
        Check::Rows,
        json!({ "filters": [f("cache_hit", "!=", json!(true))], "columns": ["cache_hit", "trace_id"] }),
    );
    add(
        d,
        Check::Rows,
        json!({ "filters": [f("cache_hit", "in", json!([false]))], "columns": ["cache_hit", "trace_id"] }),
    );
    add(d, Check::Rows, json!({ "filters": [f("db_duration_ms", ">", json!(100))] }));
    add(d, Check::Rows, json!({ "filters": [f("db_duration_ms", "<=", json!(2.5))] }));
    add(
        d,
        Check::Rows,
        json!({ "filters": [f("db_duration_ms", "!=", json!(0))], "columns": ["db_duration_ms", "trace_id"] }),
    );
    add(
        d,
        Check::Rows,
        json!({ "filters": [f("duration_ms", "<", json!(50.5)), f("region", "=", json!("eu-west-1"))] }),
    );
    add(
        d,
        Check::Rows,
        json!({ "filter_combination": "OR",
        "filters": [f("status_code", "=", json!(500)), f("plan", "=", json!("enterprise"))] }),
    );
    add(
        d,
        Check::Rows,
        json!({ "start": start, "end": start + 1800.0, "filters": [f("build_id", "=", json!("2026.10.31-7f3c2a1"))] }),
    );
    add(d, Check::Ordered, json!({ "start": start, "order": "newest", "limit": 300 }));
    add(d, Check::Rows, json!({ "end": start - 36_000.0, "columns": ["timestamp", "customer_id"] }));
    add(d, Check::Rows, json!({ "start": start + 0.2505, "end": start + 600.0007 }));
    add(
        d,
        Check::Rows,
        json!({ "filters": [f("timestamp", ">", json!(start + 10.5)), f("timestamp", "<=", json!(start + 900.0004))] }),
    );
    add(d, Check::Rows, json!({ "filters": [f("customer_id", ">", json!("cust_19"))] }));
    add(d, Check::Rows, json!({ "filters": [f("duration_ms", "=", json!(85))] }));
    add(d, Check::Rows, json!({ "filters": [f("endpoint", "in", json!([]))] }));
    add(d, Check::Rows, json!({ "filters": [f("endpoint", "not-in", json!([]))], "columns": ["endpoint"] }));
    add(d, Check::Rows, json!({ "filters": [f("customer_id", "=", json!("cust_00042' OR '1'='1"))] }));
    add(d, Check::Rows, json!({ "filters": [f("customer_id", "=", json!("cust_00042\\' OR 1=1 -- "))] }));
    add(d, Check::Count, json!({ "limit": 1234, "filters": [f("method", "=", json!("GET"))] }));
    add(d, Check::Sample, json!({ "sample": 0.3, "filters": [f("plan", "=", json!("team"))] }));
    let h = "hostile`table";
    for v in HOSTILE {
        add(h, Check::Rows, json!({ "filters": [f("msg", "=", json!(v))] }));
    }
    add(h, Check::Rows, json!({ "filters": [f("msg", "in", json!(HOSTILE))] }));
    add(h, Check::Rows, json!({ "filters": [f("msg", "not-in", json!(&HOSTILE[..8]))] }));
    for v in ["\\", "'", "`", "\0", "\n", "日本", "%", "_"] {
        add(h, Check::Rows, json!({ "filters": [f("msg", "contains", json!(v))] }));
    }
    add(h, Check::Rows, json!({ "filters": [f("msg", "starts-with", json!("'; DROP"))] }));
    add(h, Check::Rows, json!({ "filters": [f("msg", "does-not-start-with", json!("\\"))] }));
    add(h, Check::Rows, json!({ "filters": [f(WEIRD, "=", json!("it's")), f("service.name", "=", json!("wörker"))] }));
    add(h, Check::Rows, json!({ "filters": [e(WEIRD, "does-not-exist")], "columns": [WEIRD, "service.name"] }));
    add(h, Check::Rows, json!({ "filters": [f("n", ">", json!(-2.25)), f("flag", "!=", json!(false))] }));
    add(h, Check::Rows, json!({ "filters": [f("n", "in", json!([-10, 0.25, "12.5"]))] }));
    add(h, Check::Ordered, json!({ "order": "newest", "limit": 50, "columns": ["timestamp", "msg", WEIRD] }));
    // Last: the tables must still be whole.
    add(d, Check::Rows, json!({ "columns": ["trace_id"] }));
    add(h, Check::Rows, json!({}));
    out
}

fn embedded_answer(t: &Table, r: &EventsRequest) -> Dataset {
    let sel = t.select(r).unwrap_or_else(|e| panic!("embedded: {e}"));
    decode(&t.write(&sel, Compression::None, 4096, Vec::new()).unwrap())
}

/// The query string of `r` for `GET /api/events`.
fn query_string(source: &str, r: &EventsRequest) -> String {
    let mut q = vec![format!("source={}", http::pct(source))];
    if let Some(s) = r.start {
        q.push(format!("start={s}"));
    }
    if let Some(e) = r.end {
        q.push(format!("end={e}"));
    }
    if !r.filters.is_empty() {
        let fs: Vec<serde_json::Value> = r
            .filters
            .iter()
            .map(|f| {
                let mut o = json!({ "column": f.column, "op": f.op });
                if let Some(v) = &f.value {
                    o["value"] = value_json(v);
                }
                o
            })
            .collect();
        q.push(format!("filters={}", http::pct(&serde_json::to_string(&fs).unwrap())));
    }
    if let Some(c) = &r.filter_combination {
        q.push(format!("filter_combination={c}"));
    }
    if let Some(cols) = &r.columns {
        q.push(format!("columns={}", http::pct(&cols.join(","))));
    }
    if let Some(l) = r.limit {
        q.push(format!("limit={l}"));
    }
    match r.order {
        Order::Newest => q.push("order=newest".into()),
        Order::Oldest => q.push("order=oldest".into()),
        Order::None => {}
    }
    if let Some(s) = r.sample {
        q.push(format!("sample={s}"));
    }
    q.join("&")
}

fn value_json(v: &sightline::query::Value) -> serde_json::Value {
    use sightline::query::Value as V;
    match v {
        V::Bool(b) => json!(b),
        V::Int(n) => json!(n),
        V::UInt(n) => json!(n),
        V::Number(n) => json!(n),
        V::String(s) => json!(s),
        V::List(items) => serde_json::Value::Array(items.iter().map(value_json).collect()),
    }
}

/// A stand-in for ClickHouse's HTTP interface: answers `DESCRIBE` and the known SQL with
/// recorded bytes (sent in small chunks), anything else with a 400.
fn fake_clickhouse(
    answers: HashMap<String, Vec<u8>>,
    describe: HashMap<String, String>,
) -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let served = Arc::new(AtomicUsize::new(0));
    let count = served.clone();
    std::thread::spawn(move || {
        for s in listener.incoming() {
            let Ok(mut s) = s else { continue };
            let sql = read_one_request(&s);
            count.fetch_add(1, Ordering::SeqCst);
            let found = describe.get(&sql).map(|t| t.as_bytes().to_vec()).or_else(|| answers.get(&sql).cloned());
            match found {
                Some(bytes) => {
                    let _ = s.write_all(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n");
                    for piece in bytes.chunks(1000) {
                        let _ = s.write_all(format!("{:x}\r\n", piece.len()).as_bytes());
                        let _ = s.write_all(piece);
                        let _ = s.write_all(b"\r\n");
                    }
                    let _ = s.write_all(b"0\r\n\r\n");
                }
                None => {
                    let msg = format!("Code: 62. DB::Exception: unknown query {sql:?}");
                    let _ = s.write_all(
                        format!("HTTP/1.1 400 Bad Request\r\nContent-Length: {}\r\n\r\n{msg}", msg.len()).as_bytes(),
                    );
                }
            }
        }
    });
    (addr, served)
}

#[test]
fn clickhouse_sql_matches_the_embedded_server() {
    let dir = out_dir();
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("results")).unwrap();
    let session = dir.join("session");

    // The same data for both sides.
    let demo = demo_table(DEMO_ROWS, 42).unwrap();
    let demo_bytes =
        sightline::demo::ipc_stream(&sightline::demo::DemoOptions { rows: DEMO_ROWS, seed: 42, ..Default::default() })
            .unwrap();
    std::fs::write(dir.join("demo.arrow"), &demo_bytes).unwrap();
    let (hs, hb) = hostile_data();
    write_stream(&dir.join("hostile.arrow"), &hs, &hb);
    let hostile = Table::from_batches("hostile`table", "file", "hostile", hs, hb.into_iter().map(Ok)).unwrap();
    let tables: HashMap<&str, &Table> = [("events", &demo), ("hostile`table", &hostile)].into_iter().collect();

    let setup: Vec<serde_json::Value> = [("events", "demo.arrow"), ("hostile`table", "hostile.arrow")]
        .iter()
        .map(|(name, file)| {
            json!({ "name": name, "quoted": clickhouse::quote_table(name).unwrap(),
                    "path_literal": clickhouse::quote_str(dir.join(file).to_str().unwrap()) })
        })
        .collect();
    std::fs::write(dir.join("tables.json"), serde_json::to_vec(&setup).unwrap()).unwrap();
    let s = |p: &Path| p.to_str().unwrap().to_string();
    python(&["setup", &s(&session), &s(&dir.join("tables.json")), &s(&dir.join("described.json"))]);
    let described: HashMap<String, String> =
        serde_json::from_slice(&std::fs::read(dir.join("described.json")).unwrap()).unwrap();
    let schemas: HashMap<String, ChSchema> =
        described.iter().map(|(name, tsv)| (name.clone(), ChSchema::from_describe_tsv(name, tsv).unwrap())).collect();
    assert_eq!(schemas["events"].columns.len(), 17);
    assert_eq!(schemas["hostile`table"].columns[2].name, WEIRD);

    // Compile every case; run them all in ClickHouse.
    let cases = cases();
    let sqls: Vec<String> =
        cases.iter().map(|c| clickhouse::compile(&schemas[c.source], &c.req, 30).unwrap()).collect();
    let jobs: Vec<_> = cases.iter().zip(&sqls).map(|(c, sql)| json!({ "id": c.id, "sql": sql })).collect();
    std::fs::write(dir.join("cases.json"), serde_json::to_vec_pretty(&jobs).unwrap()).unwrap();
    python(&["run", &s(&session), &s(&dir.join("cases.json")), &s(&dir.join("results"))]);
    let errors: HashMap<String, String> =
        serde_json::from_slice(&std::fs::read(dir.join("results/errors.json")).unwrap()).unwrap();
    assert!(errors.is_empty(), "ClickHouse refused SQL: {errors:#?}");

    let mut answers = HashMap::new();
    let mut nonempty = 0;
    for (c, sql) in cases.iter().zip(&sqls) {
        let bytes = std::fs::read(dir.join(format!("results/{}.arrow", c.id))).unwrap();
        let ch = decode(&bytes);
        let t = tables[c.source];
        let emb = embedded_answer(t, &c.req);
        let unsampled =
            (c.check == Check::Sample).then(|| embedded_answer(t, &EventsRequest { sample: None, ..c.req.clone() }));
        compare(&c.id, c.check, c.req.limit, &emb, &ch, unsampled.as_ref());
        nonempty += (ch.row_count() > 0) as usize;
        answers.insert(sql.clone(), bytes);
    }
    // Most cases select something: the comparisons are not of empty answers.
    assert!(nonempty >= cases.len() - 5, "only {nonempty} of {} cases returned rows", cases.len());
    println!("chdb: {} push-down queries checked against the embedded server ({nonempty} non-empty)", cases.len());

    // The proxy against ClickHouse itself: chdb behind ClickHouse's HTTP interface,
    // reached over real HTTP with a user and password.
    let port_file = dir.join("chdb.port");
    let chdb = ChdbHttp::start(&session, "sightline:pw-s3cret", &port_file);
    let ch_config = |password: &str| ChConfig {
        url: format!("http://127.0.0.1:{}", chdb.port),
        table: "events".into(),
        user: Some("sightline".into()),
        password: Some(password.into()),
    };
    let config = Config { port: 0, rows: 1000, clickhouse: Some(ch_config("pw-s3cret")), ..Config::default() };
    let server = Server::bind(config).unwrap();
    let addr = server.local_addr().unwrap();
    assert_eq!(server.source_names(), ["events", "demo"]);
    std::thread::spawn(move || server.run());

    let mut proxied = 0;
    for c in cases.iter().filter(|c| c.source == "events") {
        let r = http::get(addr, &format!("/api/events?{}", query_string("events", &c.req)));
        assert_eq!(r.status, 200, "{}: {}", c.id, r.text());
        assert!(r.complete, "{}: incomplete", c.id);
        assert_eq!(r.header("content-type"), Some("application/vnd.apache.arrow.stream"));
        let emb = embedded_answer(&demo, &c.req);
        let unsampled = (c.check == Check::Sample)
            .then(|| embedded_answer(&demo, &EventsRequest { sample: None, ..c.req.clone() }));
        compare(&format!("proxy {}", c.id), c.check, c.req.limit, &emb, &decode(&r.body), unsampled.as_ref());
        proxied += 1;
    }
    let cols = http::get(addr, "/api/columns?source=events");
    assert_eq!(cols.status, 200);
    let cols: serde_json::Value = serde_json::from_slice(&cols.body).unwrap();
    assert_eq!(cols["time_column"], "timestamp");
    assert_eq!(cols["columns"][2], json!({ "name": "endpoint", "type": "LowCardinality(String)", "role": "string" }));
    // A trace by id: ClickHouse selects its rows (here the one request that has it) and
    // the engine answers them as the embedded server does.
    let probe = sightline::query::events::events(
        demo.dataset(),
        &sightline::query::events::EventsSpec { limit: Some(3), offset: 777, ..Default::default() },
    )
    .unwrap();
    let at = probe.columns.iter().position(|c| c == "trace_id").unwrap();
    for row in &probe.rows {
        let id = serde_json::to_value(&row[at]).unwrap();
        let id = id.as_str().unwrap();
        let r = http::get(addr, &format!("/api/trace?source=events&id={id}"));
        assert_eq!(r.status, 200, "{}", r.text());
        let got: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        let want = sightline_server::trace::spans_json(demo.dataset(), "trace_id", id).unwrap();
        assert_eq!(got["matched"], 1, "{got}");
        assert_eq!(got["columns"], want["columns"]);
        assert_eq!(got["rows"], want["rows"]);
    }
    let r = http::get(addr, "/api/trace?source=events&id=00000000000000000000000000000000");
    assert_eq!(r.status, 404, "{}", r.text());
    let r = http::get(addr, "/api/trace?source=events&id=x'%20OR%201=1");
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(r.text().contains("\"parameter\":\"id\""), "{}", r.text());
    let r = http::get(addr, "/api/events?source=events&compression=lz4");
    assert_eq!(r.status, 400);
    assert!(r.text().contains("\"parameter\":\"compression\""), "{}", r.text());
    // A wrong password fails at start, with ClickHouse's message and without the password.
    let bad = Config { port: 0, clickhouse: Some(ch_config("wrong-pw")), ..Config::default() };
    let e = Server::bind(bad).err().expect("a wrong password must fail").to_string();
    assert!(e.contains("ClickHouse answered 403") && e.contains("AUTHENTICATION_FAILED"), "{e}");
    assert!(!e.contains("wrong-pw"), "{e}");
    // Queries and comparisons run in ClickHouse over the hostile table: names and values
    // that break naive quoting, as breakdowns, filters and dimensions, answer what the
    // engine answers over the same rows.
    let config = Config {
        port: 0,
        rows: 1000,
        clickhouse: Some(ChConfig { table: "hostile`table".into(), ..ch_config("pw-s3cret") }),
        ..Config::default()
    };
    let server = Server::bind(config).unwrap();
    let haddr = server.local_addr().unwrap();
    std::thread::spawn(move || server.run());
    let hostile_list: Vec<&str> = HOSTILE.to_vec();
    let mut specs = vec![
        json!({ "calculations": [{ "op": "COUNT" }, { "op": "P50", "column": "n" }, { "op": "COUNT_DISTINCT", "column": WEIRD }],
                "breakdowns": [WEIRD, "service.name"], "limit": 1000 }),
        json!({ "breakdowns": ["msg"], "filters": [{ "column": WEIRD, "op": "in", "value": hostile_list }], "limit": 1000,
                "orders": [{ "column": "msg" }] }),
        json!({ "calculations": [{ "op": "HEATMAP", "column": "n" }, { "op": "MAX", "column": "n" }], "breakdowns": ["flag"],
                "filters": [{ "column": "msg", "op": "does-not-contain", "value": "'" }], "heatmap": { "scale": "linear" } }),
        // A time comparison: the earlier window is a second query, run as the engine runs it.
        json!({ "calculations": [{ "op": "COUNT" }, { "op": "HEATMAP", "column": "n" }], "breakdowns": ["flag"],
                "time_range": 600, "compare_time_offset_seconds": 300 }),
    ];
    for h in HOSTILE {
        specs.push(json!({ "breakdowns": [WEIRD], "filters": [{ "column": "msg", "op": "=", "value": h },
            { "column": WEIRD, "op": "starts-with", "value": h }], "filter_combination": "OR", "limit": 1000 }));
    }
    let ds = hostile.dataset();
    for spec in &specs {
        let r = http::request(
            haddr,
            "POST",
            "/api/query",
            &[],
            json!({ "source": "hostile`table", "spec": spec }).to_string().as_bytes(),
        );
        assert_eq!(r.status, 200, "{spec}: {}", r.text());
        let want =
            serde_json::to_value(sightline::query::run(ds, &serde_json::from_value(spec.clone()).unwrap()).unwrap())
                .unwrap();
        let got: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(json_diff::first_difference("", &want, &got), None, "{spec}");
    }
    for h in HOSTILE {
        let spec = json!({ "selection": { "filters": [{ "column": "msg", "op": "=", "value": h }] }, "top": 20 });
        let r = http::request(
            haddr,
            "POST",
            "/api/compare",
            &[],
            json!({ "source": "hostile`table", "spec": spec }).to_string().as_bytes(),
        );
        assert_eq!(r.status, 200, "{spec}: {}", r.text());
        let want = serde_json::to_value(
            sightline::compare::compare(ds, &serde_json::from_value(spec.clone()).unwrap()).unwrap(),
        )
        .unwrap();
        let got: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(json_diff::first_difference("", &want, &got), None, "{spec}");
    }
    // An unknown column, a wrong operator: the engine's typed errors, 400.
    let r = http::request(
        haddr,
        "POST",
        "/api/query",
        &[],
        json!({ "source": "hostile`table", "spec": { "breakdowns": ["nope`"] } }).to_string().as_bytes(),
    );
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(r.text().contains("nope`"), "{}", r.text());
    let r = http::request(
        haddr,
        "POST",
        "/api/query",
        &[],
        json!({ "source": "hostile`table", "spec": { "calculations": [{ "op": "P99", "column": WEIRD }] } })
            .to_string()
            .as_bytes(),
    );
    assert_eq!(r.status, 400, "{}", r.text());
    // Calculated fields compile to SQL, typed as the engine types them: an unknown
    // column is named with its position on both endpoints.
    let calc = json!([{ "name": "is_fail", "expression": "IF($status_code >= 500, 1, 0)" }]);
    for (path, spec) in [
        ("/api/query", json!({ "calculated_fields": calc, "calculations": [{ "op": "AVG", "column": "is_fail" }] })),
        ("/api/compare", json!({ "scope": { "calculated_fields": calc }, "selection": {} })),
    ] {
        let r = http::request(
            haddr,
            "POST",
            path,
            &[],
            json!({ "source": "hostile`table", "spec": spec }).to_string().as_bytes(),
        );
        assert_eq!(r.status, 400, "{path}: {}", r.text());
        assert!(
            r.text().contains("calculated field \\\"is_fail\\\": col 4: unknown column $status_code"),
            "{path}: {}",
            r.text()
        );
    }
    println!("hostile: {} queries and {} comparisons on ClickHouse equal to the engine's", specs.len(), HOSTILE.len());
    drop(chdb);
    println!("proxy: {proxied} requests streamed through sightline serve from chdb over HTTP");

    // A stream that breaks mid-way (as when ClickHouse fails mid-query) and an error,
    // from a stand-in that replays recorded bytes.
    let mut describe = HashMap::new();
    for name in ["events", "hostile`table"] {
        let sql = format!("DESCRIBE TABLE {} FORMAT TabSeparated", clickhouse::quote_table(name).unwrap());
        describe.insert(sql, described[name].clone());
    }
    let broken_req = req(json!({ "filters": [{ "column": "plan", "op": "=", "value": "free" }] }));
    let broken_sql = clickhouse::compile(&schemas["events"], &broken_req, 60).unwrap();
    let full = answers.values().max_by_key(|b| b.len()).unwrap().clone();
    let mut broken = full[..full.len() / 2].to_vec();
    broken.extend_from_slice(b"Code: 241. DB::Exception: Memory limit (total) exceeded");
    let (ch_addr, served) = fake_clickhouse([(broken_sql, broken)].into_iter().collect(), describe);
    let config = Config {
        port: 0,
        rows: 1000,
        clickhouse: Some(ChConfig {
            url: format!("http://{ch_addr}"),
            table: "events".into(),
            user: None,
            password: None,
        }),
        ..Config::default()
    };
    let server = Server::bind(config).unwrap();
    let addr = server.local_addr().unwrap();
    std::thread::spawn(move || server.run());

    let r = http::get(addr, &format!("/api/events?{}", query_string("events", &broken_req)));
    assert_eq!(r.status, 200);
    assert!(!r.complete, "a stream that broke mid-way must not end with the terminating chunk");

    let unknown = req(json!({ "filters": [{ "column": "plan", "op": "=", "value": "nobody asked" }] }));
    let r = http::get(addr, &format!("/api/events?{}", query_string("events", &unknown)));
    assert_eq!(r.status, 502, "{}", r.text());
    assert!(r.text().contains("ClickHouse answered 400"), "{}", r.text());

    assert_eq!(served.load(Ordering::SeqCst), 3, "DESCRIBE, the broken stream, the unknown query");
}

/// Reads one HTTP request (head and Content-Length body) from `s`; returns the body.
fn read_one_request(s: &std::net::TcpStream) -> String {
    let mut r = BufReader::new(s);
    let mut len = 0usize;
    loop {
        let mut l = String::new();
        if r.read_line(&mut l).unwrap_or(0) == 0 || l == "\r\n" {
            break;
        }
        if let Some(v) = l.to_ascii_lowercase().strip_prefix("content-length:") {
            len = v.trim().parse().unwrap();
        }
    }
    let mut body = vec![0u8; len];
    let _ = r.read_exact(&mut body);
    String::from_utf8_lossy(&body).into_owned()
}

/// ClickHouse that does not answer in time (504), is gone (503, "unreachable"), and
/// refuses a query (502, its message): three errors, three statuses, and a message
/// that never shows the password.
#[test]
fn clickhouse_failures_have_their_own_statuses() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let ch = listener.local_addr().unwrap();
    let (release, held) = std::sync::mpsc::channel::<()>();
    let fake = std::thread::spawn(move || {
        // 1: DESCRIBE, answered (and the connection closed, so the next one is new).
        let (mut s, _) = listener.accept().unwrap();
        read_one_request(&s);
        let tsv = "timestamp\tDateTime64(3)\t\t\t\t\t\nendpoint\tString\t\t\t\t\t\n";
        let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", tsv.len());
        s.write_all(format!("{head}{tsv}").as_bytes()).unwrap();
        drop(s);
        // 2: a query that gets no answer.
        let (s2, _) = listener.accept().unwrap();
        read_one_request(&s2);
        let _ = held.recv();
        drop(s2);
        // 3: a query refused, then the server is gone.
        let (mut s3, _) = listener.accept().unwrap();
        read_one_request(&s3);
        let msg = "Code: 60. DB::Exception: Unknown table expression identifier 'nope'";
        let head = format!("HTTP/1.1 404 Not Found\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", msg.len());
        s3.write_all(format!("{head}{msg}").as_bytes()).unwrap();
    });
    let config = Config {
        port: 0,
        rows: 100,
        timeout: Duration::from_secs(2),
        clickhouse: Some(ChConfig {
            url: format!("http://{ch}"),
            table: "spans".into(),
            user: Some("reader".into()),
            password: Some("hunter2-secret".into()),
        }),
        ..Config::default()
    };
    let server = Server::bind(config).unwrap();
    let addr = server.local_addr().unwrap();
    std::thread::spawn(move || server.run());

    let t = Instant::now();
    let r = http::get(addr, "/api/events?source=spans&limit=5");
    assert_eq!(r.status, 504, "{}", r.text());
    assert!(r.text().contains("did not answer within 2 s"), "{}", r.text());
    assert!(t.elapsed() < Duration::from_secs(10), "{:?}", t.elapsed());
    release.send(()).unwrap();

    let r = http::get(addr, "/api/events?source=spans&limit=5");
    assert_eq!(r.status, 502, "{}", r.text());
    assert!(r.text().contains("ClickHouse answered 404: Code: 60."), "{}", r.text());
    fake.join().unwrap();

    let r = http::get(addr, "/api/events?source=spans&limit=5");
    assert_eq!(r.status, 503, "{}", r.text());
    assert!(r.text().contains("unreachable"), "{}", r.text());
    assert!(!r.text().contains("hunter2"), "{}", r.text());
}
