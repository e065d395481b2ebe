//! `/auth/*`: registration, login, refresh and logout, profile and password changes, and
//! the token pair they answer.

use poem_openapi::Object;
use serde::Serialize;
use taskflow_core as core;

use super::users::UserOut;

/// Tokens issued by login and refresh.
#[derive(Debug, Clone, Object, Serialize)]
#[oai(rename = "TokenPair")]
pub struct TokenPairOut {
    /// JWT to send as `Authorization: Bearer …`.
    pub access_token: String,
    /// Single-use token for `POST /auth/refresh`.
    pub refresh_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Lifetime of the access token in seconds.
    pub expires_in: u64,
    /// The account the tokens belong to.
    pub user: UserOut,
}

impl From<core::TokenPair> for TokenPairOut {
    fn from(t: core::TokenPair) -> Self {
        Self {
            access_token: t.access_token,
            refresh_token: t.refresh_token,
            token_type: t.token_type.to_owned(),
            expires_in: t.expires_in,
            user: t.user.into(),
        }
    }
}

// Bodies carrying passwords or tokens print them as `<redacted>`, so no log line or panic
// message can leak one.
macro_rules! redacted_debug {
    ($type:ident { $($shown:ident),* ; $($secret:ident),* }) => {
        impl std::fmt::Debug for $type {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($type))
                    $(.field(stringify!($shown), &self.$shown))*
                    $(.field(stringify!($secret), &"<redacted>"))*
                    .finish()
            }
        }
    };
}
redacted_debug!(RegisterIn { email, name; password });
redacted_debug!(LoginIn { email; password });
redacted_debug!(RefreshIn { ; refresh_token });
redacted_debug!(PasswordIn { ; current_password, new_password });

/// `POST /auth/register`.
#[derive(Clone, Object)]
#[oai(rename = "Registration", deny_unknown_fields)]
pub struct RegisterIn {
    /// Normalised (trimmed, Unicode NFKC, lower-cased); must be unique in that form.
    pub email: String,
    /// 8-128 characters.
    pub password: String,
    /// Display name.
    pub name: String,
}

/// `POST /auth/login`.
#[derive(Clone, Object)]
#[oai(rename = "Credentials", deny_unknown_fields)]
pub struct LoginIn {
    /// Account email.
    pub email: String,
    /// Account password.
    pub password: String,
}

/// `POST /auth/refresh` and `POST /auth/logout`.
#[derive(Clone, Object)]
#[oai(rename = "RefreshRequest", deny_unknown_fields)]
pub struct RefreshIn {
    /// A refresh token from login or a previous refresh.
    pub refresh_token: String,
}

/// `PATCH /auth/me`.
#[derive(Debug, Clone, Object)]
#[oai(rename = "ProfileUpdate", deny_unknown_fields)]
pub struct ProfileIn {
    /// New display name.
    pub name: Option<String>,
}

/// `POST /auth/password`.
#[derive(Clone, Object)]
#[oai(rename = "PasswordChange", deny_unknown_fields)]
pub struct PasswordIn {
    /// The password in use now.
    pub current_password: String,
    /// 8-128 characters.
    pub new_password: String,
}

#[cfg(test)]
mod redaction_tests {
    use super::*;

    #[test]
    fn secrets_never_reach_debug_output() {
        let shown = [
            format!(
                "{:?}",
                RegisterIn {
                    email: "a@example.com".into(),
                    password: "hunter2-secret".into(),
                    name: "Ann".into(),
                }
            ),
            format!(
                "{:?}",
                LoginIn {
                    email: "a@example.com".into(),
                    password: "hunter2-secret".into(),
                }
            ),
            format!(
                "{:?}",
                RefreshIn {
                    refresh_token: "hunter2-secret".into(),
                }
            ),
            format!(
                "{:?}",
                PasswordIn {
                    current_password: "hunter2-secret".into(),
                    new_password: "hunter2-secret".into(),
                }
            ),
        ];
        for s in shown {
            assert!(!s.contains("hunter2"), "{s}");
            assert!(s.contains("<redacted>"), "{s}");
        }
    }
}
