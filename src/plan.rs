//! The logical plan: a query specification checked against a table's columns, with
//! nothing left to interpret. Every executor runs the same plan: the in-memory engine
//! ([`crate::query::execute`]) and the server's ClickHouse compiler (which turns it into
//! SQL). Checking happens here, once, so that a bad spec gets the same typed error
//! whichever executor would have run it.
//!
//! A plan names columns by their index in a [`Catalog`], which both a [`Dataset`] and
//! a remote table's schema (names, roles and types) can produce. What a plan cannot
//! know without the data (the default time range, which needs the newest event) is
//! resolved by each executor through the same function, [`resolve_range`].

use crate::column::{Role, TimeUnit};
use crate::dataset::Dataset;
use crate::error::{Error, Result};
use crate::heatmap::Scale;
use crate::query::spec::{
    check_calculation, Calc, FilterSpec, HeatmapOptions, NamedExpression, Op, QuerySpec, DEFAULT_LIMIT, MAX_LIMIT,
};

/// The column Honeycomb reads each event's sample rate from (OpenTelemetry data and
/// its own SDKs write it).
pub const SAMPLE_RATE: &str = "SampleRate";

/// `AND` (default) or `OR`.
fn parse_combination(c: Option<&str>) -> Result<bool> {
    match c {
        None | Some("AND") | Some("and") => Ok(false),
        Some("OR") | Some("or") => Ok(true),
        Some(other) => Err(Error::Spec(format!("filter_combination must be AND or OR, not \"{other}\""))),
    }
}

/// The default time column among `(name, role)`: one named `timestamp`, `time`,
/// `@timestamp` or `_time`, else the first time column.
pub fn default_time_column(columns: &[(&str, Role)]) -> Option<usize> {
    const NAMES: [&str; 4] = ["timestamp", "time", "@timestamp", "_time"];
    let is_time = |i: &usize| columns[*i].1 == Role::Time;
    NAMES
        .iter()
        .find_map(|n| (0..columns.len()).filter(is_time).find(|i| columns[*i].0 == *n))
        .or_else(|| (0..columns.len()).find(is_time))
}

/// A column as a plan sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnMeta {
    /// Its name.
    pub name: String,
    /// How it is used.
    pub role: Role,
    /// Its type as its store writes it (`Timestamp(ms, "UTC")`, `Nullable(Float64)`).
    pub type_name: String,
    /// Time columns: the unit of their raw values.
    pub unit: Option<TimeUnit>,
}

/// A table's columns, and which is its default time column.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Catalog {
    /// The columns.
    pub columns: Vec<ColumnMeta>,
}

impl Catalog {
    /// The columns of a dataset.
    pub fn of(ds: &Dataset) -> Catalog {
        let columns = ds
            .columns()
            .iter()
            .map(|c| ColumnMeta {
                name: c.name.clone(),
                role: c.role,
                type_name: c.arrow_type.clone(),
                unit: match &c.data {
                    crate::column::ColumnData::Time { unit, .. } => Some(*unit),
                    _ => None,
                },
            })
            .collect();
        Catalog { columns }
    }

    /// Index of the column named `name`.
    pub fn index(&self, name: &str) -> Result<usize> {
        self.columns
            .iter()
            .position(|c| c.name == name)
            .ok_or_else(|| Error::UnknownColumn { column: name.to_string() })
    }

    /// The duration CONCURRENCY measures when the spec names none: `duration_ms`, else the
    /// first number column whose name says milliseconds (`http.server.duration_ms`,
    /// `elapsed.ms`, `latencyMs`, `took_millis`). A column in another unit is never taken
    /// (its spans would be a thousand times too long or short), so data without one
    /// gets an error naming what to set.
    pub fn duration_column(&self) -> Option<usize> {
        let number = |c: &&ColumnMeta| c.role == Role::Number;
        if let Some(i) = self.columns.iter().position(|c| c.name == "duration_ms" && number(&c)) {
            return Some(i);
        }
        self.columns.iter().position(|c| number(&c) && names_milliseconds(&c.name))
    }

    /// The column of sample rates: `named` (`""` for none), or without a name
    /// [`SAMPLE_RATE`] when the table has a numeric column of that name.
    pub fn sample_rate_column(&self, named: Option<&str>) -> Result<Option<usize>> {
        let i = match named {
            Some("") => return Ok(None),
            Some(name) => self.index(name)?,
            None => match self.columns.iter().position(|c| c.name == SAMPLE_RATE && c.role == Role::Number) {
                Some(i) => i,
                None => return Ok(None),
            },
        };
        let c = &self.columns[i];
        if c.role != Role::Number {
            return Err(Error::Operator {
                op: "sample_rate_column".into(),
                column: c.name.clone(),
                message: format!("a sample rate must be a number, this column is {}", c.type_name),
            });
        }
        Ok(Some(i))
    }

    /// The default time column: one named `timestamp`, `time`, `@timestamp` or `_time`,
    /// else the first time column.
    pub fn time_column(&self) -> Option<usize> {
        let roles: Vec<(&str, Role)> = self.columns.iter().map(|c| (c.name.as_str(), c.role)).collect();
        default_time_column(&roles)
    }
}

/// A having's comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cmp {
    /// `=`
    Eq,
    /// `!=`
    Ne,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `<`
    Lt,
    /// `<=`
    Le,
}

impl Cmp {
    /// `x op v`, as IEEE comparisons (NaN compares false except with `!=`).
    pub fn test(self, x: f64, v: f64) -> bool {
        match self {
            Cmp::Eq => x == v,
            Cmp::Ne => x != v,
            Cmp::Gt => x > v,
            Cmp::Ge => x >= v,
            Cmp::Lt => x < v,
            Cmp::Le => x <= v,
        }
    }
    /// The operator as written.
    pub fn symbol(self) -> &'static str {
        match self {
            Cmp::Eq => "=",
            Cmp::Ne => "!=",
            Cmp::Gt => ">",
            Cmp::Ge => ">=",
            Cmp::Lt => "<",
            Cmp::Le => "<=",
        }
    }
}

/// A filter on groups: `calcs[calc] op value`; a group whose value is null fails it.
#[derive(Debug, Clone, PartialEq)]
pub struct Having {
    /// Index into [`QueryPlan::calcs`], or past them into [`QueryPlan::formulas`].
    pub calc: usize,
    /// The comparison.
    pub op: Cmp,
    /// The operand.
    pub value: f64,
}

/// What a result is ordered by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderKey {
    /// A calculation (index into [`QueryPlan::calcs`], or past them into
    /// [`QueryPlan::formulas`]); nulls last either way.
    Calc(usize),
    /// A breakdown (index into [`QueryPlan::breakdowns`]); nulls last either way.
    Breakdown(usize),
}

/// A calculation's value as results are ordered by it: every NaN one value above
/// +inf (whatever its sign bit, which the hardware and wasm choose differently), and
/// -0 equal to 0. Every executor orders by this.
pub fn order_key(x: f64) -> f64 {
    if x.is_nan() {
        f64::NAN
    } else {
        x + 0.0
    }
}

/// A checked query. Orders are complete: the spec's, then (when it gave none) the
/// first calculation descending, then every breakdown ascending, so that ties are
/// broken the same way by every executor.
#[derive(Debug, Clone)]
pub struct QueryPlan {
    /// Calculations: the spec's, then those only havings use (`hidden`).
    pub calcs: Vec<Calc>,
    /// Breakdown columns (indices into the catalog).
    pub breakdowns: Vec<usize>,
    /// Their names, as results key them.
    pub breakdown_names: Vec<String>,
    /// Filters on groups.
    pub havings: Vec<Having>,
    /// `(key, descending)`, most significant first.
    pub orders: Vec<(OrderKey, bool)>,
    /// Most groups returned.
    pub limit: usize,
    /// Filters on events, as given (each executor checks their operands against the
    /// column's type with the same messages).
    pub filters: Vec<FilterSpec>,
    /// `filter_combination` is `OR`.
    pub any: bool,
    /// The time column, if the table has one.
    pub time_column: Option<usize>,
    /// HEATMAP options.
    pub heatmap: HeatmapOptions,
    /// Compute `series`.
    pub series: bool,
    /// The sample-rate column weighting the calculations, if any.
    pub weight: Option<usize>,
    /// Formulas over the calculations' results, computed per group and per series
    /// bucket after them; values `calcs.len() + k` in orders and havings.
    pub formulas: Vec<NamedExpression>,
}

impl QueryPlan {
    /// Checks `spec` against `cat`: every column, operator, having, order and limit.
    pub fn new(cat: &Catalog, spec: &QuerySpec) -> Result<QueryPlan> {
        let mut calcs: Vec<Calc> = Vec::new();
        for c in &spec.calculations {
            let mut calc = check_calculation(cat, &c.op, c.column.as_deref())?;
            if let Some(name) = &c.name {
                if name.is_empty() {
                    return Err(Error::Spec(format!("calculations[].name: the name of {} is empty", calc.name)));
                }
                calc.name = name.clone();
            }
            if !c.filters.is_empty() || c.filter_combination.is_some() {
                if c.name.is_none() {
                    return Err(Error::Spec(format!(
                        "calculations[].filters: a calculation with its own filters needs a name ({} has none), as in Honeycomb",
                        calc.name
                    )));
                }
                calc.filters = c.filters.clone();
                calc.any = parse_combination(c.filter_combination.as_deref())?;
            }
            calcs.push(calc);
        }
        if calcs.is_empty() {
            calcs.push(check_calculation(cat, "COUNT", None)?);
        }
        // Names are unique across calculations and formulas (Honeycomb's rule): they key
        // the results and formulas refer to them.
        let mut names: Vec<&str> = Vec::new();
        for n in calcs.iter().map(|c| c.name.as_str()).chain(spec.formulas.iter().map(|f| f.name.as_str())) {
            if n.is_empty() {
                return Err(Error::Spec("formulas[].name: a formula needs a name".into()));
            }
            if names.contains(&n) || spec.breakdowns.iter().any(|b| b == n) {
                return Err(Error::Spec(format!(
                    "\"{n}\" names two results (calculations, formulas and breakdowns need distinct names)"
                )));
            }
            names.push(n);
        }
        if !spec.formulas.is_empty() && calcs.iter().any(|c| c.op == Op::Heatmap) {
            return Err(Error::Spec("formulas: a query with formulas cannot have a HEATMAP (as in Honeycomb)".into()));
        }
        crate::formula::check_formulas(&spec.formulas, &calcs)?;
        // A calculation, by the name results give it, else by its op and column.
        let find = |op: &str, column: Option<&str>, calcs: &[Calc]| -> Result<Option<usize>> {
            if column.is_none_or(str::is_empty) {
                if let Some(i) = calcs.iter().position(|c| c.name == op && !c.hidden) {
                    return Ok(Some(i));
                }
                if let Some(k) = spec.formulas.iter().position(|f| f.name == op) {
                    return Ok(Some(calcs.len() + k));
                }
            }
            if Op::parse(op).is_none() {
                return Ok(None);
            }
            let c = check_calculation(cat, op, column)?;
            Ok(calcs
                .iter()
                .position(|x| x.filters.is_empty() && !x.hidden && x.op == c.op && x.column == c.column)
                .or_else(|| calcs.iter().position(|x| x.name == c.name && !x.hidden)))
        };
        let breakdowns = spec.breakdowns.iter().map(|b| cat.index(b)).collect::<Result<Vec<_>>>()?;
        for b in &breakdowns {
            let c = &cat.columns[*b];
            if c.role == Role::Other {
                return Err(Error::Operator {
                    op: "GROUP BY".into(),
                    column: c.name.clone(),
                    message: format!("type {} is not analyzed", c.type_name),
                });
            }
        }
        let limit = spec.limit.unwrap_or(DEFAULT_LIMIT);
        if limit == 0 || limit > MAX_LIMIT {
            return Err(Error::Spec(format!("limit must be between 1 and {MAX_LIMIT}, got {limit}")));
        }
        // Havings: each refers to a calculation; one not among them is computed, hidden.
        let mut havings = Vec::new();
        let mut hidden: Vec<Calc> = Vec::new();
        for h in &spec.havings {
            if h.calculate_op == "HEATMAP" {
                return Err(Error::Spec("a having cannot use HEATMAP".into()));
            }
            let calc = match find(&h.calculate_op, h.column.as_deref(), &calcs)? {
                Some(i) => i,
                None => {
                    // Computed for the having, not returned; after the formulas' values.
                    let c = check_calculation(cat, &h.calculate_op, h.column.as_deref())?;
                    let k = match hidden.iter().position(|x| x.name == c.name) {
                        Some(k) => k,
                        None => {
                            hidden.push(Calc { hidden: true, ..c });
                            hidden.len() - 1
                        }
                    };
                    calcs.len() + spec.formulas.len() + k
                }
            };
            let value = h.value.as_number().ok_or_else(|| Error::Operator {
                op: h.op.clone(),
                column: h.column.clone().unwrap_or_default(),
                message: "a having needs a numeric value".into(),
            })?;
            let op = match h.op.as_str() {
                "=" => Cmp::Eq,
                "!=" => Cmp::Ne,
                ">" => Cmp::Gt,
                ">=" => Cmp::Ge,
                "<" => Cmp::Lt,
                "<=" => Cmp::Le,
                _ => {
                    return Err(Error::Operator {
                        op: h.op.clone(),
                        column: h.column.clone().unwrap_or_default(),
                        message: format!("a having's op is one of {}", crate::query::spec::HAVING_OPS.join(", ")),
                    })
                }
            };
            havings.push(Having { calc, op, value });
        }
        // Orders: each refers to a calculation or a breakdown.
        let mut orders = Vec::new();
        for o in &spec.orders {
            let desc = match o.order.as_deref() {
                None | Some("ascending") | Some("asc") => false,
                Some("descending") | Some("desc") => true,
                Some(other) => {
                    return Err(Error::Spec(format!("order must be ascending or descending, not \"{other}\"")))
                }
            };
            let key = match &o.op {
                Some(op) => {
                    let i = find(op, o.column.as_deref(), &calcs)?.ok_or_else(|| {
                        let shown = match o.column.as_deref() {
                            Some(c) if !c.is_empty() => format!("{op}({c})"),
                            _ => op.clone(),
                        };
                        Error::Spec(format!("order by {shown}: not among the calculations or formulas"))
                    })?;
                    if calcs.get(i).is_some_and(|c| c.op == Op::Heatmap) {
                        return Err(Error::Spec("cannot order by HEATMAP".into()));
                    }
                    OrderKey::Calc(i)
                }
                None => {
                    let col = o.column.clone().unwrap_or_default();
                    match spec.breakdowns.iter().position(|b| *b == col) {
                        Some(i) => OrderKey::Breakdown(i),
                        // A named calculation or a formula, by its name.
                        None => match find(&col, None, &calcs)? {
                            Some(i) if i < calcs.len() + spec.formulas.len() => OrderKey::Calc(i),
                            _ => {
                                return Err(Error::Spec(format!(
                                    "order by \"{col}\": not among the breakdowns, named calculations or formulas (give an op to order by a calculation)"
                                )))
                            }
                        },
                    }
                }
            };
            orders.push((key, desc));
        }
        if orders.is_empty() {
            if let Some(i) = calcs.iter().position(|c| c.op != Op::Heatmap && !c.hidden) {
                orders.push((OrderKey::Calc(i), true));
            }
        }
        for i in 0..spec.breakdowns.len() {
            orders.push((OrderKey::Breakdown(i), false)); // ties: breakdown values ascending
        }
        let any = parse_combination(spec.filter_combination.as_deref())?;
        // Hidden calculations (havings only) go after the formulas' values: renumber.
        let (nc, nf) = (calcs.len(), spec.formulas.len());
        calcs.extend(hidden);
        let remap = |i: usize| {
            if i >= nc + nf {
                i - nf
            } else if i >= nc {
                calcs.len() + (i - nc)
            } else {
                i
            }
        };
        for h in &mut havings {
            h.calc = remap(h.calc);
        }
        for (k, _) in &mut orders {
            if let OrderKey::Calc(i) = k {
                *i = remap(*i);
            }
        }
        let time_column = match &spec.time_column {
            Some(name) => Some(cat.index(name)?),
            None => cat.time_column(),
        };
        if let Some(t) = time_column {
            let c = &cat.columns[t];
            if c.role != Role::Time || c.unit.is_none() {
                return Err(Error::Spec(format!("\"{}\" is not a time column", c.name)));
            }
        } else if spec.start_time.is_some() || spec.end_time.is_some() || spec.time_range.is_some() {
            return Err(Error::Spec("the dataset has no time column for start_time, end_time or time_range".into()));
        }
        if time_column.is_none() && calcs.iter().any(|c| c.op == Op::Heatmap) {
            return Err(Error::Spec("HEATMAP needs a time column".into()));
        }
        if let Some(z) = spec.time_zone.as_deref() {
            crate::tz::Zone::parse(z)?;
        }
        let weight = cat.sample_rate_column(spec.sample_rate_column.as_deref())?;
        let mut heatmap = spec.heatmap.clone().unwrap_or_default();
        heatmap.scale = Some(heatmap.scale.unwrap_or(Scale::Log));
        Ok(QueryPlan {
            calcs,
            breakdowns,
            breakdown_names: spec.breakdowns.clone(),
            havings,
            orders,
            limit,
            filters: spec.filters.clone(),
            any,
            time_column,
            heatmap,
            series: !spec.disable_series,
            weight,
            formulas: spec.formulas.clone(),
        })
    }

    /// Indices of the calculations returned in result rows (not hidden, not HEATMAP).
    pub fn visible(&self) -> Vec<usize> {
        (0..self.calcs.len()).filter(|c| !self.calcs[*c].hidden && self.calcs[*c].op != Op::Heatmap).collect()
    }

    /// Result column names: breakdowns, visible calculations, then formulas.
    pub fn columns(&self) -> Vec<String> {
        let mut out = self.breakdown_names.clone();
        out.extend(self.visible().iter().map(|c| self.calcs[*c].name.clone()));
        out.extend(self.formulas.iter().map(|f| f.name.clone()));
        out
    }
}

/// Whether a column name ends in a milliseconds unit: `_ms`, `.ms`, `-ms`, `Ms` (camel
/// case), `_millis`, `_milliseconds`.
fn names_milliseconds(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    let suffixed = |unit: &str| {
        lower.len() > unit.len() + 1
            && lower.ends_with(unit)
            && matches!(lower.as_bytes()[lower.len() - unit.len() - 1], b'_' | b'.' | b'-')
    };
    suffixed("ms") || suffixed("millis") || suffixed("milliseconds") || (name.len() > 2 && name.ends_with("Ms"))
}

#[cfg(test)]
mod duration_tests {
    use super::*;

    fn cat(cols: &[(&str, Role)]) -> Catalog {
        Catalog {
            columns: cols
                .iter()
                .map(|(n, r)| ColumnMeta { name: n.to_string(), role: *r, type_name: "Float64".into(), unit: None })
                .collect(),
        }
    }

    #[test]
    fn concurrency_takes_duration_ms_else_a_column_named_in_ms() {
        let c = cat(&[("latency", Role::Number), ("duration_ms", Role::Number)]);
        assert_eq!(c.duration_column(), Some(1));
        for name in ["http.server.duration_ms", "elapsed.ms", "latencyMs", "took_millis", "db-time-milliseconds"] {
            let c = cat(&[("status", Role::Number), (name, Role::Number)]);
            assert_eq!(c.duration_column(), Some(1), "{name}");
        }
        // Other units, a bare "ms", strings and names that merely contain "ms" are not taken.
        for name in ["duration", "took_us", "duration_ns", "ms", "items", "forms_count", "Ms"] {
            let c = cat(&[(name, Role::Number)]);
            assert_eq!(c.duration_column(), None, "{name}");
        }
        assert_eq!(cat(&[("duration_ms", Role::String)]).duration_column(), None);
    }
}
