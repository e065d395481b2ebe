//! The `Authorization` header as the HTTP app reads it (poem-openapi's bearer scheme, then
//! core's `authenticate`), on `GET /api/v1/auth/me`.
//!
//! Input: the header value's bytes; in UTF-8 input `$ALICE_ACCESS` (and the other
//! placeholders) become live values. Values no HTTP parser would deliver are skipped.
//!
//! Invariants:
//! - `200` only for `Bearer <live access token>` (scheme in any case, then spaces as
//!   RFC 6750's `1*SP` allows, or tabs, then the exact token), answering that account's
//!   user; and such a header always gets `200`;
//! - everything else is `401 unauthenticated` with `WWW-Authenticate: Bearer ...`:
//!   never `400`, never `5xx`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use poem::http::{HeaderValue, header};
use taskflow_fuzz::{expect_problem, get, json_body, substitute, world};

fuzz_target!(|data: &[u8]| {
    let w = world();
    let value = match std::str::from_utf8(data) {
        Ok(text) => substitute(text, &w.alice).into_bytes(),
        Err(_) => data.to_vec(),
    };
    let Ok(header_value) = HeaderValue::from_bytes(&value) else {
        return;
    };
    let token = value
        .get(..7)
        .filter(|scheme| scheme.eq_ignore_ascii_case(b"bearer "))
        .map(|_| value[7..].trim_ascii_start());
    let account = [&w.alice, &w.bob, &w.admin]
        .into_iter()
        .find(|a| token == Some(a.tokens.access_token.as_bytes()));
    let resp = get("/api/v1/auth/me", Some(header_value)).expect("a valid URI");
    match account {
        Some(account) => {
            assert_eq!(resp.status().as_u16(), 200, "a live token was refused");
            let body = json_body(resp);
            assert_eq!(body["id"], account.user.id.to_string().as_str());
        }
        None => {
            let challenge = resp
                .headers()
                .get(header::WWW_AUTHENTICATE)
                .map(|v| v.as_bytes().to_vec());
            expect_problem(resp, 401, "unauthenticated");
            assert!(
                challenge.is_some_and(|c| c.starts_with(b"Bearer")),
                "401 without a Bearer challenge"
            );
        }
    }
});
