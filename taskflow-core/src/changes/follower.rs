//! The follower: one task per instance that reads the change log and applies every event
//! to the instance's cache, so that a write made through any instance is honoured by all.
//!
//! Fail-safe, not fail-open: the follower records when it last proved it was caught up (a
//! read that began at that moment reached the end of the log). The cache serves entries
//! only while that proof is younger than [`FollowerConfig::stale_after`]; an instance
//! whose follower cannot read (database or feed down, a transaction holding the log back,
//! lag past the bound) reads from the store until it has caught up again.
//!
//! The follower also wakes the event streams of this instance: a stream waits on the
//! [`Notify`] of its scope ([`FollowerStatus::waker`]) and reads the log itself when an
//! event of its subject arrives, so a write wakes only the streams that may show it.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Weak};

use dashmap::DashMap;
use std::time::{Duration, Instant};
use tokio::sync::Notify;

use super::LogPosition;
use crate::cache::Cached;
use crate::error::Error;
use crate::ids::UserId;
use crate::rbac::Scope;
use crate::store::Store;

/// How a [`Follower`] reads the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FollowerConfig {
    /// Longest wait between two reads of the log when no wake-up comes (default 20 ms).
    /// Each read that reaches the end renews the proof of being caught up.
    pub poll_interval: Duration,
    /// How old the proof may be before the cache is no longer trusted (default 100 ms):
    /// the bound within which a change made elsewhere is honoured here.
    pub stale_after: Duration,
    /// Events read per batch (default 500).
    pub batch: usize,
    /// Wait after a failed read before the next (default 100 ms).
    pub retry_after: Duration,
}

impl Default for FollowerConfig {
    fn default() -> Self {
        Self {
            poll_interval: Duration::from_millis(20),
            stale_after: Duration::from_millis(100),
            batch: 500,
            retry_after: Duration::from_millis(100),
        }
    }
}

/// What a follower has done, readable from any thread (metrics, the cache's trust check).
#[derive(Debug)]
pub struct FollowerStatus {
    /// Origin of the millisecond clocks below.
    epoch: Instant,
    /// Milliseconds after `epoch` at which the newest read that reached the end began,
    /// plus one (zero: never).
    caught_up_at: AtomicU64,
    stale_after_ms: u64,
    applied: AtomicU64,
    resets: AtomicU64,
    failures: AtomicU64,
    /// The last position applied, as its two halves.
    major: AtomicU64,
    minor: AtomicU64,
    /// Streams waiting for events of one subject.
    wakers: DashMap<UserId, Weak<Notify>>,
    /// Size of `wakers` at which dead entries are swept next.
    sweep_at: AtomicUsize,
    /// Streams waiting for events of any subject.
    all: Arc<Notify>,
}

/// Below this many registered subjects, dead wakers are not swept.
const SWEEP_ABOVE: usize = 1024;

impl FollowerStatus {
    fn new(stale_after: Duration) -> Self {
        Self {
            epoch: Instant::now(),
            caught_up_at: AtomicU64::new(0),
            stale_after_ms: u64::try_from(stale_after.as_millis()).unwrap_or(u64::MAX),
            applied: AtomicU64::new(0),
            resets: AtomicU64::new(0),
            failures: AtomicU64::new(0),
            major: AtomicU64::new(0),
            minor: AtomicU64::new(0),
            wakers: DashMap::new(),
            sweep_at: AtomicUsize::new(SWEEP_ABOVE),
            all: Arc::new(Notify::new()),
        }
    }

    /// What a stream of `scope` waits on: notified after the follower applied an event
    /// whose subject is in the scope.
    pub fn waker(&self, scope: Scope) -> Arc<Notify> {
        let Scope::Owner(user) = scope else {
            return Arc::clone(&self.all);
        };
        if let Some(live) = self.wakers.get(&user).and_then(|w| w.upgrade()) {
            return live;
        }
        if self.wakers.len() >= self.sweep_at.load(Ordering::Relaxed) {
            self.wakers.retain(|_, w| w.strong_count() > 0);
            self.sweep_at
                .store((self.wakers.len() * 2).max(SWEEP_ABOVE), Ordering::Relaxed);
        }
        let notify = Arc::new(Notify::new());
        self.wakers.insert(user, Arc::downgrade(&notify));
        notify
    }

    fn wake(&self, subject: UserId) {
        if let Some(n) = self.wakers.get(&subject).and_then(|w| w.upgrade()) {
            n.notify_waiters();
        }
        self.all.notify_waiters();
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Whether the follower proved it was caught up within the bound: the cache may serve.
    pub fn is_following(&self) -> bool {
        self.lag()
            .is_some_and(|lag| lag.as_millis() <= u128::from(self.stale_after_ms))
    }

    /// How far behind the follower may be: the time since the newest read that began
    /// caught up. `None` until the first such read.
    pub fn lag(&self) -> Option<Duration> {
        let at = self.caught_up_at.load(Ordering::Acquire);
        (at > 0).then(|| Duration::from_millis(self.now_ms().saturating_sub(at - 1)))
    }

    /// Events applied so far.
    pub fn applied(&self) -> u64 {
        self.applied.load(Ordering::Relaxed)
    }

    /// Times the follower fell behind the log's retention and had to drop the whole cache.
    pub fn resets(&self) -> u64 {
        self.resets.load(Ordering::Relaxed)
    }

    /// Failed reads of the log so far.
    pub fn failures(&self) -> u64 {
        self.failures.load(Ordering::Relaxed)
    }

    /// The position of the newest event applied (or where following began).
    pub fn position(&self) -> LogPosition {
        LogPosition::new(
            self.major.load(Ordering::Acquire),
            self.minor.load(Ordering::Acquire),
        )
    }

    fn set_position(&self, p: LogPosition) {
        self.major.store(p.major(), Ordering::Release);
        self.minor.store(p.minor(), Ordering::Release);
    }
}

/// Follows the change log of a store for this instance (its [`Cached`] wrapper, when there
/// is one, and its event streams); stops when dropped.
#[derive(Debug)]
pub struct Follower {
    status: Arc<FollowerStatus>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Follower {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Follower {
    /// A status to hand to [`Cached::trust_only_while`] before the follower starts.
    pub fn status_for(config: &FollowerConfig) -> Arc<FollowerStatus> {
        Arc::new(FollowerStatus::new(config.stale_after))
    }

    /// Starts following on the current tokio runtime: from the log's head as of now, every
    /// event is applied to `cache` and wakes the streams of its subject. `store` is the
    /// store the cache wraps (or the cache itself; both read the same log).
    pub fn spawn(
        store: Arc<dyn Store>,
        cache: Option<Arc<Cached>>,
        status: Arc<FollowerStatus>,
        config: FollowerConfig,
    ) -> Self {
        let task = tokio::spawn(follow(store, cache, Arc::clone(&status), config));
        Self { status, task }
    }

    /// What the follower has done.
    pub fn status(&self) -> &Arc<FollowerStatus> {
        &self.status
    }
}

async fn follow(
    store: Arc<dyn Store>,
    cache: Option<Arc<Cached>>,
    status: Arc<FollowerStatus>,
    config: FollowerConfig,
) {
    let batch = config.batch.clamp(1, super::MAX_CHANGE_BATCH);
    let mut after = loop {
        match store.change_head().await {
            Ok(head) => break head,
            Err(e) => {
                failed(&status, &e);
                tokio::time::sleep(config.retry_after).await;
            }
        }
    };
    status.set_position(after);
    // Everything cached before the head was read may predate writes of other instances.
    if let Some(cache) = &cache {
        cache.invalidate_all();
    }
    loop {
        let began = status.now_ms();
        match store.read_changes(Scope::All, after, batch).await {
            Ok(read) => {
                for event in &read.events {
                    store.observe(&event.change);
                    if let Some(cache) = &cache {
                        cache.apply(&event.change);
                    }
                    after = event.position;
                }
                // Streams read the log themselves; wake them once the batch is applied.
                for event in &read.events {
                    status.wake(event.change.subject());
                }
                status
                    .applied
                    .fetch_add(read.events.len() as u64, Ordering::Relaxed);
                status.set_position(after);
                if read.caught_up {
                    status.caught_up_at.fetch_max(began + 1, Ordering::AcqRel);
                    store.wait_for_changes(after, config.poll_interval).await;
                }
            }
            Err(Error::ResetRequired { start }) => {
                // Events were pruned before this instance read them: forget everything.
                if let Some(cache) = &cache {
                    cache.invalidate_all();
                }
                status.resets.fetch_add(1, Ordering::Relaxed);
                after = start;
                status.set_position(after);
            }
            Err(e) => {
                failed(&status, &e);
                tokio::time::sleep(config.retry_after).await;
            }
        }
    }
}

fn failed(status: &FollowerStatus, error: &Error) {
    let n = status.failures.fetch_add(1, Ordering::Relaxed);
    // One line per run of failures, not one per retry.
    if n.is_power_of_two() || n == 0 {
        tracing::warn!(
            error = %error,
            failures = n + 1,
            "cannot read the change log; the cache is not trusted until the follower catches up"
        );
    }
}
