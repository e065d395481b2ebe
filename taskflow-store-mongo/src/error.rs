//! Mapping driver errors to TaskFlow's error codes.

use mongodb::error::{ErrorKind, WriteFailure};
use taskflow_core::Error;

/// MongoDB's duplicate-key error code (the only signal used: nx-27017's command errors
/// carry no code, and messages differ between servers).
const DUPLICATE_KEY: i32 = 11000;

/// A driver failure as a TaskFlow error: no reachable server, network and pool failures are
/// `unavailable`; the rest `internal`. The driver error is kept as the source.
pub(crate) fn db(e: mongodb::error::Error) -> Error {
    let unreachable = matches!(
        *e.kind,
        ErrorKind::ServerSelection { .. }
            | ErrorKind::Io(_)
            | ErrorKind::ConnectionPoolCleared { .. }
            | ErrorKind::DnsResolve { .. }
    ) || e.contains_label("NetworkError")
        || e.contains_label("RetryableWriteError");
    if unreachable {
        Error::unavailable(e)
    } else {
        Error::internal(e)
    }
}

/// Whether a write failed on a unique index.
pub(crate) fn is_duplicate_key(e: &mongodb::error::Error) -> bool {
    match &*e.kind {
        ErrorKind::Write(WriteFailure::WriteError(w)) => w.code == DUPLICATE_KEY,
        ErrorKind::InsertMany(m) => m
            .write_errors
            .as_ref()
            .is_some_and(|errs| errs.iter().any(|w| w.code == DUPLICATE_KEY)),
        ErrorKind::Command(c) => c.code == DUPLICATE_KEY,
        _ => false,
    }
}
