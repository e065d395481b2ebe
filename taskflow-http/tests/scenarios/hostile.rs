//! Hostile input: every input is refused with a 4xx (a problem document where the app
//! answers) or stored and returned literally; never a 5xx, never a hang, and after each
//! barrage the account's data is exactly what was accepted.
//!
//! - `bodies`: the 64 KiB limit in every framing, malformed and adversarial JSON;
//! - `protocol`: raw HTTP/1.1 no client sends (invalid UTF-8, oversized heads, lying framing);
//! - `text`: control characters, Unicode edge cases and injection strings in every text field;
//! - `queries`: SQL and MongoDB injection in every query parameter;
//! - `wording`: unreadable values of every parameter and body field of the OpenAPI document
//!   are refused in words that say what to send, never in the framework's type names.

mod bodies;
mod protocol;
mod queries;
mod text;
mod wording;

pub use bodies::{hostile_body_limits, hostile_json};
pub use protocol::hostile_raw_protocol;
pub use queries::hostile_query_params;
pub use text::hostile_text_fields;
pub use wording::hostile_values_name_the_expected_format;

use std::collections::BTreeMap;

use reqwest::{Method, Response, StatusCode};
use serde_json::Value;

use crate::support::{Account, Server};

/// Sends `body` as `application/json`, bytes as they are.
async fn send_json(
    s: &Server,
    who: Option<&Account>,
    method: Method,
    path: &str,
    body: impl Into<reqwest::Body>,
) -> Response {
    let mut r = s
        .req(method, path)
        .header("content-type", "application/json")
        .body(body);
    if let Some(who) = who {
        r = r.bearer_auth(&who.access);
    }
    r.send().await.unwrap()
}

/// The same bytes as a chunked body (no `Content-Length`), in chunks of `size`.
fn chunked(bytes: &[u8], size: usize) -> reqwest::Body {
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        bytes.chunks(size).map(|c| Ok(c.to_vec())).collect();
    reqwest::Body::wrap_stream(tokio_stream::iter(chunks))
}

/// Every task `who` lists, by id (page by page).
async fn listed(s: &Server, who: &Account) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    for page in 1.. {
        let r = s
            .as_user(
                Method::GET,
                &format!("/tasks?limit=100&page={page}"),
                &who.access,
            )
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "list page {page}");
        let body: Value = r.json().await.unwrap();
        let items = body["items"].as_array().unwrap();
        for t in items {
            out.insert(t["id"].as_str().unwrap().to_owned(), t.clone());
        }
        if items.len() < 100 {
            break;
        }
    }
    out
}

/// The account holds exactly `expected` (id → task as last answered): the listing and
/// each `GET` return them unchanged, and the stats count them.
async fn assert_intact(s: &Server, who: &Account, expected: &BTreeMap<String, Value>) {
    let got = listed(s, who).await;
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        expected.keys().collect::<Vec<_>>(),
        "the listing holds exactly the accepted tasks"
    );
    for (id, task) in expected {
        assert_eq!(&got[id], task, "listed task {id}");
        let r = s
            .as_user(Method::GET, &format!("/tasks/{id}"), &who.access)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "get {id}");
        assert_eq!(&r.json::<Value>().await.unwrap(), task, "task {id}");
    }
    let stats: Value = s
        .as_user(Method::GET, "/tasks/stats", &who.access)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(stats["total"], expected.len(), "stats total: {stats}");
    for (group, field) in [("by_status", "status"), ("by_priority", "priority")] {
        let mut counted: BTreeMap<&str, u64> = BTreeMap::new();
        for task in expected.values() {
            *counted.entry(task[field].as_str().unwrap()).or_default() += 1;
        }
        for (key, n) in stats[group].as_object().unwrap() {
            assert_eq!(
                n.as_u64().unwrap(),
                counted.get(key.as_str()).copied().unwrap_or(0),
                "stats {group}.{key}: {stats}"
            );
        }
    }
}
