//! The auth flow of `docs/http-api.md`: registration, login, rotation, reuse detection, logout,
//! logout-all, password change, disabled accounts, the login throttle.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{Account, PASSWORD, Server, problem};
use taskflow_http::HttpConfig;
use taskflow_test_support::http::{expect_json, expect_problem, expect_status};

fn is_timestamp(v: &Value) -> bool {
    // 2026-11-23T08:00:00.000Z
    let s = v.as_str().unwrap_or("");
    s.len() == 24 && s.ends_with('Z') && s.as_bytes()[19] == b'.' && s.as_bytes()[10] == b'T'
}

/// Both tokens of `acc` are refused: its session has ended.
async fn assert_signed_out(s: &Server, acc: &Account) {
    expect_problem(
        s.as_user(Method::GET, "/auth/me", &acc.access),
        401,
        "unauthenticated",
    )
    .await;
    expect_problem(
        s.req(Method::POST, "/auth/refresh")
            .json(&json!({"refresh_token": acc.refresh})),
        401,
        "unauthenticated",
    )
    .await;
}

pub async fn register_and_login(s: Server) {
    let user = expect_json(
        s.req(Method::POST, "/auth/register")
            .json(&json!({"email": "  Ann@Example.COM ", "password": PASSWORD, "name": "Ann"})),
        StatusCode::CREATED,
    )
    .await;
    let keys: Vec<&str> = user
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys.iter()
            .copied()
            .collect::<std::collections::BTreeSet<_>>(),
        [
            "created_at",
            "disabled",
            "email",
            "id",
            "name",
            "role",
            "updated_at"
        ]
        .into()
    );
    assert_eq!(user["email"], "ann@example.com");
    assert_eq!(user["role"], "user");
    assert_eq!(user["disabled"], false);
    assert!(is_timestamp(&user["created_at"]), "{user}");

    // Duplicate email, whatever its case: 409.
    expect_problem(
        s.req(Method::POST, "/auth/register")
            .json(&json!({"email": "ANN@example.com", "password": PASSWORD, "name": "Other"})),
        409,
        "conflict",
    )
    .await;

    let pair = expect_json(
        s.req(Method::POST, "/auth/login")
            .json(&json!({"email": "ann@example.com", "password": PASSWORD})),
        StatusCode::OK,
    )
    .await;
    assert_eq!(pair["token_type"], "Bearer");
    assert_eq!(pair["expires_in"], 900);
    assert_eq!(pair["user"]["id"], user["id"]);
    let me = expect_status(
        s.as_user(
            Method::GET,
            "/auth/me",
            pair["access_token"].as_str().unwrap(),
        ),
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        me.json::<Value>().await.unwrap()["email"],
        "ann@example.com"
    );

    // Wrong password and unknown email: the same 401 body (bar the request id).
    let wrong = s
        .req(Method::POST, "/auth/login")
        .json(&json!({"email": "ann@example.com", "password": "wrong password"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        wrong.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .split(' ')
            .next(),
        Some("Bearer")
    );
    let mut a = problem(wrong, 401, "unauthenticated").await;
    let unknown = s
        .req(Method::POST, "/auth/login")
        .json(&json!({"email": "nobody@example.com", "password": "wrong password"}))
        .send()
        .await
        .unwrap();
    let mut b = problem(unknown, 401, "unauthenticated").await;
    a["request_id"] = Value::Null;
    b["request_id"] = Value::Null;
    assert_eq!(a, b);
}

pub async fn refresh_rotation_and_reuse(s: Server) {
    let ann = s.user("ann").await;
    let next = expect_json(
        s.req(Method::POST, "/auth/refresh")
            .json(&json!({"refresh_token": ann.refresh})),
        StatusCode::OK,
    )
    .await;
    let next_refresh = next["refresh_token"].as_str().unwrap();
    let next_access = next["access_token"].as_str().unwrap();
    assert_ne!(next_refresh, ann.refresh);
    expect_status(
        s.as_user(Method::GET, "/auth/me", next_access),
        StatusCode::OK,
    )
    .await;

    // The spent token again: 401, and every token descended from it stops working.
    expect_problem(
        s.req(Method::POST, "/auth/refresh")
            .json(&json!({"refresh_token": ann.refresh})),
        401,
        "unauthenticated",
    )
    .await;
    expect_problem(
        s.req(Method::POST, "/auth/refresh")
            .json(&json!({"refresh_token": next_refresh})),
        401,
        "unauthenticated",
    )
    .await;
    expect_problem(
        s.as_user(Method::GET, "/auth/me", next_access),
        401,
        "unauthenticated",
    )
    .await;

    // Garbage refresh tokens are 401 too, never 500.
    for token in ["", "x", "a.b", &"z".repeat(5000)] {
        expect_problem(
            s.req(Method::POST, "/auth/refresh")
                .json(&json!({"refresh_token": token})),
            401,
            "unauthenticated",
        )
        .await;
    }
}

pub async fn logout_and_logout_all(s: Server) {
    let one = s.user("ann").await;
    let two = s.login("ann").await;
    let three = s.login("ann").await;

    expect_status(
        s.as_user(Method::POST, "/auth/logout", &one.access)
            .json(&json!({"refresh_token": one.refresh})),
        StatusCode::NO_CONTENT,
    )
    .await;
    assert_signed_out(&s, &one).await;
    // Other sessions are untouched by a logout.
    expect_status(
        s.as_user(Method::GET, "/auth/me", &two.access),
        StatusCode::OK,
    )
    .await;

    expect_status(
        s.as_user(Method::POST, "/auth/logout-all", &two.access),
        StatusCode::NO_CONTENT,
    )
    .await;
    for acc in [&two, &three] {
        assert_signed_out(&s, acc).await;
    }
    // Logging in again works.
    s.login("ann").await;
}

pub async fn password_change(s: Server) {
    let here = s.user("ann").await;
    let elsewhere = s.login("ann").await;
    expect_problem(
        s.as_user(Method::POST, "/auth/password", &here.access)
            .json(
                &json!({"current_password": "not the password", "new_password": "a new password"}),
            ),
        401,
        "unauthenticated",
    )
    .await;
    let body = expect_problem(
        s.as_user(Method::POST, "/auth/password", &here.access)
            .json(&json!({"current_password": PASSWORD, "new_password": "short"})),
        422,
        "validation_failed",
    )
    .await;
    assert!(body["errors"]["new_password"].is_array());

    expect_status(
        s.as_user(Method::POST, "/auth/password", &here.access)
            .json(&json!({"current_password": PASSWORD, "new_password": "a new password"})),
        StatusCode::NO_CONTENT,
    )
    .await;
    // This session goes on; every other one ends.
    expect_status(
        s.as_user(Method::GET, "/auth/me", &here.access),
        StatusCode::OK,
    )
    .await;
    expect_problem(
        s.as_user(Method::GET, "/auth/me", &elsewhere.access),
        401,
        "unauthenticated",
    )
    .await;
    expect_problem(
        s.req(Method::POST, "/auth/login")
            .json(&json!({"email": "ann@example.com", "password": PASSWORD})),
        401,
        "unauthenticated",
    )
    .await;
    expect_status(
        s.req(Method::POST, "/auth/login")
            .json(&json!({"email": "ann@example.com", "password": "a new password"})),
        StatusCode::OK,
    )
    .await;
}

pub async fn disabled_user(s: Server) {
    let admin = s.admin("root").await;
    let ann = s.user("ann").await;
    let off = expect_status(
        s.as_user(Method::PATCH, &format!("/users/{}", ann.id), &admin.access)
            .json(&json!({"disabled": true})),
        StatusCode::OK,
    )
    .await;
    assert_eq!(off.json::<Value>().await.unwrap()["disabled"], true);
    // Every token of the account stops working at once, and it cannot log in.
    expect_problem(
        s.as_user(Method::GET, "/tasks", &ann.access),
        401,
        "unauthenticated",
    )
    .await;
    expect_problem(
        s.req(Method::POST, "/auth/refresh")
            .json(&json!({"refresh_token": ann.refresh})),
        401,
        "unauthenticated",
    )
    .await;
    expect_problem(
        s.req(Method::POST, "/auth/login")
            .json(&json!({"email": "ann@example.com", "password": PASSWORD})),
        401,
        "unauthenticated",
    )
    .await;

    expect_status(
        s.as_user(Method::PATCH, &format!("/users/{}", ann.id), &admin.access)
            .json(&json!({"disabled": false})),
        StatusCode::OK,
    )
    .await;
    s.login("ann").await;
}

pub async fn login_throttle(s: Server) {
    s.user("ann").await;
    for _ in 0..5 {
        expect_problem(
            s.req(Method::POST, "/auth/login")
                .json(&json!({"email": "ann@example.com", "password": "wrong password"})),
            401,
            "unauthenticated",
        )
        .await;
    }
    // Even the right password waits for the window now.
    let r = s
        .req(Method::POST, "/auth/login")
        .json(&json!({"email": "ann@example.com", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    let retry: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=900).contains(&retry), "Retry-After {retry}");
    problem(r, 429, "rate_limited").await;
}

/// Behind a trusted proxy, the login throttle counts each forwarded client apart: five
/// failures from one `X-Forwarded-For` address make that address wait (`429`, `Retry-After`),
/// while the right password from another forwarded address logs in. From a peer that is not
/// a trusted proxy the header is ignored, so varying it does not buy more guesses.
pub async fn login_throttle_counts_each_forwarded_client_apart(s: Server) {
    let proxied = Server::start(
        s.tf.clone(),
        HttpConfig {
            trusted_proxies: vec!["127.0.0.1".into()],
            ..HttpConfig::without_rate_limits()
        },
        None,
    )
    .await;
    proxied.user("ann").await;
    let login = |server: &Server, forwarded_for: &str, password: &str| {
        server
            .req(Method::POST, "/auth/login")
            .header("x-forwarded-for", forwarded_for)
            .json(&json!({"email": "ann@example.com", "password": password}))
    };
    for _ in 0..5 {
        expect_problem(
            login(&proxied, "198.51.100.1", "wrong password"),
            401,
            "unauthenticated",
        )
        .await;
    }
    let r = login(&proxied, "198.51.100.1", PASSWORD)
        .send()
        .await
        .unwrap();
    let retry: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((840..=900).contains(&retry), "Retry-After {retry}");
    problem(r, 429, "rate_limited").await;
    // Another client behind the same proxy is not affected.
    expect_status(login(&proxied, "198.51.100.2", PASSWORD), StatusCode::OK).await;
    // The right-most untrusted hop is the client: a spoofed left-most entry does not move it.
    expect_problem(
        login(&proxied, "203.0.113.9, 198.51.100.1", PASSWORD),
        429,
        "rate_limited",
    )
    .await;

    // `s` trusts no proxy: every attempt is 127.0.0.1's, whatever the header says.
    s.user("bob").await;
    for i in 0..5 {
        expect_problem(
            s.req(Method::POST, "/auth/login")
                .header("x-forwarded-for", format!("192.0.2.{i}"))
                .json(&json!({"email": "bob@example.com", "password": "wrong password"})),
            401,
            "unauthenticated",
        )
        .await;
    }
    expect_problem(
        s.req(Method::POST, "/auth/login")
            .header("x-forwarded-for", "192.0.2.200")
            .json(&json!({"email": "bob@example.com", "password": PASSWORD})),
        429,
        "rate_limited",
    )
    .await;
}

pub async fn profile_update(s: Server) {
    let ann = s.user("ann").await;
    let r = expect_status(
        s.as_user(Method::PATCH, "/auth/me", &ann.access)
            .json(&json!({"name": "Ann B."})),
        StatusCode::OK,
    )
    .await;
    assert_eq!(r.json::<Value>().await.unwrap()["name"], "Ann B.");
    // No mass assignment through the profile.
    let body = expect_problem(
        s.as_user(Method::PATCH, "/auth/me", &ann.access)
            .json(&json!({"name": "x", "role": "admin", "email": "root@example.com"})),
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(body["errors"]["role"][0], "unknown field");
    assert_eq!(body["errors"]["email"][0], "unknown field");
    let me: Value = s
        .as_user(Method::GET, "/auth/me", &ann.access)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["role"], "user");
    assert_eq!(me["name"], "Ann B.");
    expect_problem(
        s.as_user(Method::PATCH, "/auth/me", &ann.access)
            .json(&json!({"name": 42})),
        400,
        "malformed_request",
    )
    .await;
}
