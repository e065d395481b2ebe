//! Users, their stored record, and the validation rules for account input.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::{Result, ValidationErrors};
use crate::ids::UserId;
use crate::rbac::Role;

/// Shortest accepted password, in characters.
pub const PASSWORD_MIN_CHARS: usize = 8;
/// Longest accepted password, in characters.
pub const PASSWORD_MAX_CHARS: usize = 128;
/// Longest accepted display name, in characters.
pub const NAME_MAX_CHARS: usize = 100;
/// Longest accepted email address, in characters (RFC 5321 path limit).
pub const EMAIL_MAX_CHARS: usize = 254;

/// A user as every frontend shows it. Never carries a password hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    /// Identifier (UUIDv7).
    pub id: UserId,
    /// Normalised (trimmed, lower-cased) email, unique across users.
    pub email: String,
    /// Display name.
    pub name: String,
    /// Role, which decides the permissions.
    pub role: Role,
    /// A disabled user cannot log in and every token of theirs stops working.
    pub disabled: bool,
    /// Creation time (UTC, milliseconds).
    pub created_at: DateTime<Utc>,
    /// Last change (UTC, milliseconds).
    pub updated_at: DateTime<Utc>,
}

/// What a store keeps for a user: the public fields, the password hash and a version for
/// optimistic concurrency.
#[derive(Clone, PartialEq, Eq)]
pub struct UserRecord {
    /// The public part.
    pub user: User,
    /// PHC string (`$argon2id$…`) or an imported bcrypt hash (`$2b$…`).
    pub password_hash: String,
    /// Starts at 1, grows by 1 on every write; writes are conditional on it.
    pub version: u64,
}

impl fmt::Debug for UserRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UserRecord")
            .field("user", &self.user)
            .field("password_hash", &"<redacted>")
            .field("version", &self.version)
            .finish()
    }
}

/// Input of `register` and `create_admin`.
#[derive(Clone, Deserialize)]
pub struct Registration {
    /// Email; trimmed and lower-cased before use.
    pub email: String,
    /// Password, 8-128 characters.
    pub password: String,
    /// Display name, 1-100 characters after trimming.
    pub name: String,
}

impl fmt::Debug for Registration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registration")
            .field("email", &self.email)
            .field("password", &"<redacted>")
            .field("name", &self.name)
            .finish()
    }
}

/// Registration input after validation.
pub(crate) struct ValidRegistration {
    pub email: String,
    pub name: String,
}

impl Registration {
    /// Checks every field, returning the normalised email and name.
    pub(crate) fn validate(&self) -> Result<ValidRegistration> {
        let mut errors = ValidationErrors::new();
        let email = normalize_email(&self.email)
            .map_err(|m| errors.add("email", m))
            .ok();
        let name = normalize_name(&self.name)
            .map_err(|m| errors.add("name", m))
            .ok();
        if let Err(m) = check_password(&self.password) {
            errors.add("password", m);
        }
        errors.into_result()?;
        Ok(ValidRegistration {
            email: email.unwrap_or_default(),
            name: name.unwrap_or_default(),
        })
    }
}

/// A change of the caller's own profile.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ProfileUpdate {
    /// New display name.
    pub name: Option<String>,
}

/// An administrator's change to a user.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct UserUpdate {
    /// New role; must be known to the RBAC policy.
    pub role: Option<String>,
    /// Disable (`true`) or re-enable (`false`).
    pub disabled: Option<bool>,
}

/// Filters of the admin user listing.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct UserQuery {
    /// Only users with this role.
    pub role: Option<String>,
    /// Case-insensitive substring of email or name; a control character is refused.
    pub q: Option<String>,
    /// Page size, 1-100 (default 20).
    pub limit: Option<i64>,
    /// 1-based page number (default 1).
    pub page: Option<i64>,
}

/// A validated user listing request, as stores receive it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UserListRequest {
    /// Only users with this role.
    pub role: Option<Role>,
    /// Lower-cased substring matched against email and lower-cased name.
    pub q: Option<String>,
    /// Page size.
    pub limit: u32,
    /// Rows to skip.
    pub offset: u64,
}

/// Trims and lower-cases an email and checks its shape.
pub fn normalize_email(raw: &str) -> Result<String, &'static str> {
    let email = raw.trim().to_lowercase();
    if email.is_empty() {
        return Err("must not be empty");
    }
    if email.chars().count() > EMAIL_MAX_CHARS {
        return Err("must be at most 254 characters");
    }
    if email.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("must not contain spaces or control characters");
    }
    match email.split_once('@') {
        Some((local, domain))
            if !local.is_empty()
                && !domain.is_empty()
                && !domain.contains('@')
                && !domain.starts_with('.')
                && !domain.ends_with('.') =>
        {
            Ok(email)
        }
        _ => Err("must be an email address like name@example.com"),
    }
}

/// Trims a display name and checks its length.
pub fn normalize_name(raw: &str) -> Result<String, &'static str> {
    let name = raw.trim();
    let chars = name.chars().count();
    if chars == 0 || chars > NAME_MAX_CHARS {
        return Err("must be 1-100 characters");
    }
    if name.chars().any(char::is_control) {
        return Err("must not contain control characters");
    }
    Ok(name.to_owned())
}

/// Checks a new password: 8-128 characters (not bytes), no NUL, and not one of the most
/// common passwords (in any letter case).
pub fn check_password(password: &str) -> Result<(), &'static str> {
    let chars = password.chars().count();
    if !(PASSWORD_MIN_CHARS..=PASSWORD_MAX_CHARS).contains(&chars) {
        return Err("must be 8-128 characters");
    }
    if password.contains('\0') {
        return Err("must not contain NUL characters");
    }
    if crate::auth::common_passwords::is_common(password) {
        return Err("is one of the most common passwords; choose another");
    }
    Ok(())
}
