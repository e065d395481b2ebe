//! Scenarios: access tokens, refresh rotation, logout.

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::TimeDelta;

use super::{Harness, PASSWORD, SECRET, concurrently, expect_code};
use crate::Store;

fn b64(json: &serde_json::Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(json).unwrap())
}

fn payload_of(token: &str) -> serde_json::Value {
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

/// Only untampered HS256 `at+jwt` tokens of this issuer and audience, signed with this
/// key, authenticate; the principal's role is the user's current one.
pub async fn access_tokens_are_verified_strictly(store: Arc<dyn Store>) {
    let h = Harness::new(Arc::clone(&store));
    let a = h.account("strict").await;
    let token = &a.tokens.access_token;
    let p = h.tf.authenticate(token).await.unwrap();
    assert_eq!(p.user_id, a.user.id);
    assert_eq!(p.role.as_str(), "user");
    let claims = payload_of(token);
    for claim in ["sub", "role", "sid", "jti", "iat", "exp", "iss", "aud"] {
        assert!(claims.get(claim).is_some(), "claim {claim} missing");
    }

    let parts: Vec<&str> = token.split('.').collect();
    let mut forged = claims.clone();
    forged["role"] = "admin".into();
    let tampered = format!("{}.{}.{}", parts[0], b64(&forged), parts[2]);
    let alg_none = format!(
        "{}.{}.",
        b64(&serde_json::json!({"alg": "none", "typ": "at+jwt"})),
        parts[1]
    );
    let sign = |header: jsonwebtoken::Header, claims: &serde_json::Value, key: &[u8]| {
        jsonwebtoken::encode(
            &header,
            claims,
            &jsonwebtoken::EncodingKey::from_secret(key),
        )
        .unwrap()
    };
    let mut at_jwt = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    at_jwt.typ = Some("at+jwt".into());
    let other_key = sign(
        at_jwt.clone(),
        &claims,
        b"another-secret-that-is-long-enough-0123",
    );
    let plain_typ = sign(
        jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        SECRET,
    );
    let mut hs512 = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS512);
    hs512.typ = Some("at+jwt".into());
    let other_alg = sign(hs512, &claims, SECRET);
    let mut wrong_aud = claims.clone();
    wrong_aud["aud"] = "someone-else".into();
    let wrong_aud = sign(at_jwt.clone(), &wrong_aud, SECRET);
    let mut wrong_iss = claims.clone();
    wrong_iss["iss"] = "evil".into();
    let wrong_iss = sign(at_jwt.clone(), &wrong_iss, SECRET);
    let mut no_exp = claims.clone();
    no_exp.as_object_mut().unwrap().remove("exp");
    let no_exp = sign(at_jwt.clone(), &no_exp, SECRET);
    let huge = "a".repeat(10_000);

    for (what, bad) in [
        ("empty", ""),
        ("garbage", "not.a.jwt"),
        ("tampered claims", tampered.as_str()),
        ("alg none", alg_none.as_str()),
        ("foreign key", other_key.as_str()),
        ("typ JWT", plain_typ.as_str()),
        ("HS512", other_alg.as_str()),
        ("audience", wrong_aud.as_str()),
        ("issuer", wrong_iss.as_str()),
        ("no exp", no_exp.as_str()),
        ("huge", huge.as_str()),
        (
            "refresh token as access token",
            a.tokens.refresh_token.as_str(),
        ),
    ] {
        let r = h.tf.authenticate(bad).await;
        assert!(r.is_err(), "{what} token was accepted");
        expect_code(r, "unauthenticated");
    }

    // A token of another deployment (other secret) over the same data is refused.
    let other = Harness::with(store, |b| {
        b.jwt_secret(b"a-different-deployment-secret-0123456789")
    });
    let foreign = other
        .tf
        .login("strict@example.com", PASSWORD, None)
        .await
        .unwrap();
    expect_code(
        h.tf.authenticate(&foreign.access_token).await,
        "unauthenticated",
    );
}

/// Access tokens stop working after their lifetime (15 minutes by default).
pub async fn access_tokens_expire(store: Arc<dyn Store>) {
    let h = Harness::new(store);
    let a = h.account("expiring").await;
    assert_eq!(a.tokens.expires_in, 900);
    assert_eq!(a.tokens.token_type, "Bearer");
    h.advance(TimeDelta::seconds(899));
    h.tf.authenticate(&a.tokens.access_token).await.unwrap();
    h.advance(TimeDelta::seconds(1));
    expect_code(
        h.tf.authenticate(&a.tokens.access_token).await,
        "unauthenticated",
    );
    // The refresh token still works and yields a fresh access token.
    let pair = h.tf.refresh(&a.tokens.refresh_token).await.unwrap();
    h.tf.authenticate(&pair.access_token).await.unwrap();
}

/// Each refresh spends the presented token; presenting a spent one revokes the whole
/// family, including the newest tokens and their access tokens.
pub async fn refresh_rotates_and_reuse_revokes_the_family(store: Arc<dyn Store>) {
    let h = Harness::new(store);
    let a = h.account("rotator").await;
    let second = h.tf.refresh(&a.tokens.refresh_token).await.unwrap();
    assert_ne!(second.refresh_token, a.tokens.refresh_token);
    assert_ne!(second.access_token, a.tokens.access_token);
    assert_eq!(second.user.id, a.user.id);
    let third = h.tf.refresh(&second.refresh_token).await.unwrap();
    h.tf.authenticate(&third.access_token).await.unwrap();
    // Another session of the same user is independent.
    let other =
        h.tf.login("rotator@example.com", PASSWORD, None)
            .await
            .unwrap();

    // Replay of a spent token.
    expect_code(
        h.tf.refresh(&a.tokens.refresh_token).await,
        "unauthenticated",
    );
    expect_code(h.tf.refresh(&third.refresh_token).await, "unauthenticated");
    expect_code(
        h.tf.authenticate(&third.access_token).await,
        "unauthenticated",
    );
    expect_code(
        h.tf.authenticate(&a.tokens.access_token).await,
        "unauthenticated",
    );

    h.tf.authenticate(&other.access_token).await.unwrap();
    h.tf.refresh(&other.refresh_token).await.unwrap();
}

/// Of concurrent refreshes with one token exactly one succeeds; the others count as reuse.
pub async fn concurrent_refreshes_of_one_token_let_exactly_one_win(store: Arc<dyn Store>) {
    let h = Arc::new(Harness::new(store));
    let a = h.account("racer").await;
    let token = Arc::new(a.tokens.refresh_token.clone());
    let results = concurrently(8, |_| {
        let h = Arc::clone(&h);
        let token = Arc::clone(&token);
        async move { h.tf.refresh(&token).await }
    })
    .await;
    assert_eq!(
        results.iter().filter(|r| r.is_ok()).count(),
        1,
        "one winner"
    );
    for r in results.into_iter().filter(Result::is_err) {
        expect_code(r, "unauthenticated");
    }
    // The losers presented a spent token, so the family is revoked.
    expect_code(
        h.tf.authenticate(&a.tokens.access_token).await,
        "unauthenticated",
    );
}

/// A refresh token lives 7 days; every rotation starts a new 7 days.
pub async fn refresh_tokens_expire_and_rotation_extends_them(store: Arc<dyn Store>) {
    let h = Harness::new(store);
    let a = h.account("sliding").await;
    h.advance(TimeDelta::days(6));
    let pair = h.tf.refresh(&a.tokens.refresh_token).await.unwrap();
    h.advance(TimeDelta::days(6));
    let pair = h.tf.refresh(&pair.refresh_token).await.unwrap();
    h.advance(TimeDelta::days(7));
    expect_code(h.tf.refresh(&pair.refresh_token).await, "unauthenticated");
}

/// Rotation slides a session's expiry, but never past its absolute lifetime (30 days by
/// default) after the login.
pub async fn sessions_end_at_their_absolute_lifetime(store: Arc<dyn Store>) {
    let h = Harness::new(store);
    let a = h.account("forever").await;
    let mut token = a.tokens.refresh_token;
    for _ in 0..4 {
        h.advance(TimeDelta::days(6));
        token = h.tf.refresh(&token).await.unwrap().refresh_token;
    }
    // Day 29: still inside the lifetime, although the last rotation was 5 days ago.
    h.advance(TimeDelta::days(5));
    token = h.tf.refresh(&token).await.unwrap().refresh_token;
    // Day 30: over, although that rotation was a moment ago.
    h.advance(TimeDelta::days(1));
    expect_code(h.tf.refresh(&token).await, "unauthenticated");
    // A new login starts a new session.
    h.tf.login("forever@example.com", PASSWORD, None)
        .await
        .unwrap();
}

/// Tokens of the wrong shape, unknown, or not issued by this server are refused, and a made-up
/// token naming a real session does not end that session.
pub async fn malformed_refresh_tokens_are_rejected(store: Arc<dyn Store>) {
    let h = Harness::new(store);
    let a = h.account("shapes").await;
    let (sid, _) = a.tokens.refresh_token.split_once('.').unwrap();
    let unknown_secret = format!("{sid}.{}.{}", "A".repeat(43), "A".repeat(22));
    let unknown_session = format!("{}.{}.{}", "0".repeat(32), "A".repeat(43), "A".repeat(22));
    let truncated = &a.tokens.refresh_token[..a.tokens.refresh_token.len() - 1];
    for bad in [
        "",
        "abc",
        "x.y",
        "x.y.z",
        unknown_session.as_str(),
        truncated,
        a.tokens.access_token.as_str(),
        // Knowing a session id (it is in every access token) and making up the rest:
        unknown_secret.as_str(),
    ] {
        expect_code(h.tf.refresh(bad).await, "unauthenticated");
    }
    // None of that touched the session: its real token still rotates.
    let rotated = h.tf.refresh(&a.tokens.refresh_token).await.unwrap();
    h.tf.authenticate(&rotated.access_token).await.unwrap();
}

/// Logout ends the session: its refresh token and every access token issued from it
/// stop working; other sessions continue.
pub async fn logout_ends_the_session_and_its_access_token(store: Arc<dyn Store>) {
    let h = Harness::new(store);
    let a = h.account("leaver").await;
    let other =
        h.tf.login("leaver@example.com", PASSWORD, None)
            .await
            .unwrap();
    let third =
        h.tf.login("leaver@example.com", PASSWORD, None)
            .await
            .unwrap();
    h.tf.logout(&a.principal, Some(&a.tokens.refresh_token))
        .await
        .unwrap();
    expect_code(
        h.tf.authenticate(&a.tokens.access_token).await,
        "unauthenticated",
    );
    expect_code(
        h.tf.refresh(&a.tokens.refresh_token).await,
        "unauthenticated",
    );
    h.tf.authenticate(&other.access_token).await.unwrap();
    // Logging out with another session's refresh token of the same user ends that one too.
    let p_other = h.tf.authenticate(&other.access_token).await.unwrap();
    h.tf.logout(&p_other, Some(&third.refresh_token))
        .await
        .unwrap();
    expect_code(
        h.tf.authenticate(&other.access_token).await,
        "unauthenticated",
    );
    expect_code(
        h.tf.authenticate(&third.access_token).await,
        "unauthenticated",
    );
    // Logging out twice is harmless.
    h.tf.logout(&a.principal, None).await.unwrap();
}

/// A refresh token of another user passed to logout is ignored.
pub async fn logout_ignores_refresh_tokens_of_other_users(store: Arc<dyn Store>) {
    let h = Harness::new(store);
    let a = h.account("mallory").await;
    let b = h.account("alice").await;
    h.tf.logout(&a.principal, Some(&b.tokens.refresh_token))
        .await
        .unwrap();
    h.tf.authenticate(&b.tokens.access_token).await.unwrap();
    h.tf.refresh(&b.tokens.refresh_token).await.unwrap();
}

/// Logout-all ends every session of the user, the current one included, and no other
/// user's.
pub async fn logout_all_ends_every_session(store: Arc<dyn Store>) {
    let h = Harness::new(store);
    let a = h.account("everywhere").await;
    let other =
        h.tf.login("everywhere@example.com", PASSWORD, None)
            .await
            .unwrap();
    let bystander = h.account("bystander").await;
    h.tf.logout_all(&a.principal).await.unwrap();
    for t in [&a.tokens, &other] {
        expect_code(h.tf.authenticate(&t.access_token).await, "unauthenticated");
        expect_code(h.tf.refresh(&t.refresh_token).await, "unauthenticated");
    }
    h.tf.authenticate(&bystander.tokens.access_token)
        .await
        .unwrap();
    // Logging in again works.
    h.tf.login("everywhere@example.com", PASSWORD, None)
        .await
        .unwrap();
}

/// Expired sessions are purged; live ones are kept.
pub async fn expired_sessions_are_purged(store: Arc<dyn Store>) {
    let h = Harness::new(store);
    let old = h.account("old").await;
    h.advance(TimeDelta::days(3));
    let fresh = h.account("fresh").await;
    h.advance(TimeDelta::days(5));
    assert_eq!(h.tf.purge_expired_sessions().await.unwrap(), 1);
    let old_sid = old.principal.session_id.unwrap();
    assert!(h.store.get_session(old_sid).await.unwrap().is_none());
    h.tf.refresh(&fresh.tokens.refresh_token).await.unwrap();
}
