//! Listeners. [`serve_https`] accepts TLS connections whose client
//! certificate, when one is presented, must chain to the configured client
//! CA (rustls' WebPKI verifier); each request then carries a [`Peer`]
//! extension saying whether a verified client certificate was shown and
//! which. Routes that need one refuse with 403 on their own.

use axum::{Extension, Router};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::service::TowerToHyperService;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::PrivateKeyDer;
use std::path::Path;
use std::sync::Arc;
use tokio::net::TcpListener;

/// The id a request is known by in the logs (`x-request-id`), for
/// handlers that record it (an audit log).
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// Who is calling, as the TLS layer established it.
#[derive(Debug, Clone, Default)]
pub struct Peer {
    /// The verified client certificate (DER), if the client presented one.
    pub client_certificate: Option<Vec<u8>>,
}

impl Peer {
    /// A client certificate chaining to the configured client CA was shown.
    pub fn authenticated(&self) -> bool {
        self.client_certificate.is_some()
    }
}

fn read_err(path: &Path, e: impl std::fmt::Display) -> String {
    format!("{}: {e}", path.display())
}

pub use crate::tls::pem_certificates;

/// A server configuration: certificate chain and key (PEM files), and the
/// CA (PEM) whose client certificates are accepted; clients without a
/// certificate are let in as anonymous.
pub fn server_config(cert: &Path, key: &Path, client_ca: &Path) -> Result<rustls::ServerConfig, String> {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let certs = pem_certificates(cert)?;
    let key = PrivateKeyDer::from_pem_file(key).map_err(|e| read_err(key, e))?;
    let mut roots = rustls::RootCertStore::empty();
    for ca in pem_certificates(client_ca)? {
        roots.add(ca).map_err(|e| read_err(client_ca, e))?;
    }
    let verifier = rustls::server::WebPkiClientVerifier::builder(Arc::new(roots))
        .allow_unauthenticated()
        .build()
        .map_err(|e| e.to_string())?;
    rustls::ServerConfig::builder()
        .with_client_cert_verifier(verifier)
        .with_single_cert(certs, key)
        .map_err(|e| e.to_string())
}

/// What a listener allows one connection (issue 15: a hostile client must
/// not hold a worker or a socket forever).
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// The TLS handshake must finish within this.
    pub handshake: std::time::Duration,
    /// A request's headers must arrive within this (HTTP/1: slow-loris).
    pub header_read: std::time::Duration,
    /// Connections served at once; more wait in the kernel's backlog.
    pub connections: usize,
    /// After a [`Shutdown`], requests in flight get this long to finish.
    pub drain: std::time::Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            handshake: std::time::Duration::from_secs(10),
            header_read: std::time::Duration::from_secs(10),
            connections: 4096,
            drain: std::time::Duration::from_secs(30),
        }
    }
}

/// Ends a service gracefully: its listeners stop accepting, idle
/// connections are closed, requests in flight are answered (within
/// [`Limits::drain`]), and the serve functions return so the service can
/// close its store. Clones share one signal.
#[derive(Debug, Clone)]
pub struct Shutdown(Arc<tokio::sync::watch::Sender<bool>>);

impl Default for Shutdown {
    fn default() -> Self {
        Self::new()
    }
}

impl Shutdown {
    /// A signal not yet given.
    pub fn new() -> Self {
        Self(Arc::new(tokio::sync::watch::channel(false).0))
    }

    /// Gives the signal.
    pub fn begin(&self) {
        self.0.send_replace(true);
    }

    /// Whether the signal was given.
    pub fn begun(&self) -> bool {
        *self.0.borrow()
    }

    /// Resolves once the signal is given.
    pub async fn requested(&self) {
        let mut seen = self.0.subscribe();
        let _ = seen.wait_for(|begun| *begun).await;
    }

    /// Gives the signal on SIGTERM (a service manager stopping the
    /// service) or SIGINT (Ctrl-C). Needs a Tokio runtime.
    pub fn on_signals(&self) -> std::io::Result<()> {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = signal(SignalKind::terminate())?;
        let mut int = signal(SignalKind::interrupt())?;
        let this = self.clone();
        tokio::spawn(async move {
            let which = tokio::select! {
                _ = term.recv() => "SIGTERM",
                _ = int.recv() => "SIGINT",
            };
            tracing::info!(signal = which, "shutting down: no new connections; finishing requests in flight");
            this.begin();
        });
        Ok(())
    }
}

/// The HTTP/1 and HTTP/2 connection builder with the header-read timeout.
fn http_builder(limits: &Limits) -> hyper_util::server::conn::auto::Builder<TokioExecutor> {
    let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    builder.http1().timer(hyper_util::rt::TokioTimer::new()).header_read_timeout(limits.header_read);
    builder
}

/// Serves `router` over HTTPS with the default [`Limits`] until `shutdown`.
pub async fn serve_https(
    listener: TcpListener,
    config: rustls::ServerConfig,
    router: Router,
    shutdown: Shutdown,
) -> std::io::Result<()> {
    serve_https_with(listener, config, router, Limits::default(), shutdown).await
}

/// Serves `router` over HTTPS within `limits` until `shutdown`, then
/// lets the requests in flight finish.
pub async fn serve_https_with(
    listener: TcpListener,
    config: rustls::ServerConfig,
    router: Router,
    limits: Limits,
    shutdown: Shutdown,
) -> std::io::Result<()> {
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let router = guarded(router);
    let slots = Arc::new(tokio::sync::Semaphore::new(limits.connections));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    while let Some((slot, (stream, addr))) = next_connection(&listener, &slots, &shutdown).await {
        let _ = stream.set_nodelay(true);
        let acceptor = acceptor.clone();
        let router = router.clone();
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            let _slot = slot;
            let tls = match tokio::time::timeout(limits.handshake, acceptor.accept(stream)).await {
                Ok(Ok(t)) => t,
                Ok(Err(e)) => {
                    tracing::debug!(%addr, error = %e, "TLS handshake failed");
                    return;
                }
                Err(_) => {
                    tracing::debug!(%addr, "TLS handshake timed out");
                    return;
                }
            };
            let client_certificate =
                tls.get_ref().1.peer_certificates().and_then(|c| c.first()).map(|c| c.as_ref().to_vec());
            let router = router.layer(Extension(Peer { client_certificate }));
            let svc = TowerToHyperService::new(router.layer(axum::middleware::from_fn(request_log)));
            let builder = http_builder(&limits);
            let _ = watcher.watch(builder.serve_connection(TokioIo::new(tls), svc)).await;
        });
    }
    drain(listener, graceful, limits.drain).await;
    Ok(())
}

/// Serves `router` over plain HTTP (OCSP and CRLs for relying parties)
/// with the default [`Limits`] until `shutdown`; requests carry an
/// anonymous [`Peer`].
pub async fn serve_http(listener: TcpListener, router: Router, shutdown: Shutdown) -> std::io::Result<()> {
    serve_http_with(listener, router, Limits::default(), shutdown).await
}

/// Serves `router` over plain HTTP within `limits` until `shutdown`, then
/// lets the requests in flight finish.
pub async fn serve_http_with(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    shutdown: Shutdown,
) -> std::io::Result<()> {
    let router = guarded(router).layer(Extension(Peer::default())).layer(axum::middleware::from_fn(request_log));
    let slots = Arc::new(tokio::sync::Semaphore::new(limits.connections));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    while let Some((slot, (stream, _))) = next_connection(&listener, &slots, &shutdown).await {
        let _ = stream.set_nodelay(true);
        let svc = TowerToHyperService::new(router.clone());
        let watcher = graceful.watcher();
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            let _slot = slot;
            // A connection that sends nothing at all gives hyper no header
            // to time: it gets the same time for its first byte (and none
            // once the service is shutting down).
            let mut first = [0u8; 1];
            tokio::select! {
                peeked = tokio::time::timeout(limits.header_read, stream.peek(&mut first)) => {
                    if !matches!(peeked, Ok(Ok(1..))) {
                        return;
                    }
                }
                _ = shutdown.requested() => return,
            }
            let builder = http_builder(&limits);
            let _ = watcher.watch(builder.serve_connection(TokioIo::new(stream), svc)).await;
        });
    }
    drain(listener, graceful, limits.drain).await;
    Ok(())
}

/// The next connection with a slot to serve it, or `None` once `shutdown`
/// is given.
async fn next_connection(
    listener: &TcpListener,
    slots: &Arc<tokio::sync::Semaphore>,
    shutdown: &Shutdown,
) -> Option<(tokio::sync::OwnedSemaphorePermit, (tokio::net::TcpStream, std::net::SocketAddr))> {
    let next = async {
        let slot = slots.clone().acquire_owned().await.expect("the semaphore is never closed");
        (slot, accept(listener).await)
    };
    tokio::select! {
        biased;
        _ = shutdown.requested() => None,
        connection = next => Some(connection),
    }
}

/// Closes the listening socket (new clients are refused at once), tells
/// every connection to finish its request in flight and close, and waits
/// for them, at most `within`.
async fn drain(
    listener: TcpListener,
    graceful: hyper_util::server::graceful::GracefulShutdown,
    within: std::time::Duration,
) {
    let address = listener.local_addr().ok();
    drop(listener);
    let open = graceful.count();
    match tokio::time::timeout(within, graceful.shutdown()).await {
        Ok(()) => tracing::info!(?address, connections = open, "listener drained"),
        Err(_) => tracing::warn!(?address, seconds = within.as_secs(), "requests still in flight were cut off"),
    }
}

/// The next connection. An accept error (out of file descriptors, a
/// connection reset before it was accepted) is logged and retried after a
/// pause: it never ends the listener.
async fn accept(listener: &TcpListener) -> (tokio::net::TcpStream, std::net::SocketAddr) {
    loop {
        match listener.accept().await {
            Ok(connection) => return connection,
            Err(e) => {
                tracing::warn!(error = %e, "accepting a connection failed; retrying");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
        }
    }
}

/// `router` behind the last line of defence: a handler that panics is
/// answered `500 {"code": "internal"}` and logged, and the worker goes on
/// serving.
pub fn guarded(router: Router) -> Router {
    router.layer(tower_http::catch_panic::CatchPanicLayer::custom(panicked))
}

fn panicked(panic: Box<dyn std::any::Any + Send + 'static>) -> axum::response::Response {
    use axum::response::IntoResponse;
    let what = panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".into());
    tracing::error!(panic = %what, "a handler panicked; answered 500");
    let body = serde_json::json!({ "code": "internal", "message": "internal error; the operator's log has the cause" });
    (axum::http::StatusCode::INTERNAL_SERVER_ERROR, axum::Json(body)).into_response()
}

/// The id a request is known by in the logs and in the `x-request-id`
/// answer header: the caller's own when it sent a sane one (up to 64 of
/// A-Z, a-z, 0-9, `-`, `_`), else a new random one.
fn request_id(headers: &axum::http::HeaderMap) -> String {
    let sane =
        |s: &&str| !s.is_empty() && s.len() <= 64 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_".contains(&b));
    match headers.get("x-request-id").and_then(|v| v.to_str().ok()).filter(sane) {
        Some(id) => id.to_string(),
        None => {
            let mut random = [0u8; 8];
            pki::fill_random(&mut random);
            random.iter().map(|b| format!("{b:02x}")).collect()
        }
    }
}

/// One structured log line per request (`-v`: method, path, status,
/// milliseconds, request id); everything logged while handling it —
/// including a relay flow it starts — carries the request id.
async fn request_log(mut request: axum::extract::Request, next: axum::middleware::Next) -> axum::response::Response {
    use tracing::Instrument;
    let id = request_id(request.headers());
    request.extensions_mut().insert(RequestId(id.clone()));
    let span =
        tracing::info_span!("request", request_id = %id, method = %request.method(), path = %request.uri().path());
    let start = std::time::Instant::now();
    let mut response = next.run(request).instrument(span.clone()).await;
    span.in_scope(|| {
        tracing::info!(status = response.status().as_u16(), ms = start.elapsed().as_secs_f64() * 1000.0, "answered")
    });
    if let Ok(value) = axum::http::HeaderValue::from_str(&id) {
        response.headers_mut().insert("x-request-id", value);
    }
    response
}

#[cfg(test)]
mod request_id_tests {
    use super::request_id;

    #[test]
    fn a_sane_caller_id_is_kept_anything_else_replaced() {
        let mut h = axum::http::HeaderMap::new();
        h.insert("x-request-id", "phone-42_A".parse().unwrap());
        assert_eq!(request_id(&h), "phone-42_A");
        for bad in ["a b", "x\u{7f}", &"x".repeat(65), ""] {
            let mut h = axum::http::HeaderMap::new();
            if let Ok(v) = bad.parse() {
                h.insert("x-request-id", v);
            }
            let id = request_id(&h);
            assert!(id.len() == 16 && id != bad, "{bad:?} -> {id}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::routing::get;

    fn quick() -> Limits {
        Limits {
            handshake: std::time::Duration::from_millis(300),
            header_read: std::time::Duration::from_millis(300),
            connections: 2,
            drain: std::time::Duration::from_secs(5),
        }
    }

    /// Whether the server closes `stream` within `within` (reads EOF or an
    /// error) — a silent or slow client must not hold it.
    async fn closed_within(stream: &mut tokio::net::TcpStream, within: std::time::Duration) -> bool {
        use tokio::io::AsyncReadExt;
        let mut buf = [0u8; 64];
        loop {
            match tokio::time::timeout(within, stream.read(&mut buf)).await {
                Ok(Ok(0)) | Ok(Err(_)) => return true,
                Ok(Ok(_)) => continue,
                Err(_) => return false,
            }
        }
    }

    /// A client that opens TLS and sends nothing, and one that sends half
    /// its headers, are cut off (before: held open for ever); a third
    /// connection waits while two are served and gets its turn when one
    /// ends.
    #[tokio::test]
    async fn silent_and_slow_clients_are_cut_off_and_connections_are_capped() {
        use tokio::io::AsyncWriteExt;
        let dir = tempfile::tempdir().unwrap();
        crate::tls::generate(dir.path(), &[]).unwrap();
        let tls = dir.path().join("tls");
        let config =
            server_config(&tls.join("jlis-server.pem"), &tls.join("jlis-server.key"), &tls.join("ca.pem")).unwrap();
        let https = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let https_addr = https.local_addr().unwrap();
        let ok = Router::new().route("/ok", get(|| async { "ok" }));
        tokio::spawn(serve_https_with(https, config, ok, quick(), Shutdown::new()));
        let mut silent = tokio::net::TcpStream::connect(https_addr).await.unwrap();
        assert!(closed_within(&mut silent, std::time::Duration::from_secs(3)).await, "silent TLS client");

        let http = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = http.local_addr().unwrap();
        let ok = Router::new().route("/ok", get(|| async { "ok" }));
        tokio::spawn(serve_http_with(http, ok, quick(), Shutdown::new()));
        let mut slow = tokio::net::TcpStream::connect(addr).await.unwrap();
        slow.write_all(b"GET /ok HTTP/1.1\r\nHost: x\r\n").await.unwrap();
        assert!(closed_within(&mut slow, std::time::Duration::from_secs(3)).await, "slow-loris client");

        // Two idle connections take both slots; a third is served only
        // when the header timeout has ended one of them.
        let _one = tokio::net::TcpStream::connect(addr).await.unwrap();
        let _two = tokio::net::TcpStream::connect(addr).await.unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        let client = crate::client::plain_http_client().unwrap();
        let started = std::time::Instant::now();
        let answer = client.get(format!("http://{addr}/ok")).send().await.unwrap();
        assert_eq!(answer.text().await.unwrap(), "ok");
        assert!(started.elapsed() >= std::time::Duration::from_millis(200), "the third waited for a slot");
    }

    /// A handler that panics gets a 500 and the listener goes on serving:
    /// before, the connection was dropped without an answer.
    #[tokio::test]
    async fn a_panicking_handler_is_answered_500_and_the_server_goes_on() {
        let router = Router::new()
            .route("/panic", get(|| async { panic!("boom from a handler") as &'static str }))
            .route("/ok", get(|| async { "ok" }));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(serve_http(listener, router, Shutdown::new()));
        let http = crate::client::plain_http_client().unwrap();
        let answer = http.get(format!("http://{addr}/panic")).send().await.unwrap();
        assert_eq!(answer.status().as_u16(), 500);
        let body: serde_json::Value = answer.json().await.unwrap();
        assert_eq!(body["code"], "internal");
        assert!(!body.to_string().contains("boom"), "the panic's text stays in the log");
        for _ in 0..3 {
            assert_eq!(http.get(format!("http://{addr}/ok")).send().await.unwrap().text().await.unwrap(), "ok");
        }
    }

    /// SIGTERM's path: once the shutdown begins, a request already in
    /// flight is still answered in full, a new connection is refused, and
    /// the serve function returns (before: the process died mid-answer).
    #[tokio::test]
    async fn a_shutdown_answers_requests_in_flight_then_refuses_and_returns() {
        let (started_tx, started) = tokio::sync::oneshot::channel::<()>();
        let started_tx = Arc::new(std::sync::Mutex::new(Some(started_tx)));
        let router = Router::new().route(
            "/slow",
            get(move || {
                let started_tx = started_tx.clone();
                async move {
                    if let Some(tx) = started_tx.lock().unwrap().take() {
                        let _ = tx.send(());
                    }
                    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
                    "finished"
                }
            }),
        );
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let shutdown = Shutdown::new();
        let server = tokio::spawn(serve_http_with(listener, router, quick(), shutdown.clone()));
        let client = crate::client::plain_http_client().unwrap();
        let in_flight = tokio::spawn({
            let client = client.clone();
            async move { client.get(format!("http://{addr}/slow")).send().await?.text().await }
        });
        started.await.unwrap();
        shutdown.begin();
        assert!(shutdown.begun());
        assert_eq!(in_flight.await.unwrap().unwrap(), "finished", "the request in flight was answered");
        let returned = tokio::time::timeout(std::time::Duration::from_secs(3), server).await;
        assert!(matches!(returned, Ok(Ok(Ok(())))), "the listener returned after draining");
        let refused = tokio::net::TcpStream::connect(addr).await;
        assert!(refused.is_err(), "the listening socket is closed");
    }
}
