//! Users, their stored record, and the validation rules for account input.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use unicode_normalization::UnicodeNormalization;

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
    /// Normalised email (trimmed, NFKC, lower-cased: see [`normalize_email`]), unique
    /// across users.
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
    /// Email; normalised ([`normalize_email`]) before use.
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

/// The normalised form of an email, valid or not: trimmed, then Unicode NFKC with
/// lower-casing (NFKC, lower-case, NFKC, repeated until nothing changes). Compatibility
/// forms are folded, not refused: a fullwidth `ｊ` becomes `j`, and the NFC and NFD
/// spellings of `é` become one. This is the form uniqueness and the login throttle use.
pub fn fold_email(raw: &str) -> String {
    let fold = |s: &str| -> String { s.nfkc().collect::<String>().to_lowercase().nfkc().collect() };
    let mut email = fold(raw.trim());
    // One round is stable for every code point today (a test checks); the loop keeps the
    // result stable should a later Unicode version need a second round.
    for _ in 0..3 {
        let next = fold(&email);
        if next == email {
            break;
        }
        email = next;
    }
    email
}

/// Normalises an email ([`fold_email`]) and checks its shape.
pub fn normalize_email(raw: &str) -> Result<String, &'static str> {
    let email = fold_email(raw);
    check_email(&email)?;
    Ok(email)
}

/// Checks the shape of an email already folded. Whitespace that folding produced (a
/// compatibility character such as `´` becomes a space and a combining mark) is refused
/// like typed whitespace, not trimmed away.
pub(crate) fn check_email(email: &str) -> Result<(), &'static str> {
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
            Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variants_of_one_email_normalise_alike() {
        let nfc = "jos\u{e9}@example.com";
        let nfd = "jose\u{301}@example.com";
        let fullwidth = "\u{ff4a}os\u{e9}@example.com";
        let upper = " JOS\u{c9}@EXAMPLE.COM ";
        let fullwidth_at = "jos\u{e9}\u{ff20}example.com";
        for variant in [nfc, nfd, fullwidth, upper, fullwidth_at] {
            assert_eq!(normalize_email(variant).unwrap(), nfc, "{variant:?}");
        }
        // A compatibility form that becomes a space is refused, not trimmed away.
        assert!(normalize_email("\u{b4}x@example.com").is_err());
    }

    /// Every code point: one round of folding is already stable, so `fold_email` is
    /// idempotent and stored emails never drift between releases of the same Unicode data.
    #[test]
    fn folding_is_stable_for_every_code_point() {
        let once =
            |s: &str| -> String { s.nfkc().collect::<String>().to_lowercase().nfkc().collect() };
        for c in (0..=0x10FFFF_u32).filter_map(char::from_u32) {
            let s = format!("a{c}b");
            let folded = once(&s);
            assert_eq!(once(&folded), folded, "U+{:04X}", c as u32);
            assert_eq!(fold_email(&folded), folded, "U+{:04X}", c as u32);
        }
    }
}
