//! Calculated fields: Honeycomb's formula language (`$column`, literals, infix
//! operators, functions), parsed once, typed once, and evaluated over whole columns
//! into a new [`Column`] that a query then uses like any other.
//!
//! The grammar is Honeycomb's own (its derived-column grammar, `HCDC.g4`; see
//! `docs/honeycomb-query-language.md`): `$name` or `$"quoted name"`, strings with Go
//! escapes, raw strings in backticks, numbers (a minus only directly before one),
//! `true`/`false`/`null`, and operators from tightest to loosest `!`, `* / %`, `-`, `+`,
//! `< <= > >=`, `= !=`, `AND`, `OR`, all left-associative. Errors name the column
//! (character position) in the expression and what was expected.
//!
//! Evaluation is by column, not by row through the tree: each node yields a vector over
//! every row (numbers as `f64` with NaN for null, booleans as bytes, strings as codes
//! into a value list, so a function of one string column runs once per distinct value).
//! Types are static: a formula whose branches disagree (an `IF` giving a number or a
//! string) is refused with the position, where Honeycomb would produce a mixed column.

use std::sync::Arc;

use crate::column::{Column, ColumnData, Role};
use crate::dataset::Dataset;
use crate::error::{Error, Result};
use crate::query::spec::NamedExpression;
use crate::util::FxHashMap;

/// Longest expression accepted (Honeycomb's API limit).
pub const MAX_EXPRESSION: usize = 4095;
/// Deepest nesting accepted (the parser recurses).
const MAX_DEPTH: usize = 64;

/// The functions Sightline computes, with their argument counts (`None`: any from the minimum).
const FUNCTIONS: &[(&str, usize, Option<usize>)] = &[
    ("SUM", 1, None),
    ("SUB", 2, Some(2)),
    ("MUL", 1, None),
    ("DIV", 2, Some(2)),
    ("MOD", 2, Some(2)),
    ("MIN", 1, None),
    ("MAX", 1, None),
    ("LOG10", 1, Some(1)),
    ("LT", 2, Some(2)),
    ("LTE", 2, Some(2)),
    ("GT", 2, Some(2)),
    ("GTE", 2, Some(2)),
    ("EQUALS", 2, Some(2)),
    ("IN", 2, None),
    ("EXISTS", 1, Some(1)),
    ("AND", 1, None),
    ("OR", 1, None),
    ("NOT", 1, Some(1)),
    ("IF", 2, None),
    ("COALESCE", 1, None),
    ("INT", 1, Some(1)),
    ("FLOAT", 1, Some(1)),
    ("BOOL", 1, Some(1)),
    ("STRING", 1, Some(1)),
    ("CONCAT", 1, None),
    ("STARTS_WITH", 2, Some(2)),
    ("ENDS_WITH", 2, Some(2)),
    ("CONTAINS", 2, Some(2)),
    ("TO_LOWER", 1, Some(1)),
    ("LENGTH", 1, Some(2)),
    ("REG_MATCH", 2, Some(2)),
    ("REG_VALUE", 2, Some(2)),
    ("REG_COUNT", 2, Some(2)),
    ("SWITCH", 3, None),
    ("BUCKET", 2, Some(4)),
    ("UNIX_TIMESTAMP", 1, Some(1)),
    ("EVENT_TIMESTAMP", 0, Some(0)),
    ("FORMAT_TIME", 2, Some(2)),
];

/// Honeycomb's functions Sightline cannot compute: refused by name, with why.
const NOT_YET: &[(&str, &str)] =
    &[("INGEST_TIMESTAMP", "Sightline does not know when Honeycomb would have received an event")];

/// Longest regular expression accepted (compiled once per field, linear-time matching).
const MAX_REGEX: usize = 1000;

// --- lexer ---------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Column(String),
    Str(String),
    Num(f64),
    Bool(bool),
    Null,
    Name(String),
    Not,
    Star,
    Slash,
    Percent,
    Plus,
    Minus,
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
    And,
    Or,
    LParen,
    RParen,
    Comma,
    End,
}

impl Tok {
    fn describe(&self) -> String {
        match self {
            Tok::Column(c) => format!("column ${c}"),
            Tok::Str(_) => "a string".into(),
            Tok::Num(n) => format!("the number {n}"),
            Tok::Bool(b) => b.to_string(),
            Tok::Null => "null".into(),
            Tok::Name(n) => n.clone(),
            Tok::End => "the end of the expression".into(),
            other => format!("'{}'", other.symbol()),
        }
    }
    fn symbol(&self) -> &'static str {
        match self {
            Tok::Not => "!",
            Tok::Star => "*",
            Tok::Slash => "/",
            Tok::Percent => "%",
            Tok::Plus => "+",
            Tok::Minus => "-",
            Tok::Lt => "<",
            Tok::Le => "<=",
            Tok::Gt => ">",
            Tok::Ge => ">=",
            Tok::Eq => "=",
            Tok::Ne => "!=",
            Tok::And => "AND",
            Tok::Or => "OR",
            Tok::LParen => "(",
            Tok::RParen => ")",
            Tok::Comma => ",",
            _ => "",
        }
    }
}

/// An error at character `col` (1-based) of the expression.
fn at(col: usize, message: impl std::fmt::Display) -> Error {
    Error::Spec(format!("col {col}: {message}"))
}

fn is_column_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '_' | '.' | '/' | ':' | '=' | '+' | '?' | '-')
}

/// Tokens with the 1-based character column each starts at.
fn lex(text: &str) -> Result<Vec<(Tok, usize)>> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let col = i + 1;
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        let single = match c {
            '*' => Some(Tok::Star),
            '/' => Some(Tok::Slash),
            '%' => Some(Tok::Percent),
            '+' => Some(Tok::Plus),
            '-' => Some(Tok::Minus),
            '(' => Some(Tok::LParen),
            ')' => Some(Tok::RParen),
            ',' => Some(Tok::Comma),
            '=' => Some(Tok::Eq),
            _ => None,
        };
        if let Some(t) = single {
            out.push((t, col));
            i += 1;
            continue;
        }
        let next = chars.get(i + 1).copied();
        match c {
            '!' | '<' | '>' => {
                let (t, n) = match (c, next) {
                    ('!', Some('=')) => (Tok::Ne, 2),
                    ('!', _) => (Tok::Not, 1),
                    ('<', Some('=')) => (Tok::Le, 2),
                    ('<', _) => (Tok::Lt, 1),
                    ('>', Some('=')) => (Tok::Ge, 2),
                    _ => (Tok::Gt, 1),
                };
                out.push((t, col));
                i += n;
            }
            '$' => {
                i += 1;
                let name = match chars.get(i) {
                    Some('"') => {
                        let (s, end) = string(&chars, i)?;
                        i = end;
                        s
                    }
                    Some('`') => {
                        let (s, end) = raw(&chars, i)?;
                        i = end;
                        s
                    }
                    _ => {
                        let start = i;
                        while i < chars.len() && is_column_char(chars[i]) {
                            i += 1;
                        }
                        chars[start..i].iter().collect()
                    }
                };
                if name.is_empty() {
                    return Err(at(col, "expected a column name after $ (write $name or $\"name with spaces\")"));
                }
                out.push((Tok::Column(name), col));
            }
            '"' => {
                let (s, end) = string(&chars, i)?;
                out.push((Tok::Str(s), col));
                i = end;
            }
            '`' => {
                let (s, end) = raw(&chars, i)?;
                out.push((Tok::Str(s), col));
                i = end;
            }
            c if c.is_ascii_digit() || (c == '.' && next.is_some_and(|d| d.is_ascii_digit())) => {
                let start = i;
                while i < chars.len() && chars[i].is_ascii_digit() {
                    i += 1;
                }
                if chars.get(i) == Some(&'.') {
                    i += 1;
                    while i < chars.len() && chars[i].is_ascii_digit() {
                        i += 1;
                    }
                }
                if matches!(chars.get(i), Some('e' | 'E')) {
                    let mut j = i + 1;
                    if matches!(chars.get(j), Some('+' | '-')) {
                        j += 1;
                    }
                    if chars.get(j).is_some_and(|d| d.is_ascii_digit()) {
                        i = j;
                        while i < chars.len() && chars[i].is_ascii_digit() {
                            i += 1;
                        }
                    }
                }
                let s: String = chars[start..i].iter().collect();
                let n: f64 = s.parse().map_err(|_| at(col, format!("cannot read the number {s}")))?;
                out.push((Tok::Num(n), col));
            }
            c if c.is_ascii_alphabetic() => {
                let start = i;
                while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_') {
                    i += 1;
                }
                let word: String = chars[start..i].iter().collect();
                let t = match word.as_str() {
                    "true" => Tok::Bool(true),
                    "false" => Tok::Bool(false),
                    "null" => Tok::Null,
                    "AND" => Tok::And,
                    "OR" => Tok::Or,
                    _ => Tok::Name(word),
                };
                out.push((t, col));
            }
            other => return Err(at(col, format!("unexpected character '{}'", other.escape_debug()))),
        }
    }
    out.push((Tok::End, chars.len() + 1));
    Ok(out)
}

/// A double-quoted string starting at `chars[i]`, with Go's escapes; returns it and the index after it.
fn string(chars: &[char], i: usize) -> Result<(String, usize)> {
    let mut s = String::new();
    let mut j = i + 1;
    loop {
        let Some(&c) = chars.get(j) else {
            return Err(at(i + 1, "this string has no closing \""));
        };
        match c {
            '"' => return Ok((s, j + 1)),
            '\n' => return Err(at(j + 1, "a string cannot hold a newline (write \\n)")),
            '\\' => {
                let e = chars.get(j + 1).copied().ok_or_else(|| at(j + 1, "this string has no closing \""))?;
                let hex = |n: usize| -> Result<(char, usize)> {
                    let h: String = chars.get(j + 2..j + 2 + n).map(|x| x.iter().collect()).unwrap_or_default();
                    let v = u32::from_str_radix(&h, 16).ok().filter(|_| h.len() == n);
                    let c = v.and_then(char::from_u32).ok_or_else(|| at(j + 1, format!("invalid escape \\{e}{h}")))?;
                    Ok((c, j + 2 + n))
                };
                let (ch, next) = match e {
                    'a' => ('\x07', j + 2),
                    'b' => ('\x08', j + 2),
                    'f' => ('\x0c', j + 2),
                    'n' => ('\n', j + 2),
                    'r' => ('\r', j + 2),
                    't' => ('\t', j + 2),
                    'v' => ('\x0b', j + 2),
                    '\\' | '\'' | '"' => (e, j + 2),
                    'x' => hex(2)?,
                    'u' => hex(4)?,
                    'U' => hex(8)?,
                    '0'..='7' => {
                        let o: String = chars.get(j + 1..j + 4).map(|x| x.iter().collect()).unwrap_or_default();
                        let v = u32::from_str_radix(&o, 8).ok().filter(|v| o.len() == 3 && *v < 256);
                        let c = v.and_then(char::from_u32).ok_or_else(|| at(j + 1, format!("invalid escape \\{o}")))?;
                        (c, j + 4)
                    }
                    other => return Err(at(j + 1, format!("invalid escape \\{other}"))),
                };
                s.push(ch);
                j = next;
            }
            c => {
                s.push(c);
                j += 1;
            }
        }
    }
}

/// A backtick raw string starting at `chars[i]`: no escapes.
fn raw(chars: &[char], i: usize) -> Result<(String, usize)> {
    let end =
        chars[i + 1..].iter().position(|c| *c == '`').ok_or_else(|| at(i + 1, "this raw string has no closing `"))?;
    Ok((chars[i + 1..i + 1 + end].iter().collect(), i + end + 2))
}

// --- parser --------------------------------------------------------------------------

/// A literal.
#[derive(Debug, Clone, PartialEq)]
pub enum Lit {
    /// A number.
    Num(f64),
    /// A string (escapes resolved).
    Str(String),
    /// `true` or `false`.
    Bool(bool),
    /// `null`.
    Null,
}

/// A parsed expression; positions are 1-based character columns, for errors.
#[derive(Debug, Clone, PartialEq)]
pub enum Ast {
    /// `$name`, at a position.
    Col(String, usize),
    /// A literal.
    Lit(Lit),
    /// A function (infix operators become their functions: `+` is `SUM`), at a position.
    Call(String, Vec<Ast>, usize),
}

struct Parser {
    toks: Vec<(Tok, usize)>,
    i: usize,
    depth: usize,
}

impl Parser {
    fn peek(&self) -> &(Tok, usize) {
        &self.toks[self.i.min(self.toks.len() - 1)]
    }
    fn bump(&mut self) -> (Tok, usize) {
        let t = self.peek().clone();
        self.i += 1;
        t
    }
    fn expect(&mut self, want: Tok, what: &str) -> Result<()> {
        let (t, col) = self.bump();
        if t == want {
            Ok(())
        } else {
            Err(at(col, format!("expected {what}, found {}", t.describe())))
        }
    }

    /// Binding power of an infix operator and the function it stands for.
    fn infix(t: &Tok) -> Option<(u8, &'static str)> {
        Some(match t {
            Tok::Or => (10, "OR"),
            Tok::And => (20, "AND"),
            Tok::Eq => (30, "EQUALS"),
            Tok::Ne => (30, "!="),
            Tok::Lt => (40, "LT"),
            Tok::Le => (40, "LTE"),
            Tok::Gt => (40, "GT"),
            Tok::Ge => (40, "GTE"),
            Tok::Plus => (50, "SUM"),
            Tok::Minus => (60, "SUB"),
            Tok::Star => (70, "MUL"),
            Tok::Slash => (70, "DIV"),
            Tok::Percent => (70, "MOD"),
            _ => return None,
        })
    }

    fn expr(&mut self, min: u8) -> Result<Ast> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(at(self.peek().1, format!("the expression nests deeper than {MAX_DEPTH} levels")));
        }
        let mut lhs = self.prefix()?;
        while let Some((bp, f)) = Self::infix(&self.peek().0) {
            if bp < min {
                break;
            }
            let (_, col) = self.bump();
            let rhs = self.expr(bp + 1)?;
            lhs = if f == "!=" {
                Ast::Call("NOT".into(), vec![Ast::Call("EQUALS".into(), vec![lhs, rhs], col)], col)
            } else {
                Ast::Call(f.into(), vec![lhs, rhs], col)
            };
        }
        self.depth -= 1;
        Ok(lhs)
    }

    fn prefix(&mut self) -> Result<Ast> {
        let (t, col) = self.bump();
        Ok(match t {
            Tok::Not => Ast::Call("NOT".into(), vec![self.expr(80)?], col),
            Tok::Minus => match self.bump() {
                (Tok::Num(n), _) => Ast::Lit(Lit::Num(-n)),
                _ => {
                    return Err(at(
                        col,
                        "a minus sign stands only directly before a number; write 0 - x or MUL(-1, x) to negate",
                    ))
                }
            },
            Tok::LParen => {
                let e = self.expr(0)?;
                self.expect(Tok::RParen, "')'")?;
                e
            }
            Tok::Column(c) => Ast::Col(c, col),
            Tok::Str(s) => Ast::Lit(Lit::Str(s)),
            Tok::Num(n) => Ast::Lit(Lit::Num(n)),
            Tok::Bool(b) => Ast::Lit(Lit::Bool(b)),
            Tok::Null => Ast::Lit(Lit::Null),
            Tok::Name(_) | Tok::And | Tok::Or => {
                let name = match t {
                    Tok::Name(n) => n,
                    Tok::And => "AND".into(),
                    _ => "OR".into(),
                };
                if self.peek().0 != Tok::LParen {
                    return Err(at(
                        col,
                        format!("{name} is neither a function call nor a column (columns start with $: ${name})"),
                    ));
                }
                self.bump();
                let mut args = Vec::new();
                while self.peek().0 != Tok::RParen {
                    args.push(self.expr(0)?);
                    if self.peek().0 == Tok::Comma {
                        self.bump();
                    } else {
                        break;
                    }
                }
                self.expect(Tok::RParen, "',' or ')'")?;
                Ast::Call(name, args, col)
            }
            other => {
                return Err(at(col, format!("expected a value, a column or a function, found {}", other.describe())))
            }
        })
    }
}

fn parse(text: &str) -> Result<Ast> {
    if text.chars().count() > MAX_EXPRESSION {
        return Err(Error::Spec(format!("the expression is longer than {MAX_EXPRESSION} characters")));
    }
    let mut p = Parser { toks: lex(text)?, i: 0, depth: 0 };
    if p.peek().0 == Tok::End {
        return Err(at(1, "the expression is empty"));
    }
    let e = p.expr(0)?;
    let (t, col) = p.bump();
    if t != Tok::End {
        return Err(at(col, format!("expected an operator or the end, found {}", t.describe())));
    }
    Ok(e)
}

// --- types ---------------------------------------------------------------------------

/// The static type of a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ty {
    /// A number (f64; null is NaN).
    Num,
    /// A string.
    Str,
    /// A boolean.
    Bool,
    /// Only `null` (fits any type).
    /// Only `null`.
    Null,
}

impl Ty {
    fn name(self) -> &'static str {
        match self {
            Ty::Num => "a number",
            Ty::Str => "a string",
            Ty::Bool => "a boolean",
            Ty::Null => "null",
        }
    }
}

/// Edit distance, for "did you mean".
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + (ca != *cb) as usize).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

fn suggest<'a>(name: &str, among: impl Iterator<Item = &'a str>) -> String {
    let upper = name.to_uppercase();
    among
        .map(|c| (distance(&upper, &c.to_uppercase()), c))
        .filter(|(d, c)| *d <= 2.max(c.len() / 3))
        .min()
        .map(|(_, c)| format!("; did you mean {c}?"))
        .unwrap_or_default()
}

/// The type of `e` over `cols`, checking each call's arguments.
fn type_of(e: &Ast, cols: &[Arc<Column>]) -> Result<Ty> {
    match e {
        Ast::Lit(Lit::Num(_)) => Ok(Ty::Num),
        Ast::Lit(Lit::Str(_)) => Ok(Ty::Str),
        Ast::Lit(Lit::Bool(_)) => Ok(Ty::Bool),
        Ast::Lit(Lit::Null) => Ok(Ty::Null),
        Ast::Col(name, col) => {
            let c = cols.iter().find(|c| &c.name == name).ok_or_else(|| {
                let hint = suggest(name, cols.iter().map(|c| c.name.as_str()));
                at(*col, format!("unknown column ${name}{hint}"))
            })?;
            match c.role {
                Role::Number | Role::Time => Ok(Ty::Num),
                Role::String => Ok(Ty::Str),
                Role::Bool => Ok(Ty::Bool),
                Role::Other => {
                    Err(at(*col, format!("column ${name} has type {}, which is not analyzed", c.arrow_type)))
                }
            }
        }
        Ast::Call(name, args, col) => {
            let Some(&(_, min, max)) = FUNCTIONS.iter().find(|(f, _, _)| f == name) else {
                if let Some((_, why)) = NOT_YET.iter().find(|(f, _)| f == name) {
                    return Err(at(*col, format!("{name} is not computed by Sightline: {why}")));
                }
                let hint = suggest(name, FUNCTIONS.iter().map(|f| f.0).chain(NOT_YET.iter().map(|f| f.0)));
                return Err(at(*col, format!("unknown function {name}{hint}")));
            };
            if args.len() < min || max.is_some_and(|m| args.len() > m) {
                let want = match max {
                    Some(m) if m == min => format!("{min}"),
                    Some(m) => format!("{min} to {m}"),
                    None => format!("at least {min}"),
                };
                return Err(at(
                    *col,
                    format!("{name} takes {want} argument{}, not {}", if want == "1" { "" } else { "s" }, args.len()),
                ));
            }
            let tys = args.iter().map(|a| type_of(a, cols)).collect::<Result<Vec<_>>>()?;
            // Arguments that must share one type (null fits any).
            let same = |items: &[usize], what: &str| -> Result<Ty> {
                let mut t = Ty::Null;
                for &k in items {
                    let u = tys[k];
                    if u == Ty::Null || u == t {
                        continue;
                    }
                    if t != Ty::Null {
                        return Err(at(
                            arg_col(&args[k], *col),
                            format!("{name}'s {what} must have one type: {} here, {} before (cast with STRING, FLOAT or BOOL)", u.name(), t.name()),
                        ));
                    }
                    t = u;
                }
                Ok(t)
            };
            Ok(match name.as_str() {
                "SUM" | "SUB" | "MUL" | "DIV" | "MOD" | "LOG10" | "INT" | "FLOAT" => Ty::Num,
                "MIN" | "MAX" => {
                    if let Some(k) = tys.iter().position(|t| *t != Ty::Num && *t != Ty::Null) {
                        return Err(at(
                            arg_col(&args[k], *col),
                            format!("{name} of {} is not computed by Sightline yet (numbers only)", tys[k].name()),
                        ));
                    }
                    Ty::Num
                }
                "LT" | "LTE" | "GT" | "GTE" | "EQUALS" | "IN" | "EXISTS" | "AND" | "OR" | "NOT" | "BOOL"
                | "STARTS_WITH" | "ENDS_WITH" | "CONTAINS" => Ty::Bool,
                "STRING" | "CONCAT" => Ty::Str,
                "TO_LOWER" => {
                    if tys[0] != Ty::Str && tys[0] != Ty::Null {
                        return Err(at(
                            arg_col(&args[0], *col),
                            format!("TO_LOWER needs a string, not {}", tys[0].name()),
                        ));
                    }
                    Ty::Str
                }
                "IF" => {
                    // (condition, value) pairs, then the default when the count is odd.
                    let mut values: Vec<usize> = (1..tys.len()).step_by(2).collect();
                    if tys.len() % 2 == 1 {
                        values.push(tys.len() - 1);
                    }
                    same(&values, "values")?
                }
                "SWITCH" => {
                    // The value, then (case, result) pairs, then the default when the count is even.
                    let mut values: Vec<usize> = (2..tys.len()).step_by(2).collect();
                    if tys.len() % 2 == 0 {
                        values.push(tys.len() - 1);
                    }
                    same(&values, "results")?
                }
                "LENGTH" => {
                    need(&tys, args, 0, Ty::Str, name, *col)?;
                    if let Some(unit) = args.get(1) {
                        match unit {
                            Ast::Lit(Lit::Str(u)) if u == "chars" || u == "bytes" => {}
                            other => {
                                return Err(at(
                                    arg_col(other, *col),
                                    "LENGTH's unit is the string \"chars\" (the default) or \"bytes\"",
                                ))
                            }
                        }
                    }
                    Ty::Num
                }
                "REG_MATCH" | "REG_VALUE" | "REG_COUNT" => {
                    need(&tys, args, 0, Ty::Str, name, *col)?;
                    regex(&args[1], name, *col)?;
                    match name.as_str() {
                        "REG_MATCH" => Ty::Bool,
                        "REG_VALUE" => Ty::Str,
                        _ => Ty::Num,
                    }
                }
                "BUCKET" => {
                    need(&tys, args, 0, Ty::Num, name, *col)?;
                    bucket_spec(args, *col)?;
                    Ty::Str
                }
                "UNIX_TIMESTAMP" => {
                    need(&tys, args, 0, Ty::Str, name, *col)?;
                    Ty::Num
                }
                "EVENT_TIMESTAMP" => {
                    if event_time(cols).is_none() {
                        return Err(at(*col, "EVENT_TIMESTAMP needs a time column, and the data has none"));
                    }
                    Ty::Num
                }
                "FORMAT_TIME" => {
                    let Ast::Lit(Lit::Str(f)) = &args[0] else {
                        return Err(at(
                            arg_col(&args[0], *col),
                            "FORMAT_TIME's format must be a string literal (strftime: \"%Y-%m-%d %H:%M\")",
                        ));
                    };
                    strftime_check(f).map_err(|m| at(*col, m))?;
                    need(&tys, args, 1, Ty::Num, name, *col)?;
                    Ty::Str
                }
                "COALESCE" => same(&(0..tys.len()).collect::<Vec<_>>(), "arguments")?,
                _ => Ty::Null,
            })
        }
    }
}

/// Argument `k` must have type `want` (or be null).
fn need(tys: &[Ty], args: &[Ast], k: usize, want: Ty, name: &str, col: usize) -> Result<()> {
    let t = tys[k];
    if t == want || t == Ty::Null {
        return Ok(());
    }
    let cast = match want {
        Ty::Str => " (cast with STRING)",
        Ty::Num => " (cast with FLOAT)",
        _ => "",
    };
    Err(at(arg_col(&args[k], col), format!("{name} needs {} here, not {}{cast}", want.name(), t.name())))
}

/// The regular expression of a REG_* call: a string literal, compiled (linear-time
/// matching; Go's RE2 syntax except Unicode classes).
fn regex(arg: &Ast, name: &str, col: usize) -> Result<regex_lite::Regex> {
    let Ast::Lit(Lit::Str(pattern)) = arg else {
        return Err(at(arg_col(arg, col), format!("{name}'s regular expression must be a string literal (`^a.*z$`)")));
    };
    if pattern.len() > MAX_REGEX {
        return Err(at(col, format!("{name}'s regular expression is longer than {MAX_REGEX} bytes")));
    }
    regex_lite::RegexBuilder::new(pattern)
        .size_limit(1 << 20)
        .nest_limit(64)
        .build()
        .map_err(|e| at(col, format!("{name}: invalid regular expression: {}", e.to_string().replace('\n', " "))))
}

/// `BUCKET(x, size[, min[, max]])`'s constants: numeric literals, a positive size, min below max.
fn bucket_spec(args: &[Ast], col: usize) -> Result<(f64, Option<f64>, Option<f64>)> {
    let num = |k: usize, what: &str| -> Result<Option<f64>> {
        match args.get(k) {
            None => Ok(None),
            Some(Ast::Lit(Lit::Num(x))) if x.is_finite() => Ok(Some(*x)),
            Some(other) => Err(at(arg_col(other, col), format!("BUCKET's {what} must be a number literal"))),
        }
    };
    let size = num(1, "size")?.unwrap_or(0.0);
    if size <= 0.0 {
        return Err(at(arg_col(&args[1], col), "BUCKET's size must be positive"));
    }
    let (min, max) = (num(2, "min")?, num(3, "max")?);
    if let (Some(a), Some(b)) = (min, max) {
        if b <= a {
            return Err(at(arg_col(&args[3], col), "BUCKET's max must be above its min"));
        }
        if (b - a) / size > 100_000.0 {
            return Err(at(arg_col(&args[1], col), "BUCKET would make more than 100,000 buckets"));
        }
    }
    Ok((size, min, max))
}

/// The column EVENT_TIMESTAMP reads: the data's default time column.
fn event_time(cols: &[Arc<Column>]) -> Option<&Column> {
    let roles: Vec<(&str, Role)> = cols.iter().map(|c| (c.name.as_str(), c.role)).collect();
    crate::plan::default_time_column(&roles).map(|i| cols[i].as_ref())
}

/// Checks a FORMAT_TIME format by formatting an instant with it.
fn strftime_check(f: &str) -> std::result::Result<(), String> {
    if f.len() > 200 {
        return Err("FORMAT_TIME's format is longer than 200 bytes".into());
    }
    jiff::fmt::strtime::format(f, &jiff::Timestamp::UNIX_EPOCH.to_zoned(jiff::tz::TimeZone::UTC))
        .map(|_| ())
        .map_err(|e| format!("FORMAT_TIME: invalid format {f:?}: {e}"))
}

fn arg_col(e: &Ast, fallback: usize) -> usize {
    match e {
        Ast::Col(_, c) | Ast::Call(_, _, c) => *c,
        Ast::Lit(_) => fallback,
    }
}

// --- evaluation ----------------------------------------------------------------------

/// Strings: `codes[i]` indexes `values` (0 is null).
#[derive(Debug, Clone)]
struct Strs {
    codes: Vec<u32>,
    values: Vec<Arc<str>>,
}

/// One node's values over every row.
#[derive(Debug, Clone)]
enum Vector {
    /// NaN is null.
    Num(Vec<f64>),
    /// 0 false, 1 true, 2 null.
    Bool(Vec<u8>),
    Str(Strs),
    Null,
}

/// Interns strings into a new [`Strs`].
#[derive(Default)]
struct StrBuilder {
    codes: Vec<u32>,
    values: Vec<Arc<str>>,
    index: FxHashMap<Arc<str>, u32>,
}

impl StrBuilder {
    fn with_rows(n: usize) -> StrBuilder {
        StrBuilder { codes: Vec::with_capacity(n), values: vec![Arc::from("")], index: FxHashMap::default() }
    }
    fn push(&mut self, s: Option<&str>) {
        let code = match s {
            None => 0,
            Some(s) => match self.index.get(s) {
                Some(c) => *c,
                None => {
                    let a: Arc<str> = Arc::from(s);
                    let c = self.values.len() as u32;
                    self.values.push(a.clone());
                    self.index.insert(a, c);
                    c
                }
            },
        };
        self.codes.push(code);
    }
    fn finish(self) -> Strs {
        Strs { codes: self.codes, values: self.values }
    }
}

impl Strs {
    fn get(&self, i: usize) -> Option<&str> {
        match self.codes[i] {
            0 => None,
            c => Some(&self.values[c as usize]),
        }
    }
    /// `f` of each distinct value (null stays null), by code.
    fn map_values<T>(&self, f: impl Fn(&str) -> T) -> Vec<T> {
        self.values.iter().map(|v| f(v)).collect()
    }
}

fn column_vector(c: &Column) -> Result<Vector> {
    let valid = |i: usize| c.validity.is_valid(i);
    Ok(match &c.data {
        ColumnData::Float(v) => {
            Vector::Num(v.iter().enumerate().map(|(i, x)| if valid(i) { *x } else { f64::NAN }).collect())
        }
        ColumnData::Int(v) => {
            Vector::Num(v.iter().enumerate().map(|(i, x)| if valid(i) { *x as f64 } else { f64::NAN }).collect())
        }
        ColumnData::UInt(v) => {
            Vector::Num(v.iter().enumerate().map(|(i, x)| if valid(i) { *x as f64 } else { f64::NAN }).collect())
        }
        ColumnData::Time { values, unit, .. } => {
            let s = unit.seconds_per_unit();
            Vector::Num(
                values.iter().enumerate().map(|(i, x)| if valid(i) { *x as f64 * s } else { f64::NAN }).collect(),
            )
        }
        ColumnData::Bool(v) => Vector::Bool(v.clone()),
        ColumnData::Str(s) => {
            let (codes, dict) = s.codes_of(&c.name)?;
            let values = (0..dict.code_count() as u32).map(|k| Arc::from(dict.get(k).unwrap_or(""))).collect();
            Vector::Str(Strs { codes: codes.to_vec(), values })
        }
        ColumnData::Other => Vector::Null,
    })
}

fn literal(l: &Lit, n: usize) -> Vector {
    match l {
        Lit::Num(x) => Vector::Num(vec![*x; n]),
        Lit::Bool(b) => Vector::Bool(vec![*b as u8; n]),
        Lit::Str(s) => Vector::Str(Strs { codes: vec![1; n], values: vec![Arc::from(""), Arc::from(s.as_str())] }),
        Lit::Null => Vector::Null,
    }
}

fn parse_num(s: &str) -> f64 {
    s.parse::<f64>().unwrap_or(0.0)
}

/// Numbers as the math functions read them: strings parsed, anything else (null too) 0.
fn math(v: &Vector, n: usize) -> Vec<f64> {
    match v {
        Vector::Num(x) => x.iter().map(|x| if x.is_nan() { 0.0 } else { *x }).collect(),
        Vector::Str(s) => {
            let parsed = s.map_values(parse_num);
            s.codes.iter().map(|c| if *c == 0 { 0.0 } else { parsed[*c as usize] }).collect()
        }
        Vector::Bool(_) | Vector::Null => vec![0.0; n],
    }
}

/// Truthiness: non-zero numbers, the string `true`, `true`; null is false.
fn truthy(v: &Vector, n: usize) -> Vec<bool> {
    match v {
        Vector::Num(x) => x.iter().map(|x| !x.is_nan() && *x != 0.0).collect(),
        Vector::Bool(b) => b.iter().map(|b| *b == 1).collect(),
        Vector::Str(s) => {
            let t = s.map_values(|v| v == "true");
            s.codes.iter().map(|c| *c != 0 && t[*c as usize]).collect()
        }
        Vector::Null => vec![false; n],
    }
}

fn is_null(v: &Vector, i: usize) -> bool {
    match v {
        Vector::Num(x) => x[i].is_nan(),
        Vector::Bool(b) => b[i] == 2,
        Vector::Str(s) => s.codes[i] == 0,
        Vector::Null => true,
    }
}

fn bools(b: impl Iterator<Item = bool>) -> Vector {
    Vector::Bool(b.map(|b| b as u8).collect())
}

/// A number as STRING and CONCAT write it: the shortest form (`300.5`, `3`).
fn num_text(x: f64) -> Option<String> {
    (!x.is_nan()).then(|| format!("{x}"))
}

fn text(v: &Vector, i: usize) -> Option<String> {
    match v {
        Vector::Num(x) => num_text(x[i]),
        Vector::Bool(b) => match b[i] {
            0 => Some("false".into()),
            1 => Some("true".into()),
            _ => None,
        },
        Vector::Str(s) => s.get(i).map(str::to_string),
        Vector::Null => None,
    }
}

/// `EQUALS`: same types and values; never equal across types or with a null.
fn equals(a: &Vector, b: &Vector, n: usize) -> Vec<bool> {
    match (a, b) {
        (Vector::Num(x), Vector::Num(y)) => x.iter().zip(y).map(|(x, y)| x == y).collect(),
        (Vector::Bool(x), Vector::Bool(y)) => x.iter().zip(y).map(|(x, y)| *x != 2 && x == y).collect(),
        (Vector::Str(x), Vector::Str(y)) => {
            (0..n).map(|i| matches!((x.get(i), y.get(i)), (Some(p), Some(q)) if p == q)).collect()
        }
        _ => vec![false; n],
    }
}

fn compare(a: &Vector, b: &Vector, n: usize, keep: fn(std::cmp::Ordering) -> bool) -> Vec<bool> {
    match (a, b) {
        (Vector::Num(x), Vector::Num(y)) => x.iter().zip(y).map(|(x, y)| x.partial_cmp(y).is_some_and(keep)).collect(),
        (Vector::Str(x), Vector::Str(y)) => {
            (0..n).map(|i| matches!((x.get(i), y.get(i)), (Some(p), Some(q)) if keep(p.cmp(q)))).collect()
        }
        _ => vec![false; n],
    }
}

/// Row `i` of `src` into a builder of type `ty`.
enum Out {
    Num(Vec<f64>),
    Bool(Vec<u8>),
    Str(StrBuilder),
}

impl Out {
    fn new(ty: Ty, n: usize) -> Out {
        match ty {
            Ty::Num | Ty::Null => Out::Num(Vec::with_capacity(n)),
            Ty::Bool => Out::Bool(Vec::with_capacity(n)),
            Ty::Str => Out::Str(StrBuilder::with_rows(n)),
        }
    }
    fn push(&mut self, src: Option<&Vector>, i: usize) {
        match (self, src) {
            (Out::Num(o), Some(Vector::Num(x))) => o.push(x[i]),
            (Out::Num(o), _) => o.push(f64::NAN),
            (Out::Bool(o), Some(Vector::Bool(x))) => o.push(x[i]),
            (Out::Bool(o), _) => o.push(2),
            (Out::Str(o), Some(Vector::Str(x))) => o.push(x.get(i)),
            (Out::Str(o), _) => o.push(None),
        }
    }
    fn finish(self) -> Vector {
        match self {
            Out::Num(v) => Vector::Num(v),
            Out::Bool(v) => Vector::Bool(v),
            Out::Str(b) => Vector::Str(b.finish()),
        }
    }
}

fn eval(e: &Ast, cols: &[Arc<Column>], n: usize) -> Result<Vector> {
    let (name, args) = match e {
        Ast::Lit(l) => return Ok(literal(l, n)),
        Ast::Col(name, _) => {
            // type_of checked that it exists.
            let c =
                cols.iter().find(|c| &c.name == name).ok_or_else(|| Error::UnknownColumn { column: name.clone() })?;
            return column_vector(c);
        }
        Ast::Call(name, args, _) => (name.as_str(), args),
    };
    let vals = args.iter().map(|a| eval(a, cols, n)).collect::<Result<Vec<_>>>()?;
    let nums = || vals.iter().map(|v| math(v, n)).collect::<Vec<_>>();
    Ok(match name {
        "SUM" | "MUL" => {
            let xs = nums();
            let mut acc = xs[0].clone();
            for x in &xs[1..] {
                for (a, b) in acc.iter_mut().zip(x) {
                    *a = if name == "SUM" { *a + b } else { *a * b };
                }
            }
            Vector::Num(acc)
        }
        "SUB" | "DIV" | "MOD" => {
            let xs = nums();
            Vector::Num(
                xs[0]
                    .iter()
                    .zip(&xs[1])
                    .map(|(a, b)| match name {
                        "SUB" => a - b,
                        // Division by zero is null, as Honeycomb has it.
                        _ if *b == 0.0 => f64::NAN,
                        "DIV" => a / b,
                        _ => a % b,
                    })
                    .collect(),
            )
        }
        "LOG10" => {
            Vector::Num(math(&vals[0], n).into_iter().map(|x| if x > 0.0 { x.log10() } else { f64::NAN }).collect())
        }
        "MIN" | "MAX" => {
            let mut acc = vec![f64::NAN; n];
            for v in &vals {
                if let Vector::Num(x) = v {
                    for (a, b) in acc.iter_mut().zip(x) {
                        if !b.is_nan() && (a.is_nan() || (name == "MIN" && b < a) || (name == "MAX" && b > a)) {
                            *a = *b;
                        }
                    }
                }
            }
            Vector::Num(acc)
        }
        "LT" => bools(compare(&vals[0], &vals[1], n, |o| o.is_lt()).into_iter()),
        "LTE" => bools(compare(&vals[0], &vals[1], n, |o| o.is_le()).into_iter()),
        "GT" => bools(compare(&vals[0], &vals[1], n, |o| o.is_gt()).into_iter()),
        "GTE" => bools(compare(&vals[0], &vals[1], n, |o| o.is_ge()).into_iter()),
        "EQUALS" => bools(equals(&vals[0], &vals[1], n).into_iter()),
        "IN" => {
            let mut any = vec![false; n];
            for v in &vals[1..] {
                for (a, b) in any.iter_mut().zip(equals(&vals[0], v, n)) {
                    *a |= b;
                }
            }
            bools(any.into_iter())
        }
        "EXISTS" => bools((0..n).map(|i| !is_null(&vals[0], i))),
        "AND" | "OR" => {
            let mut acc = vec![name == "AND"; n];
            for v in &vals {
                for (a, b) in acc.iter_mut().zip(truthy(v, n)) {
                    *a = if name == "AND" { *a && b } else { *a || b };
                }
            }
            bools(acc.into_iter())
        }
        "NOT" => bools(truthy(&vals[0], n).into_iter().map(|b| !b)),
        "BOOL" => bools(truthy(&vals[0], n).into_iter()),
        "INT" | "FLOAT" => {
            let x = math(&vals[0], n);
            Vector::Num(if name == "INT" { x.into_iter().map(f64::trunc).collect() } else { x })
        }
        "STRING" => {
            let mut b = StrBuilder::with_rows(n);
            for i in 0..n {
                b.push(Some(text(&vals[0], i).as_deref().unwrap_or("")));
            }
            Vector::Str(b.finish())
        }
        "CONCAT" => {
            let mut b = StrBuilder::with_rows(n);
            let mut s = String::new();
            for i in 0..n {
                s.clear();
                for v in &vals {
                    if let Some(t) = text(v, i) {
                        s.push_str(&t);
                    }
                }
                b.push(Some(&s));
            }
            Vector::Str(b.finish())
        }
        "STARTS_WITH" | "ENDS_WITH" | "CONTAINS" => match (&vals[0], &vals[1]) {
            (Vector::Str(a), Vector::Str(b)) => bools((0..n).map(|i| match (a.get(i), b.get(i)) {
                (Some(x), Some(y)) => match name {
                    "STARTS_WITH" => x.starts_with(y),
                    "ENDS_WITH" => x.ends_with(y),
                    _ => x.contains(y),
                },
                _ => false,
            })),
            _ => bools(std::iter::repeat_n(false, n)),
        },
        "TO_LOWER" => match &vals[0] {
            Vector::Str(s) => {
                Vector::Str(Strs { codes: s.codes.clone(), values: s.map_values(|v| Arc::from(v.to_lowercase())) })
            }
            _ => Vector::Null,
        },
        "LENGTH" => match &vals[0] {
            Vector::Str(s) => {
                let bytes = matches!(args.get(1), Some(Ast::Lit(Lit::Str(u))) if u == "bytes");
                let lens = s.map_values(|v| if bytes { v.len() as f64 } else { v.chars().count() as f64 });
                Vector::Num(s.codes.iter().map(|c| if *c == 0 { f64::NAN } else { lens[*c as usize] }).collect())
            }
            _ => Vector::Num(vec![f64::NAN; n]),
        },
        "REG_MATCH" | "REG_VALUE" | "REG_COUNT" => {
            // Once per distinct value of the string, not per row.
            let re = regex(&args[1], name, 0)?;
            match (&vals[0], name) {
                (Vector::Str(s), "REG_MATCH") => {
                    let m = s.map_values(|v| re.is_match(v));
                    bools(s.codes.iter().map(|c| *c != 0 && m[*c as usize]))
                }
                (Vector::Str(s), "REG_COUNT") => {
                    let m = s.map_values(|v| re.find_iter(v).count() as f64);
                    Vector::Num(s.codes.iter().map(|c| if *c == 0 { 0.0 } else { m[*c as usize] }).collect())
                }
                (Vector::Str(s), _) => {
                    // The first capture group (the whole match when there is none); no match is null.
                    let group = usize::from(re.captures_len() > 1);
                    Vector::Str(map_strs(s, |v| {
                        re.captures(v).and_then(|c| c.get(group)).map(|m| m.as_str().to_string())
                    }))
                }
                (_, "REG_MATCH") => bools(std::iter::repeat_n(false, n)),
                (_, "REG_COUNT") => Vector::Num(vec![0.0; n]),
                _ => Vector::Null,
            }
        }
        "BUCKET" => {
            let (size, min, max) = bucket_spec(args, 0)?;
            let Vector::Num(x) = &vals[0] else { return Ok(Vector::Null) };
            let origin = min.unwrap_or(0.0);
            let label = |k: i64| -> String {
                match k {
                    i64::MIN => format!("< {}", num_text(origin).unwrap_or_default()),
                    i64::MAX => format!("> {}", max.and_then(num_text).unwrap_or_default()),
                    k => {
                        let lo = origin + k as f64 * size;
                        let hi = max.map_or(lo + size, |m| (lo + size).min(m));
                        format!("{} - {}", num_text(lo).unwrap_or_default(), num_text(hi).unwrap_or_default())
                    }
                }
            };
            let mut b = StrBuilder::with_rows(n);
            let mut seen: FxHashMap<i64, u32> = FxHashMap::default();
            for v in x {
                if v.is_nan() {
                    b.codes.push(0);
                    continue;
                }
                // Bins are (lo, hi]: a value on an edge falls into the lower bin.
                let k = if min.is_some_and(|m| *v <= m) {
                    i64::MIN
                } else if max.is_some_and(|m| *v > m) {
                    i64::MAX
                } else {
                    (((v - origin) / size).ceil() - 1.0).clamp(-1e15, 1e15) as i64
                };
                match seen.get(&k) {
                    Some(c) => b.codes.push(*c),
                    None => {
                        b.push(Some(&label(k)));
                        seen.insert(k, *b.codes.last().unwrap_or(&0));
                    }
                }
            }
            Vector::Str(b.finish())
        }
        "UNIX_TIMESTAMP" => match &vals[0] {
            Vector::Str(s) => {
                let t = s.map_values(|v| v.trim().parse::<jiff::Timestamp>().map_or(f64::NAN, seconds_of));
                Vector::Num(s.codes.iter().map(|c| if *c == 0 { f64::NAN } else { t[*c as usize] }).collect())
            }
            _ => Vector::Num(vec![f64::NAN; n]),
        },
        "EVENT_TIMESTAMP" => match event_time(cols) {
            Some(c) => column_vector(c)?,
            None => Vector::Num(vec![f64::NAN; n]),
        },
        "FORMAT_TIME" => {
            let Ast::Lit(Lit::Str(f)) = &args[0] else { return Ok(Vector::Null) };
            let Vector::Num(t) = &vals[1] else { return Ok(Vector::Null) };
            // Whole seconds share a text unless the format shows fractions.
            let by_second = !f.contains('f') && !f.contains('N');
            let mut b = StrBuilder::with_rows(n);
            let mut seen: FxHashMap<i64, u32> = FxHashMap::default();
            for x in t {
                let Some(ts) = timestamp_of(*x) else {
                    b.codes.push(0);
                    continue;
                };
                let key = x.floor() as i64;
                if let (true, Some(c)) = (by_second, seen.get(&key)) {
                    b.codes.push(*c);
                    continue;
                }
                let text = jiff::fmt::strtime::format(f.as_str(), &ts.to_zoned(jiff::tz::TimeZone::UTC)).ok();
                b.push(text.as_deref());
                if by_second {
                    seen.insert(key, *b.codes.last().unwrap_or(&0));
                }
            }
            Vector::Str(b.finish())
        }
        "SWITCH" => {
            let mut out = Out::new(type_of(e, cols)?, n);
            let pairs = (args.len() - 1) / 2;
            let hits: Vec<Vec<bool>> = (0..pairs).map(|k| equals(&vals[0], &vals[1 + 2 * k], n)).collect();
            let default = (args.len() % 2 == 0).then(|| &vals[args.len() - 1]);
            for i in 0..n {
                let pick = (0..pairs).find(|k| hits[*k][i]).map(|k| &vals[2 + 2 * k]).or(default);
                out.push(pick, i);
            }
            out.finish()
        }
        "IF" => {
            // Only IF and COALESCE need their node's type (to build its output); the
            // rest of the tree was typed once, by calculate.
            let mut out = Out::new(type_of(e, cols)?, n);
            let pairs = args.len() / 2;
            let conds: Vec<Vec<bool>> = (0..pairs).map(|k| truthy(&vals[2 * k], n)).collect();
            let default = (args.len() % 2 == 1).then(|| &vals[args.len() - 1]);
            for i in 0..n {
                let pick = (0..pairs).find(|k| conds[*k][i]).map(|k| &vals[2 * k + 1]).or(default);
                out.push(pick, i);
            }
            out.finish()
        }
        "COALESCE" => {
            let mut out = Out::new(type_of(e, cols)?, n);
            for i in 0..n {
                out.push(vals.iter().find(|v| !is_null(v, i)), i);
            }
            out.finish()
        }
        other => return Err(Error::Spec(format!("{other} is not computed by Sightline yet"))),
    })
}

/// `f` of each distinct string (null stays null), re-interned.
fn map_strs(s: &Strs, f: impl Fn(&str) -> Option<String>) -> Strs {
    let mut b = StrBuilder::with_rows(s.values.len());
    b.push(None);
    for v in &s.values[1..] {
        b.push(f(v).as_deref());
    }
    let remap = std::mem::take(&mut b.codes);
    Strs { codes: s.codes.iter().map(|c| remap.get(*c as usize).copied().unwrap_or(0)).collect(), values: b.values }
}

/// Unix seconds (with fractions) of an instant.
fn seconds_of(t: jiff::Timestamp) -> f64 {
    t.as_second() as f64 + t.subsec_nanosecond() as f64 / 1e9
}

/// The instant of unix seconds `x`, when it is one jiff can hold.
fn timestamp_of(x: f64) -> Option<jiff::Timestamp> {
    if !x.is_finite() {
        return None;
    }
    let secs = x.floor();
    let nanos = ((x - secs) * 1e9).round().min(999_999_999.0) as i32;
    jiff::Timestamp::new(secs.clamp(-1e15, 1e15) as i64, nanos).ok()
}

/// The column a vector becomes: floats, booleans, or strings interned into the
/// column's own dictionary (with the statistics loaded columns have).
fn to_column(name: &str, v: Vector, n: usize) -> Result<Column> {
    let data = match v {
        Vector::Num(x) => ColumnData::Float(x),
        Vector::Bool(b) => ColumnData::Bool(b),
        Vector::Str(s) => {
            let mut dict = crate::column::Dict::default();
            let remap = s
                .values
                .iter()
                .enumerate()
                .map(|(k, v)| if k == 0 { Ok(0) } else { dict.intern(v) })
                .collect::<Result<Vec<u32>>>()?;
            ColumnData::Str(crate::column::Strings::interned(s.codes.iter().map(|c| remap[*c as usize]).collect(), dict))
        }
        Vector::Null => ColumnData::Float(vec![f64::NAN; n]),
    };
    Ok(Column::computed(name, data))
}

/// Evaluates `field` over every row of `cols` (`n` rows) into a new column named as the field.
pub fn calculate(field: &NamedExpression, cols: &[Arc<Column>], n: usize) -> Result<Column> {
    let named = |e: Error| match e {
        Error::Spec(m) => Error::Spec(format!("calculated field \"{}\": {m}", field.name)),
        other => other,
    };
    if field.name.is_empty() {
        return Err(Error::Spec("a calculated field needs a name".into()));
    }
    if cols.iter().any(|c| c.name == field.name) {
        return Err(Error::Spec(format!("calculated field \"{}\": a column of that name exists", field.name)));
    }
    let ast = parse(&field.expression).map_err(named)?;
    let ty = type_of(&ast, cols).map_err(named)?;
    // A node that is null on every row still makes a column of its type.
    let v = match (eval(&ast, cols, n).map_err(named)?, ty) {
        (Vector::Null, Ty::Str) => Vector::Str(Strs { codes: vec![0; n], values: vec![Arc::from("")] }),
        (Vector::Null, Ty::Bool) => Vector::Bool(vec![2; n]),
        (v, _) => v,
    };
    to_column(&field.name, v, n).map_err(named)
}

/// Types calculated fields against a table known by its columns' names and roles only
/// (a remote table's schema), for an executor that compiles them elsewhere (the
/// server's ClickHouse SQL): the same parse, types and errors as the engine's.
pub struct Typer {
    cols: Vec<Arc<Column>>,
}

impl Typer {
    /// A typer over these columns.
    pub fn new(columns: &[(&str, Role)]) -> Typer {
        let cols = columns
            .iter()
            .map(|(name, role)| {
                let data = match role {
                    Role::Number | Role::Time => ColumnData::Float(Vec::new()),
                    Role::String => ColumnData::Str(crate::column::Strings::default()),
                    Role::Bool => ColumnData::Bool(Vec::new()),
                    Role::Other => ColumnData::Other,
                };
                let mut c = Column::computed(name, data);
                c.role = *role;
                Arc::new(c)
            })
            .collect();
        Typer { cols }
    }

    /// Parses and types a field, with the engine's errors (`calculated field "f": col 3: ...`).
    pub fn check(&self, field: &NamedExpression) -> Result<(Ast, Ty)> {
        let named = |e: Error| match e {
            Error::Spec(m) => Error::Spec(format!("calculated field \"{}\": {m}", field.name)),
            other => other,
        };
        if field.name.is_empty() {
            return Err(Error::Spec("a calculated field needs a name".into()));
        }
        if self.cols.iter().any(|c| c.name == field.name) {
            return Err(Error::Spec(format!("calculated field \"{}\": a column of that name exists", field.name)));
        }
        let ast = parse(&field.expression).map_err(named)?;
        let ty = type_of(&ast, &self.cols).map_err(named)?;
        Ok((ast, ty))
    }

    /// The type of a node of a checked field.
    pub fn type_of(&self, e: &Ast) -> Result<Ty> {
        type_of(e, &self.cols)
    }
}

/// The columns formulas see: each calculation's values (one per group or series cell)
/// under the name results give it.
fn result_columns(calcs: &[crate::query::spec::Calc], values: &[Vec<Option<f64>>]) -> Vec<Arc<Column>> {
    calcs
        .iter()
        .zip(values)
        .filter(|(c, _)| !c.hidden)
        .map(|(c, v)| {
            Arc::new(Column::computed(&c.name, ColumnData::Float(v.iter().map(|x| x.unwrap_or(f64::NAN)).collect())))
        })
        .collect()
}

/// Checks a query's formulas against its calculations: each parses, names only
/// calculations and earlier formulas, and gives a number.
pub fn check_formulas(formulas: &[NamedExpression], calcs: &[crate::query::spec::Calc]) -> Result<()> {
    let empty: Vec<Vec<Option<f64>>> = vec![Vec::new(); calcs.len()];
    formula_values(formulas, calcs, &empty, 0).map(|_| ())
}

/// The formulas' values over `n` groups or cells, from the calculations' values there:
/// `out[formula][cell]`. Each formula may use the ones before it.
pub fn formula_values(
    formulas: &[NamedExpression],
    calcs: &[crate::query::spec::Calc],
    values: &[Vec<Option<f64>>],
    n: usize,
) -> Result<Vec<Vec<Option<f64>>>> {
    // Every query passes here: without formulas, copy no calculation into a column.
    if formulas.is_empty() {
        return Ok(Vec::new());
    }
    let mut cols = result_columns(calcs, values);
    let mut out = Vec::with_capacity(formulas.len());
    for f in formulas {
        let named = |e: Error| match e {
            Error::Spec(m) => {
                let m = m.trim_start_matches(&format!("calculated field \"{}\": ", f.name)).to_string();
                // A formula's columns are the calculations (and earlier formulas).
                Error::Spec(format!(
                    "formula \"{}\": {}",
                    f.name,
                    m.replace("unknown column $", "unknown calculation $")
                ))
            }
            other => other,
        };
        let c = calculate(f, &cols, n).map_err(named)?;
        let ColumnData::Float(v) = &c.data else {
            return Err(Error::Spec(format!(
                "formula \"{}\": gives {}, and a formula must give a number (IF(cond, 1, 0) counts a condition)",
                f.name,
                match c.role {
                    Role::Bool => "a boolean",
                    _ => "a string",
                }
            )));
        };
        out.push(v.iter().map(|x| (!x.is_nan()).then_some(*x)).collect());
        cols.push(Arc::new(c));
    }
    Ok(out)
}

/// `ds` with the spec's calculated fields as columns after its own, each able to use the
/// ones before it; `None` when there are none.
pub fn with_calculated(ds: &Dataset, fields: &[NamedExpression]) -> Result<Option<Dataset>> {
    if fields.is_empty() {
        return Ok(None);
    }
    // Each field sees the dataset's columns and the fields before it; the new columns
    // are shared with the view, never copied.
    let mut cols: Vec<Arc<Column>> = ds.columns().to_vec();
    let base = cols.len();
    for f in fields {
        let c = calculate(f, &cols, ds.row_count())?;
        cols.push(Arc::new(c));
    }
    Ok(Some(ds.with_columns(cols.split_off(base))))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn show(e: &Ast) -> String {
        match e {
            Ast::Col(c, _) => format!("${c}"),
            Ast::Lit(Lit::Num(n)) => format!("{n}"),
            Ast::Lit(Lit::Str(s)) => format!("{s:?}"),
            Ast::Lit(Lit::Bool(b)) => format!("{b}"),
            Ast::Lit(Lit::Null) => "null".into(),
            Ast::Call(f, args, _) => format!("{f}({})", args.iter().map(show).collect::<Vec<_>>().join(", ")),
        }
    }

    #[test]
    fn precedence_is_honeycombs() {
        let p = |s: &str| show(&parse(s).unwrap());
        // '-' binds tighter than '+'; both left-associative.
        assert_eq!(p("$a + $b - $c"), "SUM($a, SUB($b, $c))");
        assert_eq!(p("$a - $b + $c"), "SUM(SUB($a, $b), $c)");
        assert_eq!(p("$a - $b - $c"), "SUB(SUB($a, $b), $c)");
        assert_eq!(p("$a OR $b AND $c"), "OR($a, AND($b, $c))");
        assert_eq!(p("$x > 5 AND $y < 3"), "AND(GT($x, 5), LT($y, 3))");
        assert_eq!(p("!$a = $b"), "EQUALS(NOT($a), $b)");
        assert_eq!(p("$a != 3 * 2"), "NOT(EQUALS($a, MUL(3, 2)))");
        assert_eq!(p("AND($a, OR($b, $c),)"), "AND($a, OR($b, $c))");
        // Column names may hold - + = : / ? . ; spaces separate operators.
        assert_eq!(p("$a-1"), "$a-1");
        assert_eq!(p("$\"Context Key\" + -4.5e1"), "SUM($Context Key, -45)");
        assert_eq!(p("`C:\\path` + \"\\u00e9\\x41\\101\""), "SUM(\"C:\\\\path\", \"éAA\")");
        assert_eq!(p(".5 * 2"), "MUL(0.5, 2)");
    }

    #[test]
    fn errors_name_the_position_and_what_was_expected() {
        let e = |s: &str| parse(s).unwrap_err().to_string();
        assert!(e("-$a").contains("col 1: a minus sign stands only directly before a number"), "{}", e("-$a"));
        assert!(e("SUM($a, $b").contains("col 11: expected ',' or ')'"), "{}", e("SUM($a, $b"));
        assert!(e("$a $b").contains("col 4: expected an operator or the end, found column $b"), "{}", e("$a $b"));
        assert!(e("\"open").contains("col 1: this string has no closing"), "{}", e("\"open"));
        assert!(e("$a # 2").contains("col 4: unexpected character '#'"), "{}", e("$a # 2"));
        assert!(e("duration_ms > 1").contains("col 1: duration_ms is neither a function call nor a column"));
        assert!(e("").contains("empty"));
        let deep = format!("{}1{}", "(".repeat(200), ")".repeat(200));
        assert!(e(&deep).contains("nests deeper"));
    }

    fn ds() -> Dataset {
        crate::demo::test_dataset(3000)
    }

    fn calc(ds: &Dataset, expr: &str) -> Result<Column> {
        calculate(&NamedExpression { name: "f".into(), expression: expr.into() }, ds.columns(), ds.row_count())
    }

    #[test]
    fn unknown_names_get_a_suggestion() {
        let d = ds();
        let e = calc(&d, "REGX_MATCH($endpoint, `^/api`)").unwrap_err().to_string();
        assert!(e.contains("col 1: unknown function REGX_MATCH; did you mean REG_MATCH?"), "{e}");
        let e = calc(&d, "SUB(INGEST_TIMESTAMP(), EVENT_TIMESTAMP())").unwrap_err().to_string();
        assert!(e.contains("col 5: INGEST_TIMESTAMP is not computed by Sightline: "), "{e}");
        let e = calc(&d, "REG_MATCH($endpoint, `(`)").unwrap_err().to_string();
        assert!(e.contains("col 1: REG_MATCH: invalid regular expression"), "{e}");
        let e = calc(&d, "REG_MATCH($endpoint, $region)").unwrap_err().to_string();
        assert!(e.contains("col 22: REG_MATCH's regular expression must be a string literal"), "{e}");
        let e = calc(&d, "REG_MATCH($status_code, `5..`)").unwrap_err().to_string();
        assert!(e.contains("col 11: REG_MATCH needs a string here, not a number (cast with STRING)"), "{e}");
        let e = calc(&d, "REG_MATCH($endpoint, `\\pL`)").unwrap_err().to_string();
        assert!(e.contains("invalid regular expression"), "{e}");
        let e = calc(&d, "BUCKET($duration_ms, 0)").unwrap_err().to_string();
        assert!(e.contains("BUCKET's size must be positive"), "{e}");
        let e = calc(&d, "BUCKET($duration_ms, $db_calls)").unwrap_err().to_string();
        assert!(e.contains("BUCKET's size must be a number literal"), "{e}");
        let e = calc(&d, "FORMAT_TIME(\"%Y %\", EVENT_TIMESTAMP())").unwrap_err().to_string();
        assert!(e.contains("FORMAT_TIME: invalid format"), "{e}");
        let e = calc(&d, "LENGTH($endpoint, \"runes\")").unwrap_err().to_string();
        assert!(e.contains("LENGTH's unit is the string \"chars\""), "{e}");
        let e = calc(&d, "$duration_sm * 2").unwrap_err().to_string();
        assert!(e.contains("col 1: unknown column $duration_sm; did you mean duration_ms?"), "{e}");
        let e = calc(&d, "IF($status_code >= 500, \"fail\", 0)").unwrap_err().to_string();
        assert!(e.contains("IF's values must have one type"), "{e}");
        let e = calc(&d, "SUB(1)").unwrap_err().to_string();
        assert!(e.contains("SUB takes 2 arguments, not 1"), "{e}");
    }

    fn nums(c: &Column) -> Vec<f64> {
        let ColumnData::Float(v) = &c.data else { panic!("not floats: {:?}", c.role) };
        v.iter().enumerate().map(|(i, x)| if c.validity.is_valid(i) { *x } else { f64::NAN }).collect()
    }

    #[test]
    fn evaluates_like_a_row_by_row_reading_of_the_docs() {
        let d = ds();
        let n = d.row_count();
        let dur = match column_vector(d.column("duration_ms").unwrap()).unwrap() {
            Vector::Num(x) => x,
            _ => panic!(),
        };
        let status = match column_vector(d.column("status_code").unwrap()).unwrap() {
            Vector::Num(x) => x,
            _ => panic!(),
        };
        let c = calc(&d, "$duration_ms / 1000 + 1").unwrap();
        let got = nums(&c);
        for i in 0..n {
            let want = if dur[i].is_nan() { 0.0 / 1000.0 + 1.0 } else { dur[i] / 1000.0 + 1.0 };
            assert!((got[i] - want).abs() < 1e-12, "row {i}");
        }
        // A condition as a number: the failure rate's numerator.
        let c = calc(&d, "IF($status_code >= 500, 1, 0)").unwrap();
        let got = nums(&c);
        for i in 0..n {
            assert_eq!(got[i], (status[i] >= 500.0) as u8 as f64);
        }
        // Division by zero is null; LOG10 of 0 too.
        assert!(nums(&calc(&d, "DIV($duration_ms, 0)").unwrap()).iter().all(|x| x.is_nan()));
        assert!(nums(&calc(&d, "LOG10(0)").unwrap())[0].is_nan());
        // Strings: per distinct value, and back into a dictionary column.
        let c = calc(&d, "CONCAT(TO_LOWER($region), \"/\", $status_code)").unwrap();
        assert_eq!(c.role, Role::String);
        let ColumnData::Str(s) = &c.data else { panic!() };
        let (codes, dict) = s.codes().unwrap();
        let region = d.column("region").unwrap();
        let ColumnData::Str(rs) = &region.data else { panic!() };
        let (rc, rd) = rs.codes().unwrap();
        for i in 0..n {
            let want = format!("{}/{}", rd.get(rc[i]).unwrap_or("").to_lowercase(), status[i]);
            assert_eq!(dict.get(codes[i]), Some(want.as_str()));
        }
        let c = calc(&d, "STARTS_WITH($endpoint, \"/api\") AND !EXISTS($nope_not_here)");
        assert!(c.is_err(), "unknown column");
        let c = calc(&d, "STARTS_WITH($endpoint, \"/api/v2/c\") OR IN($status_code, 500, 503)").unwrap();
        assert_eq!(c.role, Role::Bool);
        // COALESCE and STRING of a null.
        let c = calc(&d, "COALESCE(null, $duration_ms, 7)").unwrap();
        assert!(nums(&c).iter().all(|x| !x.is_nan()));
        let c = calc(&d, "STRING(null)").unwrap();
        let ColumnData::Str(s) = &c.data else { panic!() };
        assert_eq!(s.get(0), Some(""));
        // Comparisons across types are false; EQUALS is strict.
        let ColumnData::Bool(b) = &calc(&d, "EQUALS($status_code, \"200\")").unwrap().data else { panic!() };
        assert!(b.iter().all(|x| *x == 0));
    }

    /// Text of row `i` of a string column.
    fn strs(c: &Column) -> Vec<Option<String>> {
        let ColumnData::Str(s) = &c.data else { panic!("not strings: {:?}", c.role) };
        (0..s.len()).map(|i| s.get(i).map(str::to_string)).collect()
    }

    fn one(expr: &str) -> Column {
        let d = crate::demo::test_dataset(1);
        calc(&d, expr).unwrap_or_else(|e| panic!("{expr}: {e}"))
    }

    #[test]
    fn regex_length_switch_bucket_and_time_functions() {
        let s = |e: &str| strs(&one(e))[0].clone();
        let x = |e: &str| nums(&one(e))[0];
        let b = |e: &str| match &one(e).data {
            ColumnData::Bool(v) => v[0],
            _ => panic!(),
        };
        // Regex: an unanchored search (Go's MatchString); ASCII \w and \b as in Go.
        assert_eq!(b("REG_MATCH(\"libhoney-py/1.2\", `libhoney-[a-z]+`)"), 1);
        assert_eq!(b("REG_MATCH(\"x\", `^$`)"), 0);
        assert_eq!(b("REG_MATCH(null, `.*`)"), 0);
        assert_eq!(s("REG_VALUE(\"libhoney-rb/3\", \"libhoney-([a-z]*)\")").as_deref(), Some("rb"));
        assert_eq!(s("REG_VALUE(\"a@example.com\", `@(.+)$`)").as_deref(), Some("example.com"));
        assert_eq!(s("REG_VALUE(\"order 66\", `[0-9]+`)").as_deref(), Some("66"), "no group: the whole match");
        assert_eq!(s("REG_VALUE(\"none\", `[0-9]+`)"), None);
        assert_eq!(x("REG_COUNT(\"an error, another error\", `\\berror\\b`)"), 2.0);
        assert_eq!(x("REG_COUNT(\"abc\", `x*`)"), 4.0, "empty matches count, as in Go");
        assert_eq!(x("REG_COUNT(null, `x`)"), 0.0);
        // LENGTH in characters (default) or bytes; null stays null.
        assert_eq!(x("LENGTH(\"héllo\")"), 5.0);
        assert_eq!(x("LENGTH(\"héllo\", \"bytes\")"), 6.0);
        assert!(x("LENGTH(null)").is_nan());
        // SWITCH: strict equality, pairs, then the default.
        assert_eq!(s("SWITCH(\"staging\", \"prod\", \"p\", \"staging\", \"s\", \"other\")").as_deref(), Some("s"));
        assert_eq!(x("SWITCH(200, \"200\", 1, 200, 2, 3)"), 2.0);
        assert_eq!(x("SWITCH(7, 1, 10, 2, 20, 0)"), 0.0);
        assert!(x("SWITCH(7, 1, 10, 2, 20)").is_nan(), "no default: null");
        // BUCKET: (lo, hi] bins, a value on an edge in the lower bin; < min and > max.
        assert_eq!(s("BUCKET(5, 10, 0, 30)").as_deref(), Some("0 - 10"));
        assert_eq!(s("BUCKET(10, 10, 0, 30)").as_deref(), Some("0 - 10"));
        assert_eq!(s("BUCKET(0, 10, 0, 30)").as_deref(), Some("< 0"));
        assert_eq!(s("BUCKET(30, 10, 0, 30)").as_deref(), Some("20 - 30"));
        assert_eq!(s("BUCKET(31, 10, 0, 30)").as_deref(), Some("> 30"));
        assert_eq!(s("BUCKET(27, 10, 0, 25)").as_deref(), Some("> 25"));
        assert_eq!(s("BUCKET(24, 10, 0, 25)").as_deref(), Some("20 - 25"));
        assert_eq!(s("BUCKET(1234, 100)").as_deref(), Some("1200 - 1300"));
        assert_eq!(s("BUCKET(-5, 10)").as_deref(), Some("-10 - 0"));
        assert_eq!(s("BUCKET(null, 10)"), None);
        // Time: RFC 3339 to unix seconds, the event's own time, strftime in UTC.
        assert_eq!(x("UNIX_TIMESTAMP(\"2017-07-20T11:22:44.888Z\")"), 1500549764.888);
        assert_eq!(x("UNIX_TIMESTAMP(\"2017-07-20T13:22:44+02:00\")"), 1500549764.0);
        assert!(x("UNIX_TIMESTAMP(\"yesterday\")").is_nan());
        assert_eq!(s("FORMAT_TIME(\"%Y-%m-%d %H:%M:%S\", 1500549764.888)").as_deref(), Some("2017-07-20 11:22:44"));
        assert_eq!(s("FORMAT_TIME(\"%A\", UNIX_TIMESTAMP(\"2026-11-01T00:00:00Z\"))").as_deref(), Some("Sunday"));
        let d = ds();
        let ev = nums(&calc(&d, "EVENT_TIMESTAMP()").unwrap());
        let Vector::Num(t) = column_vector(d.time_column().unwrap()).unwrap() else { panic!() };
        assert_eq!(ev, t);
        let hours = strs(&calc(&d, "FORMAT_TIME(\"%H\", EVENT_TIMESTAMP())").unwrap());
        for (h, t) in hours.iter().zip(&t) {
            assert_eq!(h.as_deref().unwrap().parse::<i64>().unwrap(), (*t as i64).rem_euclid(86400) / 3600);
        }
    }

    /// Any text gets a result or an error, never a panic (a panic in wasm kills the
    /// component): random expressions from the language's own pieces.
    #[test]
    fn never_panics_on_any_expression() {
        let d = crate::demo::test_dataset(50);
        let pieces = [
            "$duration_ms",
            "$endpoint",
            "$cache_hit",
            "$\"a b\"",
            "$",
            "\"",
            "\"x\\u00\"",
            "`",
            "`r`",
            "1",
            "-",
            "2.5e3",
            ".",
            "e",
            "(",
            ")",
            ",",
            "!",
            "!=",
            "=",
            "<",
            "<=",
            "+",
            "*",
            "/",
            "%",
            "AND",
            "OR",
            "IF(",
            "REG_VALUE(",
            "REG_COUNT(",
            "`(x+)+y`",
            "BUCKET(",
            "SWITCH(",
            "LENGTH(",
            "FORMAT_TIME(",
            "\"%H\"",
            "EVENT_TIMESTAMP(",
            "UNIX_TIMESTAMP(",
            "SUM(",
            "CONCAT(",
            "COALESCE(",
            "TO_LOWER(",
            "IN(",
            "MAX(",
            "DIV(",
            "null",
            "true",
            " ",
            "\\",
            "\u{202e}",
            "é",
            "REG_MATCH(",
            "X",
        ];
        let mut seed = 0x1234_5678_9abc_def0u64;
        for _ in 0..20_000 {
            let mut text = String::new();
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            for k in 0..(seed % 12) {
                text.push_str(pieces[((seed >> (k * 5)) % pieces.len() as u64) as usize]);
            }
            let _ = calc(&d, &text);
        }
    }

    #[test]
    fn fields_use_earlier_fields_and_queries_use_them_like_columns() {
        let d = ds();
        let fields = vec![
            NamedExpression { name: "is_fail".into(), expression: "IF($status_code >= 500, 1, 0)".into() },
            NamedExpression { name: "fail_label".into(), expression: "IF($is_fail = 1, \"fail\", \"ok\")".into() },
        ];
        let v = with_calculated(&d, &fields).unwrap().unwrap();
        assert_eq!(v.columns().len(), d.columns().len() + 2);
        let spec: crate::query::QuerySpec = serde_json::from_str(
            r#"{"calculations":[{"op":"AVG","column":"is_fail"},{"op":"COUNT"}],"breakdowns":["fail_label"],"orders":[{"column":"fail_label"}]}"#,
        )
        .unwrap();
        let r = crate::query::run(&v, &spec).unwrap();
        let fails = (0..d.row_count())
            .filter(|i| match column_vector(d.column("status_code").unwrap()).unwrap() {
                Vector::Num(x) => x[*i] >= 500.0,
                _ => false,
            })
            .count();
        let row =
            r.results.iter().find(|r| r.get("fail_label") == Some(&crate::query::Cell::Str("fail".into()))).unwrap();
        assert_eq!(row.get("COUNT"), Some(&crate::query::Cell::Num(fails as f64)));
        assert_eq!(row.get("AVG(is_fail)"), Some(&crate::query::Cell::Num(1.0)));
        let dup = vec![NamedExpression { name: "endpoint".into(), expression: "1".into() }];
        assert!(with_calculated(&d, &dup).unwrap_err().to_string().contains("a column of that name exists"));
    }
}
