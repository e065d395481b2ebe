//! Mount the TaskFlow HTTP API inside your own poem app, next to your own routes.
//!
//! ```bash
//! cargo run -p taskflow-examples --example embed_http            # serve on 127.0.0.1:8080 until Ctrl-C
//! cargo run -p taskflow-examples --example embed_http -- --check # start on a free port, call both sides, stop
//! ```
//!
//! Your routes and TaskFlow's share one server: `/hello` and `/my/summary` are this app's,
//! `/api/v1/...`, `/docs` and `/metrics` are TaskFlow's. `/my/summary` shows a route of
//! your own using the same `TaskFlow` handle and the same bearer tokens.

use std::time::Duration;

use poem::http::StatusCode;
use poem::web::{Data, Json};
use poem::{EndpointExt, Request, Route, handler};
use serde_json::{Value, json};
use taskflow_core::{MemoryStore, MokaCache, TaskFlow};
use taskflow_http::HttpConfig;

#[handler]
fn hello() -> &'static str {
    "Hello from my own app"
}

/// A route of your own that authenticates with TaskFlow's tokens.
#[handler]
async fn summary(req: &Request, Data(tf): Data<&TaskFlow>) -> poem::Result<Json<Value>> {
    let token = req
        .header("authorization")
        .and_then(|h| h.strip_prefix("Bearer "))
        .ok_or_else(|| poem::Error::from_status(StatusCode::UNAUTHORIZED))?;
    let me = tf
        .authenticate(token)
        .await
        .map_err(|_| poem::Error::from_status(StatusCode::UNAUTHORIZED))?;
    let stats = tf
        .task_stats(&me, None)
        .await
        .map_err(|_| poem::Error::from_status(StatusCode::SERVICE_UNAVAILABLE))?;
    Ok(Json(
        json!({"open": stats.by_status.todo + stats.by_status.in_progress, "total": stats.total}),
    ))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let check = std::env::args().any(|a| a == "--check");
    let mut secret = [0u8; 32];
    getrandom::fill(&mut secret)?;
    let tf = TaskFlow::builder()
        .store(MemoryStore::new())
        .cache(MokaCache::default())
        .jwt_secret(secret)
        .build()?;

    let app = Route::new()
        .at("/hello", hello)
        .at("/my/summary", summary.data(tf.clone()))
        .nest("/", taskflow_http::app(tf, HttpConfig::default())?);

    let bind = if check {
        "127.0.0.1:0"
    } else {
        "127.0.0.1:8080"
    };
    let listener = tokio::net::TcpListener::bind(bind).await?;
    let origin = format!("http://{}", listener.local_addr()?);
    println!("serving on {origin}: /hello, /my/summary, /api/v1/..., Swagger UI at {origin}/docs");
    if !check {
        taskflow_http::serve(
            listener,
            app,
            taskflow_http::shutdown_signal(),
            taskflow_http::ServeConfig {
                grace: Duration::from_secs(10),
                ..Default::default()
            },
        )
        .await?;
        return Ok(());
    }

    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(taskflow_http::serve(
        listener,
        app,
        async {
            let _ = stopped.await;
        },
        taskflow_http::ServeConfig {
            grace: Duration::from_secs(5),
            ..Default::default()
        },
    ));
    let http = reqwest::Client::new();
    let greeting = http
        .get(format!("{origin}/hello"))
        .send()
        .await?
        .text()
        .await?;
    assert_eq!(greeting, "Hello from my own app");
    let r = http
        .post(format!("{origin}/api/v1/auth/register"))
        .json(&json!({"email": "ada@example.com", "password": "correct horse battery", "name": "Ada"}))
        .send()
        .await?;
    assert_eq!(r.status(), 201);
    let pair: Value = http
        .post(format!("{origin}/api/v1/auth/login"))
        .json(&json!({"email": "ada@example.com", "password": "correct horse battery"}))
        .send()
        .await?
        .json()
        .await?;
    let token = pair["access_token"].as_str().ok_or("no access token")?;
    let r = http
        .post(format!("{origin}/api/v1/tasks"))
        .bearer_auth(token)
        .json(&json!({"title": "Ship the embedded API"}))
        .send()
        .await?;
    assert_eq!(r.status(), 201);
    let mine: Value = http
        .get(format!("{origin}/my/summary"))
        .bearer_auth(token)
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(mine, json!({"open": 1, "total": 1}));
    let r = http.get(format!("{origin}/my/summary")).send().await?;
    assert_eq!(r.status(), 401);
    println!("checked: own routes and TaskFlow's API share one server");
    let _ = stop.send(());
    server.await??;
    Ok(())
}
