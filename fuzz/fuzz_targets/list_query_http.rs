//! `GET /api/v1/tasks?<query>` through the whole HTTP app (envelope, poem-openapi's
//! parameter parsing, the handler, core, the cached memory store) with a raw query string.
//!
//! Input: `[caller, query...]`; caller 0 is alice (a user), 1 the admin, 2 nobody (no
//! token). `$ALICE_ID`, `$BOB_ID` and `$CURSOR` in the query become live values.
//!
//! Invariants:
//! - without a token: `401 unauthenticated`, whatever the query;
//! - otherwise only `200`, `400 malformed_request` (its `errors`, when present, name only
//!   real parameters, each with messages) or `403 forbidden` (only a user passing
//!   `owner_id`): never `5xx`, never another code;
//! - a user never gets a `200` for a query with `owner_id`;
//! - a `200` page honours the query: `limit` as asked (20 by default, never over 100),
//!   no more items than that, page mode (page as asked, exactly the items the total leaves
//!   for that page) or
//!   cursor mode (neither), items are real tasks of the scope (the user's own; the named
//!   owner's), satisfy the status, priority and tag filters and are in the sort's order.
#![no_main]

use std::collections::HashMap;

use libfuzzer_sys::fuzz_target;
use poem::http::HeaderValue;
use serde_json::Value;
use taskflow_core::{Task, TaskSort, UserId};
use taskflow_fuzz::{expect_problem, get, json_body, substitute, world};

const PARAMS: [&str; 12] = [
    "status",
    "priority",
    "tag",
    "q",
    "due_before",
    "due_after",
    "overdue",
    "owner_id",
    "sort",
    "limit",
    "page",
    "cursor",
];

fn check_page(body: &Value, params: &HashMap<String, String>, owner: Option<String>) {
    let w = world();
    let page = &body["page"];
    let limit = page["limit"].as_u64().expect("page.limit is a number");
    let asked = params
        .get("limit")
        .map(|l| l.parse::<i64>().expect("an unparsable limit was accepted"));
    assert_eq!(limit as i64, asked.unwrap_or(20), "page.limit");
    assert!((1..=100).contains(&limit), "limit {limit}");
    let items = body["items"].as_array().expect("items is an array");
    assert!(
        items.len() as u64 <= limit,
        "{} items over limit {limit}",
        items.len()
    );
    if params.contains_key("cursor") {
        assert!(
            page["page"].is_null() && page["total"].is_null(),
            "cursor mode: {page}"
        );
    } else {
        let number = page["page"].as_u64().expect("page mode has a page number");
        let asked = params
            .get("page")
            .map(|p| p.parse::<i64>().expect("a page number"));
        assert_eq!(number as i64, asked.unwrap_or(1), "page.page");
        let total = page["total"].as_u64().expect("page mode has a total");
        let offset = (number - 1) * limit;
        assert_eq!(
            items.len() as u64,
            limit.min(total.saturating_sub(offset)),
            "page {number} of {total} by {limit}"
        );
    }
    let list = |name: &str| -> Option<Vec<String>> {
        params.get(name).map(|v| {
            v.split(',')
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
                .collect::<Vec<_>>()
        })
    };
    let statuses = list("status").filter(|l| !l.is_empty());
    let priorities = list("priority").filter(|l| !l.is_empty());
    let tag = params.get("tag").map(|t| t.to_lowercase());
    let sort = TaskSort::parse(params.get("sort").map_or("-created_at", String::as_str))
        .expect("an invalid sort was accepted");
    let mut previous: Option<&Task> = None;
    for item in items {
        let id = item["id"].as_str().expect("an id");
        let task = w
            .tasks
            .iter()
            .find(|t| t.id.to_string() == id)
            .unwrap_or_else(|| panic!("item {id} is no task of the world"));
        assert_eq!(item["title"], task.title.as_str());
        assert_eq!(item["owner_id"], task.owner_id.to_string().as_str());
        if let Some(owner) = &owner {
            assert_eq!(
                &task.owner_id.to_string(),
                owner,
                "an item outside the scope"
            );
        }
        if let Some(statuses) = &statuses {
            assert!(
                statuses.iter().any(|s| s == task.status.as_str()),
                "status filter"
            );
        }
        if let Some(priorities) = &priorities {
            assert!(
                priorities.iter().any(|p| p == task.priority.as_str()),
                "priority filter"
            );
        }
        if let Some(tag) = &tag {
            assert!(task.tags.contains(tag), "tag filter");
        }
        if let Some(previous) = previous {
            assert_eq!(
                sort.compare(previous, task),
                std::cmp::Ordering::Less,
                "items out of {sort:?} order"
            );
        }
        previous = Some(task);
    }
}

fuzz_target!(|data: &[u8]| {
    let [caller, rest @ ..] = data else {
        return;
    };
    let Ok(query) = std::str::from_utf8(rest) else {
        return;
    };
    let w = world();
    let query = substitute(query, &w.alice);
    let caller = match caller % 3 {
        0 => Some(&w.alice),
        1 => Some(&w.admin),
        _ => None,
    };
    let authorization = caller.map(|a| {
        HeaderValue::try_from(format!("Bearer {}", a.tokens.access_token)).expect("a token")
    });
    let Some(resp) = get(&format!("/api/v1/tasks?{query}"), authorization.clone()) else {
        return;
    };
    let Some(caller) = caller else {
        expect_problem(resp, 401, "unauthenticated");
        return;
    };
    let is_user = std::ptr::eq(caller, &w.alice);
    // What poem-openapi sees: the first value of each name, form-decoded.
    let uri: poem::http::Uri = format!("/api/v1/tasks?{query}")
        .parse()
        .expect("parsed before");
    let mut params: HashMap<String, String> = HashMap::new();
    for (name, value) in form_urlencoded::parse(uri.query().unwrap_or("").as_bytes()) {
        params
            .entry(name.into_owned())
            .or_insert_with(|| value.into_owned());
    }
    match resp.status().as_u16() {
        200 => {
            assert!(
                !(is_user && params.contains_key("owner_id")),
                "a user listed with owner_id: {query:?}"
            );
            let owner = if is_user {
                Some(w.alice.user.id.to_string())
            } else {
                params.get("owner_id").map(|o| {
                    let id: UserId = o.parse().expect("an accepted owner_id is a user id");
                    id.to_string()
                })
            };
            check_page(&json_body(resp), &params, owner);
        }
        400 => {
            let body = expect_problem(resp, 400, "malformed_request");
            if let Some(errors) = body.get("errors").filter(|e| !e.is_null()) {
                let errors = errors.as_object().expect("errors is an object");
                assert!(!errors.is_empty(), "an empty errors object");
                for (name, messages) in errors {
                    assert!(PARAMS.contains(&name.as_str()), "errors names {name:?}");
                    let messages = messages.as_array().expect("a list of messages");
                    assert!(!messages.is_empty() && messages.iter().all(Value::is_string));
                }
            }
        }
        403 => {
            expect_problem(resp, 403, "forbidden");
            assert!(
                is_user && params.contains_key("owner_id"),
                "403 for {query:?}"
            );
        }
        status => {
            let body = json_body(resp);
            panic!("GET /api/v1/tasks?{query} answered {status}: {body}");
        }
    }
});
