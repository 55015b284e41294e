//! Push-down requests and the embedded sources (demo data, local files).
//!
//! An [`EventsRequest`] says which raw events a client wants: a time range, filters in
//! the query specification's syntax, columns, order, limit and a sample rate. An
//! embedded [`Table`] answers it with the engine's own code: the rows are loaded into a
//! [`Dataset`] once, and the time range and filters are the query engine's
//! ([`resolve_time`], [`Filters`]), so the server selects exactly the rows the browser
//! would. The selected rows are then cut from the original record batches
//! (arrow-select's `interleave`) and written as an Arrow IPC stream, batch by batch.

use std::sync::Arc;

use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_ipc::writer::{IpcWriteOptions, StreamWriter};
use arrow_ipc::CompressionType;
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use serde::Deserialize;

use sightline::column::{ColumnData, Role};
use sightline::dataset::{Dataset, FieldInfo};
use sightline::demo::Compression;
use sightline::query::spec::{FilterSpec, QuerySpec, Value};
use sightline::query::{resolve_time, time_rows, Filters, Rows};

/// Most filters in one request.
pub const MAX_FILTERS: usize = 32;
/// Longest filter value, column name or source name, in bytes.
pub const MAX_VALUE_BYTES: usize = 4096;
/// Most values in an `in` / `not-in` list.
pub const MAX_LIST_VALUES: usize = 1000;
/// Most bytes of all filter values together.
pub const MAX_TOTAL_VALUE_BYTES: usize = 64 << 10;
/// Most columns named in a projection.
pub const MAX_COLUMNS: usize = 1024;
/// Largest record batch written, in rows.
pub const MAX_BATCH_ROWS: usize = 1 << 20;
/// Default rows per record batch written.
pub const DEFAULT_BATCH_ROWS: usize = 65_536;

/// A bad request parameter: which one, and why. Shown as `parameter "x": why`.
#[derive(Debug, Clone, PartialEq)]
pub struct ParamError {
    /// The parameter (`filters`, `limit`, ...).
    pub param: &'static str,
    /// What is wrong with it.
    pub message: String,
}

impl ParamError {
    /// A new error about `param`.
    pub fn new(param: &'static str, message: impl Into<String>) -> ParamError {
        ParamError { param, message: message.into() }
    }
}

impl std::fmt::Display for ParamError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "parameter \"{}\": {}", self.param, self.message)
    }
}

impl std::error::Error for ParamError {}

/// Row order of the answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Order {
    /// As stored (the default).
    #[default]
    None,
    /// Newest first (time descending; ties: later rows first).
    Newest,
    /// Oldest first (time ascending; ties: earlier rows first).
    Oldest,
}

impl std::str::FromStr for Order {
    type Err = String;
    fn from_str(s: &str) -> Result<Order, String> {
        match s {
            "" | "none" => Ok(Order::None),
            "newest" => Ok(Order::Newest),
            "oldest" => Ok(Order::Oldest),
            o => Err(format!("must be newest, oldest or none, not {o:?}")),
        }
    }
}

/// Which events to send: the fields of `GET /api/events` (query parameters) and of
/// `POST /api/events` (a JSON object).
#[derive(Debug, Clone, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct EventsRequest {
    /// The source's name (default: the first configured).
    #[serde(default)]
    pub source: Option<String>,
    /// Unix seconds, inclusive.
    #[serde(default, alias = "start_time")]
    pub start: Option<f64>,
    /// Unix seconds, exclusive.
    #[serde(default, alias = "end_time")]
    pub end: Option<f64>,
    /// Filters as in the query specification.
    #[serde(default)]
    pub filters: Vec<FilterSpec>,
    /// `AND` (default) or `OR`.
    #[serde(default)]
    pub filter_combination: Option<String>,
    /// Columns to send, in this order (default: all).
    #[serde(default)]
    pub columns: Option<Vec<String>>,
    /// Most rows sent.
    #[serde(default)]
    pub limit: Option<u64>,
    /// `none` (stored order), `newest` or `oldest`.
    #[serde(default)]
    pub order: Order,
    /// Fraction of the matching rows kept, in (0, 1] (a Bernoulli sample, before limit).
    #[serde(default)]
    pub sample: Option<f64>,
    /// Seed of the sample (embedded sources: the same seed keeps the same rows).
    #[serde(default)]
    pub seed: Option<u64>,
    /// The time column (default: the source's).
    #[serde(default)]
    pub time_column: Option<String>,
    /// `none` (default), `lz4` or `zstd` (embedded sources).
    #[serde(default)]
    pub compression: Option<String>,
    /// Rows per record batch written (embedded sources).
    #[serde(default)]
    pub batch_rows: Option<usize>,
}

/// Names of the query parameters of `GET /api/events`.
pub const EVENTS_PARAMS: [&str; 13] = [
    "source",
    "start",
    "end",
    "filters",
    "filter_combination",
    "columns",
    "limit",
    "order",
    "sample",
    "seed",
    "time_column",
    "compression",
    "batch_rows",
];

fn parse<T: std::str::FromStr>(param: &'static str, v: &str) -> Result<T, ParamError> {
    v.trim().parse().map_err(|_| ParamError::new(param, format!("cannot parse {v:?}")))
}

impl EventsRequest {
    /// The parameter that needs a time column: `start`, `end` or `order`.
    pub fn time_param(&self) -> &'static str {
        if self.start.is_some() {
            "start"
        } else if self.end.is_some() {
            "end"
        } else {
            "order"
        }
    }

    /// From query parameters (already percent-decoded). `filters` is a JSON array,
    /// `columns` a comma-separated list.
    pub fn from_query(query: &[(String, String)]) -> Result<EventsRequest, ParamError> {
        let mut r = EventsRequest::default();
        let mut seen: Vec<&str> = Vec::new();
        for (k, v) in query {
            let Some(name) = EVENTS_PARAMS.iter().find(|p| **p == k.as_str()) else {
                return Err(ParamError::new(
                    "query",
                    format!("unknown parameter {k:?} (one of {})", EVENTS_PARAMS.join(", ")),
                ));
            };
            if seen.contains(name) {
                return Err(ParamError::new(name, "given twice"));
            }
            seen.push(name);
            match *name {
                "source" => r.source = Some(v.clone()),
                "start" => r.start = Some(parse("start", v)?),
                "end" => r.end = Some(parse("end", v)?),
                "filters" => {
                    r.filters = serde_json::from_str(v).map_err(|e| {
                        ParamError::new("filters", format!("not a JSON array of {{column, op, value}}: {e}"))
                    })?
                }
                "filter_combination" => r.filter_combination = Some(v.clone()),
                "columns" => r.columns = Some(v.split(',').map(|c| c.to_string()).filter(|c| !c.is_empty()).collect()),
                "limit" => r.limit = Some(parse("limit", v)?),
                "order" => r.order = v.parse().map_err(|e| ParamError::new("order", e))?,
                "sample" => r.sample = Some(parse("sample", v)?),
                "seed" => r.seed = Some(parse("seed", v)?),
                "time_column" => r.time_column = Some(v.clone()),
                "compression" => r.compression = Some(v.clone()),
                _ => r.batch_rows = Some(parse("batch_rows", v)?),
            }
        }
        r.check()?;
        Ok(r)
    }

    /// From a JSON object with the same fields (`columns` a JSON array).
    pub fn from_json(body: &[u8]) -> Result<EventsRequest, ParamError> {
        let r: EventsRequest = serde_json::from_slice(body).map_err(|e| ParamError::new("body", e.to_string()))?;
        r.check()?;
        Ok(r)
    }

    /// Checks the bounds on complexity and the values that need no source to check.
    pub fn check(&self) -> Result<(), ParamError> {
        if let Some(s) = &self.source {
            if s.is_empty() || s.len() > MAX_VALUE_BYTES {
                return Err(ParamError::new("source", "empty or too long"));
            }
        }
        for (p, v) in [("start", self.start), ("end", self.end)] {
            if v.is_some_and(|x| !x.is_finite()) {
                return Err(ParamError::new(p, "must be a finite number of unix seconds"));
            }
        }
        if let (Some(s), Some(e)) = (self.start, self.end) {
            if e <= s {
                return Err(ParamError::new("end", format!("must be after start ({e} <= {s})")));
            }
        }
        if self.filters.len() > MAX_FILTERS {
            return Err(ParamError::new("filters", format!("at most {MAX_FILTERS} filters")));
        }
        let mut total = 0usize;
        for f in &self.filters {
            if f.column.is_empty() || f.column.len() > MAX_VALUE_BYTES {
                return Err(ParamError::new("filters", "a filter's column is empty or too long"));
            }
            total += f.column.len();
            match &f.value {
                Some(Value::List(items)) => {
                    if items.len() > MAX_LIST_VALUES {
                        return Err(ParamError::new(
                            "filters",
                            format!("filter on \"{}\": at most {MAX_LIST_VALUES} values in a list", f.column),
                        ));
                    }
                    for item in items {
                        total += value_len(&f.column, item)?;
                    }
                }
                Some(v) => total += value_len(&f.column, v)?,
                None => {}
            }
            if let Some(v) = &f.value {
                if matches!(f.op.as_str(), "=" | "!=" | ">" | ">=" | "<" | "<=") {
                    if let Value::Number(n) = v {
                        if !n.is_finite() {
                            return Err(ParamError::new("filters", "numbers must be finite"));
                        }
                    }
                }
            }
        }
        if total > MAX_TOTAL_VALUE_BYTES {
            return Err(ParamError::new("filters", format!("at most {MAX_TOTAL_VALUE_BYTES} bytes of values")));
        }
        match self.filter_combination.as_deref() {
            None | Some("AND" | "and" | "OR" | "or") => {}
            Some(o) => return Err(ParamError::new("filter_combination", format!("must be AND or OR, not {o:?}"))),
        }
        if let Some(cols) = &self.columns {
            if cols.is_empty() || cols.len() > MAX_COLUMNS {
                return Err(ParamError::new("columns", format!("between 1 and {MAX_COLUMNS} columns")));
            }
            for (i, c) in cols.iter().enumerate() {
                if c.is_empty() || c.len() > MAX_VALUE_BYTES {
                    return Err(ParamError::new("columns", "a column name is empty or too long"));
                }
                if cols[..i].contains(c) {
                    return Err(ParamError::new("columns", format!("column {c:?} named twice")));
                }
            }
        }
        if self.limit == Some(0) {
            return Err(ParamError::new("limit", "must be at least 1"));
        }
        if let Some(p) = self.sample {
            if !(p > 0.0 && p <= 1.0) {
                return Err(ParamError::new("sample", format!("must be in (0, 1], got {p}")));
            }
        }
        if let Some(t) = &self.time_column {
            if t.is_empty() || t.len() > MAX_VALUE_BYTES {
                return Err(ParamError::new("time_column", "empty or too long"));
            }
        }
        self.compression()?;
        if let Some(b) = self.batch_rows {
            if !(1..=MAX_BATCH_ROWS).contains(&b) {
                return Err(ParamError::new("batch_rows", format!("between 1 and {MAX_BATCH_ROWS}")));
            }
        }
        Ok(())
    }

    /// The output compression.
    pub fn compression(&self) -> Result<Compression, ParamError> {
        self.compression
            .as_deref()
            .unwrap_or("")
            .parse::<Compression>()
            .map_err(|_| ParamError::new("compression", "must be none, lz4 or zstd"))
    }
}

fn value_len(column: &str, v: &Value) -> Result<usize, ParamError> {
    match v {
        Value::String(s) if s.len() > MAX_VALUE_BYTES => Err(ParamError::new(
            "filters",
            format!("filter on \"{column}\": a value is longer than {MAX_VALUE_BYTES} bytes"),
        )),
        Value::String(s) => Ok(s.len()),
        Value::List(_) => Err(ParamError::new("filters", format!("filter on \"{column}\": nested lists"))),
        Value::Number(n) if !n.is_finite() => {
            Err(ParamError::new("filters", format!("filter on \"{column}\": numbers must be finite")))
        }
        _ => Ok(8),
    }
}

/// The column a sampled stream writes each row's sample rate into (the engine weighs by it).
pub const SAMPLE_RATE: &str = sightline::plan::SAMPLE_RATE;

/// Row `k`'s sample rate in a numeric column, as the engine reads it: a rate that is
/// null, not a number, not finite or below 1 is 1.
fn row_rate(a: &dyn Array, k: usize) -> f64 {
    use arrow_array::cast::AsArray;
    use arrow_array::types::*;
    if a.is_null(k) {
        return 1.0;
    }
    let v = match a.data_type() {
        DataType::Float64 => a.as_primitive::<Float64Type>().value(k),
        DataType::Float32 => a.as_primitive::<Float32Type>().value(k) as f64,
        DataType::Int64 => a.as_primitive::<Int64Type>().value(k) as f64,
        DataType::Int32 => a.as_primitive::<Int32Type>().value(k) as f64,
        DataType::Int16 => a.as_primitive::<Int16Type>().value(k) as f64,
        DataType::Int8 => a.as_primitive::<Int8Type>().value(k) as f64,
        DataType::UInt64 => a.as_primitive::<UInt64Type>().value(k) as f64,
        DataType::UInt32 => a.as_primitive::<UInt32Type>().value(k) as f64,
        DataType::UInt16 => a.as_primitive::<UInt16Type>().value(k) as f64,
        DataType::UInt8 => a.as_primitive::<UInt8Type>().value(k) as f64,
        _ => 1.0,
    };
    if v >= 1.0 && v.is_finite() {
        v
    } else {
        1.0
    }
}

/// Selected rows, in output order. A contiguous run (no filters, no sample, stored or
/// sorted time order) stays a range, so sending a whole table costs no row list.
#[derive(Debug, Clone, PartialEq)]
pub enum Picked {
    /// `start..end`, ascending, or descending when `reverse`.
    Range {
        /// First row.
        start: usize,
        /// After the last row.
        end: usize,
        /// Descending.
        reverse: bool,
    },
    /// Global row indices (4 bytes per selected row).
    List(Vec<u32>),
}

impl Picked {
    /// Number of rows.
    pub fn len(&self) -> usize {
        match self {
            Picked::Range { start, end, .. } => end.saturating_sub(*start),
            Picked::List(v) => v.len(),
        }
    }
    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Rows `a..b` of the output order.
    pub fn slice(&self, a: usize, b: usize) -> Vec<u32> {
        match self {
            Picked::Range { start, end, reverse: false } => {
                ((start + a) as u32..(start + b).min(*end) as u32).collect()
            }
            Picked::Range { start, end, reverse: true } => {
                let b = b.min(end.saturating_sub(*start));
                (a..b).map(|k| (end - 1 - k) as u32).collect()
            }
            Picked::List(v) => v.get(a..b.min(v.len())).unwrap_or(&[]).to_vec(),
        }
    }
    /// All rows, in order.
    pub fn to_vec(&self) -> Vec<u32> {
        self.slice(0, self.len())
    }
}

/// The answer to an [`EventsRequest`] over a [`Table`]: which rows, in order, and which
/// columns.
#[derive(Debug)]
pub struct Selection {
    /// The rows, in output order.
    pub rows: Picked,
    /// Rows in the time range that passed the filters (before sample and limit).
    pub matched: usize,
    /// Column indices to send.
    pub projection: Vec<usize>,
    /// With a sample: the factor (1 / fraction) each row's sample rate is multiplied by
    /// in the `SampleRate` column sent (replaced, or added when the table has none), so
    /// that the engine's weighted calculations answer for every matching row.
    pub rate: Option<f64>,
}

/// An embedded source: record batches held in memory, plus the same rows loaded into
/// the engine's [`Dataset`] for selecting them.
pub struct Table {
    /// The source's name.
    pub name: String,
    /// `demo` or `file`.
    pub kind: &'static str,
    /// Where it came from (a path, or the demo options).
    pub origin: String,
    schema: SchemaRef,
    batches: Vec<RecordBatch>,
    /// Global index of each batch's first row.
    starts: Vec<usize>,
    ds: Dataset,
}

impl std::fmt::Debug for Table {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Table({}, {} rows)", self.name, self.ds.row_count())
    }
}

fn err_string(e: impl std::fmt::Display) -> String {
    e.to_string()
}

impl Table {
    /// Loads `batches` (all of `schema`) into a table.
    pub fn from_batches(
        name: &str,
        kind: &'static str,
        origin: &str,
        schema: SchemaRef,
        batches: impl IntoIterator<Item = Result<RecordBatch, String>>,
    ) -> Result<Table, String> {
        let mut ds = Dataset::new();
        let mut w = StreamWriter::try_new(Vec::new(), &schema).map_err(err_string)?;
        let mut kept = Vec::new();
        let mut starts = Vec::new();
        let mut rows = 0usize;
        for batch in batches {
            let batch = batch?;
            if batch.num_rows() == 0 {
                continue;
            }
            if batch.schema().fields() != schema.fields() {
                return Err(format!("{origin}: a record batch's schema differs from the first"));
            }
            w.write(&batch).map_err(err_string)?;
            ds.push(&std::mem::take(w.get_mut())).map_err(err_string)?;
            starts.push(rows);
            rows += batch.num_rows();
            if rows > u32::MAX as usize {
                return Err(format!("{origin}: more than {} rows", u32::MAX));
            }
            kept.push(batch);
        }
        w.finish().map_err(err_string)?;
        ds.push(&std::mem::take(w.get_mut())).map_err(err_string)?;
        ds.finish().map_err(err_string)?;
        if ds.row_count() != rows {
            return Err(format!("{origin}: loaded {} of {rows} rows", ds.row_count()));
        }
        Ok(Table { name: name.into(), kind, origin: origin.into(), schema, batches: kept, starts, ds })
    }

    /// The rows as the engine holds them (what queries and comparisons run on).
    pub fn dataset(&self) -> &Dataset {
        &self.ds
    }

    /// The Arrow schema.
    pub fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    /// Rows held.
    pub fn row_count(&self) -> usize {
        self.ds.row_count()
    }

    /// The columns as the engine sees them (name, type, role, nulls, distinct).
    pub fn columns(&self) -> Vec<FieldInfo> {
        self.ds.schema()
    }

    /// The default time column's name.
    pub fn time_column(&self) -> Option<&str> {
        self.ds.time_column().map(|c| c.name.as_str())
    }

    /// Approximate bytes held (record batches plus the engine's columns).
    pub fn memory_bytes(&self) -> usize {
        self.batches.iter().map(|b| b.get_array_memory_size()).sum::<usize>() + self.ds.heap_bytes()
    }

    /// Selects the rows and columns of `req`, with the engine's time range and filters.
    pub fn select(&self, req: &EventsRequest) -> Result<Selection, ParamError> {
        let ds = &self.ds;
        let n = ds.row_count();
        let projection = match &req.columns {
            None => (0..self.schema.fields().len()).collect(),
            Some(cols) => cols
                .iter()
                .map(|c| {
                    self.schema
                        .fields()
                        .iter()
                        .position(|f| f.name() == c)
                        .ok_or_else(|| ParamError::new("columns", format!("unknown column {c:?}")))
                })
                .collect::<Result<Vec<_>, _>>()?,
        };
        let needs_time = req.start.is_some() || req.end.is_some() || req.order != Order::None;
        let tcol = match &req.time_column {
            Some(name) => {
                let c = ds
                    .columns()
                    .iter()
                    .find(|c| &c.name == name)
                    .ok_or_else(|| ParamError::new("time_column", format!("unknown column {name:?}")))?;
                if c.role != Role::Time {
                    return Err(ParamError::new("time_column", format!("{name:?} is not a time column")));
                }
                Some(&**c)
            }
            None => ds.time_column(),
        };
        if needs_time && tcol.is_none() {
            let p = req.time_param();
            return Err(ParamError::new(p, format!("source \"{}\" has no time column", self.name)));
        }
        let mut rows = match (tcol, req.start.is_some() || req.end.is_some()) {
            (Some(t), true) => {
                let spec = QuerySpec { start_time: req.start, end_time: req.end, ..Default::default() };
                let range = resolve_time(ds, t, &spec).map_err(|e| ParamError::new("start", e.to_string()))?;
                time_rows(ds, t, &range)
            }
            _ => Rows::Range(0, n),
        };
        let filters = Filters::new(ds, &req.filters, req.filter_combination.as_deref())
            .map_err(|e| ParamError::new("filters", e.to_string()))?;
        rows = filters.apply(rows);
        let matched = rows.len();
        let sampled = req.sample.is_some_and(|p| p < 1.0);
        let sorted = tcol.is_some_and(|t| t.is_sorted());
        if let (Rows::Range(a, b), false, true) = (&rows, sampled, req.order == Order::None || sorted) {
            let (mut start, mut end, reverse) = (*a, *b, req.order == Order::Newest);
            if let Some(l) = req.limit.map(|l| l.min(usize::MAX as u64) as usize) {
                if reverse {
                    start = start.max(end.saturating_sub(l));
                } else {
                    end = end.min(start.saturating_add(l));
                }
            }
            return Ok(Selection { rows: Picked::Range { start, end, reverse }, matched, projection, rate: None });
        }
        let mut list: Vec<u32> = match rows {
            Rows::Range(a, b) => (a as u32..b as u32).collect(),
            Rows::List(v) => v,
        };
        if let Some(p) = req.sample.filter(|p| *p < 1.0) {
            let seed = req.seed.unwrap_or(0);
            let threshold = (p * 2f64.powi(64)) as u64;
            list.retain(|i| mix(seed ^ (*i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)) < threshold);
        }
        if let (Some(t), true) = (tcol, req.order != Order::None) {
            if let ColumnData::Time { values, .. } = &t.data {
                let sorted = t.is_sorted();
                // Key: (valid, time); nulls last in both orders.
                let key = |i: u32| -> (bool, i64) {
                    let i = i as usize;
                    (t.validity.is_valid(i), values.get(i).copied().unwrap_or(i64::MIN))
                };
                match req.order {
                    Order::Newest if sorted => list.reverse(),
                    Order::Newest => list.sort_by(|a, b| key(*b).cmp(&key(*a)).then(b.cmp(a))),
                    Order::Oldest if sorted => {}
                    Order::Oldest => list.sort_by(|a, b| {
                        let (ka, kb) = (key(*a), key(*b));
                        kb.0.cmp(&ka.0).then(ka.1.cmp(&kb.1)).then(a.cmp(b))
                    }),
                    Order::None => {}
                }
            }
        }
        if let Some(l) = req.limit {
            list.truncate(l.min(usize::MAX as u64) as usize);
        }
        let rate = req.sample.filter(|p| *p < 1.0).map(|p| 1.0 / p);
        Ok(Selection { rows: Picked::List(list), matched, projection, rate })
    }

    /// The schema of a selection's record batches (its projected columns).
    pub fn projected_schema(&self, sel: &Selection) -> SchemaRef {
        let mut fields: Vec<Field> = sel.projection.iter().map(|i| self.schema.field(*i).clone()).collect();
        if sel.rate.is_some() {
            let rate = Field::new(SAMPLE_RATE, DataType::Float64, false);
            match fields.iter().position(|f| f.name() == SAMPLE_RATE) {
                Some(k) => fields[k] = rate,
                None => fields.push(rate),
            }
        }
        Arc::new(Schema::new_with_metadata(fields, self.schema.metadata().clone()))
    }

    /// The selected rows `a..b` (positions in output order) as one record batch of
    /// `schema` (from [`Table::projected_schema`]).
    pub fn batch(&self, sel: &Selection, schema: &SchemaRef, a: usize, b: usize) -> Result<RecordBatch, String> {
        let chunk = sel.rows.slice(a, b);
        // (batch, row) per selected row; batches renumbered densely for interleave.
        let mut used: Vec<usize> = Vec::new();
        let mut idx = Vec::with_capacity(chunk.len());
        for &g in &chunk {
            let g = g as usize;
            let b = self.starts.partition_point(|s| *s <= g).saturating_sub(1);
            let k = match used.iter().position(|u| *u == b) {
                Some(k) => k,
                None => {
                    used.push(b);
                    used.len() - 1
                }
            };
            idx.push((k, g - self.starts.get(b).copied().unwrap_or(0)));
        }
        let columns = sel
            .projection
            .iter()
            .map(|c| {
                let arrays: Vec<&dyn Array> = used.iter().map(|b| self.batches[*b].column(*c).as_ref()).collect();
                arrow_select::interleave::interleave(&arrays, &idx)
            })
            .collect::<Result<Vec<ArrayRef>, _>>()
            .map_err(err_string)?;
        let mut columns = columns;
        if let Some(factor) = sel.rate {
            // Each row's own rate (1 without one), times the sample's.
            let own = match self.schema.index_of(SAMPLE_RATE) {
                Ok(c) => {
                    let arrays: Vec<&dyn Array> = used.iter().map(|b| self.batches[*b].column(c).as_ref()).collect();
                    Some(arrow_select::interleave::interleave(&arrays, &idx).map_err(err_string)?)
                }
                Err(_) => None,
            };
            let rates: ArrayRef = Arc::new(arrow_array::Float64Array::from_iter_values(
                (0..chunk.len()).map(|k| own.as_ref().map_or(1.0, |a| row_rate(a.as_ref(), k)) * factor),
            ));
            match sel.projection.iter().position(|c| self.schema.field(*c).name() == SAMPLE_RATE) {
                Some(k) => columns[k] = rates,
                None => columns.push(rates),
            }
        }
        RecordBatch::try_new(schema.clone(), columns).map_err(err_string)
    }

    /// Writes the selection as an Arrow IPC stream of `batch_rows`-row batches (all of
    /// it at once: the server streams [`SelectedBatches`] instead).
    pub fn write<W: std::io::Write>(
        &self,
        sel: &Selection,
        compression: Compression,
        batch_rows: usize,
        out: W,
    ) -> Result<W, String> {
        let schema = self.projected_schema(sel);
        let mut w = StreamWriter::try_new_with_options(out, &schema, ipc_options(compression)?).map_err(err_string)?;
        let step = batch_rows.clamp(1, MAX_BATCH_ROWS);
        for a in (0..sel.rows.len()).step_by(step) {
            let batch = self.batch(sel, &schema, a, (a + step).min(sel.rows.len()))?;
            w.write(&batch).map_err(err_string)?;
        }
        w.finish().map_err(err_string)?;
        w.into_inner().map_err(err_string)
    }
}

/// Arrow IPC write options for a body compression.
pub fn ipc_options(compression: Compression) -> Result<IpcWriteOptions, String> {
    IpcWriteOptions::default()
        .try_with_compression(match compression {
            Compression::None => None,
            Compression::Lz4 => Some(CompressionType::LZ4_FRAME),
            Compression::Zstd => Some(CompressionType::ZSTD),
        })
        .map_err(err_string)
}

/// A selection's record batches, `batch_rows` rows each, made one at a time as they
/// are asked for (so a response holds one batch, not the whole answer).
pub struct SelectedBatches {
    table: Arc<Table>,
    sel: Selection,
    /// The batches' schema.
    pub schema: SchemaRef,
    step: usize,
    next: usize,
}

impl SelectedBatches {
    /// The batches of `sel` in `table`.
    pub fn new(table: Arc<Table>, sel: Selection, batch_rows: usize) -> SelectedBatches {
        let schema = table.projected_schema(&sel);
        SelectedBatches { table, sel, schema, step: batch_rows.clamp(1, MAX_BATCH_ROWS), next: 0 }
    }
}

impl Iterator for SelectedBatches {
    type Item = Result<RecordBatch, String>;
    fn next(&mut self) -> Option<Self::Item> {
        let n = self.sel.rows.len();
        if self.next >= n {
            return None;
        }
        let (a, b) = (self.next, (self.next + self.step).min(n));
        self.next = b;
        Some(self.table.batch(&self.sel, &self.schema, a, b))
    }
}

/// SplitMix64's finalizer: a well-mixed 64-bit hash of `x`.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// The demo data as a table.
pub fn demo_table(rows: usize, seed: u64) -> Result<Table, String> {
    let opts = sightline::demo::DemoOptions { rows, seed, ..Default::default() };
    let gen = sightline::demo::Generator::new(opts);
    let schema = gen.schema();
    Table::from_batches(
        "demo",
        "demo",
        &format!("demo rows={rows} seed={seed}"),
        schema,
        gen.map(|b| b.map_err(err_string)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(bytes: &[u8]) -> Dataset {
        let mut ds = Dataset::new();
        ds.push(bytes).unwrap();
        ds.finish().unwrap();
        ds
    }

    fn run(t: &Table, req: &EventsRequest) -> Dataset {
        let sel = t.select(req).unwrap();
        let out = t.write(&sel, Compression::None, 1000, Vec::new()).unwrap();
        let ds = decode(&out);
        assert_eq!(ds.row_count(), sel.rows.len());
        assert_eq!(sel.rows.to_vec().len(), sel.rows.len());
        ds
    }

    fn times(ds: &Dataset) -> Vec<i64> {
        match &ds.column("timestamp").unwrap().data {
            ColumnData::Time { values, .. } => values.clone(),
            _ => panic!("no time"),
        }
    }

    #[test]
    fn select_matches_the_query_engine() {
        let t = demo_table(5000, 7).unwrap();
        assert_eq!(t.row_count(), 5000);
        let filters: Vec<FilterSpec> = serde_json::from_str(
            r#"[{"column":"status_code","op":">=","value":500},{"column":"endpoint","op":"starts-with","value":"/api/v2"}]"#,
        )
        .unwrap();
        let req =
            EventsRequest { filters: filters.clone(), order: Order::Newest, limit: Some(7), ..Default::default() };
        let ds = run(&t, &req);
        assert_eq!(ds.row_count(), 7);
        let ts = times(&ds);
        assert!(ts.windows(2).all(|w| w[0] >= w[1]), "newest first: {ts:?}");
        // Same count as the query engine's COUNT with the same filters.
        let all = run(&t, &EventsRequest { filters: filters.clone(), ..Default::default() });
        let spec = QuerySpec { filters, disable_series: true, ..Default::default() };
        let q = sightline::query::run(&t.ds, &spec).unwrap();
        assert_eq!(q.matched as usize, all.row_count());
        assert!(all.row_count() > 7);
        // The newest 7 are the last 7 of the unordered answer, reversed.
        let all_ts = times(&all);
        let mut last: Vec<i64> = all_ts[all_ts.len() - 7..].to_vec();
        last.reverse();
        assert_eq!(ts, last);
    }

    #[test]
    fn projection_time_range_and_sample() {
        let t = demo_table(4000, 1).unwrap();
        let all = times(&run(&t, &EventsRequest::default()));
        let (s, e) = (all[1000] as f64 / 1000.0, all[3000] as f64 / 1000.0);
        let req = EventsRequest {
            start: Some(s),
            end: Some(e),
            columns: Some(vec!["trace_id".into(), "timestamp".into()]),
            ..Default::default()
        };
        let ds = run(&t, &req);
        assert_eq!(ds.columns().iter().map(|c| c.name.as_str()).collect::<Vec<_>>(), ["trace_id", "timestamp"]);
        let expect = all.iter().filter(|x| (**x as f64) >= s * 1000.0 && (**x as f64) < e * 1000.0).count();
        assert_eq!(ds.row_count(), expect);
        let half = run(&t, &EventsRequest { sample: Some(0.5), seed: Some(3), ..Default::default() }).row_count();
        assert!((1700..2300).contains(&half), "{half}");
        let again = run(&t, &EventsRequest { sample: Some(0.5), seed: Some(3), ..Default::default() }).row_count();
        assert_eq!(half, again);
        // A sample writes its rate into SampleRate, so a weighted COUNT answers for every row.
        let sampled = run(&t, &EventsRequest { sample: Some(0.25), seed: Some(9), ..Default::default() });
        assert!(sampled.column(SAMPLE_RATE).is_ok());
        let count = |ds: &Dataset| {
            let r = sightline::query::run(ds, &QuerySpec::default()).unwrap();
            match r.results[0].get("COUNT") {
                Some(sightline::query::Cell::Num(x)) => *x,
                other => panic!("{other:?}"),
            }
        };
        let (whole, estimate) = (count(&run(&t, &EventsRequest::default())), count(&sampled));
        assert_eq!(estimate, sampled.row_count() as f64 * 4.0);
        assert!((estimate - whole).abs() < whole * 0.1, "{estimate} vs {whole}");
        // A rate already there is multiplied, not replaced: sampling a sampled stream again.
        let sel = t.select(&EventsRequest { sample: Some(0.5), seed: Some(1), ..Default::default() }).unwrap();
        let schema = t.projected_schema(&sel);
        let batch = t.batch(&sel, &schema, 0, sel.rows.len());
        let again = Table::from_batches("again", "file", "test", schema, [batch]).unwrap();
        let twice = run(&again, &EventsRequest { sample: Some(0.5), seed: Some(2), ..Default::default() });
        assert_eq!(count(&twice), twice.row_count() as f64 * 4.0);
    }

    #[test]
    fn unfiltered_answers_stay_ranges() {
        let t = demo_table(3000, 2).unwrap();
        let all = times(&run(&t, &EventsRequest::default()));
        for (order, limit) in
            [(Order::None, None), (Order::Newest, Some(700)), (Order::Oldest, Some(2500)), (Order::Newest, None)]
        {
            let req = EventsRequest { order, limit, batch_rows: Some(256), ..Default::default() };
            let sel = t.select(&req).unwrap();
            assert!(matches!(sel.rows, Picked::Range { .. }), "{order:?}");
            let got = times(&run(&t, &req));
            let mut expect = all.clone();
            if order == Order::Newest {
                expect.reverse();
            }
            expect.truncate(limit.map_or(usize::MAX, |l| l as usize));
            assert_eq!(got, expect, "{order:?} {limit:?}");
        }
        let r = Picked::Range { start: 10, end: 15, reverse: true };
        assert_eq!(r.slice(0, 2), [14, 13]);
        assert_eq!(r.slice(3, 9), [11, 10]);
        assert_eq!(Picked::Range { start: 10, end: 15, reverse: false }.slice(3, 9), [13, 14]);
        assert_eq!(Picked::Range { start: 0, end: 5, reverse: true }.slice(3, 9), [1, 0]);
        assert!(Picked::Range { start: 0, end: 5, reverse: true }.slice(7, 9).is_empty());
    }

    #[test]
    fn bad_parameters_name_themselves() {
        let t = demo_table(100, 1).unwrap();
        let q = |s: &str| -> Vec<(String, String)> {
            s.split('&').map(|p| p.split_once('=').unwrap()).map(|(a, b)| (a.into(), b.into())).collect()
        };
        let e = EventsRequest::from_query(&q("limit=0")).unwrap_err();
        assert_eq!(e.param, "limit");
        assert_eq!(EventsRequest::from_query(&q("limit=x")).unwrap_err().param, "limit");
        assert_eq!(EventsRequest::from_query(&q("sample=2")).unwrap_err().param, "sample");
        assert_eq!(EventsRequest::from_query(&q("order=up")).unwrap_err().param, "order");
        assert_eq!(EventsRequest::from_query(&q("filters=[{")).unwrap_err().param, "filters");
        assert_eq!(EventsRequest::from_query(&q("nope=1")).unwrap_err().param, "query");
        assert_eq!(EventsRequest::from_query(&q("start=5&end=4")).unwrap_err().param, "end");
        assert_eq!(EventsRequest::from_query(&q("limit=1&limit=2")).unwrap_err().param, "limit");
        let many = format!("[{}]", vec![r#"{"column":"a","op":"exists"}"#; MAX_FILTERS + 1].join(","));
        assert_eq!(EventsRequest::from_query(&[("filters".into(), many)]).unwrap_err().param, "filters");
        let long = format!(r#"[{{"column":"a","op":"=","value":"{}"}}]"#, "x".repeat(MAX_VALUE_BYTES + 1));
        assert_eq!(EventsRequest::from_query(&[("filters".into(), long)]).unwrap_err().param, "filters");
        let r = EventsRequest::from_query(&q("columns=nope")).unwrap();
        assert_eq!(t.select(&r).unwrap_err().param, "columns");
        let r = EventsRequest::from_query(&q(r#"filters=[{"column":"nope","op":"exists"}]"#)).unwrap();
        let e = t.select(&r).unwrap_err();
        assert_eq!(e.param, "filters");
        assert!(e.to_string().contains("unknown column \"nope\""), "{e}");
        let r = EventsRequest::from_query(&q(r#"filters=[{"column":"endpoint","op":">","value":"NaN"}]"#)).unwrap();
        assert!(t.select(&r).is_ok());
        assert!(EventsRequest::from_json(br#"{"limit": 5, "bogus": 1}"#).unwrap_err().message.contains("bogus"));
    }
}
