//! Accounts: what `GET /auth/me` and `/users` answer, and the admin's `PATCH /users/{id}`.

use poem_openapi::Object;
use serde::Serialize;
use taskflow_core as core;

use super::wire::{PageInfo, Timestamp, page_info, ts};

/// An account as clients see it (never a password hash).
#[derive(Debug, Clone, Object, Serialize)]
#[oai(rename = "User")]
pub struct UserOut {
    /// UUIDv7.
    pub id: String,
    /// Normalised: trimmed, Unicode NFKC, lower-cased.
    pub email: String,
    /// Display name.
    pub name: String,
    /// `user`, `admin`, or a role the embedding library added.
    pub role: String,
    /// A disabled account can neither log in nor use its tokens.
    pub disabled: bool,
    /// When the account was created.
    pub created_at: Timestamp,
    /// When the account last changed.
    pub updated_at: Timestamp,
}

impl From<core::User> for UserOut {
    fn from(u: core::User) -> Self {
        Self {
            id: u.id.to_string(),
            email: u.email,
            name: u.name,
            role: u.role.as_str().to_owned(),
            disabled: u.disabled,
            created_at: ts(u.created_at),
            updated_at: ts(u.updated_at),
        }
    }
}

/// A page of users.
#[derive(Debug, Clone, Object, Serialize)]
#[oai(rename = "UserPage")]
pub struct UserPage {
    /// The users of this page.
    pub items: Vec<UserOut>,
    /// Where this page is.
    pub page: PageInfo,
}

impl From<core::Page<core::User>> for UserPage {
    fn from(p: core::Page<core::User>) -> Self {
        let page = page_info(&p);
        Self {
            items: p.items.into_iter().map(Into::into).collect(),
            page,
        }
    }
}

/// `PATCH /users/{id}`.
#[derive(Debug, Clone, Object)]
#[oai(rename = "UserUpdate", deny_unknown_fields)]
pub struct UserPatchIn {
    /// A role known to the server's RBAC configuration.
    pub role: Option<String>,
    /// Disabling ends every session of the user at once.
    pub disabled: Option<bool>,
}

impl From<UserPatchIn> for core::UserUpdate {
    fn from(u: UserPatchIn) -> Self {
        core::UserUpdate {
            role: u.role,
            disabled: u.disabled,
        }
    }
}
