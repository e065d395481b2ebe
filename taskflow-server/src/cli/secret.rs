//! The JWT signing secret: from `TASKFLOW_JWT_SECRET`, from `--jwt-secret-file`, or
//! generated on first run into a 0600 file beside the SQLite database.

use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};

use base64::Engine;

/// A secret that never shows up in `Debug` output or logs.
pub struct Secret(Vec<u8>);

impl Secret {
    /// The bytes, for the token signer only.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

const ENV: &str = "TASKFLOW_JWT_SECRET";

/// Finds or creates the secret for the store at `db_url`.
pub fn resolve(file: Option<&Path>, db_url: &str) -> Result<Secret, String> {
    if let Ok(value) = std::env::var(ENV)
        && !value.is_empty()
    {
        return Ok(Secret(value.into_bytes()));
    }
    if let Some(path) = file {
        return read(path);
    }
    match sqlite_file(db_url) {
        Some(db) => {
            let path = beside(&db);
            if path.exists() {
                read(&path)
            } else {
                generate(&path)
            }
        }
        None if db_url.starts_with("sqlite:") => {
            tracing::warn!("in-memory database: using a throwaway JWT secret");
            Ok(Secret(random_secret().into_bytes()))
        }
        None => Err(format!(
            "a JWT secret is required for this database: set {ENV} or --jwt-secret-file \
             (every instance sharing the database must use the same secret)"
        )),
    }
}

/// `taskflow.db` → `taskflow.db.jwt-secret`.
fn beside(db: &Path) -> PathBuf {
    let mut name = db.file_name().unwrap_or_default().to_os_string();
    name.push(".jwt-secret");
    db.with_file_name(name)
}

/// The database file of a `sqlite:` URL, `None` for in-memory databases.
fn sqlite_file(url: &str) -> Option<PathBuf> {
    let rest = url.strip_prefix("sqlite:")?;
    let rest = rest.strip_prefix("//").unwrap_or(rest);
    let path = rest.split('?').next().unwrap_or("");
    if path.is_empty() || path == ":memory:" || url.contains("mode=memory") {
        return None;
    }
    Some(PathBuf::from(path))
}

fn read(path: &Path) -> Result<Secret, String> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let meta = std::fs::metadata(path)
            .map_err(|e| format!("cannot read the JWT secret file {}: {e}", path.display()))?;
        if meta.permissions().mode() & 0o077 != 0 {
            return Err(format!(
                "the JWT secret file {} is readable by other users; run `chmod 600` on it",
                path.display()
            ));
        }
    }
    let text = std::fs::read(path)
        .map_err(|e| format!("cannot read the JWT secret file {}: {e}", path.display()))?;
    let trimmed = text.trim_ascii_end().to_vec();
    Ok(Secret(trimmed))
}

fn random_secret() -> String {
    let mut bytes = [0u8; 48];
    getrandom::fill(&mut bytes).expect("the OS random source is available");
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn generate(path: &Path) -> Result<Secret, String> {
    let secret = random_secret();
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .map_err(|e| format!("cannot create the JWT secret file {}: {e}", path.display()))?;
    file.write_all(secret.as_bytes())
        .and_then(|_| file.sync_all())
        .map_err(|e| format!("cannot write the JWT secret file {}: {e}", path.display()))?;
    tracing::info!(path = %path.display(), "generated a JWT secret (mode 0600)");
    Ok(Secret(secret.into_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_paths() {
        assert_eq!(
            sqlite_file("sqlite://taskflow.db"),
            Some("taskflow.db".into())
        );
        assert_eq!(
            sqlite_file("sqlite:data/x.db?mode=rwc"),
            Some("data/x.db".into())
        );
        assert_eq!(sqlite_file("sqlite::memory:"), None);
        assert_eq!(sqlite_file("postgres://h/db"), None);
        assert_eq!(
            beside(Path::new("data/x.db")),
            PathBuf::from("data/x.db.jwt-secret")
        );
    }
}
