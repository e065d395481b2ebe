//! Scenarios: registration, login, password handling, profile.

use std::sync::Arc;
use std::time::Duration;

use chrono::TimeDelta;

use super::{Harness, PASSWORD, concurrently, expect_code, expect_invalid_fields, registration};
use crate::{Error, ProfileUpdate, Registration, Role, Store, User, UserId, UserRecord};

/// Registration trims and lower-cases the email, trims the name, and always assigns role
/// `user`; timestamps come from the clock.
pub async fn register_normalises_and_assigns_user_role(store: Arc<dyn Store>) {
    let h = Harness::new(store);
    let user =
        h.tf.register(Registration {
            email: "  Ada.Lovelace@Example.COM ".into(),
            password: PASSWORD.into(),
            name: "  Ada  ".into(),
        })
        .await
        .unwrap();
    assert_eq!(user.email, "ada.lovelace@example.com");
    assert_eq!(user.name, "Ada");
    assert_eq!(user.role, Role::user());
    assert!(!user.disabled);
    assert_eq!(user.created_at, h.now());
    assert_eq!(user.updated_at, h.now());
    let stored = h.store.get_user(user.id).await.unwrap().unwrap();
    assert_eq!(stored.user, user);
    assert_eq!(stored.version, 1);
    assert!(stored.password_hash.starts_with("$argon2id$"));
    let by_email = h
        .store
        .get_user_by_email("ada.lovelace@example.com")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(by_email.user, user);
}

/// A second account with the same email, in any case and padding, is a conflict.
pub async fn register_rejects_duplicate_email_case_insensitively(store: Arc<dyn Store>) {
    let h = Harness::new(store);
    h.tf.register(registration("dup")).await.unwrap();
    let again = Registration {
        email: " DUP@example.com".into(),
        ..registration("dup")
    };
    expect_code(h.tf.register(again).await, "conflict");
    expect_code(h.tf.create_admin(registration("dup")).await, "conflict");
}

/// Every invalid field is reported at once.
pub async fn register_reports_every_invalid_field(store: Arc<dyn Store>) {
    let h = Harness::new(store);
    let bad = Registration {
        email: "not-an-email".into(),
        password: "short".into(),
        name: "   ".into(),
    };
    expect_invalid_fields(h.tf.register(bad).await, &["email", "name", "password"]);
    for email in ["", "a@", "@b.c", "a b@c.d", "a@b@c", "x@.com"] {
        let r = Registration {
            email: email.into(),
            ..registration("x")
        };
        expect_invalid_fields(h.tf.register(r).await, &["email"]);
    }
}

/// The most common passwords are refused, in any letter case, at registration, for admins
/// and on a password change (ASVS 5.0 6.2.4).
pub async fn common_passwords_are_refused(store: Arc<dyn Store>) {
    let h = Harness::new(store);
    for (i, common) in ["password", "Iloveyou", "QWERTYUIOP", "12345678"]
        .into_iter()
        .enumerate()
    {
        let reg = Registration {
            password: common.to_owned(),
            ..registration(&format!("common{i}"))
        };
        expect_invalid_fields(h.tf.register(reg.clone()).await, &["password"]);
        expect_invalid_fields(h.tf.create_admin(reg).await, &["password"]);
    }
    let a = h.account("careful").await;
    expect_invalid_fields(
        h.tf.change_password(&a.principal, PASSWORD, "Sunshine")
            .await,
        &["new_password"],
    );
    // The old password still works: nothing changed.
    h.tf.login("careful@example.com", PASSWORD).await.unwrap();
}

/// Passwords of 8 and 128 characters are accepted; 7 and 129 are not. Characters, not bytes.
pub async fn password_length_limits_hold_at_their_boundaries(store: Arc<dyn Store>) {
    let h = Harness::new(store);
    for (i, (len, ok)) in [(7, false), (8, true), (128, true), (129, false)]
        .into_iter()
        .enumerate()
    {
        let r = Registration {
            password: "é".repeat(len),
            ..registration(&format!("pw{i}"))
        };
        let result = h.tf.register(r).await;
        if ok {
            result.unwrap();
        } else {
            expect_invalid_fields(result, &["password"]);
        }
    }
}

/// Concurrent registrations of one email: exactly one account is created.
pub async fn concurrent_registrations_of_one_email_create_one_account(store: Arc<dyn Store>) {
    let h = Arc::new(Harness::new(store));
    let results = concurrently(8, |_| {
        let h = Arc::clone(&h);
        async move { h.tf.register(registration("race")).await }
    })
    .await;
    let ok = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(ok, 1, "exactly one registration wins");
    for r in results.into_iter().filter(Result::is_err) {
        expect_code(r, "conflict");
    }
}

/// Unknown email and wrong password give the same error.
pub async fn login_fails_alike_for_unknown_email_and_wrong_password(store: Arc<dyn Store>) {
    let h = Harness::new(store);
    h.account("known").await;
    let wrong = expect_code(
        h.tf.login("known@example.com", "wrong password").await,
        "unauthenticated",
    );
    let unknown = expect_code(
        h.tf.login("nobody@example.com", PASSWORD).await,
        "unauthenticated",
    );
    let malformed = expect_code(
        h.tf.login("not an email", PASSWORD).await,
        "unauthenticated",
    );
    assert_eq!(wrong.to_string(), unknown.to_string());
    assert_eq!(wrong.to_string(), malformed.to_string());
    // Email lookup is case-insensitive.
    h.tf.login(" KNOWN@Example.com ", PASSWORD).await.unwrap();
}

/// After five failures in 15 minutes the account is throttled (even with the right
/// password), with a retry-after that runs out when the window has passed.
pub async fn login_throttles_after_five_failures(store: Arc<dyn Store>) {
    let h = Harness::new(store);
    h.account("victim").await;
    h.account("bystander").await;
    for _ in 0..5 {
        expect_code(
            h.tf.login("victim@example.com", "nope nope").await,
            "unauthenticated",
        );
        h.advance(TimeDelta::seconds(10));
    }
    match expect_code(
        h.tf.login("victim@example.com", PASSWORD).await,
        "rate_limited",
    ) {
        Error::RateLimited { retry_after } => {
            assert!(retry_after > Duration::ZERO);
            assert!(retry_after <= Duration::from_secs(15 * 60));
        }
        other => panic!("unexpected {other:?}"),
    }
    // Unknown accounts are throttled the same way (no account enumeration).
    for _ in 0..5 {
        let _ = h.tf.login("ghost@example.com", "nope nope").await;
    }
    expect_code(
        h.tf.login("ghost@example.com", PASSWORD).await,
        "rate_limited",
    );
    // Other accounts are unaffected.
    h.tf.login("bystander@example.com", PASSWORD).await.unwrap();
    // The window passes.
    h.advance(TimeDelta::minutes(15));
    h.tf.login("victim@example.com", PASSWORD).await.unwrap();
}

/// A bcrypt hash imported from another system verifies, and the first successful login
/// replaces it with argon2id.
pub async fn imported_bcrypt_hash_is_verified_and_upgraded(store: Arc<dyn Store>) {
    let h = Harness::new(store);
    let now = h.now();
    for (i, prefix) in ["2a", "2b", "2y"].into_iter().enumerate() {
        let hash = bcrypt::hash_with_salt(PASSWORD, 4, [7u8; 16])
            .unwrap()
            .format_for_version(match prefix {
                "2a" => bcrypt::Version::TwoA,
                "2b" => bcrypt::Version::TwoB,
                _ => bcrypt::Version::TwoY,
            });
        assert!(hash.starts_with(&format!("${prefix}$")));
        let record = UserRecord {
            user: User {
                id: UserId::new(),
                email: format!("imported{i}@example.com"),
                name: "Imported".into(),
                role: Role::user(),
                disabled: false,
                created_at: now,
                updated_at: now,
            },
            password_hash: hash,
            version: 1,
        };
        h.store.insert_user(&record).await.unwrap();
        expect_code(
            h.tf.login(&record.user.email, "wrong password").await,
            "unauthenticated",
        );
        h.tf.login(&record.user.email, PASSWORD).await.unwrap();
        let upgraded = h.store.get_user(record.user.id).await.unwrap().unwrap();
        assert!(upgraded.password_hash.starts_with("$argon2id$"));
        assert_eq!(upgraded.version, 2);
        h.tf.login(&record.user.email, PASSWORD).await.unwrap();
    }
}

/// Changing the password keeps the current session, ends all others, and needs the
/// current password.
pub async fn change_password_ends_other_sessions_only(store: Arc<dyn Store>) {
    let h = Harness::new(store);
    let a = h.account("changer").await;
    let other = h.tf.login("changer@example.com", PASSWORD).await.unwrap();
    expect_code(
        h.tf.change_password(&a.principal, "not the password", "a brand new password")
            .await,
        "unauthenticated",
    );
    expect_invalid_fields(
        h.tf.change_password(&a.principal, PASSWORD, "short").await,
        &["new_password"],
    );
    h.tf.change_password(&a.principal, PASSWORD, "a brand new password")
        .await
        .unwrap();
    h.tf.authenticate(&a.tokens.access_token).await.unwrap();
    expect_code(
        h.tf.authenticate(&other.access_token).await,
        "unauthenticated",
    );
    expect_code(h.tf.refresh(&other.refresh_token).await, "unauthenticated");
    expect_code(
        h.tf.login("changer@example.com", PASSWORD).await,
        "unauthenticated",
    );
    h.tf.login("changer@example.com", "a brand new password")
        .await
        .unwrap();
    h.tf.refresh(&a.tokens.refresh_token).await.unwrap();
}

/// `update_me` changes the name (validated), bumps `updated_at`, and nothing else.
pub async fn update_me_changes_only_the_name(store: Arc<dyn Store>) {
    let h = Harness::new(store);
    let a = h.account("renamer").await;
    h.advance(TimeDelta::seconds(5));
    let updated =
        h.tf.update_me(
            &a.principal,
            ProfileUpdate {
                name: Some("  New Name ".into()),
            },
        )
        .await
        .unwrap();
    assert_eq!(updated.name, "New Name");
    assert_eq!(updated.email, a.user.email);
    assert_eq!(updated.role, a.user.role);
    assert_eq!(updated.updated_at, h.now());
    assert_eq!(h.tf.me(&a.principal).await.unwrap(), updated);
    expect_invalid_fields(
        h.tf.update_me(
            &a.principal,
            ProfileUpdate {
                name: Some(" ".into()),
            },
        )
        .await,
        &["name"],
    );
    let same =
        h.tf.update_me(&a.principal, ProfileUpdate { name: None })
            .await
            .unwrap();
    assert_eq!(same, updated);
    h.tf.login("renamer@example.com", PASSWORD).await.unwrap();
}
