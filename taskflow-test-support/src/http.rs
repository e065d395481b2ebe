//! HTTP request helpers on reqwest (feature `http`).
//!
//! Most API test steps are "send this, expect that status, maybe read the JSON body".
//! These fold the `.send().await.unwrap()`, status assertion and `.json().await.unwrap()`
//! chains into one call, and put the response body into every failure message.

use reqwest::{RequestBuilder, Response, StatusCode};
use serde_json::Value;

/// Sends `request`.
///
/// # Panics
/// When it cannot be sent or no response arrives (a transport failure, never an answer).
pub async fn send(request: RequestBuilder) -> Response {
    request.send().await.expect("send the request")
}

/// Sends `request` and asserts the response status; returns the response (headers and
/// body unread).
///
/// # Panics
/// On a transport failure or another status (the message carries the body).
pub async fn expect_status(request: RequestBuilder, status: StatusCode) -> Response {
    let response = send(request).await;
    if response.status() != status {
        let got = response.status();
        let body = response.text().await.unwrap_or_default();
        panic!("status: expected {status}, got {got}; body: {body}");
    }
    response
}

/// Sends `request`, asserts the response status and returns the JSON body.
///
/// # Panics
/// On a transport failure, another status, or a body that is not JSON.
pub async fn expect_json(request: RequestBuilder, status: StatusCode) -> Value {
    let text = expect_status(request, status)
        .await
        .text()
        .await
        .expect("read the body");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("body is not JSON ({e}): {text}"))
}

/// Sends `request` and asserts a problem+json answer (see [`problem`]); returns the body.
pub async fn expect_problem(request: RequestBuilder, status: u16, code: &str) -> Value {
    problem(send(request).await, status, code).await
}

/// Asserts that `response` is TaskFlow's problem+json answer with `status` and `code`
/// (`application/problem+json`; `type`, `title`, `detail`, `status`, `code`, and the
/// `request_id` of the `x-request-id` header); returns the body.
///
/// # Panics
/// When any of that does not hold.
pub async fn problem(response: Response, status: u16, code: &str) -> Value {
    let got = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let request_id = response
        .headers()
        .get("x-request-id")
        .map(|v| v.to_str().unwrap().to_owned());
    let text = response.text().await.unwrap();
    assert_eq!(got, status, "status; body: {text}");
    assert_eq!(
        content_type, "application/problem+json",
        "content type; body: {text}"
    );
    let body: Value = serde_json::from_str(&text).expect("problem body is JSON");
    assert_eq!(body["code"], code, "code; body: {text}");
    assert_eq!(body["status"], status);
    assert_eq!(
        body["type"],
        format!("https://taskflow.dev/problems/{code}"),
        "type"
    );
    assert!(body["title"].is_string() && body["detail"].is_string());
    assert_eq!(
        body["request_id"].as_str(),
        request_id.as_deref(),
        "request id"
    );
    body
}
