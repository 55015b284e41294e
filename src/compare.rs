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

use crate::column::{Column, ColumnData, Role};
use crate::dataset::Dataset;
use crate::error::{Error, Result};
use crate::query::filter::{Filters, Rows};
use crate::query::spec::{FilterSpec, QuerySpec};
use crate::query::{resolve_time, time_rows};
use crate::util::FxHashMap;

/// One side of a comparison.
#[derive(Debug, Clone, Deserialize, Default, PartialEq)]
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
    pub filters: Vec<FilterSpec>,
    /// `AND` (default) or `OR`.
    #[serde(default)]
    pub filter_combination: Option<String>,
    /// Baseline only: the selection's time window this many seconds earlier.
    #[serde(default)]
    pub period: Option<f64>,
}

/// `{ scope, selection, baseline?, ... }`.
#[derive(Debug, Clone, Deserialize, Default, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CompareSpec {
    /// Time range and filters bounding both sides (other query fields are ignored).
    #[serde(default)]
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
pub struct ValueDiff {
    /// The value (`null` for nulls; `"(other)"` never appears here).
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
    /// G-test p-value (`null` when not tested: too few events).
    pub p_value: Option<f64>,
    /// Significant after Benjamini-Hochberg correction.
    pub significant: bool,
}

/// The values not listed, summed.
#[derive(Debug, Clone, Serialize, PartialEq)]
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
pub struct Measure {
    /// Column name.
    pub column: String,
    /// Kolmogorov-Smirnov distance between the bucketed distributions.
    pub score: f64,
    /// Its asymptotic p-value.
    pub p_value: Option<f64>,
    /// `p_value < alpha`.
    pub significant: bool,
    /// Shared bucket edges.
    pub edges: Vec<f64>,
    /// `log` or `linear`.
    pub scale: &'static str,
    /// The selection.
    pub selection: SideStats,
    /// The baseline.
    pub baseline: SideStats,
}

/// What `compare` returns.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Comparison {
    /// Events in the selection.
    pub selection_count: u64,
    /// Events in the baseline.
    pub baseline_count: u64,
    /// Dimensions, most different first.
    pub dimensions: Vec<Dimension>,
    /// Measures, most different first.
    pub measures: Vec<Measure>,
    /// Values tested (the Benjamini-Hochberg family size).
    pub tests: u64,
}

/// Largest distinct count of an integer column used as a dimension.
pub const MAX_INT_DIMENSION_VALUES: usize = 1000;
/// An integer column with more distinct values than this whose values fill a dense range
/// (span at most [`QUANTITY_SPAN`] times the distinct count) is a quantity, such as a count
/// of calls: a measure only. Sparse codes (HTTP statuses, enum ids) stay dimensions.
pub const QUANTITY_MIN_VALUES: usize = 10;
/// See [`QUANTITY_MIN_VALUES`].
pub const QUANTITY_SPAN: f64 = 3.0;
const MEASURE_BUCKETS: usize = 32;

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
    match &spec.baseline {
        None => scope_rows.each(|i| {
            side[i] = if in_window(sel, 0.0, i) && sel_filters.test(i) { 1 } else { 2 };
        }),
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
            for (i, s) in side.iter_mut().enumerate() {
                if *s == 0 && in_window(&window.0, window.1, i) && scope_filters.test(i) && base_filters.test(i) {
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
    Int(Vec<u32>, Vec<Option<f64>>),
}

/// `auto`: the column was not asked for by name, so a quantity-like integer column is left
/// to the measures.
fn dimension_codes<'a>(c: &'a Column, side: &[u8], auto: bool) -> Option<Codes<'a>> {
    match &c.data {
        ColumnData::Str { codes, dict } => Some(Codes::Str(codes, dict)),
        ColumnData::Bool(v) => Some(Codes::Bool(v)),
        ColumnData::Int(_) | ColumnData::UInt(_) => {
            let mut map: FxHashMap<u64, u32> = FxHashMap::default();
            let mut values = vec![None];
            let mut codes = vec![0u32; c.len()];
            for (i, code) in codes.iter_mut().enumerate() {
                if side.get(i).copied().unwrap_or(0) == 0 || !c.validity.is_valid(i) {
                    continue;
                }
                let v = match &c.data {
                    ColumnData::Int(v) => v[i] as f64,
                    ColumnData::UInt(v) => v[i] as f64,
                    _ => continue,
                };
                let next = values.len() as u32;
                *code = *map.entry(v.to_bits()).or_insert_with(|| {
                    values.push(Some(v));
                    next
                });
                if values.len() > MAX_INT_DIMENSION_VALUES + 1 {
                    return None; // not low-cardinality: a measure, not a dimension
                }
            }
            let distinct = values.len() - 1;
            let (lo, hi) =
                values.iter().flatten().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| (a.min(*v), b.max(*v)));
            if auto && distinct > QUANTITY_MIN_VALUES && hi - lo + 1.0 <= QUANTITY_SPAN * distinct as f64 {
                return None; // a dense range of counts: a quantity, compared as a measure
            }
            Some(Codes::Int(codes, values))
        }
        _ => None,
    }
}

/// The value of `code` as JSON (integers without a fraction).
fn value_name(codes: &Codes, code: usize) -> serde_json::Value {
    match codes {
        Codes::Str(_, d) => d.get(code as u32).map_or(serde_json::Value::Null, |s| s.into()),
        Codes::Bool(_) => match code {
            0 => false.into(),
            1 => true.into(),
            _ => serde_json::Value::Null,
        },
        Codes::Int(_, v) => v.get(code).copied().flatten().map_or(serde_json::Value::Null, |x| {
            if x.fract() == 0.0 && x.abs() < 9e15 {
                (x as i64).into()
            } else {
                x.into()
            }
        }),
    }
}

/// Survival function of the chi-square distribution with one degree of freedom.
fn chi2_1_sf(x: f64) -> f64 {
    if x <= 0.0 {
        1.0
    } else {
        erfc((x / 2.0).sqrt())
    }
}

/// Complementary error function (Numerical Recipes' erfcc: fractional error < 1.2e-7).
fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let r = t
        * (-z * z - 1.265_512_23
            + t * (1.000_023_68
                + t * (0.374_091_96
                    + t * (0.096_784_18
                        + t * (-0.186_288_06
                            + t * (0.278_868_07
                                + t * (-1.135_203_98
                                    + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77)))))))))
            .exp();
    if x >= 0.0 {
        r
    } else {
        2.0 - r
    }
}

/// G-test of independence on a 2x2 table: p-value.
fn g_test(a: f64, b: f64, c: f64, d: f64) -> f64 {
    let n = a + b + c + d;
    let cell = |o: f64, e: f64| if o > 0.0 && e > 0.0 { o * (o / e).ln() } else { 0.0 };
    let (r1, r2, c1, c2) = (a + b, c + d, a + c, b + d);
    if r1 == 0.0 || r2 == 0.0 || c1 == 0.0 || c2 == 0.0 {
        return 1.0;
    }
    let g = 2.0 * (cell(a, r1 * c1 / n) + cell(b, r1 * c2 / n) + cell(c, r2 * c1 / n) + cell(d, r2 * c2 / n));
    chi2_1_sf(g)
}

/// ln Γ(x) for x > 0 (Lanczos, g = 7).
fn ln_gamma(x: f64) -> f64 {
    const C: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        return (std::f64::consts::PI / (std::f64::consts::PI * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let mut a = C[0];
    let t = x + 7.5;
    for (i, c) in C.iter().enumerate().skip(1) {
        a += c / (x + i as f64);
    }
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + a.ln()
}

/// Exact two-sided binomial test: `a` successes in `n` trials at rate `p` (twice the
/// smaller tail, at most 1). Used where counts are too small for the G-test.
fn binomial_two_sided(a: u64, n: u64, p: f64) -> f64 {
    if n == 0 || p <= 0.0 || p >= 1.0 {
        return 1.0;
    }
    let (lp, lq) = (p.ln(), (1.0 - p).ln());
    let ln_n1 = ln_gamma(n as f64 + 1.0);
    let pmf = |k: u64| {
        (ln_n1 - ln_gamma(k as f64 + 1.0) - ln_gamma((n - k) as f64 + 1.0) + k as f64 * lp + (n - k) as f64 * lq).exp()
    };
    let mean = n as f64 * p;
    let mut tail = 0.0;
    if a as f64 >= mean {
        for k in a..=n {
            let t = pmf(k);
            tail += t;
            if t < tail * 1e-17 {
                break;
            }
        }
    } else {
        for k in (0..=a).rev() {
            let t = pmf(k);
            tail += t;
            if t < tail * 1e-17 {
                break;
            }
        }
    }
    (2.0 * tail).min(1.0)
}

/// Kolmogorov's distribution: P(K > lambda).
fn ks_sf(lambda: f64) -> f64 {
    if lambda < 1e-3 {
        return 1.0;
    }
    let mut sum = 0.0;
    for j in 1..=100 {
        let term = (-2.0 * (j * j) as f64 * lambda * lambda).exp();
        sum += if j % 2 == 1 { term } else { -term };
        if term < 1e-12 {
            break;
        }
    }
    (2.0 * sum).clamp(0.0, 1.0)
}

fn percentile(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let pos = p * (sorted.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = (lo + 1).min(sorted.len() - 1);
    Some(sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64))
}

fn measure(c: &Column, side: &[u8], alpha: f64) -> Option<Measure> {
    let get = |i: usize| -> Option<f64> {
        if !c.validity.is_valid(i) {
            return None;
        }
        let v = match &c.data {
            ColumnData::Int(v) => v.get(i).map(|x| *x as f64),
            ColumnData::UInt(v) => v.get(i).map(|x| *x as f64),
            ColumnData::Float(v) => v.get(i).copied(),
            _ => None,
        }?;
        (!v.is_nan()).then_some(v)
    };
    let (mut sel, mut base) = (Vec::new(), Vec::new());
    for (i, s) in side.iter().enumerate() {
        match (s, get(i)) {
            (1, Some(v)) => sel.push(v),
            (2, Some(v)) => base.push(v),
            _ => {}
        }
    }
    if sel.is_empty() || base.is_empty() {
        return None;
    }
    let (lo, hi) = sel.iter().chain(&base).fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| (a.min(*v), b.max(*v)));
    let log = lo > 0.0 && hi / lo > 20.0;
    let edges: Vec<f64> = (0..=MEASURE_BUCKETS)
        .map(|k| {
            let f = k as f64 / MEASURE_BUCKETS as f64;
            if log {
                lo * (hi / lo).powf(f)
            } else {
                lo + (hi - lo) * f
            }
        })
        .collect();
    let hist = |vals: &[f64]| -> Vec<f64> {
        let mut h = vec![0.0; MEASURE_BUCKETS];
        for v in vals {
            let b = edges[1..].partition_point(|e| e <= v).min(MEASURE_BUCKETS - 1);
            h[b] += 1.0;
        }
        let n = vals.len().max(1) as f64;
        h.iter_mut().for_each(|x| *x /= n);
        h
    };
    let (hs, hb) = (hist(&sel), hist(&base));
    let (mut cs, mut cb, mut d) = (0.0, 0.0, 0.0f64);
    for k in 0..MEASURE_BUCKETS {
        cs += hs[k];
        cb += hb[k];
        d = d.max((cs - cb).abs());
    }
    let (n1, n2) = (sel.len() as f64, base.len() as f64);
    let ne = (n1 * n2 / (n1 + n2)).sqrt();
    let p = ks_sf((ne + 0.12 + 0.11 / ne) * d);
    let stats = |mut v: Vec<f64>, h: Vec<f64>| -> SideStats {
        v.sort_unstable_by(f64::total_cmp);
        SideStats { count: v.len() as u64, p50: percentile(&v, 0.5), p95: percentile(&v, 0.95), histogram: h }
    };
    Some(Measure {
        column: c.name.clone(),
        score: d,
        p_value: Some(p),
        significant: p < alpha,
        edges,
        scale: if log { "log" } else { "linear" },
        selection: stats(sel, hs),
        baseline: stats(base, hb),
    })
}

/// Compares the selection with the baseline.
pub fn compare(ds: &Dataset, spec: &CompareSpec) -> Result<Comparison> {
    let alpha = spec.alpha.unwrap_or(0.05);
    if !(alpha > 0.0 && alpha < 1.0) {
        return Err(Error::Spec(format!("alpha must be between 0 and 1, got {alpha}")));
    }
    let top = spec.top.unwrap_or(10).clamp(1, 1000);
    let min_count = spec.min_count.unwrap_or(5);
    let side = sides(ds, spec)?;
    let (ns, nb) = side.iter().fold((0u64, 0u64), |(a, b), s| (a + (*s == 1) as u64, b + (*s == 2) as u64));

    // Which columns.
    let dims: Vec<&Column> = match &spec.dimensions {
        Some(names) => names.iter().map(|n| ds.column(n)).collect::<Result<_>>()?,
        None => ds.columns().iter().filter(|c| matches!(c.role, Role::String | Role::Bool | Role::Number)).collect(),
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
        None => ds.columns().iter().filter(|c| c.role == Role::Number).collect(),
    };

    // Count every value of every dimension on both sides.
    struct Counted<'a> {
        column: String,
        codes: Codes<'a>,
        /// (code, selection count, baseline count) of each value present.
        rows: Vec<(u32, u64, u64)>,
    }
    let mut counted = Vec::new();
    // A column the selection is defined by (`=` or `in` among its filters) would rank
    // first trivially: leave it out unless asked for.
    let pinned: Vec<&str> =
        spec.selection.filters.iter().filter(|f| f.op == "=" || f.op == "in").map(|f| f.column.as_str()).collect();
    for c in dims {
        if matches!(c.data, ColumnData::Float(_)) && spec.dimensions.is_none() {
            continue; // floats are measures
        }
        if spec.dimensions.is_none() && pinned.contains(&c.name.as_str()) {
            continue;
        }
        let Some(codes) = dimension_codes(c, &side, spec.dimensions.is_none()) else {
            if spec.dimensions.is_some() {
                return Err(Error::Operator {
                    op: "compare".into(),
                    column: c.name.clone(),
                    message: format!(
                        "a dimension needs a string, bool or integer column with at most {MAX_INT_DIMENSION_VALUES} values"
                    ),
                });
            }
            continue;
        };
        let card = match &codes {
            Codes::Str(_, d) => d.code_count(),
            Codes::Bool(_) => 3,
            Codes::Int(_, v) => v.len(),
        };
        // Both sides' counts interleaved: one cache line per value.
        let mut cnt = vec![[0u32; 2]; card];
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
        }
        let rows = cnt
            .iter()
            .enumerate()
            .filter(|(_, c)| c[0] + c[1] > 0)
            .map(|(k, c)| (k as u32, c[0] as u64, c[1] as u64))
            .collect();
        counted.push(Counted { column: c.name.clone(), codes, rows });
    }

    // Test values with enough events; correct all p-values together.
    let mut tests: Vec<(usize, usize, f64)> = Vec::new(); // (dimension, row, p)
    let (fs, fb) = (ns.max(1) as f64, nb.max(1) as f64);
    for (d, c) in counted.iter().enumerate() {
        for (r, (_, a, b)) in c.rows.iter().enumerate() {
            // Gate on the value's total, never on how it split: choosing values by what
            // the selection shows would inflate findings.
            if a + b >= min_count && ns > 0 && nb > 0 {
                let total = a + b;
                let p0 = fs / (fs + fb);
                let expected = total as f64 * p0;
                let p = if expected.min(total as f64 - expected) < 10.0 {
                    binomial_two_sided(*a, total, p0)
                } else {
                    g_test(*a as f64, (ns - a) as f64, *b as f64, (nb - b) as f64)
                };
                tests.push((d, r, p));
            }
        }
    }
    let m = tests.len();
    let mut ps: Vec<f64> = tests.iter().map(|t| t.2).collect();
    ps.sort_by(f64::total_cmp);
    let mut cutoff = 0.0;
    for (k, p) in ps.iter().enumerate() {
        if *p <= (k + 1) as f64 / m as f64 * alpha {
            cutoff = *p;
        }
    }
    let mut pv: Vec<Vec<Option<f64>>> = counted.iter().map(|c| vec![None; c.rows.len()]).collect();
    for (d, r, p) in &tests {
        pv[*d][*r] = Some(*p);
    }
    let significant = |p: Option<f64>| p.is_some_and(|p| m > 0 && p <= cutoff && cutoff > 0.0);

    let mut dimensions: Vec<Dimension> = counted
        .into_iter()
        .enumerate()
        .map(|(d, c)| {
            let diff = |a: u64, b: u64| a as f64 / fs - b as f64 / fb;
            let sig: Vec<bool> = pv[d].iter().map(|p| significant(*p)).collect();
            let tvd = 0.5 * c.rows.iter().map(|(_, a, b)| diff(*a, *b).abs()).sum::<f64>();
            let score = 0.5
                * c.rows.iter().zip(&sig).filter(|(_, s)| **s).map(|((_, a, b), _)| diff(*a, *b).abs()).sum::<f64>();
            // The values that explain most: significant first, then by |difference|.
            let rank = |r: &usize| (sig[*r], diff(c.rows[*r].1, c.rows[*r].2).abs());
            let by = |x: &usize, y: &usize| rank(y).partial_cmp(&rank(x)).unwrap_or(std::cmp::Ordering::Equal);
            let mut idx: Vec<usize> = (0..c.rows.len()).collect();
            let keep = top.min(idx.len());
            if idx.len() > keep && keep > 0 {
                idx.select_nth_unstable_by(keep - 1, by);
            }
            let rest = idx.split_off(keep);
            idx.sort_by(by);
            let values = idx
                .iter()
                .map(|r| {
                    let (code, a, b) = c.rows[*r];
                    let (ss, bs) = (a as f64 / fs, b as f64 / fb);
                    ValueDiff {
                        value: value_name(&c.codes, code as usize),
                        selection_count: a,
                        selection_share: ss,
                        baseline_count: b,
                        baseline_share: bs,
                        diff_pp: (ss - bs) * 100.0,
                        lift: (b > 0).then(|| ss / bs),
                        p_value: pv[d][*r],
                        significant: sig[*r],
                    }
                })
                .collect();
            let other = Other {
                values: rest.len() as u64,
                selection_count: rest.iter().map(|r| c.rows[*r].1).sum(),
                baseline_count: rest.iter().map(|r| c.rows[*r].2).sum(),
            };
            Dimension { column: c.column, score, tvd, distinct: c.rows.len() as u64, values, other }
        })
        .collect();
    dimensions.sort_by(|a, b| b.score.total_cmp(&a.score).then(b.tvd.total_cmp(&a.tvd)).then(a.column.cmp(&b.column)));

    let mut measures: Vec<Measure> = meas.into_iter().filter_map(|c| measure(c, &side, alpha)).collect();
    measures.sort_by(|a, b| b.significant.cmp(&a.significant).then(b.score.total_cmp(&a.score)));
    Ok(Comparison { selection_count: ns, baseline_count: nb, dimensions, measures, tests: m as u64 })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statistics() {
        // erfc against known values.
        for (x, want) in
            [(0.0, 1.0), (0.5, 0.479_500_122), (1.0, 0.157_299_207), (2.0, 0.004_677_735), (-1.0, 1.842_700_793)]
        {
            assert!((erfc(x) - want).abs() < 1e-6, "erfc({x})");
        }
        // chi2(1) survival at 3.841 is 0.05.
        assert!((chi2_1_sf(3.841_458_8) - 0.05).abs() < 1e-5);
        // A balanced table is not significant; a lopsided one is.
        assert!(g_test(50.0, 50.0, 500.0, 500.0) > 0.99);
        assert!(g_test(90.0, 10.0, 100.0, 900.0) < 1e-10);
        assert!((ks_sf(1.358) - 0.05).abs() < 1e-3);
        assert!((ln_gamma(10.0) - 362_880f64.ln()).abs() < 1e-9);
        // 8 of 10 at p = 0.5: two-sided 0.109375.
        assert!((binomial_two_sided(8, 10, 0.5) - 0.109_375).abs() < 1e-9);
        assert!((binomial_two_sided(2, 10, 0.5) - 0.109_375).abs() < 1e-9);
        assert_eq!(binomial_two_sided(5, 10, 0.5), 1.0);
    }
}
