//! The store conformance suite over PostgreSQL (`TASKFLOW_TEST_POSTGRES_URL`), raw and
//! cached, each scenario in a fresh schema.
#![cfg(feature = "postgres")]

mod support;

use std::sync::Arc;

use taskflow_core::{Cached, MokaCache};

#[test]
fn postgres_is_configured_in_ci() {
    // Panics under CI=true when the URL is missing; prints the skip line otherwise.
    let _ = taskflow_test_support::postgres_url();
}

mod raw {
    taskflow_core::store_conformance!(optional super::support::postgres);
}

mod cached {
    async fn setup() -> Option<taskflow_core::Cached> {
        let store = super::support::postgres().await?;
        Some(super::Cached::new(
            super::Arc::new(store),
            super::Arc::new(super::MokaCache::default()),
        ))
    }
    taskflow_core::store_conformance!(optional setup);
}
