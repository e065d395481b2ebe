//! Access tokens: short-lived JWTs (RFC 8725 best practice). The algorithm is pinned on
//! verification (so `none` and tokens signed with other key types are refused), `typ` is
//! explicit (`at+jwt`, RFC 9068), and `iss`, `aud`, `exp`, `iat`, `sub`, `jti` are required.
//! Expiry is checked against TaskFlow's clock, not jsonwebtoken's, so tests can move time.

use chrono::{DateTime, TimeDelta, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::ids::{SessionId, UserId};
use crate::rbac::Role;

/// The `typ` header of every access token.
pub(crate) const ACCESS_TOKEN_TYP: &str = "at+jwt";
/// Longer inputs are refused before any parsing.
const MAX_TOKEN_BYTES: usize = 4096;
/// Shortest accepted HMAC secret.
pub const MIN_SECRET_BYTES: usize = 32;

/// HMAC algorithm for access tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum JwtAlgorithm {
    /// HMAC-SHA256 (the default).
    #[default]
    Hs256,
    /// HMAC-SHA384.
    Hs384,
    /// HMAC-SHA512.
    Hs512,
}

impl JwtAlgorithm {
    /// The smallest secret for this algorithm: its hash output size (RFC 7518 §3.2 requires
    /// a key at least that long; RFC 8725 §3.5 asks for keys with enough entropy).
    pub fn min_secret_bytes(self) -> usize {
        match self {
            JwtAlgorithm::Hs256 => MIN_SECRET_BYTES,
            JwtAlgorithm::Hs384 => 48,
            JwtAlgorithm::Hs512 => 64,
        }
    }

    fn to_jwt(self) -> Algorithm {
        match self {
            JwtAlgorithm::Hs256 => Algorithm::HS256,
            JwtAlgorithm::Hs384 => Algorithm::HS384,
            JwtAlgorithm::Hs512 => Algorithm::HS512,
        }
    }
}

#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct AccessClaims {
    pub sub: UserId,
    pub role: Role,
    pub sid: SessionId,
    pub jti: String,
    pub iat: i64,
    pub exp: i64,
    pub iss: String,
    pub aud: String,
}

/// What `authenticate` needs from a verified token, kept so a token seen before is not
/// verified again (HMAC and JSON decoding are most of a cached `authenticate`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct VerifiedToken {
    pub sub: UserId,
    pub sid: SessionId,
    pub exp: i64,
}

/// Tokens whose signature and claims were verified, keyed by the exact token text, so a
/// hit proves the same bytes were verified before. Bounded: when full it is emptied (the
/// tokens of active clients come back within one request each).
const VERIFIED_CAPACITY: usize = 16_384;

pub(crate) struct TokenSigner {
    verified: dashmap::DashMap<Box<str>, VerifiedToken>,
    encoding: EncodingKey,
    decoding: DecodingKey,
    header: Header,
    validation: Validation,
    issuer: String,
    audience: String,
    pub(crate) ttl: TimeDelta,
}

impl TokenSigner {
    pub(crate) fn new(
        secret: &[u8],
        algorithm: JwtAlgorithm,
        issuer: String,
        audience: String,
        ttl: TimeDelta,
    ) -> Result<Self> {
        let min = algorithm.min_secret_bytes();
        if secret.len() < min {
            return Err(Error::invalid(
                "jwt_secret",
                format!("must be at least {min} bytes for {algorithm:?}"),
            ));
        }
        let alg = algorithm.to_jwt();
        let mut header = Header::new(alg);
        header.typ = Some(ACCESS_TOKEN_TYP.to_owned());
        let mut validation = Validation::new(alg);
        validation.algorithms = vec![alg];
        validation.set_issuer(&[&issuer]);
        validation.set_audience(&[&audience]);
        validation.set_required_spec_claims(&["exp", "iat", "sub", "iss", "aud"]);
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.leeway = 0;
        Ok(Self {
            verified: dashmap::DashMap::new(),
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            header,
            validation,
            issuer,
            audience,
            ttl,
        })
    }

    /// Signs an access token for the user's session; returns it with its lifetime in seconds.
    pub(crate) fn issue(
        &self,
        user: UserId,
        role: &Role,
        session: SessionId,
        now: DateTime<Utc>,
    ) -> Result<String> {
        let claims = AccessClaims {
            sub: user,
            role: role.clone(),
            sid: session,
            jti: uuid::Uuid::now_v7().simple().to_string(),
            iat: now.timestamp(),
            exp: (now + self.ttl).timestamp(),
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
        };
        jsonwebtoken::encode(&self.header, &claims, &self.encoding).map_err(Error::internal)
    }

    /// Verifies signature, algorithm, `typ`, issuer, audience and expiry.
    pub(crate) fn verify(&self, token: &str, now: DateTime<Utc>) -> Result<AccessClaims> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(Error::Unauthenticated("malformed access token"));
        }
        let data = jsonwebtoken::decode::<AccessClaims>(token, &self.decoding, &self.validation)
            .map_err(|_| Error::Unauthenticated("invalid access token"))?;
        if data.header.typ.as_deref() != Some(ACCESS_TOKEN_TYP) {
            return Err(Error::Unauthenticated("invalid access token"));
        }
        if data.claims.exp <= now.timestamp() {
            return Err(Error::Unauthenticated("access token expired"));
        }
        Ok(data.claims)
    }

    /// [`verify`](Self::verify), remembering the result: a token verified before is only
    /// checked for expiry. Expiry is always checked against `now`.
    pub(crate) fn verify_cached(&self, token: &str, now: DateTime<Utc>) -> Result<VerifiedToken> {
        // Copied out so the shard's read guard is gone before any write to the map.
        let cached = self.verified.get(token).map(|entry| *entry);
        if let Some(hit) = cached {
            if hit.exp <= now.timestamp() {
                self.verified.remove(token);
                return Err(Error::Unauthenticated("access token expired"));
            }
            return Ok(hit);
        }
        let claims = self.verify(token, now)?;
        let verified = VerifiedToken {
            sub: claims.sub,
            sid: claims.sid,
            exp: claims.exp,
        };
        if self.verified.len() >= VERIFIED_CAPACITY {
            self.verified.clear();
        }
        self.verified.insert(token.into(), verified);
        Ok(verified)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_shorter_than_the_algorithms_hash_are_refused() {
        for (algorithm, min) in [
            (JwtAlgorithm::Hs256, 32),
            (JwtAlgorithm::Hs384, 48),
            (JwtAlgorithm::Hs512, 64),
        ] {
            let signer = |len: usize| {
                TokenSigner::new(
                    &vec![7u8; len],
                    algorithm,
                    "iss".into(),
                    "aud".into(),
                    TimeDelta::minutes(15),
                )
            };
            let err = signer(min - 1).err().expect("one byte short is refused");
            assert_eq!(err.code(), "validation_failed", "{algorithm:?}");
            assert!(signer(min).is_ok(), "{algorithm:?} accepts {min} bytes");
        }
    }
}
