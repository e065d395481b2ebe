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
use poem_openapi::error::ParseParamError;
use poem_openapi::registry::{MetaHeader, MetaMediaType, MetaResponse, MetaResponses, Registry};
use poem_openapi::types::Type;
use poem_openapi::{ApiResponse, Object, OperationId};
use taskflow_core::{Error, ErrorCode};

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
    /// Machine-readable error code (see the table in `docs/http-api.md`).
    pub code: String,
    /// Every failing field with its messages (`validation_failed`, and `malformed_request`
    /// for bad query parameters).
    #[oai(skip_serializing_if_is_none)]
    pub errors: Option<BTreeMap<String, Vec<String>>>,
    /// `reset_required`: the change-log position to follow from after refetching.
    #[oai(skip_serializing_if_is_none)]
    pub start: Option<String>,
    /// The request id, also sent as `X-Request-Id`.
    pub request_id: String,
}

/// An error answer: status, code, detail and the headers it needs.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: ErrorCode,
    detail: String,
    errors: Option<BTreeMap<String, Vec<String>>>,
    /// `reset_required`: where to start from (text: a `u128` would double the
    /// alignment, and the size, of every error).
    start: Option<Box<str>>,
    headers: Vec<(HeaderName, HeaderValue)>,
    /// Logged with the request id for `500`/`503`; never sent to the client.
    source: Option<taskflow_core::BoxError>,
}

/// The HTTP meaning of a code: its status, the problem title, and the description the
/// OpenAPI document gives it (`None`: not listed on every operation).
///
/// The one place that maps codes to HTTP; exhaustive, so a new core code cannot be
/// forgotten here.
fn http_of(code: ErrorCode) -> (StatusCode, &'static str, Option<&'static str>) {
    use ErrorCode as C;
    match code {
        C::MalformedRequest => (
            StatusCode::BAD_REQUEST,
            "Malformed request",
            Some(
                "`malformed_request`: the body is not valid JSON, a field has the wrong JSON type or format, or a query parameter is invalid; `errors` says what each must be.",
            ),
        ),
        C::Unauthenticated => (
            StatusCode::UNAUTHORIZED,
            "Unauthenticated",
            Some(
                "`unauthenticated`: missing, malformed, expired or revoked token; wrong credentials; disabled account.",
            ),
        ),
        C::Forbidden => (
            StatusCode::FORBIDDEN,
            "Forbidden",
            Some("`forbidden`: authenticated, but the role lacks the permission."),
        ),
        C::NotFound => (
            StatusCode::NOT_FOUND,
            "Not found",
            Some(
                "`not_found`: no such resource, or it belongs to another user; a malformed id is also `404`.",
            ),
        ),
        C::MethodNotAllowed => (StatusCode::METHOD_NOT_ALLOWED, "Method not allowed", None),
        // A transport answer, like 405: not listed on every operation of the document.
        C::RequestTimeout => (StatusCode::REQUEST_TIMEOUT, "Request timeout", None),
        C::Conflict => (
            StatusCode::CONFLICT,
            "Conflict",
            Some("`conflict`: duplicate email, or demoting/disabling the last active admin."),
        ),
        C::VersionMismatch => (
            StatusCode::PRECONDITION_FAILED,
            "Version mismatch",
            Some("`version_mismatch`: `If-Match` does not match the task's current version."),
        ),
        // Only the change feed answers it: listed on that operation, not on every one.
        C::ResetRequired => (StatusCode::GONE, "Reset required", None),
        C::PayloadTooLarge => (
            StatusCode::PAYLOAD_TOO_LARGE,
            "Payload too large",
            Some("`payload_too_large`: the body is over 64 KiB."),
        ),
        C::UnsupportedMediaType => (
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Unsupported media type",
            Some("`unsupported_media_type`: the body is not `application/json`."),
        ),
        C::ValidationFailed => (
            StatusCode::UNPROCESSABLE_ENTITY,
            "Validation failed",
            Some(
                "`validation_failed`: field values are invalid or unknown; `errors` lists every failing field.",
            ),
        ),
        C::RateLimited => (
            StatusCode::TOO_MANY_REQUESTS,
            "Too many requests",
            Some(
                "`rate_limited`: a rate limit or the login throttle; retry after `Retry-After` seconds.",
            ),
        ),
        C::Unavailable => (
            StatusCode::SERVICE_UNAVAILABLE,
            "Service unavailable",
            Some("`unavailable`: the store cannot be reached; retry after `Retry-After` seconds."),
        ),
        C::Internal => (
            StatusCode::INTERNAL_SERVER_ERROR,
            "Internal error",
            Some("`internal`: a bug; the body carries no detail beyond the request id."),
        ),
    }
}

/// The headers the OpenAPI document lists for a code's response.
fn documented_headers(code: ErrorCode) -> &'static [&'static str] {
    match code {
        ErrorCode::Unauthenticated => &["WWW-Authenticate"],
        ErrorCode::VersionMismatch => &["ETag"],
        ErrorCode::RateLimited => &["Retry-After", "RateLimit-Policy", "RateLimit"],
        ErrorCode::Unavailable => &["Retry-After"],
        _ => &[],
    }
}

impl ApiError {
    /// An error with the status its code answers with.
    fn new(code: ErrorCode, detail: impl Into<String>) -> Self {
        Self {
            status: http_of(code).0,
            code,
            detail: detail.into(),
            errors: None,
            start: None,
            headers: Vec::new(),
            source: None,
        }
    }

    /// `400 malformed_request`.
    pub fn malformed(detail: impl Into<String>) -> Self {
        Self::new(ErrorCode::MalformedRequest, detail)
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
        let mut e = Self::new(ErrorCode::ValidationFailed, detail);
        e.errors = Some(errors);
        e
    }

    /// `401 unauthenticated` with `WWW-Authenticate: Bearer`.
    pub fn unauthenticated(detail: impl Into<String>) -> Self {
        Self::new(ErrorCode::Unauthenticated, detail).with_header(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"taskflow\""),
        )
    }

    /// `404 not_found`.
    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(ErrorCode::NotFound, detail)
    }

    /// `412 version_mismatch`.
    pub fn precondition_failed(detail: impl Into<String>) -> Self {
        Self::new(ErrorCode::VersionMismatch, detail)
    }

    /// `413 payload_too_large`.
    pub fn payload_too_large(limit: usize) -> Self {
        Self::new(
            ErrorCode::PayloadTooLarge,
            format!("the request body is over the limit of {limit} bytes"),
        )
    }

    /// `408 request_timeout`: the body did not arrive within `limit`.
    pub fn body_timeout(limit: std::time::Duration) -> Self {
        Self::new(
            ErrorCode::RequestTimeout,
            format!(
                "the request body did not arrive within {} s",
                limit.as_secs_f64()
            ),
        )
    }

    /// `415 unsupported_media_type`.
    pub fn unsupported_media_type(detail: impl Into<String>) -> Self {
        Self::new(ErrorCode::UnsupportedMediaType, detail)
    }

    /// `429 rate_limited` with `Retry-After` in whole seconds (at least 1).
    pub fn rate_limited(retry_after: Duration) -> Self {
        let secs = retry_after.as_secs_f64().ceil().max(1.0) as u64;
        Self::new(
            ErrorCode::RateLimited,
            format!("too many requests, retry in {secs} s"),
        )
        .with_header(header::RETRY_AFTER, HeaderValue::from(secs))
    }

    /// `503 unavailable` with `Retry-After`.
    pub fn unavailable(detail: impl Into<String>) -> Self {
        Self::new(ErrorCode::Unavailable, detail).with_header(
            header::RETRY_AFTER,
            HeaderValue::from(UNAVAILABLE_RETRY_AFTER),
        )
    }

    /// `500 internal`; the detail sent is fixed, the source is only logged.
    pub fn internal(source: Option<taskflow_core::BoxError>) -> Self {
        let mut e = Self::new(
            ErrorCode::Internal,
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
    pub fn code(&self) -> ErrorCode {
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
            title: http_of(self.code).1.to_owned(),
            status: self.status.as_u16(),
            detail: self.detail.clone(),
            code: self.code.as_str().to_owned(),
            errors: self.errors.clone(),
            start: self.start.as_deref().map(str::to_owned),
            request_id: request_id.to_owned(),
        }
    }

    /// Renders the response; logs the hidden source of server-side failures.
    pub fn into_response_with_id(self, request_id: &str) -> Response {
        if self.status.is_server_error() {
            match &self.source {
                Some(source) => {
                    tracing::error!(request_id, code = self.code.as_str(), error = %source, error_debug = ?source, "request failed")
                }
                None => {
                    tracing::error!(request_id, code = self.code.as_str(), detail = %self.detail, "request failed")
                }
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

impl From<Error> for ApiError {
    fn from(err: Error) -> Self {
        match err {
            Error::Validation(v) => Self::validation(v.fields().clone()),
            Error::NotFound { resource } => Self::not_found(format!("{resource} not found")),
            Error::Conflict(conflict) => Self::new(ErrorCode::Conflict, conflict.to_string()),
            Error::VersionMismatch { current } => Self::precondition_failed(format!(
                "If-Match does not match the current version ({current})"
            ))
            .with_header(header::ETAG, etag_value(current)),
            Error::Unauthenticated(msg) => Self::unauthenticated(msg),
            Error::Forbidden(msg) => Self::new(ErrorCode::Forbidden, msg),
            Error::RateLimited { retry_after } => Self::rate_limited(retry_after),
            Error::Unavailable(source) => {
                let mut e = Self::unavailable("the store cannot be reached; retry later");
                e.source = Some(source);
                e
            }
            Error::ResetRequired { start } => {
                let mut e = Self::new(
                    ErrorCode::ResetRequired,
                    "the change log no longer reaches back to that position: refetch, then follow from `start`",
                );
                e.start = Some(start.to_string().into());
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
        let mut clone = ApiError::new(self.code, self.detail.clone());
        clone.status = self.status;
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
        StatusCode::BAD_REQUEST => match err.downcast_ref::<ParseParamError>() {
            // Typed parameters are declared as `QueryValue<T>` (`query_errors.rs`), whose
            // extractor never fails. One declared otherwise ends here, with a reason in
            // poem-openapi's type names ("integer_int64"): the client gets the name only.
            Some(e) => ApiError::bad_query(BTreeMap::from([(
                e.name.to_owned(),
                vec!["does not have the type the OpenAPI document gives".to_owned()],
            )])),
            None => ApiError::malformed(err.to_string()),
        },
        StatusCode::UNAUTHORIZED => ApiError::unauthenticated("a bearer token is required"),
        StatusCode::NOT_FOUND => ApiError::not_found("no such resource"),
        StatusCode::METHOD_NOT_ALLOWED => ApiError::new(
            ErrorCode::MethodNotAllowed,
            "this method is not allowed on this resource",
        ),
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::payload_too_large(crate::BODY_LIMIT),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ApiError::unsupported_media_type(err.to_string()),
        s if s.is_client_error() => {
            let mut e = ApiError::malformed(err.to_string());
            e.status = s;
            e
        }
        StatusCode::SERVICE_UNAVAILABLE => ApiError::unavailable("temporarily unavailable"),
        _ => ApiError::internal(Some(err.to_string().into())),
    }
}

impl ApiResponse for ApiError {
    fn meta() -> MetaResponses {
        MetaResponses {
            responses: ErrorCode::ALL
                .into_iter()
                .filter_map(|code| {
                    let (status, _, description) = http_of(code);
                    Some((code, status, description?))
                })
                .map(|(code, status, description)| MetaResponse {
                    description,
                    status: Some(status.as_u16()),
                    status_range: None,
                    content: vec![MetaMediaType {
                        content_type: PROBLEM_JSON,
                        schema: ProblemBody::schema_ref(),
                    }],
                    headers: documented_headers(code)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_parameter_poem_failed_to_parse_is_named_without_poems_type_names() {
        let err = poem::Error::from(ParseParamError {
            name: "limit",
            reason: r#"failed to parse "integer_int64": invalid digit"#.to_owned(),
        });
        let body = foreign(&err).body("id");
        assert_eq!(
            (body.status, body.code.as_str()),
            (400, "malformed_request")
        );
        let errors = body.errors.expect("the parameter is named");
        assert_eq!(errors.keys().collect::<Vec<_>>(), ["limit"]);
        let text = format!("{} {errors:?}", body.detail);
        assert!(!text.contains("int64"), "{text}");
    }
}
