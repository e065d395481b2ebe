//! Password hashing: argon2id for new hashes; argon2 and imported bcrypt hashes verified.
//! Hashing is deliberately slow, so it runs on Tokio's blocking pool behind a semaphore that
//! keeps a login flood from occupying every blocking thread (and gigabytes of argon2 memory).

use std::sync::Arc;

use argon2::password_hash::{PasswordHash, SaltString};
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
        argon2_phc(&self.argon, password.as_bytes(), salt.as_salt())
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
        if !argon2_matches(password.as_bytes(), &parsed) {
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

/// glibc serves an allocation below its mmap threshold from an arena that keeps the memory
/// after it is freed, and the threshold rises to the largest block freed so far (up to
/// 32 MiB). Each argon2id hash allocates its whole working set (19 MiB by default), so
/// hashes ended up retained and fragmented in arenas: a server grew by about 10 MiB per
/// password hashed. Reserving more than 32 MiB makes the buffer a mapping of its own,
/// returned to the OS when freed; only the pages argon2 writes count towards RSS.
const ALWAYS_MAPPED_BYTES: usize = 33 << 20;

/// The working memory of one hash.
fn argon2_memory(blocks: usize) -> Vec<argon2::Block> {
    let reserve = blocks.max(ALWAYS_MAPPED_BYTES / std::mem::size_of::<argon2::Block>());
    let mut memory = Vec::with_capacity(reserve);
    memory.resize(blocks, argon2::Block::default());
    memory
}

/// `argon.hash_password(...)`, with the working memory from [`argon2_memory`].
fn argon2_phc<'a>(
    argon: &Argon2<'_>,
    password: &[u8],
    salt: argon2::password_hash::Salt<'a>,
) -> argon2::password_hash::Result<PasswordHash<'a>> {
    let params = argon.params();
    let mut salt_bytes = [0u8; 64];
    let salt_raw = salt.decode_b64(&mut salt_bytes)?;
    let output_len = params.output_len().unwrap_or(Params::DEFAULT_OUTPUT_LEN);
    let output = argon2::password_hash::Output::init_with(output_len, |out| {
        argon.hash_password_into_with_memory(
            password,
            salt_raw,
            out,
            argon2_memory(params.block_count()),
        )?;
        Ok(())
    })?;
    Ok(PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: argon2::password_hash::ParamsString::try_from(params)?,
        salt: Some(salt),
        hash: Some(output),
    })
}

/// Does `password` match the argon2 PHC `hash`, computed with the algorithm, version and
/// parameters recorded in it? The comparison of outputs is constant-time (`Output`'s `Eq`).
fn argon2_matches(password: &[u8], hash: &PasswordHash<'_>) -> bool {
    let (Some(salt), Some(expected)) = (hash.salt, hash.hash) else {
        return false;
    };
    let (Ok(algorithm), Ok(params)) = (Algorithm::try_from(hash.algorithm), Params::try_from(hash))
    else {
        return false;
    };
    let version = match hash.version.map(Version::try_from).transpose() {
        Ok(v) => v.unwrap_or_default(),
        Err(_) => return false,
    };
    let argon = Argon2::new(algorithm, version, params);
    let mut salt_bytes = [0u8; 64];
    let Ok(salt_raw) = salt.decode_b64(&mut salt_bytes) else {
        return false;
    };
    let computed = argon2::password_hash::Output::init_with(expected.len(), |out| {
        argon.hash_password_into_with_memory(
            password,
            salt_raw,
            out,
            argon2_memory(argon.params().block_count()),
        )?;
        Ok(())
    });
    matches!(computed, Ok(c) if c == expected)
}

fn is_bcrypt(hash: &str) -> bool {
    ["$2a$", "$2b$", "$2y$"].iter().any(|p| hash.starts_with(p))
}

#[cfg(test)]
mod tests {
    use argon2::password_hash::{PasswordHasher, PasswordVerifier};

    use super::*;

    fn fast() -> Argon2<'static> {
        Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(64, 1, 1, None).unwrap(),
        )
    }

    /// Our hashing with explicit working memory writes the same PHC strings the argon2
    /// crate writes and reads, in both directions.
    #[test]
    fn phc_strings_match_the_argon2_crate() {
        let argon = fast();
        let salt = SaltString::encode_b64(b"sixteen byte slt").unwrap();
        let ours = argon2_phc(&argon, b"hunter42", salt.as_salt()).unwrap();
        let theirs = argon.hash_password(b"hunter42", &salt).unwrap();
        assert_eq!(ours.to_string(), theirs.to_string());
        assert!(argon.verify_password(b"hunter42", &ours).is_ok());
        assert!(argon2_matches(b"hunter42", &theirs));
        assert!(!argon2_matches(b"hunter43", &theirs));
        // Parameters come from the hash, not from the defaults.
        let other = Argon2::new(
            Algorithm::Argon2i,
            Version::V0x10,
            Params::new(128, 2, 1, Some(16)).unwrap(),
        );
        let old = other.hash_password(b"legacy", &salt).unwrap();
        assert!(argon2_matches(b"legacy", &old));
        assert!(!argon2_matches(b"legacy!", &old));
    }

    #[test]
    fn working_memory_is_reserved_above_the_mmap_threshold() {
        let memory = argon2_memory(19 * 1024);
        assert_eq!(memory.len(), 19 * 1024);
        assert!(memory.capacity() * std::mem::size_of::<argon2::Block>() > 32 << 20);
    }
}
