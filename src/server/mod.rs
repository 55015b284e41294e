//! `sightline serve`: a small HTTP/1.1 server for the component, the demo page and
//! Arrow IPC streams of demo data. Native only; std only (no async runtime).
//!
//! Binds 127.0.0.1 unless told otherwise. Static files come only from `www/` and `pkg/`
//! under the root, by a whitelist of path characters. Every response to a page carries
//! a strict Content-Security-Policy, so the demo proves the component works under it.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::demo::{self, Compression, DemoOptions};

/// The Content-Security-Policy sent with every response.
pub const CSP: &str = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; \
img-src 'self' data: blob:; connect-src 'self'; worker-src 'self'; object-src 'none'; base-uri 'none'; \
frame-ancestors 'self'";

/// Largest demo stream served, in rows.
pub const MAX_DEMO_ROWS: usize = 20_000_000;
const MAX_CONNECTIONS: usize = 128;
const MAX_HEAD_BYTES: usize = 16 << 10;

/// Server settings.
#[derive(Debug, Clone)]
pub struct Config {
    /// Address to bind, `127.0.0.1` by default.
    pub host: String,
    /// Port; 0 picks a free one.
    pub port: u16,
    /// Folder holding `www/` and `pkg/`.
    pub root: PathBuf,
    /// Default demo rows for `/api/demo`.
    pub rows: usize,
    /// Default demo seed.
    pub seed: u64,
}

impl Default for Config {
    fn default() -> Self {
        Config { host: "127.0.0.1".into(), port: 8080, root: PathBuf::from("."), rows: 1_000_000, seed: 42 }
    }
}

/// A running server.
pub struct Server {
    listener: TcpListener,
    config: Arc<Config>,
}

impl Server {
    /// Binds the listener.
    pub fn bind(config: Config) -> std::io::Result<Server> {
        let listener = TcpListener::bind((config.host.as_str(), config.port))?;
        Ok(Server { listener, config: Arc::new(config) })
    }

    /// The bound address.
    pub fn local_addr(&self) -> std::io::Result<std::net::SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves forever, one thread per connection (at most 128 at once).
    pub fn run(self) {
        let active = Arc::new(AtomicUsize::new(0));
        for stream in self.listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            if active.load(Ordering::SeqCst) >= MAX_CONNECTIONS {
                let _ = respond(&mut stream, 503, "text/plain", b"too many connections\n");
                continue;
            }
            active.fetch_add(1, Ordering::SeqCst);
            let (config, active) = (self.config.clone(), active.clone());
            std::thread::spawn(move || {
                let _ = handle(stream, &config);
                active.fetch_sub(1, Ordering::SeqCst);
            });
        }
    }
}

struct Request {
    method: String,
    path: String,
    query: Vec<(String, String)>,
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

fn read_request(stream: &mut TcpStream) -> Result<Request, (u16, String)> {
    let mut reader = BufReader::new(stream.take(MAX_HEAD_BYTES as u64));
    let mut line = String::new();
    reader.read_line(&mut line).map_err(|e| (400, format!("unreadable request: {e}")))?;
    let mut parts = line.split_whitespace();
    let (Some(method), Some(target)) = (parts.next(), parts.next()) else {
        return Err((400, "malformed request line".into()));
    };
    // Drain the headers; none are needed.
    loop {
        let mut h = String::new();
        match reader.read_line(&mut h) {
            Ok(0) => return Err((400, "request head too large or truncated".into())),
            Ok(_) if h == "\r\n" || h == "\n" => break,
            Ok(_) => {}
            Err(e) => return Err((400, format!("unreadable header: {e}"))),
        }
    }
    let (path, qs) = target.split_once('?').unwrap_or((target, ""));
    let path = percent_decode(path).ok_or((400, "path is not valid percent-encoded UTF-8".to_string()))?;
    let mut query = Vec::new();
    for pair in qs.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let k = percent_decode(k).ok_or((400, format!("query parameter name {k:?} is not valid UTF-8")))?;
        let v = percent_decode(v).ok_or((400, format!("query parameter \"{k}\" is not valid UTF-8")))?;
        query.push((k, v));
    }
    Ok(Request { method: method.to_string(), path, query })
}

fn status_text(code: u16) -> &'static str {
    match code {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
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

fn respond(stream: &mut TcpStream, code: u16, content_type: &str, body: &[u8]) -> std::io::Result<()> {
    stream.write_all(head(code, content_type, &format!("Content-Length: {}\r\n", body.len())).as_bytes())?;
    stream.write_all(body)?;
    stream.flush()
}

fn handle(mut stream: TcpStream, config: &Config) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    stream.set_write_timeout(Some(Duration::from_secs(60)))?;
    let req = match read_request(&mut stream) {
        Ok(r) => r,
        Err((code, msg)) => {
            return respond(&mut stream, code, "text/plain; charset=utf-8", format!("{msg}\n").as_bytes())
        }
    };
    if req.method != "GET" && req.method != "HEAD" {
        return respond(&mut stream, 405, "text/plain", b"only GET and HEAD\n");
    }
    match req.path.as_str() {
        "/" => static_file(&mut stream, &config.root.join("www/index.html"), req.method == "HEAD"),
        "/api/demo" => demo_stream(&mut stream, config, &req),
        "/api/demo/schema" => {
            let fields: Vec<_> = demo::schema()
                .fields()
                .iter()
                .map(|f| serde_json::json!({ "name": f.name(), "type": f.data_type().to_string() }))
                .collect();
            let body = serde_json::to_vec(&serde_json::json!({ "fields": fields })).unwrap_or_default();
            respond(&mut stream, 200, "application/json", &body)
        }
        p if p.starts_with("/www/") || p.starts_with("/pkg/") => match safe_path(&config.root, p) {
            Some(path) => static_file(&mut stream, &path, req.method == "HEAD"),
            None => respond(&mut stream, 404, "text/plain", b"not found\n"),
        },
        _ => respond(&mut stream, 404, "text/plain", b"not found\n"),
    }
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
                respond(stream, 200, content_type(path), &body)
            }
        }
        _ => respond(stream, 404, "text/plain", b"not found\n"),
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

fn param<T: std::str::FromStr>(req: &Request, name: &str) -> Result<Option<T>, String> {
    match req.query.iter().find(|(k, _)| k == name) {
        None => Ok(None),
        Some((_, v)) => v.parse().map(Some).map_err(|_| format!("parameter \"{name}\": cannot parse {v:?}")),
    }
}

fn demo_stream(stream: &mut TcpStream, config: &Config, req: &Request) -> std::io::Result<()> {
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
        Err(msg) => return respond(stream, 400, "text/plain; charset=utf-8", format!("{msg}\n").as_bytes()),
    };
    let extra = format!("Transfer-Encoding: chunked\r\nX-Sightline-Rows: {}\r\n", opts.rows);
    stream.write_all(head(200, "application/vnd.apache.arrow.stream", &extra).as_bytes())?;
    if req.method == "HEAD" {
        return Ok(());
    }
    let out = Chunked { out: stream, buf: Vec::with_capacity(1 << 20) };
    let result = demo::write_ipc(&opts, compression, out, |w| w.flush());
    match result {
        Ok(mut w) => {
            w.flush()?;
            w.out.write_all(b"0\r\n\r\n")?;
            w.out.flush()
        }
        // The client went away or the writer failed: end without the terminating chunk,
        // so the client sees a truncated stream rather than a complete one.
        Err(_) => Ok(()),
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
