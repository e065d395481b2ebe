//! Opening the store the database URL's scheme names.

use std::sync::Arc;

use taskflow_core::Store;
use taskflow_http::{PoolSource, PoolUsage};
use taskflow_store_mongo::{MongoOptions, MongoStore};
use taskflow_store_sql::{SqlOptions, SqlStore};

/// The concrete store, kept for migrations, pool metrics and closing.
pub enum OpenedStore {
    /// SQLite or PostgreSQL.
    Sql(Arc<SqlStore>),
    /// MongoDB.
    Mongo(Arc<MongoStore>),
}

/// The URL without its password, for logs.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

impl OpenedStore {
    /// Opens (lazily connecting) the store for `url`.
    pub async fn open(url: &str) -> Result<Self, String> {
        let failed = |e: taskflow_core::Error| format!("cannot open {}: {e}", redact(url));
        if url.starts_with("mongodb://") || url.starts_with("mongodb+srv://") {
            let store = MongoStore::open(url, &MongoOptions::default())
                .await
                .map_err(failed)?;
            return Ok(Self::Mongo(Arc::new(store)));
        }
        if url.starts_with("sqlite:")
            || url.starts_with("postgres://")
            || url.starts_with("postgresql://")
        {
            let store = SqlStore::open(url, &SqlOptions::default())
                .await
                .map_err(failed)?;
            return Ok(Self::Sql(Arc::new(store)));
        }
        Err(format!(
            "unsupported database URL {:?}: use sqlite://, postgres:// or mongodb://",
            redact(url)
        ))
    }

    /// The store as core takes it.
    pub fn shared(&self) -> Arc<dyn Store> {
        match self {
            Self::Sql(s) => s.clone(),
            Self::Mongo(s) => s.clone(),
        }
    }

    /// Applies migrations (SQL) or ensures indexes (MongoDB).
    pub async fn migrate(&self) -> Result<(), String> {
        match self {
            Self::Sql(s) => s.migrate().await,
            Self::Mongo(s) => s.ensure_indexes().await,
        }
        .map_err(|e| format!("migration failed: {e}"))
    }

    /// Pool usage for `/metrics` (SQL stores; the MongoDB driver keeps its pool private).
    pub fn pool_source(&self) -> Option<PoolSource> {
        match self {
            Self::Sql(s) => {
                let s = s.clone();
                Some(Arc::new(move || {
                    s.pool_stats()
                        .into_iter()
                        .map(|p| PoolUsage {
                            pool: p.name.to_owned(),
                            size: p.size.into(),
                            idle: p.idle.into(),
                            max: p.max.into(),
                        })
                        .collect()
                }))
            }
            Self::Mongo(_) => None,
        }
    }

    /// Closes pools and connections.
    pub async fn close(&self) {
        match self {
            Self::Sql(s) => s.close().await,
            Self::Mongo(s) => s.close().await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(redact("postgres://u:pw@h/db"), "postgres://u:***@h/db");
        assert_eq!(redact("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(redact("sqlite://taskflow.db"), "sqlite://taskflow.db");
    }
}
