//! Serving an app on a TCP socket: connection limits, deadlines and graceful shutdown.
//!
//! poem's `Server` offers an idle timeout and HTTP/2 stream settings but no header-read
//! deadline, header-size cap, connection cap or way to switch HTTP/2 off, so this module
//! accepts connections itself and hands each to hyper (through hyper-util), which poem
//! runs on anyway; the app is the same poem endpoint. What each limit defends against is in
//! SECURITY.md ("Connection limits").

mod admission;
mod watchdog;

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use poem::web::{LocalAddr, RemoteAddr};
use poem::{Endpoint, Response};
use tokio::net::TcpStream;
use tokio::task::JoinSet;

use crate::client_ip::TrustedProxies;
pub use admission::ConnectionGauge;
use admission::{Admission, Refused};
use watchdog::{Activity, Expired, GuardedBody, Watched};

/// Connection-level settings of [`serve`]. The defaults are the `taskflow` binary's.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// Once a request's first byte has arrived, its whole head must arrive within this.
    pub header_read_timeout: Duration,
    /// A connection with no request in flight and nothing arriving is closed after this.
    pub idle_timeout: Duration,
    /// The most bytes of request line and headers a request may have (`431` beyond).
    pub max_header_bytes: usize,
    /// The most connections open at once; further ones are refused at accept.
    pub max_connections: usize,
    /// The most connections open at once from one client address (trusted proxies exempt).
    pub max_connections_per_client: usize,
    /// Addresses or networks (proxies) the per-client cap does not apply to.
    pub exempt_from_client_cap: Vec<String>,
    /// Serve HTTP/2 without TLS (h2c, prior knowledge) besides HTTP/1.1.
    pub http2: bool,
    /// The most concurrent streams on one HTTP/2 connection.
    pub http2_max_concurrent_streams: u32,
    /// Time in-flight requests get to finish once shutdown begins.
    pub grace: Duration,
    /// Counts the open connections, for `/metrics` (give the same gauge to `HttpConfig`).
    pub connections: ConnectionGauge,
}

/// Default header-read deadline: a person's client sends its headers in one packet.
pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(5);
/// Default keep-alive idle timeout.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// Default header-bytes cap: a bearer token and a browser's headers fit many times over.
pub const DEFAULT_MAX_HEADER_BYTES: usize = 16 * 1024;
/// Default cap on open connections.
pub const DEFAULT_MAX_CONNECTIONS: usize = 4096;
/// Default cap on open connections per client address.
pub const DEFAULT_MAX_CONNECTIONS_PER_CLIENT: usize = 128;
/// Default HTTP/2 concurrent-stream limit.
pub const DEFAULT_HTTP2_MAX_CONCURRENT_STREAMS: u32 = 64;

impl Default for ServeConfig {
    fn default() -> Self {
        Self {
            header_read_timeout: DEFAULT_HEADER_READ_TIMEOUT,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            max_header_bytes: DEFAULT_MAX_HEADER_BYTES,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            max_connections_per_client: DEFAULT_MAX_CONNECTIONS_PER_CLIENT,
            exempt_from_client_cap: Vec::new(),
            http2: false,
            http2_max_concurrent_streams: DEFAULT_HTTP2_MAX_CONCURRENT_STREAMS,
            grace: Duration::from_secs(20),
            connections: ConnectionGauge::default(),
        }
    }
}

/// hyper's smallest allowed read buffer.
const MIN_BUFFER: usize = 8192;

/// What a refused connection is told before it is closed, in one write.
const REFUSED: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\nretry-after: 1\r\n\
content-length: 0\r\nconnection: close\r\n\r\n";

/// Serves `app` on `listener` until `shutdown` resolves; then stops accepting and gives
/// in-flight requests up to `config.grace` to finish.
pub async fn serve<E>(
    listener: tokio::net::TcpListener,
    app: E,
    shutdown: impl Future<Output = ()>,
    config: ServeConfig,
) -> std::io::Result<()>
where
    E: Endpoint<Output = Response> + 'static,
{
    let exempt =
        TrustedProxies::parse(&config.exempt_from_client_cap).map_err(std::io::Error::other)?;
    let admission = Arc::new(Admission::new(
        config.max_connections,
        config.max_connections_per_client,
        exempt,
        config.connections.clone(),
    ));
    let local = listener.local_addr()?;
    let app: Arc<dyn poem::endpoint::DynEndpoint<Output = Response>> =
        Arc::new(poem::endpoint::ToDynEndpoint(app));
    let builder = Arc::new(builder(&config));
    let (stop, stopping) = tokio::sync::watch::channel(false);
    let mut connections = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        let (socket, peer) = tokio::select! {
            () = &mut shutdown => break,
            Some(_) = connections.join_next() => continue,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors, typically: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let admitted = match admission.admit(peer.ip()) {
            Ok(admitted) => admitted,
            Err(why) => {
                refuse(socket, peer, why);
                continue;
            }
        };
        let _ = socket.set_nodelay(true);
        let connection = Connection {
            app: app.clone(),
            builder: builder.clone(),
            local,
            peer,
            header_read_timeout: config.header_read_timeout,
            idle_timeout: config.idle_timeout,
            grace: config.grace,
            stopping: stopping.clone(),
        };
        connections.spawn(async move {
            connection.run(socket).await;
            drop(admitted);
        });
    }
    drop(listener);
    let _ = stop.send(true);
    let drained = tokio::time::timeout(config.grace, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            open = connections.len(),
            "shutdown grace ran out; closing the connections still open"
        );
        connections.shutdown().await;
    }
    Ok(())
}

/// Tells a refused client why, in one non-blocking write, and closes.
fn refuse(socket: TcpStream, peer: SocketAddr, why: Refused) {
    tracing::debug!(client = %peer.ip(), reason = ?why, "connection refused");
    let _ = socket.try_write(REFUSED);
}

fn builder(config: &ServeConfig) -> auto::Builder<TokioExecutor> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    if !config.http2 {
        builder = builder.http1_only();
    }
    builder
        .http1()
        // The watchdog keeps the header deadline; hyper's would also cut idle keep-alive.
        .header_read_timeout(None)
        // hyper buffers a head up to this before answering 431 and closing.
        .max_buf_size(config.max_header_bytes.max(MIN_BUFFER));
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(config.http2_max_concurrent_streams)
        .max_header_list_size(u32::try_from(config.max_header_bytes).unwrap_or(u32::MAX))
        .keep_alive_interval(Some(Duration::from_secs(20)))
        .keep_alive_timeout(Duration::from_secs(20));
    builder
}

/// One accepted connection.
struct Connection {
    app: Arc<dyn poem::endpoint::DynEndpoint<Output = Response>>,
    builder: Arc<auto::Builder<TokioExecutor>>,
    local: SocketAddr,
    peer: SocketAddr,
    header_read_timeout: Duration,
    idle_timeout: Duration,
    grace: Duration,
    stopping: tokio::sync::watch::Receiver<bool>,
}

impl Connection {
    async fn run(mut self, socket: TcpStream) {
        let activity = Activity::new();
        let service = {
            let app = self.app.clone();
            let activity = activity.clone();
            let local = LocalAddr(self.local.into());
            let remote = RemoteAddr(self.peer.into());
            hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
                let in_flight = activity.request_started();
                let app = app.clone();
                let req = poem::Request::from((
                    req,
                    local.clone(),
                    remote.clone(),
                    poem::http::uri::Scheme::HTTP,
                ));
                async move {
                    let resp: hyper::Response<_> = app.get_response(req).await.into();
                    Ok::<_, Infallible>(resp.map(|body| GuardedBody::new(body, in_flight)))
                }
            })
        };
        let io = TokioIo::new(Watched::new(socket, activity.clone()));
        let conn = self.builder.serve_connection(io, service);
        tokio::pin!(conn);
        let expired = activity.expired(self.header_read_timeout, self.idle_timeout);
        tokio::select! {
            _ = conn.as_mut() => return,
            why = expired => {
                if why == Expired::HeaderDeadline {
                    tracing::debug!(client = %self.peer.ip(), "request head not received in time: closing");
                    return;
                }
            }
            _ = self.stopping.wait_for(|stop| *stop) => {}
        }
        conn.as_mut().graceful_shutdown();
        let _ = tokio::time::timeout(self.grace, conn).await;
    }
}

/// Resolves on SIGTERM or SIGINT (Ctrl-C).
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
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => tracing::info!("SIGINT received: shutting down"),
        _ = term => tracing::info!("SIGTERM received: shutting down"),
    }
}
