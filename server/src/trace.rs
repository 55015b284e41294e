//! One trace by its id: every span of it, oldest first, as the events JSON the browser's
//! `<sightline-trace>` draws (`{ trace_id, columns, rows, row_ids, matched, truncated }`).
//!
//! Every source answers through the engine's own events query over a dataset of the
//! trace's spans: a file's table is filtered where it is; ClickHouse selects the trace's
//! rows (`WHERE trace_id = '…'`, the column quoted, the id a string literal) and the
//! engine ingests them; the demo, whose rows are requests, expands the request with that
//! id into the spans that served it ([`sightline::demo::trace`]).

use arrow_array::RecordBatch;
use arrow_ipc::writer::StreamWriter;
use serde_json::{json, Value};
use sightline::demo::{trace as demo_trace, DemoOptions};
use sightline::query::events::{events, EventsSpec};
use sightline::query::spec::{FilterSpec, Value as FilterValue};
use sightline::Dataset;

use crate::clickhouse::ChError;
use crate::source::{EventsRequest, Order, ParamError};

/// Most spans sent for one trace.
pub const MAX_SPANS: usize = 10_000;
/// Most bytes read from ClickHouse for one trace.
const MAX_TRACE_BYTES: usize = 64 << 20;

/// Names a trace-id column has, most common first (the demo and Sightline's own,
/// Honeycomb's, OpenTelemetry's export to ClickHouse).
pub const TRACE_COLUMNS: [&str; 4] = ["trace_id", "trace.trace_id", "TraceId", "traceId"];

/// The trace id as given: 1 to 128 characters, letters, digits, `-` and `_` (hex ids,
/// UUIDs, and the ids test fixtures make up).
pub fn check_id(id: &str) -> Result<(), ParamError> {
    let ok =
        !id.is_empty() && id.len() <= 128 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(ParamError::new("id", "a trace id is 1 to 128 letters, digits, '-' or '_'"))
    }
}

/// The trace-id column: `given`, or the first of [`TRACE_COLUMNS`] in `names`.
pub fn trace_column<'a>(given: Option<&'a str>, names: impl Fn(&str) -> bool) -> Result<String, ParamError> {
    match given {
        Some(c) if names(c) => Ok(c.to_string()),
        Some(c) => Err(ParamError::new("trace_column", format!("no column {c:?} in this source"))),
        None => TRACE_COLUMNS.iter().find(|c| names(c)).map(|c| c.to_string()).ok_or_else(|| {
            ParamError::new(
                "trace_column",
                format!("this source has no trace id column (looked for {}); name it", TRACE_COLUMNS.join(", ")),
            )
        }),
    }
}

fn filter(column: &str, id: &str) -> FilterSpec {
    FilterSpec { column: column.to_string(), op: "=".into(), value: Some(FilterValue::String(id.to_string())) }
}

/// The spans of trace `id` in `ds`, oldest first, as JSON.
pub fn spans_json(ds: &Dataset, column: &str, id: &str) -> Result<Value, sightline::Error> {
    let spec = EventsSpec {
        filters: vec![filter(column, id)],
        order: Some("oldest".into()),
        limit: Some(MAX_SPANS),
        ..Default::default()
    };
    let e = events(ds, &spec)?;
    let truncated = e.matched > e.rows.len() as u64;
    let mut v = serde_json::to_value(&e).map_err(|e| sightline::Error::State(e.to_string()))?;
    if let Some(o) = v.as_object_mut() {
        o.insert("trace_id".into(), json!(id));
        o.insert("trace_column".into(), json!(column));
        o.insert("truncated".into(), json!(truncated));
    }
    Ok(v)
}

/// A dataset of `batch` (the engine ingests the same Arrow IPC bytes the browser would).
fn dataset_of(batch: &RecordBatch) -> Result<Dataset, sightline::Error> {
    let state = |e: arrow_schema::ArrowError| sightline::Error::State(format!("trace batch: {e}"));
    let mut w = StreamWriter::try_new(Vec::new(), &batch.schema()).map_err(state)?;
    w.write(batch).map_err(state)?;
    w.finish().map_err(state)?;
    let bytes = w.into_inner().map_err(state)?;
    dataset_of_ipc(&bytes)
}

/// A dataset of an Arrow IPC stream.
pub fn dataset_of_ipc(bytes: &[u8]) -> Result<Dataset, sightline::Error> {
    let mut ds = Dataset::new();
    ds.push(bytes)?;
    ds.finish()?;
    Ok(ds)
}

/// The demo trace `id` of the stream `opts` generates, or `None` when no request has it.
pub fn demo_spans(opts: &DemoOptions, id: &str) -> Result<Option<Value>, sightline::Error> {
    let Some(request) = demo_trace::find_request(opts, id)? else { return Ok(None) };
    let ds = dataset_of(&demo_trace::spans(&request)?)?;
    spans_json(&ds, "trace_id", id).map(Some)
}

/// The request ClickHouse answers with the trace's rows, oldest first.
pub fn clickhouse_request(column: &str, id: &str) -> EventsRequest {
    EventsRequest {
        filters: vec![filter(column, id)],
        order: Order::Oldest,
        limit: Some(MAX_SPANS as u64 + 1),
        ..Default::default()
    }
}

/// Reads ClickHouse's Arrow answer whole (a trace is small; at most 64 MiB).
pub async fn read_all(mut resp: reqwest::Response) -> Result<Vec<u8>, ChError> {
    let mut body = Vec::new();
    while let Some(piece) = resp.chunk().await.map_err(|e| ChError::Cut(e.without_url().to_string()))? {
        body.extend_from_slice(&piece);
        if body.len() > MAX_TRACE_BYTES {
            return Err(ChError::Cut(format!("a trace larger than {} MiB", MAX_TRACE_BYTES >> 20)));
        }
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_columns() {
        assert!(check_id("0af7651916cd43dd8448eb211c80319c").is_ok());
        assert!(check_id("a'b").is_err());
        assert!(check_id("").is_err());
        let has = |c: &str| c == "trace.trace_id" || c == "x";
        assert_eq!(trace_column(None, has).unwrap(), "trace.trace_id");
        assert_eq!(trace_column(Some("x"), has).unwrap(), "x");
        assert!(trace_column(Some("y"), has).unwrap_err().to_string().contains("\"y\""));
        assert!(trace_column(None, |_| false).unwrap_err().to_string().contains("looked for trace_id"));
    }

    #[test]
    fn demo_trace_is_the_request_with_its_spans() {
        let opts = DemoOptions { rows: 3_000, ..Default::default() };
        let ds = dataset_of_ipc(&sightline::demo::ipc_stream(&opts).unwrap()).unwrap();
        let row = events(
            &ds,
            &EventsSpec {
                limit: Some(1),
                columns: Some(vec!["trace_id".into(), "duration_ms".into()]),
                ..Default::default()
            },
        )
        .unwrap();
        let id = serde_json::to_value(&row.rows[0][0]).unwrap();
        let id = id.as_str().unwrap();
        let v = demo_spans(&opts, id).unwrap().expect("found");
        let cols: Vec<&str> = v["columns"].as_array().unwrap().iter().map(|c| c.as_str().unwrap()).collect();
        let rows = v["rows"].as_array().unwrap();
        assert!(rows.len() >= 3);
        let at = |name: &str| cols.iter().position(|c| *c == name).unwrap();
        assert!(rows[0][at("parent_span_id")].is_null(), "the root first");
        assert_eq!(rows[0][at("duration_ms")], serde_json::to_value(&row.rows[0][1]).unwrap());
        assert!(rows.iter().all(|r| r[at("trace_id")] == json!(id)));
        assert_eq!(v["truncated"], json!(false));
        assert!(demo_spans(&opts, "ffffffffffffffffffffffffffffffff").unwrap().is_none());
    }
}
