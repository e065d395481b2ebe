//! Test helpers: fresh PostgreSQL schemas from `TASKFLOW_TEST_POSTGRES_URL`.
#![allow(dead_code)]

use sqlx::Connection;
use sqlx::postgres::{PgConnectOptions, PgConnection};
use std::str::FromStr;
use taskflow_store_sql::{PostgresStore, SqlOptions};

/// The variable naming the PostgreSQL database tests may use.
pub const POSTGRES_URL: &str = "TASKFLOW_TEST_POSTGRES_URL";

/// The test database URL; `None` (after saying so once) when unset outside CI. Under
/// `CI=true` an unset URL is a failure: CI never silently skips a backend.
pub fn postgres_url() -> Option<String> {
    match std::env::var(POSTGRES_URL) {
        Ok(url) if !url.is_empty() => Some(url),
        _ if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!("{POSTGRES_URL} is not set, and CI=true: PostgreSQL tests must run in CI")
        }
        _ => {
            static SAID: std::sync::Once = std::sync::Once::new();
            SAID.call_once(|| eprintln!("skipped: PostgreSQL tests, {POSTGRES_URL} not set"));
            None
        }
    }
}

/// Connect options for a brand-new, empty schema of the test database.
pub async fn fresh_schema(url: &str) -> PgConnectOptions {
    let schema = format!("t_{}", uuid::Uuid::now_v7().simple());
    let mut admin = PgConnection::connect(url)
        .await
        .expect("connect to the test database");
    sqlx::query(&format!("CREATE SCHEMA {schema}"))
        .execute(&mut admin)
        .await
        .expect("create schema");
    admin.close().await.ok();
    PgConnectOptions::from_str(url)
        .expect("valid URL")
        .options([("search_path", schema.as_str())])
}

/// A migrated store on a fresh schema, or `None` when PostgreSQL is not configured.
pub async fn postgres() -> Option<PostgresStore> {
    let url = postgres_url()?;
    let options = SqlOptions {
        max_connections: 8,
        ..SqlOptions::default()
    };
    let store =
        PostgresStore::with_connect_options(fresh_schema(&url).await, &options).expect("pool");
    store.migrate().await.expect("migrate");
    Some(store)
}
