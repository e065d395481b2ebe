//! Request bodies: the 64 KiB limit in every framing, and JSON built to break parsers.

use std::collections::BTreeMap;

use reqwest::Method;
use serde_json::{Value, json};
use taskflow_http::BODY_LIMIT;

use super::{assert_intact, chunked, send_json};
use crate::support::{Account, PASSWORD, Server, problem, raw};

/// `{<fields>   …   }`: the fields padded with JSON whitespace to exactly `len` bytes.
fn padded(fields: &str, len: usize) -> Vec<u8> {
    let mut body = format!("{{{fields}");
    assert!(body.len() < len, "{} bytes do not fit in {len}", body.len());
    body.push_str(&" ".repeat(len - body.len() - 1));
    body.push('}');
    body.into_bytes()
}

/// How a body travels.
#[derive(Debug, Clone, Copy)]
enum Framing {
    ContentLength,
    /// `Transfer-Encoding: chunked` in chunks of this size.
    Chunked(usize),
}

const FRAMINGS: [Framing; 3] = [
    Framing::ContentLength,
    Framing::Chunked(8192),
    // Straddles the server's 4 KiB reads, so the limit is crossed inside a chunk.
    Framing::Chunked(4093),
];

impl Framing {
    fn body(self, bytes: &[u8]) -> reqwest::Body {
        match self {
            Framing::ContentLength => bytes.to_vec().into(),
            Framing::Chunked(size) => chunked(bytes, size),
        }
    }
}

/// What a body must get.
enum Expect {
    /// `201`, the task stored with this title.
    Stored(String),
    /// A problem with this status and code; for `422`, exactly these fields in `errors`.
    Problem(u16, &'static str, &'static [&'static str]),
}

pub async fn hostile_body_limits(s: Server) {
    let ann = s.user("ann").await;
    let admin = s.admin("root").await;
    let mut expected = BTreeMap::new();
    // 5,000 characters outside the BMP written as surrogate-pair escapes: 60,000 bytes of
    // a valid description (at most 10,000 characters) that pads to the limit.
    let emoji = "\\ud83c\\udf89".repeat(5_000);
    let stored = "🎉".repeat(5_000);
    let with_title =
        |description: &str| format!("\"title\":\"limit\",\"description\":\"{description}\"");
    let cases = [
        (
            "exactly 64 KiB, valid",
            padded(&with_title(&emoji), BODY_LIMIT),
            Expect::Stored("limit".into()),
        ),
        (
            "exactly 64 KiB, a 10,001-character description",
            padded(&with_title(&"é".repeat(10_001)), BODY_LIMIT),
            Expect::Problem(422, "validation_failed", &["description"]),
        ),
        (
            "64 KiB + 1 byte",
            padded(&with_title(&emoji), BODY_LIMIT + 1),
            Expect::Problem(413, "payload_too_large", &[]),
        ),
    ];
    for (what, bytes, expect) in &cases {
        for framing in FRAMINGS {
            let r = send_json(&s, Some(&ann), Method::POST, "/tasks", framing.body(bytes)).await;
            if let Some(task) = check(r, expect, &format!("{what}, {framing:?}")).await {
                assert!(task["description"] == stored.as_str(), "{what}");
                expected.insert(task["id"].as_str().unwrap().to_owned(), task);
            }
        }
    }

    // Every body-carrying route has the same limit, exactly 64 KiB of a valid patch is read.
    let id = expected.keys().next().unwrap().clone();
    let patch = format!("/tasks/{id}");
    let r = send_json(
        &s,
        Some(&ann),
        Method::PATCH,
        &patch,
        padded(
            &format!("\"description\":\"{emoji}\",\"title\":\"patched\""),
            BODY_LIMIT,
        ),
    )
    .await;
    assert_eq!(r.status(), 200, "64 KiB patch");
    let task: Value = r.json().await.unwrap();
    assert_eq!(task["title"], "patched");
    assert!(task["description"] == stored.as_str());
    expected.insert(id.clone(), task);
    let over = padded("\"x\":\"y\"", BODY_LIMIT + 1);
    let ann_user = format!("/users/{}", ann.id);
    let routes = [
        (Method::POST, "/auth/register", None),
        (Method::POST, "/auth/login", None),
        (Method::POST, "/auth/refresh", None),
        (Method::POST, "/auth/logout", Some(&ann)),
        (Method::PATCH, "/auth/me", Some(&ann)),
        (Method::POST, "/auth/password", Some(&ann)),
        (Method::POST, "/tasks", Some(&ann)),
        (Method::PATCH, patch.as_str(), Some(&ann)),
        (Method::POST, "/tasks/bulk-status", Some(&ann)),
        (Method::PATCH, ann_user.as_str(), Some(&admin)),
    ];
    for (method, path, who) in &routes {
        for framing in FRAMINGS {
            let r = send_json(&s, *who, method.clone(), path, framing.body(&over)).await;
            problem(r, 413, "payload_too_large").await;
        }
    }

    // 1 MiB, written raw while the answer is read: a server may answer and close before
    // the last byte, which an HTTP client reports as its own failure.
    let mib = padded(&with_title(&emoji), 1 << 20);
    let mut chunks: Vec<u8> = Vec::new();
    for chunk in mib.chunks(8192) {
        chunks.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        chunks.extend_from_slice(chunk);
        chunks.extend_from_slice(b"\r\n");
    }
    chunks.extend_from_slice(b"0\r\n\r\n");
    let auth = format!("Authorization: Bearer {}", ann.access);
    let length = format!("Content-Length: {}", mib.len());
    for (framing, header, body) in [
        ("Content-Length", length.as_bytes(), &mib),
        ("chunked", b"Transfer-Encoding: chunked".as_slice(), &chunks),
    ] {
        let request = raw::request(
            b"POST /api/v1/tasks HTTP/1.1",
            &[auth.as_bytes(), b"Content-Type: application/json", header],
            body,
        );
        let r = raw::send(&s.origin, request, framing).await;
        assert_eq!(r.status, 413, "1 MiB, {framing}: {}", r.head);
        assert_eq!(r.header("content-type"), Some("application/problem+json"));
    }

    assert_intact(&s, &ann, &expected).await;
    // The refused bodies changed no credentials.
    s.login("ann").await;
    s.login("root").await;
}

/// Asserts `r` is what `expect` says; returns the stored task.
async fn check(r: reqwest::Response, expect: &Expect, what: &str) -> Option<Value> {
    match expect {
        Expect::Stored(title) => {
            assert_eq!(r.status(), 201, "{what}");
            let task: Value = r.json().await.unwrap();
            assert_eq!(task["title"], title.as_str(), "{what}");
            Some(task)
        }
        Expect::Problem(status, code, fields) => {
            let body = problem(r, *status, code).await;
            if *status == 422 {
                let errors: Vec<&String> = body["errors"].as_object().unwrap().keys().collect();
                assert_eq!(errors, *fields, "{what}");
            }
            None
        }
    }
}

const MALFORMED: Expect = Expect::Problem(400, "malformed_request", &[]);
const NOT_FOUND: Expect = Expect::Problem(404, "not_found", &[]);

fn unknown(field: &'static [&'static str]) -> Expect {
    Expect::Problem(422, "validation_failed", field)
}

fn stored(title: &str) -> Expect {
    Expect::Stored(title.to_owned())
}

pub async fn hostile_json(s: Server) {
    let ann = s.user("ann").await;
    let deep = |open: &str, close: &str, n: usize| {
        format!("{}1{}", open.repeat(n), close.repeat(n)).into_bytes()
    };
    let in_field = |field: &str, value: &[u8]| {
        [
            format!(r#"{{"title":"t","{field}":"#).as_bytes(),
            value,
            b"}",
        ]
        .concat()
    };
    // One case per line: (what, body of POST /tasks, answer).
    #[rustfmt::skip]
    let cases: Vec<(&str, Vec<u8>, Expect)> = vec![
        // Nesting far past any sane depth: a parse error, not a stack overflow.
        ("10,000 × [", "[".repeat(10_000).into_bytes(), MALFORMED),
        ("10,000 × [ closed", deep("[", "]", 10_000), MALFORMED),
        ("10,000 × {\"a\":", deep(r#"{"a":"#, "}", 10_000), MALFORMED),
        ("60,000 × [ in a field", in_field("tags", "[".repeat(60_000).as_bytes()), MALFORMED),
        ("5,000 levels in an unknown field", in_field("x", &deep("[", "]", 5_000)), MALFORMED),
        // Shallow nesting in an unknown field is read, and the field refused.
        ("100 levels in an unknown field", in_field("x", &deep("[", "]", 100)), unknown(&["x"])),
        // Numbers no type holds.
        ("1e999 as the title", br#"{"title":1e999}"#.to_vec(), MALFORMED),
        ("-1e999 in an unknown field", in_field("x", b"-1e999"), MALFORMED),
        ("a 30-digit priority", in_field("priority", b"123456789012345678901234567890"), MALFORMED),
        ("a 20,000-digit number", in_field("x", "9".repeat(20_000).as_bytes()), MALFORMED),
        ("a huge number as a tag", in_field("tags", b"[1e400]"), MALFORMED),
        // Not an object, or not one JSON document.
        ("a string", br#""title""#.to_vec(), MALFORMED),
        ("an array", br#"[{"title":"t"}]"#.to_vec(), MALFORMED),
        ("null", b"null".to_vec(), MALFORMED),
        ("a number", b"42".to_vec(), MALFORMED),
        ("true", b"true".to_vec(), MALFORMED),
        ("empty", b"".to_vec(), MALFORMED),
        ("whitespace", b" \r\n\t ".to_vec(), MALFORMED),
        ("two objects", br#"{"title":"a"}{"title":"b"}"#.to_vec(), MALFORMED),
        ("trailing garbage", br#"{"title":"a"} x"#.to_vec(), MALFORMED),
        ("a byte-order mark first", b"\xef\xbb\xbf{\"title\":\"t\"}".to_vec(), MALFORMED),
        ("single quotes", b"{'title':'t'}".to_vec(), MALFORMED),
        ("a comment", br#"{"title":"t" /* x */}"#.to_vec(), MALFORMED),
        ("a trailing comma", br#"{"title":"t",}"#.to_vec(), MALFORMED),
        ("NaN", in_field("x", b"NaN"), MALFORMED),
        // Strings that are not Unicode text.
        ("a lone high surrogate", br#"{"title":"\ud800"}"#.to_vec(), MALFORMED),
        ("a lone low surrogate", br#"{"title":"a\udc00b"}"#.to_vec(), MALFORMED),
        ("a high surrogate then a letter", br#"{"title":"\ud800\u0041"}"#.to_vec(), MALFORMED),
        ("reversed surrogates", br#"{"title":"\udf89\ud83c"}"#.to_vec(), MALFORMED),
        ("a lone surrogate in a key", br#"{"title":"t","\ud800":1}"#.to_vec(), MALFORMED),
        ("a bad escape", br#"{"title":"\x41"}"#.to_vec(), MALFORMED),
        ("a raw control character", b"{\"title\":\"a\x01b\"}".to_vec(), MALFORMED),
        // Invalid UTF-8.
        ("byte 0xFF", b"{\"title\":\"\xff\"}".to_vec(), MALFORMED),
        ("an overlong '/'", b"{\"title\":\"\xc0\xaf\"}".to_vec(), MALFORMED),
        ("a UTF-8-encoded surrogate", b"{\"title\":\"\xed\xa0\x80\"}".to_vec(), MALFORMED),
        ("a truncated sequence", b"{\"title\":\"\xe2\x82\"}".to_vec(), MALFORMED),
        ("above U+10FFFF", b"{\"title\":\"\xf4\x90\x80\x80\"}".to_vec(), MALFORMED),
        ("a five-byte sequence", b"{\"title\":\"\xf8\x88\x80\x80\x80\"}".to_vec(), MALFORMED),
        ("Latin-1 in a key", b"{\"t\xeftle\":\"t\"}".to_vec(), MALFORMED),
        // MongoDB operators where a value is expected are the wrong JSON type.
        ("{$gt} as the title", br#"{"title":{"$gt":""}}"#.to_vec(), MALFORMED),
        ("{$ne} as the status", in_field("status", br#"{"$ne":null}"#), MALFORMED),
        ("{$in} as the tags", in_field("tags", br#"{"$in":["a"]}"#), MALFORMED),
        ("{$gt} as a tag", in_field("tags", br#"[{"$gt":""}]"#), MALFORMED),
        ("{$gt} as the due date", in_field("due_date", br#"{"$gt":""}"#), MALFORMED),
        ("$where as a field", in_field("$where", br#""sleep(1000)""#), unknown(&["$where"])),
        ("a dotted field", in_field("owner_id.$", br#""x""#), unknown(&["owner_id.$"])),
        // Duplicate keys: the last one wins (as in ECMAScript's JSON.parse), so the field
        // checks and the stored value see the same one.
        ("a duplicate title", br#"{"title":"first","title":"second"}"#.to_vec(), stored("second")),
        ("a duplicate hiding a wrong type", br#"{"title":"t","tags":["a"],"tags":{"$ne":null}}"#.to_vec(), MALFORMED),
        ("a duplicate hiding an operator", br#"{"title":{"$ne":null},"title":"last"}"#.to_vec(), stored("last")),
        // A valid surrogate pair is the character it encodes.
        ("a surrogate pair", br#"{"title":"\ud83c\udf89"}"#.to_vec(), stored("🎉")),
    ];
    let mut expected = BTreeMap::new();
    for (what, body, expect) in &cases {
        let r = send_json(&s, Some(&ann), Method::POST, "/tasks", body.clone()).await;
        if let Some(task) = check(r, expect, what).await {
            expected.insert(task["id"].as_str().unwrap().to_owned(), task);
        }
    }

    // Operators and injection strings on the other body-carrying routes.
    let admin = s.admin("root").await;
    let id = expected.keys().next().unwrap().clone();
    let task = format!("/tasks/{id}");
    let user = format!("/users/{}", ann.id);
    #[rustfmt::skip]
    let routes: Vec<(Method, &str, &Account, Value, Expect)> = vec![
        (Method::PATCH, &task, &ann, json!({"title": {"$set": "x"}}), MALFORMED),
        (Method::PATCH, &task, &ann, json!({"$set": {"title": "x"}}), unknown(&["$set"])),
        (Method::PATCH, &task, &ann, json!({"due_date": {"$gt": ""}}), MALFORMED),
        (Method::POST, "/auth/login", &ann, json!({"email": {"$gt": ""}, "password": {"$gt": ""}}), MALFORMED),
        (Method::POST, "/auth/login", &ann, json!({"email": "ann@example.com", "password": {"$ne": null}}), MALFORMED),
        (Method::POST, "/auth/register", &ann, json!({"email": {"$gt": ""}, "password": PASSWORD, "name": "x"}), MALFORMED),
        (Method::POST, "/auth/refresh", &ann, json!({"refresh_token": {"$ne": null}}), MALFORMED),
        (Method::PATCH, "/auth/me", &ann, json!({"name": {"$gt": ""}}), MALFORMED),
        (Method::POST, "/auth/password", &ann, json!({"current_password": {"$ne": null}, "new_password": "whatever else"}), MALFORMED),
        (Method::POST, "/tasks/bulk-status", &ann, json!({"ids": {"$ne": null}, "status": "done"}), MALFORMED),
        (Method::POST, "/tasks/bulk-status", &ann, json!({"ids": [{"$gt": ""}], "status": "done"}), MALFORMED),
        (Method::POST, "/tasks/bulk-status", &ann, json!({"ids": [id], "status": {"$ne": null}}), MALFORMED),
        (Method::POST, "/tasks/bulk-status", &ann, json!({"ids": [id, "'; DROP TABLE tasks; --"], "status": "done"}), NOT_FOUND),
        (Method::PATCH, &user, &admin, json!({"role": {"$ne": null}}), MALFORMED),
        (Method::PATCH, &user, &admin, json!({"role": "admin' --"}), unknown(&["role"])),
    ];
    for (method, path, who, body, expect) in &routes {
        let r = send_json(&s, Some(who), method.clone(), path, body.to_string()).await;
        check(r, expect, &format!("{method} {path} {body}")).await;
    }

    assert_intact(&s, &ann, &expected).await;
    let ann = s.login("ann").await;
    let me: Value = s
        .as_user(Method::GET, "/auth/me", &ann.access)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!((&me["name"], &me["role"]), (&json!("ann"), &json!("user")));
}
