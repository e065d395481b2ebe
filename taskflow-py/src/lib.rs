//! TaskFlow's Python bindings (pyo3 + maturin), importable as `taskflow`.
//!
//! Not implemented yet: this crate is a workspace member so the layout is fixed from the
//! start; the bindings arrive with their own issue. The contract they will follow is
//! `PYTHON.md`.
