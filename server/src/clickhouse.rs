//! ClickHouse as a source, over its HTTP interface: push-down compiled to SQL with
//! `FORMAT ArrowStream`, and the Arrow stream proxied to the client as it arrives.
//!
//! Quoting: identifiers in backquotes with `\` and `` ` `` escaped by a backslash;
//! string literals in single quotes with `\` and `'` escaped by a backslash; numbers are
//! written from `f64`s (finite only), times as integer nanoseconds. No text from a
//! request reaches the SQL any other way.
//!
//! Semantics follow the engine's filters ([`sightline::query::Filters`]): positive
//! operators never match a null, their negations do (`c IS NULL OR NOT (...)`); strings
//! compare by bytes; numbers numerically (a numeric string is accepted); time columns
//! in unix seconds, compared in the column's own unit exactly as the engine does.

use std::time::{Duration, Instant};

use sightline::column::TimeUnit;
use sightline::query::spec::{FilterSpec, Value};

use crate::source::{EventsRequest, Order, ParamError, SAMPLE_RATE};

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
pub fn unwrap_type(t: &str) -> &str {
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

use sightline::query::filter::FILTER_OPS as OPS;

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
        // NaN is missing, like a null, as the engine treats it in every numeric filter
        // (the other operators agree on NaN without help: it equals and orders with nothing).
        let float = col.kind == Kind::Num && matches!(unwrap_type(&col.ch_type).get(..5), Some("Float" | "BFloa"));
        return Ok(match (op == "exists", float) {
            (true, false) => format!("({c} IS NOT NULL)"),
            (false, false) => format!("({c} IS NULL)"),
            (true, true) => format!("({c} IS NOT NULL AND NOT isNaN({c}))"),
            (false, true) => format!("({c} IS NULL OR isNaN({c}))"),
        });
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
    // A sample writes the rate it applied into `SampleRate` (times the row's own rate),
    // so the engine's weighted calculations answer for every matching row.
    let select = match req.sample.filter(|p| *p < 1.0) {
        None => select,
        Some(p) => {
            let factor = format!("{:?}", 1.0 / p);
            let own = schema.column(SAMPLE_RATE).filter(|c| c.kind == Kind::Num);
            let rate = match own {
                Some(c) => {
                    let v = format!("toFloat64({})", quote_ident(&c.name));
                    format!("ifNull(if({v} >= 1 AND isFinite({v}), {v}, 1), 1) * {factor}")
                }
                None => factor,
            };
            let rate = format!("toFloat64({rate}) AS {}", quote_ident(SAMPLE_RATE));
            let names: Vec<&str> = match &req.columns {
                None => schema.columns.iter().map(|c| c.name.as_str()).collect(),
                Some(cols) => cols.iter().map(String::as_str).collect(),
            };
            let mut parts: Vec<String> = names.iter().filter(|n| **n != SAMPLE_RATE).map(|n| quote_ident(n)).collect();
            parts.push(rate);
            parts.join(", ")
        }
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
            return Err(ParamError::new(req.time_param(), format!("table {} has no time column", schema.table)));
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

/// Where ClickHouse listens and who we are to it. `Debug` never shows the password.
#[derive(Clone)]
pub struct ChConfig {
    /// `http://host:port` or `https://host:port` (ClickHouse's HTTP interface).
    pub url: String,
    /// The table, `table` or `database.table`.
    pub table: String,
    /// `X-ClickHouse-User`.
    pub user: Option<String>,
    /// `X-ClickHouse-Key`.
    pub password: Option<String>,
}

impl std::fmt::Debug for ChConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChConfig")
            .field("url", &self.url)
            .field("table", &self.table)
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// What went wrong talking to ClickHouse. Each kind is answered with its own status:
/// the server cannot be reached (503), did not answer in time (504), refused the query
/// (502, with ClickHouse's message), or cut a stream it had started (the response,
/// already under way, is aborted). No variant carries the password or a URL's userinfo.
#[derive(Debug, thiserror::Error)]
pub enum ChError {
    /// The URL or credentials cannot be used.
    #[error("ClickHouse configuration: {0}")]
    Config(String),
    /// No connection: refused, no route, name not resolved, TLS failed.
    #[error("ClickHouse at {url} is unreachable: {reason}")]
    Unreachable {
        /// The server, without userinfo.
        url: String,
        /// Why.
        reason: String,
    },
    /// Connected, but no answer in time.
    #[error("ClickHouse at {url} did not answer within {seconds} s")]
    Timeout {
        /// The server, without userinfo.
        url: String,
        /// The time allowed.
        seconds: u64,
    },
    /// ClickHouse answered with an error status.
    #[error("ClickHouse answered {status}: {message}")]
    Refused {
        /// ClickHouse's HTTP status.
        status: u16,
        /// Its message (the first 64 KiB).
        message: String,
    },
    /// The answer broke after it had started: the connection was lost, the time limit
    /// passed, or the bytes stopped being an Arrow IPC stream (ClickHouse writes an
    /// exception's text into a stream it cannot finish).
    #[error("ClickHouse's stream was cut: {0}")]
    Cut(String),
}

impl ChError {
    /// The HTTP status to answer with.
    pub fn status(&self) -> u16 {
        match self {
            ChError::Config(_) => 500,
            ChError::Unreachable { .. } => 503,
            ChError::Timeout { .. } => 504,
            ChError::Refused { .. } | ChError::Cut(_) => 502,
        }
    }
}

/// A connection pool to one ClickHouse server (reqwest over hyper; rustls for https).
#[derive(Clone, Debug)]
pub struct ChClient {
    config: ChConfig,
    url: reqwest::Url,
    /// `scheme://host:port` only, for messages.
    shown: String,
    http: reqwest::Client,
    timeout: Duration,
}

/// Longest wait for a TCP (and TLS) connection to ClickHouse.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Most bytes of an error answer kept for the message.
const MAX_ERROR_BYTES: usize = 64 << 10;

impl ChClient {
    /// A client for `config`; `timeout` bounds every wait for bytes from ClickHouse.
    pub fn new(config: &ChConfig, timeout: Duration) -> Result<ChClient, ChError> {
        let mut url = reqwest::Url::parse(&config.url).map_err(|e| ChError::Config(format!("--clickhouse: {e}")))?;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
            return Err(ChError::Config("--clickhouse takes an http:// or https:// URL".into()));
        }
        // Credentials go in headers, never in the URL (which errors may show).
        let (mut user, mut password) = (config.user.clone(), config.password.clone());
        if !url.username().is_empty() {
            user = user.or_else(|| Some(url.username().to_string()));
            password = password.or_else(|| url.password().map(str::to_string));
            let _ = url.set_username("");
            let _ = url.set_password(None);
        }
        for (h, v) in [("user", &user), ("password", &password)] {
            if v.as_deref().is_some_and(|v| v.contains(['\r', '\n'])) {
                return Err(ChError::Config(format!("the ClickHouse {h} contains a line break")));
            }
        }
        let shown = format!("{}://{}", url.scheme(), url.host_str().unwrap_or(""))
            + &url.port().map(|p| format!(":{p}")).unwrap_or_default();
        let http = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .read_timeout(timeout)
            .pool_idle_timeout(Duration::from_secs(30))
            // Responses are not redirected anywhere: a redirect would carry the credentials.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| ChError::Config(e.to_string()))?;
        let config = ChConfig { url: url.to_string(), user, password, ..config.clone() };
        Ok(ChClient { config, url, shown, http, timeout })
    }

    /// The configuration (the URL without userinfo).
    pub fn config(&self) -> &ChConfig {
        &self.config
    }

    fn classify(&self, e: reqwest::Error) -> ChError {
        if e.is_timeout() {
            ChError::Timeout { url: self.shown.clone(), seconds: self.timeout.as_secs() }
        } else if e.is_connect() {
            // The source chain says why (refused, DNS, TLS); the URL is left out.
            let mut reason = String::new();
            let mut src: Option<&dyn std::error::Error> = std::error::Error::source(&e);
            while let Some(s) = src {
                reason = s.to_string();
                src = s.source();
            }
            ChError::Unreachable { url: self.shown.clone(), reason }
        } else {
            ChError::Cut(e.without_url().to_string())
        }
    }

    /// Posts `sql`; an answer with status 200, or the error.
    pub async fn post(&self, sql: String) -> Result<reqwest::Response, ChError> {
        let mut req = self.http.post(self.url.clone()).header("Content-Type", "text/plain; charset=utf-8").body(sql);
        if let Some(u) = &self.config.user {
            req = req.header("X-ClickHouse-User", u);
        }
        if let Some(p) = &self.config.password {
            let mut v =
                reqwest::header::HeaderValue::from_str(p).map_err(|_| ChError::Config("bad password".into()))?;
            v.set_sensitive(true);
            req = req.header("X-ClickHouse-Key", v);
        }
        let resp = req.send().await.map_err(|e| self.classify(e))?;
        let status = resp.status().as_u16();
        if status != 200 {
            let mut body = Vec::new();
            let mut resp = resp;
            while let Ok(Some(piece)) = resp.chunk().await {
                body.extend_from_slice(&piece);
                if body.len() >= MAX_ERROR_BYTES {
                    body.truncate(MAX_ERROR_BYTES);
                    break;
                }
            }
            return Err(ChError::Refused { status, message: String::from_utf8_lossy(&body).trim().to_string() });
        }
        Ok(resp)
    }

    /// Runs `sql` and returns the whole answer as text (for `DESCRIBE`; at most 4 MiB).
    pub async fn query_text(&self, sql: String) -> Result<String, ChError> {
        self.query_text_up_to(sql, 4 << 20).await
    }

    /// Runs `sql` and returns the whole answer as text, at most `max` bytes of it.
    pub async fn query_text_up_to(&self, sql: String, max: usize) -> Result<String, ChError> {
        let mut resp = self.post(sql).await?;
        let mut body = Vec::new();
        while let Some(piece) = resp.chunk().await.map_err(|e| self.classify(e))? {
            body.extend_from_slice(&piece);
            if body.len() > max {
                return Err(ChError::Cut(format!("answer larger than {} MiB", max >> 20)));
            }
        }
        Ok(String::from_utf8_lossy(&body).into_owned())
    }

    /// The table's columns.
    pub async fn describe(&self) -> Result<ChSchema, ChError> {
        let table = &self.config.table;
        let sql = format!("DESCRIBE TABLE {} FORMAT TabSeparated", quote_table(table).map_err(ChError::Config)?);
        ChSchema::from_describe_tsv(table, &self.query_text(sql).await?).map_err(ChError::Cut)
    }

    /// ClickHouse's answer to `sql` (an Arrow IPC stream), passed through as it arrives
    /// and checked by the engine's own framer and decoder ([`sightline::ingest::Decoder`]):
    /// a stream that breaks (bytes that are not Arrow, an end inside a message, the
    /// deadline) ends with [`ChError::Cut`], so the response is aborted, never completed.
    pub fn stream(
        &self,
        resp: reqwest::Response,
        deadline: Instant,
    ) -> impl futures_util::Stream<Item = Result<bytes::Bytes, ChError>> + Send + 'static {
        use futures_util::StreamExt;
        let this = self.clone();
        let state = (resp, Checker::default(), false);
        futures_util::stream::unfold(state, move |(mut resp, mut check, done)| {
            let this = this.clone();
            async move {
                if done {
                    return None;
                }
                let left = deadline.saturating_duration_since(Instant::now());
                let next = match tokio::time::timeout(left, resp.chunk()).await {
                    Err(_) => Err(ChError::Cut("response time limit reached".into())),
                    Ok(Err(e)) => Err(match this.classify(e) {
                        ChError::Cut(m) => ChError::Cut(m),
                        other => ChError::Cut(other.to_string()),
                    }),
                    Ok(Ok(None)) => match check.finish() {
                        Ok(()) => return None,
                        Err(e) => Err(e),
                    },
                    Ok(Ok(Some(piece))) => check.feed(&piece).map(|_| piece),
                };
                let failed = next.is_err();
                Some((next, (resp, check, failed)))
            }
        })
        .boxed()
    }
}

/// Follows the Arrow IPC stream passed through, with the decoder the browser runs:
/// whatever it would refuse, the server refuses to pass on as complete.
#[derive(Default)]
pub struct Checker {
    decoder: sightline::ingest::Decoder,
    /// Rows in the record batches seen.
    pub rows: u64,
    ended: bool,
}

impl Checker {
    /// Feeds bytes.
    pub fn feed(&mut self, piece: &[u8]) -> Result<(), ChError> {
        let rows = &mut self.rows;
        self.decoder
            .push(piece, &mut |ev, _, _| {
                if let sightline::ingest::Event::Batch(b) = ev {
                    *rows += b.num_rows() as u64;
                }
                Ok(())
            })
            .map_err(|e| ChError::Cut(format!("not an Arrow IPC stream: {e}")))
    }

    /// The stream ended: complete, or cut inside a message.
    pub fn finish(&mut self) -> Result<(), ChError> {
        if self.ended {
            return Ok(());
        }
        self.ended = true;
        self.decoder.finish().map_err(|e| ChError::Cut(format!("ClickHouse's stream ended early: {e}")))
    }
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
            "SELECT `s`, `timestamp`, toFloat64(2.0) AS `SampleRate` FROM `db`.`events` WHERE `timestamp` >= fromUnixTimestamp64Nano(100000000000, 'UTC') \
AND `timestamp` < fromUnixTimestamp64Nano(200500000000, 'UTC') AND ((`i` < 3) OR (position(`s`, '%_') > 0)) \
AND rand() < 2147483648 ORDER BY `timestamp` DESC LIMIT 500 SETTINGS output_format_arrow_string_as_string = 1, \
output_format_arrow_low_cardinality_as_dictionary = 1, max_execution_time = 30 FORMAT ArrowStream"
        );
        let e = compile(&schema(), &EventsRequest { columns: Some(vec!["x".into()]), ..Default::default() }, 30);
        assert_eq!(e.unwrap_err().param, "columns");
    }

    #[test]
    fn checker_follows_streams() {
        let bytes = sightline::demo::ipc_stream(&sightline::demo::DemoOptions {
            rows: 3000,
            batch_rows: 1000,
            ..Default::default()
        })
        .unwrap();
        for cut in [1, 7, 1000, bytes.len()] {
            let mut c = Checker::default();
            for piece in bytes.chunks(cut) {
                c.feed(piece).unwrap();
            }
            c.finish().unwrap();
            assert_eq!(c.rows, 3000, "cut {cut}");
        }
        let mut c = Checker::default();
        c.feed(&bytes[..bytes.len() - 100]).unwrap();
        assert!(matches!(c.finish(), Err(ChError::Cut(_))));
        let mut c = Checker::default();
        let mut broken = bytes[..500].to_vec();
        broken.extend_from_slice(b"Code: 241. DB::Exception: Memory limit exceeded");
        let ok = c.feed(&broken).and_then(|_| c.feed(&bytes[500..])).and_then(|_| c.finish());
        assert!(matches!(ok, Err(ChError::Cut(_))));
    }

    #[test]
    fn credentials_never_shown() {
        let cfg = ChConfig {
            url: "https://alice:pw-in-url@ch.example:8443/".into(),
            table: "t".into(),
            user: None,
            password: Some("s3cret-key".into()),
        };
        let c = ChClient::new(&cfg, Duration::from_secs(1)).unwrap();
        let shown = format!("{c:?} {cfg:?}");
        assert!(!shown.contains("s3cret-key") && !c.config().url.contains("pw-in-url"), "{shown}");
        assert_eq!(c.config().user.as_deref(), Some("alice"));
        assert_eq!(c.config().password.as_deref(), Some("s3cret-key"));
        let e = ChError::Unreachable { url: c.shown.clone(), reason: "refused".into() };
        assert_eq!(e.to_string(), "ClickHouse at https://ch.example:8443 is unreachable: refused");
        assert_eq!(e.status(), 503);
        assert!(ChClient::new(&ChConfig { url: "ftp://x".into(), ..cfg.clone() }, Duration::from_secs(1)).is_err());
    }
}
