//! Password hashing: argon2id for new hashes; argon2 and imported bcrypt hashes verified.
//! Hashing is deliberately slow, so it runs on Tokio's blocking pool behind a semaphore that
//! keeps a login flood from occupying every blocking thread (and gigabytes of argon2 memory).

use std::sync::Arc;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use tokio::sync::{OnceCell, Semaphore};

use crate::error::{Error, Result};

/// Argon2id cost parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordParams {
    /// Memory in KiB (default 19,456 = 19 MiB, the OWASP baseline).
    pub memory_kib: u32,
    /// Passes over memory (default 2).
    pub iterations: u32,
    /// Lanes (default 1).
    pub parallelism: u32,
}

impl Default for PasswordParams {
    fn default() -> Self {
        Self {
            memory_kib: 19_456,
            iterations: 2,
            parallelism: 1,
        }
    }
}

impl PasswordParams {
    /// The cheapest valid parameters: for tests only, never for real accounts.
    pub fn insecure_fast_for_tests() -> Self {
        Self {
            memory_kib: 8,
            iterations: 1,
            parallelism: 1,
        }
    }
}

/// Outcome of checking a password against a stored hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verified {
    /// Wrong password, unknown account or unusable hash.
    No,
    /// Right password; `rehash` when the stored hash is bcrypt or has other parameters.
    Yes { rehash: bool },
}

pub(crate) struct Passwords {
    params: PasswordParams,
    argon: Argon2<'static>,
    permits: Semaphore,
    dummy_hash: OnceCell<String>,
}

impl Passwords {
    pub(crate) fn new(params: PasswordParams, max_concurrent: usize) -> Result<Self> {
        let argon_params = Params::new(
            params.memory_kib,
            params.iterations,
            params.parallelism,
            None,
        )
        .map_err(|e| Error::invalid("password_params", e.to_string()))?;
        Ok(Self {
            params,
            argon: Argon2::new(Algorithm::Argon2id, Version::V0x13, argon_params),
            permits: Semaphore::new(max_concurrent.max(1)),
            dummy_hash: OnceCell::new(),
        })
    }

    /// Hashes a new password with argon2id and a random salt.
    pub(crate) async fn hash(self: &Arc<Self>, password: String) -> Result<String> {
        let this = Arc::clone(self);
        self.blocking(move || this.hash_now(&password)).await?
    }

    /// Checks `password` against `hash`; with no hash (unknown account) it verifies against
    /// a dummy hash so that both cases take about the same time.
    pub(crate) async fn verify(
        self: &Arc<Self>,
        password: String,
        hash: Option<String>,
    ) -> Result<Verified> {
        let (hash, real) = match hash {
            Some(h) => (h, true),
            None => (self.dummy().await?, false),
        };
        let this = Arc::clone(self);
        let verified = self
            .blocking(move || this.verify_now(&password, &hash))
            .await?;
        Ok(if real { verified } else { Verified::No })
    }

    async fn dummy(self: &Arc<Self>) -> Result<String> {
        self.dummy_hash
            .get_or_try_init(|| self.hash("taskflow-dummy-password".to_owned()))
            .await
            .cloned()
    }

    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T> {
        let _permit = self.permits.acquire().await.map_err(Error::internal)?;
        tokio::task::spawn_blocking(f)
            .await
            .map_err(Error::internal)
    }

    fn hash_now(&self, password: &str) -> Result<String> {
        let mut salt = [0u8; 16];
        getrandom::fill(&mut salt).map_err(|e| Error::internal(e.to_string()))?;
        let salt = SaltString::encode_b64(&salt).map_err(|e| Error::internal(e.to_string()))?;
        self.argon
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| Error::internal(e.to_string()))
    }

    fn verify_now(&self, password: &str, hash: &str) -> Verified {
        if is_bcrypt(hash) {
            return match bcrypt::verify(password, hash) {
                Ok(true) => Verified::Yes { rehash: true },
                _ => Verified::No,
            };
        }
        let Ok(parsed) = PasswordHash::new(hash) else {
            return Verified::No;
        };
        // Verify with the parameters recorded in the hash, whatever the current defaults.
        if Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_err()
        {
            return Verified::No;
        }
        Verified::Yes {
            rehash: !self.is_current(&parsed),
        }
    }

    fn is_current(&self, parsed: &PasswordHash<'_>) -> bool {
        let Ok(params) = Params::try_from(parsed) else {
            return false;
        };
        parsed.algorithm.as_str() == "argon2id"
            && params.m_cost() == self.params.memory_kib
            && params.t_cost() == self.params.iterations
            && params.p_cost() == self.params.parallelism
    }
}

fn is_bcrypt(hash: &str) -> bool {
    ["$2a$", "$2b$", "$2y$"].iter().any(|p| hash.starts_with(p))
}
