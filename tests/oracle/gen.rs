//! The oracle's data and specification generators, shared by `tests/oracle.rs`
//! (the engine against DuckDB) and `server/tests/oracle_paths.rs` (the same specs
//! through the server, natively and on ClickHouse).
#![allow(dead_code)]

use std::sync::Arc;

use arrow_array::builder::{
    BooleanBuilder, Float64Builder, Int64Builder, StringBuilder, TimestampMillisecondBuilder, UInt8Builder,
};
use arrow_array::types::Int16Type;
use arrow_array::{ArrayRef, DictionaryArray, Int16Array, RecordBatch, StringArray};
use arrow_ipc::writer::StreamWriter;
use arrow_schema::{DataType, Field, Schema, TimeUnit};
use serde_json::{json, Value as J};

pub struct Rng(pub u64);
impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    pub fn chance(&mut self, p: f64) -> bool {
        (self.next() % 1_000_000) as f64 / 1e6 < p
    }
    pub fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len() as u64) as usize]
    }
}

pub const T0_MS: i64 = 1_793_400_000_000;
pub const LOW: [&str; 6] = ["alpha", "beta", "gamma", "delta", "épsilon", "zeta'q"];

pub fn dataset(rng: &mut Rng, rows: usize, sorted: bool) -> Vec<u8> {
    let schema = Arc::new(Schema::new(vec![
        Field::new("ts", DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())), false),
        Field::new("s_low", DataType::Utf8, true),
        Field::new("s_high", DataType::Utf8, true),
        Field::new("b", DataType::Boolean, true),
        Field::new("i", DataType::Int64, true),
        Field::new("f", DataType::Float64, true),
        Field::new("u", DataType::UInt8, false),
        Field::new("d", DataType::Dictionary(Box::new(DataType::Int16), Box::new(DataType::Utf8)), true),
        // Mostly distinct (an id): kept as it arrived once past the engine's check.
        Field::new("s_id", DataType::Utf8, true),
    ]));
    let dict: ArrayRef = Arc::new(StringArray::from((0..20).map(|k| format!("d{k:02}")).collect::<Vec<_>>()));
    // `s_id` from a generator of its own, so that every other column (and every spec
    // drawn after) is what it was before the column existed.
    let mut ids = side_rng(rng, 0x5a5a_1d1d);
    let mut out = Vec::new();
    {
        let mut w = StreamWriter::try_new(&mut out, &schema).unwrap();
        let mut left = rows;
        let mut t = T0_MS;
        while left > 0 {
            let n = left.min(1 + rng.below(900) as usize);
            left -= n;
            let mut ts = TimestampMillisecondBuilder::new().with_timezone("UTC");
            let (mut sl, mut sh) = (StringBuilder::new(), StringBuilder::new());
            let (mut b, mut i, mut f, mut u) =
                (BooleanBuilder::new(), Int64Builder::new(), Float64Builder::new(), UInt8Builder::new());
            let mut keys = Vec::new();
            let mut sid = StringBuilder::new();
            for _ in 0..n {
                t += rng.below(2500) as i64;
                ts.append_value(if sorted { t } else { T0_MS + rng.below(3_600_000) as i64 });
                sl.append_option((!rng.chance(0.1)).then(|| *rng.pick(&LOW)));
                sh.append_option((!rng.chance(0.05)).then(|| format!("id-{}", rng.below(400))));
                b.append_option((!rng.chance(0.15)).then(|| rng.chance(0.4)));
                i.append_option((!rng.chance(0.1)).then(|| rng.below(101) as i64 - 50));
                f.append_option((!rng.chance(0.1)).then(|| (rng.below(20_000) as f64 - 5_000.0) / 10.0));
                u.append_value(rng.below(6) as u8);
                keys.push((!rng.chance(0.1)).then(|| rng.below(20) as i16));
                sid.append_option((!ids.chance(0.05)).then(|| format!("t{}", ids.below(SID_RANGE))));
            }
            let d = DictionaryArray::<Int16Type>::try_new(Int16Array::from(keys), dict.clone()).unwrap();
            let cols: Vec<ArrayRef> = vec![
                Arc::new(ts.finish()),
                Arc::new(sl.finish()),
                Arc::new(sh.finish()),
                Arc::new(b.finish()),
                Arc::new(i.finish()),
                Arc::new(f.finish()),
                Arc::new(u.finish()),
                Arc::new(d),
                Arc::new(sid.finish()),
            ];
            w.write(&RecordBatch::try_new(schema.clone(), cols).unwrap()).unwrap();
        }
        w.finish().unwrap();
    }
    out
}

pub fn random_filter(rng: &mut Rng) -> J {
    let num_ops = ["=", "!=", ">", ">=", "<", "<=", "exists", "does-not-exist", "in", "not-in"];
    match rng.below(5) {
        0 | 1 => {
            let col = *rng.pick(&["s_low", "s_high", "d"]);
            string_filter(rng, col)
        }
        2 => {
            let op = *rng.pick(&["=", "!=", "exists", "does-not-exist"]);
            let mut f = json!({"column": "b", "op": op});
            if op == "=" || op == "!=" {
                f["value"] = J::Bool(rng.chance(0.5));
            }
            f
        }
        _ => {
            let col = *rng.pick(&["i", "f", "u"]);
            let op = *rng.pick(&num_ops);
            let num = |rng: &mut Rng| -> J {
                match col {
                    "i" => json!(rng.below(101) as i64 - 50),
                    "u" => json!(rng.below(7)),
                    _ => json!((rng.below(20_000) as f64 - 5_000.0) / 10.0),
                }
            };
            let mut f = json!({"column": col, "op": op});
            match op {
                "exists" | "does-not-exist" => {}
                "in" | "not-in" => f["value"] = J::Array((0..1 + rng.below(4)).map(|_| num(rng)).collect()),
                _ => f["value"] = num(rng),
            }
            f
        }
    }
}

/// A generator drawn from `rng`'s state without advancing it.
pub fn side_rng(rng: &Rng, salt: u64) -> Rng {
    Rng((rng.0 ^ salt.wrapping_mul(0x9e37_79b9_7f4a_7c15)) | 1)
}

const STR_OPS: [&str; 14] = [
    "=",
    "!=",
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
    ">",
    "<=",
];

/// A filter on the string column `col`, with every string operator.
pub fn string_filter(rng: &mut Rng, col: &str) -> J {
    let op = *rng.pick(&STR_OPS);
    let word = |rng: &mut Rng| -> String {
        match col {
            "s_low" => rng.pick(&LOW).to_string(),
            "s_high" => format!("id-{}", rng.below(450)),
            "s_id" => format!("t{}", rng.below(SID_RANGE)),
            _ => format!("d{:02}", rng.below(22)),
        }
    };
    let part = |rng: &mut Rng, w: String| -> String {
        let k = 1 + rng.below(w.chars().count() as u64) as usize;
        match op {
            "starts-with" | "does-not-start-with" => w.chars().take(k).collect(),
            "ends-with" | "does-not-end-with" => w.chars().skip(k - 1).collect(),
            "contains" | "does-not-contain" => w.chars().skip(k / 2).take(2).collect(),
            _ => w,
        }
    };
    let value = match op {
        "exists" | "does-not-exist" => J::Null,
        "in" | "not-in" => J::Array((0..1 + rng.below(3)).map(|_| J::String(word(rng))).collect()),
        _ => {
            let w = word(rng);
            J::String(part(rng, w))
        }
    };
    let mut f = json!({"column": col, "op": op});
    if !value.is_null() {
        f["value"] = value;
    }
    f
}

pub fn random_spec(rng: &mut Rng) -> J {
    let ps = ["P001", "P01", "P05", "P10", "P20", "P25", "P50", "P75", "P80", "P90", "P95", "P99", "P999"];
    let mut calcs = Vec::new();
    for _ in 0..1 + rng.below(4) {
        let c = match rng.below(8) {
            0 => json!({"op": "COUNT"}),
            1 => json!({"op": "COUNT_DISTINCT", "column": rng.pick(&["s_high", "i", "f", "b", "d"])}),
            2 | 3 => json!({"op": rng.pick(&ps), "column": rng.pick(&["f", "i"])}),
            _ => json!({"op": rng.pick(&["SUM", "AVG", "MIN", "MAX"]), "column": rng.pick(&["f", "i", "u"])}),
        };
        if !calcs.contains(&c) {
            calcs.push(c);
        }
    }
    let mut breakdowns: Vec<&str> = Vec::new();
    for _ in 0..rng.below(3) {
        let b = *rng.pick(&["s_low", "b", "u", "d", "i", "s_high"]);
        if !breakdowns.contains(&b) {
            breakdowns.push(b);
        }
    }
    let mut filters: Vec<J> = (0..rng.below(4)).map(|_| random_filter(rng)).collect();
    // The id column, from a generator of its own (the specs drawn after stay as they were).
    let mut side = side_rng(rng, 0x1d5);
    if side.chance(0.3) {
        filters.push(string_filter(&mut side, "s_id"));
    }
    if side.chance(0.15) {
        calcs.push(json!({"op": "COUNT_DISTINCT", "column": "s_id"}));
    }
    let mut spec = json!({
        "calculations": calcs,
        "filters": filters,
        "filter_combination": if rng.chance(0.3) { "OR" } else { "AND" },
        "breakdowns": breakdowns,
        "limit": 10000,
        "disable_series": true,
    });
    if rng.chance(0.5) {
        let start = T0_MS / 1000 + rng.below(1800) as i64;
        spec["start_time"] = json!(start);
        spec["end_time"] = json!(start + 60 + rng.below(3600) as i64);
    }
    if rng.chance(0.2) {
        spec["havings"] =
            json!([{"calculate_op": "COUNT", "op": *rng.pick(&[">", ">=", "<", "="]), "value": rng.below(6)}]);
    }
    spec
}

/// Values of `s_id`: 20,000 rows draw about 17,000 distinct ones.
pub const SID_RANGE: u64 = 60_000;

pub const WORDS: [&str; 6] = ["", "alpha", "naïve", "日本語", "emoji 🙂", "a'b"];
pub const P53: i64 = 1 << 53;
pub const BIGS: [i64; 7] = [P53, P53 + 1, P53 + 2, i64::MAX, i64::MIN, -7, 0];
pub const UBIGS: [u64; 4] = [u64::MAX, u64::MAX - 1, 1 << 63, 5];

pub fn edge_dataset(rng: &mut Rng, rows: usize, sorted: bool) -> Vec<u8> {
    use arrow_array::builder::UInt64Builder;
    let schema = Arc::new(Schema::new(vec![
        Field::new("ts", DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())), false),
        Field::new("s", DataType::Utf8, true),
        Field::new("big", DataType::Int64, true),
        Field::new("ub", DataType::UInt64, true),
        Field::new("f", DataType::Float64, true),
        Field::new("duration_ms", DataType::Float64, true),
        Field::new("nul", DataType::Float64, true),
    ]));
    let mut out = Vec::new();
    {
        let mut w = StreamWriter::try_new(&mut out, &schema).unwrap();
        let mut left = rows;
        let mut t = T0_MS;
        while left > 0 {
            let n = left.min(1 + rng.below(700) as usize);
            left -= n;
            let mut ts = TimestampMillisecondBuilder::new().with_timezone("UTC");
            let mut s = StringBuilder::new();
            let (mut big, mut ub) = (Int64Builder::new(), UInt64Builder::new());
            let (mut f, mut dur, mut nul) = (Float64Builder::new(), Float64Builder::new(), Float64Builder::new());
            for _ in 0..n {
                t += rng.below(3000) as i64;
                ts.append_value(if sorted { t } else { T0_MS + rng.below(3_600_000) as i64 });
                s.append_option(match rng.below(20) {
                    0 => None,
                    1 => Some(format!("one-{}", rng.next())), // a one-row group
                    _ => Some(rng.pick(&WORDS).to_string()),
                });
                big.append_option((!rng.chance(0.1)).then(|| *rng.pick(&BIGS)));
                ub.append_option((!rng.chance(0.1)).then(|| *rng.pick(&UBIGS)));
                f.append_option(match rng.below(40) {
                    0 | 1 => None,
                    2 | 3 => Some(f64::NAN),
                    4 => Some(f64::INFINITY),
                    5 => Some(f64::NEG_INFINITY),
                    _ => Some((rng.below(20_000) as f64 - 5_000.0) / 10.0),
                });
                dur.append_option(match rng.below(40) {
                    0 => None,
                    1 => Some(f64::NAN),
                    2 => Some(-5.0),
                    3 => Some(0.0),
                    4 => Some(rng.below(2_000_000) as f64), // spans many buckets
                    _ => Some(1.0 + rng.below(200_000) as f64 / 7.0),
                });
                nul.append_null();
            }
            let cols: Vec<ArrayRef> = vec![
                Arc::new(ts.finish()),
                Arc::new(s.finish()),
                Arc::new(big.finish()),
                Arc::new(ub.finish()),
                Arc::new(f.finish()),
                Arc::new(dur.finish()),
                Arc::new(nul.finish()),
            ];
            w.write(&RecordBatch::try_new(schema.clone(), cols).unwrap()).unwrap();
        }
        w.finish().unwrap();
    }
    out
}

pub fn edge_filter(rng: &mut Rng) -> J {
    match rng.below(9) {
        0 => {
            json!({"column": "f", "op": *rng.pick(&[">", "<=", "!="]), "value": (rng.below(2000) as f64 - 500.0) / 2.0})
        }
        1 => json!({"column": "f", "op": *rng.pick(&["exists", "does-not-exist"])}),
        2 => json!({"column": "big", "op": *rng.pick(&["=", "!="]), "value": (P53 + 1).to_string()}),
        3 => json!({"column": "big", "op": *rng.pick(&["in", "not-in"]), "value": [P53, i64::MAX.to_string()]}),
        4 => json!({"column": "big", "op": *rng.pick(&[">", "<"]), "value": P53}),
        5 => json!({"column": "ub", "op": ">=", "value": (1u64 << 63).to_string()}),
        6 => json!({"column": "s", "op": *rng.pick(&["=", "!="]), "value": *rng.pick(&WORDS)}),
        7 => {
            json!({"column": "s", "op": *rng.pick(&["starts-with", "contains", "does-not-contain"]), "value": *rng.pick(&["na", "🙂", "本", "a"])})
        }
        _ => json!({"column": "nul", "op": *rng.pick(&["exists", "does-not-exist"])}),
    }
}

/// One spec over the edge data, its calculation, and which kind of check it needs.
pub fn edge_spec(rng: &mut Rng) -> J {
    let calc = match rng.below(9) {
        0 => json!({"op": "COUNT"}),
        1 => json!({"op": "COUNT_DISTINCT", "column": rng.pick(&["f", "big", "ub", "s", "nul"])}),
        2 => json!({"op": rng.pick(&["SUM", "AVG", "MIN", "MAX"]), "column": rng.pick(&["f", "duration_ms", "nul"])}),
        3 => json!({"op": rng.pick(&["P001", "P50", "P99"]), "column": rng.pick(&["f", "duration_ms", "nul"])}),
        4 | 5 => json!({"op": "CONCURRENCY"}),
        6 | 7 => {
            json!({"op": rng.pick(&["RATE_AVG", "RATE_SUM", "RATE_MAX"]), "column": rng.pick(&["f", "duration_ms"])})
        }
        _ => json!({"op": "HEATMAP", "column": rng.pick(&["f", "duration_ms"])}),
    };
    let mut breakdowns: Vec<&str> = Vec::new();
    for _ in 0..rng.below(3) {
        let b = *rng.pick(&["s", "big", "ub", "nul"]);
        if !breakdowns.contains(&b) {
            breakdowns.push(b);
        }
    }
    let start = T0_MS / 1000 + rng.below(600) as i64;
    let mut spec = json!({
        "calculations": [calc],
        "filters": (0..rng.below(3)).map(|_| edge_filter(rng)).collect::<Vec<_>>(),
        "filter_combination": if rng.chance(0.3) { "OR" } else { "AND" },
        "breakdowns": breakdowns,
        "limit": 10000,
        "start_time": start,
        "end_time": start + 1200 + rng.below(3000) as i64,
        "granularity": *rng.pick(&[60, 120, 300]),
    });
    if calc["op"] == "HEATMAP" {
        spec["heatmap"] = json!({"value_buckets": 3 + rng.below(30), "scale": *rng.pick(&["log", "linear"])});
    }
    spec
}
