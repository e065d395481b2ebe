//! One Tokio runtime for the process, and the one helper through which every blocking call
//! leaves the GIL.

use std::future::Future;
use std::sync::OnceLock;

use pyo3::prelude::*;
use tokio::runtime::Runtime;

use crate::errors::TfError;

fn runtime() -> &'static Runtime {
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
