//! The database becomes unreachable (a TCP proxy the test controls is cut): requests fail
//! fast with `503`, readiness flips to `503` within its 2-second bound, and both come back
//! by themselves when the database returns. PostgreSQL and MongoDB; SQLite is embedded.

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use taskflow_core::Store;
use taskflow_http::HttpConfig;
use taskflow_store_mongo::{MongoOptions, MongoStore};
use taskflow_store_sql::{PostgresStore, SqlOptions};

use support::proxy::Proxy;
use support::{Server, env_url, flow, fresh_pg_schema, problem};

async fn outage_and_recovery(store: Arc<dyn Store>, proxy: Proxy) {
    let s = Server::start(flow(store), HttpConfig::without_rate_limits(), None).await;
    let ready = s.req(Method::GET, "/health/ready").send().await.unwrap();
    assert_eq!(ready.status(), StatusCode::OK);
    let ann = s.user("ann").await;
    s.task(&ann, json!({"title": "before the outage"})).await;

    proxy.cut();
    let started = Instant::now();
    let r = s.req(Method::GET, "/health/ready").send().await.unwrap();
    let took = started.elapsed();
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        took < Duration::from_millis(2_500),
        "readiness answered in {took:?}"
    );
    assert!(r.headers().contains_key("retry-after"));
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["checks"]["store"], "down");

    // Writes fail fast with 503, never hang.
    let started = Instant::now();
    let r = s
        .as_user(Method::POST, "/tasks", &ann.access)
        .json(&json!({"title": "during the outage"}))
        .send()
        .await
        .unwrap();
    let took = started.elapsed();
    problem(r, 503, "unavailable").await;
    assert!(took < Duration::from_secs(8), "failed in {took:?}");

    proxy.restore();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let r = s.req(Method::GET, "/health/ready").send().await.unwrap();
        if r.status() == StatusCode::OK {
            break;
        }
        assert!(Instant::now() < deadline, "readiness did not come back");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_outage() {
    let Some(url) = env_url("TASKFLOW_TEST_POSTGRES_URL") else {
        return;
    };
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
    outage_and_recovery(Arc::new(store), proxy).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mongo_outage() {
    let Some(url) = env_url("TASKFLOW_TEST_MONGO_URL") else {
        return;
    };
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
    outage_and_recovery(Arc::new(store), proxy).await;
}
