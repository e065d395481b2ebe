//! One Tokio runtime for the process, the one helper through which every blocking call
//! leaves the GIL, and [`Forward`], which says how an operation's result reaches Python.

use std::future::Future;
use std::sync::OnceLock;

use pyo3::prelude::*;
use tokio::runtime::Runtime;

use crate::errors::TfError;

pub(crate) fn runtime() -> &'static Runtime {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .thread_name("taskflow")
            .enable_all()
            .build()
            .expect("a Tokio runtime can be built")
    })
}

/// Shares the runtime with pyo3-async-runtimes, so `taskflow.aio` runs on it too.
pub fn install() {
    let _ = pyo3_async_runtimes::tokio::init_with_runtime(runtime());
}

/// Runs `fut` to completion with the GIL released: other Python threads go on while this
/// one waits on storage, hashing or the cache.
pub fn block_on<T, F>(py: Python<'_>, fut: F) -> PyResult<T>
where
    F: Future<Output = Result<T, TfError>> + Send,
    T: Send,
{
    py.detach(|| runtime().block_on(fut)).map_err(PyErr::from)
}

/// Schedules `fut` on the runtime and returns an asyncio awaitable of its result.
pub fn awaitable<'py, T, F>(py: Python<'py>, fut: F) -> PyResult<Bound<'py, PyAny>>
where
    F: Future<Output = Result<T, TfError>> + Send + 'static,
    T: for<'p> IntoPyObject<'p> + Send + 'static,
{
    pyo3_async_runtimes::tokio::future_into_py(py, async move { fut.await.map_err(PyErr::from) })
}

/// How the result of an operation reaches Python from each class: the forwarding methods
/// of `taskflow.TaskFlow` call [`Forward::blocking`], those of `taskflow.aio.TaskFlow` call
/// [`Forward::asyncio`]. A value is returned as is or as an awaitable; a
/// [`Streamed`](crate::streams::Streamed) result becomes a blocking or an async iterator.
pub trait Forward: Sized + Send + 'static {
    /// What the blocking method returns to Python.
    type Blocking;

    /// Runs the operation to its result with the GIL released.
    fn blocking<F>(py: Python<'_>, fut: F) -> PyResult<Self::Blocking>
    where
        F: Future<Output = Result<Self, TfError>> + Send;

    /// What the asyncio method returns at once: the operation is not waited for here.
    fn asyncio<F>(py: Python<'_>, fut: F) -> PyResult<Bound<'_, PyAny>>
    where
        F: Future<Output = Result<Self, TfError>> + Send + 'static;
}

impl<T> Forward for T
where
    T: for<'p> IntoPyObject<'p> + Send + 'static,
{
    type Blocking = T;

    fn blocking<F>(py: Python<'_>, fut: F) -> PyResult<T>
    where
        F: Future<Output = Result<T, TfError>> + Send,
    {
        block_on(py, fut)
    }

    fn asyncio<F>(py: Python<'_>, fut: F) -> PyResult<Bound<'_, PyAny>>
    where
        F: Future<Output = Result<T, TfError>> + Send + 'static,
    {
        awaitable(py, fut)
    }
}
