//! The outermost middleware (the "envelope"): what every response gets, whatever route
//! answered.
//!
//! - a request id (echoed or generated) in the request's data, its log span and the
//!   `X-Request-Id` header;
//! - the client IP (trusted-proxy aware) for the rate limiter;
//! - errors of any layer rendered as problem+json with that id;
//! - one structured log line and the metrics of the request;
//! - the security headers.

use std::sync::Arc;
use std::time::{Duration, Instant};

use poem::http::{HeaderName, HeaderValue, header};
use poem::{Endpoint, IntoResponse, Middleware, Request, Response};
use poem_openapi::OperationId;
use tracing::Instrument;

use crate::allowed_methods::AllowedMethods;
use crate::body::BodyDeadline;
use crate::client_ip::{ClientIp, TrustedProxies};
use crate::metrics::Metrics;
use crate::problem::{self, ApiError};
use crate::request_id::{self, RequestId};

/// JSON answers load nothing and may not be framed.
const CSP_API: &str = "default-src 'none'; frame-ancestors 'none'";
/// Swagger UI (poem-openapi's page) inlines its script and style and fetches the document
/// from this origin; nothing else is allowed.
const CSP_DOCS: &str = "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; \
     img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";
const HSTS: &str = "max-age=31536000; includeSubDomains";
/// The log target of the request span and access-log line: the module's name before it was
/// renamed, so `RUST_LOG` directives and log pipelines that select it keep working.
const LOG_TARGET: &str = "taskflow_http::envelope";

/// Marks the answer `CatchPanic` gives for a panicking handler, so the envelope can turn it
/// into a problem document with the request id (and log it).
#[derive(Debug, Clone, Copy)]
pub struct Panicked;

/// The `CatchPanic` handler: a bare `500` marked [`Panicked`].
pub fn panic_response(_: Box<dyn std::any::Any + Send>) -> Response {
    let mut resp = Response::builder()
        .status(poem::http::StatusCode::INTERNAL_SERVER_ERROR)
        .finish();
    resp.set_data(Panicked);
    resp
}

/// Settings of the envelope.
#[derive(Clone)]
pub struct Envelope {
    /// Networks whose `X-Forwarded-For` is believed.
    pub trusted_proxies: TrustedProxies,
    /// Send `Strict-Transport-Security` (only behind TLS).
    pub hsts: bool,
    /// Where requests are counted.
    pub metrics: Arc<Metrics>,
    /// Longest a request may take before it is answered `503`.
    pub request_timeout: Duration,
    /// Longest its body may take to arrive before it is answered `408`.
    pub body_read_timeout: Duration,
    /// Methods of each API path, for the `Allow` header of a `405`.
    pub allowed_methods: Arc<AllowedMethods>,
}

impl<E: Endpoint> Middleware<E> for Envelope {
    type Output = EnvelopeEndpoint<E>;

    fn transform(&self, ep: E) -> Self::Output {
        EnvelopeEndpoint {
            inner: ep,
            config: self.clone(),
        }
    }
}

/// See [`Envelope`].
pub struct EnvelopeEndpoint<E> {
    inner: E,
    config: Envelope,
}

impl<E: Endpoint> Endpoint for EnvelopeEndpoint<E> {
    type Output = Response;

    async fn call(&self, mut req: Request) -> poem::Result<Response> {
        let started = Instant::now();
        let id = RequestId::from_headers(req.headers());
        let client = self.config.trusted_proxies.client_ip(&req);
        if let Some(ip) = client {
            req.set_data(ClientIp(ip));
        }
        req.set_data(id.clone());
        req.set_data(BodyDeadline::after(started, self.config.body_read_timeout));
        let method = req.method().clone();
        let path = req.uri().path().to_owned();
        // A DEBUG span: at the default INFO its creation is skipped, which the access log
        // line below makes up for by carrying the same fields (a span per request cost
        // about a tenth of the warm listing's throughput). Errors logged during the request
        // name its id themselves.
        let span = tracing::debug_span!(
            target: LOG_TARGET,
            "request",
            request_id = %id.as_str(),
            method = %method,
            path = %path,
        );
        let mut resp = async {
            // poem's router drops a path parameter whose percent-decoding is not UTF-8, and
            // the handler then answers 400. No resource has such a name: 404, like any
            // other unknown id.
            if percent_encoding::percent_decode_str(&path)
                .decode_utf8()
                .is_err()
            {
                return ApiError::not_found("no such resource").into_response_with_id(id.as_str());
            }
            match tokio::time::timeout(self.config.request_timeout, self.inner.call(req)).await {
                Ok(Ok(r)) => r.into_response(),
                Ok(Err(e)) => problem::render(e, id.as_str()),
                Err(_) => ApiError::unavailable("the request took too long; retry later")
                    .into_response_with_id(id.as_str()),
            }
        }
        .instrument(span.clone())
        .await;
        if resp.data::<Panicked>().is_some() {
            resp = span.in_scope(|| {
                ApiError::internal(Some("a request handler panicked".into()))
                    .into_response_with_id(id.as_str())
            });
        }

        let elapsed = started.elapsed();
        let status = resp.status();
        let operation = resp.data::<OperationId>().map(|op| op.0);
        let route = self.config.metrics.route_of(operation, &path);
        tracing::info!(
            target: LOG_TARGET,
            request_id = %id.as_str(),
            method = %method,
            path = %path,
            status = status.as_u16(),
            route = %route,
            client_ip = client.map(tracing::field::display),
            latency_ms = elapsed.as_secs_f64() * 1000.0,
            "request finished"
        );
        self.config
            .metrics
            .record(route, method.as_str(), status.as_u16(), elapsed);

        let headers = resp.headers_mut();
        headers.insert(
            HeaderName::from_static(request_id::HEADER),
            HeaderValue::from_str(id.as_str()).expect("request ids are header-safe"),
        );
        headers.insert(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        );
        headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
        headers.insert(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        );
        let docs = path == "/docs" || path.starts_with("/docs/");
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(if docs { CSP_DOCS } else { CSP_API }),
        );
        if self.config.hsts {
            headers.insert(
                header::STRICT_TRANSPORT_SECURITY,
                HeaderValue::from_static(HSTS),
            );
        }
        if path.starts_with("/api/v1/") && !headers.contains_key(header::CACHE_CONTROL) {
            // Tokens and account data must not be stored; tasks may be cached privately
            // and revalidated with their ETag.
            let policy = if path.starts_with("/api/v1/auth/") || path.starts_with("/api/v1/users") {
                "no-store"
            } else {
                "private, no-cache"
            };
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(policy));
        }
        if status == poem::http::StatusCode::METHOD_NOT_ALLOWED
            && let Some(allow) = self.config.allowed_methods.for_path(&path)
            && let Ok(value) = HeaderValue::from_str(allow)
        {
            headers.insert(header::ALLOW, value);
        }
        headers.remove(header::SERVER);
        Ok(resp)
    }
}

#[cfg(test)]
mod tests {
    use poem::middleware::CatchPanic;
    use poem::test::TestClient;
    use poem::{EndpointExt, Route, handler};
    use taskflow_core::{MemoryStore, TaskFlow};

    use super::*;

    #[handler]
    fn boom() -> &'static str {
        panic!("secret detail that must not leak")
    }

    /// A panicking handler is a `500` problem with the request id and no detail.
    #[tokio::test]
    async fn panics_become_internal_problems() {
        let tf = TaskFlow::builder()
            .store(MemoryStore::new())
            .jwt_secret([7u8; 32])
            .build()
            .unwrap();
        let app = Route::new()
            .at("/boom", boom)
            .with(CatchPanic::new().with_handler(panic_response))
            .with(Envelope {
                trusted_proxies: TrustedProxies::default(),
                hsts: false,
                metrics: Arc::new(Metrics::new(
                    tf,
                    "{}",
                    None,
                    Default::default(),
                    Default::default(),
                )),
                request_timeout: Duration::from_secs(5),
                body_read_timeout: Duration::from_secs(5),
                allowed_methods: Arc::default(),
            });
        let resp = TestClient::new(app)
            .get("/boom")
            .header("x-request-id", "r-1")
            .send()
            .await;
        resp.assert_status(poem::http::StatusCode::INTERNAL_SERVER_ERROR);
        resp.assert_header("content-type", crate::PROBLEM_JSON);
        let body = resp.0.into_body().into_string().await.unwrap();
        let body: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(body["code"], "internal");
        assert_eq!(body["request_id"], "r-1");
        assert!(!body.to_string().contains("secret detail"));
    }
}
