//! Per-account login throttle: after `max_failures` failed logins within `window`, further
//! attempts for that email are refused until the oldest counted failure leaves the window.
//! Keyed by normalised email whether or not the account exists, so the throttle does not
//! reveal which accounts exist. State is per process. Keys are SHA-256 digests of the email,
//! so an attacker sending huge made-up emails holds 32 bytes per entry, not their input.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use chrono::{DateTime, TimeDelta, Utc};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// Above this many tracked emails, entries with no failure in the window are dropped.
const PRUNE_ABOVE: usize = 10_000;

pub(crate) struct LoginThrottle {
    max_failures: usize,
    window: TimeDelta,
    failures: Mutex<HashMap<[u8; 32], VecDeque<DateTime<Utc>>>>,
}

impl LoginThrottle {
    pub(crate) fn new(max_failures: u32, window: TimeDelta) -> Self {
        Self {
            max_failures: max_failures.max(1) as usize,
            window,
            failures: Mutex::new(HashMap::new()),
        }
    }

    /// `rate_limited` while the account has too many recent failures.
    pub(crate) fn check(&self, email: &str, now: DateTime<Utc>) -> Result<()> {
        let mut map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        let Some(times) = map.get_mut(&key_of(email)) else {
            return Ok(());
        };
        self.expire(times, now);
        if times.len() < self.max_failures {
            return Ok(());
        }
        // Allowed again once the failure that completed the limit leaves the window.
        let blocker = times[times.len() - self.max_failures];
        let wait = (blocker + self.window - now).to_std().unwrap_or_default();
        Err(Error::RateLimited {
            retry_after: wait.max(std::time::Duration::from_secs(1)),
        })
    }

    pub(crate) fn record_failure(&self, email: &str, now: DateTime<Utc>) {
        let mut map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() > PRUNE_ABOVE {
            let cutoff = now - self.window;
            map.retain(|_, times| times.back().is_some_and(|t| *t > cutoff));
        }
        let times = map.entry(key_of(email)).or_default();
        self.expire(times, now);
        times.push_back(now);
        // Only the newest `max_failures` matter for the decision.
        while times.len() > self.max_failures {
            times.pop_front();
        }
    }

    pub(crate) fn clear(&self, email: &str) {
        self.failures
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&key_of(email));
    }

    fn expire(&self, times: &mut VecDeque<DateTime<Utc>>, now: DateTime<Utc>) {
        while times.front().is_some_and(|t| *t + self.window <= now) {
            times.pop_front();
        }
    }
}

fn key_of(email: &str) -> [u8; 32] {
    Sha256::digest(email.as_bytes()).into()
}
