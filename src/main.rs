//! The `sightline` command: `serve` (the bundled server) and `demo` (write demo data).
//! Native only: on wasm32 (where `cargo test --target wasm32-unknown-unknown` also
//! builds this binary) it is an empty program.

#[cfg(target_arch = "wasm32")]
fn main() {}

#[cfg(not(target_arch = "wasm32"))]
fn main() -> std::process::ExitCode {
    cli::main()
}

#[cfg(not(target_arch = "wasm32"))]
mod cli {

    use std::io::Write;
    use std::path::PathBuf;
    use std::process::ExitCode;
    use std::time::Duration;

    use sightline::demo::{self, Compression, DemoOptions};
    use sightline::server::clickhouse::ChConfig;
    use sightline::server::{Config, Server};

    const USAGE: &str = "usage:
  sightline serve [--host 127.0.0.1] [--port 8080] [--root .] [--rows 1000000] [--seed 42]
                  [--data FILE_OR_DIR]... [--clickhouse http://127.0.0.1:8123 --table [DB.]TABLE [--clickhouse-user U]]
                  [--token TOKEN] [--cors-origin ORIGIN] [--allowed-host NAME]... [--workers 64] [--queue 256] [--timeout 60]
      Serves the component and demo page (/), events as Arrow IPC with push-down
      (/api/events, /api/columns, /api/sources) and demo data (/api/demo?rows=&seed=&compression=).
      Sources: each --data file (.arrow, .parquet, .ndjson; a directory: each such file in it), the
      ClickHouse table, and `demo`; the first is the default. Environment: SIGHTLINE_TOKEN (as --token),
      SIGHTLINE_CLICKHOUSE_PASSWORD (sent as X-ClickHouse-Key). Requests must name the server in Host: an IP
      address, localhost, the --host name, or an --allowed-host (`.example.com` for its subdomains); any other
      name gets a 403, so a web page rebinding its name to this machine cannot read the data.
  sightline demo [--rows 100000] [--seed 42] [--compression none|lz4|zstd] [--batch-rows 65536] [--out FILE]
      Writes demo events as an Arrow IPC stream to FILE (default: standard output).";

    pub fn main() -> ExitCode {
        let args: Vec<String> = std::env::args().skip(1).collect();
        match run(&args) {
            Ok(()) => ExitCode::SUCCESS,
            Err(msg) => {
                eprintln!("sightline: {msg}\n\n{USAGE}");
                ExitCode::from(2)
            }
        }
    }

    fn flag<T: std::str::FromStr>(args: &[String], name: &str) -> Result<Option<T>, String> {
        match args.iter().position(|a| a == name) {
            None => Ok(None),
            Some(i) => {
                let v = args.get(i + 1).ok_or(format!("{name} needs a value"))?;
                v.parse().map(Some).map_err(|_| format!("{name}: cannot parse {v:?}"))
            }
        }
    }

    fn all_flags(args: &[String], name: &str) -> Vec<String> {
        args.chunks(2).filter(|p| p[0] == name).filter_map(|p| p.get(1).cloned()).collect()
    }

    fn check_flags(args: &[String], known: &[&str]) -> Result<(), String> {
        let mut i = 0;
        while i < args.len() {
            if !known.contains(&args[i].as_str()) {
                return Err(format!("unknown argument {:?}", args[i]));
            }
            i += 2;
        }
        Ok(())
    }

    fn run(args: &[String]) -> Result<(), String> {
        let (cmd, rest) = args.split_first().ok_or("missing command")?;
        match cmd.as_str() {
            "serve" => {
                check_flags(
                    rest,
                    &[
                        "--host",
                        "--port",
                        "--root",
                        "--rows",
                        "--seed",
                        "--data",
                        "--clickhouse",
                        "--table",
                        "--clickhouse-user",
                        "--token",
                        "--cors-origin",
                        "--allowed-host",
                        "--workers",
                        "--queue",
                        "--timeout",
                    ],
                )?;
                let d = Config::default();
                let clickhouse = match (flag::<String>(rest, "--clickhouse")?, flag::<String>(rest, "--table")?) {
                    (Some(url), Some(table)) => Some(ChConfig {
                        url,
                        table,
                        user: flag(rest, "--clickhouse-user")?,
                        password: std::env::var("SIGHTLINE_CLICKHOUSE_PASSWORD").ok().filter(|p| !p.is_empty()),
                    }),
                    (None, None) => None,
                    _ => return Err("--clickhouse and --table go together".into()),
                };
                let token = flag::<String>(rest, "--token")?
                    .or_else(|| std::env::var("SIGHTLINE_TOKEN").ok())
                    .filter(|t| !t.is_empty());
                let timeout: u64 = flag(rest, "--timeout")?.unwrap_or(d.timeout.as_secs());
                let config = Config {
                    host: flag(rest, "--host")?.unwrap_or(d.host),
                    port: flag(rest, "--port")?.unwrap_or(d.port),
                    root: flag(rest, "--root")?.unwrap_or(d.root),
                    rows: flag(rest, "--rows")?.unwrap_or(d.rows),
                    seed: flag(rest, "--seed")?.unwrap_or(d.seed),
                    data: all_flags(rest, "--data").into_iter().map(PathBuf::from).collect(),
                    clickhouse,
                    token,
                    cors_origin: flag(rest, "--cors-origin")?,
                    allowed_hosts: all_flags(rest, "--allowed-host"),
                    workers: flag(rest, "--workers")?.unwrap_or(d.workers),
                    queue: flag(rest, "--queue")?.unwrap_or(d.queue),
                    timeout: Duration::from_secs(timeout.max(1)),
                };
                if config.host != "127.0.0.1" && config.host != "localhost" && config.host != "::1" {
                    eprintln!("sightline: listening on {} (not loopback)", config.host);
                }
                if !config.root.join("www/index.html").is_file() {
                    return Err(format!(
                        "{} has no www/index.html: pass --root <sightline checkout>",
                        config.root.display()
                    ));
                }
                let server = Server::bind(config).map_err(|e| format!("cannot start: {e}"))?;
                let addr = server.local_addr().map_err(|e| e.to_string())?;
                // Not println!: a closed stdout must not stop the server.
                let mut out = std::io::stdout();
                let _ = writeln!(out, "Sightline demo: http://{addr}/\nsources: {}", server.source_names().join(", "));
                let _ = out.flush();
                server.run();
                Ok(())
            }
            "demo" => {
                check_flags(rest, &["--rows", "--seed", "--compression", "--batch-rows", "--out"])?;
                let d = DemoOptions::default();
                let opts = DemoOptions {
                    rows: flag(rest, "--rows")?.unwrap_or(d.rows),
                    seed: flag(rest, "--seed")?.unwrap_or(d.seed),
                    batch_rows: flag(rest, "--batch-rows")?.unwrap_or(d.batch_rows),
                    ..d
                };
                let compression: Compression = flag::<String>(rest, "--compression")?
                    .unwrap_or_default()
                    .parse()
                    .map_err(|e: sightline::Error| e.to_string())?;
                let out: Box<dyn Write> = match flag::<String>(rest, "--out")? {
                    Some(p) if p != "-" => Box::new(std::fs::File::create(&p).map_err(|e| format!("{p}: {e}"))?),
                    _ => Box::new(std::io::stdout().lock()),
                };
                let out = std::io::BufWriter::new(out);
                demo::write_ipc(&opts, compression, out, |_| Ok(()))
                    .map_err(|e| e.to_string())?
                    .flush()
                    .map_err(|e| e.to_string())
            }
            "help" | "--help" | "-h" => {
                println!("{USAGE}");
                Ok(())
            }
            other => Err(format!("unknown command {other:?}")),
        }
    }
}
