//! The store conformance suite over the in-memory reference store, raw and behind the
//! moka cache.

mod raw {
    async fn setup() -> taskflow_core::MemoryStore {
        taskflow_core::MemoryStore::new()
    }

    taskflow_core::store_conformance!(setup);
}

mod cached {
    use std::sync::Arc;

    use taskflow_core::{CacheConfig, Cached, MemoryStore, MokaCache};

    async fn setup() -> Cached {
        Cached::new(
            Arc::new(MemoryStore::new()),
            Arc::new(MokaCache::new(CacheConfig::default())),
        )
    }

    taskflow_core::store_conformance!(setup);
}
