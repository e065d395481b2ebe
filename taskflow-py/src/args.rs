//! Python arguments that need more than pyo3's built-in conversions.

use chrono::{DateTime, FixedOffset, Utc};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString};
use taskflow_core::{Error, TaskId, UserId};

use crate::errors::TfError;

/// A patch field where passing `None` clears the value and leaving it out keeps it.
#[derive(Debug, Clone, Default)]
pub enum Clearable<T> {
    /// Not passed: unchanged.
    #[default]
    Unset,
    /// Passed as `None`: cleared.
    Clear,
    /// Passed a value.
    Set(T),
}

impl<T> Clearable<T> {
    /// As core's patch field: `None` unchanged, `Some(None)` clear, `Some(Some(v))` set.
    pub fn into_patch<U>(self, f: impl FnOnce(T) -> U) -> Option<Option<U>> {
        match self {
            Clearable::Unset => None,
            Clearable::Clear => Some(None),
            Clearable::Set(v) => Some(Some(f(v))),
        }
    }
}

impl<'a, 'py, T> FromPyObject<'a, 'py> for Clearable<T>
where
    T: FromPyObject<'a, 'py>,
{
    type Error = PyErr;

    fn extract(obj: Borrowed<'a, 'py, PyAny>) -> PyResult<Self> {
        if obj.is_none() {
            Ok(Clearable::Clear)
        } else {
            obj.extract::<T>().map(Clearable::Set).map_err(Into::into)
        }
    }
}

/// The JWT secret, as `str` or `bytes`.
pub struct SecretArg(pub Vec<u8>);

impl<'a, 'py> FromPyObject<'a, 'py> for SecretArg {
    type Error = PyErr;

    fn extract(obj: Borrowed<'a, 'py, PyAny>) -> PyResult<Self> {
        if let Ok(s) = obj.cast::<PyString>() {
            return Ok(SecretArg(s.to_cow()?.as_bytes().to_vec()));
        }
        if let Ok(b) = obj.cast::<PyBytes>() {
            return Ok(SecretArg(b.as_bytes().to_vec()));
        }
        Err(PyTypeError::new_err("jwt_secret must be str or bytes"))
    }
}

/// An aware `datetime` in UTC.
pub fn utc(t: DateTime<FixedOffset>) -> DateTime<Utc> {
    t.with_timezone(&Utc)
}

/// A change-log position as the library gave it (`Event.id`, `Changes.next`); anything
/// else is a `ValidationError` naming the format.
pub fn position(raw: &str) -> Result<taskflow_core::LogPosition, TfError> {
    Ok(raw.parse()?)
}

/// A task id; a malformed one names no task (`NotFoundError`, like the HTTP API's `404`).
pub fn task_id(raw: &str) -> Result<TaskId, TfError> {
    raw.parse().map_err(|_| TfError(Error::task_not_found()))
}

/// A user id in a path position; malformed is `NotFoundError`.
pub fn user_id(raw: &str) -> Result<UserId, TfError> {
    raw.parse().map_err(|_| TfError(Error::user_not_found()))
}

/// A user id used as a filter; malformed is a `ValidationError` on that argument.
pub fn owner_filter(raw: Option<String>) -> Result<Option<UserId>, TfError> {
    raw.map(|s| {
        s.parse()
            .map_err(|_| TfError(Error::invalid("owner_id", "must be a user id (UUID)")))
    })
    .transpose()
}
