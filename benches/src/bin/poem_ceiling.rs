//! The ceiling of an HTTP route on this machine: a minimal poem handler returning a small
//! JSON body, served the way `taskflow serve` serves (multi-thread Tokio runtime, poem's
//! server). `benches/http/run` drives it with the same load generator as TaskFlow and
//! reports every TaskFlow figure as a ratio to it.
//!
//! ```text
//! cargo run --release -p taskflow-benches --bin poem_ceiling -- 127.0.0.1:8090
//! ```

use poem::listener::TcpListener;
use poem::web::Json;
use poem::{Route, Server, get, handler};
use serde_json::{Value, json};

#[handler]
fn ceiling() -> Json<Value> {
    Json(json!({"status": "ok", "items": [], "page": {"limit": 20, "page": 1, "total": 0}}))
}

fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8090".to_owned());
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(
            Server::new(TcpListener::bind(addr)).run(Route::new().at("/ceiling", get(ceiling))),
        )
}
