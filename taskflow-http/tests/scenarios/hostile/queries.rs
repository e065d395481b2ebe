//! SQL and MongoDB injection in every query parameter: each is a `400` naming the
//! parameter, or taken literally (a tag filter `_` matches only the tag `_`).

use std::collections::BTreeMap;

use base64::Engine;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::assert_intact;
use crate::support::{Account, Server, problem};
use taskflow_test_support::http::expect_problem;

/// What a listing query must get.
enum Expect {
    /// `400 malformed_request` whose `errors` name this parameter.
    Bad(&'static str),
    /// `200` with exactly these titles (in the default order, newest first).
    Titles(&'static [&'static str]),
    /// `403 forbidden`.
    Forbidden,
}

use Expect::{Bad, Forbidden, Titles};

const ALL: &[&str] = &[
    "urgent",
    "done",
    "percent 100%",
    "a_b",
    "dash",
    "underscore",
];

async fn check(s: &Server, who: &Account, path: &str, query: &[(&str, &str)], expect: &Expect) {
    let r = s
        .as_user(Method::GET, path, &who.access)
        .query(query)
        .send()
        .await
        .unwrap();
    let what = format!("{path} {query:?}");
    match expect {
        Bad(param) => {
            let body = problem(r, 400, "malformed_request").await;
            let errors = body["errors"]
                .as_object()
                .expect("errors name the parameter");
            assert!(errors.contains_key(*param), "{what}: {body}");
        }
        Titles(titles) => {
            assert_eq!(r.status(), StatusCode::OK, "{what}");
            let page: Value = r.json().await.unwrap();
            let got: Vec<&str> = page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t["title"].as_str().unwrap())
                .collect();
            assert_eq!(got, *titles, "{what}");
        }
        Forbidden => {
            problem(r, 403, "forbidden").await;
        }
    }
}

pub async fn hostile_query_params(s: Server) {
    let admin = s.admin("root").await;
    let ann = s.user("ann").await;
    let bob = s.user("bob").await;
    let mut anns = BTreeMap::new();
    for body in [
        json!({"title": "underscore", "tags": ["_"]}),
        json!({"title": "dash", "tags": ["-"]}),
        json!({"title": "a_b", "tags": ["a_b"]}),
        json!({"title": "percent 100%"}),
        json!({"title": "done", "status": "done"}),
        json!({"title": "urgent", "priority": "urgent"}),
    ] {
        let t = s.task(&ann, body).await;
        anns.insert(t["id"].as_str().unwrap().to_owned(), t);
    }
    let bobs_task = s.task(&bob, json!({"title": "bob's"})).await;
    let bobs = BTreeMap::from([(bobs_task["id"].as_str().unwrap().to_owned(), bobs_task)]);
    let b64 = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
    let forged = b64(r#"{"p":{"$gt":""},"i":"' OR 1=1 --"}"#);
    let forged_sql = b64(
        r#"{"p":"1970-01-01T00:00:00Z') OR 1=1 --","i":"00000000-0000-0000-0000-000000000000"}"#,
    );

    let cases: Vec<(Vec<(&str, &str)>, Expect)> = vec![
        // status and priority are enumerations.
        (vec![("status", "'; DROP TABLE tasks; --")], Bad("status")),
        (vec![("status", r#"{"$ne": null}"#)], Bad("status")),
        (vec![("status", "todo,$where")], Bad("status")),
        (vec![("status", "%")], Bad("status")),
        (vec![("status", "todo' OR '1'='1")], Bad("status")),
        (vec![("priority", r#"{"$gt": ""}"#)], Bad("priority")),
        (vec![("priority", "_")], Bad("priority")),
        // A tag is matched exactly: `_` and `-` are tags, not wildcards.
        (vec![("tag", "_")], Titles(&["underscore"])),
        (vec![("tag", "-")], Titles(&["dash"])),
        (vec![("tag", "a_b")], Titles(&["a_b"])),
        (vec![("tag", "A_B")], Titles(&["a_b"])),
        (vec![("tag", "%")], Bad("tag")),
        (vec![("tag", ".*")], Bad("tag")),
        (vec![("tag", "a%")], Bad("tag")),
        (vec![("tag", "\\")], Bad("tag")),
        (vec![("tag", r#"{"$ne": null}"#)], Bad("tag")),
        (vec![("tag", "' OR 1=1 --")], Bad("tag")),
        // Search words are letters and digits; the rest only separates them, and a search
        // with no word matches nothing (not an error: people type such things).
        (vec![("q", "%")], Titles(&[])),
        (vec![("q", "_")], Titles(&[])),
        (vec![("q", "\\")], Titles(&[])),
        (vec![("q", ".*")], Titles(&[])),
        (vec![("q", "$")], Titles(&[])),
        (vec![("q", r#"%'_""#)], Titles(&[])),
        (vec![("q", "100%")], Titles(&["percent 100%"])),
        (vec![("q", "a_b")], Titles(&["a_b"])),
        (vec![("q", "$where")], Titles(&[])),
        (vec![("q", "' OR 1=1 --")], Titles(&[])),
        (vec![("q", r#"{"$ne": null}"#)], Titles(&[])),
        (vec![("q", "'; DROP TABLE tasks; --")], Titles(&[])),
        // Sort keys come from a fixed list.
        (vec![("sort", "created_at; DROP TABLE tasks")], Bad("sort")),
        (vec![("sort", "$natural")], Bad("sort")),
        (vec![("sort", r#"{"$where": "1"}"#)], Bad("sort")),
        (vec![("sort", "--created_at")], Bad("sort")),
        (vec![("sort", "title")], Bad("sort")),
        (vec![("sort", "-priority,id")], Bad("sort")),
        (vec![("sort", "created_at desc")], Bad("sort")),
        // Cursors are opaque and checked.
        (vec![("cursor", "'; DROP TABLE tasks; --")], Bad("cursor")),
        (vec![("cursor", r#"{"$gt": ""}"#)], Bad("cursor")),
        (vec![("cursor", &forged)], Bad("cursor")),
        (vec![("cursor", &forged_sql)], Bad("cursor")),
        (vec![("cursor", "\u{0}")], Bad("cursor")),
        // Owner ids are UUIDs, and only admins may give one.
        (vec![("owner_id", r#"{"$ne": null}"#)], Bad("owner_id")),
        (vec![("owner_id", "' OR '1'='1")], Bad("owner_id")),
        (vec![("owner_id", "%")], Bad("owner_id")),
        (vec![("owner_id", &bob.id)], Forbidden),
        // Dates and numbers.
        (vec![("due_before", "' OR 1=1 --")], Bad("due_before")),
        (vec![("due_after", r#"{"$lt": ""}"#)], Bad("due_after")),
        (vec![("limit", "0")], Bad("limit")),
        (vec![("limit", "101")], Bad("limit")),
        (vec![("page", "0")], Bad("page")),
        // A repeated parameter: the first one counts.
        (vec![("tag", "_"), ("tag", "-")], Titles(&["underscore"])),
        (
            vec![("tag", "-"), ("tag", r#"{"$ne": null}"#)],
            Titles(&["dash"]),
        ),
        // MongoDB-style operator keys are just unknown parameters.
        (vec![("status[$ne]", "null")], Titles(ALL)),
        (vec![("q[$regex]", ".*")], Titles(ALL)),
        (vec![("$where", "1")], Titles(ALL)),
    ];
    for (query, expect) in &cases {
        check(&s, &ann, "/tasks", query, expect).await;
    }
    // Parameters the HTTP layer parses as integers or booleans: a 400 naming them too.
    for (param, value) in [
        ("limit", "1; DROP TABLE tasks"),
        ("limit", "1e3"),
        ("limit", "99999999999999999999"),
        ("limit", r#"{"$gt": 0}"#),
        ("page", "1 OR 1=1"),
        ("overdue", r#"{"$ne": null}"#),
    ] {
        check(&s, &ann, "/tasks", &[(param, value)], &Bad(param)).await;
    }

    // The admin's views: an owner filter, stats and the user listing.
    for (path, query, expect) in [
        (
            "/tasks",
            vec![("owner_id", r#"{"$ne": null}"#)],
            Bad("owner_id"),
        ),
        (
            "/tasks",
            vec![("owner_id", bob.id.as_str())],
            Titles(&["bob's"]),
        ),
        (
            "/tasks/stats",
            vec![("owner_id", "' OR 1=1 --")],
            Bad("owner_id"),
        ),
        ("/users", vec![("role", r#"{"$ne": null}"#)], Bad("role")),
        ("/users", vec![("role", "admin' --")], Bad("role")),
    ] {
        check(&s, &admin, path, &query, &expect).await;
    }
    expect_problem(
        s.as_user(Method::GET, "/tasks/stats", &ann.access)
            .query(&[("owner_id", r#"{"$ne": null}"#)]),
        400,
        "malformed_request",
    )
    .await;
    for q in ["%", "_", "' OR 1=1 --", r#"{"$ne": null}"#, ".*", "\\"] {
        let r = s
            .as_user(Method::GET, "/users", &admin.access)
            .query(&[("q", q)])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "user search {q:?}");
        let page: Value = r.json().await.unwrap();
        assert_eq!(
            page["items"],
            json!([]),
            "user search {q:?} matches literally"
        );
    }

    assert_intact(&s, &ann, &anns).await;
    assert_intact(&s, &bob, &bobs).await;
}
