//! The columnar store: one [`Column`] per field, appended batch by batch.
//!
//! Numbers and times are kept in their own width (`i64`, `u64`, `f64`) with a validity
//! bitmap; strings are [`Strings`]: interned into one [`Dict`] per column and stored as
//! `u32` codes, with code 0 meaning null, so that grouping runs on dense integer arrays,
//! except identifier columns, kept as they arrived until a query needs their codes. Booleans are
//! stored as one byte each: 0 false, 1 true, 2 null. Types the engine does not analyze
//! are kept as [`ColumnData::Other`], with a note saying why.

use arrow_array::cast::AsArray;
use arrow_array::types::*;
use arrow_array::{Array, ArrayRef, ArrowPrimitiveType, DictionaryArray, PrimitiveArray};
use arrow_buffer::NullBuffer;
use arrow_schema::{DataType, Field, TimeUnit as ArrowTimeUnit};
use serde::Serialize;

use crate::error::{Error, Result};
pub use crate::strings::{Dict, Strings};

/// How a column is used in analysis.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Timestamps and dates: the x axis of heatmaps and series.
    Time,
    /// Integers and floats: calculations, heatmap values, distributions.
    Number,
    /// Strings: filters and breakdowns.
    String,
    /// Booleans: filters and breakdowns.
    Bool,
    /// Kept out of analysis; the column's note says why.
    Other,
}

/// The unit of a time column's raw `i64` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TimeUnit {
    /// Days since the epoch (Arrow `date32`).
    Day,
    /// Seconds since the epoch.
    Second,
    /// Milliseconds since the epoch.
    Millisecond,
    /// Microseconds since the epoch.
    Microsecond,
    /// Nanoseconds since the epoch.
    Nanosecond,
}

impl TimeUnit {
    /// Seconds represented by one unit.
    pub fn seconds_per_unit(self) -> f64 {
        match self {
            TimeUnit::Day => 86_400.0,
            TimeUnit::Second => 1.0,
            TimeUnit::Millisecond => 1e-3,
            TimeUnit::Microsecond => 1e-6,
            TimeUnit::Nanosecond => 1e-9,
        }
    }

    /// The raw value for `seconds` since the epoch, rounded down, saturating.
    pub fn from_seconds(self, seconds: f64) -> i64 {
        let v = (seconds / self.seconds_per_unit()).floor();
        if v.is_nan() {
            0
        } else {
            v as i64 // `as` saturates
        }
    }
}

impl From<ArrowTimeUnit> for TimeUnit {
    fn from(u: ArrowTimeUnit) -> Self {
        match u {
            ArrowTimeUnit::Second => TimeUnit::Second,
            ArrowTimeUnit::Millisecond => TimeUnit::Millisecond,
            ArrowTimeUnit::Microsecond => TimeUnit::Microsecond,
            ArrowTimeUnit::Nanosecond => TimeUnit::Nanosecond,
        }
    }
}

/// A validity bitmap, materialized only once the first null arrives.
#[derive(Debug, Default, Clone)]
pub struct Validity {
    /// Bit `i` set means row `i` is valid. `None` means every row is valid.
    words: Option<Vec<u64>>,
    len: usize,
    nulls: usize,
}

impl Validity {
    /// Whether row `i` holds a value.
    #[inline]
    pub fn is_valid(&self, i: usize) -> bool {
        match &self.words {
            None => i < self.len,
            Some(w) => w.get(i / 64).is_some_and(|x| x >> (i % 64) & 1 == 1),
        }
    }
    /// The bitmap words (bit set = valid), or `None` when there are no nulls.
    pub fn words(&self) -> Option<&[u64]> {
        self.words.as_deref()
    }
    /// Number of null rows.
    pub fn null_count(&self) -> usize {
        self.nulls
    }
    /// Number of rows.
    pub fn len(&self) -> usize {
        self.len
    }
    /// Whether no rows are tracked.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn materialize(&mut self) {
        if self.words.is_none() {
            let mut w = vec![u64::MAX; self.len.div_ceil(64)];
            if !self.len.is_multiple_of(64) {
                if let Some(last) = w.last_mut() {
                    *last = (1u64 << (self.len % 64)) - 1;
                }
            }
            self.words = Some(w);
        }
    }

    /// Appends one row.
    pub(crate) fn push(&mut self, valid: bool) {
        if !valid {
            self.materialize();
        }
        self.push_bit(valid);
    }

    fn push_bit(&mut self, valid: bool) {
        if let Some(w) = &mut self.words {
            let i = self.len;
            if i / 64 >= w.len() {
                w.push(0);
            }
            if valid {
                w[i / 64] |= 1 << (i % 64);
            }
        }
        if !valid {
            self.nulls += 1;
        }
        self.len += 1;
    }

    /// Appends `len` rows whose nulls are given by Arrow's null buffer.
    pub(crate) fn append(&mut self, nulls: Option<&NullBuffer>, len: usize) {
        match nulls {
            Some(n) if n.null_count() > 0 => {
                self.materialize();
                for valid in n.iter().take(len) {
                    self.push_bit(valid);
                }
            }
            _ => {
                if self.words.is_some() {
                    for _ in 0..len {
                        self.push_bit(true);
                    }
                } else {
                    self.len += len;
                }
            }
        }
    }

    pub(crate) fn truncate(&mut self, len: usize) {
        if len >= self.len {
            return;
        }
        if let Some(w) = &mut self.words {
            w.truncate(len.div_ceil(64));
            if !len.is_multiple_of(64) {
                if let Some(last) = w.last_mut() {
                    *last &= (1u64 << (len % 64)) - 1;
                }
            }
            let valid: usize = w.iter().map(|x| x.count_ones() as usize).sum();
            self.nulls = len - valid;
        }
        self.len = len;
    }

    pub(crate) fn heap_bytes(&self) -> usize {
        self.words.as_ref().map_or(0, |w| w.capacity() * 8)
    }
}

/// The values of a column.
#[derive(Debug, Clone)]
pub enum ColumnData {
    /// Timestamps or dates as raw values in `unit`.
    Time {
        /// Raw values.
        values: Vec<i64>,
        /// Their unit.
        unit: TimeUnit,
        /// The Arrow time zone, if any (values are always UTC instants).
        tz: Option<String>,
    },
    /// Signed integers (and unsigned ones up to 32 bits, durations, times of day).
    Int(Vec<i64>),
    /// 64-bit unsigned integers.
    UInt(Vec<u64>),
    /// Floating-point numbers.
    Float(Vec<f64>),
    /// Booleans: 0 false, 1 true, 2 null.
    Bool(Vec<u8>),
    /// Strings: interned, or kept as they arrived until a query needs codes.
    Str(Strings),
    /// Not analyzed; see [`Column::note`].
    Other,
}

/// A cached mapping from one Arrow dictionary's indices to this column's codes.
#[derive(Debug, Clone, Default)]
struct DictCache {
    key: Vec<(usize, usize)>,
    remap: Vec<u32>,
}

/// One column of the store.
#[derive(Debug, Clone)]
pub struct Column {
    /// The field name.
    pub name: String,
    /// The Arrow type as written in the stream's schema, e.g. `Timestamp(ms, "UTC")`.
    pub arrow_type: String,
    /// How the column is used.
    pub role: Role,
    /// Why the column is kept out of analysis, for [`Role::Other`].
    pub note: Option<String>,
    /// The values.
    pub data: ColumnData,
    /// Which rows are non-null (numbers and times; strings and booleans encode null in-line).
    pub validity: Validity,
    /// The field's Arrow type, to check later streams against.
    pub(crate) data_type: DataType,
    dict_cache: DictCache,
    /// Times only: non-decreasing and without nulls so far.
    sorted: bool,
    /// Numbers only: value statistics per [`ZONE_ROWS`] rows.
    zones: Vec<Zone>,
}

/// Rows per zone of a numeric column's statistics.
pub const ZONE_ROWS: usize = 1 << 16;

/// Statistics of a zone's finite values (a zone map): null, NaN and infinities are
/// left out, so that edges computed from them are finite.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Zone {
    /// Smallest value (+inf when none).
    pub min: f64,
    /// Largest value (-inf when none).
    pub max: f64,
    /// Smallest positive value (+inf when none).
    pub min_pos: f64,
}

impl Zone {
    /// No values.
    pub const EMPTY: Zone = Zone { min: f64::INFINITY, max: f64::NEG_INFINITY, min_pos: f64::INFINITY };

    /// Adds one value (NaN and infinities are ignored).
    #[inline(always)]
    pub fn see(&mut self, v: f64) {
        if !v.is_finite() {
            return;
        }
        if v < self.min {
            self.min = v;
        }
        if v > self.max {
            self.max = v;
        }
        if v > 0.0 && v < self.min_pos {
            self.min_pos = v;
        }
    }

    /// Both zones together.
    pub fn merge(self, o: Zone) -> Zone {
        let mut z = self;
        for v in [o.min, o.max, o.min_pos] {
            if v.is_finite() {
                z.see(v);
            }
        }
        z
    }
}

fn describe(dt: &DataType) -> String {
    format!("{dt}")
}

/// Decides how a field is stored. Never fails: unsupported types become [`Role::Other`].
fn plan(dt: &DataType) -> (Role, ColumnData, Option<String>) {
    use DataType::*;
    match dt {
        Timestamp(u, tz) => (
            Role::Time,
            ColumnData::Time { values: Vec::new(), unit: (*u).into(), tz: tz.as_ref().map(|t| t.to_string()) },
            None,
        ),
        Date32 => (Role::Time, ColumnData::Time { values: Vec::new(), unit: TimeUnit::Day, tz: None }, None),
        Date64 => (Role::Time, ColumnData::Time { values: Vec::new(), unit: TimeUnit::Millisecond, tz: None }, None),
        Int8 | Int16 | Int32 | Int64 | UInt8 | UInt16 | UInt32 | Duration(_) | Time32(_) | Time64(_) => {
            (Role::Number, ColumnData::Int(Vec::new()), None)
        }
        UInt64 => (Role::Number, ColumnData::UInt(Vec::new()), None),
        Float16 | Float32 | Float64 => (Role::Number, ColumnData::Float(Vec::new()), None),
        Boolean => (Role::Bool, ColumnData::Bool(Vec::new()), None),
        Utf8 | LargeUtf8 | Utf8View => {
            (Role::String, ColumnData::Str(Strings::default()), None)
        }
        Dictionary(_, v) => match v.as_ref() {
            Dictionary(..) => other(dt),
            inner => {
                let (role, data, note) = plan(inner);
                match role {
                    Role::Other => (role, data, note.map(|n| format!("dictionary of {n}"))),
                    _ => (role, data, None),
                }
            }
        },
        Null => (Role::Other, ColumnData::Other, Some("null type: every value is null".into())),
        _ => other(dt),
    }
}

fn other(dt: &DataType) -> (Role, ColumnData, Option<String>) {
    (
        Role::Other,
        ColumnData::Other,
        Some(format!(
            "type {} is kept out of analysis (only timestamps, dates, numbers, booleans and strings are analyzed)",
            describe(dt)
        )),
    )
}

fn mismatch(column: &str, expected: &DataType, got: &DataType) -> Error {
    Error::SchemaMismatch { column: column.to_string(), message: format!("expected {expected}, got {got}") }
}

fn prim<'a, T: ArrowPrimitiveType>(name: &str, a: &'a dyn Array) -> Result<&'a PrimitiveArray<T>> {
    a.as_primitive_opt::<T>()
        .ok_or_else(|| Error::UnsupportedType { column: name.to_string(), arrow_type: describe(a.data_type()) })
}

fn ext_i64<T: ArrowPrimitiveType>(
    out: &mut Vec<i64>,
    name: &str,
    a: &dyn Array,
    f: impl Fn(T::Native) -> i64,
) -> Result<()> {
    let p = prim::<T>(name, a)?;
    out.extend(p.values().iter().map(|v| f(*v)));
    Ok(())
}

/// Room for `more` elements: doubling while the vector is under 64 MiB, then growing by
/// a quarter (at least `more`). A column's spare capacity is memory the page pays for (in
/// wasm, for good): doubling alone left 40% of a 5M-row dataset's memory unused, and a
/// quarter alone made loading 1M rows 20% slower (more copies). `false` when the
/// allocator refuses.
pub(crate) fn grow<T>(v: &mut Vec<T>, more: usize) -> bool {
    if v.capacity() - v.len() >= more {
        return true;
    }
    if v.len() * std::mem::size_of::<T>() < 64 << 20 {
        return v.try_reserve(more).is_ok();
    }
    v.try_reserve_exact(more.max(v.len() / 4)).is_ok()
}

/// The zone of rows `start..end` of a numeric column, nulls left out. Integers by their
/// integer extremes, converted once (the conversion to f64 is monotonic, so this is the
/// zone of the converted values): a plain loop the compiler vectorizes, where a call
/// per row was 40% of ingest.
fn zone_of(data: &ColumnData, words: Option<&[u64]>, start: usize, end: usize) -> Zone {
    let valid = |i: usize| words.is_none_or(|w| w.get(i / 64).is_some_and(|x| x >> (i % 64) & 1 == 1));
    macro_rules! int_zone {
        ($v:expr, $t:ty) => {{
            let v = $v.get(start..end).unwrap_or(&[]);
            let (mut lo, mut hi, mut pos, mut n) = (<$t>::MAX, <$t>::MIN, <$t>::MAX, 0usize);
            let mut see = |x: $t| {
                lo = lo.min(x);
                hi = hi.max(x);
                pos = pos.min(if x > 0 { x } else { <$t>::MAX });
            };
            if words.is_none() {
                v.iter().for_each(|x| see(*x));
                n = v.len();
            } else {
                for (k, x) in v.iter().enumerate() {
                    if valid(start + k) {
                        see(*x);
                        n += 1;
                    }
                }
            }
            if n == 0 {
                Zone::EMPTY
            } else {
                // `pos` is MAX either because no value was positive or because MAX was.
                let min_pos = if pos < <$t>::MAX || hi == <$t>::MAX { pos as f64 } else { f64::INFINITY };
                Zone { min: lo as f64, max: hi as f64, min_pos }
            }
        }};
    }
    match data {
        ColumnData::Int(v) => int_zone!(v, i64),
        ColumnData::UInt(v) => int_zone!(v, u64),
        ColumnData::Float(v) => {
            let v = v.get(start..end).unwrap_or(&[]);
            let mut z = Zone::EMPTY;
            if words.is_none() {
                v.iter().for_each(|x| z.see(*x));
            } else {
                v.iter().enumerate().filter(|(k, _)| valid(start + k)).for_each(|(_, x)| z.see(*x));
            }
            z
        }
        _ => Zone::EMPTY,
    }
}

impl Column {
    /// A new, empty column for `field`.
    pub fn new(field: &Field) -> Column {
        let (role, data, note) = plan(field.data_type());
        Column {
            name: field.name().clone(),
            arrow_type: describe(field.data_type()),
            role,
            note,
            data,
            validity: Validity::default(),
            data_type: field.data_type().clone(),
            dict_cache: DictCache::default(),
            sorted: true,
            zones: Vec::new(),
        }
    }

    /// A column computed by the engine (a calculated field): floats (NaN for null),
    /// booleans (2 for null) or interned strings, with the statistics loaded columns have.
    pub(crate) fn computed(name: &str, data: ColumnData) -> Column {
        let (role, arrow_type, data_type, len) = match &data {
            ColumnData::Float(v) => (Role::Number, "Float64", DataType::Float64, v.len()),
            ColumnData::Bool(v) => (Role::Bool, "Boolean", DataType::Boolean, v.len()),
            ColumnData::Str(s) => (Role::String, "Utf8", DataType::Utf8, s.len()),
            _ => (Role::Other, "Null", DataType::Null, 0),
        };
        let mut validity = Validity::default();
        match &data {
            ColumnData::Float(v) if v.iter().any(|x| x.is_nan()) => {
                validity.materialize();
                v.iter().for_each(|x| validity.push_bit(!x.is_nan()));
            }
            _ => validity.len = len,
        }
        let mut c = Column {
            name: name.to_string(),
            arrow_type: arrow_type.into(),
            role,
            note: None,
            data,
            validity,
            data_type,
            dict_cache: DictCache::default(),
            sorted: false,
            zones: Vec::new(),
        };
        c.update_zones();
        c
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.validity.len()
    }

    /// Whether the column has no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether row `i` is null.
    pub fn is_null(&self, i: usize) -> bool {
        match &self.data {
            ColumnData::Str(s) => s.is_null(i),
            ColumnData::Bool(v) => v.get(i).is_none_or(|b| *b == 2),
            ColumnData::Other => true,
            _ => !self.validity.is_valid(i),
        }
    }

    /// Approximate heap bytes held.
    pub fn heap_bytes(&self) -> usize {
        let data = match &self.data {
            ColumnData::Time { values, .. } | ColumnData::Int(values) => values.capacity() * 8,
            ColumnData::UInt(v) => v.capacity() * 8,
            ColumnData::Float(v) => v.capacity() * 8,
            ColumnData::Bool(v) => v.capacity(),
            ColumnData::Str(s) => s.heap_bytes(),
            ColumnData::Other => 0,
        };
        data + self.validity.heap_bytes()
    }

    /// Drops rows past `len` (used to undo a half-appended batch).
    pub(crate) fn truncate(&mut self, len: usize) {
        match &mut self.data {
            ColumnData::Time { values, .. } | ColumnData::Int(values) => values.truncate(len),
            ColumnData::UInt(v) => v.truncate(len),
            ColumnData::Float(v) => v.truncate(len),
            ColumnData::Bool(v) => v.truncate(len),
            ColumnData::Str(s) => s.truncate(len),
            ColumnData::Other => {}
        }
        self.validity.truncate(len);
        self.zones.truncate(len / ZONE_ROWS);
        self.update_zones();
    }

    /// The value at row `i` of a numeric column as `f64`, `None` if null or not numeric.
    #[inline]
    fn number(&self, i: usize) -> Option<f64> {
        if !self.validity.is_valid(i) {
            return None;
        }
        match &self.data {
            ColumnData::Int(v) => v.get(i).map(|x| *x as f64),
            ColumnData::UInt(v) => v.get(i).map(|x| *x as f64),
            ColumnData::Float(v) => v.get(i).copied(),
            _ => None,
        }
    }

    /// Brings the zone statistics up to the column's length (the last zone may be partial
    /// and is recomputed).
    fn update_zones(&mut self) {
        if !matches!(self.data, ColumnData::Int(_) | ColumnData::UInt(_) | ColumnData::Float(_)) {
            return;
        }
        let len = self.len();
        let done = self.zones.len().saturating_sub(1);
        self.zones.truncate(done);
        let mut start = done * ZONE_ROWS;
        while start < len {
            let end = (start + ZONE_ROWS).min(len);
            self.zones.push(zone_of(&self.data, self.validity.words(), start, end));
            start = end;
        }
    }

    /// Statistics of rows `a..b` of a numeric column: whole zones from the zone map,
    /// partial ones scanned. `None` for other columns.
    pub fn range_stats(&self, a: usize, b: usize) -> Option<Zone> {
        if !matches!(self.data, ColumnData::Int(_) | ColumnData::UInt(_) | ColumnData::Float(_)) {
            return None;
        }
        let b = b.min(self.len());
        let mut z = Zone::EMPTY;
        let mut i = a;
        while i < b {
            let k = i / ZONE_ROWS;
            let (zs, ze) = (k * ZONE_ROWS, ((k + 1) * ZONE_ROWS).min(self.len()));
            if i == zs && ze <= b && k < self.zones.len() {
                z = z.merge(self.zones[k]);
                i = ze;
                continue;
            }
            let end = ze.min(b);
            for r in i..end {
                if let Some(x) = self.number(r) {
                    z.see(x);
                }
            }
            i = end;
        }
        Some(z)
    }

    /// Appends one Arrow array (a batch's column) to this column.
    ///
    /// On error the column may hold part of the array; the caller truncates it back.
    pub fn append(&mut self, array: &ArrayRef) -> Result<()> {
        self.reserve(array)?;
        let before = self.len();
        self.append_values(array)?;
        if let ColumnData::Time { values, .. } = &self.data {
            let new = values.get(before.saturating_sub(1)..).unwrap_or(&[]);
            self.sorted = self.sorted && self.validity.null_count() == 0 && new.windows(2).all(|w| w[0] <= w[1]);
        }
        self.update_zones();
        Ok(())
    }

    /// Whether the column holds times in non-decreasing order, without nulls (then
    /// time ranges are found by binary search).
    pub fn is_sorted(&self) -> bool {
        self.sorted && matches!(self.data, ColumnData::Time { .. })
    }

    /// Reserves room for `array`'s rows (and a string array's bytes) with
    /// `try_reserve`, so that memory the allocator cannot give is an error, not an
    /// abort (in wasm: a trap that kills the module).
    fn reserve(&mut self, array: &ArrayRef) -> Result<()> {
        let rows = array.len();
        let fail = |what: &str| Error::OutOfMemory {
            offset: 0,
            message: format!("column \"{}\": no memory for {rows} more {what}", self.name),
        };
        let string_bytes = match array.data_type() {
            DataType::Utf8 => array.as_string_opt::<i32>().map_or(0, |s| s.value_data().len()),
            DataType::LargeUtf8 => array.as_string_opt::<i64>().map_or(0, |s| s.value_data().len()),
            _ => 0,
        };
        let ok = match &mut self.data {
            ColumnData::Time { values, .. } | ColumnData::Int(values) => grow(values, rows),
            ColumnData::UInt(v) => grow(v, rows),
            ColumnData::Float(v) => grow(v, rows),
            ColumnData::Bool(v) => grow(v, rows),
            ColumnData::Str(s) => s.try_reserve(rows, string_bytes),
            ColumnData::Other => true,
        };
        if ok {
            Ok(())
        } else {
            Err(fail("rows"))
        }
    }

    fn append_values(&mut self, array: &ArrayRef) -> Result<()> {
        let len = array.len();
        if let DataType::Dictionary(_, _) = array.data_type() {
            return self.append_dictionary(array);
        }
        self.append_plain(array.as_ref())?;
        // Strings and booleans keep nulls in-line but still track the row count.
        if matches!(self.data, ColumnData::Str(_) | ColumnData::Bool(_) | ColumnData::Other) {
            self.validity.append(None, len);
        } else {
            self.validity.append(array.logical_nulls().as_ref(), len);
        }
        Ok(())
    }

    fn append_plain(&mut self, a: &dyn Array) -> Result<()> {
        use DataType as D;
        let name = self.name.clone();
        let name = name.as_str();
        let dt = a.data_type().clone();
        match (&mut self.data, &dt) {
            (ColumnData::Time { values, .. }, D::Timestamp(u, _)) => match u {
                ArrowTimeUnit::Second => ext_i64::<TimestampSecondType>(values, name, a, |v| v),
                ArrowTimeUnit::Millisecond => ext_i64::<TimestampMillisecondType>(values, name, a, |v| v),
                ArrowTimeUnit::Microsecond => ext_i64::<TimestampMicrosecondType>(values, name, a, |v| v),
                ArrowTimeUnit::Nanosecond => ext_i64::<TimestampNanosecondType>(values, name, a, |v| v),
            },
            (ColumnData::Time { values, .. }, D::Date32) => ext_i64::<Date32Type>(values, name, a, |v| v as i64),
            (ColumnData::Time { values, .. }, D::Date64) => ext_i64::<Date64Type>(values, name, a, |v| v),
            (ColumnData::Int(v), D::Int8) => ext_i64::<Int8Type>(v, name, a, |x| x as i64),
            (ColumnData::Int(v), D::Int16) => ext_i64::<Int16Type>(v, name, a, |x| x as i64),
            (ColumnData::Int(v), D::Int32) => ext_i64::<Int32Type>(v, name, a, |x| x as i64),
            (ColumnData::Int(v), D::Int64) => ext_i64::<Int64Type>(v, name, a, |x| x),
            (ColumnData::Int(v), D::UInt8) => ext_i64::<UInt8Type>(v, name, a, |x| x as i64),
            (ColumnData::Int(v), D::UInt16) => ext_i64::<UInt16Type>(v, name, a, |x| x as i64),
            (ColumnData::Int(v), D::UInt32) => ext_i64::<UInt32Type>(v, name, a, |x| x as i64),
            (ColumnData::Int(v), D::Duration(u)) => match u {
                ArrowTimeUnit::Second => ext_i64::<DurationSecondType>(v, name, a, |x| x),
                ArrowTimeUnit::Millisecond => ext_i64::<DurationMillisecondType>(v, name, a, |x| x),
                ArrowTimeUnit::Microsecond => ext_i64::<DurationMicrosecondType>(v, name, a, |x| x),
                ArrowTimeUnit::Nanosecond => ext_i64::<DurationNanosecondType>(v, name, a, |x| x),
            },
            (ColumnData::Int(v), D::Time32(ArrowTimeUnit::Second)) => {
                ext_i64::<Time32SecondType>(v, name, a, |x| x as i64)
            }
            (ColumnData::Int(v), D::Time32(_)) => ext_i64::<Time32MillisecondType>(v, name, a, |x| x as i64),
            (ColumnData::Int(v), D::Time64(ArrowTimeUnit::Microsecond)) => {
                ext_i64::<Time64MicrosecondType>(v, name, a, |x| x)
            }
            (ColumnData::Int(v), D::Time64(_)) => ext_i64::<Time64NanosecondType>(v, name, a, |x| x),
            (ColumnData::UInt(v), D::UInt64) => {
                v.extend_from_slice(prim::<UInt64Type>(name, a)?.values());
                Ok(())
            }
            (ColumnData::Float(v), D::Float16) => {
                v.extend(prim::<Float16Type>(name, a)?.values().iter().map(|x| x.to_f64()));
                Ok(())
            }
            (ColumnData::Float(v), D::Float32) => {
                v.extend(prim::<Float32Type>(name, a)?.values().iter().map(|x| *x as f64));
                Ok(())
            }
            (ColumnData::Float(v), D::Float64) => {
                v.extend_from_slice(prim::<Float64Type>(name, a)?.values());
                Ok(())
            }
            (ColumnData::Bool(v), D::Boolean) => {
                let b = a.as_boolean_opt().ok_or_else(|| mismatch(name, &self.data_type, &dt))?;
                v.extend(b.iter().map(|x| match x {
                    Some(true) => 1,
                    Some(false) => 0,
                    None => 2,
                }));
                Ok(())
            }
            (ColumnData::Str(s), D::Utf8 | D::LargeUtf8 | D::Utf8View) => s.append(a),
            (ColumnData::Other, _) => Ok(()),
            _ => Err(mismatch(name, &self.data_type, &dt)),
        }
    }

    fn append_dictionary(&mut self, array: &ArrayRef) -> Result<()> {
        let DataType::Dictionary(k, _) = array.data_type() else {
            return Err(mismatch(&self.name, &self.data_type, array.data_type()));
        };
        macro_rules! keyed {
            ($t:ty) => {{
                let d = array
                    .as_any()
                    .downcast_ref::<DictionaryArray<$t>>()
                    .ok_or_else(|| mismatch(&self.name, &self.data_type, array.data_type()))?;
                self.append_keys(d.keys(), d.values())
            }};
        }
        match k.as_ref() {
            DataType::Int8 => keyed!(Int8Type),
            DataType::Int16 => keyed!(Int16Type),
            DataType::Int32 => keyed!(Int32Type),
            DataType::Int64 => keyed!(Int64Type),
            DataType::UInt8 => keyed!(UInt8Type),
            DataType::UInt16 => keyed!(UInt16Type),
            DataType::UInt32 => keyed!(UInt32Type),
            DataType::UInt64 => keyed!(UInt64Type),
            other => Err(Error::UnsupportedType {
                column: self.name.clone(),
                arrow_type: format!("dictionary index type {other}"),
            }),
        }
    }

    fn append_keys<K: ArrowPrimitiveType>(&mut self, keys: &PrimitiveArray<K>, values: &ArrayRef) -> Result<()>
    where
        K::Native: arrow_buffer::ArrowNativeType,
    {
        use arrow_buffer::ArrowNativeType;
        let len = keys.len();
        if matches!(self.data, ColumnData::Str(_)) {
            self.refresh_dict_cache(values)?;
            let ColumnData::Str(s) = &mut self.data else {
                return Ok(());
            };
            let (codes, _) = s.interned_mut()?;
            let remap = &self.dict_cache.remap;
            let kv = keys.values();
            codes.reserve(len);
            match keys.nulls().filter(|n| n.null_count() > 0) {
                None => {
                    // Check every key first, then gather without a branch per row.
                    if let Some(row) = kv.iter().position(|k| k.to_usize().is_none_or(|k| k >= remap.len())) {
                        return Err(key_error(&self.name, row, kv[row].to_i64()));
                    }
                    codes.extend(kv.iter().map(|k| remap.get(k.as_usize()).copied().unwrap_or(0)));
                }
                Some(n) => {
                    for (row, (k, valid)) in kv.iter().zip(n.iter()).enumerate() {
                        if !valid {
                            codes.push(0);
                            continue;
                        }
                        let code = k
                            .to_usize()
                            .and_then(|k| remap.get(k))
                            .ok_or_else(|| key_error(&self.name, row, k.to_i64()))?;
                        codes.push(*code);
                    }
                }
            }
            self.validity.append(None, len);
            return Ok(());
        }
        // Dictionary of numbers, booleans or times: convert the values, then gather.
        let mut dict_values = Column::new(&Field::new("", values.data_type().clone(), true));
        dict_values.append(values)?;
        let n = dict_values.len();
        let mut idx = Vec::with_capacity(len);
        for (row, k) in keys.iter().enumerate() {
            idx.push(match k {
                None => None,
                Some(k) => Some(k.to_usize().filter(|k| *k < n).ok_or_else(|| key_error(&self.name, row, k.to_i64()))?),
            });
        }
        self.gather(&dict_values, &idx)
    }

    /// Appends `src[i]` for each index (`None` appends a null).
    fn gather(&mut self, src: &Column, idx: &[Option<usize>]) -> Result<()> {
        fn pick<T: Copy + Default>(out: &mut Vec<T>, src: &[T], idx: &[Option<usize>]) {
            out.extend(idx.iter().map(|i| i.and_then(|i| src.get(i).copied()).unwrap_or_default()));
        }
        match (&mut self.data, &src.data) {
            (ColumnData::Time { values: a, .. }, ColumnData::Time { values: b, .. }) => pick(a, b, idx),
            (ColumnData::Int(a), ColumnData::Int(b)) => pick(a, b, idx),
            (ColumnData::UInt(a), ColumnData::UInt(b)) => pick(a, b, idx),
            (ColumnData::Float(a), ColumnData::Float(b)) => pick(a, b, idx),
            (ColumnData::Bool(a), ColumnData::Bool(b)) => {
                a.extend(idx.iter().map(|i| i.and_then(|i| b.get(i).copied()).unwrap_or(2)))
            }
            (ColumnData::Other, _) => {}
            _ => return Err(mismatch(&self.name, &self.data_type, &src.data_type)),
        }
        if matches!(self.data, ColumnData::Bool(_) | ColumnData::Other) {
            self.validity.append(None, idx.len());
        } else {
            let valid: Vec<bool> = idx.iter().map(|i| i.is_some_and(|i| src.validity.is_valid(i))).collect();
            let nulls = NullBuffer::from(valid);
            self.validity.append(Some(&nulls), idx.len());
        }
        Ok(())
    }

    /// Interns the values of an Arrow dictionary, reusing the mapping when the batch
    /// carries the same dictionary as the previous one.
    fn refresh_dict_cache(&mut self, values: &ArrayRef) -> Result<()> {
        let data = values.to_data();
        let mut key = vec![(data.len(), data.offset())];
        key.extend(data.buffers().iter().map(|b| (b.as_ptr() as usize, b.len())));
        if let Some(n) = data.nulls() {
            key.push((n.buffer().as_ptr() as usize, n.null_count()));
        }
        if key == self.dict_cache.key && !key.is_empty() {
            return Ok(());
        }
        let ColumnData::Str(s) = &mut self.data else { return Ok(()) };
        let (_, dict) = s.interned_mut()?;
        let mut remap = Vec::with_capacity(values.len());
        macro_rules! map_all {
            ($it:expr) => {
                for v in $it {
                    remap.push(match v {
                        Some(s) => dict.intern(s)?,
                        None => 0,
                    });
                }
            };
        }
        match values.data_type() {
            DataType::Utf8 => map_all!(values.as_string_opt::<i32>().into_iter().flat_map(|s| s.iter())),
            DataType::LargeUtf8 => map_all!(values.as_string_opt::<i64>().into_iter().flat_map(|s| s.iter())),
            DataType::Utf8View => map_all!(values.as_string_view_opt().into_iter().flat_map(|s| s.iter())),
            other => {
                return Err(Error::UnsupportedType {
                    column: self.name.clone(),
                    arrow_type: format!("dictionary of {other}"),
                })
            }
        }
        self.dict_cache = DictCache { key, remap };
        Ok(())
    }
}

fn key_error(column: &str, row: usize, key: Option<i64>) -> Error {
    Error::Ingest {
        offset: 0,
        message: format!(
            "column \"{column}\": dictionary index {} at row {row} of the batch is out of range",
            key.map_or("?".to_string(), |k| k.to_string())
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn integer_zones_match_a_scan_of_the_converted_values() {
        use arrow_array::{Int64Array, UInt64Array};
        let mut seed = 11u64;
        let mut ints: Vec<Option<i64>> = Vec::new();
        for _ in 0..150_000 {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ints.push(match seed >> 61 {
                0 => None,
                1 => Some(i64::MIN),
                _ => Some((seed >> 30) as i64 % 1000 - 900),
            });
        }
        let mut col = Column::new(&Field::new("i", DataType::Int64, true));
        for part in ints.chunks(40_000) {
            col.append(&(Arc::new(Int64Array::from(part.to_vec())) as ArrayRef)).unwrap();
        }
        let scan = |a: usize, b: usize| {
            let mut z = Zone::EMPTY;
            ints[a..b].iter().flatten().for_each(|v| z.see(*v as f64));
            z
        };
        let n = ints.len();
        for (a, b) in [(0, n), (0, 65_536), (65_536, 131_072), (100, 140_000)] {
            assert_eq!(col.range_stats(a, b), Some(scan(a, b)), "{a}..{b}");
        }
        // No positive value; and u64::MAX as the only positive one.
        let mut neg = Column::new(&Field::new("n", DataType::Int64, false));
        neg.append(&(Arc::new(Int64Array::from(vec![-3, 0, -1])) as ArrayRef)).unwrap();
        assert_eq!(neg.range_stats(0, 3), Some(Zone { min: -3.0, max: 0.0, min_pos: f64::INFINITY }));
        let mut big = Column::new(&Field::new("u", DataType::UInt64, true));
        big.append(&(Arc::new(UInt64Array::from(vec![Some(0), None, Some(u64::MAX)])) as ArrayRef)).unwrap();
        let m = u64::MAX as f64;
        assert_eq!(big.range_stats(0, 3), Some(Zone { min: 0.0, max: m, min_pos: m }));
        let mut empty = Column::new(&Field::new("e", DataType::Int64, true));
        empty.append(&(Arc::new(Int64Array::from(vec![None, None])) as ArrayRef)).unwrap();
        assert_eq!(empty.range_stats(0, 2), Some(Zone::EMPTY));
    }

    #[test]
    fn zone_stats_match_a_scan() {
        use arrow_array::Float64Array;
        let mut col = Column::new(&Field::new("x", DataType::Float64, true));
        let mut all: Vec<Option<f64>> = Vec::new();
        let mut seed = 7u64;
        for n in [1000usize, 70_000, 3, 65_536, 140_000] {
            let vals: Vec<Option<f64>> = (0..n)
                .map(|_| {
                    seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                    match seed >> 60 {
                        0 => None,
                        1 => Some(f64::NAN),
                        _ => Some((seed >> 20) as f64 / 1e9 - 4000.0),
                    }
                })
                .collect();
            all.extend(&vals);
            col.append(&(Arc::new(Float64Array::from(vals)) as ArrayRef)).unwrap();
        }
        let scan = |a: usize, b: usize| {
            let mut z = Zone::EMPTY;
            all[a..b].iter().flatten().for_each(|v| z.see(*v));
            z
        };
        let n = all.len();
        for (a, b) in
            [(0, n), (0, 1), (5, 65_536), (65_536, 131_072), (1000, 200_000), (131_071, n), (n, n), (70_000, 70_003)]
        {
            assert_eq!(col.range_stats(a, b), Some(scan(a, b)), "{a}..{b}");
        }
        col.truncate(100_000);
        assert_eq!(col.range_stats(0, 100_000), Some(scan(0, 100_000)));
    }

    #[test]
    fn validity_materializes_and_truncates() {
        let mut v = Validity::default();
        v.append(None, 70);
        let nulls = NullBuffer::from(vec![true, false, true]);
        v.append(Some(&nulls), 3);
        assert_eq!(v.len(), 73);
        assert_eq!(v.null_count(), 1);
        assert!(v.is_valid(69) && v.is_valid(70) && !v.is_valid(71) && v.is_valid(72));
        assert!(!v.is_valid(73));
        v.truncate(71);
        assert_eq!(v.null_count(), 0);
        assert_eq!(v.len(), 71);
    }
}
