//! Heatmaps: counts of events per (time bucket, value bucket).
//!
//! Value buckets are log-scaled by default (latencies span orders of magnitude) or
//! linear on request. In log scale, values that are zero or negative cannot be placed
//! on the axis; they are counted in a separate per-time-bucket `low` row so that no
//! event is dropped. Bucket edges are returned with the counts, and a value equal to an
//! edge always falls in the bucket that starts at it.

use serde::{Deserialize, Serialize};

use crate::column::{Column, ColumnData, Role};
use crate::dataset::Dataset;
use crate::error::{Error, Result};
use crate::view::{nice_step, numeric_getter, Rows, TimeAxis, Weights};

/// Value axis scale.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[cfg_attr(test, ts(rename = "HeatmapScale"))]
#[serde(rename_all = "lowercase")]
pub enum Scale {
    /// Geometric buckets between the smallest positive and the largest value.
    #[default]
    Log,
    /// Equal-width buckets between the smallest and the largest value.
    Linear,
}

/// What to count.
#[derive(Debug, Clone, Deserialize, Default)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[cfg_attr(test, ts(optional_fields))]
#[serde(deny_unknown_fields)]
pub struct HeatmapSpec {
    /// The numeric column on the y axis.
    pub column: String,
    /// The time column (default: [`Dataset::time_column`]).
    #[serde(default)]
    pub time_column: Option<String>,
    /// Start of the time range, unix seconds, inclusive (default: the oldest event).
    #[serde(default)]
    pub start_time: Option<f64>,
    /// End of the time range, unix seconds, exclusive (default: just after the newest event).
    #[serde(default)]
    pub end_time: Option<f64>,
    /// Most time buckets (default 120, at most 2000); buckets get a round width.
    #[serde(default)]
    pub time_buckets: Option<usize>,
    /// Number of value buckets (default 40, at most 1000).
    #[serde(default)]
    pub value_buckets: Option<usize>,
    /// Value scale (default log).
    #[serde(default)]
    #[cfg_attr(test, ts(optional = nullable))]
    pub scale: Scale,
}

/// The counts, with their edges.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct Heatmap {
    /// The value column.
    pub column: String,
    /// Time bucket edges, unix seconds; `time_buckets + 1` of them.
    pub time_edges: Vec<f64>,
    /// Value bucket edges; `value_buckets + 1` of them.
    pub value_edges: Vec<f64>,
    /// The scale of `value_edges`.
    pub scale: Scale,
    /// `counts[t * value_buckets + v]`: events in time bucket `t`, value bucket `v`.
    #[cfg_attr(test, ts(type = "Uint32Array"))]
    pub counts: Vec<u32>,
    /// Per time bucket: events whose value is zero or negative (log scale only).
    #[cfg_attr(test, ts(type = "Uint32Array"))]
    pub low: Vec<u32>,
    /// Largest cell count (including `low`).
    pub max_count: u32,
    /// Events counted.
    pub total: u64,
    /// Events in the time range whose value is null or NaN.
    pub nulls: u64,
}

impl Heatmap {
    /// Checks a heatmap made elsewhere (a server's answer) before drawing it: edges
    /// increasing and finite, counts and `low` of the sizes the edges imply.
    pub fn check(&self) -> Result<()> {
        let (tb, vb) = (self.time_buckets(), self.value_buckets());
        let bad = |what: &str| Err(Error::Spec(format!("heatmap data: {what}")));
        if tb == 0 || vb == 0 || tb > 100_000 || vb > 1000 {
            return bad("needs 2 or more edges on each axis");
        }
        let increasing = |e: &[f64]| e.iter().all(|x| x.is_finite()) && e.windows(2).all(|w| w[0] < w[1]);
        if !increasing(&self.time_edges) || !increasing(&self.value_edges) {
            return bad("edges must be finite and increasing");
        }
        if self.counts.len() != tb * vb {
            return bad(&format!("{} counts for {tb} x {vb} buckets", self.counts.len()));
        }
        if !(self.low.is_empty() || self.low.len() == tb) {
            return bad(&format!("{} low counts for {tb} time buckets", self.low.len()));
        }
        Ok(())
    }

    /// Number of time buckets.
    pub fn time_buckets(&self) -> usize {
        self.time_edges.len().saturating_sub(1)
    }
    /// Number of value buckets.
    pub fn value_buckets(&self) -> usize {
        self.value_edges.len().saturating_sub(1)
    }
}

/// Computes a heatmap of `spec.column` over time, over every row.
pub fn heatmap(ds: &Dataset, spec: &HeatmapSpec) -> Result<Heatmap> {
    let col = ds.column(&spec.column)?;
    let tcol = match &spec.time_column {
        Some(name) => ds.column(name)?,
        None => ds.time_column().ok_or_else(|| Error::Spec("the dataset has no time column".into()))?,
    };
    let ColumnData::Time { values: times, unit, .. } = &tcol.data else {
        return Err(Error::Operator {
            op: "HEATMAP".into(),
            column: tcol.name.clone(),
            message: format!("the time axis needs a time column, this one is {}", tcol.arrow_type),
        });
    };
    debug_assert_eq!(tcol.role, Role::Time);
    numeric_getter(col)?;
    let tb = spec.time_buckets.unwrap_or(120).clamp(1, 2000);
    let n = ds.row_count().min(times.len());
    let spu = unit.seconds_per_unit();
    // Time range in raw units: [t0, t1).
    let (mut lo, mut hi) = (i64::MAX, i64::MIN);
    if tcol.is_sorted() && n > 0 {
        (lo, hi) = (times[0], times[n - 1]);
    } else {
        for (i, t) in times.iter().enumerate().take(n) {
            if tcol.validity.is_valid(i) {
                lo = lo.min(*t);
                hi = hi.max(*t);
            }
        }
    }
    if lo > hi {
        (lo, hi) = (0, 0);
    }
    let t0 = match spec.start_time {
        Some(s) => unit.from_seconds(s),
        None => lo,
    };
    let t1 = match spec.end_time {
        Some(e) => {
            let t = unit.from_seconds(e);
            // The end is exclusive: keep a partial unit.
            if (t as f64) * spu < e {
                t.saturating_add(1)
            } else {
                t
            }
        }
        None => hi.saturating_add(1),
    };
    let (t0, t1) = if t0 >= t1 { (t0.min(t1), t0.min(t1).saturating_add(1)) } else { (t0, t1) };
    let span_s = (t1 as f64 - t0 as f64) * spu;
    // Round bucket widths (1 min, 15 min, 1 h, ...) with edges on multiples of the width,
    // unless the caller fixed the start.
    let width = ((nice_step(span_s, tb) / spu).round() as i64).max(1);
    let t0 = if spec.start_time.is_some() { t0 } else { t0.div_euclid(width) * width };
    let tb = ((t1 as i128 - t0 as i128 + width as i128 - 1) / width as i128).clamp(1, tb as i128) as usize;
    let axis = TimeAxis { column: tcol, t0, width, buckets: tb, cuts: None };
    heatmap_rows(col, &axis, &Rows::Range(0, n), spec.value_buckets.unwrap_or(40), spec.scale, None)
}

/// Maps a value to its value bucket. Log scale: a table indexed by the float's exponent
/// and top 6 mantissa bits (1/64 of an octave) gives the bucket of the cell's lower
/// end; comparisons with the next edges (usually one) make it exact. Linear scale: one multiplication, corrected against the edges.
struct Bucketer<'a> {
    edges: &'a [f64],
    log: bool,
    l0: f64,
    per: f64,
    vb: usize,
    /// Log scale: bucket of each (exponent, 6 mantissa bits) cell from `cell0` on.
    table: Vec<u16>,
    cell0: u64,
}

const CELL_SHIFT: u32 = 46;

impl<'a> Bucketer<'a> {
    fn new(edges: &'a [f64], log: bool) -> Bucketer<'a> {
        let vb = edges.len().saturating_sub(1).max(1);
        let (e0, elast) = (edges[0], edges[vb]);
        let (l0, per) = if log { (e0.log2(), vb as f64 / (elast / e0).log2()) } else { (e0, vb as f64 / (elast - e0)) };
        let mut b = Bucketer { edges, log, l0, per, vb, table: Vec::new(), cell0: 0 };
        if log && e0 > 0.0 && elast.is_finite() {
            let (c0, c1) = (e0.to_bits() >> CELL_SHIFT, elast.to_bits() >> CELL_SHIFT);
            if c1 >= c0 && c1 - c0 < 1 << 16 {
                b.cell0 = c0;
                b.table = (c0..=c1).map(|c| b.slow(f64::from_bits(c << CELL_SHIFT).max(e0)) as u16).collect();
            }
        }
        b
    }

    #[inline(always)]
    fn bucket(&self, v: f64) -> usize {
        if !self.log {
            let last = self.vb - 1;
            let guess = (v - self.l0) * self.per;
            let mut b = if guess > 0.0 { (guess as usize).min(last) } else { 0 };
            while b > 0 && v < self.edges[b] {
                b -= 1;
            }
            while b < last && v >= self.edges[b + 1] {
                b += 1;
            }
            return b;
        }
        if let Some(t) = (v.to_bits() >> CELL_SHIFT).checked_sub(self.cell0).and_then(|c| self.table.get(c as usize)) {
            // The cell's lower end is in bucket b, so v is in b or later: usually b or
            // b + 1 (cells are 1/64 octave; buckets are narrower only for tiny ranges).
            let mut b = *t as usize;
            while b + 1 < self.vb && v >= self.edges[b + 1] {
                b += 1;
            }
            return b;
        }
        self.slow(v)
    }

    fn slow(&self, v: f64) -> usize {
        let guess = if self.log { (v.log2() - self.l0) * self.per } else { (v - self.l0) * self.per };
        let last = self.vb - 1;
        let mut b = if guess > 0.0 { (guess as usize).min(last) } else { 0 };
        // Exact: edges[b] <= v < edges[b + 1] (the last bucket is closed).
        while b > 0 && v < self.edges[b] {
            b -= 1;
        }
        while b < last && v >= self.edges[b + 1] {
            b += 1;
        }
        b
    }
}

/// The value bucket edges of a heatmap whose finite values span `lo..=hi`, `min_pos`
/// being the smallest positive one (`+inf`, `-inf`, `+inf` when there are none): the
/// same `vb + 1` numbers on every executor (the engine here, the ClickHouse compiler
/// which writes them into its SQL), as a value equal to an edge must land in the same
/// cell everywhere.
pub fn value_edges(lo: f64, hi: f64, min_pos: f64, vb: usize, scale: Scale) -> Vec<f64> {
    let vb = vb.clamp(1, 1000);
    match scale {
        Scale::Log => {
            let (a, b) = if min_pos.is_finite() { (min_pos, hi.max(min_pos)) } else { (1.0, 10.0) };
            let (a, b) = if b <= a { (a / 2.0, a * 2.0) } else { (a, b) };
            // libm, not std's f64 methods: std calls the platform's libm (glibc on the
            // server, Rust's port in wasm), whose last bits differ; the same edges
            // everywhere put the same value in the same cell on every executor.
            let (la, lb) = (libm::log10(a), libm::log10(b));
            let mut e: Vec<f64> = (0..=vb).map(|k| libm::pow(10.0, la + (lb - la) * k as f64 / vb as f64)).collect();
            e[0] = a;
            e[vb] = b;
            e
        }
        Scale::Linear => {
            let (a, b) = if lo.is_finite() { (lo, hi) } else { (0.0, 1.0) };
            let (a, b) = if b <= a { (a - 0.5, a + 0.5) } else { (a, b) };
            let mut e: Vec<f64> = (0..=vb).map(|k| a + (b - a) * k as f64 / vb as f64).collect();
            e[vb] = b;
            e
        }
    }
}

/// Counts `rows` of the numeric column `col` on `axis` x value buckets; with sample
/// rates, each event counts its rate (cells, `low`, `total` and `nulls` are then the
/// events the sample stands for, rounded to whole events per cell).
pub(crate) fn heatmap_rows(
    col: &Column,
    axis: &TimeAxis,
    rows: &Rows,
    value_buckets: usize,
    scale: Scale,
    weights: Option<Weights>,
) -> Result<Heatmap> {
    let get = numeric_getter(col)?;
    let tb = axis.buckets.max(1);
    let vb = value_buckets.clamp(1, 1000);
    // Value range over the rows in the time range. (Plain comparisons: `f64::min`
    // becomes a libm call in wasm, to get its NaN semantics.)
    let (mut lo, mut hi, mut min_pos) = (f64::INFINITY, f64::NEG_INFINITY, f64::INFINITY);
    let mut see = |v: f64| {
        // Edges span the finite values: an infinity would make them infinite or NaN.
        if !v.is_finite() {
            return;
        }
        if v < lo {
            lo = v;
        }
        if v > hi {
            hi = v;
        }
        if v > 0.0 && v < min_pos {
            min_pos = v;
        }
    };
    let ranges = axis.ranges(rows);
    match ranges.as_ref().and_then(|r| col.range_stats(r.first().map_or(0, |x| x.0), r.last().map_or(0, |x| x.1))) {
        // Contiguous rows: the column's zone map, scanning only partial zones.
        Some(z) => (lo, hi, min_pos) = (z.min, z.max, z.min_pos),
        None => axis.each_bucketed(rows, |_, i| {
            if let Some(v) = get.get(i) {
                see(v);
            }
        }),
    }
    let value_edges = value_edges(lo, hi, min_pos, vb, scale);
    let mut counts = vec![0u32; tb * vb];
    let mut low = vec![0u32; tb];
    let (mut total, mut nulls) = (0u64, 0u64);
    let log = scale == Scale::Log;
    let bucketer = Bucketer::new(&value_edges, log);
    let bucket = |v: f64| bucketer.bucket(v);
    if let Some(wt) = weights {
        let (mut cells, mut lows, mut t_sum, mut n_sum) = (vec![0f64; tb * vb], vec![0f64; tb], 0f64, 0f64);
        axis.each_bucketed(rows, |t, i| {
            let w = wt.get(i);
            let Some(v) = get.get(i).filter(|v| !v.is_nan()) else {
                n_sum += w;
                return;
            };
            t_sum += w;
            if log && v <= 0.0 {
                lows[t] += w;
            } else {
                cells[t * vb + bucket(v)] += w;
            }
        });
        let whole = |x: &f64| x.round().min(u32::MAX as f64) as u32;
        counts = cells.iter().map(whole).collect();
        low = lows.iter().map(whole).collect();
        (total, nulls) = (t_sum.round() as u64, n_sum.round() as u64);
    } else if let (Some(ranges), ColumnData::Float(vals), None) = (ranges, &col.data, col.validity.words()) {
        for (t, (s, e)) in ranges.into_iter().enumerate() {
            let row = &mut counts[t * vb..(t + 1) * vb];
            for &v in vals.get(s..e).unwrap_or(&[]) {
                if v.is_nan() {
                    nulls += 1;
                } else if log && v <= 0.0 {
                    low[t] = low[t].saturating_add(1);
                    total += 1;
                } else {
                    let c = &mut row[bucket(v)];
                    *c = c.saturating_add(1);
                    total += 1;
                }
            }
        }
    } else {
        axis.each_bucketed(rows, |t, i| {
            let Some(v) = get.get(i).filter(|v| !v.is_nan()) else {
                nulls += 1;
                return;
            };
            total += 1;
            if log && v <= 0.0 {
                low[t] = low[t].saturating_add(1);
                return;
            }
            let c = &mut counts[t * vb + bucket(v)];
            *c = c.saturating_add(1);
        });
    }
    let max_count = counts.iter().chain(low.iter()).copied().max().unwrap_or(0);
    Ok(Heatmap {
        column: col.name.clone(),
        time_edges: axis.edges(),
        value_edges,
        scale,
        counts,
        low: if log { low } else { Vec::new() },
        max_count,
        total,
        nulls,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::demo::test_dataset as demo;

    #[test]
    fn counts_every_event_once() {
        let ds = demo(20_000);
        let h = heatmap(&ds, &HeatmapSpec { column: "duration_ms".into(), ..Default::default() }).unwrap();
        assert_eq!(h.total, 20_000);
        assert_eq!(
            h.counts.iter().map(|c| *c as u64).sum::<u64>() + h.low.iter().map(|c| *c as u64).sum::<u64>(),
            20_000
        );
        // At most 120 buckets of a round width, edges on multiples of it: 24 h -> 15 min.
        assert!(h.time_buckets() <= 120 && h.time_buckets() >= 96, "{}", h.time_buckets());
        assert_eq!(h.time_edges[1] - h.time_edges[0], 900.0);
        assert_eq!(h.time_edges[0] % 900.0, 0.0);
        assert_eq!(h.value_buckets(), 40);
        // edges are increasing
        assert!(h.value_edges.windows(2).all(|w| w[0] < w[1]));
        assert!(h.time_edges.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn brute_force_agrees() {
        let ds = demo(5_000);
        for scale in [Scale::Log, Scale::Linear] {
            let spec = HeatmapSpec {
                column: "db_duration_ms".into(),
                scale,
                time_buckets: Some(7),
                value_buckets: Some(9),
                ..Default::default()
            };
            let h = heatmap(&ds, &spec).unwrap();
            let col = ds.column("db_duration_ms").unwrap();
            let get = numeric_getter(col).unwrap();
            let ColumnData::Time { values, unit, .. } = &ds.time_column().unwrap().data else { panic!() };
            let tb = h.time_buckets();
            assert!(tb <= 7);
            let mut expect = vec![0u32; tb * 9];
            let mut nulls = 0;
            for (i, raw) in values.iter().enumerate().take(ds.row_count()) {
                let ts = *raw as f64 * unit.seconds_per_unit();
                let t = h.time_edges.windows(2).position(|w| ts >= w[0] && ts < w[1]).unwrap();
                match get.get(i) {
                    None => nulls += 1,
                    Some(v) => {
                        let b = h.value_edges.windows(2).position(|w| v >= w[0] && v < w[1]).unwrap_or(8);
                        expect[t * 9 + b] += 1;
                    }
                }
            }
            assert_eq!(h.counts, expect, "{scale:?}");
            assert_eq!(h.nulls, nulls);
        }
    }

    #[test]
    fn errors_name_the_column() {
        let ds = demo(100);
        let e = heatmap(&ds, &HeatmapSpec { column: "endpoint".into(), ..Default::default() }).unwrap_err();
        assert!(e.to_string().contains("\"endpoint\""), "{e}");
        let e = heatmap(&ds, &HeatmapSpec { column: "nope".into(), ..Default::default() }).unwrap_err();
        assert_eq!(e, Error::UnknownColumn { column: "nope".into() });
    }

    #[test]
    fn empty_dataset_and_empty_range() {
        let ds = Dataset::new();
        assert!(heatmap(&ds, &HeatmapSpec { column: "x".into(), ..Default::default() }).is_err());
        let ds = demo(100);
        let h = heatmap(
            &ds,
            &HeatmapSpec {
                column: "duration_ms".into(),
                start_time: Some(0.0),
                end_time: Some(10.0),
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(h.total, 0);
        assert_eq!(h.max_count, 0);
    }
}

#[cfg(test)]
mod bucket_tests {
    use super::*;

    /// The table-driven bucketer agrees with a plain search over the edges, for values at,
    /// just below and just above every edge, over ranges wide and very narrow.
    #[test]
    fn bucketer_is_exact_at_every_edge() {
        for (lo, hi, vb) in
            [(0.013, 97_000.0, 40), (1.0, 1.01, 40), (5e-300, 1e300, 1000), (3.0, 3.0000001, 7), (0.5, 2.0, 1)]
        {
            for log in [true, false] {
                let edges: Vec<f64> = if log {
                    let (la, lb) = (f64::log10(lo), f64::log10(hi));
                    let mut e: Vec<f64> = (0..=vb).map(|k| 10f64.powf(la + (lb - la) * k as f64 / vb as f64)).collect();
                    e[0] = lo;
                    e[vb] = hi;
                    e
                } else {
                    (0..=vb).map(|k| lo + (hi - lo) * k as f64 / vb as f64).collect()
                };
                let b = Bucketer::new(&edges, log);
                let expect = |v: f64| edges.windows(2).position(|w| v >= w[0] && v < w[1]).unwrap_or(vb - 1);
                for e in &edges {
                    for v in [*e, e.next_down(), e.next_up()] {
                        if v < lo || v > hi {
                            continue;
                        }
                        assert_eq!(b.bucket(v), expect(v), "v={v} lo={lo} hi={hi} vb={vb} log={log}");
                    }
                }
            }
        }
    }
}
