//! Every spec of the oracle (`tests/oracle.rs`: randomized specs over randomized data,
//! and the edge specs over NaN, infinities, 64-bit integers, empty strings, all-null
//! columns) through the server on ClickHouse: the same Arrow data is loaded into chdb
//! (PyPI, behind ClickHouse's HTTP interface, reached over real HTTP), and
//! `POST /api/query` on `sightline serve --clickhouse URL --table T` must return what
//! the engine returns over the same rows (`Dataset.query`), and so must `/api/query` on
//! `sightline serve --data FILE` (bit for bit: the same engine): counts exact, floats
//! within 1e-9 relative on ClickHouse. A failure names the spec, the path and the first differing cell. Then
//! comparisons (`POST /api/compare`) against `Dataset.compare` the same way: counts
//! and histograms from SQL, statistics from the core.

#[path = "support/chdb.rs"]
mod chdb;
#[path = "support/json.rs"]
mod json_diff;
use json_diff::first_difference;
#[path = "../../tests/oracle/gen.rs"]
mod gen;
#[path = "support/http.rs"]
mod http;

use std::path::{Path, PathBuf};

use gen::*;
use serde_json::{json, Value as J};
use sightline::query::{run, QuerySpec};
use sightline::Dataset;
use sightline_server::clickhouse::{quote_str, ChConfig};
use sightline_server::{Config, Server};

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");

struct Case {
    table: String,
    ds: usize,
    spec: J,
}

#[test]
fn every_oracle_spec_gives_the_same_answer_on_clickhouse() {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("oracle-paths");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    // The oracle's loops, with its seeds: the same data and the same specs.
    let mut files: Vec<(String, PathBuf, Dataset)> = Vec::new();
    let mut cases = Vec::new();
    let load = |name: String, bytes: Vec<u8>, files: &mut Vec<(String, PathBuf, Dataset)>| -> usize {
        let path = dir.join(format!("{name}.arrow"));
        std::fs::write(&path, &bytes).unwrap();
        let mut ds = Dataset::new();
        ds.push(&bytes).unwrap();
        ds.finish().unwrap();
        files.push((name, path, ds));
        files.len() - 1
    };
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    for d in 0..12 {
        let rows = [0usize, 1, 7, 300, 2500, 6000][d % 6];
        let bytes = dataset(&mut rng, rows, d % 2 == 0);
        let k = load(format!("data{d}"), bytes, &mut files);
        for _ in 0..40 {
            cases.push(Case { table: files[k].0.clone(), ds: k, spec: random_spec(&mut rng) });
        }
    }
    let mut rng = Rng(0xed9e_5eed_0042_0007);
    for d in 0..8 {
        let rows = [1usize, 40, 900, 3000][d % 4];
        let bytes = edge_dataset(&mut rng, rows, d % 2 == 0);
        let k = load(format!("edges{d}"), bytes, &mut files);
        for _ in 0..40 {
            cases.push(Case { table: files[k].0.clone(), ds: k, spec: edge_spec(&mut rng) });
        }
    }
    // Calculated fields compiled to SQL: every function ClickHouse computes the engine's
    // way, over nulls, NaN, infinities, empty strings and mixed types.
    let fields = |list: &[(&str, &str)]| -> J {
        J::Array(list.iter().map(|(n, e)| json!({ "name": n, "expression": e })).collect())
    };
    let data_fields = fields(&[
        ("n1", "$f * 2 + $i - $u"),
        ("n2", "DIV($i, $u) + MOD($f, 7) + LOG10($u) + INT($f) + FLOAT(\"2.5\") + SUM($s_low, 1)"),
        ("n3", "COALESCE(MIN($f, $i, null), MAX($u, 3), -1) + IF($b, 10, $i > 0, 20, 30)"),
        ("n4", "LENGTH($s_high) + LENGTH($d, \"bytes\") + SWITCH($s_low, \"alpha\", 1, \"beta\", 2, 0)"),
        ("t1", "EVENT_TIMESTAMP() - 1793400000"),
        ("s1", "CONCAT($s_low, \"/\", STRING($b), IF(EXISTS($d), $d, \"-\"))"),
        ("b1", "$i >= 10 AND !EQUALS($s_low, \"beta\") OR IN($u, 1, 4)"),
        ("b2", "STARTS_WITH($s_high, \"id-1\") OR ENDS_WITH($d, \"7\") OR CONTAINS($s_low, \"t\") OR REG_MATCH($s_high, `^id-[0-9]{3}$`)"),
        ("b3", "LT($s_low, $d) OR GTE($f, $i) OR BOOL($s_high) OR NOT($u)"),
    ]);
    let edge_fields = fields(&[
        ("e1", "$f + $duration_ms * 0.5"),
        ("e2", "MAX($f, $nul, $big) - MIN($ub, 0)"),
        ("e3", "IF(EXISTS($nul), \"some\", $f > 0, \"pos\", \"other\")"),
        ("e4", "CONCAT(\"<\", $s, \">\")"),
    ]);
    let first_calculated = cases.len();
    let file_count = files.len();
    for k in 0..file_count {
        let edges = files[k].0.starts_with("edges");
        let (f, nums, strs, bools): (&J, &[&str], &[&str], &[&str]) = if edges {
            (&edge_fields, &["e1", "e2"], &["e3", "e4"], &[])
        } else {
            (&data_fields, &["n1", "n2", "n3", "n4", "t1"], &["s1"], &["b1", "b2", "b3"])
        };
        for (j, key) in strs.iter().chain(bools).enumerate() {
            let calcs: Vec<J> = nums
                .iter()
                .flat_map(|n| [json!({ "op": "SUM", "column": n }), json!({ "op": "MAX", "column": n })])
                .chain([json!({ "op": "COUNT" })])
                .collect();
            let mut spec = json!({ "calculated_fields": f, "calculations": calcs, "breakdowns": [key], "limit": 1000,
                                   "disable_series": j % 2 == 0 });
            if let Some(b) = bools.get(j % bools.len().max(1)) {
                spec["filters"] = json!([{ "column": b, "op": "=", "value": j % 3 != 0 }]);
            }
            cases.push(Case { table: files[k].0.clone(), ds: k, spec });
        }
    }
    // A function ClickHouse would answer differently is refused, naming it and its position.
    let refused_at = cases.len();
    cases.push(Case {
        table: files[0].0.clone(),
        ds: 0,
        spec: json!({ "calculated_fields": [{ "name": "x", "expression": "TO_LOWER($s_low)" }], "breakdowns": ["x"] }),
    });
    // Series too: the oracle's specs disable them; every other spec here turns them on.
    for (i, c) in cases.iter_mut().enumerate() {
        if i % 2 == 1 {
            c.spec["disable_series"] = json!(false);
            c.spec["limit"] = json!(50);
        }
    }

    // Load every file into chdb; serve it over ClickHouse's HTTP interface.
    let setup: Vec<J> = files
        .iter()
        .map(|(name, path, _)| json!({ "name": name, "quoted": format!("`{name}`"), "path_literal": quote_str(path.to_str().unwrap()) }))
        .collect();
    std::fs::write(dir.join("tables.json"), serde_json::to_vec(&setup).unwrap()).unwrap();
    let s = |p: &Path| p.to_str().unwrap().to_string();
    let session = dir.join("session");
    chdb::python(&["setup", &s(&session), &s(&dir.join("tables.json")), &s(&dir.join("described.json"))]);
    let ch = chdb::ChdbHttp::start(&session, "sightline:oracle-pw", &dir.join("chdb.port"));

    // One `sightline serve --clickhouse` per table, and one `sightline serve --data FILE`
    // (the server's own engine over the same file) per file.
    let serve = |name: &str, config: Config| -> std::net::SocketAddr {
        let server = Server::bind(Config { port: 0, root: PathBuf::from(ROOT), ..config })
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let addr = server.local_addr().unwrap();
        std::thread::spawn(move || server.run());
        addr
    };
    let servers: Vec<std::net::SocketAddr> = files
        .iter()
        .map(|(name, _, _)| {
            let clickhouse = Some(ChConfig {
                url: format!("http://127.0.0.1:{}", ch.port),
                table: name.clone(),
                user: Some("sightline".into()),
                password: Some("oracle-pw".into()),
            });
            serve(name, Config { clickhouse, ..Config::default() })
        })
        .collect();
    let natives: Vec<std::net::SocketAddr> = files
        .iter()
        .map(|(name, path, _)| serve(name, Config { data: vec![path.clone()], ..Config::default() }))
        .collect();

    let (mut failures, mut compared, mut cells) = (Vec::new(), 0usize, 0usize);
    for (k, c) in cases.iter().enumerate() {
        let parsed: QuerySpec = serde_json::from_value(c.spec.clone()).unwrap();
        let want = run(&files[c.ds].2, &parsed);
        let r = http::request(
            servers[c.ds],
            "POST",
            "/api/query",
            &[],
            json!({ "source": c.table, "spec": c.spec }).to_string().as_bytes(),
        );
        if k == refused_at {
            assert_eq!(r.status, 400, "{}", r.text());
            assert!(r.text().contains("col 1: TO_LOWER is not compiled to ClickHouse SQL"), "{}", r.text());
            continue;
        }
        if (first_calculated..refused_at).contains(&k) {
            if let Err(e) = &want {
                failures.push(format!("case {k} on {}: the engine refused a calculated-field case: {e}", c.table));
            }
        }
        match want {
            Err(e) => {
                if r.status != 400 {
                    failures.push(format!(
                        "case {k} on {} ({}): engine refused ({e}), ClickHouse path answered {}: {}",
                        c.table,
                        c.spec,
                        r.status,
                        r.text()
                    ));
                }
            }
            Ok(want) => {
                if r.status != 200 {
                    failures.push(format!(
                        "case {k} on {} ({}): ClickHouse path answered {}: {}",
                        c.table,
                        c.spec,
                        r.status,
                        r.text()
                    ));
                    continue;
                }
                let want = serde_json::to_value(&want).unwrap();
                let n = http::request(
                    natives[c.ds],
                    "POST",
                    "/api/query",
                    &[],
                    json!({ "source": c.table, "spec": c.spec }).to_string().as_bytes(),
                );
                let native: J = serde_json::from_slice(&n.body).unwrap_or(J::Null);
                if n.status != 200 || native != want {
                    failures.push(format!(
                        "case {k} on {} ({}), path server native (--data): status {}, {:?}",
                        c.table,
                        c.spec,
                        n.status,
                        first_difference("", &want, &native)
                    ));
                }
                let got: J = serde_json::from_slice(&r.body).unwrap();
                cells += want["results"].as_array().map_or(0, |r| r.len())
                    + want["series"].as_array().map_or(0, |r| r.len());
                compared += 1;
                if let Some(d) = first_difference("", &want, &got) {
                    failures.push(format!("case {k} on {} ({}), path ClickHouse: {d}", c.table, c.spec));
                }
            }
        }
    }
    // Comparisons: the oracle's selections (its random filters), time brushes, explicit
    // baselines and `period`, automatic and named dimensions and measures.
    let mut rng = Rng(0xc0ff_ee00_5eed_0014);
    let mut compares = 0usize;
    for (k, (name, _, ds)) in files.iter().enumerate() {
        let edges = name.starts_with("edges");
        for n in 0..12 {
            let filt = |rng: &mut Rng| if edges { edge_filter(rng) } else { random_filter(rng) };
            let filters: Vec<J> = (0..1 + rng.below(2)).map(|_| filt(&mut rng)).collect();
            let t0 = (T0_MS / 1000) as f64;
            let mut spec = json!({ "selection": { "filters": filters }, "top": 1 + rng.below(15) });
            match n % 4 {
                1 => {
                    spec["selection"]["start_time"] = json!(t0 + rng.below(1800) as f64);
                    spec["selection"]["end_time"] = json!(t0 + 1800.0 + rng.below(1800) as f64 + 0.5);
                }
                2 => spec["baseline"] = json!({ "filters": [filt(&mut rng)] }),
                3 => {
                    let s = t0 + 900.0 + rng.below(900) as f64;
                    spec["selection"]["start_time"] = json!(s);
                    spec["selection"]["end_time"] = json!(s + 600.0);
                    spec["baseline"] = json!({ "period": 600 + rng.below(3) * 300 });
                }
                _ => {}
            }
            if n % 3 == 1 {
                spec["scope"] = json!({ "filters": [filt(&mut rng)], "start_time": t0, "end_time": t0 + 4000.0 });
            }
            if n % 5 == 4 {
                spec["dimensions"] =
                    if edges { json!(["s", "big", "ub"]) } else { json!(["s_low", "s_high", "b", "u", "i", "d"]) };
                spec["measures"] = if edges { json!(["f", "duration_ms"]) } else { json!(["f", "i"]) };
                spec["min_count"] = json!(rng.below(4));
            }
            // Calculated fields in the scope: dimensions and selections over them, in SQL.
            if n % 4 == 2 && !edges {
                spec["scope"]["calculated_fields"] = json!([
                    { "name": "band", "expression": "IF($f > 500, \"high\", $f > 0, \"low\", \"none\")" },
                    { "name": "hot", "expression": "$i > 20 OR STARTS_WITH($s_low, \"a\")" }
                ]);
                spec["selection"]["filters"] = json!([{ "column": "hot", "op": "=", "value": true }]);
            }
            let parsed: sightline::compare::CompareSpec = serde_json::from_value(spec.clone()).unwrap();
            let want = sightline::compare::compare(ds, &parsed);
            let r = http::request(
                servers[k],
                "POST",
                "/api/compare",
                &[],
                json!({ "source": name, "spec": spec }).to_string().as_bytes(),
            );
            compares += 1;
            match want {
                Err(e) => {
                    if r.status != 400 {
                        failures.push(format!(
                            "compare on {name} ({spec}): engine refused ({e}), ClickHouse path answered {}: {}",
                            r.status,
                            r.text()
                        ));
                    }
                }
                Ok(want) => {
                    if r.status != 200 {
                        failures.push(format!(
                            "compare on {name} ({spec}): ClickHouse path answered {}: {}",
                            r.status,
                            r.text()
                        ));
                        continue;
                    }
                    let want = serde_json::to_value(&want).unwrap();
                    let got: J = serde_json::from_slice(&r.body).unwrap();
                    if let Some(d) = first_difference("", &want, &got) {
                        failures.push(format!("compare on {name} ({spec}), path ClickHouse: {d}"));
                    }
                }
            }
        }
    }
    println!("{compares} comparisons compared between the engine and ClickHouse");
    std::fs::write(dir.join("failures.txt"), failures.join("\n")).unwrap();
    println!(
        "{} specs, {compared} answers compared ({cells} result and series rows) between the engine and ClickHouse",
        cases.len()
    );
    assert!(
        failures.is_empty(),
        "{} of {} specs differ:\n{}",
        failures.len(),
        cases.len() + compares,
        failures.iter().take(8).cloned().collect::<Vec<_>>().join("\n")
    );
}
