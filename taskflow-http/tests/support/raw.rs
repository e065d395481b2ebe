//! Hand-written HTTP/1.1 over a plain TCP socket, for requests no HTTP client will send:
//! invalid UTF-8 in the request line or in header values, oversized heads, lying framing.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Longest the server may take to answer a raw request; longer is a hang.
pub const ANSWER_WITHIN: Duration = Duration::from_secs(10);

/// What the server sent back on one connection.
#[derive(Debug)]
pub struct RawResponse {
    /// The status code of the status line.
    pub status: u16,
    /// The head (status line and headers), lossily decoded.
    pub head: String,
    /// Whatever followed the head before the connection closed.
    pub body: Vec<u8>,
}

impl RawResponse {
    /// A header's value (first occurrence, name case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().skip(1).find_map(|line| {
            let (n, v) = line.split_once(':')?;
            n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }
}

/// A request: `request_line` (without CRLF), `headers` as raw `Name: value` lines, then
/// `Host` and `Connection: close` (so the server ends the connection after answering), then
/// `body` as is. Nothing is checked or escaped.
pub fn request(request_line: &[u8], headers: &[&[u8]], body: &[u8]) -> Vec<u8> {
    let mut out = request_line.to_vec();
    out.extend_from_slice(b"\r\nHost: 127.0.0.1\r\nConnection: close\r\n");
    for h in headers {
        out.extend_from_slice(h);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
    out
}

/// Sends `bytes` on a fresh connection to `origin` (`http://host:port`) and reads until the
/// server closes it. Writing runs beside reading: a server may answer and hang up before an
/// oversized request is fully written. Panics when no status line arrives within
/// [`ANSWER_WITHIN`] (`what` names the case).
pub async fn send(origin: &str, bytes: Vec<u8>, what: &str) -> RawResponse {
    let addr = origin.trim_start_matches("http://");
    let stream = TcpStream::connect(addr).await.expect("connect");
    let (mut rd, mut wr) = stream.into_split();
    let writer = tokio::spawn(async move {
        // A reset while writing is the server refusing the rest: the answer is what counts.
        let _ = wr.write_all(&bytes).await;
        let _ = wr.flush().await;
        wr
    });
    let mut received = Vec::new();
    let read = tokio::time::timeout(ANSWER_WITHIN, async {
        let mut buf = [0u8; 8192];
        loop {
            match rd.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => received.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    writer.abort();
    let text = String::from_utf8_lossy(&received).into_owned();
    assert!(
        read.is_ok() || text.contains("\r\n\r\n"),
        "{what}: no answer within {ANSWER_WITHIN:?} (got {text:?})"
    );
    let split = received
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("{what}: no complete response head (got {text:?})"));
    let head = String::from_utf8_lossy(&received[..split]).into_owned();
    let status = head
        .strip_prefix("HTTP/1.1 ")
        .and_then(|rest| rest.get(..3))
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("{what}: not an HTTP/1.1 status line: {head:?}"));
    RawResponse {
        status,
        head,
        body: received[split + 4..].to_vec(),
    }
}
