//! `sightline serve`: a small HTTP/1.1 server for the component, the demo page and
//! Arrow IPC streams of events. Native only; std only (no async runtime).
//!
//! - `GET /api/events` (and `POST` with a JSON body): raw events of a source, with the
//!   time range, filters, columns, order, limit and sample pushed down to the source;
//!   an Arrow IPC stream written batch by batch as it is produced.
//! - `GET /api/columns?source=`, `GET /api/sources`: what there is.
//! - `GET /api/demo`: generated demo data (the demo page and its tests use it).
//! - `/`, `/www/*`, `/pkg/*`: static files, by a whitelist of path characters.
//!
//! Binds 127.0.0.1 unless told otherwise. A fixed pool of worker threads serves the
//! connections (a bounded queue in front; 503 past it), so a thousand connections
//! never make a thousand threads. Requests are bounded (head, body, filters, values,
//! response time); an optional bearer token guards `/api/`; CORS is off unless an
//! origin is configured. Every response carries a strict Content-Security-Policy.

pub mod clickhouse;
pub mod files;
pub mod source;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{sync_channel, Receiver, TrySendError};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use crate::demo::{self, Compression, DemoOptions};
use clickhouse::{ChConfig, ChSchema};
use source::{EventsRequest, ParamError, Table, DEFAULT_BATCH_ROWS};

/// The Content-Security-Policy sent with every response.
pub const CSP: &str = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; \
img-src 'self' data: blob:; connect-src 'self'; worker-src 'self'; object-src 'none'; base-uri 'none'; \
frame-ancestors 'self'";

/// Largest demo stream served, in rows.
pub const MAX_DEMO_ROWS: usize = 20_000_000;
/// Largest request head (request line and headers).
pub const MAX_HEAD_BYTES: usize = 16 << 10;
/// Largest request body (`POST /api/events`).
pub const MAX_BODY_BYTES: usize = 1 << 20;
/// Longest time a request's head and body may take to arrive, in all (a client that
/// trickles its request a byte at a time is cut off then, with a 408).
const READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Pause after a failed `accept` (say, out of file descriptors), so that a connection
/// left in the backlog does not make the acceptor spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(20);
/// Headers exposed to cross-origin pages when CORS is on.
const EXPOSED: &str = "X-Sightline-Rows, X-Sightline-Matched, X-Sightline-Sample";

/// Server settings.
#[derive(Debug, Clone)]
pub struct Config {
    /// Address to bind, `127.0.0.1` by default.
    pub host: String,
    /// Port; 0 picks a free one.
    pub port: u16,
    /// Folder holding `www/` and `pkg/`.
    pub root: PathBuf,
    /// Demo rows: the default of `/api/demo`, and the size of the `demo` source.
    pub rows: usize,
    /// Demo seed.
    pub seed: u64,
    /// Files or directories to serve as sources (`--data`).
    pub data: Vec<PathBuf>,
    /// A ClickHouse table to serve as a source (`--clickhouse`, `--table`).
    pub clickhouse: Option<ChConfig>,
    /// Bearer token required on `/api/` when set.
    pub token: Option<String>,
    /// Origin allowed to call `/api/` from another site (`*` for any); CORS is off when unset.
    pub cors_origin: Option<String>,
    /// Host names besides loopback names, IP addresses and `host` that requests may
    /// name in `Host` (`--allowed-host`; `.example.com` allows its subdomains too).
    pub allowed_hosts: Vec<String>,
    /// Worker threads (connections served at once).
    pub workers: usize,
    /// Connections waiting for a worker before new ones get a 503.
    pub queue: usize,
    /// Longest time one response may take.
    pub timeout: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            host: "127.0.0.1".into(),
            port: 8080,
            root: PathBuf::from("."),
            rows: 1_000_000,
            seed: 42,
            data: Vec::new(),
            clickhouse: None,
            token: None,
            cors_origin: None,
            allowed_hosts: Vec::new(),
            workers: 64,
            queue: 256,
            timeout: Duration::from_secs(60),
        }
    }
}

/// A data source.
pub enum Source {
    /// The demo generator, loaded on first use.
    Demo {
        /// Rows.
        rows: usize,
        /// Seed.
        seed: u64,
        /// The table once loaded.
        table: OnceLock<Result<Arc<Table>, String>>,
    },
    /// A local file, loaded at start.
    File(Arc<Table>),
    /// A ClickHouse table.
    ClickHouse {
        /// The source's name (the table's).
        name: String,
        /// Where it is.
        config: ChConfig,
        /// Its columns, read at start.
        schema: ChSchema,
    },
}

impl Source {
    /// The source's name.
    pub fn name(&self) -> &str {
        match self {
            Source::Demo { .. } => "demo",
            Source::File(t) => &t.name,
            Source::ClickHouse { name, .. } => name,
        }
    }

    /// The embedded table (demo, file), loading the demo on first use.
    pub fn table(&self) -> Option<Result<Arc<Table>, String>> {
        match self {
            Source::Demo { rows, seed, table } => {
                Some(table.get_or_init(|| source::demo_table(*rows, *seed).map(Arc::new)).clone())
            }
            Source::File(t) => Some(Ok(t.clone())),
            Source::ClickHouse { .. } => None,
        }
    }

    fn describe(&self) -> serde_json::Value {
        use serde_json::json;
        match self {
            Source::Demo { rows, seed, .. } => json!({ "name": "demo", "kind": "demo", "rows": rows, "seed": seed }),
            Source::File(t) => json!({
                "name": t.name, "kind": "file", "rows": t.row_count(), "time_column": t.time_column()
            }),
            Source::ClickHouse { name, config, schema } => json!({
                "name": name, "kind": "clickhouse", "table": config.table,
                "time_column": schema.time_column().map(|c| c.name.clone())
            }),
        }
    }
}

struct State {
    config: Config,
    sources: Vec<Source>,
}

impl State {
    fn source(&self, name: Option<&str>) -> Result<&Source, ParamError> {
        match name {
            None => self.sources.first().ok_or_else(|| ParamError::new("source", "no sources")),
            Some(n) => self.sources.iter().find(|s| s.name() == n).ok_or_else(|| {
                let names: Vec<&str> = self.sources.iter().map(|s| s.name()).collect();
                ParamError::new("source", format!("unknown source {n:?} (one of {})", names.join(", ")))
            }),
        }
    }
}

/// A running server.
pub struct Server {
    listener: TcpListener,
    state: Arc<State>,
}

fn other(msg: String) -> std::io::Error {
    std::io::Error::other(msg)
}

impl Server {
    /// Loads the sources (files at once, ClickHouse's columns; the demo on first use)
    /// and binds the listener. Sources, in the order that makes the first the default:
    /// `--data` files, ClickHouse, the demo.
    pub fn bind(config: Config) -> std::io::Result<Server> {
        let mut sources = Vec::new();
        for p in &config.data {
            for f in files::expand(p).map_err(other)? {
                let t = files::load(&f, &files::source_name(&f)).map_err(other)?;
                sources.push(Source::File(Arc::new(t)));
            }
        }
        if let Some(ch) = &config.clickhouse {
            let schema = clickhouse::describe(ch, Duration::from_secs(30)).map_err(other)?;
            sources.push(Source::ClickHouse { name: ch.table.clone(), config: ch.clone(), schema });
        }
        sources.push(Source::Demo { rows: config.rows, seed: config.seed, table: OnceLock::new() });
        for (i, s) in sources.iter().enumerate() {
            if sources[..i].iter().any(|o| o.name() == s.name()) {
                return Err(other(format!("two sources are named {:?}", s.name())));
            }
        }
        if config.workers == 0 || config.queue == 0 {
            return Err(other("workers and queue must be at least 1".into()));
        }
        let listener = TcpListener::bind((config.host.as_str(), config.port))?;
        Ok(Server { listener, state: Arc::new(State { config, sources }) })
    }

    /// The bound address.
    pub fn local_addr(&self) -> std::io::Result<std::net::SocketAddr> {
        self.listener.local_addr()
    }

    /// The sources' names, the default first.
    pub fn source_names(&self) -> Vec<String> {
        self.state.sources.iter().map(|s| s.name().to_string()).collect()
    }

    /// Serves forever: `workers` threads take connections from a queue of `queue`;
    /// past that, connections get a 503 at once.
    pub fn run(self) {
        let (tx, rx) = sync_channel::<TcpStream>(self.state.config.queue);
        let rx: Arc<Mutex<Receiver<TcpStream>>> = Arc::new(Mutex::new(rx));
        for i in 0..self.state.config.workers {
            let (rx, state) = (rx.clone(), self.state.clone());
            let spawned = std::thread::Builder::new().name(format!("sightline-worker-{i}")).spawn(move || loop {
                let next = match rx.lock() {
                    Ok(r) => r.recv(),
                    Err(poisoned) => poisoned.into_inner().recv(),
                };
                let Ok(stream) = next else { return };
                // A backstop only: handlers return errors rather than panic. (With
                // `panic = "abort"`, as in the release profile, a panic still aborts.)
                let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| handle(stream, &state)));
            });
            if let Err(e) = spawned {
                eprintln!("sightline: cannot start worker {i}: {e}");
            }
        }
        for stream in self.listener.incoming() {
            let Ok(stream) = stream else {
                std::thread::sleep(ACCEPT_BACKOFF);
                continue;
            };
            match tx.try_send(stream) {
                Ok(()) => {}
                Err(TrySendError::Full(mut s)) | Err(TrySendError::Disconnected(mut s)) => {
                    let _ = s.set_write_timeout(Some(Duration::from_secs(1)));
                    let _ = respond(&mut s, 503, "text/plain", b"too many connections\n", "");
                }
            }
        }
    }
}

struct Request {
    method: String,
    path: String,
    query: Vec<(String, String)>,
    /// Header names lowercased.
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                let h = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
                out.push(u8::from_str_radix(h, 16).ok()?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

/// Reads from a socket until a deadline: each read waits at most the time left.
struct Deadline<'a> {
    stream: &'a TcpStream,
    until: Instant,
}

impl Read for Deadline<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let left = self.until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(std::io::Error::new(std::io::ErrorKind::TimedOut, "deadline"));
        }
        self.stream.set_read_timeout(Some(left))?;
        let mut s = self.stream;
        s.read(buf)
    }
}

/// The status and message for an error reading the request.
fn read_error(what: &str, e: std::io::Error, limit: Duration) -> (u16, String) {
    match e.kind() {
        std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock => {
            (408, format!("the {what} did not arrive within {} s", limit.as_secs_f64()))
        }
        _ => (400, format!("unreadable {what}: {e}")),
    }
}

/// Reads a request: head and body must arrive within `limit` in all.
fn read_request(stream: &TcpStream, limit: Duration) -> Result<Request, (u16, String)> {
    let mut reader = BufReader::new(Deadline { stream, until: Instant::now() + limit });
    let mut used = 0usize;
    let mut next_line = |reader: &mut BufReader<Deadline>| -> Result<String, (u16, String)> {
        let mut line = String::new();
        let left = MAX_HEAD_BYTES.saturating_sub(used) as u64;
        let n = reader.by_ref().take(left).read_line(&mut line).map_err(|e| read_error("request", e, limit))?;
        used += n;
        if n == 0 || !line.ends_with('\n') {
            return Err((431, format!("request head truncated or larger than {MAX_HEAD_BYTES} bytes")));
        }
        Ok(line)
    };
    let line = next_line(&mut reader)?;
    let mut parts = line.split_whitespace();
    let (Some(method), Some(target)) = (parts.next(), parts.next()) else {
        return Err((400, "malformed request line".into()));
    };
    let mut headers = Vec::new();
    loop {
        let h = next_line(&mut reader)?;
        if h == "\r\n" || h == "\n" {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
        }
    }
    let (path, qs) = target.split_once('?').unwrap_or((target, ""));
    let path = percent_decode(path).ok_or((400, "path is not valid percent-encoded UTF-8".to_string()))?;
    let mut query = Vec::new();
    for pair in qs.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let k = percent_decode(k).ok_or((400, format!("query parameter name {k:?} is not valid UTF-8")))?;
        let v = percent_decode(v).ok_or((400, format!("parameter \"{k}\" is not valid percent-encoded UTF-8")))?;
        query.push((k, v));
    }
    let mut req = Request { method: method.to_string(), path, query, headers, body: Vec::new() };
    if req.header("transfer-encoding").is_some() {
        return Err((411, "chunked request bodies are not supported: send Content-Length".into()));
    }
    if let Some(len) = req.header("content-length") {
        let len: usize = len.parse().map_err(|_| (400, "bad Content-Length".to_string()))?;
        if len > MAX_BODY_BYTES {
            return Err((413, format!("request body larger than {MAX_BODY_BYTES} bytes")));
        }
        let mut body = vec![0u8; len];
        reader.read_exact(&mut body).map_err(|e| read_error("request body", e, limit))?;
        req.body = body;
    }
    Ok(req)
}

fn status_text(code: u16) -> &'static str {
    match code {
        200 => "OK",
        204 => "No Content",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        411 => "Length Required",
        413 => "Content Too Large",
        431 => "Request Header Fields Too Large",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "Internal Server Error",
    }
}

fn head(code: u16, content_type: &str, extra: &str) -> String {
    format!(
        "HTTP/1.1 {code} {}\r\nContent-Type: {content_type}\r\nContent-Security-Policy: {CSP}\r\n\
X-Content-Type-Options: nosniff\r\nCache-Control: no-cache\r\nConnection: close\r\n{extra}\r\n",
        status_text(code)
    )
}

fn respond(stream: &mut TcpStream, code: u16, content_type: &str, body: &[u8], extra: &str) -> std::io::Result<()> {
    stream.write_all(head(code, content_type, &format!("Content-Length: {}\r\n{extra}", body.len())).as_bytes())?;
    stream.write_all(body)?;
    stream.flush()
}

fn json_response(stream: &mut TcpStream, code: u16, v: &serde_json::Value, extra: &str) -> std::io::Result<()> {
    let body = serde_json::to_vec(v).unwrap_or_default();
    respond(stream, code, "application/json", &body, extra)
}

fn json_error(stream: &mut TcpStream, code: u16, msg: &str, extra: &str) -> std::io::Result<()> {
    json_response(stream, code, &serde_json::json!({ "error": msg }), extra)
}

fn param_error(stream: &mut TcpStream, e: &ParamError, extra: &str) -> std::io::Result<()> {
    json_response(stream, 400, &serde_json::json!({ "error": e.to_string(), "parameter": e.param }), extra)
}

/// Equal strings, in time independent of where they differ.
fn same_secret(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn handle(mut stream: TcpStream, state: &State) -> std::io::Result<()> {
    stream.set_write_timeout(Some(state.config.timeout))?;
    let req = match read_request(&stream, READ_TIMEOUT.min(state.config.timeout)) {
        Ok(r) => r,
        Err((code, msg)) => {
            return respond(&mut stream, code, "text/plain; charset=utf-8", format!("{msg}\n").as_bytes(), "")
        }
    };
    // DNS rebinding: a page whose name is made to resolve to this machine would be
    // same-origin with the server; its requests still name that host.
    let host = req.header("host").unwrap_or("");
    if !host_allowed(host, &state.config) {
        let msg = format!(
            "Host {:?} is not allowed: use localhost or an IP address, or start the server with --allowed-host NAME",
            host.chars().take(100).collect::<String>()
        );
        return json_error(&mut stream, 403, &msg, "");
    }
    let api = req.path.starts_with("/api/");
    // CORS: only for the configured origin, only on the API.
    let origin = req.header("origin").unwrap_or("");
    let cors_ok = api
        && !origin.is_empty()
        && state.config.cors_origin.as_deref().is_some_and(|o| o == "*" || o == origin)
        && !origin.contains(['\r', '\n']);
    let extra = if cors_ok {
        format!("Access-Control-Allow-Origin: {origin}\r\nVary: Origin\r\nAccess-Control-Expose-Headers: {EXPOSED}\r\n")
    } else {
        String::new()
    };
    if api && req.method == "OPTIONS" {
        if !cors_ok {
            return json_error(&mut stream, 403, "cross-origin requests are not enabled for this origin", "");
        }
        let pre = format!(
            "{extra}Access-Control-Allow-Methods: GET, HEAD, POST, OPTIONS\r\n\
Access-Control-Allow-Headers: Authorization, Content-Type\r\nAccess-Control-Max-Age: 600\r\n"
        );
        return respond(&mut stream, 204, "text/plain", b"", &pre);
    }
    if api {
        if let Some(token) = &state.config.token {
            let given = req.header("authorization").and_then(|h| h.strip_prefix("Bearer ")).unwrap_or("");
            if !same_secret(given.trim(), token) {
                let extra = format!("{extra}WWW-Authenticate: Bearer\r\n");
                return json_error(&mut stream, 401, "a bearer token is required (Authorization: Bearer ...)", &extra);
            }
        }
    }
    let post_ok = req.path == "/api/events";
    if !(req.method == "GET" || req.method == "HEAD" || (req.method == "POST" && post_ok)) {
        return respond(&mut stream, 405, "text/plain", b"only GET and HEAD (and POST on /api/events)\n", &extra);
    }
    let head_only = req.method == "HEAD";
    match req.path.as_str() {
        "/" => static_file(&mut stream, &state.config.root.join("www/index.html"), head_only),
        "/api/demo" => demo_stream(&mut stream, state, &req, &extra),
        "/api/demo/schema" => {
            let fields: Vec<_> = demo::schema()
                .fields()
                .iter()
                .map(|f| serde_json::json!({ "name": f.name(), "type": f.data_type().to_string() }))
                .collect();
            json_response(&mut stream, 200, &serde_json::json!({ "fields": fields }), &extra)
        }
        "/api/sources" => {
            let list: Vec<_> = state.sources.iter().map(Source::describe).collect();
            json_response(&mut stream, 200, &serde_json::json!({ "sources": list }), &extra)
        }
        "/api/columns" => columns(&mut stream, state, &req, &extra),
        "/api/events" => events(&mut stream, state, &req, &extra),
        p if p.starts_with("/www/") || p.starts_with("/pkg/") => match safe_path(&state.config.root, p) {
            Some(path) => static_file(&mut stream, &path, head_only),
            None => respond(&mut stream, 404, "text/plain", b"not found\n", ""),
        },
        _ => respond(&mut stream, 404, "text/plain", b"not found\n", &extra),
    }
}

/// Whether a request's `Host` names this server rather than a name rebound to it: an IP
/// address (rebinding needs a name), `localhost` and `*.localhost` (RFC 6761: browsers
/// resolve them to loopback themselves), the bound host, or an `--allowed-host`.
pub fn host_allowed(host: &str, config: &Config) -> bool {
    let host = host.trim();
    // Strip the port: `[::1]:8080`, `name:8080`.
    let name = if let Some(rest) = host.strip_prefix('[') {
        match rest.split_once(']') {
            Some((ip, tail))
                if tail.is_empty() || tail.strip_prefix(':').is_some_and(|p| p.bytes().all(|b| b.is_ascii_digit())) =>
            {
                ip
            }
            _ => return false,
        }
    } else {
        match host.rsplit_once(':') {
            Some((n, p)) if p.bytes().all(|b| b.is_ascii_digit()) => n,
            Some(_) => return false,
            None => host,
        }
    };
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    if name.is_empty() {
        return false;
    }
    if name.parse::<std::net::IpAddr>().is_ok() || name == "localhost" || name.ends_with(".localhost") {
        return true;
    }
    if name == config.host.trim_matches(['[', ']']).to_ascii_lowercase() {
        return true;
    }
    config.allowed_hosts.iter().any(|a| {
        let a = a.trim().trim_end_matches('.').to_ascii_lowercase();
        match a.strip_prefix('.') {
            Some(domain) => name == domain || name.ends_with(&format!(".{domain}")),
            None => name == a,
        }
    })
}

/// Maps a URL path to a file under `root`, or `None` if it could escape it.
fn safe_path(root: &Path, url_path: &str) -> Option<PathBuf> {
    let rel = url_path.trim_start_matches('/');
    let ok_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '/');
    if !rel.chars().all(ok_char) || rel.split('/').any(|seg| seg.is_empty() || seg.starts_with('.')) {
        return None;
    }
    Some(root.join(rel))
}

fn content_type(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()).unwrap_or("") {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "wasm" => "application/wasm",
        "json" => "application/json",
        "ts" => "text/plain; charset=utf-8",
        "png" => "image/png",
        "svg" => "image/svg+xml",
        "arrow" | "arrows" => "application/vnd.apache.arrow.stream",
        _ => "application/octet-stream",
    }
}

fn static_file(stream: &mut TcpStream, path: &Path, head_only: bool) -> std::io::Result<()> {
    match std::fs::read(path) {
        Ok(body) if path.is_file() => {
            if head_only {
                stream
                    .write_all(head(200, content_type(path), &format!("Content-Length: {}\r\n", body.len())).as_bytes())
            } else {
                respond(stream, 200, content_type(path), &body, "")
            }
        }
        _ => respond(stream, 404, "text/plain", b"not found\n", ""),
    }
}

/// Writes HTTP/1.1 chunked encoding: one chunk per `flush`.
struct Chunked<'a> {
    out: &'a mut TcpStream,
    buf: Vec<u8>,
}

impl Write for Chunked<'_> {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= 1 << 20 {
            self.flush()?;
        }
        Ok(data.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        if !self.buf.is_empty() {
            self.out.write_all(format!("{:x}\r\n", self.buf.len()).as_bytes())?;
            self.out.write_all(&self.buf)?;
            self.out.write_all(b"\r\n")?;
            self.buf.clear();
        }
        self.out.flush()
    }
}

impl Chunked<'_> {
    /// Sends what is buffered and the terminating chunk: the response is complete.
    fn end(mut self) -> std::io::Result<()> {
        self.flush()?;
        self.out.write_all(b"0\r\n\r\n")?;
        self.out.flush()
    }
}

fn param<T: std::str::FromStr>(req: &Request, name: &str) -> Result<Option<T>, String> {
    match req.query.iter().find(|(k, _)| k == name) {
        None => Ok(None),
        Some((_, v)) => v.parse().map(Some).map_err(|_| format!("parameter \"{name}\": cannot parse {v:?}")),
    }
}

fn demo_stream(stream: &mut TcpStream, state: &State, req: &Request, extra: &str) -> std::io::Result<()> {
    let config = &state.config;
    let parsed = (|| -> Result<(DemoOptions, Compression), String> {
        for (k, _) in &req.query {
            if !["rows", "seed", "compression", "batch_rows"].contains(&k.as_str()) {
                return Err(format!("unknown parameter \"{k}\" (rows, seed, compression, batch_rows)"));
            }
        }
        let rows = param::<usize>(req, "rows")?.unwrap_or(config.rows);
        if rows > MAX_DEMO_ROWS {
            return Err(format!("parameter \"rows\": at most {MAX_DEMO_ROWS}"));
        }
        let batch_rows = param::<usize>(req, "batch_rows")?.unwrap_or(65_536);
        if !(1..=1 << 20).contains(&batch_rows) {
            return Err("parameter \"batch_rows\": between 1 and 1048576".into());
        }
        let seed = param::<u64>(req, "seed")?.unwrap_or(config.seed);
        let compression = param::<String>(req, "compression")?
            .unwrap_or_default()
            .parse::<Compression>()
            .map_err(|e| format!("parameter \"compression\": {e}"))?;
        Ok((DemoOptions { rows, seed, batch_rows, ..Default::default() }, compression))
    })();
    let (opts, compression) = match parsed {
        Ok(p) => p,
        Err(msg) => return respond(stream, 400, "text/plain; charset=utf-8", format!("{msg}\n").as_bytes(), extra),
    };
    let h = format!("Transfer-Encoding: chunked\r\nX-Sightline-Rows: {}\r\n{extra}", opts.rows);
    stream.write_all(head(200, "application/vnd.apache.arrow.stream", &h).as_bytes())?;
    if req.method == "HEAD" {
        return Ok(());
    }
    let deadline = Instant::now() + config.timeout;
    let out = Chunked { out: stream, buf: Vec::with_capacity(1 << 20) };
    let result = demo::write_ipc(&opts, compression, out, |w| {
        if Instant::now() > deadline {
            return Err(other("response time limit reached".into()));
        }
        w.flush()
    });
    match result {
        Ok(w) => w.end(),
        // The client went away, the writer failed or time ran out: end without the
        // terminating chunk, so the client sees a truncated stream, not a complete one.
        Err(_) => Ok(()),
    }
}

fn role_of(kind: clickhouse::Kind) -> &'static str {
    match kind {
        clickhouse::Kind::Str => "string",
        clickhouse::Kind::Num => "number",
        clickhouse::Kind::Bool => "bool",
        clickhouse::Kind::Time(_) => "time",
        clickhouse::Kind::Other => "other",
    }
}

fn columns(stream: &mut TcpStream, state: &State, req: &Request, extra: &str) -> std::io::Result<()> {
    if let Some((k, _)) = req.query.iter().find(|(k, _)| k != "source") {
        return param_error(stream, &ParamError::new("query", format!("unknown parameter {k:?} (source)")), extra);
    }
    let name = req.query.iter().find(|(k, _)| k == "source").map(|(_, v)| v.as_str());
    let src = match state.source(name) {
        Ok(s) => s,
        Err(e) => return param_error(stream, &e, extra),
    };
    let body = match src {
        Source::ClickHouse { name, schema, .. } => {
            let cols: Vec<_> = schema
                .columns
                .iter()
                .map(|c| serde_json::json!({ "name": c.name, "type": c.ch_type, "role": role_of(c.kind) }))
                .collect();
            serde_json::json!({
                "source": name, "kind": "clickhouse",
                "time_column": schema.time_column().map(|c| c.name.clone()), "columns": cols
            })
        }
        _ => match src.table() {
            Some(Ok(t)) => serde_json::json!({
                "source": t.name, "kind": t.kind, "rows": t.row_count(), "time_column": t.time_column(),
                "columns": t.columns()
            }),
            Some(Err(e)) => {
                return json_error(stream, 500, &format!("source {:?} failed to load: {e}", src.name()), extra)
            }
            None => return json_error(stream, 500, "no table", extra),
        },
    };
    json_response(stream, 200, &body, extra)
}

fn events(stream: &mut TcpStream, state: &State, req: &Request, extra: &str) -> std::io::Result<()> {
    let parsed = if req.method == "POST" {
        if !req.query.is_empty() {
            let e = ParamError::new("query", "POST takes its parameters in the JSON body, not the URL");
            return param_error(stream, &e, extra);
        }
        EventsRequest::from_json(&req.body)
    } else {
        EventsRequest::from_query(&req.query)
    };
    let r = match parsed {
        Ok(r) => r,
        Err(e) => return param_error(stream, &e, extra),
    };
    let src = match state.source(r.source.as_deref()) {
        Ok(s) => s,
        Err(e) => return param_error(stream, &e, extra),
    };
    let deadline = Instant::now() + state.config.timeout;
    let sample = r.sample.unwrap_or(1.0);
    match src {
        Source::ClickHouse { config, schema, .. } => {
            for (p, given) in [("compression", r.compression.is_some()), ("batch_rows", r.batch_rows.is_some())] {
                if given {
                    let e = ParamError::new(p, "not supported by ClickHouse sources");
                    return param_error(stream, &e, extra);
                }
            }
            let sql = match clickhouse::compile(schema, &r, state.config.timeout.as_secs().max(1)) {
                Ok(s) => s,
                Err(e) => return param_error(stream, &e, extra),
            };
            let h = format!("Transfer-Encoding: chunked\r\nX-Sightline-Sample: {sample}\r\n{extra}");
            if req.method == "HEAD" {
                return stream.write_all(head(200, "application/vnd.apache.arrow.stream", &h).as_bytes());
            }
            let mut resp = match clickhouse::post(config, &sql, state.config.timeout) {
                Ok(r) => r,
                Err(e) => return json_error(stream, 502, &e, extra),
            };
            if resp.status != 200 {
                let mut body = Vec::new();
                let _ = resp.body.by_ref().take(64 << 10).read_to_end(&mut body);
                let msg = format!("ClickHouse answered {}: {}", resp.status, String::from_utf8_lossy(&body).trim());
                return json_error(stream, 502, &msg, extra);
            }
            stream.write_all(head(200, "application/vnd.apache.arrow.stream", &h).as_bytes())?;
            let mut out = Chunked { out: stream, buf: Vec::new() };
            let streamed = clickhouse::stream(&mut resp, deadline, |piece| {
                out.write_all(piece)?;
                out.flush()
            });
            match streamed {
                Ok(_) => out.end(),
                Err(e) => {
                    eprintln!("sightline: /api/events from ClickHouse stopped: {e}");
                    Ok(())
                }
            }
        }
        _ => {
            let table = match src.table() {
                Some(Ok(t)) => t,
                Some(Err(e)) => {
                    return json_error(stream, 500, &format!("source {:?} failed to load: {e}", src.name()), extra)
                }
                None => return json_error(stream, 500, "no table", extra),
            };
            let compression = match r.compression() {
                Ok(c) => c,
                Err(e) => return param_error(stream, &e, extra),
            };
            let sel = match table.select(&r) {
                Ok(s) => s,
                Err(e) => return param_error(stream, &e, extra),
            };
            let h = format!(
                "Transfer-Encoding: chunked\r\nX-Sightline-Rows: {}\r\nX-Sightline-Matched: {}\r\nX-Sightline-Sample: {sample}\r\n{extra}",
                sel.rows.len(),
                sel.matched
            );
            stream.write_all(head(200, "application/vnd.apache.arrow.stream", &h).as_bytes())?;
            if req.method == "HEAD" {
                return Ok(());
            }
            let out = Chunked { out: stream, buf: Vec::with_capacity(1 << 16) };
            let batch_rows = r.batch_rows.unwrap_or(DEFAULT_BATCH_ROWS);
            match table.write(&sel, compression, batch_rows, deadline, out, |w| w.flush()) {
                Ok(w) => w.end(),
                Err(e) => {
                    eprintln!("sightline: /api/events stopped: {e}");
                    Ok(())
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_cannot_escape() {
        let root = Path::new("/srv");
        assert_eq!(safe_path(root, "/www/index.html"), Some(PathBuf::from("/srv/www/index.html")));
        for bad in ["/www/../etc/passwd", "/www/.hidden", "/www//x", "/www/a\\b", "/www/%2e%2e/x", "/pkg/a b"] {
            assert_eq!(safe_path(root, bad), None, "{bad}");
        }
    }

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode("a%20b+c").as_deref(), Some("a b c"));
        assert_eq!(percent_decode("%zz"), None);
        assert_eq!(percent_decode("%ff"), None);
    }
}
