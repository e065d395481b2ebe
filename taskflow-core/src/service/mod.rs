//! The [`TaskFlow`] handle and its builder. Every operation checks the caller's permissions
//! here, in core, so every frontend enforces the same rules.

mod auth;
mod changes;
mod optimistic;
mod tasks;
mod users;

pub use changes::{
    DEFAULT_CHANGES_LIMIT, EVENT_TICKET_TTL, Event, EventStream, EventTicket, MAX_CHANGES_LIMIT,
    TaskChange, TaskChangeKind, TaskChanges,
};
pub use tasks::MAX_BULK_IDS;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};

use crate::auth::password::Passwords;
use crate::auth::refresh::RefreshTokens;
use crate::auth::throttle::{LoginThrottle, LoginThrottleConfig};
use crate::auth::tokens::TokenSigner;
use crate::auth::{JwtAlgorithm, PasswordParams};
use crate::cache::{Cache, CacheMetrics, Cached};
use crate::changes::{DEFAULT_CHANGE_RETENTION, Follower, FollowerConfig, FollowerStatus};
use crate::clock::{Clock, SystemClock, to_millis};
use crate::error::{Error, Result, ValidationErrors};
use crate::rbac::{Permission, Policy, Role};
use crate::store::Store;

/// Default access-token lifetime (15 minutes).
pub const DEFAULT_ACCESS_TTL: Duration = Duration::from_secs(15 * 60);
/// Default refresh-token lifetime (7 days).
pub const DEFAULT_REFRESH_TTL: Duration = Duration::from_secs(7 * 24 * 3600);
/// Default absolute session lifetime (30 days): rotation extends a session up to this
/// long after its login, then the user logs in again (ASVS 5.0 7.3.2).
pub const DEFAULT_SESSION_LIFETIME: Duration = Duration::from_secs(30 * 24 * 3600);

/// The TaskFlow library handle: cheap to clone, safe to share between threads and tasks.
///
/// Built with [`TaskFlow::builder`]. Every operation except registration, login, refresh,
/// authentication and the trusted [`create_admin`](TaskFlow::create_admin) takes the
/// [`Principal`](crate::Principal) that asks.
#[derive(Clone)]
pub struct TaskFlow {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn Store>,
    /// The store without the cache, for answers that must not come from a cache entry
    /// the follower has yet to invalidate: whether a stream's session still stands, read
    /// right after the log showed it may have ended.
    uncached_store: Arc<dyn Store>,
    signer: TokenSigner,
    refresh_tokens: RefreshTokens,
    passwords: Arc<Passwords>,
    throttle: LoginThrottle,
    clock: Arc<dyn Clock>,
    policy: Policy,
    refresh_ttl: TimeDelta,
    session_lifetime: TimeDelta,
    cache_metrics: Option<Arc<CacheMetrics>>,
    /// Follows the change log for the cache and the event streams (`None` when built
    /// outside a tokio runtime, or with following switched off).
    follower: Option<Follower>,
    change_retention: TimeDelta,
}

impl std::fmt::Debug for TaskFlow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TaskFlow")
            .field("roles", &self.inner.policy.roles())
            .finish_non_exhaustive()
    }
}

impl TaskFlow {
    /// Starts configuring a handle.
    pub fn builder() -> TaskFlowBuilder {
        TaskFlowBuilder::default()
    }

    /// Checks that the store answers.
    pub async fn ping(&self) -> Result<()> {
        self.inner.store.ping().await
    }

    /// Deletes sessions whose refresh token expired; returns how many. Call it now and then
    /// (stores with TTL indexes also expire them on their own).
    pub async fn purge_expired_sessions(&self) -> Result<u64> {
        self.inner.store.purge_expired_sessions(self.now()).await
    }

    /// The RBAC policy in force.
    pub fn policy(&self) -> &Policy {
        &self.inner.policy
    }

    /// The store in use (wrapped by the cache when one is configured).
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.inner.store
    }

    /// Hit and miss counters of the cache, when one is configured.
    pub fn cache_metrics(&self) -> Option<&CacheMetrics> {
        self.inner.cache_metrics.as_deref()
    }

    /// What the change-log follower has done (lag, events applied), when one runs.
    pub fn follower_status(&self) -> Option<&Arc<FollowerStatus>> {
        self.inner.follower.as_ref().map(Follower::status)
    }

    /// Lifetime of access tokens.
    pub fn access_ttl(&self) -> Duration {
        self.inner.signer.ttl.to_std().unwrap_or_default()
    }

    fn now(&self) -> DateTime<Utc> {
        to_millis(self.inner.clock.now())
    }
}

/// Configures a [`TaskFlow`]. A store and a JWT secret of at least 32 bytes are required.
pub struct TaskFlowBuilder {
    store: Option<Arc<dyn Store>>,
    cache: Option<Arc<dyn Cache>>,
    jwt_secret: Option<Vec<u8>>,
    jwt_algorithm: JwtAlgorithm,
    issuer: String,
    audience: String,
    access_ttl: Duration,
    refresh_ttl: Duration,
    session_lifetime: Duration,
    password_params: PasswordParams,
    max_concurrent_hashes: Option<usize>,
    login_throttle: LoginThrottleConfig,
    clock: Arc<dyn Clock>,
    policy: Policy,
    follow: Option<FollowerConfig>,
    change_retention: Duration,
}

impl Default for TaskFlowBuilder {
    fn default() -> Self {
        Self {
            store: None,
            cache: None,
            jwt_secret: None,
            jwt_algorithm: JwtAlgorithm::default(),
            issuer: "taskflow".to_owned(),
            audience: "taskflow-api".to_owned(),
            access_ttl: DEFAULT_ACCESS_TTL,
            refresh_ttl: DEFAULT_REFRESH_TTL,
            session_lifetime: DEFAULT_SESSION_LIFETIME,
            password_params: PasswordParams::default(),
            max_concurrent_hashes: None,
            login_throttle: LoginThrottleConfig::default(),
            clock: Arc::new(SystemClock),
            policy: Policy::default(),
            follow: Some(FollowerConfig::default()),
            change_retention: DEFAULT_CHANGE_RETENTION,
        }
    }
}

impl TaskFlowBuilder {
    /// The backend (required).
    pub fn store(mut self, store: impl Store) -> Self {
        self.store = Some(Arc::new(store));
        self
    }

    /// The backend, already shared.
    pub fn shared_store(mut self, store: Arc<dyn Store>) -> Self {
        self.store = Some(store);
        self
    }

    /// Puts a read-through cache in front of the store (none by default).
    pub fn cache(mut self, cache: impl Cache) -> Self {
        self.cache = Some(Arc::new(cache));
        self
    }

    /// Shares a cache already behind an `Arc` (e.g. one whose metrics the caller reads).
    pub fn shared_cache(mut self, cache: Arc<dyn Cache>) -> Self {
        self.cache = Some(cache);
        self
    }

    /// HMAC secret for access tokens (required): random, and at least as long as the
    /// algorithm's hash: 32 bytes for HS256, 48 for HS384, 64 for HS512.
    pub fn jwt_secret(mut self, secret: impl AsRef<[u8]>) -> Self {
        self.jwt_secret = Some(secret.as_ref().to_vec());
        self
    }

    /// Signature algorithm (HS256 by default).
    pub fn jwt_algorithm(mut self, algorithm: JwtAlgorithm) -> Self {
        self.jwt_algorithm = algorithm;
        self
    }

    /// `iss` claim issued and required (default `taskflow`).
    pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuer = issuer.into();
        self
    }

    /// `aud` claim issued and required (default `taskflow-api`).
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audience = audience.into();
        self
    }

    /// Access-token lifetime (default 15 minutes).
    pub fn access_ttl(mut self, ttl: Duration) -> Self {
        self.access_ttl = ttl;
        self
    }

    /// Refresh-token lifetime (default 7 days); must not be shorter than the access TTL.
    pub fn refresh_ttl(mut self, ttl: Duration) -> Self {
        self.refresh_ttl = ttl;
        self
    }

    /// Absolute session lifetime (default 30 days): however often a session's refresh
    /// token is rotated, the session ends this long after its login. Must not be shorter
    /// than the refresh TTL.
    pub fn session_lifetime(mut self, lifetime: Duration) -> Self {
        self.session_lifetime = lifetime;
        self
    }

    /// Argon2id parameters for new hashes (default m = 19 MiB, t = 2, p = 1).
    pub fn password_params(mut self, params: PasswordParams) -> Self {
        self.password_params = params;
        self
    }

    /// How many password hashes may run at once (default: the number of CPUs).
    pub fn max_concurrent_hashes(mut self, n: usize) -> Self {
        self.max_concurrent_hashes = Some(n);
        self
    }

    /// The login throttle's numbers (default: 5 failures per (account, client address)
    /// per 15 minutes; past 50 failures per account per 15 minutes, attempts from addresses
    /// without a recent login are spaced 1 s, 2 s, 4 s … up to 60 s apart). See
    /// [`LoginThrottleConfig`].
    pub fn login_throttle(mut self, config: LoginThrottleConfig) -> Self {
        self.login_throttle = config;
        self
    }

    /// How this instance follows the change log (default: [`FollowerConfig::default`]),
    /// or `None` not to. Following keeps the cache coherent with writes made through other
    /// instances and wakes event streams; it starts when [`build`](Self::build) runs inside
    /// a tokio runtime (outside one there is no follower: the cache is then coherent only
    /// with this process's writes, and streams poll the store).
    pub fn follow_changes(mut self, config: Option<FollowerConfig>) -> Self {
        self.follow = config;
        self
    }

    /// How long change-log events are kept (default 7 days); see
    /// [`TaskFlow::prune_changes`].
    pub fn change_retention(mut self, retention: Duration) -> Self {
        self.change_retention = retention;
        self
    }

    /// Time source (tests use [`ManualClock`](crate::ManualClock)).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Defines a role (or redefines a built-in one) with its permissions.
    pub fn role(
        mut self,
        name: impl AsRef<str>,
        permissions: impl IntoIterator<Item = Permission>,
    ) -> Self {
        self.policy.set_role(Role::new(name), permissions);
        self
    }

    /// Checks the configuration and builds the handle.
    pub fn build(self) -> Result<TaskFlow> {
        let mut errors = ValidationErrors::new();
        if self.store.is_none() {
            errors.add("store", "is required");
        }
        let access_ttl = TimeDelta::from_std(self.access_ttl).unwrap_or(TimeDelta::MAX);
        let refresh_ttl = TimeDelta::from_std(self.refresh_ttl).unwrap_or(TimeDelta::MAX);
        if access_ttl < TimeDelta::seconds(1) {
            errors.add("access_ttl", "must be at least 1 second");
        }
        if refresh_ttl < access_ttl {
            errors.add("refresh_ttl", "must be at least the access-token lifetime");
        }
        let session_lifetime = TimeDelta::from_std(self.session_lifetime).unwrap_or(TimeDelta::MAX);
        if session_lifetime < refresh_ttl {
            errors.add(
                "session_lifetime",
                "must be at least the refresh-token lifetime",
            );
        }
        self.login_throttle.check(&mut errors);
        if let Some(follow) = &self.follow {
            if follow.poll_interval.is_zero() {
                errors.add("follow_changes.poll_interval", "must be positive");
            }
            if follow.stale_after < follow.poll_interval {
                errors.add(
                    "follow_changes.stale_after",
                    "must be at least the poll interval",
                );
            }
        }
        let change_retention = TimeDelta::from_std(self.change_retention).unwrap_or(TimeDelta::MAX);
        if change_retention < TimeDelta::minutes(1) {
            errors.add("change_retention", "must be at least a minute");
        }
        let signer = match &self.jwt_secret {
            None => {
                errors.add("jwt_secret", "is required");
                None
            }
            Some(secret) => match TokenSigner::new(
                secret,
                self.jwt_algorithm,
                self.issuer,
                self.audience,
                access_ttl,
            ) {
                Ok(s) => Some(s),
                Err(Error::Validation(v)) => {
                    for (field, messages) in v.fields() {
                        for m in messages {
                            errors.add(field.clone(), m.clone());
                        }
                    }
                    None
                }
                Err(e) => return Err(e),
            },
        };
        let hashes = self.max_concurrent_hashes.unwrap_or_else(|| {
            std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get)
        });
        let passwords = match Passwords::new(self.password_params, hashes) {
            Ok(p) => Some(p),
            Err(_) => {
                errors.add("password_params", "are not valid argon2 parameters");
                None
            }
        };
        errors.into_result()?;
        let refresh_tokens = RefreshTokens::new(self.jwt_secret.as_deref().unwrap_or_default())?;
        let (Some(store), Some(signer), Some(passwords)) = (self.store, signer, passwords) else {
            return Err(Error::internal(
                "builder validation let a missing part through",
            ));
        };
        let follow = self
            .follow
            .filter(|_| tokio::runtime::Handle::try_current().is_ok());
        let status = follow.as_ref().map(Follower::status_for);
        let uncached_store = Arc::clone(&store);
        let (store, cached, cache_metrics): (Arc<dyn Store>, _, _) = match self.cache {
            Some(cache) => {
                let mut cached = Cached::new(store, cache);
                if let Some(status) = &status {
                    cached = cached.trust_only_while(Arc::clone(status));
                }
                let metrics = cached.metrics();
                let cached = Arc::new(cached);
                (
                    Arc::clone(&cached) as Arc<dyn Store>,
                    Some(cached),
                    Some(metrics),
                )
            }
            None => (store, None, None),
        };
        let follower = follow.zip(status).map(|(config, status)| {
            Follower::spawn(Arc::clone(&uncached_store), cached, status, config)
        });
        Ok(TaskFlow {
            inner: Arc::new(Inner {
                store,
                uncached_store,
                signer,
                refresh_tokens,
                passwords: Arc::new(passwords),
                throttle: LoginThrottle::new(&self.login_throttle),
                clock: self.clock,
                policy: self.policy,
                refresh_ttl,
                session_lifetime,
                cache_metrics,
                follower,
                change_retention,
            }),
        })
    }
}
