//! Programs that embed TaskFlow. They live beside this crate as `[[example]]` targets
//! (`cargo run -p taskflow-examples --example embed_memory`); the library itself is empty.
//!
//! It also compiles and runs the Rust snippets of the repository's `README.md` as doctests,
//! so the README cannot drift from the API.

#[doc = include_str!("../../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
