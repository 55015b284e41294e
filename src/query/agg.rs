//! Calculations per group: one pass per column over the selected rows, into dense
//! arrays indexed by group id.
//!
//! Percentiles gather each group's values with a counting sort (group sizes are known
//! from the first pass), as order-preserving `u64` keys, then select the requested
//! ranks per group with `select_nth_unstable`: exact, linear interpolation between
//! closest ranks (numpy's default, DuckDB's `quantile_cont`). NaN counts as missing for
//! numeric calculations. COUNT_DISTINCT sorts (group, value) pairs: exact.
//!
//! With sample rates ([`Weights`]) an event stands for `rate` events, as Honeycomb
//! weighs them: COUNT is the sum of rates, SUM the sum of value x rate, AVG that over
//! the rates of the events with a value, a percentile the one of the multiset where
//! each value appears `rate` times (the same interpolation over the expanded ranks),
//! CONCURRENCY and RATE_* built on those; MIN, MAX and COUNT_DISTINCT are not weighted.

use crate::column::ColumnData;
use crate::dataset::Dataset;
use crate::error::{Error, Result};
use crate::view::{numeric_getter, NumView, TimeAxis, Weights};

use super::spec::{Calc, Op};
use crate::view::Rows;

/// Calculations per group id.
#[derive(Debug, Clone)]
pub struct Aggregates {
    /// Events per group.
    pub counts: Vec<u32>,
    /// `values[calc][group]`; `None` where the calculation has no value (and for HEATMAP).
    pub values: Vec<Vec<Option<f64>>>,
}

/// Largest dense array of (group, time bucket) cells for RATE calculations.
const MAX_RATE_CELLS: usize = 64 << 20;

/// `f64` to a `u64` that sorts in the same order (for non-NaN values).
#[inline]
fn key(x: f64) -> u64 {
    let b = x.to_bits();
    if b >> 63 == 1 {
        !b
    } else {
        b | (1 << 63)
    }
}

#[inline]
fn unkey(k: u64) -> f64 {
    f64::from_bits(if k >> 63 == 1 { k & !(1 << 63) } else { !k })
}

/// Computes `calcs` for each of `n` groups; `gid[k]` is the group of the k-th row of `rows`.
/// With `series` (`Some(buckets)`), group ids are `rank * buckets + bucket` and RATE
/// calculations give the change from the previous non-empty bucket of the same rank.
pub(crate) fn aggregate(
    ds: &Dataset,
    calcs: &[Calc],
    rows: &Rows,
    gid: &[u32],
    n: usize,
    axis: Option<&TimeAxis>,
    weights: Option<Weights>,
) -> Result<Aggregates> {
    aggregate_with(ds, calcs, rows, gid, n, axis, None, weights)
}

pub(crate) fn aggregate_series(
    ds: &Dataset,
    calcs: &[Calc],
    rows: &Rows,
    gid: &[u32],
    n: usize,
    axis: &TimeAxis,
    weights: Option<Weights>,
) -> Result<Aggregates> {
    aggregate_with(ds, calcs, rows, gid, n, Some(axis), Some(axis.buckets), weights)
}

/// Per-group sum, non-null count, min and max, kept together so that a row touches
/// one cache line of its group.
#[derive(Clone, Copy)]
struct Acc {
    sum: f64,
    min: f64,
    max: f64,
    /// Sum of the weights of the values (`nn` unweighted).
    w: f64,
    nn: u32,
}

struct Basic {
    acc: Vec<Acc>,
}

impl Basic {
    fn nn(&self) -> Vec<u32> {
        self.acc.iter().map(|a| a.nn).collect()
    }
}

/// The values of `rows` as a contiguous float slice without nulls, when they are.
fn dense<'a>(view: &NumView<'a>, rows: &Rows) -> Option<&'a [f64]> {
    match rows {
        Rows::Range(a, b) => view.dense_f64()?.get(*a..*b),
        Rows::List(_) => None,
    }
}

/// Calls `f(group, value)` for each non-null value of `rows` (NaN included), over a
/// dense float slice when the rows are contiguous and the column has no nulls.
#[inline(always)]
fn each_value(view: &NumView, rows: &Rows, gid: &[u32], f: &mut impl FnMut(usize, f64)) {
    if let Some(vals) = dense(view, rows) {
        for (v, g) in vals.iter().zip(gid) {
            f(*g as usize, *v);
        }
    } else {
        let mut k = 0;
        rows.each(|i| {
            let g = gid[k] as usize;
            k += 1;
            if let Some(v) = view.get(i) {
                f(g, v);
            }
        });
    }
}

fn basic(view: &NumView, rows: &Rows, gid: &[u32], n: usize, weights: Option<Weights>) -> Basic {
    let mut acc = vec![Acc { sum: 0.0, min: f64::INFINITY, max: f64::NEG_INFINITY, w: 0.0, nn: 0 }; n];
    if let Some(wt) = weights {
        let mut k = 0;
        rows.each(|i| {
            let g = gid[k] as usize;
            k += 1;
            let Some(v) = view.get(i).filter(|v| !v.is_nan()) else { return };
            if let Some(a) = acc.get_mut(g) {
                let w = wt.get(i);
                a.sum += v * w;
                a.w += w;
                a.nn += 1;
                if v < a.min {
                    a.min = v;
                }
                if v > a.max {
                    a.max = v;
                }
            }
        });
        return Basic { acc };
    }
    let mut add = |g: usize, v: f64| {
        if !v.is_nan() {
            if let Some(a) = acc.get_mut(g) {
                a.sum += v;
                a.nn += 1;
                if v < a.min {
                    a.min = v;
                }
                if v > a.max {
                    a.max = v;
                }
            }
        }
    };
    each_value(view, rows, gid, &mut add);
    for a in &mut acc {
        a.w = a.nn as f64;
    }
    Basic { acc }
}

/// [`basic`] with only the counts of non-null, non-NaN values (`nn`).
fn counted(view: &NumView, rows: &Rows, gid: &[u32], n: usize) -> Basic {
    let mut nn = vec![0u32; n];
    match dense(view, rows) {
        Some(vals) if n == 1 => nn[0] = vals.iter().filter(|v| !v.is_nan()).count() as u32,
        _ => each_value(view, rows, gid, &mut |g, v| {
            if let Some(c) = nn.get_mut(g) {
                *c += u32::from(!v.is_nan());
            }
        }),
    }
    let acc = nn
        .into_iter()
        .map(|nn| Acc { sum: 0.0, min: f64::INFINITY, max: f64::NEG_INFINITY, w: nn as f64, nn })
        .collect();
    Basic { acc }
}

/// Where each group's values start in one buffer laid out group after group (a counting
/// sort by the groups' sizes `nn`): `n + 1` offsets, the last the total.
fn group_offsets(nn: &[u32]) -> Vec<usize> {
    let mut offsets = Vec::with_capacity(nn.len() + 1);
    let mut total = 0usize;
    offsets.push(0);
    for c in nn {
        total += *c as usize;
        offsets.push(total);
    }
    offsets
}

/// Percentiles `ps` of each group's values where each value counts `weight` times:
/// over `W` total weight, the value at expanded rank `p (W - 1)` (interpolated between
/// the ranks either side), the value at rank `r` being the first whose cumulative
/// weight exceeds `r`. With integer rates this is exactly the unweighted percentile of
/// the events the sample stands for.
fn weighted_percentiles(
    view: &NumView,
    rows: &Rows,
    gid: &[u32],
    nn: &[u32],
    ps: &[f64],
    wt: Weights,
) -> Vec<Vec<Option<f64>>> {
    let n = nn.len();
    let offsets = group_offsets(nn);
    let total = offsets[n];
    let mut cursor = offsets.clone();
    let mut buf = vec![(0u64, 0f64); total];
    let mut k = 0;
    rows.each(|i| {
        let g = gid[k] as usize;
        k += 1;
        if let Some(v) = view.get(i).filter(|v| !v.is_nan()) {
            if let (Some(c), true) = (cursor.get_mut(g), g < n) {
                if let Some(slot) = buf.get_mut(*c) {
                    *slot = (key(v), wt.get(i));
                    *c += 1;
                }
            }
        }
    });
    let mut out = vec![vec![None; n]; ps.len()];
    for g in 0..n {
        let s = &mut buf[offsets[g]..offsets[g + 1]];
        if s.is_empty() {
            continue;
        }
        s.sort_unstable_by_key(|x| x.0);
        let total_w: f64 = s.iter().map(|x| x.1).sum();
        // The value at expanded rank r: the first whose cumulative weight exceeds r.
        let at = |r: f64, from: &mut usize, cum: &mut f64| -> f64 {
            while *from + 1 < s.len() && *cum + s[*from].1 <= r {
                *cum += s[*from].1;
                *from += 1;
            }
            unkey(s[*from].0)
        };
        let (mut j0, mut c0) = (0usize, 0f64);
        for (j, p) in ps.iter().enumerate() {
            let pos = (p * (total_w - 1.0)).max(0.0);
            let lo = pos.floor();
            let frac = pos - lo;
            let a = at(lo, &mut j0, &mut c0);
            let (mut j1, mut c1) = (j0, c0);
            let b = if frac > 0.0 { at(lo + 1.0, &mut j1, &mut c1) } else { a };
            out[j][g] = Some(crate::compare::interpolate(a, b, frac)).filter(|v| !v.is_nan());
        }
    }
    out
}

/// At most this many largest values are found by [`largest`] rather than by selection.
const TOP: usize = 8;

/// The `m` (1..=[`TOP`]) largest of `s`, largest first, by one scan keeping them in order
/// (most values compare once, with the least kept).
fn largest(s: &[u64], m: usize) -> [u64; TOP] {
    let m = m.clamp(1, TOP);
    let mut top = [0u64; TOP];
    let mut k = 0;
    for &x in s {
        if k == m {
            if x <= top[m - 1] {
                continue;
            }
            k -= 1; // the least kept drops out
        }
        // Insert x into top[..k], descending.
        let mut j = k;
        while j > 0 && top[j - 1] < x {
            top[j] = top[j - 1];
            j -= 1;
        }
        top[j] = x;
        k += 1;
    }
    top
}

/// Exact percentiles `ps` (ascending fractions) of each group's values.
fn percentiles(view: &NumView, rows: &Rows, gid: &[u32], nn: &[u32], ps: &[f64]) -> Vec<Vec<Option<f64>>> {
    let n = nn.len();
    let offsets = group_offsets(nn);
    let total = offsets[n];
    let mut cursor = offsets.clone();
    let mut buf = vec![0u64; total];
    let mut put = |g: usize, v: f64| {
        if !v.is_nan() {
            buf[cursor[g]] = key(v);
            cursor[g] += 1;
        }
    };
    each_value(view, rows, gid, &mut put);
    let mut out = vec![vec![None; n]; ps.len()];
    for g in 0..n {
        let s = &mut buf[offsets[g]..offsets[g + 1]];
        let len = s.len();
        if len == 0 {
            continue;
        }
        if len <= 64 {
            s.sort_unstable();
        }
        let mut base = 0usize;
        for (j, p) in ps.iter().enumerate() {
            let pos = p * (len - 1) as f64;
            let lo = (pos.floor() as usize).min(len - 1);
            let frac = pos - lo as f64;
            let (a, b) = if len <= 64 {
                (s[lo], s[(lo + 1).min(len - 1)])
            } else if len - lo <= TOP {
                // P99 of a series cell (a few hundred values): the largest few by one
                // scan, not a selection's partitioning passes. Ranks `lo..` lie in
                // `s[base..]` whatever earlier selections moved.
                let top = largest(&s[base..], len - lo);
                let a = top[len - lo - 1];
                (a, if frac > 0.0 && lo + 1 < len { top[len - lo - 2] } else { a })
            } else {
                let lo_rel = lo - base;
                s[base..].select_nth_unstable(lo_rel);
                base = lo;
                let a = s[lo];
                let b = if frac > 0.0 && lo + 1 < len { s[lo + 1..].iter().copied().min().unwrap_or(a) } else { a };
                (a, b)
            };
            let (a, b) = (unkey(a), unkey(b));
            out[j][g] = Some(crate::compare::interpolate(a, b, frac)).filter(|v| !v.is_nan());
        }
    }
    out
}

fn count_distinct(ds: &Dataset, col: usize, rows: &Rows, gid: &[u32], n: usize) -> Result<Vec<Option<f64>>> {
    let c = &ds.columns()[col];
    let str_codes = match &c.data {
        ColumnData::Str(s) => Some(s.codes_of(&c.name)?.0),
        _ => None,
    };
    let mut pairs: Vec<u128> = Vec::with_capacity(rows.len());
    let mut k = 0;
    rows.each(|i| {
        let g = gid[k] as u128;
        k += 1;
        let v: Option<u64> = match &c.data {
            ColumnData::Str(_) => str_codes.and_then(|c| c.get(i)).copied().filter(|x| *x != 0).map(u64::from),
            ColumnData::Bool(v) => v.get(i).copied().filter(|x| *x != 2).map(u64::from),
            ColumnData::Int(v) | ColumnData::Time { values: v, .. } => {
                v.get(i).filter(|_| c.validity.is_valid(i)).map(|x| *x as u64)
            }
            ColumnData::UInt(v) => v.get(i).filter(|_| c.validity.is_valid(i)).copied(),
            // NaN is missing here as in every numeric calculation; -0.0 and 0.0 are one value.
            ColumnData::Float(v) => {
                v.get(i).filter(|x| c.validity.is_valid(i) && !x.is_nan()).map(|x| (*x + 0.0).to_bits())
            }
            ColumnData::Other => None,
        };
        if let Some(v) = v {
            pairs.push(g << 64 | v as u128);
        }
    });
    pairs.sort_unstable();
    pairs.dedup();
    let mut out = vec![Some(0.0); n];
    for p in pairs {
        if let Some(Some(x)) = out.get_mut((p >> 64) as usize) {
            *x += 1.0;
        }
    }
    Ok(out)
}

/// CONCURRENCY, as Honeycomb defines it: each event is a span `[time, time + duration)`
/// (duration in milliseconds), and a time bucket's value is the time its spans cover
/// in it divided by its width: the mean number of spans in progress, a span counting in
/// every bucket it reaches (spans extend into later buckets; a span half inside a
/// bucket counts 0.5). In `series` mode (`series = Some(buckets)`, group ids
/// `rank * buckets + start bucket`) one value per (rank, bucket) cell, including cells
/// no span starts in; otherwise one value per group over the whole axis. Spans are cut
/// at the end of the axis; durations that are null, NaN or not positive cover nothing.
#[allow(clippy::too_many_arguments)]
fn concurrency(
    view: &NumView,
    axis: &TimeAxis,
    rows: &Rows,
    gid: &[u32],
    n: usize,
    series: Option<usize>,
    weights: Option<Weights>,
) -> Vec<Option<f64>> {
    let (times, spu) = match &axis.column.data {
        ColumnData::Time { values, unit, .. } => (values.as_slice(), unit.seconds_per_unit()),
        _ => return vec![None; n],
    };
    let nb = axis.buckets.max(1);
    let (first, last_end) = (axis.start(0) as f64, axis.end(nb - 1) as f64);
    let width = |k: usize| (axis.end(k) as f64 - axis.start(k) as f64).max(1.0);
    // Per cell: covered raw units of partial buckets, plus a difference array of fully
    // covered buckets (so a day-long span costs O(1), not a step per bucket).
    let mut covered = vec![0.0f64; n];
    let mut full = match series {
        Some(_) => vec![0f64; n + 1],
        None => Vec::new(),
    };
    let mut k = 0;
    rows.each(|i| {
        let g = gid[k] as usize;
        k += 1;
        if !axis.column.validity.is_valid(i) {
            return;
        }
        let (Some(t), Some(d)) = (times.get(i), view.get(i)) else { return };
        if d.is_nan() || d <= 0.0 {
            return;
        }
        let s = (*t as f64).max(first);
        let e = (*t as f64 + d / 1000.0 / spu).min(last_end);
        if e <= s {
            return;
        }
        let w = weights.map_or(1.0, |wt| wt.get(i));
        match series {
            None => {
                if let Some(c) = covered.get_mut(g) {
                    *c += (e - s) * w;
                }
            }
            Some(nb) => {
                // g = rank * nb + the bucket the span starts in.
                let (rank, b0) = (g / nb, g % nb);
                let base = rank * nb;
                let end0 = axis.end(b0) as f64;
                if e <= end0 {
                    covered[base + b0] += (e - s) * w;
                    return;
                }
                // The bucket holding the span's last instant (e is exclusive).
                let mut last = b0 + 1;
                while last + 1 < nb && (axis.end(last) as f64) < e {
                    last += 1;
                    if last - b0 > 8 {
                        // A long span: find its end bucket by bisection.
                        let (mut lo, mut hi) = (last, nb - 1);
                        while lo < hi {
                            let mid = (lo + hi) / 2;
                            if (axis.end(mid) as f64) < e {
                                lo = mid + 1;
                            } else {
                                hi = mid;
                            }
                        }
                        last = lo;
                        break;
                    }
                }
                covered[base + b0] += (end0 - s) * w;
                covered[base + last] += (e - axis.start(last) as f64) * w;
                if last > b0 + 1 {
                    full[base + b0 + 1] += w;
                    full[base + last] -= w;
                }
            }
        }
    });
    match series {
        None => {
            let span = (last_end - first).max(1.0);
            covered.iter().map(|c| Some(c / span)).collect()
        }
        Some(nb) => {
            let mut out = vec![None; n];
            for rank in 0..n / nb {
                let mut running = 0f64;
                for b in 0..nb {
                    let c = rank * nb + b;
                    running += full[c];
                    let v = covered[c] / width(b) + running;
                    if v > 0.0 {
                        out[c] = Some(v);
                    }
                }
            }
            out
        }
    }
}

/// RATE_AVG / RATE_SUM / RATE_MAX.
#[allow(clippy::too_many_arguments)]
fn rate(
    op: Op,
    view: &NumView,
    axis: &TimeAxis,
    rows: &Rows,
    gid: &[u32],
    n: usize,
    series: Option<usize>,
    weights: Option<Weights>,
) -> Result<Vec<Option<f64>>> {
    let times = match &axis.column.data {
        ColumnData::Time { values, .. } => values.as_slice(),
        _ => return Ok(vec![None; n]),
    };
    // Cells: (group, bucket) in total mode; the group ids themselves in series mode.
    let (nb, cells) = match series {
        Some(nb) => (nb.max(1), n),
        None => (axis.buckets.max(1), n.saturating_mul(axis.buckets.max(1))),
    };
    if cells > MAX_RATE_CELLS {
        return Err(Error::Spec(format!(
            "{}: {n} groups x {} time buckets is too many; add filters or a coarser granularity",
            match op {
                Op::RateAvg => "RATE_AVG",
                Op::RateSum => "RATE_SUM",
                _ => "RATE_MAX",
            },
            axis.buckets
        )));
    }
    let mut cell_id = Vec::with_capacity(gid.len());
    let mut k = 0;
    let mut sub = Vec::with_capacity(gid.len());
    rows.each(|i| {
        let g = gid[k] as usize;
        k += 1;
        let c = match series {
            Some(_) => Some(g),
            None => axis.bucket(times, i).map(|b| g * nb + b),
        };
        if let Some(c) = c {
            cell_id.push(c as u32);
            sub.push(i as u32);
        }
    });
    // Accumulate over the occupied cells only (at most one per row): the (group, bucket)
    // grid itself may be far larger than the rows (a fuzzed query over 2,000 rows made a
    // 1.5 GB grid of accumulators).
    let mut occupied = cell_id.clone();
    occupied.sort_unstable();
    occupied.dedup();
    let compact: Vec<u32> = cell_id.iter().map(|c| occupied.binary_search(c).map_or(u32::MAX, |j| j as u32)).collect();
    let b = basic(view, &Rows::List(sub), &compact, occupied.len(), weights);
    let mut out = vec![None; n];
    // Cells in (group, bucket) order: each group's buckets in time order.
    let (mut group, mut prev, mut diffs, mut total) = (usize::MAX, None::<f64>, 0usize, 0.0);
    let close = |out: &mut Vec<Option<f64>>, g: usize, diffs: usize, total: f64| {
        if series.is_none() && diffs > 0 {
            if let Some(o) = out.get_mut(g) {
                *o = Some(total / diffs as f64);
            }
        }
    };
    for (c, a) in occupied.iter().zip(&b.acc) {
        let (c, g) = (*c as usize, *c as usize / nb);
        if g != group {
            close(&mut out, group, diffs, total);
            (group, prev, diffs, total) = (g, None, 0, 0.0);
        }
        if a.nn == 0 {
            continue;
        }
        let v = match op {
            Op::RateAvg => a.sum / a.w,
            Op::RateSum => a.sum,
            _ => a.max,
        };
        if let Some(p) = prev {
            if series.is_some() {
                if let Some(o) = out.get_mut(c) {
                    *o = Some(v - p);
                }
            }
            total += v - p;
            diffs += 1;
        }
        prev = Some(v);
    }
    close(&mut out, group, diffs, total);
    Ok(out)
}

#[allow(clippy::too_many_arguments)]
fn aggregate_with(
    ds: &Dataset,
    calcs: &[Calc],
    rows: &Rows,
    gid: &[u32],
    n: usize,
    axis: Option<&TimeAxis>,
    series: Option<usize>,
    weights: Option<Weights>,
) -> Result<Aggregates> {
    let mut counts = vec![0u32; n];
    if n == 1 {
        counts[0] = gid.len() as u32;
    } else {
        for g in gid {
            if let Some(c) = counts.get_mut(*g as usize) {
                *c += 1;
            }
        }
    }
    let mut values: Vec<Vec<Option<f64>>> = vec![Vec::new(); calcs.len()];
    // Columns used, each computed once for all its calculations.
    let mut cols: Vec<usize> = calcs.iter().filter_map(|c| c.column).collect();
    cols.sort_unstable();
    cols.dedup();
    for col in cols {
        let mine: Vec<usize> = (0..calcs.len()).filter(|c| calcs[*c].column == Some(col)).collect();
        let has = |f: &dyn Fn(Op) -> bool| mine.iter().any(|c| f(calcs[*c].op));
        let view = numeric_getter(&ds.columns()[col]).ok();
        let mut ps: Vec<(usize, f64)> = mine
            .iter()
            .filter_map(|c| match calcs[*c].op {
                Op::Percentile(p) => Some((*c, p)),
                _ => None,
            })
            .collect();
        if let Some(view) = &view {
            if has(&|o| matches!(o, Op::Sum | Op::Avg | Op::Min | Op::Max | Op::Percentile(_))) {
                // Percentiles alone need only each group's count of values: sums, minima
                // and maxima cost a chain of dependent updates per row (3.7 ms of a
                // million-row P99's 8).
                let b = if weights.is_none() && !has(&|o| matches!(o, Op::Sum | Op::Avg | Op::Min | Op::Max)) {
                    counted(view, rows, gid, n)
                } else {
                    basic(view, rows, gid, n, weights)
                };
                for c in &mine {
                    let pick = |f: &dyn Fn(&Acc) -> f64| -> Option<Vec<Option<f64>>> {
                        Some(b.acc.iter().map(|a| (a.nn > 0).then(|| f(a))).collect())
                    };
                    let v = match calcs[*c].op {
                        Op::Sum => pick(&|a| a.sum),
                        Op::Avg => pick(&|a| a.sum / a.w),
                        Op::Min => pick(&|a| a.min),
                        Op::Max => pick(&|a| a.max),
                        _ => None,
                    };
                    if let Some(v) = v {
                        values[*c] = v;
                    }
                }
                if !ps.is_empty() {
                    ps.sort_by(|a, b| a.1.total_cmp(&b.1));
                    let fr: Vec<f64> = ps.iter().map(|x| x.1).collect();
                    let out = match weights {
                        Some(wt) => weighted_percentiles(view, rows, gid, &b.nn(), &fr, wt),
                        None => percentiles(view, rows, gid, &b.nn(), &fr),
                    };
                    for ((c, _), v) in ps.iter().zip(out) {
                        values[*c] = v;
                    }
                }
            }
        }
        for c in &mine {
            match calcs[*c].op {
                Op::CountDistinct => values[*c] = count_distinct(ds, col, rows, gid, n)?,
                Op::Concurrency => {
                    let (Some(view), Some(axis)) = (&view, axis) else {
                        return Err(Error::Spec("CONCURRENCY needs a time column and a numeric duration".into()));
                    };
                    values[*c] = concurrency(view, axis, rows, gid, n, series, weights);
                }
                op @ (Op::RateAvg | Op::RateSum | Op::RateMax) => {
                    let (Some(view), Some(axis)) = (&view, axis) else {
                        return Err(Error::Spec("RATE calculations need a time column".into()));
                    };
                    values[*c] = rate(op, view, axis, rows, gid, n, series, weights)?;
                }
                _ => {}
            }
        }
    }
    // COUNT: events, or with sample rates the events they stand for.
    let weighted_counts = weights.filter(|_| calcs.iter().any(|c| c.op == Op::Count)).map(|wt| {
        let mut sums = vec![0f64; n];
        let mut k = 0;
        rows.each(|i| {
            if let Some(s) = sums.get_mut(gid[k] as usize) {
                *s += wt.get(i);
            }
            k += 1;
        });
        sums
    });
    for (c, calc) in calcs.iter().enumerate() {
        if calc.op == Op::Count {
            values[c] = match &weighted_counts {
                Some(w) => w.iter().map(|x| Some(*x)).collect(),
                None => counts.iter().map(|x| Some(*x as f64)).collect(),
            };
        }
        if values[c].is_empty() {
            values[c] = vec![None; n];
        }
    }
    Ok(Aggregates { counts, values })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn largest_are_the_sorted_tail() {
        let mut seed = 9u64;
        for len in [1usize, 2, 8, 9, 65, 100, 700] {
            for spread in [3u64, 1 << 40] {
                let s: Vec<u64> = (0..len)
                    .map(|_| {
                        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                        (seed >> 20) % spread
                    })
                    .collect();
                let mut sorted = s.clone();
                sorted.sort_unstable_by(|a, b| b.cmp(a));
                for m in 1..=TOP.min(len) {
                    assert_eq!(largest(&s, m)[..m], sorted[..m], "len {len}, m {m}");
                }
            }
        }
    }
}
