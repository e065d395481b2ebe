//! Refresh tokens: `<session id>.<256 random bits>`. Only a SHA-256 of the whole token is
//! stored, so a database leak does not leak usable tokens.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::ids::SessionId;

/// A freshly minted token and the hash a store keeps of it.
pub(crate) struct Minted {
    pub token: String,
    pub hash: String,
}

pub(crate) fn mint(session: SessionId) -> Result<Minted> {
    let mut secret = [0u8; 32];
    getrandom::fill(&mut secret).map_err(|e| Error::internal(e.to_string()))?;
    let token = format!(
        "{}.{}",
        session.as_uuid().simple(),
        URL_SAFE_NO_PAD.encode(secret)
    );
    let hash = hash(&token);
    Ok(Minted { token, hash })
}

/// The session a token claims to belong to, if it has the right shape.
pub(crate) fn parse(token: &str) -> Option<SessionId> {
    let (sid, secret) = token.split_once('.')?;
    if sid.len() != 32 || secret.len() != 43 || URL_SAFE_NO_PAD.decode(secret).is_err() {
        return None;
    }
    sid.parse().ok()
}

/// Hex SHA-256 of the token.
pub(crate) fn hash(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    let mut out = String::with_capacity(64);
    for b in digest {
        out.push_str(&format!("{b:02x}"));
    }
    out
}
