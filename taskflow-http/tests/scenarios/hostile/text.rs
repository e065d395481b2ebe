//! Control characters, Unicode edge cases and injection strings in every text field. Each
//! text is refused by the field's rule (`422` naming the field) or stored byte for byte,
//! and reads back the same through `GET`, the listing and search on every backend.

use std::collections::{BTreeMap, BTreeSet};

use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};
use taskflow_core::search_words;

use super::assert_intact;
use crate::support::{Account, Server, problem};

/// The hostile texts: (what, text).
#[rustfmt::skip]
fn texts() -> Vec<(&'static str, String)> {
    [
        ("NUL", "nul\u{0}byte"),
        ("only NUL", "\u{0}"),
        ("C0 controls", "bell\u{7} esc\u{1b}[31m red"),
        ("DEL and C1 controls", "del\u{7f} nel\u{85} csi\u{9b}"),
        ("tab and newlines", "line\nbreak\r\n\ttab"),
        ("line and paragraph separators", "a\u{2028}b\u{2029}c"),
        ("only Unicode whitespace", " \u{3000}\u{a0}\t"),
        ("RTL override", "\u{202e}gnp.exe\u{202c} rtl"),
        ("stacked combining marks", "Z\u{351}\u{34b}a\u{300}\u{301}l\u{308}g\u{30a}o"),
        ("zero-width characters", "zero\u{200b}width\u{200c}non\u{200d}joiner\u{2060}"),
        ("byte-order mark", "\u{feff}bom"),
        ("emoji with ZWJ and skin tones", "👩🏽‍🚀 👨‍👩‍👧‍👦 👍🏿 🏳️‍🌈"),
        ("outside the BMP", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𠜎𠜱 𓀀"),
        ("NFC", "caf\u{e9} nfc"),
        ("NFD", "cafe\u{301} nfd"),
        ("SQL injection", "'; DROP TABLE tasks; --"),
        ("SQL tautology", "' OR '1'='1"),
        ("LIKE wildcards and backslashes", r"100% _done_ \ back\slash"),
        ("regex metacharacters", r".* ^$ [a-z]+ (?i) \d"),
        ("MongoDB operators", r#"{"$gt": ""} $where {"$ne": null}"#),
        ("markup", "<script>alert(1)</script> &amp;"),
        ("noncharacters and private use", "\u{fffe}\u{ffff}\u{10ffff}\u{e000}"),
        ("replacement character", "\u{fffd}"),
        ("dotted capital I", "İstanbul"),
        ("Kelvin sign (lower-cases to k)", "\u{212a}"),
        ("fullwidth letters", "ＦＵＬＬ"),
        ("underscore", "_"),
        ("percent", "%"),
    ]
    .into_iter()
    .map(|(what, text)| (what, text.to_owned()))
    .chain([("200 characters outside the BMP", "🎉".repeat(200))])
    .collect()
}

// The field rules of the contract (docs/http-api.md and core's documented validation).

fn title_ok(t: &str) -> bool {
    let t = t.trim();
    (1..=200).contains(&t.chars().count()) && !t.contains('\0')
}

fn description_ok(t: &str) -> bool {
    t.chars().count() <= 10_000 && !t.contains('\0')
}

/// The stored tag, when `t` is a valid one: `[a-z0-9_-]{1,32}` after lower-casing.
fn tag_of(t: &str) -> Option<String> {
    let tag = t.to_lowercase();
    let ok = (1..=32).contains(&tag.len())
        && tag
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
    ok.then_some(tag)
}

fn name_ok(t: &str) -> bool {
    let t = t.trim();
    (1..=100).contains(&t.chars().count()) && !t.chars().any(char::is_control)
}

/// `<t>@example.com`: trimmed and lower-cased, no spaces or controls, a local part.
fn email_of(t: &str) -> (String, bool) {
    use unicode_normalization::UnicodeNormalization;
    // Trimmed, NFKC, lower-cased, NFKC: what docs/http-api.md promises.
    let email: String = format!("{t}@example.com")
        .trim()
        .nfkc()
        .collect::<String>()
        .to_lowercase()
        .nfkc()
        .collect();
    let ok = email.chars().count() <= 254
        && !email.starts_with('@')
        && !email.chars().any(|c| c.is_whitespace() || c.is_control());
    (email, ok)
}

fn password_of(t: &str) -> (String, bool) {
    let password = format!("{t} is my password");
    let ok = password.chars().count() <= 128 && !password.contains('\0');
    (password, ok)
}

async fn call(
    s: &Server,
    who: Option<&Account>,
    method: Method,
    path: &str,
    body: Value,
) -> Response {
    super::send_json(s, who, method, path, body.to_string()).await
}

/// A success with `status` when `invalid` is empty (the body returned), else a `422`
/// naming exactly the `invalid` fields.
async fn answer(r: Response, status: u16, invalid: &[&str], what: &str) -> Option<Value> {
    if invalid.is_empty() {
        let got = r.status();
        let text = r.text().await.unwrap();
        assert_eq!(got.as_u16(), status, "{what}: {text}");
        return Some(serde_json::from_str(&text).unwrap());
    }
    let body = problem(r, 422, "validation_failed").await;
    let fields: BTreeSet<&str> = body["errors"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(fields, invalid.iter().copied().collect(), "{what}: {body}");
    None
}

fn invalid(checks: &[(&'static str, bool)]) -> Vec<&'static str> {
    checks
        .iter()
        .filter(|(_, ok)| !ok)
        .map(|(f, _)| *f)
        .collect()
}

/// The ids of a search, or `None` for a `400` (`q` has no word, or too many).
async fn search(s: &Server, who: &Account, path: &str, q: &str) -> Option<BTreeSet<String>> {
    let r = s
        .as_user(Method::GET, path, &who.access)
        .query(&[("q", q), ("limit", "100")])
        .send()
        .await
        .unwrap();
    if r.status() == StatusCode::BAD_REQUEST {
        let body = problem(r, 400, "malformed_request").await;
        assert!(body["errors"]["q"].is_array(), "{q:?}: {body}");
        return None;
    }
    assert_eq!(r.status(), StatusCode::OK, "search {path} {q:?}");
    let page: Value = r.json().await.unwrap();
    Some(
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["id"].as_str().unwrap().to_owned())
            .collect(),
    )
}

/// The tasks a task search for `q` must find: every query word prefixes a word of the title
/// or description; none when `q` has no word (`None`: refused, over 200 characters or more
/// than 16 words).
fn task_search_reference(tasks: &BTreeMap<String, Value>, q: &str) -> Option<BTreeSet<String>> {
    let mut words: Vec<String> = Vec::new();
    for w in search_words(q.trim()) {
        if !words.contains(&w) {
            words.push(w);
        }
    }
    if q.trim().is_empty() {
        return Some(tasks.keys().cloned().collect());
    }
    if words.len() > 16 || q.trim().chars().count() > 200 {
        return None;
    }
    if words.is_empty() {
        return Some(BTreeSet::new());
    }
    let found = tasks.iter().filter(|(_, t)| {
        let text: Vec<String> = search_words(t["title"].as_str().unwrap())
            .chain(t["description"].as_str().into_iter().flat_map(search_words))
            .collect();
        words
            .iter()
            .all(|w| text.iter().any(|t| t.starts_with(w.as_str())))
    });
    Some(found.map(|(id, _)| id.clone()).collect())
}

/// The users a user search for `q` must find: the trimmed, lower-cased `q` is a substring of
/// the email or the lower-cased name (`None`: refused, `q` holds a control character).
fn user_search_reference(users: &BTreeMap<String, Value>, q: &str) -> Option<BTreeSet<String>> {
    let q = q.trim().to_lowercase();
    if q.chars().any(char::is_control) {
        return None;
    }
    let found = users.iter().filter(|(_, u)| {
        u["email"].as_str().unwrap().contains(&q)
            || u["name"].as_str().unwrap().to_lowercase().contains(&q)
    });
    Some(found.map(|(id, _)| id.clone()).collect())
}

pub async fn hostile_text_fields(s: Server) {
    let admin = s.admin("root").await;
    let ann = s.user("ann").await;
    let mut tasks: BTreeMap<String, Value> = BTreeMap::new();
    let mut users: BTreeMap<String, Value> = BTreeMap::new();
    for who in ["root", "ann"] {
        let me = s.login(who).await;
        let r = s
            .as_user(Method::GET, "/auth/me", &me.access)
            .send()
            .await
            .unwrap();
        users.insert(me.id, r.json().await.unwrap());
    }
    let mut base = s
        .task(&ann, json!({"title": "patched by every text"}))
        .await;
    let base_id = base["id"].as_str().unwrap().to_owned();
    let texts = texts();
    let create = |body: Value| call(&s, Some(&ann), Method::POST, "/tasks", body);

    for (i, (what, t)) in texts.iter().enumerate() {
        let t = t.as_str();
        // Title, description and tags of a new task.
        let r = create(json!({"title": t})).await;
        if let Some(task) = answer(r, 201, &invalid(&[("title", title_ok(t))]), what).await {
            assert_eq!(task["title"], t.trim(), "{what}: title");
            tasks.insert(task["id"].as_str().unwrap().to_owned(), task);
        }
        let r = create(json!({"title": "described", "description": t})).await;
        let checks = [("description", description_ok(t))];
        if let Some(task) = answer(r, 201, &invalid(&checks), what).await {
            assert_eq!(task["description"], t, "{what}: description");
            tasks.insert(task["id"].as_str().unwrap().to_owned(), task);
        }
        let tag = tag_of(t);
        let r = create(json!({"title": "tagged", "tags": [t, "ok"]})).await;
        if let Some(task) = answer(r, 201, &invalid(&[("tags[0]", tag.is_some())]), what).await {
            assert_eq!(
                task["tags"],
                json!([tag.as_deref().unwrap(), "ok"]),
                "{what}: tags"
            );
            tasks.insert(task["id"].as_str().unwrap().to_owned(), task);
        }
        // An update of both texts (the UPDATE paths of the stores).
        let r = call(
            &s,
            Some(&ann),
            Method::PATCH,
            &format!("/tasks/{base_id}"),
            json!({"title": t, "description": t}),
        )
        .await;
        let checks = [("description", description_ok(t)), ("title", title_ok(t))];
        if let Some(task) = answer(r, 200, &invalid(&checks), what).await {
            assert_eq!(
                (&task["title"], &task["description"]),
                (&json!(t.trim()), &json!(t)),
                "{what}: patch"
            );
            assert_eq!(
                task["version"],
                base["version"].as_u64().unwrap() + 1,
                "{what}"
            );
            base = task;
        }

        // Email, password and name of a new account; an accepted one can log in with them.
        let (email, email_ok) = email_of(t);
        let (password, password_ok) = password_of(t);
        let r = call(
            &s,
            None,
            Method::POST,
            "/auth/register",
            json!({"email": format!("{t}@example.com"), "password": password, "name": t}),
        )
        .await;
        let checks = [
            ("email", email_ok),
            ("name", name_ok(t)),
            ("password", password_ok),
        ];
        if let Some(user) = answer(r, 201, &invalid(&checks), what).await {
            assert_eq!(
                (&user["email"], &user["name"]),
                (&json!(email), &json!(t.trim())),
                "{what}: account"
            );
            let r = call(
                &s,
                None,
                Method::POST,
                "/auth/login",
                json!({"email": format!("{t}@example.com"), "password": password}),
            )
            .await;
            assert_eq!(r.status(), StatusCode::OK, "{what}: login");
            let pair: Value = r.json().await.unwrap();
            assert_eq!(pair["user"], user, "{what}: login answers the same account");
            users.insert(user["id"].as_str().unwrap().to_owned(), user);
        }
        // A display-name change.
        let r = call(
            &s,
            Some(&ann),
            Method::PATCH,
            "/auth/me",
            json!({"name": t}),
        )
        .await;
        if let Some(me) = answer(r, 200, &invalid(&[("name", name_ok(t))]), what).await {
            assert_eq!(me["name"], t.trim(), "{what}: name");
            users.insert(ann.id.clone(), me);
        }
        // As a password of an unknown account: wrong credentials, whatever it holds (one
        // account each, as five failures throttle an account).
        let r = call(
            &s,
            None,
            Method::POST,
            "/auth/login",
            json!({"email": format!("nobody{i}@example.com"), "password": t}),
        )
        .await;
        problem(r, 401, "unauthenticated").await;
    }
    tasks.insert(base_id, base);
    let r = call(
        &s,
        Some(&ann),
        Method::PATCH,
        "/auth/me",
        json!({"name": "ann"}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    users.insert(ann.id.clone(), r.json().await.unwrap());

    // Searches and filters with every text, against everything stored so far.
    for (what, t) in &texts {
        assert_eq!(
            search(&s, &ann, "/tasks", t).await,
            task_search_reference(&tasks, t),
            "{what}: task search"
        );
        assert_eq!(
            search(&s, &admin, "/users", t).await,
            user_search_reference(&users, t),
            "{what}: user search"
        );
        let r = s
            .as_user(Method::GET, "/tasks", &ann.access)
            .query(&[("tag", t.as_str())])
            .send()
            .await
            .unwrap();
        match tag_of(t) {
            None => {
                problem(r, 400, "malformed_request").await;
            }
            Some(tag) => {
                assert_eq!(r.status(), StatusCode::OK, "{what}: tag filter");
                let page: Value = r.json().await.unwrap();
                let want: BTreeSet<&str> = tasks
                    .iter()
                    .filter(|(_, v)| v["tags"].as_array().unwrap().contains(&json!(tag)))
                    .map(|(id, _)| id.as_str())
                    .collect();
                let got: BTreeSet<&str> = page["items"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|v| v["id"].as_str().unwrap())
                    .collect();
                assert_eq!(got, want, "{what}: tag filter");
            }
        }
    }

    // The same searches, spelled out: stated by hand, not by the reference above.
    let texts_of = |ids: Option<BTreeSet<String>>| -> Vec<String> {
        let mut out: Vec<String> = ids
            .expect("a valid search")
            .iter()
            .map(|id| {
                let t = &tasks[id];
                match t["title"].as_str().unwrap() {
                    "described" => t["description"].as_str().unwrap().to_owned(),
                    title => title.to_owned(),
                }
            })
            .collect();
        out.sort();
        out
    };
    let pct = "100% _done_ \\ back\\slash";
    let sql = "'; DROP TABLE tasks; --";
    let nfc = "caf\u{e9} nfc";
    let nfd = "cafe\u{301} nfd";
    let fraktur = "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𠜎𠜱 𓀀";
    for (q, want) in [
        ("drop table", vec![sql, sql]),
        ("caf\u{e9}", vec![nfc, nfc]),
        ("cafe", vec![nfd, nfd]),
        ("caf", vec![nfc, nfc, nfd, nfd]),
        ("𝔘𝔫𝔦", vec![fraktur, fraktur]),
        ("100 done", vec![pct, pct]),
    ] {
        let mut want: Vec<String> = want.into_iter().map(str::to_owned).collect();
        want.sort();
        assert_eq!(
            texts_of(search(&s, &ann, "/tasks", q).await),
            want,
            "search {q:?}"
        );
    }
    for q in ["%", "_", "\\", ".*", "🎉", "\u{0}"] {
        assert_eq!(
            search(&s, &ann, "/tasks", q).await,
            Some(BTreeSet::new()),
            "search {q:?} has no word: it matches nothing"
        );
    }
    for (q, email) in [("%", "%@example.com"), ("_", "_@example.com")] {
        let found = search(&s, &admin, "/users", q)
            .await
            .expect("a valid search");
        let emails: Vec<&Value> = found.iter().map(|id| &users[id]["email"]).collect();
        assert_eq!(emails, [email], "users matching {q:?}");
    }
    for q in ["nul\u{0}byte", "\u{0}", "a\nb"] {
        assert_eq!(
            search(&s, &admin, "/users", q).await,
            None,
            "user search {q:?}"
        );
    }

    assert_intact(&s, &ann, &tasks).await;
    let r = s
        .as_user(Method::GET, "/users?limit=100", &admin.access)
        .send()
        .await
        .unwrap();
    let page: Value = r.json().await.unwrap();
    let listed: BTreeMap<String, Value> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| (u["id"].as_str().unwrap().to_owned(), u.clone()))
        .collect();
    assert_eq!(
        listed, users,
        "the accounts are exactly the accepted ones, as accepted"
    );
}
