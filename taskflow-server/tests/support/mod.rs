//! Helpers for tests of the `taskflow` binary: the binary as a child process. Backend
//! discovery and fresh databases come from `taskflow-test-support`.
#![allow(dead_code)]

pub mod binary;
