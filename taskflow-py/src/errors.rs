//! Exceptions: `TaskFlowError` (with `.code`) and one subclass per core error code, created
//! once, and mapped from core's error in one place.

use std::collections::BTreeMap;

use pyo3::create_exception;
use pyo3::exceptions::PyException;
use pyo3::prelude::*;
use taskflow_core::Error;

create_exception!(
    taskflow,
    TaskFlowError,
    PyException,
    "Base of every TaskFlow error; `.code` is the core's error code."
);
create_exception!(
    taskflow,
    ValidationError,
    TaskFlowError,
    "Invalid input; `.errors` maps each failing field to its messages."
);
create_exception!(
    taskflow,
    NotFoundError,
    TaskFlowError,
    "No such resource, or it belongs to another user."
);
create_exception!(
    taskflow,
    ConflictError,
    TaskFlowError,
    "Duplicate email, or a change to the last active admin."
);
create_exception!(
    taskflow,
    VersionMismatchError,
    TaskFlowError,
    "The task is not at the expected version; `.current_version` says where it is."
);
create_exception!(
    taskflow,
    AuthenticationError,
    TaskFlowError,
    "Missing, invalid, expired or revoked credentials, or a disabled account."
);
create_exception!(
    taskflow,
    PermissionDeniedError,
    TaskFlowError,
    "The caller's role lacks the permission."
);
create_exception!(
    taskflow,
    RateLimitedError,
    TaskFlowError,
    "Too many attempts; `.retry_after` is in seconds."
);
create_exception!(
    taskflow,
    UnavailableError,
    TaskFlowError,
    "The store cannot be reached; retry later."
);

/// Core's error on its way to Python (a local type, so `From` can be implemented here).
#[derive(Debug)]
pub struct TfError(pub Error);

impl From<Error> for TfError {
    fn from(e: Error) -> Self {
        TfError(e)
    }
}

/// The only mapping of core errors to Python exceptions.
impl From<TfError> for PyErr {
    fn from(TfError(err): TfError) -> PyErr {
        let message = err.to_string();
        let code = err.code();
        let pyerr = match &err {
            Error::Validation(_) => ValidationError::new_err(message),
            Error::NotFound { .. } => NotFoundError::new_err(message),
            Error::Conflict(_) => ConflictError::new_err(message),
            Error::VersionMismatch { .. } => VersionMismatchError::new_err(message),
            Error::Unauthenticated(_) => AuthenticationError::new_err(message),
            Error::Forbidden(_) => PermissionDeniedError::new_err(message),
            Error::RateLimited { .. } => RateLimitedError::new_err(message),
            Error::Unavailable(_) => UnavailableError::new_err(message),
            _ => TaskFlowError::new_err(message),
        };
        Python::attach(|py| {
            let value = pyerr.value(py);
            let _ = value.setattr("code", code);
            match &err {
                Error::Validation(v) => {
                    let errors: BTreeMap<String, Vec<String>> = v.fields().clone();
                    let _ = value.setattr("errors", errors);
                }
                Error::RateLimited { retry_after } => {
                    let _ = value.setattr("retry_after", retry_after.as_secs_f64());
                }
                Error::VersionMismatch { current } => {
                    let _ = value.setattr("current_version", *current);
                }
                _ => {}
            }
        });
        pyerr
    }
}

/// Registers the exception classes, each with its code as a class attribute too.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    for (name, class, code) in [
        ("TaskFlowError", py.get_type::<TaskFlowError>(), "internal"),
        (
            "ValidationError",
            py.get_type::<ValidationError>(),
            "validation_failed",
        ),
        ("NotFoundError", py.get_type::<NotFoundError>(), "not_found"),
        ("ConflictError", py.get_type::<ConflictError>(), "conflict"),
        (
            "VersionMismatchError",
            py.get_type::<VersionMismatchError>(),
            "version_mismatch",
        ),
        (
            "AuthenticationError",
            py.get_type::<AuthenticationError>(),
            "unauthenticated",
        ),
        (
            "PermissionDeniedError",
            py.get_type::<PermissionDeniedError>(),
            "forbidden",
        ),
        (
            "RateLimitedError",
            py.get_type::<RateLimitedError>(),
            "rate_limited",
        ),
        (
            "UnavailableError",
            py.get_type::<UnavailableError>(),
            "unavailable",
        ),
    ] {
        class.setattr("code", code)?;
        m.add(name, class)?;
    }
    Ok(())
}
