//! Tasks over HTTP: ETags and conditional requests, validation, ownership, mass
//! assignment, listing and pagination, bulk status, stats.

use std::collections::HashSet;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{Account, Server, problem};
use taskflow_test_support::http::{expect_json, expect_problem, expect_status};

async fn get(s: &Server, who: &Account, id: &str) -> reqwest::Response {
    s.as_user(Method::GET, &format!("/tasks/{id}"), &who.access)
        .send()
        .await
        .unwrap()
}

async fn list(s: &Server, who: &Account, query: &str) -> Value {
    let r = s
        .as_user(Method::GET, &format!("/tasks?{query}"), &who.access)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK, "list {query}");
    r.json().await.unwrap()
}

fn ids(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap().to_owned())
        .collect()
}

pub async fn create_get_and_etags(s: Server) {
    let ann = s.user("ann").await;
    let r = expect_status(s
        .as_user(Method::POST, "/tasks", &ann.access)
        .json(&json!({"title": "  Write report ", "tags": ["Work", "q3", "work"], "due_date": "2030-01-02T03:04:05.678+02:00"})), StatusCode::CREATED).await;
    let location = r.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(r.headers()["etag"], "\"1\"");
    let task: Value = r.json().await.unwrap();
    assert_eq!(
        location,
        format!("/api/v1/tasks/{}", task["id"].as_str().unwrap())
    );
    assert_eq!(task["title"], "Write report");
    assert_eq!(task["status"], "todo");
    assert_eq!(task["priority"], "medium");
    assert_eq!(task["tags"], json!(["work", "q3"]));
    assert_eq!(task["description"], Value::Null);
    assert_eq!(task["completed_at"], Value::Null);
    assert_eq!(task["due_date"], "2030-01-02T01:04:05.678Z");
    assert_eq!(task["owner_id"], ann.id.as_str());
    assert_eq!(task["version"], 1);

    let id = task["id"].as_str().unwrap();
    let r = get(&s, &ann, id).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["etag"], "\"1\"");
    assert_eq!(r.json::<Value>().await.unwrap(), task);

    let r = expect_status(
        s.as_user(Method::GET, &format!("/tasks/{id}"), &ann.access)
            .header("If-None-Match", "\"1\""),
        StatusCode::NOT_MODIFIED,
    )
    .await;
    assert_eq!(r.headers()["etag"], "\"1\"");
    expect_status(
        s.as_user(Method::GET, &format!("/tasks/{id}"), &ann.access)
            .header("If-None-Match", "\"7\", W/\"8\""),
        StatusCode::OK,
    )
    .await;
}

pub async fn patch_and_delete_with_if_match(s: Server) {
    let ann = s.user("ann").await;
    let task = s
        .task(
            &ann,
            json!({"title": "t", "description": "words", "due_date": "2030-01-01T00:00:00Z"}),
        )
        .await;
    let path = format!("/tasks/{}", task["id"].as_str().unwrap());

    let r = expect_status(
        s.as_user(Method::PATCH, &path, &ann.access)
            .header("If-Match", "\"1\"")
            .json(&json!({"status": "done", "description": null})),
        StatusCode::OK,
    )
    .await;
    assert_eq!(r.headers()["etag"], "\"2\"");
    let done: Value = r.json().await.unwrap();
    assert_eq!(done["version"], 2);
    assert_eq!(done["description"], Value::Null);
    assert_eq!(
        done["due_date"], "2030-01-01T00:00:00.000Z",
        "absent fields stay"
    );
    assert!(done["completed_at"].is_string());

    // A stale If-Match: 412 and nothing changes.
    let r = s
        .as_user(Method::PATCH, &path, &ann.access)
        .header("If-Match", "\"1\"")
        .json(&json!({"title": "lost update"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["etag"], "\"2\"");
    problem(r, 412, "version_mismatch").await;
    // Unusable tags match nothing, and neither does one that is not text at all (it must
    // not read as an absent header, which would make the change unconditional).
    let bad: [&[u8]; 4] = [b"W/\"2\"", b"2", b"\"abc\"", b"\"2\xff\""];
    for (bad, method) in bad
        .iter()
        .flat_map(|b| [(b, Method::PATCH), (b, Method::DELETE)])
    {
        let r = s
            .as_user(method, &path, &ann.access)
            .header(
                "If-Match",
                reqwest::header::HeaderValue::from_bytes(bad).unwrap(),
            )
            .json(&json!({"title": "x"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.headers()["etag"], "\"2\"");
        problem(r, 412, "version_mismatch").await;
    }
    // A tag this server never issued is judged after the body and the task, like a stale
    // version: an invalid body is 422, an unknown task 404.
    expect_problem(
        s.as_user(Method::PATCH, &path, &ann.access)
            .header("If-Match", "W/\"2\"")
            .json(&json!({"tags": [""]})),
        422,
        "validation_failed",
    )
    .await;
    expect_problem(
        s.as_user(
            Method::DELETE,
            "/tasks/01a208d7-bcb3-7009-a20d-f188d76b5c09",
            &ann.access,
        )
        .header("If-Match", "garbage"),
        404,
        "not_found",
    )
    .await;

    // Leaving done clears completed_at; null clears the due date.
    let open = expect_json(
        s.as_user(Method::PATCH, &path, &ann.access)
            .header("If-Match", "\"2\", \"9\"")
            .json(&json!({"status": "in_progress", "due_date": null})),
        StatusCode::OK,
    )
    .await;
    assert_eq!(open["completed_at"], Value::Null);
    assert_eq!(open["due_date"], Value::Null);
    assert_eq!(open["title"], "t");
    assert_eq!(open["version"], 3);

    expect_problem(
        s.as_user(Method::DELETE, &path, &ann.access)
            .header("If-Match", "\"2\""),
        412,
        "version_mismatch",
    )
    .await;
    expect_status(
        s.as_user(Method::DELETE, &path, &ann.access)
            .header("If-Match", "\"3\""),
        StatusCode::NO_CONTENT,
    )
    .await;
    problem(
        get(&s, &ann, task["id"].as_str().unwrap()).await,
        404,
        "not_found",
    )
    .await;
    expect_problem(
        s.as_user(Method::DELETE, &path, &ann.access),
        404,
        "not_found",
    )
    .await;
}

pub async fn validation_and_malformed_input(s: Server) {
    let ann = s.user("ann").await;
    let body = expect_problem(s
        .as_user(Method::POST, "/tasks", &ann.access)
        .json(&json!({"title": "   ", "priority": "extreme", "tags": ["ok", "Not Valid!"], "description": "x".repeat(10_001)})), 422, "validation_failed").await;
    let errors = body["errors"].as_object().unwrap();
    for field in ["title", "priority", "tags[1]", "description"] {
        assert!(errors.contains_key(field), "{field} in {body}");
    }
    assert_eq!(body["detail"], "4 fields are invalid");

    // Missing required field: 422; wrong JSON types: 400; not JSON: 400.
    let body = expect_problem(
        s.as_user(Method::POST, "/tasks", &ann.access)
            .json(&json!({"description": "no title"})),
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(body["errors"]["title"][0], "is required");
    for wrong in [
        json!({"title": 5}),
        json!({"title": "t", "tags": "a,b"}),
        json!({"title": "t", "tags": [1, 2]}),
        json!({"title": null}),
        json!({"title": "t", "due_date": "tomorrow"}),
        json!(["title"]),
    ] {
        expect_problem(
            s.as_user(Method::POST, "/tasks", &ann.access).json(&wrong),
            400,
            "malformed_request",
        )
        .await;
    }
    expect_problem(
        s.as_user(Method::POST, "/tasks", &ann.access)
            .header("content-type", "application/json")
            .body("{\"title\": "),
        400,
        "malformed_request",
    )
    .await;
    expect_problem(
        s.as_user(Method::POST, "/tasks", &ann.access)
            .header("content-type", "application/json")
            .body(vec![b'"', 0xff, 0xfe, b'"']),
        400,
        "malformed_request",
    )
    .await;
}

pub async fn mass_assignment_is_refused(s: Server) {
    let ann = s.user("ann").await;
    let bob = s.user("bob").await;
    let body = expect_problem(s
        .as_user(Method::POST, "/tasks", &ann.access)
        .json(&json!({"title": "mine", "owner_id": bob.id, "version": 7, "id": "01a208d7-bcb3-7009-a20d-f188d76b5c09", "created_at": "2020-01-01T00:00:00Z", "completed_at": "2020-01-01T00:00:00Z"})), 422, "validation_failed").await;
    for field in ["owner_id", "version", "id", "created_at", "completed_at"] {
        assert_eq!(body["errors"][field][0], "unknown field", "{field}");
    }
    let task = s.task(&ann, json!({"title": "mine"})).await;
    let path = format!("/tasks/{}", task["id"].as_str().unwrap());
    expect_problem(s
        .as_user(Method::PATCH, &path, &ann.access)
        .json(&json!({"title": "x", "owner_id": bob.id, "version": 99, "updated_at": "2020-01-01T00:00:00Z"})), 422, "validation_failed").await;
    let after: Value = get(&s, &ann, task["id"].as_str().unwrap())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(after, task, "nothing changed");
    expect_problem(s
        .req(Method::POST, "/auth/register")
        .json(&json!({"email": "eve@example.com", "password": "long enough", "name": "Eve", "role": "admin", "disabled": false})), 422, "validation_failed").await;
}

pub async fn ownership(s: Server) {
    let ann = s.user("ann").await;
    let bob = s.user("bob").await;
    let admin = s.admin("root").await;
    let task = s.task(&ann, json!({"title": "ann's secret"})).await;
    let id = task["id"].as_str().unwrap();
    let path = format!("/tasks/{id}");

    // Bob can neither see, list, change, delete nor bulk-update it: always 404.
    problem(get(&s, &bob, id).await, 404, "not_found").await;
    assert!(ids(&list(&s, &bob, "").await).is_empty());
    assert!(ids(&list(&s, &bob, "q=secret").await).is_empty());
    expect_problem(
        s.as_user(Method::PATCH, &path, &bob.access)
            .json(&json!({"title": "mine now"})),
        404,
        "not_found",
    )
    .await;
    expect_problem(
        s.as_user(Method::DELETE, &path, &bob.access),
        404,
        "not_found",
    )
    .await;
    let own = s.task(&bob, json!({"title": "bob's"})).await;
    expect_problem(
        s.as_user(Method::POST, "/tasks/bulk-status", &bob.access)
            .json(&json!({"ids": [own["id"], id], "status": "done"})),
        404,
        "not_found",
    )
    .await;
    let bobs: Value = get(&s, &bob, own["id"].as_str().unwrap())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(bobs["status"], "todo", "all or nothing");
    let stats: Value = s
        .as_user(Method::GET, "/tasks/stats", &bob.access)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(stats["total"], 1);
    expect_problem(
        s.as_user(
            Method::GET,
            &format!("/tasks?owner_id={}", ann.id),
            &bob.access,
        ),
        403,
        "forbidden",
    )
    .await;
    expect_problem(
        s.as_user(
            Method::GET,
            &format!("/tasks/stats?owner_id={}", ann.id),
            &bob.access,
        ),
        403,
        "forbidden",
    )
    .await;
    let after: Value = get(&s, &ann, id).await.json().await.unwrap();
    assert_eq!(after, task, "untouched by bob");

    // The admin can.
    assert_eq!(get(&s, &admin, id).await.status(), StatusCode::OK);
    assert_eq!(ids(&list(&s, &admin, "").await).len(), 2);
    assert_eq!(
        ids(&list(&s, &admin, &format!("owner_id={}", ann.id)).await),
        vec![id.to_owned()]
    );
    let stats: Value = s
        .as_user(
            Method::GET,
            &format!("/tasks/stats?owner_id={}", ann.id),
            &admin.access,
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(stats["total"], 1);
    expect_status(
        s.as_user(Method::PATCH, &path, &admin.access)
            .json(&json!({"priority": "urgent"})),
        StatusCode::OK,
    )
    .await;
    let r = expect_status(
        s.as_user(Method::POST, "/tasks/bulk-status", &admin.access)
            .json(&json!({"ids": [own["id"], id], "status": "done"})),
        StatusCode::OK,
    )
    .await;
    assert_eq!(r.json::<Value>().await.unwrap()["updated"], 2);
    expect_status(
        s.as_user(Method::DELETE, &path, &admin.access),
        StatusCode::NO_CONTENT,
    )
    .await;
}

pub async fn listing_filters_and_sorts(s: Server) {
    let ann = s.user("ann").await;
    let a = s
        .task(&ann, json!({"title": "alpha report", "priority": "high", "tags": ["work"], "due_date": "2020-01-01T00:00:00Z"}))
        .await;
    let b = s
        .task(&ann, json!({"title": "beta", "description": "Reporting numbers", "priority": "urgent", "status": "in_progress", "due_date": "2031-01-01T00:00:00Z"}))
        .await;
    let c = s
        .task(
            &ann,
            json!({"title": "gamma", "priority": "low", "status": "done"}),
        )
        .await;
    let id = |t: &Value| t["id"].as_str().unwrap().to_owned();

    assert_eq!(
        ids(&list(&s, &ann, "").await),
        vec![id(&c), id(&b), id(&a)],
        "default -created_at"
    );
    assert_eq!(
        ids(&list(&s, &ann, "sort=created_at").await),
        vec![id(&a), id(&b), id(&c)]
    );
    assert_eq!(
        ids(&list(&s, &ann, "status=todo,in_progress&sort=created_at").await),
        vec![id(&a), id(&b)]
    );
    assert_eq!(
        ids(&list(&s, &ann, "priority=high,urgent&sort=-priority").await),
        vec![id(&b), id(&a)]
    );
    assert_eq!(ids(&list(&s, &ann, "tag=work").await), vec![id(&a)]);
    assert_eq!(
        ids(&list(&s, &ann, "q=REPORT&sort=created_at").await),
        vec![id(&a), id(&b)]
    );
    assert_eq!(ids(&list(&s, &ann, "q=rep%20num").await), vec![id(&b)]);
    assert_eq!(ids(&list(&s, &ann, "overdue=true").await), vec![id(&a)]);
    assert_eq!(
        ids(&list(&s, &ann, "due_before=2025-01-01T00:00:00Z").await),
        vec![id(&a)]
    );
    assert_eq!(
        ids(&list(&s, &ann, "due_after=2025-01-01T00:00:00Z").await),
        vec![id(&b)]
    );
    // Tasks without a due date sort last in both directions.
    assert_eq!(
        ids(&list(&s, &ann, "sort=due_date").await),
        vec![id(&a), id(&b), id(&c)]
    );
    assert_eq!(
        ids(&list(&s, &ann, "sort=-due_date").await),
        vec![id(&b), id(&a), id(&c)]
    );

    let page = list(&s, &ann, "limit=2").await;
    assert_eq!(page["page"]["limit"], 2);
    assert_eq!(page["page"]["page"], 1);
    assert_eq!(page["page"]["total"], 3);
    assert!(page["page"]["next_cursor"].is_string());
    let page2 = list(&s, &ann, "limit=2&page=2").await;
    assert_eq!(ids(&page2), vec![id(&a)]);
    assert_eq!(page2["page"]["next_cursor"], Value::Null);

    // Bad query parameters: 400 with every bad one listed.
    for bad in [
        "limit=0",
        "limit=101",
        "limit=abc",
        "page=0",
        "sort=title",
        "status=todo,finished",
        "priority=meh",
        "overdue=maybe",
        "due_before=yesterday",
        "owner_id=not-a-uuid",
        "page=2&cursor=abc",
        "cursor=garbage",
    ] {
        expect_problem(
            s.as_user(Method::GET, &format!("/tasks?{bad}"), &ann.access),
            400,
            "malformed_request",
        )
        .await;
    }
}

pub async fn cursor_pages_neither_skip_nor_repeat(s: Server) {
    let ann = s.user("ann").await;
    let mut created = Vec::new();
    for i in 0..12 {
        created.push(s.task(&ann, json!({"title": format!("task {i}")})).await);
    }
    let mut seen = Vec::new();
    let mut page = list(&s, &ann, "limit=5").await;
    assert_eq!(page["page"]["page"], 1);
    let mut cursor = page["page"]["next_cursor"].as_str().map(str::to_owned);
    seen.extend(ids(&page));
    let mut round = 0;
    while let Some(c) = cursor {
        // Changes between requests must not shift the pages.
        if round == 0 {
            s.task(&ann, json!({"title": "newer than the first page"}))
                .await;
            let victim = created[0]["id"].as_str().unwrap();
            expect_status(
                s.as_user(Method::DELETE, &format!("/tasks/{victim}"), &ann.access),
                StatusCode::NO_CONTENT,
            )
            .await;
        }
        round += 1;
        page = list(&s, &ann, &format!("limit=5&cursor={c}")).await;
        assert_eq!(page["page"]["page"], Value::Null);
        assert_eq!(page["page"]["total"], Value::Null);
        seen.extend(ids(&page));
        cursor = page["page"]["next_cursor"].as_str().map(str::to_owned);
    }
    let unique: HashSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len(), "no task repeated");
    // Every task older than the first page's start, except the deleted one, was seen.
    let expected: HashSet<String> = created[1..]
        .iter()
        .map(|t| t["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(seen.iter().cloned().collect::<HashSet<_>>(), expected);
}

pub async fn bulk_status_and_stats(s: Server) {
    let ann = s.user("ann").await;
    let mut all = Vec::new();
    for i in 0..3 {
        all.push(
            s.task(&ann, json!({"title": format!("t{i}"), "priority": "high"}))
                .await["id"]
                .clone(),
        );
    }
    let r = expect_status(
        s.as_user(Method::POST, "/tasks/bulk-status", &ann.access)
            .json(&json!({"ids": all, "status": "done"})),
        StatusCode::OK,
    )
    .await;
    assert_eq!(r.json::<Value>().await.unwrap(), json!({"updated": 3}));
    let stats: Value = s
        .as_user(Method::GET, "/tasks/stats", &ann.access)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        stats,
        json!({"total": 3, "by_status": {"todo": 0, "in_progress": 0, "done": 3, "cancelled": 0},
               "by_priority": {"low": 0, "medium": 0, "high": 3, "urgent": 0},
               "overdue": 0, "completed_last_7_days": 3})
    );
    expect_problem(
        s.as_user(Method::POST, "/tasks/bulk-status", &ann.access)
            .json(&json!({"ids": all, "status": "finished"})),
        422,
        "validation_failed",
    )
    .await;
    let too_many: Vec<String> = (0..101).map(|_| uuid::Uuid::now_v7().to_string()).collect();
    expect_problem(
        s.as_user(Method::POST, "/tasks/bulk-status", &ann.access)
            .json(&json!({"ids": too_many, "status": "done"})),
        422,
        "validation_failed",
    )
    .await;
    expect_problem(
        s.as_user(Method::POST, "/tasks/bulk-status", &ann.access)
            .json(&json!({"ids": [all[0], "not-an-id"], "status": "todo"})),
        404,
        "not_found",
    )
    .await;
}
