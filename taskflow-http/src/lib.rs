//! TaskFlow's standalone HTTP server (poem + poem-openapi) and the `taskflow` binary.
//!
//! Not implemented yet: this crate is a workspace member so the layout is fixed from the
//! start; the server arrives with its own issue. The contract it will serve is `API.md`.
