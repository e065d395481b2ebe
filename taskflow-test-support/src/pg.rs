//! Fresh PostgreSQL schemas in the test database (feature `postgres`).
//!
//! A schema per test keeps tests independent and parallel inside one database, which a
//! database per test would not (`CREATE DATABASE` copies a template and is slow). The
//! database itself is made fresh per run and dropped by `scripts/test`.

use std::str::FromStr;

use sqlx::Connection;
use sqlx::postgres::{PgConnectOptions, PgConnection};

/// A new, empty schema of the database at a `postgres://` URL; dropped (with everything
/// in it) when this value is dropped, unless [`keep`](Self::keep) hands it over.
#[derive(Debug)]
pub struct PgSchema {
    url: String,
    name: String,
    drop_on_drop: bool,
}

impl PgSchema {
    /// Creates a uniquely named schema (`t_<uuid>`) in the database at `url`.
    ///
    /// # Panics
    /// When the database cannot be reached or the schema cannot be created: a test
    /// environment fault, not a result.
    pub async fn create(url: &str) -> Self {
        let name = crate::unique_name("t_");
        let mut admin = PgConnection::connect(url)
            .await
            .expect("connect to the PostgreSQL test database");
        // The name is ours (prefix + hex), never input: formatting it into SQL is safe.
        sqlx::query(&format!("CREATE SCHEMA {name}"))
            .execute(&mut admin)
            .await
            .expect("create schema");
        admin.close().await.ok();
        Self {
            url: url.to_owned(),
            name,
            drop_on_drop: true,
        }
    }

    /// The schema's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Connect options whose connections use this schema (`search_path`).
    pub fn connect_options(&self) -> PgConnectOptions {
        PgConnectOptions::from_str(&self.url)
            .expect("valid PostgreSQL URL")
            .options([("search_path", self.name.as_str())])
    }

    /// A `postgres://` URL whose connections use this schema, for code that takes a URL
    /// (the binary, `SqlOptions::replica_url`).
    pub fn url(&self) -> String {
        let sep = if self.url.contains('?') { '&' } else { '?' };
        format!("{}{sep}options=-c%20search_path%3D{}", self.url, self.name)
    }

    /// Leaves the schema in place and returns its name: for a store whose owner the test
    /// cannot hold on to (the conformance suite's setup returns a bare store). It goes
    /// with the run's database, which `scripts/test` drops.
    pub fn keep(mut self) -> String {
        self.drop_on_drop = false;
        std::mem::take(&mut self.name)
    }
}

impl Drop for PgSchema {
    /// Drops the schema, best effort: a failure leaves it to the run's database drop.
    ///
    /// `Drop` cannot await, and a Tokio runtime cannot be entered from inside another, so
    /// this runs on a thread of its own with its own runtime. `lock_timeout` bounds the
    /// wait should a connection of the test still hold a lock (a single-threaded test
    /// runtime could not release it while this blocks).
    fn drop(&mut self) {
        if !self.drop_on_drop {
            return;
        }
        let (url, name) = (self.url.clone(), self.name.clone());
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            runtime.block_on(async {
                let mut admin = PgConnection::connect(&url).await.ok()?;
                sqlx::query("SET lock_timeout = '5s'")
                    .execute(&mut admin)
                    .await
                    .ok()?;
                sqlx::query(&format!("DROP SCHEMA IF EXISTS {name} CASCADE"))
                    .execute(&mut admin)
                    .await
                    .ok()?;
                admin.close().await.ok()
            })
        })
        .join();
    }
}

/// A new schema of the database at `url` (see [`PgSchema`]).
pub async fn fresh_schema(url: &str) -> PgSchema {
    PgSchema::create(url).await
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn schema_exists(url: &str, name: &str) -> bool {
        let mut c = PgConnection::connect(url).await.unwrap();
        let found: Option<(String,)> = sqlx::query_as(
            "SELECT schema_name::text FROM information_schema.schemata WHERE schema_name = $1",
        )
        .bind(name)
        .fetch_optional(&mut c)
        .await
        .unwrap();
        found.is_some()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_schema_is_used_by_its_connections_and_dropped_with_its_guard() {
        let Some(url) = crate::postgres_url() else {
            return;
        };
        let schema = fresh_schema(&url).await;
        let name = schema.name().to_owned();
        for options in [
            schema.connect_options(),
            PgConnectOptions::from_str(&schema.url()).unwrap(),
        ] {
            let mut c = PgConnection::connect_with(&options).await.unwrap();
            let (path,): (String,) = sqlx::query_as("SELECT current_schema()::text")
                .fetch_one(&mut c)
                .await
                .unwrap();
            assert_eq!(path, name);
            c.close().await.unwrap();
        }
        drop(schema);
        assert!(!schema_exists(&url, &name).await, "{name} dropped");

        let kept = fresh_schema(&url).await.keep();
        assert!(schema_exists(&url, &kept).await, "{kept} kept");
        let mut c = PgConnection::connect(&url).await.unwrap();
        sqlx::query(&format!("DROP SCHEMA {kept}"))
            .execute(&mut c)
            .await
            .unwrap();
    }
}
