//! Native timing of the engine's steps on demo data, to find hot spots quickly
//! (the benchmark of record is bench/query.mjs, in wasm).
//!
//!   cargo run --release --example profile -- [rows] [heatmap|ingest|compare|defaults]
use std::time::Instant;

use sightline::demo::{ipc_stream, DemoOptions};
use sightline::query::{run, QuerySpec};
use sightline::Dataset;

fn time<T>(label: &str, runs: usize, mut f: impl FnMut() -> T) -> T {
    let mut ms = Vec::new();
    let mut out = None;
    for _ in 0..runs {
        let t = Instant::now();
        out = Some(f());
        ms.push(t.elapsed().as_secs_f64() * 1e3);
    }
    ms.sort_by(f64::total_cmp);
    println!("{label:<40} {:>8.1} ms", ms[runs / 2]);
    out.unwrap()
}

fn main() {
    let rows: usize = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(1_000_000);
    let bytes = ipc_stream(&DemoOptions { rows, ..Default::default() }).unwrap();
    let ds = time("ingest", if std::env::args().nth(2).as_deref() == Some("ingest") { 1 } else { 3 }, || {
        let mut ds = Dataset::new();
        for c in bytes.chunks(1 << 20) {
            ds.push(c).unwrap();
        }
        ds.finish().unwrap();
        ds
    });
    if std::env::args().nth(2).as_deref() == Some("ingest") {
        return; // ingest alone, e.g. under `valgrind --tool=callgrind`
    }
    let q = |json: &str| -> QuerySpec { serde_json::from_str(json).unwrap() };
    let heat = q(
        r#"{"calculations":[{"op":"HEATMAP","column":"duration_ms"}],"granularity":720,"heatmap":{"value_buckets":40},"disable_series":true}"#,
    );
    if std::env::args().nth(2).as_deref() == Some("compare") {
        // The explorer's default: a brush, every eligible dimension and measure.
        let t0 = run(&ds, &q(r#"{"calculations":[{"op":"COUNT"}],"disable_series":true}"#)).unwrap().start_time;
        let spec: sightline::compare::CompareSpec = serde_json::from_str(&format!(
            r#"{{"scope":{{"filters":[]}},"selection":{{"start_time":{},"end_time":{},"filters":[{{"column":"duration_ms","op":">=","value":1000}}]}},"top":6}}"#,
            t0 + 16.0 * 3600.0,
            t0 + 16.0 * 3600.0 + 1800.0
        ))
        .unwrap();
        time("compare (first: dictionaries built)", 1, || sightline::compare::compare(&ds, &spec).unwrap());
        time("compare", 3, || sightline::compare::compare(&ds, &spec).unwrap());
        return;
    }
    if std::env::args().nth(2).as_deref() == Some("defaults") {
        // bench/defaults.mjs's views (the explorer's defaults), natively.
        let t0 = run(&ds, &q(r#"{"calculations":[{"op":"COUNT"}],"disable_series":true}"#)).unwrap().start_time;
        let brush = format!(
            r#""start_time":{},"end_time":{},"filters":[{{"column":"duration_ms","op":">=","value":1000}}]"#,
            t0 + 16.0 * 3600.0,
            t0 + 16.0 * 3600.0 + 1800.0
        );
        let lines = r#"[{"op":"COUNT"},{"op":"P99","column":"duration_ms"}]"#;
        for (label, json) in [
            ("heatmap + series", r#"{"calculations":[{"op":"HEATMAP","column":"duration_ms"}],"heatmap":{"value_buckets":40,"scale":"log"}}"#.to_string()),
            ("breakdown (COUNT, P99 + series)", format!(r#"{{"calculations":{lines},"time_zone":"UTC"}}"#)),
            ("customer picker", r#"{"calculations":[{"op":"COUNT"}],"breakdowns":["customer_id"],"orders":[{"op":"COUNT","order":"descending"}],"limit":1000,"disable_series":true}"#.to_string()),
            ("brushed breakdown + series", format!(r#"{{"calculations":{lines},"time_zone":"UTC",{brush}}}"#)),
            ("breakdown by customer_id + series", format!(r#"{{"calculations":{lines},"breakdowns":["customer_id"],"time_zone":"UTC"}}"#)),
        ] {
            let spec = q(&json);
            time(label, 7, || run(&ds, &spec).unwrap());
        }
        let spec: sightline::compare::CompareSpec =
            serde_json::from_str(&format!(r#"{{"scope":{{"filters":[]}},"selection":{{{brush}}},"top":6}}"#)).unwrap();
        time("compare (first)", 1, || sightline::compare::compare(&ds, &spec).unwrap());
        time("compare, every dimension", 7, || sightline::compare::compare(&ds, &spec).unwrap());
        return;
    }
    if std::env::args().nth(2).as_deref() == Some("heatmap") {
        time("heatmap x30", 30, || run(&ds, &heat).unwrap());
        return;
    }
    time("heatmap", 5, || run(&ds, &heat).unwrap());
    for (label, calcs) in [
        ("breakdown COUNT", r#"[{"op":"COUNT"}]"#),
        ("breakdown AVG", r#"[{"op":"AVG","column":"duration_ms"}]"#),
        ("breakdown P99", r#"[{"op":"P99","column":"duration_ms"}]"#),
        (
            "breakdown COUNT AVG P50 P95 P99",
            r#"[{"op":"COUNT"},{"op":"AVG","column":"duration_ms"},{"op":"P50","column":"duration_ms"},{"op":"P95","column":"duration_ms"},{"op":"P99","column":"duration_ms"}]"#,
        ),
    ] {
        let spec =
            q(&format!(r#"{{"calculations":{calcs},"breakdowns":["customer_id"],"limit":20,"disable_series":true}}"#));
        time(label, 5, || run(&ds, &spec).unwrap());
    }
    let spec = q(
        r#"{"calculations":[{"op":"COUNT"},{"op":"P99","column":"duration_ms"}],"breakdowns":["endpoint"],"limit":20}"#,
    );
    time("breakdown endpoint + series", 5, || run(&ds, &spec).unwrap());
}
