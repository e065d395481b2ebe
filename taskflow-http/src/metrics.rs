//! Prometheus metrics: request counts and latency by route template and status, cache
//! hits and misses, store errors, open HTTP connections and connection-pool usage.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use taskflow_core::TaskFlow;

use crate::ConnectionGauge;

/// Usage of one connection pool at scrape time.
#[derive(Debug, Clone)]
pub struct PoolUsage {
    /// Pool name (`writer`, `reader`, `primary`, ...).
    pub pool: String,
    /// Open connections.
    pub size: u64,
    /// Idle connections among them.
    pub idle: u64,
    /// Most connections the pool opens.
    pub max: u64,
}

/// Event streams open now: each stream holds an [`OpenStream`] while it is served.
#[derive(Debug, Clone, Default)]
pub struct StreamGauge(Arc<std::sync::atomic::AtomicUsize>);

/// One open stream of a [`StreamGauge`]; dropping it closes it.
#[derive(Debug)]
pub struct OpenStream(Arc<std::sync::atomic::AtomicUsize>);

impl StreamGauge {
    /// Counts a stream as open until the returned guard is dropped.
    pub fn opened(&self) -> OpenStream {
        self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        OpenStream(Arc::clone(&self.0))
    }

    /// Streams open now.
    pub fn get(&self) -> usize {
        self.0.load(std::sync::atomic::Ordering::Relaxed)
    }
}

impl Drop for OpenStream {
    fn drop(&mut self) {
        self.0.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
    }
}

/// Reads pool usage from the store the server runs on.
pub type PoolSource = Arc<dyn Fn() -> Vec<PoolUsage> + Send + Sync>;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: String,
    method: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: String,
    method: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ErrorLabels {
    kind: String,
}

/// The server's metrics.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<RouteLabels, Histogram>,
    store_errors: Family<ErrorLabels, Counter>,
    /// operationId → `METHOD /path/{param}`.
    routes: HashMap<String, String>,
}

impl fmt::Debug for Metrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Metrics {
    /// Metrics for `tf`, with route templates read from the OpenAPI document.
    pub fn new(
        tf: TaskFlow,
        spec_json: &str,
        pools: Option<PoolSource>,
        connections: ConnectionGauge,
        streams: StreamGauge,
    ) -> Self {
        let mut registry = Registry::default();
        let requests = Family::<RequestLabels, Counter>::default();
        let latency = Family::<RouteLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.000_25, 2.0, 16))
        });
        let store_errors = Family::<ErrorLabels, Counter>::default();
        registry.register(
            "taskflow_http_requests",
            "HTTP requests by route template, method and status",
            requests.clone(),
        );
        registry.register(
            "taskflow_http_request_duration_seconds",
            "HTTP request latency by route template and method",
            latency.clone(),
        );
        registry.register(
            "taskflow_store_errors",
            "Requests failed by the store: unavailable (503) or internal (500)",
            store_errors.clone(),
        );
        registry.register_collector(Box::new(Runtime {
            tf,
            pools,
            connections,
            streams,
        }));
        Self {
            registry,
            requests,
            latency,
            store_errors,
            routes: route_templates(spec_json),
        }
    }

    /// The route template of an operation, e.g. `/api/v1/tasks/{id}`.
    pub fn route_of(&self, operation_id: Option<&str>, path: &str) -> String {
        if let Some(route) = operation_id.and_then(|op| self.routes.get(op)) {
            return route.clone();
        }
        match path {
            "/metrics" | "/api/v1/openapi.json" => path.to_owned(),
            p if p == "/docs" || p.starts_with("/docs/") => "/docs".to_owned(),
            _ => "unmatched".to_owned(),
        }
    }

    /// Records one answered request.
    pub fn record(&self, route: String, method: &str, status: u16, elapsed: Duration) {
        self.requests
            .get_or_create(&RequestLabels {
                route: route.clone(),
                method: method.to_owned(),
                status,
            })
            .inc();
        self.latency
            .get_or_create(&RouteLabels {
                route,
                method: method.to_owned(),
            })
            .observe(elapsed.as_secs_f64());
        let kind = match status {
            503 => "unavailable",
            500 => "internal",
            _ => return,
        };
        self.store_errors
            .get_or_create(&ErrorLabels {
                kind: kind.to_owned(),
            })
            .inc();
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)
            .expect("writing to a String cannot fail");
        out
    }
}

/// Operation ids mapped to their path templates.
fn route_templates(spec_json: &str) -> HashMap<String, String> {
    let spec: serde_json::Value = serde_json::from_str(spec_json).unwrap_or_default();
    let prefix = spec["servers"][0]["url"].as_str().unwrap_or("").to_owned();
    let mut routes = HashMap::new();
    if let Some(paths) = spec["paths"].as_object() {
        for (path, ops) in paths {
            for op in ops.as_object().into_iter().flat_map(|o| o.values()) {
                if let Some(id) = op["operationId"].as_str() {
                    routes.insert(id.to_owned(), format!("{prefix}{path}"));
                }
            }
        }
    }
    routes
}

/// Values read at scrape time from core and the store.
struct Runtime {
    tf: TaskFlow,
    pools: Option<PoolSource>,
    connections: ConnectionGauge,
    streams: StreamGauge,
}

impl fmt::Debug for Runtime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Runtime").finish_non_exhaustive()
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PoolLabels {
    pool: String,
    state: String,
}

impl Collector for Runtime {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), fmt::Error> {
        if let Some(m) = self.tf.cache_metrics() {
            for (name, help, value) in [
                (
                    "taskflow_cache_hits",
                    "Cache lookups answered from the cache",
                    m.hits(),
                ),
                (
                    "taskflow_cache_misses",
                    "Cache lookups that went to the store",
                    m.misses(),
                ),
            ] {
                let counter = ConstCounter::new(value);
                counter.encode(encoder.encode_descriptor(
                    name,
                    help,
                    None,
                    counter.metric_type(),
                )?)?;
            }
        }
        let streams = ConstGauge::new(self.streams.get() as i64);
        streams.encode(encoder.encode_descriptor(
            "taskflow_event_streams_open",
            "Event streams (GET /events) open now",
            None,
            streams.metric_type(),
        )?)?;
        if let Some(follower) = self.tf.follower_status() {
            let read = ConstCounter::new(follower.applied());
            read.encode(encoder.encode_descriptor(
                "taskflow_change_events",
                "Change-log events this instance has read (appended by any instance)",
                None,
                read.metric_type(),
            )?)?;
            let failures = ConstCounter::new(follower.failures());
            failures.encode(encoder.encode_descriptor(
                "taskflow_change_follower_failures",
                "Failed reads of the change log",
                None,
                failures.metric_type(),
            )?)?;
            // Until the first read has caught up the lag is unknown: report it as huge, so
            // an alert on lag fires for a follower that never caught up.
            let lag = follower.lag().map_or(f64::MAX, |d| d.as_secs_f64());
            let lag = prometheus_client::metrics::gauge::ConstGauge::new(lag);
            lag.encode(encoder.encode_descriptor(
                "taskflow_change_follower_lag_seconds",
                "Time since the follower last proved it had read the whole change log; past the bound the cache is not trusted",
                None,
                lag.metric_type(),
            )?)?;
        }
        let open = ConstGauge::new(self.connections.get() as i64);
        open.encode(encoder.encode_descriptor(
            "taskflow_http_open_connections",
            "HTTP connections open now",
            None,
            open.metric_type(),
        )?)?;
        if let Some(pools) = &self.pools {
            let usage = pools();
            let mut family = encoder.encode_descriptor(
                "taskflow_store_pool_connections",
                "Store connections by pool and state (idle, in_use, max)",
                None,
                prometheus_client::metrics::MetricType::Gauge,
            )?;
            for p in usage {
                for (state, value) in [
                    ("idle", p.idle),
                    ("in_use", p.size.saturating_sub(p.idle)),
                    ("max", p.max),
                ] {
                    let labels = PoolLabels {
                        pool: p.pool.clone(),
                        state: state.to_owned(),
                    };
                    ConstGauge::new(value as i64).encode(family.encode_family(&labels)?)?;
                }
            }
        }
        Ok(())
    }
}
