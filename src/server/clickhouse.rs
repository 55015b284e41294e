//! ClickHouse as a source, over its HTTP interface: push-down compiled to SQL with
//! `FORMAT ArrowStream`, and the Arrow stream proxied to the client as it arrives.
//!
//! Quoting: identifiers in backquotes with `\` and `` ` `` escaped by a backslash;
//! string literals in single quotes with `\` and `'` escaped by a backslash; numbers are
//! written from `f64`s (finite only), times as integer nanoseconds. No text from a
//! request reaches the SQL any other way.
//!
//! Semantics follow the engine's filters ([`crate::query::Filters`]): positive
//! operators never match a null, their negations do (`c IS NULL OR NOT (...)`); strings
//! compare by bytes; numbers numerically (a numeric string is accepted); time columns
//! in unix seconds, compared in the column's own unit exactly as the engine does.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::column::TimeUnit;
use crate::query::spec::{FilterSpec, Value};

use super::source::{EventsRequest, Order, ParamError};

/// How the filters treat a ClickHouse column.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Kind {
    /// String, FixedString, Enum, UUID, IP (compared as text).
    Str,
    /// Integers, floats, decimals.
    Num,
    /// Bool.
    Bool,
    /// DateTime, DateTime64, Date, Date32, in this unit.
    Time(TimeUnit),
    /// Arrays, maps, tuples, JSON, ...: projected, not filtered.
    Other,
}

/// A ClickHouse column.
#[derive(Debug, Clone, PartialEq)]
pub struct ChColumn {
    /// Its name.
    pub name: String,
    /// Its ClickHouse type, e.g. `LowCardinality(Nullable(String))`.
    pub ch_type: String,
    /// How filters treat it.
    pub kind: Kind,
}

/// A table's columns, as `DESCRIBE TABLE` gives them.
#[derive(Debug, Clone, PartialEq)]
pub struct ChSchema {
    /// The table, possibly `database.table`.
    pub table: String,
    /// Its columns.
    pub columns: Vec<ChColumn>,
}

/// Strips `Nullable(...)` and `LowCardinality(...)`.
fn unwrap_type(t: &str) -> &str {
    let mut t = t.trim();
    loop {
        let inner = ["Nullable(", "LowCardinality("].iter().find_map(|p| t.strip_prefix(p));
        match inner.and_then(|i| i.strip_suffix(')')) {
            Some(i) => t = i.trim(),
            None => return t,
        }
    }
}

/// How filters treat a ClickHouse type.
pub fn kind_of(ch_type: &str) -> Kind {
    let t = unwrap_type(ch_type);
    let base = t.split('(').next().unwrap_or("");
    match base {
        "String" | "FixedString" | "Enum8" | "Enum16" | "Enum" | "UUID" | "IPv4" | "IPv6" => Kind::Str,
        "Bool" | "Boolean" => Kind::Bool,
        "Date" | "Date32" => Kind::Time(TimeUnit::Day),
        "DateTime" => Kind::Time(TimeUnit::Second),
        "DateTime64" => {
            let p: u32 =
                t.trim_start_matches("DateTime64(").split([',', ')']).next().unwrap_or("3").trim().parse().unwrap_or(3);
            Kind::Time(match p {
                0 => TimeUnit::Second,
                1..=3 => TimeUnit::Millisecond,
                4..=6 => TimeUnit::Microsecond,
                _ => TimeUnit::Nanosecond,
            })
        }
        b if b.starts_with("Int") || b.starts_with("UInt") || b.starts_with("Float") || b.starts_with("Decimal") => {
            Kind::Num
        }
        "BFloat16" => Kind::Num,
        _ => Kind::Other,
    }
}

impl ChSchema {
    /// From `(name, type)` pairs.
    pub fn new(table: &str, columns: impl IntoIterator<Item = (String, String)>) -> ChSchema {
        let columns = columns.into_iter().map(|(name, t)| ChColumn { kind: kind_of(&t), name, ch_type: t }).collect();
        ChSchema { table: table.into(), columns }
    }

    /// From `DESCRIBE TABLE ... FORMAT TabSeparated` output (name, type, ...).
    pub fn from_describe_tsv(table: &str, tsv: &str) -> Result<ChSchema, String> {
        let cols: Vec<(String, String)> = tsv
            .lines()
            .filter(|l| !l.is_empty())
            .map(|l| {
                let mut f = l.split('\t');
                let name = unescape_tsv(f.next().unwrap_or(""));
                let t = unescape_tsv(f.next().unwrap_or(""));
                (name, t)
            })
            .collect();
        if cols.is_empty() || cols.iter().any(|(n, t)| n.is_empty() || t.is_empty()) {
            return Err(format!("unexpected DESCRIBE output: {:?}", tsv.chars().take(200).collect::<String>()));
        }
        Ok(ChSchema::new(table, cols))
    }

    fn column(&self, name: &str) -> Option<&ChColumn> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// The default time column: `timestamp`, `time`, `@timestamp` or `_time`, else the
    /// first time column (as the engine chooses).
    pub fn time_column(&self) -> Option<&ChColumn> {
        let is_time = |c: &&ChColumn| matches!(c.kind, Kind::Time(_));
        ["timestamp", "time", "@timestamp", "_time"]
            .iter()
            .find_map(|n| self.columns.iter().filter(is_time).find(|c| c.name == *n))
            .or_else(|| self.columns.iter().find(is_time))
    }
}

fn unescape_tsv(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut it = s.chars();
    while let Some(c) = it.next() {
        if c == '\\' {
            match it.next() {
                Some('t') => out.push('\t'),
                Some('n') => out.push('\n'),
                Some('r') => out.push('\r'),
                Some('0') => out.push('\0'),
                Some('b') => out.push('\u{8}'),
                Some('f') => out.push('\u{c}'),
                Some(o) => out.push(o),
                None => out.push('\\'),
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// `` `name` ``, with `\` and `` ` `` escaped.
pub fn quote_ident(name: &str) -> String {
    let mut s = String::with_capacity(name.len() + 2);
    s.push('`');
    for c in name.chars() {
        if c == '\\' || c == '`' {
            s.push('\\');
        }
        s.push(c);
    }
    s.push('`');
    s
}

/// A table name: `db.table` quotes each part.
pub fn quote_table(table: &str) -> Result<String, String> {
    let parts: Vec<&str> = table.split('.').collect();
    if parts.len() > 2 || parts.iter().any(|p| p.is_empty()) {
        return Err(format!("table {table:?}: expected `table` or `database.table`"));
    }
    Ok(parts.iter().map(|p| quote_ident(p)).collect::<Vec<_>>().join("."))
}

/// `'text'`, with `\` and `'` escaped (and NUL, newlines written as escapes).
pub fn quote_str(text: &str) -> String {
    let mut s = String::with_capacity(text.len() + 2);
    s.push('\'');
    for c in text.chars() {
        match c {
            '\\' => s.push_str("\\\\"),
            '\'' => s.push_str("\\'"),
            '\0' => s.push_str("\\0"),
            '\n' => s.push_str("\\n"),
            '\r' => s.push_str("\\r"),
            c => s.push(c),
        }
    }
    s.push('\'');
    s
}

/// A number literal, from a finite `f64` only.
pub fn number(x: f64) -> Option<String> {
    if !x.is_finite() {
        return None;
    }
    if x.fract() == 0.0 && x.abs() < 9.0e15 {
        Some(format!("{}", x as i64))
    } else {
        Some(format!("{x:e}"))
    }
}

fn nanos_literal(raw: i64, unit: TimeUnit) -> String {
    let per: i128 = match unit {
        TimeUnit::Day => 86_400_000_000_000,
        TimeUnit::Second => 1_000_000_000,
        TimeUnit::Millisecond => 1_000_000,
        TimeUnit::Microsecond => 1_000,
        TimeUnit::Nanosecond => 1,
    };
    let ns = (raw as i128 * per).clamp(i64::MIN as i128, i64::MAX as i128);
    format!("fromUnixTimestamp64Nano({ns}, 'UTC')")
}

fn err(f: &FilterSpec, message: impl std::fmt::Display) -> ParamError {
    ParamError::new("filters", format!("operator {} on column \"{}\": {message}", f.op, f.column))
}

fn scalar(f: &FilterSpec) -> Result<&Value, ParamError> {
    match &f.value {
        Some(Value::List(_)) => Err(err(f, "needs a single value, not a list")),
        Some(v) => Ok(v),
        None => Err(err(f, "needs a value")),
    }
}

fn list(f: &FilterSpec) -> Result<&[Value], ParamError> {
    match &f.value {
        Some(Value::List(items)) => Ok(items),
        _ => Err(err(f, "needs a list of values")),
    }
}

use crate::query::filter::FILTER_OPS as OPS;

fn or_all(parts: Vec<String>) -> String {
    if parts.is_empty() {
        "0".into()
    } else {
        format!("({})", parts.join(" OR "))
    }
}

/// One filter as a SQL condition.
pub fn compile_filter(schema: &ChSchema, f: &FilterSpec) -> Result<String, ParamError> {
    let col = schema
        .column(&f.column)
        .ok_or_else(|| ParamError::new("filters", format!("unknown column \"{}\"", f.column)))?;
    let op = f.op.as_str();
    if !OPS.contains(&op) {
        return Err(err(f, format!("unknown filter operator (one of {})", OPS.join(", "))));
    }
    if matches!(op, "exists" | "does-not-exist") {
        if f.value.is_some() {
            return Err(err(f, "takes no value"));
        }
        let c = quote_ident(&col.name);
        return Ok(if op == "exists" { format!("({c} IS NOT NULL)") } else { format!("({c} IS NULL)") });
    }
    let negated = matches!(op, "!=" | "does-not-start-with" | "does-not-end-with" | "does-not-contain" | "not-in");
    let c = quote_ident(&col.name);
    let positive = match col.kind {
        Kind::Str => {
            let text = |v: &Value| v.as_text();
            match op {
                "=" | "!=" => format!("{c} = {}", quote_str(&text(scalar(f)?).unwrap_or_default())),
                ">" | ">=" | "<" | "<=" => format!("{c} {op} {}", quote_str(&text(scalar(f)?).unwrap_or_default())),
                "starts-with" | "does-not-start-with" => {
                    format!("startsWith({c}, {})", quote_str(&text(scalar(f)?).unwrap_or_default()))
                }
                "ends-with" | "does-not-end-with" => {
                    format!("endsWith({c}, {})", quote_str(&text(scalar(f)?).unwrap_or_default()))
                }
                "contains" | "does-not-contain" => {
                    format!("position({c}, {}) > 0", quote_str(&text(scalar(f)?).unwrap_or_default()))
                }
                _ => {
                    let items: Vec<String> =
                        list(f)?.iter().filter_map(Value::as_text).map(|s| quote_str(&s)).collect();
                    if items.is_empty() {
                        "0".into()
                    } else {
                        format!("{c} IN ({})", items.join(", "))
                    }
                }
            }
        }
        Kind::Bool => {
            let b = |v: &Value| v.as_bool().ok_or_else(|| err(f, "needs true or false"));
            match op {
                "=" | "!=" => format!("{c} = {}", b(scalar(f)?)?),
                "in" | "not-in" => {
                    or_all(list(f)?.iter().map(|v| Ok(format!("{c} = {}", b(v)?))).collect::<Result<_, _>>()?)
                }
                _ => return Err(err(f, "does not apply to a bool column")),
            }
        }
        Kind::Num | Kind::Time(_) => {
            let num = |v: &Value| -> Result<f64, ParamError> {
                let x = v.as_number().ok_or_else(|| err(f, format!("{v:?} is not a number")))?;
                if x.is_finite() {
                    Ok(x)
                } else {
                    Err(err(f, format!("{v:?} is not a finite number")))
                }
            };
            let cmp = |op: &str, x: f64| -> String {
                match col.kind {
                    Kind::Time(unit) => time_cmp(&c, op, x, unit),
                    _ => format!("{c} {op} {}", number(x).unwrap_or_else(|| "0".into())),
                }
            };
            // An integer operand is written with every digit (IDs above 2^53 must not
            // collide with their neighbours); an i128 literal is only digits and a sign.
            let exact = |op: &str, v: &Value| -> Result<String, ParamError> {
                match (col.kind, v.as_int()) {
                    (Kind::Num, Some(k)) => Ok(format!("{c} {op} {k}")),
                    _ => Ok(cmp(op, num(v)?)),
                }
            };
            match op {
                "=" | "!=" => exact("=", scalar(f)?)?,
                ">" | ">=" | "<" | "<=" => exact(op, scalar(f)?)?,
                "in" | "not-in" => or_all(list(f)?.iter().map(|v| exact("=", v)).collect::<Result<_, _>>()?),
                _ => return Err(err(f, format!("needs a string column, this one is {}", col.ch_type))),
            }
        }
        Kind::Other => return Err(err(f, format!("column type {} is not analyzed", col.ch_type))),
    };
    Ok(if negated { format!("({c} IS NULL OR NOT ({positive}))") } else { format!("({positive})") })
}

/// `c op x` for a time column, `x` in unix seconds, compared in the column's unit as the
/// engine does (raw value vs `x / seconds_per_unit`).
fn time_cmp(c: &str, op: &str, x: f64, unit: TimeUnit) -> String {
    let raw = x / unit.seconds_per_unit();
    let (fl, ce) = (raw.floor(), raw.ceil());
    let lit = |v: f64| nanos_literal(v as i64, unit);
    if fl == raw {
        return format!("{c} {op} {}", lit(raw));
    }
    match op {
        "=" => "0".into(),
        ">" | ">=" => format!("{c} > {}", lit(fl)),
        "<" => format!("{c} < {}", lit(ce)),
        _ => format!("{c} <= {}", lit(fl)),
    }
}

/// Settings sent with every query: strings as Arrow strings (not binary), low
/// cardinality columns as dictionaries, and the time limit.
fn settings(max_seconds: u64) -> String {
    format!(
        "SETTINGS output_format_arrow_string_as_string = 1, output_format_arrow_low_cardinality_as_dictionary = 1, \
max_execution_time = {max_seconds}"
    )
}

/// The SQL for `req`, ending in `FORMAT ArrowStream`.
pub fn compile(schema: &ChSchema, req: &EventsRequest, max_seconds: u64) -> Result<String, ParamError> {
    let table = quote_table(&schema.table).map_err(|e| ParamError::new("source", e))?;
    let select = match &req.columns {
        None => "*".to_string(),
        Some(cols) => cols
            .iter()
            .map(|n| {
                schema
                    .column(n)
                    .map(|c| quote_ident(&c.name))
                    .ok_or_else(|| ParamError::new("columns", format!("unknown column {n:?}")))
            })
            .collect::<Result<Vec<_>, _>>()?
            .join(", "),
    };
    let tcol = match &req.time_column {
        Some(n) => {
            let c = schema.column(n).ok_or_else(|| ParamError::new("time_column", format!("unknown column {n:?}")))?;
            if !matches!(c.kind, Kind::Time(_)) {
                return Err(ParamError::new("time_column", format!("{n:?} is not a time column")));
            }
            Some(c)
        }
        None => schema.time_column(),
    };
    let mut conds = Vec::new();
    if req.start.is_some() || req.end.is_some() || req.order != Order::None {
        let Some(t) = tcol else {
            let p = if req.start.is_some() {
                "start"
            } else if req.end.is_some() {
                "end"
            } else {
                "order"
            };
            return Err(ParamError::new(p, format!("table {} has no time column", schema.table)));
        };
        let Kind::Time(unit) = t.kind else {
            return Err(ParamError::new("time_column", format!("{:?} is not a time column", t.name)));
        };
        let q = quote_ident(&t.name);
        // As the engine: [floor(start), ceil(end)) in the column's unit.
        if let Some(s) = req.start {
            conds.push(format!("{q} >= {}", nanos_literal(unit.from_seconds(s), unit)));
        }
        if let Some(e) = req.end {
            let mut t1 = unit.from_seconds(e);
            if (t1 as f64) * unit.seconds_per_unit() < e {
                t1 = t1.saturating_add(1);
            }
            conds.push(format!("{q} < {}", nanos_literal(t1, unit)));
        }
    }
    if !req.filters.is_empty() {
        let parts = req.filters.iter().map(|f| compile_filter(schema, f)).collect::<Result<Vec<_>, _>>()?;
        let any = matches!(req.filter_combination.as_deref(), Some("OR" | "or"));
        conds.push(format!("({})", parts.join(if any { " OR " } else { " AND " })));
    }
    if let Some(p) = req.sample.filter(|p| *p < 1.0) {
        conds.push(format!("rand() < {}", (p * 4_294_967_296.0) as u64));
    }
    let mut sql = format!("SELECT {select} FROM {table}");
    if !conds.is_empty() {
        sql.push_str(" WHERE ");
        sql.push_str(&conds.join(" AND "));
    }
    match (req.order, tcol) {
        (Order::Newest, Some(t)) => sql.push_str(&format!(" ORDER BY {} DESC", quote_ident(&t.name))),
        (Order::Oldest, Some(t)) => sql.push_str(&format!(" ORDER BY {} ASC", quote_ident(&t.name))),
        _ => {}
    }
    if let Some(l) = req.limit {
        sql.push_str(&format!(" LIMIT {l}"));
    }
    sql.push(' ');
    sql.push_str(&settings(max_seconds));
    sql.push_str(" FORMAT ArrowStream");
    Ok(sql)
}

/// Where ClickHouse listens and who we are to it.
#[derive(Debug, Clone)]
pub struct ChConfig {
    /// `http://host:port` (plain HTTP; put a TLS proxy in front for remote servers).
    pub url: String,
    /// The table, `table` or `database.table`.
    pub table: String,
    /// `X-ClickHouse-User`.
    pub user: Option<String>,
    /// `X-ClickHouse-Key`.
    pub password: Option<String>,
}

/// An HTTP response from ClickHouse: status, and the body as a reader (de-chunked).
pub struct ChResponse {
    /// HTTP status.
    pub status: u16,
    /// The body.
    pub body: Box<dyn Read + Send>,
}

fn host_port(url: &str) -> Result<(String, String), String> {
    let rest = url.strip_prefix("http://").ok_or_else(|| format!("{url:?}: only http:// URLs are supported"))?;
    let (hostport, path) = rest.split_once('/').map(|(h, p)| (h, format!("/{p}"))).unwrap_or((rest, "/".into()));
    if hostport.is_empty() || !hostport.chars().all(|c| c.is_ascii_alphanumeric() || ".-:[]_".contains(c)) {
        return Err(format!("{url:?}: bad host"));
    }
    let hostport = if hostport.rsplit_once(':').is_some_and(|(_, p)| p.chars().all(|c| c.is_ascii_digit())) {
        hostport.to_string()
    } else {
        format!("{hostport}:80")
    };
    Ok((hostport, path))
}

/// Posts `sql` to ClickHouse.
pub fn post(cfg: &ChConfig, sql: &str, timeout: Duration) -> Result<ChResponse, String> {
    let (hostport, path) = host_port(&cfg.url)?;
    let mut s =
        TcpStream::connect(&hostport).map_err(|e| format!("cannot connect to ClickHouse at {hostport}: {e}"))?;
    s.set_read_timeout(Some(timeout)).map_err(|e| e.to_string())?;
    s.set_write_timeout(Some(timeout)).map_err(|e| e.to_string())?;
    let mut head = format!(
        "POST {path} HTTP/1.1\r\nHost: {hostport}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n",
        sql.len()
    );
    for (h, v) in [("X-ClickHouse-User", &cfg.user), ("X-ClickHouse-Key", &cfg.password)] {
        if let Some(v) = v {
            if v.contains(['\r', '\n']) {
                return Err(format!("{h}: contains a line break"));
            }
            head.push_str(&format!("{h}: {v}\r\n"));
        }
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes()).and_then(|_| s.write_all(sql.as_bytes())).map_err(|e| format!("ClickHouse: {e}"))?;
    let mut r = BufReader::new(s);
    let mut line = String::new();
    r.read_line(&mut line).map_err(|e| format!("ClickHouse: {e}"))?;
    let status: u16 = line
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| format!("ClickHouse: bad status line {line:?}"))?;
    let (mut chunked, mut length) = (false, None);
    let mut total = 0usize;
    loop {
        let mut h = String::new();
        let n = r.read_line(&mut h).map_err(|e| format!("ClickHouse: {e}"))?;
        total += n;
        if n == 0 || total > 64 << 10 {
            return Err("ClickHouse: truncated or oversized response head".into());
        }
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            let (k, v) = (k.trim().to_ascii_lowercase(), v.trim());
            if k == "transfer-encoding" && v.eq_ignore_ascii_case("chunked") {
                chunked = true;
            } else if k == "content-length" {
                length = v.parse::<u64>().ok();
            }
        }
    }
    let body: Box<dyn Read + Send> = if chunked {
        Box::new(Dechunk { r, left: 0, done: false })
    } else if let Some(n) = length {
        Box::new(r.take(n))
    } else {
        Box::new(r)
    };
    Ok(ChResponse { status, body })
}

/// Reads an HTTP/1.1 chunked body.
struct Dechunk<R: BufRead> {
    r: R,
    left: usize,
    done: bool,
}

impl<R: BufRead> Read for Dechunk<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let bad = |m: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, m.to_string());
        if self.done || buf.is_empty() {
            return Ok(0);
        }
        if self.left == 0 {
            let mut line = String::new();
            self.r.by_ref().take(1024).read_line(&mut line)?;
            let size = line.trim().split(';').next().unwrap_or("");
            let n = usize::from_str_radix(size, 16).map_err(|_| bad("bad chunk size"))?;
            if n == 0 {
                self.done = true;
                return Ok(0);
            }
            self.left = n;
        }
        let want = buf.len().min(self.left);
        let got = self.r.read(&mut buf[..want])?;
        if got == 0 {
            return Err(bad("truncated chunk"));
        }
        self.left -= got;
        if self.left == 0 {
            let mut crlf = [0u8; 2];
            self.r.read_exact(&mut crlf)?;
        }
        Ok(got)
    }
}

/// Runs `sql` and returns the whole body as text (for `DESCRIBE`).
pub fn query_text(cfg: &ChConfig, sql: &str, timeout: Duration) -> Result<String, String> {
    let mut resp = post(cfg, sql, timeout)?;
    let mut body = Vec::new();
    resp.body.by_ref().take(4 << 20).read_to_end(&mut body).map_err(|e| format!("ClickHouse: {e}"))?;
    let text = String::from_utf8_lossy(&body).into_owned();
    if resp.status != 200 {
        return Err(format!("ClickHouse answered {}: {}", resp.status, text.trim()));
    }
    Ok(text)
}

/// The table's columns.
pub fn describe(cfg: &ChConfig, timeout: Duration) -> Result<ChSchema, String> {
    let sql = format!("DESCRIBE TABLE {} FORMAT TabSeparated", quote_table(&cfg.table)?);
    ChSchema::from_describe_tsv(&cfg.table, &query_text(cfg, &sql, timeout)?)
}

/// Follows Arrow IPC framing in a byte stream passed through, without decoding it:
/// counts messages and record batch rows, and knows whether the stream ended cleanly
/// (an end-of-stream marker, or EOF at a message boundary). A ClickHouse error text
/// in the middle of a stream breaks the framing and is caught here.
#[derive(Debug, Default)]
pub struct Framer {
    /// Bytes of the current message prefix / metadata gathered so far.
    head: Vec<u8>,
    /// Metadata length of the current message, once known.
    meta_len: Option<usize>,
    /// Body bytes still to skip.
    skip: u64,
    /// Rows in the record batches seen.
    pub rows: u64,
    /// Whether an end-of-stream marker was seen.
    pub ended: bool,
    /// A framing error.
    pub error: Option<String>,
}

/// Largest metadata block accepted by the framer.
const MAX_META: usize = 64 << 20;

impl Framer {
    /// Feeds bytes; returns false once the framing is broken.
    pub fn feed(&mut self, mut data: &[u8]) -> bool {
        while !data.is_empty() && self.error.is_none() {
            if self.ended {
                self.error = Some("bytes after the end-of-stream marker".into());
                break;
            }
            if self.skip > 0 {
                let n = (self.skip as usize).min(data.len());
                self.skip -= n as u64;
                data = &data[n..];
                continue;
            }
            match self.meta_len {
                None => {
                    let need = 8 - self.head.len().min(8);
                    let n = need.min(data.len());
                    self.head.extend_from_slice(&data[..n]);
                    data = &data[n..];
                    if self.head.len() < 8 {
                        // A legacy 4-byte prefix is handled once 8 bytes are here.
                        continue;
                    }
                    let first = u32::from_le_bytes([self.head[0], self.head[1], self.head[2], self.head[3]]);
                    let second = i32::from_le_bytes([self.head[4], self.head[5], self.head[6], self.head[7]]);
                    let (len, already) = if first == 0xFFFF_FFFF {
                        (second, Vec::new())
                    } else {
                        (first as i32, self.head[4..8].to_vec())
                    };
                    if len == 0 {
                        self.ended = true;
                        self.head.clear();
                        continue;
                    }
                    if len < 0 || len as usize > MAX_META {
                        self.error = Some(format!("bad message length {len}"));
                        break;
                    }
                    self.meta_len = Some(len as usize);
                    self.head = already;
                }
                Some(len) => {
                    let n = (len - self.head.len()).min(data.len());
                    self.head.extend_from_slice(&data[..n]);
                    data = &data[n..];
                    if self.head.len() == len {
                        match arrow_ipc::root_as_message(&self.head) {
                            Ok(m) => {
                                if let Some(b) = m.header_as_record_batch() {
                                    self.rows += b.length().max(0) as u64;
                                }
                                self.skip = m.bodyLength().max(0) as u64;
                            }
                            Err(e) => self.error = Some(format!("bad message metadata: {e}")),
                        }
                        self.meta_len = None;
                        self.head.clear();
                    }
                }
            }
        }
        self.error.is_none()
    }

    /// Whether the bytes so far form a complete stream.
    pub fn complete(&self) -> bool {
        self.error.is_none() && self.skip == 0 && self.meta_len.is_none() && self.head.is_empty()
    }
}

/// Streams ClickHouse's answer to `sql` into `out` as it arrives (`write` gets each
/// piece). Returns the rows framed, or an error once anything went wrong (then the
/// caller must not mark the response complete).
pub fn stream(
    resp: &mut ChResponse,
    deadline: Instant,
    mut write: impl FnMut(&[u8]) -> std::io::Result<()>,
) -> Result<u64, String> {
    let mut framer = Framer::default();
    let mut buf = vec![0u8; 64 << 10];
    loop {
        if Instant::now() > deadline {
            return Err("response time limit reached".into());
        }
        let n = resp.body.read(&mut buf).map_err(|e| format!("ClickHouse: {e}"))?;
        if n == 0 {
            break;
        }
        if !framer.feed(&buf[..n]) {
            return Err(format!("ClickHouse's stream broke: {}", framer.error.clone().unwrap_or_default()));
        }
        write(&buf[..n]).map_err(|e| e.to_string())?;
    }
    if !framer.complete() {
        return Err("ClickHouse's stream ended inside a message".into());
    }
    Ok(framer.rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema() -> ChSchema {
        ChSchema::new(
            "db.events",
            [
                ("timestamp", "DateTime64(3, 'UTC')"),
                ("s", "LowCardinality(Nullable(String))"),
                ("n", "Nullable(Float64)"),
                ("i", "Int64"),
                ("b", "Nullable(Bool)"),
                ("we`ird\\name", "String"),
                ("arr", "Array(String)"),
            ]
            .map(|(a, b)| (a.to_string(), b.to_string())),
        )
    }

    fn filt(json: &str) -> Result<String, ParamError> {
        let f: FilterSpec = serde_json::from_str(json).unwrap();
        compile_filter(&schema(), &f)
    }

    #[test]
    fn quoting() {
        assert_eq!(quote_ident("a`b\\c"), "`a\\`b\\\\c`");
        assert_eq!(quote_str("it's \\ `x` \n"), "'it\\'s \\\\ `x` \\n'");
        assert_eq!(quote_table("db.t").unwrap(), "`db`.`t`");
        assert!(quote_table("a.b.c").is_err());
        assert_eq!(number(5.0).unwrap(), "5");
        assert_eq!(number(-0.25).unwrap(), "-2.5e-1");
        assert_eq!(number(f64::NAN), None);
        assert_eq!(kind_of("LowCardinality(Nullable(String))"), Kind::Str);
        assert_eq!(kind_of("DateTime64(6, 'UTC')"), Kind::Time(TimeUnit::Microsecond));
        assert_eq!(kind_of("Nullable(UInt16)"), Kind::Num);
        assert_eq!(kind_of("Map(String, String)"), Kind::Other);
    }

    #[test]
    fn filters() {
        assert_eq!(
            filt(r#"{"column":"s","op":"=","value":"x'); DROP TABLE t; --"}"#).unwrap(),
            "(`s` = 'x\\'); DROP TABLE t; --')"
        );
        assert_eq!(filt(r#"{"column":"s","op":"!=","value":5}"#).unwrap(), "(`s` IS NULL OR NOT (`s` = '5'))");
        assert_eq!(filt(r#"{"column":"s","op":"in","value":[]}"#).unwrap(), "(0)");
        assert_eq!(filt(r#"{"column":"n","op":">=","value":"2.5"}"#).unwrap(), "(`n` >= 2.5e0)");
        assert_eq!(filt(r#"{"column":"b","op":"=","value":true}"#).unwrap(), "(`b` = true)");
        assert_eq!(filt(r#"{"column":"we`ird\\name","op":"exists"}"#).unwrap(), "(`we\\`ird\\\\name` IS NOT NULL)");
        assert_eq!(
            filt(r#"{"column":"timestamp","op":">","value":1793400000.0005}"#).unwrap(),
            "(`timestamp` > fromUnixTimestamp64Nano(1793400000000000000, 'UTC'))"
        );
        for bad in [
            r#"{"column":"n","op":"starts-with","value":"a"}"#,
            r#"{"column":"n","op":"=","value":"abc"}"#,
            r#"{"column":"n","op":"=","value":"NaN"}"#,
            r#"{"column":"b","op":">","value":true}"#,
            r#"{"column":"s","op":"in","value":"a"}"#,
            r#"{"column":"s","op":"exists","value":"a"}"#,
            r#"{"column":"arr","op":"=","value":"a"}"#,
            r#"{"column":"nope","op":"=","value":"a"}"#,
            r#"{"column":"s","op":"like","value":"a"}"#,
        ] {
            let e = filt(bad).unwrap_err();
            assert_eq!(e.param, "filters", "{bad}");
        }
    }

    #[test]
    fn whole_query() {
        let req = EventsRequest {
            start: Some(100.0),
            end: Some(200.5),
            filters: serde_json::from_str(
                r#"[{"column":"i","op":"<","value":3},{"column":"s","op":"contains","value":"%_"}]"#,
            )
            .unwrap(),
            filter_combination: Some("OR".into()),
            columns: Some(vec!["s".into(), "timestamp".into()]),
            limit: Some(500),
            order: Order::Newest,
            sample: Some(0.5),
            ..Default::default()
        };
        let sql = compile(&schema(), &req, 30).unwrap();
        assert_eq!(
            sql,
            "SELECT `s`, `timestamp` FROM `db`.`events` WHERE `timestamp` >= fromUnixTimestamp64Nano(100000000000, 'UTC') \
AND `timestamp` < fromUnixTimestamp64Nano(200500000000, 'UTC') AND ((`i` < 3) OR (position(`s`, '%_') > 0)) \
AND rand() < 2147483648 ORDER BY `timestamp` DESC LIMIT 500 SETTINGS output_format_arrow_string_as_string = 1, \
output_format_arrow_low_cardinality_as_dictionary = 1, max_execution_time = 30 FORMAT ArrowStream"
        );
        let e = compile(&schema(), &EventsRequest { columns: Some(vec!["x".into()]), ..Default::default() }, 30);
        assert_eq!(e.unwrap_err().param, "columns");
    }

    #[test]
    fn framer_follows_streams() {
        let bytes =
            crate::demo::ipc_stream(&crate::demo::DemoOptions { rows: 3000, batch_rows: 1000, ..Default::default() })
                .unwrap();
        for cut in [1, 7, 1000, bytes.len()] {
            let mut f = Framer::default();
            for piece in bytes.chunks(cut) {
                assert!(f.feed(piece));
            }
            assert!(f.complete() && f.ended, "cut {cut}");
            assert_eq!(f.rows, 3000);
        }
        let mut f = Framer::default();
        assert!(f.feed(&bytes[..bytes.len() - 100]));
        assert!(!f.complete());
        let mut f = Framer::default();
        let mut broken = bytes[..500].to_vec();
        broken.extend_from_slice(b"Code: 241. DB::Exception: Memory limit exceeded");
        let ok = f.feed(&broken) && f.feed(&bytes[500..]);
        assert!(!ok || !f.complete());
    }
}
