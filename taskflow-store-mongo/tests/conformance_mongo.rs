//! The store conformance suite over MongoDB (`TASKFLOW_TEST_MONGO_URL`: nx-27017 started by
//! `scripts/test`, or any real MongoDB), raw and cached, each scenario in a fresh database.

use std::sync::Arc;

use taskflow_core::{Cached, MokaCache};
use taskflow_store_mongo::{MongoOptions, MongoStore};

async fn mongo() -> Option<MongoStore> {
    let url = taskflow_test_support::mongo_url()?;
    let database = taskflow_test_support::unique_name("t_");
    // nx-27017 (one Python process, ~2,000 operations a second, shared by the scenarios
    // running at once) still runs every operation of a request whose client went away, so
    // after `cancelled_writes_leave_the_store_writable` a new operation can wait seconds
    // behind that backlog; a real MongoDB answers well within the default 10 s.
    let options = MongoOptions {
        operation_timeout: std::time::Duration::from_secs(30),
        ..MongoOptions::default()
    };
    Some(
        MongoStore::open_database(&url, Some(&database), &options)
            .await
            .expect("open MongoDB store"),
    )
}

#[test]
fn mongo_is_configured_in_ci() {
    // Panics under CI=true when the URL is missing; prints the skip line otherwise.
    let _ = taskflow_test_support::mongo_url();
}

/// Random operation sequences per differential run. nx-27017 answers ~2,000 operations a
/// second and slows down as a database grows, so fewer than the default keep the run near
/// 20 s; a real MongoDB can take `TASKFLOW_PROPTEST_CASES=...` more.
const DIFFERENTIAL_CASES: u32 = 40;

mod raw {
    taskflow_core::store_conformance!(optional super::mongo, differential_cases = super::DIFFERENTIAL_CASES);
}

mod cached {
    async fn setup() -> Option<super::Cached> {
        let store = super::mongo().await?;
        Some(super::Cached::new(
            super::Arc::new(store),
            super::Arc::new(super::MokaCache::default()),
        ))
    }
    taskflow_core::store_conformance!(optional setup, differential_cases = super::DIFFERENTIAL_CASES);
}
