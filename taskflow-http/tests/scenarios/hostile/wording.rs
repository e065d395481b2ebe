//! Values that cannot be read are refused in words that say what to send ("`limit` must be
//! an integer"), never in poem-openapi's type names (`integer_int64`,
//! `optional_string_date-time`). The cases come from the server's own OpenAPI document: every
//! query and path parameter, and every field of every request body, so a parameter or field
//! of a new type fails here until its wording exists.

use reqwest::{Method, StatusCode};
use serde_json::{Map, Value, json};

use crate::support::{Account, PASSWORD, Server, problem};

const DATE_TIME: &str = "must be an RFC 3339 date-time such as 2026-12-01T09:00:00Z";
const UUID: &str = "must be a UUID such as 0193b2c4-5e6f-7a8b-9c0d-1e2f3a4b5c6d";

/// The message a value of this OpenAPI type and format gets when it cannot be read.
fn wording(ty: &str, format: Option<&str>) -> &'static str {
    match (ty, format) {
        ("string", Some("date-time")) => DATE_TIME,
        ("string", Some("uuid")) => UUID,
        ("string", None) => "must be a string",
        ("integer", Some("int64" | "int32") | None) => "must be an integer",
        ("boolean", None) => "must be true or false",
        ("array", None) => "must be an array",
        other => panic!("a value of type {other:?}: give it a wording in expected.rs and here"),
    }
}

/// Fragments of poem-openapi's type names and parse messages.
const FRAMEWORK: &[&str] = &[
    "int64",
    "int32",
    "string_",
    "optional_",
    "nullable_",
    "boolean\"",
    "failed to parse",
    "occurred while parsing",
];

/// `detail` and every message of `errors` are free of framework type names.
fn assert_plain(body: &Value, what: &str) {
    let mut texts = vec![body["detail"].as_str().unwrap_or_default().to_owned()];
    for messages in body["errors"].as_object().into_iter().flat_map(Map::values) {
        for m in messages.as_array().unwrap() {
            texts.push(m.as_str().unwrap().to_owned());
        }
    }
    for text in texts {
        for name in FRAMEWORK {
            assert!(!text.contains(name), "{what}: {name:?} in {text:?}: {body}");
        }
    }
}

/// The messages `body` gives for `field`.
fn messages<'a>(body: &'a Value, field: &str, what: &str) -> Vec<&'a str> {
    body["errors"][field]
        .as_array()
        .unwrap_or_else(|| panic!("{what}: errors name {field}: {body}"))
        .iter()
        .map(|m| m.as_str().unwrap())
        .collect()
}

/// An enumeration's message names every value a client may send.
fn assert_names_every_value(message: &str, values: &[Value], what: &str) {
    assert!(message.contains("must be one of"), "{what}: {message}");
    for v in values.iter().filter_map(Value::as_str) {
        let v = v.trim_start_matches('-');
        assert!(message.contains(v), "{what}: {v} missing from {message:?}");
    }
}

/// The query parameters whose values only core can judge (patterns, opaque cursors): a bad
/// value and what its message must say. Free text (`q` of `/tasks`) has no bad value.
fn judged_by_core(path: &str, name: &str) -> Option<(&'static str, &'static str)> {
    Some(match (path, name) {
        ("/tasks", "status") => (
            "todo,someday",
            "must be one of todo, in_progress, done, cancelled",
        ),
        ("/tasks", "priority") => ("whenever", "must be one of low, medium, high, urgent"),
        ("/tasks", "tag") => ("no spaces", "must match [a-z0-9_-]{1,32}"),
        ("/tasks", "cursor") => ("xyz", "is not a cursor of this listing"),
        ("/users", "q") => ("\u{1}", "must not contain control characters"),
        ("/tasks/changes", "since") | ("/events", "last_event_id") => {
            ("xyz", "must be an event id as the server gave it")
        }
        _ => return None,
    })
}

pub async fn hostile_values_name_the_expected_format(s: Server) {
    let admin = s.admin("root").await;
    let ann = s.user("ann").await;
    let task = s.task(&ann, json!({"title": "kept"})).await;
    let task_id = task["id"].as_str().unwrap();
    let doc: Value = s
        .req(Method::GET, "/openapi.json")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();

    let mut typed_query = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            for param in op["parameters"].as_array().into_iter().flatten() {
                let name = param["name"].as_str().unwrap();
                let schema = &param["schema"];
                let what = format!("{method} {path} {} {name}", param["in"]);
                match param["in"].as_str().unwrap() {
                    "query" => {}
                    // A malformed id in a path is `404`, never `400` (docs/http-api.md).
                    "path" => {
                        let url = path.replace(&format!("{{{name}}}"), "not-a-uuid");
                        let r = s
                            .as_user(method.clone(), &url, &admin.access)
                            .json(&json!({}))
                            .send()
                            .await
                            .unwrap();
                        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{what}");
                        continue;
                    }
                    // Conditional headers are opaque strings; an unreadable one is `412`.
                    "header" => continue,
                    other => panic!("{what}: a parameter in {other}"),
                }
                let ty = schema["type"].as_str().unwrap();
                let format = schema["format"].as_str();
                let (bad, expect): (&str, String) = if let Some(values) = schema["enum"].as_array()
                {
                    ("bogus", format!("one of {values:?}"))
                } else if ty != "string" || format.is_some() {
                    let bad = match (ty, format) {
                        ("integer", _) => "1.5",
                        ("boolean", _) => "maybe",
                        ("string", Some("date-time")) => "2026-12-01",
                        ("string", Some("uuid")) => "01936b2e-zzzz",
                        _ => "",
                    };
                    typed_query.push((path.clone(), name.to_owned(), wording(ty, format)));
                    (bad, wording(ty, format).to_owned())
                } else if let Some((bad, expect)) = judged_by_core(path, name) {
                    (bad, expect.to_owned())
                } else {
                    assert_eq!((path.as_str(), name), ("/tasks", "q"), "{what}: no case");
                    continue;
                };
                let r = s
                    .as_user(method.clone(), path, &admin.access)
                    .query(&[(name, bad)])
                    .send()
                    .await
                    .unwrap();
                let body = problem(r, 400, "malformed_request").await;
                assert_plain(&body, &what);
                let got = messages(&body, name, &what);
                match schema["enum"].as_array() {
                    Some(values) => assert_names_every_value(got[0], values, &what),
                    None => assert!(
                        got.iter().any(|m| m.contains(&expect)),
                        "{what} = {bad:?}: {got:?}, expected {expect:?}"
                    ),
                }
            }
        }
    }
    // Every kind the HTTP layer parses is in the document, and it was checked above.
    let kinds: std::collections::BTreeSet<&str> = typed_query.iter().map(|(_, _, w)| *w).collect();
    assert_eq!(
        kinds,
        [
            "must be an integer",
            "must be true or false",
            DATE_TIME,
            UUID
        ]
        .into_iter()
        .collect(),
        "{typed_query:?}"
    );

    // All of them at once: one `400` lists every parameter.
    for path in ["/tasks", "/tasks/stats", "/users"] {
        let params: Vec<(&str, &str)> = typed_query
            .iter()
            .filter(|(p, _, _)| p == path)
            .map(|(_, name, _)| (name.as_str(), "?"))
            .collect();
        let r = s
            .as_user(Method::GET, path, &admin.access)
            .query(&params)
            .send()
            .await
            .unwrap();
        let body = problem(r, 400, "malformed_request").await;
        assert_plain(&body, path);
        let named: Vec<&str> = body["errors"]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        let mut sent: Vec<&str> = params.iter().map(|(n, _)| *n).collect();
        sent.sort();
        assert_eq!(named, sent, "{path}: {body}");
    }
    // Numbers an integer parameter cannot hold, and other non-integers.
    for bad in ["abc", "1e3", "99999999999999999999", "", "-"] {
        let r = s
            .as_user(Method::GET, "/tasks", &ann.access)
            .query(&[("limit", bad)])
            .send()
            .await
            .unwrap();
        let body = problem(r, 400, "malformed_request").await;
        assert_eq!(
            messages(&body, "limit", bad),
            ["must be an integer"],
            "{body}"
        );
    }

    // Bodies: each field of each request schema, sent with a value it cannot take.
    let base = |schema: &str| -> Value {
        match schema {
            "Registration" => {
                json!({"email": "new@example.com", "password": PASSWORD, "name": "New"})
            }
            "Credentials" => json!({"email": "ann@example.com", "password": PASSWORD}),
            "RefreshRequest" => json!({"refresh_token": ann.refresh}),
            "PasswordChange" => {
                json!({"current_password": PASSWORD, "new_password": "another long one"})
            }
            "NewTask" => json!({"title": "t"}),
            "BulkStatus" => json!({"ids": [task_id], "status": "done"}),
            "ProfileUpdate" | "TaskPatch" | "UserUpdate" => json!({}),
            other => panic!("request body {other}: give it a valid base body here"),
        }
    };
    let schemas = &doc["components"]["schemas"];
    let mut fields = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let Some(reference) =
                op["requestBody"]["content"]["application/json"]["schema"]["$ref"].as_str()
            else {
                continue;
            };
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let name = reference.rsplit('/').next().unwrap();
            let url = path
                .replace("/tasks/{id}", &format!("/tasks/{task_id}"))
                .replace("/users/{id}", &format!("/users/{}", ann.id));
            let who: &Account = if url.starts_with("/users") {
                &admin
            } else {
                &ann
            };
            for (field, prop) in schemas[name]["properties"].as_object().unwrap() {
                let ty = prop["type"].as_str().unwrap();
                let format = prop["format"].as_str();
                let mut cases: Vec<(Value, String)> = Vec::new();
                match (ty, format) {
                    ("string", None) => cases.push((json!(5), wording(ty, format).into())),
                    ("string", Some(_)) => {
                        cases.push((json!(5), wording(ty, format).into()));
                        cases.push((json!("tomorrow"), wording(ty, format).into()));
                    }
                    ("boolean", None) => cases.push((json!("yes"), wording(ty, format).into())),
                    ("array", None) => {
                        cases.push((json!("x"), wording(ty, format).into()));
                        let items = prop["items"]["type"].as_str().unwrap();
                        let plural = format!("{}s", &wording(items, None)["must be a ".len()..]);
                        cases.push((json!([1]), format!("must be an array of {plural}")));
                    }
                    _ => {
                        wording(ty, format);
                    }
                }
                for (value, expect) in cases {
                    let mut body = base(name);
                    body[field] = value.clone();
                    let what = format!("{method} {path} {field} = {value}");
                    let r = s
                        .as_user(method.clone(), &url, &who.access)
                        .json(&body)
                        .send()
                        .await
                        .unwrap();
                    let answer = problem(r, 400, "malformed_request").await;
                    assert_plain(&answer, &what);
                    assert_eq!(messages(&answer, field, &what), [expect.as_str()], "{what}");
                    fields += 1;
                }
                // Enumerations are core's: `422`, naming every value.
                if let Some(values) = prop["enum"].as_array() {
                    let mut body = base(name);
                    body[field] = json!("bogus");
                    let what = format!("{method} {path} {field} = bogus");
                    let r = s
                        .as_user(method.clone(), &url, &who.access)
                        .json(&body)
                        .send()
                        .await
                        .unwrap();
                    let answer = problem(r, 422, "validation_failed").await;
                    assert_plain(&answer, &what);
                    assert_names_every_value(messages(&answer, field, &what)[0], values, &what);
                }
            }
        }
    }
    assert!(fields >= 30, "{fields} body cases");

    // Several unreadable fields: one `400` names each.
    let r = s
        .as_user(Method::POST, "/tasks", &ann.access)
        .json(&json!({"title": 5, "due_date": "2026-12-01", "tags": [1]}))
        .send()
        .await
        .unwrap();
    let body = problem(r, 400, "malformed_request").await;
    assert_plain(&body, "several");
    assert_eq!(messages(&body, "due_date", "several"), [DATE_TIME]);
    assert_eq!(messages(&body, "title", "several"), ["must be a string"]);
    assert_eq!(
        messages(&body, "tags", "several"),
        ["must be an array of strings"]
    );

    // Nothing was changed by any of it.
    let r = s
        .as_user(Method::GET, &format!("/tasks/{task_id}"), &ann.access)
        .send()
        .await
        .unwrap();
    assert_eq!(r.json::<Value>().await.unwrap(), task);
}
