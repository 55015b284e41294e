//! The views the engine's parts share, below all of them: the rows a computation
//! considers ([`Rows`]), a numeric column read as `f64` ([`NumView`]), and a time axis
//! of buckets ([`TimeAxis`], [`nice_step`]). The heatmap, the query engine and the
//! comparison build on these; none of them imports another for them.

use crate::column::{Column, ColumnData};
use crate::error::{Error, Result};

/// The rows a query considers.
#[derive(Debug, Clone)]
pub enum Rows {
    /// `start..end`.
    Range(usize, usize),
    /// Row indices, ascending.
    List(Vec<u32>),
}

impl Rows {
    /// Number of rows.
    pub fn len(&self) -> usize {
        match self {
            Rows::Range(a, b) => b.saturating_sub(*a),
            Rows::List(v) => v.len(),
        }
    }
    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Calls `f` for each row, in order.
    #[inline]
    pub fn each(&self, mut f: impl FnMut(usize)) {
        match self {
            Rows::Range(a, b) => (*a..*b).for_each(f),
            Rows::List(v) => v.iter().for_each(|i| f(*i as usize)),
        }
    }
    /// Keeps the rows for which `keep` is true.
    pub fn retain(self, mut keep: impl FnMut(usize) -> bool) -> Rows {
        match self {
            Rows::Range(a, b) => Rows::List((a..b).filter(|i| keep(*i)).map(|i| i as u32).collect()),
            Rows::List(mut v) => {
                v.retain(|i| keep(*i as usize));
                Rows::List(v)
            }
        }
    }
}

/// A numeric column read as `f64`, with its nulls.
#[derive(Clone, Copy)]
pub(crate) struct NumView<'a> {
    data: NumData<'a>,
    validity: Option<&'a [u64]>,
}

#[derive(Clone, Copy)]
enum NumData<'a> {
    I(&'a [i64]),
    U(&'a [u64]),
    F(&'a [f64]),
}

impl<'a> NumView<'a> {
    /// The values as one `f64` slice, when the column is floats without nulls.
    #[inline]
    pub(crate) fn dense_f64(&self) -> Option<&'a [f64]> {
        match (self.data, self.validity) {
            (NumData::F(v), None) => Some(v),
            _ => None,
        }
    }

    /// Row `i`, or `None` when null or out of range. NaN is returned as is.
    #[inline(always)]
    pub(crate) fn get(&self, i: usize) -> Option<f64> {
        if let Some(w) = self.validity {
            if w.get(i / 64).is_none_or(|x| x >> (i % 64) & 1 == 0) {
                return None;
            }
        }
        match self.data {
            NumData::I(v) => v.get(i).map(|x| *x as f64),
            NumData::U(v) => v.get(i).map(|x| *x as f64),
            NumData::F(v) => v.get(i).copied(),
        }
    }
}

/// Reads a numeric column as `f64`; an error naming the column for other types.
pub(crate) fn numeric_getter(col: &Column) -> Result<NumView<'_>> {
    let validity = col.validity.words();
    let data = match &col.data {
        ColumnData::Float(x) => NumData::F(x),
        ColumnData::Int(x) => NumData::I(x),
        ColumnData::UInt(x) => NumData::U(x),
        _ => {
            return Err(Error::Operator {
                op: "HEATMAP".into(),
                column: col.name.clone(),
                message: format!("needs a numeric column, this one is {}", col.arrow_type),
            })
        }
    };
    Ok(NumView { data, validity })
}

/// Per-row sample rates, as Honeycomb reads its `SampleRate` attribute: an event kept
/// by 1-in-N sampling stands for N events. A rate that is null, not finite or below 1
/// counts as 1 (not sampled): no event ever stands for less than itself.
#[derive(Clone, Copy)]
pub(crate) struct Weights<'a>(NumView<'a>);

impl<'a> Weights<'a> {
    /// The rates of a numeric column.
    pub(crate) fn of(col: &'a Column) -> Result<Weights<'a>> {
        numeric_getter(col).map(Weights).map_err(|_| Error::Operator {
            op: "sample_rate_column".into(),
            column: col.name.clone(),
            message: format!("a sample rate must be a number, this column is {}", col.arrow_type),
        })
    }

    /// The weight of row `i`.
    #[inline(always)]
    pub(crate) fn get(&self, i: usize) -> f64 {
        match self.0.get(i) {
            Some(r) if r >= 1.0 && r.is_finite() => r,
            _ => 1.0,
        }
    }
}

/// Round time steps, in seconds.
const STEPS: [f64; 24] = [
    1.0,
    2.0,
    5.0,
    10.0,
    15.0,
    30.0,
    60.0,
    120.0,
    300.0,
    600.0,
    900.0,
    1800.0,
    3600.0,
    7200.0,
    10800.0,
    21600.0,
    43200.0,
    86400.0,
    172_800.0,
    604_800.0,
    1_209_600.0,
    2_592_000.0,
    7_776_000.0,
    31_536_000.0,
];

/// The smallest round step (1 s, 5 s, 1 min, 15 min, 1 h, 1 d, ...) that covers
/// `span_s` seconds in at most `buckets` buckets; sub-second spans get a plain division.
pub fn nice_step(span_s: f64, buckets: usize) -> f64 {
    let raw = span_s / buckets.max(1) as f64;
    if raw <= 1.0 {
        return raw.max(1e-9);
    }
    STEPS.iter().copied().find(|s| *s >= raw).unwrap_or((raw / 86400.0).ceil() * 86400.0)
}

/// The time axis of a heatmap or series: `buckets` buckets of `width` raw units from `t0`.
#[derive(Debug, Clone, Copy)]
pub struct TimeAxis<'a> {
    /// The time column.
    pub column: &'a Column,
    /// Start, raw units.
    pub t0: i64,
    /// Bucket width, raw units (at least 1).
    pub width: i64,
    /// Number of buckets.
    pub buckets: usize,
    /// Uneven buckets (local days in a time zone with daylight saving): the `buckets + 1`
    /// bucket edges, raw units, ascending; `t0` and `width` are then unused.
    pub cuts: Option<&'a [i64]>,
}

impl TimeAxis<'_> {
    /// Start of bucket `k`, raw units.
    #[inline]
    pub fn start(&self, k: usize) -> i64 {
        match self.cuts {
            Some(c) => c.get(k).copied().unwrap_or(i64::MAX),
            None => self.t0.saturating_add(self.width.saturating_mul(k as i64)),
        }
    }
    /// End of bucket `k` (exclusive), raw units.
    #[inline]
    pub fn end(&self, k: usize) -> i64 {
        self.start(k + 1)
    }
    /// The bucket holding raw time `t`.
    #[inline]
    pub fn bucket_of(&self, t: i64) -> Option<usize> {
        match self.cuts {
            Some(c) => {
                let k = c.partition_point(|x| *x <= t);
                (k > 0 && k <= self.buckets).then(|| k - 1)
            }
            None => {
                if t < self.t0 {
                    return None;
                }
                let b = (t.wrapping_sub(self.t0) as u64 / self.width.max(1) as u64) as usize;
                (b < self.buckets).then_some(b)
            }
        }
    }
    /// The bucket of row `i`, if its time is in range and not null.
    #[inline]
    pub fn bucket(&self, times: &[i64], i: usize) -> Option<usize> {
        let t = *times.get(i)?;
        if !self.column.validity.is_valid(i) {
            return None;
        }
        // t >= t0, so the difference fits in u64 (no i128 division: slow in wasm).
        self.bucket_of(t)
    }

    /// For rows `a..b` of a time column sorted without nulls: each bucket's row range.
    pub fn ranges(&self, rows: &Rows) -> Option<Vec<(usize, usize)>> {
        let times = self.times();
        let Rows::Range(a, b) = *rows else { return None };
        let b = b.min(times.len());
        if !self.column.is_sorted() || a > b {
            return None;
        }
        let ts = &times[a..b];
        let mut start = a + ts.partition_point(|t| *t < self.start(0));
        let mut out = Vec::with_capacity(self.buckets);
        for k in 0..self.buckets {
            let edge = self.end(k);
            let end = a + ts.partition_point(|t| *t < edge);
            out.push((start, end.max(start)));
            start = end.max(start);
        }
        Some(out)
    }

    /// Calls `f(bucket, row)` for each row of `rows` whose time falls in a bucket. When
    /// the rows are a range and the time column is sorted without nulls, each bucket's
    /// rows are found by binary search and no row needs a division.
    #[inline]
    pub fn each_bucketed(&self, rows: &Rows, mut f: impl FnMut(usize, usize)) {
        let times = self.times();
        if let Some(ranges) = self.ranges(rows) {
            for (k, (s, e)) in ranges.into_iter().enumerate() {
                for i in s..e {
                    f(k, i);
                }
            }
            return;
        }
        rows.each(|i| {
            if let Some(k) = self.bucket(times, i) {
                f(k, i)
            }
        });
    }
    /// Bucket edges in unix seconds.
    pub fn edges(&self) -> Vec<f64> {
        let spu = match &self.column.data {
            ColumnData::Time { unit, .. } => unit.seconds_per_unit(),
            _ => 1.0,
        };
        if let Some(c) = self.cuts {
            return c.iter().take(self.buckets + 1).map(|t| *t as f64 * spu).collect();
        }
        (0..=self.buckets).map(|k| (self.t0 as i128 + self.width as i128 * k as i128) as f64 * spu).collect()
    }
    fn times(&self) -> &[i64] {
        match &self.column.data {
            ColumnData::Time { values, .. } => values,
            _ => &[],
        }
    }
}
