//! Connections: the accept loop, HTTP/1.1 and HTTP/2 on one port (hyper-util's `auto`
//! builder tells them apart by the HTTP/2 preface, so proxies can speak h2c), TLS
//! through rustls (ALPN offers `h2` and `http/1.1`, which gives browsers HTTP/2), the
//! timeouts that keep idle and trickling clients from holding a connection, and
//! graceful shutdown: on the signal the listener closes, HTTP/1.1 connections finish
//! the response in flight and close, HTTP/2 ones get a GOAWAY.

use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio_rustls::rustls;
use tokio_rustls::TlsAcceptor;

use crate::{TlsFiles, MAX_HEAD_BYTES, READ_TIMEOUT};

/// Pause after a failed `accept` (say, out of file descriptors), so that a connection
/// left in the backlog does not make the acceptor spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(20);
/// HTTP/2 streams one connection may have open at once.
const MAX_STREAMS: u32 = 256;

/// Resolves on SIGTERM or Ctrl-C (SIGINT).
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}

/// A rustls acceptor for a PEM certificate chain and key.
pub fn tls_acceptor(files: &TlsFiles) -> std::io::Result<TlsAcceptor> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    let named = |p: &Path, e: &dyn std::fmt::Display| std::io::Error::other(format!("{}: {e}", p.display()));
    let certs = CertificateDer::pem_file_iter(&files.cert)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| named(&files.cert, &e))?;
    if certs.is_empty() {
        return Err(named(&files.cert, &"no certificate in the file"));
    }
    let key = PrivateKeyDer::from_pem_file(&files.key).map_err(|e| named(&files.key, &e))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .and_then(|b| b.with_no_client_auth().with_single_cert(certs, key))
        .map_err(|e| named(&files.key, &e))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

fn builder() -> auto::Builder<TokioExecutor> {
    let mut b = auto::Builder::new(TokioExecutor::new());
    b.http1()
        .timer(TokioTimer::new())
        // Covers the wait for each request head too (idle keep-alive connections and
        // clients that trickle a head byte by byte are closed after it).
        .header_read_timeout(READ_TIMEOUT)
        // A head larger than this gets a 431.
        .max_buf_size(MAX_HEAD_BYTES);
    b.http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(MAX_STREAMS)
        .max_header_list_size(MAX_HEAD_BYTES as u32)
        .keep_alive_interval(Some(Duration::from_secs(30)))
        .keep_alive_timeout(READ_TIMEOUT);
    b
}

/// Accepts connections on `listener` until `stop`, then waits up to `grace` for the
/// connections' responses in flight.
pub async fn serve(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    router: Router,
    stop: impl Future<Output = ()>,
    grace: Duration,
) {
    let graceful = GracefulShutdown::new();
    let builder = Arc::new(builder());
    tokio::pin!(stop);
    loop {
        let (stream, _peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!("accept failed: {e}");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                    continue;
                }
            },
            _ = &mut stop => break,
        };
        let _ = stream.set_nodelay(true);
        let service = TowerToHyperService::new(router.clone());
        let (builder, watcher, tls) = (builder.clone(), graceful.watcher(), tls.clone());
        tokio::spawn(async move {
            match tls {
                None => {
                    // A connection that never sends a byte is not kept (hyper's head
                    // timeout starts only once the protocol is known).
                    let mut first = [0u8; 1];
                    if !matches!(tokio::time::timeout(READ_TIMEOUT, stream.peek(&mut first)).await, Ok(Ok(1..))) {
                        return;
                    }
                    let conn = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
                    let _ = watcher.watch(conn.into_owned()).await;
                }
                Some(acceptor) => {
                    let Ok(Ok(stream)) = tokio::time::timeout(READ_TIMEOUT, acceptor.accept(stream)).await else {
                        return;
                    };
                    let conn = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
                    let _ = watcher.watch(conn.into_owned()).await;
                }
            }
        });
    }
    drop(listener);
    tracing::info!("shutting down: waiting up to {} s for {} connections", grace.as_secs(), graceful.count());
    tokio::select! {
        _ = graceful.shutdown() => tracing::info!("all connections closed"),
        _ = tokio::time::sleep(grace) => tracing::warn!("connections still open after {} s: closing them", grace.as_secs()),
    }
}
