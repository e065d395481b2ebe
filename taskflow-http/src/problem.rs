//! The one error type of the HTTP layer, rendered as RFC 9457 problem details.
//!
//! Handlers return [`ApiError`]; everything else that fails (unknown route, bad query
//! parameter, missing bearer token, ...) is a foreign `poem::Error` that [`render`] maps by
//! status. Rendering happens in one place, the envelope middleware, because only it knows the
//! request id that every problem body carries.

use std::collections::BTreeMap;
use std::time::Duration;

use poem::http::{HeaderName, HeaderValue, StatusCode, header};
use poem::{IntoResponse, Response};
use poem_openapi::registry::{MetaHeader, MetaMediaType, MetaResponse, MetaResponses, Registry};
use poem_openapi::types::Type;
use poem_openapi::{ApiResponse, Object, OperationId};
use taskflow_core::Error;

/// Media type of every error body.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// `Retry-After` sent with `503` when the store is down.
const UNAVAILABLE_RETRY_AFTER: u64 = 5;

/// An RFC 9457 problem document, as every error response carries it.
#[derive(Debug, Clone, Object)]
#[oai(rename = "Problem")]
pub struct ProblemBody {
    /// A URI naming the problem type.
    #[oai(rename = "type")]
    pub kind: String,
    /// Short, human-readable summary of the problem type.
    pub title: String,
    /// The HTTP status code.
    pub status: u16,
    /// Human-readable explanation of this occurrence.
    pub detail: String,
    /// Machine-readable error code (see the table in `API.md`).
    pub code: String,
    /// Every failing field with its messages (`validation_failed`, and `malformed_request`
    /// for bad query parameters).
    #[oai(skip_serializing_if_is_none)]
    pub errors: Option<BTreeMap<String, Vec<String>>>,
    /// The request id, also sent as `X-Request-Id`.
    pub request_id: String,
}

/// An error answer: status, code, detail and the headers it needs.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    detail: String,
    errors: Option<BTreeMap<String, Vec<String>>>,
    headers: Vec<(HeaderName, HeaderValue)>,
    /// Logged with the request id for `500`/`503`; never sent to the client.
    source: Option<taskflow_core::BoxError>,
}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, detail: impl Into<String>) -> Self {
        Self {
            status,
            code,
            detail: detail.into(),
            errors: None,
            headers: Vec::new(),
            source: None,
        }
    }

    /// `400 malformed_request`.
    pub fn malformed(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "malformed_request", detail)
    }

    /// `400 malformed_request` listing the bad query parameters.
    pub fn bad_query(errors: BTreeMap<String, Vec<String>>) -> Self {
        let detail = match errors.len() {
            1 => "1 query parameter is invalid".to_owned(),
            n => format!("{n} query parameters are invalid"),
        };
        let mut e = Self::malformed(detail);
        e.errors = Some(errors);
        e
    }

    /// `422 validation_failed` for the given fields.
    pub fn validation(errors: BTreeMap<String, Vec<String>>) -> Self {
        let detail = match errors.len() {
            1 => "1 field is invalid".to_owned(),
            n => format!("{n} fields are invalid"),
        };
        let mut e = Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            detail,
        );
        e.errors = Some(errors);
        e
    }

    /// `401 unauthenticated` with `WWW-Authenticate: Bearer`.
    pub fn unauthenticated(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthenticated", detail).with_header(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"taskflow\""),
        )
    }

    /// `404 not_found`.
    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", detail)
    }

    /// `412 version_mismatch`.
    pub fn precondition_failed(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::PRECONDITION_FAILED, "version_mismatch", detail)
    }

    /// `413 payload_too_large`.
    pub fn payload_too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("the request body is over the limit of {limit} bytes"),
        )
    }

    /// `415 unsupported_media_type`.
    pub fn unsupported_media_type(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            detail,
        )
    }

    /// `429 rate_limited` with `Retry-After` in whole seconds (at least 1).
    pub fn rate_limited(retry_after: Duration) -> Self {
        let secs = retry_after.as_secs_f64().ceil().max(1.0) as u64;
        Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            format!("too many requests, retry in {secs} s"),
        )
        .with_header(header::RETRY_AFTER, HeaderValue::from(secs))
    }

    /// `503 unavailable` with `Retry-After`.
    pub fn unavailable(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", detail).with_header(
            header::RETRY_AFTER,
            HeaderValue::from(UNAVAILABLE_RETRY_AFTER),
        )
    }

    /// `500 internal`; the detail sent is fixed, the source is only logged.
    pub fn internal(source: Option<taskflow_core::BoxError>) -> Self {
        let mut e = Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal error; quote the request id when reporting it",
        );
        e.source = source;
        e
    }

    /// Attaches per-field messages.
    pub fn with_errors(mut self, errors: BTreeMap<String, Vec<String>>) -> Self {
        self.errors = Some(errors);
        self
    }

    /// Adds a response header.
    pub fn with_header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.push((name, value));
        self
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The API error code.
    pub fn code(&self) -> &'static str {
        self.code
    }

    /// Maps a core error met while reading list-query parameters: invalid values there are
    /// a bad request (`400`), not a failed validation of a body (`422`).
    pub fn from_query(err: Error) -> Self {
        match err {
            Error::Validation(v) => Self::bad_query(v.fields().clone()),
            other => other.into(),
        }
    }

    /// The problem document for this error.
    pub fn body(&self, request_id: &str) -> ProblemBody {
        ProblemBody {
            kind: format!("https://taskflow.dev/problems/{}", self.code),
            title: title_of(self.code).to_owned(),
            status: self.status.as_u16(),
            detail: self.detail.clone(),
            code: self.code.to_owned(),
            errors: self.errors.clone(),
            request_id: request_id.to_owned(),
        }
    }

    /// Renders the response; logs the hidden source of server-side failures.
    pub fn into_response_with_id(self, request_id: &str) -> Response {
        if self.status.is_server_error() {
            match &self.source {
                Some(source) => {
                    tracing::error!(code = self.code, error = %source, error_debug = ?source, "request failed")
                }
                None => tracing::error!(code = self.code, detail = %self.detail, "request failed"),
            }
        }
        let body = serde_json::to_vec(&poem_openapi::types::ToJSON::to_json(
            &self.body(request_id),
        ))
        .unwrap_or_default();
        let mut resp = Response::builder()
            .status(self.status)
            .content_type(PROBLEM_JSON)
            .body(body);
        for (name, value) in self.headers {
            resp.headers_mut().append(name, value);
        }
        resp
    }
}

fn title_of(code: &str) -> &'static str {
    match code {
        "malformed_request" => "Malformed request",
        "unauthenticated" => "Unauthenticated",
        "forbidden" => "Forbidden",
        "not_found" => "Not found",
        "method_not_allowed" => "Method not allowed",
        "conflict" => "Conflict",
        "version_mismatch" => "Version mismatch",
        "payload_too_large" => "Payload too large",
        "unsupported_media_type" => "Unsupported media type",
        "validation_failed" => "Validation failed",
        "rate_limited" => "Too many requests",
        "unavailable" => "Service unavailable",
        _ => "Internal error",
    }
}

impl From<Error> for ApiError {
    fn from(err: Error) -> Self {
        match err {
            Error::Validation(v) => Self::validation(v.fields().clone()),
            Error::NotFound { resource } => Self::not_found(format!("{resource} not found")),
            Error::Conflict(msg) => Self::new(StatusCode::CONFLICT, "conflict", msg),
            Error::VersionMismatch { current } => Self::precondition_failed(format!(
                "If-Match does not match the current version ({current})"
            ))
            .with_header(header::ETAG, etag_value(current)),
            Error::Unauthenticated(msg) => Self::unauthenticated(msg),
            Error::Forbidden(msg) => Self::new(StatusCode::FORBIDDEN, "forbidden", msg),
            Error::RateLimited { retry_after } => Self::rate_limited(retry_after),
            Error::Unavailable(source) => {
                let mut e = Self::unavailable("the store cannot be reached; retry later");
                e.source = Some(source);
                e
            }
            Error::Internal(source) => Self::internal(Some(source)),
            other => Self::internal(Some(other.to_string().into())),
        }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.detail)
    }
}

impl std::error::Error for ApiError {}

impl poem::error::ResponseError for ApiError {
    fn status(&self) -> StatusCode {
        self.status
    }

    fn as_response(&self) -> Response {
        // Only reached if something renders the error outside the envelope.
        let mut clone = ApiError::new(self.status, self.code, self.detail.clone());
        clone.errors = self.errors.clone();
        clone.headers = self.headers.clone();
        clone.into_response_with_id("")
    }
}

/// The strong ETag of a task version.
pub fn etag_value(version: u64) -> HeaderValue {
    HeaderValue::from_str(&format!("\"{version}\"")).expect("digits are a valid header value")
}

/// Renders any error the app produced, ours or poem's, as a problem response.
pub fn render(err: poem::Error, request_id: &str) -> Response {
    let operation = err.data::<OperationId>().copied();
    let mut resp = if err.is::<ApiError>() {
        let api = err.downcast::<ApiError>().expect("checked by is()");
        api.into_response_with_id(request_id)
    } else {
        foreign(&err).into_response_with_id(request_id)
    };
    if let Some(op) = operation {
        resp.set_data(op);
    }
    resp
}

/// Maps poem's own errors (routing, parameter parsing, missing credentials) by status.
fn foreign(err: &poem::Error) -> ApiError {
    let status = err.status();
    match status {
        StatusCode::BAD_REQUEST => ApiError::malformed(err.to_string()),
        StatusCode::UNAUTHORIZED => ApiError::unauthenticated("a bearer token is required"),
        StatusCode::NOT_FOUND => ApiError::not_found("no such resource"),
        StatusCode::METHOD_NOT_ALLOWED => ApiError::new(
            status,
            "method_not_allowed",
            "this method is not allowed on this resource",
        ),
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::payload_too_large(crate::BODY_LIMIT),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ApiError::unsupported_media_type(err.to_string()),
        s if s.is_client_error() => ApiError::new(s, "malformed_request", err.to_string()),
        StatusCode::SERVICE_UNAVAILABLE => ApiError::unavailable("temporarily unavailable"),
        _ => ApiError::internal(Some(err.to_string().into())),
    }
}

/// Every error status the API can answer, for the OpenAPI document.
const ERROR_RESPONSES: &[(u16, &str, &[&str])] = &[
    (
        400,
        "`malformed_request`: the body is not valid JSON, a field has the wrong JSON type, or a query parameter is invalid.",
        &[],
    ),
    (
        401,
        "`unauthenticated`: missing, malformed, expired or revoked token; wrong credentials; disabled account.",
        &["WWW-Authenticate"],
    ),
    (
        403,
        "`forbidden`: authenticated, but the role lacks the permission.",
        &[],
    ),
    (
        404,
        "`not_found`: no such resource, or it belongs to another user; a malformed id is also `404`.",
        &[],
    ),
    (
        409,
        "`conflict`: duplicate email, or demoting/disabling the last active admin.",
        &[],
    ),
    (
        412,
        "`version_mismatch`: `If-Match` does not match the task's current version.",
        &["ETag"],
    ),
    (413, "`payload_too_large`: the body is over 64 KiB.", &[]),
    (
        415,
        "`unsupported_media_type`: the body is not `application/json`.",
        &[],
    ),
    (
        422,
        "`validation_failed`: field values are invalid or unknown; `errors` lists every failing field.",
        &[],
    ),
    (
        429,
        "`rate_limited`: a rate limit or the login throttle; retry after `Retry-After` seconds.",
        &["Retry-After", "RateLimit-Policy", "RateLimit"],
    ),
    (
        500,
        "`internal`: a bug; the body carries no detail beyond the request id.",
        &[],
    ),
    (
        503,
        "`unavailable`: the store cannot be reached; retry after `Retry-After` seconds.",
        &["Retry-After"],
    ),
];

impl ApiResponse for ApiError {
    fn meta() -> MetaResponses {
        MetaResponses {
            responses: ERROR_RESPONSES
                .iter()
                .map(|(status, description, headers)| MetaResponse {
                    description,
                    status: Some(*status),
                    status_range: None,
                    content: vec![MetaMediaType {
                        content_type: PROBLEM_JSON,
                        schema: ProblemBody::schema_ref(),
                    }],
                    headers: headers
                        .iter()
                        .map(|name| MetaHeader {
                            name: (*name).to_owned(),
                            description: None,
                            required: false,
                            deprecated: false,
                            schema: String::schema_ref(),
                        })
                        .collect(),
                })
                .collect(),
        }
    }

    fn register(registry: &mut Registry) {
        ProblemBody::register(registry);
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        self.into_response_with_id("")
    }
}

/// A result whose error is an [`ApiError`].
pub type ApiResult<T> = Result<T, ApiError>;
