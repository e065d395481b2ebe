//! Mapping sqlx errors to TaskFlow's error codes.

use taskflow_core::{Conflict, Error};

/// A database failure as a TaskFlow error: unreachable or overloaded databases are
/// `unavailable` (retryable), everything else `internal`. The sqlx error is kept as source.
pub(crate) fn db(e: sqlx::Error) -> Error {
    let unreachable = match &e {
        // Protocol: the conversation with the server broke off (e.g. a proxy or load
        // balancer that accepts the TCP connection and then drops it mid-handshake).
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Protocol(_)
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(d) => d.code().is_some_and(|c| {
            // PostgreSQL: connection exceptions (08xxx), too many connections, admin or
            // crash shutdown, cannot connect now. SQLite: busy or locked past busy_timeout.
            c.starts_with("08") || matches!(&*c, "53300" | "57P01" | "57P02" | "57P03" | "5" | "6")
        }),
        _ => false,
    };
    if unreachable {
        Error::unavailable(e)
    } else {
        Error::internal(e)
    }
}

/// Whether the error is a unique-constraint violation.
pub(crate) fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.is_unique_violation())
}

/// The error for a duplicate email.
pub(crate) fn duplicate_email() -> Error {
    Conflict::EmailTaken.into()
}

/// The error for a task id that is already taken.
pub(crate) fn duplicate_task_id() -> Error {
    Conflict::IdTaken("task").into()
}

/// The error for a guarded write that would leave no active admin.
pub(crate) fn last_admin() -> Error {
    Conflict::LastActiveAdmin.into()
}
