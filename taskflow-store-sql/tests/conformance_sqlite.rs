//! The store conformance suite over SQLite: in memory and in a file, raw and cached.
#![cfg(feature = "sqlite")]

use std::sync::Arc;

use taskflow_core::{Cached, MokaCache};
use taskflow_store_sql::{SqlOptions, SqliteStore};

async fn memory() -> SqliteStore {
    let store = SqliteStore::open("sqlite::memory:", &SqlOptions::default())
        .await
        .expect("open in-memory sqlite");
    store.migrate().await.expect("migrate");
    store
}

/// A fresh database file under cargo's test scratch directory, in a folder of this test
/// process; folders of earlier runs are swept on first use.
async fn file() -> SqliteStore {
    static DIR: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();
    let dir = DIR.get_or_init(|| {
        let root = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("sqlite-conformance");
        let _ = std::fs::remove_dir_all(&root);
        let dir = root.join(std::process::id().to_string());
        std::fs::create_dir_all(&dir).expect("scratch dir");
        dir
    });
    let url = format!(
        "sqlite://{}",
        dir.join(format!("{}.db", uuid::Uuid::now_v7())).display()
    );
    let store = SqliteStore::open(&url, &SqlOptions::default())
        .await
        .expect("open sqlite file");
    store.migrate().await.expect("migrate");
    store
}

fn cached(store: SqliteStore) -> Cached {
    Cached::new(Arc::new(store), Arc::new(MokaCache::default()))
}

mod memory_raw {
    taskflow_core::store_conformance!(super::memory);
}

mod memory_cached {
    async fn setup() -> taskflow_core::Cached {
        super::cached(super::memory().await)
    }
    taskflow_core::store_conformance!(setup);
}

mod file_raw {
    taskflow_core::store_conformance!(super::file);
}

mod file_cached {
    async fn setup() -> taskflow_core::Cached {
        super::cached(super::file().await)
    }
    taskflow_core::store_conformance!(setup);
}
