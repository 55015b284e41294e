//! `sightline serve`: the component, the demo page and Arrow IPC streams of events over
//! HTTP, on tokio + hyper (axum for routing, tower-http for the layers).
//!
//! - `GET /api/events` (and `POST` with a JSON body): raw events of a source, with the
//!   time range, filters, columns, order, limit and sample pushed down to the source;
//!   an Arrow IPC stream made batch by batch as the client reads it.
//! - `GET /api/columns?source=`, `GET /api/sources`: what there is.
//! - `GET /api/demo`: generated demo data (the demo page and its tests use it).
//! - `/`, `/www/*`, `/pkg/*`: static files, by a whitelist of path characters.
//!
//! Binds 127.0.0.1 unless told otherwise; HTTP/1.1 and HTTP/2 (h2c) on one port, and
//! TLS through rustls with `--tls-cert`/`--tls-key`. [`app`] holds the routes and the
//! rules every request passes (Host, token, CORS, limits); [`listen`] the connections
//! (timeouts, protocols, graceful shutdown).

pub mod app;
pub mod chformula;
pub mod chquery;
pub mod clickhouse;
pub mod files;
pub mod listen;
pub mod source;
pub mod trace;

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clickhouse::{ChClient, ChConfig, ChSchema};
use source::Table;

pub use app::host_allowed;

/// Largest demo stream served, in rows.
pub const MAX_DEMO_ROWS: usize = 20_000_000;
/// Largest request head (request line and headers).
pub const MAX_HEAD_BYTES: usize = 16 << 10;
/// Largest request body (`POST /api/events`).
pub const MAX_BODY_BYTES: usize = 1 << 20;
/// Longest time a request head (and, separately, its body) may take to arrive, and the
/// longest a connection may sit idle between requests.
pub const READ_TIMEOUT: Duration = Duration::from_secs(10);

/// The default Content-Encoding level (see README's wire table for how it was chosen).
pub const DEFAULT_COMPRESS_LEVEL: i32 = 1;

/// A certificate chain and its private key, PEM files (`--tls-cert`, `--tls-key`).
#[derive(Debug, Clone)]
pub struct TlsFiles {
    /// The certificate chain, leaf first.
    pub cert: PathBuf,
    /// The private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
}

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
    /// API requests answered at once (each holds its slot until its body is sent).
    pub workers: usize,
    /// API requests waiting for a slot before new ones get a 503.
    pub queue: usize,
    /// Longest time one response may take.
    pub timeout: Duration,
    /// Serve HTTPS (HTTP/1.1 and HTTP/2 by ALPN) with this certificate.
    pub tls: Option<TlsFiles>,
    /// On SIGTERM or Ctrl-C, how long responses in flight may take to finish.
    pub shutdown_grace: Duration,
    /// Content-Encoding level for every codec (gzip 1-9, br 0-11, zstd 1-22), or
    /// `None` to send everything as it is (`--no-compress`: a proxy compresses).
    pub compress_level: Option<i32>,
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
            workers: 1024,
            queue: 4096,
            timeout: Duration::from_secs(60),
            tls: None,
            shutdown_grace: Duration::from_secs(30),
            compress_level: Some(DEFAULT_COMPRESS_LEVEL),
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
        table: tokio::sync::OnceCell<Result<Arc<Table>, String>>,
    },
    /// A local file, loaded at start.
    File(Arc<Table>),
    /// A ClickHouse table.
    ClickHouse {
        /// The source's name (the table's).
        name: String,
        /// The connection pool.
        client: ChClient,
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

    /// The embedded table (demo, file), making the demo on first use on a blocking
    /// thread (requests that come meanwhile wait for it, without a thread each).
    pub async fn table(&self) -> Option<Result<Arc<Table>, String>> {
        match self {
            Source::Demo { rows, seed, table } => {
                let (rows, seed) = (*rows, *seed);
                let make = || async move {
                    tokio::task::spawn_blocking(move || source::demo_table(rows, seed).map(Arc::new))
                        .await
                        .unwrap_or_else(|e| Err(e.to_string()))
                };
                Some(table.get_or_init(make).await.clone())
            }
            Source::File(t) => Some(Ok(t.clone())),
            Source::ClickHouse { .. } => None,
        }
    }
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// A setting that cannot work (`workers` of 0, two sources of one name).
    #[error("{0}")]
    Config(String),
    /// A `--data` file or directory could not be loaded (the message names the path).
    #[error("{0}")]
    Source(String),
    /// ClickHouse could not be reached or described.
    #[error(transparent)]
    ClickHouse(#[from] clickhouse::ChError),
    /// The certificate or key could not be used.
    #[error("TLS: {0}")]
    Tls(std::io::Error),
    /// The runtime or the listening socket.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// A bound server, not yet serving.
pub struct Server {
    runtime: tokio::runtime::Runtime,
    listener: tokio::net::TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
    state: Arc<app::AppState>,
}

impl Server {
    /// Loads the sources (files at once, ClickHouse's columns; the demo on first use)
    /// and binds the listener. Sources, in the order that makes the first the default:
    /// `--data` files, ClickHouse, the demo.
    pub fn bind(config: Config) -> Result<Server, StartError> {
        if config.workers == 0 || config.queue == 0 {
            return Err(StartError::Config("workers and queue must be at least 1".into()));
        }
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .thread_name("sightline")
            // Blocking threads load the demo table and resolve ClickHouse's name; idle
            // ones go soon, so the thread count returns to the core count.
            .thread_keep_alive(Duration::from_secs(2))
            .build()?;
        let tls = config.tls.as_ref().map(listen::tls_acceptor).transpose().map_err(StartError::Tls)?;
        let mut sources = Vec::new();
        for p in &config.data {
            for f in files::expand(p).map_err(StartError::Source)? {
                let t = files::load(&f, &files::source_name(&f)).map_err(StartError::Source)?;
                sources.push(Source::File(Arc::new(t)));
            }
        }
        if let Some(ch) = &config.clickhouse {
            let client = ChClient::new(ch, config.timeout)?;
            let schema = runtime.block_on(client.describe())?;
            sources.push(Source::ClickHouse { name: ch.table.clone(), client, schema });
        }
        sources.push(Source::Demo { rows: config.rows, seed: config.seed, table: Default::default() });
        for (i, s) in sources.iter().enumerate() {
            if sources[..i].iter().any(|o| o.name() == s.name()) {
                return Err(StartError::Config(format!("two sources are named {:?}", s.name())));
            }
        }
        let listener = runtime.block_on(tokio::net::TcpListener::bind((config.host.as_str(), config.port)))?;
        Ok(Server { runtime, listener, tls, state: Arc::new(app::AppState::new(config, sources)) })
    }

    /// The bound address.
    pub fn local_addr(&self) -> std::io::Result<std::net::SocketAddr> {
        self.listener.local_addr()
    }

    /// The sources' names, the default first.
    pub fn source_names(&self) -> Vec<String> {
        self.state.sources.iter().map(|s| s.name().to_string()).collect()
    }

    /// Serves until SIGTERM or Ctrl-C, then stops accepting and lets responses in
    /// flight finish (for at most `shutdown_grace`).
    pub fn run(self) {
        self.run_until(listen::shutdown_signal())
    }

    /// Serves until `stop` completes, then shuts down as [`Server::run`] does.
    pub fn run_until(self, stop: impl Future<Output = ()> + Send + 'static) {
        let Server { runtime, listener, tls, state } = self;
        let grace = state.config.shutdown_grace;
        let router = app::router(state);
        runtime.block_on(listen::serve(listener, tls, router, stop, grace));
        // Blocking tasks (a demo table being made) are not waited for.
        runtime.shutdown_timeout(Duration::from_millis(100));
    }
}
