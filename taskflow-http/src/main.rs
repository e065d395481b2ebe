//! The `taskflow` server binary: `serve`, `migrate`, `create-admin`, `openapi`.

mod cli;

use std::process::ExitCode;

fn main() -> ExitCode {
    cli::main()
}
