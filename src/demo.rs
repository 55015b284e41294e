//! A deterministic generator of realistic wide events: one row per HTTP request, with
//! injected incidents so that heatmaps and comparisons have something real to find.
//!
//! The same options and seed always give the same rows, on every platform.
//!
//! Incidents (times relative to the start of the window, for a 24 h window):
//! - **Bad build** ([`BAD_BUILD`]): from 16:00 to 16:30 the canary hosts in `us-east-1`
//!   run it; for three customers ([`BAD_BUILD_CUSTOMERS`]) on two endpoints
//!   ([`BAD_BUILD_ENDPOINTS`]) requests are 8-20x slower and 30% fail with a 500.
//! - **Database degradation** in `eu-west-1` from 06:00 to 06:20: database time triples.

use std::sync::Arc;

use arrow_array::builder::{
    BooleanBuilder, Float64Builder, Int32Builder, Int64Builder, StringBuilder, TimestampMillisecondBuilder,
    UInt16Builder,
};
use arrow_array::types::{Int16Type, Int8Type};
use arrow_array::{ArrayRef, DictionaryArray, Int16Array, Int8Array, RecordBatch, StringArray};
use arrow_ipc::writer::{IpcWriteOptions, StreamWriter};
use arrow_ipc::CompressionType;
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};

use crate::error::{Error, Result};

pub mod trace;

/// End of the default window: 2026-11-01T00:00:00Z.
pub const DEFAULT_END_S: i64 = 1_793_491_200;
/// The build whose canary causes the main incident.
pub const BAD_BUILD: &str = "2026.10.31-7f3c2a1";
/// The customers hurt by the bad build.
pub const BAD_BUILD_CUSTOMERS: [&str; 3] = ["cust_00042", "cust_00317", "cust_01288"];
/// The endpoints hurt by the bad build.
pub const BAD_BUILD_ENDPOINTS: [&str; 2] = ["/api/v2/search", "/api/v2/export"];
/// Number of distinct customers.
pub const CUSTOMERS: usize = 20_000;

/// Options of the generator.
#[derive(Debug, Clone, Copy)]
pub struct DemoOptions {
    /// Number of rows.
    pub rows: usize,
    /// Random seed.
    pub seed: u64,
    /// End of the time window, unix seconds (exclusive).
    pub end_s: i64,
    /// Length of the window in seconds.
    pub span_s: i64,
    /// Rows per record batch.
    pub batch_rows: usize,
    /// Sampling at the source, as a rules sampler such as Refinery does it: every error
    /// (5xx) and every request of a second or more is kept with `SampleRate` 1, and one
    /// in `keep_one_in` of the others with `SampleRate` `keep_one_in`. 0 or 1: every row,
    /// no `SampleRate` column. `rows` counts the requests before sampling.
    pub keep_one_in: u32,
}

impl Default for DemoOptions {
    fn default() -> Self {
        DemoOptions {
            rows: 100_000,
            seed: 42,
            end_s: DEFAULT_END_S,
            span_s: 86_400,
            batch_rows: 65_536,
            keep_one_in: 1,
        }
    }
}

/// An injected incident, as ground truth for tests.
#[derive(Debug, Clone)]
pub struct Incident {
    /// Short name.
    pub name: &'static str,
    /// Start, unix seconds.
    pub start_s: i64,
    /// End, unix seconds (exclusive).
    pub end_s: i64,
}

impl DemoOptions {
    fn start_s(&self) -> i64 {
        self.end_s - self.span_s
    }
    /// The last day's fraction `f` (0..1) as unix seconds (the window's, when shorter
    /// than a day): incidents happen on the last day of a longer window.
    fn at(&self, f: f64) -> i64 {
        let day = self.span_s.min(86_400);
        self.end_s - day + (day as f64 * f) as i64
    }
    /// Whole days in the window (1 unless it is a multiple of a day).
    fn days(&self) -> f64 {
        if self.span_s >= 86_400 && self.span_s % 86_400 == 0 {
            (self.span_s / 86_400) as f64
        } else {
            1.0
        }
    }
    /// The incidents in this window.
    pub fn incidents(&self) -> Vec<Incident> {
        vec![
            Incident { name: "bad build", start_s: self.at(16.0 / 24.0), end_s: self.at(16.5 / 24.0) },
            Incident {
                name: "eu-west-1 database",
                start_s: self.at(6.0 / 24.0),
                end_s: self.at(6.0 / 24.0 + 20.0 / 1440.0),
            },
        ]
    }
}

/// A moment worth a line on every chart: a deploy or an incident.
#[derive(Debug, Clone, serde::Serialize, PartialEq)]
pub struct Marker {
    /// Unix seconds.
    pub time: f64,
    /// What happened.
    pub label: String,
    /// `deploy` or `incident`.
    pub kind: &'static str,
}

impl DemoOptions {
    /// The deploys of the window, as the generator rolls builds out: each base build
    /// from its first hour, and the bad build's canary on the last day (the incident's
    /// cause, with a marker where the first one went out).
    pub fn markers(&self) -> Vec<Marker> {
        let at = |f: f64| (self.start_s() as f64 + self.span_s as f64 * f).floor();
        let mut out: Vec<Marker> = [(5.0, 1), (11.0, 2), (20.0, 4)]
            .iter()
            .map(|(h, b)| Marker { time: at(h / 24.0), label: format!("deploy {}", BUILDS[*b]), kind: "deploy" })
            .collect();
        let bad = &self.incidents()[0];
        out.push(Marker {
            time: bad.start_s as f64,
            label: format!("deploy {BAD_BUILD} (canary, us-east-1)"),
            kind: "deploy",
        });
        out.sort_by(|a, b| a.time.total_cmp(&b.time));
        out
    }
}

/// SplitMix64: small, fast, and identical on every platform.
#[derive(Debug, Clone)]
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x9E37_79B9_7F4A_7C15)
    }
    #[inline]
    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in [0, 1).
    #[inline]
    pub(crate) fn f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }
    #[inline]
    pub(crate) fn below(&mut self, n: usize) -> usize {
        (((self.next_u64() >> 32) * n as u64) >> 32) as usize
    }
    /// Standard normal (Box-Muller).
    pub(crate) fn normal(&mut self) -> f64 {
        let u1 = self.f64().max(1e-300);
        let u2 = self.f64();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }
    pub(crate) fn chance(&mut self, p: f64) -> bool {
        self.f64() < p
    }
}

const ENDPOINTS: [(&str, &str, f64, f64, f64); 14] = [
    // (route, method, weight, median ms, db calls mean)
    ("/api/v2/search", "GET", 14.0, 85.0, 3.0),
    ("/api/v2/export", "POST", 1.5, 900.0, 12.0),
    ("/api/v2/orders", "GET", 16.0, 45.0, 2.0),
    ("/api/v2/orders", "POST", 6.0, 120.0, 5.0),
    ("/api/v2/orders/{id}", "GET", 12.0, 30.0, 1.0),
    ("/api/v2/customers/{id}", "GET", 8.0, 25.0, 1.0),
    ("/api/v2/invoices", "GET", 5.0, 70.0, 3.0),
    ("/api/v2/payments", "POST", 4.0, 350.0, 4.0),
    ("/api/v2/login", "POST", 5.0, 150.0, 2.0),
    ("/api/v2/session", "GET", 10.0, 8.0, 0.0),
    ("/api/v2/reports", "GET", 2.0, 600.0, 9.0),
    ("/api/v2/webhooks", "POST", 3.0, 40.0, 1.0),
    ("/healthz", "GET", 9.0, 2.0, 0.0),
    ("/api/v2/upload", "PUT", 1.0, 1200.0, 2.0),
];
const METHODS: [&str; 3] = ["GET", "POST", "PUT"];
const REGIONS: [&str; 4] = ["us-east-1", "us-west-2", "eu-west-1", "ap-southeast-2"];
const REGION_WEIGHTS: [f64; 4] = [0.45, 0.2, 0.25, 0.1];
const HOSTS_PER_REGION: usize = 8;
const BUILDS: [&str; 5] =
    ["2026.10.30-1a2b3c4", "2026.10.31-5d6e7f8", "2026.10.31-9a8b7c6", BAD_BUILD, "2026.11.01-0c1d2e3"];
const PLANS: [&str; 4] = ["free", "team", "business", "enterprise"];
const USER_AGENTS: [&str; 10] = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/141.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64) Firefox/144.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_5) Mobile/15E148",
    "acme-sdk-python/3.4.1",
    "acme-sdk-go/2.9.0",
    "acme-sdk-node/5.1.2",
    "acme-cli/1.8.0",
    "curl/8.10.1",
    "okhttp/4.12.0",
];
const ERRORS_5XX: [&str; 3] =
    ["upstream timeout: search-index", "database: deadlock detected", "internal: nil pointer in handler"];
const ERRORS_4XX: [&str; 3] = ["invalid token", "rate limit exceeded", "not found"];

/// The schema of the demo with `opts`: [`schema`], plus `SampleRate` when sampled.
pub fn schema_for(opts: &DemoOptions) -> SchemaRef {
    let base = schema();
    if opts.keep_one_in <= 1 {
        return base;
    }
    let mut fields: Vec<Field> = base.fields().iter().map(|f| f.as_ref().clone()).collect();
    fields.push(Field::new("SampleRate", DataType::Int32, false));
    Arc::new(Schema::new(fields).with_metadata(base.metadata().clone()))
}

/// The demo schema.
pub fn schema() -> SchemaRef {
    let dict8 = DataType::Dictionary(Box::new(DataType::Int8), Box::new(DataType::Utf8));
    let dict16 = DataType::Dictionary(Box::new(DataType::Int16), Box::new(DataType::Utf8));
    let mut meta = std::collections::HashMap::new();
    meta.insert("sightline.source".to_string(), "demo".to_string());
    Arc::new(
        Schema::new(vec![
            Field::new("timestamp", DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())), false),
            Field::new("duration_ms", DataType::Float64, false),
            Field::new("endpoint", dict8.clone(), false),
            Field::new("method", dict8.clone(), false),
            Field::new("status_code", DataType::UInt16, false),
            Field::new("customer_id", DataType::Utf8, false),
            Field::new("plan", dict8.clone(), false),
            Field::new("build_id", dict8.clone(), false),
            Field::new("region", dict8.clone(), false),
            Field::new("host", dict16, false),
            Field::new("error", DataType::Utf8, true),
            Field::new("trace_id", DataType::Utf8, false),
            Field::new("user_agent", dict8, false),
            Field::new("db_calls", DataType::Int32, false),
            Field::new("db_duration_ms", DataType::Float64, true),
            Field::new("response_bytes", DataType::Int64, false),
            Field::new("cache_hit", DataType::Boolean, true),
        ])
        .with_metadata(meta),
    )
}

/// Per-customer attributes, fixed by the seed.
struct Customers {
    names: Vec<String>,
    /// Cumulative Zipf weights for sampling.
    cdf: Vec<f64>,
    plan: Vec<u8>,
    region: Vec<u8>,
    bad: Vec<bool>,
    bad_idx: Vec<usize>,
}

impl Customers {
    fn new(seed: u64) -> Customers {
        let mut rng = Rng::new(seed.wrapping_mul(31).wrapping_add(7));
        let mut cdf = Vec::with_capacity(CUSTOMERS);
        let mut total = 0.0;
        for k in 1..=CUSTOMERS {
            total += 1.0 / (k as f64).powf(1.05);
            cdf.push(total);
        }
        let names: Vec<String> = (0..CUSTOMERS).map(|i| format!("cust_{i:05}")).collect();
        let plan = (0..CUSTOMERS)
            .map(|i| {
                let u = rng.f64();
                // Heavy customers are more often on bigger plans.
                let big = if i < 200 { 0.5 } else { 0.0 };
                if u < 0.45 - big * 0.4 {
                    0
                } else if u < 0.75 - big * 0.3 {
                    1
                } else if u < 0.93 - big * 0.2 {
                    2
                } else {
                    3
                }
            })
            .collect();
        let region = (0..CUSTOMERS).map(|_| pick_weighted(&mut rng, &REGION_WEIGHTS) as u8).collect();
        let mut bad = vec![false; CUSTOMERS];
        let mut region: Vec<u8> = region;
        for name in BAD_BUILD_CUSTOMERS {
            if let Some(i) = names.iter().position(|n| n == name) {
                bad[i] = true;
                region[i] = 0; // us-east-1, where the canary runs
            }
        }
        let bad_idx = (0..CUSTOMERS).filter(|i| bad[*i]).collect();
        Customers { names, cdf, plan, region, bad, bad_idx }
    }

    fn sample(&self, rng: &mut Rng) -> usize {
        let total = self.cdf.last().copied().unwrap_or(1.0);
        let u = rng.f64() * total;
        self.cdf.partition_point(|c| *c < u).min(CUSTOMERS - 1)
    }
}

fn pick_weighted(rng: &mut Rng, weights: &[f64]) -> usize {
    let total: f64 = weights.iter().sum();
    let mut u = rng.f64() * total;
    for (i, w) in weights.iter().enumerate() {
        if u < *w {
            return i;
        }
        u -= w;
    }
    weights.len() - 1
}

/// Streams the demo rows as record batches.
pub struct Generator {
    opts: DemoOptions,
    rng: Rng,
    /// Sampling decisions, apart from `rng`: a sampled stream is a subset of the
    /// unsampled one with the same seed, row for row.
    sampler: Rng,
    customers: Customers,
    next_row: usize,
    schema: SchemaRef,
    values: [ArrayRef; 8],
    endpoint_weights: Vec<f64>,
    /// Dictionary key of each of [`ENDPOINTS`]' routes.
    endpoint_keys: Vec<i8>,
}

impl Generator {
    /// A generator for `opts`.
    pub fn new(opts: DemoOptions) -> Generator {
        let hosts: Vec<String> =
            REGIONS.iter().flat_map(|r| (0..HOSTS_PER_REGION).map(move |h| format!("api-{r}-{h:02}"))).collect();
        let strs = |v: Vec<&str>| -> ArrayRef { Arc::new(StringArray::from(v)) };
        let mut routes: Vec<&str> = Vec::new();
        let endpoint_keys = ENDPOINTS
            .iter()
            .map(|e| match routes.iter().position(|r| *r == e.0) {
                Some(k) => k as i8,
                None => {
                    routes.push(e.0);
                    (routes.len() - 1) as i8
                }
            })
            .collect();
        let values = [
            // Unique routes: an Arrow dictionary with repeated values is refused by
            // ClickHouse ("Arrow dictionary contains duplicate values").
            strs(routes.clone()),
            strs(METHODS.to_vec()),
            strs(PLANS.to_vec()),
            strs(BUILDS.to_vec()),
            strs(REGIONS.to_vec()),
            strs(hosts.iter().map(|s| s.as_str()).collect()),
            strs(USER_AGENTS.to_vec()),
            strs(vec![]),
        ];
        Generator {
            opts,
            rng: Rng::new(opts.seed),
            sampler: Rng::new(opts.seed ^ 0x5A3F_1E00_0000_0016),
            customers: Customers::new(opts.seed),
            next_row: 0,
            schema: schema_for(&opts),
            values,
            endpoint_weights: ENDPOINTS.iter().map(|e| e.2).collect(),
            endpoint_keys,
        }
    }

    /// The schema of the batches.
    pub fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }
}

/// Maps a uniform position `u` in the window to a time fraction whose density follows
/// `1 - 0.5 cos(2 pi (x - 1/8))`: quietest at 03:00 UTC, busiest at 15:00 UTC (for a
/// 24 h window). Inverts the CDF with Newton's method (the density is at least 0.5).
fn diurnal(u: f64, o: DemoOptions) -> f64 {
    // Several days: the same curve each day.
    let days = o.days();
    if days > 1.0 {
        let k = (u * days).floor().min(days - 1.0);
        return (k + diurnal((u * days - k).clamp(0.0, 1.0 - 1e-12), DemoOptions { span_s: 86_400, ..o })) / days;
    }
    use std::f64::consts::TAU;
    let phase = 0.125;
    let cdf = |x: f64| x - 0.5 * ((TAU * (x - phase)).sin() - (TAU * -phase).sin()) / TAU;
    let mut x = u;
    for _ in 0..6 {
        let f = 1.0 - 0.5 * (TAU * (x - phase)).cos();
        x = (x - (cdf(x) - u) / f).clamp(0.0, 1.0 - 1e-12);
    }
    x
}

/// Which build served a request at `t_s` on `host` of `region`.
fn build_at(o: &DemoOptions, bad: &Incident, t_s: i64, region: usize, host: usize) -> usize {
    let f = (t_s - o.start_s()) as f64 / o.span_s.max(1) as f64;
    let base = if f < 5.0 / 24.0 {
        0
    } else if f < 11.0 / 24.0 {
        1
    } else if f < 20.0 / 24.0 {
        2
    } else {
        4
    };
    let canary = region == 0 && host.is_multiple_of(2);
    if canary && t_s >= bad.start_s && t_s < bad.end_s {
        3
    } else {
        base
    }
}

impl Generator {
    fn batch(&mut self, n: usize) -> Result<RecordBatch> {
        let o = self.opts;
        let incidents = o.incidents();
        let db = &incidents[1];
        let mut ts = TimestampMillisecondBuilder::with_capacity(n).with_timezone("UTC");
        let mut dur = Float64Builder::with_capacity(n);
        let mut endpoint = Vec::with_capacity(n);
        let mut method = Vec::with_capacity(n);
        let mut status = UInt16Builder::with_capacity(n);
        let mut customer = StringBuilder::with_capacity(n, n * 10);
        let mut plan = Vec::with_capacity(n);
        let mut build = Vec::with_capacity(n);
        let mut region = Vec::with_capacity(n);
        let mut host = Vec::with_capacity(n);
        let mut error = StringBuilder::with_capacity(n, n);
        let mut trace = StringBuilder::with_capacity(n, n * 32);
        let mut ua = Vec::with_capacity(n);
        let mut db_calls = Int32Builder::with_capacity(n);
        let mut db_ms = Float64Builder::with_capacity(n);
        let mut bytes = Int64Builder::with_capacity(n);
        let mut cache = BooleanBuilder::with_capacity(n);
        let mut sample_rate = Int32Builder::with_capacity(n);
        let keep = o.keep_one_in.max(1);
        let rows = o.rows.max(1) as f64;
        let mut hex = [0u8; 32];
        for _ in 0..n {
            let r = &mut self.rng;
            let i = self.next_row;
            self.next_row += 1;
            // Diurnal traffic: warp uniform positions so the rate follows 1 - 0.5 cos(2 pi x).
            let x = (i as f64 + r.f64()) / rows;
            let t_ms = o.start_s() * 1000 + (diurnal(x, o) * o.span_s as f64 * 1000.0) as i64;
            let t_s = t_ms.div_euclid(1000);

            let mut c = self.customers.sample(r);
            let mut e = pick_weighted(r, &self.endpoint_weights);
            let mut reg = if r.chance(0.9) { self.customers.region[c] as usize } else { r.below(REGIONS.len()) };
            let mut h = r.below(HOSTS_PER_REGION);
            if t_s >= incidents[0].start_s && t_s < incidents[0].end_s && r.chance(0.18) {
                // The affected customers' jobs hammer search and export, retrying as they
                // slow down, on the canary hosts that run the bad build.
                c = self.customers.bad_idx[r.below(self.customers.bad_idx.len())];
                e = if r.chance(0.8) { 0 } else { 1 };
                reg = 0;
                h = 2 * r.below(HOSTS_PER_REGION / 2);
            }
            let b = build_at(&o, &incidents[0], t_s, reg, h);
            let (route, m, _, median, dbmean) = ENDPOINTS[e];

            let mut d = median * (0.55 * r.normal()).exp() * (1.0 + 0.15 * (h as f64 / HOSTS_PER_REGION as f64));
            let mut calls = if dbmean > 0.0 { (dbmean * (0.5 + r.f64())).round() as i32 } else { 0 };
            let mut dbt = if calls > 0 { Some(calls as f64 * 2.5 * (0.4 * r.normal()).exp()) } else { None };
            let mut code: u16 = 200;
            let mut err: Option<&str> = None;
            if r.chance(0.002) {
                // a slow tail everywhere
                d *= 5.0 + 20.0 * r.f64();
            }
            let hurt = b == 3 && self.customers.bad[c] && BAD_BUILD_ENDPOINTS.contains(&route);
            if hurt {
                d *= 8.0 + 12.0 * r.f64();
                calls += 20;
                if r.chance(0.3) {
                    code = 500;
                    err = Some(ERRORS_5XX[0]);
                }
            }
            if reg == 2 && t_s >= db.start_s && t_s < db.end_s && calls > 0 {
                let extra = dbt.unwrap_or(0.0) * 2.0;
                dbt = dbt.map(|x| x * 3.0);
                d += extra;
                if r.chance(0.02) {
                    code = 503;
                    err = Some(ERRORS_5XX[1]);
                }
            }
            if code == 200 {
                let u = r.f64();
                if u < 0.003 {
                    code = 500;
                    err = Some(ERRORS_5XX[2]);
                } else if u < 0.02 {
                    let k = r.below(3);
                    code = [401, 429, 404][k];
                    err = Some(ERRORS_4XX[k]);
                    d *= 0.2;
                } else if m == "POST" && u < 0.05 {
                    code = 201;
                }
            }
            // Every draw of the row first, so that a sampled stream is the unsampled one
            // minus the rows it drops (the same seed gives the same rows).
            let (a, z) = (r.next_u64(), r.next_u64());
            let agent = if r.chance(0.6) { c % 4 } else { 4 + (c + r.below(2)) % 6 };
            let size = if code >= 400 { 120.0 } else { median * 40.0 * (0.8 * r.normal()).exp() };
            let cached = if route.contains("search") || route.contains("orders") || route.contains("customers") {
                Some(r.chance(if hurt { 0.05 } else { 0.6 }))
            } else {
                None
            };
            if keep > 1 {
                // Errors and slow requests are all kept; one in `keep` of the rest.
                if code >= 500 || d >= 1000.0 {
                    sample_rate.append_value(1);
                } else if self.sampler.below(keep as usize) == 0 {
                    sample_rate.append_value(keep as i32);
                } else {
                    continue;
                }
            }
            ts.append_value(t_ms);
            dur.append_value((d * 1000.0).round() / 1000.0);
            endpoint.push(self.endpoint_keys[e]);
            method.push(METHODS.iter().position(|x| *x == m).unwrap_or(0) as i8);
            status.append_value(code);
            customer.append_value(&self.customers.names[c]);
            plan.push(self.customers.plan[c] as i8);
            build.push(b as i8);
            region.push(reg as i8);
            host.push((reg * HOSTS_PER_REGION + h) as i16);
            error.append_option(err);
            for (k, byte) in hex.iter_mut().enumerate() {
                let nib = if k < 16 { (a >> (k * 4)) & 15 } else { (z >> ((k - 16) * 4)) & 15 };
                *byte = b"0123456789abcdef"[nib as usize];
            }
            trace.append_value(std::str::from_utf8(&hex).unwrap_or(""));
            ua.push(agent as i8);
            db_calls.append_value(calls);
            db_ms.append_option(dbt.map(|x| (x * 1000.0).round() / 1000.0));
            bytes.append_value(size as i64 + 64);
            cache.append_option(cached);
        }
        let v = &self.values;
        let d8 = |keys: Vec<i8>, values: &ArrayRef| -> Result<ArrayRef> {
            Ok(Arc::new(DictionaryArray::<Int8Type>::try_new(Int8Array::from(keys), values.clone()).map_err(gen_err)?))
        };
        let mut cols: Vec<ArrayRef> = vec![
            Arc::new(ts.finish()),
            Arc::new(dur.finish()),
            d8(endpoint, &v[0])?,
            d8(method, &v[1])?,
            Arc::new(status.finish()),
            Arc::new(customer.finish()),
            d8(plan, &v[2])?,
            d8(build, &v[3])?,
            d8(region, &v[4])?,
            Arc::new(DictionaryArray::<Int16Type>::try_new(Int16Array::from(host), v[5].clone()).map_err(gen_err)?),
            Arc::new(error.finish()),
            Arc::new(trace.finish()),
            d8(ua, &v[6])?,
            Arc::new(db_calls.finish()),
            Arc::new(db_ms.finish()),
            Arc::new(bytes.finish()),
            Arc::new(cache.finish()),
        ];
        if keep > 1 {
            cols.push(Arc::new(sample_rate.finish()));
        }
        RecordBatch::try_new(self.schema.clone(), cols).map_err(gen_err)
    }
}

fn gen_err(e: arrow_schema::ArrowError) -> Error {
    Error::State(format!("demo generator: {e}"))
}

impl Iterator for Generator {
    type Item = Result<RecordBatch>;
    fn next(&mut self) -> Option<Self::Item> {
        let left = self.opts.rows.saturating_sub(self.next_row);
        if left == 0 {
            return None;
        }
        let n = left.min(self.opts.batch_rows.max(1));
        Some(self.batch(n))
    }
}

/// Compression of the IPC bodies written by [`write_ipc`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Compression {
    /// Uncompressed.
    #[default]
    None,
    /// LZ4 frame.
    Lz4,
    /// Zstandard.
    Zstd,
}

impl std::str::FromStr for Compression {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "" | "none" => Ok(Compression::None),
            "lz4" => Ok(Compression::Lz4),
            "zstd" => Ok(Compression::Zstd),
            other => Err(Error::Spec(format!("compression must be none, lz4 or zstd, not \"{other}\""))),
        }
    }
}

/// Writes the demo rows as an Arrow IPC stream into `out`, batch by batch; `flush` is
/// called after each batch with the writer, so a server can send bytes as they come.
pub fn write_ipc<W: std::io::Write>(
    opts: &DemoOptions,
    compression: Compression,
    out: W,
    mut flush: impl FnMut(&mut W) -> std::io::Result<()>,
) -> Result<W> {
    let io = |e: std::io::Error| Error::State(format!("demo writer: {e}"));
    let gen = Generator::new(*opts);
    let options = IpcWriteOptions::default()
        .try_with_compression(match compression {
            Compression::None => None,
            Compression::Lz4 => Some(CompressionType::LZ4_FRAME),
            Compression::Zstd => Some(CompressionType::ZSTD),
        })
        .map_err(gen_err)?;
    let mut w = StreamWriter::try_new_with_options(out, &gen.schema(), options).map_err(gen_err)?;
    for batch in gen {
        w.write(&batch?).map_err(gen_err)?;
        flush(w.get_mut()).map_err(io)?;
    }
    w.finish().map_err(gen_err)?;
    w.into_inner().map_err(gen_err)
}

/// The demo rows as one uncompressed Arrow IPC stream.
pub fn ipc_stream(opts: &DemoOptions) -> Result<Vec<u8>> {
    write_ipc(opts, Compression::None, Vec::new(), |_| Ok(()))
}

/// A dataset of `rows` demo events (tests only).
#[cfg(test)]
pub(crate) fn test_dataset(rows: usize) -> crate::Dataset {
    let mut ds = crate::Dataset::new();
    ds.push(&ipc_stream(&DemoOptions { rows, ..Default::default() }).unwrap()).unwrap();
    ds.finish().unwrap();
    ds
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dictionaries_hold_distinct_values() {
        use arrow_array::cast::AsArray;
        let batch = Generator::new(DemoOptions { rows: 2000, ..Default::default() }).next().unwrap().unwrap();
        let mut checked = 0;
        for (f, col) in batch.schema().fields().iter().zip(batch.columns()) {
            if let DataType::Dictionary(k, _) = f.data_type() {
                let values = match k.as_ref() {
                    DataType::Int8 => col.as_dictionary::<Int8Type>().values().clone(),
                    _ => col.as_dictionary::<Int16Type>().values().clone(),
                };
                let v: Vec<&str> = values.as_string::<i32>().iter().map(|s| s.unwrap()).collect();
                let mut u = v.clone();
                u.sort();
                u.dedup();
                assert_eq!(u.len(), v.len(), "column {}: {v:?}", f.name());
                checked += 1;
            }
        }
        assert_eq!(checked, 7);
    }

    #[test]
    fn deterministic_and_sized() {
        let o = DemoOptions { rows: 3000, batch_rows: 1000, ..Default::default() };
        let a = ipc_stream(&o).unwrap();
        let b = ipc_stream(&o).unwrap();
        assert_eq!(a, b);
        let batches: Vec<_> = Generator::new(o).map(|b| b.unwrap()).collect();
        assert_eq!(batches.len(), 3);
        assert_eq!(batches.iter().map(|b| b.num_rows()).sum::<usize>(), 3000);
    }

    #[test]
    fn zipf_customers_are_skewed_but_wide() {
        let c = Customers::new(1);
        let mut rng = Rng::new(2);
        let mut counts = vec![0u32; CUSTOMERS];
        for _ in 0..200_000 {
            counts[c.sample(&mut rng)] += 1;
        }
        let distinct = counts.iter().filter(|x| **x > 0).count();
        assert!(counts[0] > 10 * counts[100], "head {} vs rank 100 {}", counts[0], counts[100]);
        assert!(distinct > 10_000, "only {distinct} customers seen");
    }

    /// A week sampled at the source: a daily traffic curve each day, the incidents on
    /// the last day, and `SampleRate` making the weighted COUNT the requests before
    /// sampling (every 5xx kept with rate 1, so error counts are exact).
    #[test]
    fn sampled_week_answers_for_every_request() {
        let rows = 200_000;
        let week = DemoOptions { rows, span_s: 8 * 86_400, keep_one_in: 10, ..Default::default() };
        let mut ds = crate::Dataset::new();
        ds.push(&ipc_stream(&week).unwrap()).unwrap();
        ds.finish().unwrap();
        assert!(ds.row_count() < rows / 5, "{} rows kept of {rows}", ds.row_count());
        let q = |spec: serde_json::Value| crate::query::run(&ds, &serde_json::from_value(spec).unwrap()).unwrap();
        let num = |c: Option<&crate::query::Cell>| match c {
            Some(crate::query::Cell::Num(x)) => *x,
            other => panic!("{other:?}"),
        };
        let all = q(serde_json::json!({}));
        assert_eq!(all.sample_rate_column.as_deref(), Some("SampleRate"));
        let count = num(all.results[0].get("COUNT"));
        assert!((count - rows as f64).abs() < rows as f64 * 0.02, "weighted COUNT {count} of {rows}");
        // Each of the 8 days carries about an eighth, busiest in the afternoon of each.
        let days = q(
            serde_json::json!({ "granularity": 86400, "start_time": week.end_s - 8 * 86400, "end_time": week.end_s }),
        );
        assert_eq!(days.series.len(), 8);
        for d in &days.series {
            let c = num(d.get("COUNT"));
            assert!((c - rows as f64 / 8.0).abs() < rows as f64 * 0.01, "a day has {c}");
        }
        // The bad build is on the last day only.
        let bad = q(
            serde_json::json!({ "breakdowns": ["build_id"], "filters": [{ "column": "build_id", "op": "=", "value": BAD_BUILD }],
                                        "start_time": week.end_s - 86400, "end_time": week.end_s }),
        );
        let early = q(serde_json::json!({ "filters": [{ "column": "build_id", "op": "=", "value": BAD_BUILD }],
                                          "end_time": week.end_s - 86400 }));
        assert!(!bad.results.is_empty());
        assert_eq!(early.matched, 0);
        // The same seed unsampled: the sampled stream is it minus dropped rows, so the
        // weighted count of kept-whole rows (5xx) is exact.
        let mut full = crate::Dataset::new();
        full.push(&ipc_stream(&DemoOptions { keep_one_in: 1, ..week }).unwrap()).unwrap();
        full.finish().unwrap();
        let errors = serde_json::json!({ "filters": [{ "column": "status_code", "op": ">=", "value": 500 }], "breakdowns": ["region"] });
        let theirs = crate::query::run(&full, &serde_json::from_value(errors.clone()).unwrap()).unwrap();
        assert_eq!(q(errors).results, theirs.results);
        assert_eq!(full.row_count(), rows);
    }

    /// Each deploy marker is where its build's first request is (the data's truth).
    #[test]
    fn deploy_markers_are_where_builds_start() {
        let o = DemoOptions { rows: 50_000, ..Default::default() };
        let mut ds = crate::Dataset::new();
        ds.push(&ipc_stream(&o).unwrap()).unwrap();
        ds.finish().unwrap();
        let markers = o.markers();
        assert_eq!(markers.len(), 4);
        for m in &markers {
            let build = m.label.trim_start_matches("deploy ").split(' ').next().unwrap();
            let ev = crate::query::events::events(
                &ds,
                &serde_json::from_value(serde_json::json!({
                    "filters": [{ "column": "build_id", "op": "=", "value": build }],
                    "columns": ["timestamp"], "order": "oldest", "limit": 1
                }))
                .unwrap(),
            )
            .unwrap();
            let first = match &ev.rows[0][0] {
                crate::query::Cell::Num(t) => *t,
                other => panic!("{other:?}"),
            };
            assert!(
                first >= m.time && first < m.time + 120.0,
                "{}: first request at {first}, marker at {}",
                m.label,
                m.time
            );
        }
    }
}
