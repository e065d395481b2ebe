//! Raw HTTP/1.1 that no client library sends: invalid UTF-8 in the request line and in
//! header values, oversized heads and URLs, broken framing. Each gets a 4xx and the
//! server keeps serving.

use std::collections::BTreeMap;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::assert_intact;
use crate::support::{Server, raw};

/// What a raw request must get.
#[derive(Debug, Clone, Copy)]
enum Answer {
    /// The app answered: a problem document with this status and code.
    Problem(u16, &'static str),
    /// The HTTP layer (hyper) refused the request before the app saw it: this status.
    Refused(u16),
    /// Served normally with this status; the hostile header was ignored.
    Served(u16),
}

use Answer::{Problem, Refused, Served};

const MALFORMED: Answer = Problem(400, "malformed_request");
const UNAUTHENTICATED: Answer = Problem(401, "unauthenticated");
const NOT_FOUND: Answer = Problem(404, "not_found");
const UNSUPPORTED: Answer = Problem(415, "unsupported_media_type");

pub async fn hostile_raw_protocol(s: Server) {
    let ann = s.user("ann").await;
    let task = s.task(&ann, json!({"title": "kept"})).await;
    let id = task["id"].as_str().unwrap();
    let auth = format!("Authorization: Bearer {}", ann.access);
    let auth = auth.as_bytes();
    let json_type: &[u8] = b"Content-Type: application/json";
    let task_line = format!("PATCH /api/v1/tasks/{id} HTTP/1.1");
    let task_path = format!("/api/v1/tasks/{id}");
    let task_path = task_path.as_bytes();
    let get = |target: &[u8], headers: &[&[u8]]| {
        raw::request(&[b"GET ", target, b" HTTP/1.1"].concat(), headers, b"")
    };
    let with_length = |line: &[u8], headers: &[&[u8]], body: &[u8]| {
        let length = format!("Content-Length: {}", body.len());
        raw::request(line, &[headers, &[length.as_bytes()]].concat(), body)
    };
    let post =
        |headers: &[&[u8]], body: &[u8]| with_length(b"POST /api/v1/tasks HTTP/1.1", headers, body);
    let patch = |headers: &[&[u8]], body: &[u8]| with_length(task_line.as_bytes(), headers, body);
    // A task creation framed only by `headers`.
    let framed = |headers: &[&[u8]], body: &[u8]| {
        let all = [&[auth, json_type], headers].concat();
        raw::request(b"POST /api/v1/tasks HTTP/1.1", &all, body)
    };
    let huge = |n: usize| "a".repeat(n).into_bytes();
    // Heads up to the 16 KiB cap (`ServeConfig::max_header_bytes`) are read; beyond, 431.
    let big_header = [b"X-Junk: ".as_slice(), &huge(12_000)].concat();
    let big_auth = [b"Authorization: Bearer ".as_slice(), &huge(12_000)].concat();
    let over_cap_header = [b"X-Junk: ".as_slice(), &huge(100_000)].concat();
    let giant_header = [b"X-Junk: ".as_slice(), &huge(1 << 20)].concat();
    let many: Vec<Vec<u8>> = (0..200)
        .map(|i| format!("X-H{i}: {i}").into_bytes())
        .collect();
    let many: Vec<&[u8]> = many.iter().map(Vec::as_slice).collect();
    let long_path = [b"/api/v1/tasks/".as_slice(), &huge(70_000)].concat();
    let giant_path = [b"/api/v1/tasks/".as_slice(), &huge(1 << 20)].concat();
    let long_q = [
        b"/api/v1/tasks?q=".as_slice(),
        &"a+".repeat(5_000).into_bytes(),
    ]
    .concat();
    let body = br#"{"title":"raw"}"#;

    // One case per line: (what, request, answer).
    #[rustfmt::skip]
    let cases: Vec<(&str, Vec<u8>, Answer)> = vec![
        // Invalid UTF-8 in the request target.
        ("raw 0xFF in a path segment", get(b"/api/v1/tasks/\xff\xfe", &[auth]), Refused(400)),
        ("raw 0xFF in the query", get(b"/api/v1/tasks?q=\xff", &[auth]), Refused(400)),
        ("percent-encoded 0xFF in a path segment", get(b"/api/v1/tasks/%ff%fe", &[auth]), NOT_FOUND),
        ("percent-encoded overlong '/' in a path", get(b"/api/v1/tasks/..%c0%af..%c0%afetc", &[auth]), NOT_FOUND),
        ("percent-encoded NUL in a path", get(b"/api/v1/tasks/%00", &[auth]), NOT_FOUND),
        // Percent-encoded invalid UTF-8 in a parameter decodes to U+FFFD, which no tag,
        // status, sort, cursor or id accepts; in q it is a search without a word (finds nothing).
        ("percent-encoded 0xFF in q", get(b"/api/v1/tasks?q=%ff", &[auth]), Served(200)),
        ("percent-encoded 0xFF in tag", get(b"/api/v1/tasks?tag=%ff", &[auth]), MALFORMED),
        ("percent-encoded 0xFF in status", get(b"/api/v1/tasks?status=todo,%ff", &[auth]), MALFORMED),
        ("percent-encoded 0xFF in sort", get(b"/api/v1/tasks?sort=%ffcreated_at", &[auth]), MALFORMED),
        ("percent-encoded 0xFF in cursor", get(b"/api/v1/tasks?cursor=%ff%fe", &[auth]), MALFORMED),
        ("percent-encoded 0xFF in owner_id", get(b"/api/v1/tasks/stats?owner_id=%ff", &[auth]), MALFORMED),
        ("percent-encoded 0xFF in a parameter name", get(b"/api/v1/tasks?%ff=1", &[auth]), Served(200)),
        // Invalid UTF-8 (obs-text) in header values.
        ("0xFF as the bearer token", get(b"/api/v1/tasks", &[b"Authorization: Bearer \xff\xfe"]), UNAUTHENTICATED),
        ("0xFF as the authorization", get(b"/api/v1/tasks", &[b"Authorization: \xff"]), UNAUTHENTICATED),
        ("0xFF after a valid token", get(b"/api/v1/tasks", &[&[auth, b"\xff"].concat()]), UNAUTHENTICATED),
        ("0xFF in the content type", post(&[auth, b"Content-Type: application/json\xff"], body), UNSUPPORTED),
        ("0xFF as the content type", post(&[auth, b"Content-Type: \xff"], body), UNSUPPORTED),
        ("0xFF in If-Match", patch(&[auth, json_type, b"If-Match: \"\xff\""], body), Problem(412, "version_mismatch")),
        ("0xFF in If-None-Match", get(task_path, &[auth, b"If-None-Match: \"\xff\""]), Served(200)),
        ("0xFF as the request id", get(b"/api/v1/tasks", &[auth, b"X-Request-Id: \xff\xfe"]), Served(200)),
        ("0xFF as the origin", get(b"/api/v1/health", &[b"Origin: https://\xff.example"]), Served(200)),
        ("0xFF as X-Forwarded-For", get(b"/api/v1/health", &[b"X-Forwarded-For: \xff"]), Served(200)),
        ("0xFF in Accept", get(b"/api/v1/health", &[b"Accept: \xff/\xff"]), Served(200)),
        ("NUL in a header value", get(b"/api/v1/health", &[b"X-A: a\x00b"]), Refused(400)),
        ("0xFF in a header name", get(b"/api/v1/health", &[b"X-\xff: a"]), Refused(400)),
        ("a header line without a colon", get(b"/api/v1/health", &[b"NoColonHere"]), Refused(400)),
        // Oversized heads and targets: anything over the 16 KiB head cap is 431, a long
        // path included (the cap comes before hyper's 64 KiB URI limit and its 414).
        ("one 12 KB header", get(b"/api/v1/health", &[&big_header]), Served(200)),
        ("a 12 KB bearer token", get(b"/api/v1/tasks", &[&big_auth]), UNAUTHENTICATED),
        ("one 100 KB header", get(b"/api/v1/health", &[&over_cap_header]), Refused(431)),
        ("one 1 MiB header", get(b"/api/v1/health", &[&giant_header]), Refused(431)),
        ("200 headers", get(b"/api/v1/health", &many), Refused(431)),
        ("a 70 KB path", get(&long_path, &[auth]), Refused(431)),
        ("a 1 MiB path", get(&giant_path, &[auth]), Refused(431)),
        ("a 10 KB query", get(&long_q, &[auth]), MALFORMED),
        // Broken framing.
        ("a length over u64", framed(&[b"Content-Length: 18446744073709551616"], body), Refused(400)),
        ("a negative length", framed(&[b"Content-Length: -1"], body), Refused(400)),
        ("two different lengths", framed(&[b"Content-Length: 15", b"Content-Length: 16"], body), Refused(400)),
        ("a bad chunk size", framed(&[b"Transfer-Encoding: chunked"], b"zz\r\n{}\r\n0\r\n\r\n"), MALFORMED),
        ("0xFF as the method", raw::request(b"\xff\xfe /api/v1/health HTTP/1.1", &[], b""), Refused(400)),
        ("garbage for a request line", raw::request(b"\x16\x03\x01\x02\x00\x01", &[], b""), Refused(400)),
    ];
    for (what, request, answer) in cases {
        let r = raw::send(&s.origin, request, what).await;
        let (status, problem) = match answer {
            Problem(status, code) => (status, Some(code)),
            Refused(status) | Served(status) => (status, None),
        };
        assert_eq!(r.status, status, "{what}: {}", r.head);
        if let Some(code) = problem {
            assert_eq!(
                r.header("content-type"),
                Some("application/problem+json"),
                "{what}"
            );
            let body: Value =
                serde_json::from_slice(&r.body).unwrap_or_else(|e| panic!("{what}: {e}"));
            assert_eq!(body["code"], code, "{what}");
            assert_eq!(
                body["request_id"].as_str(),
                r.header("x-request-id"),
                "{what}"
            );
        }
        if matches!(answer, Problem(..) | Served(_)) {
            let request_id = r.header("x-request-id").unwrap_or_default();
            assert_eq!(request_id.len(), 36, "{what}: a generated request id");
        }
        // Whatever came before, the next client is served.
        let health = s.req(Method::GET, "/health").send().await.unwrap();
        assert_eq!(health.status(), StatusCode::OK, "after {what}");
    }
    assert_intact(&s, &ann, &BTreeMap::from([(id.to_owned(), task.clone())])).await;
}
