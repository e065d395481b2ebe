//! The one error type of the library. Each variant maps to exactly one code of the HTTP
//! contract (`API.md`), so every frontend translates errors with a single `match`.

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
    Conflict(String),
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
    /// A dependency (database, cache) cannot be reached. Code `unavailable`.
    #[error("service temporarily unavailable")]
    Unavailable(#[source] BoxError),
    /// A bug or an unexpected state. Code `internal`.
    #[error("internal error")]
    Internal(#[source] BoxError),
}

impl Error {
    /// The stable, machine-readable code of this error (the `code` field of `API.md`).
    pub fn code(&self) -> &'static str {
        match self {
            Error::Validation(_) => "validation_failed",
            Error::NotFound { .. } => "not_found",
            Error::Conflict(_) => "conflict",
            Error::VersionMismatch { .. } => "version_mismatch",
            Error::Unauthenticated(_) => "unauthenticated",
            Error::Forbidden(_) => "forbidden",
            Error::RateLimited { .. } => "rate_limited",
            Error::Unavailable(_) => "unavailable",
            Error::Internal(_) => "internal",
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
