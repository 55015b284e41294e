//! Calculated fields compiled to ClickHouse SQL, so that a spec with them runs where
//! the data lives and gives the engine's answer.
//!
//! A field is parsed and typed by the engine's own formula module (the same errors,
//! positions and types), then each node becomes a SQL expression with the engine's
//! semantics spelt out: numbers are `Nullable(Float64)` with NaN as null, math reads
//! null as 0 and strings as parsed numbers, comparisons across types or with a null are
//! false, truthiness is a non-zero number, `true` or the string `"true"`. The table
//! becomes a subquery with the fields as columns after its own, which every other part
//! of the compiler (filters, breakdowns, calculations, havings) uses like any column.
//!
//! A function whose ClickHouse counterpart would answer differently (Unicode
//! lower-casing, regex extraction and counting, number formatting, strftime, RFC 3339
//! parsing) is refused at its position, never answered differently.

use sightline::column::Role;
use sightline::formula::{Ast, Lit, Ty, Typer};
use sightline::query::spec::NamedExpression;
use sightline::Error;

use crate::clickhouse::{kind_of, quote_ident, quote_str, ChColumn, ChSchema, Kind};

/// `schema` with `fields` as columns after its own, and the `FROM` to read them from
/// (`table_sql` wrapped in a subquery computing them); `None` without fields.
pub fn with_calculated(
    schema: &ChSchema,
    table_sql: &str,
    fields: &[NamedExpression],
) -> Result<Option<(ChSchema, String)>, Error> {
    if fields.is_empty() {
        return Ok(None);
    }
    let mut out = schema.clone();
    let mut exprs = Vec::new();
    for f in fields {
        let roles: Vec<(&str, Role)> = out.columns.iter().map(|c| (c.name.as_str(), role(c.kind))).collect();
        let typer = Typer::new(&roles);
        let (ast, ty) = typer.check(f)?;
        let named = |e: Error| match e {
            Error::Spec(m) => Error::Spec(format!("calculated field \"{}\": {m}", f.name)),
            other => other,
        };
        let sql = Compiler { typer: &typer, schema: &out }.node(&ast).map_err(named)?;
        let (sql, ch_type) = match ty {
            Ty::Num | Ty::Null => (format!("CAST({sql}, 'Nullable(Float64)')"), "Nullable(Float64)"),
            Ty::Str => (format!("CAST({sql}, 'Nullable(String)')"), "Nullable(String)"),
            Ty::Bool => (format!("CAST({sql}, 'Nullable(Bool)')"), "Nullable(Bool)"),
        };
        exprs.push(format!("{sql} AS {}", quote_ident(&f.name)));
        out.columns.push(ChColumn { name: f.name.clone(), ch_type: ch_type.into(), kind: kind_of(ch_type) });
    }
    Ok(Some((out, format!("(SELECT *, {} FROM {table_sql})", exprs.join(", ")))))
}

fn role(k: Kind) -> Role {
    match k {
        Kind::Str => Role::String,
        Kind::Num => Role::Number,
        Kind::Bool => Role::Bool,
        Kind::Time(_) => Role::Time,
        Kind::Other => Role::Other,
    }
}

/// A float literal that reads back as the same bits.
fn flit(x: f64) -> String {
    if x.is_nan() {
        "nan".into()
    } else if x.is_infinite() {
        if x > 0.0 { "inf" } else { "-inf" }.into()
    } else {
        format!("toFloat64({x:?})")
    }
}

fn refuse(col: usize, what: &str, why: &str) -> Error {
    Error::Spec(format!(
        "col {col}: {what} is not compiled to ClickHouse SQL ({why}); run the spec in the browser (mode=local) or on a file source"
    ))
}

struct Compiler<'a> {
    typer: &'a Typer,
    schema: &'a ChSchema,
}

impl Compiler<'_> {
    fn ty(&self, e: &Ast) -> Result<Ty, Error> {
        self.typer.type_of(e)
    }

    /// The column `name` as the engine's vectors hold it.
    fn column(&self, name: &str) -> Result<String, Error> {
        let c = self
            .schema
            .columns
            .iter()
            .find(|c| c.name == name)
            .ok_or_else(|| Error::UnknownColumn { column: name.to_string() })?;
        let q = quote_ident(&c.name);
        Ok(match c.kind {
            Kind::Num => format!("if(isNaN(toFloat64({q})), NULL, toFloat64({q}))"),
            // Unix seconds: the raw value in its unit times the unit's seconds.
            Kind::Time(u) => {
                format!("(toFloat64({}) * {})", crate::chquery::raw_time(c, u), flit(u.seconds_per_unit()))
            }
            Kind::Bool => format!("CAST({q}, 'Nullable(UInt8)')"),
            Kind::Str => format!("toString({q})"),
            Kind::Other => return Err(Error::Spec(format!("column ${name} is not analyzed"))),
        })
    }

    /// As the math functions read a value: null 0, strings parsed, booleans 0.
    fn math(&self, e: &Ast) -> Result<String, Error> {
        let s = self.node(e)?;
        Ok(match self.ty(e)? {
            Ty::Num => format!("coalesce({s}, 0)"),
            Ty::Str => format!("if(isNull({s}), 0, toFloat64OrZero(assumeNotNull({s})))"),
            Ty::Bool | Ty::Null => "toFloat64(0)".into(),
        })
    }

    /// Truthiness: a non-zero number, `true`, the string `"true"`; null false.
    fn truthy(&self, e: &Ast) -> Result<String, Error> {
        let s = self.node(e)?;
        Ok(match self.ty(e)? {
            Ty::Num => format!("coalesce({s} != 0, 0)"),
            Ty::Bool => format!("coalesce({s} = 1, 0)"),
            Ty::Str => format!("coalesce({s} = 'true', 0)"),
            Ty::Null => "toUInt8(0)".into(),
        })
    }

    /// `EQUALS`: same types and values; false across types or with a null.
    fn equals(&self, a: &Ast, b: &Ast) -> Result<String, Error> {
        let (ta, tb) = (self.ty(a)?, self.ty(b)?);
        if ta != tb || ta == Ty::Null {
            return Ok("toUInt8(0)".into());
        }
        Ok(format!("coalesce({} = {}, 0)", self.node(a)?, self.node(b)?))
    }

    /// A value as STRING and CONCAT write it.
    fn text(&self, e: &Ast, fname: &str, col: usize) -> Result<String, Error> {
        let s = self.node(e)?;
        Ok(match self.ty(e)? {
            Ty::Str => format!("coalesce({s}, '')"),
            Ty::Bool => format!("multiIf({s} = 1, 'true', {s} = 0, 'false', '')"),
            Ty::Null => "''".into(),
            Ty::Num => {
                return Err(refuse(
                    col,
                    &format!("{fname} of a number"),
                    "ClickHouse writes numbers differently (1e+21, not 1000000000000000000000)",
                ))
            }
        })
    }

    fn node(&self, e: &Ast) -> Result<String, Error> {
        let (name, args, col) = match e {
            Ast::Lit(Lit::Num(x)) => return Ok(flit(*x)),
            Ast::Lit(Lit::Str(s)) => return Ok(quote_str(s)),
            Ast::Lit(Lit::Bool(b)) => return Ok(format!("toUInt8({})", u8::from(*b))),
            Ast::Lit(Lit::Null) => return Ok("NULL".into()),
            Ast::Col(name, _) => return self.column(name),
            Ast::Call(name, args, col) => (name.as_str(), args.as_slice(), *col),
        };
        let maths = || args.iter().map(|a| self.math(a)).collect::<Result<Vec<_>, _>>();
        let join = |xs: Vec<String>, op: &str| format!("({})", xs.join(op));
        Ok(match name {
            "SUM" => join(maths()?, " + "),
            "MUL" => join(maths()?, " * "),
            "SUB" => join(maths()?, " - "),
            "DIV" | "MOD" => {
                let m = maths()?;
                let op = if name == "DIV" { "/" } else { "%" };
                format!("if({1} = 0, NULL, {0} {op} {1})", m[0], m[1])
            }
            "LOG10" => {
                let m = self.math(&args[0])?;
                format!("if({m} > 0, log10({m}), NULL)")
            }
            "MIN" | "MAX" => {
                // Numbers only (the engine types it so); nulls skipped, all null is null.
                let xs: Vec<String> = args
                    .iter()
                    .filter(|a| !matches!(a, Ast::Lit(Lit::Null)))
                    .map(|a| self.node(a))
                    .collect::<Result<_, _>>()?;
                match xs.len() {
                    0 => "NULL".into(),
                    1 => xs[0].clone(),
                    _ => {
                        let arr = format!("arrayFilter(x -> isNotNull(x), [{}])", xs.join(", "));
                        let f = if name == "MIN" { "arrayMin" } else { "arrayMax" };
                        format!("if(empty({arr}), NULL, {f}({arr}))")
                    }
                }
            }
            "LT" | "LTE" | "GT" | "GTE" => {
                let (ta, tb) = (self.ty(&args[0])?, self.ty(&args[1])?);
                if ta != tb || !matches!(ta, Ty::Num | Ty::Str) {
                    "toUInt8(0)".into()
                } else {
                    let op = match name {
                        "LT" => "<",
                        "LTE" => "<=",
                        "GT" => ">",
                        _ => ">=",
                    };
                    format!("coalesce({} {op} {}, 0)", self.node(&args[0])?, self.node(&args[1])?)
                }
            }
            "EQUALS" => self.equals(&args[0], &args[1])?,
            "IN" => join(args[1..].iter().map(|b| self.equals(&args[0], b)).collect::<Result<_, _>>()?, " OR "),
            "EXISTS" => match self.ty(&args[0])? {
                Ty::Null => "toUInt8(0)".into(),
                _ => format!("isNotNull({})", self.node(&args[0])?),
            },
            "AND" | "OR" => join(args.iter().map(|a| self.truthy(a)).collect::<Result<_, _>>()?, &format!(" {name} ")),
            "NOT" => format!("(NOT {})", self.truthy(&args[0])?),
            "BOOL" => self.truthy(&args[0])?,
            "INT" => format!("trunc({})", self.math(&args[0])?),
            "FLOAT" => self.math(&args[0])?,
            "IF" => {
                let mut parts = Vec::new();
                for pair in args.chunks(2) {
                    match pair {
                        [c, v] => {
                            parts.push(self.truthy(c)?);
                            parts.push(self.node(v)?);
                        }
                        [d] => parts.push(self.node(d)?),
                        _ => {}
                    }
                }
                if args.len() % 2 == 0 {
                    parts.push("NULL".into());
                }
                format!("multiIf({})", parts.join(", "))
            }
            "SWITCH" => {
                let mut parts = Vec::new();
                for pair in args[1..].chunks(2) {
                    match pair {
                        [c, v] => {
                            parts.push(self.equals(&args[0], c)?);
                            parts.push(self.node(v)?);
                        }
                        [d] => parts.push(self.node(d)?),
                        _ => {}
                    }
                }
                if args.len() % 2 == 1 {
                    parts.push("NULL".into());
                }
                format!("multiIf({})", parts.join(", "))
            }
            "COALESCE" => {
                let xs: Vec<String> = args
                    .iter()
                    .filter(|a| !matches!(a, Ast::Lit(Lit::Null)))
                    .map(|a| self.node(a))
                    .collect::<Result<_, _>>()?;
                if xs.is_empty() {
                    "NULL".into()
                } else {
                    format!("coalesce({})", xs.join(", "))
                }
            }
            "STRING" => self.text(&args[0], "STRING", col)?,
            "CONCAT" => {
                let mut xs: Vec<String> = args.iter().map(|a| self.text(a, "CONCAT", col)).collect::<Result<_, _>>()?;
                xs.push("''".into());
                format!("concat({})", xs.join(", "))
            }
            "STARTS_WITH" | "ENDS_WITH" | "CONTAINS" => {
                if self.ty(&args[0])? != Ty::Str || self.ty(&args[1])? != Ty::Str {
                    "toUInt8(0)".into()
                } else {
                    let (a, b) = (self.node(&args[0])?, self.node(&args[1])?);
                    match name {
                        "STARTS_WITH" => format!("coalesce(startsWith({a}, {b}), 0)"),
                        "ENDS_WITH" => format!("coalesce(endsWith({a}, {b}), 0)"),
                        _ => format!("coalesce(position({a}, {b}) > 0, 0)"),
                    }
                }
            }
            "LENGTH" => {
                let bytes = matches!(args.get(1), Some(Ast::Lit(Lit::Str(u))) if u == "bytes");
                match self.ty(&args[0])? {
                    Ty::Str => {
                        let s = self.node(&args[0])?;
                        if bytes {
                            format!("toFloat64(length({s}))")
                        } else {
                            format!("toFloat64(lengthUTF8({s}))")
                        }
                    }
                    _ => "NULL".into(),
                }
            }
            "REG_MATCH" => match (self.ty(&args[0])?, &args[1]) {
                // RE2 on both sides: ClickHouse's match() and Go's regexp (regex-lite here).
                (Ty::Str, Ast::Lit(Lit::Str(re))) => {
                    format!("coalesce(match({}, {}), 0)", self.node(&args[0])?, quote_str(re))
                }
                _ => "toUInt8(0)".into(),
            },
            "EVENT_TIMESTAMP" => {
                let roles: Vec<(&str, Role)> =
                    self.schema.columns.iter().map(|c| (c.name.as_str(), role(c.kind))).collect();
                let i = sightline::plan::default_time_column(&roles)
                    .ok_or_else(|| Error::Spec(format!("col {col}: EVENT_TIMESTAMP needs a time column")))?;
                self.column(&self.schema.columns[i].name)?
            }
            "TO_LOWER" => {
                return Err(refuse(col, name, "ClickHouse's lowerUTF8 lower-cases some characters differently"))
            }
            "REG_VALUE" | "REG_COUNT" => {
                return Err(refuse(col, name, "ClickHouse's extract and countMatches treat empty matches differently"))
            }
            "BUCKET" => return Err(refuse(col, name, "its labels write numbers, which ClickHouse writes differently")),
            "UNIX_TIMESTAMP" => return Err(refuse(col, name, "ClickHouse's date parsing accepts more than RFC 3339")),
            "FORMAT_TIME" => return Err(refuse(col, name, "ClickHouse's formatDateTime is not strftime")),
            other => return Err(refuse(col, other, "unknown here")),
        })
    }
}
