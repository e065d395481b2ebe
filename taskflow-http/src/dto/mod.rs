//! Wire shapes of `docs/http-api.md`: request bodies as clients send them and responses as core's
//! types are shown, one module per resource plus the poem-openapi plumbing they share.
//! Conversions only; every rule is core's.
//!
//! Enum-like request fields stay strings: core validates them and reports every failing
//! field at once with the messages of `docs/http-api.md`.

mod auth;
mod changes;
mod ops;
mod tasks;
mod users;
mod wire;

pub use auth::{LoginIn, PasswordIn, ProfileIn, RefreshIn, RegisterIn, TokenPairOut};
pub use changes::{EventOut, EventTicketOut, TaskChangesOut};
pub use ops::{HealthOut, ReadinessOut};
pub use tasks::{BulkStatusIn, BulkStatusOut, NewTaskIn, StatsOut, TaskOut, TaskPage, TaskPatchIn};
pub use users::{UserOut, UserPage, UserPatchIn};
pub use wire::Timestamp;
