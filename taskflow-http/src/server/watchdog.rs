//! Deadlines a connection must keep between requests, for HTTP/1.1 and HTTP/2 alike.
//!
//! hyper's own HTTP/1 header timeout starts when it begins waiting for a request, so it
//! would also be the keep-alive timeout, and HTTP/2 has none. This watchdog tells the two
//! apart by watching the socket:
//! - **header deadline**: once a byte arrives while no request is in flight, a complete
//!   request head must follow within `header_read_timeout`, or the connection is dropped.
//!   Trickling a header line every few seconds no longer keeps a connection open.
//! - **idle deadline**: with no request in flight and nothing arriving, the connection is
//!   closed gracefully after `idle_timeout`.
//!
//! A request is in flight from the moment its head is complete until its response body
//! has been sent or dropped, so a long-lived stream (server-sent events) is never idle, and
//! a slow body is the request's business (`body_read_timeout`, answered `408`).

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
// tokio's clock (the system's, outside tests) so tests can pause and advance it.
use tokio::time::Instant;

/// "No byte waiting", in `first_byte_at`.
const NONE: u64 = u64::MAX;

/// What one connection has been doing; shared by its socket, its requests and its watchdog.
#[derive(Debug)]
pub(super) struct Activity {
    opened: Instant,
    in_flight: AtomicUsize,
    /// Milliseconds since `opened` when the connection last had nothing in flight.
    waiting_since: AtomicU64,
    /// Milliseconds since `opened` of the first byte read while nothing was in flight.
    first_byte_at: AtomicU64,
}

/// Why the watchdog ends a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Expired {
    /// A request head did not arrive in time: drop the connection.
    HeaderDeadline,
    /// Nothing happened for `idle_timeout`: close it gracefully.
    Idle,
}

impl Activity {
    pub(super) fn new() -> Arc<Self> {
        Arc::new(Self {
            opened: Instant::now(),
            in_flight: AtomicUsize::new(0),
            waiting_since: AtomicU64::new(0),
            first_byte_at: AtomicU64::new(NONE),
        })
    }

    fn now_ms(&self) -> u64 {
        self.opened.elapsed().as_millis() as u64
    }

    /// A request head is complete: it is in flight until the guard is dropped.
    pub(super) fn request_started(self: &Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        self.first_byte_at.store(NONE, Ordering::Release);
        InFlight(self.clone())
    }

    fn bytes_read(&self) {
        if self.in_flight.load(Ordering::Acquire) == 0
            && self.first_byte_at.load(Ordering::Acquire) == NONE
        {
            self.first_byte_at.store(self.now_ms(), Ordering::Release);
        }
    }

    /// Resolves when the connection has broken one of its deadlines.
    pub(super) async fn expired(
        &self,
        header_read_timeout: Duration,
        idle_timeout: Duration,
    ) -> Expired {
        let header = header_read_timeout.as_millis() as u64;
        let idle = idle_timeout.as_millis() as u64;
        // Checked on a tick rather than woken per byte, so the request path pays one atomic
        // load per read; a deadline is kept to within a tick.
        let tick =
            (header_read_timeout / 4).clamp(Duration::from_millis(50), Duration::from_secs(1));
        loop {
            tokio::time::sleep(tick).await;
            if self.in_flight.load(Ordering::Acquire) > 0 {
                continue;
            }
            let now = self.now_ms();
            let waiting_since = self.waiting_since.load(Ordering::Acquire);
            let first_byte = self.first_byte_at.load(Ordering::Acquire);
            if first_byte != NONE && now >= first_byte.max(waiting_since) + header {
                return Expired::HeaderDeadline;
            }
            if first_byte == NONE && now >= waiting_since + idle {
                return Expired::Idle;
            }
        }
    }
}

/// Keeps a request in flight; dropped with the response body.
#[derive(Debug)]
pub(super) struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        let activity = &self.0;
        if activity.in_flight.fetch_sub(1, Ordering::AcqRel) == 1 {
            // The wait for the next request starts now. (A partial pipelined head read while
            // this one was in flight is bounded by the idle deadline, not the header one.)
            activity
                .waiting_since
                .store(activity.now_ms(), Ordering::Release);
        }
    }
}

/// A socket that reports reads to its connection's [`Activity`].
#[derive(Debug)]
pub(super) struct Watched<S> {
    socket: S,
    activity: Arc<Activity>,
}

impl<S> Watched<S> {
    pub(super) fn new(socket: S, activity: Arc<Activity>) -> Self {
        Self { socket, activity }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Watched<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.socket).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.activity.bytes_read();
        }
        polled
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Watched<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.socket).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.socket).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.socket.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.socket).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.socket).poll_shutdown(cx)
    }
}

/// A response body that keeps its request in flight until it is sent or dropped.
pub(super) struct GuardedBody<B> {
    body: B,
    _in_flight: InFlight,
}

impl<B> GuardedBody<B> {
    pub(super) fn new(body: B, in_flight: InFlight) -> Self {
        Self {
            body,
            _in_flight: in_flight,
        }
    }
}

impl<B> http_body::Body for GuardedBody<B>
where
    B: http_body::Body<Data = Bytes> + Unpin,
{
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, B::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: Duration = Duration::from_millis(200);
    const IDLE: Duration = Duration::from_millis(600);

    #[tokio::test(start_paused = true)]
    async fn an_idle_connection_expires_after_the_idle_timeout() {
        let activity = Activity::new();
        let started = tokio::time::Instant::now();
        assert_eq!(activity.expired(HEADER, IDLE).await, Expired::Idle);
        assert!(started.elapsed() >= IDLE);
    }

    #[tokio::test(start_paused = true)]
    async fn a_started_head_must_complete_within_the_header_deadline() {
        let activity = Activity::new();
        activity.bytes_read();
        let started = tokio::time::Instant::now();
        assert_eq!(
            activity.expired(HEADER, IDLE).await,
            Expired::HeaderDeadline
        );
        assert!(started.elapsed() < IDLE);
    }

    #[tokio::test(start_paused = true)]
    async fn nothing_expires_while_a_request_is_in_flight() {
        let activity = Activity::new();
        activity.bytes_read();
        let in_flight = activity.request_started();
        // Body bytes of the request in flight do not start a header deadline.
        activity.bytes_read();
        let watch = activity.expired(HEADER, IDLE);
        tokio::pin!(watch);
        assert!(
            tokio::time::timeout(IDLE * 3, &mut watch).await.is_err(),
            "expired with a request in flight"
        );
        drop(in_flight);
        let ended = tokio::time::Instant::now();
        assert_eq!(watch.await, Expired::Idle);
        assert!(ended.elapsed() >= IDLE);
    }
}
