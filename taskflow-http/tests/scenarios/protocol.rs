//! HTTP-level rules: status codes of the contract's table, request ids, security
//! headers, rate limits, CORS and trusted proxies.

use reqwest::{Method, StatusCode};
use serde_json::json;
use taskflow_http::HttpConfig;

use crate::support::{PASSWORD, Server, problem, raw};
use taskflow_test_support::http::{expect_problem, expect_status};

pub async fn status_codes(s: Server) {
    let ann = s.user("ann").await;
    // 401 without, or with a malformed, token; with WWW-Authenticate.
    for auth in [
        None,
        Some("Bearer"),
        Some("Bearer not.a.jwt"),
        Some("Basic YTpi"),
    ] {
        let mut r = s.req(Method::GET, "/tasks");
        if let Some(a) = auth {
            r = r.header("authorization", a);
        }
        let r = r.send().await.unwrap();
        assert!(
            r.headers()["www-authenticate"]
                .to_str()
                .unwrap()
                .starts_with("Bearer")
        );
        problem(r, 401, "unauthenticated").await;
    }
    // 404: unknown routes, malformed ids.
    for path in [
        "/nope",
        "/tasks/not-a-uuid",
        "/tasks/%ff%fe",
        "/users/%c0%af",
        "/tasks/01a208d7-bcb3-7009-a20d-f188d76b5c09",
    ] {
        expect_problem(s.as_user(Method::GET, path, &ann.access), 404, "not_found").await;
    }
    expect_problem(
        s.http.get(format!("{}/elsewhere", s.origin)),
        404,
        "not_found",
    )
    .await;
    expect_problem(
        s.as_user(Method::PATCH, "/tasks/%00%27;DROP", &ann.access)
            .json(&json!({"title": "x"})),
        404,
        "not_found",
    )
    .await;
    // 405 for a known path with another method.
    let r = s
        .as_user(Method::PUT, "/tasks", &ann.access)
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["allow"], "GET, POST");
    problem(r, 405, "method_not_allowed").await;
    let r = s
        .as_user(Method::PUT, "/tasks/not-a-uuid", &ann.access)
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["allow"], "DELETE, GET, PATCH");
    problem(r, 405, "method_not_allowed").await;
    // 415: not JSON, or no content type.
    expect_problem(
        s.as_user(Method::POST, "/tasks", &ann.access)
            .header("content-type", "text/plain")
            .body("{\"title\": \"t\"}"),
        415,
        "unsupported_media_type",
    )
    .await;
    expect_problem(
        s.as_user(Method::POST, "/tasks", &ann.access)
            .body("{\"title\": \"t\"}"),
        415,
        "unsupported_media_type",
    )
    .await;
    expect_status(
        s.as_user(Method::POST, "/tasks", &ann.access)
            .header("content-type", "application/json; charset=utf-8")
            .body("{\"title\": \"t\"}"),
        StatusCode::CREATED,
    )
    .await;
    // 413 over 64 KiB, with or without a length; 64 KiB exactly is read.
    let big = format!(
        "{{\"title\": \"t\", \"description\": \"{}\"}}",
        "x".repeat(70_000)
    );
    expect_problem(
        s.as_user(Method::POST, "/tasks", &ann.access)
            .header("content-type", "application/json")
            .body(big.clone()),
        413,
        "payload_too_large",
    )
    .await;
    let stream = futures_stream(big.into_bytes());
    expect_problem(
        s.as_user(Method::POST, "/tasks", &ann.access)
            .header("content-type", "application/json")
            .body(reqwest::Body::wrap_stream(stream)),
        413,
        "payload_too_large",
    )
    .await;
    let pad = 64 * 1024 - "{\"title\": \"t\", \"tags\": [], \"x\": \"\"}".len();
    let exact = format!(
        "{{\"title\": \"t\", \"tags\": [], \"x\": \"{}\"}}",
        "y".repeat(pad)
    );
    assert_eq!(exact.len(), 64 * 1024);
    let r = s
        .as_user(Method::POST, "/tasks", &ann.access)
        .header("content-type", "application/json")
        .body(exact)
        .send()
        .await
        .unwrap();
    // Read in full: the unknown field is what fails.
    problem(r, 422, "validation_failed").await;
    // A declared length over the limit is refused at once, not after waiting for the body.
    let announced = raw::request(
        b"POST /api/v1/tasks HTTP/1.1",
        &[
            format!("Authorization: Bearer {}", ann.access).as_bytes(),
            b"Content-Type: application/json",
            format!("Content-Length: {}", 64 * 1024 + 1).as_bytes(),
        ],
        b"{\"title\": ",
    );
    let r = raw::send(
        &s.origin,
        announced,
        "a length over the limit, body withheld",
    )
    .await;
    assert_eq!(r.status, 413, "{}", r.head);
    assert_eq!(r.header("content-type"), Some("application/problem+json"));
}

fn futures_stream(
    bytes: Vec<u8>,
) -> impl futures_core::Stream<Item = Result<Vec<u8>, std::io::Error>> + Send + 'static {
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        bytes.chunks(8192).map(|c| Ok(c.to_vec())).collect();
    tokio_stream::iter(chunks)
}

pub async fn request_ids_and_security_headers(s: Server) {
    let r = s
        .req(Method::GET, "/health")
        .header("x-request-id", "client-id_1.2:3")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["x-request-id"], "client-id_1.2:3");
    for insane in ["has space", "<script>", &"x".repeat(200)] {
        let r = s
            .req(Method::GET, "/nope")
            .header("x-request-id", insane)
            .send()
            .await
            .unwrap();
        let id = r.headers()["x-request-id"].to_str().unwrap().to_owned();
        assert_ne!(id, insane);
        assert_eq!(id.len(), 36, "a generated UUID");
        let body = problem(r, 404, "not_found").await;
        assert_eq!(body["request_id"], id.as_str());
    }
    let r = s.req(Method::GET, "/health").send().await.unwrap();
    let h = r.headers();
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["x-frame-options"], "DENY");
    assert_eq!(h["referrer-policy"], "no-referrer");
    assert_eq!(
        h["content-security-policy"],
        "default-src 'none'; frame-ancestors 'none'"
    );
    assert!(h.get("server").is_none(), "no server banner");
    assert!(
        h.get("strict-transport-security").is_none(),
        "HSTS only when configured"
    );
    assert!(
        h.get("access-control-allow-origin").is_none(),
        "no CORS by default"
    );

    let hsts = Server::start(
        s.tf.clone(),
        HttpConfig {
            hsts: true,
            ..HttpConfig::without_rate_limits()
        },
        None,
    )
    .await;
    let r = hsts.req(Method::GET, "/health").send().await.unwrap();
    assert!(
        r.headers()["strict-transport-security"]
            .to_str()
            .unwrap()
            .contains("max-age=")
    );
}

pub async fn cors_allowlist(s: Server) {
    let cors = Server::start(
        s.tf.clone(),
        HttpConfig {
            cors_origins: vec!["https://app.example.com".into()],
            ..HttpConfig::without_rate_limits()
        },
        None,
    )
    .await;
    let r = cors
        .req(Method::OPTIONS, "/tasks")
        .header("origin", "https://app.example.com")
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization, content-type",
        )
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    assert_eq!(
        r.headers()["access-control-allow-origin"],
        "https://app.example.com"
    );
    let r = cors
        .req(Method::GET, "/health")
        .header("origin", "https://evil.example.com")
        .send()
        .await
        .unwrap();
    assert!(r.headers().get("access-control-allow-origin").is_none());
}

pub async fn rate_limits(s: Server) {
    let limited = Server::start(
        s.tf.clone(),
        HttpConfig {
            rate_limit_per_ip: 8,
            auth_rate_limit_per_ip: 2,
            rate_limit_per_user: 0,
            ..HttpConfig::default()
        },
        None,
    )
    .await;
    // The stricter limit on login/register.
    for i in 0..2 {
        let r = expect_status(
            limited.req(Method::POST, "/auth/register").json(
                &json!({"email": format!("u{i}@example.com"), "password": PASSWORD, "name": "u"}),
            ),
            StatusCode::CREATED,
        )
        .await;
        assert_eq!(r.headers()["ratelimit-policy"], "\"auth\";q=2;w=60");
    }
    let r = limited
        .req(Method::POST, "/auth/login")
        .json(&json!({"email": "u0@example.com", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    let retry: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry));
    assert_eq!(r.headers()["ratelimit-policy"], "\"auth\";q=2;w=60");
    assert!(
        r.headers()["ratelimit"]
            .to_str()
            .unwrap()
            .starts_with("\"auth\";r=0;t=")
    );
    problem(r, 429, "rate_limited").await;
    // The per-IP limit covers every route: 3 used so far, 5 left.
    for left in (0..5).rev() {
        let r = expect_status(limited.req(Method::GET, "/health"), StatusCode::OK).await;
        assert_eq!(
            r.headers()["ratelimit"],
            format!(
                "\"ip\";r={left};t={}",
                r.headers()["ratelimit"]
                    .to_str()
                    .unwrap()
                    .rsplit('=')
                    .next()
                    .unwrap()
            )
        );
    }
    let r = limited.req(Method::GET, "/health").send().await.unwrap();
    assert!(r.headers().contains_key("retry-after"));
    problem(r, 429, "rate_limited").await;

    // X-Forwarded-For is ignored unless the peer is a trusted proxy.
    expect_status(
        limited
            .req(Method::GET, "/health")
            .header("x-forwarded-for", "203.0.113.7"),
        StatusCode::TOO_MANY_REQUESTS,
    )
    .await;
    let proxied = Server::start(
        s.tf.clone(),
        HttpConfig {
            rate_limit_per_ip: 1,
            auth_rate_limit_per_ip: 0,
            rate_limit_per_user: 0,
            trusted_proxies: vec!["127.0.0.0/8".into()],
            ..HttpConfig::default()
        },
        None,
    )
    .await;
    for client in ["203.0.113.7", "203.0.113.8", "10.1.1.1, 203.0.113.9"] {
        let r = proxied
            .req(Method::GET, "/health")
            .header("x-forwarded-for", client)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{client} has its own bucket");
    }
    expect_status(
        proxied
            .req(Method::GET, "/health")
            .header("x-forwarded-for", "203.0.113.7"),
        StatusCode::TOO_MANY_REQUESTS,
    )
    .await;

    // Per user: counted after authentication, whatever the IP.
    let per_user = Server::start(
        s.tf.clone(),
        HttpConfig {
            rate_limit_per_user: 3,
            ..HttpConfig::without_rate_limits()
        },
        None,
    )
    .await;
    let ann = per_user.login("u0").await;
    let bob = per_user.login("u1").await;
    for _ in 0..3 {
        expect_status(
            per_user.as_user(Method::GET, "/tasks", &ann.access),
            StatusCode::OK,
        )
        .await;
    }
    let r = per_user
        .as_user(Method::GET, "/tasks", &ann.access)
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["ratelimit-policy"], "\"user\";q=3;w=60");
    problem(r, 429, "rate_limited").await;
    let r = per_user
        .as_user(Method::GET, "/tasks", &bob.access)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK, "another user is not limited");
}
