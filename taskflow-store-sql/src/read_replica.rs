//! Read routing between the primary and the optional read replica: the replica serves task
//! gets, listings and stats, except for owners (or, for all-owner reads, anyone) who wrote
//! within the replica lag, so a caller always reads their own writes. Authentication and
//! read-modify-write reads always use the primary.

use std::time::{Duration, Instant};

use dashmap::DashMap;
use sqlx::{Database, Pool};
use taskflow_core::{Scope, UserId};

/// Above this many tracked owners, entries older than the lag are dropped.
const PRUNE_ABOVE: usize = 10_000;

pub(crate) struct ReadRouter<DB: Database> {
    replica: Option<Pool<DB>>,
    lag: Duration,
    recent_writers: DashMap<UserId, Instant>,
    last_write: std::sync::Mutex<Option<Instant>>,
}

impl<DB: Database> ReadRouter<DB> {
    pub(crate) fn new(replica: Option<Pool<DB>>, lag: Duration) -> Self {
        Self {
            replica,
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
}
