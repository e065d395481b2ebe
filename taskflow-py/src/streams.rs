//! Operations whose result arrives over time: [`Streamed`] wraps a Rust `Stream`, and
//! [`Forward`] turns it into a blocking iterator for `taskflow.TaskFlow` (the GIL released
//! while `__next__` waits) or an async iterator for `taskflow.aio.TaskFlow` (`__anext__`
//! returns an awaitable). The iterator classes are not exported from the module: Python
//! only meets them as the result of a streaming operation.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures_util::stream::{self, BoxStream, Stream, StreamExt, TryStreamExt};
use pyo3::IntoPyObjectExt;
use pyo3::exceptions::PyStopAsyncIteration;
use pyo3::prelude::*;
use tokio::sync::Mutex;

use crate::errors::TfError;
use crate::runtime::{Forward, block_on, runtime};

/// How long a blocking `__next__` waits before it looks for signals: a stream may stay
/// quiet forever, and Ctrl-C must still end the wait.
const SIGNAL_CHECK: Duration = Duration::from_millis(100);

/// The result of an operation that yields items over time; each item is converted to
/// Python as it arrives.
pub struct Streamed<T> {
    stream: BoxStream<'static, Result<T, TfError>>,
}

impl<T> Streamed<T> {
    /// Wraps a stream of items (an `Err` item raises at that point of the iteration).
    pub fn new(stream: impl Stream<Item = Result<T, TfError>> + Send + 'static) -> Self {
        Self {
            stream: stream.boxed(),
        }
    }
}

/// An item that becomes a Python object only once the GIL is held again, so that waiting
/// for it needs no GIL and one iterator class serves every item type.
struct PyItem(Box<ToPython>);

/// What [`PyItem`] holds: the item, moved into its conversion.
type ToPython = dyn FnOnce(Python<'_>) -> PyResult<Py<PyAny>> + Send;

impl<'py> IntoPyObject<'py> for PyItem {
    type Target = PyAny;
    type Output = Bound<'py, PyAny>;
    type Error = PyErr;

    fn into_pyobject(self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        (self.0)(py).map(|item| item.into_bound(py))
    }
}

/// The items of any [`Streamed`], ending for good once they end.
type Items = BoxStream<'static, Result<PyItem, TfError>>;

fn items<T>(streamed: Streamed<T>) -> Items
where
    T: for<'p> IntoPyObject<'p> + Send + 'static,
{
    let erase = |item: T| PyItem(Box::new(move |py| item.into_py_any(py)));
    streamed.stream.map_ok(erase).fuse().boxed()
}

/// A blocking iterator over a stream; `__next__` releases the GIL while it waits.
#[pyclass(module = "taskflow", name = "StreamIterator", frozen)]
pub struct StreamIterator {
    items: Mutex<Items>,
}

#[pymethods]
impl StreamIterator {
    fn __iter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    fn __next__(&self, py: Python<'_>) -> PyResult<Option<PyItem>> {
        loop {
            let next = py.detach(|| {
                // The timer must be made inside the runtime, hence inside the block.
                runtime().block_on(async {
                    let next = async { self.items.lock().await.next().await };
                    tokio::time::timeout(SIGNAL_CHECK, next).await
                })
            });
            match next {
                Ok(Some(item)) => return item.map(Some).map_err(PyErr::from),
                Ok(None) => return Ok(None),
                // `next` is cancel-safe: an item not yet arrived stays in the stream.
                Err(_quiet) => py.check_signals()?,
            }
        }
    }
}

/// An async iterator over a stream; `__anext__` returns an awaitable of the next item.
#[pyclass(module = "taskflow.aio", name = "AsyncStreamIterator", frozen)]
pub struct AsyncStreamIterator {
    items: Arc<Mutex<Items>>,
}

#[pymethods]
impl AsyncStreamIterator {
    fn __aiter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    fn __anext__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let items = self.items.clone();
        pyo3_async_runtimes::tokio::future_into_py(py, async move {
            match items.lock().await.next().await {
                Some(item) => item.map_err(PyErr::from),
                None => Err(PyStopAsyncIteration::new_err(())),
            }
        })
    }
}

impl<T> Forward for Streamed<T>
where
    T: for<'p> IntoPyObject<'p> + Send + 'static,
{
    type Blocking = StreamIterator;

    /// Opens the stream now, so that opening errors raise at the call.
    fn blocking<F>(py: Python<'_>, fut: F) -> PyResult<StreamIterator>
    where
        F: Future<Output = Result<Self, TfError>> + Send,
    {
        let items = items(block_on(py, fut)?);
        Ok(StreamIterator {
            items: Mutex::new(items),
        })
    }

    /// Opens the stream on the first `__anext__`: `async for` takes the iterator without
    /// awaiting anything, so an opening error raises there.
    fn asyncio<F>(py: Python<'_>, fut: F) -> PyResult<Bound<'_, PyAny>>
    where
        F: Future<Output = Result<Self, TfError>> + Send + 'static,
    {
        let items = stream::once(fut).map_ok(items).try_flatten().fuse().boxed();
        let iterator = AsyncStreamIterator {
            items: Arc::new(Mutex::new(items)),
        };
        Ok(Bound::new(py, iterator)?.into_any())
    }
}

#[cfg(test)]
mod tests {
    //! The iterators over test-only streams (errors and ends on demand), driven through
    //! Python's own iteration protocols.

    use std::ffi::CStr;

    use pyo3::types::PyDict;
    use taskflow_core::Error;

    use super::*;
    use crate::errors::NotFoundError;

    fn python<R>(f: impl for<'py> FnOnce(Python<'py>) -> R) -> R {
        Python::initialize();
        crate::runtime::install();
        Python::attach(f)
    }

    fn not_found() -> TfError {
        TfError(Error::task_not_found())
    }

    /// 1, 2, …, n, then `then` if given.
    fn counting(n: u64, then: Option<TfError>) -> Streamed<u64> {
        let items = stream::iter((1..=n).map(Ok)).chain(stream::iter(then.map(Err)));
        Streamed::new(items)
    }

    /// Evaluates `expr` with `it` bound to `iterator`.
    fn eval<'py>(iterator: &Bound<'py, PyAny>, expr: &CStr) -> PyResult<Bound<'py, PyAny>> {
        let py = iterator.py();
        let locals = PyDict::new(py);
        locals.set_item("it", iterator)?;
        py.eval(expr, None, Some(&locals))
    }

    /// Runs `async def main(it)` from `source` under `asyncio.run`.
    fn run_async<'py>(iterator: &Bound<'py, PyAny>, source: &CStr) -> PyResult<Bound<'py, PyAny>> {
        let py = iterator.py();
        let globals = PyDict::new(py);
        py.run(source, Some(&globals), None)?;
        let main = globals.get_item("main")?.expect("the source defines main");
        py.import("asyncio")?
            .call_method1("run", (main.call1((iterator,))?,))
    }

    #[test]
    fn blocking_iterator_yields_every_item_then_stops_for_good() {
        python(|py| {
            let it = Streamed::blocking(py, async { Ok(counting(3, None)) }).unwrap();
            let it = Bound::new(py, it).unwrap().into_any();
            let items: Vec<u64> = eval(&it, c"[x for x in it]").unwrap().extract().unwrap();
            assert_eq!(items, [1, 2, 3]);
            let after: String = eval(&it, c"next(it, 'end')").unwrap().extract().unwrap();
            assert_eq!(after, "end");
        });
    }

    #[test]
    fn blocking_iterator_raises_an_error_item_as_its_exception() {
        python(|py| {
            let it = Streamed::blocking(py, async { Ok(counting(1, Some(not_found()))) });
            let it = Bound::new(py, it.unwrap()).unwrap().into_any();
            let first: u64 = eval(&it, c"next(it)").unwrap().extract().unwrap();
            assert_eq!(first, 1);
            let err = eval(&it, c"next(it)").unwrap_err();
            assert!(err.is_instance_of::<NotFoundError>(py), "{err}");
            assert!(eval(&it, c"next(it, None)").unwrap().is_none());
        });
    }

    #[test]
    fn blocking_open_error_raises_at_the_call() {
        python(|py| {
            let err = Streamed::<u64>::blocking(py, async { Err(not_found()) })
                .err()
                .expect("opening fails");
            assert!(err.is_instance_of::<NotFoundError>(py), "{err}");
        });
    }

    #[test]
    fn blocking_next_releases_the_gil_while_it_waits() {
        python(|py| {
            // The item comes from a thread that must take the GIL first. Started only
            // once the iterator exists, and with this thread holding the GIL throughout (no
            // Python bytecode runs that could switch threads), it can only send the item
            // if `__next__` releases the GIL while it waits.
            let (sent, received) = tokio::sync::oneshot::channel();
            let item = async move {
                match tokio::time::timeout(Duration::from_secs(10), received).await {
                    Ok(Ok(n)) => Ok(n),
                    _ => Err(TfError(Error::invalid("gil", "never released"))),
                }
            };
            let streamed = Streamed::new(stream::once(item));
            let it = Streamed::blocking(py, async { Ok(streamed) }).unwrap();
            std::thread::spawn(move || {
                Python::attach(|_| ());
                let _ = sent.send(7u64);
            });
            let first = it.__next__(py).unwrap().expect("an item");
            assert_eq!(
                first.into_pyobject(py).unwrap().extract::<u64>().unwrap(),
                7
            );
        });
    }

    const COLLECT: &CStr = cr#"
import asyncio

async def main(it):
    ticks, done = 0, False

    async def tick():
        nonlocal ticks
        while not done:
            ticks += 1
            await asyncio.sleep(0.01)

    ticker = asyncio.ensure_future(tick())
    items = [x async for x in it]
    done = True
    await ticker
    try:
        await it.__anext__()
    except StopAsyncIteration:
        return items, ticks
    raise AssertionError("an ended iterator went on")
"#;

    #[test]
    fn async_iterator_yields_every_item_and_leaves_the_loop_free() {
        python(|py| {
            let slow = stream::iter(1..=3u64).then(|n| async move {
                tokio::time::sleep(Duration::from_millis(200)).await;
                Ok(n)
            });
            let it = Streamed::asyncio(py, async { Ok(Streamed::new(slow)) }).unwrap();
            let (items, ticks): (Vec<u64>, u64) =
                run_async(&it, COLLECT).unwrap().extract().unwrap();
            assert_eq!(items, [1, 2, 3]);
            // 600 ms of waiting at 10 ms a tick; a blocked loop ticks once per item.
            assert!(ticks >= 10, "the event loop ticked only {ticks} times");
        });
    }

    const FAIL: &CStr = cr#"
async def main(it):
    items = []
    try:
        async for x in it:
            items.append(x)
    except Exception as e:
        return items, e
    raise AssertionError("no exception")
"#;

    #[test]
    fn async_iterator_raises_an_error_item_as_its_exception() {
        python(|py| {
            let it = Streamed::asyncio(py, async { Ok(counting(2, Some(not_found()))) });
            let (items, err): (Vec<u64>, Bound<'_, PyAny>) =
                run_async(&it.unwrap(), FAIL).unwrap().extract().unwrap();
            assert_eq!(items, [1, 2]);
            assert!(err.is_instance_of::<NotFoundError>(), "{err}");
        });
    }

    #[test]
    fn async_open_error_raises_at_the_first_anext() {
        python(|py| {
            let it = Streamed::<u64>::asyncio(py, async { Err(not_found()) });
            let it = it.expect("opening waits for the first __anext__");
            let (items, err): (Vec<u64>, Bound<'_, PyAny>) =
                run_async(&it, FAIL).unwrap().extract().unwrap();
            assert!(items.is_empty());
            assert!(err.is_instance_of::<NotFoundError>(), "{err}");
        });
    }
}
