//! TaskFlow's HTTP API: every route of `docs/http-api.md` on poem + poem-openapi, as a library. The
//! `taskflow` binary (crate `taskflow-server`) serves it with a command line, store selection
//! by URL and logging; none of those, and no database driver, are dependencies of this crate.
//!
//! The library mounts the API on a [`TaskFlow`] handle, so a Rust program can serve it
//! from its own poem app next to its own routes:
//!
//! ```no_run
//! use poem::{Route, Server, handler, listener::TcpListener};
//! use taskflow_core::{MemoryStore, TaskFlow};
//! use taskflow_http::HttpConfig;
//!
//! #[handler]
//! fn hello() -> &'static str {
//!     "hello"
//! }
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let tf = TaskFlow::builder()
//!     .store(MemoryStore::new())
//!     .jwt_secret("a secret of at least thirty-two bytes!!")
//!     .build()?;
//! let app = Route::new()
//!     .at("/hello", hello)
//!     .nest("/", taskflow_http::app(tf, HttpConfig::default())?);
//! Server::new(TcpListener::bind("127.0.0.1:8080")).run(app).await?;
//! # Ok(())
//! # }
//! ```
//!
//! What the app serves:
//! - `/api/v1/...`: the API (`docs/http-api.md`), errors as RFC 9457 problem+json;
//! - `/api/v1/openapi.json` and Swagger UI at `/docs`;
//! - `/metrics`: Prometheus text format.
//!
//! Every response carries `X-Request-Id` and the security headers; rate limits, trusted
//! proxies, CORS and HSTS come from [`HttpConfig`].

mod allowed_methods;
mod api;
mod auth;
mod body;
mod client_ip;
mod dto;
mod etag;
mod expected;
mod metrics;
mod openapi_refine;
mod outer_middleware;
mod page_memo;
mod problem;
mod query_errors;
mod rate_limit;
mod request_id;
mod response;
mod server;
mod sse_response;

use std::sync::Arc;
use std::time::Duration;

use poem::http::Method;
use poem::middleware::{CatchPanic, Cors};
use poem::{Endpoint, EndpointExt, IntoEndpoint, Response, Route};
use poem_openapi::OpenApiService;
use taskflow_core::TaskFlow;

pub use metrics::{PoolSource, PoolUsage};
pub use problem::{ApiError, PROBLEM_JSON};
pub use server::{
    ConnectionGauge, DEFAULT_HEADER_READ_TIMEOUT, DEFAULT_HTTP2_MAX_CONCURRENT_STREAMS,
    DEFAULT_IDLE_TIMEOUT, DEFAULT_MAX_CONNECTIONS, DEFAULT_MAX_CONNECTIONS_PER_CLIENT,
    DEFAULT_MAX_HEADER_BYTES, ServeConfig, serve, shutdown_signal,
};

use api::{AuthApi, ChangesApi, OpsApi, TasksApi, UsersApi};
use client_ip::TrustedProxies;
use metrics::Metrics;
use outer_middleware::Envelope;
use page_memo::PageMemo;
use rate_limit::{Limits, RateLimitMiddleware};

/// Request bodies over this many bytes are refused with `413`.
pub const BODY_LIMIT: usize = 64 * 1024;

/// Base path of the API.
pub const API_BASE: &str = "/api/v1";

/// Settings of the HTTP layer.
#[derive(Clone)]
pub struct HttpConfig {
    /// Requests per minute per client IP on every API route; `0` switches it off.
    pub rate_limit_per_ip: u32,
    /// Requests per minute per client IP on `/auth/login` and `/auth/register`; `0` off.
    pub auth_rate_limit_per_ip: u32,
    /// Requests per minute per authenticated user; `0` off.
    pub rate_limit_per_user: u32,
    /// Proxies (addresses or CIDR networks) whose `X-Forwarded-For` names the client.
    pub trusted_proxies: Vec<String>,
    /// Origins allowed to call the API from a browser; empty: no CORS headers at all.
    pub cors_origins: Vec<String>,
    /// Send `Strict-Transport-Security` (set it when the server is reached over TLS).
    pub hsts: bool,
    /// Bound on the readiness probe's store ping.
    pub ready_timeout: Duration,
    /// Longest a request may take before it is answered `503`.
    pub request_timeout: Duration,
    /// Longest a request body may take to arrive, from the end of its head; `408` beyond.
    pub body_read_timeout: Duration,
    /// Connection-pool usage of the store, for `/metrics`.
    pub pools: Option<PoolSource>,
    /// Open connections, for `/metrics`: the gauge given to [`ServeConfig`].
    pub connections: ConnectionGauge,
}

impl std::fmt::Debug for HttpConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpConfig")
            .field("rate_limit_per_ip", &self.rate_limit_per_ip)
            .field("auth_rate_limit_per_ip", &self.auth_rate_limit_per_ip)
            .field("rate_limit_per_user", &self.rate_limit_per_user)
            .field("trusted_proxies", &self.trusted_proxies)
            .field("cors_origins", &self.cors_origins)
            .field("hsts", &self.hsts)
            .field("ready_timeout", &self.ready_timeout)
            .field("request_timeout", &self.request_timeout)
            .field("body_read_timeout", &self.body_read_timeout)
            .finish_non_exhaustive()
    }
}

/// Default per-IP limit: a busy browser session stays far below it.
pub const DEFAULT_RATE_LIMIT_PER_IP: u32 = 1200;
/// Default per-IP limit on login and register: enough for people, not for a brute-force run.
pub const DEFAULT_AUTH_RATE_LIMIT_PER_IP: u32 = 20;
/// Default time a request body gets to arrive: 64 KiB at a slow mobile link's pace.
pub const DEFAULT_BODY_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Default per-user limit.
pub const DEFAULT_RATE_LIMIT_PER_USER: u32 = 600;

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            rate_limit_per_ip: DEFAULT_RATE_LIMIT_PER_IP,
            auth_rate_limit_per_ip: DEFAULT_AUTH_RATE_LIMIT_PER_IP,
            rate_limit_per_user: DEFAULT_RATE_LIMIT_PER_USER,
            trusted_proxies: Vec::new(),
            cors_origins: Vec::new(),
            hsts: false,
            ready_timeout: Duration::from_secs(2),
            request_timeout: Duration::from_secs(30),
            body_read_timeout: DEFAULT_BODY_READ_TIMEOUT,
            pools: None,
            connections: ConnectionGauge::default(),
        }
    }
}

impl HttpConfig {
    /// The defaults with every rate limit off (tests, benchmarks, a trusted network).
    pub fn without_rate_limits() -> Self {
        Self {
            rate_limit_per_ip: 0,
            auth_rate_limit_per_ip: 0,
            rate_limit_per_user: 0,
            ..Self::default()
        }
    }
}

/// A configuration the app cannot start with.
#[derive(Debug, thiserror::Error)]
#[error("invalid HTTP configuration: {0}")]
pub struct ConfigError(String);

type Apis = (AuthApi, ChangesApi, TasksApi, UsersApi, OpsApi);

fn service(ready_timeout: Duration) -> OpenApiService<Apis, ()> {
    OpenApiService::new(
        (
            AuthApi,
            ChangesApi,
            TasksApi,
            UsersApi,
            OpsApi { ready_timeout },
        ),
        "TaskFlow",
        env!("CARGO_PKG_VERSION"),
    )
    .description(
        "Task management API: accounts with JWT access tokens and rotating refresh tokens, \
         role-based access, tasks with filters, full-text search, keyset pagination and stats. \
         Errors are RFC 9457 problem documents (`application/problem+json`).",
    )
    .server(API_BASE)
}

/// The OpenAPI 3 document of the API, as JSON, for a server with the built-in roles.
pub fn openapi_json() -> String {
    let roles = role_names(&taskflow_core::Policy::default());
    openapi_refine::refine(&service(Duration::from_secs(2)).spec(), &roles)
}

fn role_names(policy: &taskflow_core::Policy) -> Vec<String> {
    policy
        .roles()
        .iter()
        .map(|r| r.as_str().to_owned())
        .collect()
}

/// Memory for serialized task pages (see `page_memo`): the last page of ~500 listings.
const PAGE_MEMO_BYTES: u64 = 4 << 20;

/// The whole app for `tf`: API, OpenAPI document, Swagger UI and metrics, wrapped in the
/// envelope (request ids, security headers, problem rendering, logs, metrics).
pub fn app(
    tf: TaskFlow,
    config: HttpConfig,
) -> Result<impl Endpoint<Output = Response>, ConfigError> {
    let trusted_proxies = TrustedProxies::parse(&config.trusted_proxies).map_err(ConfigError)?;
    let api = service(config.ready_timeout);
    let generated = api.spec();
    let spec = openapi_refine::refine(&generated, &role_names(tf.policy()));
    // Swagger UI embeds the document it is given; give it the refined one.
    let docs_html = api.swagger_ui_html().replacen(&generated, &spec, 1);
    let spec_json = spec.clone();
    let allowed_methods = allowed_methods::AllowedMethods::from_spec(&spec);
    let streams = metrics::StreamGauge::default();
    let metrics = Arc::new(Metrics::new(
        tf.clone(),
        &spec,
        config.pools.clone(),
        config.connections.clone(),
        streams.clone(),
    ));
    let limits = Limits::new(
        config.rate_limit_per_ip,
        config.auth_rate_limit_per_ip,
        config.rate_limit_per_user,
    );
    let scrape = metrics.clone();
    let routes = Route::new()
        .at(
            format!("{API_BASE}/openapi.json"),
            poem::endpoint::make_sync(move |_| {
                Response::builder()
                    .content_type("application/json; charset=utf-8")
                    .body(spec_json.clone())
            }),
        )
        .nest(API_BASE, api.with(RateLimitMiddleware(limits)))
        .nest(
            "/docs",
            Route::new().at(
                "/",
                poem::endpoint::make_sync(move |_| poem::web::Html(docs_html.clone())),
            ),
        )
        .at(
            "/metrics",
            poem::endpoint::make_sync(move |_| {
                Response::builder()
                    .content_type("text/plain; version=0.0.4; charset=utf-8")
                    .body(scrape.render())
            }),
        )
        .data(tf)
        .data(streams)
        .data(PageMemo::new(PAGE_MEMO_BYTES));
    let routes = routes.with(CatchPanic::new().with_handler(outer_middleware::panic_response));
    let routes = if config.cors_origins.is_empty() {
        routes.boxed()
    } else {
        routes.with(cors(&config.cors_origins)?).boxed()
    };
    Ok(routes
        .with(Envelope {
            trusted_proxies,
            hsts: config.hsts,
            metrics,
            request_timeout: config.request_timeout,
            body_read_timeout: config.body_read_timeout,
            allowed_methods: Arc::new(allowed_methods),
        })
        .into_endpoint())
}

fn cors(origins: &[String]) -> Result<Cors, ConfigError> {
    for o in origins {
        if !(o.starts_with("http://") || o.starts_with("https://")) || o.ends_with('/') {
            return Err(ConfigError(format!(
                "CORS origin {o:?} must be scheme://host[:port] without a trailing slash"
            )));
        }
    }
    Ok(Cors::new()
        .allow_origins(origins.iter().map(String::as_str))
        .allow_methods([
            Method::GET,
            Method::POST,
            Method::PATCH,
            Method::DELETE,
            Method::OPTIONS,
        ])
        .allow_headers([
            "authorization",
            "content-type",
            "if-match",
            "if-none-match",
            "x-request-id",
        ])
        .expose_headers([
            "etag",
            "location",
            "retry-after",
            "ratelimit",
            "ratelimit-policy",
            "x-request-id",
        ])
        .max_age(600))
}
