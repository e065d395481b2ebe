//! The `taskflow` server binary: `serve`, `migrate`, `create-admin`, `openapi`.
//!
//! The HTTP API itself is the `taskflow-http` library; this crate adds only what the binary
//! needs and an embedder does not: the command line, opening the store a database URL names
//! (`taskflow-stores`, with every driver), the log subscriber and the JWT secret file.

mod cli;

use std::process::ExitCode;

/// jemalloc rather than glibc's malloc: a server holds thousands of connections, each with
/// hyper's two 8 KiB buffers and a stream's small allocations, and glibc's heap kept about
/// 60 % more of that resident (5,000 event streams: 22.3 KiB each under glibc, 13.3 KiB under
/// jemalloc; BENCHMARKS.md, "Streams fed from the follower"). Embedders choose their own.
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> ExitCode {
    cli::main()
}
