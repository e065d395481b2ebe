//! Durability: the `taskflow` binary is killed with SIGKILL in the middle of a write load,
//! restarted on the same database, and every task whose create was answered `201` must be
//! there, intact. SQLite (WAL, group commit) and PostgreSQL. MongoDB is left out on purpose:
//! here it is nx-27017, an emulator whose durability is not ours to prove.

mod support;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde_json::{Value, json};

use support::binary::{Serve, client, serve};

/// Concurrent writers: enough to fill SQLite's group commits and PostgreSQL's pool.
const WRITERS: usize = 16;

/// Rate limits off, the database and secret given.
fn start(dir: &Path, database_url: &str) -> Serve {
    let secret = dir.join("jwt-secret");
    if !secret.exists() {
        std::fs::write(&secret, "durability test secret, at least 32 bytes").unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
    }
    serve(
        dir,
        &[
            "--database-url",
            database_url,
            "--jwt-secret-file",
            secret.to_str().unwrap(),
            "--rate-limit-per-ip",
            "0",
            "--auth-rate-limit-per-ip",
            "0",
            "--rate-limit-per-user",
            "0",
        ],
    )
}

async fn login(http: &reqwest::Client, origin: &str) -> String {
    let pair: Value = http
        .post(format!("{origin}/api/v1/auth/login"))
        .json(&json!({"email": "ann@example.com", "password": "long enough pw"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    pair["access_token"].as_str().unwrap().to_owned()
}

/// A task body that shows corruption if any part of it is lost or mangled.
fn body(writer: usize, n: usize) -> Value {
    let priority = ["low", "medium", "high", "urgent"][n % 4];
    json!({
        "title": format!("w{writer} n{n} ✓ مرحبا"),
        "description": format!("writer {writer}, write {n}: {}", "x".repeat(n % 300)),
        "priority": priority,
        "tags": [format!("w{writer}"), format!("n{}", n % 7)],
        "due_date": format!("2031-0{}-1{}T08:30:00.123Z", 1 + n % 9, n % 10),
    })
}

/// The fields a create sent, as the API returns them.
fn stored_fields(task: &Value) -> Value {
    json!({
        "title": task["title"],
        "description": task["description"],
        "priority": task["priority"],
        "tags": task["tags"],
        "due_date": task["due_date"],
    })
}

async fn acknowledged_writes_survive_kill_9(database_url: &str, what: &str) {
    let dir = tempfile::tempdir().unwrap();
    let http = client();
    let mut server = start(dir.path(), database_url);
    let r = http
        .post(format!("{}/api/v1/auth/register", server.origin))
        .json(&json!({"email": "ann@example.com", "password": "long enough pw", "name": "Ann"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let token = login(&http, &server.origin).await;

    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let (http, token, stop) = (http.clone(), token.clone(), stop.clone());
            let url = format!("{}/api/v1/tasks", server.origin);
            tokio::spawn(async move {
                let mut acknowledged = Vec::new();
                for n in 0.. {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let sent = body(w, n);
                    // The kill ends this loop: a request without an answer was not acknowledged.
                    let Ok(r) = http.post(&url).bearer_auth(&token).json(&sent).send().await else {
                        break;
                    };
                    if r.status() != 201 {
                        panic!("create answered {}", r.status());
                    }
                    let Ok(created) = r.json::<Value>().await else {
                        break;
                    };
                    acknowledged.push((sent, created));
                }
                acknowledged
            })
        })
        .collect();

    // Kill while the load is at full speed: after enough writes that many are in flight.
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    server.kill_hard();
    stop.store(true, Ordering::SeqCst);
    let mut acknowledged = Vec::new();
    for w in writers {
        acknowledged.extend(w.await.expect("writer panicked"));
    }
    assert!(
        acknowledged.len() >= 50,
        "{what}: only {} writes before the kill; the load did not run",
        acknowledged.len()
    );

    let server = start(dir.path(), database_url);
    let token = login(&http, &server.origin).await;
    let mut found = 0;
    for (sent, created) in &acknowledged {
        // What the create answered is what was sent.
        assert_eq!(
            stored_fields(created),
            stored_fields(sent),
            "{what}: echo of the create"
        );
        let id = created["id"].as_str().unwrap();
        let r = http
            .get(format!("{}/api/v1/tasks/{id}", server.origin))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{what}: acknowledged task {id} lost");
        let task: Value = r.json().await.unwrap();
        assert_eq!(task, *created, "{what}: task {id} changed by the crash");
        found += 1;
    }
    // Writes committed but not yet answered when the kill came may exist too; nothing else.
    let stats: Value = http
        .get(format!("{}/api/v1/tasks/stats", server.origin))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let total = stats["total"].as_u64().unwrap() as usize;
    assert!(
        total >= acknowledged.len() && total <= acknowledged.len() + WRITERS,
        "{what}: {total} tasks stored for {} acknowledged creates and {WRITERS} in flight",
        acknowledged.len()
    );
    eprintln!(
        "{what}: {} creates acknowledged before SIGKILL, {found} found intact after restart ({total} stored)",
        acknowledged.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_keeps_every_acknowledged_write_across_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("durable.db").display());
    acknowledged_writes_survive_kill_9(&url, "sqlite").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_keeps_every_acknowledged_write_across_kill_9() {
    let Some(url) = taskflow_test_support::postgres_url() else {
        return;
    };
    // Dropped (with its schema) when the test ends.
    let schema = taskflow_test_support::pg::fresh_schema(&url).await;
    acknowledged_writes_survive_kill_9(&schema.url(), "postgres").await;
}
