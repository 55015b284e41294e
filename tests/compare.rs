//! Outlier comparison: the injected incident's cause ranks first; noise stays quiet.

use sightline::compare::{compare, CompareSpec};
use sightline::demo::{ipc_stream, DemoOptions, BAD_BUILD, BAD_BUILD_CUSTOMERS};
use sightline::Dataset;

#[path = "common/ipc.rs"]
mod common_ipc;
use common_ipc::ipc;

fn load(bytes: &[u8]) -> Dataset {
    let mut ds = Dataset::new();
    ds.push(bytes).unwrap();
    ds.finish().unwrap();
    ds
}

fn spec(json: serde_json::Value) -> CompareSpec {
    serde_json::from_value(json).unwrap()
}

#[test]
fn brushing_the_incident_ranks_its_cause_first() {
    let opts = DemoOptions { rows: 200_000, ..Default::default() };
    let ds = load(&ipc_stream(&opts).unwrap());
    let inc = &opts.incidents()[0];
    // A heatmap brush: the incident's half hour, durations of a second and more.
    let c = compare(
        &ds,
        &spec(serde_json::json!({
            "selection": {
                "start_time": inc.start_s, "end_time": inc.end_s,
                "filters": [{"column": "duration_ms", "op": ">=", "value": 1000}]
            }
        })),
    )
    .unwrap();
    let names: Vec<&str> = c.dimensions.iter().map(|d| d.column.as_str()).collect();
    println!("selection {} baseline {}", c.selection_count, c.baseline_count);
    for d in &c.dimensions[..6] {
        println!("  {:<12} score {:.3} tvd {:.3} top {}", d.column, d.score, d.tvd, d.values[0].value);
    }
    assert!(["build_id", "customer_id", "endpoint"].contains(&names[0]), "{names:?}");
    let rank = |n: &str| names.iter().position(|x| *x == n).unwrap();
    // The cause (build, customers, endpoints) is in the top five; the rest of it are
    // symptoms the demo also injects (the canary hosts, retries adding db calls).
    assert!(rank("build_id") < 5 && rank("customer_id") < 5 && rank("endpoint") < 5, "{names:?}");
    let build = &c.dimensions[rank("build_id")];
    assert_eq!(build.values[0].value, BAD_BUILD);
    assert!(build.values[0].significant && build.values[0].diff_pp > 50.0);
    let customers = &c.dimensions[rank("customer_id")];
    let mut top3: Vec<&str> = customers.values[..3].iter().map(|v| v.value.as_str().unwrap()).collect();
    top3.sort();
    assert_eq!(top3, BAD_BUILD_CUSTOMERS.to_vec());
    // The ID column is ranked, not hidden, and trace_id (unique per event) is not noise at the top.
    assert!(rank("trace_id") > 5, "{names:?}");
    // Measures: duration differs most (it was brushed).
    assert_eq!(c.measures[0].column, "duration_ms");
    assert!(c.measures[0].selection.p50.unwrap() > c.measures[0].baseline.p50.unwrap() * 5.0);
}

/// Random events whose every column is independent of the selection: over many seeds,
/// the share of comparisons reporting anything significant stays near alpha.
#[test]
fn no_signal_means_nothing_significant() {
    use arrow_array::builder::{Float64Builder, StringBuilder};
    use arrow_array::{ArrayRef, RecordBatch};
    use arrow_ipc::writer::StreamWriter;
    use arrow_schema::{DataType, Field, Schema};
    use std::sync::Arc;

    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let seeds = 60;
    let mut with_findings = 0;
    for _ in 0..seeds {
        let schema = Arc::new(Schema::new(vec![
            Field::new("u", DataType::Float64, false),
            Field::new("customer", DataType::Utf8, false),
            Field::new("endpoint", DataType::Utf8, false),
            Field::new("region", DataType::Utf8, true),
        ]));
        let (mut u, mut c, mut e, mut r) =
            (Float64Builder::new(), StringBuilder::new(), StringBuilder::new(), StringBuilder::new());
        for _ in 0..4000 {
            u.append_value((next() % 1_000_000) as f64 / 1e6);
            // Zipf-ish customers: many tiny groups, where noise is loudest.
            let k = (next() % 1000) as f64;
            c.append_value(format!("c{}", (k * k / 1000.0) as u64));
            e.append_value(format!("/e{}", next() % 12));
            r.append_option((next() % 10 != 0).then(|| format!("r{}", next() % 4)));
        }
        let cols: Vec<ArrayRef> =
            vec![Arc::new(u.finish()), Arc::new(c.finish()), Arc::new(e.finish()), Arc::new(r.finish())];
        let mut bytes = Vec::new();
        let mut w = StreamWriter::try_new(&mut bytes, &schema).unwrap();
        w.write(&RecordBatch::try_new(schema.clone(), cols).unwrap()).unwrap();
        w.finish().unwrap();
        drop(w);
        let ds = load(&bytes);
        let c = compare(
            &ds,
            &spec(serde_json::json!({
                "selection": {"filters": [{"column": "u", "op": "<", "value": 0.1}]},
                "measures": []
            })),
        )
        .unwrap();
        assert!(c.selection_count > 300 && c.baseline_count > 3000);
        if c.dimensions.iter().any(|d| d.values.iter().any(|v| v.significant)) {
            with_findings += 1;
        }
        assert!(c.dimensions.iter().all(|d| d.score <= 0.05), "noise scored high: {:?}", c.dimensions[0]);
    }
    // Under no signal, Benjamini-Hochberg bounds the chance of any finding by alpha (0.05).
    println!("{with_findings} of {seeds} null comparisons reported a finding");
    assert!(with_findings <= 6, "{with_findings} of {seeds} null comparisons reported a finding");
}

#[test]
fn errors_name_the_column() {
    let ds = load(&ipc_stream(&DemoOptions { rows: 1000, ..Default::default() }).unwrap());
    let e = compare(&ds, &spec(serde_json::json!({"selection": {"filters": [{"column": "nope", "op": "exists"}]}})))
        .unwrap_err();
    assert!(e.to_string().contains("\"nope\""), "{e}");
    let e = compare(&ds, &spec(serde_json::json!({"selection": {}, "measures": ["endpoint"]}))).unwrap_err();
    assert!(e.to_string().contains("\"endpoint\""), "{e}");
    let e = compare(&ds, &spec(serde_json::json!({"selection": {}, "dimensions": ["duration_ms"]}))).unwrap_err();
    assert!(e.to_string().contains("\"duration_ms\""), "{e}");
}

#[test]
fn pinned_and_quantity_columns_are_not_ranked_as_dimensions() {
    let ds = load(&ipc_stream(&DemoOptions { rows: 50_000, ..Default::default() }).unwrap());
    // "This customer vs all": customer_id defines the selection, so it is not ranked;
    // what differs about the customer (their plan, region, user agents) is.
    let c = compare(
        &ds,
        &spec(serde_json::json!({
            "selection": {"filters": [{"column": "customer_id", "op": "=", "value": "cust_00042"}]}
        })),
    )
    .unwrap();
    let names: Vec<&str> = c.dimensions.iter().map(|d| d.column.as_str()).collect();
    assert!(!names.contains(&"customer_id"), "{names:?}");
    assert!(c.dimensions[0].score > 0.3, "{:?}", c.dimensions[0]);
    // db_calls (a dense range of counts) is a measure; status_code (sparse codes) a dimension.
    assert!(!names.contains(&"db_calls"), "{names:?}");
    assert!(names.contains(&"status_code"), "{names:?}");
    assert!(c.measures.iter().any(|m| m.column == "db_calls"));
    // Asked for by name, both are counted.
    let c = compare(
        &ds,
        &spec(serde_json::json!({
            "selection": {"filters": [{"column": "customer_id", "op": "=", "value": "cust_00042"}]},
            "dimensions": ["customer_id", "db_calls"]
        })),
    )
    .unwrap();
    assert_eq!(c.dimensions.len(), 2);
}

/// `n` events, one a second from t = 1,000,000 s; rows below `sel` have errors at
/// `sel_rate`, the rest at `base_rate`; hosts are independent of everything.
fn incident(n: usize, sel: usize, sel_rate: f64, base_rate: f64) -> Dataset {
    use arrow_array::{ArrayRef, Float64Array, StringArray, TimestampSecondArray};
    use std::sync::Arc;
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut unit = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    let mut error = Vec::with_capacity(n);
    let mut host = Vec::with_capacity(n);
    let mut dur = Vec::with_capacity(n);
    for i in 0..n {
        let rate = if i < sel { sel_rate } else { base_rate };
        error.push(if unit() < rate { "true" } else { "false" });
        host.push(format!("host-{}", (unit() * 8.0) as u32));
        dur.push(if i < sel { 500.0 + unit() * 100.0 } else { 10.0 + unit() * 100.0 });
    }
    let time: ArrayRef = Arc::new(TimestampSecondArray::from((0..n as i64).map(|i| 1_000_000 + i).collect::<Vec<_>>()));
    load(&ipc(vec![
        ("timestamp", time),
        ("error", Arc::new(StringArray::from(error))),
        ("host", Arc::new(StringArray::from(host))),
        ("duration_ms", Arc::new(Float64Array::from(dur))),
    ]))
}

fn window(sel: usize) -> serde_json::Value {
    serde_json::json!({"start_time": 1_000_000, "end_time": 1_000_000 + sel})
}

/// The loudest incidents must rank first: at 90% errors against 1%, the G statistic
/// (about 1e4) puts p far below the smallest f64. It used to underflow to 0, which the
/// correction read as "nothing passed", scoring `error` 0.
#[test]
fn the_loudest_signal_ranks_first() {
    let ds = incident(42_000, 2_000, 0.9, 0.01);
    let c =
        compare(&ds, &spec(serde_json::json!({"selection": window(2_000), "dimensions": ["error", "host"]}))).unwrap();
    assert_eq!((c.selection_count, c.baseline_count), (2_000, 40_000));
    let error = &c.dimensions[0];
    assert_eq!(error.column, "error", "{:?}", c.dimensions);
    assert!(error.score > 0.85, "{error:?}");
    let top = &error.values[0];
    assert!(top.significant && top.value == "true", "{top:?}");
    let log10_p = top.log10_p_value.unwrap();
    assert!(log10_p < -1000.0 && log10_p.is_finite(), "{log10_p}");
    assert_eq!(top.p_value, Some(0.0)); // below f64: the log says how far
    assert!(c.dimensions[1].values.iter().all(|v| !v.significant), "hosts are noise: {:?}", c.dimensions[1]);
    // The measure (duration, far apart) is in the same family, and significant.
    assert_eq!(c.tests, c.dimensions.iter().map(|d| d.distinct).sum::<u64>() + c.measures.len() as u64);
    assert!(c.measures[0].significant && c.measures[0].log10_p_value.unwrap() < -300.0, "{:?}", c.measures[0]);
}

/// A million events (G near 1e6): still ranked, still finite.
#[test]
fn huge_counts() {
    let ds = incident(1_000_000, 100_000, 0.5, 0.001);
    let c =
        compare(&ds, &spec(serde_json::json!({"selection": window(100_000), "dimensions": ["error"], "measures": []})))
            .unwrap();
    let v = &c.dimensions[0].values[0];
    assert!(v.significant && v.log10_p_value.unwrap() < -10_000.0, "{v:?}");
    assert!((c.dimensions[0].score - 0.499).abs() < 0.01, "{:?}", c.dimensions[0]);
}

/// Tiny counts: the exact binomial test; a value below `min_count` is not tested.
#[test]
fn tiny_counts() {
    let ds = incident(60, 6, 1.0, 0.0);
    let c = compare(&ds, &spec(serde_json::json!({"selection": window(6), "dimensions": ["error"], "measures": []})))
        .unwrap();
    let t = c.dimensions[0].values.iter().find(|v| v.value == "true").unwrap();
    // 6 of 6 errors in the selection, none of 54 outside: P = 2 · (6/60)^6 = 2e-6.
    assert!(t.significant && (t.p_value.unwrap() - 2e-6).abs() < 1e-12, "{t:?}");
    let c = compare(
        &ds,
        &spec(serde_json::json!({"selection": window(6), "dimensions": ["error"], "measures": [], "min_count": 7})),
    )
    .unwrap();
    let t = c.dimensions[0].values.iter().find(|v| v.value == "true").unwrap();
    assert_eq!((t.p_value, t.significant), (None, false));
}

#[test]
fn all_and_none_significant() {
    // Every value differs: each host appears only on its own side.
    use arrow_array::{ArrayRef, StringArray, TimestampSecondArray};
    use std::sync::Arc;
    let n = 4_000;
    let host: Vec<String> = (0..n).map(|i| format!("h{}", if i < 2000 { i % 4 } else { 4 + i % 4 })).collect();
    let time: ArrayRef = Arc::new(TimestampSecondArray::from((0..n as i64).map(|i| 1_000_000 + i).collect::<Vec<_>>()));
    let ds = load(&ipc(vec![("timestamp", time), ("host", Arc::new(StringArray::from(host)))]));
    let c = compare(&ds, &spec(serde_json::json!({"selection": window(2000), "dimensions": ["host"]}))).unwrap();
    assert!(c.dimensions[0].values.iter().all(|v| v.significant), "{:?}", c.dimensions[0]);
    assert!((c.dimensions[0].score - 1.0).abs() < 1e-12);
    // No difference at all: the same hosts at the same rates on both sides.
    let ds = incident(20_000, 10_000, 0.05, 0.05);
    let c = compare(
        &ds,
        &spec(serde_json::json!({"selection": window(10_000), "dimensions": ["error", "host"], "measures": []})),
    )
    .unwrap();
    assert!(
        c.dimensions.iter().all(|d| d.score == 0.0 && d.values.iter().all(|v| !v.significant)),
        "{:?}",
        c.dimensions
    );
}

#[test]
fn one_side_empty() {
    let ds = incident(1_000, 100, 0.9, 0.01);
    // An empty selection.
    let c = compare(&ds, &spec(serde_json::json!({"selection": {"start_time": 0, "end_time": 10}}))).unwrap();
    assert_eq!(c.selection_count, 0);
    assert_eq!(c.tests, 0);
    assert!(c.dimensions.iter().all(|d| d.score == 0.0 && d.tvd.is_finite()));
    assert!(c.measures.is_empty());
    // An empty baseline: everything selected.
    let c = compare(&ds, &spec(serde_json::json!({"selection": {}}))).unwrap();
    assert_eq!((c.selection_count, c.baseline_count), (1_000, 0));
    assert!(c.dimensions.iter().all(|d| d.score == 0.0 && d.values.iter().all(|v| v.p_value.is_none())));
    let json = serde_json::to_string(&c).unwrap();
    assert!(!json.contains("NaN"), "{json}");
}

/// Infinities and NaN in a measure never make its edges NaN: -inf counts in the first
/// bucket, +inf in the last, NaN nowhere.
#[test]
fn infinite_and_nan_measures() {
    use arrow_array::{ArrayRef, Float64Array, TimestampSecondArray};
    use std::sync::Arc;
    let n = 2_000;
    let vals: Vec<f64> = (0..n)
        .map(|i| match i % 10 {
            0 => f64::INFINITY,
            1 => f64::NEG_INFINITY,
            2 => f64::NAN,
            _ if i < 1000 => 100.0 + i as f64,
            _ => i as f64 / 10.0,
        })
        .collect();
    let time: ArrayRef = Arc::new(TimestampSecondArray::from((0..n as i64).map(|i| 1_000_000 + i).collect::<Vec<_>>()));
    let ds = load(&ipc(vec![("timestamp", time), ("v", Arc::new(Float64Array::from(vals)))]));
    let c = compare(&ds, &spec(serde_json::json!({"selection": window(1000), "measures": ["v"]}))).unwrap();
    let m = &c.measures[0];
    assert!(m.edges.iter().all(|e| e.is_finite()), "{:?}", m.edges);
    assert!(m.edges.windows(2).all(|w| w[0] < w[1]), "{:?}", m.edges);
    for side in [&m.selection, &m.baseline] {
        assert_eq!(side.count, 900); // NaN is missing; both infinities count
        assert!((side.histogram.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        assert!(side.histogram[0] >= 0.1 && side.histogram[31] >= 0.1, "{:?}", side.histogram);
        assert!(side.p50.unwrap().is_finite());
    }
    assert!(m.score.is_finite() && m.significant);
}

/// `baseline.period`: the same events one period earlier. The selection's filters (the
/// brush's value range) apply to the earlier window too.
#[test]
fn period_baseline_is_the_same_events_earlier() {
    let opts = DemoOptions { rows: 100_000, ..Default::default() };
    let ds = load(&ipc_stream(&opts).unwrap());
    let inc = &opts.incidents()[0];
    let period = 3600.0;
    let c = compare(
        &ds,
        &spec(serde_json::json!({
            "selection": {
                "start_time": inc.start_s, "end_time": inc.end_s,
                "filters": [{"column": "duration_ms", "op": ">=", "value": 1000}]
            },
            "baseline": {"period": period}
        })),
    )
    .unwrap();
    // Brute force: events in the window one hour earlier with duration >= 1 s.
    let q = sightline::query::run(
        &ds,
        &serde_json::from_value(serde_json::json!({
            "start_time": inc.start_s as f64 - period, "end_time": inc.end_s as f64 - period,
            "filters": [{"column": "duration_ms", "op": ">=", "value": 1000}]
        }))
        .unwrap(),
    )
    .unwrap();
    assert_eq!(c.baseline_count, q.matched);
    assert!(c.baseline_count > 0 && c.baseline_count < c.selection_count);
    // Every baseline event is slow, like the selection: duration is not what differs...
    let dur = c.measures.iter().find(|m| m.column == "duration_ms").unwrap();
    assert!(dur.baseline.p50.unwrap() >= 1000.0, "{dur:?}");
    // ...the bad build is.
    assert_eq!(c.dimensions[0].values[0].value, BAD_BUILD, "{:?}", c.dimensions[0]);
}

/// Sampled rows with a `SampleRate` column compare like the events they stand for
/// (each row repeated `rate` times): the same counts, shares, distances, histograms and
/// percentiles. Only the evidence differs: the tests scale counts to the Kish effective
/// size, so uniform 1-in-10 sampling gives the p-values of the rows themselves.
#[test]
fn sample_rates_weight_the_comparison() {
    use arrow_array::{ArrayRef, Float64Array, Int64Array, StringArray, TimestampSecondArray};
    use std::sync::Arc;
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut next = move |n: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % n
    };
    let regions = ["us-east-1", "eu-west-1", "ap-south-1", "sa-east-1"];
    let (mut t, mut reg, mut dur, mut rate) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut te, mut rege, mut dure) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..4000i64 {
        let r = regions[next(4) as usize];
        // Slow requests are kept whole, the rest 1 in 5 or 1 in 20.
        let slow = r == "eu-west-1" && next(3) == 0;
        let d = if slow { 900.0 + next(400) as f64 } else { 20.0 + next(300) as f64 };
        let w = if slow { 1 } else { [5, 20][next(2) as usize] };
        t.push(1_800_000_000 + i);
        reg.push(r);
        dur.push(d);
        rate.push(w);
        for _ in 0..w {
            te.push(1_800_000_000 + i);
            rege.push(r);
            dure.push(d);
        }
    }
    let table = |t: &Vec<i64>, r: &Vec<&str>, d: &Vec<f64>, rate: Option<&Vec<i64>>| {
        let mut cols: Vec<(&str, ArrayRef)> = vec![
            ("timestamp", Arc::new(TimestampSecondArray::from(t.clone()))),
            ("region", Arc::new(StringArray::from(r.clone()))),
            ("duration_ms", Arc::new(Float64Array::from(d.clone()))),
        ];
        if let Some(w) = rate {
            cols.push(("SampleRate", Arc::new(Int64Array::from(w.clone()))));
        }
        load(&ipc(cols))
    };
    let sampled = table(&t, &reg, &dur, Some(&rate));
    let full = table(&te, &rege, &dure, None);
    let s = spec(serde_json::json!({
        "selection": { "filters": [{ "column": "duration_ms", "op": ">=", "value": 800 }] },
        "dimensions": ["region"], "measures": ["duration_ms"], "top": 100
    }));
    let a = compare(&sampled, &s).unwrap();
    let b = compare(&full, &s).unwrap();
    assert_eq!(a.sample_rate_column.as_deref(), Some("SampleRate"));
    assert_eq!(b.sample_rate_column, None);
    assert_eq!((a.selection_count, a.baseline_count), (b.selection_count, b.baseline_count));
    let (da, db) = (&a.dimensions[0], &b.dimensions[0]);
    assert_eq!(da.tvd, db.tvd);
    let counts = |d: &sightline::compare::Dimension| {
        let mut v: Vec<(String, u64, u64, f64, f64)> = d
            .values
            .iter()
            .map(|x| (x.value.to_string(), x.selection_count, x.baseline_count, x.selection_share, x.baseline_share))
            .collect();
        v.sort_by(|x, y| x.0.cmp(&y.0));
        v
    };
    assert_eq!(counts(da), counts(db));
    let (ma, mb) = (&a.measures[0], &b.measures[0]);
    assert_eq!((ma.score, &ma.edges), (mb.score, &mb.edges));
    for (x, y) in [(&ma.selection, &mb.selection), (&ma.baseline, &mb.baseline)] {
        assert_eq!((x.count, x.p50, x.p95, &x.histogram), (y.count, y.p50, y.p95, &y.histogram));
    }
    // The evidence is the sample's, not the expanded rows': weaker p-values.
    let p = |c: &sightline::compare::Comparison| {
        c.dimensions[0].values.iter().map(|v| v.log10_p_value.unwrap()).fold(0.0, f64::min)
    };
    assert!(p(&a) > p(&b), "weighted {} vs expanded {}", p(&a), p(&b));

    // Uniform 1-in-10: counts x10, the same p-values as the rows unweighted.
    let ten = table(&t, &reg, &dur, Some(&vec![10; t.len()]));
    let w = compare(&ten, &s).unwrap();
    let mut plain_spec = s.clone();
    plain_spec.scope.sample_rate_column = Some(String::new());
    let u = compare(&ten, &plain_spec).unwrap();
    assert_eq!(u.sample_rate_column, None);
    assert_eq!(w.selection_count, 10 * u.selection_count);
    for (x, y) in w.dimensions[0].values.iter().zip(&u.dimensions[0].values) {
        assert_eq!(x.value, y.value);
        assert_eq!(x.selection_count, 10 * y.selection_count);
        let (px, py) = (x.log10_p_value.unwrap(), y.log10_p_value.unwrap());
        assert!((px - py).abs() <= 1e-9 * px.abs().max(1.0), "{px} vs {py}");
    }
    let (px, py) = (w.measures[0].log10_p_value.unwrap(), u.measures[0].log10_p_value.unwrap());
    assert!((px - py).abs() <= 1e-9 * px.abs().max(1.0), "measure {px} vs {py}");
}

/// "This customer vs all": what the customer determines (one plan per customer) is a
/// fact about the customer, not a difference ranked above the real ones.
#[test]
fn what_a_fixed_column_determines_is_a_fact() {
    let opts = DemoOptions { rows: 100_000, ..Default::default() };
    let ds = load(&ipc_stream(&opts).unwrap());
    let c = compare(
        &ds,
        &spec(serde_json::json!({ "selection": { "filters": [{ "column": "customer_id", "op": "=", "value": BAD_BUILD_CUSTOMERS[0] }] } })),
    )
    .unwrap();
    let facts: Vec<&str> = c.facts.iter().map(|f| f.column.as_str()).collect();
    assert!(facts.contains(&"plan"), "facts {facts:?}");
    assert!(c.dimensions.iter().all(|d| d.column != "plan"), "plan is not ranked");
    assert!(c.dimensions.iter().all(|d| d.column != "customer_id"), "the pinned column is not ranked");
    let plan = c.facts.iter().find(|f| f.column == "plan").unwrap();
    assert!(plan.value.is_string() && plan.baseline_share > 0.0 && plan.baseline_share < 1.0, "{plan:?}");
    // A brush fixes no column: one value in the selection stays a ranked difference.
    let inc = &opts.incidents()[0];
    let b = compare(
        &ds,
        &spec(serde_json::json!({ "selection": { "start_time": inc.start_s, "end_time": inc.end_s,
            "filters": [{ "column": "duration_ms", "op": ">=", "value": 5000 }] } })),
    )
    .unwrap();
    assert!(b.facts.is_empty(), "{:?}", b.facts);
}

/// The selection's window found by binary search on the sorted time column (a scope
/// without filters) decides the same sides as the test of every row's time (a scope
/// with a filter every row passes), at the window's edges too.
#[test]
fn window_by_search_equals_window_by_row() {
    let opts = DemoOptions { rows: 60_000, ..Default::default() };
    let ds = load(&ipc_stream(&opts).unwrap());
    let inc = &opts.incidents()[0];
    for (start, end) in [
        (inc.start_s as f64, inc.end_s as f64),
        (inc.start_s as f64 + 0.0005, inc.end_s as f64 - 0.0005),
        (0.0, 1e12),
        (inc.end_s as f64, inc.start_s as f64),
    ] {
        let selection = serde_json::json!({
            "start_time": start, "end_time": end,
            "filters": [{"column": "duration_ms", "op": ">=", "value": 300}]
        });
        let fast = compare(&ds, &spec(serde_json::json!({"selection": selection, "measures": []}))).unwrap();
        let slow = compare(
            &ds,
            &spec(serde_json::json!({
                "scope": {"filters": [{"column": "status_code", "op": "exists"}]},
                "selection": selection, "measures": []
            })),
        )
        .unwrap();
        assert_eq!((fast.selection_count, fast.baseline_count), (slow.selection_count, slow.baseline_count));
        assert!(fast.selection_count > 0 || end <= start);
        assert_eq!(fast.dimensions.len(), slow.dimensions.len());
        for (a, b) in fast.dimensions.iter().zip(&slow.dimensions) {
            assert_eq!(a.column, b.column);
            let counts = |d: &sightline::compare::Dimension| -> Vec<(String, u64, u64)> {
                d.values.iter().map(|v| (v.value.to_string(), v.selection_count, v.baseline_count)).collect()
            };
            assert_eq!(counts(a), counts(b), "{}", a.column);
        }
    }
}
