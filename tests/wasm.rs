//! The engine compiled to wasm32, run by `wasm-bindgen-test` under Node and in headless
//! Chromium (`WASM_BINDGEN_USE_BROWSER=1`, flags in webdriver.json). Native tests cover
//! the logic; these prove it behaves the same inside a wasm instance, through the same
//! JS-facing layer the component uses.
#![cfg(target_arch = "wasm32")]

use js_sys::{Error as JsErrorObj, Reflect, Uint32Array, Uint8ClampedArray};
use sightline::demo::{self, Compression, DemoOptions};
use sightline::wasm::JsDataset;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_test::*;

fn stream(rows: usize, batch_rows: usize, c: Compression) -> Vec<u8> {
    let o = DemoOptions { rows, batch_rows, ..Default::default() };
    demo::write_ipc(&o, c, Vec::new(), |_| Ok(())).unwrap()
}

fn get(v: &JsValue, k: &str) -> JsValue {
    Reflect::get(v, &JsValue::from_str(k)).unwrap()
}

/// The message of what a method threw (a JS `Error`).
fn message(v: JsValue) -> String {
    assert!(v.is_instance_of::<JsErrorObj>(), "not a JS Error: {v:?}");
    v.unchecked_into::<JsErrorObj>().message().into()
}

#[wasm_bindgen_test]
fn ingests_odd_chunks_with_every_codec() {
    for c in [Compression::None, Compression::Lz4, Compression::Zstd] {
        let bytes = stream(20_000, 4096, c);
        let mut ds = JsDataset::new(JsValue::UNDEFINED).unwrap();
        let mut at = 0;
        let sizes = [1usize, 7, 333, 4093, 65_537];
        let mut k = 0;
        while at < bytes.len() {
            let n = sizes[k % sizes.len()].min(bytes.len() - at);
            ds.push(&bytes[at..at + n]).unwrap();
            at += n;
            k += 1;
        }
        ds.finish().unwrap();
        assert_eq!(ds.row_count(), 20_000.0, "{c:?}");
        assert_eq!(ds.bytes_consumed(), 0.0, "finish() starts a new stream");
    }
}

#[wasm_bindgen_test]
fn schema_names_roles() {
    let mut ds = JsDataset::new(JsValue::UNDEFINED).unwrap();
    ds.push(&stream(100, 100, Compression::None)).unwrap();
    let schema: js_sys::Array = ds.schema().unwrap().unchecked_into();
    let roles: Vec<(String, String)> =
        schema.iter().map(|f| (get(&f, "name").as_string().unwrap(), get(&f, "role").as_string().unwrap())).collect();
    assert!(roles.contains(&("timestamp".into(), "time".into())));
    assert!(roles.contains(&("duration_ms".into(), "number".into())));
    assert!(roles.contains(&("customer_id".into(), "string".into())));
    assert!(roles.contains(&("cache_hit".into(), "bool".into())));
}

#[wasm_bindgen_test]
fn corrupt_stream_is_an_error_and_keeps_loaded_batches() {
    let bytes = stream(10_000, 1000, Compression::None);
    let mut ds = JsDataset::new(JsValue::UNDEFINED).unwrap();
    let cut = bytes.len() * 2 / 3;
    let mut bad = bytes[..cut].to_vec();
    // Damage the rest: 0xff bytes fill the message the cut fell in, then read as a
    // prefix with metadata length -1.
    bad.extend(std::iter::repeat_n(0xffu8, 400_000));
    let mut loaded = 0.0;
    let mut failure = None;
    for chunk in bad.chunks(777) {
        match ds.push(chunk) {
            Ok(_) => loaded = ds.row_count(),
            Err(e) => {
                // The Error carries what the engine names: its kind and the byte offset.
                assert_eq!(get(&e, "kind").as_string().as_deref(), Some("ingest"));
                assert!(get(&e, "offset").as_f64().is_some_and(|o| o > 0.0));
                failure = Some(message(e));
                break;
            }
        }
    }
    let failure = failure.expect("a garbage tail must fail");
    assert!(failure.contains("at byte"), "{failure}");
    assert!(loaded > 0.0 && ds.row_count() == loaded, "rows loaded before the fault stay");
    let again = message(ds.push(&[0, 1, 2]).unwrap_err());
    assert!(again.contains("already failed"), "{again}");
    assert!(ds.finish().is_err());
    // After finish() a new stream may be pushed and appends.
    ds.push(&stream(500, 500, Compression::None)).unwrap();
    ds.finish().unwrap();
    assert_eq!(ds.row_count(), loaded + 500.0);
}

#[wasm_bindgen_test]
fn truncated_stream_fails_at_finish() {
    let bytes = stream(3000, 1000, Compression::Zstd);
    let mut ds = JsDataset::new(JsValue::UNDEFINED).unwrap();
    ds.push(&bytes[..bytes.len() - 10]).unwrap();
    let e = message(ds.finish().unwrap_err());
    assert!(e.contains("stream ended at byte"), "{e}");
}

#[wasm_bindgen_test]
fn heatmap_and_render() {
    let mut ds = JsDataset::new(JsValue::UNDEFINED).unwrap();
    ds.push(&stream(5000, 5000, Compression::None)).unwrap();
    let spec = js_sys::JSON::parse(r#"{"column": "duration_ms"}"#).unwrap();
    let h = ds.heatmap(spec.clone()).unwrap();
    let counts: Uint32Array = get(&h, "counts").unchecked_into();
    let time_buckets = js_sys::Array::from(&get(&h, "time_edges")).length() - 1;
    assert!(time_buckets <= 120);
    assert_eq!(counts.length(), time_buckets * 40);
    assert_eq!(counts.to_vec().iter().map(|c| *c as u64).sum::<u64>(), 5000);
    let r = ds.render_heatmap(spec, JsValue::UNDEFINED).unwrap();
    let rgba: Uint8ClampedArray = get(&r, "rgba").unchecked_into();
    assert_eq!(rgba.length() as f64, get(&r, "width").as_f64().unwrap() * get(&r, "height").as_f64().unwrap() * 4.0);
    let bad = js_sys::JSON::parse(r#"{"column": "endpoint"}"#).unwrap();
    let e = ds.heatmap(bad).unwrap_err();
    assert_eq!(get(&e, "column").as_string().as_deref(), Some("endpoint"));
    let e = message(e);
    assert!(e.contains("\"endpoint\""), "{e}");
}

#[wasm_bindgen_test]
fn query_breakdown_and_errors() {
    let mut ds = JsDataset::new(JsValue::UNDEFINED).unwrap();
    ds.push(&stream(20_000, 5000, Compression::Lz4)).unwrap();
    ds.finish().unwrap();
    let spec = js_sys::JSON::parse(
        r#"{"calculations":[{"op":"COUNT"},{"op":"P99","column":"duration_ms"},{"op":"HEATMAP","column":"duration_ms"}],
            "breakdowns":["region"],"orders":[{"op":"COUNT","order":"descending"}],"limit":2}"#,
    )
    .unwrap();
    let r = ds.query(spec).unwrap();
    let results: js_sys::Array = get(&r, "results").unchecked_into();
    assert_eq!(results.length(), 2);
    let first = results.get(0);
    assert_eq!(get(&first, "region").as_string().as_deref(), Some("us-east-1"));
    assert!(get(&first, "P99(duration_ms)").as_f64().unwrap() > 0.0);
    let heatmaps: js_sys::Array = get(&r, "heatmaps").unchecked_into();
    let counts: Uint32Array = get(&heatmaps.get(0), "counts").unchecked_into();
    assert_eq!(counts.to_vec().iter().map(|c| *c as u64).sum::<u64>(), 20_000);
    assert_eq!(get(&r, "matched").as_f64(), Some(20_000.0));
    let bad = js_sys::JSON::parse(r#"{"calculations":[{"op":"P99","column":"region"}]}"#).unwrap();
    let e = message(ds.query(bad).unwrap_err());
    assert!(e.contains("P99") && e.contains("\"region\""), "{e}");
    let bad = js_sys::JSON::parse(r#"{"calculations":[{"op":"COUNT"}],"bogus":1}"#).unwrap();
    let e = message(ds.query(bad).unwrap_err());
    assert!(e.contains("bogus"), "{e}");
}

#[wasm_bindgen_test]
fn malformed_specs_are_errors_not_traps() {
    let mut ds = JsDataset::new(JsValue::UNDEFINED).unwrap();
    ds.push(&stream(100, 100, Compression::None)).unwrap();
    for bad in [JsValue::UNDEFINED, JsValue::NULL, JsValue::from_f64(3.0), JsValue::from_str("{}")] {
        let e = message(ds.query(bad).unwrap_err());
        assert!(e.contains("invalid query spec"), "{e}");
    }
    let e =
        message(ds.query(js_sys::JSON::parse(r#"{"calculations":[{"op":"AVG","colum":"x"}]}"#).unwrap()).unwrap_err());
    assert!(e.contains("colum"), "{e}");
    let e = message(ds.query(js_sys::JSON::parse(r#"{"limit":"ten"}"#).unwrap()).unwrap_err());
    assert!(e.contains("limit") || e.contains("invalid type"), "{e}");
}

#[wasm_bindgen_test]
fn compare_ranks_dimensions() {
    let mut ds = JsDataset::new(JsValue::UNDEFINED).unwrap();
    ds.push(&stream(30_000, 10_000, Compression::None)).unwrap();
    ds.finish().unwrap();
    let spec =
        js_sys::JSON::parse(r#"{"selection":{"filters":[{"column":"status_code","op":">=","value":500}]}}"#).unwrap();
    let c = ds.compare(spec).unwrap();
    let dims: js_sys::Array = get(&c, "dimensions").unchecked_into();
    assert!(dims.length() > 5);
    let first = dims.get(0);
    assert!(get(&first, "score").as_f64().unwrap() > 0.5);
    let values: js_sys::Array = get(&first, "values").unchecked_into();
    let v = values.get(0);
    for key in [
        "value",
        "selection_count",
        "selection_share",
        "baseline_count",
        "baseline_share",
        "diff_pp",
        "lift",
        "significant",
    ] {
        assert!(Reflect::has(&v, &JsValue::from_str(key)).unwrap(), "{key}");
    }
    let e =
        message(ds.compare(js_sys::JSON::parse(r#"{"selection":{},"measures":["endpoint"]}"#).unwrap()).unwrap_err());
    assert!(e.contains("\"endpoint\""), "{e}");
}

/// Result rows are built by the wasm edge itself (keys made once per column), not by
/// serde-wasm-bindgen: they must be what the engine's own serialization of the same
/// rows gives, for every kind of cell (strings, u16, i64, floats, null and NaN-as-null,
/// booleans), in results, series and a time comparison's `previous`.
#[wasm_bindgen_test]
fn result_rows_are_the_engines_serialization() {
    let bytes = stream(30_000, 7000, Compression::None);
    let mut ds = JsDataset::new(JsValue::UNDEFINED).unwrap();
    ds.push(&bytes).unwrap();
    ds.finish().unwrap();
    let mut native = sightline::Dataset::new();
    native.push(&bytes).unwrap();
    native.finish().unwrap();
    let specs = [
        r#"{"calculations":[{"op":"COUNT"},{"op":"P99","column":"duration_ms"},{"op":"AVG","column":"db_duration_ms"},{"op":"MAX","column":"response_bytes"}],
            "breakdowns":["customer_id","status_code","cache_hit"],"limit":300,"time_zone":"UTC"}"#,
        r#"{"calculations":[{"op":"COUNT"},{"op":"MIN","column":"db_duration_ms"}],"breakdowns":["error","region"],
            "filters":[{"column":"db_duration_ms","op":"does-not-exist"}],"disable_series":true}"#,
        r#"{"calculations":[{"op":"SUM","column":"db_calls"}],"breakdowns":["endpoint"],"compare_time_offset_seconds":3600,
            "time_range":7200,"granularity":600}"#,
    ];
    for text in specs {
        let r = ds.query(js_sys::JSON::parse(text).unwrap()).unwrap();
        let spec: sightline::query::QuerySpec = serde_json::from_str(text).unwrap();
        let want = js_sys::JSON::parse(&serde_json::to_string(&sightline::query::run(&native, &spec).unwrap()).unwrap()).unwrap();
        let mut checked = 0;
        for (got, want) in [(r.clone(), want.clone()), (get(&r, "previous"), get(&want, "previous"))] {
            if want.is_undefined() || want.is_null() {
                continue;
            }
            for key in ["results", "series"] {
                let (g, w) = (js_sys::JSON::stringify(&get(&got, key)).unwrap(), js_sys::JSON::stringify(&get(&want, key)).unwrap());
                assert_eq!(String::from(g), String::from(w), "{key} of {text}");
                checked += js_sys::Array::from(&get(&want, key)).length();
            }
        }
        assert!(checked > 10, "{text}: {checked} rows");
    }
}
