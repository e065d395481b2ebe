//! Python bindings of TaskFlow: the private native module `taskflow._taskflow`, wrapped by
//! the `taskflow` package in `python/taskflow/`. Contract: `docs/python-api.md`.
//!
//! The crate translates only: arguments become core inputs, core results become Python
//! objects, core errors become the exceptions of [`errors`]. Every blocking call goes
//! through [`runtime::block_on`], which releases the GIL.

mod args;
mod changes;
pub mod errors;
mod flow;
pub mod runtime;
pub mod streams;
mod types;

use pyo3::prelude::*;

/// The native module.
#[pymodule]
fn _taskflow(m: &Bound<'_, PyModule>) -> PyResult<()> {
    runtime::install();
    errors::register(m)?;
    m.add_class::<flow::SyncTaskFlow>()?;
    m.add_class::<flow::AsyncTaskFlow>()?;
    m.add_class::<types::User>()?;
    m.add_class::<types::TokenPair>()?;
    m.add_class::<types::Principal>()?;
    m.add_class::<types::Task>()?;
    m.add_class::<types::TaskPage>()?;
    m.add_class::<types::UserPage>()?;
    m.add_class::<types::TaskStats>()?;
    m.add_class::<changes::Event>()?;
    m.add_class::<changes::TaskChange>()?;
    m.add_class::<changes::Changes>()?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
