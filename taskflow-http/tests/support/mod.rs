//! Black-box test helpers: a real server on a real socket over each backend, an HTTP
//! client, accounts, and raw HTTP/1.1 for malformed requests (the TCP proxy the outage
//! tests cut is `taskflow_test_support::proxy`).
#![allow(dead_code)]

pub mod raw;

use std::sync::Arc;
use std::time::Duration;

use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde_json::{Value, json};
use sqlx::postgres::PgConnectOptions;
use taskflow_core::{MokaCache, PasswordParams, Registration, Store, TaskFlow};
use taskflow_http::HttpConfig;
use taskflow_store_mongo::{MongoOptions, MongoStore};
use taskflow_store_sql::{PostgresStore, SqlOptions, SqlStore};
use taskflow_test_support::http::{expect_json, expect_status};
use taskflow_test_support::pg::fresh_schema;
use tokio::sync::oneshot;

/// Test password of every account.
pub const PASSWORD: &str = "correct horse battery";
/// JWT secret of test servers.
pub const SECRET: &str = "test secret of at least thirty-two bytes";

/// The backends every black-box test runs against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// SQLite in a temporary file.
    Sqlite,
    /// A fresh schema of `TASKFLOW_TEST_POSTGRES_URL`.
    Postgres,
    /// A fresh database on `TASKFLOW_TEST_MONGO_URL`.
    Mongo,
}

/// A backend's URL variable: `None` (said once) when unset locally, a panic under CI.
pub fn env_url(var: &str) -> Option<String> {
    let backend = match var {
        taskflow_test_support::POSTGRES_URL => "PostgreSQL",
        taskflow_test_support::MONGO_URL => "MongoDB",
        other => other,
    };
    taskflow_test_support::backend_url(var, backend)
}

/// Connect options for a new, empty schema of the PostgreSQL test database.
pub async fn fresh_pg_schema(url: &str) -> PgConnectOptions {
    // Kept: the server that uses it outlives this call; it goes with the run's database.
    let schema = fresh_schema(url).await;
    let options = schema.connect_options();
    schema.keep();
    options
}

/// A `postgres://` URL whose connections use a new, empty schema (for the binary).
pub async fn fresh_pg_schema_url(url: &str) -> String {
    // Kept, as in `fresh_pg_schema`.
    let schema = fresh_schema(url).await;
    let schema_url = schema.url();
    schema.keep();
    schema_url
}

/// A fresh, migrated store; the temp dir (SQLite) must outlive it.
pub async fn store(backend: Backend) -> Option<(Arc<dyn Store>, Option<tempfile::TempDir>)> {
    match backend {
        Backend::Sqlite => {
            let dir = tempfile::tempdir().expect("temp dir");
            let url = format!("sqlite://{}", dir.path().join("t.db").display());
            let store = SqlStore::open(&url, &SqlOptions::default())
                .await
                .expect("open");
            store.migrate().await.expect("migrate");
            Some((store.shared(), Some(dir)))
        }
        Backend::Postgres => {
            let url = env_url("TASKFLOW_TEST_POSTGRES_URL")?;
            let options = SqlOptions {
                max_connections: 8,
                acquire_timeout: Duration::from_secs(2),
                ..SqlOptions::default()
            };
            let store = PostgresStore::with_connect_options(fresh_pg_schema(&url).await, &options)
                .expect("pool");
            store.migrate().await.expect("migrate");
            Some((Arc::new(store), None))
        }
        Backend::Mongo => {
            let url = env_url("TASKFLOW_TEST_MONGO_URL")?;
            let db = taskflow_test_support::unique_name("h_");
            let store = MongoStore::open_database(&url, Some(&db), &MongoOptions::default())
                .await
                .expect("open MongoDB");
            Some((Arc::new(store), None))
        }
    }
}

/// The handle a test server runs: fast password hashing, cache on (the server default).
pub fn flow(store: Arc<dyn Store>) -> TaskFlow {
    TaskFlow::builder()
        .shared_store(store)
        .cache(MokaCache::default())
        .jwt_secret(SECRET)
        .password_params(PasswordParams::insecure_fast_for_tests())
        .build()
        .expect("taskflow")
}

/// A server listening on 127.0.0.1 on a free port, stopped on drop.
pub struct Server {
    /// `http://127.0.0.1:port`.
    pub origin: String,
    /// The handle the server runs on (for trusted set-up such as `create_admin`).
    pub tf: TaskFlow,
    /// A client without redirects or cookies.
    pub http: reqwest::Client,
    stop: Option<oneshot::Sender<()>>,
    _dir: Option<tempfile::TempDir>,
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// A server over a fresh store of `backend` with rate limits off; `None` when the
/// backend is not configured locally.
pub async fn server(backend: Backend) -> Option<Server> {
    server_with(backend, HttpConfig::without_rate_limits()).await
}

/// Like [`server`], with a given configuration.
pub async fn server_with(backend: Backend, config: HttpConfig) -> Option<Server> {
    let (store, dir) = store(backend).await?;
    Some(Server::start(flow(store), config, dir).await)
}

impl Server {
    /// Serves `tf` with `config`.
    pub async fn start(tf: TaskFlow, config: HttpConfig, dir: Option<tempfile::TempDir>) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let origin = format!("http://{}", listener.local_addr().unwrap());
        let app = taskflow_http::app(tf.clone(), config).expect("app");
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(async move {
            taskflow_http::serve(
                listener,
                app,
                async {
                    let _ = stopped.await;
                },
                taskflow_http::ServeConfig {
                    grace: Duration::from_secs(5),
                    ..Default::default()
                },
            )
            .await
            .expect("serve");
        });
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap();
        Self {
            origin,
            tf,
            http,
            stop: Some(stop),
            _dir: dir,
        }
    }

    /// Absolute URL of an API path (`/tasks` → `http://…/api/v1/tasks`).
    pub fn api(&self, path: &str) -> String {
        format!("{}/api/v1{path}", self.origin)
    }

    /// A request to an API path.
    pub fn req(&self, method: Method, path: &str) -> RequestBuilder {
        self.http.request(method, self.api(path))
    }

    /// A request with a bearer token.
    pub fn as_user(&self, method: Method, path: &str, token: &str) -> RequestBuilder {
        self.req(method, path).bearer_auth(token)
    }

    /// Registers `name@example.com` and logs in.
    pub async fn user(&self, name: &str) -> Account {
        expect_status(
            self.req(Method::POST, "/auth/register")
                .json(&json!({"email": format!("{name}@example.com"), "password": PASSWORD, "name": name})),
            StatusCode::CREATED,
        )
        .await;
        self.login(name).await
    }

    /// Creates an admin through the trusted core call, and logs in.
    pub async fn admin(&self, name: &str) -> Account {
        self.tf
            .create_admin(Registration {
                email: format!("{name}@example.com"),
                password: PASSWORD.into(),
                name: name.into(),
            })
            .await
            .expect("create admin");
        self.login(name).await
    }

    /// Logs `name@example.com` in.
    pub async fn login(&self, name: &str) -> Account {
        let pair = expect_json(
            self.req(Method::POST, "/auth/login")
                .json(&json!({"email": format!("{name}@example.com"), "password": PASSWORD})),
            StatusCode::OK,
        )
        .await;
        Account {
            id: pair["user"]["id"].as_str().unwrap().to_owned(),
            access: pair["access_token"].as_str().unwrap().to_owned(),
            refresh: pair["refresh_token"].as_str().unwrap().to_owned(),
        }
    }

    /// Creates a task as `who`; returns its JSON.
    pub async fn task(&self, who: &Account, body: Value) -> Value {
        expect_json(
            self.as_user(Method::POST, "/tasks", &who.access)
                .json(&body),
            StatusCode::CREATED,
        )
        .await
    }
}

/// A logged-in account.
#[derive(Debug, Clone)]
pub struct Account {
    /// User id.
    pub id: String,
    /// Access token.
    pub access: String,
    /// Refresh token.
    pub refresh: String,
}

/// Asserts a problem+json answer with `status` and `code`; returns the body.
pub async fn problem(resp: Response, status: u16, code: &str) -> Value {
    taskflow_test_support::http::problem(resp, status, code).await
}

/// Expands one test per scenario and backend: `scenarios!(module::fn, ...)`.
#[macro_export]
macro_rules! scenarios {
    ($($module:ident :: $name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let server = $crate::support::server($crate::support::Backend::Sqlite).await.unwrap();
                    $crate::scenarios::$module::$name(server).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let Some(server) = $crate::support::server($crate::support::Backend::Postgres).await else { return };
                    $crate::scenarios::$module::$name(server).await;
                }
            )*
        }
        mod mongo {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let Some(server) = $crate::support::server($crate::support::Backend::Mongo).await else { return };
                    $crate::scenarios::$module::$name(server).await;
                }
            )*
        }
    };
}
