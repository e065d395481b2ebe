//! Exceptions: `TaskFlowError` (with `.code`) and one subclass per core error code, created
//! once, and mapped from core's error in one place.

use std::collections::BTreeMap;

use pyo3::create_exception;
use pyo3::exceptions::PyException;
use pyo3::prelude::*;
use pyo3::types::PyType;
use taskflow_core::{Error, ErrorCode};

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

create_exception!(
    taskflow,
    ResetRequiredError,
    TaskFlowError,
    "A change-log position is older than the log keeps: refetch, then follow from `.start`."
);

/// Core's error on its way to Python (a local type, so `From` can be implemented here).
#[derive(Debug)]
pub struct TfError(pub Error);

impl From<Error> for TfError {
    fn from(e: Error) -> Self {
        TfError(e)
    }
}

/// The exception class of a code: the one mapping of codes to Python. Exhaustive, so a
/// new core code cannot be forgotten; transport-only codes never reach Python and fall
/// back to the base class.
fn exception_of(py: Python<'_>, code: ErrorCode) -> Bound<'_, PyType> {
    use ErrorCode as C;
    match code {
        C::ValidationFailed => py.get_type::<ValidationError>(),
        C::NotFound => py.get_type::<NotFoundError>(),
        C::Conflict => py.get_type::<ConflictError>(),
        C::VersionMismatch => py.get_type::<VersionMismatchError>(),
        C::Unauthenticated => py.get_type::<AuthenticationError>(),
        C::Forbidden => py.get_type::<PermissionDeniedError>(),
        C::RateLimited => py.get_type::<RateLimitedError>(),
        C::ResetRequired => py.get_type::<ResetRequiredError>(),
        C::Unavailable => py.get_type::<UnavailableError>(),
        C::Internal
        | C::MalformedRequest
        | C::MethodNotAllowed
        | C::RequestTimeout
        | C::PayloadTooLarge
        | C::UnsupportedMediaType => py.get_type::<TaskFlowError>(),
    }
}

/// The only mapping of core errors to Python exceptions.
impl From<TfError> for PyErr {
    fn from(TfError(err): TfError) -> PyErr {
        let message = err.to_string();
        let code = err.code();
        Python::attach(|py| {
            let pyerr = PyErr::from_type(exception_of(py, code), message);
            let value = pyerr.value(py);
            let _ = value.setattr("code", code.as_str());
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
                Error::ResetRequired { start } => {
                    let _ = value.setattr("start", start.to_string());
                }
                _ => {}
            }
            pyerr
        })
    }
}

/// Registers the exception classes, each with its code as a class attribute too (read from
/// `exception_of`, so the class attribute and the raised `.code` cannot disagree).
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    let base = py.get_type::<TaskFlowError>();
    base.setattr("code", ErrorCode::Internal.as_str())?;
    m.add("TaskFlowError", &base)?;
    for code in ErrorCode::ALL {
        let class = exception_of(py, code);
        if class.is(&base) {
            continue;
        }
        class.setattr("code", code.as_str())?;
        m.add(class.name()?, class)?;
    }
    Ok(())
}
