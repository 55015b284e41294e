//! The ClickHouse executor of a query plan ([`sightline::plan::QueryPlan`]): the plan
//! becomes a few SQL statements, ClickHouse aggregates where the data lives, and only
//! the answer comes back (`JSONCompactEachRow`, at most `limit` groups, or `limit` x
//! time buckets for `series`). The result is the same [`QueryResult`] the engine
//! returns for the same spec over the same rows.
//!
//! The statements, in order:
//! 1. the time extent (`min`/`max` of the time column), only when the spec leaves a
//!    bound open; the range is then resolved by the engine's own
//!    [`resolve_range`], so buckets and edges are the same numbers;
//! 2. counts: rows in the time range (`scanned`) and those passing the filters
//!    (`matched`);
//! 3. the groups: `GROUP BY` the breakdowns, every calculation, `count() OVER ()` for the
//!    number of groups, havings as a sort key (so the number of groups survives a
//!    having that drops them all), the plan's complete order, `LIMIT`;
//! 4. `series` for the groups returned (`IN` their keys, with `transform_null_in`);
//! 5. per HEATMAP: the value range, then counts per (time bucket, value bucket) with
//!    the engine's edges written into the SQL as literals ([`value_edges`]).
//!
//! Semantics, matched to the engine's: NaN is missing in every numeric calculation
//! (`if(isNaN(x), NULL, x)`), integers are aggregated as `Float64` (as the engine does),
//! percentiles are `quantilesExactInclusive` (R7: linear interpolation between closest
//! ranks, the engine's), with the cases where ClickHouse's formula meets an infinity
//! (`a + 0 * inf`) corrected from the group's counts of infinities and its finite
//! extremes; COUNT_DISTINCT is `uniqExact` with `-0.0` and `0.0` one value. RATE_*
//! calculations take every group's per-bucket values and are finished here, exactly as
//! the engine finishes them.

use std::collections::HashMap;

use serde_json::Value as J;
use sightline::column::{Role, TimeUnit};
use sightline::heatmap::{value_edges, Heatmap, Scale};
use sightline::plan::{order_key, Catalog, ColumnMeta, Having, OrderKey, QueryPlan};
use sightline::query::{needs_extent, resolve_range, Cell, NamedHeatmap, Op, QueryResult, QuerySpec, Row, RowKeys, TimeRange};

use crate::clickhouse::{
    compile_filter, quote_ident, quote_str, quote_table, ChClient, ChColumn, ChError, ChSchema, Kind,
};
use crate::source::ParamError;

/// Limits sent with every statement.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// `max_execution_time`, seconds.
    pub seconds: u64,
    /// `max_memory_usage`, bytes.
    pub memory: u64,
    /// `max_result_rows`.
    pub result_rows: u64,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits { seconds: 60, memory: 8 << 30, result_rows: 2_000_000 }
    }
}

/// What went wrong.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    /// The spec is wrong (400), as the engine says it.
    #[error(transparent)]
    Spec(#[from] sightline::Error),
    /// A filter is wrong (400).
    #[error(transparent)]
    Param(#[from] ParamError),
    /// ClickHouse failed.
    #[error(transparent)]
    ClickHouse(#[from] ChError),
}

/// How results read a column's values.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Repr {
    Str,
    Bool,
    Int,
    UInt,
    Float,
    Time(TimeUnit),
    Other,
}

fn repr(c: &ChColumn) -> Repr {
    let t = crate::clickhouse::unwrap_type(&c.ch_type);
    match c.kind {
        Kind::Str => Repr::Str,
        Kind::Bool => Repr::Bool,
        Kind::Time(u) => Repr::Time(u),
        Kind::Other => Repr::Other,
        Kind::Num if t.starts_with("UInt64") || t.starts_with("UInt128") || t.starts_with("UInt256") => Repr::UInt,
        Kind::Num if t.starts_with("Int") || t.starts_with("UInt") => Repr::Int,
        Kind::Num => Repr::Float,
    }
}

/// The plan's view of a ClickHouse table.
pub fn catalog(schema: &ChSchema) -> Catalog {
    let columns = schema
        .columns
        .iter()
        .map(|c| ColumnMeta {
            name: c.name.clone(),
            role: match c.kind {
                Kind::Str => Role::String,
                Kind::Num => Role::Number,
                Kind::Bool => Role::Bool,
                Kind::Time(_) => Role::Time,
                Kind::Other => Role::Other,
            },
            type_name: c.ch_type.clone(),
            unit: match c.kind {
                Kind::Time(u) => Some(u),
                _ => None,
            },
        })
        .collect();
    Catalog { columns }
}

/// A time column's raw values (the engine's `i64` in the column's unit), as SQL.
pub(crate) fn raw_time(c: &ChColumn, unit: TimeUnit) -> String {
    let q = quote_ident(&c.name);
    let base = crate::clickhouse::unwrap_type(&c.ch_type);
    if base.starts_with("DateTime64") {
        match unit {
            TimeUnit::Second => format!("intDiv(toUnixTimestamp64Milli({q}), 1000)"),
            TimeUnit::Millisecond => format!("toUnixTimestamp64Milli({q})"),
            TimeUnit::Microsecond => format!("toUnixTimestamp64Micro({q})"),
            _ => format!("toUnixTimestamp64Nano({q})"),
        }
    } else if base.starts_with("DateTime") {
        format!("toInt64(toUnixTimestamp({q}))")
    } else {
        format!("(toInt64(toDaysSinceYearZero({q})) - 719528)")
    }
}

/// A numeric column as the engine's calculations see it: `Float64`, NaN missing.
fn num(c: &ChColumn) -> String {
    let q = quote_ident(&c.name);
    match repr(c) {
        Repr::Float => format!("if(isNaN({q}), NULL, toFloat64({q}))"),
        _ => format!("toFloat64({q})"),
    }
}

/// A column as a group key (or a distinct value): floats with NaN as null and -0 as 0,
/// times as raw units.
fn key_expr(c: &ChColumn) -> String {
    let q = quote_ident(&c.name);
    match repr(c) {
        Repr::Float => format!("if(isNaN({q}), NULL, toFloat64({q}) + 0.)"),
        Repr::Time(u) => raw_time(c, u),
        _ => q,
    }
}

/// A float as a SQL literal that reads back as the same bits.
fn flit(x: f64) -> String {
    if x.is_nan() {
        "nan".into()
    } else if x.is_infinite() {
        if x > 0.0 {
            "inf".into()
        } else {
            "-inf".into()
        }
    } else {
        format!("{x:e}")
    }
}

/// The bucket of `v` among buckets `lo..=hi` whose lower edges are `edges` (as SQL
/// literals): the largest `b` with `edges[b] <= v` (`lo` below them all), by a balanced
/// tree of comparisons with constants, about log2(buckets) per row. (An array literal
/// indexed per row is materialized per block by ClickHouse: 30 times slower, measured.)
fn bucket_tree(v: &str, edges: &[String], lo: usize, hi: usize) -> String {
    if lo >= hi {
        return lo.to_string();
    }
    let mid = (lo + hi).div_ceil(2);
    format!("if({v} < {}, {}, {})", edges[mid], bucket_tree(v, edges, lo, mid - 1), bucket_tree(v, edges, mid, hi))
}

/// The time bucket of a row (raw time `raw`) on `r`'s axis, as the engine's
/// `TimeAxis::bucket_of`: even buckets by division, local days by their cuts.
fn time_bucket_sql(r: &TimeRange, raw: &str) -> String {
    match &r.cuts {
        Some(c) => {
            // Rows outside the cuts are in no bucket (-1), as in the engine.
            let lits: Vec<String> = c.iter().map(|x| x.to_string()).collect();
            let end = lits.last().cloned().unwrap_or_default();
            format!(
                "if({raw} < {} OR {raw} >= {end}, -1, {})",
                lits[0],
                bucket_tree(raw, &lits, 0, lits.len().saturating_sub(2))
            )
        }
        None => format!("intDiv({raw} - {}, {})", r.t0, r.width),
    }
}

fn settings(l: &Limits, extra: &str) -> String {
    format!(
        " SETTINGS readonly = 2, max_execution_time = {}, max_memory_usage = {}, max_result_rows = {}, \
result_overflow_mode = 'throw', output_format_json_quote_64bit_integers = 0, \
output_format_json_quote_denormals = 1, output_format_json_quote_decimals = 0{extra} FORMAT JSONCompactEachRow",
        l.seconds.max(1),
        l.memory,
        l.result_rows
    )
}

/// Runs `sql`, one JSON array per row.
async fn rows(client: &ChClient, sql: String) -> Result<Vec<Vec<J>>, ChError> {
    let started = std::time::Instant::now();
    let shown = if tracing::enabled!(tracing::Level::DEBUG) {
        sql.chars().take(2000).collect::<String>()
    } else {
        String::new()
    };
    // Answers are results (at most `max_result_rows` rows), not events.
    let text = client.query_text_up_to(sql, 512 << 20).await?;
    tracing::debug!(ms = started.elapsed().as_millis() as u64, bytes = text.len(), "ClickHouse: {shown}");
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            serde_json::from_str::<Vec<J>>(l).map_err(|e| {
                ChError::Cut(format!("unexpected answer ({e}): {}", l.chars().take(200).collect::<String>()))
            })
        })
        .collect()
}

fn as_f64(v: &J) -> Option<f64> {
    match v {
        J::Number(n) => n.as_f64(),
        J::String(s) => match s.as_str() {
            "nan" | "-nan" => Some(f64::NAN),
            "inf" | "+inf" => Some(f64::INFINITY),
            "-inf" => Some(f64::NEG_INFINITY),
            other => other.parse().ok(),
        },
        J::Bool(b) => Some(*b as u8 as f64),
        _ => None,
    }
}

fn as_i64(v: &J) -> Option<i64> {
    match v {
        J::Number(n) => n.as_i64(),
        J::String(s) => s.parse().ok(),
        _ => None,
    }
}

fn as_u64(v: &J) -> Option<u64> {
    match v {
        J::Number(n) => n.as_u64(),
        J::String(s) => s.parse().ok(),
        _ => None,
    }
}

/// A group key as the engine's results give it.
fn key_cell(r: Repr, v: &J) -> Cell {
    if v.is_null() {
        return Cell::Null;
    }
    match r {
        Repr::Str => v.as_str().map_or(Cell::Null, |s| Cell::Str(s.to_string())),
        Repr::Bool => match v {
            J::Bool(b) => Cell::Bool(*b),
            other => as_i64(other).map_or(Cell::Null, |x| Cell::Bool(x != 0)),
        },
        Repr::Int => as_i64(v).map_or(Cell::Null, Cell::Int),
        Repr::UInt => as_u64(v).map_or(Cell::Null, Cell::UInt),
        Repr::Float => as_f64(v).filter(|x| !x.is_nan()).map_or(Cell::Null, Cell::Num),
        Repr::Time(u) => as_i64(v).map_or(Cell::Null, |x| Cell::Num(x as f64 * u.seconds_per_unit())),
        Repr::Other => Cell::Null,
    }
}

/// A key value back into SQL (for `IN`), exactly.
fn key_literal(r: Repr, v: &J) -> String {
    if v.is_null() {
        return "NULL".into();
    }
    match r {
        Repr::Str => quote_str(v.as_str().unwrap_or("")),
        Repr::Bool => match v {
            J::Bool(b) => b.to_string(),
            other => (as_i64(other).unwrap_or(0) != 0).to_string(),
        },
        Repr::Int | Repr::Time(_) => as_i64(v).map_or("NULL".into(), |x| x.to_string()),
        Repr::UInt => as_u64(v).map_or("NULL".into(), |x| x.to_string()),
        Repr::Float => as_f64(v).map_or("NULL".into(), flit),
        Repr::Other => "NULL".into(),
    }
}

/// The engine's ordering of result rows: the plan's keys, nulls last either way, then
/// first-seen order (`ga.cmp(gb)` in the engine: irrelevant once breakdowns differ).
fn compare_groups(plan: &QueryPlan, a: &Group, b: &Group) -> std::cmp::Ordering {
    use std::cmp::Ordering::*;
    for (key, desc) in &plan.orders {
        let (o, null) = match key {
            OrderKey::Calc(c) => match (a.values[*c], b.values[*c]) {
                (Some(x), Some(y)) => (order_key(x).total_cmp(&order_key(y)), false),
                (None, None) => (Equal, true),
                (None, _) => (Greater, true),
                (_, None) => (Less, true),
            },
            OrderKey::Breakdown(i) => {
                let (x, y) = (&a.keys[*i], &b.keys[*i]);
                let o = match (x, y) {
                    (Cell::Null, Cell::Null) => Equal,
                    (Cell::Null, _) => Greater,
                    (_, Cell::Null) => Less,
                    (Cell::Num(p), Cell::Num(q)) => p.total_cmp(q),
                    (Cell::Int(p), Cell::Int(q)) => p.cmp(q),
                    (Cell::UInt(p), Cell::UInt(q)) => p.cmp(q),
                    (Cell::Str(p), Cell::Str(q)) => p.as_bytes().cmp(q.as_bytes()),
                    (Cell::Bool(p), Cell::Bool(q)) => p.cmp(q),
                    _ => Equal,
                };
                (o, matches!(x, Cell::Null) || matches!(y, Cell::Null))
            }
        };
        let o = if *desc && !null { o.reverse() } else { o };
        if o != Equal {
            return o;
        }
    }
    Equal
}

/// One group of the answer.
#[derive(Debug, Clone)]
struct Group {
    /// Keys as the results give them.
    keys: Vec<Cell>,
    /// Keys as ClickHouse gave them (for `IN`).
    raw: Vec<J>,
    values: Vec<Option<f64>>,
}

/// How each calculation is computed: the SQL columns it reads, and how it is finished.
enum CalcSql {
    /// One SQL value: COUNT, SUM, AVG, MIN, MAX, COUNT_DISTINCT, CONCURRENCY (totals).
    Scalar(usize),
    /// A percentile: the quantiles array's column and index, and (floats) the columns
    /// of the count, the infinities and the finite extremes.
    Percentile { q: usize, j: usize, n: usize, inf: Option<[usize; 4]>, p: f64 },
    /// HEATMAP (computed apart), RATE_* in totals (computed apart).
    None,
}

struct Select {
    exprs: Vec<String>,
}

impl Select {
    fn push(&mut self, e: String) -> usize {
        if let Some(i) = self.exprs.iter().position(|x| *x == e) {
            return i;
        }
        self.exprs.push(e);
        self.exprs.len() - 1
    }
}

/// A calculation's value from an answer row whose SQL values start at `off`.
fn calc_value(row: &[J], off: usize, h: &CalcSql) -> Option<f64> {
    match h {
        CalcSql::Scalar(k) => row.get(off + k).and_then(as_f64),
        CalcSql::Percentile { q, j, n, inf, p } => {
            let g = |x: usize| row.get(off + x);
            let qv = g(*q).and_then(|a| a.as_array()).and_then(|a| a.get(*j)).and_then(as_f64);
            let n = g(*n).and_then(as_u64).unwrap_or(0);
            let inf = inf.map(|[m, k, lo, hi]| {
                (
                    g(m).and_then(as_u64).unwrap_or(0),
                    g(k).and_then(as_u64).unwrap_or(0),
                    g(lo).and_then(as_f64),
                    g(hi).and_then(as_f64),
                )
            });
            percentile(*p, qv, n, inf)
        }
        CalcSql::None => None,
    }
}

/// A percentile of `v` at `p` among `levels` (one quantiles array for them all), with
/// the count and, for floats, what corrects ClickHouse's arithmetic on infinities.
fn percentile_sql(sel: &mut Select, v: &str, levels: &[f64], p: f64, float: bool) -> CalcSql {
    let list = levels.iter().map(|x| flit(*x)).collect::<Vec<_>>().join(", ");
    let q = sel.push(format!("quantilesExactInclusive({list})({v})"));
    let j = levels.iter().position(|x| *x == p).unwrap_or(0);
    let n = sel.push(format!("count({v})"));
    let inf = float.then(|| {
        [
            sel.push(format!("countIf({v} = -inf)")),
            sel.push(format!("countIf({v} = inf)")),
            sel.push(format!("minIf({v}, isFinite({v}))")),
            sel.push(format!("maxIf({v}, isFinite({v}))")),
        ]
    });
    CalcSql::Percentile { q, j, n, inf, p }
}

/// The engine's percentile, from ClickHouse's R7 value and the group's infinities.
fn percentile(p: f64, q: Option<f64>, n: u64, inf: Option<(u64, u64, Option<f64>, Option<f64>)>) -> Option<f64> {
    if n == 0 {
        return None;
    }
    let Some((neg, pos, _min_fin, max_fin)) = inf.filter(|(m, k, _, _)| *m > 0 || *k > 0) else {
        return q.filter(|v| !v.is_nan());
    };
    let len = n as usize;
    let posn = p * (len - 1) as f64;
    let lo = (posn.floor() as usize).min(len - 1);
    let frac = posn - lo as f64;
    let at = |i: usize| -> Option<f64> {
        if i < neg as usize {
            Some(f64::NEG_INFINITY)
        } else if i >= len - pos as usize {
            Some(f64::INFINITY)
        } else {
            None // finite
        }
    };
    let hi = if frac > 0.0 && lo + 1 < len { lo + 1 } else { lo };
    let v = match (at(lo), at(hi)) {
        (Some(a), _) if frac == 0.0 => a,
        (None, _) if frac == 0.0 => {
            // a is finite; ClickHouse's `a + 0 * (next - a)` is a unless the next value
            // is +inf, and then a is the largest finite value.
            match at(lo + 1) {
                Some(_) if lo + 1 < len => max_fin?,
                _ => return q.filter(|v| !v.is_nan()),
            }
        }
        (Some(a), Some(b)) if a == b => a,
        (Some(_), Some(_)) => return None,
        (Some(a), None) => a,
        (None, Some(b)) => b,
        (None, None) => return q.filter(|v| !v.is_nan()),
    };
    Some(v).filter(|v| !v.is_nan())
}

/// The table with the spec's calculated fields compiled to SQL columns after its own
/// ([`crate::chformula`]): the schema the rest of the compiler sees, and its `FROM`.
fn calculated(
    schema: &ChSchema,
    fields: &[sightline::query::spec::NamedExpression],
) -> Result<(ChSchema, String), QueryError> {
    let table = quote_table(&schema.table).map_err(|e| ParamError::new("source", e))?;
    Ok(match crate::chformula::with_calculated(schema, &table, fields)? {
        Some(x) => x,
        None => (schema.clone(), table),
    })
}

/// Runs `spec` on the ClickHouse table `schema` describes, and with
/// `compare_time_offset_seconds` again over the earlier window (`previous`), as the engine does.
pub async fn query(
    client: &ChClient,
    schema: &ChSchema,
    spec: &QuerySpec,
    limits: &Limits,
) -> Result<QueryResult, QueryError> {
    let mut r = query_once(client, schema, spec, limits).await?;
    if let Some(prev) = sightline::query::previous_spec(spec, &r)? {
        r.previous = Some(Box::new(query_once(client, schema, &prev, limits).await?));
    }
    Ok(r)
}

async fn query_once(
    client: &ChClient,
    schema: &ChSchema,
    spec: &QuerySpec,
    limits: &Limits,
) -> Result<QueryResult, QueryError> {
    let (schema, table) = calculated(schema, &spec.calculated_fields)?;
    let schema = &schema;
    let cat = catalog(schema);
    let plan = QueryPlan::new(&cat, spec)?;
    // Refused by name, never answered without them.
    if let Some(c) = plan.calcs.iter().find(|c| !c.filters.is_empty()) {
        return Err(sightline::Error::Spec(format!(
            "calculations[].filters: the filters of calculation \"{}\" are not compiled to ClickHouse SQL yet; run the spec in the browser (mode=local) or on a file source",
            c.name
        ))
        .into());
    }
    if let Some(f) = plan.formulas.first() {
        return Err(sightline::Error::Spec(format!(
            "formulas: formulas (\"{}\") are not compiled to ClickHouse SQL yet; run the spec in the browser (mode=local) or on a file source",
            f.name
        ))
        .into());
    }
    if let Some(w) = plan.weight {
        // Refused, never answered unweighted: a sampled table's COUNT would be 1/N of the truth.
        return Err(sightline::Error::Operator {
            op: "sample_rate_column".into(),
            column: cat.columns[w].name.clone(),
            message: "weighting by sample rate is not compiled to ClickHouse SQL yet; set sample_rate_column to \"\" for unweighted figures, or run the spec in the browser (mode=local)".into(),
        }
        .into());
    }
    let col = |i: usize| &schema.columns[i];
    let filters = plan.filters.iter().map(|f| compile_filter(schema, f)).collect::<Result<Vec<_>, _>>()?;
    let filter_sql =
        (!filters.is_empty()).then(|| format!("({})", filters.join(if plan.any { " OR " } else { " AND " })));

    // 1. The time range.
    let time = plan.time_column.map(|t| {
        let c = col(t);
        let unit = match c.kind {
            Kind::Time(u) => u,
            _ => TimeUnit::Second,
        };
        (c, unit, raw_time(c, unit))
    });
    let range: Option<TimeRange> = match &time {
        None => None,
        Some((c, unit, raw)) => {
            let extent = if needs_extent(spec) {
                let sql = format!(
                    "SELECT min({raw}), max({raw}), count({q}) FROM {table}{}",
                    settings(limits, ""),
                    q = quote_ident(&c.name)
                );
                let r = rows(client, sql).await?;
                let row = r.first().ok_or_else(|| ChError::Cut("no answer to the time extent".into()))?;
                let n = row.get(2).and_then(as_u64).unwrap_or(0);
                match (row.first().and_then(as_i64), row.get(1).and_then(as_i64)) {
                    (Some(lo), Some(hi)) if n > 0 => Some((lo, hi)),
                    _ => None,
                }
            } else {
                None
            };
            Some(resolve_range(*unit, extent, spec)?)
        }
    };
    let time_cond = match (&time, &range) {
        (Some((_, _, raw)), Some(r)) => Some(format!("({raw} >= {} AND {raw} < {})", r.t0, r.t1)),
        _ => None,
    };
    let where_all: Vec<String> = time_cond.iter().cloned().chain(filter_sql.iter().cloned()).collect();
    let where_sql = if where_all.is_empty() { String::new() } else { format!(" WHERE {}", where_all.join(" AND ")) };

    // 2. Scanned and matched.
    // With them, each HEATMAP's value range (one scan fewer than asking apart).
    let mut heat_axes = Vec::new();
    let mut counts_sel = vec!["count()".to_string(), format!("countIf({})", filter_sql.as_deref().unwrap_or("1"))];
    for c in plan.calcs.iter().filter(|c| c.op == Op::Heatmap) {
        let (Some(r), Some((_, _, raw))) = (&range, &time) else {
            return Err(sightline::Error::Spec("HEATMAP needs a time column".into()).into());
        };
        let hr = match plan.heatmap.time_buckets {
            Some(tb) => r.rebucketed(tb),
            None => r.clone(),
        };
        let on_axis = format!("({raw} >= {} AND {raw} < {})", hr.start(0), hr.start(hr.buckets.max(1)));
        let cond = format!("{} AND {on_axis}", filter_sql.as_deref().unwrap_or("1"));
        let v = num(col(c.column.unwrap_or(0)));
        let at = counts_sel.len();
        counts_sel.extend([
            format!("minIf({v}, {cond} AND isFinite({v}))"),
            format!("maxIf({v}, {cond} AND isFinite({v}))"),
            format!("minIf({v}, {cond} AND isFinite({v}) AND {v} > 0)"),
            format!("countIf({cond} AND {v} IS NULL)"),
            format!("countIf({cond} AND {v} IS NOT NULL)"),
        ]);
        heat_axes.push((c, hr, on_axis, at));
    }
    let counts_sql = format!(
        "SELECT {} FROM {table}{}{}",
        counts_sel.join(", "),
        time_cond.as_ref().map(|c| format!(" WHERE {c}")).unwrap_or_default(),
        settings(limits, "")
    );

    // 3. Groups.
    let reprs: Vec<Repr> = plan.breakdowns.iter().map(|b| repr(col(*b))).collect();
    let keys: Vec<String> = plan.breakdowns.iter().map(|b| key_expr(col(*b))).collect();
    let axis_bounds = range.as_ref().map(|r| (r.start(0), r.start(r.buckets)));
    let mut sel = Select { exprs: vec!["count()".into()] };
    let mut how = Vec::new();
    let rate_mode = plan.calcs.iter().any(|c| matches!(c.op, Op::RateAvg | Op::RateSum | Op::RateMax));
    // Percentiles of one column share one quantiles array.
    let mut levels: HashMap<usize, Vec<f64>> = HashMap::new();
    for c in &plan.calcs {
        if let (Op::Percentile(p), Some(i)) = (c.op, c.column) {
            let l = levels.entry(i).or_default();
            if !l.contains(&p) {
                l.push(p);
            }
        }
    }
    for l in levels.values_mut() {
        l.sort_by(f64::total_cmp);
    }
    for c in &plan.calcs {
        let v = c.column.map(|i| num(col(i)));
        let h = match (c.op, c.column) {
            (Op::Count, _) => CalcSql::Scalar(0),
            (Op::Sum, Some(_)) => CalcSql::Scalar(sel.push(format!("sumOrNull({})", v.unwrap_or_default()))),
            (Op::Avg, Some(_)) => CalcSql::Scalar(sel.push(format!("avgOrNull({})", v.unwrap_or_default()))),
            (Op::Min, Some(_)) => CalcSql::Scalar(sel.push(format!("minOrNull({})", v.unwrap_or_default()))),
            (Op::Max, Some(_)) => CalcSql::Scalar(sel.push(format!("maxOrNull({})", v.unwrap_or_default()))),
            (Op::CountDistinct, Some(i)) => CalcSql::Scalar(sel.push(format!("uniqExact({})", key_expr(col(i))))),
            (Op::Percentile(p), Some(i)) => {
                percentile_sql(&mut sel, &v.unwrap_or_default(), &levels[&i], p, repr(col(i)) == Repr::Float)
            }
            (Op::Concurrency, Some(d)) => {
                let (Some((tc, unit, raw)), Some((a, b))) = (&time, axis_bounds) else {
                    return Err(sightline::Error::Spec(
                        "CONCURRENCY needs a time column and a numeric duration".into(),
                    )
                    .into());
                };
                let _ = tc;
                let spu = unit.seconds_per_unit();
                let dv = num(col(d));
                let s = format!("greatest(toFloat64({raw}), {})", flit(a as f64));
                let e = format!("least(toFloat64({raw}) + {dv} / 1000. / {}, {})", flit(spu), flit(b as f64));
                let span = (b as f64 - a as f64).max(1.0);
                CalcSql::Scalar(
                    sel.push(format!("ifNull(sumIf({e} - {s}, {dv} > 0 AND {e} > {s}), 0) / {}", flit(span))),
                )
            }
            _ => CalcSql::None,
        };
        how.push(h);
    }
    let value_of = calc_value;
    let nk = keys.len();
    let key_aliases: Vec<String> = (0..nk).map(|i| format!("sl__k{i}")).collect();
    let mut inner: Vec<String> = keys.iter().zip(&key_aliases).map(|(k, a)| format!("{k} AS {a}")).collect();
    inner.extend(sel.exprs.iter().enumerate().map(|(i, e)| format!("{e} AS sl__v{i}")));
    inner.push(if nk > 0 { "count() OVER () AS sl__groups".into() } else { "1 AS sl__groups".into() });
    let group_by = if nk > 0 { format!(" GROUP BY {}", key_aliases.join(", ")) } else { String::new() };
    // Havings and orders on SQL values (percentiles: ClickHouse's, corrected here after).
    let scalar_sql = |c: usize| -> Option<String> {
        match &how[c] {
            CalcSql::Scalar(k) => Some(format!("sl__v{k}")),
            CalcSql::Percentile { q, j, n, .. } => Some(format!("if(sl__v{n} = 0, NULL, sl__v{q}[{}])", j + 1)),
            CalcSql::None => None,
        }
    };
    let mut outer_order = Vec::new();
    let mut pushdown = !rate_mode;
    let pass = plan
        .havings
        .iter()
        .map(|Having { calc, op, value }| {
            scalar_sql(*calc).map(|x| format!("ifNull({x} {} {}, 0)", op.symbol(), flit(*value)))
        })
        .collect::<Option<Vec<_>>>();
    match &pass {
        Some(p) if !p.is_empty() => outer_order.push(format!("({}) DESC", p.join(" AND "))),
        Some(_) => {}
        None => pushdown = false,
    }
    for (key, desc) in &plan.orders {
        let d = if *desc { "DESC" } else { "ASC" };
        match key {
            OrderKey::Calc(c) => match scalar_sql(*c) {
                Some(x) => {
                    outer_order.push(format!("{x} IS NULL ASC, isNaN({x}) {d}, {x} {d}"));
                }
                None => pushdown = false,
            },
            OrderKey::Breakdown(i) => {
                let a = &key_aliases[*i];
                outer_order.push(format!("{a} IS NULL ASC, {a} {d}"));
            }
        }
    }
    let mut groups_sql = format!("SELECT * FROM (SELECT {} FROM {table}{where_sql}{group_by})", inner.join(", "));
    if pushdown && !outer_order.is_empty() {
        groups_sql.push_str(&format!(" ORDER BY {} LIMIT {}", outer_order.join(", "), plan.limit));
    }
    groups_sql.push_str(&settings(limits, ""));

    let (counts, answer) = tokio::try_join!(rows(client, counts_sql), rows(client, groups_sql))?;
    let scanned = counts.first().and_then(|r| r.first()).and_then(as_u64).unwrap_or(0);
    let matched = counts.first().and_then(|r| r.get(1)).and_then(as_u64).unwrap_or(0);
    let n_groups = answer.first().and_then(|r| r.last()).and_then(as_u64).unwrap_or(0);
    let mut all: Vec<Group> = answer
        .iter()
        .map(|r| Group {
            keys: (0..nk).map(|i| key_cell(reprs[i], &r[i])).collect(),
            raw: r[..nk].to_vec(),
            values: how.iter().map(|h| value_of(r, nk, h)).collect(),
        })
        .collect();
    let bucket_sql = range.as_ref().zip(time.as_ref()).map(|(r, (_, _, raw))| time_bucket_sql(r, raw));

    // RATE_* over whole groups: per (group, bucket) values, finished as the engine does.
    if rate_mode {
        let (Some(bsql), Some(r)) = (&bucket_sql, &range) else {
            return Err(sightline::Error::Spec("RATE calculations need a time column".into()).into());
        };
        for (ci, c) in plan.calcs.iter().enumerate() {
            let f = match c.op {
                Op::RateAvg => "avgOrNull",
                Op::RateSum => "sumOrNull",
                Op::RateMax => "maxOrNull",
                _ => continue,
            };
            let v = num(col(c.column.unwrap_or(0)));
            let mut cols: Vec<String> = keys.iter().zip(&key_aliases).map(|(k, a)| format!("{k} AS {a}")).collect();
            cols.push(format!("{bsql} AS sl__b"));
            cols.push(format!("{f}({v}) AS sl__x"));
            let gb: Vec<String> = key_aliases.iter().cloned().chain(["sl__b".to_string()]).collect();
            let sql = format!(
                "SELECT {}, arraySort(groupArray((sl__b, sl__x))) FROM (SELECT {} FROM {table}{where_sql} GROUP BY {} HAVING sl__b < {}){}{}",
                if nk > 0 { key_aliases.join(", ") } else { "0".into() },
                cols.join(", "),
                gb.join(", "),
                r.buckets,
                if nk > 0 { format!(" GROUP BY {}", key_aliases.join(", ")) } else { String::new() },
                settings(limits, "")
            );
            let per = rows(client, sql).await?;
            let key_of = |raw: &[J]| raw.iter().map(|v| v.to_string()).collect::<Vec<_>>().join("\u{1}");
            let mut found: HashMap<String, Option<f64>> = HashMap::new();
            for row in &per {
                let k = if nk > 0 { key_of(&row[..nk]) } else { String::new() };
                let cells = row.get(nk.max(1)).and_then(|a| a.as_array()).cloned().unwrap_or_default();
                let (mut prev, mut total, mut diffs) = (None::<f64>, 0.0, 0usize);
                for cell in cells {
                    let Some(x) = cell.as_array().and_then(|t| t.get(1)).and_then(as_f64) else { continue };
                    if let Some(p) = prev {
                        total += x - p;
                        diffs += 1;
                    }
                    prev = Some(x);
                }
                found.insert(k, (diffs > 0).then(|| total / diffs as f64));
            }
            for g in all.iter_mut() {
                let k = if nk > 0 { key_of(&g.raw) } else { String::new() };
                g.values[ci] = found.get(&k).copied().flatten();
            }
        }
    }
    // Havings, the engine's order and the limit (again, exactly, on corrected values).
    all.retain(|g| {
        plan.havings.iter().all(|h| match g.values[h.calc] {
            None => false,
            Some(x) => h.op.test(x, h.value),
        })
    });
    all.sort_by(|a, b| compare_groups(&plan, a, b));
    all.truncate(plan.limit);
    let visible = plan.visible();
    let names = RowKeys::new(
        plan.breakdown_names.iter().map(String::as_str),
        visible.iter().map(|c| (*c, plan.calcs[*c].name.as_str())),
    );
    let row_of = |time: Option<f64>, g: &Group, values: &[Option<f64>]| -> Row {
        names.row(time, &g.keys, |c| values[c].map_or(Cell::Null, Cell::Num))
    };
    let results: Vec<Row> = all.iter().map(|g| row_of(None, g, &g.values)).collect();

    // 4. Series for the groups returned.
    let mut series = Vec::new();
    if let (true, Some(r), Some(bsql), false) = (plan.series, &range, &bucket_sql, all.is_empty()) {
        series = series_rows(
            client,
            &plan,
            schema,
            &table,
            &where_sql,
            &keys,
            &reprs,
            &all,
            r,
            bsql,
            time.as_ref().map(|t| t.2.as_str()).unwrap_or(""),
            limits,
            &row_of,
        )
        .await?;
    }

    // 5. Heatmaps.
    let mut heatmaps = Vec::new();
    let stats = counts.first().cloned().unwrap_or_default();
    for (c, hr, on_axis, at) in &heat_axes {
        let raw = time.as_ref().map(|t| t.2.as_str()).unwrap_or("");
        let hc = col(c.column.unwrap_or(0));
        let h =
            heatmap(client, &table, &where_sql, hc, hr, raw, on_axis, stats.get(*at..).unwrap_or(&[]), &plan, limits)
                .await?;
        heatmaps.push(NamedHeatmap { name: c.name.clone(), heatmap: h });
    }

    let (start_time, end_time, granularity) = match &range {
        Some(r) => (r.t0 as f64 * r.spu, r.t1 as f64 * r.spu, r.width as f64 * r.spu),
        None => (0.0, 0.0, 0.0),
    };
    Ok(QueryResult {
        results,
        series,
        heatmaps,
        columns: plan.columns(),
        start_time,
        end_time,
        granularity,
        scanned,
        matched,
        groups: n_groups.max(if nk == 0 { 1 } else { 0 }),
        sample_rate_column: None,
        previous: None,
    })
}

#[allow(clippy::too_many_arguments)]
async fn series_rows(
    client: &ChClient,
    plan: &QueryPlan,
    schema: &ChSchema,
    table: &str,
    where_sql: &str,
    keys: &[String],
    reprs: &[Repr],
    kept: &[Group],
    r: &TimeRange,
    bsql: &str,
    raw: &str,
    limits: &Limits,
    row_of: &(dyn Fn(Option<f64>, &Group, &[Option<f64>]) -> Row + Sync),
) -> Result<Vec<Row>, QueryError> {
    let col = |i: usize| &schema.columns[i];
    let nk = keys.len();
    let nb = r.buckets;
    // The kept groups' keys.
    let mut cond = where_sql.to_string();
    if nk > 0 {
        let tuples: Vec<String> = kept
            .iter()
            .map(|g| {
                let lits: Vec<String> = g.raw.iter().zip(reprs).map(|(v, rp)| key_literal(*rp, v)).collect();
                if nk == 1 {
                    lits[0].clone()
                } else {
                    format!("({})", lits.join(", "))
                }
            })
            .collect();
        let lhs = if nk == 1 { keys[0].clone() } else { format!("({})", keys.join(", ")) };
        let c = format!("{lhs} IN ({})", tuples.join(", "));
        cond = if cond.is_empty() { format!(" WHERE {c}") } else { format!("{cond} AND {c}") };
    }
    let mut sel = Select { exprs: vec!["count()".into()] };
    let mut how = Vec::new();
    for c in &plan.calcs {
        let v = c.column.map(|i| num(col(i))).unwrap_or_default();
        let h = match c.op {
            Op::Count => CalcSql::Scalar(0),
            Op::Sum | Op::RateSum => CalcSql::Scalar(sel.push(format!("sumOrNull({v})"))),
            Op::Avg | Op::RateAvg => CalcSql::Scalar(sel.push(format!("avgOrNull({v})"))),
            Op::Min => CalcSql::Scalar(sel.push(format!("minOrNull({v})"))),
            Op::Max | Op::RateMax => CalcSql::Scalar(sel.push(format!("maxOrNull({v})"))),
            Op::CountDistinct => {
                CalcSql::Scalar(sel.push(format!("uniqExact({})", key_expr(col(c.column.unwrap_or(0))))))
            }
            Op::Percentile(p) => percentile_sql(&mut sel, &v, &[p], p, repr(col(c.column.unwrap_or(0))) == Repr::Float),
            _ => CalcSql::None,
        };
        how.push(h);
    }
    let ka: Vec<String> = (0..nk).map(|i| format!("sl__k{i}")).collect();
    let mut cols: Vec<String> = keys.iter().zip(&ka).map(|(k, a)| format!("{k} AS {a}")).collect();
    cols.push(format!("{bsql} AS sl__b"));
    cols.extend(sel.exprs.iter().enumerate().map(|(i, e)| format!("{e} AS sl__v{i}")));
    let gb: Vec<String> = ka.iter().cloned().chain(["sl__b".to_string()]).collect();
    let sql = format!(
        "SELECT {} FROM {table}{cond} GROUP BY {} HAVING sl__b >= 0 AND sl__b < {nb}{}",
        cols.join(", "),
        gb.join(", "),
        settings(limits, ", transform_null_in = 1")
    );
    let key_of = |raw: &[J]| raw.iter().map(|v| v.to_string()).collect::<Vec<_>>().join("\u{1}");
    let rank: HashMap<String, usize> = kept.iter().enumerate().map(|(i, g)| (key_of(&g.raw), i)).collect();
    // cells[rank * nb + bucket]: (count, values)
    let mut cells: Vec<Option<(u64, Vec<Option<f64>>)>> = vec![None; kept.len() * nb];
    for row in rows(client, sql).await? {
        let Some(g) = rank.get(&key_of(&row[..nk])).copied() else { continue };
        let Some(b) = row.get(nk).and_then(as_i64).filter(|b| *b >= 0 && (*b as usize) < nb) else { continue };
        let off = nk + 1;
        let values: Vec<Option<f64>> = how.iter().map(|h| calc_value(&row, off, h)).collect();
        let n = row.get(off).and_then(as_u64).unwrap_or(0);
        cells[g * nb + b as usize] = Some((n, values));
    }
    // RATE_*: the change from the previous bucket with a value, per group.
    for (ci, c) in plan.calcs.iter().enumerate() {
        if !matches!(c.op, Op::RateAvg | Op::RateSum | Op::RateMax) {
            continue;
        }
        for g in 0..kept.len() {
            let mut prev = None::<f64>;
            for b in 0..nb {
                if let Some((_, v)) = cells[g * nb + b].as_mut() {
                    let x = v[ci];
                    v[ci] = match (x, prev) {
                        (Some(x), Some(p)) => Some(x - p),
                        _ => None,
                    };
                    if x.is_some() {
                        prev = x;
                    }
                }
            }
        }
    }
    // CONCURRENCY: spans cover the buckets they reach, computed apart.
    for (ci, c) in plan.calcs.iter().enumerate() {
        if c.op != Op::Concurrency {
            continue;
        }
        let d = num(col(c.column.unwrap_or(0)));
        let spu = r.spu;
        let edges: Vec<i64> = (0..=nb).map(|k| r.start(k)).collect();
        let e_list = edges.iter().map(|x| x.to_string()).collect::<Vec<_>>().join(", ");
        let t = format!("toFloat64({raw})");
        let last_end = flit(edges[nb] as f64);
        // 1-based: sl__E[k + 1] is the start of bucket k, sl__E[k + 2] its end.
        let s = format!("greatest({t}, toFloat64(sl__E[1]))");
        let e = format!("least({t} + {d} / 1000. / {}, {last_end})", flit(spu));
        let mut inner_where = cond.clone();
        let extra = format!("{d} > 0 AND sl__e > sl__s AND sl__b0 >= 0 AND sl__b0 < {nb}");
        inner_where =
            if inner_where.is_empty() { format!(" WHERE {extra}") } else { format!("{inner_where} AND {extra}") };
        let comma = if nk > 0 { ", " } else { "" };
        let keys_as = keys.iter().zip(&ka).map(|(k, a)| format!("{k} AS {a}")).collect::<Vec<_>>().join(", ");
        let sql = format!(
            "SELECT {ka}{comma}sl__x.1 AS sl__bb, sum(sl__x.2), sum(sl__x.3) FROM (\
WITH [{e_list}] AS sl__E \
SELECT {keys_as}{comma}toInt64({bsql}) AS sl__b0, {e} AS sl__e, {s} AS sl__s, \
toInt64(greatest(sl__b0 + 1, least({last}, toInt64(arrayFirstIndex(x -> x >= sl__e, sl__E)) - 2))) AS sl__last, \
toFloat64(sl__E[sl__b0 + 2]) AS sl__end0, toFloat64(sl__E[sl__last + 1]) AS sl__startl, \
arrayJoin(if(sl__e <= sl__end0, [(sl__b0, sl__e - sl__s, toInt64(0))], \
if(sl__last > sl__b0 + 1, [(sl__b0, sl__end0 - sl__s, toInt64(0)), (sl__last, sl__e - sl__startl, toInt64(0)), \
(sl__b0 + 1, toFloat64(0), toInt64(1)), (sl__last, toFloat64(0), toInt64(-1))], \
[(sl__b0, sl__end0 - sl__s, toInt64(0)), (sl__last, sl__e - sl__startl, toInt64(0))]))) AS sl__x \
FROM {table}{inner_where}) GROUP BY {gb}{comma}sl__bb{set}",
            ka = ka.join(", "),
            last = nb - 1,
            gb = ka.join(", "),
            set = settings(limits, ", transform_null_in = 1"),
        );
        let mut cov = vec![0.0f64; kept.len() * nb];
        let mut full = vec![0i64; kept.len() * nb + 1];
        for row in rows(client, sql).await? {
            let Some(g) = rank.get(&key_of(&row[..nk])).copied() else { continue };
            let Some(b) = row.get(nk).and_then(as_i64).filter(|b| *b >= 0 && (*b as usize) < nb) else { continue };
            cov[g * nb + b as usize] += row.get(nk + 1).and_then(as_f64).unwrap_or(0.0);
            full[g * nb + b as usize] += row.get(nk + 2).and_then(as_i64).unwrap_or(0);
        }
        for g in 0..kept.len() {
            let mut running = 0i64;
            for b in 0..nb {
                let k = g * nb + b;
                running += full[k];
                let width = (edges[b + 1] as f64 - edges[b] as f64).max(1.0);
                let v = cov[k] / width + running as f64;
                if v > 0.0 {
                    let cell = cells[k].get_or_insert_with(|| (0, vec![None; plan.calcs.len()]));
                    cell.1[ci] = Some(v);
                }
            }
        }
    }
    let edges = r.edges();
    let mut out = Vec::new();
    for (g, group) in kept.iter().enumerate() {
        for b in 0..nb {
            let Some((n, values)) = &cells[g * nb + b] else { continue };
            let spans = plan.calcs.iter().enumerate().any(|(c, k)| k.op == Op::Concurrency && values[c].is_some());
            if *n == 0 && !spans {
                continue;
            }
            out.push(row_of(Some(edges[b]), group, values));
        }
    }
    Ok(out)
}

/// One HEATMAP: the value range of the matched rows on the axis, the engine's edges,
/// then counts per (time bucket, value bucket) in ClickHouse.
#[allow(clippy::too_many_arguments)]
async fn heatmap(
    client: &ChClient,
    table: &str,
    where_sql: &str,
    c: &ChColumn,
    r: &TimeRange,
    raw: &str,
    on_axis: &str,
    s: &[J],
    plan: &QueryPlan,
    limits: &Limits,
) -> Result<Heatmap, QueryError> {
    let tb = r.buckets.max(1);
    let vb = plan.heatmap.value_buckets.unwrap_or(40).clamp(1, 1000);
    let scale = plan.heatmap.scale.unwrap_or(Scale::Log);
    let v = num(c);
    let bsql = time_bucket_sql(r, raw);
    let cond = if where_sql.is_empty() { format!(" WHERE {on_axis}") } else { format!("{where_sql} AND {on_axis}") };
    // `s`: the value range the counts statement found (min, max, min positive, nulls, values).
    let g = |i: usize| s.get(i).and_then(as_f64);
    let (lo, hi, min_pos) =
        (g(0).unwrap_or(f64::INFINITY), g(1).unwrap_or(f64::NEG_INFINITY), g(2).unwrap_or(f64::INFINITY));
    let nulls = s.get(3).and_then(as_u64).unwrap_or(0);
    let total = s.get(4).and_then(as_u64).unwrap_or(0);
    let edges = value_edges(lo, hi, min_pos, vb, scale);
    let log = scale == Scale::Log;
    let last = vb - 1;
    // Exactly the engine's cell: edges[b] <= v < edges[b + 1], the last bucket closed.
    let lits: Vec<String> = edges.iter().map(|x| flit(*x)).collect();
    let b = bucket_tree("sl__v", &lits, 0, last);
    let vbucket = if log { format!("if(sl__v <= 0, -1, {b})") } else { b };
    let sql = format!(
        "WITH {v} AS sl__v SELECT {bsql} AS sl__t, {vbucket} AS sl__vb, count() FROM {table}{cond} AND sl__v IS NOT NULL \
GROUP BY sl__t, sl__vb{}",
        settings(limits, "")
    );
    let mut counts = vec![0u32; tb * vb];
    let mut low = vec![0u32; tb];
    for row in rows(client, sql).await? {
        let (Some(t), Some(vbk), Some(n)) =
            (row.first().and_then(as_i64), row.get(1).and_then(as_i64), row.get(2).and_then(as_u64))
        else {
            continue;
        };
        if t < 0 || t as usize >= tb {
            continue;
        }
        let n = n.min(u32::MAX as u64) as u32;
        if vbk < 0 {
            low[t as usize] = low[t as usize].saturating_add(n);
        } else if (vbk as usize) < vb {
            let c = &mut counts[t as usize * vb + vbk as usize];
            *c = c.saturating_add(n);
        }
    }
    let max_count = counts.iter().chain(low.iter()).copied().max().unwrap_or(0);
    Ok(Heatmap {
        column: c.name.clone(),
        time_edges: r.edges(),
        value_edges: edges,
        scale,
        counts,
        low: if log { low } else { Vec::new() },
        max_count,
        total,
        nulls,
    })
}

/// The time column's SQL and unit for a spec naming one (or the table's default).
fn time_of<'a>(
    schema: &'a ChSchema,
    cat: &Catalog,
    name: Option<&str>,
) -> Result<Option<(&'a ChColumn, TimeUnit, String)>, QueryError> {
    let idx = match name {
        Some(n) => Some(cat.index(n)?),
        None => cat.time_column(),
    };
    Ok(match idx {
        None => None,
        Some(i) => {
            let c = &schema.columns[i];
            let Kind::Time(unit) = c.kind else {
                return Err(sightline::Error::Spec(format!("\"{}\" is not a time column", c.name)).into());
            };
            Some((c, unit, raw_time(c, unit)))
        }
    })
}

/// The time extent `(min, max)` of a raw time expression, `None` without rows.
async fn extent(client: &ChClient, table: &str, raw: &str, limits: &Limits) -> Result<Option<(i64, i64)>, ChError> {
    let sql = format!("SELECT min({raw}), max({raw}), count() FROM {table}{}", settings(limits, ""));
    let r = rows(client, sql).await?;
    let row = r.first().ok_or_else(|| ChError::Cut("no answer to the time extent".into()))?;
    let n = row.get(2).and_then(as_u64).unwrap_or(0);
    Ok(match (row.first().and_then(as_i64), row.get(1).and_then(as_i64)) {
        (Some(lo), Some(hi)) if n > 0 => Some((lo, hi)),
        _ => None,
    })
}

fn filters_sql(
    schema: &ChSchema,
    filters: &[sightline::query::spec::FilterSpec],
    combination: Option<&str>,
) -> Result<String, QueryError> {
    let any = match combination.unwrap_or("AND") {
        "AND" | "and" => false,
        "OR" | "or" => true,
        other => {
            return Err(sightline::Error::Spec(format!("filter_combination must be AND or OR, not \"{other}\"")).into())
        }
    };
    let parts = filters.iter().map(|f| compile_filter(schema, f)).collect::<Result<Vec<_>, _>>()?;
    Ok(if parts.is_empty() { "1".into() } else { format!("({})", parts.join(if any { " OR " } else { " AND " })) })
}

/// Runs a comparison on the ClickHouse table: each row's side, the per-value counts of
/// every dimension (one `GROUPING SETS` pass), each measure's histogram and exact
/// p50/p95 per side in SQL; the statistics (tests, Benjamini-Hochberg, ranking) in the
/// core's [`sightline::compare::finish`], as for the engine's own counts.
pub async fn compare(
    client: &ChClient,
    schema: &ChSchema,
    spec: &sightline::compare::CompareSpec,
    limits: &Limits,
) -> Result<sightline::compare::Comparison, QueryError> {
    use sightline::compare::{
        measure_edges, DimCounts, DimValue, MeasureCounts, SideCounts, MAX_INT_DIMENSION_VALUES, QUANTITY_MIN_VALUES,
        QUANTITY_SPAN,
    };
    sightline::compare::options(spec)?;
    let (schema, table) = calculated(schema, &spec.scope.calculated_fields)?;
    let schema = &schema;
    let cat = catalog(schema);
    if let Some(w) = cat.sample_rate_column(spec.scope.sample_rate_column.as_deref())? {
        // Refused, never counted unweighted: a sampled table's shares would be biased.
        return Err(sightline::Error::Operator {
            op: "sample_rate_column".into(),
            column: cat.columns[w].name.clone(),
            message: "a comparison weighted by sample rate is not compiled to ClickHouse SQL yet; set the scope's sample_rate_column to \"\" for unweighted counts, or run it in the browser (mode=local)".into(),
        }
        .into());
    }
    let time = time_of(schema, &cat, spec.scope.time_column.as_deref())?;
    // The scope: its time range (resolved as the engine resolves it) and filters.
    let scope_filters = filters_sql(schema, &spec.scope.filters, spec.scope.filter_combination.as_deref())?;
    let scope_time = match &time {
        Some((_, unit, raw)) => {
            let ext = if needs_extent(&spec.scope) { extent(client, &table, raw, limits).await? } else { None };
            let r = resolve_range(*unit, ext, &spec.scope)?;
            format!("({raw} >= {} AND {raw} < {})", r.t0, r.t1)
        }
        None => "1".into(),
    };
    let sel = &spec.selection;
    if sel.period.is_some() {
        return Err(sightline::Error::Spec("selection: period applies to the baseline only".into()).into());
    }
    let window = |w: &sightline::compare::SideSpec, shift: f64| -> String {
        if w.start_time.is_none() && w.end_time.is_none() {
            return "1".into();
        }
        let Some((c, unit, raw)) = &time else { return "0".into() };
        let t = format!("(toFloat64({raw}) * {})", flit(unit.seconds_per_unit()));
        let mut parts = vec![format!("{} IS NOT NULL", quote_ident(&c.name))];
        if let Some(s) = w.start_time {
            parts.push(format!("{t} >= {}", flit(s - shift)));
        }
        if let Some(e) = w.end_time {
            parts.push(format!("{t} < {}", flit(e - shift)));
        }
        format!("({})", parts.join(" AND "))
    };
    let sel_filters = filters_sql(schema, &sel.filters, sel.filter_combination.as_deref())?;
    let in_scope = format!("({scope_time} AND {scope_filters})");
    let selected = format!("({in_scope} AND {} AND {sel_filters})", window(sel, 0.0));
    let baseline = match &spec.baseline {
        None => in_scope.clone(),
        Some(b) => {
            let base_filters = filters_sql(schema, &b.filters, b.filter_combination.as_deref())?;
            let (w, shift) = match b.period {
                Some(p) if !p.is_finite() || p <= 0.0 => {
                    return Err(
                        sightline::Error::Spec("baseline: period must be a positive number of seconds".into()).into()
                    )
                }
                Some(p) => {
                    if sel.start_time.is_none() || sel.end_time.is_none() {
                        return Err(sightline::Error::Spec(
                            "baseline: period needs the selection's start_time and end_time".into(),
                        )
                        .into());
                    }
                    (window(sel, p), p)
                }
                None => (window(b, 0.0), 0.0),
            };
            let _ = shift;
            let same = if b.period.is_some() { sel_filters.clone() } else { "1".into() };
            format!("({w} AND {scope_filters} AND {base_filters} AND {same})")
        }
    };
    let side = format!("multiIf({selected}, 1, {baseline}, 2, 0)");
    // Each row's side, computed once in a subquery (an alias inlined into GROUPING SETS
    // would group by the expression's columns).
    let sided = format!("(SELECT *, {side} AS sl__side FROM {table})");

    // Which columns, as the engine chooses them.
    let auto_dims = spec.dimensions.is_none();
    let dims: Vec<usize> = match &spec.dimensions {
        Some(names) => names.iter().map(|n| cat.index(n)).collect::<Result<_, _>>()?,
        None => (0..cat.columns.len())
            .filter(|i| matches!(cat.columns[*i].role, Role::String | Role::Bool | Role::Number))
            .collect(),
    };
    let meas: Vec<usize> = match &spec.measures {
        Some(names) => names
            .iter()
            .map(|n| {
                let i = cat.index(n)?;
                if cat.columns[i].role != Role::Number {
                    return Err(sightline::Error::Operator {
                        op: "compare".into(),
                        column: n.clone(),
                        message: format!("a measure needs a numeric column, this one is {}", cat.columns[i].type_name),
                    });
                }
                Ok(i)
            })
            .collect::<Result<_, _>>()?,
        None => (0..cat.columns.len()).filter(|i| cat.columns[*i].role == Role::Number).collect(),
    };
    let pinned: Vec<&str> =
        sel.filters.iter().filter(|f| f.op == "=" || f.op == "in").map(|f| f.column.as_str()).collect();
    let not_dim = |c: &ChColumn| sightline::Error::Operator {
        op: "compare".into(),
        column: c.name.clone(),
        message: format!(
            "a dimension needs a string, bool or integer column with at most {MAX_INT_DIMENSION_VALUES} values"
        ),
    };
    let mut candidates = Vec::new();
    for i in dims {
        let c = &schema.columns[i];
        let r = repr(c);
        if r == Repr::Float && auto_dims {
            continue;
        }
        if auto_dims && pinned.contains(&c.name.as_str()) {
            continue;
        }
        match r {
            Repr::Str | Repr::Bool | Repr::Int | Repr::UInt => candidates.push(i),
            _ if auto_dims => {}
            _ => return Err(not_dim(c).into()),
        }
    }

    // 1. Side counts, integer dimensions' cardinality, measures' finite range per side.
    let mut sel1 = Select { exprs: vec!["countIf(sl__side = 1)".into(), "countIf(sl__side = 2)".into()] };
    let mut int_stats = Vec::new();
    for i in &candidates {
        let c = &schema.columns[*i];
        if matches!(repr(c), Repr::Int | Repr::UInt) {
            let q = quote_ident(&c.name);
            int_stats.push((
                *i,
                sel1.push(format!("length(groupUniqArray({})({q}))", MAX_INT_DIMENSION_VALUES + 1)),
                sel1.push(format!("toString(min({q}))")),
                sel1.push(format!("toString(max({q}))")),
            ));
        }
    }
    let mut meas_stats = Vec::new();
    for i in &meas {
        let v = num(&schema.columns[*i]);
        meas_stats.push((
            *i,
            sel1.push(format!("countIf({v} IS NOT NULL AND sl__side = 1)")),
            sel1.push(format!("countIf({v} IS NOT NULL AND sl__side = 2)")),
            sel1.push(format!("minIf({v}, isFinite({v}))")),
            sel1.push(format!("maxIf({v}, isFinite({v}))")),
        ));
    }
    let sql = format!("SELECT {} FROM {sided} WHERE sl__side != 0{}", sel1.exprs.join(", "), settings(limits, ""));
    let first = rows(client, sql).await?.into_iter().next().unwrap_or_default();
    let g = |k: usize| first.get(k);
    let (ns, nb) = (g(0).and_then(as_u64).unwrap_or(0), g(1).and_then(as_u64).unwrap_or(0));
    for (i, d, lo, hi) in &int_stats {
        let distinct = g(*d).and_then(as_u64).unwrap_or(0) as usize;
        let c = &schema.columns[*i];
        if distinct > MAX_INT_DIMENSION_VALUES {
            if !auto_dims {
                return Err(not_dim(c).into());
            }
            candidates.retain(|x| x != i);
            continue;
        }
        let int = |k: usize| g(k).and_then(|v| v.as_str()).and_then(|s| s.parse::<i128>().ok());
        if let (true, Some(lo), Some(hi)) = (auto_dims && distinct > QUANTITY_MIN_VALUES, int(*lo), int(*hi)) {
            if (hi - lo + 1) as f64 <= QUANTITY_SPAN * distinct as f64 {
                candidates.retain(|x| x != i); // a quantity: compared as a measure
            }
        }
    }

    // 2. Every value of every dimension on both sides, in one pass. Only the values that
    // can change the answer come back: every tested one (a + b >= min_count), and of the
    // untested ones the `top` that rank first by |difference| (as the core ranks them,
    // value order breaking ties); the rest are summed per dimension (`Unlisted`). An ID
    // column with 100M values is one row per value in ClickHouse, not in the answer.
    let (_, top, min_count) = sightline::compare::options(spec)?;
    let mut dim_counts: Vec<(usize, Vec<(u64, u64)>, Vec<DimValue>, sightline::compare::Unlisted)> =
        candidates.iter().map(|i| (*i, Vec::new(), Vec::new(), Default::default())).collect();
    if !candidates.is_empty() {
        let cols: Vec<String> = candidates.iter().map(|i| quote_ident(&schema.columns[*i].name)).collect();
        let sets: Vec<String> = cols.iter().map(|c| format!("({c})")).collect();
        let (nsp, nbp) = (ns.max(1), nb.max(1));
        let testable = ns > 0 && nb > 0;
        let value_order: Vec<String> = cols.iter().map(|c| format!("{c} ASC NULLS LAST")).collect();
        let part = "PARTITION BY sl__set, sl__tested";
        let sql = format!(
            "SELECT {cols}, sl__set, sl__a, sl__b, sl__tested, sl__un, sl__ua, sl__ub, toString(sl__ug) FROM (\
SELECT *, row_number() OVER ({part} ORDER BY abs(sl__d) DESC, sl__d DESC, {order}) AS sl__rn, \
count() OVER ({part}) AS sl__un, sum(sl__a) OVER ({part}) AS sl__ua, sum(sl__b) OVER ({part}) AS sl__ub, \
sum(abs(toInt128(sl__a) * {nbp} - toInt128(sl__b) * {nsp})) OVER ({part}) AS sl__ug FROM (\
SELECT *, (sl__a + sl__b >= {min_count} AND {testable}) AS sl__tested, sl__a / {fs} - sl__b / {fb} AS sl__d FROM (\
SELECT {cols}, grouping({cols}) AS sl__set, countIf(sl__side = 1) AS sl__a, countIf(sl__side = 2) AS sl__b \
FROM {sided} WHERE sl__side != 0 GROUP BY GROUPING SETS ({sets})))) WHERE sl__tested OR sl__rn <= {top}{set}",
            cols = cols.join(", "),
            order = value_order.join(", "),
            fs = flit(nsp as f64),
            fb = flit(nbp as f64),
            sets = sets.join(", "),
            set = settings(limits, ", group_by_use_nulls = 1")
        );
        let nd = candidates.len();
        // Per dimension: the untested values' totals, less those listed.
        let mut untested_total: Vec<Option<sightline::compare::Unlisted>> = vec![None; nd];
        let mut untested_listed = vec![sightline::compare::Unlisted::default(); nd];
        for row in rows(client, sql).await? {
            let mask = row.get(nd).and_then(as_u64).unwrap_or(0);
            // grouping(a, b, c): bit (nd - 1 - k) is set when column k is NOT grouped.
            let Some(k) = (0..nd).find(|k| mask & (1 << (nd - 1 - k)) == 0) else { continue };
            let g = |i: usize| row.get(nd + i);
            let (Some(a), Some(b)) = (g(1).and_then(as_u64), g(2).and_then(as_u64)) else { continue };
            let tested = g(3).is_some_and(|t| matches!(t, J::Bool(true)) || as_i64(t) == Some(1));
            if !tested {
                let gap = (a as u128 * nbp as u128).abs_diff(b as u128 * nsp as u128);
                let l = &mut untested_listed[k];
                l.values += 1;
                l.selection_count += a;
                l.baseline_count += b;
                l.gap += gap;
                untested_total[k] = Some(sightline::compare::Unlisted {
                    values: g(4).and_then(as_u64).unwrap_or(0),
                    selection_count: g(5).and_then(as_u64).unwrap_or(0),
                    baseline_count: g(6).and_then(as_u64).unwrap_or(0),
                    gap: g(7).and_then(|v| v.as_str()).and_then(|x| x.parse().ok()).unwrap_or(0),
                });
            }
            let c = &schema.columns[candidates[k]];
            let v = &row[k];
            let value = if v.is_null() {
                DimValue::Null
            } else {
                match repr(c) {
                    Repr::Str => DimValue::Str(v.as_str().unwrap_or("").to_string()),
                    Repr::Bool => DimValue::Bool(matches!(v, J::Bool(true)) || as_i64(v).is_some_and(|x| x != 0)),
                    _ => v.to_string().trim_matches('"').parse::<i128>().map_or(DimValue::Null, DimValue::Int),
                }
            };
            let (_, counts, values, _) = &mut dim_counts[k];
            counts.push((a, b));
            values.push(value);
        }
        for (k, d) in dim_counts.iter_mut().enumerate() {
            if let Some(t) = untested_total[k] {
                let l = untested_listed[k];
                d.3 = sightline::compare::Unlisted {
                    values: t.values.saturating_sub(l.values),
                    selection_count: t.selection_count.saturating_sub(l.selection_count),
                    baseline_count: t.baseline_count.saturating_sub(l.baseline_count),
                    gap: t.gap.saturating_sub(l.gap),
                };
            }
        }
    }

    // 3. Measures: histograms on the engine's edges, and exact p50/p95 per side.
    let mut measures = Vec::new();
    let live: Vec<_> = meas_stats
        .iter()
        .filter(|(_, a, b, _, _)| g(*a).and_then(as_u64).unwrap_or(0) > 0 && g(*b).and_then(as_u64).unwrap_or(0) > 0)
        .collect();
    if !live.is_empty() {
        let mut edges_of = Vec::new();
        let mut buckets = Vec::new();
        let mut qsel = Select { exprs: Vec::new() };
        let mut qcols = Vec::new();
        for (i, _, _, lo, hi) in &live {
            let lo = g(*lo).and_then(as_f64).unwrap_or(f64::INFINITY);
            let hi = g(*hi).and_then(as_f64).unwrap_or(f64::NEG_INFINITY);
            let (edges, log) = measure_edges(lo, hi);
            let v = num(&schema.columns[*i]);
            // The core's measure_bucket: the count of edges[1..] <= v, at most the last.
            let lits: Vec<String> = edges.iter().map(|e| flit(*e)).collect();
            buckets.push(format!("if({v} IS NULL, NULL, {})", bucket_tree(&v, &lits, 0, edges.len() - 2)));
            qcols.push((
                qsel.push(format!("count({v})")),
                percentile_sql(&mut qsel, &v, &[0.5, 0.95], 0.5, true),
                percentile_sql(&mut qsel, &v, &[0.5, 0.95], 0.95, true),
            ));
            edges_of.push((edges, log));
        }
        let nm = live.len();
        let sets: Vec<String> = (0..nm).map(|k| format!("(sl__m{k}, sl__side)")).collect();
        let bsel: Vec<String> = buckets.iter().enumerate().map(|(k, b)| format!("{b} AS sl__m{k}")).collect();
        let hist_sql = format!(
            "SELECT {}, grouping({}), sl__side, count() FROM {sided} WHERE sl__side != 0 GROUP BY GROUPING SETS ({}){}",
            bsel.join(", "),
            (0..nm).map(|k| format!("sl__m{k}")).collect::<Vec<_>>().join(", "),
            sets.join(", "),
            settings(limits, ", group_by_use_nulls = 1")
        );
        let q_sql = format!(
            "SELECT sl__side, {} FROM {sided} WHERE sl__side != 0 GROUP BY sl__side{}",
            qsel.exprs.join(", "),
            settings(limits, "")
        );
        let (hist, quant) = tokio::try_join!(rows(client, hist_sql), rows(client, q_sql))?;
        let nbk = sightline::compare::MEASURE_BUCKETS;
        let mut h = vec![[vec![0u64; nbk], vec![0u64; nbk]]; nm];
        for row in &hist {
            let mask = row.get(nm).and_then(as_u64).unwrap_or(0);
            let Some(k) = (0..nm).find(|k| mask & (1 << (nm - 1 - k)) == 0) else { continue };
            let (Some(b), Some(s), Some(n)) =
                (row.get(k).and_then(as_i64), row.get(nm + 1).and_then(as_u64), row.get(nm + 2).and_then(as_u64))
            else {
                continue; // null values: not counted
            };
            if (1..=2).contains(&s) && (b as usize) < nbk {
                h[k][s as usize - 1][b as usize] += n;
            }
        }
        let mut stats = vec![[(0u64, None, None), (0u64, None, None)]; nm];
        for row in &quant {
            let Some(s) = row.first().and_then(as_u64).filter(|s| (1..=2).contains(s)) else { continue };
            for (k, (n, p50, p95)) in qcols.iter().enumerate() {
                let n = row.get(1 + n).and_then(as_u64).unwrap_or(0);
                let (p50, p95) = (calc_value(row, 1, p50), calc_value(row, 1, p95));
                stats[k][s as usize - 1] = (n, p50, p95);
            }
        }
        for (k, ((i, ..), (edges, log))) in live.iter().zip(edges_of).enumerate() {
            let side = |s: usize| SideCounts {
                count: stats[k][s].0,
                histogram: h[k][s].clone(),
                p50: stats[k][s].1,
                p95: stats[k][s].2,
            };
            measures.push(MeasureCounts {
                column: schema.columns[*i].name.clone(),
                edges,
                log,
                selection: side(0),
                baseline: side(1),
            });
        }
    }
    let dims: Vec<DimCounts> = dim_counts
        .into_iter()
        .map(|(i, counts, values, unlisted)| {
            let values = std::rc::Rc::new(values);
            let v2 = values.clone();
            DimCounts {
                column: schema.columns[i].name.clone(),
                rows: counts,
                value: Box::new(move |r| values.get(r).cloned().unwrap_or(DimValue::Null)),
                order: Box::new(move |r, q| v2.get(r).cmp(&v2.get(q))),
                unlisted,
            }
        })
        .collect();
    Ok(sightline::compare::finish(spec, ns, nb, dims, measures, None)?)
}
