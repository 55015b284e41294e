//! The `sightline` command: `serve` (the bundled server) and `demo` (write demo data).
//! Arguments by clap (derive); secrets from the environment.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use sightline::demo::{self, Compression, DemoOptions};
use sightline_server::clickhouse::ChConfig;
use sightline_server::{Config, Server, TlsFiles};

const EXAMPLES: &str = "Examples:
  sightline serve                                   the demo at http://127.0.0.1:8080/
  sightline serve --data logs/ --port 9000          every .arrow/.parquet/.ndjson file in logs/
  SIGHTLINE_CLICKHOUSE_PASSWORD=... sightline serve --clickhouse https://ch.internal:8443 --table otel.spans
  sightline serve --host 0.0.0.0 --allowed-host .corp.example --token-file /run/secrets/token
  sightline serve --tls-cert cert.pem --tls-key key.pem  HTTPS, HTTP/2 for browsers
  sightline demo --rows 1000000 --compression zstd --out demo.arrows";

#[derive(Parser)]
#[command(name = "sightline", version, about = "Sightline: observability analytics in the browser", after_help = EXAMPLES)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the component and demo page (/), events as Arrow IPC with push-down
    /// (/api/events, /api/columns, /api/sources) and demo data (/api/demo).
    ///
    /// Sources: each --data file (.arrow, .parquet, .ndjson; a directory: each such
    /// file in it), the ClickHouse table, and `demo`; the first is the default.
    /// Requests must name the server in Host: an IP address, localhost, the --host
    /// name, or an --allowed-host; any other name gets a 403, so a web page rebinding
    /// its name to this machine cannot read the data. SIGTERM or Ctrl-C stops
    /// accepting and lets responses in flight finish.
    #[command(after_help = EXAMPLES)]
    Serve(ServeArgs),
    /// Write demo events as an Arrow IPC stream.
    Demo(DemoArgs),
}

#[derive(Args)]
struct ServeArgs {
    /// Address to bind (loopback unless you say otherwise).
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// Port; 0 picks a free one.
    #[arg(long, default_value_t = 8080)]
    port: u16,
    /// The Sightline checkout (holds www/ and pkg/).
    #[arg(long, default_value = ".")]
    root: PathBuf,
    /// Rows of the demo source.
    #[arg(long, default_value_t = 1_000_000)]
    rows: usize,
    /// Seed of the demo source.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// A file or directory to serve as sources (repeatable).
    #[arg(long, value_name = "FILE_OR_DIR")]
    data: Vec<PathBuf>,
    /// ClickHouse's HTTP interface, http(s)://host:port.
    #[arg(long, value_name = "URL", requires = "table")]
    clickhouse: Option<String>,
    /// The ClickHouse table, [DB.]TABLE.
    #[arg(long, requires = "clickhouse")]
    table: Option<String>,
    /// The ClickHouse user.
    #[arg(long, requires = "clickhouse")]
    clickhouse_user: Option<String>,
    /// The ClickHouse password (from the environment: never on a command line).
    #[arg(long, env = "SIGHTLINE_CLICKHOUSE_PASSWORD", hide_env_values = true, hide = true)]
    clickhouse_password: Option<String>,
    /// Bearer token required on /api/ (better from the environment or --token-file).
    #[arg(long, env = "SIGHTLINE_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// A file holding the bearer token.
    #[arg(long, value_name = "FILE", conflicts_with = "token")]
    token_file: Option<PathBuf>,
    /// The origin allowed to call /api/ from another site (`*` for any).
    #[arg(long, value_name = "ORIGIN")]
    cors_origin: Option<String>,
    /// A host name requests may use besides IPs and localhost (repeatable;
    /// `.example.com` allows its subdomains too).
    #[arg(long = "allowed-host", value_name = "NAME")]
    allowed_hosts: Vec<String>,
    /// API requests answered at once.
    #[arg(long, default_value_t = 1024, value_parser = clap::value_parser!(u32).range(1..))]
    workers: u32,
    /// API requests waiting for a slot before new ones get a 503.
    #[arg(long, default_value_t = 4096, value_parser = clap::value_parser!(u32).range(1..))]
    queue: u32,
    /// Longest time one response may take, in seconds.
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..))]
    timeout: u64,
    /// Seconds responses in flight may take to finish after SIGTERM or Ctrl-C.
    #[arg(long, default_value_t = 30)]
    shutdown_grace: u64,
    /// Content-Encoding level for gzip (1-9), br (0-11) and zstd (1-22).
    #[arg(long, default_value_t = sightline_server::DEFAULT_COMPRESS_LEVEL, value_parser = clap::value_parser!(i32).range(0..=22))]
    compress_level: i32,
    /// Send responses uncompressed whatever the client accepts (a proxy compresses).
    #[arg(long)]
    no_compress: bool,
    /// A PEM certificate chain: serve HTTPS (HTTP/2 and HTTP/1.1).
    #[arg(long, value_name = "PEM", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The certificate's PEM private key.
    #[arg(long, value_name = "PEM", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
}

#[derive(Args)]
struct DemoArgs {
    /// Rows to write.
    #[arg(long, default_value_t = 100_000)]
    rows: usize,
    /// Seed.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Arrow IPC body compression: none, lz4 or zstd.
    #[arg(long, default_value = "none", value_parser = |s: &str| s.parse::<Compression>().map_err(|e| e.to_string()))]
    compression: Compression,
    /// Rows per record batch.
    #[arg(long, default_value_t = 65_536)]
    batch_rows: usize,
    /// Output file (`-` or none: standard output).
    #[arg(long)]
    out: Option<PathBuf>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(a) => serve(a),
        Command::Demo(a) => write_demo(a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(msg) => {
            eprintln!("sightline: {msg}");
            ExitCode::from(2)
        }
    }
}

fn serve(a: ServeArgs) -> Result<(), String> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    if let Err(e) = rlimit::increase_nofile_limit(u64::MAX) {
        tracing::warn!("cannot raise the limit on open files: {e}");
    }
    let token = match &a.token_file {
        Some(p) => Some(std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()))?.trim().to_string()),
        None => a.token.clone(),
    };
    let clickhouse = match (a.clickhouse, a.table) {
        (Some(url), Some(table)) => Some(ChConfig {
            url,
            table,
            user: a.clickhouse_user,
            password: a.clickhouse_password.filter(|p| !p.is_empty()),
        }),
        _ => None,
    };
    let config = Config {
        host: a.host,
        port: a.port,
        root: a.root,
        rows: a.rows,
        seed: a.seed,
        data: a.data,
        clickhouse,
        token: token.filter(|t| !t.is_empty()),
        cors_origin: a.cors_origin,
        allowed_hosts: a.allowed_hosts,
        workers: a.workers as usize,
        queue: a.queue as usize,
        timeout: Duration::from_secs(a.timeout),
        tls: a.tls_cert.zip(a.tls_key).map(|(cert, key)| TlsFiles { cert, key }),
        shutdown_grace: Duration::from_secs(a.shutdown_grace),
        compress_level: (!a.no_compress).then_some(a.compress_level),
    };
    if !["127.0.0.1", "localhost", "::1"].contains(&config.host.as_str()) {
        tracing::warn!("listening on {} (not loopback)", config.host);
    }
    if !config.root.join("www/index.html").is_file() {
        return Err(format!("{} has no www/index.html: pass --root <sightline checkout>", config.root.display()));
    }
    let scheme = if config.tls.is_some() { "https" } else { "http" };
    let server = Server::bind(config).map_err(|e| format!("cannot start: {e}"))?;
    let addr = server.local_addr().map_err(|e| e.to_string())?;
    // Not println!: a closed stdout must not stop the server.
    let mut out = std::io::stdout();
    let _ = writeln!(out, "Sightline demo: {scheme}://{addr}/\nsources: {}", server.source_names().join(", "));
    let _ = out.flush();
    server.run();
    Ok(())
}

fn write_demo(a: DemoArgs) -> Result<(), String> {
    let d = DemoOptions::default();
    let opts = DemoOptions { rows: a.rows, seed: a.seed, batch_rows: a.batch_rows, ..d };
    let out: Box<dyn Write> = match &a.out {
        Some(p) if p.as_os_str() != "-" => {
            Box::new(std::fs::File::create(p).map_err(|e| format!("{}: {e}", p.display()))?)
        }
        _ => Box::new(std::io::stdout().lock()),
    };
    demo::write_ipc(&opts, a.compression, std::io::BufWriter::new(out), |_| Ok(()))
        .map_err(|e| e.to_string())?
        .flush()
        .map_err(|e| e.to_string())
}
