//! The JavaScript face of the engine: a thin `wasm-bindgen` layer over [`crate::Dataset`].
//!
//! Every method converts its arguments, calls the core, and converts the result or
//! turns the core's [`crate::Error`] into a JS `Error` with the same message. No logic
//! lives here.

use js_sys::{Object, Reflect, Uint32Array, Uint8ClampedArray};
use serde::Serialize;
use wasm_bindgen::prelude::*;

use crate::heatmap::{heatmap, HeatmapSpec};
use crate::render::{render_heatmap, RenderOptions};

/// The core's error as a JS `Error` with the same message and, as properties, what
/// [`crate::ErrorInfo`] holds: `kind`, and the `column`, `operator` or `offset` it names.
fn js_err(e: crate::Error) -> JsValue {
    info_err(&e.info())
}

fn info_err(info: &crate::ErrorInfo) -> JsValue {
    let err = js_sys::Error::new(&info.message);
    let kind = serde_json::to_value(info.kind).ok().and_then(|v| v.as_str().map(JsValue::from_str));
    let fields = [
        ("kind", kind),
        ("column", info.column.as_deref().map(JsValue::from_str)),
        ("operator", info.operator.as_deref().map(JsValue::from_str)),
        ("offset", info.offset.map(|o| JsValue::from_f64(o as f64))),
    ];
    for (key, value) in fields {
        if let Some(value) = value {
            let _ = Reflect::set(&err, &JsValue::from_str(key), &value);
        }
    }
    err.into()
}

/// A malformed specification or options object (kind `spec`), with this message.
fn spec_err(message: String) -> JsValue {
    info_err(&crate::ErrorInfo { kind: crate::ErrorKind::Spec, message, column: None, operator: None, offset: None })
}

/// A failure of this layer itself (not of the input).
fn edge_err(message: &str) -> JsValue {
    js_sys::Error::new(message).into()
}

fn to_js<T: Serialize>(v: &T) -> Result<JsValue, JsValue> {
    let s = serde_wasm_bindgen::Serializer::json_compatible();
    v.serialize(&s).map_err(|e| edge_err(&e.to_string()))
}

/// Specifications go through JSON text so that serde's `deny_unknown_fields` applies (a
/// misspelt key is an error naming it; serde-wasm-bindgen would ignore it).
fn from_js<T: serde::de::DeserializeOwned>(v: JsValue, what: &str) -> Result<T, JsValue> {
    if !v.is_object() {
        return Err(spec_err(format!("invalid {what}: expected an object")));
    }
    // A BigInt (an ID above 2^53) becomes its decimal string, which the engine reads as
    // an exact integer; JSON.stringify alone would throw on it.
    let bigints = Closure::<dyn Fn(JsValue, JsValue) -> JsValue>::new(|_key: JsValue, value: JsValue| {
        if value.is_bigint() {
            js_sys::BigInt::unchecked_from_js(value).to_string(10).map_or(JsValue::NULL, JsValue::from)
        } else {
            value
        }
    });
    let text = js_sys::JSON::stringify_with_replacer(&v, bigints.as_ref())
        .ok()
        .and_then(|s| s.as_string())
        .ok_or_else(|| spec_err(format!("invalid {what}: not JSON-serializable")))?;
    serde_json::from_str(&text).map_err(|e| spec_err(format!("invalid {what}: {e}")))
}

fn set(obj: &Object, key: &str, value: &JsValue) -> Result<(), JsValue> {
    Reflect::set(obj, &JsValue::from_str(key), value).map_err(|_| edge_err("could not build the result object"))?;
    Ok(())
}

fn render_options(options: JsValue) -> Result<RenderOptions, JsValue> {
    if options.is_undefined() {
        Ok(RenderOptions::default())
    } else {
        from_js(options, "render options")
    }
}

/// A heatmap's header with its counts and low counts as `Uint32Array`s.
fn heatmap_to_js(h: &crate::heatmap::Heatmap) -> Result<Object, JsValue> {
    let obj: Object = to_js(&HeatmapHeader::from(h))?.unchecked_into();
    set(&obj, "counts", &Uint32Array::from(&h.counts[..]))?;
    set(&obj, "low", &Uint32Array::from(&h.low[..]))?;
    Ok(obj)
}

/// A rendering with its pixels as a `Uint8ClampedArray`, and its heatmap if any.
fn rendered_to_js(r: &crate::render::Rendered, h: Option<&crate::heatmap::Heatmap>) -> Result<Object, JsValue> {
    let obj: Object = to_js(r)?.unchecked_into();
    set(&obj, "rgba", &Uint8ClampedArray::from(&r.rgba[..]))?;
    if let Some(h) = h {
        set(&obj, "heatmap", &heatmap_to_js(h)?.into())?;
    }
    Ok(obj)
}

/// The specification and result types of the methods below, generated from the core's
/// Rust types (`src/typescript.rs`) into the package's `www/engine/spec.d.ts`.
#[wasm_bindgen(typescript_custom_section)]
const SPEC_TYPES: &str = r#"import type { CompareSpec, Comparison, EventsResult, EventsSpec, Heatmap, HeatmapSpec, QueryResult, QuerySpec } from '../www/engine/spec.js';
export type { CompareSpec, Comparison, EventsResult, EventsSpec, Heatmap, HeatmapSpec, QueryResult, QuerySpec } from '../www/engine/spec.js';"#;

/// A query result's heatmap counts as typed arrays rather than arrays of numbers.
fn typed_heatmaps(out: &JsValue, r: &crate::query::QueryResult) -> Result<(), JsValue> {
    let maps: js_sys::Array = Reflect::get(out, &JsValue::from_str("heatmaps"))
        .map_err(|_| edge_err("could not build the result object"))?
        .unchecked_into();
    for (i, h) in r.heatmaps.iter().enumerate() {
        let obj: Object = maps.get(i as u32).unchecked_into();
        set(&obj, "counts", &Uint32Array::from(&h.heatmap.counts[..]))?;
        set(&obj, "low", &Uint32Array::from(&h.heatmap.low[..]))?;
    }
    Ok(())
}

type Rows = [Vec<crate::query::Row>; 2];

/// A result's `results` and `series`, taken out to be built by [`rows_to_js`].
fn take_rows(r: &mut crate::query::QueryResult) -> Rows {
    [std::mem::take(&mut r.results), std::mem::take(&mut r.series)]
}

/// Sets `results` and `series` on a result object serialized without them (the keys are
/// there, as empty arrays, so their order in the object is the serializer's).
fn put_rows(out: &JsValue, [results, series]: Rows) -> Result<(), JsValue> {
    let obj: &Object = out.unchecked_ref();
    set(obj, "results", &rows_to_js(&results)?.into())?;
    set(obj, "series", &rows_to_js(&series)?.into())
}

/// Result rows as JavaScript objects, the values serde-wasm-bindgen's JSON-compatible
/// serializer gives ([`crate::query::Cell`]'s `Serialize`), built here with each
/// column's key made once, not decoded from UTF-8 for every row, and each string value
/// once while a column repeats it: a breakdown by customer with its series is about
/// 9,500 rows of four keys, and building them spent about a quarter of that query.
fn rows_to_js(rows: &[crate::query::Row]) -> Result<js_sys::Array, JsValue> {
    use crate::query::Cell;
    let out = js_sys::Array::new_with_length(rows.len() as u32);
    // Per column position: its key, and the last string value with its JS string.
    let mut keys: Vec<(&str, JsValue)> = Vec::new();
    let mut strs: Vec<Option<(&str, JsValue)>> = Vec::new();
    for (i, row) in rows.iter().enumerate() {
        let obj = Object::new();
        for (j, (k, v)) in row.0.iter().enumerate() {
            if keys.get(j).is_none_or(|(known, _)| *known != &**k) {
                let key = (&**k, JsValue::from_str(k));
                if j < keys.len() {
                    keys[j] = key;
                    strs[j] = None;
                } else {
                    keys.push(key);
                    strs.push(None);
                }
            }
            let value = match v {
                Cell::Null => JsValue::NULL,
                Cell::Num(x) if x.is_finite() => JsValue::from_f64(*x),
                Cell::Num(_) => JsValue::NULL,
                Cell::Int(x) => int_js(i128::from(*x)),
                Cell::UInt(x) => int_js(i128::from(*x)),
                Cell::Bool(b) => JsValue::from_bool(*b),
                Cell::Str(x) => match &strs[j] {
                    Some((last, js)) if *last == x.as_str() => js.clone(),
                    _ => {
                        let js = JsValue::from_str(x);
                        strs[j] = Some((x.as_str(), js.clone()));
                        js
                    }
                },
            };
            Reflect::set(&obj, &keys[j].1, &value).map_err(|_| edge_err("could not build the result object"))?;
        }
        out.set(i as u32, obj.into());
    }
    Ok(out)
}

/// An integer as `Cell`'s serializer writes it: a number while exact, else its decimal
/// string.
fn int_js(x: i128) -> JsValue {
    if x.abs() <= crate::query::MAX_SAFE_INTEGER {
        JsValue::from_f64(x as f64)
    } else {
        JsValue::from_str(&x.to_string())
    }
}

/// Options of `new Dataset(options)`.
#[derive(serde::Deserialize, Default)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
struct DatasetOptions {
    /// Memory budget in bytes.
    budget_bytes: Option<f64>,
}

/// Counts live bytes so that datasets can refuse what the module's memory cannot hold
/// (see `crate::memory`): a failed allocation in wasm is a trap, not an error.
#[global_allocator]
static ALLOC: crate::memory::Counting<std::alloc::System> = crate::memory::Counting(std::alloc::System);

/// What all datasets of the module may hold together: 3.5 GiB of wasm32's 4 GiB, the
/// rest left to queries (per-row selections, percentile buffers) and the JS glue.
pub const MODULE_LIMIT_BYTES: u64 = 3584 << 20;

/// A dataset loaded from Arrow IPC streams. See README.md for the contract.
#[wasm_bindgen(js_name = Dataset)]
pub struct JsDataset {
    inner: crate::Dataset,
}

#[wasm_bindgen(js_class = Dataset)]
impl JsDataset {
    /// `new Dataset({ budgetBytes })`.
    #[wasm_bindgen(constructor)]
    pub fn new(options: JsValue) -> Result<JsDataset, JsValue> {
        let o: DatasetOptions = if options.is_undefined() || options.is_null() {
            DatasetOptions::default()
        } else {
            from_js(options, "Dataset options")?
        };
        if crate::memory::module_limit() == u64::MAX {
            crate::memory::set_module_limit(MODULE_LIMIT_BYTES);
        }
        let inner = match o.budget_bytes {
            Some(b) if b.is_finite() && b > 0.0 => crate::Dataset::with_budget(b as u64),
            Some(b) => return Err(spec_err(format!("invalid Dataset options: budgetBytes must be positive, got {b}"))),
            None => crate::Dataset::new(),
        };
        Ok(JsDataset { inner })
    }

    /// Feeds the next chunk of the stream; returns `{ rows, batches }` completed by it.
    pub fn push(&mut self, chunk: &[u8]) -> Result<JsValue, JsValue> {
        let s = self.inner.push(chunk).map_err(js_err)?;
        to_js(&s)
    }

    /// Ends the stream; throws if it stopped inside a message or failed earlier.
    pub fn finish(&mut self) -> Result<(), JsValue> {
        self.inner.finish().map_err(js_err)
    }

    /// Drops a partial or failed stream so that a new one can be pushed.
    #[wasm_bindgen(js_name = resetStream)]
    pub fn reset_stream(&mut self) {
        self.inner.reset_stream()
    }

    /// Rows loaded.
    #[wasm_bindgen(getter, js_name = rowCount)]
    pub fn row_count(&self) -> f64 {
        self.inner.row_count() as f64
    }

    /// Bytes consumed by the current stream so far.
    #[wasm_bindgen(getter, js_name = bytesConsumed)]
    pub fn bytes_consumed(&self) -> f64 {
        self.inner.stream_position() as f64
    }

    /// Approximate bytes of memory held by the columns.
    #[wasm_bindgen(getter, js_name = memoryBytes)]
    pub fn memory_bytes(&self) -> f64 {
        self.inner.heap_bytes() as f64
    }

    /// `[{ name, type, role, unit?, note?, nulls, distinct? }]`.
    pub fn schema(&self) -> Result<JsValue, JsValue> {
        to_js(&self.inner.schema())
    }

    /// Schema-level metadata of the stream, as an object.
    pub fn metadata(&self) -> Result<JsValue, JsValue> {
        to_js(self.inner.metadata())
    }

    /// Runs a query (Honeycomb's query specification): `{ results, series, heatmaps,
    /// columns, start_time, end_time, granularity, scanned, matched, groups }`; heatmap
    /// `counts` and `low` are `Uint32Array`s.
    #[wasm_bindgen(unchecked_return_type = "QueryResult")]
    pub fn query(
        &mut self,
        #[wasm_bindgen(unchecked_param_type = "QuerySpec")] spec: JsValue,
    ) -> Result<JsValue, JsValue> {
        let spec: crate::query::QuerySpec = from_js(spec, "query spec")?;
        let r = crate::query::run(&self.inner, &spec);
        self.inner.settle_strings();
        let mut r = r.map_err(js_err)?;
        let rows = take_rows(&mut r);
        let prev_rows = r.previous.as_deref_mut().map(take_rows);
        let out = to_js(&r)?;
        put_rows(&out, rows)?;
        typed_heatmaps(&out, &r)?;
        if let (Some(prev), Some(rows)) = (&r.previous, prev_rows) {
            let p = Reflect::get(&out, &JsValue::from_str("previous"))
                .map_err(|_| edge_err("could not build the result object"))?;
            put_rows(&p, rows)?;
            typed_heatmaps(&p, prev)?;
        }
        Ok(out)
    }

    /// Compares a selection of events with a baseline: `{ selection_count,
    /// baseline_count, dimensions: [...], measures: [...], tests }`, each list most
    /// different first. See README.md for the specification and the statistics.
    #[wasm_bindgen(unchecked_return_type = "Comparison")]
    pub fn compare(
        &mut self,
        #[wasm_bindgen(unchecked_param_type = "CompareSpec")] spec: JsValue,
    ) -> Result<JsValue, JsValue> {
        let spec: crate::compare::CompareSpec = from_js(spec, "compare spec")?;
        let c = crate::compare::compare(&self.inner, &spec);
        self.inner.settle_strings();
        let c = c.map_err(js_err)?;
        to_js(&c)
    }

    /// Runs a query with a HEATMAP calculation and draws its first heatmap (the filters
    /// and time range apply): as `renderHeatmap`, plus `matched` and, when sample rates
    /// weighted the counts, `sample_rate_column`.
    #[wasm_bindgen(js_name = renderQuery)]
    pub fn render_query(&mut self, spec: JsValue, options: JsValue) -> Result<JsValue, JsValue> {
        let spec: crate::query::QuerySpec = from_js(spec, "query spec")?;
        let opts = render_options(options)?;
        let r = crate::query::run(&self.inner, &spec);
        self.inner.settle_strings();
        let r = r.map_err(js_err)?;
        let h = &r.heatmaps.first().ok_or_else(|| spec_err("the query has no HEATMAP calculation".into()))?.heatmap;
        let obj = rendered_to_js(&render_heatmap(h, &opts).map_err(js_err)?, Some(h))?;
        set(&obj, "matched", &JsValue::from_f64(r.matched as f64))?;
        if let Some(c) = &r.sample_rate_column {
            set(&obj, "sample_rate_column", &JsValue::from_str(c))?;
        }
        Ok(obj.into())
    }

    /// Draws a heatmap computed elsewhere (a `heatmaps` item of a server's `/api/query`
    /// answer, checked first): as `renderHeatmap`.
    #[wasm_bindgen(js_name = renderHeatmapData)]
    pub fn render_heatmap_data(&self, heatmap: JsValue, options: JsValue) -> Result<JsValue, JsValue> {
        let h: crate::heatmap::Heatmap = from_js(heatmap, "heatmap")?;
        h.check().map_err(js_err)?;
        let opts = render_options(options)?;
        Ok(rendered_to_js(&render_heatmap(&h, &opts).map_err(js_err)?, Some(&h))?.into())
    }

    /// Raw events, newest first: `{ columns, rows: [[value, ...]], row_ids, matched }`
    /// (times as unix seconds). See README.md for the specification.
    #[wasm_bindgen(unchecked_return_type = "EventsResult")]
    pub fn events(
        &self,
        #[wasm_bindgen(unchecked_param_type = "EventsSpec")] spec: JsValue,
    ) -> Result<JsValue, JsValue> {
        let spec: crate::query::events::EventsSpec = from_js(spec, "events spec")?;
        let e = crate::query::events::events(&self.inner, &spec).map_err(js_err)?;
        to_js(&e)
    }

    /// Draws a line chart: `{ width, height, rgba: Uint8ClampedArray, labels, plot }`.
    #[wasm_bindgen(js_name = renderLines)]
    pub fn render_lines(&self, chart: JsValue, options: JsValue) -> Result<JsValue, JsValue> {
        let chart: crate::render::LineChart = from_js(chart, "line chart")?;
        let r = crate::render::render_lines(&chart, &render_options(options)?).map_err(js_err)?;
        Ok(rendered_to_js(&r, None)?.into())
    }

    /// Heatmap counts: `{ column, time_edges, value_edges, scale, counts: Uint32Array, low, max_count, total, nulls }`.
    #[wasm_bindgen(unchecked_return_type = "Heatmap")]
    pub fn heatmap(
        &self,
        #[wasm_bindgen(unchecked_param_type = "HeatmapSpec")] spec: JsValue,
    ) -> Result<JsValue, JsValue> {
        let spec: HeatmapSpec = from_js(spec, "heatmap spec")?;
        let h = heatmap(&self.inner, &spec).map_err(js_err)?;
        Ok(heatmap_to_js(&h)?.into())
    }

    /// Computes and draws a heatmap: `{ heatmap (with counts and low), width, height, rgba: Uint8ClampedArray, labels, plot }`.
    #[wasm_bindgen(js_name = renderHeatmap)]
    pub fn render_heatmap(&self, spec: JsValue, options: JsValue) -> Result<JsValue, JsValue> {
        let spec: HeatmapSpec = from_js(spec, "heatmap spec")?;
        let opts = render_options(options)?;
        let h = heatmap(&self.inner, &spec).map_err(js_err)?;
        let r = render_heatmap(&h, &opts).map_err(js_err)?;
        Ok(rendered_to_js(&r, Some(&h))?.into())
    }
}

/// A heatmap without its counts (sent as typed arrays instead).
#[derive(Serialize)]
struct HeatmapHeader<'a> {
    column: &'a str,
    time_edges: &'a [f64],
    value_edges: &'a [f64],
    scale: crate::heatmap::Scale,
    max_count: u32,
    total: u64,
    nulls: u64,
}

impl<'a> From<&'a crate::heatmap::Heatmap> for HeatmapHeader<'a> {
    fn from(h: &'a crate::heatmap::Heatmap) -> Self {
        HeatmapHeader {
            column: &h.column,
            time_edges: &h.time_edges,
            value_edges: &h.value_edges,
            scale: h.scale,
            max_count: h.max_count,
            total: h.total,
            nulls: h.nulls,
        }
    }
}
