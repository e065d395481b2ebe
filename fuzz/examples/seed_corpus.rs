//! Writes the checked-in seed corpus, `fuzz/corpus/<target>/seed-*`, from the fuzz world:
//! real cursors, typical query strings, real-format tokens and templates with placeholders.
//!
//! ```text
//! cargo run --manifest-path fuzz/Cargo.toml --example seed_corpus
//! ```
//!
//! The world's clock is stopped and its secret fixed, so the tokens and cursors written
//! here stay well-formed and correctly signed; the ids in them belong to the run that wrote
//! them, so they exercise the "valid signature, unknown user or session" paths, while the
//! placeholders reach the live ones.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use taskflow_core::TaskQuery;
use taskflow_fuzz::{
    ALICE_ACCESS, ALICE_ID, ALICE_REFRESH, ALICE_SID, ALICE_SID_HEX, BOB_ID, CURSOR, SORTS,
    block_on, now, preset, world,
};

fn write(target: &str, name: &str, bytes: &[u8]) {
    let dir: PathBuf = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("corpus")
        .join(target);
    std::fs::create_dir_all(&dir).expect("create the corpus directory");
    std::fs::write(dir.join(format!("seed-{name}")), bytes).expect("write a seed");
}

fn with_prefix(prefix: &[u8], text: &str) -> Vec<u8> {
    let mut bytes = prefix.to_vec();
    bytes.extend_from_slice(text.as_bytes());
    bytes
}

fn sort_index(sort: &str) -> u8 {
    SORTS.iter().position(|s| *s == sort).expect("a sort") as u8
}

fn cursor_seeds() {
    let w = world();
    for sort in ["-created_at", "due_date", "priority"] {
        let i = sort_index(sort);
        let cursor = &w.cursors[usize::from(i)];
        let name = sort.trim_start_matches('-');
        write(
            "cursor",
            &format!("{name}-text"),
            &with_prefix(&[i, 0, 5, 0], cursor),
        );
        let payload = URL_SAFE_NO_PAD.decode(cursor).expect("a base64 cursor");
        write(
            "cursor",
            &format!("{name}-json"),
            &[&[i, 0, 5, 1][..], &payload].concat(),
        );
    }
    // A cursor bound to a filter (preset 3: tag=work).
    let i = sort_index("-priority");
    let page = block_on(w.tf.list_tasks(
        &w.alice.principal,
        TaskQuery {
            sort: Some("-priority".into()),
            limit: Some(2),
            ..preset(3)
        },
    ))
    .expect("a valid listing");
    let cursor = page.next_cursor.expect("more than 2 tasks tagged work");
    write(
        "cursor",
        "filtered-text",
        &with_prefix(&[i, 3, 2, 0], &cursor),
    );
    // A due-date cursor positioned among the tasks without a due date.
    let i = sort_index("due_date");
    let payload = URL_SAFE_NO_PAD
        .decode(&w.cursors[usize::from(i)])
        .expect("a base64 cursor");
    let mut json: serde_json::Value = serde_json::from_slice(&payload).expect("JSON");
    json["p"] = serde_json::json!({"t": "Null"});
    write(
        "cursor",
        "null-due-json",
        &[&[i, 0, 7, 1][..], json.to_string().as_bytes()].concat(),
    );
    write(
        "cursor",
        "garbage",
        &with_prefix(&[1, 0, 20, 0], "not-a-cursor"),
    );
}

fn http_query_seeds() {
    let seeds: [(&str, u8, String); 10] = [
        ("readme", 0, "status=todo,in_progress&sort=-priority".into()),
        ("page", 0, "limit=5&page=2&sort=due_date".into()),
        ("search", 0, "q=rev&tag=work&overdue=true".into()),
        (
            "due-range",
            0,
            "due_before=2026-06-02T00:00:00Z&due_after=2026-05-30T00:00:00.000Z&priority=high,urgent"
                .into(),
        ),
        ("cursor", 0, format!("cursor={CURSOR}&limit=3")),
        ("user-owner", 0, format!("owner_id={BOB_ID}")),
        ("admin-owner", 1, format!("owner_id={BOB_ID}&limit=100&sort=updated_at")),
        ("page-and-cursor", 1, format!("page=2&cursor={CURSOR}")),
        ("anonymous", 2, "limit=1".into()),
        ("invalid", 0, "limit=0&page=0&sort=title&status=open&due_before=soon".into()),
    ];
    for (name, caller, query) in seeds {
        write("list_query_http", name, &with_prefix(&[caller], &query));
    }
}

/// The decoded header and claims of alice's access token, with her live ids turned into
/// placeholders.
fn alice_token_parts() -> (String, String) {
    let w = world();
    let mut parts = w.alice.tokens.access_token.split('.');
    let mut next = || {
        String::from_utf8(
            URL_SAFE_NO_PAD
                .decode(parts.next().expect("three parts"))
                .expect("base64"),
        )
        .expect("UTF-8")
    };
    let header = next();
    let sid = w.alice.principal.session_id.expect("a session").to_string();
    let claims = next()
        .replace(&w.alice.user.id.to_string(), ALICE_ID)
        .replace(&sid, ALICE_SID);
    (header, claims)
}

fn token_seeds() {
    let w = world();
    write("tokens", "live-access", &with_prefix(&[0], ALICE_ACCESS));
    write(
        "tokens",
        "stale-access",
        &with_prefix(&[0], &w.alice.tokens.access_token),
    );
    write(
        "tokens",
        "alg-none",
        &with_prefix(&[0], "eyJhbGciOiJub25lIiwidHlwIjoiYXQrand0In0.e30."),
    );
    let (header, claims) = alice_token_parts();
    write(
        "tokens",
        "forged-live",
        &with_prefix(&[1], &format!("{header}\n{claims}")),
    );
    let exp = (now().timestamp() + 900).to_string();
    let variants = [
        (
            "forged-typ-jwt",
            header.replace("at+jwt", "JWT"),
            claims.clone(),
        ),
        (
            "forged-hs384",
            header.replace("HS256", "HS384"),
            claims.clone(),
        ),
        (
            "forged-admin-role",
            header.clone(),
            claims.replace("\"user\"", "\"admin\""),
        ),
        (
            "forged-audience",
            header.clone(),
            claims.replace("taskflow-api", "other-api"),
        ),
        (
            "forged-expired",
            header.clone(),
            claims.replace(&exp, &now().timestamp().to_string()),
        ),
        (
            "forged-bob",
            header.clone(),
            claims.replace(ALICE_ID, BOB_ID),
        ),
    ];
    for (name, header, claims) in variants {
        write(
            "tokens",
            name,
            &with_prefix(&[1], &format!("{header}\n{claims}")),
        );
    }
    write("tokens", "live-refresh", &with_prefix(&[2], ALICE_REFRESH));
    write(
        "tokens",
        "stale-refresh",
        &with_prefix(&[2], &w.alice.tokens.refresh_token),
    );
    write(
        "tokens",
        "reused-session",
        &with_prefix(
            &[2],
            &format!("{ALICE_SID_HEX}.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
        ),
    );
    write(
        "tokens",
        "garbage-refresh",
        &with_prefix(&[2], "not.a-token"),
    );
}

fn auth_header_seeds() {
    let w = world();
    let seeds = [
        ("live", format!("Bearer {ALICE_ACCESS}")),
        ("lowercase-scheme", format!("bearer {ALICE_ACCESS}")),
        ("two-spaces", format!("Bearer  {ALICE_ACCESS}")),
        ("no-scheme", ALICE_ACCESS.to_owned()),
        ("stale", format!("Bearer {}", w.alice.tokens.access_token)),
        ("basic", "Basic YWxpY2U6cGFzc3dvcmQ=".to_owned()),
        ("empty-bearer", "Bearer ".to_owned()),
    ];
    for (name, value) in seeds {
        write("auth_header", name, value.as_bytes());
    }
}

fn main() {
    cursor_seeds();
    http_query_seeds();
    token_seeds();
    auth_header_seeds();
    println!("seeds written under {}/corpus", env!("CARGO_MANIFEST_DIR"));
}
