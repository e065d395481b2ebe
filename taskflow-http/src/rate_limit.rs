//! GCRA rate limits (governor): per client IP on every API route, a stricter one per IP on
//! `/auth/login` and `/auth/register`, and per user on authenticated routes.
//!
//! Answers carry the IETF `RateLimit-Policy` / `RateLimit` headers
//! (draft-ietf-httpapi-ratelimit-headers) of the tightest limit that applied, and `429` adds
//! `Retry-After`.

use std::hash::Hash;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::middleware::StateInformationMiddleware;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};
use poem::http::{HeaderName, HeaderValue};
use poem::{Endpoint, IntoResponse, Middleware, Request, Response};
use taskflow_core::{Principal, UserId};

use crate::client_ip::ClientIp;
use crate::problem::{self, ApiError};
use crate::request_id::RequestId;

const RATELIMIT_POLICY: HeaderName = HeaderName::from_static("ratelimit-policy");
const RATELIMIT: HeaderName = HeaderName::from_static("ratelimit");

type Keyed<K> = RateLimiter<K, DefaultKeyedStateStore<K>, DefaultClock, StateInformationMiddleware>;

/// One keyed limit with the name it has in the headers.
struct Limit<K: Hash + Eq + Clone> {
    name: &'static str,
    per_minute: u32,
    limiter: Keyed<K>,
}

/// Outcome of a passed check, for the response headers.
#[derive(Clone, Copy)]
struct Passed {
    name: &'static str,
    per_minute: u32,
    remaining: u32,
    reset: Duration,
}

impl<K: Hash + Eq + Clone> Limit<K> {
    fn new(name: &'static str, per_minute: u32) -> Option<Self> {
        let n = NonZeroU32::new(per_minute)?;
        Some(Self {
            name,
            per_minute,
            limiter: RateLimiter::keyed(Quota::per_minute(n))
                .with_middleware::<StateInformationMiddleware>(),
        })
    }

    fn check(&self, key: &K) -> Result<Passed, ApiError> {
        match self.limiter.check_key(key) {
            Ok(snapshot) => {
                let quota = snapshot.quota();
                let remaining = snapshot.remaining_burst_capacity();
                let used = quota.burst_size().get().saturating_sub(remaining);
                Ok(Passed {
                    name: self.name,
                    per_minute: self.per_minute,
                    remaining,
                    reset: quota.replenish_interval() * used,
                })
            }
            Err(not_until) => {
                let wait = not_until.wait_time_from(DefaultClock::default().now());
                let passed = Passed {
                    name: self.name,
                    per_minute: self.per_minute,
                    remaining: 0,
                    reset: wait,
                };
                let (policy, current) = passed.headers();
                Err(ApiError::rate_limited(wait)
                    .with_header(RATELIMIT_POLICY, policy)
                    .with_header(RATELIMIT, current))
            }
        }
    }
}

impl Passed {
    fn headers(&self) -> (HeaderValue, HeaderValue) {
        let policy = format!("\"{}\";q={};w=60", self.name, self.per_minute);
        let current = format!(
            "\"{}\";r={};t={}",
            self.name,
            self.remaining,
            self.reset.as_secs_f64().ceil() as u64
        );
        (
            HeaderValue::from_str(&policy).expect("ascii"),
            HeaderValue::from_str(&current).expect("ascii"),
        )
    }

    /// The limit closer to exhaustion, by share of the quota left.
    fn tighter(self, other: Passed) -> Passed {
        let share = |p: &Passed| p.remaining as f64 / p.per_minute.max(1) as f64;
        if share(&other) < share(&self) {
            other
        } else {
            self
        }
    }
}

/// The configured limits, shared by the middleware and the bearer checker.
#[derive(Clone)]
pub struct Limits(Arc<LimitsInner>);

struct LimitsInner {
    last_prune: std::sync::Mutex<std::time::Instant>,
    per_ip: Option<Limit<IpAddr>>,
    auth_per_ip: Option<Limit<IpAddr>>,
    per_user: Option<Limit<UserId>>,
}

impl Limits {
    /// Requests per minute; `0` switches a limit off.
    pub fn new(per_ip: u32, auth_per_ip: u32, per_user: u32) -> Self {
        Self(Arc::new(LimitsInner {
            last_prune: std::sync::Mutex::new(std::time::Instant::now()),
            per_ip: Limit::new("ip", per_ip),
            auth_per_ip: Limit::new("auth", auth_per_ip),
            per_user: Limit::new("user", per_user),
        }))
    }

    /// Applies the per-user limit (called once the bearer token is verified).
    pub fn check_user(&self, principal: &Principal) -> Result<(), ApiError> {
        match &self.0.per_user {
            Some(limit) => limit.check(&principal.user_id).map(|_| ()),
            None => Ok(()),
        }
    }

    /// Forgets idle keys so the state stays bounded by recent clients; at most once a
    /// minute, and never blocking a request on another that is pruning.
    fn maybe_prune(&self) {
        let Ok(mut last) = self.0.last_prune.try_lock() else {
            return;
        };
        if last.elapsed() < Duration::from_secs(60) {
            return;
        }
        *last = std::time::Instant::now();
        drop(last);
        self.prune();
    }

    fn prune(&self) {
        if let Some(l) = &self.0.per_ip {
            l.limiter.retain_recent();
        }
        if let Some(l) = &self.0.auth_per_ip {
            l.limiter.retain_recent();
        }
        if let Some(l) = &self.0.per_user {
            l.limiter.retain_recent();
        }
    }

    fn check_ip(&self, ip: IpAddr, auth_route: bool) -> Result<Option<Passed>, ApiError> {
        let mut passed = None;
        if let Some(limit) = &self.0.per_ip {
            passed = Some(limit.check(&ip)?);
        }
        if auth_route && let Some(limit) = &self.0.auth_per_ip {
            let p = limit.check(&ip)?;
            passed = Some(passed.map_or(p, |q: Passed| q.tighter(p)));
        }
        Ok(passed)
    }
}

/// Is this a route with the stricter per-IP limit?
fn is_auth_route(path: &str) -> bool {
    matches!(
        path.trim_end_matches('/'),
        "/api/v1/auth/login" | "/api/v1/auth/register"
    )
}

/// Middleware applying the per-IP limits.
pub struct RateLimitMiddleware(pub Limits);

impl<E: Endpoint> Middleware<E> for RateLimitMiddleware {
    type Output = RateLimitEndpoint<E>;

    fn transform(&self, ep: E) -> Self::Output {
        RateLimitEndpoint {
            inner: ep,
            limits: self.0.clone(),
        }
    }
}

/// See [`RateLimitMiddleware`].
pub struct RateLimitEndpoint<E> {
    inner: E,
    limits: Limits,
}

impl<E: Endpoint> Endpoint for RateLimitEndpoint<E> {
    type Output = Response;

    async fn call(&self, mut req: Request) -> poem::Result<Response> {
        self.limits.maybe_prune();
        req.set_data(self.limits.clone());
        let ip = req.data::<ClientIp>().map(|c| c.0);
        let passed = match ip {
            Some(ip) => self
                .limits
                .check_ip(ip, is_auth_route(req.original_uri().path()))?,
            None => None,
        };
        let request_id = req.data::<RequestId>().cloned();
        let mut resp = match self.inner.call(req).await {
            Ok(r) => r.into_response(),
            // Rendered here so the limit headers can be added to error answers too.
            Err(e) => problem::render(e, request_id.as_ref().map_or("", |r| r.as_str())),
        };
        if let Some(p) = passed {
            let (policy, current) = p.headers();
            let headers = resp.headers_mut();
            if !headers.contains_key(RATELIMIT_POLICY) {
                headers.insert(RATELIMIT_POLICY, policy);
                headers.insert(RATELIMIT, current);
            }
        }
        Ok(resp)
    }
}
