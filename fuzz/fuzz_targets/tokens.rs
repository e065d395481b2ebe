//! Token parsing in core: `authenticate` on arbitrary bearer strings and on JWTs the
//! target signs with the real secret from fuzzed header and claims, and `refresh` on
//! arbitrary refresh tokens.
//!
//! Input: `[mode, text...]`, placeholders (`$ALICE_ACCESS`, `$ALICE_REFRESH`, `$ALICE_ID`,
//! `$ALICE_SID`, `$ALICE_SID_HEX`, `$BOB_ID`) replaced by live values.
//! - mode 0: `authenticate(text)`;
//! - mode 1: `authenticate` of `b64(header).b64(claims).HS256-signature`, with header and
//!   claims the two halves of `text` split at the first newline;
//! - mode 2: `refresh(text)` in a fresh world (refresh changes state).
//!
//! Invariants:
//! - every failure is `unauthenticated`, never another error;
//! - only a live access token authenticates, as exactly its account (role from the
//!   store, whatever a token claims);
//! - a correctly signed token authenticates only if its header is `alg: HS256`,
//!   `typ: at+jwt` and its claims carry this issuer and audience, an unexpired `exp`, and
//!   the `sub` and `sid` of a live session;
//! - only the live refresh token refreshes; the new access token then works, and the spent
//!   refresh token is refused and ends the family; a refused token leaves alice's session
//!   intact unless it names that session (reuse detection may then end it).
#![no_main]

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use taskflow_core::{Error, Principal, Result};
use taskflow_fuzz::{
    AUDIENCE, Account, ISSUER, SECRET, account, block_on, now, substitute, taskflow, world,
};

fn expect_unauthenticated<T: std::fmt::Debug>(result: Result<T>, what: &str) {
    match result {
        Err(Error::Unauthenticated(_)) => {}
        other => panic!("{what}: expected unauthenticated, got {other:?}"),
    }
}

/// The live account `principal` must be, if `token` is its access token.
fn live_account_of(token: &str) -> Option<&'static Account> {
    let w = world();
    [&w.alice, &w.bob, &w.admin]
        .into_iter()
        .find(|a| a.tokens.access_token == token)
}

fn check_authenticated(principal: &Principal, account: &Account) {
    assert_eq!(
        principal, &account.principal,
        "authenticated as someone else"
    );
}

fn authenticate_raw(text: &str) {
    let w = world();
    match block_on(w.tf.authenticate(text)) {
        Ok(principal) => {
            let account = live_account_of(text)
                .unwrap_or_else(|| panic!("{text:?} authenticated as {principal:?}"));
            check_authenticated(&principal, account);
        }
        result => expect_unauthenticated(result, "authenticate"),
    }
}

fn authenticate_forged(text: &str) {
    let (header, claims) = text.split_once('\n').unwrap_or((text, ""));
    let message = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(claims)
    );
    let signature = jsonwebtoken::crypto::sign(
        message.as_bytes(),
        &EncodingKey::from_secret(SECRET),
        Algorithm::HS256,
    )
    .expect("HMAC signing cannot fail");
    let token = format!("{message}.{signature}");
    let w = world();
    let principal = match block_on(w.tf.authenticate(&token)) {
        Ok(principal) => principal,
        result => return expect_unauthenticated(result, "authenticate a forged token"),
    };
    let header: Value = serde_json::from_str(header).expect("an accepted header is JSON");
    let claims: Value = serde_json::from_str(claims).expect("accepted claims are JSON");
    assert_eq!(header["alg"], "HS256", "accepted header {header}");
    assert_eq!(header["typ"], "at+jwt", "accepted header {header}");
    assert_eq!(claims["iss"], ISSUER, "accepted claims {claims}");
    assert_eq!(claims["aud"], AUDIENCE, "accepted claims {claims}");
    assert!(
        claims["iat"].is_i64() || claims["iat"].is_u64(),
        "accepted claims {claims}"
    );
    let exp = claims["exp"].as_i64().expect("an integer exp");
    assert!(
        exp > now().timestamp(),
        "an expired token was accepted: {claims}"
    );
    let account = [&w.alice, &w.bob, &w.admin]
        .into_iter()
        .find(|a| {
            claims["sub"] == a.user.id.to_string().as_str()
                && Some(claims["sid"].as_str().unwrap_or_default())
                    == a.principal.session_id.map(|s| s.to_string()).as_deref()
        })
        .unwrap_or_else(|| panic!("claims of no live session accepted: {claims}"));
    check_authenticated(&principal, account);
}

fn refresh(text: &str) {
    block_on(async {
        let tf = taskflow();
        let alice = account(&tf, "alice", false).await;
        let text = substitute(text, &alice);
        let live = &alice.tokens;
        match tf.refresh(&text).await {
            Ok(pair) => {
                assert_eq!(
                    text, live.refresh_token,
                    "a refresh with a token never issued"
                );
                let principal = tf
                    .authenticate(&pair.access_token)
                    .await
                    .expect("the refreshed access token works");
                assert_eq!(principal, alice.principal, "refreshed into another session");
                expect_unauthenticated(tf.refresh(&text).await, "a spent refresh token");
                expect_unauthenticated(
                    tf.authenticate(&pair.access_token).await,
                    "the family after reuse",
                );
            }
            result => {
                expect_unauthenticated(result, "refresh");
                let sid = alice.principal.session_id.expect("a session");
                let names_session = text.get(..33).is_some_and(|p| {
                    p.eq_ignore_ascii_case(&format!("{}.", sid.as_uuid().simple()))
                });
                if !names_session {
                    tf.authenticate(&live.access_token)
                        .await
                        .expect("a refused refresh token ended a session it does not name");
                    tf.refresh(&live.refresh_token)
                        .await
                        .expect("a refused refresh token spent another");
                }
            }
        }
    });
}

fuzz_target!(|data: &[u8]| {
    let [mode, rest @ ..] = data else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    match mode % 3 {
        0 => authenticate_raw(&substitute(text, &world().alice)),
        1 => authenticate_forged(&substitute(text, &world().alice)),
        _ => refresh(text),
    }
});
