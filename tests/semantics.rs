//! Honeycomb's semantics at the edges: CONCURRENCY over spans, NaN and infinities in
//! calculations and heatmaps.

#[path = "common/ipc.rs"]
mod ipc;

use std::sync::Arc;

use arrow_array::{ArrayRef, Float64Array, TimestampSecondArray};
use sightline::query::{run, Cell, QueryResult};
use sightline::Dataset;

const T: i64 = 1_800_000_000; // a multiple of 60

fn q(ds: &Dataset, spec: serde_json::Value) -> QueryResult {
    run(ds, &serde_json::from_value(spec).unwrap()).unwrap()
}

fn num(c: Option<&Cell>) -> f64 {
    match c {
        Some(Cell::Num(x)) => *x,
        other => panic!("not a number: {other:?}"),
    }
}

fn events(times: &[i64], values: &[f64]) -> Dataset {
    let t: ArrayRef = Arc::new(TimestampSecondArray::from(times.to_vec()));
    ipc::dataset(vec![("timestamp", t), ("duration_ms", Arc::new(Float64Array::from(values.to_vec())))])
}

/// Honeycomb's example: a span counts in every bucket it reaches, by the fraction of the
/// bucket it covers; a bucket no span starts in still has the spans in progress.
#[test]
fn concurrency_counts_spans_in_progress() {
    // Three spans start at :00 (3 s, 1 s, 2 s), two at :01 (1.5 s, 0.5 s).
    let ds = events(&[T, T, T, T + 1, T + 1], &[3000.0, 1000.0, 2000.0, 1500.0, 500.0]);
    let r = q(
        &ds,
        serde_json::json!({"calculations": [{"op": "CONCURRENCY"}, {"op": "COUNT"}],
                           "start_time": T, "end_time": T + 4, "granularity": 1}),
    );
    let series: Vec<(f64, f64, f64)> = r
        .series
        .iter()
        .map(|s| (num(s.get("time")) - T as f64, num(s.get("CONCURRENCY")), num(s.get("COUNT"))))
        .collect();
    // :00 three whole spans; :01 A, C, D whole and E half; :02 A whole and D half.
    assert_eq!(series, vec![(0.0, 3.0, 3.0), (1.0, 3.5, 2.0), (2.0, 1.5, 0.0)]);
    // Over the whole range: 8 span-seconds in 4 seconds.
    assert_eq!(num(r.results[0].get("CONCURRENCY")), 2.0);
    // Spans past the end of the range are cut there; NaN, zero and negative durations cover nothing.
    let ds = events(&[T, T, T, T + 3], &[60_000.0, f64::NAN, 0.0, -5.0]);
    let r = q(
        &ds,
        serde_json::json!({"calculations": [{"op": "CONCURRENCY"}], "start_time": T, "end_time": T + 4, "granularity": 1}),
    );
    let c: Vec<f64> = r.series.iter().map(|s| num(s.get("CONCURRENCY"))).collect();
    assert_eq!(c, vec![1.0, 1.0, 1.0, 1.0]);
    assert_eq!(num(r.results[0].get("CONCURRENCY")), 1.0);
}

/// Breakdowns: each group's spans are its own.
#[test]
fn concurrency_per_group_and_long_spans() {
    use arrow_array::StringArray;
    let t: ArrayRef = Arc::new(TimestampSecondArray::from(vec![T, T + 10, T + 30]));
    let ds = ipc::dataset(vec![
        ("timestamp", t),
        ("duration_ms", Arc::new(Float64Array::from(vec![45_000.0, 5_000.0, 600_000.0]))),
        ("host", Arc::new(StringArray::from(vec!["a", "b", "a"]))),
    ]);
    let r = q(
        &ds,
        serde_json::json!({"calculations": [{"op": "CONCURRENCY"}], "breakdowns": ["host"],
                           "start_time": T, "end_time": T + 120, "granularity": 15, "orders": [{"column": "host"}]}),
    );
    let of = |host: &str| -> Vec<(f64, f64)> {
        r.series
            .iter()
            .filter(|s| s.get("host") == Some(&Cell::Str(host.into())))
            .map(|s| (num(s.get("time")) - T as f64, num(s.get("CONCURRENCY"))))
            .collect()
    };
    // a: [0, 45) and [30, 120) cut at the end; b: [10, 15).
    assert_eq!(
        of("a"),
        vec![(0.0, 1.0), (15.0, 1.0), (30.0, 2.0), (45.0, 1.0), (60.0, 1.0), (75.0, 1.0), (90.0, 1.0), (105.0, 1.0)]
    );
    assert_eq!(of("b"), vec![(0.0, 5.0 / 15.0)]);
}

/// NaN is missing in every numeric calculation, COUNT_DISTINCT included (as README
/// says); -0.0 and 0.0 are one value; infinities are values.
#[test]
fn nan_and_infinities_in_calculations() {
    let nan2 = f64::from_bits(0x7ff8_0000_0000_0001);
    let ds = events(&[T; 7], &[1.0, f64::NAN, nan2, -0.0, 0.0, f64::INFINITY, 1.0]);
    let r = q(
        &ds,
        serde_json::json!({"calculations": [{"op": "COUNT_DISTINCT", "column": "duration_ms"}, {"op": "COUNT"},
            {"op": "MAX", "column": "duration_ms"}, {"op": "P50", "column": "duration_ms"}, {"op": "P99", "column": "duration_ms"}],
            "start_time": T, "end_time": T + 1}),
    );
    let row = &r.results[0];
    assert_eq!(num(row.get("COUNT_DISTINCT(duration_ms)")), 3.0);
    assert_eq!(num(row.get("COUNT")), 7.0);
    assert_eq!(num(row.get("MAX(duration_ms)")), f64::INFINITY);
    // Sorted: -0, 0, 1, 1, inf. P50 = 1; P99 interpolates between 1 and inf: inf, never NaN.
    assert_eq!(num(row.get("P50(duration_ms)")), 1.0);
    assert_eq!(num(row.get("P99(duration_ms)")), f64::INFINITY);
}

/// A heatmap's edges span the finite values; +inf counts in the top bucket, -inf in the
/// bottom (linear) or the `low` row (log); NaN is counted as missing.
#[test]
fn heatmap_edges_stay_finite() {
    let vals = [1.0, 10.0, 100.0, f64::INFINITY, f64::NEG_INFINITY, f64::NAN, 50.0];
    let ds = events(&[T, T, T, T, T, T, T + 30], &vals);
    for scale in ["log", "linear"] {
        let r = q(
            &ds,
            serde_json::json!({"calculations": [{"op": "HEATMAP", "column": "duration_ms"}],
                "start_time": T, "end_time": T + 60, "granularity": 60, "heatmap": {"value_buckets": 10, "scale": scale}}),
        );
        let h = &r.heatmaps[0].heatmap;
        assert!(h.value_edges.iter().all(|e| e.is_finite()), "{scale}: {:?}", h.value_edges);
        assert_eq!(*h.value_edges.last().unwrap(), 100.0, "{scale}");
        assert_eq!((h.total, h.nulls), (6, 1), "{scale}");
        let vb = h.value_buckets();
        assert_eq!(h.counts[vb - 1], 2, "{scale}: 100 and +inf in the top bucket: {:?}", h.counts);
        if scale == "log" {
            assert_eq!(h.low, vec![1]);
            assert_eq!(h.counts[0], 1);
        } else {
            assert_eq!(h.counts[0], 3, "-inf, 1 and 10 in the bottom bucket: {:?}", h.counts);
        }
    }
    // The same through the standalone heatmap (zone maps).
    let h = sightline::heatmap::heatmap(
        &ds,
        &serde_json::from_value(serde_json::json!({"column": "duration_ms", "value_buckets": 10})).unwrap(),
    )
    .unwrap();
    assert!(h.value_edges.iter().all(|e| e.is_finite()), "{:?}", h.value_edges);
    assert_eq!(h.total, 6);
}

/// IDs above 2^53 (int64 and uint64) stay distinct under filters, in breakdowns, in
/// results, events and comparisons; beyond JavaScript's safe integers they are returned
/// as decimal strings, and specs may give them as JSON integers or strings.
#[test]
fn sixty_four_bit_integers_are_exact() {
    use arrow_array::{Int64Array, UInt64Array};
    const P53: i64 = 1 << 53;
    let ids = vec![P53, P53 + 1, P53 + 1, i64::MAX, i64::MIN, 7, -3];
    let uids = vec![u64::MAX, u64::MAX - 1, u64::MAX - 1, 1 << 60, (1 << 60) + 1, 7, 0];
    let t: ArrayRef = Arc::new(TimestampSecondArray::from((0..7).map(|i| T + i).collect::<Vec<_>>()));
    let ds = ipc::dataset(vec![
        ("timestamp", t),
        ("id", Arc::new(Int64Array::from(ids.clone()))),
        ("uid", Arc::new(UInt64Array::from(uids.clone()))),
    ]);
    let count = |filters: serde_json::Value| q(&ds, serde_json::json!({"filters": filters})).matched;
    // A JSON integer keeps its digits; so does a string (how JavaScript passes a BigInt).
    assert_eq!(count(serde_json::json!([{"column": "id", "op": "=", "value": P53 + 1}])), 2);
    assert_eq!(count(serde_json::json!([{"column": "id", "op": "=", "value": P53}])), 1);
    assert_eq!(count(serde_json::json!([{"column": "id", "op": "=", "value": "9007199254740993"}])), 2);
    assert_eq!(count(serde_json::json!([{"column": "id", "op": "!=", "value": P53}])), 6);
    assert_eq!(count(serde_json::json!([{"column": "id", "op": ">", "value": P53}])), 3);
    assert_eq!(count(serde_json::json!([{"column": "id", "op": ">", "value": 6.5}])), 5);
    assert_eq!(count(serde_json::json!([{"column": "id", "op": "<=", "value": -2.5}])), 2);
    assert_eq!(count(serde_json::json!([{"column": "id", "op": "=", "value": 7.5}])), 0);
    assert_eq!(count(serde_json::json!([{"column": "id", "op": "in", "value": [P53, "9223372036854775807"]}])), 2);
    assert_eq!(count(serde_json::json!([{"column": "id", "op": "not-in", "value": [P53 + 1]}])), 5);
    assert_eq!(count(serde_json::json!([{"column": "uid", "op": "=", "value": u64::MAX}])), 1);
    assert_eq!(count(serde_json::json!([{"column": "uid", "op": "=", "value": "18446744073709551614"}])), 2);
    assert_eq!(count(serde_json::json!([{"column": "uid", "op": ">=", "value": 1u64 << 60}])), 5);
    // Breakdowns: one group per exact value, returned without rounding.
    let r = q(&ds, serde_json::json!({"breakdowns": ["id"], "orders": [{"column": "id"}]}));
    let json = serde_json::to_value(&r.results).unwrap();
    let keys: Vec<serde_json::Value> = json.as_array().unwrap().iter().map(|row| row["id"].clone()).collect();
    assert_eq!(
        keys,
        vec![
            serde_json::json!("-9223372036854775808"),
            serde_json::json!(-3),
            serde_json::json!(7),
            serde_json::json!("9007199254740992"),
            serde_json::json!("9007199254740993"),
            serde_json::json!("9223372036854775807"),
        ]
    );
    assert_eq!(json[4]["COUNT"], serde_json::json!(2.0));
    let r = q(&ds, serde_json::json!({"breakdowns": ["uid"]}));
    assert_eq!(r.results.len(), 6);
    // Events: the same rule.
    let ev = sightline::query::events::events(
        &ds,
        &serde_json::from_value(serde_json::json!({"columns": ["id", "uid"], "order": "oldest"})).unwrap(),
    )
    .unwrap();
    let ev = serde_json::to_value(&ev).unwrap();
    assert_eq!(ev["rows"][1], serde_json::json!(["9007199254740993", "18446744073709551614"]));
    assert_eq!(ev["rows"][5], serde_json::json!([7, 7]));
    // Comparisons: 2^53 and 2^53 + 1 are two values.
    let c = sightline::compare::compare(
        &ds,
        &serde_json::from_value(
            serde_json::json!({"selection": {"filters": [{"column": "id", "op": ">", "value": 0}]},
                                                   "dimensions": ["id"], "min_count": 1}),
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(c.dimensions[0].distinct, 6);
    let values: Vec<serde_json::Value> = c.dimensions[0].values.iter().map(|v| v.value.clone()).collect();
    assert!(values.contains(&serde_json::json!("9007199254740993")), "{values:?}");
}

/// `time_zone`: a day granularity makes local days, 23 hours long on the day New York
/// springs forward; without a zone, days are UTC days.
#[test]
fn day_buckets_follow_local_midnight_across_dst() {
    let (d7, d8, d9, d10) = (1_772_859_600i64, 1_772_946_000, 1_773_028_800, 1_773_115_200); // local midnights
    let times: Vec<i64> = (0..24 * 5).map(|h| d7 - 86_400 + h * 3600).collect(); // one event an hour
    let ds = events(&times, &vec![1.0; times.len()]);
    let r = q(
        &ds,
        serde_json::json!({"start_time": d7, "end_time": d10, "granularity": 86_400, "time_zone": "America/New_York"}),
    );
    let series: Vec<(i64, f64)> = r.series.iter().map(|s| (num(s.get("time")) as i64, num(s.get("COUNT")))).collect();
    assert_eq!(series, vec![(d7, 24.0), (d8, 23.0), (d9, 24.0)]);
    // No zone: UTC days, 24 events each (the range cuts the first and last).
    let r = q(&ds, serde_json::json!({"start_time": d7, "end_time": d10, "granularity": 86_400}));
    assert!(r.series.iter().all(|s| (num(s.get("time")) as i64 - d7) % 86_400 == 0));
    // An unknown zone is an error naming it.
    let e = run(&ds, &serde_json::from_value(serde_json::json!({"time_zone": "Mars/Base"})).unwrap()).unwrap_err();
    assert!(e.to_string().contains("Mars/Base"), "{e}");
    // Without explicit times, hourly buckets in Kolkata (+05:30) start on local hours.
    let r = q(&ds, serde_json::json!({"granularity": 3600, "time_zone": "Asia/Kolkata"}));
    assert!(r.series.iter().all(|s| (num(s.get("time")) as i64 + 19_800) % 3600 == 0), "{:?}", r.series[0]);
}

/// Sample rates: a query over sampled events with a `SampleRate` column gives what the
/// same query gives over the events they stand for (each row repeated `rate` times,
/// no rate column): COUNT, SUM, AVG, percentiles, CONCURRENCY, RATE_*, HEATMAP cells,
/// in results and in every series bucket. MIN, MAX and COUNT_DISTINCT are not weighted.
#[test]
fn sample_rates_answer_for_the_events_they_stand_for() {
    use arrow_array::{Int64Array, StringArray};
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move |n: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % n
    };
    let (mut t, mut d, mut r, mut k) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut te, mut de, mut ke) = (Vec::new(), Vec::new(), Vec::new());
    let mut now = T;
    for _ in 0..3000 {
        now += next(3) as i64;
        let dur = match next(20) {
            0 => None,
            1 => Some(0.0),
            _ => Some(1.0 + next(5000) as f64 / 7.0),
        };
        let rate = match next(6) {
            0 => None,
            1 => Some(0),
            2 => Some(-3),
            _ => Some(1 + next(20) as i64),
        };
        let key = ["a", "b", "c"][next(3) as usize];
        t.push(now);
        d.push(dur);
        r.push(rate);
        k.push(key);
        for _ in 0..rate.filter(|x| *x >= 1).unwrap_or(1) {
            te.push(now);
            de.push(dur);
            ke.push(key);
        }
    }
    let ts = |v: &Vec<i64>| -> ArrayRef { Arc::new(TimestampSecondArray::from(v.clone())) };
    let sampled = ipc::dataset(vec![
        ("timestamp", ts(&t)),
        ("duration_ms", Arc::new(Float64Array::from(d.clone()))),
        ("SampleRate", Arc::new(Int64Array::from(r.clone()))),
        ("k", Arc::new(StringArray::from(k.clone()))),
    ]);
    let full = ipc::dataset(vec![
        ("timestamp", ts(&te)),
        ("duration_ms", Arc::new(Float64Array::from(de))),
        ("k", Arc::new(StringArray::from(ke))),
    ]);
    let spec = serde_json::json!({
        "calculations": [{"op": "COUNT"}, {"op": "SUM", "column": "duration_ms"}, {"op": "AVG", "column": "duration_ms"},
                         {"op": "P50", "column": "duration_ms"}, {"op": "P99", "column": "duration_ms"},
                         {"op": "CONCURRENCY", "column": "duration_ms"}, {"op": "RATE_SUM", "column": "duration_ms"},
                         {"op": "RATE_AVG", "column": "duration_ms"}, {"op": "MIN", "column": "duration_ms"},
                         {"op": "HEATMAP", "column": "duration_ms"}],
        "breakdowns": ["k"], "start_time": T, "end_time": T + 3600, "granularity": 120,
        "heatmap": {"value_buckets": 17}
    });
    let a = q(&sampled, spec.clone());
    let b = q(&full, spec.clone());
    assert_eq!(a.sample_rate_column.as_deref(), Some("SampleRate"));
    assert_eq!(b.sample_rate_column, None);
    let close = |x: &Cell, y: &Cell| match (x, y) {
        (Cell::Num(x), Cell::Num(y)) => (x - y).abs() <= 1e-9 * x.abs().max(y.abs()).max(1.0),
        _ => x == y,
    };
    let same_rows = |xs: &[sightline::query::Row], ys: &[sightline::query::Row], what: &str| {
        assert_eq!(xs.len(), ys.len(), "{what}: row counts");
        for (x, y) in xs.iter().zip(ys) {
            for ((kx, vx), (ky, vy)) in x.0.iter().zip(&y.0) {
                assert_eq!(kx, ky);
                assert!(close(vx, vy), "{what} {kx}: sampled {vx:?}, expanded {vy:?}\n{x:?}\n{y:?}");
            }
        }
    };
    same_rows(&a.results, &b.results, "results");
    same_rows(&a.series, &b.series, "series");
    let (ha, hb) = (&a.heatmaps[0].heatmap, &b.heatmaps[0].heatmap);
    assert_eq!(
        (ha.counts.clone(), ha.low.clone(), ha.total, ha.nulls),
        (hb.counts.clone(), hb.low.clone(), hb.total, hb.nulls)
    );
    assert!(ha.total > 3000, "weighted total {}", ha.total);

    // `""` turns weighting off; a rate column that is not a number is refused by name.
    let mut off = spec.clone();
    off["sample_rate_column"] = serde_json::json!("");
    let u = q(&sampled, off);
    assert_eq!(u.sample_rate_column, None);
    assert_eq!(u.heatmaps[0].heatmap.total + u.heatmaps[0].heatmap.nulls, 3000);
    let mut bad = spec.clone();
    bad["sample_rate_column"] = serde_json::json!("k");
    let e = run(&sampled, &serde_json::from_value(bad).unwrap()).unwrap_err();
    assert!(e.to_string().contains("\"k\"") || e.to_string().contains("k:"), "{e}");
    assert!(e.to_string().contains("sample rate"), "{e}");
}
