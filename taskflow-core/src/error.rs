//! The one error type of the library and the codes it is known by.
//!
//! [`ErrorCode`] owns every code string of the HTTP contract (`docs/http-api.md`) and the
//! Python exceptions (`docs/python-api.md`); each [`Error`] variant has exactly one code, so
//! every frontend translates errors with one exhaustive `match` on [`ErrorCode`]. Messages a
//! user sees are worded here (stores report a [`Conflict`], never a sentence).

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

/// A boxed error source kept intact (never stringified) so callers can downcast it.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Result alias used across the library.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Every failure TaskFlow reports.
///
/// `Display` output is safe to show to a client: it never contains secrets, hashes or
/// internal details. The underlying cause of [`Error::Unavailable`] and [`Error::Internal`]
/// is kept as the error's `source()` for logging.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// One or more input fields are invalid; lists every failing field. Code `validation_failed`.
    #[error("{0}")]
    Validation(ValidationErrors),
    /// The resource does not exist or is not visible to the caller. Code `not_found`.
    #[error("{resource} not found")]
    NotFound {
        /// What was looked up (`"task"`, `"user"`).
        resource: &'static str,
    },
    /// The operation clashes with current state (duplicate email, last active admin). Code `conflict`.
    #[error("{0}")]
    Conflict(Conflict),
    /// The caller's expected version is not the current one. Code `version_mismatch`.
    #[error("version mismatch: the task is at version {current}")]
    VersionMismatch {
        /// The version currently stored.
        current: u64,
    },
    /// Missing, malformed, expired or revoked credentials; wrong password; disabled account.
    /// Code `unauthenticated`.
    #[error("{0}")]
    Unauthenticated(&'static str),
    /// Authenticated but not permitted. Code `forbidden`.
    #[error("{0}")]
    Forbidden(&'static str),
    /// Too many attempts; retry after the given delay. Code `rate_limited`.
    #[error("too many attempts, retry in {} s", retry_after.as_secs().max(1))]
    RateLimited {
        /// How long until the operation may succeed.
        retry_after: Duration,
    },
    /// A change-log position is older than what the store still keeps: refetch, then follow
    /// from `start`. Code `reset_required`.
    #[error(
        "the change log no longer reaches back to that position: refetch and start from {start}"
    )]
    ResetRequired {
        /// The position to follow from after refetching.
        start: crate::changes::LogPosition,
    },
    /// A dependency (database, cache) cannot be reached. Code `unavailable`.
    #[error("service temporarily unavailable")]
    Unavailable(#[source] BoxError),
    /// A bug or an unexpected state. Code `internal`.
    #[error("internal error")]
    Internal(#[source] BoxError),
}

impl Error {
    /// The stable, machine-readable code of this error (the `code` field of the HTTP
    /// contract); [`ErrorCode::as_str`] gives its string.
    pub fn code(&self) -> ErrorCode {
        match self {
            Error::Validation(_) => ErrorCode::ValidationFailed,
            Error::NotFound { .. } => ErrorCode::NotFound,
            Error::Conflict(_) => ErrorCode::Conflict,
            Error::VersionMismatch { .. } => ErrorCode::VersionMismatch,
            Error::Unauthenticated(_) => ErrorCode::Unauthenticated,
            Error::Forbidden(_) => ErrorCode::Forbidden,
            Error::RateLimited { .. } => ErrorCode::RateLimited,
            Error::ResetRequired { .. } => ErrorCode::ResetRequired,
            Error::Unavailable(_) => ErrorCode::Unavailable,
            Error::Internal(_) => ErrorCode::Internal,
        }
    }

    /// Wraps a store or network failure meaning "cannot reach the dependency".
    pub fn unavailable(source: impl Into<BoxError>) -> Self {
        Error::Unavailable(source.into())
    }

    /// Wraps an unexpected failure.
    pub fn internal(source: impl Into<BoxError>) -> Self {
        Error::Internal(source.into())
    }

    /// A `not_found` error for a task.
    pub fn task_not_found() -> Self {
        Error::NotFound { resource: "task" }
    }

    /// A `not_found` error for a user.
    pub fn user_not_found() -> Self {
        Error::NotFound { resource: "user" }
    }

    /// A validation error for a single field.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        let mut errors = ValidationErrors::new();
        errors.add(field, message);
        Error::Validation(errors)
    }
}

/// Every error code of TaskFlow, the single owner of the code strings.
///
/// Most codes are those of [`Error`]'s variants; five belong to the transport and are
/// produced by frontends before core is reached (`malformed_request`, `method_not_allowed`,
/// `request_timeout`, `payload_too_large`, `unsupported_media_type`). The enum is deliberately exhaustive: a
/// new code fails to compile in every frontend until each maps it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ErrorCode {
    /// The request cannot be read: not JSON, wrong JSON types, a bad query parameter.
    MalformedRequest,
    /// Missing, malformed, expired or revoked credentials; wrong password; disabled account.
    Unauthenticated,
    /// Authenticated but not permitted.
    Forbidden,
    /// No such resource, or not visible to the caller.
    NotFound,
    /// The method is not served on this path.
    MethodNotAllowed,
    /// The request body did not arrive in time.
    RequestTimeout,
    /// The operation clashes with current state.
    Conflict,
    /// The caller's expected version is not the current one.
    VersionMismatch,
    /// A change-log position is older than the log's retention.
    ResetRequired,
    /// The request body is over the size limit.
    PayloadTooLarge,
    /// The request body has a media type the operation does not take.
    UnsupportedMediaType,
    /// One or more input fields are invalid.
    ValidationFailed,
    /// Too many attempts or requests.
    RateLimited,
    /// A dependency cannot be reached.
    Unavailable,
    /// A bug or an unexpected state.
    Internal,
}

impl ErrorCode {
    /// Every code, in the order of the HTTP status each answers with.
    pub const ALL: [ErrorCode; 15] = [
        ErrorCode::MalformedRequest,
        ErrorCode::Unauthenticated,
        ErrorCode::Forbidden,
        ErrorCode::NotFound,
        ErrorCode::MethodNotAllowed,
        ErrorCode::RequestTimeout,
        ErrorCode::Conflict,
        ErrorCode::VersionMismatch,
        ErrorCode::ResetRequired,
        ErrorCode::PayloadTooLarge,
        ErrorCode::UnsupportedMediaType,
        ErrorCode::ValidationFailed,
        ErrorCode::RateLimited,
        ErrorCode::Internal,
        ErrorCode::Unavailable,
    ];

    /// The code's stable string (`validation_failed`, `not_found`, ...).
    pub const fn as_str(self) -> &'static str {
        match self {
            ErrorCode::MalformedRequest => "malformed_request",
            ErrorCode::Unauthenticated => "unauthenticated",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::NotFound => "not_found",
            ErrorCode::MethodNotAllowed => "method_not_allowed",
            ErrorCode::RequestTimeout => "request_timeout",
            ErrorCode::Conflict => "conflict",
            ErrorCode::VersionMismatch => "version_mismatch",
            ErrorCode::ResetRequired => "reset_required",
            ErrorCode::PayloadTooLarge => "payload_too_large",
            ErrorCode::UnsupportedMediaType => "unsupported_media_type",
            ErrorCode::ValidationFailed => "validation_failed",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::Unavailable => "unavailable",
            ErrorCode::Internal => "internal",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<str> for ErrorCode {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for ErrorCode {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// What a [`Error::Conflict`] clashed with. Stores and services report the kind; core words
/// the message, so every store says the same thing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Conflict {
    /// Another user has this email.
    EmailTaken,
    /// A record with this id exists already (`"task"`, `"user"`).
    IdTaken(&'static str),
    /// The write would leave no active admin.
    LastActiveAdmin,
    /// Another administrator change holds the guard; the caller may retry.
    AdminChangeInProgress,
    /// Optimistic writes kept losing to concurrent ones; the caller may retry.
    Contended(Contended),
}

/// What kept changing under an optimistic write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Contended {
    /// One task.
    Task,
    /// A set of tasks (bulk status).
    Tasks,
    /// A user (admin update).
    User,
    /// The caller's own account (profile, password).
    Account,
}

impl fmt::Display for Conflict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Conflict::EmailTaken => f.write_str("email already registered"),
            Conflict::IdTaken(resource) => write!(f, "{resource} id already exists"),
            Conflict::LastActiveAdmin => {
                f.write_str("the last active admin cannot be demoted or disabled")
            }
            Conflict::AdminChangeInProgress => {
                f.write_str("another administrator change is in progress; retry")
            }
            Conflict::Contended(what) => f.write_str(match what {
                Contended::Task => "the task is being changed concurrently; retry",
                Contended::Tasks => "the tasks are being changed concurrently; retry",
                Contended::User => "the user is being changed concurrently; retry",
                Contended::Account => "the account is being changed concurrently; retry",
            }),
        }
    }
}

impl From<Conflict> for Error {
    fn from(conflict: Conflict) -> Self {
        Error::Conflict(conflict)
    }
}

/// Field → messages, in field order. Built by validators that check every field before failing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ValidationErrors {
    fields: BTreeMap<String, Vec<String>>,
}

impl ValidationErrors {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records one failure of `field`.
    pub fn add(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.fields
            .entry(field.into())
            .or_default()
            .push(message.into());
    }

    /// True when nothing failed.
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// The failures by field name (`title`, `tags[3]`, ...).
    pub fn fields(&self) -> &BTreeMap<String, Vec<String>> {
        &self.fields
    }

    /// `Ok(())` when empty, else the `validation_failed` error carrying every failure.
    pub fn into_result(self) -> Result<()> {
        if self.is_empty() {
            Ok(())
        } else {
            Err(Error::Validation(self))
        }
    }
}

impl fmt::Display for ValidationErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.fields.len() {
            1 => write!(f, "1 field is invalid"),
            n => write!(f, "{n} fields are invalid"),
        }
    }
}
