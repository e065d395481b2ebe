//! Read routing between the primary and the optional read replica: the replica serves task
//! gets, listings and stats, except for owners (or, for all-owner reads, anyone) who wrote
//! within the replica lag, so a caller always reads their own writes (made through this
//! instance at once; through another one, once this instance's change-log follower has
//! seen them, within its coherence bound). Authentication and read-modify-write reads
//! always use the primary.
//!
//! And only while the replica has proved recently that it is no further behind than the
//! lag ([`ReplicaHealth`], kept by the dialect's monitor): a standby that stops, or falls
//! behind past the lag, sends every read back to the primary until it has caught up.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use dashmap::DashMap;
use sqlx::{Database, Pool};
use taskflow_core::{Scope, UserId};

/// Above this many tracked owners, entries older than the lag are dropped.
const PRUNE_ABOVE: usize = 10_000;

/// When the replica last proved it had replayed everything the primary had committed.
#[derive(Debug)]
pub(crate) struct ReplicaHealth {
    epoch: Instant,
    /// Milliseconds after `epoch` of the newest proof, plus one (zero: never).
    caught_up_at: AtomicU64,
}

impl ReplicaHealth {
    fn new() -> Self {
        Self {
            epoch: Instant::now(),
            caught_up_at: AtomicU64::new(0),
        }
    }

    /// Records that the replica had replayed, by now, everything committed on the primary
    /// before `asked`.
    pub(crate) fn proved(&self, asked: Instant) {
        let ms = u64::try_from(asked.saturating_duration_since(self.epoch).as_millis())
            .unwrap_or(u64::MAX);
        self.caught_up_at
            .fetch_max(ms.saturating_add(1), Ordering::AcqRel);
    }

    /// Whether the newest proof is younger than `lag`.
    fn fresh(&self, lag: Duration) -> bool {
        match self.caught_up_at.load(Ordering::Acquire) {
            0 => false,
            at => {
                let since = self
                    .epoch
                    .elapsed()
                    .as_millis()
                    .saturating_sub(u128::from(at - 1));
                since < lag.as_millis()
            }
        }
    }
}

pub(crate) struct ReadRouter<DB: Database> {
    replica: Option<Pool<DB>>,
    health: Arc<ReplicaHealth>,
    lag: Duration,
    recent_writers: DashMap<UserId, Instant>,
    last_write: std::sync::Mutex<Option<Instant>>,
}

impl<DB: Database> ReadRouter<DB> {
    pub(crate) fn new(replica: Option<Pool<DB>>, lag: Duration) -> Self {
        Self {
            replica,
            health: Arc::new(ReplicaHealth::new()),
            lag,
            recent_writers: DashMap::new(),
            last_write: std::sync::Mutex::new(None),
        }
    }

    /// The pool for a task read in `scope`: the replica when it cannot be behind this
    /// process's own recent writes, else `primary`.
    pub(crate) fn pool<'a>(&'a self, primary: &'a Pool<DB>, scope: Scope) -> &'a Pool<DB> {
        let Some(replica) = &self.replica else {
            return primary;
        };
        if !self.health.fresh(self.lag) {
            return primary;
        }
        let recent = |t: Instant| t.elapsed() < self.lag;
        let fresh_enough = match scope {
            Scope::Owner(owner) => !self.recent_writers.get(&owner).is_some_and(|t| recent(*t)),
            Scope::All => !self
                .last_write
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .is_some_and(recent),
        };
        if fresh_enough { replica } else { primary }
    }

    /// Records a task write of `owner` (call after every task write).
    pub(crate) fn wrote(&self, owner: UserId) {
        if self.replica.is_none() {
            return;
        }
        let now = Instant::now();
        if self.recent_writers.len() > PRUNE_ABOVE {
            self.recent_writers.retain(|_, t| t.elapsed() < self.lag);
        }
        self.recent_writers.insert(owner, now);
        *self.last_write.lock().unwrap_or_else(|e| e.into_inner()) = Some(now);
    }

    pub(crate) fn replica(&self) -> Option<&Pool<DB>> {
        self.replica.as_ref()
    }

    /// What the replica's monitor updates.
    pub(crate) fn health(&self) -> &Arc<ReplicaHealth> {
        &self.health
    }
}
