//! The spans of one demo request: a request fans out from the gateway into the API
//! handler, which checks the token, reads the cache, queries the database once per
//! `db_calls` and calls the service its endpoint depends on.
//!
//! Spans are a pure function of the request's row (its trace id seeds their jitter), so a
//! trace fetched twice is the same trace, and they agree with the row: the root lasts
//! `duration_ms`, the database spans add up to `db_duration_ms`, and the span that failed
//! carries the row's `error`.

use std::sync::Arc;

use arrow_array::builder::{BooleanBuilder, Float64Builder, StringBuilder, TimestampMicrosecondBuilder, UInt16Builder};
use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int16Type, Int32Type, Int8Type, TimestampMillisecondType, UInt16Type};
use arrow_array::{Array, RecordBatch};
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};

use super::{gen_err, DemoOptions, Generator, Rng, ERRORS_4XX, ERRORS_5XX};
use crate::error::{Error, Result};

/// Most spans one trace has (the root, the handler, auth, cache, the database calls and
/// one downstream call).
pub const MAX_SPANS: usize = 96;

/// The schema of a demo trace: OpenTelemetry's span fields under the names Sightline's
/// trace view looks for first.
pub fn span_schema() -> SchemaRef {
    let mut meta = std::collections::HashMap::new();
    meta.insert("sightline.source".to_string(), "demo-trace".to_string());
    Arc::new(
        Schema::new(vec![
            Field::new("timestamp", DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())), false),
            Field::new("duration_ms", DataType::Float64, false),
            Field::new("trace_id", DataType::Utf8, false),
            Field::new("span_id", DataType::Utf8, false),
            Field::new("parent_span_id", DataType::Utf8, true),
            Field::new("service_name", DataType::Utf8, false),
            Field::new("name", DataType::Utf8, false),
            Field::new("status_code", DataType::UInt16, true),
            Field::new("error", DataType::Utf8, true),
            Field::new("customer_id", DataType::Utf8, true),
            Field::new("build_id", DataType::Utf8, true),
            Field::new("host", DataType::Utf8, true),
            Field::new("db.statement", DataType::Utf8, true),
            Field::new("cache.hit", DataType::Boolean, true),
        ])
        .with_metadata(meta),
    )
}

/// The request a trace starts from: one row of the demo stream.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    /// Start, unix milliseconds.
    pub t_ms: i64,
    /// How long it took.
    pub duration_ms: f64,
    /// Route.
    pub endpoint: String,
    /// HTTP method.
    pub method: String,
    /// HTTP status.
    pub status_code: u16,
    /// Customer.
    pub customer_id: String,
    /// Build that served it.
    pub build_id: String,
    /// Host that served it.
    pub host: String,
    /// Error message, if it failed.
    pub error: Option<String>,
    /// 32 hex digits.
    pub trace_id: String,
    /// Database queries made.
    pub db_calls: i32,
    /// Their total time.
    pub db_duration_ms: Option<f64>,
    /// Cache lookup result, where the endpoint reads a cache.
    pub cache_hit: Option<bool>,
}

/// Finds the request with `trace_id` in the demo stream of `opts` (generating it until
/// found: a trace is looked up, not kept).
pub fn find_request(opts: &DemoOptions, trace_id: &str) -> Result<Option<Request>> {
    if trace_id.len() != 32 || !trace_id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok(None);
    }
    for batch in Generator::new(*opts) {
        let batch = batch?;
        let ids = batch.column(11).as_string::<i32>();
        if let Some(i) = (0..ids.len()).find(|&i| ids.value(i) == trace_id) {
            return request_at(&batch, i).map(Some);
        }
    }
    Ok(None)
}

fn request_at(b: &RecordBatch, i: usize) -> Result<Request> {
    let bad = |what: &str| Error::State(format!("demo trace: column {what} has an unexpected type"));
    let dict8 = |k: usize, what: &str| -> Result<String> {
        let d = b.column(k).as_dictionary_opt::<Int8Type>().ok_or_else(|| bad(what))?;
        let key = d.keys().value(i) as usize;
        Ok(d.values().as_string_opt::<i32>().ok_or_else(|| bad(what))?.value(key).to_string())
    };
    let host = b.column(9).as_dictionary_opt::<Int16Type>().ok_or_else(|| bad("host"))?;
    let host_key = host.keys().value(i) as usize;
    let error = b.column(10).as_string::<i32>();
    let db_ms = b.column(14).as_primitive_opt::<Float64Type>().ok_or_else(|| bad("db_duration_ms"))?;
    let cache = b.column(16).as_boolean_opt().ok_or_else(|| bad("cache_hit"))?;
    Ok(Request {
        t_ms: b.column(0).as_primitive_opt::<TimestampMillisecondType>().ok_or_else(|| bad("timestamp"))?.value(i),
        duration_ms: b.column(1).as_primitive_opt::<Float64Type>().ok_or_else(|| bad("duration_ms"))?.value(i),
        endpoint: dict8(2, "endpoint")?,
        method: dict8(3, "method")?,
        status_code: b.column(4).as_primitive_opt::<UInt16Type>().ok_or_else(|| bad("status_code"))?.value(i),
        customer_id: b.column(5).as_string::<i32>().value(i).to_string(),
        build_id: dict8(7, "build_id")?,
        host: host.values().as_string_opt::<i32>().ok_or_else(|| bad("host"))?.value(host_key).to_string(),
        error: error.is_valid(i).then(|| error.value(i).to_string()),
        trace_id: b.column(11).as_string::<i32>().value(i).to_string(),
        db_calls: b.column(13).as_primitive_opt::<Int32Type>().ok_or_else(|| bad("db_calls"))?.value(i),
        db_duration_ms: db_ms.is_valid(i).then(|| db_ms.value(i)),
        cache_hit: cache.is_valid(i).then(|| cache.value(i)),
    })
}

/// One span, times in microseconds from the request's start.
struct Span {
    parent: Option<usize>,
    service: &'static str,
    name: String,
    start_us: f64,
    dur_us: f64,
    status: Option<u16>,
    error: Option<String>,
    statement: Option<String>,
    cache_hit: Option<bool>,
    /// Carries the request's customer, build and host (the spans that served it).
    tagged: bool,
}

/// What the endpoint calls besides the database: (service, span name), by route.
fn downstream(route: &str) -> Option<(&'static str, &'static str)> {
    Some(match route {
        "/api/v2/search" => ("search-index", "search.query"),
        "/api/v2/export" | "/api/v2/reports" => ("render-worker", "render.document"),
        "/api/v2/payments" => ("payments-gateway", "charge.create"),
        "/api/v2/upload" => ("object-store", "object.put"),
        "/api/v2/webhooks" => ("queue", "queue.publish"),
        _ => return None,
    })
}

/// The table a route's queries read.
fn table_of(route: &str) -> &'static str {
    match route {
        r if r.contains("search") => "documents",
        r if r.contains("export") || r.contains("reports") => "report_rows",
        r if r.contains("orders") => "orders",
        r if r.contains("customers") => "customers",
        r if r.contains("invoices") => "invoices",
        r if r.contains("payments") => "payments",
        r if r.contains("login") || r.contains("session") => "sessions",
        r if r.contains("webhooks") => "webhook_endpoints",
        _ => "uploads",
    }
}

fn layout(r: &Request) -> Vec<Span> {
    let seed = u64::from_str_radix(&r.trace_id[..16.min(r.trace_id.len())], 16).unwrap_or(0);
    let mut rng = Rng::new(seed);
    let total = (r.duration_ms * 1000.0).max(1.0);
    let mut spans = Vec::new();
    let root_err = r.status_code >= 500;
    spans.push(Span {
        parent: None,
        service: "gateway",
        name: format!("{} {}", r.method, r.endpoint),
        start_us: 0.0,
        dur_us: total,
        status: Some(r.status_code),
        error: if root_err { r.error.clone() } else { None },
        statement: None,
        cache_hit: None,
        tagged: true,
    });
    // The gateway's own share: a little before and after the handler.
    let edge = (total * 0.03).min(400.0 + 200.0 * rng.f64());
    let (h0, h1) = (edge, total - edge * 0.6);
    let err = r.error.as_deref();
    let auth_fails = err == Some(ERRORS_4XX[0]);
    let auth_us = ((h1 - h0) * 0.06).min(600.0 + 900.0 * rng.f64());
    spans.push(Span {
        parent: Some(0),
        service: "auth",
        name: "token.verify".into(),
        start_us: h0,
        dur_us: auth_us,
        status: None,
        error: if auth_fails { r.error.clone() } else { None },
        statement: None,
        cache_hit: None,
        tagged: false,
    });
    let handler = spans.len();
    let hs = h0 + auth_us;
    spans.push(Span {
        parent: Some(0),
        service: "api",
        name: format!("{} {}", r.method, r.endpoint),
        start_us: hs,
        dur_us: (h1 - hs).max(1.0),
        status: Some(r.status_code),
        error: if err == Some(ERRORS_5XX[2]) || (err.is_some() && !auth_fails && r.status_code < 500) {
            r.error.clone()
        } else {
            None
        },
        statement: None,
        cache_hit: None,
        tagged: true,
    });
    if auth_fails {
        spans[handler].dur_us = (spans[handler].dur_us * 0.1).max(1.0);
        return spans;
    }
    let room = (h1 - hs).max(1.0);
    let mut at = hs + room * 0.02;
    if let Some(hit) = r.cache_hit {
        let d = (room * 0.03).min(300.0 + 500.0 * rng.f64());
        spans.push(Span {
            parent: Some(handler),
            service: "redis",
            name: "cache.get".into(),
            start_us: at,
            dur_us: d,
            status: None,
            error: None,
            statement: None,
            cache_hit: Some(hit),
            tagged: false,
        });
        at += d;
    }
    // Database calls one after the other, adding up to the row's database time (scaled
    // down only when they would not fit in the handler: the row's times are rounded).
    let calls = (r.db_calls.max(0) as usize).min(MAX_SPANS - 6);
    let db_total = r.db_duration_ms.unwrap_or(0.0) * 1000.0;
    let end = hs + room * 0.97;
    let fit = if db_total > (end - at) * 0.9 { (end - at) * 0.9 / db_total } else { 1.0 };
    let weights: Vec<f64> = (0..calls).map(|_| 0.5 + rng.f64()).collect();
    let wsum: f64 = weights.iter().sum::<f64>().max(1e-9);
    let down = downstream(&r.endpoint);
    let slack = (end - at - db_total * fit).max(0.0);
    // Time between calls: part of what the database does not explain.
    let gap = if calls > 0 { slack * if down.is_some() { 0.2 } else { 0.5 } / calls as f64 } else { 0.0 };
    let table = table_of(&r.endpoint);
    let deadlock = err == Some(ERRORS_5XX[1]);
    for (k, w) in weights.iter().enumerate() {
        let d = db_total * fit * w / wsum;
        let verb = if r.method == "GET" || k + 1 < calls { "SELECT" } else { "INSERT" };
        spans.push(Span {
            parent: Some(handler),
            service: "postgres",
            name: format!("{verb} {table}"),
            start_us: at,
            dur_us: d.max(1.0),
            status: None,
            error: if deadlock && k + 1 == calls { r.error.clone() } else { None },
            statement: Some(format!(
                "{verb} {} {table} WHERE customer_id = $1{}",
                if verb == "SELECT" { "* FROM" } else { "INTO" },
                if k > 0 { format!(" AND page = {k}") } else { String::new() }
            )),
            cache_hit: None,
            tagged: false,
        });
        at += d + gap;
    }
    if let Some((service, name)) = down {
        let d = (end - at).max(1.0) * (0.7 + 0.25 * rng.f64());
        let fails = err == Some(ERRORS_5XX[0]);
        spans.push(Span {
            parent: Some(handler),
            service,
            name: name.into(),
            start_us: at,
            dur_us: d,
            status: None,
            error: if fails { r.error.clone() } else { None },
            statement: None,
            cache_hit: None,
            tagged: false,
        });
    }
    spans
}

/// The spans of request `r` as one batch, in start order (a parent before its children).
pub fn spans(r: &Request) -> Result<RecordBatch> {
    let spans = layout(r);
    let n = spans.len();
    let ids: Vec<String> = (0..n).map(|k| span_id(&r.trace_id, k)).collect();
    let mut ts = TimestampMicrosecondBuilder::with_capacity(n).with_timezone("UTC");
    let mut dur = Float64Builder::with_capacity(n);
    let (mut trace, mut span, mut parent) = (StringBuilder::new(), StringBuilder::new(), StringBuilder::new());
    let (mut service, mut name, mut error) = (StringBuilder::new(), StringBuilder::new(), StringBuilder::new());
    let (mut customer, mut build, mut host, mut stmt) =
        (StringBuilder::new(), StringBuilder::new(), StringBuilder::new(), StringBuilder::new());
    let mut status = UInt16Builder::with_capacity(n);
    let mut cache = BooleanBuilder::with_capacity(n);
    for (k, s) in spans.iter().enumerate() {
        ts.append_value(r.t_ms * 1000 + s.start_us.round() as i64);
        dur.append_value((s.dur_us).round() / 1000.0);
        trace.append_value(&r.trace_id);
        span.append_value(&ids[k]);
        parent.append_option(s.parent.map(|p| ids[p].as_str()));
        service.append_value(s.service);
        name.append_value(&s.name);
        status.append_option(s.status);
        error.append_option(s.error.as_deref());
        customer.append_option(s.tagged.then_some(r.customer_id.as_str()));
        build.append_option(s.tagged.then_some(r.build_id.as_str()));
        host.append_option(s.tagged.then_some(r.host.as_str()));
        stmt.append_option(s.statement.as_deref());
        cache.append_option(s.cache_hit);
    }
    RecordBatch::try_new(
        span_schema(),
        vec![
            Arc::new(ts.finish()),
            Arc::new(dur.finish()),
            Arc::new(trace.finish()),
            Arc::new(span.finish()),
            Arc::new(parent.finish()),
            Arc::new(service.finish()),
            Arc::new(name.finish()),
            Arc::new(status.finish()),
            Arc::new(error.finish()),
            Arc::new(customer.finish()),
            Arc::new(build.finish()),
            Arc::new(host.finish()),
            Arc::new(stmt.finish()),
            Arc::new(cache.finish()),
        ],
    )
    .map_err(gen_err)
}

/// A span's id: 16 hex digits, fixed by the trace id and the span's place in it.
fn span_id(trace_id: &str, k: usize) -> String {
    let mut h: u64 = 0xCBF2_9CE4_8422_2325;
    for b in trace_id.bytes() {
        h = (h ^ b as u64).wrapping_mul(0x0100_0000_01B3);
    }
    let mut rng = Rng::new(h ^ (k as u64).wrapping_mul(0x9E37_79B9));
    format!("{:016x}", rng.next_u64())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn requests(opts: DemoOptions) -> Vec<Request> {
        let mut out = Vec::new();
        for b in Generator::new(opts) {
            let b = b.unwrap();
            for i in 0..b.num_rows() {
                out.push(request_at(&b, i).unwrap());
            }
        }
        out
    }

    #[test]
    fn spans_agree_with_their_request() {
        let opts = DemoOptions { rows: 20_000, ..Default::default() };
        let mut seen_errors = 0;
        for r in requests(opts) {
            let b = spans(&r).unwrap();
            let n = b.num_rows();
            assert!((3..=MAX_SPANS).contains(&n), "{n} spans");
            let start = b.column(0).as_primitive::<arrow_array::types::TimestampMicrosecondType>();
            let dur = b.column(1).as_primitive::<Float64Type>();
            let id = b.column(3).as_string::<i32>();
            let parent = b.column(4).as_string::<i32>();
            let service = b.column(5).as_string::<i32>();
            let error = b.column(8).as_string::<i32>();
            assert_eq!(parent.null_count(), 1, "one root");
            assert!((dur.value(0) - r.duration_ms).abs() < 0.002, "root lasts the request");
            assert_eq!(start.value(0), r.t_ms * 1000);
            // Every child lies inside its parent, which comes before it.
            for k in 1..n {
                let p = (0..k).find(|&j| id.value(j) == parent.value(k)).expect("parent first");
                let (s, e) = (start.value(k), start.value(k) as f64 + dur.value(k) * 1000.0);
                assert!(s >= start.value(p), "span {k} starts in its parent");
                assert!(e <= start.value(p) as f64 + dur.value(p) * 1000.0 + 2.0, "span {k} ends in its parent: {r:?}");
                assert!(start.value(k) >= start.value(k - 1), "start order");
            }
            let db: f64 = (0..n).filter(|&k| service.value(k) == "postgres").map(|k| dur.value(k)).sum();
            let db_spans = (0..n).filter(|&k| service.value(k) == "postgres").count();
            if r.error.as_deref() != Some(ERRORS_4XX[0]) {
                assert_eq!(db_spans, r.db_calls as usize);
                if let Some(want) = r.db_duration_ms {
                    assert!(db <= want + 0.01 * n as f64, "database spans fit the row's database time");
                }
            }
            if let Some(e) = &r.error {
                seen_errors += 1;
                assert!((1..n).any(|k| error.is_valid(k) && error.value(k) == e), "a child span carries {e}");
            }
        }
        assert!(seen_errors > 100);
    }

    #[test]
    fn a_trace_is_found_by_its_id_and_is_the_same_each_time() {
        let opts = DemoOptions { rows: 5_000, ..Default::default() };
        let all = requests(opts);
        let want = &all[4321];
        let got = find_request(&opts, &want.trace_id).unwrap().unwrap();
        assert_eq!(&got, want);
        assert_eq!(spans(&got).unwrap(), spans(want).unwrap());
        assert_eq!(find_request(&opts, "0123456789abcdef0123456789abcdef").unwrap(), None);
        assert_eq!(find_request(&opts, "not hex").unwrap(), None);
    }
}
