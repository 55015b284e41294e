//! `sightline serve` over HTTP: push-down answers, local files (Arrow IPC stream and
//! file, Parquet, NDJSON), and the safety rules (token, CORS, bad parameters, path
//! traversal, request size). Servers run in-process on port 0.

#[path = "support/http.rs"]
mod http;

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{json, Value};
use sightline::demo::{self, DemoOptions};
use sightline::query::{run, QuerySpec};
use sightline::Dataset;
use sightline_server::{Config, Server};

const ROWS: usize = 30_000;

fn start(config: Config) -> SocketAddr {
    let server = Server::bind(Config { port: 0, root: PathBuf::from(ROOT), rows: ROWS, ..config }).unwrap();
    let addr = server.local_addr().unwrap();
    std::thread::spawn(move || server.run());
    addr
}

fn decode(bytes: &[u8]) -> Dataset {
    let mut ds = Dataset::new();
    ds.push(bytes).unwrap();
    ds.finish().unwrap();
    ds
}

fn demo_dataset() -> Dataset {
    decode(&demo::ipc_stream(&DemoOptions { rows: ROWS, seed: 42, ..Default::default() }).unwrap())
}

/// Rows the query engine counts for these filters and times.
fn count(ds: &Dataset, spec: Value) -> usize {
    let spec: QuerySpec = serde_json::from_value(spec).unwrap();
    run(ds, &QuerySpec { disable_series: true, ..spec }).unwrap().matched as usize
}

fn json_body(r: &http::Resp) -> Value {
    serde_json::from_slice(&r.body).unwrap_or_else(|e| panic!("{e}: {}", r.text()))
}

#[test]
fn events_push_down() {
    let addr = start(Config::default());
    let ds = demo_dataset();
    let filters = json!([{ "column": "customer_id", "op": "=", "value": "cust_00042" }]);
    let q = format!("/api/events?filters={}&order=newest&limit=500", http::pct(&filters.to_string()));
    let r = http::get(addr, &q);
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.complete);
    let got = decode(&r.body);
    let expect = count(&ds, json!({ "filters": filters })).min(500);
    assert!(expect > 50, "cust_00042 is a big customer: {expect}");
    assert_eq!(got.row_count(), expect);
    assert_eq!(r.header("x-sightline-rows"), Some(expect.to_string().as_str()));
    assert_eq!(got.columns().len(), 17);

    // POST with the same fields as JSON gives the same bytes.
    let body = json!({ "filters": filters, "order": "newest", "limit": 500 }).to_string();
    let p = http::request(addr, "POST", "/api/events", &[("Content-Type", "application/json")], body.as_bytes());
    assert_eq!(p.status, 200, "{}", p.text());
    assert_eq!(p.body, r.body);

    // Time range, projection, compression, batch size.
    let (s, e) = (1_793_491_200.0 - 86_400.0 + 6.0 * 3600.0, 1_793_491_200.0 - 86_400.0 + 6.5 * 3600.0);
    let f2 = json!([{ "column": "region", "op": "=", "value": "eu-west-1" }, { "column": "db_duration_ms", "op": ">", "value": 5 }]);
    let q = format!(
        "/api/events?start={s}&end={e}&filters={}&columns=timestamp,db_duration_ms,host&compression=zstd&batch_rows=100",
        http::pct(&f2.to_string())
    );
    let r = http::get(addr, &q);
    assert_eq!(r.status, 200, "{}", r.text());
    let got = decode(&r.body);
    assert_eq!(got.row_count(), count(&ds, json!({ "filters": f2, "start_time": s, "end_time": e })));
    assert!(got.row_count() > 10, "{}", got.row_count());
    assert_eq!(
        got.columns().iter().map(|c| c.name.as_str()).collect::<Vec<_>>(),
        ["timestamp", "db_duration_ms", "host"]
    );

    // OR, sample.
    let f3 = json!([{ "column": "status_code", "op": ">=", "value": 500 }, { "column": "plan", "op": "=", "value": "free" }]);
    let q = format!("/api/events?filters={}&filter_combination=OR&columns=status_code", http::pct(&f3.to_string()));
    let r = http::get(addr, &q);
    let all = decode(&r.body).row_count();
    assert_eq!(all, count(&ds, json!({ "filters": f3, "filter_combination": "OR" })));
    let r = http::get(addr, &format!("{q}&sample=0.25&seed=9"));
    let n = decode(&r.body).row_count() as f64;
    let sd = (all as f64 * 0.25 * 0.75).sqrt();
    assert!((n - all as f64 * 0.25).abs() < 5.0 * sd, "{n} of {all}");
    assert_eq!(r.header("x-sightline-matched"), Some(all.to_string().as_str()));

    // Sources and columns.
    let src = json_body(&http::get(addr, "/api/sources"));
    assert_eq!(src["sources"][0]["name"], "demo");
    let cols = json_body(&http::get(addr, "/api/columns?source=demo"));
    assert_eq!(cols["rows"], ROWS);
    assert_eq!(cols["time_column"], "timestamp");
    assert_eq!(cols["columns"][0]["name"], "timestamp");
    assert_eq!(cols["columns"][0]["role"], "time");

    // The demo stream still works as the page and its tests use it.
    let r = http::get(addr, "/api/demo?rows=1234&seed=3&compression=lz4&batch_rows=500");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("x-sightline-rows"), Some("1234"));
    assert_eq!(decode(&r.body).row_count(), 1234);
}

#[test]
fn bad_requests_name_the_parameter() {
    let addr = start(Config::default());
    for (q, param) in [
        ("limit=0", "limit"),
        ("limit=-3", "limit"),
        ("sample=1.5", "sample"),
        ("order=sideways", "order"),
        ("start=abc", "start"),
        ("start=10&end=5", "end"),
        ("source=nope", "source"),
        ("columns=timestamp,nope", "columns"),
        ("columns=a,a", "columns"),
        ("compression=gzip", "compression"),
        ("batch_rows=0", "batch_rows"),
        ("filters=not-json", "filters"),
        ("filters=%5B%7B%22column%22%3A%22nope%22%2C%22op%22%3A%22exists%22%7D%5D", "filters"),
        ("filters=%5B%7B%22column%22%3A%22endpoint%22%2C%22op%22%3A%22like%22%2C%22value%22%3A1%7D%5D", "filters"),
        (
            "filters=%5B%7B%22column%22%3A%22duration_ms%22%2C%22op%22%3A%22%3E%22%2C%22value%22%3A%22x%22%7D%5D",
            "filters",
        ),
        ("time_column=endpoint&start=1", "time_column"),
        ("bogus=1", "query"),
    ] {
        let r = http::get(addr, &format!("/api/events?{q}"));
        assert_eq!(r.status, 400, "{q}: {}", r.text());
        let v = json_body(&r);
        assert_eq!(v["parameter"], param, "{q}: {v}");
        assert!(v["error"].as_str().unwrap().starts_with(&format!("parameter \"{param}\"")), "{v}");
    }
    let many: Vec<Value> = (0..40).map(|_| json!({ "column": "endpoint", "op": "exists" })).collect();
    let r = http::get(addr, &format!("/api/events?filters={}", http::pct(&json!(many).to_string())));
    assert_eq!(json_body(&r)["parameter"], "filters");
    let r = http::request(addr, "POST", "/api/events", &[], b"{\"limit\": \"ten\"}");
    assert_eq!(r.status, 400);
    assert_eq!(json_body(&r)["parameter"], "body");
    let r = http::request(addr, "POST", "/api/events?limit=3", &[], b"{}");
    assert_eq!(json_body(&r)["parameter"], "query");
    let r = http::request(addr, "DELETE", "/api/events", &[], b"");
    assert_eq!(r.status, 405);
    let r = http::request(addr, "POST", "/api/demo", &[], b"{}");
    assert_eq!(r.status, 405);
}

#[test]
fn limits_and_paths() {
    let addr = start(Config::default());
    for p in [
        "/www/../Cargo.toml",
        "/pkg/%2e%2e/Cargo.toml",
        "/www/.hidden",
        "/www//etc/passwd",
        "/src/main.rs",
        "/www/..%2fCargo.toml",
    ] {
        let r = http::get(addr, p);
        assert_eq!(r.status, 404, "{p}");
    }
    assert_eq!(http::get(addr, "/www/index.html").status, 200);
    // A head larger than 16 KiB.
    let big = "x".repeat(20 << 10);
    let r = http::request(addr, "GET", "/api/sources", &[("X-Big", &big)], b"");
    assert_eq!(r.status, 431);
    // A body larger than 1 MiB is refused before it is read.
    let mut s = TcpStream::connect(addr).unwrap();
    s.write_all(b"POST /api/events HTTP/1.1\r\nHost: localhost\r\nContent-Length: 2000000\r\n\r\n").unwrap();
    let mut raw = Vec::new();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let _ = s.read_to_end(&mut raw);
    assert_eq!(http::parse(&raw).status, 413);
    // Chunked request bodies are read (hyper decodes them), within the same limit.
    let mut s = TcpStream::connect(addr).unwrap();
    let body = b"{\"limit\": 2}";
    let chunked = format!("{:x}\r\n{}\r\n0\r\n\r\n", body.len(), std::str::from_utf8(body).unwrap());
    let head =
        "POST /api/events HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n";
    s.write_all(format!("{head}{chunked}").as_bytes()).unwrap();
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    let r = http::parse(&raw);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(decode(&r.body).row_count(), 2);
    let mut s = TcpStream::connect(addr).unwrap();
    s.write_all(format!("{head}100001\r\n").as_bytes()).unwrap();
    let _ = s.write_all(&vec![b' '; 1 << 20]);
    let _ = s.write_all(b"x\r\n0\r\n\r\n");
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    assert_eq!(http::parse(&raw).status, 413);
    // A filter value longer than 4 KiB.
    let long = json!([{ "column": "endpoint", "op": "=", "value": "x".repeat(5000) }]);
    let r = http::request(addr, "POST", "/api/events", &[], json!({ "filters": long }).to_string().as_bytes());
    assert_eq!(r.status, 400);
    assert_eq!(json_body(&r)["parameter"], "filters");
}

#[test]
fn token_and_cors() {
    let addr = start(Config {
        token: Some("s3cret".into()),
        cors_origin: Some("https://admin.example".into()),
        ..Config::default()
    });
    let r = http::get(addr, "/api/sources");
    assert_eq!(r.status, 401);
    assert_eq!(r.header("www-authenticate"), Some("Bearer"));
    assert_eq!(http::request(addr, "GET", "/api/sources", &[("Authorization", "Bearer wrong")], b"").status, 401);
    assert_eq!(http::request(addr, "GET", "/api/demo?rows=10", &[("Authorization", "Bearer s3cre")], b"").status, 401);
    let ok = http::request(addr, "GET", "/api/sources", &[("Authorization", "Bearer s3cret")], b"");
    assert_eq!(ok.status, 200);
    assert_eq!(ok.header("access-control-allow-origin"), None);
    // Static files are not guarded.
    assert_eq!(http::get(addr, "/").status, 200);
    // CORS: the configured origin only.
    let h = [("Authorization", "Bearer s3cret"), ("Origin", "https://admin.example")];
    let r = http::request(addr, "GET", "/api/events?limit=3", &h, b"");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("access-control-allow-origin"), Some("https://admin.example"));
    assert!(r.header("access-control-expose-headers").unwrap().to_ascii_lowercase().contains("x-sightline-rows"));
    let evil = [("Authorization", "Bearer s3cret"), ("Origin", "https://evil.example")];
    assert_eq!(
        http::request(addr, "GET", "/api/events?limit=3", &evil, b"").header("access-control-allow-origin"),
        None
    );
    let preflight = |addr, origin| {
        let h = [("Origin", origin), ("Access-Control-Request-Method", "GET")];
        http::request(addr, "OPTIONS", "/api/events", &h, b"")
    };
    let pre = preflight(addr, "https://admin.example");
    assert_eq!(pre.status, 200);
    assert_eq!(pre.header("access-control-allow-origin"), Some("https://admin.example"));
    assert!(pre.header("access-control-allow-headers").unwrap().contains("authorization"));
    // Another origin's preflight gets no grant (the browser then refuses the request).
    let evil = preflight(addr, "https://evil.example");
    assert_eq!(evil.header("access-control-allow-origin"), None);

    // Without configuration: no CORS at all.
    let plain = start(Config::default());
    let r = http::request(plain, "GET", "/api/events?limit=1", &[("Origin", "https://admin.example")], b"");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("access-control-allow-origin"), None);
    let pre = preflight(plain, "https://admin.example");
    assert_eq!(pre.status, 405);
    assert_eq!(pre.header("access-control-allow-origin"), None);
}

fn files_dir(name: &str) -> PathBuf {
    let d = Path::new(ROOT).join(format!("tests/out/server-files-{name}"));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn local_files() {
    let dir = files_dir("ok");
    let opts = DemoOptions { rows: 5000, seed: 5, batch_rows: 1000, ..Default::default() };
    let batches: Vec<_> = demo::Generator::new(opts).map(|b| b.unwrap()).collect();
    let schema = batches[0].schema();
    // Arrow IPC stream, Arrow IPC file, Parquet (snappy), NDJSON (OpenTelemetry-style logs).
    std::fs::write(dir.join("stream.arrow"), demo::ipc_stream(&opts).unwrap()).unwrap();
    let mut fw =
        arrow_ipc::writer::FileWriter::try_new(std::fs::File::create(dir.join("file.arrow")).unwrap(), &schema)
            .unwrap();
    for b in &batches {
        fw.write(b).unwrap();
    }
    fw.finish().unwrap();
    let props = parquet::file::properties::WriterProperties::builder()
        .set_compression(parquet::basic::Compression::SNAPPY)
        .set_max_row_group_row_count(Some(1500))
        .build();
    let mut pw = parquet::arrow::ArrowWriter::try_new(
        std::fs::File::create(dir.join("table.parquet")).unwrap(),
        schema.clone(),
        Some(props),
    )
    .unwrap();
    for b in &batches {
        pw.write(b).unwrap();
    }
    pw.close().unwrap();
    let mut logs = String::new();
    for i in 0..300u64 {
        let sev = ["INFO", "WARN", "ERROR"][(i % 3) as usize];
        let service = ["api", "web"][(i % 2) as usize];
        logs.push_str(
            &json!({
                "timeUnixNano": (1_793_491_200_000_000_000u64 + i * 1_000_000_000).to_string(),
                "severityText": sev,
                "body": format!("request {i} done"),
                "attributes": { "http.status_code": 200 + (i % 4) * 100, "duration_ms": i as f64 / 3.0 },
                "resource": { "service": { "name": service }, "host": { "name": format!("h{}", i % 5) } },
                "trace": if i % 10 == 0 { Value::Null } else { json!({ "id": format!("{i:032x}") }) },
            })
            .to_string(),
        );
        logs.push('\n');
    }
    std::fs::write(dir.join("logs.ndjson"), logs).unwrap();
    // Spans of three demo requests, as an OpenTelemetry export would store them.
    let requests: Vec<_> = batches[0]
        .column(11)
        .as_any()
        .downcast_ref::<arrow_array::StringArray>()
        .unwrap()
        .iter()
        .take(3)
        .map(|id| demo::trace::find_request(&opts, id.unwrap()).unwrap().unwrap())
        .collect();
    let span_batches: Vec<_> = requests.iter().map(|r| demo::trace::spans(r).unwrap()).collect();
    let mut sw = arrow_ipc::writer::StreamWriter::try_new(
        std::fs::File::create(dir.join("spans.arrow")).unwrap(),
        &span_batches[0].schema(),
    )
    .unwrap();
    for b in span_batches.iter().rev() {
        sw.write(b).unwrap();
    }
    sw.finish().unwrap();
    std::fs::write(dir.join("ignored.txt"), "not data").unwrap();

    let addr = start(Config { data: vec![dir.clone()], ..Config::default() });
    let src = json_body(&http::get(addr, "/api/sources"));
    let names: Vec<&str> = src["sources"].as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["file", "logs", "spans", "stream", "table", "demo"]);

    // A trace from a file of spans: only its own, oldest first, parents before children.
    for (r, b) in requests.iter().zip(&span_batches) {
        let t = json_body(&http::get(addr, &format!("/api/trace?source=spans&id={}", r.trace_id)));
        let rows = t["rows"].as_array().unwrap();
        assert_eq!(rows.len(), b.num_rows(), "{t}");
        let col = |n: &str| t["columns"].as_array().unwrap().iter().position(|c| c == n).unwrap();
        assert!(rows.iter().all(|row| row[col("trace_id")] == json!(r.trace_id)));
        assert!(rows[0][col("parent_span_id")].is_null());
        for (k, row) in rows.iter().enumerate().skip(1) {
            let parent = &row[col("parent_span_id")];
            assert!(rows[..k].iter().any(|p| &p[col("span_id")] == parent), "span {k}'s parent comes first");
        }
    }
    // The demo source answers with the spans its request fans out into.
    let demo_rows =
        demo::Generator::new(DemoOptions { rows: ROWS, seed: 42, ..Default::default() }).next().unwrap().unwrap();
    let id = demo_rows.column(11).as_any().downcast_ref::<arrow_array::StringArray>().unwrap().value(9).to_string();
    let t = json_body(&http::get(addr, &format!("/api/trace?source=demo&id={id}")));
    assert!(t["rows"].as_array().unwrap().len() >= 3, "{t}");
    let r = http::get(addr, "/api/trace?source=logs&id=abc");
    assert_eq!(r.status, 400, "no trace_id column in logs: {}", r.text());
    assert!(r.text().contains("trace_column"), "{}", r.text());
    let t = json_body(&http::get(addr, &format!("/api/trace?source=logs&trace_column=trace.id&id={:032x}", 7)));
    assert_eq!(t["matched"], 1, "{t}");
    assert_eq!(http::get(addr, "/api/trace?source=spans&id=feedbeef").status, 404);
    // Every events answer says where its traces are; the demo stream says it for its own options.
    let r = http::get(addr, "/api/events?source=spans&limit=1");
    assert_eq!(r.header("x-sightline-trace"), Some("trace?source=spans&id={id}"));
    let r = http::get(addr, "/api/demo?rows=10&days=8&keep=10");
    assert_eq!(r.header("x-sightline-trace"), Some("demo/trace?rows=10&seed=42&days=8&keep=10&id={id}"));

    let ds = decode(&demo::ipc_stream(&opts).unwrap());
    let f = json!([{ "column": "status_code", "op": ">=", "value": 400 }, { "column": "endpoint", "op": "contains", "value": "orders" }]);
    let expect = count(&ds, json!({ "filters": f }));
    assert!(expect > 20);
    for source in ["stream", "file", "table"] {
        let r =
            http::get(addr, &format!("/api/events?source={source}&filters={}&order=newest", http::pct(&f.to_string())));
        assert_eq!(r.status, 200, "{source}: {}", r.text());
        let got = decode(&r.body);
        assert_eq!(got.row_count(), expect, "{source}");
        let cols = json_body(&http::get(addr, &format!("/api/columns?source={source}")));
        assert_eq!(cols["rows"], 5000, "{source}");
    }
    // The first --data source is the default.
    assert_eq!(json_body(&http::get(addr, "/api/columns"))["source"], "file");

    let cols = json_body(&http::get(addr, "/api/columns?source=logs"));
    assert_eq!(cols["time_column"], "timeUnixNano");
    let by_name = |n: &str| cols["columns"].as_array().unwrap().iter().find(|c| c["name"] == n).cloned().unwrap();
    assert_eq!(by_name("resource.service.name")["role"], "string");
    assert_eq!(by_name("attributes.http.status_code")["type"], "Int64");
    assert_eq!(by_name("trace.id")["nulls"], 30);
    let lf = json!([{ "column": "resource.service.name", "op": "=", "value": "web" }, { "column": "severityText", "op": "=", "value": "ERROR" }]);
    let r = http::get(
        addr,
        &format!(
            "/api/events?source=logs&filters={}&order=newest&limit=10&columns=timeUnixNano,body",
            http::pct(&lf.to_string())
        ),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let got = decode(&r.body);
    assert_eq!(got.row_count(), 10); // of 50: i odd and i % 3 == 2, i = 5, 11, ..., 299
    let newest = got.column("body").unwrap();
    if let sightline::column::ColumnData::Str(s) = &newest.data {
        assert_eq!(s.get(0), Some("request 299 done"));
    } else {
        panic!("body is a string column");
    }
}

#[test]
fn bad_data_fails_at_start() {
    let dir = files_dir("bad");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("broken.parquet"), b"PAR1 not really").unwrap();
    let e =
        Server::bind(Config { port: 0, data: vec![dir.join("broken.parquet")], ..Config::default() }).err().unwrap();
    assert!(e.to_string().contains("broken.parquet"), "{e}");
    let e = Server::bind(Config { port: 0, data: vec![dir.join("missing.arrow")], ..Config::default() }).err().unwrap();
    assert!(e.to_string().contains("no such file"), "{e}");
}

#[test]
fn garbage_requests_get_errors_not_crashes() {
    let addr = start(Config { workers: 4, queue: 8, ..Config::default() });
    let mut x: u64 = 0x2545_F491_4F6C_DD1D;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let pieces: [&[u8]; 12] = [
        b"GET ",
        b"POST ",
        b"/api/events?",
        b"filters=%5B%7B",
        b"%ZZ",
        b"\r\n",
        b"Content-Length: 99999999999999999999\r\n",
        b"Content-Length: 5\r\n",
        b"\xff\xfe",
        b" HTTP/1.1",
        b"limit=18446744073709551616&",
        b"columns=,,,&",
    ];
    for _ in 0..300 {
        let mut req = Vec::new();
        for _ in 0..(next() % 12) {
            req.extend_from_slice(pieces[(next() % 12) as usize]);
            if next() % 4 == 0 {
                req.push((next() % 256) as u8);
            }
        }
        req.extend_from_slice(b"\r\n\r\n");
        let mut s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
        let _ = s.write_all(&req);
        let _ = s.shutdown(std::net::Shutdown::Write);
        let mut raw = Vec::new();
        let _ = s.read_to_end(&mut raw);
        // Empty lines before a request line are skipped (RFC 9112, 2.2): a client that
        // sends only those and hangs up has asked nothing.
        let blank = req.iter().all(|b| matches!(b, b'\r' | b'\n'));
        assert!(raw.starts_with(b"HTTP/1.1 ") || blank, "no response to {:?}", String::from_utf8_lossy(&req));
    }
    // Still serving.
    let r = http::get(addr, "/api/events?limit=2");
    assert_eq!(r.status, 200);
    assert_eq!(decode(&r.body).row_count(), 2);
}

#[test]
fn path_traversal_attempts_are_refused() {
    let addr = start(Config::default());
    let long = format!("/www/{}index.html", "a/".repeat(3000));
    let targets = [
        "/www/%2e%2e/Cargo.toml",
        "/www/%2E%2E/%2E%2E/etc/passwd",
        "/www/%252e%252e/Cargo.toml",
        "/www/%25252e%25252e/Cargo.toml",
        "/www/..%5cCargo.toml",
        "/www/%5c..%5c..%5cCargo.toml",
        "/www/..\\Cargo.toml",
        "/www\\..\\Cargo.toml",
        "/www/index.html%00.png",
        "/www/%00",
        "/www/%00/../Cargo.toml",
        "/pkg/..%2f..%2fCargo.toml",
        "/www/%2f..%2fCargo.toml",
        "/www/./index.html",
        "/%2e%2e/Cargo.toml",
        "/www/index.html/..",
        "/www/..;/Cargo.toml",
        "/www/%c0%ae%c0%ae/Cargo.toml",
        "/www/%e0%80%ae%e0%80%ae/Cargo.toml",
        "/www/%ef%bc%8e%ef%bc%8e/Cargo.toml",
        "/www/%",
        "/www/%2",
        "/www/%zz",
        "//etc/passwd",
        "/www//etc/passwd",
        "/www/~/.ssh/id_rsa",
        "/www/C:/Windows/win.ini",
        "/pkg/.%2e/Cargo.toml",
        "http://evil/www/../Cargo.toml",
        long.as_str(),
    ];
    for t in targets {
        let r = http::get(addr, t);
        // 403: an absolute URI naming another host is refused like a foreign Host.
        assert!(matches!(r.status, 400 | 403 | 404 | 431), "{t}: {} {}", r.status, r.text());
        assert!(!r.text().contains("[package]") && !r.text().contains("root:"), "{t} leaked a file");
    }
    // Raw bytes the client helper would not send: NUL, control characters, invalid UTF-8.
    for raw in [
        &b"GET /www/\0/../Cargo.toml HTTP/1.1\r\nHost: localhost\r\n\r\n"[..],
        b"GET /www/index.html\0 HTTP/1.1\r\nHost: localhost\r\n\r\n",
        b"GET /www/\xff\xfe HTTP/1.1\r\nHost: localhost\r\n\r\n",
        b"GET /www/\r/../../Cargo.toml HTTP/1.1\r\nHost: localhost\r\n\r\n",
        b"GET /www/%0d%0aX-Injected:%201 HTTP/1.1\r\nHost: localhost\r\n\r\n",
    ] {
        let mut s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
        s.write_all(raw).unwrap();
        let mut out = Vec::new();
        let _ = s.read_to_end(&mut out);
        let r = http::parse(&out);
        assert!(r.status == 404 || r.status == 400, "{:?}: {}", String::from_utf8_lossy(raw), r.status);
        assert!(r.header("x-injected").is_none());
    }
    assert_eq!(http::get(addr, "/www/index.html").status, 200);
}

/// `sightline serve` as a child process, so that its descriptors and memory can be read
/// in /proc. Killed on drop.
struct ServeProcess {
    child: std::process::Child,
    addr: SocketAddr,
    /// Where its stderr goes.
    log: PathBuf,
}

impl ServeProcess {
    fn start(args: &[&str]) -> ServeProcess {
        use std::io::BufRead;
        static STARTED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = STARTED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let log = std::env::temp_dir().join(format!("sightline-serve-{}-{n}.log", std::process::id()));
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_sightline"))
            .args(["serve", "--port", "0", "--root", ROOT, "--rows", "30000"])
            .args(args)
            // Two malloc arenas, not one per worker thread (up to 8 per core): what the
            // allocator keeps cached then varies less from round to round.
            .env("MALLOC_ARENA_MAX", "2")
            .stdout(std::process::Stdio::piped())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let url = line.trim().rsplit(' ').next().unwrap();
        let addr = url.trim_start_matches("http://").trim_end_matches('/').parse().unwrap();
        ServeProcess { child, addr, log }
    }
    /// Fails if the server logged a panic (a task's panic ends one connection, and
    /// would go unseen by the clients that got their answers).
    fn assert_no_panic(&self) {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        assert!(!text.contains("panicked"), "the server panicked:\n{text}");
    }
    fn fds(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/fd", self.child.id())).unwrap().count()
    }
    fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
        line.split_whitespace().nth(1).unwrap().parse().unwrap()
    }
    fn threads(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/task", self.child.id())).unwrap().count()
    }
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.log);
    }
}

/// Runs `n` clients, `at_once` at a time, each on its own thread; returns how many
/// returned true.
fn clients(n: usize, at_once: usize, client: impl Fn(usize) -> bool + Sync) -> usize {
    let next = std::sync::atomic::AtomicUsize::new(0);
    let ok = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..at_once.min(n) {
            s.spawn(|| loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= n {
                    return;
                }
                if client(i) {
                    ok.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
            });
        }
    });
    ok.into_inner()
}

/// Asks for a long stream, reads its first 8 KiB, and hangs up (a reset: unread bytes).
fn disconnect_mid_stream(addr: SocketAddr, i: usize) -> bool {
    let target =
        if i.is_multiple_of(2) { "/api/demo?rows=200000&batch_rows=1000" } else { "/api/events?batch_rows=500" };
    let Ok(mut s) = TcpStream::connect(addr) else { return false };
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    if s.write_all(format!("GET {target} HTTP/1.1\r\nHost: localhost\r\n\r\n").as_bytes()).is_err() {
        return false;
    }
    let mut got = vec![0u8; 8 << 10];
    s.read_exact(&mut got).is_ok() && got.starts_with(b"HTTP/1.1 200")
}

/// Trickles a request head one byte every 100 ms and never ends it; true if the server
/// hung up within 13 s, answering nothing (hyper closes a connection whose head has not
/// arrived within `READ_TIMEOUT`, 10 s, without a response) or a 408.
fn slowloris(addr: SocketAddr) -> bool {
    let Ok(mut s) = TcpStream::connect(addr) else { return false };
    let started = std::time::Instant::now();
    let head = b"GET /api/sources HTTP/1.1\r\nHost: localhost\r\nX-Slow: ";
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    for i in 0.. {
        if started.elapsed() > Duration::from_secs(20) {
            return false;
        }
        let byte = head.get(i).copied().unwrap_or(b'a');
        if s.write_all(&[byte]).is_err() {
            break;
        }
        s.set_read_timeout(Some(Duration::from_millis(100))).unwrap();
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {}
            Err(_) => break,
        }
    }
    started.elapsed() < Duration::from_secs(13) && (out.is_empty() || out.starts_with(b"HTTP/1.1 408"))
}

/// Asks for a long stream and never reads it, holding the connection for `hold`.
fn stalled_reader(addr: SocketAddr, i: usize, hold: Duration) -> bool {
    let target =
        if i.is_multiple_of(2) { "/api/demo?rows=2000000&batch_rows=2000" } else { "/api/events?batch_rows=200" };
    let Ok(mut s) = TcpStream::connect(addr) else { return false };
    let sent = s.write_all(format!("GET {target} HTTP/1.1\r\nHost: localhost\r\n\r\n").as_bytes()).is_ok();
    std::thread::sleep(hold);
    sent
}

/// Waits until the server holds at most `fds` descriptors; returns what it holds.
fn settle_fds(server: &ServeProcess, fds: usize) -> usize {
    let until = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        let now = server.fds();
        if now <= fds || std::time::Instant::now() > until {
            return now;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// 500 clients that hang up mid-stream, 100 that trickle their request head (slowloris)
/// and 100 that stop reading mid-stream: each gets an error or is cut off, and the
/// server's descriptors, threads and memory return to where they were.
#[test]
fn hostile_clients_leak_neither_descriptors_nor_memory() {
    let started = std::time::Instant::now();
    let server = ServeProcess::start(&["--workers", "128", "--queue", "512", "--timeout", "2"]);
    let addr = server.addr;
    let round = |disconnects: usize, slow: usize, stalled: usize| {
        let t0 = std::time::Instant::now();
        let d = clients(disconnects, 8, |i| disconnect_mid_stream(addr, i));
        let t1 = t0.elapsed();
        // The slow clients and the stalled readers at once: they hold workers, not CPU.
        let (s, t) = std::thread::scope(|scope| {
            let s = scope.spawn(|| clients(slow, slow, |_| slowloris(addr)));
            let t = clients(stalled, stalled, |i| stalled_reader(addr, i, Duration::from_secs(3)));
            (s.join().unwrap(), t)
        });
        println!("round: disconnects {t1:.1?}, slow clients {:.1?}", t0.elapsed() - t1);
        (d, s, t)
    };
    let fds_idle = server.fds();
    // Warm up with three full rounds: the demo table, the pools' threads, the memory the
    // allocator keeps cached (with 100 stalled streams alive at once, the round after
    // two warm-ups grew RSS by 17.3, 12.0 and 0.6 MB in three runs, after three by 0.8
    // and 10.4 MB: the allocator's caching varies, a leak's constant steps would not).
    // A leak would grow again in the measured round.
    let warm = (round(500, 100, 100), round(500, 100, 100), round(500, 100, 100));
    let fds0 = settle_fds(&server, fds_idle);
    let (rss0, threads0) = (server.rss_kib(), server.threads());
    println!(
        "idle: {fds_idle} fds; after three warm-up rounds {warm:?}: {fds0} fds, {rss0} KiB RSS, {threads0} threads"
    );

    let (d, s, t) = round(500, 100, 100);
    let fds1 = settle_fds(&server, fds0);
    let (rss1, threads1) = (server.rss_kib(), server.threads());
    println!(
        "500 disconnects ({d} got 8 KiB first), 100 slowloris ({s} cut off), 100 stalled readers ({t}): \
         {fds1} fds, {rss1} KiB RSS, {threads1} threads; {:.1?} in all",
        started.elapsed()
    );
    assert!(d >= 490, "only {d} of 500 streams started");
    assert!(s >= 90, "only {s} of 100 slow clients were cut off in time");
    assert!(fds1 <= fds0, "descriptors: {fds0} before, {fds1} after");
    assert_eq!(threads1, threads0, "threads");
    assert!(rss1 <= rss0 + rss0 / 10 + (8 << 10), "RSS: {rss0} KiB before, {rss1} KiB after");
    // Still serving.
    let r = http::get(addr, "/api/events?limit=2");
    assert_eq!(r.status, 200);
    assert_eq!(decode(&r.body).row_count(), 2);
    assert!(started.elapsed() < Duration::from_secs(120), "{:?}", started.elapsed());
    server.assert_no_panic();
}

/// Hostile parameter values: non-finite and out-of-range numbers, NULs, repeated and
/// empty names, nesting bombs in a POST body. Each gets a 400 naming the parameter (or,
/// when the value is merely odd, a valid stream), and the server keeps serving.
#[test]
fn hostile_parameters_get_clear_errors() {
    let addr = start(Config { workers: 4, ..Config::default() });
    let in_list: Vec<String> = (0..1001).map(|i| i.to_string()).collect();
    let too_many_values = json!([{ "column": "status_code", "op": "in", "value": in_list }]).to_string();
    let get = [
        "start=NaN".to_string(),
        "start=inf".into(),
        "end=-inf".into(),
        "end=1e400".into(),
        "start=1e308&end=1.7e308".into(),
        "start=-1.7e308&end=1.7e308".into(),
        "sample=NaN".into(),
        "sample=0".into(),
        "sample=-0".into(),
        "sample=1e-320".into(),
        "seed=-1".into(),
        "limit=99999999999999999999999".into(),
        "batch_rows=1048577".into(),
        "batch_rows=99999999999999999999".into(),
        "columns=".into(),
        "columns=%00".into(),
        "source=%00".into(),
        "time_column=%00".into(),
        "time_column=".into(),
        "filter_combination=XOR".into(),
        "limit=1&limit=2".into(),
        "=5".into(),
        "&&&=&".into(),
        "source=%E2%80%AEomed".into(),
        format!("filters={}", http::pct(r#"[{"column":"duration_ms","op":">","value":1e999}]"#)),
        format!("filters={}", http::pct(r#"[{"column":"duration_ms","op":">","value":null}]"#)),
        format!("filters={}", http::pct(r#"[{"column":"endpoint","op":"in","value":[[[]]]}]"#)),
        format!("filters={}", http::pct(r#"{"column":"endpoint"}"#)),
        format!("filters={}", http::pct(&too_many_values)),
    ];
    let check = |what: &str, r: &http::Resp| match r.status {
        200 => {
            let mut ds = Dataset::new();
            ds.push(&r.body).unwrap_or_else(|e| panic!("{what}: {e}"));
            ds.finish().unwrap_or_else(|e| panic!("{what}: {e}"));
        }
        400 => {
            let v = json_body(r);
            let e = v["error"].as_str().unwrap_or_default();
            assert!(e.starts_with("parameter \"") && v["parameter"].is_string(), "{what}: {v}");
        }
        s => panic!("{what}: status {s}: {}", r.text()),
    };
    for q in &get {
        check(q, &http::get(addr, &format!("/api/events?{q}&limit=5")));
    }
    let bomb = format!("{{\"filters\":{}{}}}", "[".repeat(100_000), "]".repeat(100_000));
    let bodies: [&[u8]; 9] = [
        b"\xff\xfe{}",
        b"null",
        b"[]",
        b"\"limit\"",
        b"{\"limit\": 1e400}",
        b"{\"sample\": -1}",
        b"{\"limit\": 5, \"limit\": 6}",
        b"{\"filters\": [{\"column\": \"endpoint\", \"op\": \"=\", \"value\": {\"a\": 1}}]}",
        bomb.as_bytes(),
    ];
    for body in bodies {
        let what = String::from_utf8_lossy(&body[..body.len().min(40)]).into_owned();
        check(&what, &http::request(addr, "POST", "/api/events", &[], body));
    }
    let r = http::get(addr, "/api/events?limit=2");
    assert_eq!(r.status, 200);
    assert_eq!(decode(&r.body).row_count(), 2);
}

/// Sends `GET target` naming `host` in `Host` (none when `None`).
fn get_as(addr: SocketAddr, target: &str, host: Option<&str>) -> http::Resp {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let host = host.map(|h| format!("Host: {h}\r\n")).unwrap_or_default();
    s.write_all(format!("GET {target} HTTP/1.1\r\n{host}Connection: close\r\n\r\n").as_bytes()).unwrap();
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    http::parse(&raw)
}

/// DNS rebinding: a page whose name is made to resolve to 127.0.0.1 is same-origin with
/// the server, but its requests name that host; they are refused, on every path.
#[test]
fn requests_naming_another_host_are_refused() {
    let addr =
        start(Config { allowed_hosts: vec![".corp.example".into(), "Dash.Example".into()], ..Config::default() });
    let port = addr.port();
    for host in [
        format!("evil.example:{port}"),
        "evil.example".into(),
        "localhost.evil.example".into(),
        "corp.example.evil.example".into(),
        "127.0.0.1.nip.io".into(),
        format!("[::1]x:{port}"),
        "localhost:http".into(),
        String::new(),
    ] {
        for path in ["/api/sources", "/api/events?limit=1", "/api/demo?rows=10", "/"] {
            let r = get_as(addr, path, Some(&host));
            assert_eq!(r.status, 403, "{host:?} {path}: {}", r.text());
        }
    }
    assert_eq!(get_as(addr, "/api/sources", None).status, 403);
    let r = get_as(addr, "/api/sources", Some("evil.example"));
    assert!(r.text().contains("--allowed-host"), "{}", r.text());
    for host in [
        format!("127.0.0.1:{port}"),
        format!("localhost:{port}"),
        "LOCALHOST".into(),
        "app.localhost".into(),
        format!("[::1]:{port}"),
        "192.168.1.20:8080".into(),
        "a.corp.example".into(),
        "corp.example".into(),
        "dash.example:443".into(),
        "localhost.".into(),
    ] {
        assert_eq!(get_as(addr, "/api/sources", Some(&host)).status, 200, "{host:?}");
    }
}

/// `/api/sources` names sources; it never shows where a file lives.
#[test]
fn sources_never_list_paths() {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("sources-paths");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("secret-events.arrow");
    std::fs::write(&file, demo::ipc_stream(&DemoOptions { rows: 100, ..Default::default() }).unwrap()).unwrap();
    let addr = start(Config { data: vec![file.clone()], ..Config::default() });
    let r = http::get(addr, "/api/sources");
    assert_eq!(r.status, 200);
    let text = r.text();
    assert!(!text.contains(dir.to_str().unwrap()) && !text.contains("\"path\""), "{text}");
    assert!(text.contains("secret-events"), "the source is named: {text}");
}

fn decompress(encoding: &str, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    match encoding {
        "gzip" => {
            flate2::read::GzDecoder::new(body).read_to_end(&mut out).unwrap();
        }
        "br" => {
            brotli_decompressor::Decompressor::new(body, 4096).read_to_end(&mut out).unwrap();
        }
        "zstd" => out = zstd::stream::decode_all(body).unwrap(),
        other => panic!("unexpected Content-Encoding {other}"),
    }
    out
}

/// Arrow streams (and JSON, scripts, the wasm) are compressed with what the client
/// accepts, zstd first when it accepts all three as Chromium does; each encoding
/// decodes to the very bytes of the identity response. Arrow bodies compressed by
/// Arrow itself (LZ4, ZSTD) are not compressed again.
#[test]
fn compressed_streams_decode_to_the_same_bytes() {
    let server = ServeProcess::start(&[]);
    let addr = server.addr;
    for target in ["/api/events?order=newest&limit=20000&batch_rows=4096", "/api/demo?rows=5000", "/api/sources"] {
        let plain = http::get(addr, target);
        assert_eq!(plain.status, 200);
        assert_eq!(plain.header("content-encoding"), None, "{target}: identity unless asked");
        for (accept, want) in [
            ("gzip", "gzip"),
            ("br", "br"),
            ("zstd", "zstd"),
            ("gzip, deflate, br, zstd", "zstd"),
            ("zstd;q=0.5, gzip", "gzip"),
        ] {
            let r = http::request(addr, "GET", target, &[("Accept-Encoding", accept)], b"");
            assert_eq!(r.status, 200, "{target} {accept}");
            assert!(r.complete);
            assert_eq!(r.header("content-encoding"), Some(want), "{target}: {accept}");
            assert_eq!(r.header("vary"), Some("accept-encoding"));
            let body = decompress(want, &r.body);
            assert!(body == plain.body, "{target}: {want} decodes to other bytes");
            if target.starts_with("/api/events") {
                // Demo rows carry a random 32-hex-digit trace id each, which caps the ratio.
                assert!(
                    r.body.len() * 3 < plain.body.len() * 2,
                    "{want}: {} of {} bytes",
                    r.body.len(),
                    plain.body.len()
                );
                assert_eq!(decode(&body).row_count(), 20_000);
            }
        }
    }
    for c in ["lz4", "zstd"] {
        let r = http::request(
            addr,
            "GET",
            &format!("/api/events?compression={c}&limit=1000"),
            &[("Accept-Encoding", "zstd, gzip")],
            b"",
        );
        assert_eq!(r.status, 200);
        assert_eq!(r.header("content-encoding"), None, "Arrow's {c} is not compressed again");
        assert_eq!(decode(&r.body).row_count(), 1000);
    }
    let page = http::request(addr, "GET", "/www/index.html", &[("Accept-Encoding", "gzip")], b"");
    assert_eq!(page.header("content-encoding"), Some("gzip"));
    server.assert_no_panic();
    // --no-compress: as it is, whatever the client accepts.
    let plain = ServeProcess::start(&["--no-compress"]);
    let r = http::request(plain.addr, "GET", "/api/events?limit=1000", &[("Accept-Encoding", "zstd, br, gzip")], b"");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-encoding"), None);
    assert_eq!(decode(&r.body).row_count(), 1000);
}

/// HTTP/2 on the same port: cleartext with prior knowledge (h2c, as proxies speak it),
/// and over TLS (rustls, ALPN) with HTTP/1.1 still offered; the Host rule holds for
/// HTTP/2's `:authority` too.
#[test]
fn http2_cleartext_and_over_tls() {
    let addr = start(Config::default());
    let h2c = reqwest::blocking::Client::builder().http2_prior_knowledge().build().unwrap();
    let r = h2c.get(format!("http://{addr}/api/events?limit=1234")).send().unwrap();
    assert_eq!(r.version(), reqwest::Version::HTTP_2);
    assert_eq!(r.status(), 200);
    assert_eq!(decode(&r.bytes().unwrap()).row_count(), 1234);
    let rebinding =
        reqwest::blocking::Client::builder().http2_prior_knowledge().resolve("rebound.example", addr).build().unwrap();
    let r = rebinding.get(format!("http://rebound.example:{}/api/sources", addr.port())).send().unwrap();
    assert_eq!(r.version(), reqwest::Version::HTTP_2);
    assert_eq!(r.status(), 403);

    let dir = std::env::temp_dir().join(format!("sightline-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    let (cert_pem, key_pem) = (cert.cert.pem(), cert.key_pair.serialize_pem());
    std::fs::write(dir.join("cert.pem"), &cert_pem).unwrap();
    std::fs::write(dir.join("key.pem"), &key_pem).unwrap();
    let tls = sightline_server::TlsFiles { cert: dir.join("cert.pem"), key: dir.join("key.pem") };
    let addr = start(Config { tls: Some(tls), ..Config::default() });
    let url = format!("https://localhost:{}/api/events?limit=777", addr.port());
    for (http1, version) in [(false, reqwest::Version::HTTP_2), (true, reqwest::Version::HTTP_11)] {
        let mut b = reqwest::blocking::Client::builder()
            .add_root_certificate(reqwest::Certificate::from_pem(cert_pem.as_bytes()).unwrap())
            .resolve("localhost", addr);
        if http1 {
            b = b.http1_only();
        }
        let r = b.build().unwrap().get(&url).send().unwrap();
        assert_eq!(r.version(), version);
        assert_eq!(r.status(), 200);
        assert_eq!(decode(&r.bytes().unwrap()).row_count(), 777);
    }
    // Plain HTTP to the TLS port gets no answer.
    let r = reqwest::blocking::get(format!("http://127.0.0.1:{}/api/sources", addr.port()));
    assert!(r.is_err() || r.unwrap().status() != 200);
    let bad = sightline_server::TlsFiles { cert: dir.join("key.pem"), key: dir.join("key.pem") };
    let e =
        Server::bind(Config { port: 0, root: PathBuf::from(ROOT), tls: Some(bad), ..Config::default() }).err().unwrap();
    assert!(e.to_string().contains("key.pem"), "{e}");
}

/// SIGTERM: the listener closes at once, a stream in flight is finished (complete, every
/// row), and the process exits 0.
#[test]
fn sigterm_finishes_streams_in_flight() {
    let mut server = ServeProcess::start(&[]);
    let addr = server.addr;
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    s.write_all(b"GET /api/demo?rows=300000&batch_rows=2000 HTTP/1.1\r\nHost: localhost\r\n\r\n").unwrap();
    let mut raw = vec![0u8; 64 << 10];
    s.read_exact(&mut raw).unwrap();
    let killed = std::process::Command::new("kill").args(["-TERM", &server.child.id().to_string()]).status().unwrap();
    assert!(killed.success());
    std::thread::sleep(Duration::from_millis(300));
    assert!(TcpStream::connect(addr).is_err(), "the listener is closed");
    let _ = s.read_to_end(&mut raw);
    let r = http::parse(&raw);
    assert_eq!(r.status, 200);
    assert!(r.complete, "the stream in flight was cut");
    assert_eq!(decode(&r.body).row_count(), 300_000);
    let until = std::time::Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(st) = server.child.try_wait().unwrap() {
            break st;
        }
        assert!(std::time::Instant::now() < until, "still running 20 s after SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status:?}");
    server.assert_no_panic();
}

/// Specs that touch every part of a query and a comparison, for the server-side runs
/// (shared with tests/node/server.test.mjs, which checks the wasm side).
fn run_specs() -> (Vec<Value>, Vec<Value>) {
    let v: Value = serde_json::from_str(include_str!("../../tests/fixtures/run_specs.json")).unwrap();
    (v["queries"].as_array().unwrap().clone(), v["compares"].as_array().unwrap().clone())
}

/// `POST /api/query` and `/api/compare` run the engine on the server and return what
/// the engine returns over the same rows (the JSON `Dataset.query`/`compare` give;
/// tests/node checks the wasm side); a bad spec gets a 400 naming the column or key.
#[test]
fn query_and_compare_run_on_the_server() {
    let addr = start(Config::default());
    let ds = demo_dataset();
    let (queries, compares) = run_specs();
    let post = |path: &str, body: Value| http::request(addr, "POST", path, &[], body.to_string().as_bytes());
    for spec in &queries {
        let r = post("/api/query", json!({ "source": "demo", "spec": spec }));
        assert_eq!(r.status, 200, "{spec}: {}", r.text());
        assert_eq!(r.header("content-type"), Some("application/json"));
        let parsed: QuerySpec = serde_json::from_value(spec.clone()).unwrap();
        let want = serde_json::to_value(run(&ds, &parsed).unwrap()).unwrap();
        let got = json_body(&r);
        if got != want {
            let (g, w) = (got.to_string(), want.to_string());
            let at = g.bytes().zip(w.bytes()).position(|(a, b)| a != b).unwrap_or(g.len().min(w.len()));
            let from = at.saturating_sub(200);
            panic!(
                "{spec}: the server's answer differs from the engine's at byte {at}:\n server {}\n engine {}",
                &g[from..(at + 200).min(g.len())],
                &w[from..(at + 200).min(w.len())]
            );
        }
    }
    for spec in &compares {
        let r = post("/api/compare", json!({ "spec": spec }));
        assert_eq!(r.status, 200, "{spec}: {}", r.text());
        let parsed: sightline::compare::CompareSpec = serde_json::from_value(spec.clone()).unwrap();
        let want = serde_json::to_value(sightline::compare::compare(&ds, &parsed).unwrap()).unwrap();
        assert!(json_body(&r) == want, "{spec}: the server's comparison differs from the engine's");
    }
    // A calculated field runs on the server's engine as in the browser.
    let spec = json!({ "calculated_fields": [{ "name": "kb", "expression": "$response_bytes / 1024" }],
        "calculations": [{ "op": "MAX", "column": "kb" }], "breakdowns": ["region"] });
    let r = post("/api/query", json!({ "source": "demo", "spec": spec }));
    assert_eq!(r.status, 200, "{}", r.text());
    let want = serde_json::to_value(run(&ds, &serde_json::from_value(spec).unwrap()).unwrap()).unwrap();
    assert_eq!(json_body(&r), want);
    let r = post("/api/query", json!({ "spec": { "calculations": [{ "op": "P99", "column": "nope" }] } }));
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(json_body(&r)["column"], "nope");
    let r = post("/api/query", json!({ "spec": { "calculations": [{ "op": "P99", "column": "endpoint" }] } }));
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!((json_body(&r)["column"].clone(), json_body(&r)["operator"].clone()), (json!("endpoint"), json!("P99")));
    let r = post("/api/query", json!({ "spec": { "calculatons": [] } }));
    assert_eq!(r.status, 400);
    assert!(json_body(&r)["error"].as_str().unwrap().contains("calculatons"), "{}", r.text());
    let r = post("/api/query", json!({ "source": "nope", "spec": {} }));
    assert_eq!(json_body(&r)["parameter"], "source");
    let r = post("/api/compare", json!({ "spec": {}, "extra": 1 }));
    assert_eq!(json_body(&r)["parameter"], "body");
    assert_eq!(http::get(addr, "/api/query").status, 405);
}

/// A body trickled a byte every 4 s (each piece within the per-piece timeout) is cut
/// off with a 408 once 10 s have passed in all; one-row batches still stream whole.
#[test]
fn a_trickled_body_gets_a_408_and_tiny_batches_stream() {
    let addr = start(Config::default());
    let started = std::time::Instant::now();
    let mut s = TcpStream::connect(addr).unwrap();
    s.write_all(b"POST /api/events HTTP/1.1\r\nHost: localhost\r\nContent-Length: 100\r\n\r\n{").unwrap();
    s.set_read_timeout(Some(Duration::from_secs(4))).unwrap();
    let mut raw = Vec::new();
    let mut buf = [0u8; 4096];
    while started.elapsed() < Duration::from_secs(20) {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                raw.extend_from_slice(&buf[..n]);
                if raw.windows(4).any(|w| w == b"\r\n\r\n") {
                    break;
                }
            }
            Err(_) => {
                let _ = s.write_all(b" ");
            }
        }
    }
    let r = http::parse(&raw);
    assert_eq!(r.status, 408, "{}", String::from_utf8_lossy(&raw));
    let took = started.elapsed();
    assert!(took >= Duration::from_secs(9) && took < Duration::from_secs(14), "{took:?}");

    let r = http::get(addr, "/api/events?limit=3000&batch_rows=1");
    assert_eq!(r.status, 200);
    assert!(r.complete);
    assert_eq!(decode(&r.body).row_count(), 3000);
}
