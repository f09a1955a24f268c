//! A man in the middle on a TCP hop: every connection to the tap is
//! forwarded to its upstream, and every byte that crosses is recorded, per
//! direction; a hook may rewrite bytes on their way (flip, corrupt). The
//! upstream can be switched at any time — to a fake service, for example —
//! which is what an attacker who controls the network can do.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Which way bytes travel through the tap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// From the connecting client to the upstream server.
    ToServer,
    /// From the upstream server back to the client.
    ToClient,
}

type Rewrite = Box<dyn FnMut(Direction, &mut [u8]) + Send>;

#[derive(Default)]
struct Shared {
    upstream: Mutex<Option<SocketAddr>>,
    /// The connections being forwarded, cut when the upstream changes.
    connections: Mutex<Vec<tokio::task::AbortHandle>>,
    recorded: Mutex<Vec<(Direction, Vec<u8>)>>,
    rewrite: Mutex<Option<Rewrite>>,
}

/// A recording, rewriting TCP forwarder on 127.0.0.1.
#[derive(Clone)]
pub struct Tap {
    addr: SocketAddr,
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Tap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tap").field("addr", &self.addr).finish_non_exhaustive()
    }
}

impl Tap {
    /// Listens on a free loopback port; connections are refused (closed)
    /// until an upstream is set.
    pub async fn bind() -> Result<Self, String> {
        let listener = TcpListener::bind("127.0.0.1:0").await.map_err(|e| format!("tap: {e}"))?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        let shared = Arc::new(Shared::default());
        let tap = Self { addr, shared: shared.clone() };
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let task = shared.clone();
                let handle = tokio::spawn(async move {
                    let Some(upstream) = *task.upstream.lock().expect("tap") else { return };
                    if let Ok(server) = TcpStream::connect(upstream).await {
                        forward(task, client, server).await;
                    }
                });
                let mut connections = shared.connections.lock().expect("tap");
                connections.retain(|c| !c.is_finished());
                connections.push(handle.abort_handle());
            }
        });
        Ok(tap)
    }

    /// `https://127.0.0.1:PORT`, what a client dials to pass through the tap.
    pub fn url(&self) -> String {
        format!("https://{}", self.addr)
    }

    /// Where connections go from now on: the ones open are cut (as an
    /// attacker on the network resets them), so kept-alive clients
    /// reconnect — to the new upstream.
    pub async fn set_upstream(&self, upstream: SocketAddr) {
        *self.shared.upstream.lock().expect("tap") = Some(upstream);
        let open: Vec<_> = self.shared.connections.lock().expect("tap").drain(..).collect();
        if !open.is_empty() {
            for c in open {
                c.abort();
            }
            // Let the clients' pools see the connections closed.
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }

    /// Where connections go now (the real service, unless diverted).
    pub fn upstream(&self) -> SocketAddr {
        self.shared.upstream.lock().expect("tap").unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 0)))
    }

    /// Runs `attack` with connections diverted to `to`, then puts the
    /// upstream back as it was.
    pub async fn diverted<T>(&self, to: SocketAddr, attack: impl std::future::Future<Output = T>) -> T {
        let real = self.upstream();
        self.set_upstream(to).await;
        let result = attack.await;
        self.set_upstream(real).await;
        result
    }

    /// Rewrites the bytes of every chunk that crosses from now on.
    pub fn rewrite(&self, f: impl FnMut(Direction, &mut [u8]) + Send + 'static) {
        *self.shared.rewrite.lock().expect("tap") = Some(Box::new(f));
    }

    /// Stops rewriting.
    pub fn stop_rewriting(&self) {
        *self.shared.rewrite.lock().expect("tap") = None;
    }

    /// Forgets what was recorded so far.
    pub fn clear(&self) {
        self.shared.recorded.lock().expect("tap").clear();
    }

    /// Everything that crossed in `direction` since the last
    /// [`Tap::clear`], as it crossed (before any rewrite).
    pub fn recorded(&self, direction: Direction) -> Vec<u8> {
        let recorded = self.shared.recorded.lock().expect("tap");
        recorded.iter().filter(|(d, _)| *d == direction).flat_map(|(_, b)| b.iter().copied()).collect()
    }
}

async fn forward(shared: Arc<Shared>, client: TcpStream, server: TcpStream) {
    let (client_read, client_write) = client.into_split();
    let (server_read, server_write) = server.into_split();
    let up = pump(shared.clone(), Direction::ToServer, client_read, server_write);
    let down = pump(shared, Direction::ToClient, server_read, client_write);
    let _ = tokio::join!(up, down);
}

async fn pump(
    shared: Arc<Shared>,
    direction: Direction,
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
) {
    let mut buffer = vec![0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buffer).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let chunk = &mut buffer[..n];
        shared.recorded.lock().expect("tap").push((direction, chunk.to_vec()));
        if let Some(rewrite) = shared.rewrite.lock().expect("tap").as_mut() {
            rewrite(direction, chunk);
        }
        if to.write_all(chunk).await.is_err() {
            break;
        }
    }
    let _ = to.shutdown().await;
}

/// Whether `bytes` begin with a TLS record header (content type 20–23,
/// version 3.x): what crosses is TLS, from a handshake or mid-connection.
pub fn is_tls(bytes: &[u8]) -> bool {
    matches!(bytes, [20..=23, 0x03, _, ..])
}

/// Whether `needle` occurs in `haystack` (what a recorder would have seen).
pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}
