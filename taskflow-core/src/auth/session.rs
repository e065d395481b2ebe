//! Login sessions: one per login, holding the refresh-token family.

use chrono::{DateTime, Utc};

use crate::ids::{SessionId, UserId};

/// A login session as stores keep it. Rotation replaces `token_hash`; presenting any other
/// token of the family (an already-rotated one) revokes the session, and with it every
/// access token issued from it.
#[derive(Clone, PartialEq, Eq)]
pub struct SessionRecord {
    /// Identifier, also embedded in the refresh token and the access token's `sid` claim.
    pub id: SessionId,
    /// Whose session.
    pub user_id: UserId,
    /// Hex SHA-256 of the one refresh token currently valid.
    pub token_hash: String,
    /// Revoked by logout, logout-all, password change, disabling or reuse detection.
    pub revoked: bool,
    /// Login time.
    pub created_at: DateTime<Utc>,
    /// When the current refresh token expires; the record may be purged after that.
    pub expires_at: DateTime<Utc>,
    /// Number of rotations so far.
    pub generation: u64,
}

impl SessionRecord {
    /// Whether access tokens of this session are still honoured at `now`.
    pub fn is_active(&self, now: DateTime<Utc>) -> bool {
        !self.revoked && self.expires_at > now
    }
}

impl std::fmt::Debug for SessionRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionRecord")
            .field("id", &self.id)
            .field("user_id", &self.user_id)
            .field("token_hash", &"<redacted>")
            .field("revoked", &self.revoked)
            .field("created_at", &self.created_at)
            .field("expires_at", &self.expires_at)
            .field("generation", &self.generation)
            .finish()
    }
}
