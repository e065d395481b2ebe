//! The follower: one task per instance that reads the change log and applies every event
//! to the instance's cache, so that a write made through any instance is honoured by all.
//!
//! Fail-safe, not fail-open: the follower records when it last proved it was caught up (a
//! read that began at that moment reached the end of the log). The cache serves entries
//! only while that proof is younger than [`FollowerConfig::stale_after`]; an instance
//! whose follower cannot read (database or feed down, a transaction holding the log back,
//! lag past the bound) reads from the store until it has caught up again.
//!
//! The follower also feeds the event streams of this instance: a stream waits on the
//! [`Notify`] of its scope ([`FollowerStatus::waker`]), so a write wakes only the streams
//! that may show it, and then takes the events from the follower's memory of the newest
//! [`RECENT_EVENTS`] (`FollowerStatus::recent`) rather than reading the log itself: a
//! write costs one read of the log per instance, not one per open stream. A stream behind
//! that memory, or on an instance whose follower is not caught up, reads the store.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock, Weak};

use dashmap::DashMap;
use std::time::{Duration, Instant};
use tokio::sync::Notify;

use super::{ChangeBatch, ChangeEvent, LogPosition};
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
    /// The newest events read, for this instance's streams.
    recent: RwLock<Recent>,
}

/// Below this many registered subjects, dead wakers are not swept.
const SWEEP_ABOVE: usize = 1024;

/// How many of the newest events a follower keeps for the streams (a few seconds of a busy
/// deployment's writes; a stream further behind reads the store).
pub const RECENT_EVENTS: usize = 4096;

/// The newest events the follower read: every event after `from` up to the follower's
/// position, in log order, with no gaps (the follower reads the log in order and appends
/// each batch whole).
#[derive(Debug, Default)]
struct Recent {
    /// `None` until the follower has read the head, and after a reset until it reads again.
    from: Option<LogPosition>,
    events: VecDeque<ChangeEvent>,
}

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
            recent: RwLock::new(Recent::default()),
        }
    }

    /// The events after `after` in `scope` (at most `limit`) from the follower's memory,
    /// as the store's `read_changes` would return them up to the follower's position;
    /// `None` when the memory does not reach back to `after`, or the follower is not
    /// caught up (fail-safe: the caller reads the store). `caught_up` means the batch
    /// reaches the follower's position: what comes later wakes the scope's waker.
    pub(crate) fn recent(
        &self,
        scope: Scope,
        after: LogPosition,
        limit: usize,
    ) -> Option<ChangeBatch> {
        if !self.is_following() {
            return None;
        }
        let recent = self.recent.read().unwrap_or_else(|e| e.into_inner());
        if recent.from.is_none_or(|from| after < from) {
            return None;
        }
        let first = recent.events.partition_point(|e| e.position <= after);
        Some(ChangeBatch::in_scope(
            recent.events.range(first..),
            scope,
            limit,
        ))
    }

    /// Appends a batch the follower read after the newest remembered event, dropping the
    /// oldest beyond [`RECENT_EVENTS`].
    fn remember(&self, events: &[ChangeEvent]) {
        let mut recent = self.recent.write().unwrap_or_else(|e| e.into_inner());
        recent.events.extend(events.iter().cloned());
        while recent.events.len() > RECENT_EVENTS {
            let dropped = recent.events.pop_front().map(|e| e.position);
            recent.from = recent.from.max(dropped);
        }
    }

    /// Forgets every event: the follower goes on from `from` (its start, or after a reset).
    fn remember_from(&self, from: LogPosition) {
        let mut recent = self.recent.write().unwrap_or_else(|e| e.into_inner());
        recent.events.clear();
        recent.from = Some(from);
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
    status.remember_from(after);
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
                // Streams take the batch from memory; wake them once it is there.
                status.remember(&read.events);
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
                status.remember_from(after);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::changes::Change;

    fn event(seq: u64, user: UserId) -> ChangeEvent {
        ChangeEvent {
            position: LogPosition::from_seq(seq),
            at: chrono::Utc::now(),
            change: Change::UserChanged { user_id: user },
        }
    }

    fn positions(batch: &ChangeBatch) -> Vec<u64> {
        batch.events.iter().map(|e| e.position.minor()).collect()
    }

    fn caught_up(status: &FollowerStatus) {
        status
            .caught_up_at
            .store(status.now_ms() + 1, Ordering::Release);
    }

    #[test]
    fn recent_events_answer_as_the_log_would_within_their_window() {
        let status = FollowerStatus::new(Duration::from_secs(60));
        let (ann, bob) = (UserId::new(), UserId::new());
        caught_up(&status);
        assert_eq!(
            status.recent(Scope::All, LogPosition::ZERO, 10),
            None,
            "before the head"
        );
        status.remember_from(LogPosition::from_seq(10));
        let log: Vec<ChangeEvent> = (11..=20)
            .map(|s| event(s, if s % 2 == 0 { ann } else { bob }))
            .collect();
        status.remember(&log[..4]);
        status.remember(&log[4..]);

        let all = status
            .recent(Scope::All, LogPosition::from_seq(10), 100)
            .unwrap();
        assert_eq!(positions(&all), (11..=20).collect::<Vec<_>>());
        assert!(all.caught_up);
        let anns = status
            .recent(Scope::Owner(ann), LogPosition::from_seq(13), 100)
            .unwrap();
        assert_eq!(positions(&anns), [14, 16, 18, 20]);
        let cut = status
            .recent(Scope::Owner(ann), LogPosition::from_seq(13), 2)
            .unwrap();
        assert_eq!(positions(&cut), [14, 16]);
        assert!(!cut.caught_up, "the limit cut it short");
        let ahead = status
            .recent(Scope::All, LogPosition::from_seq(25), 100)
            .unwrap();
        assert!(
            ahead.events.is_empty() && ahead.caught_up,
            "a position past the follower waits"
        );
        assert_eq!(
            status.recent(Scope::All, LogPosition::from_seq(9), 100),
            None,
            "older than the window"
        );
    }

    #[test]
    fn the_window_keeps_the_newest_events_without_gaps() {
        let status = FollowerStatus::new(Duration::from_secs(60));
        let user = UserId::new();
        caught_up(&status);
        status.remember_from(LogPosition::ZERO);
        let total = RECENT_EVENTS as u64 + 10;
        let log: Vec<ChangeEvent> = (1..=total).map(|s| event(s, user)).collect();
        for chunk in log.chunks(333) {
            status.remember(chunk);
        }
        assert_eq!(status.recent(Scope::All, LogPosition::from_seq(9), 1), None);
        let from_edge = status
            .recent(Scope::All, LogPosition::from_seq(10), 1000)
            .unwrap();
        assert_eq!(positions(&from_edge).first(), Some(&11));
        assert!(!from_edge.caught_up);

        // After a reset the window starts again where the follower goes on.
        status.remember_from(LogPosition::from_seq(5000));
        assert_eq!(
            status.recent(Scope::All, LogPosition::from_seq(4999), 1),
            None
        );
        assert!(
            status
                .recent(Scope::All, LogPosition::from_seq(5000), 1)
                .unwrap()
                .events
                .is_empty()
        );
    }

    #[test]
    fn a_follower_that_is_not_caught_up_sends_streams_to_the_store() {
        let status = FollowerStatus::new(Duration::from_millis(100));
        status.remember_from(LogPosition::ZERO);
        status.remember(&[event(1, UserId::new())]);
        assert_eq!(
            status.recent(Scope::All, LogPosition::ZERO, 10),
            None,
            "never caught up"
        );
        caught_up(&status);
        assert!(status.recent(Scope::All, LogPosition::ZERO, 10).is_some());
        status.caught_up_at.store(1, Ordering::Release);
        std::thread::sleep(Duration::from_millis(150));
        assert_eq!(
            status.recent(Scope::All, LogPosition::ZERO, 10),
            None,
            "lag past the bound"
        );
    }
}
