//! The routes and the rules every request passes, as axum handlers and tower layers.
//!
//! From the outside in: security headers on every response (a strict CSP, `nosniff`,
//! `no-cache`), tracing, compression of the answer (zstd, br or gzip, whichever the
//! client accepts, at the fastest level; never on top of Arrow's own LZ4/ZSTD bodies),
//! the `Host` check against DNS rebinding, then for `/api/` only: CORS for the
//! configured origin, the request body limit and timeout, the bearer token, and the
//! admission of at most `workers` requests at once with `queue` waiting (503 past it).
//! Errors are JSON, `{"error": ..., "parameter": ...}`, with the status their kind has.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use arrow_array::RecordBatch;
use arrow_ipc::writer::StreamWriter;
use arrow_schema::SchemaRef;
use axum::body::Body;
use axum::extract::{RawQuery, Request, State};
use axum::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use axum::http::{Extensions, Method, StatusCode, Uri};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use bytes::Bytes;
use futures_util::{StreamExt, TryStreamExt};
use serde_json::json;
use sightline::demo::{self, Compression, DemoOptions};
use subtle::ConstantTimeEq;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tower_http::compression::predicate::{DefaultPredicate, Predicate};
use tower_http::compression::{CompressionLayer, CompressionLevel};
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::RequestBodyTimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::clickhouse::{self, ChError};
use crate::source::{ipc_options, EventsRequest, ParamError, SelectedBatches, Table, DEFAULT_BATCH_ROWS};
use crate::{Config, Source, MAX_BODY_BYTES, MAX_DEMO_ROWS, READ_TIMEOUT};

/// The Content-Security-Policy sent with every response.
pub const CSP: &str = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; \
img-src 'self' data: blob:; connect-src 'self'; worker-src 'self'; object-src 'none'; base-uri 'none'; \
frame-ancestors 'self'";

/// Headers exposed to cross-origin pages when CORS is on.
const EXPOSED: [&str; 4] = ["x-sightline-rows", "x-sightline-matched", "x-sightline-sample", "x-sightline-trace"];
const ARROW: &str = "application/vnd.apache.arrow.stream";

/// What the handlers share.
pub struct AppState {
    /// The settings.
    pub config: Config,
    /// The sources, the default first.
    pub sources: Vec<Source>,
    slots: Arc<Semaphore>,
    waiting: AtomicUsize,
}

impl AppState {
    /// The state for `config` and its loaded `sources`.
    pub fn new(config: Config, sources: Vec<Source>) -> AppState {
        let slots = Arc::new(Semaphore::new(config.workers));
        AppState { config, sources, slots, waiting: AtomicUsize::new(0) }
    }

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

type Shared = Arc<AppState>;

/// Why a request failed; each kind has its status.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// A bad parameter (400, naming it).
    #[error(transparent)]
    Param(#[from] ParamError),
    /// ClickHouse failed (503 unreachable, 504 timeout, 502 refused).
    #[error(transparent)]
    ClickHouse(#[from] ChError),
    /// The engine refused a query or comparison (400 for the spec's faults, naming the
    /// column or operator).
    #[error(transparent)]
    Engine(#[from] sightline::Error),
    /// Anything else, with its status.
    #[error("{message}")]
    Status {
        /// The HTTP status.
        status: StatusCode,
        /// What happened.
        message: String,
    },
}

impl ApiError {
    fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError::Status { status, message: message.into() }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, body) = match &self {
            ApiError::Param(e) => (StatusCode::BAD_REQUEST, json!({ "error": e.to_string(), "parameter": e.param })),
            ApiError::ClickHouse(e) => {
                (StatusCode::from_u16(e.status()).unwrap_or(StatusCode::BAD_GATEWAY), json!({ "error": e.to_string() }))
            }
            ApiError::Engine(e) => {
                use sightline::Error as E;
                let status = match e {
                    E::Spec(_) | E::UnknownColumn { .. } | E::Operator { .. } => StatusCode::BAD_REQUEST,
                    E::Budget { .. } | E::OutOfMemory { .. } => StatusCode::INSUFFICIENT_STORAGE,
                    _ => StatusCode::INTERNAL_SERVER_ERROR,
                };
                // The engine's error as data, as Dataset's methods throw it in the browser
                // (`kind`, and the column, operator or byte offset it names), its message
                // under `error` as every error of this API has it.
                let mut body = serde_json::to_value(e.info()).unwrap_or_default();
                if let Some(fields) = body.as_object_mut() {
                    let message = fields.remove("message").unwrap_or_default();
                    fields.insert("error".into(), message);
                    fields.insert("parameter".into(), json!("spec"));
                }
                (status, body)
            }
            ApiError::Status { status, message } => (*status, json!({ "error": message })),
        };
        (status, Json(body)).into_response()
    }
}

/// Marks a response whose body is already compressed (Arrow's LZ4/ZSTD buffers), so
/// that the compression layer leaves it alone.
#[derive(Clone, Copy)]
struct Precompressed;

/// The service: routes and layers.
pub fn router(state: Shared) -> Router {
    let config = &state.config;
    let cors = config.cors_origin.as_ref().map(|o| {
        let origin = if o == "*" {
            AllowOrigin::any()
        } else {
            // Granted only to a request from that origin (not sent to others).
            let o = o.clone();
            AllowOrigin::predicate(move |given: &HeaderValue, _| given.as_bytes() == o.as_bytes())
        };
        CorsLayer::new()
            .allow_origin(origin)
            .allow_methods([Method::GET, Method::HEAD, Method::POST])
            .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE])
            .expose_headers(EXPOSED.map(HeaderName::from_static))
            .max_age(std::time::Duration::from_secs(600))
    });
    let api = Router::new()
        .route("/api/events", get(events_get).post(events_post))
        .route("/api/demo", get(demo_stream))
        .route("/api/demo/schema", get(demo_schema))
        .route("/api/demo/trace", get(demo_trace))
        .route("/api/trace", get(trace))
        .route("/api/sources", get(sources))
        .route("/api/markers", get(markers))
        .route("/api/columns", get(columns))
        .route("/api/query", axum::routing::post(query))
        .route("/api/compare", axum::routing::post(compare))
        .layer(middleware::from_fn_with_state(state.clone(), admit))
        .layer(middleware::from_fn_with_state(state.clone(), bearer))
        .layer(RequestBodyTimeoutLayer::new(READ_TIMEOUT))
        .layer(RequestBodyLimitLayer::new(MAX_BODY_BYTES))
        .layer(tower::util::option_layer(cors));
    // Compress what compresses: JSON, scripts, the wasm, Arrow streams; not images nor
    // Arrow bodies compressed already.
    // (With `--no-compress` the layer stays, and compresses nothing.)
    let enabled = config.compress_level.is_some();
    let compress =
        DefaultPredicate::new().and(move |_: StatusCode, _: axum::http::Version, _: &HeaderMap, ext: &Extensions| {
            enabled && ext.get::<Precompressed>().is_none()
        });
    let level = CompressionLevel::Precise(config.compress_level.unwrap_or(crate::DEFAULT_COMPRESS_LEVEL));
    Router::new()
        .merge(api)
        .fallback(static_file)
        .layer(middleware::from_fn_with_state(state.clone(), host_guard))
        .layer(CompressionLayer::new().quality(level).compress_when(compress))
        .layer(TraceLayer::new_for_http())
        .layer(SetResponseHeaderLayer::overriding(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP)))
        .layer(SetResponseHeaderLayer::overriding(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")))
        .layer(SetResponseHeaderLayer::if_not_present(header::CACHE_CONTROL, HeaderValue::from_static("no-cache")))
        .with_state(state)
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

/// DNS rebinding: a page whose name is made to resolve to this machine would be
/// same-origin with the server; its requests still name that host. Both the `Host`
/// header and an absolute URI's authority (HTTP/2's `:authority`) must be allowed.
async fn host_guard(State(state): State<Shared>, req: Request, next: Next) -> Response {
    let header = req.headers().get(header::HOST).map(|h| h.to_str().unwrap_or("\u{fffd}"));
    let authority = req.uri().authority().map(|a| a.as_str());
    let named: Vec<&str> = header.into_iter().chain(authority).collect();
    if let Some(bad) = named.iter().find(|h| !host_allowed(h, &state.config)).or(named.is_empty().then_some(&"")) {
        let msg = format!(
            "Host {:?} is not allowed: use localhost or an IP address, or start the server with --allowed-host NAME",
            bad.chars().take(100).collect::<String>()
        );
        return ApiError::new(StatusCode::FORBIDDEN, msg).into_response();
    }
    next.run(req).await
}

async fn bearer(State(state): State<Shared>, req: Request, next: Next) -> Response {
    if let Some(token) = &state.config.token {
        let given = req.headers().get(header::AUTHORIZATION).and_then(|h| h.to_str().ok());
        let given = given.and_then(|h| h.strip_prefix("Bearer ")).unwrap_or("");
        // Compared in time independent of where the strings differ (subtle).
        if !bool::from(given.trim().as_bytes().ct_eq(token.as_bytes())) {
            let mut r =
                ApiError::new(StatusCode::UNAUTHORIZED, "a bearer token is required (Authorization: Bearer ...)")
                    .into_response();
            r.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            return r;
        }
    }
    next.run(req).await
}

/// Counts a request waiting for a slot while it waits (a client that hangs up while
/// waiting drops it).
struct Waiting<'a>(&'a AtomicUsize);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// At most `workers` API requests at once, each holding its slot until its body has
/// been sent; up to `queue` wait for one; more get a 503 at once.
async fn admit(State(state): State<Shared>, req: Request, next: Next) -> Response {
    let permit = match state.slots.clone().try_acquire_owned() {
        Ok(p) => p,
        Err(_) => {
            if state.waiting.fetch_add(1, Ordering::Relaxed) >= state.config.queue {
                state.waiting.fetch_sub(1, Ordering::Relaxed);
                let msg =
                    format!("too many requests: {} answered and {} waiting", state.config.workers, state.config.queue);
                return ApiError::new(StatusCode::SERVICE_UNAVAILABLE, msg).into_response();
            }
            let _waiting = Waiting(&state.waiting);
            match state.slots.clone().acquire_owned().await {
                Ok(p) => p,
                Err(_) => return ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "shutting down").into_response(),
            }
        }
    };
    let (parts, body) = next.run(req).await.into_parts();
    Response::from_parts(parts, Body::new(Held { body, _permit: permit }))
}

/// A response body that holds a worker slot until it is sent or dropped.
struct Held {
    body: Body,
    _permit: OwnedSemaphorePermit,
}

impl http_body::Body for Held {
    type Data = Bytes;
    type Error = axum::Error;
    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, axum::Error>>> {
        std::pin::Pin::new(&mut self.body).poll_frame(cx)
    }
    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }
    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}

/// The query string's pairs, percent-decoded (`+` is a space).
fn query_pairs(raw: Option<&str>) -> Result<Vec<(String, String)>, ParamError> {
    let decode = |s: &str, what: &str| -> Result<String, ParamError> {
        let s = s.replace('+', " ");
        percent_encoding::percent_decode_str(&s)
            .decode_utf8()
            .map(|c| c.into_owned())
            .map_err(|_| ParamError::new("query", format!("{what} is not valid percent-encoded UTF-8")))
    };
    let mut out = Vec::new();
    for pair in raw.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let k = decode(k, &format!("parameter name {k:?}"))?;
        let v = decode(v, &format!("the value of \"{k}\""))?;
        out.push((k, v));
    }
    Ok(out)
}

fn param<T: std::str::FromStr>(query: &[(String, String)], name: &'static str) -> Result<Option<T>, ParamError> {
    match query.iter().find(|(k, _)| k == name) {
        None => Ok(None),
        Some((_, v)) => v.parse().map(Some).map_err(|_| ParamError::new(name, format!("cannot parse {v:?}"))),
    }
}

/// Runs CPU work (selecting rows, making and encoding a record batch) on rayon's pool,
/// one thread per core, so that tokio's threads stay free for sockets and timers (a
/// slowloris client is still cut off on time while every core encodes). A panic in
/// `f` is an error here, not the end of the process.
async fn compute<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T, String> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    rayon::spawn(move || {
        let _ = tx.send(std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)));
    });
    match rx.await {
        Ok(Ok(v)) => Ok(v),
        _ => Err("internal error (a panic, logged)".to_string()),
    }
}

/// Bytes gathered before a chunk of an Arrow stream is sent.
const CHUNK_BYTES: usize = 64 << 10;

/// An Arrow IPC stream of `batches`, each encoded when the client is ready for more
/// (hyper polls the body only as the connection drains: a slow reader holds one
/// batch, not a thread). Past `deadline`, or on an error, the body fails: the client
/// sees a cut stream, never a complete-looking one.
fn ipc_body<I>(schema: SchemaRef, batches: I, compression: Compression, deadline: Instant) -> Result<Body, ApiError>
where
    I: Iterator<Item = Result<RecordBatch, String>> + Send + 'static,
{
    let internal = |e: String| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e);
    let options = ipc_options(compression).map_err(internal)?;
    let writer =
        StreamWriter::try_new_with_options(Vec::new(), &schema, options).map_err(|e| internal(e.to_string()))?;
    let stream = futures_util::stream::unfold(Some((writer, batches)), move |state| async move {
        let (w, batches) = state?;
        if Instant::now() > deadline {
            tracing::warn!("Arrow stream stopped: response time limit reached");
            return Some((Err(std::io::Error::other("response time limit reached")), None));
        }
        let made = compute(move || {
            let (mut w, mut batches) = (w, batches);
            // Small batches (`batch_rows=1`) go together up to CHUNK_BYTES, so that a
            // chunk, not a row, pays for the trip to the pool and to the socket.
            let mut more = true;
            while more && w.get_ref().len() < CHUNK_BYTES {
                more = match batches.next() {
                    Some(Ok(b)) => w.write(&b).map(|()| true).map_err(|e| e.to_string())?,
                    Some(Err(e)) => return Err(e),
                    None => w.finish().map(|()| false).map_err(|e| e.to_string())?,
                };
            }
            Ok((Bytes::from(std::mem::take(w.get_mut())), more.then_some((w, batches))))
        })
        .await;
        match made.and_then(|r| r) {
            Ok((bytes, next)) => Some((Ok::<Bytes, std::io::Error>(bytes), next)),
            Err(e) => {
                tracing::warn!("Arrow stream stopped: {e}");
                Some((Err(std::io::Error::other(e)), None))
            }
        }
    });
    // Fused: a body may be polled again after its end (tower-http's compression does),
    // and a finished `unfold` must not be.
    Ok(Body::from_stream(stream.fuse()))
}

fn arrow_response(body: Body, compression: Compression, headers: &[(&'static str, String)]) -> Response {
    let mut r = Response::new(body);
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(ARROW));
    for (k, v) in headers {
        if let Ok(v) = HeaderValue::from_str(v) {
            h.insert(HeaderName::from_static(k), v);
        }
    }
    if compression != Compression::None {
        r.extensions_mut().insert(Precompressed);
    }
    r
}

/// The demo's options from `/api/demo`'s parameters (`rows`, `seed`, `days`, `keep`,
/// `batch_rows`), refusing any not in `known`.
fn demo_options(query: &[(String, String)], config: &Config, known: &[&str]) -> Result<DemoOptions, ApiError> {
    for (k, _) in query {
        if !known.contains(&k.as_str()) {
            return Err(ParamError::new("query", format!("unknown parameter \"{k}\" ({})", known.join(", "))).into());
        }
    }
    let rows = param::<usize>(query, "rows")?.unwrap_or(config.rows);
    if rows > MAX_DEMO_ROWS {
        return Err(ParamError::new("rows", format!("at most {MAX_DEMO_ROWS}")).into());
    }
    let batch_rows = param::<usize>(query, "batch_rows")?.unwrap_or(65_536);
    if !(1..=1 << 20).contains(&batch_rows) {
        return Err(ParamError::new("batch_rows", "between 1 and 1048576").into());
    }
    let seed = param::<u64>(query, "seed")?.unwrap_or(config.seed);
    let days = param::<i64>(query, "days")?.unwrap_or(1);
    if !(1..=31).contains(&days) {
        return Err(ParamError::new("days", "between 1 and 31").into());
    }
    let keep_one_in = param::<u32>(query, "keep")?.unwrap_or(1);
    if !(1..=10_000).contains(&keep_one_in) {
        return Err(ParamError::new("keep", "between 1 and 10000 (keep one in this many ordinary requests)").into());
    }
    Ok(DemoOptions { rows, seed, batch_rows, span_s: days * 86_400, keep_one_in, ..Default::default() })
}

async fn demo_stream(State(state): State<Shared>, RawQuery(raw): RawQuery) -> Result<Response, ApiError> {
    let query = query_pairs(raw.as_deref())?;
    let opts = demo_options(&query, &state.config, &["rows", "seed", "compression", "batch_rows", "days", "keep"])?;
    let compression = param::<String>(&query, "compression")?
        .unwrap_or_default()
        .parse::<Compression>()
        .map_err(|e| ParamError::new("compression", e.to_string()))?;
    let gen = demo::Generator::new(opts);
    let schema = gen.schema();
    let deadline = Instant::now() + state.config.timeout;
    let body = ipc_body(schema, gen.map(|b| b.map_err(|e| e.to_string())), compression, deadline)?;
    // Where one request's trace is (the same generator, expanded into its spans),
    // relative to this URL so that it works behind a proxy's path prefix.
    let trace = format!(
        "demo/trace?rows={}&seed={}&days={}&keep={}&id={{id}}",
        opts.rows,
        opts.seed,
        opts.span_s / 86_400,
        opts.keep_one_in
    );
    let mut headers = vec![("x-sightline-trace", trace)];
    // Sampled, the rows sent are not known before the stream ends.
    if opts.keep_one_in <= 1 {
        headers.push(("x-sightline-rows", opts.rows.to_string()));
    }
    Ok(arrow_response(body, compression, &headers))
}

async fn demo_schema() -> Json<serde_json::Value> {
    let fields: Vec<_> = demo::schema()
        .fields()
        .iter()
        .map(|f| json!({ "name": f.name(), "type": f.data_type().to_string() }))
        .collect();
    Json(json!({ "fields": fields }))
}

/// One demo request's trace: the same parameters as `/api/demo`, and its `id`.
async fn demo_trace(State(state): State<Shared>, RawQuery(raw): RawQuery) -> Result<Response, ApiError> {
    let query = query_pairs(raw.as_deref())?;
    let opts = demo_options(&query, &state.config, &["rows", "seed", "days", "keep", "id"])?;
    let id = param::<String>(&query, "id")?.ok_or_else(|| ParamError::new("id", "the trace id is required"))?;
    crate::trace::check_id(&id)?;
    demo_trace_response(opts, id).await
}

async fn demo_trace_response(opts: DemoOptions, id: String) -> Result<Response, ApiError> {
    let shown = id.clone();
    let found = compute(move || crate::trace::demo_spans(&opts, &id))
        .await
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e))??;
    match found {
        Some(v) => json_response(&v),
        None => Err(ApiError::new(StatusCode::NOT_FOUND, format!("no trace {shown:?} in this demo stream"))),
    }
}

/// One trace of a configured source: `source`, `id`, and `trace_column` when the source
/// names it otherwise than [`crate::trace::TRACE_COLUMNS`].
async fn trace(State(state): State<Shared>, RawQuery(raw): RawQuery) -> Result<Response, ApiError> {
    let query = query_pairs(raw.as_deref())?;
    if let Some((k, _)) = query.iter().find(|(k, _)| !["source", "id", "trace_column"].contains(&k.as_str())) {
        return Err(ParamError::new("query", format!("unknown parameter {k:?} (source, id, trace_column)")).into());
    }
    let name = param::<String>(&query, "source")?;
    let id = param::<String>(&query, "id")?.ok_or_else(|| ParamError::new("id", "the trace id is required"))?;
    crate::trace::check_id(&id)?;
    let given = param::<String>(&query, "trace_column")?;
    let not_found = |id: &str| ApiError::new(StatusCode::NOT_FOUND, format!("no spans of trace {id:?}"));
    match state.source(name.as_deref())? {
        Source::Demo { rows, seed, .. } if given.is_none() => {
            let opts = DemoOptions { rows: *rows, seed: *seed, ..Default::default() };
            demo_trace_response(opts, id).await
        }
        Source::ClickHouse { client, schema, .. } => {
            let has = |c: &str| schema.columns.iter().any(|x| x.name == c);
            let column = crate::trace::trace_column(given.as_deref(), has)?;
            let sql = clickhouse::compile(
                schema,
                &crate::trace::clickhouse_request(&column, &id),
                state.config.timeout.as_secs().max(1),
            )?;
            let bytes = crate::trace::read_all(client.post(sql).await?).await?;
            let v = compute(move || {
                let ds = crate::trace::dataset_of_ipc(&bytes)?;
                crate::trace::spans_json(&ds, &column, &id)
            })
            .await
            .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e))??;
            if v["matched"] == json!(0) {
                return Err(not_found(v["trace_id"].as_str().unwrap_or_default()));
            }
            json_response(&v)
        }
        _ => {
            let table = table_of(&state, name).await?;
            let has = |c: &str| table.dataset().column(c).is_ok();
            let column = crate::trace::trace_column(given.as_deref(), has)?;
            let v = compute(move || crate::trace::spans_json(table.dataset(), &column, &id))
                .await
                .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e))??;
            if v["matched"] == json!(0) {
                return Err(not_found(v["trace_id"].as_str().unwrap_or_default()));
            }
            json_response(&v)
        }
    }
}

/// Deploys and incidents to draw on every chart: the demo's (for `/api/demo` with the same
/// `days`); other sources have none recorded yet.
async fn markers(RawQuery(raw): RawQuery) -> Result<Json<serde_json::Value>, ApiError> {
    let query = query_pairs(raw.as_deref())?;
    for (k, _) in &query {
        if k != "days" {
            return Err(ParamError::new("query", format!("unknown parameter \"{k}\" (days)")).into());
        }
    }
    let days = param::<i64>(&query, "days")?.unwrap_or(1);
    if !(1..=31).contains(&days) {
        return Err(ParamError::new("days", "between 1 and 31").into());
    }
    let opts = DemoOptions { span_s: days * 86_400, ..Default::default() };
    Ok(Json(json!({ "markers": opts.markers() })))
}

async fn sources(State(state): State<Shared>) -> Json<serde_json::Value> {
    let list: Vec<_> = state
        .sources
        .iter()
        .map(|s| match s {
            Source::Demo { rows, seed, .. } => json!({ "name": "demo", "kind": "demo", "rows": rows, "seed": seed }),
            Source::File(t) => json!({
                "name": t.name, "kind": "file", "rows": t.row_count(), "time_column": t.time_column()
            }),
            Source::ClickHouse { name, schema, .. } => json!({
                "name": name, "kind": "clickhouse", "time_column": schema.time_column().map(|c| c.name.clone())
            }),
        })
        .collect();
    Json(json!({ "sources": list }))
}

/// The embedded table of the source named `name` (the default one if `None`).
async fn table_of(state: &Shared, name: Option<String>) -> Result<Arc<Table>, ApiError> {
    let src = state.source(name.as_deref())?;
    match src.table().await {
        Some(Ok(t)) => Ok(t),
        Some(Err(e)) => Err(ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("source {:?} failed to load: {e}", src.name()),
        )),
        None => Err(ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "not an embedded source")),
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

async fn columns(State(state): State<Shared>, RawQuery(raw): RawQuery) -> Result<Json<serde_json::Value>, ApiError> {
    let query = query_pairs(raw.as_deref())?;
    if let Some((k, _)) = query.iter().find(|(k, _)| k != "source") {
        return Err(ParamError::new("query", format!("unknown parameter {k:?} (source)")).into());
    }
    let name = query.iter().find(|(k, _)| k == "source").map(|(_, v)| v.clone());
    if let Source::ClickHouse { name, schema, .. } = state.source(name.as_deref())? {
        let cols: Vec<_> = schema
            .columns
            .iter()
            .map(|c| json!({ "name": c.name, "type": c.ch_type, "role": role_of(c.kind) }))
            .collect();
        return Ok(Json(json!({
            "source": name, "kind": "clickhouse",
            "time_column": schema.time_column().map(|c| c.name.clone()), "columns": cols
        })));
    }
    let t = table_of(&state, name).await?;
    Ok(Json(json!({
        "source": t.name, "kind": t.kind, "rows": t.row_count(), "time_column": t.time_column(), "columns": t.columns()
    })))
}

async fn events_get(
    State(state): State<Shared>,
    method: Method,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let query = query_pairs(raw.as_deref())?;
    events(state, EventsRequest::from_query(&query)?, method == Method::HEAD).await
}

async fn events_post(State(state): State<Shared>, RawQuery(raw): RawQuery, body: Body) -> Result<Response, ApiError> {
    if raw.is_some_and(|q| !q.is_empty()) {
        return Err(ParamError::new("query", "POST takes its parameters in the JSON body, not the URL").into());
    }
    let bytes = read_body(body).await?;
    events(state, EventsRequest::from_json(&bytes)?, false).await
}

/// A request body, whole: at most `MAX_BODY_BYTES` (the limit layer), each piece within
/// `READ_TIMEOUT` of the last (the timeout layer) and all of it within `READ_TIMEOUT`
/// (a client trickling a byte now and then does not hold a slot for long).
async fn read_body(body: Body) -> Result<Bytes, ApiError> {
    let late = || {
        ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            format!("the request body did not arrive within {} s", READ_TIMEOUT.as_secs()),
        )
    };
    let whole = tokio::time::timeout(READ_TIMEOUT, axum::body::to_bytes(body, usize::MAX)).await.map_err(|_| late())?;
    whole.map_err(|e| {
        let mut source: Option<&dyn std::error::Error> = Some(&e);
        while let Some(s) = source {
            if s.is::<http_body_util::LengthLimitError>() {
                return ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    format!("request body larger than {MAX_BODY_BYTES} bytes"),
                );
            }
            if s.is::<tower_http::timeout::TimeoutError>() {
                return late();
            }
            source = s.source();
        }
        ApiError::new(StatusCode::BAD_REQUEST, format!("unreadable request body: {e}"))
    })
}

/// `POST /api/query` and `/api/compare`: `{"source": NAME, "spec": SPEC}`.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RunRequest {
    #[serde(default)]
    source: Option<String>,
    spec: serde_json::Value,
}

/// Parses a run request and its spec (as the wasm edge does: a misspelt key is an
/// error naming it), and finds the source's table.
async fn run_request<S: serde::de::DeserializeOwned>(
    state: &Shared,
    req: RunRequest,
    what: &str,
) -> Result<(Arc<Table>, S), ApiError> {
    let spec: S =
        serde_json::from_value(req.spec).map_err(|e| sightline::Error::Spec(format!("invalid {what}: {e}")))?;
    if let Source::ClickHouse { name, .. } = state.source(req.source.as_deref())? {
        let msg = format!("source {name:?} is a ClickHouse table: queries run on embedded sources only, for now");
        return Err(ApiError::new(StatusCode::NOT_IMPLEMENTED, msg));
    }
    Ok((table_of(state, req.source).await?, spec))
}

/// Runs a spec on a source's rows with the engine the browser runs (on the pool) and
/// answers its result as JSON: what `Dataset.query` / `Dataset.compare` return.
async fn run_spec<S, R>(
    state: &Shared,
    req: RunRequest,
    what: &str,
    run: fn(&sightline::Dataset, &S) -> sightline::error::Result<R>,
) -> Result<Response, ApiError>
where
    S: serde::de::DeserializeOwned + Send + 'static,
    R: serde::Serialize + 'static,
{
    let (table, spec) = run_request::<S>(state, req, what).await?;
    let out = compute(move || {
        let r = run(table.dataset(), &spec)?;
        serde_json::to_vec(&r).map_err(|e| sightline::Error::State(e.to_string()))
    });
    let bytes = out.await.map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e))??;
    Ok(([(header::CONTENT_TYPE, "application/json")], bytes).into_response())
}

/// `POST /api/query`: the JSON `Dataset.query` returns for the spec over the source's
/// rows; on a ClickHouse source the plan runs there as SQL ([`crate::chquery`]).
async fn query(State(state): State<Shared>, body: Body) -> Result<Response, ApiError> {
    let req = run_body(body).await?;
    if let Source::ClickHouse { client, schema, .. } = state.source(req.source.as_deref())? {
        let spec: sightline::query::QuerySpec =
            serde_json::from_value(req.spec).map_err(|e| sightline::Error::Spec(format!("invalid query spec: {e}")))?;
        let limits = crate::chquery::Limits { seconds: state.config.timeout.as_secs().max(1), ..Default::default() };
        let r = crate::chquery::query(client, schema, &spec, &limits).await.map_err(ch_error)?;
        return json_response(&r);
    }
    run_spec(&state, req, "query spec", sightline::query::run).await
}

/// `POST /api/compare`: the JSON `Dataset.compare` returns; on a ClickHouse source the
/// counts are made there ([`crate::chquery::compare`]).
async fn compare(State(state): State<Shared>, body: Body) -> Result<Response, ApiError> {
    let req = run_body(body).await?;
    if let Source::ClickHouse { client, schema, .. } = state.source(req.source.as_deref())? {
        let spec: sightline::compare::CompareSpec = serde_json::from_value(req.spec)
            .map_err(|e| sightline::Error::Spec(format!("invalid compare spec: {e}")))?;
        let limits = crate::chquery::Limits { seconds: state.config.timeout.as_secs().max(1), ..Default::default() };
        let r = crate::chquery::compare(client, schema, &spec, &limits).await.map_err(ch_error)?;
        return json_response(&r);
    }
    run_spec(&state, req, "compare spec", sightline::compare::compare).await
}

/// The body of `/api/query` and `/api/compare`: `{"source", "spec"}`.
async fn run_body(body: Body) -> Result<RunRequest, ApiError> {
    let bytes = read_body(body).await?;
    Ok(serde_json::from_slice(&bytes).map_err(|e| ParamError::new("body", format!("{{\"source\", \"spec\"}}: {e}")))?)
}

fn ch_error(e: crate::chquery::QueryError) -> ApiError {
    match e {
        crate::chquery::QueryError::Spec(e) => ApiError::Engine(e),
        crate::chquery::QueryError::Param(e) => ApiError::Param(e),
        crate::chquery::QueryError::ClickHouse(e) => ApiError::ClickHouse(e),
    }
}

fn json_response<T: serde::Serialize>(r: &T) -> Result<Response, ApiError> {
    let bytes = serde_json::to_vec(r).map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    Ok(([(header::CONTENT_TYPE, "application/json")], bytes).into_response())
}

async fn events(state: Shared, r: EventsRequest, head_only: bool) -> Result<Response, ApiError> {
    let deadline = Instant::now() + state.config.timeout;
    let sample = r.sample.unwrap_or(1.0).to_string();
    if let Source::ClickHouse { client, schema, .. } = state.source(r.source.as_deref())? {
        for (p, given) in [("compression", r.compression.is_some()), ("batch_rows", r.batch_rows.is_some())] {
            if given {
                return Err(ParamError::new(p, "not supported by ClickHouse sources").into());
            }
        }
        let sql = clickhouse::compile(schema, &r, state.config.timeout.as_secs().max(1))?;
        let headers = [("x-sightline-sample", sample), ("x-sightline-trace", trace_link(r.source.as_deref()))];
        if head_only {
            return Ok(arrow_response(Body::empty(), Compression::None, &headers));
        }
        let resp = client.post(sql).await?;
        let stream = client
            .stream(resp, deadline)
            .inspect_err(|e| tracing::warn!("/api/events from ClickHouse stopped: {e}"))
            .fuse();
        return Ok(arrow_response(Body::from_stream(stream), Compression::None, &headers));
    }
    let table = table_of(&state, r.source.clone()).await?;
    let compression = r.compression()?;
    let batch_rows = r.batch_rows.unwrap_or(DEFAULT_BATCH_ROWS);
    let req_source = r.source.clone();
    let (t, req) = (table.clone(), r);
    let sel =
        compute(move || t.select(&req)).await.map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e))??;
    let headers = [
        ("x-sightline-rows", sel.rows.len().to_string()),
        ("x-sightline-matched", sel.matched.to_string()),
        ("x-sightline-sample", sample),
        ("x-sightline-trace", trace_link(req_source.as_deref())),
    ];
    if head_only {
        return Ok(arrow_response(Body::empty(), compression, &headers));
    }
    let batches = SelectedBatches::new(table, sel, batch_rows);
    let body = ipc_body(batches.schema.clone(), batches, compression, deadline)?;
    Ok(arrow_response(body, compression, &headers))
}

/// Where a source's traces are, relative to `/api/events` (`{id}` for the trace id).
fn trace_link(source: Option<&str>) -> String {
    match source {
        Some(s) => format!(
            "trace?source={}&id={{id}}",
            percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC)
        ),
        None => "trace?id={id}".to_string(),
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
        "arrow" | "arrows" => ARROW,
        _ => "application/octet-stream",
    }
}

/// `/`, `/www/*`, `/pkg/*`: files under the root, by a whitelist of path characters
/// (no `%`, no dot segments). Small files, read whole.
async fn static_file(State(state): State<Shared>, method: Method, uri: Uri) -> Response {
    if method != Method::GET && method != Method::HEAD {
        return ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "only GET and HEAD (and POST on /api/events, /api/query, /api/compare)",
        )
        .into_response();
    }
    let root = &state.config.root;
    let path = match uri.path() {
        "/" => Some(root.join("www/index.html")),
        p if p.starts_with("/www/") || p.starts_with("/pkg/") => safe_path(root, p),
        _ => None,
    };
    match path.filter(|p| p.is_file()).and_then(|p| std::fs::read(&p).ok().map(|b| (p, b))) {
        Some((p, bytes)) => ([(header::CONTENT_TYPE, content_type(&p))], bytes).into_response(),
        None => (StatusCode::NOT_FOUND, [(header::CONTENT_TYPE, "text/plain")], "not found\n").into_response(),
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
    fn query_decoding() {
        let q = query_pairs(Some("a=x%20y+z&b=&c")).unwrap();
        assert_eq!(q, [("a".into(), "x y z".into()), ("b".into(), "".into()), ("c".into(), "".into())]);
        assert_eq!(query_pairs(Some("a=%ff")).unwrap_err().param, "query");
    }

    #[test]
    fn hosts() {
        let c = Config { host: "0.0.0.0".into(), allowed_hosts: vec![".example.com".into()], ..Config::default() };
        for ok in ["127.0.0.1:80", "[::1]:8080", "localhost", "a.localhost:1", "example.com", "x.example.com."] {
            assert!(host_allowed(ok, &c), "{ok}");
        }
        for bad in ["evil.test", "example.com.evil", "[::1]x", "localhost:x", ""] {
            assert!(!host_allowed(bad, &c), "{bad}");
        }
    }
}
