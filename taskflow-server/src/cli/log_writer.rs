//! Where log lines go: a shared buffer that a background thread writes to stderr in
//! batches.
//!
//! tracing-appender's non-blocking writer hands each line to its thread through a channel,
//! so every request's access-log line woke that thread: on two cores the wake-ups and
//! context switches cost the warm task listing about a fifth of its throughput. Here a line
//! is copied into a buffer under a lock that is held for a `memcpy`; the thread wakes every
//! [`FLUSH_EVERY`], when the buffer passes [`FLUSH_AT`], and at once for warnings and errors.
//! A writer that falls [`BLOCK_AT`] behind makes loggers wait rather than drop lines.

use std::io::Write;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use tracing::{Level, Metadata};
use tracing_subscriber::fmt::MakeWriter;

/// Longest a line waits in the buffer.
pub const FLUSH_EVERY: Duration = Duration::from_millis(50);
/// A buffer this full is written at once.
const FLUSH_AT: usize = 256 * 1024;
/// A buffer this full makes loggers wait for the writer (stderr cannot keep up).
const BLOCK_AT: usize = 16 * 1024 * 1024;

#[derive(Default)]
struct State {
    lines: Vec<u8>,
    urgent: bool,
    closed: bool,
}

#[derive(Default)]
struct Shared {
    state: Mutex<State>,
    /// Wakes the writer thread.
    pending: Condvar,
    /// Wakes loggers waiting for room.
    drained: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The [`MakeWriter`] for the log subscriber.
#[derive(Clone)]
pub struct BatchedStderr(Arc<Shared>);

/// Writes what is still buffered when dropped, and stops the writer thread.
pub struct FlushGuard {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

/// Starts the writer thread.
pub fn batched_stderr() -> (BatchedStderr, FlushGuard) {
    let shared = Arc::new(Shared::default());
    let thread = std::thread::Builder::new()
        .name("log-writer".into())
        .spawn({
            let shared = shared.clone();
            move || write_batches(&shared, &mut std::io::stderr())
        })
        .expect("spawn the log writer thread");
    (
        BatchedStderr(shared.clone()),
        FlushGuard {
            shared,
            thread: Some(thread),
        },
    )
}

fn write_batches(shared: &Shared, out: &mut impl Write) {
    let mut batch = Vec::new();
    loop {
        let mut state = shared.lock();
        if state.lines.is_empty() && !state.closed {
            state = shared
                .pending
                .wait_timeout(state, FLUSH_EVERY)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        std::mem::swap(&mut batch, &mut state.lines);
        state.urgent = false;
        let closed = state.closed;
        drop(state);
        shared.drained.notify_all();
        if !batch.is_empty() {
            // Nowhere to report a failing stderr; the lines are dropped.
            let _ = out.write_all(&batch).and_then(|()| out.flush());
            batch.clear();
        }
        if closed {
            return;
        }
    }
}

impl Drop for FlushGuard {
    fn drop(&mut self) {
        self.shared.lock().closed = true;
        self.shared.pending.notify_one();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// One event's writer: the subscriber writes a whole line with one `write_all`.
pub struct Line {
    shared: Arc<Shared>,
    urgent: bool,
}

impl Write for Line {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let mut state = self.shared.lock();
        while state.lines.len() >= BLOCK_AT && !state.closed {
            self.shared.pending.notify_one();
            state = self
                .shared
                .drained
                .wait(state)
                .unwrap_or_else(|e| e.into_inner());
        }
        state.lines.extend_from_slice(buf);
        let wake = (self.urgent && !state.urgent) || state.lines.len() >= FLUSH_AT;
        state.urgent |= self.urgent;
        drop(state);
        if wake {
            self.shared.pending.notify_one();
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for BatchedStderr {
    type Writer = Line;

    fn make_writer(&'a self) -> Line {
        Line {
            shared: self.0.clone(),
            urgent: false,
        }
    }

    fn make_writer_for(&'a self, meta: &Metadata<'_>) -> Line {
        Line {
            shared: self.0.clone(),
            urgent: *meta.level() <= Level::WARN,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A writer thread over a `Vec`, for tests.
    fn start() -> (BatchedStderr, Arc<Mutex<Vec<u8>>>, FlushGuard) {
        let shared = Arc::new(Shared::default());
        let out = Arc::new(Mutex::new(Vec::new()));
        struct Sink(Arc<Mutex<Vec<u8>>>);
        impl Write for Sink {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(buf);
                Ok(buf.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let thread = std::thread::spawn({
            let (shared, out) = (shared.clone(), out.clone());
            move || write_batches(&shared, &mut Sink(out))
        });
        let guard = FlushGuard {
            shared: shared.clone(),
            thread: Some(thread),
        };
        (BatchedStderr(shared), out, guard)
    }

    #[test]
    fn lines_arrive_in_order_within_the_flush_interval_and_all_at_the_end() {
        let (writer, out, guard) = start();
        for i in 0..1000 {
            writer
                .make_writer()
                .write_all(format!("line {i}\n").as_bytes())
                .unwrap();
        }
        std::thread::sleep(FLUSH_EVERY * 4);
        let early = out.lock().unwrap().len();
        assert!(early > 0, "nothing written after {:?}", FLUSH_EVERY * 4);
        for i in 1000..2000 {
            writer
                .make_writer()
                .write_all(format!("line {i}\n").as_bytes())
                .unwrap();
        }
        drop(guard);
        let text = String::from_utf8(out.lock().unwrap().clone()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2000);
        for (i, line) in lines.iter().enumerate() {
            assert_eq!(*line, format!("line {i}"));
        }
    }
}
