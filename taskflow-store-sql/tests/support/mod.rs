//! Test helpers: a migrated PostgreSQL store on a fresh schema of
//! `TASKFLOW_TEST_POSTGRES_URL` (URL discovery and schemas: `taskflow-test-support`).

use taskflow_store_sql::{PostgresStore, SqlOptions};

/// A migrated store on a fresh schema, or `None` when PostgreSQL is not configured
/// (the skip/fail rule of `taskflow_test_support::postgres_url`).
pub async fn postgres() -> Option<PostgresStore> {
    let url = taskflow_test_support::postgres_url()?;
    let options = SqlOptions {
        max_connections: 8,
        ..SqlOptions::default()
    };
    // The conformance setup returns a bare store, so nothing here can own the schema's
    // guard: it stays, and goes with the run's database.
    let schema = taskflow_test_support::pg::fresh_schema(&url).await;
    let store =
        PostgresStore::with_connect_options(schema.connect_options(), &options).expect("pool");
    schema.keep();
    store.migrate().await.expect("migrate");
    Some(store)
}
