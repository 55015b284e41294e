//! Raw events: the rows behind a query, newest first, every field of the wide event.
//!
//! The same time range and filters as a query ([`super::resolve_time`],
//! [`super::Filters`]); then the `offset + limit` newest (or oldest) rows are picked: a
//! walk from the end when the time column is sorted, else a partial selection by time.
//! Values come back as [`Cell`]s (times as unix seconds); columns kept out of analysis
//! come back as nulls.

use serde::{Deserialize, Serialize};

use super::spec::{column_index, FilterSpec, MAX_LIMIT};
use super::{resolve_time, time_rows, Cell, Filters, QuerySpec, Rows};
use crate::column::{Column, ColumnData};
use crate::dataset::Dataset;
use crate::error::{Error, Result};

/// Default `limit` of an events request.
pub const DEFAULT_EVENTS_LIMIT: usize = 100;

/// Which events to return.
#[derive(Debug, Clone, Deserialize, PartialEq, Default)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[cfg_attr(test, ts(optional_fields))]
#[serde(deny_unknown_fields)]
pub struct EventsSpec {
    /// Which events count, as in a query.
    #[serde(default)]
    #[cfg_attr(test, ts(optional = nullable))]
    pub filters: Vec<FilterSpec>,
    /// `AND` (default) or `OR`.
    #[serde(default)]
    #[cfg_attr(test, ts(optional, type = "'AND' | 'OR'"))]
    pub filter_combination: Option<String>,
    /// Unix seconds, inclusive.
    #[serde(default)]
    pub start_time: Option<f64>,
    /// Unix seconds, exclusive.
    #[serde(default)]
    pub end_time: Option<f64>,
    /// Seconds, as in a query.
    #[serde(default)]
    pub time_range: Option<f64>,
    /// The time column (default: the dataset's).
    #[serde(default)]
    pub time_column: Option<String>,
    /// Most events returned (default 100, at most 10,000).
    #[serde(default)]
    pub limit: Option<usize>,
    /// Events skipped first (paging).
    #[serde(default)]
    #[cfg_attr(test, ts(optional = nullable))]
    pub offset: usize,
    /// `newest` (default) or `oldest` first.
    #[serde(default)]
    #[cfg_attr(test, ts(optional, type = "'newest' | 'oldest'"))]
    pub order: Option<String>,
    /// The columns returned (default: all, in schema order).
    #[serde(default)]
    pub columns: Option<Vec<String>>,
    /// Calculated fields, as in a query: columns the filters can use and the rows show.
    #[serde(default)]
    #[cfg_attr(test, ts(optional = nullable))]
    pub calculated_fields: Vec<crate::query::spec::NamedExpression>,
}

/// What an events request returns.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[cfg_attr(test, ts(rename = "EventsResult"))]
pub struct Events {
    /// Column names, in the order of each row's values.
    pub columns: Vec<String>,
    /// One list of values per event.
    #[cfg_attr(test, ts(type = "Array<Array<ResultValue>>"))]
    pub rows: Vec<Vec<Cell>>,
    /// Each event's row number in the dataset (stable while the dataset grows).
    pub row_ids: Vec<u64>,
    /// Events that passed the time range and filters.
    pub matched: u64,
}

/// The events of `spec`, newest first unless asked otherwise.
pub fn events(ds: &Dataset, spec: &EventsSpec) -> Result<Events> {
    if let Some(view) = crate::formula::with_calculated(ds, &spec.calculated_fields)? {
        return events(&view, &EventsSpec { calculated_fields: Vec::new(), ..spec.clone() });
    }
    let limit = spec.limit.unwrap_or(DEFAULT_EVENTS_LIMIT);
    if limit == 0 || limit > MAX_LIMIT {
        return Err(Error::Spec(format!("limit must be between 1 and {MAX_LIMIT}, got {limit}")));
    }
    let newest = match spec.order.as_deref() {
        None | Some("newest") => true,
        Some("oldest") => false,
        Some(other) => return Err(Error::Spec(format!("order must be \"newest\" or \"oldest\", not \"{other}\""))),
    };
    let cols: Vec<&Column> = match &spec.columns {
        Some(names) => names.iter().map(|n| column_index(ds, n).map(|i| &*ds.columns()[i])).collect::<Result<_>>()?,
        None => ds.columns().iter().map(|c| &**c).collect(),
    };
    let filters = Filters::new(ds, &spec.filters, spec.filter_combination.as_deref())?;
    let tcol = match &spec.time_column {
        Some(name) => Some(&*ds.columns()[column_index(ds, name)?]),
        None => ds.time_column(),
    };
    let rows = match tcol {
        Some(tc) => {
            let q = QuerySpec {
                start_time: spec.start_time,
                end_time: spec.end_time,
                time_range: spec.time_range,
                ..Default::default()
            };
            let r = resolve_time(ds, tc, &q)?;
            time_rows(ds, tc, &r)
        }
        None if spec.start_time.is_some() || spec.end_time.is_some() || spec.time_range.is_some() => {
            return Err(Error::Spec("the dataset has no time column for start_time, end_time or time_range".into()))
        }
        None => Rows::Range(0, ds.row_count()),
    };
    let rows = filters.apply(rows);
    let matched = rows.len() as u64;
    let want = spec.offset.saturating_add(limit);
    let mut picked = pick(&rows, tcol, want, newest);
    let picked: Vec<usize> = picked.drain(..).skip(spec.offset).collect();
    Ok(Events {
        columns: cols.iter().map(|c| c.name.clone()).collect(),
        rows: picked.iter().map(|&i| cols.iter().map(|c| cell(c, i)).collect()).collect(),
        row_ids: picked.iter().map(|&i| i as u64).collect(),
        matched,
    })
}

/// The first `want` rows by time (newest or oldest first; ties by row number the same
/// way; rows without a time last).
fn pick(rows: &Rows, tcol: Option<&Column>, want: usize, newest: bool) -> Vec<usize> {
    let n = rows.len();
    let nth = |k: usize| -> usize {
        match rows {
            Rows::Range(a, _) => a + k,
            Rows::List(v) => v[k] as usize,
        }
    };
    let times = match tcol.map(|c| (c, &c.data)) {
        Some((c, ColumnData::Time { values, .. })) if !c.is_sorted() => Some((c, values)),
        _ => None,
    };
    let Some((c, values)) = times else {
        // Row order is time order (sorted, or no time column).
        let take = want.min(n);
        return if newest { (0..take).map(|k| nth(n - 1 - k)).collect() } else { (0..take).map(nth).collect() };
    };
    // Time (nulls last either way), then row number, in the requested direction.
    let key = |i: usize| -> (bool, i64, usize) {
        let valid = c.validity.is_valid(i) && i < values.len();
        (!valid, if valid { values[i] } else { 0 }, i)
    };
    let cmp = |a: &usize, b: &usize| {
        let (ka, kb) = (key(*a), key(*b));
        let by_time = if newest { (kb.1, kb.2).cmp(&(ka.1, ka.2)) } else { (ka.1, ka.2).cmp(&(kb.1, kb.2)) };
        ka.0.cmp(&kb.0).then(by_time)
    };
    let mut all: Vec<usize> = (0..n).map(nth).collect();
    if want < all.len() {
        all.select_nth_unstable_by(want, cmp);
        all.truncate(want);
    }
    all.sort_unstable_by(cmp);
    all
}

/// Row `i` of `c` as a cell.
fn cell(c: &Column, i: usize) -> Cell {
    let valid = c.validity.is_valid(i);
    match &c.data {
        ColumnData::Time { values, unit, .. } if valid => {
            values.get(i).map_or(Cell::Null, |t| Cell::Num(*t as f64 * unit.seconds_per_unit()))
        }
        ColumnData::Int(v) if valid => v.get(i).map_or(Cell::Null, |x| Cell::Int(*x)),
        ColumnData::UInt(v) if valid => v.get(i).map_or(Cell::Null, |x| Cell::UInt(*x)),
        ColumnData::Float(v) if valid => v.get(i).map_or(Cell::Null, |x| Cell::Num(*x)),
        ColumnData::Bool(v) => match v.get(i) {
            Some(0) => Cell::Bool(false),
            Some(1) => Cell::Bool(true),
            _ => Cell::Null,
        },
        ColumnData::Str(s) => s.get(i).map_or(Cell::Null, |s| Cell::Str(s.to_string())),
        _ => Cell::Null,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::demo::test_dataset;

    fn spec(json: &str) -> EventsSpec {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn newest_first_with_filters() {
        let ds = test_dataset(20_000);
        let e =
            events(&ds, &spec(r#"{"filters":[{"column":"status_code","op":">=","value":500}],"limit":50}"#)).unwrap();
        assert_eq!(e.rows.len(), 50);
        let ti = e.columns.iter().position(|c| c == "timestamp").unwrap();
        let si = e.columns.iter().position(|c| c == "status_code").unwrap();
        let mut last = f64::INFINITY;
        for r in &e.rows {
            let Cell::Num(t) = r[ti] else { panic!("time") };
            assert!(t <= last, "newest first");
            last = t;
            let s = match r[si] {
                Cell::Int(s) => s,
                Cell::UInt(s) => s as i64,
                _ => panic!("status"),
            };
            assert!(s >= 500);
        }
        // matched agrees with a COUNT query.
        let q: QuerySpec =
            serde_json::from_str(r#"{"filters":[{"column":"status_code","op":">=","value":500}]}"#).unwrap();
        let r = crate::query::run(&ds, &q).unwrap();
        assert_eq!(r.matched, e.matched);
        // The newest match is the last matching row.
        let all = events(
            &ds,
            &spec(r#"{"filters":[{"column":"status_code","op":">=","value":500}],"limit":10000,"order":"oldest"}"#),
        )
        .unwrap();
        assert_eq!(all.row_ids.last(), e.row_ids.first());
    }

    #[test]
    fn paging_and_projection() {
        let ds = test_dataset(5_000);
        let a = events(&ds, &spec(r#"{"limit":20}"#)).unwrap();
        let b = events(&ds, &spec(r#"{"limit":10,"offset":10,"columns":["customer_id","duration_ms"]}"#)).unwrap();
        assert_eq!(b.columns, vec!["customer_id", "duration_ms"]);
        assert_eq!(&a.row_ids[10..], &b.row_ids[..]);
        assert!(events(&ds, &spec(r#"{"columns":["nope"]}"#)).unwrap_err().to_string().contains("nope"));
        assert!(events(&ds, &spec(r#"{"order":"sideways"}"#)).is_err());
        assert!(events(&ds, &spec(r#"{"limit":0}"#)).is_err());
        assert!(serde_json::from_str::<EventsSpec>(r#"{"limits":3}"#).is_err());
    }

    #[test]
    fn unsorted_time_column_is_ordered_by_time() {
        // Two streams with different windows: row order is no longer time order.
        let mut ds = Dataset::new();
        for (seed, end_s) in [(1, 1_700_100_000), (2, 1_700_050_000)] {
            let o = crate::demo::DemoOptions { rows: 3000, seed, end_s, ..Default::default() };
            ds.push(&crate::demo::ipc_stream(&o).unwrap()).unwrap();
            ds.finish().unwrap();
        }
        assert!(!ds.time_column().unwrap().is_sorted());
        let ColumnData::Time { values, .. } = &ds.time_column().unwrap().data else { panic!() };
        let mut order: Vec<usize> = (0..values.len()).collect();
        order.sort_by(|a, b| values[*b].cmp(&values[*a]).then(b.cmp(a)));
        for (newest, limit) in [(true, 37), (false, 500), (true, 10_000)] {
            let o = if newest { "newest" } else { "oldest" };
            let e = events(&ds, &spec(&format!(r#"{{"limit":{limit},"order":"{o}"}}"#))).unwrap();
            let want: Vec<u64> = if newest {
                order.iter().take(limit).map(|i| *i as u64).collect()
            } else {
                order.iter().rev().take(limit).map(|i| *i as u64).collect()
            };
            assert_eq!(e.row_ids, want, "{o} {limit}");
        }
    }
}
