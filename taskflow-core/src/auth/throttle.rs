//! The login throttle: stops password guessing without letting anyone lock an account.
//!
//! Two budgets, both over a sliding window (default 15 minutes):
//! - **per (account, client address)**: after `per_address_failures` (5) failures that pair
//!   answers `rate_limited` until the oldest counted failure leaves the window. One address
//!   guessing cannot touch the owner, who logs in from another address.
//! - **per account, across addresses**: past `per_account_failures` (50) failures the
//!   account is not walled off but slowed. Attempts are admitted one at a time at slots
//!   spaced `first_delay` (1 s) apart, doubling with each further failure up to `max_delay`
//!   (60 s); an attempt before its slot gets `rate_limited` with a retry-after of at most
//!   `max_delay`. A correct password at a slot succeeds, so a distributed guess gets about
//!   one try a minute while the owner waits at most a minute. Attempts admitted whose
//!   outcome is not recorded yet count against the cap, so a burst fired at once gets no
//!   more.
//!
//! Addresses that recently logged in to an account (the newest `known_addresses` per
//! account, for `known_address_ttl`) skip the account-wide slots and keep only their pair
//! budget: the owner's usual address logs in at once even while the account is under a
//! distributed attack.
//!
//! Accounts are keyed by a SHA-256 digest of the normalised email whether or not the account
//! exists, so the answers do not reveal which accounts exist; pairs by a digest of the account
//! key and the address, which is also what "known address" stores, so no raw email or address
//! is held. IPv6 addresses count by their /64 (one host usually holds a whole /64), IPv4-mapped
//! IPv6 as IPv4, and a caller without an address (`None`) is one more address of its own.
//!
//! The state lives in the store ([`SharedState`]), so every instance over one database
//! spends the same budgets: N instances allow what one allows, not N times as much. Each
//! account has one record, under `login:` and the hex of its account key (never a raw email
//! or address), whose JSON value holds that account's pair failures, its budget (failures
//! and attempts in flight), its next slot and its known addresses, and whose expiry is the
//! latest time any part of it still matters (newest failure plus the window, an attempt in
//! flight plus 60 s, a known address plus its lifetime); an expired record counts as absent,
//! so no state means no restriction. The three operations, [`LoginThrottle::check`],
//! [`record_failure`](LoginThrottle::record_failure) and
//! [`record_success`](LoginThrottle::record_success), each read the record, decide with the
//! policy above and write the record back conditionally on the version read; when another
//! attempt on the same account wrote in between, the operation reads again and decides
//! again. After [`MAX_TRIES`] lost races in a row it fails closed: `rate_limited` with a
//! retry-after of 1 s, never an attempt admitted unaccounted. A store that cannot be reached
//! fails the attempt (`unavailable`), never admits it.
//!
//! Records stay small without a cap on them: each pair keeps only the newest
//! `per_address_failures` failures, the budget only the failures that still raise the delay,
//! the known addresses at most `known_addresses`; and the pairs of one account are bounded
//! by the account-wide cap itself, since every pair with a failure in the window spent one
//! of the account's admissions in it: at most `per_account_failures` admitted freely, plus
//! the slots one window holds (1 + 2 + 4 + 8 + 16 + 32 s, then one a minute: about 21 in 15
//! minutes), plus the known addresses, which skip the slots: about 76 pairs, under 10 KB of
//! JSON, with the defaults (the unit tests drive a distributed attack against the defaults
//! and check both). Records of accounts nobody tries any more expire, and each handle
//! purges expired records at most once a minute, on a failed attempt, so a spray of made-up
//! accounts leaves behind no more than the records of the last window and a minute.

use std::collections::{BTreeMap, VecDeque};
use std::fmt::Write as _;
use std::net::IpAddr;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::clock::to_millis;
use crate::error::{Error, Result, ValidationErrors};
use crate::store::SharedState;

/// Default failures per (account, client address) within the window.
pub const DEFAULT_LOGIN_MAX_FAILURES: u32 = 5;
/// Default failures per account across all addresses before attempts are spaced out.
pub const DEFAULT_LOGIN_ACCOUNT_MAX_FAILURES: u32 = 50;
/// Default window of both budgets (15 minutes).
pub const DEFAULT_LOGIN_WINDOW: Duration = Duration::from_secs(15 * 60);
/// Default spacing of the first slot past the account-wide cap.
pub const DEFAULT_LOGIN_FIRST_DELAY: Duration = Duration::from_secs(1);
/// Default longest spacing between slots past the account-wide cap.
pub const DEFAULT_LOGIN_MAX_DELAY: Duration = Duration::from_secs(60);
/// Default number of recent successful addresses remembered per account.
pub const DEFAULT_LOGIN_KNOWN_ADDRESSES: usize = 5;
/// Default time a successful address stays known (30 days, the default session lifetime).
pub const DEFAULT_LOGIN_KNOWN_ADDRESS_TTL: Duration = Duration::from_secs(30 * 24 * 3600);

/// Reads of one operation that lose the race to write the account's record before the
/// operation gives up and answers `rate_limited` (1 s).
pub const MAX_TRIES: usize = 16;
/// Least time between two purges of expired records by one handle.
const PURGE_EVERY: TimeDelta = TimeDelta::seconds(60);

/// The numbers of the login throttle (see
/// [`TaskFlowBuilder::login_throttle`](crate::TaskFlowBuilder::login_throttle)). The
/// defaults are the `DEFAULT_LOGIN_*` constants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginThrottleConfig {
    /// Failures per (account, client address) within `window` before that pair answers
    /// `rate_limited` (default 5).
    pub per_address_failures: u32,
    /// Failures per account within `window`, from all addresses together, past which
    /// attempts are admitted only at spaced slots (default 50).
    pub per_account_failures: u32,
    /// Sliding window of both budgets (default 15 minutes).
    pub window: Duration,
    /// Spacing after the failure that reaches the account-wide cap; each further failure
    /// doubles it (default 1 s).
    pub first_delay: Duration,
    /// Longest spacing (default 60 s): the most a person waits for a slot.
    pub max_delay: Duration,
    /// Addresses remembered per account after a successful login; they are exempt from the
    /// account-wide slots (default 5; 0 exempts none).
    pub known_addresses: usize,
    /// How long a successful address stays known (default 30 days).
    pub known_address_ttl: Duration,
}

impl Default for LoginThrottleConfig {
    fn default() -> Self {
        Self {
            per_address_failures: DEFAULT_LOGIN_MAX_FAILURES,
            per_account_failures: DEFAULT_LOGIN_ACCOUNT_MAX_FAILURES,
            window: DEFAULT_LOGIN_WINDOW,
            first_delay: DEFAULT_LOGIN_FIRST_DELAY,
            max_delay: DEFAULT_LOGIN_MAX_DELAY,
            known_addresses: DEFAULT_LOGIN_KNOWN_ADDRESSES,
            known_address_ttl: DEFAULT_LOGIN_KNOWN_ADDRESS_TTL,
        }
    }
}

impl LoginThrottleConfig {
    /// Adds a message per unusable number to `errors` (fields `login_throttle.*`).
    pub(crate) fn check(&self, errors: &mut ValidationErrors) {
        if self.per_address_failures == 0 {
            errors.add("login_throttle.per_address_failures", "must be at least 1");
        }
        if self.per_account_failures == 0 {
            errors.add("login_throttle.per_account_failures", "must be at least 1");
        }
        if self.window.is_zero() {
            errors.add("login_throttle.window", "must be positive");
        }
        if self.first_delay.is_zero() {
            errors.add("login_throttle.first_delay", "must be positive");
        }
        if self.max_delay < self.first_delay {
            errors.add("login_throttle.max_delay", "must be at least first_delay");
        }
    }
}

/// Which account a login names: a digest of its normalised email.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct AccountKey([u8; 32]);

impl AccountKey {
    /// The key of `email`, which the caller has normalised (`user::fold_email`).
    pub(crate) fn of(email: &str) -> Self {
        Self(Sha256::digest(email.as_bytes()).into())
    }

    /// The key of the account's [`SharedState`] record.
    fn record_key(&self) -> String {
        format!("login:{}", hex(&self.0))
    }
}

/// One (account, address) pair, as a digest.
type PairKey = [u8; 32];

fn pair_key(account: &AccountKey, addr: Option<IpAddr>) -> PairKey {
    let mut h = Sha256::new();
    h.update(account.0);
    match addr.map(|a| a.to_canonical()) {
        None => h.update([0u8]),
        Some(IpAddr::V4(v4)) => {
            h.update([4u8]);
            h.update(v4.octets());
        }
        Some(IpAddr::V6(v6)) => {
            h.update([6u8]);
            h.update(&v6.octets()[..8]);
        }
    }
    h.finalize().into()
}

fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
    out
}

fn unhex(text: &str) -> Option<[u8; 32]> {
    let mut out = [0u8; 32];
    if text.len() != 64 || !text.is_ascii() {
        return None;
    }
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}

/// Failure times, oldest first, of the newest failures that can still matter.
type Failures = VecDeque<DateTime<Utc>>;

/// How long an admitted attempt counts as in flight when neither its failure nor its
/// success is recorded (it ended in an error): far longer than a hash and a lookup take.
const IN_FLIGHT_FOR: TimeDelta = TimeDelta::seconds(60);

/// An account's failures, and its attempts admitted whose outcome is not known yet: both
/// count against the account-wide cap, so a burst of concurrent attempts from many
/// addresses cannot all pass the check before the first failure is recorded. (A pair's
/// budget counts failures only: concurrent logins of one account from one address are
/// normal, and an address's bursts meet the HTTP layer's per-IP limit.)
#[derive(Debug, Default, PartialEq)]
struct Budget {
    failures: Failures,
    /// Admission times, oldest first.
    in_flight: Failures,
}

impl Budget {
    fn expire(&mut self, window: TimeDelta, now: DateTime<Utc>) {
        expire(&mut self.failures, window, now);
        expire(&mut self.in_flight, IN_FLIGHT_FOR, now);
    }

    fn used(&self) -> usize {
        self.failures.len() + self.in_flight.len()
    }

    /// The outcome of one admitted attempt is known: it no longer counts as in flight.
    fn resolve(&mut self) {
        self.in_flight.pop_front();
    }
}

/// Newest success per known pair of one account, oldest first.
type Known = Vec<(PairKey, DateTime<Utc>)>;

/// Everything the throttle knows about one account: the value of its record.
#[derive(Debug, Default, PartialEq)]
struct AccountState {
    /// Failures per (account, address) pair.
    pairs: BTreeMap<PairKey, Failures>,
    budget: Budget,
    /// While the account is over its cap: the earliest time the next attempt from an
    /// address that is not known is admitted.
    next_slot: Option<DateTime<Utc>>,
    known: Known,
}

/// [`AccountState`] as its record's JSON: digests in hex, times in Unix milliseconds.
#[derive(Default, Serialize, Deserialize)]
struct Stored {
    #[serde(default)]
    pairs: Vec<(String, Vec<i64>)>,
    #[serde(default)]
    failures: Vec<i64>,
    #[serde(default)]
    in_flight: Vec<i64>,
    #[serde(default)]
    next_slot: Option<i64>,
    #[serde(default)]
    known: Vec<(String, i64)>,
}

fn corrupt(what: impl std::fmt::Display) -> Error {
    Error::internal(format!("corrupt login throttle record: {what}"))
}

fn from_millis(ms: i64) -> Result<DateTime<Utc>> {
    DateTime::from_timestamp_millis(ms).ok_or_else(|| corrupt(format!("time {ms}")))
}

fn digest(text: &str) -> Result<PairKey> {
    unhex(text).ok_or_else(|| corrupt(format!("digest {text:?}")))
}

fn times(ms: &[i64]) -> Result<Failures> {
    ms.iter().map(|&t| from_millis(t)).collect()
}

fn millis(times: &Failures) -> Vec<i64> {
    times.iter().map(DateTime::timestamp_millis).collect()
}

impl AccountState {
    fn decode(value: &str) -> Result<Self> {
        let stored: Stored = serde_json::from_str(value).map_err(corrupt)?;
        Ok(Self {
            pairs: stored
                .pairs
                .iter()
                .map(|(pair, ms)| Ok((digest(pair)?, times(ms)?)))
                .collect::<Result<_>>()?,
            budget: Budget {
                failures: times(&stored.failures)?,
                in_flight: times(&stored.in_flight)?,
            },
            next_slot: stored.next_slot.map(from_millis).transpose()?,
            known: stored
                .known
                .iter()
                .map(|(pair, at)| Ok((digest(pair)?, from_millis(*at)?)))
                .collect::<Result<_>>()?,
        })
    }

    /// The JSON of the record: the same state always encodes to the same text.
    fn encode(&self) -> String {
        let stored = Stored {
            pairs: self
                .pairs
                .iter()
                .map(|(pair, times)| (hex(pair), millis(times)))
                .collect(),
            failures: millis(&self.budget.failures),
            in_flight: millis(&self.budget.in_flight),
            next_slot: self.next_slot.map(|t| t.timestamp_millis()),
            known: self
                .known
                .iter()
                .map(|(pair, at)| (hex(pair), at.timestamp_millis()))
                .collect(),
        };
        serde_json::to_string(&stored).unwrap_or_default()
    }

    fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// See the [module docs](self).
pub(crate) struct LoginThrottle {
    per_address: usize,
    per_account: usize,
    /// Failures kept per account: past this many the delay no longer grows.
    account_keep: usize,
    window: TimeDelta,
    first_delay: TimeDelta,
    max_delay: TimeDelta,
    known_addresses: usize,
    known_ttl: TimeDelta,
    /// Unix milliseconds from which this handle's next failure purges expired records.
    next_purge: AtomicI64,
}

/// A configured duration as a `TimeDelta`, at most a century, so that adding it to a time
/// cannot overflow whatever the configuration says.
fn delta(d: Duration) -> TimeDelta {
    let century = TimeDelta::days(36_525);
    TimeDelta::from_std(d).map_or(century, |d| d.min(century))
}

fn expire(times: &mut Failures, window: TimeDelta, now: DateTime<Utc>) {
    while times.front().is_some_and(|t| *t + window <= now) {
        times.pop_front();
    }
}

/// `rate_limited` for `wait`, in whole seconds rounded up and at least one.
fn limited(wait: TimeDelta) -> Error {
    let millis = u64::try_from(wait.num_milliseconds()).unwrap_or(0);
    Error::RateLimited {
        retry_after: Duration::from_secs(millis.div_ceil(1000).max(1)),
    }
}

/// `t` rounded up to whole milliseconds (what stores keep), so a record never expires
/// before its content does.
fn ceil_millis(t: DateTime<Utc>) -> DateTime<Utc> {
    let down = to_millis(t);
    if down < t {
        down + TimeDelta::milliseconds(1)
    } else {
        down
    }
}

impl LoginThrottle {
    /// A throttle with `config`'s numbers (checked by the builder).
    pub(crate) fn new(config: &LoginThrottleConfig) -> Self {
        let per_account = config.per_account_failures.max(1) as usize;
        let first_delay = delta(config.first_delay).max(TimeDelta::milliseconds(1));
        let max_delay = delta(config.max_delay).max(first_delay);
        // How many doublings take the first delay to the longest.
        let mut doublings = 0;
        let mut d = first_delay;
        while d < max_delay && doublings < 63 {
            d = d.checked_mul(2).unwrap_or(TimeDelta::MAX);
            doublings += 1;
        }
        Self {
            per_address: config.per_address_failures.max(1) as usize,
            per_account,
            account_keep: per_account + doublings + 1,
            window: delta(config.window),
            first_delay,
            max_delay,
            known_addresses: config.known_addresses,
            known_ttl: delta(config.known_address_ttl),
            next_purge: AtomicI64::new(i64::MIN),
        }
    }

    /// Spacing to the next slot after `failures` failures in the window (at or past the cap).
    fn delay(&self, failures: usize) -> TimeDelta {
        let doublings = failures.saturating_sub(self.per_account).min(63) as u32;
        self.first_delay
            .checked_mul(2i32.checked_pow(doublings).unwrap_or(i32::MAX))
            .unwrap_or(TimeDelta::MAX)
            .min(self.max_delay)
    }

    /// Whether an attempt for `account` from `addr` may go ahead now; `rate_limited` with a
    /// retry-after when not. An admitted attempt counts against the account-wide cap until
    /// its failure or success is recorded, and past the cap it takes the slot, so concurrent
    /// attempts, through this handle or any other over the store, cannot share the cap or a
    /// slot.
    pub(crate) async fn check<S: SharedState + ?Sized>(
        &self,
        store: &S,
        account: &AccountKey,
        addr: Option<IpAddr>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let pair = pair_key(account, addr);
        self.update(store, account, now, |state| self.admit(state, &pair, now))
            .await
    }

    /// Counts a failed attempt against the pair and the account.
    pub(crate) async fn record_failure<S: SharedState + ?Sized>(
        &self,
        store: &S,
        account: &AccountKey,
        addr: Option<IpAddr>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let pair = pair_key(account, addr);
        self.update(store, account, now, |state| {
            self.fail(state, &pair, now);
            Ok(())
        })
        .await?;
        self.purge_now_and_then(store, now).await;
        Ok(())
    }

    /// A correct password from `addr`: the pair's failures are forgiven and the address
    /// becomes known to the account. The account-wide failures stay: they measure the
    /// attack, not this client.
    pub(crate) async fn record_success<S: SharedState + ?Sized>(
        &self,
        store: &S,
        account: &AccountKey,
        addr: Option<IpAddr>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let pair = pair_key(account, addr);
        self.update(store, account, now, |state| {
            self.succeed(state, &pair, now);
            Ok(())
        })
        .await
    }

    /// Reads the account's record, lets `decide` change it and writes it back if that
    /// changed it, conditionally on the version read; a lost race reads and decides again.
    /// When `decide` refuses, nothing is written: a refusal changes no state.
    async fn update<S: SharedState + ?Sized, T>(
        &self,
        store: &S,
        account: &AccountKey,
        now: DateTime<Utc>,
        decide: impl Fn(&mut AccountState) -> Result<T>,
    ) -> Result<T> {
        let key = account.record_key();
        for _ in 0..MAX_TRIES {
            let stored = store.get_shared(&key, now).await?;
            let mut state = match &stored {
                Some(record) => AccountState::decode(&record.value)?,
                None => AccountState::default(),
            };
            self.prune(&mut state, now);
            let outcome = decide(&mut state)?;
            let value = state.encode();
            let unchanged = match &stored {
                Some(record) => record.value == value,
                None => state.is_empty(),
            };
            if unchanged {
                return Ok(outcome);
            }
            let expected = stored.map(|record| record.version);
            let expires_at = self.expires_at(&state, now);
            if store
                .put_shared(&key, &value, expected, expires_at, now)
                .await?
                .is_some()
            {
                return Ok(outcome);
            }
        }
        tracing::warn!(
            tries = MAX_TRIES,
            "login throttle: every write of an account's record lost a race; refusing the attempt"
        );
        Err(limited(TimeDelta::seconds(1)))
    }

    /// Drops what no longer matters at `now`; the decisions are the same with or without it.
    fn prune(&self, state: &mut AccountState, now: DateTime<Utc>) {
        let window = self.window;
        state.pairs.retain(|_, times| {
            expire(times, window, now);
            !times.is_empty()
        });
        state.budget.expire(window, now);
        if state.next_slot.is_some_and(|slot| slot <= now) {
            state.next_slot = None;
        }
        let ttl = self.known_ttl;
        state.known.retain(|(_, at)| *at + ttl > now);
    }

    /// The latest time any part of `state` still matters (`now` when none does).
    fn expires_at(&self, state: &AccountState, now: DateTime<Utc>) -> DateTime<Utc> {
        let window = self.window;
        let latest = state
            .pairs
            .values()
            .filter_map(|times| times.back().map(|t| *t + window))
            .chain(state.budget.failures.back().map(|t| *t + window))
            .chain(state.budget.in_flight.back().map(|t| *t + IN_FLIGHT_FOR))
            .chain(state.next_slot)
            .chain(state.known.iter().map(|(_, at)| *at + self.known_ttl))
            .max()
            .unwrap_or(now);
        ceil_millis(latest.max(now))
    }

    /// Deletes expired records when this handle has not done so for [`PURGE_EVERY`].
    /// Housekeeping only: a failure is logged, and the attempt goes on.
    async fn purge_now_and_then<S: SharedState + ?Sized>(&self, store: &S, now: DateTime<Utc>) {
        let at = now.timestamp_millis();
        let due = self.next_purge.load(Ordering::Relaxed);
        if at < due
            || self
                .next_purge
                .compare_exchange(
                    due,
                    at.saturating_add(PURGE_EVERY.num_milliseconds()),
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                )
                .is_err()
        {
            return;
        }
        if let Err(error) = store.purge_shared(now).await {
            tracing::warn!(%error, "login throttle: purging expired records failed");
        }
    }

    /// The decision of [`check`](Self::check) on the account's state.
    fn admit(&self, state: &mut AccountState, pair: &PairKey, now: DateTime<Utc>) -> Result<()> {
        let window = self.window;
        if let Some(times) = state.pairs.get_mut(pair) {
            expire(times, window, now);
            if times.len() >= self.per_address {
                // Allowed again once the failure that completed the budget leaves the window.
                let blocker = times[times.len() - self.per_address];
                return Err(limited(blocker + window - now));
            }
        }
        if !self.is_known(state, pair, now) {
            state.budget.expire(window, now);
            let used = state.budget.used();
            if used >= self.per_account {
                if let Some(slot) = state.next_slot
                    && now < slot
                {
                    return Err(limited(slot - now));
                }
                state.next_slot = Some(now + self.delay(used));
            }
            state.budget.in_flight.push_back(now);
        }
        Ok(())
    }

    /// Whether `pair` logged in to the account recently: then it skips the account budget.
    fn is_known(&self, state: &AccountState, pair: &PairKey, now: DateTime<Utc>) -> bool {
        state
            .known
            .iter()
            .any(|(p, at)| p == pair && *at + self.known_ttl > now)
    }

    /// The change of [`record_failure`](Self::record_failure) to the account's state.
    fn fail(&self, state: &mut AccountState, pair: &PairKey, now: DateTime<Utc>) {
        let window = self.window;
        let known = self.is_known(state, pair, now);
        let times = state.pairs.entry(*pair).or_default();
        expire(times, window, now);
        times.push_back(now);
        // Only the newest `per_address` matter for the decision.
        while times.len() > self.per_address {
            times.pop_front();
        }
        let budget = &mut state.budget;
        budget.expire(window, now);
        if !known {
            budget.resolve();
        }
        budget.failures.push_back(now);
        while budget.failures.len() > self.account_keep {
            budget.failures.pop_front();
        }
        let used = budget.used();
        if used >= self.per_account {
            let slot = now + self.delay(used);
            state.next_slot = Some(state.next_slot.map_or(slot, |s| s.max(slot)));
        }
    }

    /// The change of [`record_success`](Self::record_success) to the account's state.
    fn succeed(&self, state: &mut AccountState, pair: &PairKey, now: DateTime<Utc>) {
        state.pairs.remove(pair);
        if !self.is_known(state, pair, now) {
            state.budget.resolve();
        }
        if self.known_addresses == 0 {
            return;
        }
        let ttl = self.known_ttl;
        state.known.retain(|(p, at)| p != pair && *at + ttl > now);
        state.known.push((*pair, now));
        if state.known.len() > self.known_addresses {
            state.known.remove(0);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::net::{Ipv4Addr, Ipv6Addr};
    use std::sync::Arc;
    use std::sync::atomic::AtomicUsize;

    use async_trait::async_trait;
    use chrono::TimeZone;

    use super::*;
    use crate::MemoryStore;
    use crate::store::SharedRecord;

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2030, 1, 1, 0, 0, 0).single().unwrap()
    }

    fn v4(last: u8) -> Option<IpAddr> {
        Some(IpAddr::V4(Ipv4Addr::new(203, 0, 113, last)))
    }

    fn retry(r: Result<()>) -> Duration {
        match r {
            Err(Error::RateLimited { retry_after }) => retry_after,
            other => panic!("expected rate_limited, got {other:?}"),
        }
    }

    /// A throttle for `a@example.com` over its own in-memory store.
    struct Subject {
        t: LoginThrottle,
        store: Arc<MemoryStore>,
        account: AccountKey,
    }

    impl Subject {
        fn new(config: &LoginThrottleConfig) -> Self {
            Self::over(config, Arc::new(MemoryStore::new()))
        }

        fn over(config: &LoginThrottleConfig, store: Arc<MemoryStore>) -> Self {
            Self {
                t: LoginThrottle::new(config),
                store,
                account: AccountKey::of("a@example.com"),
            }
        }

        async fn check(&self, addr: Option<IpAddr>, now: DateTime<Utc>) -> Result<()> {
            self.t.check(&*self.store, &self.account, addr, now).await
        }

        async fn fail(&self, addr: Option<IpAddr>, now: DateTime<Utc>) {
            self.t
                .record_failure(&*self.store, &self.account, addr, now)
                .await
                .unwrap();
        }

        async fn succeed(&self, addr: Option<IpAddr>, now: DateTime<Utc>) {
            self.t
                .record_success(&*self.store, &self.account, addr, now)
                .await
                .unwrap();
        }

        async fn record(&self, now: DateTime<Utc>) -> Option<SharedRecord> {
            self.store
                .get_shared(&self.account.record_key(), now)
                .await
                .unwrap()
        }

        async fn state(&self, now: DateTime<Utc>) -> AccountState {
            self.record(now)
                .await
                .map(|r| AccountState::decode(&r.value).unwrap())
                .unwrap_or_default()
        }
    }

    #[tokio::test]
    async fn huge_configured_durations_do_not_overflow() {
        let config = LoginThrottleConfig {
            window: Duration::MAX,
            max_delay: Duration::MAX,
            known_address_ttl: Duration::MAX,
            per_account_failures: 1,
            ..LoginThrottleConfig::default()
        };
        let s = Subject::new(&config);
        s.succeed(v4(1), t0()).await;
        s.check(v4(2), t0()).await.unwrap();
        s.fail(v4(2), t0()).await;
        retry(s.check(v4(3), t0()).await);
        s.check(v4(1), t0()).await.unwrap();
        // Doubling saturates instead of wrapping into a negative delay.
        for n in 1..100 {
            assert!(s.t.delay(n) >= s.t.delay(n - 1), "{n}");
        }
        // The record lives as long as its longest-lived part: a century at most.
        let record = s.record(t0()).await.unwrap();
        assert_eq!(record.expires_at, t0() + TimeDelta::days(36_525));
    }

    #[test]
    fn delays_double_from_the_cap_up_to_the_longest() {
        let t = LoginThrottle::new(&LoginThrottleConfig::default());
        let secs: Vec<i64> = (50..60).map(|n| t.delay(n).num_seconds()).collect();
        assert_eq!(secs, [1, 2, 4, 8, 16, 32, 60, 60, 60, 60]);
        // Enough failures are kept to reach the longest delay, and no more.
        assert_eq!(t.account_keep, 50 + 6 + 1);
        assert_eq!(t.delay(t.account_keep).num_seconds(), 60);
    }

    #[test]
    fn ipv6_counts_by_its_64_and_mapped_ipv4_as_ipv4() {
        let account = AccountKey::of("a@example.com");
        let a: Ipv6Addr = "2001:db8:1:2::1".parse().unwrap();
        let b: Ipv6Addr = "2001:db8:1:2:ffff::9".parse().unwrap();
        let c: Ipv6Addr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(
            pair_key(&account, Some(a.into())),
            pair_key(&account, Some(b.into()))
        );
        assert_ne!(
            pair_key(&account, Some(a.into())),
            pair_key(&account, Some(c.into()))
        );
        let mapped: Ipv6Addr = "::ffff:203.0.113.7".parse().unwrap();
        assert_eq!(
            pair_key(&account, Some(mapped.into())),
            pair_key(&account, v4(7))
        );
        assert_ne!(pair_key(&account, None), pair_key(&account, v4(7)));
        assert_ne!(
            pair_key(&account, v4(7)),
            pair_key(&AccountKey::of("b@example.com"), v4(7))
        );
    }

    #[tokio::test]
    async fn a_slot_admits_one_attempt_at_a_time() {
        let s = Subject::new(&LoginThrottleConfig::default());
        for i in 0..50u8 {
            s.check(v4(i), t0()).await.unwrap();
            s.fail(v4(i), t0()).await;
        }
        // The 50th failure opened a slot 1 s later.
        assert_eq!(retry(s.check(v4(100), t0()).await), Duration::from_secs(1));
        let at = t0() + TimeDelta::seconds(1);
        s.check(v4(100), at).await.unwrap();
        // The slot is taken until the attempt's outcome is known.
        assert_eq!(retry(s.check(v4(101), at).await), Duration::from_secs(1));
        s.fail(v4(100), at).await;
        assert_eq!(retry(s.check(v4(101), at).await), Duration::from_secs(2));
    }

    #[tokio::test]
    async fn attempts_in_flight_count_against_the_account_cap() {
        let s = Subject::new(&LoginThrottleConfig::default());
        // Concurrent logins of one account from one address are not held back.
        for _ in 0..10 {
            s.check(v4(1), t0()).await.unwrap();
        }
        // A burst from many addresses before any outcome is known: the account admits up
        // to its cap, plus the one attempt that takes the first slot, and no more.
        for i in 2..=41 {
            s.check(v4(i), t0()).await.unwrap();
        }
        s.check(v4(42), t0()).await.unwrap();
        assert_eq!(retry(s.check(v4(43), t0()).await), Duration::from_secs(1));
        // Outcomes free the places: after one more failure the next slot is 2 s away.
        s.fail(v4(2), t0()).await;
        assert_eq!(retry(s.check(v4(43), t0()).await), Duration::from_secs(2));
        // An attempt that never reports back (it ended in an error) frees its place later.
        let later = t0() + TimeDelta::seconds(61);
        s.check(v4(43), later).await.unwrap();
        s.check(v4(44), later).await.unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn a_concurrent_burst_gets_no_more_than_the_cap_and_one_slot() {
        let s = Arc::new(Subject::new(&LoginThrottleConfig::default()));
        let barrier = Arc::new(tokio::sync::Barrier::new(80));
        let attempts: Vec<_> = (0..80u8)
            .map(|i| {
                let (s, barrier) = (Arc::clone(&s), Arc::clone(&barrier));
                tokio::spawn(async move {
                    barrier.wait().await;
                    s.check(v4(i), t0()).await
                })
            })
            .collect();
        let mut admitted = 0;
        for attempt in attempts {
            match attempt.await.unwrap() {
                Ok(()) => admitted += 1,
                refused => {
                    retry(refused);
                }
            }
        }
        // Lost races are retried, or refused once too many are lost: never admitted
        // unaccounted.
        assert!(admitted <= 51, "{admitted} admitted");
        assert_eq!(s.state(t0()).await.budget.in_flight.len(), admitted);
    }

    #[tokio::test]
    async fn known_addresses_are_bounded_and_expire() {
        let config = LoginThrottleConfig {
            per_account_failures: 1,
            known_addresses: 2,
            ..LoginThrottleConfig::default()
        };
        let s = Subject::new(&config);
        for i in 1..=3 {
            s.succeed(v4(i), t0()).await;
        }
        s.fail(v4(9), t0()).await;
        // .1 was pushed out by .2 and .3; those skip the slot.
        retry(s.check(v4(1), t0()).await);
        s.check(v4(2), t0()).await.unwrap();
        s.check(v4(3), t0()).await.unwrap();
        let later = t0() + TimeDelta::days(31);
        s.fail(v4(9), later).await;
        retry(s.check(v4(3), later).await);
    }

    #[tokio::test]
    async fn handles_over_one_store_share_the_budgets() {
        let store = Arc::new(MemoryStore::new());
        let config = LoginThrottleConfig::default();
        let (a, b) = (
            Subject::over(&config, Arc::clone(&store)),
            Subject::over(&config, store),
        );
        for i in 0..5 {
            let s = if i % 2 == 0 { &a } else { &b };
            s.check(v4(1), t0()).await.unwrap();
            s.fail(v4(1), t0()).await;
        }
        retry(a.check(v4(1), t0()).await);
        retry(b.check(v4(1), t0()).await);
        // What one handle learns about known addresses the other honours too.
        a.succeed(v4(2), t0()).await;
        assert!(b.t.is_known(&b.state(t0()).await, &pair_key(&b.account, v4(2)), t0()));
    }

    #[tokio::test]
    async fn records_hold_digests_and_expire_when_nothing_in_them_matters() {
        let s = Subject::new(&LoginThrottleConfig::default());
        s.check(v4(1), t0()).await.unwrap();
        s.fail(v4(1), t0()).await;
        let record = s.record(t0()).await.unwrap();
        assert!(record.value.contains(&hex(&pair_key(&s.account, v4(1)))));
        for raw in ["a@example.com", "example", "203.0.113"] {
            assert!(!record.value.contains(raw), "{raw} in {}", record.value);
        }
        // Newest failure plus the window (the attempt was resolved by its failure).
        assert_eq!(record.expires_at, t0() + TimeDelta::minutes(15));
        assert_eq!(s.record(t0() + TimeDelta::minutes(15)).await, None);
        // An attempt whose outcome is never recorded keeps the record for 60 s.
        let later = t0() + TimeDelta::hours(1);
        s.check(v4(1), later).await.unwrap();
        let record = s.record(later).await.unwrap();
        assert_eq!(record.expires_at, later + TimeDelta::seconds(60));
        // A known address keeps it for the known-address lifetime.
        s.succeed(v4(1), later).await;
        let record = s.record(later).await.unwrap();
        assert_eq!(record.expires_at, later + TimeDelta::days(30));
        assert!(s.state(later).await.budget.in_flight.is_empty());
        // A known address's check changes nothing, so it writes nothing.
        s.check(v4(1), later).await.unwrap();
        assert_eq!(s.record(later).await.unwrap().version, record.version);
    }

    #[tokio::test]
    async fn a_distributed_attack_keeps_the_record_small() {
        // An attacker with an endless supply of addresses tries every 250 ms for 30
        // minutes (two windows), from a new address each time (the most pairs a record can get); in the
        // second run the owner's five known addresses fail too, as often as they can.
        let known = |i: i64| Some(IpAddr::V4(Ipv4Addr::new(198, 51, 100, (i % 5) as u8)));
        for owner_fails in [false, true] {
            let s = Subject::new(&LoginThrottleConfig::default());
            for i in 0..5 {
                s.succeed(known(i), t0()).await;
            }
            let (mut most_pairs, mut longest) = (0, 0);
            for step in 0..(30 * 60 * 4) {
                let now = t0() + TimeDelta::milliseconds(250 * step);
                let from = if step % 4 == 0 {
                    if !owner_fails {
                        continue;
                    }
                    known(step / 4)
                } else {
                    Some(IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + step as u32)))
                };
                if s.check(from, now).await.is_ok() {
                    s.fail(from, now).await;
                }
                let record = s.record(now).await.unwrap();
                let pairs = AccountState::decode(&record.value).unwrap().pairs.len();
                most_pairs = most_pairs.max(pairs);
                longest = longest.max(record.value.len());
            }
            assert!(most_pairs <= 76, "{most_pairs} pairs");
            assert!(longest <= 10_000, "{longest} bytes");
        }
    }

    #[tokio::test]
    async fn expired_records_are_purged_now_and_then() {
        let t = LoginThrottle::new(&LoginThrottleConfig::default());
        let store = MemoryStore::new();
        for i in 0..100 {
            let account = AccountKey::of(&format!("u{i}@example.com"));
            let at = t0() + TimeDelta::milliseconds(i64::from(i));
            t.record_failure(&store, &account, v4(1), at).await.unwrap();
        }
        let later = t0() + TimeDelta::minutes(16);
        let account = AccountKey::of("another@example.com");
        t.record_failure(&store, &account, v4(1), later)
            .await
            .unwrap();
        // The failure purged the 100 expired records; only its own is left.
        assert_eq!(
            store.purge_shared(t0() + TimeDelta::days(1)).await.unwrap(),
            1
        );
    }

    /// A store on which every conditional write loses.
    #[derive(Default)]
    struct AlwaysLosing {
        inner: MemoryStore,
        puts: AtomicUsize,
    }

    #[async_trait]
    impl SharedState for AlwaysLosing {
        async fn get_shared(&self, key: &str, now: DateTime<Utc>) -> Result<Option<SharedRecord>> {
            self.inner.get_shared(key, now).await
        }
        async fn put_shared(
            &self,
            _: &str,
            _: &str,
            _: Option<u64>,
            _: DateTime<Utc>,
            _: DateTime<Utc>,
        ) -> Result<Option<u64>> {
            self.puts.fetch_add(1, Ordering::Relaxed);
            Ok(None)
        }
        async fn purge_shared(&self, now: DateTime<Utc>) -> Result<u64> {
            self.inner.purge_shared(now).await
        }
    }

    #[tokio::test]
    async fn losing_every_race_fails_closed() {
        let t = LoginThrottle::new(&LoginThrottleConfig::default());
        let store = AlwaysLosing::default();
        let account = AccountKey::of("a@example.com");
        assert_eq!(
            retry(t.check(&store, &account, v4(1), t0()).await),
            Duration::from_secs(1)
        );
        assert_eq!(store.puts.load(Ordering::Relaxed), MAX_TRIES);
        retry(t.record_failure(&store, &account, v4(1), t0()).await);
        retry(t.record_success(&store, &account, v4(1), t0()).await);
    }
}
