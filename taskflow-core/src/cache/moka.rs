//! The moka-backed in-process cache.

use std::time::Duration;

use super::{Cache, CacheEntry, CacheKey};

/// Size and lifetime bounds of a [`MokaCache`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheConfig {
    /// Most entries kept (default 100,000).
    pub max_entries: u64,
    /// Lifetime of an entry (default 60 s); bounds staleness across processes.
    pub ttl: Duration,
}

impl Default for CacheConfig {
    fn default() -> Self {
        Self {
            max_entries: 100_000,
            ttl: Duration::from_secs(60),
        }
    }
}

/// A [`Cache`] on moka's concurrent TinyLFU map.
#[derive(Clone)]
pub struct MokaCache {
    inner: moka::sync::Cache<CacheKey, CacheEntry>,
}

impl MokaCache {
    /// A cache with these bounds.
    pub fn new(config: CacheConfig) -> Self {
        Self {
            inner: moka::sync::Cache::builder()
                .max_capacity(config.max_entries)
                .time_to_live(config.ttl)
                .build(),
        }
    }
}

impl Default for MokaCache {
    fn default() -> Self {
        Self::new(CacheConfig::default())
    }
}

impl Cache for MokaCache {
    fn get(&self, key: &CacheKey) -> Option<CacheEntry> {
        self.inner.get(key)
    }

    fn insert(&self, key: CacheKey, entry: CacheEntry) {
        self.inner.insert(key, entry);
    }

    fn invalidate(&self, key: &CacheKey) {
        self.inner.invalidate(key);
    }
}
