//! The query engine: Honeycomb's query specification, computed exactly over the
//! columns.
//!
//! One query is: resolve the time range ([`resolve_time`]); select the rows in it that
//! pass the filters ([`filter`]); give each selected row a group id from its
//! breakdown values (dense arrays indexed by dictionary codes; a hash map only when
//! the combinations of several breakdowns are too many for a dense array); compute
//! every calculation per group in one pass per column ([`agg`]); apply havings,
//! order, limit; then compute the same calculations per (group, time bucket) for the
//! groups returned, as `series`.

pub mod agg;
pub mod events;
pub mod filter;
pub mod spec;

use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;

use crate::column::{Column, ColumnData};
use crate::dataset::Dataset;
use crate::error::{Error, Result};
use crate::heatmap::{heatmap_rows, Heatmap, Scale};
use crate::util::FxHashMap;
use crate::view::TimeAxis;

use crate::plan::{Catalog, OrderKey, QueryPlan};
pub use crate::view::Rows;
pub use filter::Filters;
use spec::{column_index, MAX_BUCKETS};
pub use spec::{Calc, Op, QuerySpec, Value};

/// One value of a result row.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    /// Null: a null breakdown value, or a calculation with no values.
    Null,
    /// A number.
    Num(f64),
    /// A value of a signed integer column, exact.
    Int(i64),
    /// A value of an unsigned integer column, exact.
    UInt(u64),
    /// A string.
    Str(String),
    /// A boolean.
    Bool(bool),
}

impl Serialize for Cell {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        match self {
            Cell::Null => s.serialize_none(),
            Cell::Num(x) if x.is_finite() => s.serialize_f64(*x),
            Cell::Num(_) => s.serialize_none(),
            Cell::Int(x) => serialize_int(*x as i128, s),
            Cell::UInt(x) => serialize_int(*x as i128, s),
            Cell::Str(x) => s.serialize_str(x),
            Cell::Bool(b) => s.serialize_bool(*b),
        }
    }
}

/// Largest integer a JavaScript number (an f64) holds exactly: 2^53 - 1.
pub const MAX_SAFE_INTEGER: i128 = (1 << 53) - 1;

/// An integer as a JSON number while a JavaScript number holds it exactly, else as a
/// decimal string: `9007199254740993` would arrive in JavaScript as `...992`.
fn serialize_int<S: Serializer>(x: i128, s: S) -> std::result::Result<S::Ok, S::Error> {
    if x.abs() <= MAX_SAFE_INTEGER {
        s.serialize_i64(x as i64)
    } else {
        s.collect_str(&x)
    }
}

/// [`serialize_int`] as a `serde_json::Value`.
pub fn int_json(x: i128) -> serde_json::Value {
    if x.abs() <= MAX_SAFE_INTEGER {
        (x as i64).into()
    } else {
        x.to_string().into()
    }
}

/// A result row: breakdown values and calculations, keyed as Honeycomb names them. The
/// keys are shared by every row of a result (a breakdown's series is thousands of rows
/// of the same few names: one allocation each per row was most of building them).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Row(pub Vec<(std::sync::Arc<str>, Cell)>);

impl Row {
    /// The value under `key`.
    pub fn get(&self, key: &str) -> Option<&Cell> {
        self.0.iter().find(|(k, _)| &**k == key).map(|(_, v)| v)
    }
}

impl Serialize for Row {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            m.serialize_entry(&**k, v)?;
        }
        m.end()
    }
}

/// The keys of a result's rows, made once and shared by every row: `time` (series rows),
/// the breakdowns, then each value with the index its getter takes. Used by the engine
/// and by the server's ClickHouse executor.
pub struct RowKeys {
    time: std::sync::Arc<str>,
    groups: Vec<std::sync::Arc<str>>,
    values: Vec<(usize, std::sync::Arc<str>)>,
}

impl RowKeys {
    /// Breakdown names, and value names with their indices.
    pub fn new<'a>(groups: impl IntoIterator<Item = &'a str>, values: impl IntoIterator<Item = (usize, &'a str)>) -> RowKeys {
        RowKeys {
            time: "time".into(),
            groups: groups.into_iter().map(Into::into).collect(),
            values: values.into_iter().map(|(i, n)| (i, n.into())).collect(),
        }
    }

    /// A row: `time` first when given, the group's key cells, then `value(index)` of each
    /// value.
    pub fn row(&self, time: Option<f64>, key: &[Cell], value: impl Fn(usize) -> Cell) -> Row {
        let mut r = Row(Vec::with_capacity(1 + self.groups.len() + self.values.len()));
        if let Some(t) = time {
            r.0.push((self.time.clone(), Cell::Num(t)));
        }
        for (name, cell) in self.groups.iter().zip(key) {
            r.0.push((name.clone(), cell.clone()));
        }
        for (i, name) in &self.values {
            r.0.push((name.clone(), value(*i)));
        }
        r
    }
}

/// A HEATMAP calculation's result.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct NamedHeatmap {
    /// `HEATMAP(duration_ms)`.
    pub name: String,
    /// The counts.
    #[serde(flatten)]
    pub heatmap: Heatmap,
}

/// What a query returns.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct QueryResult {
    /// One row per group, ordered and limited.
    #[cfg_attr(test, ts(type = "Array<ResultRow>"))]
    pub results: Vec<Row>,
    /// One row per non-empty (time bucket, group) of the returned groups: `time` (bucket
    /// start, unix seconds), the breakdown values, and every calculation.
    #[cfg_attr(test, ts(type = "Array<ResultRow>"))]
    pub series: Vec<Row>,
    /// HEATMAP calculations over all matched events.
    pub heatmaps: Vec<NamedHeatmap>,
    /// Breakdown names, then calculation names, in result order.
    pub columns: Vec<String>,
    /// The resolved range, unix seconds: `[start_time, end_time)`.
    pub start_time: f64,
    /// End of the range (exclusive).
    pub end_time: f64,
    /// Seconds per series bucket.
    pub granularity: f64,
    /// Rows in the time range.
    pub scanned: u64,
    /// Rows that passed the filters.
    pub matched: u64,
    /// Groups before havings and limit.
    pub groups: u64,
    /// The column whose sample rates weighted the calculations (COUNT, SUM, AVG,
    /// percentiles, HEATMAP, CONCURRENCY, RATE_*), when one did.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(test, ts(optional))]
    pub sample_rate_column: Option<String>,
    /// With `compare_time_offset_seconds`: the same query over the window that many
    /// seconds earlier (same granularity, so bucket `i` of each lines up).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(test, ts(optional))]
    pub previous: Option<Box<QueryResult>>,
}

/// The resolved time range in a time column's raw units.
#[derive(Debug, Clone)]
pub struct TimeRange {
    /// Start (inclusive), raw units.
    pub t0: i64,
    /// End (exclusive), raw units.
    pub t1: i64,
    /// Bucket width, raw units.
    pub width: i64,
    /// Number of buckets.
    pub buckets: usize,
    /// Seconds per raw unit.
    pub spu: f64,
    /// Uneven buckets (whole local days in a zone with daylight saving): the
    /// `buckets + 1` edges, raw units.
    pub cuts: Option<Vec<i64>>,
}

impl TimeRange {
    /// Start of bucket `k`, raw units.
    pub fn start(&self, k: usize) -> i64 {
        match &self.cuts {
            Some(c) => c.get(k).copied().unwrap_or(i64::MAX),
            None => self.t0.saturating_add(self.width.saturating_mul(k as i64)),
        }
    }
    /// Bucket edges, unix seconds (`buckets + 1`), as results report them.
    pub fn edges(&self) -> Vec<f64> {
        match &self.cuts {
            Some(c) => c.iter().take(self.buckets + 1).map(|t| *t as f64 * self.spu).collect(),
            None => (0..=self.buckets)
                .map(|k| (self.t0 as i128 + self.width as i128 * k as i128) as f64 * self.spu)
                .collect(),
        }
    }
    /// The same span in `tb` equal buckets (a HEATMAP's `time_buckets`).
    pub fn rebucketed(&self, tb: usize) -> TimeRange {
        let tb = tb.clamp(1, 2000);
        let (a, b) = (self.start(0), self.start(self.buckets.max(1)));
        let width = ((b as i128 - a as i128 + tb as i128 - 1) / tb as i128).max(1) as i64;
        TimeRange { t0: a, t1: self.t1, width, buckets: tb, spu: self.spu, cuts: None }
    }
    /// The axis over `column`.
    pub fn axis<'a>(&'a self, column: &'a Column) -> TimeAxis<'a> {
        TimeAxis { column, t0: self.t0, width: self.width, buckets: self.buckets, cuts: self.cuts.as_deref() }
    }
}

/// Resolves `start_time`, `end_time`, `time_range` and `granularity`:
/// - `start_time` and `end_time`: `[start_time, end_time)`;
/// - `time_range` with `end_time`: the `time_range` seconds before `end_time`; with
///   `start_time`: the `time_range` seconds after it; alone: the `time_range` seconds
///   ending just after the newest event;
/// - none: every event (from the oldest to just after the newest).
///
/// `granularity` defaults to the smallest round step (1 s, 5 s, 1 min, 15 min, 1 h, ...)
/// that makes at most 120 buckets; given, it must lie between range / 1000 and the range.
pub fn resolve_time(ds: &Dataset, tcol: &Column, spec: &QuerySpec) -> Result<TimeRange> {
    let ColumnData::Time { values, unit, .. } = &tcol.data else {
        return Err(Error::Spec(format!("\"{}\" is not a time column", tcol.name)));
    };
    let n = ds.row_count().min(values.len());
    let (mut lo, mut hi) = (i64::MAX, i64::MIN);
    if needs_extent(spec) {
        if is_sorted_nonnull(tcol, n) && n > 0 {
            (lo, hi) = (values[0], values[n - 1]);
        } else {
            for (i, t) in values.iter().enumerate().take(n) {
                if tcol.validity.is_valid(i) {
                    lo = lo.min(*t);
                    hi = hi.max(*t);
                }
            }
        }
    }
    resolve_range(*unit, (lo <= hi).then_some((lo, hi)), spec)
}

/// Whether resolving `spec`'s time range needs the oldest and newest event.
pub fn needs_extent(spec: &QuerySpec) -> bool {
    spec.start_time.is_none() || spec.end_time.is_none()
}

/// [`resolve_time`] given the oldest and newest non-null time (raw units) of the
/// column, `None` when it has none: how every executor resolves a range.
pub fn resolve_range(unit: crate::column::TimeUnit, extent: Option<(i64, i64)>, spec: &QuerySpec) -> Result<TimeRange> {
    let spu = unit.seconds_per_unit();
    let (lo, hi) = extent.unwrap_or((i64::MAX, i64::MIN));
    let newest_end = if hi == i64::MIN { 0.0 } else { (hi as f64 * spu).floor() + 1.0 };
    let oldest = if lo == i64::MAX { 0.0 } else { (lo as f64 * spu).floor() };
    for (name, v) in [("start_time", spec.start_time), ("end_time", spec.end_time), ("time_range", spec.time_range)] {
        if v.is_some_and(|x| !x.is_finite()) {
            return Err(Error::Spec(format!("{name} must be a finite number")));
        }
    }
    if spec.time_range.is_some_and(|r| r <= 0.0) {
        return Err(Error::Spec("time_range must be positive".into()));
    }
    let (start, end) = match (spec.start_time, spec.end_time, spec.time_range) {
        (Some(s), Some(e), None) => (s, e),
        (Some(_), Some(_), Some(_)) => {
            return Err(Error::Spec("time_range cannot be combined with both start_time and end_time".into()))
        }
        (Some(s), None, Some(r)) => (s, s + r),
        (None, Some(e), Some(r)) => (e - r, e),
        (None, None, Some(r)) => (newest_end - r, newest_end),
        (Some(s), None, None) => (s, newest_end.max(s + 1.0)),
        (None, Some(e), None) => (oldest.min(e - 1.0), e),
        (None, None, None) => (oldest, newest_end.max(oldest + 1.0)),
    };
    if end <= start {
        return Err(Error::Spec(format!("the time range is empty: start_time {start} is not before end_time {end}")));
    }
    let range = end - start;
    let granularity = match spec.granularity {
        None => crate::view::nice_step(range, 120).max(1.0),
        Some(g) if !g.is_finite() || g <= 0.0 => {
            return Err(Error::Spec("granularity must be a positive number".into()))
        }
        Some(g) if g < range / MAX_BUCKETS as f64 || g > range => {
            return Err(Error::Spec(format!(
                "granularity {g} is out of range for a {range} s query: between {} and {range} seconds",
                (range / MAX_BUCKETS as f64).ceil()
            )))
        }
        Some(g) => g,
    };
    let zone = match spec.time_zone.as_deref() {
        Some(z) => crate::tz::Zone::parse(z)?,
        None => crate::tz::Zone::default(),
    };
    let aligned = spec.start_time.is_none() && spec.end_time.is_none() && spec.time_range.is_none();
    // Whole days in a zone: buckets are local days (23 or 25 hours across a change),
    // starting at the local midnight at or before the start.
    let days = matches!(zone, crate::tz::Zone::Iana(_)) && granularity >= 86_400.0 && granularity % 86_400.0 == 0.0;
    // Without an explicit start, buckets start on a multiple of the granularity (in local time).
    let start = if aligned && !days {
        if granularity >= 1.0 && granularity.fract() == 0.0 && start.abs() < 1e15 {
            zone.floor(start.floor() as i64, granularity as i64) as f64
        } else {
            (start / granularity).floor() * granularity
        }
    } else {
        start
    };
    let t0 = unit.from_seconds(start);
    let mut t1 = unit.from_seconds(end);
    if (t1 as f64) * spu < end {
        t1 = t1.saturating_add(1);
    }
    let width = ((granularity / spu).round() as i64).max(1);
    let mut buckets =
        (((t1 as i128 - t0 as i128) + width as i128 - 1) / width as i128).clamp(1, MAX_BUCKETS as i128) as usize;
    let mut cuts = None;
    if days && start.abs() < 1e15 && end.abs() < 1e15 {
        let secs = zone.cuts(start.floor() as i64, end.ceil() as i64, granularity as i64, MAX_BUCKETS);
        let raw: Vec<i64> = secs.iter().map(|s| unit.from_seconds(*s as f64)).collect();
        if raw.len() >= 2 {
            buckets = raw.len() - 1;
            cuts = Some(raw);
        }
    }
    Ok(TimeRange { t0, t1, width, buckets, spu, cuts })
}

fn is_sorted_nonnull(c: &Column, n: usize) -> bool {
    c.is_sorted() && c.len() >= n
}

/// The rows of `[t0, t1)` (binary search when the time column is sorted).
pub fn time_rows(ds: &Dataset, tcol: &Column, r: &TimeRange) -> Rows {
    let ColumnData::Time { values, .. } = &tcol.data else { return Rows::Range(0, 0) };
    let n = ds.row_count().min(values.len());
    if is_sorted_nonnull(tcol, n) {
        let a = values[..n].partition_point(|t| *t < r.t0);
        let b = values[..n].partition_point(|t| *t < r.t1);
        return Rows::Range(a, b.max(a));
    }
    Rows::Range(0, n).retain(|i| tcol.validity.is_valid(i) && values[i] >= r.t0 && values[i] < r.t1)
}

/// Per-row codes for one breakdown column, and how to turn a code back into a value.
struct KeyCol<'a> {
    name: String,
    card: u64,
    decode: Decode<'a>,
}

enum Decode<'a> {
    Str(&'a crate::column::Dict),
    Bool,
    Num(Vec<f64>),
    Int(Vec<i64>),
    UInt(Vec<u64>),
}

impl KeyCol<'_> {
    fn cell(&self, code: u64) -> Cell {
        if code == 0 && !matches!(self.decode, Decode::Bool) {
            return Cell::Null;
        }
        match &self.decode {
            Decode::Str(d) => d.get(code as u32).map_or(Cell::Null, |s| Cell::Str(s.to_string())),
            Decode::Bool => match code {
                0 => Cell::Bool(false),
                1 => Cell::Bool(true),
                _ => Cell::Null,
            },
            Decode::Num(v) => v.get(code as usize).map_or(Cell::Null, |x| Cell::Num(*x)),
            Decode::Int(v) => v.get(code as usize).map_or(Cell::Null, |x| Cell::Int(*x)),
            Decode::UInt(v) => v.get(code as usize).map_or(Cell::Null, |x| Cell::UInt(*x)),
        }
    }
}

/// Groups: a dense id per selected row, and the breakdown values of each id.
struct Groups<'a> {
    /// Per selected row (in `Rows::each` order).
    gid: Vec<u32>,
    /// Number of ids.
    n: usize,
    keys: Vec<KeyCol<'a>>,
    /// Composite key of each id, when ids were compacted through a hash map.
    composite: Option<Vec<u64>>,
}

/// A breakdown value borrowed from the dataset, for ordering.
#[derive(Debug, PartialEq, PartialOrd)]
enum KeyRef<'a> {
    Bool(bool),
    Num(f64),
    Int(i128),
    Str(&'a str),
    Null,
}

impl KeyRef<'_> {
    fn is_null(&self) -> bool {
        matches!(self, KeyRef::Null)
    }
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        match (self, other) {
            (KeyRef::Num(a), KeyRef::Num(b)) => a.total_cmp(b),
            _ => self.partial_cmp(other).unwrap_or(std::cmp::Ordering::Equal),
        }
    }
}

impl Groups<'_> {
    /// Breakdown `k` of group `g`, borrowed (nulls sort last).
    fn key_ref(&self, g: usize, k: usize) -> KeyRef<'_> {
        let mut c = match &self.composite {
            Some(v) => v.get(g).copied().unwrap_or(0),
            None => g as u64,
        };
        for key in self.keys[k + 1..].iter().rev() {
            c /= key.card;
        }
        let key = &self.keys[k];
        let code = c % key.card;
        match &key.decode {
            Decode::Str(d) => d.get(code as u32).map_or(KeyRef::Null, KeyRef::Str),
            Decode::Bool => match code {
                0 => KeyRef::Bool(false),
                1 => KeyRef::Bool(true),
                _ => KeyRef::Null,
            },
            Decode::Num(v) if code > 0 => v.get(code as usize).map_or(KeyRef::Null, |x| KeyRef::Num(*x)),
            Decode::Int(v) if code > 0 => v.get(code as usize).map_or(KeyRef::Null, |x| KeyRef::Int(*x as i128)),
            Decode::UInt(v) if code > 0 => v.get(code as usize).map_or(KeyRef::Null, |x| KeyRef::Int(*x as i128)),
            Decode::Num(_) | Decode::Int(_) | Decode::UInt(_) => KeyRef::Null,
        }
    }

    fn key(&self, g: usize) -> Vec<Cell> {
        let mut c = match &self.composite {
            Some(v) => v.get(g).copied().unwrap_or(0),
            None => g as u64,
        };
        let mut out = vec![Cell::Null; self.keys.len()];
        for (k, key) in self.keys.iter().enumerate().rev() {
            out[k] = key.cell(c % key.card);
            c /= key.card;
        }
        out
    }
}

fn group<'a>(ds: &'a Dataset, names: &[String], rows: &Rows) -> Result<Groups<'a>> {
    let mut keys = Vec::with_capacity(names.len());
    let mut per_col: Vec<Vec<u32>> = Vec::with_capacity(names.len());
    for name in names {
        let col = &ds.columns()[column_index(ds, name)?];
        let mut codes = Vec::with_capacity(rows.len());
        let (card, decode) = match &col.data {
            ColumnData::Str(s) => {
                let (c, dict) = s.codes_of(name)?;
                match rows {
                    Rows::Range(a, b) if *b <= c.len() => codes.extend_from_slice(&c[*a..*b]),
                    _ => rows.each(|i| codes.push(c.get(i).copied().unwrap_or(0))),
                }
                (dict.code_count() as u64, Decode::Str(dict))
            }
            ColumnData::Bool(v) => {
                rows.each(|i| codes.push(v.get(i).copied().unwrap_or(2) as u32));
                (3, Decode::Bool)
            }
            // Integers are grouped by their exact value (as f64 bits, 2^53 and 2^53 + 1
            // would be one group).
            ColumnData::Int(v) => {
                let (card, values) = int_codes(v, &col.validity, rows, &mut codes, 0i64);
                (card, Decode::Int(values))
            }
            ColumnData::UInt(v) => {
                let (card, values) = int_codes(v, &col.validity, rows, &mut codes, 0u64);
                (card, Decode::UInt(values))
            }
            ColumnData::Float(_) | ColumnData::Time { .. } => {
                let scale = match &col.data {
                    ColumnData::Time { unit, .. } => unit.seconds_per_unit(),
                    _ => 1.0,
                };
                let get = |i: usize| -> Option<f64> {
                    if !col.validity.is_valid(i) {
                        return None;
                    }
                    match &col.data {
                        ColumnData::Int(v) => v.get(i).map(|x| *x as f64),
                        ColumnData::UInt(v) => v.get(i).map(|x| *x as f64),
                        ColumnData::Float(v) => v.get(i).copied(),
                        ColumnData::Time { values, .. } => values.get(i).map(|x| *x as f64 * scale),
                        _ => None,
                    }
                };
                let mut map: FxHashMap<u64, u32> = FxHashMap::default();
                let mut values = vec![f64::NAN];
                rows.each(|i| {
                    let code = match get(i).filter(|v| !v.is_nan()) {
                        None => 0, // null, or NaN: missing (one group, whatever its bits)
                        Some(v) => *map.entry((v + 0.0).to_bits()).or_insert_with(|| {
                            values.push(v);
                            (values.len() - 1) as u32
                        }),
                    };
                    codes.push(code);
                });
                (values.len() as u64, Decode::Num(values))
            }
            ColumnData::Other => {
                return Err(Error::Operator {
                    op: "GROUP BY".into(),
                    column: col.name.clone(),
                    message: format!("type {} is not analyzed", col.arrow_type),
                })
            }
        };
        keys.push(KeyCol { name: name.clone(), card: card.max(1), decode });
        per_col.push(codes);
    }
    let n_rows = rows.len();
    if keys.is_empty() {
        return Ok(Groups { gid: vec![0; n_rows], n: 1, keys, composite: None });
    }
    if keys.len() == 1 {
        let card = keys[0].card as usize;
        let gid = per_col.pop().unwrap_or_default();
        return Ok(Groups { gid, n: card, keys, composite: None });
    }
    let product = keys.iter().try_fold(1u64, |a, k| a.checked_mul(k.card));
    let combine = |r: usize| -> u64 { per_col.iter().zip(&keys).fold(0u64, |acc, (c, k)| acc * k.card + c[r] as u64) };
    match product {
        Some(p) if p <= (4 * n_rows as u64).max(1 << 20) => {
            let gid = (0..n_rows).map(|r| combine(r) as u32).collect();
            Ok(Groups { gid, n: p as usize, keys, composite: None })
        }
        Some(_) => {
            let mut map: FxHashMap<u64, u32> = FxHashMap::default();
            let mut composite = Vec::new();
            let gid = (0..n_rows)
                .map(|r| {
                    let key = combine(r);
                    *map.entry(key).or_insert_with(|| {
                        composite.push(key);
                        (composite.len() - 1) as u32
                    })
                })
                .collect();
            Ok(Groups { gid, n: composite.len(), keys, composite: Some(composite) })
        }
        None => Err(Error::Spec(format!(
            "the breakdowns {} have too many combinations to group by",
            names.iter().map(|n| format!("\"{n}\"")).collect::<Vec<_>>().join(", ")
        ))),
    }
}

/// Dense codes (0 = null) of an integer column's values over `rows`, by exact value.
fn int_codes<T: Copy + Into<i128>>(
    v: &[T],
    validity: &crate::column::Validity,
    rows: &Rows,
    codes: &mut Vec<u32>,
    null: T,
) -> (u64, Vec<T>) {
    let mut map: FxHashMap<i128, u32> = FxHashMap::default();
    let mut values = vec![null];
    rows.each(|i| {
        let code = match v.get(i) {
            Some(x) if validity.is_valid(i) => *map.entry((*x).into()).or_insert_with(|| {
                values.push(*x);
                (values.len() - 1) as u32
            }),
            _ => 0,
        };
        codes.push(code);
    });
    (values.len() as u64, values)
}

/// One calculation's own filters.
fn calc_filters<'a>(ds: &'a Dataset, c: &Calc) -> Result<Filters<'a>> {
    Filters::new(ds, &c.filters, c.any.then_some("OR"))
}

/// Calculations per group, each over the rows its own filters keep (the query's rows
/// for those without): one `aggregate` for the plain ones, which also counts each
/// group's events, and one per distinct set of calculation filters.
fn aggregate_filtered(
    ds: &Dataset,
    calcs: &[Calc],
    rows: &Rows,
    gid: &[u32],
    n: usize,
    aggregate: &dyn Fn(&[Calc], &Rows, &[u32], usize) -> Result<agg::Aggregates>,
) -> Result<agg::Aggregates> {
    if calcs.iter().all(|c| c.filters.is_empty()) {
        return aggregate(calcs, rows, gid, n);
    }
    let plain: Vec<usize> = (0..calcs.len()).filter(|c| calcs[*c].filters.is_empty()).collect();
    let pick = |idx: &[usize]| idx.iter().map(|i| calcs[*i].clone()).collect::<Vec<_>>();
    let base = aggregate(&pick(&plain), rows, gid, n)?;
    let mut values = vec![Vec::new(); calcs.len()];
    for (k, v) in plain.iter().zip(base.values) {
        values[*k] = v;
    }
    let mut done = vec![false; calcs.len()];
    for c in 0..calcs.len() {
        if calcs[c].filters.is_empty() || done[c] {
            continue;
        }
        // Every calculation with the same filters, at once.
        let same: Vec<usize> = (c..calcs.len())
            .filter(|k| calcs[*k].filters == calcs[c].filters && calcs[*k].any == calcs[c].any)
            .collect();
        let kept = calc_filters(ds, &calcs[c])?.apply(rows.clone());
        let list: Vec<u32> = match &kept {
            Rows::List(v) => v.clone(),
            Rows::Range(a, b) => (*a as u32..*b as u32).collect(),
        };
        // The kept rows' groups: both lists ascending.
        let (mut j, mut k, mut sub_gid) = (0usize, 0usize, Vec::with_capacity(list.len()));
        rows.each(|i| {
            if list.get(j).is_some_and(|x| *x as usize == i) {
                sub_gid.push(gid[k]);
                j += 1;
            }
            k += 1;
        });
        let a = aggregate(&pick(&same), &Rows::List(list), &sub_gid, n)?;
        for (k, v) in same.iter().zip(a.values) {
            values[*k] = v;
            done[*k] = true;
        }
    }
    Ok(agg::Aggregates { counts: base.counts, values })
}

/// Runs a query: checks it ([`QueryPlan::new`]) and executes the plan.
pub fn run(ds: &Dataset, spec: &QuerySpec) -> Result<QueryResult> {
    // Calculated fields become columns after the dataset's own, for this query only.
    if let Some(view) = crate::formula::with_calculated(ds, &spec.calculated_fields)? {
        return run_with_previous(&view, spec);
    }
    run_with_previous(ds, spec)
}

/// [`run`] over `ds` as it is, and again over the earlier window of a time comparison.
fn run_with_previous(ds: &Dataset, spec: &QuerySpec) -> Result<QueryResult> {
    let plan = QueryPlan::new(&Catalog::of(ds), spec)?;
    let mut r = execute(ds, &plan, spec)?;
    if let Some(prev) = previous_spec(spec, &r)? {
        let plan = QueryPlan::new(&Catalog::of(ds), &prev)?;
        r.previous = Some(Box::new(execute(ds, &plan, &prev)?));
    }
    Ok(r)
}

/// Executes a checked plan over the dataset it was checked against (`spec` gives the
/// time range, which needs the data to resolve).
pub fn execute(ds: &Dataset, plan: &QueryPlan, spec: &QuerySpec) -> Result<QueryResult> {
    let calcs = &plan.calcs;
    let limit = plan.limit;
    let orders = &plan.orders;
    let filters = Filters::new(ds, &spec.filters, spec.filter_combination.as_deref())?;

    // Time range and rows.
    let tcol = plan.time_column.and_then(|i| ds.columns().get(i));
    let (range, rows) = match tcol {
        Some(tc) => {
            let r = resolve_time(ds, tc, spec)?;
            let rows = time_rows(ds, tc, &r);
            (Some(r), rows)
        }
        None => (None, Rows::Range(0, ds.row_count())),
    };
    let scanned = rows.len() as u64;
    let rows = filters.apply(rows);
    let matched = rows.len() as u64;

    // Group and aggregate.
    let groups = group(ds, &plan.breakdown_names, &rows)?;
    let axis = match (tcol, &range) {
        (Some(c), Some(r)) => {
            Some(TimeAxis { column: c, t0: r.t0, width: r.width, buckets: r.buckets, cuts: r.cuts.as_deref() })
        }
        _ => None,
    };
    let weights = match plan.weight.and_then(|i| ds.columns().get(i)) {
        Some(c) => Some(crate::view::Weights::of(c)?),
        None => None,
    };
    let values = aggregate_filtered(ds, calcs, &rows, &groups.gid, groups.n, &|c, r, g, n| {
        agg::aggregate(ds, c, r, g, n, axis.as_ref(), weights)
    })?;
    let counts = &values.counts;
    // Formulas over the calculations' values, per group; then every value by index:
    // calculations, then formulas (as orders and havings number them).
    let fv = crate::formula::formula_values(&plan.formulas, calcs, &values.values, groups.n)?;
    let vals: Vec<&Vec<Option<f64>>> = values.values.iter().chain(fv.iter()).collect();
    let present: Vec<usize> = (0..groups.n).filter(|g| counts[*g] > 0 || plan.breakdowns.is_empty()).collect();
    let n_groups = present.len() as u64;
    let calc_value = |c: usize, g: usize| -> Cell { vals[c].get(g).copied().flatten().map_or(Cell::Null, Cell::Num) };
    let passing: Vec<usize> = present
        .into_iter()
        .filter(|g| {
            plan.havings.iter().all(|h| match vals[h.calc].get(*g).copied().flatten() {
                None => false,
                Some(x) => h.op.test(x, h.value),
            })
        })
        .collect();
    // Order without allocating: calculation values and borrowed breakdown values.
    let order = |ga: &usize, gb: &usize| -> std::cmp::Ordering {
        for (key, desc) in orders {
            let (o, null) = match key {
                OrderKey::Calc(c) => {
                    let (a, b) = (vals[*c][*ga], vals[*c][*gb]);
                    match (a, b) {
                        (Some(x), Some(y)) => (crate::plan::order_key(x).total_cmp(&crate::plan::order_key(y)), false),
                        (None, None) => (std::cmp::Ordering::Equal, true),
                        (None, _) => (std::cmp::Ordering::Greater, true),
                        (_, None) => (std::cmp::Ordering::Less, true),
                    }
                }
                OrderKey::Breakdown(i) => {
                    let (a, b) = (groups.key_ref(*ga, *i), groups.key_ref(*gb, *i));
                    (a.cmp(&b), a.is_null() || b.is_null())
                }
            };
            let o = if *desc && !null { o.reverse() } else { o };
            if o != std::cmp::Ordering::Equal {
                return o;
            }
        }
        ga.cmp(gb)
    };
    let mut top = passing;
    if top.len() > limit {
        top.select_nth_unstable_by(limit - 1, order);
        top.truncate(limit);
    }
    top.sort_unstable_by(order);
    let kept: Vec<(usize, Vec<Cell>)> = top.into_iter().map(|g| (g, groups.key(g))).collect();

    let visible = plan.visible();
    let names = RowKeys::new(
        groups.keys.iter().map(|k| k.name.as_str()),
        visible
            .iter()
            .map(|c| (*c, calcs[*c].name.as_str()))
            .chain(plan.formulas.iter().enumerate().map(|(k, f)| (calcs.len() + k, f.name.as_str()))),
    );
    let results: Vec<Row> = kept.iter().map(|(g, key)| names.row(None, key, |c| calc_value(c, *g))).collect();

    // Series for the returned groups: group rank x time bucket.
    let mut series = Vec::new();
    if let (Some(axis), true) = (axis.as_ref(), plan.series) {
        let nb = axis.buckets;
        let mut rank = vec![u32::MAX; groups.n];
        for (r, (g, _)) in kept.iter().enumerate() {
            rank[*g] = r as u32;
        }
        let times = match &axis.column.data {
            ColumnData::Time { values, .. } => values.as_slice(),
            _ => &[],
        };
        let mut sub = Vec::with_capacity(rows.len());
        let mut sgid = Vec::with_capacity(rows.len());
        match rows {
            // A range of a sorted time column: each bucket's rows by binary search, in
            // row order, no division per row (a third of this series' time before).
            // Written whether kept or not, the length advanced only when kept: whether a
            // row's group is returned is a coin flip per row, a branch mispredicted half
            // the time.
            Rows::Range(a, b) => {
                sub.resize(b - a + 1, 0);
                sgid.resize(b - a + 1, 0);
                let mut len = 0;
                axis.each_bucketed(&rows, |bucket, i| {
                    let r = groups.gid.get(i - a).and_then(|g| rank.get(*g as usize)).copied().unwrap_or(u32::MAX);
                    if let (Some(s), Some(g)) = (sub.get_mut(len), sgid.get_mut(len)) {
                        *s = i as u32;
                        *g = r.wrapping_mul(nb as u32).wrapping_add(bucket as u32);
                    }
                    len += usize::from(r != u32::MAX);
                });
                sub.truncate(len);
                sgid.truncate(len);
            }
            Rows::List(_) => {
                let mut k = 0;
                rows.each(|i| {
                    let r = rank[groups.gid[k] as usize];
                    k += 1;
                    if r != u32::MAX {
                        if let Some(b) = axis.bucket(times, i) {
                            sub.push(i as u32);
                            sgid.push(r * nb as u32 + b as u32);
                        }
                    }
                });
            }
        }
        // Every row of a range kept (no breakdown, or every group returned): the range
        // itself, which aggregates over the column's slice.
        let srows = match rows {
            Rows::Range(a, b) if sub.len() == b - a && sub.first().is_none_or(|f| *f as usize == a) => {
                Rows::Range(a, b)
            }
            _ => Rows::List(sub),
        };
        let n = kept.len() * nb;
        let sv = aggregate_filtered(ds, calcs, &srows, &sgid, n, &|c, r, g, n| {
            agg::aggregate_series(ds, c, r, g, n, axis, weights)
        })?;
        let sfv = crate::formula::formula_values(&plan.formulas, calcs, &sv.values, n)?;
        let svals: Vec<&Vec<Option<f64>>> = sv.values.iter().chain(sfv.iter()).collect();
        let edges = axis.edges();
        for (r, (_, key)) in kept.iter().enumerate() {
            for (b, edge) in edges.iter().take(nb).enumerate() {
                let s = r * nb + b;
                // A bucket no event starts in may still have spans in progress.
                let spans = calcs.iter().enumerate().any(|(c, k)| k.op == Op::Concurrency && sv.values[c][s].is_some());
                if sv.counts[s] == 0 && !spans {
                    continue;
                }
                series.push(names.row(Some(*edge), key, |c| svals[c].get(s).copied().flatten().map_or(Cell::Null, Cell::Num)));
            }
        }
    }

    // Heatmaps over all matched rows.
    let mut heatmaps = Vec::new();
    for c in calcs.iter().filter(|c| c.op == Op::Heatmap) {
        let Some(axis) = axis.as_ref() else {
            return Err(Error::Spec("HEATMAP needs a time column".into()));
        };
        let col = c.column.map(|i| &ds.columns()[i]).ok_or_else(|| Error::Spec("HEATMAP needs a column".into()))?;
        let ho = &plan.heatmap;
        let rebucketed = match (ho.time_buckets, &range) {
            (Some(tb), Some(r)) => Some(r.rebucketed(tb)),
            _ => None,
        };
        let hax = match &rebucketed {
            Some(r) => r.axis(axis.column),
            None => *axis,
        };
        // A HEATMAP with filters of its own counts the rows they keep.
        let own = match c.filters.is_empty() {
            true => None,
            false => Some(calc_filters(ds, c)?.apply(rows.clone())),
        };
        let h = heatmap_rows(
            col,
            &hax,
            own.as_ref().unwrap_or(&rows),
            ho.value_buckets.unwrap_or(40),
            ho.scale.unwrap_or(Scale::Log),
            weights,
        )?;
        heatmaps.push(NamedHeatmap { name: c.name.clone(), heatmap: h });
    }

    let columns = plan.columns();
    let (start_time, end_time, granularity) = match range {
        Some(r) => (r.t0 as f64 * r.spu, r.t1 as f64 * r.spu, r.width as f64 * r.spu),
        None => (0.0, 0.0, 0.0),
    };
    Ok(QueryResult {
        results,
        series,
        heatmaps,
        columns,
        start_time,
        end_time,
        granularity,
        scanned,
        matched,
        groups: n_groups,
        sample_rate_column: plan.weight.map(|i| ds.columns()[i].name.clone()),
        previous: None,
    })
}

/// The spec of a time comparison's earlier run: `result`'s resolved window moved
/// `compare_time_offset_seconds` back, at the same granularity, without the offset.
pub fn previous_spec(spec: &QuerySpec, result: &QueryResult) -> Result<Option<QuerySpec>> {
    let Some(off) = spec.compare_time_offset_seconds else { return Ok(None) };
    if !(off.is_finite() && off > 0.0) {
        return Err(Error::Spec(format!(
            "compare_time_offset_seconds must be a positive number of seconds, got {off}"
        )));
    }
    Ok(Some(QuerySpec {
        start_time: Some(result.start_time - off),
        end_time: Some(result.end_time - off),
        time_range: None,
        granularity: Some(result.granularity).filter(|g| *g > 0.0),
        compare_time_offset_seconds: None,
        ..spec.clone()
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::demo::test_dataset as demo;

    fn q(ds: &Dataset, json: &str) -> Result<QueryResult> {
        let spec: QuerySpec = serde_json::from_str(json).map_err(|e| Error::Spec(e.to_string()))?;
        run(ds, &spec)
    }

    fn num(c: Option<&Cell>) -> f64 {
        match c {
            Some(Cell::Num(x)) => *x,
            other => panic!("not a number: {other:?}"),
        }
    }

    /// A spec as Honeycomb's API or Terraform writes it: `id` and the fields Sightline
    /// computes are accepted; each field it does not compute is refused by name, with why.
    #[test]
    fn honeycomb_specs_load_or_name_what_is_not_computed() {
        let ds = demo(2000);
        let saved = r#"{"id":"abc123","breakdowns":["endpoint"],"calculations":[{"op":"COUNT"},{"op":"P99","column":"duration_ms"}],
            "orders":[{"op":"COUNT","order":"descending"}],"limit":10,"time_range":3600,"granularity":60,"filter_combination":"AND"}"#;
        let plain = saved.replace(r#""id":"abc123","#, "");
        assert_eq!(q(&ds, saved).unwrap().results, q(&ds, &plain).unwrap().results);
        // Misuses of names, filters and formulas are refused naming the field.
        for (json, field) in [
            (
                r#"{"formulas":[{"name":"rate","expression":"DIV($errors, $total)"}]}"#,
                "formula \"rate\": col 5: unknown calculation $errors",
            ),
            (
                r#"{"calculations":[{"op":"COUNT","filters":[{"column":"status_code","op":">=","value":500}]}]}"#,
                "calculations[].filters: a calculation with its own filters needs a name",
            ),
            (
                r#"{"calculations":[{"op":"COUNT","name":"n"},{"op":"MAX","column":"duration_ms","name":"n"}]}"#,
                "\"n\" names two results",
            ),
            (
                r#"{"calculations":[{"op":"COUNT","name":"n"}],"formulas":[{"name":"x","expression":"$n > 3"}]}"#,
                "formula \"x\": gives a boolean",
            ),
            (
                r#"{"calculations":[{"op":"HEATMAP","column":"duration_ms"},{"op":"COUNT","name":"n"}],"formulas":[{"name":"x","expression":"$n"}]}"#,
                "cannot have a HEATMAP",
            ),
        ] {
            let e = q(&ds, json).unwrap_err();
            assert!(matches!(e, Error::Spec(_)), "{json}: {e}");
            assert!(e.to_string().contains(field), "{json}: {e}");
        }
        // A time comparison: `previous` is the same query over the earlier window, at the
        // same granularity, exactly what the spec with that window written out gives.
        let r = q(
            &ds,
            r#"{"calculations":[{"op":"COUNT"},{"op":"P99","column":"duration_ms"}],"breakdowns":["endpoint"],
                "time_range":7200,"compare_time_offset_seconds":3600}"#,
        )
        .unwrap();
        let prev = r.previous.as_deref().expect("previous");
        assert_eq!(
            (prev.start_time, prev.end_time, prev.granularity),
            (r.start_time - 3600.0, r.end_time - 3600.0, r.granularity)
        );
        let explicit = q(
            &ds,
            &format!(
                r#"{{"calculations":[{{"op":"COUNT"}},{{"op":"P99","column":"duration_ms"}}],"breakdowns":["endpoint"],
                    "start_time":{},"end_time":{},"granularity":{}}}"#,
                r.start_time - 3600.0,
                r.end_time - 3600.0,
                r.granularity
            ),
        )
        .unwrap();
        assert_eq!(
            (&prev.results, &prev.series, prev.matched),
            (&explicit.results, &explicit.series, explicit.matched)
        );
        assert!(prev.matched > 0 && prev.matched != r.matched);
        assert!(q(&ds, r#"{"compare_time_offset_seconds":-5}"#).unwrap_err().to_string().contains("positive"));
        // Calculated fields are computed: a failure rate by endpoint.
        let r = q(
            &ds,
            r#"{"calculated_fields":[{"name":"is_fail","expression":"IF(GTE($status_code, 500), 1, 0)"}],
                "calculations":[{"op":"AVG","column":"is_fail"}],"breakdowns":["endpoint"]}"#,
        )
        .unwrap();
        assert!(r.columns.contains(&"AVG(is_fail)".to_string()));
        // A field Honeycomb does not have either is still refused by serde, naming it.
        let e = serde_json::from_str::<QuerySpec>(r#"{"calculationz":[]}"#).unwrap_err();
        assert!(e.to_string().contains("unknown field `calculationz`"), "{e}");
    }

    #[test]
    fn count_without_anything() {
        let ds = demo(5000);
        let r = q(&ds, "{}").unwrap();
        assert_eq!(r.results.len(), 1);
        assert_eq!(num(r.results[0].get("COUNT")), 5000.0);
        assert_eq!((r.scanned, r.matched), (5000, 5000));
        let total: f64 = r.series.iter().map(|s| num(s.get("COUNT"))).sum();
        assert_eq!(total, 5000.0);
    }

    #[test]
    fn identifier_columns_filter_group_and_count_as_interned_ones_do() {
        let ds = demo(20_000);
        let ColumnData::Str(ids) = &ds.column("trace_id").unwrap().data else { panic!() };
        assert!(ids.is_raw(), "a distinct id per row: kept as it arrived");
        let all: Vec<&str> = (0..ds.row_count()).map(|i| ids.get(i).unwrap()).collect();
        let one = all[12_345];
        let r = q(&ds, &format!(r#"{{"filters":[{{"column":"trace_id","op":"=","value":"{one}"}}]}}"#)).unwrap();
        assert_eq!(num(r.results[0].get("COUNT")), 1.0);
        let prefix = &one[..3];
        let r = q(&ds, &format!(r#"{{"filters":[{{"column":"trace_id","op":"does-not-start-with","value":"{prefix}"}}]}}"#))
            .unwrap();
        assert_eq!(num(r.results[0].get("COUNT")), all.iter().filter(|s| !s.starts_with(prefix)).count() as f64);
        assert!(ids.is_raw(), "filters test the bytes, they build no dictionary");
        let r = q(
            &ds,
            &format!(
                r#"{{"calculations":[{{"op":"COUNT"}},{{"op":"COUNT_DISTINCT","column":"trace_id"}}],"breakdowns":["trace_id"],
                    "filters":[{{"column":"trace_id","op":"starts-with","value":"{prefix}"}}],"limit":10000}}"#
            ),
        )
        .unwrap();
        let want: std::collections::BTreeSet<&str> = all.iter().copied().filter(|s| s.starts_with(prefix)).collect();
        let got: std::collections::BTreeSet<String> = r
            .results
            .iter()
            .map(|row| match row.get("trace_id") {
                Some(Cell::Str(s)) => s.clone(),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(got.iter().map(String::as_str).collect::<std::collections::BTreeSet<_>>(), want);
        assert!(r.results.iter().all(|row| num(row.get("COUNT_DISTINCT(trace_id)")) == 1.0));
        assert!(!ids.is_raw(), "the breakdown built the dictionary, and it is kept");
    }

    #[test]
    fn breakdown_matches_brute_force() {
        let ds = demo(20_000);
        let r = q(
            &ds,
            r#"{"calculations":[{"op":"COUNT"},{"op":"P50","column":"duration_ms"},{"op":"MAX","column":"duration_ms"},{"op":"COUNT_DISTINCT","column":"customer_id"}],
                "breakdowns":["endpoint"],"filters":[{"column":"status_code","op":">=","value":200}],"limit":1000}"#,
        )
        .unwrap();
        let ColumnData::Str(s) = &ds.column("endpoint").unwrap().data else { panic!() };
        let (codes, dict) = s.codes().unwrap();
        let dur = numeric_getter_for_test(&ds, "duration_ms");
        let ColumnData::Str(cust) = &ds.column("customer_id").unwrap().data else { panic!() };
        let (cust, _) = cust.codes().unwrap();
        for row in &r.results {
            let Some(Cell::Str(ep)) = row.get("endpoint") else { panic!() };
            let code = dict.lookup(ep).unwrap();
            let mut v: Vec<f64> = (0..ds.row_count()).filter(|i| codes[*i] == code).map(|i| dur[i]).collect();
            v.sort_by(f64::total_cmp);
            let n = v.len();
            assert_eq!(num(row.get("COUNT")), n as f64);
            let pos = 0.5 * (n - 1) as f64;
            let lo = pos.floor() as usize;
            let p50 = v[lo] + (v[(lo + 1).min(n - 1)] - v[lo]) * (pos - lo as f64);
            assert!((num(row.get("P50(duration_ms)")) - p50).abs() < 1e-9);
            assert_eq!(num(row.get("MAX(duration_ms)")), v[n - 1]);
            let mut cs: Vec<u32> = (0..ds.row_count()).filter(|i| codes[*i] == code).map(|i| cust[i]).collect();
            cs.sort();
            cs.dedup();
            assert_eq!(num(row.get("COUNT_DISTINCT(customer_id)")), cs.len() as f64);
        }
        // Ordered by COUNT descending by default.
        let counts: Vec<f64> = r.results.iter().map(|r| num(r.get("COUNT"))).collect();
        assert!(counts.windows(2).all(|w| w[0] >= w[1]));
    }

    fn numeric_getter_for_test(ds: &Dataset, name: &str) -> Vec<f64> {
        let v = crate::view::numeric_getter(ds.column(name).unwrap()).unwrap();
        (0..ds.row_count()).map(|i| v.get(i).unwrap_or(f64::NAN)).collect()
    }

    #[test]
    fn errors_name_what_is_wrong() {
        let ds = demo(100);
        let e = q(&ds, r#"{"calculations":[{"op":"P99","column":"endpoint"}]}"#).unwrap_err();
        assert!(e.to_string().contains("P99") && e.to_string().contains("\"endpoint\""), "{e}");
        let e = q(&ds, r#"{"calculations":[{"op":"AVG","column":"nope"}]}"#).unwrap_err();
        assert_eq!(e, Error::UnknownColumn { column: "nope".into() });
        let e = q(&ds, r#"{"filters":[{"column":"status_code","op":"contains","value":"5"}]}"#).unwrap_err();
        assert!(e.to_string().contains("contains") && e.to_string().contains("status_code"), "{e}");
        let e = q(&ds, r#"{"calculations":[{"op":"P42","column":"duration_ms"}]}"#).unwrap_err();
        assert!(e.to_string().contains("P42"), "{e}");
        let e = q(&ds, r#"{"limit":0}"#).unwrap_err();
        assert!(e.to_string().contains("limit"), "{e}");
        let e = q(&ds, r#"{"orders":[{"op":"P99","column":"duration_ms"}]}"#).unwrap_err();
        assert!(e.to_string().contains("P99(duration_ms)"), "{e}");
        assert!(q(&ds, r#"{"granularity":1}"#).is_err());
    }

    #[test]
    fn havings_orders_limit_and_nulls() {
        let ds = demo(20_000);
        let r = q(
            &ds,
            r#"{"calculations":[{"op":"COUNT"}],"breakdowns":["error"],"havings":[{"calculate_op":"COUNT","op":">","value":5}],
                "orders":[{"column":"error","order":"descending"}],"limit":3}"#,
        )
        .unwrap();
        assert!(r.results.len() <= 3);
        assert!(r.results.iter().all(|row| num(row.get("COUNT")) > 5.0));
        // The null error group (successful requests) exists and sorts last.
        let all = q(&ds, r#"{"breakdowns":["error"],"orders":[{"column":"error"}]}"#).unwrap();
        assert_eq!(all.results.last().unwrap().get("error"), Some(&Cell::Null));
    }

    #[test]
    fn time_range_and_series() {
        let ds = demo(10_000);
        let end = crate::demo::DEFAULT_END_S as f64;
        let r = q(&ds, &format!(r#"{{"time_range":3600,"end_time":{end},"granularity":60,"breakdowns":["region"]}}"#))
            .unwrap();
        assert_eq!((r.start_time, r.end_time, r.granularity), (end - 3600.0, end, 60.0));
        let total: f64 = r.results.iter().map(|x| num(x.get("COUNT"))).sum();
        assert_eq!(total as u64, r.matched);
        let series_total: f64 = r.series.iter().map(|x| num(x.get("COUNT"))).sum();
        assert_eq!(series_total, total);
        assert!(r.series.iter().all(|s| num(s.get("time")) >= end - 3600.0 && num(s.get("time")) < end));
    }

    #[test]
    fn heatmap_and_concurrency_and_rates() {
        let ds = demo(5_000);
        let r = q(
            &ds,
            r#"{"calculations":[{"op":"HEATMAP","column":"duration_ms"},{"op":"CONCURRENCY"},{"op":"RATE_SUM","column":"response_bytes"}],"granularity":3600}"#,
        )
        .unwrap();
        assert_eq!(r.heatmaps.len(), 1);
        assert_eq!(r.heatmaps[0].heatmap.total, 5000);
        assert!(num(r.results[0].get("CONCURRENCY")) > 0.0);
        assert!(matches!(r.results[0].get("RATE_SUM(response_bytes)"), Some(Cell::Num(_))));
    }

    /// Honeycomb's Query Math: named calculations with their own filters, and formulas
    /// over them per group and per series bucket, each equal to what separate queries
    /// give; orders and havings by name.
    #[test]
    fn named_calculations_filters_and_formulas() {
        let ds = demo(20_000);
        let r = q(
            &ds,
            r#"{"calculations":[{"op":"COUNT","name":"total"},
                                {"op":"COUNT","name":"errors","filters":[{"column":"status_code","op":">=","value":500}]},
                                {"op":"P99","column":"duration_ms","name":"slow_p99","filters":[{"column":"endpoint","op":"=","value":"/api/v2/search"},{"column":"endpoint","op":"=","value":"/api/v2/export"}],"filter_combination":"OR"},
                                {"op":"AVG","column":"duration_ms"}],
                "formulas":[{"name":"error_rate","expression":"DIV($errors, $total)"},{"name":"pct","expression":"$error_rate * 100"}],
                "breakdowns":["region"],"orders":[{"column":"error_rate","order":"descending"}],
                "havings":[{"calculate_op":"total","op":">","value":100}],"granularity":3600}"#,
        )
        .unwrap();
        assert_eq!(r.columns, ["region", "total", "errors", "slow_p99", "AVG(duration_ms)", "error_rate", "pct"]);
        assert_eq!(r.results.len(), 4);
        let plain = |json: &str| q(&ds, json).unwrap();
        let per_region = |res: &QueryResult, key: &str| -> FxHashMap<String, Cell> {
            res.results
                .iter()
                .map(|row| (format!("{:?}", row.get("region").unwrap()), row.get(key).cloned().unwrap_or(Cell::Null)))
                .collect()
        };
        let total = per_region(&plain(r#"{"breakdowns":["region"]}"#), "COUNT");
        let errors = per_region(
            &plain(r#"{"breakdowns":["region"],"filters":[{"column":"status_code","op":">=","value":500}]}"#),
            "COUNT",
        );
        let slow = per_region(
            &plain(
                r#"{"breakdowns":["region"],"calculations":[{"op":"P99","column":"duration_ms"}],"filter_combination":"OR",
                    "filters":[{"column":"endpoint","op":"=","value":"/api/v2/search"},{"column":"endpoint","op":"=","value":"/api/v2/export"}]}"#,
            ),
            "P99(duration_ms)",
        );
        let mut last = f64::INFINITY;
        for row in &r.results {
            let k = format!("{:?}", row.get("region").unwrap());
            assert_eq!(row.get("total"), total.get(&k));
            assert_eq!(row.get("errors"), errors.get(&k));
            assert_eq!(row.get("slow_p99"), slow.get(&k));
            let rate = num(row.get("errors")) / num(row.get("total"));
            assert_eq!(num(row.get("error_rate")), rate);
            assert!((num(row.get("pct")) - rate * 100.0).abs() < 1e-12);
            assert!(rate <= last, "ordered by error_rate descending");
            last = rate;
        }
        // Series: the formula per bucket from that bucket's values.
        assert!(!r.series.is_empty());
        for row in &r.series {
            let (e, t) = (row.get("errors"), row.get("total"));
            let want = match (e, t) {
                (Some(Cell::Num(e)), Some(Cell::Num(t))) if *t != 0.0 => Some(e / t),
                _ => None,
            };
            assert_eq!(row.get("error_rate").and_then(|c| if let Cell::Num(x) = c { Some(*x) } else { None }), want);
        }
        // A having on a formula, and an order by a named calculation's op and column.
        let h = q(
            &ds,
            r#"{"calculations":[{"op":"COUNT","name":"total"},{"op":"COUNT","name":"errors","filters":[{"column":"status_code","op":">=","value":500}]}],
                "formulas":[{"name":"error_rate","expression":"$errors / $total"}],"breakdowns":["endpoint"],
                "havings":[{"calculate_op":"error_rate","op":">","value":0.004}],"orders":[{"op":"COUNT","order":"ascending"}]}"#,
        )
        .unwrap();
        assert!(h.results.iter().all(|row| num(row.get("error_rate")) > 0.004));
        assert!(h.results.windows(2).all(|w| num(w[0].get("total")) <= num(w[1].get("total"))));
        assert!(!h.results.is_empty() && h.results.len() < 14, "{}", h.results.len());
    }
}
