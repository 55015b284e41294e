//! The query engine against an independent engine: DuckDB (PyPI `duckdb`, installed by
//! scripts/setup.sh) runs the equivalent SQL over the same Arrow data, for randomized
//! data (nulls, ties, one-row groups) and randomized specifications (every operator).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;

use serde_json::{json, Value as J};
use sightline::query::{run, Cell, QuerySpec};

#[path = "oracle/gen.rs"]
mod gen;
use gen::*;
use sightline::Dataset;

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

/// DuckDB's rows and our results keyed by their first column (one breakdown), and
/// whether every group has the same values (floats within 1e-9 relative).
fn by_first_column(
    r: &sightline::query::QueryResult,
    rows: &[Vec<J>],
) -> (BTreeMap<String, Vec<J>>, BTreeMap<String, Vec<J>>, bool) {
    let want: BTreeMap<String, Vec<J>> = rows.iter().map(|row| (key_of(&row[..1]), row[1..].to_vec())).collect();
    let got: BTreeMap<String, Vec<J>> = r
        .results
        .iter()
        .map(|row| {
            let vals: Vec<J> = row.0.iter().map(|(_, c)| cell_json(c)).collect();
            (key_of(&vals[..1]), vals[1..].to_vec())
        })
        .collect();
    let same = want.len() == got.len()
        && want.iter().all(|(key, w)| {
            got.get(key).is_some_and(|g| g.len() == w.len() && g.iter().zip(w).all(|(a, b)| close(a, b)))
        });
    (want, got, same)
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
    for d in 0..14 {
        // The last two: 20,000 rows, past the engine's check, so `s_id` is kept as it
        // arrived (filters on its bytes, COUNT_DISTINCT on a dictionary built on first
        // need). After the others, whose data and specs stay as they were.
        let rows = if d < 12 { [0usize, 1, 7, 300, 2500, 6000][d % 6] } else { 20_000 };
        let bytes = dataset(&mut rng, rows, d % 2 == 0);
        let path = dir.join(format!("data{d}.arrow"));
        std::fs::write(&path, &bytes).unwrap();
        let mut ds = Dataset::new();
        ds.push(&bytes).unwrap();
        ds.finish().unwrap();
        let sightline::column::ColumnData::Str(sid) = &ds.column("s_id").unwrap().data else { panic!("s_id") };
        assert_eq!(sid.is_raw(), rows == 20_000, "s_id kept as it arrived exactly when past the check");
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

/// SQL for an edge filter: NaN is missing (the base view nulls it), big integers exact.
fn edge_filter_sql(f: &J) -> String {
    let exact = |v: &J| match v {
        J::String(s) if f["column"] == "big" || f["column"] == "ub" => s.clone(),
        other => lit(other),
    };
    filter_sql_with(f, &exact)
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

/// Calculated fields (Honeycomb's formula language) against hand-written DuckDB twins:
/// each expression's values, grouped (strings, booleans) or summed and maxed per group
/// (numbers), over the oracle's random data with its nulls. The SQL spells out
/// Honeycomb's documented rules: math reads a null as 0, division by zero is null,
/// comparisons with a null or across types are false, CONCAT skips nulls.
#[test]
fn calculated_fields_agree_with_duckdb() {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("oracle-calc");
    std::fs::create_dir_all(&dir).unwrap();
    let mut rng = Rng(0x5eed_ca1c_0000_0016);
    // (expression, DuckDB twin, whether the result is a number)
    let fields: &[(&str, &str, bool)] = &[
        ("$f * 2 + $i", "coalesce(f, 0) * 2 + coalesce(i, 0)", true),
        ("$f - $i + $u", "(coalesce(f, 0) - coalesce(i, 0)) + u", true),
        ("DIV($i, $u)", "CASE WHEN u = 0 THEN NULL ELSE coalesce(i, 0) / u END", true),
        // Go's math.Mod (truncated: the sign of the dividend); DuckDB's fmod floors.
        ("$i % 3", "coalesce(i, 0) - 3 * trunc(coalesce(i, 0) / 3)", true),
        ("IF($b, $f, 0)", "CASE WHEN b THEN f ELSE 0 END", true),
        ("INT($f)", "trunc(coalesce(f, 0))", true),
        ("LOG10($u)", "CASE WHEN u > 0 THEN log10(u) END", true),
        ("MAX($f, $i)", "greatest(f, i::DOUBLE)", true),
        ("MIN($f, $i, 0)", "least(f, i::DOUBLE, 0)", true),
        ("COALESCE($f, $i, -1)", "coalesce(f, i, -1)", true),
        ("CONCAT($s_low, \"-\", $u)", "concat(coalesce(s_low, ''), '-', u::VARCHAR)", false),
        ("TO_LOWER(CONCAT(\"AB\", $d))", "lower('AB' || coalesce(d, ''))", false),
        ("STRING($b)", "CASE WHEN b IS NULL THEN '' WHEN b THEN 'true' ELSE 'false' END", false),
        (
            "IF(STARTS_WITH($s_low, \"a\"), \"A\", CONTAINS($s_high, \"1\"), \"one\", \"other\")",
            "CASE WHEN starts_with(s_low, 'a') THEN 'A' WHEN contains(s_high, '1') THEN 'one' ELSE 'other' END",
            false,
        ),
        ("$i > 10 AND !EXISTS($f)", "coalesce(i > 10, false) AND f IS NULL", false),
        (
            "IN($s_low, \"alpha\", \"zeta'q\") OR $u <= 3",
            "coalesce(s_low IN ('alpha', 'zeta''q'), false) OR u <= 3",
            false,
        ),
        ("EQUALS($i, $u)", "coalesce(i = u, false)", false),
        ("$s_low < $d", "coalesce(s_low < d, false)", false),
        ("ENDS_WITH($s_high, \"7\") = !$b", "coalesce(ends_with(s_high, '7'), false) = NOT coalesce(b, false)", false),
        // Regex (DuckDB's RE2 against regex-lite), lengths, SWITCH, BUCKET, time.
        ("REG_MATCH($s_high, `^id-1[0-9]$`)", "coalesce(regexp_matches(s_high, '^id-1[0-9]$'), false)", false),
        (
            "REG_VALUE($s_high, `id-([0-9])`)",
            "CASE WHEN regexp_matches(s_high, 'id-([0-9])') THEN regexp_extract(s_high, 'id-([0-9])', 1) END",
            false,
        ),
        ("REG_VALUE($s_low, `[aeiou]+`)", "nullif(regexp_extract(s_low, '[aeiou]+', 0), '')", false),
        ("REG_COUNT($s_low, `a`)", "coalesce(len(regexp_extract_all(s_low, 'a')), 0)", true),
        ("LENGTH($s_low)", "length(s_low)", true),
        ("LENGTH($s_low, \"bytes\")", "strlen(s_low)", true),
        (
            "SWITCH($s_low, \"alpha\", 1, \"beta\", 2, 0)",
            "CASE WHEN s_low = 'alpha' THEN 1 WHEN s_low = 'beta' THEN 2 ELSE 0 END",
            true,
        ),
        ("SWITCH($u, 1, \"one\", 2, \"two\")", "CASE WHEN u = 1 THEN 'one' WHEN u = 2 THEN 'two' END", false),
        (
            "BUCKET($f, 100, -500, 1500)",
            "CASE WHEN f IS NULL THEN NULL WHEN f <= -500 THEN '< -500' WHEN f > 1500 THEN '> 1500' \
             ELSE ((ceil((f + 500) / 100) - 1) * 100 - 500)::BIGINT::VARCHAR || ' - ' || (ceil((f + 500) / 100) * 100 - 500)::BIGINT::VARCHAR END",
            false,
        ),
        ("BUCKET($i, 20)", "CASE WHEN i IS NOT NULL THEN ((ceil(i / 20) - 1) * 20)::BIGINT::VARCHAR || ' - ' || (ceil(i / 20) * 20)::BIGINT::VARCHAR END", false),
        (
            "UNIX_TIMESTAMP(CONCAT(\"2026-11-0\", $u, \"T12:30:00Z\"))",
            "epoch(try_strptime('2026-11-0' || u || 'T12:30:00Z', '%Y-%m-%dT%H:%M:%SZ'))",
            true,
        ),
        ("EVENT_TIMESTAMP() - 1793400000", "epoch(ts) - 1793400000", true),
        ("FORMAT_TIME(\"%H\", EVENT_TIMESTAMP())", "strftime(timezone('UTC', ts), '%H')", false),
    ];
    let mut cases = Vec::new();
    let mut ours = Vec::new();
    for d in 0..3 {
        let bytes = dataset(&mut rng, [1, 700, 5000][d], d % 2 == 0);
        let path = dir.join(format!("data{d}.arrow"));
        std::fs::write(&path, &bytes).unwrap();
        let mut ds = Dataset::new();
        ds.push(&bytes).unwrap();
        ds.finish().unwrap();
        for (expr, sql, number) in fields {
            let calc = json!([{ "name": "x", "expression": expr }]);
            let (spec, sql) = if *number {
                (
                    json!({ "calculated_fields": calc, "calculations": [{ "op": "SUM", "column": "x" }, { "op": "MAX", "column": "x" }],
                            "breakdowns": ["s_low"], "limit": 1000 }),
                    format!("SELECT s_low, sum({sql}), max({sql}) FROM t GROUP BY 1"),
                )
            } else {
                (
                    json!({ "calculated_fields": calc, "calculations": [{ "op": "COUNT" }], "breakdowns": ["x"], "limit": 1000 }),
                    format!("SELECT {sql} AS x, count(*) FROM t GROUP BY 1"),
                )
            };
            let parsed: QuerySpec = serde_json::from_value(spec.clone()).unwrap();
            let r = run(&ds, &parsed).unwrap_or_else(|e| panic!("{expr}: {e}"));
            cases.push(json!({ "data": path.to_str().unwrap(), "sql": sql }));
            ours.push((expr.to_string(), r));
        }
    }
    let theirs = duckdb(&dir, &cases);
    let mut failures = Vec::new();
    for (k, ((expr, r), rows)) in ours.iter().zip(&theirs).enumerate() {
        let (want, got, same) = by_first_column(r, rows);
        if !same {
            failures.push(format!("{expr}\n  sql    {}\n  duckdb {want:?}\n  ours   {got:?}", cases[k]["sql"]));
        }
    }
    println!("{} calculated-field queries compared with DuckDB", ours.len());
    assert!(failures.is_empty(), "{} differ:\n{}", failures.len(), failures.join("\n"));
}

/// Sample rates weight COUNT, SUM, AVG and percentiles as Honeycomb weights them
/// (MIN, MAX and COUNT_DISTINCT not), and a time comparison's `previous` is the same
/// query over the earlier window: each against hand-written DuckDB SQL. The rate is
/// the integer column `i` (nulls, zero and negatives count as 1), so the percentile
/// twin is `quantile_cont` over the events the sample stands for (each row repeated
/// `rate` times).
#[test]
fn sample_rates_and_time_offsets_agree_with_duckdb() {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("oracle-weighted");
    std::fs::create_dir_all(&dir).unwrap();
    let mut rng = Rng(0x5eed_5a3e_0000_0016);
    let w = "(CASE WHEN i >= 1 THEN i ELSE 1 END)";
    let calcs = json!([
        { "op": "COUNT" }, { "op": "SUM", "column": "f" }, { "op": "AVG", "column": "f" },
        { "op": "P50", "column": "f" }, { "op": "P90", "column": "u" }, { "op": "P001", "column": "f" },
        { "op": "MIN", "column": "f" }, { "op": "MAX", "column": "u" }, { "op": "COUNT_DISTINCT", "column": "s_high" }
    ]);
    let weighted_select = format!(
        "sum({w}), sum(f * {w}), sum(f * {w}) / sum(CASE WHEN f IS NOT NULL THEN {w} END), \
         (SELECT quantile_cont(x.f, 0.5) FROM x WHERE x.g IS NOT DISTINCT FROM t.s_low), \
         (SELECT quantile_cont(x.u, 0.9) FROM x WHERE x.g IS NOT DISTINCT FROM t.s_low), \
         (SELECT quantile_cont(x.f, 0.001) FROM x WHERE x.g IS NOT DISTINCT FROM t.s_low), \
         min(f), max(u), count(DISTINCT s_high)"
    );
    let plain_select = "count(*), sum(f), avg(f), quantile_cont(f, 0.5), quantile_cont(u, 0.9), \
                        quantile_cont(f, 0.001), min(f), max(u), count(DISTINCT s_high)";
    let (mut cases, mut ours, mut labels) = (Vec::new(), Vec::new(), Vec::new());
    for d in 0..3 {
        let bytes = dataset(&mut rng, [1, 900, 6000][d], d % 2 == 0);
        let path = dir.join(format!("data{d}.arrow"));
        std::fs::write(&path, &bytes).unwrap();
        let mut ds = Dataset::new();
        ds.push(&bytes).unwrap();
        ds.finish().unwrap();
        let t0 = T0_MS / 1000 + 1200;
        for (label, weighted, offset) in [("weighted", true, false), ("offset", false, true), ("both", true, true)] {
            let mut spec = json!({ "calculations": calcs, "breakdowns": ["s_low"], "limit": 1000,
                                   "start_time": t0, "end_time": t0 + 1800 });
            if weighted {
                spec["sample_rate_column"] = json!("i");
            }
            if offset {
                spec["compare_time_offset_seconds"] = json!(900);
            }
            let parsed: QuerySpec = serde_json::from_value(spec.clone()).unwrap();
            let r = run(&ds, &parsed).unwrap_or_else(|e| panic!("{spec}: {e}"));
            assert_eq!(r.sample_rate_column.as_deref(), weighted.then_some("i"), "{label}");
            let (r, lo) = if offset { (*r.previous.clone().expect("previous"), t0 - 900) } else { (r, t0) };
            let window = format!("epoch_ms(ts) >= {} AND epoch_ms(ts) < {}", lo * 1000, (lo + 1800) * 1000);
            let sql = if weighted {
                format!(
                    "WITH x AS (SELECT s_low AS g, f, u FROM t, range({w}::BIGINT) WHERE {window}) \
                     SELECT s_low, {weighted_select} FROM t WHERE {window} GROUP BY s_low"
                )
            } else {
                format!("SELECT s_low, {plain_select} FROM t WHERE {window} GROUP BY s_low")
            };
            cases.push(json!({ "data": path.to_str().unwrap(), "sql": sql }));
            ours.push(r);
            labels.push(format!("data{d} {label}"));
        }
    }
    let theirs = duckdb(&dir, &cases);
    let mut failures = Vec::new();
    let mut compared = 0;
    for (k, (r, rows)) in ours.iter().zip(&theirs).enumerate() {
        let (want, got, same) = by_first_column(r, rows);
        compared += want.len();
        if !same {
            failures.push(format!("{}\n  sql    {}\n  duckdb {want:?}\n  ours   {got:?}", labels[k], cases[k]["sql"]));
        }
    }
    println!("{} weighted / time-offset queries, {compared} groups compared with DuckDB", ours.len());
    assert!(compared > 10, "too few groups compared: {compared}");
    assert!(failures.is_empty(), "{} differ:\n{}", failures.len(), failures.join("\n"));
}

/// Named calculations with their own filters, and formulas over them (Honeycomb's Query
/// Math), against DuckDB's aggregate FILTER clauses: per group, with the query's own
/// filter on top, ordered by a formula.
#[test]
fn query_math_agrees_with_duckdb() {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("oracle-math");
    std::fs::create_dir_all(&dir).unwrap();
    let mut rng = Rng(0x5eed_3a7f_0000_0016);
    let spec = json!({
        "calculations": [
            { "op": "COUNT", "name": "total" },
            { "op": "COUNT", "name": "big", "filters": [{ "column": "i", "op": ">", "value": 10 }] },
            { "op": "P50", "column": "f", "name": "p50_ab", "filters": [{ "column": "s_low", "op": "in", "value": ["alpha", "beta"] }] },
            { "op": "SUM", "column": "f", "name": "sum_or", "filters": [{ "column": "b", "op": "=", "value": true }, { "column": "u", "op": "<", "value": 2 }], "filter_combination": "OR" },
            { "op": "MAX", "column": "f" }
        ],
        "formulas": [
            { "name": "share", "expression": "DIV($big, $total)" },
            { "name": "mix", "expression": "$sum_or / 10 + $\"MAX(f)\"" }
        ],
        "filters": [{ "column": "d", "op": "exists" }],
        "breakdowns": ["s_low"], "orders": [{ "column": "share", "order": "descending" }], "limit": 1000
    });
    let sql = "SELECT s_low, count(*), count(*) FILTER (WHERE i > 10), \
               quantile_cont(f, 0.5) FILTER (WHERE s_low IN ('alpha', 'beta')), \
               sum(f) FILTER (WHERE b = true OR u < 2), max(f), \
               (count(*) FILTER (WHERE i > 10))::DOUBLE / count(*), \
               coalesce(sum(f) FILTER (WHERE b = true OR u < 2), 0) / 10 + coalesce(max(f), 0) \
               FROM t WHERE d IS NOT NULL GROUP BY s_low";
    let (mut cases, mut ours) = (Vec::new(), Vec::new());
    for d in 0..3 {
        let bytes = dataset(&mut rng, [1, 800, 6000][d], d % 2 == 0);
        let path = dir.join(format!("data{d}.arrow"));
        std::fs::write(&path, &bytes).unwrap();
        let mut ds = Dataset::new();
        ds.push(&bytes).unwrap();
        ds.finish().unwrap();
        let r = run(&ds, &serde_json::from_value(spec.clone()).unwrap()).unwrap();
        let shares: Vec<f64> = r
            .results
            .iter()
            .filter_map(|row| match row.get("share") {
                Some(Cell::Num(x)) => Some(*x),
                _ => None,
            })
            .collect();
        assert!(shares.windows(2).all(|w| w[0] >= w[1]), "ordered by the formula: {shares:?}");
        cases.push(json!({ "data": path.to_str().unwrap(), "sql": sql }));
        ours.push(r);
    }
    let theirs = duckdb(&dir, &cases);
    let mut compared = 0;
    for (k, (r, rows)) in ours.iter().zip(&theirs).enumerate() {
        let (want, got, same) = by_first_column(r, rows);
        compared += want.len();
        assert!(same, "data{k}\n  duckdb {want:?}\n  ours   {got:?}");
    }
    println!("{} query-math queries, {compared} groups compared with DuckDB", ours.len());
    assert!(compared > 10);
}
