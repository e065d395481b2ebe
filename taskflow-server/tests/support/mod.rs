//! Helpers for tests of the `taskflow` binary: the binary as a child process, and the
//! backend helpers of taskflow-http's black-box tests, included by path so both crates
//! share one copy.
#![allow(dead_code)]

pub mod binary;

#[path = "../../../taskflow-http/tests/support/mod.rs"]
mod http;

// Each test binary compiles this module; not every one uses both.
#[allow(unused_imports)]
pub use http::{env_url, fresh_pg_schema_url};
