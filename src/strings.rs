//! Strings: the [`Dict`] interner, and [`Strings`], a string column's values.
//!
//! A string column is interned as it arrives (one `u32` code per row, code 0 null) while
//! that pays, which is for most columns: they repeat a few values (services, endpoints,
//! customers) and a code is 4 bytes where the string was 10 or 20. A column whose values
//! are mostly distinct (trace and request ids) stops being interned: hashing a million
//! distinct strings was most of the cost of loading the demo stream, and no default
//! view groups by such a column. Its bytes are kept as they arrived (one copy: offsets
//! and bytes), filters test them in place, and its dictionary is built the first time a
//! query needs codes (a breakdown, a comparison, COUNT_DISTINCT, a formula), then kept.

use std::hash::Hasher;
use std::sync::OnceLock;

use arrow_array::cast::AsArray;
use arrow_array::{Array, GenericStringArray, OffsetSizeTrait};
use arrow_schema::DataType;

use crate::column::{grow, Validity};
use crate::error::{Error, Result};
use crate::util::FxHasher;

/// An interned set of strings. Code 0 is null; code `c >= 1` is a distinct string.
///
/// One byte arena with offsets, and an open-addressing table whose slots hold the
/// string's 32-bit hash beside its code, so a probe touches one cache line and
/// compares bytes only when the hashes match; growing never re-hashes a string.
#[derive(Debug, Clone)]
pub struct Dict {
    bytes: Vec<u8>,
    /// `offsets[c]..offsets[c + 1]` is the string of code `c`; code 0 is empty.
    offsets: Vec<u32>,
    /// `hash << 32 | code`, 0 = empty slot; length is a power of two, at most half full.
    table: Vec<u64>,
}

impl Dict {
    /// Room for `bytes` more string bytes (new values may need up to that).
    pub(crate) fn try_reserve(&mut self, bytes: usize) -> bool {
        self.bytes.try_reserve(bytes).is_ok()
    }
}

impl Default for Dict {
    fn default() -> Self {
        Dict { bytes: Vec::new(), offsets: vec![0, 0], table: vec![0; 16] }
    }
}

#[inline]
fn hash_str(s: &[u8]) -> u32 {
    let mut h = FxHasher::default();
    h.write(s);
    // A multiplicative hash mixes upward: its high half depends on every input bit, its
    // low half does not.
    (h.finish() >> 32) as u32
}

impl Dict {
    /// Number of codes, including the null code 0.
    pub fn code_count(&self) -> usize {
        self.offsets.len() - 1
    }

    /// Number of distinct non-null strings.
    pub fn len(&self) -> usize {
        self.code_count() - 1
    }

    /// Whether there are no strings.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The string of `code`, or `None` for null (code 0) and unknown codes.
    pub fn get(&self, code: u32) -> Option<&str> {
        if code == 0 {
            return None;
        }
        let c = code as usize;
        let (start, end) = (*self.offsets.get(c)? as usize, *self.offsets.get(c + 1)? as usize);
        // Only whole `&str`s are ever inserted, so these ranges are valid UTF-8.
        std::str::from_utf8(self.bytes.get(start..end)?).ok()
    }

    #[inline]
    pub(crate) fn bytes_of(&self, code: u32) -> &[u8] {
        let c = code as usize;
        &self.bytes[self.offsets[c] as usize..self.offsets[c + 1] as usize]
    }

    /// The slot holding `b` (`Ok`) or the empty slot where it would go (`Err`).
    #[inline]
    fn find(&self, b: &[u8], h: u32) -> Result<usize, usize> {
        let mask = self.table.len() - 1;
        let mut slot = h as usize & mask;
        loop {
            let e = self.table[slot];
            if e == 0 {
                return Err(slot);
            }
            if (e >> 32) as u32 == h && self.bytes_of(e as u32) == b {
                return Ok(slot);
            }
            slot = (slot + 1) & mask;
        }
    }

    /// The code of `s`, if it has been interned.
    pub fn lookup(&self, s: &str) -> Option<u32> {
        self.find(s.as_bytes(), hash_str(s.as_bytes())).ok().map(|slot| self.table[slot] as u32)
    }

    /// Interns `s` and returns its code.
    #[inline]
    pub fn intern(&mut self, s: &str) -> Result<u32> {
        self.intern_bytes(s.as_bytes())
    }

    /// Interns the bytes of a whole string (only ever called with a `&str`'s bytes, so
    /// every code's bytes are valid UTF-8).
    #[inline]
    fn intern_bytes(&mut self, b: &[u8]) -> Result<u32> {
        let h = hash_str(b);
        let slot = match self.find(b, h) {
            Ok(slot) => return Ok(self.table[slot] as u32),
            Err(slot) => slot,
        };
        let end = self.bytes.len() + b.len();
        let (Ok(end32), Ok(code)) = (u32::try_from(end), u32::try_from(self.code_count())) else {
            return Err(Error::State("string dictionary exceeds 4 GiB".into()));
        };
        self.bytes.extend_from_slice(b);
        self.offsets.push(end32);
        self.table[slot] = (h as u64) << 32 | code as u64;
        if self.code_count() * 2 > self.table.len() {
            self.grow()?;
        }
        Ok(code)
    }

    /// Doubles the table, placing entries by their stored hashes.
    fn grow(&mut self) -> Result<()> {
        let n = self.table.len() * 2;
        let mut table = Vec::new();
        if table.try_reserve_exact(n).is_err() {
            return Err(Error::OutOfMemory {
                offset: 0,
                message: format!("no memory for a string dictionary of {} values", self.len()),
            });
        }
        table.resize(n, 0u64);
        let mask = n - 1;
        for e in self.table.iter().copied().filter(|e| *e != 0) {
            let mut slot = (e >> 32) as usize & mask;
            while table[slot] != 0 {
                slot = (slot + 1) & mask;
            }
            table[slot] = e;
        }
        self.table = table;
        Ok(())
    }

    pub(crate) fn heap_bytes(&self) -> usize {
        self.bytes.capacity() + self.offsets.capacity() * 4 + self.table.capacity() * 8
    }
}


/// Whether a column being interned holds identifiers is checked once it has
/// [`ID_CHECK_FROM`] rows and every [`ID_CHECK_ROWS`] rows after: a column with more
/// distinct values than half its rows stops being interned. (A column of 5,000 customers
/// drawn evenly has about 4,800 distinct values in its first 16,384 rows: it stays.) The
/// check depends only on the values and their order, never on how the stream was cut
/// into batches.
pub const ID_CHECK_FROM: usize = 16_384;
/// See [`ID_CHECK_FROM`].
pub const ID_CHECK_ROWS: usize = 4096;

/// The values of a string column; see the module docs.
#[derive(Debug, Clone)]
pub struct Strings {
    state: State,
}

#[derive(Debug, Clone)]
enum State {
    /// Every row interned. `keep`: stay interned (the dictionary was asked for by a query,
    /// came from dictionary-encoded input, or the column was computed).
    Interned { codes: Vec<u32>, dict: Dict, keep: bool },
    /// Every row as it arrived; `built` is the dictionary once a query needed it.
    Raw { raw: Raw, built: OnceLock<(Vec<u32>, Dict)> },
}

/// Strings as they arrived: `bytes[offsets[i]..offsets[i + 1]]` is row `i`.
#[derive(Debug, Clone)]
struct Raw {
    offsets: Vec<u32>,
    bytes: Vec<u8>,
    nulls: Validity,
}

fn too_big() -> Error {
    Error::State("a string column exceeds 4 GiB".into())
}

impl Raw {
    fn new() -> Raw {
        Raw { offsets: vec![0], bytes: Vec::new(), nulls: Validity::default() }
    }

    fn len(&self) -> usize {
        self.offsets.len() - 1
    }

    /// The bytes of row `i`, `None` for null (or past the end).
    #[inline]
    fn value(&self, i: usize) -> Option<&[u8]> {
        if !self.nulls.is_valid(i) {
            return None;
        }
        let (a, b) = (*self.offsets.get(i)? as usize, *self.offsets.get(i + 1)? as usize);
        self.bytes.get(a..b)
    }

    fn push(&mut self, v: Option<&[u8]>) -> Result<()> {
        let b = v.unwrap_or_default();
        self.bytes.extend_from_slice(b);
        self.offsets.push(u32::try_from(self.bytes.len()).map_err(|_| too_big())?);
        self.nulls.push(v.is_some());
        Ok(())
    }

    /// Appends a Utf8 or LargeUtf8 array: its value bytes in one copy, offsets rebased.
    fn extend_offsets<O: OffsetSizeTrait>(&mut self, a: &GenericStringArray<O>) -> Result<()> {
        let offs = a.value_offsets();
        let (Some(first), Some(last)) = (offs.first(), offs.last()) else { return Ok(()) };
        let (first, last) = (first.as_usize(), last.as_usize());
        let data = a.value_data().get(first..last).ok_or_else(too_big)?;
        let base = self.bytes.len();
        if u32::try_from(base + data.len()).is_err() {
            return Err(too_big());
        }
        self.bytes.extend_from_slice(data);
        self.offsets.extend(offs[1..].iter().map(|o| (base + o.as_usize().saturating_sub(first)) as u32));
        self.nulls.append(a.nulls(), a.len());
        Ok(())
    }

    fn append(&mut self, a: &dyn Array) -> Result<()> {
        match a.data_type() {
            DataType::Utf8 => self.extend_offsets(a.as_string::<i32>()),
            DataType::LargeUtf8 => self.extend_offsets(a.as_string::<i64>()),
            _ => {
                for v in a.as_string_view_opt().into_iter().flat_map(|s| s.iter()) {
                    self.push(v.map(str::as_bytes))?;
                }
                Ok(())
            }
        }
    }

    fn truncate(&mut self, len: usize) {
        if len < self.len() {
            self.offsets.truncate(len + 1);
            self.bytes.truncate(self.offsets[len] as usize);
            self.nulls.truncate(len);
        }
    }

    /// Interns every row: the dictionary a query asked for. Refused up front, naming
    /// what it needs, when that is more than the module may still take (codes, bytes,
    /// offsets and a table of up to 16 bytes per value: an id column's dictionary is
    /// about the size of its bytes again).
    fn intern(&self) -> Result<(Vec<u32>, Dict)> {
        let n = self.len();
        let need = (n as u64) * (4 + 4 + 16) + self.bytes.len() as u64;
        let free = crate::memory::available();
        if need > free {
            return Err(Error::OutOfMemory {
                offset: 0,
                message: format!(
                    "building the dictionary of a string column of {n} rows needs about {need} bytes; {free} are left"
                ),
            });
        }
        let mut codes = Vec::new();
        let mut dict = Dict::default();
        if codes.try_reserve_exact(n).is_err() || !dict.try_reserve(self.bytes.len()) {
            return Err(Error::OutOfMemory {
                offset: 0,
                message: format!("no memory for the dictionary of a string column of {n} rows"),
            });
        }
        intern_all(&mut codes, &mut dict, (0..n).map(|i| self.value(i)), false)?;
        Ok((codes, dict))
    }

    fn heap_bytes(&self) -> usize {
        self.offsets.capacity() * 4 + self.bytes.capacity() + self.nulls.heap_bytes()
    }
}

impl Default for Strings {
    fn default() -> Self {
        Strings { state: State::Interned { codes: Vec::new(), dict: Dict::default(), keep: false } }
    }
}

/// Interns `it` (each string's bytes, `None` for null) onto `codes`; with `check`, stops
/// after a check finds the column is mostly distinct and returns how many of the items
/// were taken. Only whole strings' bytes are ever passed in.
fn intern_all<'a>(
    codes: &mut Vec<u32>,
    dict: &mut Dict,
    it: impl Iterator<Item = Option<&'a [u8]>>,
    check: bool,
) -> Result<Option<usize>> {
    // Consecutive equal values are common (sorted or bursty data): skip the hash then.
    let mut last: Option<(&[u8], u32)> = None;
    for (k, v) in it.enumerate() {
        let code = match v {
            None => 0,
            Some(s) => match last {
                Some((p, c)) if p == s => c,
                _ => {
                    let c = dict.intern_bytes(s)?;
                    last = Some((s, c));
                    c
                }
            },
        };
        codes.push(code);
        if check
            && codes.len() >= ID_CHECK_FROM
            && codes.len().is_multiple_of(ID_CHECK_ROWS)
            && dict.len() * 2 > codes.len()
        {
            return Ok(Some(k + 1));
        }
    }
    Ok(None)
}

impl Strings {
    /// A computed column's strings: interned, and kept so.
    pub fn interned(codes: Vec<u32>, dict: Dict) -> Strings {
        Strings { state: State::Interned { codes, dict, keep: true } }
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        match &self.state {
            State::Interned { codes, .. } => codes.len(),
            State::Raw { raw, .. } => raw.len(),
        }
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Row `i`'s string; `None` for null (and past the end).
    #[inline]
    pub fn get(&self, i: usize) -> Option<&str> {
        match &self.state {
            State::Interned { codes, dict, .. } => dict.get(*codes.get(i)?),
            // Raw bytes are only ever copied from whole strings.
            State::Raw { raw, .. } => std::str::from_utf8(raw.value(i)?).ok(),
        }
    }

    /// Row `i`'s bytes (`None` for null): what filters test on a column kept as it arrived.
    #[inline]
    pub fn bytes(&self, i: usize) -> Option<&[u8]> {
        match &self.state {
            State::Interned { codes, dict, .. } => match codes.get(i) {
                Some(c) if *c != 0 => Some(dict.bytes_of(*c)),
                _ => None,
            },
            State::Raw { raw, .. } => raw.value(i),
        }
    }

    /// Whether row `i` is null.
    pub fn is_null(&self, i: usize) -> bool {
        match &self.state {
            State::Interned { codes, .. } => codes.get(i).is_none_or(|c| *c == 0),
            State::Raw { raw, .. } => !raw.nulls.is_valid(i),
        }
    }

    /// Number of null rows.
    pub fn null_count(&self) -> usize {
        match &self.state {
            State::Interned { codes, .. } => codes.iter().filter(|c| **c == 0).count(),
            State::Raw { raw, .. } => raw.nulls.null_count(),
        }
    }

    /// Number of distinct non-null strings, when the dictionary exists (a column kept as
    /// it arrived has none until a query needs it).
    pub fn distinct(&self) -> Option<usize> {
        self.dictionary().map(|(_, d)| d.len())
    }

    /// The codes and dictionary if they exist, without building them.
    pub fn dictionary(&self) -> Option<(&[u32], &Dict)> {
        match &self.state {
            State::Interned { codes, dict, .. } => Some((codes, dict)),
            State::Raw { built, .. } => built.get().map(|(c, d)| (c.as_slice(), d)),
        }
    }

    /// One code per row (0 null) and the dictionary naming them, built the first time a
    /// column kept as it arrived is asked (and kept).
    pub fn codes(&self) -> Result<(&[u32], &Dict)> {
        match &self.state {
            State::Interned { codes, dict, .. } => Ok((codes, dict)),
            State::Raw { raw, built } => {
                if built.get().is_none() {
                    let _ = built.set(raw.intern()?);
                }
                built.get().map(|(c, d)| (c.as_slice(), d)).ok_or_else(too_big)
            }
        }
    }

    /// [`Strings::codes`] of the column named `column`, which its errors name.
    pub fn codes_of(&self, column: &str) -> Result<(&[u32], &Dict)> {
        self.codes().map_err(|e| match e {
            Error::OutOfMemory { offset, message } => {
                Error::OutOfMemory { offset, message: format!("column \"{column}\": {message}") }
            }
            other => other,
        })
    }

    /// Whether the column is kept as it arrived, without a dictionary yet.
    pub fn is_raw(&self) -> bool {
        self.dictionary().is_none()
    }

    /// Drops the bytes of a column whose dictionary a query built: from then on it is
    /// interned as it arrives. Needs `&mut`, so it runs between calls.
    pub fn settle(&mut self) {
        if let State::Raw { built, .. } = &mut self.state {
            if let Some((codes, dict)) = built.take() {
                self.state = State::Interned { codes, dict, keep: true };
            }
        }
    }

    /// The codes and dictionary to append dictionary-encoded input to: a column kept as
    /// it arrived is interned first, and the column stays interned.
    pub(crate) fn interned_mut(&mut self) -> Result<(&mut Vec<u32>, &mut Dict)> {
        self.settle();
        if let State::Raw { raw, .. } = &self.state {
            let (codes, dict) = raw.intern()?;
            self.state = State::Interned { codes, dict, keep: true };
        }
        match &mut self.state {
            State::Interned { codes, dict, keep } => {
                *keep = true;
                Ok((codes, dict))
            }
            State::Raw { .. } => Err(too_big()),
        }
    }

    /// Appends a plain string array (Utf8, LargeUtf8 or Utf8View).
    pub(crate) fn append(&mut self, a: &dyn Array) -> Result<()> {
        self.settle();
        let len = a.len();
        let taken = match &mut self.state {
            State::Raw { raw, .. } => return raw.append(a),
            State::Interned { codes, dict, keep } => {
                let check = !*keep;
                fn bytes(v: Option<&str>) -> Option<&[u8]> {
                    v.map(str::as_bytes)
                }
                match a.data_type() {
                    DataType::Utf8 => intern_all(codes, dict, a.as_string::<i32>().iter().map(bytes), check)?,
                    DataType::LargeUtf8 => intern_all(codes, dict, a.as_string::<i64>().iter().map(bytes), check)?,
                    _ => {
                        let views = a.as_string_view_opt().into_iter().flat_map(|s| s.iter());
                        intern_all(codes, dict, views.map(bytes), check)?
                    }
                }
            }
        };
        let Some(k) = taken else { return Ok(()) };
        // Mostly distinct: from here on the column is kept as it arrives.
        let State::Interned { codes, dict, .. } = &self.state else { return Ok(()) };
        let mut raw = Raw::new();
        raw.bytes.reserve(dict.bytes.len());
        raw.offsets.reserve(codes.len() + len - k);
        for c in codes {
            raw.push((*c != 0).then(|| dict.bytes_of(*c)))?;
        }
        raw.append(a.slice(k, len - k).as_ref())?;
        self.state = State::Raw { raw, built: OnceLock::new() };
        Ok(())
    }

    /// Room for `rows` more rows and `bytes` more string bytes, or `false`.
    pub(crate) fn try_reserve(&mut self, rows: usize, bytes: usize) -> bool {
        match &mut self.state {
            State::Interned { codes, dict, .. } => grow(codes, rows) && dict.try_reserve(bytes),
            State::Raw { raw, .. } => grow(&mut raw.offsets, rows) && grow(&mut raw.bytes, bytes),
        }
    }

    /// Drops rows past `len`.
    pub(crate) fn truncate(&mut self, len: usize) {
        self.settle();
        match &mut self.state {
            State::Interned { codes, .. } => codes.truncate(len),
            State::Raw { raw, .. } => raw.truncate(len),
        }
    }

    /// Approximate heap bytes held.
    pub fn heap_bytes(&self) -> usize {
        match &self.state {
            State::Interned { codes, dict, .. } => codes.capacity() * 4 + dict.heap_bytes(),
            State::Raw { raw, built } => {
                raw.heap_bytes() + built.get().map_or(0, |(c, d)| c.capacity() * 4 + d.heap_bytes())
            }
        }
    }

    /// Bytes a new row is expected to take (for the memory budget's estimates).
    pub(crate) fn bytes_per_row(&self) -> u64 {
        match &self.state {
            State::Interned { .. } => 4,
            State::Raw { raw, .. } => 4 + (raw.bytes.len() / raw.len().max(1)) as u64,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{ArrayRef, LargeStringArray, StringArray, StringViewArray};
    use std::sync::Arc;

    #[test]
    fn dict_interns_and_looks_up() {
        let mut d = Dict::default();
        let mut codes = Vec::new();
        for i in 0..10_000 {
            codes.push(d.intern(&format!("v{}", i % 3000)).unwrap());
        }
        assert_eq!(d.len(), 3000);
        assert_eq!(d.get(codes[5]).unwrap(), "v5");
        assert_eq!(d.lookup("v2999"), Some(codes[2999]));
        assert_eq!(d.lookup("nope"), None);
        assert_eq!(d.get(0), None);
        assert_eq!(d.get(999_999), None);
        assert_eq!(d.intern("").unwrap(), 3001);
        assert_eq!(d.get(3001), Some(""));
    }

    fn ids(n: usize, from: usize) -> Vec<Option<String>> {
        (from..from + n).map(|i| if i % 97 == 5 { None } else { Some(format!("{i:032x}")) }).collect()
    }

    fn load(values: &[Option<String>], cut: usize, kind: &str) -> Strings {
        let mut s = Strings::default();
        for chunk in values.chunks(cut) {
            let a: ArrayRef = match kind {
                "utf8" => Arc::new(StringArray::from(chunk.to_vec())),
                "large" => Arc::new(LargeStringArray::from(chunk.to_vec())),
                _ => Arc::new(StringViewArray::from(chunk.iter().map(|v| v.as_deref()).collect::<Vec<_>>())),
            };
            s.append(a.as_ref()).unwrap();
        }
        s
    }

    #[test]
    fn identifiers_are_kept_as_they_arrived_and_interned_when_asked() {
        let values = ids(20_000, 0);
        for kind in ["utf8", "large", "view"] {
            for cut in [1000, 4096, 7, 20_000] {
                let s = load(&values, cut, kind);
                assert!(s.is_raw(), "{kind} cut {cut}: an id column is kept as it arrived");
                assert_eq!(s.len(), values.len());
                assert_eq!(s.distinct(), None);
                assert_eq!(s.null_count(), values.iter().filter(|v| v.is_none()).count());
                for (i, v) in values.iter().enumerate() {
                    assert_eq!(s.get(i), v.as_deref(), "{kind} cut {cut} row {i}");
                    assert_eq!(s.is_null(i), v.is_none());
                }
                let (codes, dict) = s.codes().unwrap();
                for (i, v) in values.iter().enumerate() {
                    assert_eq!(dict.get(codes[i]), v.as_deref());
                }
                assert_eq!(s.distinct(), Some(values.iter().flatten().count()));
            }
        }
    }

    #[test]
    fn repeated_values_stay_interned_whatever_the_cut() {
        let values: Vec<Option<String>> =
            (0..20_000).map(|i| if i % 11 == 0 { None } else { Some(format!("svc-{}", i % 300)) }).collect();
        for cut in [1, 999, 4096, 20_000] {
            let s = load(&values, cut, "utf8");
            assert!(!s.is_raw());
            assert_eq!(s.distinct(), Some(values.iter().flatten().collect::<std::collections::HashSet<_>>().len()));
            for (i, v) in values.iter().enumerate() {
                assert_eq!(s.get(i), v.as_deref());
            }
        }
    }

    #[test]
    fn a_built_dictionary_is_kept_and_later_rows_interned() {
        let mut s = load(&ids(20_000, 0), 2500, "utf8");
        assert!(s.is_raw());
        let before = s.codes().unwrap().1.len();
        s.settle();
        assert!(!s.is_raw());
        let more = ids(10_000, 20_000);
        s.append(&StringArray::from(more.clone())).unwrap();
        assert!(!s.is_raw(), "asked-for dictionaries stay");
        assert_eq!(s.distinct(), Some(before + more.iter().flatten().count()));
        assert_eq!(s.get(25_000), more[5000].as_deref());
        s.truncate(22_000);
        assert_eq!(s.len(), 22_000);
        assert_eq!(s.get(21_999), more[1999].as_deref());
    }

    #[test]
    fn raw_rows_truncate_and_sliced_arrays_keep_their_values() {
        let values = ids(20_000, 0);
        let mut s = load(&values, 20_000, "utf8");
        assert!(s.is_raw());
        // A sliced array (offsets not starting at 0), as arrow-rs gives for a batch slice.
        let whole = StringArray::from(ids(100, 50_000));
        let part = whole.slice(10, 50);
        s.append(&part).unwrap();
        assert_eq!(s.get(20_000), Some(format!("{:032x}", 50_010).as_str()));
        assert_eq!(s.get(20_049), Some(format!("{:032x}", 50_059).as_str()));
        assert_eq!(s.get(20_050), None);
        s.truncate(4000);
        assert_eq!(s.len(), 4000);
        assert_eq!(s.get(3999), values[3999].as_deref());
        assert_eq!(s.get(4000), None);
        assert!(s.bytes(3999).is_some());
        let (codes, _) = s.interned_mut().unwrap();
        assert_eq!(codes.len(), 4000);
        assert!(!s.is_raw());
    }

    #[test]
    fn small_columns_are_never_checked() {
        let s = load(&ids(16_383, 0), 1000, "utf8");
        assert!(!s.is_raw(), "below the first check every column is interned");
    }
}
