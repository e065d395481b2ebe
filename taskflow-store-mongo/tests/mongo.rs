//! MongoDB-specific guarantees that need no server: an unreachable one is `unavailable`
//! within the configured timeouts, and bad URLs are validation errors.

use std::time::{Duration, Instant};

use taskflow_store_mongo::{MongoOptions, MongoStore};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_server_is_unavailable_within_the_timeout() {
    let options = MongoOptions {
        server_selection_timeout: Duration::from_secs(1),
        connect_timeout: Duration::from_secs(1),
        operation_timeout: Duration::from_secs(3),
        ..MongoOptions::default()
    };
    let started = Instant::now();
    let err = MongoStore::open(
        "mongodb://127.0.0.1:9/taskflow?directConnection=true",
        &options,
    )
    .await
    .err()
    .expect("nothing listens on port 9");
    assert_eq!(err.code(), "unavailable", "{err:?}");
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "took {:?}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_urls_are_rejected() {
    let err = MongoStore::open("mongodb://", &MongoOptions::default())
        .await
        .err()
        .unwrap();
    assert_eq!(err.code(), "validation_failed", "{err:?}");
}
