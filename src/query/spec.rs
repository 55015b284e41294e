//! The query specification: Honeycomb's JSON query model, parsed and checked against
//! a dataset's columns.

use serde::Deserialize;

use crate::column::Role;
use crate::dataset::Dataset;
use crate::error::{Error, Result};
use crate::heatmap::Scale;
use crate::plan::Catalog;

/// Default `limit`.
pub const DEFAULT_LIMIT: usize = 100;
/// Largest `limit`.
pub const MAX_LIMIT: usize = 10_000;
/// Largest number of time buckets in `series`.
pub const MAX_BUCKETS: usize = 1_000;

/// A filter or having value: what JSON allows. Integers keep every digit (IDs above
/// 2^53 must not collide); a decimal string is an exact integer too, which is how
/// JavaScript passes one (a `BigInt` becomes one at the wasm edge).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[cfg_attr(test, ts(rename = "FilterValue"))]
#[serde(untagged)]
pub enum Value {
    /// `true` / `false`.
    Bool(bool),
    /// An integer that fits `i64`.
    Int(i64),
    /// An integer above `i64::MAX`.
    UInt(u64),
    /// Any other JSON number.
    Number(f64),
    /// Any JSON string.
    String(String),
    /// For `in` and `not-in`.
    List(Vec<Value>),
}

impl Value {
    /// The value as text, as string filters compare it (integral numbers without `.0`).
    pub fn as_text(&self) -> Option<String> {
        match self {
            Value::Bool(b) => Some(b.to_string()),
            Value::Int(n) => Some(n.to_string()),
            Value::UInt(n) => Some(n.to_string()),
            Value::Number(n) => {
                Some(if n.fract() == 0.0 && n.abs() < 1e15 { format!("{}", *n as i64) } else { n.to_string() })
            }
            Value::String(s) => Some(s.clone()),
            Value::List(_) => None,
        }
    }
    /// The value as a number, as numeric filters compare it (numeric strings parse).
    pub fn as_number(&self) -> Option<f64> {
        match self {
            Value::Int(n) => Some(*n as f64),
            Value::UInt(n) => Some(*n as f64),
            Value::Number(n) => Some(*n),
            Value::String(s) => s.trim().parse().ok(),
            Value::Bool(b) => Some(*b as u8 as f64),
            Value::List(_) => None,
        }
    }
    /// The value as a boolean: `true`/`false`, their strings, 0 and 1.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            Value::String(s) if s == "true" => Some(true),
            Value::String(s) if s == "false" => Some(false),
            Value::Number(n) if *n == 0.0 || *n == 1.0 => Some(*n == 1.0),
            Value::Int(n) if *n == 0 || *n == 1 => Some(*n == 1),
            _ => None,
        }
    }
    /// The value as an exact integer: integers, integral floats, and decimal strings
    /// (`"18446744073709551615"`).
    pub fn as_int(&self) -> Option<i128> {
        match self {
            Value::Int(n) => Some(*n as i128),
            Value::UInt(n) => Some(*n as i128),
            Value::Number(n) if n.fract() == 0.0 && n.abs() < 1.7e38 => Some(*n as i128),
            Value::String(s) => s.trim().parse().ok(),
            Value::Bool(b) => Some(*b as i128),
            _ => None,
        }
    }
}

/// `{ op, column }` as written in the spec.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[cfg_attr(test, ts(rename = "Calculation", optional_fields))]
#[serde(deny_unknown_fields)]
pub struct CalculationSpec {
    /// COUNT, SUM, P99, HEATMAP, ...
    #[cfg_attr(test, ts(type = "CalculationOp"))]
    pub op: String,
    /// The column (not for COUNT and CONCURRENCY).
    #[serde(default)]
    pub column: Option<String>,
    /// Its name in results (default `OP(column)`), which formulas, orders and havings
    /// may use.
    #[serde(default)]
    pub name: Option<String>,
    /// Filters of this calculation only, on top of the query's (it must then be named).
    #[serde(default)]
    #[cfg_attr(test, ts(optional = nullable))]
    pub filters: Vec<FilterSpec>,
    /// How this calculation's filters combine: `AND` (default) or `OR`.
    #[serde(default)]
    #[cfg_attr(test, ts(optional, type = "'AND' | 'OR'"))]
    pub filter_combination: Option<String>,
}

/// `{ name, expression }`: one of Honeycomb's calculated fields or formulas.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct NamedExpression {
    /// The name it is referred to by.
    pub name: String,
    /// The expression, in Honeycomb's formula language.
    pub expression: String,
}

/// `{ column, op, value }`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[cfg_attr(test, ts(rename = "Filter", optional_fields))]
#[serde(deny_unknown_fields)]
pub struct FilterSpec {
    /// The column.
    pub column: String,
    /// `=`, `!=`, `>`, `starts-with`, `in`, ...
    #[cfg_attr(test, ts(type = "FilterOp"))]
    pub op: String,
    /// The operand (none for `exists` and `does-not-exist`; a list for `in`, `not-in`).
    #[serde(default)]
    pub value: Option<Value>,
}

/// `{ op?, column?, order? }`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[cfg_attr(test, ts(rename = "Order", optional_fields))]
#[serde(deny_unknown_fields)]
pub struct OrderSpec {
    /// A calculation's op; absent to order by a breakdown column.
    #[serde(default)]
    #[cfg_attr(test, ts(optional, type = "CalculationOp"))]
    pub op: Option<String>,
    /// The calculation's column or the breakdown column.
    #[serde(default)]
    pub column: Option<String>,
    /// `ascending` or `descending` (default `ascending`).
    #[serde(default)]
    #[cfg_attr(test, ts(optional, type = "'ascending' | 'descending'"))]
    pub order: Option<String>,
}

/// `{ calculate_op, column?, op, value }`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[cfg_attr(test, ts(rename = "Having", optional_fields))]
#[serde(deny_unknown_fields)]
pub struct HavingSpec {
    /// The calculation's op (must be among the calculations).
    #[cfg_attr(test, ts(type = "CalculationOp"))]
    pub calculate_op: String,
    /// The calculation's column.
    #[serde(default)]
    pub column: Option<String>,
    /// `=`, `!=`, `>`, `>=`, `<`, `<=`.
    #[cfg_attr(test, ts(type = "HavingOp"))]
    pub op: String,
    /// A number.
    #[cfg_attr(test, ts(type = "number"))]
    pub value: Value,
}

/// Options of HEATMAP calculations (an extension of the specification).
#[derive(Debug, Clone, Deserialize, PartialEq, Default)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[cfg_attr(test, ts(optional_fields))]
#[serde(deny_unknown_fields)]
pub struct HeatmapOptions {
    /// Value buckets (default 40).
    #[serde(default)]
    pub value_buckets: Option<usize>,
    /// Time buckets (default: one per `granularity`).
    #[serde(default)]
    pub time_buckets: Option<usize>,
    /// `log` (default) or `linear`.
    #[serde(default)]
    pub scale: Option<Scale>,
}

/// A query, as Honeycomb's query specification plus a few documented extensions
/// (`time_column`, `heatmap`, `disable_series`).
#[derive(Debug, Clone, Deserialize, PartialEq, Default)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[cfg_attr(test, ts(optional_fields))]
#[serde(deny_unknown_fields)]
pub struct QuerySpec {
    /// What to compute; none means COUNT.
    #[serde(default)]
    #[cfg_attr(test, ts(optional = nullable))]
    pub calculations: Vec<CalculationSpec>,
    /// Which events count.
    #[serde(default)]
    #[cfg_attr(test, ts(optional = nullable))]
    pub filters: Vec<FilterSpec>,
    /// `AND` (default) or `OR`.
    #[serde(default)]
    #[cfg_attr(test, ts(optional, type = "'AND' | 'OR'"))]
    pub filter_combination: Option<String>,
    /// Group by these columns.
    #[serde(default)]
    #[cfg_attr(test, ts(optional = nullable))]
    pub breakdowns: Vec<String>,
    /// Result order.
    #[serde(default)]
    #[cfg_attr(test, ts(optional = nullable))]
    pub orders: Vec<OrderSpec>,
    /// Filters on groups.
    #[serde(default)]
    #[cfg_attr(test, ts(optional = nullable))]
    pub havings: Vec<HavingSpec>,
    /// Most groups returned (default 100, at most 10,000).
    #[serde(default)]
    pub limit: Option<usize>,
    /// Unix seconds, inclusive.
    #[serde(default)]
    pub start_time: Option<f64>,
    /// Unix seconds, exclusive.
    #[serde(default)]
    pub end_time: Option<f64>,
    /// Seconds; see [`crate::query::resolve_time`].
    #[serde(default)]
    pub time_range: Option<f64>,
    /// Seconds per time bucket of `series`.
    #[serde(default)]
    pub granularity: Option<f64>,
    /// The time column (default: the dataset's).
    #[serde(default)]
    pub time_column: Option<String>,
    /// HEATMAP options.
    #[serde(default)]
    pub heatmap: Option<HeatmapOptions>,
    /// Skip the time series (results only).
    #[serde(default)]
    #[cfg_attr(test, ts(optional = nullable))]
    pub disable_series: bool,
    /// `UTC` (default) or an IANA zone name (`America/New_York`): day granularities
    /// start at local midnight, and without explicit times buckets align to local time.
    #[serde(default)]
    pub time_zone: Option<String>,
    /// Honeycomb's id of a saved query (its API and Terraform write it): accepted, ignored.
    #[serde(default)]
    pub id: Option<String>,
    /// Honeycomb's calculated fields: not computed yet (refused, naming the field).
    #[serde(default)]
    #[cfg_attr(test, ts(optional = nullable))]
    pub calculated_fields: Vec<NamedExpression>,
    /// Formulas over the calculations' results, per group and per series bucket
    /// (`DIV($errors, $total)`), in the calculated-field language.
    #[serde(default)]
    #[cfg_attr(test, ts(optional = nullable))]
    pub formulas: Vec<NamedExpression>,
    /// Honeycomb's time comparison: the result's `previous` is the same query over the
    /// window this many seconds earlier.
    #[serde(default)]
    pub compare_time_offset_seconds: Option<f64>,
    /// The column holding each event's sample rate (an event kept by 1-in-N sampling
    /// has N), which weights COUNT, SUM, AVG, percentiles, HEATMAP, CONCURRENCY and
    /// RATE_* as Honeycomb does. Absent: `SampleRate` when the data has a numeric
    /// column of that name. `""`: unweighted, whatever the data has.
    #[serde(default)]
    pub sample_rate_column: Option<String>,
}

/// A calculation operator.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Op {
    /// Events.
    Count,
    /// Mean number of spans `[time, time + duration_ms)` in progress over each time
    /// bucket (in results: over the whole time range).
    Concurrency,
    /// Distinct non-null values.
    CountDistinct,
    /// Sum.
    Sum,
    /// Mean.
    Avg,
    /// Smallest.
    Min,
    /// Largest.
    Max,
    /// Percentile, as a fraction (P99 is 0.99).
    Percentile(f64),
    /// Time x value counts.
    Heatmap,
    /// Change of AVG between consecutive time buckets.
    RateAvg,
    /// Change of SUM between consecutive time buckets.
    RateSum,
    /// Change of MAX between consecutive time buckets.
    RateMax,
}

/// Every calculation operator, as the specification writes them: the one list the
/// parser, error messages, the explorer's menus and the TypeScript types are made from.
pub const CALCULATION_OPS: [(&str, Op); 24] = [
    ("COUNT", Op::Count),
    ("CONCURRENCY", Op::Concurrency),
    ("COUNT_DISTINCT", Op::CountDistinct),
    ("SUM", Op::Sum),
    ("AVG", Op::Avg),
    ("MIN", Op::Min),
    ("MAX", Op::Max),
    ("P001", Op::Percentile(0.001)),
    ("P01", Op::Percentile(0.01)),
    ("P05", Op::Percentile(0.05)),
    ("P10", Op::Percentile(0.10)),
    ("P20", Op::Percentile(0.20)),
    ("P25", Op::Percentile(0.25)),
    ("P50", Op::Percentile(0.50)),
    ("P75", Op::Percentile(0.75)),
    ("P80", Op::Percentile(0.80)),
    ("P90", Op::Percentile(0.90)),
    ("P95", Op::Percentile(0.95)),
    ("P99", Op::Percentile(0.99)),
    ("P999", Op::Percentile(0.999)),
    ("HEATMAP", Op::Heatmap),
    ("RATE_AVG", Op::RateAvg),
    ("RATE_SUM", Op::RateSum),
    ("RATE_MAX", Op::RateMax),
];

/// A having's comparison operators.
pub const HAVING_OPS: [&str; 6] = ["=", "!=", ">", ">=", "<", "<="];

impl Op {
    /// Parses Honeycomb's op names.
    pub fn parse(s: &str) -> Option<Op> {
        CALCULATION_OPS.iter().find(|(name, _)| *name == s).map(|&(_, op)| op)
    }
    fn needs_column(self) -> bool {
        !matches!(self, Op::Count | Op::Concurrency)
    }
    fn needs_number(self) -> bool {
        !matches!(self, Op::Count | Op::Concurrency | Op::CountDistinct)
    }
}

/// A checked calculation.
#[derive(Debug, Clone)]
pub struct Calc {
    /// The operator.
    pub op: Op,
    /// Index of its column (for CONCURRENCY: the duration column).
    pub column: Option<usize>,
    /// Its name in results: `COUNT`, `P99(duration_ms)`, or the name the spec gave it.
    pub name: String,
    /// Requested only by a having, not returned.
    pub hidden: bool,
    /// Filters of this calculation only (on top of the query's).
    pub filters: Vec<FilterSpec>,
    /// Its filters combine with `OR`.
    pub any: bool,
}

pub(crate) fn column_index(ds: &Dataset, name: &str) -> Result<usize> {
    ds.columns().iter().position(|c| c.name == name).ok_or_else(|| Error::UnknownColumn { column: name.to_string() })
}

/// Checks one calculation against a table's columns.
pub fn check_calculation(cat: &Catalog, op_name: &str, column: Option<&str>) -> Result<Calc> {
    let op = Op::parse(op_name).ok_or_else(|| {
        let list = CALCULATION_OPS.map(|(name, _)| name).join(", ");
        Error::Spec(format!("unknown calculation op \"{op_name}\" (one of {list})"))
    })?;
    let col = match (op.needs_column(), column) {
        (true, None) | (true, Some("")) => {
            return Err(Error::Spec(format!("calculation {op_name} needs a column")));
        }
        (true, Some(name)) => Some(cat.index(name)?),
        (false, Some(name)) if op == Op::Concurrency && !name.is_empty() => Some(cat.index(name)?),
        (false, _) if op == Op::Concurrency => Some(cat.duration_column().ok_or_else(|| {
            Error::Operator {
                op: op_name.into(),
                column: "duration_ms".into(),
                message: "CONCURRENCY needs a duration in milliseconds: name its column (this table has no \
                      duration_ms and no other number column named in ms)"
                    .into(),
            }
        })?),
        (false, _) => None,
    };
    if let Some(i) = col {
        let c = &cat.columns[i];
        if (op.needs_number() || op == Op::Concurrency) && c.role != Role::Number {
            return Err(Error::Operator {
                op: op_name.into(),
                column: c.name.clone(),
                message: format!("needs a numeric column, this one is {} ({})", c.type_name, role_name(c.role)),
            });
        }
        if op == Op::CountDistinct && c.role == Role::Other {
            return Err(Error::Operator {
                op: op_name.into(),
                column: c.name.clone(),
                message: format!("type {} is not analyzed", c.type_name),
            });
        }
    }
    let name = match (op, column) {
        (Op::Count, _) | (Op::Concurrency, None) => op_name.to_string(),
        (_, Some(c)) => format!("{op_name}({c})"),
        (_, None) => op_name.to_string(),
    };
    Ok(Calc { op, column: col, name, hidden: false, filters: Vec::new(), any: false })
}

pub(crate) fn role_name(r: Role) -> &'static str {
    match r {
        Role::Time => "time",
        Role::Number => "number",
        Role::String => "string",
        Role::Bool => "bool",
        Role::Other => "not analyzed",
    }
}
