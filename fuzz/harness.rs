//! Fuzzing harnesses, shared by the cargo-fuzz targets in `fuzz/` and by the corpus
//! replay test (`tests/fuzz_corpus.rs`), so that CI replays every corpus file and every
//! minimized crasher through exactly the code the fuzzer ran. Not part of the API.
//!
//! Each harness takes arbitrary bytes and must never panic; a panic (or an abort from an
//! allocation failure) is a finding. The invariants they check panic on purpose.

#![allow(dead_code)]

use std::sync::OnceLock;

use sightline::compare::{compare, CompareSpec};
use sightline::demo::{self, DemoOptions};
use sightline::query::events::{events, EventsSpec};
use sightline::query::{run, QuerySpec};
use sightline::Dataset;

/// Memory budget of the datasets the `push` harness builds: small, so that the budget
/// checks are exercised and a run stays far below libFuzzer's RSS limit.
pub const PUSH_BUDGET: u64 = 64 << 20;

/// The `push` target: the first byte says how many chunk sizes follow (1-8), each next
/// byte is a chunk size (1-128 bytes, or with the high bit set, (b & 0x7f) * 64 + 1);
/// the rest is the stream, pushed in chunks of those sizes, cycling. After an error the
/// rows loaded before it must stay consistent and queryable; then `reset_stream` and the
/// whole stream is pushed again in one chunk, and `finish`.
pub fn push(data: &[u8]) {
    let Some((&first, rest)) = data.split_first() else { return };
    let n = (first as usize % 8) + 1;
    if rest.len() < n {
        return;
    }
    let (sizes, stream) = rest.split_at(n);
    let sizes: Vec<usize> =
        sizes.iter().map(|&b| if b & 0x80 != 0 { (b & 0x7f) as usize * 64 + 1 } else { b as usize + 1 }).collect();

    let mut ds = Dataset::with_budget(PUSH_BUDGET);
    let mut at = 0;
    let mut i = 0;
    let mut failed = false;
    while at < stream.len() {
        let len = sizes[i % sizes.len()].min(stream.len() - at);
        i += 1;
        let before = ds.row_count();
        match ds.push(&stream[at..at + len]) {
            Ok(summary) => assert_eq!(ds.row_count(), before + summary.rows, "push summary disagrees with row count"),
            Err(e) => {
                assert!(ds.row_count() >= before, "an error dropped loaded rows");
                check_error(&e);
                failed = true;
                check_queryable(&ds);
                // A failed stream refuses more bytes until finish or reset_stream.
                assert!(ds.push(&stream[at..at + len]).is_err(), "a failed stream accepted more bytes");
                break;
            }
        }
        at += len;
    }
    let rows = ds.row_count();
    let finished = ds.finish();
    if failed {
        assert!(finished.is_err(), "finish did not report the failure");
    }
    if let Err(e) = &finished {
        check_error(e);
    }
    assert_eq!(ds.row_count(), rows, "finish changed the row count");
    check_queryable(&ds);

    // Once more, from the start, in one chunk, after a reset.
    ds.reset_stream();
    let before = ds.row_count();
    match ds.push(stream) {
        Ok(summary) => assert_eq!(ds.row_count(), before + summary.rows),
        Err(e) => check_error(&e),
    }
    ds.reset_stream();
    check_queryable(&ds);
}

/// An error's message must say something (and `Display` must not panic).
fn check_error(e: &sightline::Error) {
    assert!(!e.to_string().is_empty());
}

/// Every column holds exactly the loaded rows, and a COUNT over the whole time range
/// counts no more than them (rows with a null time are not counted).
fn check_queryable(ds: &Dataset) {
    let rows = ds.row_count();
    for c in ds.columns() {
        assert_eq!(c.len(), rows, "column {:?} holds {} rows, the dataset {rows}", c.name, c.len());
    }
    let _ = ds.schema();
    if ds.time_column().is_none() {
        return;
    }
    match run(ds, &QuerySpec::default()) {
        Ok(r) => {
            assert!(r.scanned <= rows as u64 && r.matched <= r.scanned, "COUNT over {rows} rows: {r:?}");
            let total: f64 = r
                .results
                .iter()
                .filter_map(|row| match row.get("COUNT") {
                    Some(sightline::query::Cell::Num(x)) => Some(*x),
                    _ => None,
                })
                .sum();
            assert_eq!(total as u64, r.matched, "COUNT results disagree with matched");
        }
        // A query may be refused (say, a time range that overflows), never panic.
        Err(e) => check_error(&e),
    }
}

/// The fixed dataset the `query` target runs against: 2,000 demo rows.
pub fn query_dataset() -> &'static Dataset {
    static DS: OnceLock<Dataset> = OnceLock::new();
    DS.get_or_init(|| {
        let bytes =
            demo::ipc_stream(&DemoOptions { rows: 2_000, batch_rows: 700, ..Default::default() }).expect("demo stream");
        let mut ds = Dataset::new();
        ds.push(&bytes).expect("demo stream loads");
        ds.finish().expect("demo stream ends");
        ds
    })
}

/// The `query` target: the first byte selects what the rest is: 0 a [`QuerySpec`], 1 a
/// [`CompareSpec`], 2 an [`EventsSpec`] as JSON text; 3 and above, bytes that
/// [`structured`] turns into a spec built from the dataset's columns and the valid
/// operators, so that execution, not only parsing, is exercised.
pub fn query(data: &[u8]) {
    let Some((&sel, rest)) = data.split_first() else { return };
    let ds = query_dataset();
    match sel % 4 {
        0 => run_json(ds, Kind::Query, rest),
        1 => run_json(ds, Kind::Compare, rest),
        2 => run_json(ds, Kind::Events, rest),
        _ => {
            let (kind, json) = structured(rest);
            run_value(ds, kind, json);
        }
    }
}

/// Which spec a JSON text is.
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    /// [`QuerySpec`].
    Query,
    /// [`CompareSpec`].
    Compare,
    /// [`EventsSpec`].
    Events,
}

fn run_json(ds: &Dataset, kind: Kind, text: &[u8]) {
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(text) {
        run_value(ds, kind, v);
    }
}

fn run_value(ds: &Dataset, kind: Kind, v: serde_json::Value) {
    match kind {
        Kind::Query => {
            if let Ok(spec) = serde_json::from_value::<QuerySpec>(v) {
                match run(ds, &spec) {
                    Ok(r) => {
                        assert!(r.matched <= r.scanned && r.scanned <= ds.row_count() as u64);
                        let _ = serde_json::to_string(&r).expect("a query result serializes");
                    }
                    Err(e) => check_error(&e),
                }
            }
        }
        Kind::Compare => {
            if let Ok(spec) = serde_json::from_value::<CompareSpec>(v) {
                match compare(ds, &spec) {
                    Ok(r) => drop(serde_json::to_string(&r).expect("a comparison serializes")),
                    Err(e) => check_error(&e),
                }
            }
        }
        Kind::Events => {
            if let Ok(spec) = serde_json::from_value::<EventsSpec>(v) {
                match events(ds, &spec) {
                    Ok(r) => drop(serde_json::to_string(&r).expect("events serialize")),
                    Err(e) => check_error(&e),
                }
            }
        }
    }
}

/// Reads bytes as choices; past the end every choice is 0.
struct Choices<'a>(&'a [u8]);

impl Choices<'_> {
    fn byte(&mut self) -> u8 {
        match self.0.split_first() {
            Some((&b, rest)) => {
                self.0 = rest;
                b
            }
            None => 0,
        }
    }
    fn pick<'s, T: ?Sized>(&mut self, items: &'s [&'s T]) -> &'s T {
        items[self.byte() as usize % items.len()]
    }
    fn one_in(&mut self, n: u8) -> bool {
        self.byte().is_multiple_of(n)
    }
    fn maybe(&mut self) -> bool {
        self.byte() & 1 == 1
    }
    /// A number: small integers, times near the demo's window, or edge values.
    fn number(&mut self) -> serde_json::Value {
        let b = self.byte();
        let n: f64 = match b % 8 {
            0 => self.byte() as f64,
            1 => (demo::DEFAULT_END_S - 86_400 + self.byte() as i64 * 400) as f64,
            2 => self.byte() as f64 * 60.0,
            3 => -(self.byte() as f64),
            4 => {
                [0.0, 0.5, 1e15, 1e300, -1e300, f64::MAX, f64::MIN_POSITIVE, 4_294_967_296.0][self.byte() as usize % 8]
            }
            5 => self.byte() as f64 * 10.0 + 0.25,
            6 => (self.byte() as u64 * 1_000_000) as f64,
            _ => demo::DEFAULT_END_S as f64,
        };
        serde_json::Number::from_f64(n).map_or(serde_json::Value::Null, serde_json::Value::Number)
    }
    fn value(&mut self, ds: &Dataset) -> serde_json::Value {
        use serde_json::Value as V;
        match self.byte() % 6 {
            0 => self.number(),
            1 => V::Bool(self.maybe()),
            2 => V::String(self.pick(VALUES).to_string()),
            3 => V::Array((0..self.byte() % 4).map(|_| self.value_leaf()).collect()),
            4 => {
                // A value that occurs in the data.
                let samples = samples(ds);
                samples.get(self.byte() as usize * 7 % samples.len().max(1)).cloned().unwrap_or(V::Null)
            }
            _ => V::Null,
        }
    }
    fn value_leaf(&mut self) -> serde_json::Value {
        match self.byte() % 3 {
            0 => self.number(),
            1 => serde_json::Value::String(self.pick(VALUES).to_string()),
            _ => serde_json::Value::Bool(self.maybe()),
        }
    }
}

const OPS: &[&str] = &[
    "COUNT",
    "CONCURRENCY",
    "SUM",
    "AVG",
    "MIN",
    "MAX",
    "COUNT_DISTINCT",
    "HEATMAP",
    "P001",
    "P01",
    "P05",
    "P10",
    "P25",
    "P50",
    "P75",
    "P90",
    "P95",
    "P99",
    "P999",
    "RATE_SUM",
    "RATE_AVG",
    "RATE_MAX",
    "MEDIAN",
    "count",
    "P100",
];
use sightline::query::filter::FILTER_OPS;
const HAVING_OPS: &[&str] = &["=", "!=", ">", ">=", "<", "<=", "in"];
const VALUES: &[&str] = &[
    "",
    "GET",
    "/api/v2/search",
    demo::BAD_BUILD,
    "cust_00042",
    "us-east-1",
    "500",
    "true",
    "null",
    "\u{0}",
    "é",
    "1e309",
    "NaN",
];

/// Values that occur in the query dataset (its 20 newest events, every column).
fn samples(ds: &Dataset) -> &'static [serde_json::Value] {
    static SAMPLES: OnceLock<Vec<serde_json::Value>> = OnceLock::new();
    SAMPLES.get_or_init(|| {
        let spec = EventsSpec { limit: Some(20), ..Default::default() };
        let found = events(ds, &spec).expect("events of the demo dataset");
        let json = serde_json::to_value(&found.rows).expect("events serialize");
        let mut out: Vec<serde_json::Value> =
            json.as_array().into_iter().flatten().flat_map(|r| r.as_array().cloned().unwrap_or_default()).collect();
        out.retain(|v| !v.is_null());
        out
    })
}

fn column_name(c: &mut Choices, ds: &Dataset) -> String {
    match c.byte() % 16 {
        0 => c.pick(&["", "nope", "timestamp ", "COUNT", "time", "cf0", "cf1"]).to_string(),
        b => ds.columns()[b as usize % ds.columns().len()].name.clone(),
    }
}

fn filters(c: &mut Choices, ds: &Dataset) -> serde_json::Value {
    let n = c.byte() % 4;
    serde_json::Value::Array(
        (0..n)
            .map(|_| {
                let mut f = serde_json::Map::new();
                f.insert("column".into(), column_name(c, ds).into());
                f.insert("op".into(), c.pick(&FILTER_OPS).into());
                if !c.one_in(4) {
                    f.insert("value".into(), c.value(ds));
                }
                serde_json::Value::Object(f)
            })
            .collect(),
    )
}

fn time_fields(c: &mut Choices, m: &mut serde_json::Map<String, serde_json::Value>) {
    for key in ["start_time", "end_time", "time_range"] {
        if c.one_in(3) {
            m.insert(key.into(), c.number());
        }
    }
}

/// A calculated field's expression in the formula language, from the dataset's columns,
/// the functions (computed, refused and misspelt ones), operators and literals.
fn formula(c: &mut Choices, ds: &Dataset, depth: u8) -> String {
    const FUNCS: &[&str] = &[
        "SUM",
        "SUB",
        "MUL",
        "DIV",
        "MOD",
        "MIN",
        "MAX",
        "LOG10",
        "LT",
        "LTE",
        "GT",
        "GTE",
        "EQUALS",
        "IN",
        "EXISTS",
        "AND",
        "OR",
        "NOT",
        "IF",
        "COALESCE",
        "INT",
        "FLOAT",
        "BOOL",
        "STRING",
        "CONCAT",
        "STARTS_WITH",
        "ENDS_WITH",
        "CONTAINS",
        "TO_LOWER",
        "REG_MATCH",
        "REG_VALUE",
        "REG_COUNT",
        "LENGTH",
        "SWITCH",
        "BUCKET",
        "UNIX_TIMESTAMP",
        "EVENT_TIMESTAMP",
        "INGEST_TIMESTAMP",
        "FORMAT_TIME",
        "REGX",
        "sum",
    ];
    const INFIX: &[&str] =
        &[" + ", " - ", " * ", " / ", " % ", " < ", " <= ", " > ", " >= ", " = ", " != ", " AND ", " OR ", "+", "-"];
    let leaf = |c: &mut Choices| match c.byte() % 8 {
        0 | 1 | 2 => format!("${}", column_name(c, ds)),
        3 => format!("$\"{}\"", column_name(c, ds)),
        4 => c.pick(&["0", "-1", "2.5e3", ".5", "1e400", "-0"]).to_string(),
        5 => c
            .pick(&[
                "\"/api\"",
                "`^a.*`",
                "\"\\u00e9\"",
                "\"true\"",
                "\"\"",
                "`(a|b)*c`",
                "\"%Y-%m-%dT%H\"",
                "\"bytes\"",
                "`(`",
            ])
            .to_string(),
        6 => c.pick(&["true", "false", "null"]).to_string(),
        _ => c.pick(&["(", ")", ",", "!", "$", "\"", "#"]).to_string(),
    };
    if depth == 0 {
        return leaf(c);
    }
    match c.byte() % 5 {
        0 | 1 => {
            let f = c.pick(FUNCS).to_string();
            let args: Vec<String> = (0..c.byte() % 5).map(|_| formula(c, ds, depth - 1)).collect();
            format!("{f}({})", args.join(", "))
        }
        2 => format!("{}{}{}", formula(c, ds, depth - 1), c.pick(INFIX), formula(c, ds, depth - 1)),
        3 => format!("!({})", formula(c, ds, depth - 1)),
        _ => leaf(c),
    }
}

/// Builds a spec from bytes: which kind (query, compare, events), then its fields from
/// the dataset's column names, the operators, and numbers near the data's time range.
pub fn structured(bytes: &[u8]) -> (Kind, serde_json::Value) {
    use serde_json::{json, Map, Value as V};
    let ds = query_dataset();
    let mut c = Choices(bytes);
    let kind = match c.byte() % 4 {
        0 | 1 => Kind::Query,
        2 => Kind::Compare,
        _ => Kind::Events,
    };
    let query = |c: &mut Choices| {
        let mut m = Map::new();
        let calcs: Vec<V> = (0..c.byte() % 4)
            .map(|_| {
                let mut o = Map::new();
                o.insert("op".into(), c.pick(OPS).into());
                if !c.one_in(4) {
                    o.insert("column".into(), column_name(c, ds).into());
                }
                V::Object(o)
            })
            .collect();
        m.insert("calculations".into(), V::Array(calcs));
        m.insert("filters".into(), filters(c, ds));
        if c.maybe() {
            m.insert("filter_combination".into(), c.pick(&["AND", "OR", "XOR"]).into());
        }
        let breakdowns: Vec<V> = (0..c.byte() % 3).map(|_| column_name(c, ds).into()).collect();
        m.insert("breakdowns".into(), V::Array(breakdowns));
        if c.maybe() {
            let orders: Vec<V> = (0..c.byte() % 3)
                .map(|_| {
                    let mut o = Map::new();
                    if c.maybe() {
                        o.insert("op".into(), c.pick(OPS).into());
                    }
                    if c.maybe() {
                        o.insert("column".into(), column_name(c, ds).into());
                    }
                    if c.maybe() {
                        o.insert("order".into(), c.pick(&["ascending", "descending", "up"]).into());
                    }
                    V::Object(o)
                })
                .collect();
            m.insert("orders".into(), V::Array(orders));
        }
        if c.one_in(4) {
            let havings: Vec<V> = (0..c.byte() % 3)
                .map(|_| {
                    let mut h = Map::new();
                    h.insert("calculate_op".into(), c.pick(OPS).into());
                    if c.maybe() {
                        h.insert("column".into(), column_name(c, ds).into());
                    }
                    h.insert("op".into(), c.pick(HAVING_OPS).into());
                    h.insert("value".into(), c.value(ds));
                    V::Object(h)
                })
                .collect();
            m.insert("havings".into(), V::Array(havings));
        }
        if c.one_in(4) {
            m.insert("limit".into(), json!([0, 1, 3, 100, 10_000, 10_001][c.byte() as usize % 6]));
        }
        time_fields(c, &mut m);
        if c.one_in(4) {
            m.insert("granularity".into(), c.number());
        }
        if c.one_in(8) {
            m.insert("time_column".into(), column_name(c, ds).into());
        }
        if c.one_in(4) {
            let mut h = Map::new();
            if c.maybe() {
                h.insert("value_buckets".into(), c.number());
            }
            if c.maybe() {
                h.insert("time_buckets".into(), c.number());
            }
            if c.maybe() {
                h.insert("scale".into(), c.pick(&["log", "linear", "sqrt"]).into());
            }
            m.insert("heatmap".into(), V::Object(h));
        }
        if c.maybe() {
            m.insert("disable_series".into(), true.into());
        }
        if c.one_in(3) {
            let fields: Vec<V> = (0..1 + c.byte() % 2)
                .map(|k| json!({ "name": format!("cf{k}"), "expression": formula(c, ds, 3) }))
                .collect();
            m.insert("calculated_fields".into(), V::Array(fields));
        }
        V::Object(m)
    };
    let side = |c: &mut Choices| {
        let mut m = Map::new();
        time_fields(c, &mut m);
        m.remove("time_range");
        m.insert("filters".into(), filters(c, ds));
        if c.one_in(4) {
            m.insert("period".into(), c.number());
        }
        V::Object(m)
    };
    let value = match kind {
        Kind::Query => query(&mut c),
        Kind::Compare => {
            let mut m = Map::new();
            if c.maybe() {
                m.insert("scope".into(), query(&mut c));
            }
            m.insert("selection".into(), side(&mut c));
            if c.maybe() {
                m.insert("baseline".into(), side(&mut c));
            }
            for key in ["dimensions", "measures"] {
                if c.one_in(3) {
                    let cols: Vec<V> = (0..c.byte() % 4).map(|_| column_name(&mut c, ds).into()).collect();
                    m.insert(key.into(), V::Array(cols));
                }
            }
            if c.one_in(3) {
                m.insert("top".into(), c.number());
            }
            if c.one_in(3) {
                m.insert("min_count".into(), c.number());
            }
            if c.one_in(3) {
                m.insert("alpha".into(), c.number());
            }
            V::Object(m)
        }
        Kind::Events => {
            let mut m = Map::new();
            m.insert("filters".into(), filters(&mut c, ds));
            time_fields(&mut c, &mut m);
            if c.one_in(3) {
                m.insert("limit".into(), c.number());
            }
            if c.one_in(3) {
                m.insert("offset".into(), c.number());
            }
            if c.maybe() {
                m.insert("order".into(), c.pick(&["newest", "oldest", "random"]).into());
            }
            if c.one_in(3) {
                let cols: Vec<V> = (0..c.byte() % 4).map(|_| column_name(&mut c, ds).into()).collect();
                m.insert("columns".into(), V::Array(cols));
            }
            V::Object(m)
        }
    };
    (kind, value)
}
