//! Connection limits of the `taskflow` binary, against real sockets: slow clients cut at the
//! header deadline while others keep their latency, caps on open connections in all and per
//! client address, the idle keep-alive timeout, `408` for a slow body, the header-size cap,
//! and HTTP/2 refused unless switched on (and bounded when on).
//!
//! Slow clients connect from other loopback addresses (127.0.0.2, ...), which Linux routes
//! to the same interface, so the per-client cap sees them as the distinct clients they
//! stand for.

mod support;

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

use support::binary::{Serve, client, serve};

/// The tests of this file measure latency and memory, so they run one at a time.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn addr_of(s: &Serve) -> SocketAddr {
    s.origin.trim_start_matches("http://").parse().unwrap()
}

/// A connection to `server` from the loopback address `from`.
async fn connect_from(from: &str, server: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket
        .bind(SocketAddr::new(from.parse::<IpAddr>().unwrap(), 0))
        .unwrap();
    socket.connect(server).await.expect("connect")
}

/// Reads until the peer closes (or resets); returns what arrived.
async fn read_to_close(stream: &mut TcpStream) -> Vec<u8> {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return got,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
}

/// Resident set size of `pid`, in KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS in /proc/<pid>/status")
}

/// The 99th percentile of `n` sequential `GET /api/v1/health` on one keep-alive client.
async fn health_p99(http: &reqwest::Client, origin: &str, n: usize) -> Duration {
    let mut took = Vec::with_capacity(n);
    for _ in 0..n {
        let started = Instant::now();
        let r = http
            .get(format!("{origin}/api/v1/health"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        r.bytes().await.unwrap();
        took.push(started.elapsed());
    }
    took.sort();
    took[n * 99 / 100]
}

fn open_connections(metrics: &str) -> u64 {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix("taskflow_http_open_connections "))
        .expect("taskflow_http_open_connections in /metrics")
        .trim()
        .parse()
        .unwrap()
}

const SLOW: usize = 300;
const HEADER_DEADLINE: Duration = Duration::from_secs(2);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_clients_are_cut_at_the_header_deadline_while_others_keep_their_latency() {
    let _one = ONE_AT_A_TIME.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let s = serve(
        dir.path(),
        &["--header-read-timeout", "2", "--rate-limit-per-ip", "0"],
    );
    let server = addr_of(&s);
    let http = client();
    health_p99(&http, &s.origin, 50).await; // warm up
    let unloaded = health_p99(&http, &s.origin, 300).await;
    let rss_before = rss_kib(s.child.id());

    // 300 slow clients on five addresses (60 each, under the per-client cap of 128): each
    // sends 12 KiB of headers at once, then trickles a byte every second and never ends
    // its head.
    let padding = format!(
        "GET /api/v1/health HTTP/1.1\r\nhost: x\r\nx-pad: {}",
        "a".repeat(12 * 1024)
    );
    let mut slow = Vec::with_capacity(SLOW);
    for i in 0..SLOW {
        let from = format!("127.0.0.{}", 2 + i % 5);
        let mut stream = connect_from(&from, server).await;
        stream.write_all(padding.as_bytes()).await.unwrap();
        let opened = Instant::now();
        slow.push(tokio::spawn(async move {
            let mut buf = [0u8; 256];
            loop {
                tokio::select! {
                    read = stream.read(&mut buf) => match read {
                        Ok(0) | Err(_) => return opened.elapsed(),
                        Ok(_) => panic!("a slow client got an answer before its head was complete"),
                    },
                    () = tokio::time::sleep(Duration::from_secs(1)) => {
                        if stream.write_all(b"a").await.is_err() {
                            return opened.elapsed();
                        }
                    }
                }
            }
        }));
    }
    let loaded = health_p99(&http, &s.origin, 300).await;
    let rss_loaded = rss_kib(s.child.id());

    let mut lifetimes = Vec::with_capacity(SLOW);
    for task in slow {
        lifetimes.push(task.await.unwrap());
    }
    let longest = lifetimes.iter().max().unwrap();
    let shortest = lifetimes.iter().min().unwrap();
    assert!(
        *longest < HEADER_DEADLINE + Duration::from_millis(1500),
        "a slow client was held {longest:?}, past the {HEADER_DEADLINE:?} header deadline"
    );
    assert!(
        *shortest >= HEADER_DEADLINE - Duration::from_millis(300),
        "a slow client was cut after {shortest:?}, before the deadline"
    );
    // 3x the unloaded p99; sub-millisecond figures are held to 3 ms so scheduler noise on a
    // shared 2-core machine cannot decide the test.
    let bound = 3 * unloaded.max(Duration::from_millis(1));
    assert!(
        loaded <= bound,
        "p99 with {SLOW} slow clients {loaded:?}, unloaded {unloaded:?} (bound {bound:?})"
    );
    // Each slow client holds at most one 16 KiB head buffer: 300 of them stay well under
    // 32 MiB (before the header cap, 300 such clients added about 106 MB).
    let grew = rss_loaded.saturating_sub(rss_before);
    assert!(
        grew < 32 * 1024,
        "RSS grew by {grew} KiB with {SLOW} slow clients"
    );
    eprintln!(
        "unloaded p99 {unloaded:?}, with {SLOW} slow clients {loaded:?}; RSS +{grew} KiB; \
         slow clients held {shortest:?}..{longest:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_head_over_the_size_cap_is_431() {
    let _one = ONE_AT_A_TIME.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let s = serve(dir.path(), &[]);
    let mut stream = TcpStream::connect(addr_of(&s)).await.unwrap();
    let head = format!(
        "GET /api/v1/health HTTP/1.1\r\nhost: x\r\nx-pad: {}\r\n\r\n",
        "a".repeat(20 * 1024)
    );
    let _ = stream.write_all(head.as_bytes()).await;
    let answer = read_to_close(&mut stream).await;
    assert!(
        answer.starts_with(b"HTTP/1.1 431"),
        "{:?}",
        String::from_utf8_lossy(&answer)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_over_the_caps_are_refused_at_once_and_counted_in_metrics() {
    let _one = ONE_AT_A_TIME.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let s = serve(
        dir.path(),
        &[
            "--max-connections",
            "30",
            "--max-connections-per-client",
            "10",
        ],
    );
    let server = addr_of(&s);
    let http = client();

    let mut held = Vec::new();
    for _ in 0..10 {
        held.push(connect_from("127.0.0.7", server).await);
    }
    // The 11th from the same address is told 503 and closed, before sending anything.
    let mut extra = connect_from("127.0.0.7", server).await;
    let started = Instant::now();
    let answer = read_to_close(&mut extra).await;
    assert!(
        answer.starts_with(b"HTTP/1.1 503"),
        "{:?}",
        String::from_utf8_lossy(&answer)
    );
    assert!(started.elapsed() < Duration::from_secs(1));

    let metrics = http
        .get(format!("{}/metrics", s.origin))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    // The ten held, plus the client's own (the refused one is gone).
    assert_eq!(open_connections(&metrics), 11, "{metrics}");
    drop(http);

    // Other addresses fill the server to 30; the 31st is refused whoever it is.
    for i in 0..20 {
        held.push(connect_from(&format!("127.0.1.{}", 1 + i % 4), server).await);
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut over = connect_from("127.0.2.1", server).await;
    assert!(read_to_close(&mut over).await.starts_with(b"HTTP/1.1 503"));

    // Places come back as connections close.
    held.truncate(5);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let r = client()
        .get(format!("{}/api/v1/health", s.origin))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_keep_alive_outlives_the_header_deadline_and_ends_at_the_idle_timeout() {
    let _one = ONE_AT_A_TIME.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let s = serve(
        dir.path(),
        &["--header-read-timeout", "0.5", "--idle-timeout", "2"],
    );
    let mut stream = TcpStream::connect(addr_of(&s)).await.unwrap();
    let request = b"GET /api/v1/health HTTP/1.1\r\nhost: x\r\n\r\n";
    stream.write_all(request).await.unwrap();
    let mut buf = vec![0u8; 4096];
    let n = stream.read(&mut buf).await.unwrap();
    assert!(buf[..n].starts_with(b"HTTP/1.1 200"));
    let answered = Instant::now();

    // Idle past the header deadline: still open, and still served.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    stream.write_all(request).await.unwrap();
    let n = stream.read(&mut buf).await.unwrap();
    assert!(buf[..n].starts_with(b"HTTP/1.1 200"), "closed while idle");
    let answered_again = Instant::now();
    assert!(answered_again - answered > Duration::from_millis(500));

    // Then nothing: closed at the idle timeout.
    let rest = read_to_close(&mut stream).await;
    assert!(rest.is_empty());
    let idle = answered_again.elapsed();
    assert!(
        idle >= Duration::from_millis(1800) && idle < Duration::from_millis(3500),
        "closed after {idle:?} idle"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_arrives_too_slowly_is_408() {
    let _one = ONE_AT_A_TIME.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let s = serve(dir.path(), &["--body-read-timeout", "1"]);
    let mut stream = TcpStream::connect(addr_of(&s)).await.unwrap();
    stream
        .write_all(
            b"POST /api/v1/auth/login HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n\
              content-length: 100\r\n\r\n{\"email\":",
        )
        .await
        .unwrap();
    let started = Instant::now();
    let answer = String::from_utf8_lossy(&read_to_close(&mut stream).await).into_owned();
    let took = started.elapsed();
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("\"code\":\"request_timeout\""), "{answer}");
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(3),
        "answered after {took:?}"
    );
}

/// The client connection preface and an empty SETTINGS frame.
const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00";

/// A HEADERS frame opening `stream` for `POST /api/v1/auth/login`, with END_HEADERS unless
/// `partial`, and never END_STREAM (the body never comes).
fn h2_headers(stream: u32, partial: bool) -> Vec<u8> {
    // HPACK: :method POST (static 3), :scheme http (6), :path (name 4), :authority "x".
    let path = b"/api/v1/auth/login";
    let mut block = vec![0x83, 0x86, 0x44, path.len() as u8];
    block.extend_from_slice(path);
    block.extend_from_slice(&[0x41, 0x01, b'x']);
    let len = block.len() as u32;
    let mut frame = vec![(len >> 16) as u8, (len >> 8) as u8, len as u8, 0x01];
    frame.push(if partial { 0x00 } else { 0x04 });
    frame.extend_from_slice(&stream.to_be_bytes());
    frame.extend_from_slice(&block);
    frame
}

/// Frames the server sent, as (type, flags, stream, payload), until it closed or went quiet.
async fn h2_frames(stream: &mut TcpStream, quiet: Duration) -> Vec<(u8, u8, u32, Vec<u8>)> {
    let mut bytes = Vec::new();
    let mut buf = [0u8; 16384];
    while let Ok(Ok(n)) = tokio::time::timeout(quiet, stream.read(&mut buf)).await {
        if n == 0 {
            break;
        }
        bytes.extend_from_slice(&buf[..n]);
    }
    let mut frames = Vec::new();
    let mut at = 0;
    while bytes.len() >= at + 9 {
        let len = u32::from_be_bytes([0, bytes[at], bytes[at + 1], bytes[at + 2]]) as usize;
        if bytes.len() < at + 9 + len {
            break;
        }
        let id = u32::from_be_bytes(bytes[at + 5..at + 9].try_into().unwrap()) & 0x7fff_ffff;
        frames.push((
            bytes[at + 3],
            bytes[at + 4],
            id,
            bytes[at + 9..at + 9 + len].to_vec(),
        ));
        at += 9 + len;
    }
    frames
}

const RST_STREAM: u8 = 0x3;
const SETTINGS: u8 = 0x4;
const GOAWAY: u8 = 0x7;
const REFUSED_STREAM: u32 = 0x7;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn h2c_is_refused_unless_switched_on() {
    let _one = ONE_AT_A_TIME.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let s = serve(dir.path(), &[]);
    let mut stream = TcpStream::connect(addr_of(&s)).await.unwrap();
    stream.write_all(H2_PREFACE).await.unwrap();
    let answer = read_to_close(&mut stream).await;
    // An HTTP/1.1 error or nothing, never an HTTP/2 SETTINGS frame.
    assert!(
        answer.is_empty() || answer.starts_with(b"HTTP/1.1 4") || answer.starts_with(b"HTTP/1.1 5"),
        "{:?}",
        String::from_utf8_lossy(&answer)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http2_when_on_limits_streams_and_cuts_unfinished_headers() {
    let _one = ONE_AT_A_TIME.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let s = serve(
        dir.path(),
        &[
            "--http2",
            "--header-read-timeout",
            "1",
            "--body-read-timeout",
            "2",
        ],
    );
    let server = addr_of(&s);

    // The server announces its stream limit in its first SETTINGS frame.
    let mut probe = TcpStream::connect(server).await.unwrap();
    probe.write_all(H2_PREFACE).await.unwrap();
    let frames = h2_frames(&mut probe, Duration::from_millis(300)).await;
    let settings = frames
        .iter()
        .find(|f| f.0 == SETTINGS && f.1 & 0x1 == 0)
        .expect("a SETTINGS frame");
    let announced: Vec<(u16, u32)> = settings
        .3
        .chunks(6)
        .map(|c| {
            (
                u16::from_be_bytes([c[0], c[1]]),
                u32::from_be_bytes([c[2], c[3], c[4], c[5]]),
            )
        })
        .collect();
    assert!(
        announced.contains(&(0x3, 64)),
        "SETTINGS_MAX_CONCURRENT_STREAMS 64 in {announced:?}"
    );
    drop(probe);

    // A flood that ignores the limit: 4 connections x 500 streams without a body. Streams
    // past 64 per connection are refused; RSS stays bounded.
    let rss_before = rss_kib(s.child.id());
    let mut floods = Vec::new();
    for _ in 0..4 {
        let mut stream = TcpStream::connect(server).await.unwrap();
        let mut burst = H2_PREFACE.to_vec();
        for i in 0..500u32 {
            burst.extend_from_slice(&h2_headers(1 + 2 * i, false));
        }
        stream.write_all(&burst).await.unwrap();
        floods.push(stream);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_flooded = rss_kib(s.child.id());
    for mut stream in floods {
        let frames = h2_frames(&mut stream, Duration::from_millis(500)).await;
        let refused = frames
            .iter()
            .filter(|f| f.0 == RST_STREAM && f.3 == REFUSED_STREAM.to_be_bytes())
            .count();
        let went_away = frames.iter().any(|f| f.0 == GOAWAY);
        assert!(
            refused >= 500 - 64 || went_away,
            "{refused} streams refused and no GOAWAY"
        );
    }
    let grew = rss_flooded.saturating_sub(rss_before);
    assert!(grew < 32 * 1024, "RSS grew by {grew} KiB under the flood");

    // A HEADERS frame whose block never ends is cut at the header deadline.
    let mut stream = TcpStream::connect(server).await.unwrap();
    stream.write_all(H2_PREFACE).await.unwrap();
    stream.write_all(&h2_headers(1, true)).await.unwrap();
    let started = Instant::now();
    read_to_close(&mut stream).await;
    let held = started.elapsed();
    assert!(
        held < Duration::from_millis(2500),
        "unfinished HEADERS held {held:?}"
    );

    // And HTTP/2 serves real requests.
    let h2 = reqwest::Client::builder()
        .http2_prior_knowledge()
        .build()
        .unwrap();
    let r = h2
        .get(format!("{}/api/v1/health", s.origin))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.version(), reqwest::Version::HTTP_2);
}
