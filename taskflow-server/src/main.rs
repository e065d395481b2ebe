//! The `taskflow` server binary: `serve`, `migrate`, `create-admin`, `openapi`.
//!
//! The HTTP API itself is the `taskflow-http` library; this crate adds only what the binary
//! needs and an embedder does not: the command line, opening the store a database URL names
//! (`taskflow-stores`, with every driver), the log subscriber and the JWT secret file.

mod cli;

use std::process::ExitCode;

fn main() -> ExitCode {
    cli::main()
}
