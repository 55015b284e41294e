//! Filters: compiled once per query into predicates over row indices.
//!
//! String predicates are evaluated once per distinct value (over the column's
//! dictionary) into a table indexed by code, so the per-row test is one lookup; on an
//! identifier column kept as it arrived (no dictionary: see `strings`), on each row's
//! bytes, so that looking up one trace id does not intern a million.
//! Null semantics: positive operators (`=`, `>`, `starts-with`, `contains`, `in`,
//! `exists`, ...) never match a null; their negations (`!=`, `does-not-start-with`,
//! `does-not-contain`, `not-in`, `does-not-exist`, ...) do.

use crate::column::{ColumnData, Strings, Validity};
use crate::dataset::Dataset;
use crate::error::{Error, Result};

use super::spec::{column_index, role_name, FilterSpec, Value};
use crate::view::Rows;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Cmp {
    Eq,
    Gt,
    Ge,
    Lt,
    Le,
}

impl Cmp {
    #[inline]
    fn test<T: PartialOrd>(self, a: T, b: T) -> bool {
        match self {
            Cmp::Eq => a == b,
            Cmp::Gt => a > b,
            Cmp::Ge => a >= b,
            Cmp::Lt => a < b,
            Cmp::Le => a <= b,
        }
    }
}

enum NumCol<'a> {
    I(&'a [i64]),
    U(&'a [u64]),
    F(&'a [f64]),
}

impl NumCol<'_> {
    #[inline]
    fn get_int(&self, i: usize) -> i128 {
        match self {
            NumCol::I(v) => v.get(i).map_or(0, |x| *x as i128),
            NumCol::U(v) => v.get(i).map_or(0, |x| *x as i128),
            NumCol::F(_) => 0,
        }
    }
    #[inline]
    fn get(&self, i: usize) -> f64 {
        match self {
            NumCol::I(v) => v.get(i).map_or(f64::NAN, |x| *x as f64),
            NumCol::U(v) => v.get(i).map_or(f64::NAN, |x| *x as f64),
            NumCol::F(v) => v.get(i).copied().unwrap_or(f64::NAN),
        }
    }
}

enum NumTest {
    Cmp(Cmp, f64),
    In(Vec<f64>),
    /// Integer columns: compared exactly, as `i128` (an f64 cannot tell 2^53 from 2^53 + 1).
    CmpInt(Cmp, i128),
    InInt(Vec<i128>),
    Never,
    Exists,
}

/// `op x` over integers, exactly: an integer operand as is; a fractional one moved to
/// the integer that gives the same answer (`> 1.5` is `>= 2`); NaN matches nothing.
fn int_test(op: Cmp, v: &Value) -> Option<NumTest> {
    if let Some(k) = v.as_int() {
        return Some(NumTest::CmpInt(op, k));
    }
    let x = v.as_number()?;
    if x.is_nan() {
        return Some(NumTest::Never);
    }
    // Saturating float-to-int casts: +-inf become i128::MAX/MIN, beyond any column value.
    Some(match op {
        Cmp::Eq => NumTest::Never, // a fraction equals no integer
        Cmp::Gt | Cmp::Ge => NumTest::CmpInt(Cmp::Ge, x.ceil() as i128),
        Cmp::Lt | Cmp::Le => NumTest::CmpInt(Cmp::Le, x.floor() as i128),
    })
}

enum Pred<'a> {
    /// Strings: `table[code]`; code 0 is null.
    Codes { codes: &'a [u32], table: Vec<bool> },
    /// Strings kept as they arrived: `positive` on each row's text, inverted by `negated`;
    /// a null is `negated`.
    Text { strings: &'a Strings, positive: Box<dyn Fn(&str) -> bool + 'a>, negated: bool },
    /// Booleans: `table[value]`, value 2 is null.
    Bools { vals: &'a [u8], table: [bool; 3] },
    /// Numbers and times: `test` on non-null values, `null` for nulls; `negate` inverts the test.
    Num { col: NumCol<'a>, validity: &'a Validity, test: NumTest, negate: bool, null: bool },
}

impl Pred<'_> {
    #[inline]
    fn test(&self, i: usize) -> bool {
        match self {
            Pred::Codes { codes, table } => codes.get(i).and_then(|c| table.get(*c as usize)).copied().unwrap_or(false),
            Pred::Text { strings, positive, negated } => match strings.get(i) {
                Some(s) => positive(s) != *negated,
                None => *negated,
            },
            Pred::Bools { vals, table } => vals.get(i).and_then(|v| table.get(*v as usize)).copied().unwrap_or(false),
            Pred::Num { col, validity, test, negate, null } => {
                // NaN is missing, like a null (as in every calculation).
                if !validity.is_valid(i) || matches!(col, NumCol::F(v) if v.get(i).is_some_and(|x| x.is_nan())) {
                    return *null;
                }
                let r = match test {
                    NumTest::Cmp(op, x) => op.test(col.get(i), *x),
                    NumTest::In(set) => set.contains(&col.get(i)),
                    NumTest::CmpInt(op, x) => op.test(col.get_int(i), *x),
                    NumTest::InInt(set) => set.contains(&col.get_int(i)),
                    NumTest::Never => false,
                    NumTest::Exists => true,
                };
                r != *negate
            }
        }
    }
}

/// Compiled filters.
pub struct Filters<'a> {
    preds: Vec<Pred<'a>>,
    any: bool,
}

/// Every filter operator, as the specification writes them (the server's push-down and
/// its ClickHouse compiler accept the same list).
pub const FILTER_OPS: [&str; 16] = [
    "=",
    "!=",
    ">",
    ">=",
    "<",
    "<=",
    "starts-with",
    "does-not-start-with",
    "ends-with",
    "does-not-end-with",
    "contains",
    "does-not-contain",
    "exists",
    "does-not-exist",
    "in",
    "not-in",
];

fn op_err(f: &FilterSpec, message: impl Into<String>) -> Error {
    Error::Operator { op: f.op.clone(), column: f.column.clone(), message: message.into() }
}

fn scalar(f: &FilterSpec) -> Result<&Value> {
    match &f.value {
        Some(Value::List(_)) => Err(op_err(f, "needs a single value, not a list")),
        Some(v) => Ok(v),
        None => Err(op_err(f, "needs a value")),
    }
}

fn list(f: &FilterSpec) -> Result<&[Value]> {
    match &f.value {
        Some(Value::List(items)) => Ok(items),
        _ => Err(op_err(f, "needs a list of values")),
    }
}

fn compile<'a>(ds: &'a Dataset, f: &FilterSpec) -> Result<Pred<'a>> {
    let idx = column_index(ds, &f.column)?;
    let col = &ds.columns()[idx];
    let op = f.op.as_str();
    if !FILTER_OPS.contains(&op) {
        return Err(op_err(f, format!("unknown filter operator (one of {})", FILTER_OPS.join(", "))));
    }
    if matches!(op, "exists" | "does-not-exist") && f.value.is_some() {
        return Err(op_err(f, "takes no value"));
    }
    let negated = matches!(
        op,
        "!=" | "does-not-start-with" | "does-not-end-with" | "does-not-contain" | "not-in" | "does-not-exist"
    );
    match &col.data {
        ColumnData::Str(strings) => {
            let positive: Box<dyn Fn(&str) -> bool> = match op {
                "=" | "!=" => {
                    let v = scalar(f)?.as_text().unwrap_or_default();
                    Box::new(move |s| s == v)
                }
                ">" | ">=" | "<" | "<=" => {
                    let v = scalar(f)?.as_text().unwrap_or_default();
                    let c = match op {
                        ">" => Cmp::Gt,
                        ">=" => Cmp::Ge,
                        "<" => Cmp::Lt,
                        _ => Cmp::Le,
                    };
                    Box::new(move |s| c.test(s, v.as_str()))
                }
                "starts-with" | "does-not-start-with" => {
                    let v = scalar(f)?.as_text().unwrap_or_default();
                    Box::new(move |s| s.starts_with(v.as_str()))
                }
                "ends-with" | "does-not-end-with" => {
                    let v = scalar(f)?.as_text().unwrap_or_default();
                    Box::new(move |s| s.ends_with(v.as_str()))
                }
                "contains" | "does-not-contain" => {
                    let v = scalar(f)?.as_text().unwrap_or_default();
                    Box::new(move |s| s.contains(v.as_str()))
                }
                "in" | "not-in" => {
                    let set: Vec<String> = list(f)?.iter().filter_map(Value::as_text).collect();
                    Box::new(move |s| set.iter().any(|x| x == s))
                }
                _ => Box::new(|_| true), // exists / does-not-exist
            };
            let Some((codes, dict)) = strings.dictionary() else {
                return Ok(Pred::Text { strings, positive, negated });
            };
            let mut table = vec![false; dict.code_count()];
            for (code, slot) in table.iter_mut().enumerate().skip(1) {
                *slot = positive(dict.get(code as u32).unwrap_or("")) != negated;
            }
            table[0] = negated;
            Ok(Pred::Codes { codes, table })
        }
        ColumnData::Bool(vals) => {
            let mut table = [false, false, negated];
            match op {
                "exists" | "does-not-exist" => {
                    table[0] = !negated;
                    table[1] = !negated;
                }
                "=" | "!=" => {
                    let b = scalar(f)?.as_bool().ok_or_else(|| op_err(f, "needs true or false"))?;
                    table[b as usize] = !negated;
                    table[!b as usize] = negated;
                }
                "in" | "not-in" => {
                    for v in list(f)? {
                        let b = v.as_bool().ok_or_else(|| op_err(f, "needs true or false values"))?;
                        table[b as usize] = true;
                    }
                    if negated {
                        table[0] = !table[0];
                        table[1] = !table[1];
                    }
                }
                _ => return Err(op_err(f, "does not apply to a bool column")),
            }
            Ok(Pred::Bools { vals, table })
        }
        ColumnData::Int(_) | ColumnData::UInt(_) | ColumnData::Float(_) | ColumnData::Time { .. } => {
            let (num, unit_scale) = match &col.data {
                ColumnData::Int(v) => (NumCol::I(v), 1.0),
                ColumnData::UInt(v) => (NumCol::U(v), 1.0),
                ColumnData::Float(v) => (NumCol::F(v), 1.0),
                ColumnData::Time { values, unit, .. } => (NumCol::I(values), 1.0 / unit.seconds_per_unit()),
                _ => return Err(op_err(f, "unsupported column")),
            };
            let number = |v: &Value| -> Result<f64> {
                v.as_number().map(|x| x * unit_scale).ok_or_else(|| op_err(f, format!("{v:?} is not a number")))
            };
            let integer = matches!(col.data, ColumnData::Int(_) | ColumnData::UInt(_));
            let exact = |c: Cmp, v: &Value| -> Result<NumTest> {
                int_test(c, v).ok_or_else(|| op_err(f, format!("{v:?} is not a number")))
            };
            let test = match op {
                "exists" | "does-not-exist" => NumTest::Exists,
                "=" | "!=" if integer => exact(Cmp::Eq, scalar(f)?)?,
                ">" if integer => exact(Cmp::Gt, scalar(f)?)?,
                ">=" if integer => exact(Cmp::Ge, scalar(f)?)?,
                "<" if integer => exact(Cmp::Lt, scalar(f)?)?,
                "<=" if integer => exact(Cmp::Le, scalar(f)?)?,
                "in" | "not-in" if integer => {
                    let mut set = Vec::new();
                    for v in list(f)? {
                        // A fraction or NaN equals no integer.
                        if let NumTest::CmpInt(_, k) = exact(Cmp::Eq, v)? {
                            set.push(k);
                        }
                    }
                    NumTest::InInt(set)
                }
                "=" | "!=" => NumTest::Cmp(Cmp::Eq, number(scalar(f)?)?),
                ">" => NumTest::Cmp(Cmp::Gt, number(scalar(f)?)?),
                ">=" => NumTest::Cmp(Cmp::Ge, number(scalar(f)?)?),
                "<" => NumTest::Cmp(Cmp::Lt, number(scalar(f)?)?),
                "<=" => NumTest::Cmp(Cmp::Le, number(scalar(f)?)?),
                "in" | "not-in" => NumTest::In(list(f)?.iter().map(number).collect::<Result<_>>()?),
                _ => {
                    return Err(op_err(
                        f,
                        format!("needs a string column, this one is {} ({})", col.arrow_type, role_name(col.role)),
                    ))
                }
            };
            Ok(Pred::Num { col: num, validity: &col.validity, test, negate: negated, null: negated })
        }
        ColumnData::Other => Err(op_err(f, format!("column type {} is not analyzed", col.arrow_type))),
    }
}

impl<'a> Filters<'a> {
    /// Compiles `filters` combined by `combination` (`AND`, the default, or `OR`).
    pub fn new(ds: &'a Dataset, filters: &[FilterSpec], combination: Option<&str>) -> Result<Filters<'a>> {
        let any = match combination.unwrap_or("AND") {
            "AND" | "and" => false,
            "OR" | "or" => true,
            other => return Err(Error::Spec(format!("filter_combination must be AND or OR, not \"{other}\""))),
        };
        let preds = filters.iter().map(|f| compile(ds, f)).collect::<Result<_>>()?;
        Ok(Filters { preds, any })
    }

    /// Whether there is anything to test.
    pub fn is_empty(&self) -> bool {
        self.preds.is_empty()
    }

    /// Applies the filters to `rows`.
    pub fn apply(&self, rows: Rows) -> Rows {
        if self.preds.is_empty() {
            return rows;
        }
        if self.any {
            rows.retain(|i| self.preds.iter().any(|p| p.test(i)))
        } else {
            let mut rows = rows;
            for p in &self.preds {
                rows = rows.retain(|i| p.test(i));
            }
            rows
        }
    }

    /// Whether row `i` passes.
    pub fn test(&self, i: usize) -> bool {
        if self.any {
            self.preds.is_empty() || self.preds.iter().any(|p| p.test(i))
        } else {
            self.preds.iter().all(|p| p.test(i))
        }
    }
}
