//! The database becomes unreachable while clients keep the server busy (a TCP proxy the
//! test controls sits between the server and PostgreSQL/MongoDB; SQLite is embedded):
//! - `cut` (connections refused): requests fail fast with `503`;
//! - `stall` (connections open but silent): requests end with `503` at the request
//!   timeout at the latest;
//! - in both, readiness flips to `503` within its 2-second bound, no request of the load
//!   outlives the request timeout, no answer is anything but success or `503`, and
//!   everything comes back by itself when the database does.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use taskflow_core::Store;
use taskflow_http::HttpConfig;
use taskflow_store_mongo::{MongoOptions, MongoStore};
use taskflow_store_sql::{PostgresStore, SqlOptions};

use support::{Account, Server, env_url, flow, fresh_pg_schema};
use taskflow_test_support::proxy::Proxy;

/// The server's request timeout in these tests: short, so a stall is over quickly.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(4);
/// Slack for scheduling and the client's own work on a busy 2-core machine.
const SLACK: Duration = Duration::from_millis(1_500);
/// Concurrent clients of the load, each with its own account.
const CLIENTS: usize = 6;

/// When, relative to the outage, a request was sent and answered: a request is counted in
/// a phase only if both happened in it (one in flight across the change proves nothing).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Before,
    During,
    After,
    Across,
}

#[derive(Debug)]
struct Sample {
    phase: Phase,
    status: u16,
    took: Duration,
}

/// Clients alternating creates and (uncacheable, since each create invalidates the
/// owner's listings) list reads until stopped; each records what it saw.
struct Load {
    phase: Arc<std::sync::Mutex<Phase>>,
    stop: Arc<AtomicBool>,
    clients: Vec<tokio::task::JoinHandle<Vec<Sample>>>,
}

impl Load {
    async fn start(s: &Server) -> Self {
        let phase = Arc::new(std::sync::Mutex::new(Phase::Before));
        let stop = Arc::new(AtomicBool::new(false));
        let mut clients = Vec::new();
        for i in 0..CLIENTS {
            let account = s.user(&format!("load{i}")).await;
            let (http, api) = (s.http.clone(), s.api("/tasks"));
            let (phase, stop) = (phase.clone(), stop.clone());
            clients.push(tokio::spawn(async move {
                let mut samples = Vec::new();
                let mut n = 0u64;
                while !stop.load(Ordering::SeqCst) {
                    n += 1;
                    let sent_in = *phase.lock().unwrap();
                    let req = if n.is_multiple_of(2) {
                        http.post(&api).json(&json!({"title": format!("load {n}")}))
                    } else {
                        http.get(&api)
                    };
                    let started = Instant::now();
                    let status = match req.bearer_auth(&account.access).send().await {
                        Ok(r) => r.status().as_u16(),
                        Err(e) => panic!("request failed without an answer: {e}"),
                    };
                    let answered_in = *phase.lock().unwrap();
                    samples.push(Sample {
                        phase: if sent_in == answered_in {
                            sent_in
                        } else {
                            Phase::Across
                        },
                        status,
                        took: started.elapsed(),
                    });
                    if status != 200 && status != 201 {
                        // Don't spin on fast failures.
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                }
                samples
            }));
        }
        Self {
            phase,
            stop,
            clients,
        }
    }

    fn enter(&self, phase: Phase) {
        *self.phase.lock().unwrap() = phase;
    }

    async fn finish(self) -> Vec<Sample> {
        self.stop.store(true, Ordering::SeqCst);
        let mut all = Vec::new();
        for c in self.clients {
            all.extend(c.await.expect("load client panicked"));
        }
        all
    }
}

async fn wait_until_ready(s: &Server, within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        let r = s.req(Method::GET, "/health/ready").send().await.unwrap();
        if r.status() == StatusCode::OK {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "readiness did not come back within {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Readiness answers `503` (within its bound) once the database is gone.
async fn assert_not_ready(s: &Server) {
    let started = Instant::now();
    let r = s.req(Method::GET, "/health/ready").send().await.unwrap();
    let took = started.elapsed();
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        took < Duration::from_secs(2) + SLACK,
        "readiness answered in {took:?}"
    );
    assert!(r.headers().contains_key("retry-after"));
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["checks"]["store"], "down");
}

/// The database goes away (by `lose`) under load for a few seconds, then returns.
async fn outage_under_load(store: Arc<dyn Store>, proxy: Proxy, lose: fn(&Proxy), what: &str) {
    let config = HttpConfig {
        request_timeout: REQUEST_TIMEOUT,
        ..HttpConfig::without_rate_limits()
    };
    let s = Server::start(flow(store), config, None).await;
    wait_until_ready(&s, Duration::from_secs(5)).await;
    let ann: Account = s.user("ann").await;
    s.task(&ann, json!({"title": "before the outage"})).await;

    let load = Load::start(&s).await;
    tokio::time::sleep(Duration::from_millis(500)).await;

    load.enter(Phase::During);
    lose(&proxy);
    assert_not_ready(&s).await;
    // Long enough for a stalled request to reach the request timeout.
    tokio::time::sleep(REQUEST_TIMEOUT + Duration::from_secs(1)).await;

    proxy.restore();
    wait_until_ready(&s, Duration::from_secs(30)).await;
    load.enter(Phase::After);
    // The pools replace their broken connections; give the load time to show it.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let samples = load.finish().await;

    let bound = REQUEST_TIMEOUT + SLACK;
    for sample in &samples {
        assert!(
            matches!(sample.status, 200 | 201 | 503),
            "{what}: only success or 503 may be answered: {sample:?}"
        );
        assert!(
            sample.took <= bound,
            "{what}: a request outlived the request timeout: {sample:?}"
        );
    }
    let count = |phase: Phase, ok: bool| {
        samples
            .iter()
            .filter(|s| s.phase == phase && (s.status != 503) == ok)
            .count()
    };
    eprintln!(
        "{what}: {} requests; before {} ok; during {} ok / {} 503; across a change {}; after {} ok / {} 503; slowest {:?}",
        samples.len(),
        count(Phase::Before, true),
        count(Phase::During, true),
        count(Phase::During, false),
        samples.iter().filter(|s| s.phase == Phase::Across).count(),
        count(Phase::After, true),
        count(Phase::After, false),
        samples.iter().map(|s| s.took).max().unwrap_or_default(),
    );

    assert!(count(Phase::Before, true) > 0, "{what}: load ran before");
    assert_eq!(
        count(Phase::Before, false),
        0,
        "{what}: 503 before the outage"
    );
    // A stalled request may start before the loss or end after the restore: any 503 of a
    // request that overlapped the outage shows it was noticed.
    assert!(
        count(Phase::During, false) + count(Phase::Across, false) > 0,
        "{what}: the outage was never noticed"
    );
    // After readiness is back, at most the requests already in flight on a broken
    // connection fail; the rest of the phase succeeds.
    assert!(
        count(Phase::After, true) >= 10 * count(Phase::After, false).max(1),
        "{what}: after recovery, {} succeeded and {} failed",
        count(Phase::After, true),
        count(Phase::After, false)
    );
    // Nothing written before the outage was lost, and writes work again.
    let page: Value = s
        .as_user(Method::GET, "/tasks", &ann.access)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(page["items"].as_array().unwrap().len(), 1, "{page}");
    s.task(&ann, json!({"title": "after the outage"})).await;
}

async fn postgres_store() -> Option<(Arc<dyn Store>, Proxy)> {
    let url = env_url("TASKFLOW_TEST_POSTGRES_URL")?;
    let options = fresh_pg_schema(&url).await;
    let proxy = Proxy::start(format!("{}:{}", options.get_host(), options.get_port())).await;
    let options = options.host("127.0.0.1").port(proxy.port);
    let store = PostgresStore::with_connect_options(
        options,
        &SqlOptions {
            acquire_timeout: Duration::from_secs(1),
            ..SqlOptions::default()
        },
    )
    .unwrap();
    store.migrate().await.unwrap();
    Some((Arc::new(store), proxy))
}

async fn mongo_store() -> Option<(Arc<dyn Store>, Proxy)> {
    let url = env_url("TASKFLOW_TEST_MONGO_URL")?;
    let rest = url.strip_prefix("mongodb://").expect("a mongodb:// URL");
    let (authority, tail) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let proxy = Proxy::start(authority.to_owned()).await;
    let via_proxy = format!("mongodb://127.0.0.1:{}{tail}", proxy.port);
    let db = format!("r_{}", uuid::Uuid::now_v7().simple());
    let store = MongoStore::open_database(
        &via_proxy,
        Some(&db),
        &MongoOptions {
            server_selection_timeout: Duration::from_secs(1),
            connect_timeout: Duration::from_secs(1),
            ..MongoOptions::default()
        },
    )
    .await
    .unwrap();
    Some((Arc::new(store), proxy))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_cut_under_load() {
    let Some((store, proxy)) = postgres_store().await else {
        return;
    };
    outage_under_load(store, proxy, Proxy::cut, "postgres cut").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_stall_under_load() {
    let Some((store, proxy)) = postgres_store().await else {
        return;
    };
    outage_under_load(store, proxy, Proxy::stall, "postgres stall").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mongo_cut_under_load() {
    let Some((store, proxy)) = mongo_store().await else {
        return;
    };
    outage_under_load(store, proxy, Proxy::cut, "mongo cut").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mongo_stall_under_load() {
    let Some((store, proxy)) = mongo_store().await else {
        return;
    };
    outage_under_load(store, proxy, Proxy::stall, "mongo stall").await;
}
