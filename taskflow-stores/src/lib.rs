//! Opens the TaskFlow store a database URL names, for frontends that take a URL from their
//! user (the `taskflow` binary, the Python package): `sqlite:…` and `postgres://…` open
//! the SQL store, `mongodb://…` and `mongodb+srv://…` the MongoDB store.
//!
//! ```no_run
//! # async fn run() -> taskflow_core::Result<()> {
//! let store = taskflow_stores::AnyStore::open("sqlite://tasks.db").await?;
//! store.migrate().await?;
//! let tf = taskflow_core::TaskFlow::builder()
//!     .shared_store(store.shared())
//!     .jwt_secret("a secret of at least thirty-two bytes!!")
//!     .build()?;
//! # let _ = tf; Ok(()) }
//! ```

use std::sync::Arc;

use taskflow_core::{Error, Result, Store};
use taskflow_store_mongo::{MongoOptions, MongoStore};
use taskflow_store_sql::{PoolStats, SqlOptions, SqlStore};

/// A store opened from a URL, kept concrete for migrations, pool metrics and closing; the
/// store calls themselves go to the backend directly through [`shared`](Self::shared).
pub enum AnyStore {
    /// SQLite or PostgreSQL.
    Sql(SqlStore),
    /// MongoDB.
    Mongo(Arc<MongoStore>),
}

impl AnyStore {
    /// Opens (lazily connecting where the driver allows) the store `url` names, with
    /// default options. An unknown scheme is a validation error on `database_url`.
    pub async fn open(url: &str) -> Result<Self> {
        if url.starts_with("mongodb://") || url.starts_with("mongodb+srv://") {
            let store = MongoStore::open(url, &MongoOptions::default()).await?;
            return Ok(Self::Mongo(Arc::new(store)));
        }
        if url.starts_with("sqlite:")
            || url.starts_with("postgres://")
            || url.starts_with("postgresql://")
        {
            let store = SqlStore::open(url, &SqlOptions::default()).await?;
            return Ok(Self::Sql(store));
        }
        Err(Error::invalid(
            "database_url",
            "unsupported database URL: use sqlite://, postgres:// or mongodb://",
        ))
    }

    /// The store as core takes it.
    pub fn shared(&self) -> Arc<dyn Store> {
        match self {
            Self::Sql(s) => s.shared(),
            Self::Mongo(s) => s.clone(),
        }
    }

    /// Applies migrations (SQL) or ensures indexes (MongoDB); idempotent.
    pub async fn migrate(&self) -> Result<()> {
        match self {
            Self::Sql(s) => s.migrate().await,
            Self::Mongo(s) => s.ensure_indexes().await,
        }
    }

    /// Connection-pool usage (SQL stores; the MongoDB driver keeps its pool private).
    pub fn pool_stats(&self) -> Option<Vec<PoolStats>> {
        match self {
            Self::Sql(s) => Some(s.pool_stats()),
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
    use super::AnyStore;

    #[tokio::test]
    async fn schemes_choose_the_store() {
        let store = AnyStore::open("sqlite::memory:").await.unwrap();
        assert!(matches!(store, AnyStore::Sql(_)));
        store.migrate().await.unwrap();
        store.shared().ping().await.unwrap();
        assert!(store.pool_stats().is_some());
        store.close().await;
        let err = AnyStore::open("mysql://localhost/x").await.err().unwrap();
        assert_eq!(err.code(), "validation_failed");
    }
}
