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

/// Value axis scale.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
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
    /// Number of time buckets (default 120, at most 2000).
    #[serde(default)]
    pub time_buckets: Option<usize>,
    /// Number of value buckets (default 40, at most 1000).
    #[serde(default)]
    pub value_buckets: Option<usize>,
    /// Value scale (default log).
    #[serde(default)]
    pub scale: Scale,
}

/// The counts, with their edges.
#[derive(Debug, Clone, Serialize, PartialEq)]
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
    pub counts: Vec<u32>,
    /// Per time bucket: events whose value is zero or negative (log scale only).
    pub low: Vec<u32>,
    /// Largest cell count (including `low`).
    pub max_count: u32,
    /// Events counted.
    pub total: u64,
    /// Events in the time range whose value is null or NaN.
    pub nulls: u64,
}

impl Heatmap {
    /// Number of time buckets.
    pub fn time_buckets(&self) -> usize {
        self.time_edges.len().saturating_sub(1)
    }
    /// Number of value buckets.
    pub fn value_buckets(&self) -> usize {
        self.value_edges.len().saturating_sub(1)
    }
}

/// Reads row `i` of a numeric column as `f64`, or `None` when null.
pub(crate) fn numeric_getter(col: &Column) -> Result<Box<dyn Fn(usize) -> Option<f64> + '_>> {
    let v = &col.validity;
    Ok(match &col.data {
        ColumnData::Float(x) => Box::new(move |i| x.get(i).copied().filter(|_| v.is_valid(i))),
        ColumnData::Int(x) => Box::new(move |i| x.get(i).map(|y| *y as f64).filter(|_| v.is_valid(i))),
        ColumnData::UInt(x) => Box::new(move |i| x.get(i).map(|y| *y as f64).filter(|_| v.is_valid(i))),
        _ => {
            return Err(Error::Operator {
                op: "HEATMAP".into(),
                column: col.name.clone(),
                message: format!("needs a numeric column, this one is {}", col.arrow_type),
            })
        }
    })
}

/// Computes a heatmap of `spec.column` over time.
pub fn heatmap(ds: &Dataset, spec: &HeatmapSpec) -> Result<Heatmap> {
    let col = ds.column(&spec.column)?;
    let get = numeric_getter(col)?;
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
    let tb = spec.time_buckets.unwrap_or(120).clamp(1, 2000);
    let vb = spec.value_buckets.unwrap_or(40).clamp(1, 1000);
    let spu = unit.seconds_per_unit();
    let tvalid = &tcol.validity;
    let n = ds.row_count().min(times.len());

    // Time range in raw units: [t0, t1).
    let (mut t0, mut t1) = (i64::MAX, i64::MIN);
    if spec.start_time.is_none() || spec.end_time.is_none() {
        for (i, t) in times.iter().enumerate().take(n) {
            if tvalid.is_valid(i) {
                t0 = t0.min(*t);
                t1 = t1.max(*t);
            }
        }
        t1 = t1.saturating_add(1);
    }
    if let Some(s) = spec.start_time {
        t0 = unit.from_seconds(s);
    }
    if let Some(e) = spec.end_time {
        t1 = unit.from_seconds(e);
        if (t1 as f64) * spu < e {
            t1 = t1.saturating_add(1); // the range end is exclusive: keep the partial unit
        }
    }
    if t0 >= t1 {
        // No events (or an empty range): one empty bucket at the range.
        t0 = t0.min(t1);
        t1 = t0.saturating_add(1);
    }
    let span = (t1 as i128 - t0 as i128) as u128;
    let width = span.div_ceil(tb as u128).max(1) as i128;
    let in_range = |i: usize| -> Option<usize> {
        let t = *times.get(i)?;
        if !tvalid.is_valid(i) || t < t0 || t >= t1 {
            return None;
        }
        Some((((t as i128 - t0 as i128) / width) as usize).min(tb - 1))
    };

    // Value range over the events in the time range.
    let (mut lo, mut hi, mut min_pos) = (f64::INFINITY, f64::NEG_INFINITY, f64::INFINITY);
    for i in 0..n {
        if in_range(i).is_none() {
            continue;
        }
        if let Some(v) = get(i).filter(|v| !v.is_nan()) {
            lo = lo.min(v);
            hi = hi.max(v);
            if v > 0.0 {
                min_pos = min_pos.min(v);
            }
        }
    }
    let value_edges = match spec.scale {
        Scale::Log => {
            let (a, b) = if min_pos.is_finite() { (min_pos, hi.max(min_pos)) } else { (1.0, 10.0) };
            let (a, b) = if b <= a { (a / 2.0, a * 2.0) } else { (a, b) };
            let (la, lb) = (a.log10(), b.log10());
            let mut e: Vec<f64> = (0..=vb).map(|k| 10f64.powf(la + (lb - la) * k as f64 / vb as f64)).collect();
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
    };
    let mut counts = vec![0u32; tb * vb];
    let mut low = vec![0u32; tb];
    let (mut total, mut nulls) = (0u64, 0u64);
    let log = spec.scale == Scale::Log;
    let (e0, elast) = (value_edges[0], value_edges[vb]);
    let scale = if log { vb as f64 / (elast / e0).log10() } else { vb as f64 / (elast - e0) };
    for i in 0..n {
        let Some(t) = in_range(i) else { continue };
        let Some(v) = get(i).filter(|v| !v.is_nan()) else {
            nulls += 1;
            continue;
        };
        total += 1;
        if log && v <= 0.0 {
            low[t] = low[t].saturating_add(1);
            continue;
        }
        let guess = if log { (v / e0).log10() * scale } else { (v - e0) * scale };
        let mut b = if guess.is_finite() && guess > 0.0 { (guess as usize).min(vb - 1) } else { 0 };
        // Correct rounding so that edges[b] <= v < edges[b + 1] (last bucket closed).
        while b > 0 && v < value_edges[b] {
            b -= 1;
        }
        while b + 1 < vb && v >= value_edges[b + 1] {
            b += 1;
        }
        let c = &mut counts[t * vb + b];
        *c = c.saturating_add(1);
    }
    let max_count = counts.iter().chain(low.iter()).copied().max().unwrap_or(0);
    let time_edges = (0..=tb).map(|k| (t0 as i128 + width * k as i128) as f64 * spu).collect();
    Ok(Heatmap {
        column: col.name.clone(),
        time_edges,
        value_edges,
        scale: spec.scale,
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
    use crate::demo::{ipc_stream, DemoOptions};

    fn demo(rows: usize) -> Dataset {
        let mut ds = Dataset::new();
        ds.push(&ipc_stream(&DemoOptions { rows, ..Default::default() }).unwrap()).unwrap();
        ds.finish().unwrap();
        ds
    }

    #[test]
    fn counts_every_event_once() {
        let ds = demo(20_000);
        let h = heatmap(&ds, &HeatmapSpec { column: "duration_ms".into(), ..Default::default() }).unwrap();
        assert_eq!(h.total, 20_000);
        assert_eq!(
            h.counts.iter().map(|c| *c as u64).sum::<u64>() + h.low.iter().map(|c| *c as u64).sum::<u64>(),
            20_000
        );
        assert_eq!(h.time_buckets(), 120);
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
            let mut expect = vec![0u32; 7 * 9];
            let mut nulls = 0;
            for i in 0..ds.row_count() {
                let ts = values[i] as f64 * unit.seconds_per_unit();
                let t = h.time_edges.windows(2).position(|w| ts >= w[0] && ts < w[1]).unwrap();
                match get(i) {
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
