//! One `#[OpenApi]` impl per resource, combined as a tuple in [`crate::app`].

mod auth;
mod changes;
mod ops;
mod tasks;
mod users;

pub use auth::AuthApi;
pub use changes::ChangesApi;
pub use ops::OpsApi;
pub use tasks::TasksApi;
pub use users::UsersApi;

use poem_openapi::Tags;
use std::str::FromStr;

use crate::problem::ApiError;

/// Groups of operations in the document.
#[derive(Tags)]
pub enum ApiTags {
    /// Accounts, tokens and sessions.
    Auth,
    /// Tasks of the caller (all tasks for admins).
    Tasks,
    /// User administration (admin only).
    Users,
    /// Health and readiness probes.
    Operations,
}

/// A malformed id in a path names no resource: `404`, never `400`.
fn path_id<T: FromStr>(raw: &str, resource: &str) -> Result<T, ApiError> {
    raw.parse()
        .map_err(|_| ApiError::not_found(format!("{resource} not found")))
}
