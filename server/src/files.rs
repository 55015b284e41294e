//! Local files as sources: Arrow IPC (stream or file format), Parquet, and NDJSON
//! events (one JSON object per line, such as OpenTelemetry-style JSON logs).
//!
//! NDJSON: nested objects are flattened to dotted column names (`resource.service.name`),
//! arrays are kept as their JSON text, and each column's type is inferred from all its
//! values: all booleans -> bool; all integers -> int64; all numbers -> float64; all
//! RFC 3339 strings -> timestamp (ns, UTC); integers (or integer strings) in a column
//! whose name ends in `UnixNano` / `unix_nano` -> timestamp (ns, UTC); anything else ->
//! string (numbers and booleans written as their JSON text). Nulls and missing keys are
//! nulls. Columns keep the order in which they first appear.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::builder::{BooleanBuilder, Float64Builder, Int64Builder, StringBuilder, TimestampNanosecondBuilder};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use serde_json::Value as J;

use crate::source::Table;

/// Rows per record batch when reading Parquet and NDJSON.
const BATCH_ROWS: usize = 65_536;
/// Longest NDJSON line.
const MAX_LINE_BYTES: usize = 16 << 20;
/// Most NDJSON columns.
const MAX_JSON_COLUMNS: usize = 4096;

/// File extensions loaded from a directory.
pub const EXTENSIONS: [&str; 6] = ["arrow", "arrows", "ipc", "feather", "parquet", "ndjson"];

/// The files a `--data` path stands for: itself, or a directory's supported files
/// (sorted by name, not recursive; also `.jsonl` and `.json`).
pub fn expand(path: &Path) -> Result<Vec<PathBuf>, String> {
    if path.is_dir() {
        let mut out: Vec<PathBuf> = std::fs::read_dir(path)
            .map_err(|e| format!("{}: {e}", path.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file() && kind(p).is_some())
            .collect();
        out.sort();
        if out.is_empty() {
            return Err(format!("{}: no .arrow, .parquet or .ndjson files", path.display()));
        }
        Ok(out)
    } else if path.is_file() {
        Ok(vec![path.to_path_buf()])
    } else {
        Err(format!("{}: no such file or directory", path.display()))
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Arrow,
    Parquet,
    Json,
}

fn kind(p: &Path) -> Option<Kind> {
    match p.extension()?.to_str()?.to_ascii_lowercase().as_str() {
        "arrow" | "arrows" | "ipc" | "feather" => Some(Kind::Arrow),
        "parquet" | "pq" => Some(Kind::Parquet),
        "ndjson" | "jsonl" | "json" => Some(Kind::Json),
        _ => None,
    }
}

/// A source name from a file name: its stem.
pub fn source_name(p: &Path) -> String {
    p.file_stem().and_then(|s| s.to_str()).unwrap_or("file").to_string()
}

/// Loads one file into a table named `name`.
pub fn load(path: &Path, name: &str) -> Result<Table, String> {
    let origin = path.display().to_string();
    let err = |e: &dyn std::fmt::Display| format!("{origin}: {e}");
    let kind = kind(path).ok_or_else(|| err(&"unknown extension (.arrow, .parquet, .ndjson)"))?;
    match kind {
        Kind::Arrow => {
            let mut f = File::open(path).map_err(|e| err(&e))?;
            let mut magic = [0u8; 6];
            let is_file = f.read_exact(&mut magic).is_ok() && &magic == b"ARROW1";
            drop(f);
            let f = BufReader::new(File::open(path).map_err(|e| err(&e))?);
            if is_file {
                let r = arrow_ipc::reader::FileReader::try_new(f, None).map_err(|e| err(&e))?;
                let schema = r.schema();
                Table::from_batches(name, "file", &origin, schema, r.map(|b| b.map_err(|e| err(&e))))
            } else {
                let r = arrow_ipc::reader::StreamReader::try_new(f, None).map_err(|e| err(&e))?;
                let schema = r.schema();
                Table::from_batches(name, "file", &origin, schema, r.map(|b| b.map_err(|e| err(&e))))
            }
        }
        Kind::Parquet => {
            let f = File::open(path).map_err(|e| err(&e))?;
            let r = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(f)
                .map_err(|e| err(&e))?
                .with_batch_size(BATCH_ROWS)
                .build()
                .map_err(|e| err(&e))?;
            let schema = arrow_array::RecordBatchReader::schema(&r);
            Table::from_batches(name, "file", &origin, schema, r.map(|b| b.map_err(|e| err(&e))))
        }
        Kind::Json => {
            let (schema, batches) = read_ndjson(path).map_err(|e| err(&e))?;
            Table::from_batches(name, "file", &origin, schema, batches.into_iter().map(Ok))
        }
    }
}

/// What values a JSON column has held so far.
#[derive(Debug, Clone, Copy, Default)]
struct Seen {
    bools: bool,
    ints: bool,
    floats: bool,
    strings: bool,
    /// Every string so far parsed as an RFC 3339 time.
    all_times: bool,
    /// Every string so far was an integer.
    all_int_strings: bool,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum JType {
    Bool,
    Int,
    Float,
    Time,
    Str,
}

fn nano_name(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    n.ends_with("unixnano") || n.ends_with("unix_nano")
}

impl Seen {
    fn see(&mut self, v: &J) {
        match v {
            J::Bool(_) => self.bools = true,
            J::Number(n) if n.is_i64() => self.ints = true,
            J::Number(_) => self.floats = true,
            J::String(s) => {
                if !self.strings {
                    self.all_times = true;
                    self.all_int_strings = true;
                }
                self.strings = true;
                self.all_times &= parse_rfc3339(s).is_some();
                self.all_int_strings &= s.parse::<i64>().is_ok();
            }
            _ => self.strings = true, // arrays: JSON text
        }
    }
    fn resolve(&self, name: &str) -> JType {
        let numbers = self.ints || self.floats;
        if nano_name(name) && !self.bools && !self.floats && (!self.strings || self.all_int_strings) {
            return JType::Time;
        }
        match (self.bools, numbers, self.strings) {
            (true, false, false) => JType::Bool,
            (false, true, false) if !self.floats => JType::Int,
            (false, true, false) => JType::Float,
            (false, false, true) if self.all_times => JType::Time,
            (false, false, false) => JType::Str,
            _ => JType::Str,
        }
    }
}

/// Flattens `v` into `(dotted name, scalar)` pairs.
fn flatten<'a>(prefix: &mut String, v: &'a J, out: &mut Vec<(String, &'a J)>) {
    match v {
        J::Object(map) => {
            for (k, child) in map {
                let len = prefix.len();
                if !prefix.is_empty() {
                    prefix.push('.');
                }
                prefix.push_str(k);
                flatten(prefix, child, out);
                prefix.truncate(len);
            }
        }
        J::Null => {}
        _ => out.push((prefix.clone(), v)),
    }
}

fn lines(path: &Path) -> Result<impl Iterator<Item = Result<(usize, String), String>>, String> {
    let f = BufReader::new(File::open(path).map_err(|e| e.to_string())?);
    Ok(f.lines().enumerate().filter_map(|(i, l)| match l {
        Ok(l) if l.trim().is_empty() => None,
        Ok(l) if l.len() > MAX_LINE_BYTES => Some(Err(format!("line {}: longer than {MAX_LINE_BYTES} bytes", i + 1))),
        Ok(l) => Some(Ok((i + 1, l))),
        Err(e) => Some(Err(format!("line {}: {e}", i + 1))),
    }))
}

fn parse_line(n: usize, l: &str) -> Result<J, String> {
    let v: J = serde_json::from_str(l).map_err(|e| format!("line {n}: {e}"))?;
    if !v.is_object() {
        return Err(format!("line {n}: not a JSON object"));
    }
    Ok(v)
}

/// Reads an NDJSON file in two passes: types, then record batches.
pub fn read_ndjson(path: &Path) -> Result<(SchemaRef, Vec<RecordBatch>), String> {
    let mut names: Vec<String> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut seen: Vec<Seen> = Vec::new();
    for line in lines(path)? {
        let (n, l) = line?;
        let v = parse_line(n, &l)?;
        let mut flat = Vec::new();
        flatten(&mut String::new(), &v, &mut flat);
        for (k, val) in &flat {
            let i = match index.get(k) {
                Some(i) => *i,
                None => {
                    if names.len() >= MAX_JSON_COLUMNS {
                        return Err(format!("line {n}: more than {MAX_JSON_COLUMNS} columns"));
                    }
                    index.insert(k.clone(), names.len());
                    names.push(k.clone());
                    seen.push(Seen::default());
                    names.len() - 1
                }
            };
            seen[i].see(val);
        }
    }
    let types: Vec<JType> = names.iter().zip(&seen).map(|(n, s)| s.resolve(n)).collect();
    let fields: Vec<Field> = names
        .iter()
        .zip(&types)
        .map(|(n, t)| {
            let dt = match t {
                JType::Bool => DataType::Boolean,
                JType::Int => DataType::Int64,
                JType::Float => DataType::Float64,
                JType::Time => DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into())),
                JType::Str => DataType::Utf8,
            };
            Field::new(n, dt, true)
        })
        .collect();
    let schema = Arc::new(Schema::new(fields));
    let mut batches = Vec::new();
    let mut builders = Builders::new(&types);
    for line in lines(path)? {
        let (n, l) = line?;
        let v = parse_line(n, &l)?;
        let mut flat = Vec::new();
        flatten(&mut String::new(), &v, &mut flat);
        let mut row: Vec<Option<&J>> = vec![None; names.len()];
        for (k, val) in &flat {
            if let Some(i) = index.get(k) {
                row[*i] = Some(val);
            }
        }
        builders.append(&row).map_err(|e| format!("line {n}: {e}"))?;
        if builders.rows == BATCH_ROWS {
            batches.push(builders.finish(&schema)?);
        }
    }
    if builders.rows > 0 || batches.is_empty() {
        batches.push(builders.finish(&schema)?);
    }
    Ok((schema, batches))
}

enum B {
    Bool(BooleanBuilder),
    Int(Int64Builder),
    Float(Float64Builder),
    Time(TimestampNanosecondBuilder),
    Str(StringBuilder),
}

struct Builders {
    cols: Vec<B>,
    rows: usize,
}

impl Builders {
    fn new(types: &[JType]) -> Builders {
        let cols = types
            .iter()
            .map(|t| match t {
                JType::Bool => B::Bool(BooleanBuilder::new()),
                JType::Int => B::Int(Int64Builder::new()),
                JType::Float => B::Float(Float64Builder::new()),
                JType::Time => B::Time(TimestampNanosecondBuilder::new().with_timezone("UTC")),
                JType::Str => B::Str(StringBuilder::new()),
            })
            .collect();
        Builders { cols, rows: 0 }
    }

    fn append(&mut self, row: &[Option<&J>]) -> Result<(), String> {
        for (b, v) in self.cols.iter_mut().zip(row) {
            match (b, v) {
                (B::Bool(b), v) => b.append_option(v.and_then(|v| v.as_bool())),
                (B::Int(b), v) => b.append_option(v.and_then(|v| v.as_i64())),
                (B::Float(b), v) => b.append_option(v.and_then(|v| v.as_f64())),
                (B::Time(b), v) => b.append_option(match v {
                    Some(J::String(s)) => Some(parse_rfc3339(s).or_else(|| s.parse().ok()).ok_or("bad time")?),
                    Some(J::Number(n)) => n.as_i64(),
                    _ => None,
                }),
                (B::Str(b), v) => match v {
                    Some(J::String(s)) => b.append_value(s),
                    Some(other) => b.append_value(other.to_string()),
                    None => b.append_null(),
                },
            }
        }
        self.rows += 1;
        Ok(())
    }

    fn finish(&mut self, schema: &SchemaRef) -> Result<RecordBatch, String> {
        let cols: Vec<ArrayRef> = self
            .cols
            .iter_mut()
            .map(|b| -> ArrayRef {
                match b {
                    B::Bool(b) => Arc::new(b.finish()),
                    B::Int(b) => Arc::new(b.finish()),
                    B::Float(b) => Arc::new(b.finish()),
                    B::Time(b) => Arc::new(b.finish()),
                    B::Str(b) => Arc::new(b.finish()),
                }
            })
            .collect();
        self.rows = 0;
        if cols.is_empty() {
            return RecordBatch::try_new_with_options(
                schema.clone(),
                cols,
                &arrow_array::RecordBatchOptions::new().with_row_count(Some(0)),
            )
            .map_err(|e| e.to_string());
        }
        RecordBatch::try_new(schema.clone(), cols).map_err(|e| e.to_string())
    }
}

/// Parses an RFC 3339 time (`2024-05-01T12:00:00.123456789Z`, `+02:00` offsets, a
/// space instead of `T`) into nanoseconds since the epoch, with jiff (already the
/// engine's time-zone library), so no date arithmetic of our own.
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    // jiff also takes RFC 9557 annotations (`...Z[Europe/Paris]`) and an hour without
    // minutes; a data file's times are plain RFC 3339, so anything else is text.
    let b = s.as_bytes();
    if b.len() < 20 || b.contains(&b'[') || b.get(16) != Some(&b':') {
        return None;
    }
    let t: jiff::Timestamp = s.parse().ok()?;
    i64::try_from(t.as_nanosecond()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use sightline::column::{ColumnData, Role};

    #[test]
    fn rfc3339() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_rfc3339("2026-11-01T00:00:00Z"), Some(1_793_491_200_000_000_000));
        assert_eq!(parse_rfc3339("2026-11-01T02:00:00.5+02:00"), Some(1_793_491_200_500_000_000));
        assert_eq!(parse_rfc3339("2024-02-29 12:00:00.123456789Z"), Some(1_709_208_000_123_456_789));
        for bad in ["2024-02-29", "2024-13-01T00:00:00Z", "2024-01-01T00:00:00", "x024-01-01T00:00:00Z"] {
            assert_eq!(parse_rfc3339(bad), None, "{bad}");
        }
    }

    #[test]
    fn ndjson_flattens_and_infers() {
        let dir = std::env::temp_dir().join(format!("sightline-ndjson-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("logs.ndjson");
        std::fs::write(
            &p,
            concat!(
                r#"{"timeUnixNano":"1793491200000000000","severityText":"ERROR","body":"boom","attributes":{"http.status_code":500,"ok":false,"dur":1.5},"resource":{"service":{"name":"api"}},"tags":["a","b"]}"#,
                "\n\n",
                r#"{"timeUnixNano":"1793491201000000000","severityText":"INFO","body":"fine","attributes":{"http.status_code":200,"ok":true,"dur":2,"extra":"x"},"resource":{"service":{"name":"web"}}}"#,
                "\n"
            ),
        )
        .unwrap();
        let t = load(&p, "logs").unwrap();
        assert_eq!(t.row_count(), 2);
        let cols = t.columns();
        let find = |n: &str| cols.iter().find(|c| c.name == n).unwrap_or_else(|| panic!("{n}: {cols:?}"));
        assert_eq!(find("timeUnixNano").role, Role::Time);
        assert_eq!(find("attributes.http.status_code").arrow_type, "Int64");
        assert_eq!(find("attributes.ok").role, Role::Bool);
        assert_eq!(find("attributes.dur").arrow_type, "Float64");
        assert_eq!(find("resource.service.name").role, Role::String);
        assert_eq!(find("tags").role, Role::String);
        assert_eq!(find("attributes.extra").nulls, 1);
        assert_eq!(t.time_column(), Some("timeUnixNano"));
        let ds = &t;
        let sel = ds
            .select(&crate::source::EventsRequest {
                filters: serde_json::from_str(r#"[{"column":"resource.service.name","op":"=","value":"web"}]"#)
                    .unwrap(),
                ..Default::default()
            })
            .unwrap();
        assert_eq!(sel.rows.to_vec(), vec![1]);
        let _ = ColumnData::Other;
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn broken_ndjson_names_the_line() {
        let dir = std::env::temp_dir().join(format!("sightline-ndjson-bad-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("bad.ndjson");
        std::fs::write(&p, "{\"a\":1}\n[1,2]\n").unwrap();
        let e = load(&p, "bad").unwrap_err();
        assert!(e.contains("line 2: not a JSON object"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
