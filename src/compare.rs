//! Outlier comparison: what is different about the selected events?
//!
//! A comparison splits the events in a *scope* (a time range and filters) into a
//! *selection* (a heatmap brush: a time range plus filters on the value column; or any
//! filters) and a *baseline* (by default the rest of the scope; or explicit filters; or
//! the selection's window one `period` earlier). Then:
//!
//! - **Dimensions** (every string, bool and low-cardinality integer column, ID columns
//!   included): per value, its count and share on each side, the difference in
//!   percentage points and the lift. Each value is tested on its 2x2 table (value or
//!   not, selection or baseline): with a G-test, or where the counts are small (fewer
//!   than 10 expected on a side) with an exact binomial test of its selection count
//!   given its total; p-values of every value of every
//!   dimension are corrected together with Benjamini-Hochberg at `alpha` (default
//!   0.05); a value is tested only if it has at least `min_count` (default 5) events
//!   in all, a gate that does not depend on how they split. A dimension's **score** is the
//!   total variation distance between the two sides restricted to its significant
//!   values: `0.5 * sum |selection_share - baseline_share|` over them. It lies in
//!   [0, 1] (the share of events that would have to change value to make the sides
//!   alike), and it is 0 when nothing is significant, so noise in a tiny selection
//!   (where every customer looks over-represented) cannot top the list. The raw total
//!   variation distance is reported too, as `tvd`.
//! - **Measures** (numeric columns): both sides bucketed on shared edges (log scale
//!   when all values are positive), ranked by the Kolmogorov-Smirnov distance between
//!   the bucketed distributions (bounded in [0, 1]), with its asymptotic p-value and
//!   exact p50 and p95 per side.

use serde::{Deserialize, Serialize};

use crate::column::{Column, ColumnData, Role, Validity};
use crate::dataset::Dataset;
use crate::error::{Error, Result};
use crate::query::filter::Filters;
use crate::query::spec::{FilterSpec, QuerySpec};
use crate::query::{resolve_time, time_rows};
use crate::util::FxHashMap;
use crate::view::Rows;

/// One side of a comparison.
#[derive(Debug, Clone, Deserialize, Default, PartialEq)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[cfg_attr(test, ts(rename = "CompareSide", optional_fields))]
#[serde(deny_unknown_fields)]
pub struct SideSpec {
    /// Unix seconds, inclusive.
    #[serde(default)]
    pub start_time: Option<f64>,
    /// Unix seconds, exclusive.
    #[serde(default)]
    pub end_time: Option<f64>,
    /// Filters, in the query specification's syntax.
    #[serde(default)]
    #[cfg_attr(test, ts(optional = nullable))]
    pub filters: Vec<FilterSpec>,
    /// `AND` (default) or `OR`.
    #[serde(default)]
    #[cfg_attr(test, ts(optional, type = "'AND' | 'OR'"))]
    pub filter_combination: Option<String>,
    /// Baseline only: the selection's time window this many seconds earlier.
    #[serde(default)]
    pub period: Option<f64>,
}

/// `{ scope, selection, baseline?, ... }`.
#[derive(Debug, Clone, Deserialize, Default, PartialEq)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[cfg_attr(test, ts(optional_fields))]
#[serde(deny_unknown_fields)]
pub struct CompareSpec {
    /// Time range and filters bounding both sides (other query fields are ignored).
    #[serde(default)]
    #[cfg_attr(test, ts(optional = nullable))]
    pub scope: QuerySpec,
    /// The events to explain.
    pub selection: SideSpec,
    /// What they are compared with (default: the rest of the scope).
    #[serde(default)]
    pub baseline: Option<SideSpec>,
    /// Dimensions to rank (default: every string, bool and low-cardinality integer column).
    #[serde(default)]
    pub dimensions: Option<Vec<String>>,
    /// Measures to rank (default: every numeric column).
    #[serde(default)]
    pub measures: Option<Vec<String>>,
    /// Values listed per dimension (default 10); the rest are summed as `other`.
    #[serde(default)]
    pub top: Option<usize>,
    /// Least events (both sides together) for a value to be tested (default 5).
    #[serde(default)]
    pub min_count: Option<u64>,
    /// False discovery rate (default 0.05).
    #[serde(default)]
    pub alpha: Option<f64>,
}

/// One value of a dimension.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct ValueDiff {
    /// The value (`null` for nulls; `"(other)"` never appears here).
    #[cfg_attr(test, ts(type = "ResultValue"))]
    pub value: serde_json::Value,
    /// Events with it in the selection.
    pub selection_count: u64,
    /// Their share of the selection.
    pub selection_share: f64,
    /// Events with it in the baseline.
    pub baseline_count: u64,
    /// Their share of the baseline.
    pub baseline_share: f64,
    /// `selection_share - baseline_share`, in percentage points.
    pub diff_pp: f64,
    /// `selection_share / baseline_share` (`null` when the baseline has none).
    pub lift: Option<f64>,
    /// The test's p-value (`null` when not tested: too few events). It may be 0 when
    /// the evidence is stronger than an f64 can hold: see `log10_p_value`.
    pub p_value: Option<f64>,
    /// log10 of the p-value, computed in log space so it is finite however strong the
    /// evidence (`-2300` for p = 1e-2300).
    pub log10_p_value: Option<f64>,
    /// Significant after Benjamini-Hochberg correction.
    pub significant: bool,
}

/// The values not listed, summed.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct Other {
    /// Distinct values summed.
    pub values: u64,
    /// Their events in the selection.
    pub selection_count: u64,
    /// Their events in the baseline.
    pub baseline_count: u64,
}

/// A ranked dimension.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct Dimension {
    /// Column name.
    pub column: String,
    /// Total variation distance over the significant values (see the module docs).
    pub score: f64,
    /// Total variation distance over all values.
    pub tvd: f64,
    /// Distinct values on either side.
    pub distinct: u64,
    /// The values that explain the difference most, by |diff_pp|.
    pub values: Vec<ValueDiff>,
    /// Everything else.
    pub other: Other,
}

/// One side's summary of a measure.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct SideStats {
    /// Non-null values.
    pub count: u64,
    /// Median (exact, linear interpolation).
    pub p50: Option<f64>,
    /// 95th percentile.
    pub p95: Option<f64>,
    /// Share of values per bucket.
    pub histogram: Vec<f64>,
}

/// A ranked measure.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct Measure {
    /// Column name.
    pub column: String,
    /// Kolmogorov-Smirnov distance between the bucketed distributions.
    pub score: f64,
    /// Its asymptotic p-value (may be 0: see `log10_p_value`).
    pub p_value: Option<f64>,
    /// log10 of the p-value, finite however strong the evidence.
    pub log10_p_value: Option<f64>,
    /// Significant after Benjamini-Hochberg correction, together with the dimensions' values.
    pub significant: bool,
    /// Shared bucket edges.
    pub edges: Vec<f64>,
    /// `log` or `linear`.
    #[cfg_attr(test, ts(type = "HeatmapScale"))]
    pub scale: &'static str,
    /// The selection.
    pub selection: SideStats,
    /// The baseline.
    pub baseline: SideStats,
}

/// A column the selection has one value of, when the selection fixes a column (a
/// customer): a fact about the selection (each customer has one plan), not a difference.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct Fact {
    /// Column name.
    pub column: String,
    /// The selection's one value.
    #[cfg_attr(test, ts(type = "ResultValue"))]
    pub value: serde_json::Value,
    /// Its share of the baseline (how unusual the fact is).
    pub baseline_share: f64,
}

/// What `compare` returns.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct Comparison {
    /// Events in the selection.
    pub selection_count: u64,
    /// Events in the baseline.
    pub baseline_count: u64,
    /// Dimensions, most different first.
    pub dimensions: Vec<Dimension>,
    /// Measures, most different first.
    pub measures: Vec<Measure>,
    /// Tests corrected together (the Benjamini-Hochberg family: dimension values and measures).
    pub tests: u64,
    /// When the selection fixes a column (`=` or `in` among its filters, as "this
    /// customer vs all" does): the dimensions with one value over the whole selection,
    /// as facts about it rather than ranked differences.
    pub facts: Vec<Fact>,
    /// The column whose sample rates weighted the counts, when one did: every count and
    /// share is of the events the sample stands for.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(test, ts(optional))]
    pub sample_rate_column: Option<String>,
}

/// How a weighted comparison's counts relate to the evidence behind them: per side, the
/// Kish effective sample size over the weighted count, `(sum w)^2 / sum w^2 / sum w`.
/// The tests scale counts by it, so 1-in-20 sampling weighs 20 events in the shares but
/// only one event of evidence.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Evidence {
    /// The selection's scale.
    pub selection: f64,
    /// The baseline's scale.
    pub baseline: f64,
}

/// An event's weight in a comparison: its sample rate, rounded to a whole number of
/// events (counts stay exact integers on every executor).
fn whole(w: f64) -> u64 {
    w.round().max(1.0) as u64
}

/// Largest distinct count of an integer column used as a dimension.
pub const MAX_INT_DIMENSION_VALUES: usize = 1000;
/// An integer column with more distinct values than this whose values fill a dense range
/// (span at most [`QUANTITY_SPAN`] times the distinct count) is a quantity, such as a count
/// of calls: a measure only. Sparse codes (HTTP statuses, enum ids) stay dimensions.
pub const QUANTITY_MIN_VALUES: usize = 10;
/// See [`QUANTITY_MIN_VALUES`].
pub const QUANTITY_SPAN: f64 = 3.0;
/// Buckets of a measure's histogram.
pub const MEASURE_BUCKETS: usize = 32;

/// Side of each row: 0 outside, 1 selection, 2 baseline.
fn sides(ds: &Dataset, spec: &CompareSpec) -> Result<Vec<u8>> {
    let n = ds.row_count();
    let mut side = vec![0u8; n];
    let scope_filters = Filters::new(ds, &spec.scope.filters, spec.scope.filter_combination.as_deref())?;
    let tcol = match &spec.scope.time_column {
        Some(name) => Some(ds.column(name)?),
        None => ds.time_column(),
    };
    let in_window = |w: &SideSpec, shift: f64, i: usize| -> bool {
        let Some(tc) = tcol else { return w.start_time.is_none() && w.end_time.is_none() };
        let ColumnData::Time { values, unit, .. } = &tc.data else { return false };
        if !tc.validity.is_valid(i) {
            return w.start_time.is_none() && w.end_time.is_none();
        }
        let t = values.get(i).copied().unwrap_or(0) as f64 * unit.seconds_per_unit();
        w.start_time.is_none_or(|s| t >= s - shift) && w.end_time.is_none_or(|e| t < e - shift)
    };
    let scope_rows = match tcol {
        Some(tc) => time_rows(ds, tc, &resolve_time(ds, tc, &spec.scope)?),
        None => Rows::Range(0, n),
    };
    let scope_rows = scope_filters.apply(scope_rows);
    let sel = &spec.selection;
    if sel.period.is_some() {
        return Err(Error::Spec("selection: period applies to the baseline only".into()));
    }
    let sel_filters = Filters::new(ds, &sel.filters, sel.filter_combination.as_deref())?;
    // The selection's window as a row range, when the scope is one and the time column
    // is sorted: the selection's filters then test the window's rows only, not every
    // row of the scope (17 ms of a million-row comparison in wasm).
    let window_rows = match (&scope_rows, tcol) {
        (Rows::Range(a, b), Some(tc)) if tc.is_sorted() => match &tc.data {
            ColumnData::Time { values, unit, .. } => {
                let spu = unit.seconds_per_unit();
                let ts = values.get(*a..*b).unwrap_or(&[]);
                // The same comparisons as `in_window`, on a non-decreasing column.
                let first = sel.start_time.map_or(0, |s| ts.partition_point(|t| (*t as f64 * spu) < s));
                let end = sel.end_time.map_or(ts.len(), |e| ts.partition_point(|t| (*t as f64 * spu) < e));
                Some(Rows::Range(a + first, a + end.max(first)))
            }
            _ => None,
        },
        _ => None,
    };
    match &spec.baseline {
        None => match window_rows {
            Some(window) => {
                match scope_rows {
                    Rows::Range(a, b) => side.get_mut(a..b).into_iter().for_each(|s| s.fill(2)),
                    _ => scope_rows.each(|i| side[i] = 2),
                }
                sel_filters.apply(window).each(|i| side[i] = 1);
            }
            None => scope_rows.each(|i| {
                side[i] = if in_window(sel, 0.0, i) && sel_filters.test(i) { 1 } else { 2 };
            }),
        },
        Some(b) => {
            scope_rows.each(|i| {
                if in_window(sel, 0.0, i) && sel_filters.test(i) {
                    side[i] = 1;
                }
            });
            let base_filters = Filters::new(ds, &b.filters, b.filter_combination.as_deref())?;
            let window = match b.period {
                Some(p) if !p.is_finite() || p <= 0.0 => {
                    return Err(Error::Spec("baseline: period must be a positive number of seconds".into()))
                }
                Some(p) => {
                    if sel.start_time.is_none() || sel.end_time.is_none() {
                        return Err(Error::Spec(
                            "baseline: period needs the selection's start_time and end_time".into(),
                        ));
                    }
                    (sel.clone(), p)
                }
                None => (b.clone(), 0.0),
            };
            // The baseline keeps the scope's filters but not necessarily its time range.
            // With `period` it is "the same events one period earlier": the selection's
            // filters (a brush's value range among them) apply to the earlier window too.
            let same_events = b.period.is_some();
            for (i, s) in side.iter_mut().enumerate() {
                if *s == 0
                    && in_window(&window.0, window.1, i)
                    && scope_filters.test(i)
                    && base_filters.test(i)
                    && (!same_events || sel_filters.test(i))
                {
                    *s = 2;
                }
            }
        }
    }
    Ok(side)
}

/// Per-row codes of a dimension column and how to name a code.
enum Codes<'a> {
    Str(&'a [u32], &'a crate::column::Dict),
    Bool(&'a [u8]),
    /// Integer columns: codes by exact value (as f64, IDs above 2^53 would collide).
    Int(Vec<u32>, Vec<Option<i128>>),
    /// Integer columns whose values span less than 2^16 (HTTP statuses, enum ids, small
    /// counts; the zone maps tell): no per-row codes, the code of a value is its offset
    /// from the smallest plus one (0: null), counted straight from the column.
    Offset(i128, usize),
}

impl Codes<'_> {
    /// Codes there can be (the length of a count table indexed by code).
    fn card(&self) -> usize {
        match self {
            Codes::Str(_, d) => d.code_count(),
            Codes::Bool(_) => 3,
            Codes::Int(_, v) => v.len(),
            Codes::Offset(_, n) => *n,
        }
    }
}

/// Orders codes `a` and `b` of a dimension by their values ([`DimValue`]'s order, null
/// last), strings without copying them.
fn code_cmp(codes: &Codes, a: u32, b: u32) -> std::cmp::Ordering {
    match codes {
        Codes::Str(_, d) => match (d.get(a), d.get(b)) {
            (Some(x), Some(y)) if a != 0 && b != 0 => x.as_bytes().cmp(y.as_bytes()),
            _ => (a == 0).cmp(&(b == 0)),
        },
        other => dim_value(other, a as usize).cmp(&dim_value(other, b as usize)),
    }
}

/// `|a * nb - b * ns|`: the exact numerator of a value's distance `|a/ns - b/nb|` (in
/// 64 bits while the counts are below 2^32: wasm multiplies u128 by a call).
fn gap(a: u64, b: u64, ns: u64, nb: u64) -> u128 {
    let (ins, inb) = (ns.max(1), nb.max(1));
    if ins <= u32::MAX as u64 && inb <= u32::MAX as u64 && a <= u32::MAX as u64 && b <= u32::MAX as u64 {
        (a * inb).abs_diff(b * ins) as u128
    } else {
        (a as u128 * inb as u128).abs_diff(b as u128 * ins as u128)
    }
}

/// `auto`: the column was not asked for by name, so a quantity-like integer column is left
/// to the measures.
fn dimension_codes<'a>(c: &'a Column, side: &[u8], auto: bool) -> Result<Option<Codes<'a>>> {
    Ok(match &c.data {
        ColumnData::Str(s) => {
            let (codes, dict) = s.codes_of(&c.name)?;
            Some(Codes::Str(codes, dict))
        }
        ColumnData::Bool(v) => Some(Codes::Bool(v)),
        ColumnData::Int(_) | ColumnData::UInt(_) => {
            // Values within a span of 2^16 (HTTP statuses, enum ids; the zone maps tell)
            // are counted by offset from the smallest, not hashed and coded per row: a
            // million rows took 11 ms hashed, 8 coded by offset in wasm, 2 counted.
            let span = c.range_stats(0, c.len()).filter(|z| {
                z.min.is_finite() && z.max - z.min < 65536.0 && z.min.abs() < 9e15 && z.max.abs() < 9e15
            });
            if let Some(z) = span {
                return Ok(Some(Codes::Offset(z.min as i128, (z.max - z.min) as usize + 2)));
            }
            // Wider spans (ids, timestamps as integers): codes by hashing each value.
            let mut map: FxHashMap<i128, u32> = FxHashMap::default();
            let mut values = vec![None];
            let mut codes = vec![0u32; c.len()];
            for (i, code) in codes.iter_mut().enumerate() {
                if side.get(i).copied().unwrap_or(0) == 0 || !c.validity.is_valid(i) {
                    continue;
                }
                let v = match &c.data {
                    ColumnData::Int(v) => v[i] as i128,
                    ColumnData::UInt(v) => v[i] as i128,
                    _ => continue,
                };
                let next = values.len() as u32;
                let slot = map.entry(v).or_insert(0);
                if *slot == 0 {
                    values.push(Some(v));
                    *slot = next;
                }
                *code = *slot;
                if values.len() > MAX_INT_DIMENSION_VALUES + 1 {
                    return Ok(None); // not low-cardinality: a measure, not a dimension
                }
            }
            let distinct = values.len() - 1;
            let (lo, hi) = values.iter().flatten().fold((i128::MAX, i128::MIN), |(a, b), v| (a.min(*v), b.max(*v)));
            if auto && is_quantity(distinct, lo, hi) {
                return Ok(None);
            }
            Some(Codes::Int(codes, values))
        }
        _ => None,
    })
}

/// Whether an integer column's `distinct` values spanning `lo..=hi` fill a dense range:
/// a quantity (a count of calls), compared as a measure, not a dimension.
fn is_quantity(distinct: usize, lo: i128, hi: i128) -> bool {
    distinct > QUANTITY_MIN_VALUES && (hi - lo + 1) as f64 <= QUANTITY_SPAN * distinct as f64
}

/// Counts each side's rows by the code `offset(value) + 1` (0: null) in `cnt`.
#[inline]
fn count_offsets<T: Copy>(
    values: &[T],
    offset: impl Fn(T) -> u64,
    side: &[u8],
    validity: &Validity,
    cnt: &mut [[u64; 2]],
) {
    let nulls = validity.words().is_some();
    for (i, (x, s)) in values.iter().zip(side).enumerate() {
        if *s == 0 {
            continue;
        }
        let code = if nulls && !validity.is_valid(i) { 0 } else { offset(*x).wrapping_add(1) as usize };
        if let Some(c) = cnt.get_mut(code) {
            c[(*s - 1) as usize] += 1;
        }
    }
}

/// The values of a dimension to list, from its counts by code, and the rest summed
/// ([`Unlisted`]). A value absent from the selection and too rare to be tested (under
/// `min_count` events) is listed only if it could be among the `top` shown: such values
/// with the same baseline count rank alike and then by value, so of each such class at
/// most the `top` least values can be shown, and none when `top` listed values rank above
/// the class whatever the tests find. An identifier column (a million values, each
/// once) then lists the selection's values, not a million rows to rank (30 ms of a
/// comparison in wasm).
fn list_values(
    cnt: &[[u64; 2]],
    codes: &Codes,
    ns: u64,
    nb: u64,
    top: usize,
    min_count: u64,
) -> (Vec<(u32, u64, u64)>, Unlisted) {
    // Quiet: absent from the selection, untested, and seen fewer than CLASSES times in
    // the baseline (rarer classes are listed as they are).
    const CLASSES: usize = 64;
    let quiet = |a: u64, b: u64| {
        a == 0 && b > 0 && b < CLASSES as u64 && (a + b < min_count || ns == 0 || nb == 0)
    };
    let mut rows = Vec::new();
    // Baseline count -> how many quiet values have it.
    let mut classes = [0usize; CLASSES];
    for (k, c) in cnt.iter().enumerate() {
        if quiet(c[0], c[1]) {
            classes[c[1] as usize] += 1;
        } else if c[0] + c[1] > 0 {
            rows.push((k as u32, c[0], c[1]));
        }
    }
    let mut unlisted = Unlisted::default();
    let quiet_values = classes.iter().sum::<usize>();
    let list_all = quiet_values > 0 && quiet_values <= 1024; // few: list them all
    // Ranks as `finish` computes them, untested (a test can only raise a listed value).
    let (fs, fb) = (ns.max(1) as f64, nb.max(1) as f64);
    let rank = |a: u64, b: u64| {
        let d = a as f64 / fs - b as f64 / fb;
        (false, d.abs(), d)
    };
    let floor = (rows.len() >= top && top > 0 && !list_all).then(|| {
        let r: Vec<(bool, f64, f64)> = rows.iter().map(|x| rank(x.1, x.2)).collect();
        let mut idx: Vec<usize> = (0..r.len()).collect();
        select_by(&mut idx, top - 1, &|x, y| r[y].partial_cmp(&r[x]).unwrap_or(std::cmp::Ordering::Equal));
        r[idx[top - 1]]
    });
    // Classes that could reach the top: their values, to keep the least `top` of each.
    let mut members: Vec<Option<Vec<usize>>> = vec![None; CLASSES];
    for (b, n) in classes.iter().enumerate().filter(|(_, n)| **n > 0 && !list_all) {
        let b = b as u64;
        if !floor.is_some_and(|f| rank(0, b).partial_cmp(&f) == Some(std::cmp::Ordering::Less)) {
            members[b as usize] = Some(Vec::new());
        }
        unlisted.values += *n as u64;
        unlisted.baseline_count += b * *n as u64;
        unlisted.gap += gap(0, b, ns, nb) * *n as u128;
    }
    if list_all || members.iter().any(Option::is_some) {
        for (k, c) in cnt.iter().enumerate() {
            if quiet(c[0], c[1]) {
                match &mut members[c[1] as usize] {
                    Some(m) => m.push(k),
                    None if list_all => rows.push((k as u32, c[0], c[1])),
                    None => {}
                }
            }
        }
    }
    for (b, m) in members.into_iter().enumerate() {
        let Some(mut m) = m else { continue };
        if m.len() > top && top > 0 {
            select_by(&mut m, top - 1, &|x, y| code_cmp(codes, x as u32, y as u32));
        }
        m.truncate(top);
        let b = b as u64;
        for k in m {
            rows.push((k as u32, 0, b));
            unlisted.values -= 1;
            unlisted.baseline_count -= b;
            unlisted.gap -= gap(0, b, ns, nb);
        }
    }
    (rows, unlisted)
}

/// Puts the `k`-th of `idx` by `cmp` at `k`, the ones before it first: one compiled
/// selection for every ranking of the comparison (each closure type compiles its own).
fn select_by(idx: &mut [usize], k: usize, cmp: &dyn Fn(usize, usize) -> std::cmp::Ordering) {
    idx.select_nth_unstable_by(k, |a, b| cmp(*a, *b));
}

/// The value of `code`.
fn dim_value(codes: &Codes, code: usize) -> DimValue {
    match codes {
        Codes::Str(_, d) => d.get(code as u32).map_or(DimValue::Null, |s| DimValue::Str(s.to_string())),
        Codes::Bool(_) => match code {
            0 => DimValue::Bool(false),
            1 => DimValue::Bool(true),
            _ => DimValue::Null,
        },
        Codes::Int(_, v) => v.get(code).copied().flatten().map_or(DimValue::Null, DimValue::Int),
        Codes::Offset(base, _) => match code {
            0 => DimValue::Null,
            k => DimValue::Int(base + k as i128 - 1),
        },
    }
}

// Tail probabilities are computed as natural logarithms: a loud incident's G statistic
// (1e5 and more) has a p-value far below the smallest f64 (about 1e-308), and a
// p-value that underflows to 0 would tie the strongest evidence with itself and break
// any test written as "p > 0". `statrs` gives erfc and ln Γ (erfc within 1e-9 relative,
// measured in the tests; the Numerical Recipes erfcc it replaces had 1.2e-7, and no log form);
// the log-space tails on top of them are ours.

/// ln P(X > x) for X ~ chi-square with one degree of freedom: ln erfc(sqrt(x / 2)).
pub(crate) fn ln_chi2_1_sf(x: f64) -> f64 {
    if x.is_nan() {
        return 0.0;
    }
    if x <= 0.0 {
        return 0.0;
    }
    ln_erfc((x / 2.0).sqrt())
}

/// ln erfc(z) for z >= 0, without underflow: statrs' erfc while it is far from the
/// smallest normal f64, then the asymptotic expansion
/// erfc(z) = exp(-z²) / (z √π) · (1 - 1/(2z²) + 3/(2z²)² - 15/(2z²)³ + 105/(2z²)⁴ - ...),
/// whose truncation error at z >= 20 is below 1e-13 (relative).
pub(crate) fn ln_erfc(z: f64) -> f64 {
    if z < 20.0 {
        return statrs::function::erf::erfc(z).ln();
    }
    if z.is_infinite() {
        return f64::NEG_INFINITY;
    }
    let u = 1.0 / (2.0 * z * z);
    let series = 1.0 - u * (1.0 - 3.0 * u * (1.0 - 5.0 * u * (1.0 - 7.0 * u * (1.0 - 9.0 * u))));
    -z * z - (z * std::f64::consts::PI.sqrt()).ln() + series.ln()
}

/// ln of `sum(exp(x))` over `xs`, without overflow or underflow.
fn ln_sum_exp(xs: impl Iterator<Item = f64> + Clone) -> f64 {
    let m = xs.clone().fold(f64::NEG_INFINITY, f64::max);
    if m == f64::NEG_INFINITY {
        return m;
    }
    m + xs.map(|x| (x - m).exp()).sum::<f64>().ln()
}

/// G-test of independence on a 2x2 table: (G, ln p-value).
pub(crate) fn g_test(a: f64, b: f64, c: f64, d: f64) -> (f64, f64) {
    let n = a + b + c + d;
    let cell = |o: f64, e: f64| if o > 0.0 && e > 0.0 { o * (o / e).ln() } else { 0.0 };
    let (r1, r2, c1, c2) = (a + b, c + d, a + c, b + d);
    if r1 == 0.0 || r2 == 0.0 || c1 == 0.0 || c2 == 0.0 {
        return (0.0, 0.0);
    }
    let g = 2.0 * (cell(a, r1 * c1 / n) + cell(b, r1 * c2 / n) + cell(c, r2 * c1 / n) + cell(d, r2 * c2 / n));
    // Rounding can make a perfectly balanced table's G a tiny negative number.
    let g = g.max(0.0);
    (g, ln_chi2_1_sf(g))
}

fn ln_gamma(x: f64) -> f64 {
    statrs::function::gamma::ln_gamma(x)
}

/// Exact two-sided binomial test, as a natural log: `a` successes in `n` trials at rate
/// `p` (twice the smaller tail, at most 1). Used where counts are too small for the
/// G-test, which does not mean the p-value is not tiny (1,000 of 1,000 at p = 0.001).
pub(crate) fn ln_binomial_two_sided(a: u64, n: u64, p: f64) -> f64 {
    if n == 0 || p.is_nan() || p <= 0.0 || p >= 1.0 || a > n {
        return 0.0;
    }
    let (lp, lq) = (p.ln(), (1.0 - p).ln());
    let ln_n1 = ln_gamma(n as f64 + 1.0);
    let ln_pmf = |k: u64| {
        ln_n1 - ln_gamma(k as f64 + 1.0) - ln_gamma((n - k) as f64 + 1.0) + k as f64 * lp + (n - k) as f64 * lq
    };
    // Terms fall geometrically away from the mode: stop once they are 1e-17 of the sum.
    let mut terms = Vec::new();
    let mut sum_so_far = f64::NEG_INFINITY;
    let mut push = |k: u64, terms: &mut Vec<f64>| -> bool {
        let t = ln_pmf(k);
        terms.push(t);
        let stop = t < sum_so_far - 39.0; // e^-39 ≈ 1e-17
        sum_so_far = sum_so_far.max(t);
        stop
    };
    if a as f64 >= n as f64 * p {
        for k in a..=n {
            if push(k, &mut terms) {
                break;
            }
        }
    } else {
        for k in (0..=a).rev() {
            if push(k, &mut terms) {
                break;
            }
        }
    }
    (std::f64::consts::LN_2 + ln_sum_exp(terms.iter().copied())).min(0.0)
}

/// ln P(K > lambda) for Kolmogorov's distribution.
pub(crate) fn ln_ks_sf(lambda: f64) -> f64 {
    if lambda.is_nan() || lambda < 1e-3 {
        return 0.0;
    }
    let x = 2.0 * lambda * lambda;
    if x > 40.0 {
        // 2 Σ (-1)^(j-1) e^(-2 j² λ²): the first term dominates by e^(-6λ²) < 1e-52.
        return std::f64::consts::LN_2 - x;
    }
    let mut sum = 0.0;
    for j in 1..=100 {
        let term = (-((j * j) as f64) * x).exp();
        sum += if j % 2 == 1 { term } else { -term };
        if term < 1e-17 {
            break;
        }
    }
    (2.0 * sum).clamp(f64::MIN_POSITIVE, 1.0).ln()
}

/// Benjamini-Hochberg at `alpha` over natural-log p-values: which are discoveries.
/// By rank: the largest k with p_(k) <= k/m · alpha, and every p-value at most p_(k).
pub(crate) fn benjamini_hochberg(ln_p: &[f64], alpha: f64) -> Vec<bool> {
    let m = ln_p.len();
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|a, b| ln_p[*a].total_cmp(&ln_p[*b]));
    let ln_alpha = alpha.ln();
    let mut k_max = None;
    for (k, i) in order.iter().enumerate() {
        if ln_p[*i] <= ((k + 1) as f64 / m as f64).ln() + ln_alpha {
            k_max = Some(k);
        }
    }
    let mut out = vec![false; m];
    if let Some(k) = k_max {
        let cutoff = ln_p[order[k]];
        for (o, p) in out.iter_mut().zip(ln_p) {
            *o = *p <= cutoff;
        }
    }
    out
}

/// `ln_p` as a p-value and its base-10 logarithm.
fn p_fields(ln_p: f64) -> (f64, f64) {
    (ln_p.exp(), ln_p / std::f64::consts::LN_10)
}

/// The percentile of sorted `(value, weight)` pairs, each value counted `weight` times.
fn weighted_percentile(sorted: &[(f64, u64)], p: f64) -> Option<f64> {
    let total: u64 = sorted.iter().map(|x| x.1).sum();
    if total == 0 {
        return None;
    }
    let pos = p * (total - 1) as f64;
    let lo = pos.floor() as u64;
    let at = |r: u64| {
        let mut cum = 0u64;
        for (v, w) in sorted {
            cum += w;
            if cum > r {
                return *v;
            }
        }
        sorted[sorted.len() - 1].0
    };
    let (a, b) = (at(lo), at((lo + 1).min(total - 1)));
    Some(interpolate(a, b, pos - lo as f64))
}

#[cfg(test)]
fn percentile(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let pos = p * (sorted.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = (lo + 1).min(sorted.len() - 1);
    Some(interpolate(sorted[lo], sorted[hi], pos - lo as f64))
}

/// `a + (b - a) * frac`, exact at `frac = 0` and for equal ends, and never NaN from
/// infinite ends (`-inf` and `5` interpolate to `-inf`).
pub(crate) fn interpolate(a: f64, b: f64, frac: f64) -> f64 {
    if frac == 0.0 || a == b {
        a
    } else if a.is_infinite() || b.is_infinite() {
        if a.is_infinite() && b.is_infinite() {
            f64::NAN // -inf to +inf: no defined value
        } else if a.is_infinite() {
            a
        } else {
            b
        }
    } else {
        a + (b - a) * frac
    }
}

/// The shared bucket edges of a measure whose finite values span `lo..=hi` (`lo > hi`
/// when there are none), and whether they are logarithmic.
pub fn measure_edges(lo: f64, hi: f64) -> (Vec<f64>, bool) {
    let (lo, hi) = if lo > hi {
        (0.0, 1.0) // no finite value at all
    } else if lo == hi {
        (lo - 0.5, hi + 0.5)
    } else {
        (lo, hi)
    };
    let log = lo > 0.0 && hi / lo > 20.0;
    let edges: Vec<f64> = (0..=MEASURE_BUCKETS)
        .map(|k| {
            let f = k as f64 / MEASURE_BUCKETS as f64;
            match k {
                0 => lo,
                MEASURE_BUCKETS => hi,
                // libm: the same edges on the server and in wasm (see heatmap.rs).
                _ if log => lo * libm::pow(hi / lo, f),
                _ => lo + (hi - lo) * f,
            }
        })
        .collect();
    (edges, log)
}

/// The bucket of `v` on a measure's edges: edges are lower bounds, -inf falls in the
/// first bucket and +inf in the last.
#[inline]
pub fn measure_bucket(edges: &[f64], v: f64) -> usize {
    // A branchless binary search over the 32 upper edges (a comparison result selects
    // the next step, no branch to mispredict): 5 steps that reach 31 at most, which is
    // `partition_point(..).min(31)` over sorted edges. A histogram of a million values
    // took 7 ms with `partition_point`'s branches.
    if let Some(e) = edges.get(1..).and_then(|e| <&[f64; MEASURE_BUCKETS]>::try_from(e).ok()) {
        let mut k = 0;
        for step in [16, 8, 4, 2, 1] {
            k += usize::from(e[k + step - 1] <= v) * step;
        }
        return k;
    }
    edges.get(1..).map_or(0, |e| e.partition_point(|e| *e <= v)).min(MEASURE_BUCKETS - 1)
}

/// Counts of `values` per bucket of `edges` ([`measure_bucket`]), in four interleaved
/// histograms: a run of values in one bucket would otherwise wait on its own last
/// increment (3.5 ms for a million values where one histogram took 6).
fn histogram(edges: &[f64], values: &[f64]) -> Vec<u64> {
    let mut h = [[0u64; MEASURE_BUCKETS]; 4];
    let mut quads = values.chunks_exact(4);
    for q in &mut quads {
        for (k, x) in q.iter().enumerate() {
            h[k][measure_bucket(edges, *x)] += 1;
        }
    }
    for x in quads.remainder() {
        h[0][measure_bucket(edges, *x)] += 1;
    }
    (0..MEASURE_BUCKETS).map(|b| h.iter().map(|h| h[b]).sum()).collect()
}

/// One side of a measure, counted.
#[derive(Debug, Clone, PartialEq)]
pub struct SideCounts {
    /// Non-null, non-NaN values.
    pub count: u64,
    /// Values per bucket.
    pub histogram: Vec<u64>,
    /// Exact median (linear interpolation).
    pub p50: Option<f64>,
    /// Exact 95th percentile.
    pub p95: Option<f64>,
}

/// A measure counted on both sides, however it was counted (here, or in SQL).
#[derive(Debug, Clone, PartialEq)]
pub struct MeasureCounts {
    /// The column.
    pub column: String,
    /// [`measure_edges`].
    pub edges: Vec<f64>,
    /// Whether the edges are logarithmic.
    pub log: bool,
    /// The selection.
    pub selection: SideCounts,
    /// The baseline.
    pub baseline: SideCounts,
}

/// A measure's values on each side, with their weights and the finite values' range.
struct Gathered {
    vals: [Vec<f64>; 2],
    wts: [Vec<u64>; 2],
    lo: f64,
    hi: f64,
}

impl Gathered {
    /// Takes the non-null, non-NaN values of rows on a side. Generic over the column's
    /// type so the conversion inlines into one loop: as closures called per row (and
    /// `f64::min`, which wasm calls as `fmin`) this was 40 ms of a comparison in wasm.
    #[inline]
    fn gather<T: Copy>(
        &mut self,
        values: &[T],
        to_f64: impl Fn(T) -> f64,
        side: &[u8],
        validity: &Validity,
        weight: Option<&dyn Fn(usize) -> u64>,
    ) {
        let nulls = validity.words().is_some();
        // The vectors and the range as locals while the loop runs (kept in registers,
        // not reloaded through `self` at every push).
        let [mut sel, mut base] = std::mem::take(&mut self.vals);
        let (mut lo, mut hi) = (self.lo, self.hi);
        for (i, (x, s)) in values.iter().zip(side).enumerate() {
            if *s == 0 || *s > 2 || (nulls && !validity.is_valid(i)) {
                continue;
            }
            let v = to_f64(*x);
            if v.is_nan() {
                continue;
            }
            // Edges span the finite values (so infinities are counted without turning
            // the edges into NaN).
            if v.is_finite() {
                if v < lo {
                    lo = v;
                }
                if v > hi {
                    hi = v;
                }
            }
            if *s == 1 {
                sel.push(v);
            } else {
                base.push(v);
            }
            if let Some(w) = weight {
                self.wts[(*s - 1) as usize].push(w(i));
            }
        }
        self.vals = [sel, base];
        (self.lo, self.hi) = (lo, hi);
    }
}

/// Counts a measure over the rows of each side. `weighted`: the events carry sample
/// rates (`weight`); otherwise every weight is 1 and the percentiles come from selection
/// (`select_percentiles`), not a sort of the million values of the baseline.
fn measure_counts(
    c: &Column,
    side: &[u8],
    rows: [usize; 2],
    weight: &dyn Fn(usize) -> u64,
    weighted: bool,
) -> Option<MeasureCounts> {
    // Sized for each side's rows: growing a million-value vector copies it again and again.
    let mut g = Gathered {
        vals: [Vec::with_capacity(rows[0]), Vec::with_capacity(rows[1])],
        wts: Default::default(),
        lo: f64::INFINITY,
        hi: f64::NEG_INFINITY,
    };
    let w = weighted.then_some(weight);
    match &c.data {
        ColumnData::Float(v) => g.gather(v, |x| x, side, &c.validity, w),
        ColumnData::Int(v) => g.gather(v, |x| x as f64, side, &c.validity, w),
        ColumnData::UInt(v) => g.gather(v, |x| x as f64, side, &c.validity, w),
        _ => return None,
    }
    let Gathered { vals, wts, lo, hi } = g;
    let [sel, base] = vals;
    let [sel_w, base_w] = wts;
    if sel.is_empty() || base.is_empty() {
        return None;
    }
    let (edges, log) = measure_edges(lo, hi);
    let side_counts = |mut v: Vec<f64>, w: Vec<u64>| -> SideCounts {
        let mut h = vec![0u64; MEASURE_BUCKETS];
        if weighted {
            for (x, w) in v.iter().zip(&w) {
                h[measure_bucket(&edges, *x)] += w;
            }
        } else {
            h = histogram(&edges, &v);
        }
        if !weighted || w.iter().all(|x| *x == 1) {
            let count = v.len() as u64;
            let [p50, p95] = select_percentiles(&mut v, [0.5, 0.95]);
            return SideCounts { count, histogram: h, p50, p95 };
        }
        let mut pairs: Vec<(f64, u64)> = v.into_iter().zip(w).collect();
        pairs.sort_unstable_by(|a, b| a.0.total_cmp(&b.0));
        let count = pairs.iter().map(|x| x.1).sum();
        SideCounts { count, histogram: h, p50: weighted_percentile(&pairs, 0.5), p95: weighted_percentile(&pairs, 0.95) }
    };
    let (selection, baseline) = (side_counts(sel, sel_w), side_counts(base, base_w));
    Some(MeasureCounts { column: c.name.clone(), edges, log, selection, baseline })
}

/// The percentiles `ps` (ascending) of `v` as [`percentile`] gives them over `v` sorted
/// by `total_cmp`, by selection: each order statistic by `select_nth_unstable`, the one
/// above it as the least of the rest.
fn select_percentiles<const N: usize>(v: &mut [f64], ps: [f64; N]) -> [Option<f64>; N] {
    let mut out = [None; N];
    let n = v.len();
    if n == 0 {
        return out;
    }
    let mut base = 0;
    for (k, p) in ps.iter().enumerate() {
        let pos = p * (n - 1) as f64;
        let lo = (pos.floor() as usize).clamp(base, n - 1);
        v[base..].select_nth_unstable_by(lo - base, |a, b| a.total_cmp(b));
        base = lo;
        let a = v[lo];
        let b = v[lo + 1..].iter().copied().min_by(|x, y| x.total_cmp(y)).unwrap_or(a);
        out[k] = Some(interpolate(a, b, pos - lo as f64));
    }
    out
}

/// A measure compared, and the natural log of its p-value (significance is decided
/// later, by Benjamini-Hochberg over every test of the comparison).
fn measure(m: MeasureCounts, evidence: Evidence) -> (Measure, f64) {
    let shares = |s: &SideCounts| -> Vec<f64> {
        let n = s.count.max(1) as f64;
        s.histogram.iter().map(|x| *x as f64 / n).collect()
    };
    let (hs, hb) = (shares(&m.selection), shares(&m.baseline));
    let (mut cs, mut cb, mut d) = (0.0, 0.0, 0.0f64);
    for k in 0..hs.len().min(hb.len()) {
        cs += hs[k];
        cb += hb[k];
        d = d.max((cs - cb).abs());
    }
    let (n1, n2) = (m.selection.count as f64 * evidence.selection, m.baseline.count as f64 * evidence.baseline);
    let ne = (n1 * n2 / (n1 + n2)).sqrt();
    let ln_p = ln_ks_sf((ne + 0.12 + 0.11 / ne) * d);
    let (p, log10_p) = p_fields(ln_p);
    let stats = |s: &SideCounts, h: Vec<f64>| SideStats { count: s.count, p50: s.p50, p95: s.p95, histogram: h };
    (
        Measure {
            column: m.column.clone(),
            score: d,
            p_value: Some(p),
            log10_p_value: Some(log10_p),
            significant: false,
            scale: if m.log { "log" } else { "linear" },
            selection: stats(&m.selection, hs),
            baseline: stats(&m.baseline, hb),
            edges: m.edges,
        },
        ln_p,
    )
}

/// A dimension's value, ordered as ties are broken: by value, null last.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DimValue {
    /// A boolean.
    Bool(bool),
    /// An integer, exact.
    Int(i128),
    /// A string (compared by bytes).
    Str(String),
    /// Null.
    Null,
}

impl DimValue {
    /// As results give it (integers beyond 2^53 as decimal strings).
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            DimValue::Bool(b) => (*b).into(),
            DimValue::Int(x) => crate::query::int_json(*x),
            DimValue::Str(s) => s.as_str().into(),
            DimValue::Null => serde_json::Value::Null,
        }
    }
}

/// One dimension's values counted on both sides, however they were counted.
pub struct DimCounts<'a> {
    /// The column.
    pub column: String,
    /// (selection count, baseline count) of every value present on either side.
    pub rows: Vec<(u64, u64)>,
    /// The value of row `r`.
    pub value: Box<dyn Fn(usize) -> DimValue + 'a>,
    /// Rows `r` and `q` in their values' order ([`DimValue`]'s), without making values.
    pub order: Box<dyn Fn(usize, usize) -> std::cmp::Ordering + 'a>,
    /// Values counted but not in `rows`, summed: a counter may leave out values that
    /// cannot change the answer (untested, and ranked below `top` other untested ones).
    pub unlisted: Unlisted,
}

/// Values of a dimension summed rather than listed (see [`DimCounts::unlisted`]).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Unlisted {
    /// How many values.
    pub values: u64,
    /// Their events in the selection.
    pub selection_count: u64,
    /// Their events in the baseline.
    pub baseline_count: u64,
    /// The sum over them of |a * baseline - b * selection| (exact: see `tvd`).
    pub gap: u128,
}

/// The comparison's options, checked: `(alpha, top, min_count)`.
pub fn options(spec: &CompareSpec) -> Result<(f64, usize, u64)> {
    let alpha = spec.alpha.unwrap_or(0.05);
    if !(alpha > 0.0 && alpha < 1.0) {
        return Err(Error::Spec(format!("alpha must be between 0 and 1, got {alpha}")));
    }
    Ok((alpha, spec.top.unwrap_or(10).clamp(1, 1000), spec.min_count.unwrap_or(5)))
}

/// Compares the selection with the baseline.
pub fn compare(ds: &Dataset, spec: &CompareSpec) -> Result<Comparison> {
    // The scope's calculated fields are columns both sides can filter on and be compared by.
    if let Some(view) = crate::formula::with_calculated(ds, &spec.scope.calculated_fields)? {
        let inner =
            CompareSpec { scope: QuerySpec { calculated_fields: Vec::new(), ..spec.scope.clone() }, ..spec.clone() };
        return compare(&view, &inner);
    }
    options(spec)?;
    let side = sides(ds, spec)?;
    // Sample rates (the scope's sample_rate_column, else SampleRate): every count is of
    // the events the sample stands for.
    let rate_col = crate::plan::Catalog::of(ds).sample_rate_column(spec.scope.sample_rate_column.as_deref())?;
    let rates = match rate_col {
        Some(i) => Some(crate::view::Weights::of(&ds.columns()[i])?),
        None => None,
    };
    let weight = |i: usize| rates.map_or(1, |r| whole(r.get(i)));
    let (mut ns, mut nb, mut sq, mut rows) = (0u64, 0u64, [0f64; 2], [0usize; 2]);
    for (i, s) in side.iter().enumerate() {
        if *s != 0 {
            rows[(*s - 1) as usize] += 1;
            let w = weight(i);
            if *s == 1 {
                ns += w;
            } else {
                nb += w;
            }
            sq[(*s - 1) as usize] += (w * w) as f64;
        }
    }
    // Kish: (sum w)^2 / sum w^2 events of evidence per side, as a scale of the counts.
    let scale = |n: u64, sq: f64| if n == 0 || sq == 0.0 { 1.0 } else { n as f64 / sq };
    let evidence = Evidence { selection: scale(ns, sq[0]), baseline: scale(nb, sq[1]) };

    // Which columns.
    let dims: Vec<&Column> = match &spec.dimensions {
        Some(names) => names.iter().map(|n| ds.column(n)).collect::<Result<_>>()?,
        None => ds
            .columns()
            .iter()
            .map(|c| &**c)
            .filter(|c| matches!(c.role, Role::String | Role::Bool | Role::Number))
            .collect(),
    };
    let meas: Vec<&Column> = match &spec.measures {
        Some(names) => names
            .iter()
            .map(|n| {
                let c = ds.column(n)?;
                if c.role != Role::Number {
                    return Err(Error::Operator {
                        op: "compare".into(),
                        column: n.clone(),
                        message: format!("a measure needs a numeric column, this one is {}", c.arrow_type),
                    });
                }
                Ok(c)
            })
            .collect::<Result<_>>()?,
        None => ds.columns().iter().map(|c| &**c).filter(|c| c.role == Role::Number).collect(),
    };

    // Count every value of every dimension on both sides.
    struct Counted<'a> {
        column: String,
        codes: Codes<'a>,
        /// (code, selection count, baseline count) of each value listed.
        rows: Vec<(u32, u64, u64)>,
        unlisted: Unlisted,
    }
    let (_, top, min_count) = options(spec)?;
    let mut counted = Vec::new();
    // A column the selection is defined by (`=` or `in` among its filters) would rank
    // first trivially: leave it out unless asked for.
    let pinned: Vec<&str> =
        spec.selection.filters.iter().filter(|f| f.op == "=" || f.op == "in").map(|f| f.column.as_str()).collect();
    let refuse = |c: &Column| Error::Operator {
        op: "compare".into(),
        column: c.name.clone(),
        message: format!("a dimension needs a string, bool or integer column with at most {MAX_INT_DIMENSION_VALUES} values"),
    };
    for c in dims {
        if matches!(c.data, ColumnData::Float(_)) && spec.dimensions.is_none() {
            continue; // floats are measures
        }
        if spec.dimensions.is_none() && pinned.contains(&c.name.as_str()) {
            continue;
        }
        let Some(codes) = dimension_codes(c, &side, spec.dimensions.is_none())? else {
            if spec.dimensions.is_some() {
                return Err(refuse(c));
            }
            continue;
        };
        let card = codes.card();
        // Both sides' counts interleaved: one cache line per value.
        let mut cnt: Vec<[u64; 2]> = Vec::new();
        if cnt.try_reserve_exact(card).is_err() {
            return Err(Error::OutOfMemory {
                offset: 0,
                message: format!("column \"{}\": no memory to count its {card} values", c.name),
            });
        }
        cnt.resize(card, [0; 2]);
        // The code of a value by its offset (`Codes::Offset`), 0 when null or outside.
        let offset_code = |i: usize, base: i128| -> usize {
            if !c.validity.is_valid(i) {
                return 0;
            }
            let v = match &c.data {
                ColumnData::Int(v) => v.get(i).map_or(0, |x| *x as i128),
                ColumnData::UInt(v) => v.get(i).map_or(0, |x| *x as i128),
                _ => return 0,
            };
            usize::try_from(v - base + 1).unwrap_or(0)
        };
        let code_of = |i: usize| -> usize {
            match &codes {
                Codes::Str(v, _) => v.get(i).map_or(0, |c| *c as usize),
                Codes::Bool(v) => v.get(i).map_or(2, |c| *c as usize),
                Codes::Int(v, _) => v.get(i).map_or(0, |c| *c as usize),
                Codes::Offset(base, _) => offset_code(i, *base),
            }
        };
        match rates {
            None => {
                let mut count = |code: usize, s: u8| {
                    if let Some(c) = cnt.get_mut(code) {
                        c[(s - 1) as usize] += 1;
                    }
                };
                match &codes {
                    Codes::Str(v, _) => {
                        side.iter().zip(v.iter()).filter(|(s, _)| **s != 0).for_each(|(s, c)| count(*c as usize, *s))
                    }
                    Codes::Bool(v) => {
                        side.iter().zip(v.iter()).filter(|(s, _)| **s != 0).for_each(|(s, c)| count(*c as usize, *s))
                    }
                    Codes::Int(v, _) => {
                        side.iter().zip(v.iter()).filter(|(s, _)| **s != 0).for_each(|(s, c)| count(*c as usize, *s))
                    }
                    // The offset in the column's own type (a value out of range wraps to a
                    // code past the table, which counts nothing).
                    Codes::Offset(base, _) => match &c.data {
                        ColumnData::Int(v) => {
                            let b = *base as i64;
                            count_offsets(v, |x| x.wrapping_sub(b) as u64, &side, &c.validity, &mut cnt)
                        }
                        ColumnData::UInt(v) => {
                            let b = *base as u64;
                            count_offsets(v, |x| x.wrapping_sub(b), &side, &c.validity, &mut cnt)
                        }
                        _ => {}
                    },
                }
            }
            Some(_) => {
                for (i, s) in side.iter().enumerate() {
                    if *s != 0 {
                        if let Some(c) = cnt.get_mut(code_of(i)) {
                            c[(*s - 1) as usize] += weight(i);
                        }
                    }
                }
            }
        }
        if let Codes::Offset(base, _) = &codes {
            // What `dimension_codes` decides for coded integers, on the counts.
            let present: Vec<usize> = (1..cnt.len()).filter(|k| cnt[*k][0] + cnt[*k][1] > 0).collect();
            let (lo, hi) = (present.first().map_or(0, |k| base + *k as i128), present.last().map_or(0, |k| base + *k as i128));
            if present.len() > MAX_INT_DIMENSION_VALUES || (spec.dimensions.is_none() && is_quantity(present.len(), lo, hi)) {
                if spec.dimensions.is_some() {
                    return Err(refuse(c));
                }
                continue;
            }
        }
        let (rows, unlisted) = list_values(&cnt, &codes, ns, nb, top, min_count);
        counted.push(Counted { column: c.name.clone(), codes, rows, unlisted });
    }
    let dims: Vec<DimCounts> = counted
        .into_iter()
        .map(|c| {
            let rows: Vec<(u64, u64)> = c.rows.iter().map(|r| (r.1, r.2)).collect();
            let codes: std::rc::Rc<Vec<u32>> = std::rc::Rc::new(c.rows.iter().map(|r| r.0).collect());
            let names = std::rc::Rc::new(c.codes);
            let (codes2, names2) = (codes.clone(), names.clone());
            DimCounts {
                column: c.column,
                rows,
                value: Box::new(move |r| codes.get(r).map_or(DimValue::Null, |k| dim_value(&names, *k as usize))),
                order: Box::new(move |r, q| {
                    let (a, b) = (codes2.get(r).copied().unwrap_or(0), codes2.get(q).copied().unwrap_or(0));
                    code_cmp(&names2, a, b)
                }),
                unlisted: c.unlisted,
            }
        })
        .collect();
    let measures: Vec<MeasureCounts> =
        meas.into_iter().filter_map(|c| measure_counts(c, &side, rows, &weight, rates.is_some())).collect();
    let mut r = finish(spec, ns, nb, dims, measures, rates.map(|_| evidence))?;
    r.sample_rate_column = rate_col.map(|i| ds.columns()[i].name.clone());
    Ok(r)
}

/// The statistics of a comparison from its counts: every value's test, one
/// Benjamini-Hochberg family with the measures, scores, ranks. The engine counts in
/// [`compare`]; the server's ClickHouse executor counts in SQL and finishes here.
pub fn finish(
    spec: &CompareSpec,
    ns: u64,
    nb: u64,
    counted: Vec<DimCounts>,
    measures: Vec<MeasureCounts>,
    evidence: Option<Evidence>,
) -> Result<Comparison> {
    let (alpha, top, min_count) = options(spec)?;
    let ev = evidence.unwrap_or(Evidence { selection: 1.0, baseline: 1.0 });
    // A selection that fixes a column: a dimension with one value over all of it is a
    // fact the selection determines (each customer has one plan), not a difference to
    // rank, and it stays out of the tests (dimensions asked for by name stay ranked).
    let pins = spec.dimensions.is_none() && spec.selection.filters.iter().any(|f| f.op == "=" || f.op == "in");
    let mut facts = Vec::new();
    let mut counted = counted;
    if pins && ns > 0 {
        counted.retain(|c| {
            let mut present = c.rows.iter().enumerate().filter(|(_, r)| r.0 > 0);
            let (Some((r, row)), None) = (present.next(), present.next()) else { return true };
            if c.unlisted.selection_count > 0 {
                return true;
            }
            let value = (c.value)(r);
            if value == DimValue::Null {
                return true;
            }
            facts.push(Fact {
                column: c.column.clone(),
                value: value.to_json(),
                baseline_share: row.1 as f64 / nb.max(1) as f64,
            });
            false
        });
    }

    // Test values with enough events.
    let mut tests: Vec<(usize, usize, f64)> = Vec::new(); // (dimension, row, ln p)
    let (fs, fb) = (ns.max(1) as f64, nb.max(1) as f64);
    for (d, c) in counted.iter().enumerate() {
        for (r, (a, b)) in c.rows.iter().enumerate() {
            // Gate on the value's total, never on how it split: choosing values by what
            // the selection shows would inflate findings.
            if a + b >= min_count && ns > 0 && nb > 0 {
                let ln_p = match evidence {
                    None => {
                        let total = a + b;
                        let p0 = fs / (fs + fb);
                        let expected = total as f64 * p0;
                        if expected.min(total as f64 - expected) < 10.0 {
                            ln_binomial_two_sided(*a, total, p0)
                        } else {
                            g_test(*a as f64, (ns - a) as f64, *b as f64, (nb - b) as f64).1
                        }
                    }
                    // Weighted counts scaled to the evidence behind them (Kish).
                    Some(e) => {
                        let (a, b) = (*a as f64 * e.selection, *b as f64 * e.baseline);
                        let (n1, n2) = (fs * e.selection, fb * e.baseline);
                        let (total, p0) = (a + b, n1 / (n1 + n2));
                        let expected = total * p0;
                        if expected.min(total - expected) < 10.0 {
                            ln_binomial_two_sided(a.round() as u64, total.round().max(a.round()) as u64, p0)
                        } else {
                            g_test(a, (n1 - a).max(0.0), b, (n2 - b).max(0.0)).1
                        }
                    }
                };
                tests.push((d, r, ln_p));
            }
        }
    }
    let mut measured: Vec<(Measure, f64)> = measures.into_iter().map(|m| measure(m, ev)).collect();
    // One Benjamini-Hochberg family: every tested value of every dimension, and every measure.
    let family: Vec<f64> = tests.iter().map(|t| t.2).chain(measured.iter().map(|m| m.1)).collect();
    let discoveries = benjamini_hochberg(&family, alpha);
    let m = family.len();
    let mut pv: Vec<Vec<Option<(f64, bool)>>> = counted.iter().map(|c| vec![None; c.rows.len()]).collect();
    for ((d, r, ln_p), sig) in tests.iter().zip(&discoveries) {
        pv[*d][*r] = Some((*ln_p, *sig));
    }
    for ((m, _), sig) in measured.iter_mut().zip(&discoveries[tests.len()..]) {
        m.significant = *sig;
    }

    // Dimensions, with the strength of their strongest significant value (ln p) to break
    // ties of score.
    let mut dimensions: Vec<(Dimension, f64)> = counted
        .into_iter()
        .enumerate()
        .map(|(d, c)| {
            let diff = |a: u64, b: u64| a as f64 / fs - b as f64 / fb;
            let sig: Vec<bool> = pv[d].iter().map(|p| p.is_some_and(|p| p.1)).collect();
            let evidence = pv[d].iter().flatten().filter(|p| p.1).map(|p| p.0).fold(0.0f64, f64::min);
            // Sums of |a/ns - b/nb| as exact integers (|a nb - b ns|) divided once: the
            // same number whatever order the values were counted in (here, or in SQL).
            let (ins, inb) = (ns.max(1) as u128, nb.max(1) as u128);
            let gap = |a: u64, b: u64| gap(a, b, ns, nb);
            let exact = |sum: u128| 0.5 * (sum as f64 / (ins * inb) as f64);
            let tvd = exact(c.rows.iter().map(|(a, b)| gap(*a, *b)).sum::<u128>() + c.unlisted.gap);
            let score = exact(c.rows.iter().zip(&sig).filter(|(_, s)| **s).map(|((a, b), _)| gap(*a, *b)).sum());
            // The values that explain most: significant first, then by |difference|.
            // Equal differences: over-represented in the selection first.
            // Still equal: by value (null last), so the answer does not depend on the
            // order values were met in.
            let ranks: Vec<(bool, f64, f64)> = c
                .rows
                .iter()
                .zip(&sig)
                .map(|((a, b), s)| {
                    let d = diff(*a, *b);
                    (*s, d.abs(), d)
                })
                .collect();
            let by_rank =
                |x: &usize, y: &usize| ranks[*y].partial_cmp(&ranks[*x]).unwrap_or(std::cmp::Ordering::Equal);
            let by = |x: &usize, y: &usize| by_rank(x, y).then_with(|| (c.order)(*x, *y));
            let mut idx: Vec<usize> = (0..c.rows.len()).collect();
            let keep = top.min(idx.len());
            if idx.len() > keep && keep > 0 {
                // The top `keep` by rank, then by value among the values tied with the
                // last one kept: comparing values (strings) only within that tie, not
                // across an id column's million equally ranked values.
                select_by(&mut idx, keep - 1, &|x, y| by_rank(&x, &y));
                let edge = ranks[idx[keep - 1]];
                let (mut top_rows, mut tied): (Vec<usize>, Vec<usize>) =
                    idx.iter().filter(|r| ranks[**r] >= edge).partition(|r| ranks[**r] > edge);
                let need = keep - top_rows.len();
                if tied.len() > need && need > 0 {
                    select_by(&mut tied, need - 1, &|x, y| (c.order)(x, y));
                }
                top_rows.extend_from_slice(&tied[..need.min(tied.len())]);
                idx = top_rows;
            } else {
                idx.truncate(keep);
            }
            idx.sort_by(by);
            let (kept_s, kept_b) = idx.iter().fold((0u64, 0u64), |(s, b), r| (s + c.rows[*r].0, b + c.rows[*r].1));
            let (all_s, all_b) = c.rows.iter().fold((0u64, 0u64), |(s, b), r| (s + r.0, b + r.1));
            let values = idx
                .iter()
                .map(|r| {
                    let (a, b) = c.rows[*r];
                    let (ss, bs) = (a as f64 / fs, b as f64 / fb);
                    let p = pv[d][*r].map(|p| p_fields(p.0));
                    ValueDiff {
                        value: (c.value)(*r).to_json(),
                        selection_count: a,
                        selection_share: ss,
                        baseline_count: b,
                        baseline_share: bs,
                        diff_pp: (ss - bs) * 100.0,
                        lift: (b > 0).then(|| ss / bs),
                        p_value: p.map(|p| p.0),
                        log10_p_value: p.map(|p| p.1),
                        significant: sig[*r],
                    }
                })
                .collect();
            let u = c.unlisted;
            let other = Other {
                values: (c.rows.len() - idx.len()) as u64 + u.values,
                selection_count: all_s - kept_s + u.selection_count,
                baseline_count: all_b - kept_b + u.baseline_count,
            };
            let distinct = c.rows.len() as u64 + u.values;
            (Dimension { column: c.column, score, tvd, distinct, values, other }, evidence)
        })
        .collect();
    // By score; equal scores by the strength of the evidence (smaller ln p first), then
    // by the raw distance, then by name.
    dimensions.sort_by(|(a, ea), (b, eb)| {
        b.score.total_cmp(&a.score).then(ea.total_cmp(eb)).then(b.tvd.total_cmp(&a.tvd)).then(a.column.cmp(&b.column))
    });
    measured.sort_by(|(a, ea), (b, eb)| {
        b.significant
            .cmp(&a.significant)
            .then(b.score.total_cmp(&a.score))
            .then(ea.total_cmp(eb))
            .then(a.column.cmp(&b.column))
    });
    Ok(Comparison {
        selection_count: ns,
        baseline_count: nb,
        dimensions: dimensions.into_iter().map(|d| d.0).collect(),
        measures: measured.into_iter().map(|m| m.0).collect(),
        tests: m as u64,
        facts,
        sample_rate_column: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn branchless_buckets_are_the_partition_points() {
        let mut seed = 11u64;
        for (lo, hi) in [(0.3, 41_000.0), (-5.0, 7.0), (1.0, 1.0), (2.0, 1e300), (0.0, 1e-300)] {
            let (edges, _) = measure_edges(lo, hi);
            let slow = |v: f64| edges[1..].partition_point(|e| *e <= v).min(MEASURE_BUCKETS - 1);
            let mut probes: Vec<f64> = edges.clone();
            probes.extend([f64::INFINITY, f64::NEG_INFINITY, -0.0, 0.0, f64::MAX, f64::MIN]);
            probes.extend(edges.iter().flat_map(|e| [e.next_up(), e.next_down()]));
            for _ in 0..10_000 {
                seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                probes.push(lo - 1.0 + (hi - lo + 2.0) * (seed >> 11) as f64 / (1u64 << 53) as f64);
            }
            for v in probes {
                assert_eq!(measure_bucket(&edges, v), slow(v), "{v} on {lo}..{hi}");
            }
        }
        // Edges of another length (not the engine's) still answer.
        assert_eq!(measure_bucket(&[0.0, 1.0, 2.0], 5.0), 2);
        assert_eq!(measure_bucket(&[], 5.0), 0);
    }

    /// Listing only the values that can be shown changes nothing in the answer: the same
    /// comparison as with every value listed, over count tables with thousands of rare
    /// values, ties across classes (equal sides) and significant values.
    #[test]
    fn unlisted_rare_values_change_nothing() {
        let mut seed = 9u64;
        let mut next = |m: u64| {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (seed >> 33) % m
        };
        let mut checked = 0;
        for case in 0..60 {
            let n = [1500, 3000, 2100][case % 3];
            let mode = case % 5;
            let cnt: Vec<[u64; 2]> = (0..n)
                .map(|k| match (mode, next(20)) {
                    // Few values in the selection: rare ones fill the top.
                    (3, _) if k % 100 == 0 => [1, next(3)],
                    (3, 0) => [0, 0],
                    (3, _) => [0, 1 + next(3)],
                    // Ties across classes: (1, 2) and (0, 1) rank alike on equal sides,
                    // (0, 2) above everything.
                    (4, _) if k % 500 == 0 => [1, 0],
                    (4, _) if k % 50 < 10 => [1, 2],
                    (4, r) => [0, 1 + (r % 2) * (1 - case as u64 % 2)],
                    (_, 0) => [0, 0],
                    (_, 1 | 2) => [next(4), next(4)],
                    (_, 3) if k % 7 == 0 => [40 + next(60), next(30)], // over-represented: significant
                    (_, 3) => [next(3), 20 + next(100)],
                    (_, 4) if case % 2 == 0 => [1, 0],
                    _ => [0, 1 + next(4)],
                })
                .collect();
            let (mut ns, mut nb) = cnt.iter().fold((0, 0), |(s, b), c| (s + c[0], b + c[1]));
            if case % 4 == 1 || mode == 4 {
                nb = ns; // equal sides: a rare baseline value ties values listed anyway
            } else if case % 4 == 2 {
                ns = ns.max(1);
                nb += 100_000;
            }
            let (top, min_count) = ([1, 3, 6, 50][case % 4], if mode == 4 { 5 } else { [1, 5, 20][case % 3] });
            let spec = CompareSpec { top: Some(top), min_count: Some(min_count), ..Default::default() };
            let codes = Codes::Offset(0, n);
            let dim = |rows: Vec<(u32, u64, u64)>, unlisted: Unlisted| {
                let values: Vec<(u64, u64)> = rows.iter().map(|r| (r.1, r.2)).collect();
                let ks: Vec<u32> = rows.iter().map(|r| r.0).collect();
                let ks2 = ks.clone();
                let codes = &codes;
                DimCounts {
                    column: "id".into(),
                    rows: values,
                    value: Box::new(move |r| dim_value(codes, ks[r] as usize)),
                    order: Box::new(move |r, q| code_cmp(codes, ks2[r], ks2[q])),
                    unlisted,
                }
            };
            let all: Vec<(u32, u64, u64)> =
                cnt.iter().enumerate().filter(|(_, c)| c[0] + c[1] > 0).map(|(k, c)| (k as u32, c[0], c[1])).collect();
            let (listed, unlisted) = list_values(&cnt, &codes, ns, nb, top, min_count);
            if listed.len() < all.len() {
                checked += 1;
            }
            let want = finish(&spec, ns, nb, vec![dim(all, Unlisted::default())], vec![], None).unwrap();
            let got = finish(&spec, ns, nb, vec![dim(listed, unlisted)], vec![], None).unwrap();
            assert_eq!(got, want, "case {case}");
        }
        assert!(checked > 30, "only {checked} cases left values out");
    }

    #[test]
    fn selected_percentiles_are_the_sorted_ones() {
        let mut seed = 3u64;
        for n in [1usize, 2, 3, 10, 101, 5000] {
            let mut v: Vec<f64> = (0..n)
                .map(|_| {
                    seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                    match seed >> 61 {
                        0 => f64::INFINITY,
                        1 => -0.0,
                        2 => 0.0,
                        _ => (seed >> 40) as f64 / 7.0 - 1e5,
                    }
                })
                .collect();
            let mut sorted = v.clone();
            sorted.sort_by(f64::total_cmp);
            let want = [percentile(&sorted, 0.5), percentile(&sorted, 0.95)];
            let got = select_percentiles(&mut v, [0.5, 0.95]);
            assert_eq!(got.map(|x| x.map(f64::to_bits)), want.map(|x| x.map(f64::to_bits)), "n = {n}");
        }
        assert_eq!(select_percentiles(&mut [], [0.5]), [None]);
    }

    fn p(ln_p: f64) -> f64 {
        ln_p.exp()
    }

    #[test]
    fn tails_match_known_values() {
        // erfc and chi2(1) survival at known points.
        for (z, want) in
            [(0.5, 0.479_500_122_186_953_5), (1.0, 0.157_299_207_050_285_1), (2.0, 0.004_677_734_981_047_266)]
        {
            assert!((p(ln_erfc(z)) - want).abs() < 1e-9 * want, "erfc({z}) = {}", p(ln_erfc(z)));
        }
        assert!((p(ln_chi2_1_sf(3.841_458_820_694_124)) - 0.05).abs() < 1e-10);
        assert_eq!(ln_chi2_1_sf(0.0), 0.0);
        // The asymptotic branch continues the direct one at z = 20 (both double precision).
        let (below, above) = (statrs::function::erf::erfc(19.999_999).ln(), ln_erfc(20.0));
        assert!((below - above).abs() < 1e-4, "{below} vs {above}");
        // erfc(30) = 2.5646562037561116e-393: below f64, exact in log space.
        assert!((ln_erfc(30.0) - (2.564_656_203_756_112_f64.ln() - 393.0 * std::f64::consts::LN_10)).abs() < 1e-9);
        // A balanced table is not significant; a lopsided one is.
        assert!(p(g_test(50.0, 50.0, 500.0, 500.0).1) > 0.99);
        assert!(p(g_test(90.0, 10.0, 100.0, 900.0).1) < 1e-10);
        assert!((p(ln_ks_sf(1.358)) - 0.05).abs() < 1e-3);
        assert!((ln_ks_sf(30.0) - (std::f64::consts::LN_2 - 1800.0)).abs() < 1e-9);
        assert!((ln_gamma(10.0) - 362_880f64.ln()).abs() < 1e-9);
        // 8 of 10 at p = 0.5: two-sided 0.109375.
        assert!((p(ln_binomial_two_sided(8, 10, 0.5)) - 0.109_375).abs() < 1e-12);
        assert!((p(ln_binomial_two_sided(2, 10, 0.5)) - 0.109_375).abs() < 1e-12);
        assert_eq!(ln_binomial_two_sided(5, 10, 0.5), 0.0);
        // 1,000 of 1,000 at p = 0.001: 2 · 0.001^1000 = 1e-2999.7, finite in log space.
        let l = ln_binomial_two_sided(1000, 1000, 0.001);
        assert!((l - (std::f64::consts::LN_2 + 1000.0 * 0.001f64.ln())).abs() < 1e-6, "{l}");
    }

    /// G from 1e-3 to 1e7: ln p is finite, strictly decreasing, and agrees with the
    /// asymptotic form where that applies.
    #[test]
    fn g_up_to_1e7_never_underflows() {
        let mut prev = 1.0;
        let mut g = 1e-3;
        while g <= 1e7 {
            let l = ln_chi2_1_sf(g);
            assert!(l.is_finite() && l <= 0.0, "G={g}: {l}");
            assert!(l < prev, "G={g}: {l} not below {prev}");
            if g > 1000.0 {
                // ln erfc(z) ≈ -z² - ln(z√π) for z = sqrt(G/2).
                let z = (g / 2.0).sqrt();
                let approx = -z * z - (z * std::f64::consts::PI.sqrt()).ln();
                assert!((l - approx).abs() < 1e-3 * (1.0 + 1.0 / g), "G={g}: {l} vs {approx}");
            }
            prev = l;
            g *= 1.7;
        }
        assert!((ln_chi2_1_sf(1e7) - (-5e6)).abs() < 20.0);
    }

    #[test]
    fn benjamini_hochberg_by_rank() {
        let ln = |ps: &[f64]| ps.iter().map(|x| x.ln()).collect::<Vec<_>>();
        // The textbook example: cutoffs k/m · 0.05 with m = 5.
        assert_eq!(benjamini_hochberg(&ln(&[0.001, 0.012, 0.028, 0.041, 0.9]), 0.05), [true, true, true, false, false]);
        // A later rank passing rescues the earlier ones (step-up).
        assert_eq!(benjamini_hochberg(&ln(&[0.011, 0.02, 0.03, 0.5]), 0.05), [true, true, true, false]);
        // p-values that underflow to 0 are the strongest, not "nothing passed".
        let all = [f64::NEG_INFINITY, -1e6, -7e5, (0.01f64).ln()];
        assert_eq!(benjamini_hochberg(&all, 0.05), [true; 4]);
        assert_eq!(benjamini_hochberg(&ln(&[0.5, 0.7, 0.9]), 0.05), [false; 3]);
        assert!(benjamini_hochberg(&[], 0.05).is_empty());
    }

    #[test]
    fn interpolation_never_makes_nan_from_one_infinity() {
        assert_eq!(interpolate(f64::NEG_INFINITY, 5.0, 0.5), f64::NEG_INFINITY);
        assert_eq!(interpolate(5.0, f64::INFINITY, 0.5), f64::INFINITY);
        assert_eq!(interpolate(f64::INFINITY, f64::INFINITY, 0.5), f64::INFINITY);
        assert_eq!(interpolate(1.0, 3.0, 0.25), 1.5);
    }
}
