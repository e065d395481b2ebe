//! `/users`: admin only; roles, disabling, the last-admin guard.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{Server, problem};
use taskflow_test_support::http::{expect_problem, expect_status};

pub async fn admin_manages_users(s: Server) {
    let admin = s.admin("root").await;
    let ann = s.user("ann").await;
    s.user("bob").await;

    // Non-admins: 403 on every /users route.
    for (method, path) in [
        (Method::GET, "/users".to_owned()),
        (Method::GET, format!("/users/{}", admin.id)),
        (Method::PATCH, format!("/users/{}", ann.id)),
    ] {
        let mut r = s.as_user(method.clone(), &path, &ann.access);
        if method == Method::PATCH {
            r = r.json(&json!({"role": "admin"}));
        }
        problem(r.send().await.unwrap(), 403, "forbidden").await;
    }

    let page: Value = s
        .as_user(Method::GET, "/users?limit=2", &admin.access)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(page["items"].as_array().unwrap().len(), 2);
    assert_eq!(page["page"]["total"], 3);
    assert_eq!(page["page"]["page"], 1);
    let admins: Value = s
        .as_user(Method::GET, "/users?role=admin", &admin.access)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(admins["items"].as_array().unwrap().len(), 1);
    let found: Value = s
        .as_user(Method::GET, "/users?q=BOB", &admin.access)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(found["items"][0]["email"], "bob@example.com");
    for bad in ["limit=0", "page=-1", "limit=x"] {
        expect_problem(
            s.as_user(Method::GET, &format!("/users?{bad}"), &admin.access),
            400,
            "malformed_request",
        )
        .await;
    }

    let one = expect_status(
        s.as_user(Method::GET, &format!("/users/{}", ann.id), &admin.access),
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        one.json::<Value>().await.unwrap()["email"],
        "ann@example.com"
    );
    for missing in ["nope", "01a208d7-bcb3-7009-a20d-f188d76b5c09"] {
        expect_problem(
            s.as_user(Method::GET, &format!("/users/{missing}"), &admin.access),
            404,
            "not_found",
        )
        .await;
    }

    // Promote ann; the role takes effect on her existing token at once.
    expect_status(
        s.as_user(Method::PATCH, &format!("/users/{}", ann.id), &admin.access)
            .json(&json!({"role": "admin"})),
        StatusCode::OK,
    )
    .await;
    expect_status(
        s.as_user(Method::GET, "/users", &ann.access),
        StatusCode::OK,
    )
    .await;

    let body = expect_problem(
        s.as_user(Method::PATCH, &format!("/users/{}", ann.id), &admin.access)
            .json(&json!({"role": "overlord"})),
        422,
        "validation_failed",
    )
    .await;
    assert!(body["errors"]["role"].is_array());
    expect_problem(
        s.as_user(Method::PATCH, &format!("/users/{}", ann.id), &admin.access)
            .json(&json!({"email": "x@example.com"})),
        422,
        "validation_failed",
    )
    .await;

    // Demote ann again, then the last admin cannot be demoted or disabled.
    expect_status(
        s.as_user(Method::PATCH, &format!("/users/{}", ann.id), &admin.access)
            .json(&json!({"role": "user"})),
        StatusCode::OK,
    )
    .await;
    for change in [json!({"role": "user"}), json!({"disabled": true})] {
        expect_problem(
            s.as_user(
                Method::PATCH,
                &format!("/users/{}", admin.id),
                &admin.access,
            )
            .json(&change),
            409,
            "conflict",
        )
        .await;
    }
}
