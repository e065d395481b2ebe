//! Refresh tokens: `<session id>.<256 random bits>.<tag>`, where the tag is an HMAC-SHA256
//! (first 128 bits) of the first two parts under a key derived from the JWT secret.
//!
//! Only a SHA-256 of the whole token is stored, so a database leak does not leak usable
//! tokens. The tag is what makes reuse detection safe: a token whose secret does not match
//! its session's is revoke-worthy reuse only if *we* issued it (a rotated-out token of that
//! session). Without the tag, anyone who learned a session id (it is in every access token's
//! payload) could end that session by presenting a made-up secret (RFC 9700 §4.14.2 wants
//! the family revoked on reuse, not on guesses).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::ids::SessionId;

type HmacSha256 = Hmac<Sha256>;

/// Bytes of the random part and of the (truncated) tag.
const SECRET_BYTES: usize = 32;
const TAG_BYTES: usize = 16;

/// A freshly minted token and the hash a store keeps of it.
pub(crate) struct Minted {
    pub token: String,
    pub hash: String,
}

/// Mints and checks refresh tokens with a key of their own.
pub(crate) struct RefreshTokens {
    key: HmacSha256,
}

impl RefreshTokens {
    /// Derives the tag key from the JWT secret, bound to this purpose so the signing key is
    /// never used as-is for anything but JWTs.
    pub(crate) fn new(jwt_secret: &[u8]) -> Result<Self> {
        let mut derive = HmacSha256::new_from_slice(jwt_secret).map_err(Error::internal)?;
        derive.update(b"taskflow refresh-token tag v1");
        let key =
            HmacSha256::new_from_slice(&derive.finalize().into_bytes()).map_err(Error::internal)?;
        Ok(Self { key })
    }

    pub(crate) fn mint(&self, session: SessionId) -> Result<Minted> {
        let mut secret = [0u8; SECRET_BYTES];
        getrandom::fill(&mut secret).map_err(|e| Error::internal(e.to_string()))?;
        let body = format!(
            "{}.{}",
            session.as_uuid().simple(),
            URL_SAFE_NO_PAD.encode(secret)
        );
        let tag = URL_SAFE_NO_PAD.encode(&self.tag(&body)[..TAG_BYTES]);
        let token = format!("{body}.{tag}");
        let hash = hash(&token);
        Ok(Minted { token, hash })
    }

    /// The session of a token this server issued; `None` for anything else (wrong shape or
    /// a tag that does not verify).
    pub(crate) fn parse(&self, token: &str) -> Option<SessionId> {
        let (body, tag) = token.rsplit_once('.')?;
        let (sid, secret) = body.split_once('.')?;
        if sid.len() != 32 || secret.len() != 43 || tag.len() != 22 {
            return None;
        }
        let tag = URL_SAFE_NO_PAD.decode(tag).ok()?;
        let mut mac = self.key.clone();
        mac.update(body.as_bytes());
        // Constant-time comparison of the truncated tag.
        mac.verify_truncated_left(&tag).ok()?;
        sid.parse().ok()
    }

    fn tag(&self, body: &str) -> [u8; 32] {
        let mut mac = self.key.clone();
        mac.update(body.as_bytes());
        mac.finalize().into_bytes().into()
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minted_tokens_parse_and_altered_ones_do_not() {
        let tokens = RefreshTokens::new(b"a secret of at least thirty-two bytes!").unwrap();
        let sid = SessionId::new();
        let minted = tokens.mint(sid).unwrap();
        assert_eq!(tokens.parse(&minted.token), Some(sid));
        assert_eq!(minted.hash, hash(&minted.token));

        let (body, _) = minted.token.rsplit_once('.').unwrap();
        let (sid_part, _) = body.split_once('.').unwrap();
        let guessed = format!("{sid_part}.{}.{}", "A".repeat(43), "A".repeat(22));
        assert_eq!(tokens.parse(&guessed), None, "a made-up secret and tag");
        let mut flipped = minted.token.clone().into_bytes();
        let last = flipped.len() - 1;
        flipped[last] = if flipped[last] == b'A' { b'B' } else { b'A' };
        assert_eq!(tokens.parse(&String::from_utf8(flipped).unwrap()), None);

        let other = RefreshTokens::new(b"another secret of thirty-two bytes!!").unwrap();
        assert_eq!(other.parse(&minted.token), None, "another server's key");
        for bad in ["", "a.b", "a.b.c", &minted.token[..minted.token.len() - 1]] {
            assert_eq!(tokens.parse(bad), None, "{bad:?}");
        }
    }
}
