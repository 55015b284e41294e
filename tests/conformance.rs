//! Conformance against the Arrow integration golden streams in `../shared/arrow-testing`.
//!
//! Every `*.stream` there (written by Arrow C++ and others) is loaded twice, whole and in
//! odd-sized chunks; both loads must agree. Then either the stream loads, and every
//! analyzed column equals what the stream's integration JSON (`*.json.gz`) says, value by
//! value, null by null; or it is refused with a message naming a column and a type.

use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

use serde_json::Value;
use sightline::column::{Column, ColumnData, Role, TimeUnit};
use sightline::Dataset;

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/arrow-testing");
const CHUNKS: [usize; 6] = [1, 3, 7, 64, 1000, 4093];

/// One value as loaded (or as expected), comparable across representations.
#[derive(Debug, Clone, PartialEq)]
enum Val {
    Null,
    I(i64),
    U(u64),
    /// Float bits; every NaN is the canonical one, so NaN == NaN.
    F(u64),
    B(bool),
    S(String),
    /// A value the engine's storage should never hold (a bad bool byte, an unknown code).
    Bad(String),
}

fn show(v: &Val) -> String {
    match v {
        Val::F(bits) => format!("F({:?}, bits {bits:#018x})", f64::from_bits(*bits)),
        other => format!("{other:?}"),
    }
}

fn float(x: f64) -> Val {
    Val::F(if x.is_nan() { f64::NAN.to_bits() } else { x.to_bits() })
}

/// What a loaded column holds, in a form two loads can be compared by.
#[derive(Debug, Clone, PartialEq)]
struct ColSnap {
    name: String,
    arrow_type: String,
    role: Role,
    note: Option<String>,
    storage: String,
    values: Vec<Val>,
}

#[derive(Debug, Clone, PartialEq)]
enum Outcome {
    Loaded { rows: usize, batches: usize, cols: Vec<ColSnap> },
    Refused(String),
}

fn storage(c: &Column) -> String {
    match &c.data {
        ColumnData::Time { unit, tz, .. } => format!("time {unit:?} {tz:?}"),
        ColumnData::Int(_) => "int".into(),
        ColumnData::UInt(_) => "uint".into(),
        ColumnData::Float(_) => "float".into(),
        ColumnData::Bool(_) => "bool".into(),
        ColumnData::Str(_) => "str".into(),
        ColumnData::Other => "other".into(),
    }
}

/// The values of a column; checks its storage is as long as its row count and that
/// `is_null` agrees with the values.
fn values(c: &Column) -> Result<Vec<Val>, String> {
    let n = c.len();
    let data_len = match &c.data {
        ColumnData::Time { values, .. } | ColumnData::Int(values) => Some(values.len()),
        ColumnData::UInt(v) => Some(v.len()),
        ColumnData::Float(v) => Some(v.len()),
        ColumnData::Bool(v) => Some(v.len()),
        ColumnData::Str(s) => Some(s.len()),
        ColumnData::Other => None,
    };
    if let Some(d) = data_len {
        if d != n {
            return Err(format!("column \"{}\": {d} values but len() {n}", c.name));
        }
    }
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let v = match &c.data {
            ColumnData::Other => continue,
            _ if c.is_null(i) => Val::Null,
            ColumnData::Time { values, .. } | ColumnData::Int(values) => Val::I(values[i]),
            ColumnData::UInt(v) => Val::U(v[i]),
            ColumnData::Float(v) => float(v[i]),
            ColumnData::Bool(v) => match v[i] {
                0 => Val::B(false),
                1 => Val::B(true),
                x => Val::Bad(format!("bool byte {x}")),
            },
            ColumnData::Str(s) => match s.get(i) {
                Some(s) => Val::S(s.to_string()),
                None => Val::Bad(format!("row {i}: no string and not null")),
            },
        };
        // Cross-check the null flags against the raw storage.
        let raw_null = match &c.data {
            ColumnData::Bool(v) => v[i] == 2,
            ColumnData::Str(s) => s.bytes(i).is_none(),
            _ => !c.validity.is_valid(i),
        };
        if raw_null != (v == Val::Null) {
            return Err(format!("column \"{}\" row {i}: is_null() disagrees with the storage", c.name));
        }
        out.push(v);
    }
    Ok(out)
}

fn snapshot(ds: &Dataset) -> Result<Outcome, String> {
    let rows = ds.row_count();
    let mut cols = Vec::new();
    for c in ds.columns() {
        if c.len() != rows {
            return Err(format!("column \"{}\" has {} rows, the dataset {rows}", c.name, c.len()));
        }
        cols.push(ColSnap {
            name: c.name.clone(),
            arrow_type: c.arrow_type.clone(),
            role: c.role,
            note: c.note.clone(),
            storage: storage(c),
            values: values(c)?,
        });
    }
    Ok(Outcome::Loaded { rows, batches: ds.batch_count(), cols })
}

/// Loads `bytes` pushed in chunks of the given sizes (cycled).
fn load(bytes: &[u8], sizes: &[usize]) -> Result<Outcome, String> {
    let mut ds = Dataset::new();
    let mut rest = bytes;
    let mut k = 0;
    let mut failure = None;
    while !rest.is_empty() {
        let n = sizes[k % sizes.len()].min(rest.len());
        k += 1;
        let (chunk, tail) = rest.split_at(n);
        rest = tail;
        if let Err(e) = ds.push(chunk) {
            failure = Some(e.to_string());
            break;
        }
    }
    let end = ds.finish();
    if let Some(msg) = failure {
        // finish() reports the failure once more.
        return match end {
            Err(e) if e.to_string() == msg => Ok(Outcome::Refused(msg)),
            other => Err(format!("push failed with \"{msg}\" but finish() returned {other:?}")),
        };
    }
    match end {
        Err(e) => Ok(Outcome::Refused(e.to_string())),
        Ok(()) => snapshot(&ds),
    }
}

// ---------------------------------------------------------------------------------
// The integration JSON.

/// Wraps every JSON number in quotes, so that numbers are parsed by Rust's correctly
/// rounded `str::parse` (serde_json's default float parsing is only best-effort) and
/// 64-bit integers, written as strings already, need no special case.
fn quote_numbers(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = String::with_capacity(s.len() + s.len() / 4);
    let (mut i, mut start, mut in_str) = (0, 0, false);
    while i < b.len() {
        let c = b[i];
        if in_str {
            match c {
                b'\\' => i += 2,
                b'"' => {
                    in_str = false;
                    i += 1
                }
                _ => i += 1,
            }
        } else if c == b'"' {
            in_str = true;
            i += 1;
        } else if c == b'-' || c.is_ascii_digit() {
            let len = b[i..].iter().take_while(|c| matches!(c, b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E')).count();
            out.push_str(&s[start..i]);
            out.push('"');
            out.push_str(&s[i..i + len]);
            out.push('"');
            i += len;
            start = i;
        } else {
            i += 1;
        }
    }
    out.push_str(&s[start..]);
    out
}

fn read_json(path: &Path) -> Result<Value, String> {
    use std::io::Read;
    let file = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut text = String::new();
    flate2::read::GzDecoder::new(file).read_to_string(&mut text).map_err(|e| format!("{}: {e}", path.display()))?;
    serde_json::from_str(&quote_numbers(&text)).map_err(|e| format!("{}: {e}", path.display()))
}

fn field<'a>(v: &'a Value, key: &str) -> Result<&'a Value, String> {
    v.get(key).ok_or_else(|| format!("JSON: no \"{key}\" in {}", short(v)))
}

fn short(v: &Value) -> String {
    let s = v.to_string();
    s.chars().take(200).collect()
}

fn text<'a>(v: &'a Value, key: &str) -> Result<&'a str, String> {
    field(v, key)?.as_str().ok_or_else(|| format!("JSON: \"{key}\" is not a string/number in {}", short(v)))
}

fn parse<T: std::str::FromStr>(v: &Value) -> Result<T, String> {
    v.as_str()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("JSON: cannot parse {v} as {}", std::any::type_name::<T>()))
}

fn array<'a>(v: &'a Value, key: &str) -> Result<&'a [Value], String> {
    field(v, key)?.as_array().map(|a| a.as_slice()).ok_or_else(|| format!("JSON: \"{key}\" is not an array"))
}

fn hex(s: &str) -> Result<Vec<u8>, String> {
    (0..s.len() / 2)
        .map(|i| u8::from_str_radix(s.get(2 * i..2 * i + 2).unwrap_or("?"), 16).map_err(|e| format!("hex {s}: {e}")))
        .collect()
}

/// Storage the engine is documented to use for a JSON type, or `None` for types it
/// keeps out of analysis.
fn expected_storage(ty: &Value) -> Result<Option<String>, String> {
    let unit = |u: &str| -> Result<TimeUnit, String> {
        Ok(match u {
            "SECOND" => TimeUnit::Second,
            "MILLISECOND" => TimeUnit::Millisecond,
            "MICROSECOND" => TimeUnit::Microsecond,
            "NANOSECOND" => TimeUnit::Nanosecond,
            "DAY" => TimeUnit::Day,
            other => return Err(format!("JSON: unknown unit {other}")),
        })
    };
    Ok(Some(match text(ty, "name")? {
        "int" => {
            let bits: u32 = parse(field(ty, "bitWidth")?)?;
            let signed = field(ty, "isSigned")?.as_bool().ok_or("JSON: isSigned")?;
            if !signed && bits == 64 { "uint" } else { "int" }.to_string()
        }
        "floatingpoint" => "float".into(),
        "bool" => "bool".into(),
        "utf8" | "largeutf8" | "utf8view" => "str".into(),
        "date" => {
            format!("time {:?} None", if text(ty, "unit")? == "DAY" { TimeUnit::Day } else { TimeUnit::Millisecond })
        }
        "timestamp" => {
            format!("time {:?} {:?}", unit(text(ty, "unit")?)?, ty.get("timezone").and_then(Value::as_str))
        }
        "time" | "duration" => "int".into(),
        _ => return Ok(None),
    }))
}

/// Value `i` of a JSON column of type `ty`.
fn json_value(ty: &Value, col: &Value, i: usize) -> Result<Val, String> {
    let valid = array(col, "VALIDITY")?.get(i).ok_or_else(|| format!("JSON: no VALIDITY[{i}]"))?;
    if parse::<u8>(valid)? == 0 {
        return Ok(Val::Null);
    }
    let name = text(ty, "name")?;
    if name == "utf8view" {
        let view = array(col, "VIEWS")?.get(i).ok_or_else(|| format!("JSON: no VIEWS[{i}]"))?;
        if let Some(s) = view.get("INLINED") {
            return Ok(Val::S(s.as_str().ok_or("JSON: INLINED")?.to_string()));
        }
        let buffers = array(col, "VARIADIC_DATA_BUFFERS")?;
        let index: usize = parse(field(view, "BUFFER_INDEX")?)?;
        let offset: usize = parse(field(view, "OFFSET")?)?;
        let size: usize = parse(field(view, "SIZE")?)?;
        let buf = hex(buffers.get(index).and_then(Value::as_str).ok_or("JSON: variadic buffer")?)?;
        let bytes = buf.get(offset..offset + size).ok_or("JSON: view out of its buffer")?;
        return Ok(Val::S(String::from_utf8(bytes.to_vec()).map_err(|e| e.to_string())?));
    }
    let d = array(col, "DATA")?.get(i).ok_or_else(|| format!("JSON: no DATA[{i}]"))?;
    Ok(match name {
        "int" => {
            let bits: u32 = parse(field(ty, "bitWidth")?)?;
            let signed = field(ty, "isSigned")?.as_bool().ok_or("JSON: isSigned")?;
            if !signed && bits == 64 {
                Val::U(parse(d)?)
            } else {
                Val::I(parse(d)?)
            }
        }
        "floatingpoint" => match text(ty, "precision")? {
            "SINGLE" => float(parse::<f32>(d)? as f64),
            "DOUBLE" => float(parse::<f64>(d)?),
            other => return Err(format!("test cannot check floatingpoint precision {other}")),
        },
        "bool" => Val::B(d.as_bool().ok_or("JSON: bool")?),
        "utf8" | "largeutf8" => Val::S(d.as_str().ok_or("JSON: string")?.to_string()),
        "date" | "timestamp" | "time" | "duration" => Val::I(parse(d)?),
        other => return Err(format!("test cannot check JSON type {other}")),
    })
}

/// Every field name in a JSON schema, children included, and the names arrow-rs
/// displays their types by (`DataType`'s `Display`: `Decimal128(3, 2)`, `List(..)`).
fn names_and_types(fields: &[Value], names: &mut Vec<String>, types: &mut Vec<&'static str>) {
    for f in fields {
        if let Some(n) = f.get("name").and_then(Value::as_str) {
            names.push(n.to_string());
        }
        if f.get("dictionary").is_some() {
            types.push("Dictionary");
        }
        let ty = f.get("type").and_then(|t| t.get("name")).and_then(Value::as_str).unwrap_or("");
        types.push(match ty {
            "int" => "Int",
            "floatingpoint" => "Float",
            "bool" => "Boolean",
            "utf8" | "largeutf8" | "utf8view" => "Utf8",
            "binary" | "largebinary" | "binaryview" | "fixedsizebinary" => "Binary",
            "decimal" => "Decimal",
            "date" => "Date",
            "time" => "Time",
            "timestamp" => "Timestamp",
            "duration" => "Duration",
            "interval" => "Interval",
            "list" | "largelist" | "listview" | "largelistview" | "fixedsizelist" => "List",
            "struct" => "Struct",
            "union" => "Union",
            "map" => "Map",
            "runendencoded" => "RunEndEncoded",
            "null" => "Null",
            _ => "(unknown type)",
        });
        if let Some(c) = f.get("children").and_then(Value::as_array) {
            names_and_types(c, names, types);
        }
    }
}

/// Checks one loaded stream against its JSON; returns the summary line.
fn check_against_json(json: &Value, outcome: &Outcome) -> Result<String, String> {
    let fields = array(field(json, "schema")?, "fields")?;
    let batches = array(json, "batches")?;
    let mut dicts: HashMap<i64, &Value> = HashMap::new();
    for d in json.get("dictionaries").and_then(Value::as_array).map(|a| a.as_slice()).unwrap_or(&[]) {
        let id: i64 = parse(field(d, "id")?)?;
        let col = array(field(d, "data")?, "columns")?.first().ok_or("JSON: dictionary without a column")?;
        if dicts.insert(id, col).is_some() {
            return Err(format!("JSON: dictionary {id} appears twice (the test does not handle deltas)"));
        }
    }
    let (rows, nbatches, cols) = match outcome {
        Outcome::Refused(msg) => {
            let (mut names, mut types) = (Vec::new(), Vec::new());
            names_and_types(fields, &mut names, &mut types);
            let names_column = names.iter().any(|n| msg.contains(&format!("\"{n}\"")));
            let names_type = types.iter().any(|t| msg.contains(t));
            if !names_column || !names_type {
                return Err(format!("refused, but the message names no column of the schema and a type: {msg}"));
            }
            return Ok(format!("refused: {msg}"));
        }
        Outcome::Loaded { rows, batches, cols } => (*rows, *batches, cols),
    };
    let json_rows: usize = batches.iter().map(|b| parse::<usize>(field(b, "count")?)).sum::<Result<_, _>>()?;
    if rows != json_rows {
        return Err(format!("{rows} rows loaded, the JSON has {json_rows}"));
    }
    if nbatches != batches.len() {
        return Err(format!("{nbatches} batches loaded, the JSON has {}", batches.len()));
    }
    if cols.len() != fields.len() {
        return Err(format!("{} columns loaded, the schema has {}", cols.len(), fields.len()));
    }
    let (mut analyzed, mut kept_out) = (0, 0);
    for (j, (f, c)) in fields.iter().zip(cols).enumerate() {
        let fname = text(f, "name")?;
        if c.name != fname {
            return Err(format!("column {j} is called \"{}\", the schema says \"{fname}\"", c.name));
        }
        let ty = field(f, "type")?;
        let dict = f.get("dictionary");
        // Dictionary-encoded fields are analyzed as their value type.
        let want_storage = expected_storage(ty)?;
        if c.role == Role::Other {
            kept_out += 1;
            if c.note.as_deref().is_none_or(|n| n.trim().is_empty()) {
                return Err(format!("column \"{fname}\" is kept out of analysis without a note"));
            }
            if let Some(s) = want_storage {
                return Err(format!("column \"{fname}\" ({s}) should be analyzed but is kept out: {:?}", c.note));
            }
            continue;
        }
        analyzed += 1;
        match &want_storage {
            Some(s) if *s == c.storage => {}
            _ => {
                return Err(format!(
                    "column \"{fname}\" ({}) is stored as {}, expected {want_storage:?}",
                    c.arrow_type, c.storage
                ))
            }
        }
        let mut expect = Vec::with_capacity(rows);
        for b in batches {
            let col = array(b, "columns")?.get(j).ok_or_else(|| format!("JSON: batch without column {j}"))?;
            let n: usize = parse(field(col, "count")?)?;
            for i in 0..n {
                let v = match dict {
                    None => json_value(ty, col, i)?,
                    Some(d) => {
                        let id: i64 = parse(field(d, "id")?)?;
                        let dcol = dicts.get(&id).ok_or_else(|| format!("JSON: no dictionary {id}"))?;
                        match json_value(field(d, "indexType")?, col, i)? {
                            Val::Null => Val::Null,
                            Val::I(k) => json_value(ty, dcol, usize::try_from(k).map_err(|e| e.to_string())?)?,
                            Val::U(k) => json_value(ty, dcol, k as usize)?,
                            other => return Err(format!("JSON: dictionary index {other:?}")),
                        }
                    }
                };
                expect.push(v);
            }
        }
        if expect.len() != c.values.len() {
            return Err(format!("column \"{fname}\": {} values, the JSON has {}", c.values.len(), expect.len()));
        }
        if let Some(i) = (0..expect.len()).find(|i| expect[*i] != c.values[*i]) {
            return Err(format!(
                "column \"{fname}\" ({}) row {i}: loaded {}, the JSON says {}",
                c.arrow_type,
                show(&c.values[i]),
                show(&expect[i])
            ));
        }
    }
    Ok(format!("loaded: {rows} rows, {analyzed} columns analyzed, {kept_out} kept out"))
}

fn streams(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir).expect("read arrow-testing").flatten().map(|e| e.path()).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            streams(&p, out);
        } else if p.extension().is_some_and(|e| e == "stream") {
            out.push(p);
        }
    }
}

fn check_file(path: &Path) -> Result<String, String> {
    let bytes = std::fs::read(path).map_err(|e| e.to_string())?;
    let json_path = path.with_extension("json.gz");
    let json = read_json(&json_path)?;
    let whole = load(&bytes, &[usize::MAX])?;
    let chunked = load(&bytes, &CHUNKS)?;
    if whole != chunked {
        return Err(format!("whole and chunked loads differ:\n  whole:   {whole:?}\n  chunked: {chunked:?}"));
    }
    // Chunks cut at every size from 1 to 9 as well: framing must not depend on where.
    for size in 2..10 {
        if load(&bytes, &[size])? != whole {
            return Err(format!("load in chunks of {size} bytes differs from the whole load"));
        }
    }
    check_against_json(&json, &whole)
}

#[test]
fn arrow_integration_golden_streams() {
    let root = Path::new(DIR);
    let mut paths = Vec::new();
    streams(root, &mut paths);
    assert!(paths.len() >= 30, "expected the arrow-testing streams in {DIR}, found {}", paths.len());
    let mut failures = Vec::new();
    let (mut loaded, mut refused, mut analyzed, mut kept_out) = (0, 0, 0, 0);
    println!("arrow-testing conformance, {} streams:", paths.len());
    for p in &paths {
        let name = p.strip_prefix(root).unwrap_or(p).display().to_string();
        let result = catch_unwind(AssertUnwindSafe(|| check_file(p)));
        let line = match result {
            Ok(Ok(summary)) => {
                if let Some(rest) = summary.strip_prefix("loaded: ") {
                    loaded += 1;
                    let nums: Vec<usize> =
                        rest.split(|c: char| !c.is_ascii_digit()).filter_map(|s| s.parse().ok()).collect();
                    analyzed += nums.get(1).copied().unwrap_or(0);
                    kept_out += nums.get(2).copied().unwrap_or(0);
                } else {
                    refused += 1;
                }
                summary
            }
            Ok(Err(e)) => {
                failures.push(format!("{name}: {e}"));
                format!("FAILED: {e}")
            }
            Err(panic) => {
                let msg = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                failures.push(format!("{name}: PANIC {msg}"));
                format!("FAILED: panic: {msg}")
            }
        };
        println!("  {name:<55} {line}");
    }
    println!(
        "{loaded} loaded ({analyzed} columns analyzed, {kept_out} kept out), {refused} refused, {} failed",
        failures.len()
    );
    assert!(failures.is_empty(), "{} of {} streams failed:\n{}", failures.len(), paths.len(), failures.join("\n"));
}
