//! Structured logs with `tracing`: text by default, JSON with `--log-format json`.
//! `RUST_LOG` filters (default `info`).

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

use super::log_writer::{FlushGuard, batched_stderr};

/// Installs the global subscriber (logs go to stderr; stdout is for command output).
///
/// Lines are written in batches by a background thread (see `log_writer`), so a request
/// neither waits for stderr nor wakes a thread. Keep the returned guard alive until the
/// process ends: dropping it writes the lines still buffered.
pub fn init(json: bool) -> FlushGuard {
    let (writer, guard) = batched_stderr();
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        // Colour codes only for a person at a terminal, not in files and pipes.
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(writer);
    if json {
        builder
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .init();
    } else {
        builder.init();
    }
    guard
}
