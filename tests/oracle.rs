//! The query engine against an independent engine: DuckDB (PyPI `duckdb`, installed by
//! scripts/setup.sh) runs the equivalent SQL over the same Arrow data, for randomized
//! data (nulls, ties, one-row groups) and randomized specifications (every operator).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;

use arrow_array::builder::{
    BooleanBuilder, Float64Builder, Int64Builder, StringBuilder, TimestampMillisecondBuilder, UInt8Builder,
};
use arrow_array::types::Int16Type;
use arrow_array::{ArrayRef, DictionaryArray, Int16Array, RecordBatch, StringArray};
use arrow_ipc::writer::StreamWriter;
use arrow_schema::{DataType, Field, Schema, TimeUnit};
use serde_json::{json, Value as J};
use sightline::query::{run, Cell, QuerySpec};
use sightline::Dataset;

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn chance(&mut self, p: f64) -> bool {
        (self.next() % 1_000_000) as f64 / 1e6 < p
    }
    fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len() as u64) as usize]
    }
}

const T0_MS: i64 = 1_793_400_000_000;
const LOW: [&str; 6] = ["alpha", "beta", "gamma", "delta", "épsilon", "zeta'q"];

fn dataset(rng: &mut Rng, rows: usize, sorted: bool) -> Vec<u8> {
    let schema = Arc::new(Schema::new(vec![
        Field::new("ts", DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())), false),
        Field::new("s_low", DataType::Utf8, true),
        Field::new("s_high", DataType::Utf8, true),
        Field::new("b", DataType::Boolean, true),
        Field::new("i", DataType::Int64, true),
        Field::new("f", DataType::Float64, true),
        Field::new("u", DataType::UInt8, false),
        Field::new("d", DataType::Dictionary(Box::new(DataType::Int16), Box::new(DataType::Utf8)), true),
    ]));
    let dict: ArrayRef = Arc::new(StringArray::from((0..20).map(|k| format!("d{k:02}")).collect::<Vec<_>>()));
    let mut out = Vec::new();
    {
        let mut w = StreamWriter::try_new(&mut out, &schema).unwrap();
        let mut left = rows;
        let mut t = T0_MS;
        while left > 0 {
            let n = left.min(1 + rng.below(900) as usize);
            left -= n;
            let mut ts = TimestampMillisecondBuilder::new().with_timezone("UTC");
            let (mut sl, mut sh) = (StringBuilder::new(), StringBuilder::new());
            let (mut b, mut i, mut f, mut u) =
                (BooleanBuilder::new(), Int64Builder::new(), Float64Builder::new(), UInt8Builder::new());
            let mut keys = Vec::new();
            for _ in 0..n {
                t += rng.below(2500) as i64;
                ts.append_value(if sorted { t } else { T0_MS + rng.below(3_600_000) as i64 });
                sl.append_option((!rng.chance(0.1)).then(|| *rng.pick(&LOW)));
                sh.append_option((!rng.chance(0.05)).then(|| format!("id-{}", rng.below(400))));
                b.append_option((!rng.chance(0.15)).then(|| rng.chance(0.4)));
                i.append_option((!rng.chance(0.1)).then(|| rng.below(101) as i64 - 50));
                f.append_option((!rng.chance(0.1)).then(|| (rng.below(20_000) as f64 - 5_000.0) / 10.0));
                u.append_value(rng.below(6) as u8);
                keys.push((!rng.chance(0.1)).then(|| rng.below(20) as i16));
            }
            let d = DictionaryArray::<Int16Type>::try_new(Int16Array::from(keys), dict.clone()).unwrap();
            let cols: Vec<ArrayRef> = vec![
                Arc::new(ts.finish()),
                Arc::new(sl.finish()),
                Arc::new(sh.finish()),
                Arc::new(b.finish()),
                Arc::new(i.finish()),
                Arc::new(f.finish()),
                Arc::new(u.finish()),
                Arc::new(d),
            ];
            w.write(&RecordBatch::try_new(schema.clone(), cols).unwrap()).unwrap();
        }
        w.finish().unwrap();
    }
    out
}

fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

fn lit(v: &J) -> String {
    match v {
        J::String(s) => quote(s),
        J::Bool(b) => b.to_string(),
        other => other.to_string(),
    }
}

fn filter_sql(f: &J) -> String {
    filter_sql_with(f, &lit)
}

/// A filter as SQL, its values written by `lit`.
fn filter_sql_with(f: &J, lit: &dyn Fn(&J) -> String) -> String {
    let c = format!("\"{}\"", f["column"].as_str().unwrap());
    let v = &f["value"];
    let list = || v.as_array().unwrap().iter().map(lit).collect::<Vec<_>>().join(", ");
    match f["op"].as_str().unwrap() {
        "=" => format!("{c} = {}", lit(v)),
        "!=" => format!("({c} IS NULL OR {c} <> {})", lit(v)),
        op @ (">" | ">=" | "<" | "<=") => format!("{c} {op} {}", lit(v)),
        "starts-with" => format!("starts_with({c}, {})", lit(v)),
        "does-not-start-with" => format!("({c} IS NULL OR NOT starts_with({c}, {}))", lit(v)),
        "ends-with" => format!("ends_with({c}, {})", lit(v)),
        "does-not-end-with" => format!("({c} IS NULL OR NOT ends_with({c}, {}))", lit(v)),
        "contains" => format!("contains({c}, {})", lit(v)),
        "does-not-contain" => format!("({c} IS NULL OR NOT contains({c}, {}))", lit(v)),
        "exists" => format!("{c} IS NOT NULL"),
        "does-not-exist" => format!("{c} IS NULL"),
        "in" => format!("{c} IN ({})", list()),
        "not-in" => format!("({c} IS NULL OR {c} NOT IN ({}))", list()),
        op => panic!("{op}"),
    }
}

fn calc_sql(op: &str, col: Option<&str>) -> String {
    let c = col.map(|c| format!("\"{c}\"")).unwrap_or_default();
    let p = |x: f64| format!("quantile_cont({c}, {x})");
    match op {
        "COUNT" => "count(*)".into(),
        "COUNT_DISTINCT" => format!("count(DISTINCT {c})"),
        "SUM" => format!("sum({c})"),
        "AVG" => format!("avg({c})"),
        "MIN" => format!("min({c})"),
        "MAX" => format!("max({c})"),
        "P001" => p(0.001),
        "P01" => p(0.01),
        "P05" => p(0.05),
        "P10" => p(0.1),
        "P20" => p(0.2),
        "P25" => p(0.25),
        "P50" => p(0.5),
        "P75" => p(0.75),
        "P80" => p(0.8),
        "P90" => p(0.9),
        "P95" => p(0.95),
        "P99" => p(0.99),
        "P999" => p(0.999),
        op => panic!("{op}"),
    }
}

fn random_filter(rng: &mut Rng) -> J {
    let str_ops = [
        "=",
        "!=",
        "starts-with",
        "does-not-start-with",
        "ends-with",
        "does-not-end-with",
        "contains",
        "does-not-contain",
        "exists",
        "does-not-exist",
        "in",
        "not-in",
        ">",
        "<=",
    ];
    let num_ops = ["=", "!=", ">", ">=", "<", "<=", "exists", "does-not-exist", "in", "not-in"];
    match rng.below(5) {
        0 | 1 => {
            let col = *rng.pick(&["s_low", "s_high", "d"]);
            let op = *rng.pick(&str_ops);
            let word = |rng: &mut Rng| -> String {
                match col {
                    "s_low" => rng.pick(&LOW).to_string(),
                    "s_high" => format!("id-{}", rng.below(450)),
                    _ => format!("d{:02}", rng.below(22)),
                }
            };
            let part = |rng: &mut Rng, w: String| -> String {
                let k = 1 + rng.below(w.chars().count() as u64) as usize;
                match op {
                    "starts-with" | "does-not-start-with" => w.chars().take(k).collect(),
                    "ends-with" | "does-not-end-with" => w.chars().skip(k - 1).collect(),
                    "contains" | "does-not-contain" => w.chars().skip(k / 2).take(2).collect(),
                    _ => w,
                }
            };
            let value = match op {
                "exists" | "does-not-exist" => J::Null,
                "in" | "not-in" => J::Array((0..1 + rng.below(3)).map(|_| J::String(word(rng))).collect()),
                _ => {
                    let w = word(rng);
                    J::String(part(rng, w))
                }
            };
            let mut f = json!({"column": col, "op": op});
            if !value.is_null() {
                f["value"] = value;
            }
            f
        }
        2 => {
            let op = *rng.pick(&["=", "!=", "exists", "does-not-exist"]);
            let mut f = json!({"column": "b", "op": op});
            if op == "=" || op == "!=" {
                f["value"] = J::Bool(rng.chance(0.5));
            }
            f
        }
        _ => {
            let col = *rng.pick(&["i", "f", "u"]);
            let op = *rng.pick(&num_ops);
            let num = |rng: &mut Rng| -> J {
                match col {
                    "i" => json!(rng.below(101) as i64 - 50),
                    "u" => json!(rng.below(7)),
                    _ => json!((rng.below(20_000) as f64 - 5_000.0) / 10.0),
                }
            };
            let mut f = json!({"column": col, "op": op});
            match op {
                "exists" | "does-not-exist" => {}
                "in" | "not-in" => f["value"] = J::Array((0..1 + rng.below(4)).map(|_| num(rng)).collect()),
                _ => f["value"] = num(rng),
            }
            f
        }
    }
}

fn random_spec(rng: &mut Rng) -> J {
    let ps = ["P001", "P01", "P05", "P10", "P20", "P25", "P50", "P75", "P80", "P90", "P95", "P99", "P999"];
    let mut calcs = Vec::new();
    for _ in 0..1 + rng.below(4) {
        let c = match rng.below(8) {
            0 => json!({"op": "COUNT"}),
            1 => json!({"op": "COUNT_DISTINCT", "column": rng.pick(&["s_high", "i", "f", "b", "d"])}),
            2 | 3 => json!({"op": rng.pick(&ps), "column": rng.pick(&["f", "i"])}),
            _ => json!({"op": rng.pick(&["SUM", "AVG", "MIN", "MAX"]), "column": rng.pick(&["f", "i", "u"])}),
        };
        if !calcs.contains(&c) {
            calcs.push(c);
        }
    }
    let mut breakdowns: Vec<&str> = Vec::new();
    for _ in 0..rng.below(3) {
        let b = *rng.pick(&["s_low", "b", "u", "d", "i", "s_high"]);
        if !breakdowns.contains(&b) {
            breakdowns.push(b);
        }
    }
    let filters: Vec<J> = (0..rng.below(4)).map(|_| random_filter(rng)).collect();
    let mut spec = json!({
        "calculations": calcs,
        "filters": filters,
        "filter_combination": if rng.chance(0.3) { "OR" } else { "AND" },
        "breakdowns": breakdowns,
        "limit": 10000,
        "disable_series": true,
    });
    if rng.chance(0.5) {
        let start = T0_MS / 1000 + rng.below(1800) as i64;
        spec["start_time"] = json!(start);
        spec["end_time"] = json!(start + 60 + rng.below(3600) as i64);
    }
    if rng.chance(0.2) {
        spec["havings"] =
            json!([{"calculate_op": "COUNT", "op": *rng.pick(&[">", ">=", "<", "="]), "value": rng.below(6)}]);
    }
    spec
}

fn to_sql(spec: &J, t0_ms: i64, t1_ms: i64) -> String {
    let calcs: Vec<(String, Option<String>)> = spec["calculations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["op"].as_str().unwrap().to_string(), c["column"].as_str().map(String::from)))
        .collect();
    let bds: Vec<String> =
        spec["breakdowns"].as_array().unwrap().iter().map(|b| format!("\"{}\"", b.as_str().unwrap())).collect();
    let mut select = bds.clone();
    select.extend(calcs.iter().map(|(op, c)| calc_sql(op, c.as_deref())));
    let fs: Vec<String> = spec["filters"].as_array().unwrap().iter().map(filter_sql).collect();
    let joiner = if spec["filter_combination"] == "OR" { " OR " } else { " AND " };
    let mut wh = format!("epoch_ms(ts) >= {t0_ms} AND epoch_ms(ts) < {t1_ms}");
    if !fs.is_empty() {
        wh = format!("{wh} AND ({})", fs.join(joiner));
    }
    let mut sql = format!("SELECT {} FROM t WHERE {wh}", select.join(", "));
    if !bds.is_empty() {
        sql += &format!(" GROUP BY {}", bds.join(", "));
    }
    if let Some(h) = spec.get("havings").and_then(|h| h.as_array()).and_then(|h| h.first()) {
        sql += &format!(" HAVING count(*) {} {}", h["op"].as_str().unwrap(), h["value"]);
    }
    sql
}

fn cell_json(c: &Cell) -> J {
    match c {
        Cell::Null => J::Null,
        Cell::Num(x) if x.is_nan() => json!("nan"),
        Cell::Num(x) if x.is_infinite() => json!(if *x > 0.0 { "inf" } else { "-inf" }),
        Cell::Num(x) => json!(x),
        Cell::Int(x) => sightline::query::int_json(*x as i128),
        Cell::UInt(x) => sightline::query::int_json(*x as i128),
        Cell::Str(s) => J::String(s.clone()),
        Cell::Bool(b) => J::Bool(*b),
    }
}

fn close(a: &J, b: &J) -> bool {
    match (a, b) {
        (J::Number(x), J::Number(y)) => {
            let (x, y) = (x.as_f64().unwrap(), y.as_f64().unwrap());
            (x - y).abs() <= 1e-9 * x.abs().max(y.abs()).max(1.0)
        }
        _ => a == b,
    }
}

fn key_of(vals: &[J]) -> String {
    vals.iter()
        .map(|v| match v {
            J::Number(n) => format!("{}", n.as_f64().unwrap()),
            other => other.to_string(),
        })
        .collect::<Vec<_>>()
        .join("|")
}

/// Runs `cases` (`{ data, sql }`) in DuckDB, all in one Python process; each case's rows.
fn duckdb(dir: &std::path::Path, cases: &[J]) -> Vec<Vec<Vec<J>>> {
    let cases_path = dir.join("cases.json");
    let out_path = dir.join("duckdb.json");
    std::fs::write(&cases_path, serde_json::to_vec(cases).unwrap()).unwrap();
    let status = Command::new("python3")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/oracle/duckdb_run.py"))
        .arg(&cases_path)
        .arg(&out_path)
        .status()
        .expect("python3 (scripts/setup.sh installs duckdb and pyarrow)");
    assert!(status.success(), "duckdb_run.py failed");
    let theirs: Vec<Vec<Vec<J>>> = serde_json::from_slice(&std::fs::read(&out_path).unwrap()).unwrap();
    assert_eq!(theirs.len(), cases.len());
    theirs
}

#[test]
fn agrees_with_duckdb() {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("oracle");
    std::fs::create_dir_all(&dir).unwrap();
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    let mut cases = Vec::new();
    let mut ours = Vec::new();
    let mut specs = Vec::new();
    for d in 0..12 {
        let rows = [0usize, 1, 7, 300, 2500, 6000][d % 6];
        let bytes = dataset(&mut rng, rows, d % 2 == 0);
        let path = dir.join(format!("data{d}.arrow"));
        std::fs::write(&path, &bytes).unwrap();
        let mut ds = Dataset::new();
        ds.push(&bytes).unwrap();
        ds.finish().unwrap();
        for _ in 0..40 {
            let spec = random_spec(&mut rng);
            let parsed: QuerySpec = serde_json::from_value(spec.clone()).unwrap();
            let r = match run(&ds, &parsed) {
                Ok(r) => r,
                Err(e) if rows == 0 => {
                    // An empty dataset has no time range: the only acceptable error.
                    assert!(e.to_string().contains("time"), "{e}");
                    continue;
                }
                Err(e) => panic!("{spec}: {e}"),
            };
            let (t0, t1) = ((r.start_time * 1000.0).round() as i64, (r.end_time * 1000.0).round() as i64);
            cases.push(json!({"data": path.to_str().unwrap(), "sql": to_sql(&spec, t0, t1)}));
            ours.push(r);
            specs.push(spec);
        }
    }
    let theirs = duckdb(&dir, &cases);
    assert_eq!(theirs.len(), ours.len());
    let (mut compared_rows, mut failures) = (0usize, Vec::new());
    for (k, (r, rows)) in ours.iter().zip(&theirs).enumerate() {
        let nb = specs[k]["breakdowns"].as_array().unwrap().len();
        let mut want: BTreeMap<String, Vec<J>> = BTreeMap::new();
        for row in rows {
            want.insert(key_of(&row[..nb]), row[nb..].to_vec());
        }
        let mut got: BTreeMap<String, Vec<J>> = BTreeMap::new();
        for row in &r.results {
            let vals: Vec<J> = row.0.iter().map(|(_, c)| cell_json(c)).collect();
            got.insert(key_of(&vals[..nb]), vals[nb..].to_vec());
        }
        let same = want.len() == got.len()
            && want.iter().all(|(key, w)| {
                got.get(key).is_some_and(|g| g.len() == w.len() && g.iter().zip(w).all(|(a, b)| close(a, b)))
            });
        compared_rows += want.len();
        if !same {
            failures.push(format!(
                "case {k}\n  spec {}\n  sql  {}\n  duckdb {:?}\n  ours   {:?}",
                specs[k], cases[k]["sql"], want, got
            ));
        }
    }
    println!("{} queries, {compared_rows} result rows compared with DuckDB", ours.len());
    assert!(ours.len() >= 400, "too few queries ran: {}", ours.len());
    assert!(
        failures.is_empty(),
        "{} of {} queries differ:\n{}",
        failures.len(),
        ours.len(),
        failures.iter().take(5).cloned().collect::<Vec<_>>().join("\n")
    );
}

/// `compare` counts every value of every dimension on both sides exactly as DuckDB
/// counts them with FILTER clauses over the same Arrow data.
#[test]
fn compare_counts_agree_with_duckdb() {
    use sightline::compare::{compare, CompareSpec};
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("oracle-compare");
    std::fs::create_dir_all(&dir).unwrap();
    let mut rng = Rng(0xc0ff_ee00_1234_5678);
    let dims = ["s_low", "s_high", "b", "u", "i", "d"];
    let mut cases = Vec::new();
    let mut ours = Vec::new();
    for d in 0..4 {
        let bytes = dataset(&mut rng, 3000, d % 2 == 0);
        let path = dir.join(format!("data{d}.arrow"));
        std::fs::write(&path, &bytes).unwrap();
        let mut ds = Dataset::new();
        ds.push(&bytes).unwrap();
        ds.finish().unwrap();
        for _ in 0..8 {
            let filters: Vec<J> = (0..1 + rng.below(2)).map(|_| random_filter(&mut rng)).collect();
            let spec: CompareSpec = serde_json::from_value(json!({
                "selection": {"filters": filters},
                "dimensions": dims, "measures": [], "top": 1000
            }))
            .unwrap();
            let c = compare(&ds, &spec).unwrap();
            let sel = filters.iter().map(filter_sql).collect::<Vec<_>>().join(" AND ");
            for dim in dims {
                cases.push(json!({"data": path.to_str().unwrap(), "sql": format!(
                    "SELECT \"{dim}\", count(*) FILTER (WHERE coalesce({sel}, false)), count(*) FILTER (WHERE NOT coalesce({sel}, false)) FROM t GROUP BY 1"
                )}));
                let d = c.dimensions.iter().find(|x| x.column == dim).unwrap();
                assert_eq!(d.other.values, 0);
                let mut rows: Vec<(String, f64, f64)> = d
                    .values
                    .iter()
                    .map(|v| {
                        (key_of(std::slice::from_ref(&v.value)), v.selection_count as f64, v.baseline_count as f64)
                    })
                    .collect();
                rows.sort_by(|a, b| a.0.cmp(&b.0));
                ours.push((rows, c.selection_count, c.baseline_count));
            }
        }
    }
    let theirs = duckdb(&dir, &cases);
    let mut compared = 0;
    for (k, (rows, ns, nb)) in ours.iter().enumerate() {
        let mut want: Vec<(String, f64, f64)> = theirs[k]
            .iter()
            .map(|r| (key_of(&r[..1]), r[1].as_f64().unwrap(), r[2].as_f64().unwrap()))
            .filter(|r| r.1 + r.2 > 0.0)
            .collect();
        want.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(rows, &want, "{}", cases[k]["sql"]);
        let (s, b): (f64, f64) = want.iter().fold((0.0, 0.0), |acc, r| (acc.0 + r.1, acc.1 + r.2));
        assert_eq!((s as u64, b as u64), (*ns, *nb));
        compared += rows.len();
    }
    println!("{} dimension count tables, {compared} values compared with DuckDB", ours.len());
}

// ---------------------------------------------------------------------------------------
// The edges: NaN, infinities, 64-bit integers beyond 2^53, empty and non-ASCII strings,
// an all-null column and one-row groups; CONCURRENCY, RATE_*, HEATMAP cells and every
// `series` bucket, each calculation compared on its own query.

const WORDS: [&str; 6] = ["", "alpha", "naïve", "日本語", "emoji 🙂", "a'b"];
const P53: i64 = 1 << 53;
const BIGS: [i64; 7] = [P53, P53 + 1, P53 + 2, i64::MAX, i64::MIN, -7, 0];
const UBIGS: [u64; 4] = [u64::MAX, u64::MAX - 1, 1 << 63, 5];

fn edge_dataset(rng: &mut Rng, rows: usize, sorted: bool) -> Vec<u8> {
    use arrow_array::builder::UInt64Builder;
    let schema = Arc::new(Schema::new(vec![
        Field::new("ts", DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())), false),
        Field::new("s", DataType::Utf8, true),
        Field::new("big", DataType::Int64, true),
        Field::new("ub", DataType::UInt64, true),
        Field::new("f", DataType::Float64, true),
        Field::new("duration_ms", DataType::Float64, true),
        Field::new("nul", DataType::Float64, true),
    ]));
    let mut out = Vec::new();
    {
        let mut w = StreamWriter::try_new(&mut out, &schema).unwrap();
        let mut left = rows;
        let mut t = T0_MS;
        while left > 0 {
            let n = left.min(1 + rng.below(700) as usize);
            left -= n;
            let mut ts = TimestampMillisecondBuilder::new().with_timezone("UTC");
            let mut s = StringBuilder::new();
            let (mut big, mut ub) = (Int64Builder::new(), UInt64Builder::new());
            let (mut f, mut dur, mut nul) = (Float64Builder::new(), Float64Builder::new(), Float64Builder::new());
            for _ in 0..n {
                t += rng.below(3000) as i64;
                ts.append_value(if sorted { t } else { T0_MS + rng.below(3_600_000) as i64 });
                s.append_option(match rng.below(20) {
                    0 => None,
                    1 => Some(format!("one-{}", rng.next())), // a one-row group
                    _ => Some(rng.pick(&WORDS).to_string()),
                });
                big.append_option((!rng.chance(0.1)).then(|| *rng.pick(&BIGS)));
                ub.append_option((!rng.chance(0.1)).then(|| *rng.pick(&UBIGS)));
                f.append_option(match rng.below(40) {
                    0 | 1 => None,
                    2 | 3 => Some(f64::NAN),
                    4 => Some(f64::INFINITY),
                    5 => Some(f64::NEG_INFINITY),
                    _ => Some((rng.below(20_000) as f64 - 5_000.0) / 10.0),
                });
                dur.append_option(match rng.below(40) {
                    0 => None,
                    1 => Some(f64::NAN),
                    2 => Some(-5.0),
                    3 => Some(0.0),
                    4 => Some(rng.below(2_000_000) as f64), // spans many buckets
                    _ => Some(1.0 + rng.below(200_000) as f64 / 7.0),
                });
                nul.append_null();
            }
            let cols: Vec<ArrayRef> = vec![
                Arc::new(ts.finish()),
                Arc::new(s.finish()),
                Arc::new(big.finish()),
                Arc::new(ub.finish()),
                Arc::new(f.finish()),
                Arc::new(dur.finish()),
                Arc::new(nul.finish()),
            ];
            w.write(&RecordBatch::try_new(schema.clone(), cols).unwrap()).unwrap();
        }
        w.finish().unwrap();
    }
    out
}

fn edge_filter(rng: &mut Rng) -> J {
    match rng.below(9) {
        0 => {
            json!({"column": "f", "op": *rng.pick(&[">", "<=", "!="]), "value": (rng.below(2000) as f64 - 500.0) / 2.0})
        }
        1 => json!({"column": "f", "op": *rng.pick(&["exists", "does-not-exist"])}),
        2 => json!({"column": "big", "op": *rng.pick(&["=", "!="]), "value": (P53 + 1).to_string()}),
        3 => json!({"column": "big", "op": *rng.pick(&["in", "not-in"]), "value": [P53, i64::MAX.to_string()]}),
        4 => json!({"column": "big", "op": *rng.pick(&[">", "<"]), "value": P53}),
        5 => json!({"column": "ub", "op": ">=", "value": (1u64 << 63).to_string()}),
        6 => json!({"column": "s", "op": *rng.pick(&["=", "!="]), "value": *rng.pick(&WORDS)}),
        7 => {
            json!({"column": "s", "op": *rng.pick(&["starts-with", "contains", "does-not-contain"]), "value": *rng.pick(&["na", "🙂", "本", "a"])})
        }
        _ => json!({"column": "nul", "op": *rng.pick(&["exists", "does-not-exist"])}),
    }
}

/// SQL for an edge filter: NaN is missing (the base view nulls it), big integers exact.
fn edge_filter_sql(f: &J) -> String {
    let exact = |v: &J| match v {
        J::String(s) if f["column"] == "big" || f["column"] == "ub" => s.clone(),
        other => lit(other),
    };
    filter_sql_with(f, &exact)
}

/// One spec over the edge data, its calculation, and which kind of check it needs.
fn edge_spec(rng: &mut Rng) -> J {
    let calc = match rng.below(9) {
        0 => json!({"op": "COUNT"}),
        1 => json!({"op": "COUNT_DISTINCT", "column": rng.pick(&["f", "big", "ub", "s", "nul"])}),
        2 => json!({"op": rng.pick(&["SUM", "AVG", "MIN", "MAX"]), "column": rng.pick(&["f", "duration_ms", "nul"])}),
        3 => json!({"op": rng.pick(&["P001", "P50", "P99"]), "column": rng.pick(&["f", "duration_ms", "nul"])}),
        4 | 5 => json!({"op": "CONCURRENCY"}),
        6 | 7 => {
            json!({"op": rng.pick(&["RATE_AVG", "RATE_SUM", "RATE_MAX"]), "column": rng.pick(&["f", "duration_ms"])})
        }
        _ => json!({"op": "HEATMAP", "column": rng.pick(&["f", "duration_ms"])}),
    };
    let mut breakdowns: Vec<&str> = Vec::new();
    for _ in 0..rng.below(3) {
        let b = *rng.pick(&["s", "big", "ub", "nul"]);
        if !breakdowns.contains(&b) {
            breakdowns.push(b);
        }
    }
    let start = T0_MS / 1000 + rng.below(600) as i64;
    let mut spec = json!({
        "calculations": [calc],
        "filters": (0..rng.below(3)).map(|_| edge_filter(rng)).collect::<Vec<_>>(),
        "filter_combination": if rng.chance(0.3) { "OR" } else { "AND" },
        "breakdowns": breakdowns,
        "limit": 10000,
        "start_time": start,
        "end_time": start + 1200 + rng.below(3000) as i64,
        "granularity": *rng.pick(&[60, 120, 300]),
    });
    if calc["op"] == "HEATMAP" {
        spec["heatmap"] = json!({"value_buckets": 3 + rng.below(30), "scale": *rng.pick(&["log", "linear"])});
    }
    spec
}

#[test]
fn edges_agree_with_duckdb() {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("oracle-edges");
    std::fs::create_dir_all(&dir).unwrap();
    let mut rng = Rng(0xed9e_5eed_0042_0007);
    // (case index range, what to compare against it)
    enum Check {
        /// Group key -> value, and (group key, bucket start) -> value.
        Table {
            nb: usize,
            totals: BTreeMap<String, J>,
            series: BTreeMap<String, J>,
        },
        Heatmap {
            cells: BTreeMap<String, J>,
        },
    }
    let mut cases = Vec::new();
    let mut checks: Vec<(String, usize, Check)> = Vec::new();
    let mut ops = BTreeMap::<String, usize>::new();
    let mut rows_total = 0;
    for d in 0..8 {
        let rows = [1usize, 40, 900, 3000][d % 4];
        rows_total += rows;
        let bytes = edge_dataset(&mut rng, rows, d % 2 == 0);
        let path = dir.join(format!("edges{d}.arrow"));
        std::fs::write(&path, &bytes).unwrap();
        let mut ds = Dataset::new();
        ds.push(&bytes).unwrap();
        ds.finish().unwrap();
        for _ in 0..40 {
            let spec = edge_spec(&mut rng);
            let r = run(&ds, &serde_json::from_value(spec.clone()).unwrap()).unwrap_or_else(|e| panic!("{spec}: {e}"));
            let calc = &spec["calculations"][0];
            let op = calc["op"].as_str().unwrap().to_string();
            *ops.entry(op.clone()).or_default() += 1;
            let col = calc["column"].as_str().map(|c| format!("\"{c}\""));
            let t0 = (r.start_time * 1000.0).round() as i64;
            let t1 = (r.end_time * 1000.0).round() as i64;
            let w = (r.granularity * 1000.0).round() as i64;
            let nb = ((t1 - t0 + w - 1) / w) as usize;
            let a1 = t0 + w * nb as i64; // the axis' end
            let bds: Vec<String> =
                spec["breakdowns"].as_array().unwrap().iter().map(|b| format!("\"{}\"", b.as_str().unwrap())).collect();
            let fs: Vec<String> = spec["filters"].as_array().unwrap().iter().map(edge_filter_sql).collect();
            let joiner = if spec["filter_combination"] == "OR" { " OR " } else { " AND " };
            let mut wh = format!("ms >= {t0} AND ms < {t1}");
            if !fs.is_empty() {
                wh = format!("{wh} AND ({})", fs.join(joiner));
            }
            // NaN is missing: the base view makes it NULL.
            let base = format!(
                "(SELECT *, epoch_ms(ts) AS ms, (epoch_ms(ts) - {t0}) // {w} AS b FROM (SELECT * REPLACE (CASE WHEN isnan(f) THEN NULL ELSE f END AS f, CASE WHEN isnan(duration_ms) THEN NULL ELSE duration_ms END AS duration_ms, CASE WHEN isnan(nul) THEN NULL ELSE nul END AS nul) FROM t) WHERE {wh})"
            );
            let keys = if bds.is_empty() { "0 AS k".to_string() } else { bds.join(", ") };
            let group = if bds.is_empty() { String::new() } else { format!(" GROUP BY {}", bds.join(", ")) };
            let group_b =
                if bds.is_empty() { " GROUP BY b".to_string() } else { format!(" GROUP BY {}, b", bds.join(", ")) };
            let part = if bds.is_empty() { String::new() } else { format!("PARTITION BY {} ", bds.join(", ")) };
            let nk = bds.len().max(1);
            let data = path.to_str().unwrap();
            let first = cases.len();
            let check = match op.as_str() {
                "HEATMAP" => {
                    let h = &r.heatmaps[0].heatmap;
                    let vb = h.value_buckets();
                    let inner: Vec<String> = h.value_edges[1..vb].iter().map(|e| format!("{e:e}::DOUBLE")).collect();
                    let v = col.clone().unwrap();
                    let vbucket = format!("len(list_filter([{}]::DOUBLE[], lambda e: e <= {v}))", inner.join(", "));
                    let cell = if h.scale == sightline::heatmap::Scale::Log {
                        format!("CASE WHEN {v} <= 0 THEN -1 ELSE {vbucket} END")
                    } else {
                        vbucket
                    };
                    cases.push(json!({"data": data, "sql": format!("SELECT b, {cell} AS vb, count(*) FROM {base} WHERE {v} IS NOT NULL GROUP BY 1, 2")}));
                    let mut cells = BTreeMap::new();
                    for (k, c) in h.counts.iter().enumerate() {
                        if *c > 0 {
                            cells.insert(format!("{}|{}", k / vb, k % vb), json!(c));
                        }
                    }
                    for (t, c) in h.low.iter().enumerate() {
                        if *c > 0 {
                            cells.insert(format!("{t}|-1"), json!(c));
                        }
                    }
                    Check::Heatmap { cells }
                }
                _ => {
                    let (total_sql, series_sql) = match op.as_str() {
                        "CONCURRENCY" => {
                            let span = |a: &str, z: &str| {
                                format!("greatest(0, least(ms + duration_ms, {z}) - greatest(ms, {a}))")
                            };
                            (
                                format!("SELECT {keys}, coalesce(sum(CASE WHEN duration_ms > 0 THEN {} END), 0) / {} FROM {base}{group}", span(&t0.to_string(), &a1.to_string()), a1 - t0),
                                format!(
                                    "SELECT {keys}, i, sum({}) / {w} FROM {base}, range(0, {nb}) r(i) WHERE duration_ms > 0 AND {} > 0 GROUP BY {}",
                                    span(&format!("({t0} + i * {w})"), &format!("({t0} + (i + 1) * {w})")),
                                    span(&format!("({t0} + i * {w})"), &format!("({t0} + (i + 1) * {w})")),
                                    if bds.is_empty() { "i".to_string() } else { format!("{}, i", bds.join(", ")) }
                                ),
                            )
                        }
                        o @ ("RATE_AVG" | "RATE_SUM" | "RATE_MAX") => {
                            let agg = match o {
                                "RATE_AVG" => "avg",
                                "RATE_SUM" => "sum",
                                _ => "max",
                            };
                            let c = col.clone().unwrap();
                            let per = format!(
                                "(SELECT {keys}, b, {agg}({c}) AS x FROM {base}{group_b} HAVING count({c}) > 0)"
                            );
                            let diffs = format!("(SELECT *, x - lag(x) OVER ({part}ORDER BY b) AS d FROM {per})");
                            let outer_keys = if bds.is_empty() { "k".to_string() } else { bds.join(", ") };
                            let outer_group = if bds.is_empty() { "k".to_string() } else { bds.join(", ") };
                            (
                                format!("SELECT {outer_keys}, avg(d) FROM {diffs} GROUP BY {outer_group}"),
                                format!("SELECT {outer_keys}, b, d FROM {diffs} WHERE d IS NOT NULL"),
                            )
                        }
                        _ => {
                            let v = calc_sql(&op, col.as_deref().map(|c| c.trim_matches('"')));
                            (
                                format!("SELECT {keys}, {v} FROM {base}{group}"),
                                format!("SELECT {keys}, b, {v} FROM {base}{group_b}"),
                            )
                        }
                    };
                    cases.push(json!({"data": data, "sql": total_sql}));
                    cases.push(json!({"data": data, "sql": series_sql}));
                    let name = r.columns.last().unwrap().clone();
                    let mut totals = BTreeMap::new();
                    for row in &r.results {
                        let vals: Vec<J> = row.0.iter().map(|(_, c)| cell_json(c)).collect();
                        let key = if bds.is_empty() { "0".to_string() } else { key_of(&vals[..bds.len()]) };
                        let v = cell_json(row.get(&name).unwrap());
                        if !v.is_null() {
                            totals.insert(key, v); // no value: no row in SQL's GROUP BY either
                        }
                    }
                    let mut series = BTreeMap::new();
                    for row in &r.series {
                        let vals: Vec<J> = row.0.iter().map(|(_, c)| cell_json(c)).collect();
                        let t = vals[0].as_f64().unwrap();
                        let b = ((t * 1000.0).round() as i64 - t0) / w;
                        let key = if bds.is_empty() { "0".to_string() } else { key_of(&vals[1..1 + bds.len()]) };
                        let v = cell_json(row.get(&name).unwrap());
                        if !v.is_null() {
                            series.insert(format!("{key}|{b}"), v);
                        }
                    }
                    Check::Table { nb: nk, totals, series }
                }
            };
            checks.push((format!("{spec}"), first, check));
        }
    }
    let theirs = duckdb(&dir, &cases);
    let mut failures = Vec::new();
    let (mut cells, mut totals_n, mut series_n) = (0, 0, 0);
    for (spec, first, check) in &checks {
        match check {
            Check::Heatmap { cells: ours } => {
                let want: BTreeMap<String, J> =
                    theirs[*first].iter().map(|r| (format!("{}|{}", r[0], r[1]), r[2].clone())).collect();
                cells += want.len();
                if &want != ours {
                    failures
                        .push(format!("{spec}\n  sql {}\n  duckdb {want:?}\n  ours   {ours:?}", cases[*first]["sql"]));
                }
            }
            Check::Table { nb, totals, series } => {
                let want: BTreeMap<String, J> = theirs[*first]
                    .iter()
                    .filter(|r| !r[*nb].is_null())
                    .map(|r| {
                        (
                            if *nb == 1 && r.len() == 2 && r[0] == json!(0) {
                                "0".to_string()
                            } else {
                                key_of(&r[..*nb])
                            },
                            r[*nb].clone(),
                        )
                    })
                    .collect();
                let want_series: BTreeMap<String, J> = theirs[first + 1]
                    .iter()
                    .filter(|r| !r[*nb + 1].is_null())
                    .map(|r| {
                        let key = if *nb == 1 && r[0] == json!(0) && !spec.contains("\"breakdowns\":[\"") {
                            "0".to_string()
                        } else {
                            key_of(&r[..*nb])
                        };
                        (format!("{key}|{}", r[*nb].as_f64().unwrap() as i64), r[*nb + 1].clone())
                    })
                    .collect();
                totals_n += want.len();
                series_n += want_series.len();
                let same = |a: &BTreeMap<String, J>, b: &BTreeMap<String, J>| {
                    a.len() == b.len() && a.iter().all(|(k, v)| b.get(k).is_some_and(|w| close(v, w)))
                };
                if !same(totals, &want) {
                    failures.push(format!(
                        "{spec}\n  totals sql {}\n  duckdb {want:?}\n  ours   {totals:?}",
                        cases[*first]["sql"]
                    ));
                } else if !same(series, &want_series) {
                    let diff: Vec<_> = want_series
                        .iter()
                        .filter(|(k, v)| !series.get(*k).is_some_and(|w| close(v, w)))
                        .take(3)
                        .collect();
                    let extra: Vec<_> = series.iter().filter(|(k, _)| !want_series.contains_key(*k)).take(3).collect();
                    failures.push(format!(
                        "{spec}\n  series sql {}\n  first differing duckdb cells {diff:?}\n  ours only {extra:?}",
                        cases[first + 1]["sql"]
                    ));
                }
            }
        }
    }
    println!(
        "{} specs over {rows_total} rows ({ops:?}): {totals_n} result rows, {series_n} series cells, {cells} heatmap cells compared with DuckDB",
        checks.len()
    );
    assert!(
        failures.is_empty(),
        "{} of {} specs differ:\n{}",
        failures.len(),
        checks.len(),
        failures.iter().take(4).cloned().collect::<Vec<_>>().join("\n")
    );
}
