//! Authentication building blocks: password hashing, access tokens (JWT), refresh tokens,
//! login sessions and the login throttle. The flows that combine them live in
//! [`TaskFlow`](crate::TaskFlow).

pub(crate) mod common_passwords;
pub(crate) mod password;
pub(crate) mod refresh;
pub(crate) mod session;
pub(crate) mod throttle;
pub(crate) mod tokens;

pub use password::PasswordParams;
pub use session::SessionRecord;
pub use throttle::{
    DEFAULT_LOGIN_ACCOUNT_MAX_FAILURES, DEFAULT_LOGIN_FIRST_DELAY, DEFAULT_LOGIN_KNOWN_ADDRESS_TTL,
    DEFAULT_LOGIN_KNOWN_ADDRESSES, DEFAULT_LOGIN_MAX_DELAY, DEFAULT_LOGIN_MAX_FAILURES,
    DEFAULT_LOGIN_WINDOW, LoginThrottleConfig,
};
pub use tokens::JwtAlgorithm;

use serde::Serialize;

use crate::user::User;

/// What a successful login or refresh returns.
#[derive(Clone, Serialize)]
pub struct TokenPair {
    /// Short-lived JWT for `Authorization: Bearer`.
    pub access_token: String,
    /// Long-lived, single-use token for `refresh`.
    pub refresh_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: u64,
    /// The authenticated user.
    pub user: User,
}

impl std::fmt::Debug for TokenPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenPair")
            .field("access_token", &"<redacted>")
            .field("refresh_token", &"<redacted>")
            .field("token_type", &self.token_type)
            .field("expires_in", &self.expires_in)
            .field("user", &self.user)
            .finish()
    }
}
