//! Black-box scenarios, each run against every backend by `scenarios!`.

pub mod auth;
pub mod hostile;
pub mod ops;
pub mod permissions;
pub mod protocol;
pub mod tasks;
pub mod users;
