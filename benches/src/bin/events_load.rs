//! The load side of `benches/http/events.py --load-bin`: holds event streams open on one
//! instance, creates tasks through another at a steady rate, and prints the
//! write-to-delivery delays as JSON. In Rust so that, on a machine whose cores the servers
//! and the database share with the client, the client's own time is small next to what it
//! measures (the Python client used about half a core at 25,000 deliveries a second).
//!
//! ```text
//! events_load --a 127.0.0.1:PORT --b 127.0.0.1:PORT --tokens FILE \
//!     --streams 5000 --rate 500 --seconds 5
//! ```
//! `FILE` holds one access token per line (one per user); stream `i` and write `n` use
//! token `i % users` and `n % users`. Delays are measured from the moment the client read
//! A's `201` to the moment a stream on B read the event's data line, both on this
//! process's monotonic clock.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde_json::json;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch};

/// In an event's data line the task object comes first, and its id first within it.
const TASK_ID: &str = "\"task\":{\"id\":\"";
/// Keep-alive connections the creates are spread over.
const WRITERS: usize = 8;
/// How long streams keep reading after the last write.
const DRAIN: Duration = Duration::from_secs(2);

type Error = Box<dyn std::error::Error + Send + Sync>;

struct Args {
    a: String,
    b: String,
    tokens: Vec<String>,
    streams: usize,
    rate: u32,
    seconds: f64,
}

fn args() -> Result<Args, Error> {
    let mut map = HashMap::new();
    let mut it = std::env::args().skip(1);
    while let Some(key) = it.next() {
        let value = it.next().ok_or(format!("{key} needs a value"))?;
        map.insert(key, value);
    }
    let get = |k: &str| map.get(k).cloned().ok_or(format!("{k} is required"));
    let tokens: Vec<String> = std::fs::read_to_string(get("--tokens")?)?
        .lines()
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect();
    if tokens.is_empty() {
        return Err("the tokens file is empty".into());
    }
    Ok(Args {
        a: get("--a")?,
        b: get("--b")?,
        tokens,
        streams: get("--streams")?.parse()?,
        rate: get("--rate")?.parse()?,
        seconds: get("--seconds")?.parse()?,
    })
}

/// Opens `GET /events` on `addr` (HTTP/1.0, so the body is not chunked and data lines
/// arrive whole) and returns the reader once the `200` head is read.
async fn open_stream(addr: &str, token: &str) -> Result<BufReader<TcpStream>, Error> {
    let mut conn = TcpStream::connect(addr).await?;
    conn.write_all(
        format!(
            "GET /api/v1/events HTTP/1.0\r\nHost: bench\r\nAuthorization: Bearer {token}\r\n\r\n"
        )
        .as_bytes(),
    )
    .await?;
    let mut reader = BufReader::with_capacity(16 * 1024, conn);
    let mut line = String::new();
    reader.read_line(&mut line).await?;
    if !line.starts_with("HTTP/1.1 200") && !line.starts_with("HTTP/1.0 200") {
        return Err(format!("GET /events answered {line:?}").into());
    }
    loop {
        line.clear();
        reader.read_line(&mut line).await?;
        if line == "\r\n" || line.is_empty() {
            return Ok(reader);
        }
    }
}

/// Reads data lines until `stop` turns true; returns (task id, arrival) per event.
async fn read_stream(
    mut reader: BufReader<TcpStream>,
    mut stop: watch::Receiver<bool>,
) -> Result<Vec<(String, Instant)>, Error> {
    let mut arrivals = Vec::new();
    let mut line = String::new();
    loop {
        line.clear();
        tokio::select! {
            read = reader.read_line(&mut line) => {
                if read? == 0 {
                    return Ok(arrivals);
                }
                let now = Instant::now();
                if let Some(data) = line.strip_prefix("data: ") {
                    let at = data.find(TASK_ID).ok_or("an event without a task id")? + TASK_ID.len();
                    arrivals.push((data[at..at + 36].to_owned(), now));
                }
            }
            _ = stop.changed() => return Ok(arrivals),
        }
    }
}

/// Creates the tasks it is sent, one request at a time on one keep-alive connection;
/// returns (task id, when the `201` was read) per create.
async fn write_tasks(
    addr: String,
    mut jobs: mpsc::UnboundedReceiver<(String, String)>,
) -> Result<Vec<(String, Instant)>, Error> {
    let mut reader = BufReader::new(TcpStream::connect(&addr).await?);
    let mut acked = Vec::new();
    let mut line = String::new();
    while let Some((token, title)) = jobs.recv().await {
        let body = json!({ "title": title }).to_string();
        let head = format!(
            "POST /api/v1/tasks HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer {token}\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        reader
            .get_mut()
            .write_all((head + &body).as_bytes())
            .await?;
        line.clear();
        reader.read_line(&mut line).await?;
        if !line.starts_with("HTTP/1.1 201") {
            return Err(format!("POST /tasks answered {line:?}").into());
        }
        let mut length = 0;
        loop {
            line.clear();
            reader.read_line(&mut line).await?;
            if line == "\r\n" {
                break;
            }
            if let Some((name, value)) = line.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse()?;
            }
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body).await?;
        let now = Instant::now();
        let task: serde_json::Value = serde_json::from_slice(&body)?;
        let id = task["id"].as_str().ok_or("a created task without an id")?;
        acked.push((id.to_owned(), now));
    }
    Ok(acked)
}

fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = (q * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

async fn run(args: Args) -> Result<serde_json::Value, Error> {
    let users = args.tokens.len();
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut streams = Vec::with_capacity(args.streams);
    for i in 0..args.streams {
        let reader = open_stream(&args.b, &args.tokens[i % users]).await?;
        streams.push(tokio::spawn(read_stream(reader, stop_rx.clone())));
    }
    // The caller measures the server with every stream open before the writes begin.
    println!("{}", json!({ "opened": args.streams }));
    tokio::time::sleep(Duration::from_secs(1)).await;
    let mut senders = Vec::new();
    let mut writers = Vec::new();
    for _ in 0..WRITERS {
        let (tx, rx) = mpsc::unbounded_channel();
        senders.push(tx);
        writers.push(tokio::spawn(write_tasks(args.a.clone(), rx)));
    }
    let total = (f64::from(args.rate) * args.seconds) as usize;
    let interval = Duration::from_secs_f64(1.0 / f64::from(args.rate));
    let start = tokio::time::Instant::now();
    for n in 0..total {
        tokio::time::sleep_until(start + interval * n as u32).await;
        senders[n % WRITERS].send((args.tokens[n % users].clone(), format!("bench {n}")))?;
    }
    drop(senders);
    let mut acked = HashMap::new();
    for w in writers {
        acked.extend(w.await??);
    }
    let took = start.elapsed().as_secs_f64();
    tokio::time::sleep(DRAIN).await;
    stop_tx.send(true)?;
    let mut delays = Vec::new();
    for s in streams {
        for (id, at) in s.await?? {
            if let Some(acked_at) = acked.get(&id) {
                delays.push(at.saturating_duration_since(*acked_at).as_secs_f64() * 1000.0);
            }
        }
    }
    delays.sort_by(f64::total_cmp);
    Ok(json!({
        "writes": total,
        "write_seconds": took,
        "deliveries": delays.len(),
        "expected": total * (args.streams / users),
        "p50_ms": quantile(&delays, 0.50),
        "p99_ms": quantile(&delays, 0.99),
        "max_ms": delays.last().copied().unwrap_or(f64::NAN),
    }))
}

fn main() -> Result<(), Error> {
    let args = args()?;
    // One worker: the client should take as little of the machine as it can.
    let report = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(run(args))?;
    println!("{report}");
    Ok(())
}
