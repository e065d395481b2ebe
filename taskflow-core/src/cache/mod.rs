//! Caching. A [`Cache`] is a plain key-value map with bounded size and TTL; [`Cached`]
//! wraps any [`Store`](crate::Store) and is itself a store: it reads through the cache and
//! invalidates on every write that passes through it.
//!
//! Invalidation uses stamps rather than key scans. A global counter ticks on every write;
//! each user (for its record, and separately for its sessions) and each task owner has a
//! *mark*, the counter value after its latest write. An
//! entry records the counter value from *before* its store read, and is served only while
//! that stamp is not older than the mark of the user or owner it depends on. So a write
//! makes every dependent entry (the task, every list page and stats of that owner, and of
//! the all-owners scope) unreachable at once, and a read that raced with a write can never
//! plant a stale entry. Guarantee: within one process, no read that starts after a write
//! returned sees data older than that write. Across processes sharing a database, entries
//! may be stale up to the cache TTL.

mod cached;
#[cfg(feature = "moka")]
mod moka;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

pub use cached::Cached;
#[cfg(feature = "moka")]
pub use moka::{CacheConfig, MokaCache};

use crate::auth::SessionRecord;
use crate::ids::{SessionId, TaskId, UserId};
use crate::query::{ListRequest, TaskSlice};
use crate::stats::{StatsRequest, TaskStats};
use crate::task::Task;
use crate::user::UserRecord;

/// What can be cached.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CacheKey {
    /// A user by id (authentication reads it on every request).
    User(UserId),
    /// A session by id (authentication reads it on every request).
    Session(SessionId),
    /// A task by id.
    Task(TaskId),
    /// A page of a task listing.
    TaskList(Box<ListRequest>),
    /// Task statistics.
    Stats(StatsRequest),
}

/// A cached value.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum CacheValue {
    /// For [`CacheKey::User`].
    User(Arc<UserRecord>),
    /// For [`CacheKey::Session`].
    Session(Arc<SessionRecord>),
    /// For [`CacheKey::Task`].
    Task(Arc<Task>),
    /// For [`CacheKey::TaskList`].
    TaskList(Arc<TaskSlice>),
    /// For [`CacheKey::Stats`].
    Stats(Arc<TaskStats>),
}

/// A value with the write-counter stamp taken before it was read from the store.
#[derive(Debug, Clone)]
pub struct CacheEntry {
    /// Counter value before the store read.
    pub stamp: u64,
    /// The value.
    pub value: CacheValue,
}

/// A bounded in-process key-value cache. Implementations must be fast and never block;
/// evicting any entry at any time is always correct.
pub trait Cache: Send + Sync + 'static {
    /// The entry for `key`, if present.
    fn get(&self, key: &CacheKey) -> Option<CacheEntry>;
    /// Stores an entry, replacing any previous one.
    fn insert(&self, key: CacheKey, entry: CacheEntry);
    /// Removes an entry.
    fn invalidate(&self, key: &CacheKey);
}

/// Hit and miss counters of a [`Cached`] store.
#[derive(Debug, Default)]
pub struct CacheMetrics {
    hits: AtomicU64,
    misses: AtomicU64,
}

impl CacheMetrics {
    /// Reads served from the cache.
    pub fn hits(&self) -> u64 {
        self.hits.load(Ordering::Relaxed)
    }

    /// Reads that went to the store.
    pub fn misses(&self) -> u64 {
        self.misses.load(Ordering::Relaxed)
    }

    fn hit(&self) {
        self.hits.fetch_add(1, Ordering::Relaxed);
    }

    fn miss(&self) {
        self.misses.fetch_add(1, Ordering::Relaxed);
    }
}
