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
//! State is per process and bounded: entries whose failures all left the window are pruned
//! as the maps grow, and each map holds at most [`MAX_TRACKED`] keys (past that, the entries
//! idle the longest are dropped). The three operations, [`LoginThrottle::check`],
//! [`record_failure`](LoginThrottle::record_failure) and
//! [`record_success`](LoginThrottle::record_success), take an account key and an address and
//! nothing else, so the state can move into the store unchanged in shape.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result, ValidationErrors};

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

/// Most keys each of the throttle's maps holds; past it the longest-idle entries go.
pub const MAX_TRACKED: usize = 100_000;
/// Below this many keys a map is never scanned for expired entries.
const PRUNE_ABOVE: usize = 10_000;

/// The numbers of the login throttle (see [`TaskFlowBuilder::login_throttle`](crate::TaskFlowBuilder::login_throttle)
/// (crate::TaskFlowBuilder::login_throttle)). The defaults are the `DEFAULT_LOGIN_*`
/// constants.
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
#[derive(Default)]
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

    fn alive(&self, window: TimeDelta, now: DateTime<Utc>) -> bool {
        self.failures.back().is_some_and(|t| *t + window > now)
            || self
                .in_flight
                .back()
                .is_some_and(|t| *t + IN_FLIGHT_FOR > now)
    }

    fn newest(&self) -> Option<DateTime<Utc>> {
        self.failures.back().max(self.in_flight.back()).copied()
    }
}

#[derive(Default)]
struct AccountState {
    budget: Budget,
    /// While the account is over its cap: the earliest time the next attempt from an
    /// address that is not known is admitted.
    next_slot: Option<DateTime<Utc>>,
}

/// Newest success per known pair of one account, oldest first.
type Known = Vec<(PairKey, DateTime<Utc>)>;

/// A map of digests to state that prunes expired entries as it grows and never holds more
/// than [`MAX_TRACKED`] keys.
struct Tracked<V> {
    map: HashMap<[u8; 32], V>,
    /// Size at which the next insert of a new key scans for expired entries first.
    prune_at: usize,
}

impl<V: Default> Tracked<V> {
    fn new() -> Self {
        Self {
            map: HashMap::new(),
            prune_at: PRUNE_ABOVE,
        }
    }

    /// The entry of `key`, created empty if missing. Before a new key is added to a full
    /// map, entries `alive` rejects are dropped; if that is not enough, those whose
    /// `newest` time is oldest go, down to three quarters of the cap. The scan happens
    /// only when the map has doubled since the last one (or reached the cap), so inserts
    /// stay amortised O(1).
    fn entry(
        &mut self,
        key: [u8; 32],
        alive: impl Fn(&V) -> bool,
        newest: impl Fn(&V) -> Option<DateTime<Utc>>,
    ) -> &mut V {
        if !self.map.contains_key(&key) && self.map.len() >= self.prune_at {
            self.map.retain(|_, v| alive(v));
            if self.map.len() >= MAX_TRACKED {
                let mut times: Vec<Option<DateTime<Utc>>> =
                    self.map.values().map(&newest).collect();
                let excess = self.map.len() - MAX_TRACKED * 3 / 4;
                let (_, cutoff, _) = times.select_nth_unstable(excess);
                let cutoff = *cutoff;
                self.map.retain(|_, v| newest(v) >= cutoff);
            }
            self.prune_at = (self.map.len() * 2).clamp(PRUNE_ABOVE, MAX_TRACKED);
        }
        self.map.entry(key).or_default()
    }
}

struct State {
    pairs: Tracked<Failures>,
    accounts: Tracked<AccountState>,
    known: Tracked<Known>,
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
    state: Mutex<State>,
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
            state: Mutex::new(State {
                pairs: Tracked::new(),
                accounts: Tracked::new(),
                known: Tracked::new(),
            }),
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

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether an attempt for `account` from `addr` may go ahead now; `rate_limited` with a
    /// retry-after when not. An admitted attempt counts against the account-wide cap until
    /// its failure or success is recorded, and past the cap it takes the slot, so concurrent
    /// attempts cannot share the cap or a slot.
    pub(crate) fn check(
        &self,
        account: &AccountKey,
        addr: Option<IpAddr>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let pair = pair_key(account, addr);
        let window = self.window;
        let mut state = self.lock();
        if let Some(times) = state.pairs.map.get_mut(&pair) {
            expire(times, window, now);
            if times.len() >= self.per_address {
                // Allowed again once the failure that completed the budget leaves the window.
                let blocker = times[times.len() - self.per_address];
                return Err(limited(blocker + window - now));
            }
        }
        if !self.is_known(&state, account, &pair, now) {
            let acct = state.accounts.entry(
                account.0,
                |a| a.budget.alive(window, now),
                |a| a.budget.newest(),
            );
            acct.budget.expire(window, now);
            let used = acct.budget.used();
            if used >= self.per_account {
                if let Some(slot) = acct.next_slot
                    && now < slot
                {
                    return Err(limited(slot - now));
                }
                acct.next_slot = Some(now + self.delay(used));
            }
            acct.budget.in_flight.push_back(now);
        }
        Ok(())
    }

    /// Whether `pair` logged in to `account` recently: then it skips the account budget.
    fn is_known(
        &self,
        state: &State,
        account: &AccountKey,
        pair: &PairKey,
        now: DateTime<Utc>,
    ) -> bool {
        state.known.map.get(&account.0).is_some_and(|known| {
            known
                .iter()
                .any(|(p, at)| p == pair && *at + self.known_ttl > now)
        })
    }

    /// Counts a failed attempt against the pair and the account.
    pub(crate) fn record_failure(
        &self,
        account: &AccountKey,
        addr: Option<IpAddr>,
        now: DateTime<Utc>,
    ) {
        let pair = pair_key(account, addr);
        let window = self.window;
        let mut state = self.lock();
        let known = self.is_known(&state, account, &pair, now);
        let times = state.pairs.entry(
            pair,
            |t| t.back().is_some_and(|t| *t + window > now),
            |t| t.back().copied(),
        );
        expire(times, window, now);
        times.push_back(now);
        // Only the newest `per_address` matter for the decision.
        while times.len() > self.per_address {
            times.pop_front();
        }
        let acct = state.accounts.entry(
            account.0,
            |a| a.budget.alive(window, now),
            |a| a.budget.newest(),
        );
        let budget = &mut acct.budget;
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
            acct.next_slot = Some(acct.next_slot.map_or(slot, |s| s.max(slot)));
        }
    }

    /// A correct password from `addr`: the pair's failures are forgiven and the address
    /// becomes known to the account. The account-wide failures stay: they measure the
    /// attack, not this client.
    pub(crate) fn record_success(
        &self,
        account: &AccountKey,
        addr: Option<IpAddr>,
        now: DateTime<Utc>,
    ) {
        let pair = pair_key(account, addr);
        let mut state = self.lock();
        state.pairs.map.remove(&pair);
        if !self.is_known(&state, account, &pair, now)
            && let Some(acct) = state.accounts.map.get_mut(&account.0)
        {
            acct.budget.resolve();
        }
        if self.known_addresses == 0 {
            return;
        }
        let ttl = self.known_ttl;
        let known = state.known.entry(
            account.0,
            |k| k.iter().any(|(_, at)| *at + ttl > now),
            |k| k.last().map(|(_, at)| *at),
        );
        known.retain(|(p, at)| *p != pair && *at + ttl > now);
        known.push((pair, now));
        if known.len() > self.known_addresses {
            known.remove(0);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::net::{Ipv4Addr, Ipv6Addr};

    use chrono::TimeZone;

    use super::*;

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

    #[test]
    fn huge_configured_durations_do_not_overflow() {
        let config = LoginThrottleConfig {
            window: Duration::MAX,
            max_delay: Duration::MAX,
            known_address_ttl: Duration::MAX,
            per_account_failures: 1,
            ..LoginThrottleConfig::default()
        };
        let t = LoginThrottle::new(&config);
        let account = AccountKey::of("a@example.com");
        t.record_success(&account, v4(1), t0());
        t.check(&account, v4(2), t0()).unwrap();
        t.record_failure(&account, v4(2), t0());
        retry(t.check(&account, v4(3), t0()));
        t.check(&account, v4(1), t0()).unwrap();
        // Doubling saturates instead of wrapping into a negative delay.
        for n in 1..100 {
            assert!(t.delay(n) >= t.delay(n - 1), "{n}");
        }
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

    #[test]
    fn a_slot_admits_one_attempt_at_a_time() {
        let t = LoginThrottle::new(&LoginThrottleConfig::default());
        let account = AccountKey::of("a@example.com");
        for i in 0..50u8 {
            t.check(&account, v4(i), t0()).unwrap();
            t.record_failure(&account, v4(i), t0());
        }
        // The 50th failure opened a slot 1 s later.
        assert_eq!(
            retry(t.check(&account, v4(100), t0())),
            Duration::from_secs(1)
        );
        let at = t0() + TimeDelta::seconds(1);
        t.check(&account, v4(100), at).unwrap();
        // The slot is taken until the attempt's outcome is known.
        assert_eq!(
            retry(t.check(&account, v4(101), at)),
            Duration::from_secs(1)
        );
        t.record_failure(&account, v4(100), at);
        assert_eq!(
            retry(t.check(&account, v4(101), at)),
            Duration::from_secs(2)
        );
    }

    #[test]
    fn attempts_in_flight_count_against_the_account_cap() {
        let t = LoginThrottle::new(&LoginThrottleConfig::default());
        let account = AccountKey::of("a@example.com");
        // Concurrent logins of one account from one address are not held back.
        for _ in 0..10 {
            t.check(&account, v4(1), t0()).unwrap();
        }
        // A burst from many addresses before any outcome is known: the account admits up
        // to its cap, plus the one attempt that takes the first slot, and no more.
        for i in 2..=41 {
            t.check(&account, v4(i), t0()).unwrap();
        }
        t.check(&account, v4(42), t0()).unwrap();
        assert_eq!(
            retry(t.check(&account, v4(43), t0())),
            Duration::from_secs(1)
        );
        // Outcomes free the places: after one more failure the next slot is 2 s away.
        t.record_failure(&account, v4(2), t0());
        assert_eq!(
            retry(t.check(&account, v4(43), t0())),
            Duration::from_secs(2)
        );
        // An attempt that never reports back (it ended in an error) frees its place later.
        let later = t0() + TimeDelta::seconds(61);
        t.check(&account, v4(43), later).unwrap();
        t.check(&account, v4(44), later).unwrap();
    }

    #[test]
    fn known_addresses_are_bounded_and_expire() {
        let config = LoginThrottleConfig {
            per_account_failures: 1,
            known_addresses: 2,
            ..LoginThrottleConfig::default()
        };
        let t = LoginThrottle::new(&config);
        let account = AccountKey::of("a@example.com");
        for i in 1..=3 {
            t.record_success(&account, v4(i), t0());
        }
        t.record_failure(&account, v4(9), t0());
        // .1 was pushed out by .2 and .3; those skip the slot.
        retry(t.check(&account, v4(1), t0()));
        t.check(&account, v4(2), t0()).unwrap();
        t.check(&account, v4(3), t0()).unwrap();
        let later = t0() + TimeDelta::days(31);
        t.record_failure(&account, v4(9), later);
        retry(t.check(&account, v4(3), later));
    }

    #[test]
    fn maps_stay_bounded_under_a_spray_of_accounts() {
        let t = LoginThrottle::new(&LoginThrottleConfig::default());
        for i in 0..(MAX_TRACKED as u32 + 5_000) {
            let account = AccountKey::of(&format!("u{i}@example.com"));
            let at = t0() + TimeDelta::milliseconds(i64::from(i));
            t.record_failure(&account, v4(1), at);
        }
        let state = t.lock();
        assert!(state.pairs.map.len() <= MAX_TRACKED);
        assert!(state.accounts.map.len() <= MAX_TRACKED);
        // The newest entries are the ones kept.
        let newest = AccountKey::of(&format!("u{}@example.com", MAX_TRACKED as u32 + 4_999));
        assert!(state.accounts.map.contains_key(&newest.0));
    }
}
