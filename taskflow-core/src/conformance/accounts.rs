//! Scenarios: registration, login, password handling, profile.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use chrono::TimeDelta;

use super::{
    Harness, PASSWORD, client, concurrently, expect_code, expect_invalid_fields, registration,
    retry_after,
};
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
        h.tf.change_password(&a.principal, PASSWORD, "Sunshine", None)
            .await,
        &["new_password"],
    );
    // The old password still works: nothing changed.
    h.tf.login("careful@example.com", PASSWORD, None)
        .await
        .unwrap();
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
        h.tf.login("known@example.com", "wrong password", None)
            .await,
        "unauthenticated",
    );
    let unknown = expect_code(
        h.tf.login("nobody@example.com", PASSWORD, None).await,
        "unauthenticated",
    );
    let malformed = expect_code(
        h.tf.login("not an email", PASSWORD, None).await,
        "unauthenticated",
    );
    assert_eq!(wrong.to_string(), unknown.to_string());
    assert_eq!(wrong.to_string(), malformed.to_string());
    // Email lookup is case-insensitive.
    h.tf.login(" KNOWN@Example.com ", PASSWORD, None)
        .await
        .unwrap();
}

/// Five failures in 15 minutes from one address throttle that (account, address) pair, even
/// for the right password, with a retry-after that runs out when the oldest failure leaves
/// the window; unknown accounts alike, other accounts not at all, and wrong current
/// passwords in a password change count like failed logins.
pub async fn login_throttles_after_five_failures(store: Arc<dyn Store>) {
    let h = Harness::new(store);
    h.account("victim").await;
    h.account("bystander").await;
    let attacker = client(1);
    for _ in 0..5 {
        expect_code(
            h.tf.login("victim@example.com", "nope nope", attacker)
                .await,
            "unauthenticated",
        );
        h.advance(TimeDelta::seconds(10));
    }
    // The first failure was 50 s ago: it leaves the 15-minute window in 850 s.
    let wait = retry_after(
        h.tf.login("victim@example.com", PASSWORD, attacker)
            .await
            .map(drop),
    );
    assert_eq!(wait, Duration::from_secs(15 * 60 - 50));
    // Unknown accounts are throttled the same way (no account enumeration).
    for _ in 0..5 {
        expect_code(
            h.tf.login("ghost@example.com", "nope nope", attacker).await,
            "unauthenticated",
        );
    }
    expect_code(
        h.tf.login("ghost@example.com", PASSWORD, attacker).await,
        "rate_limited",
    );
    // Other accounts are unaffected, from the same address too.
    h.tf.login("bystander@example.com", PASSWORD, attacker)
        .await
        .unwrap();
    // The window passes: one failure has left it, so one more attempt is admitted.
    h.advance(TimeDelta::seconds(850));
    h.tf.login("victim@example.com", PASSWORD, attacker)
        .await
        .unwrap();

    // A wrong current password counts for the address it comes from.
    let changer = h.account("changer").await;
    let desk = client(2);
    for _ in 0..5 {
        expect_code(
            h.tf.change_password(
                &changer.principal,
                "not it at all",
                "a new long password",
                desk,
            )
            .await,
            "unauthenticated",
        );
    }
    expect_code(
        h.tf.login("changer@example.com", PASSWORD, desk).await,
        "rate_limited",
    );
    expect_code(
        h.tf.change_password(&changer.principal, PASSWORD, "a new long password", desk)
            .await,
        "rate_limited",
    );
    h.tf.login("changer@example.com", PASSWORD, client(3))
        .await
        .unwrap();
}

/// An attacker's failures from one address do not stop the owner, who logs in at once from
/// another address with the right password; the attacker's address stays throttled.
pub async fn login_throttle_spares_the_owner_at_another_address(store: Arc<dyn Store>) {
    let h = Harness::new(store);
    h.account("owner").await;
    let attacker = client(66);
    for _ in 0..5 {
        expect_code(
            h.tf.login("owner@example.com", "guess guess", attacker)
                .await,
            "unauthenticated",
        );
    }
    // Five requests every 15 minutes used to keep a person out indefinitely.
    for _ in 0..3 {
        expect_code(
            h.tf.login("owner@example.com", PASSWORD, attacker).await,
            "rate_limited",
        );
        h.tf.login("owner@example.com", PASSWORD, client(7))
            .await
            .unwrap();
        // A first visit from yet another address works too: no account-wide wall.
        h.tf.login("OWNER@example.com", PASSWORD, client(8))
            .await
            .unwrap();
        h.advance(TimeDelta::minutes(1));
    }
}

/// A distributed guess (many addresses, each under its pair budget) is stopped by the
/// per-account cap: past 50 failures further guesses get `rate_limited` with a retry-after
/// of seconds that doubles per failure up to 60 s, and the slots admit one attempt at a
/// time. The owner's known address logs in at once; a new address of the owner's waits for
/// a slot and then logs in with the right password.
pub async fn distributed_guessing_is_slowed_by_the_account_cap(store: Arc<dyn Store>) {
    let h = Harness::new(store);
    h.account("target").await;
    let home = client(200);
    h.tf.login("target@example.com", PASSWORD, home)
        .await
        .unwrap();
    // 25 addresses, 2 failures each: every pair stays far under its budget of 5.
    for round in 0..2 {
        for bot in 0..25 {
            expect_code(
                h.tf.login(
                    "target@example.com",
                    &format!("guess {round} {bot}"),
                    client(bot),
                )
                .await,
                "unauthenticated",
            );
        }
    }
    // A new address gets a short wait, not a lockout.
    let fresh = client(100);
    let wait = retry_after(
        h.tf.login("target@example.com", "guess", fresh)
            .await
            .map(drop),
    );
    assert_eq!(wait, Duration::from_secs(1));
    // The owner's address that logged in before is exempt from the cap.
    h.tf.login("target@example.com", PASSWORD, home)
        .await
        .unwrap();
    // Each slot admits one guess (from a new address each time: each pair has its own
    // budget); the spacing doubles with each failure, up to 60 s.
    let mut wait = wait;
    let mut seen = Vec::new();
    for slot in 0..7 {
        h.advance(TimeDelta::from_std(wait).unwrap());
        expect_code(
            h.tf.login("target@example.com", "slot guess", client(101 + slot))
                .await,
            "unauthenticated",
        );
        wait = retry_after(
            h.tf.login("target@example.com", "too soon", client(120 + slot))
                .await
                .map(drop),
        );
        seen.push(wait.as_secs());
    }
    assert_eq!(seen, [2, 4, 8, 16, 32, 60, 60]);
    // The owner on a new device: a short wait, then the right password at the slot works.
    let phone = client(150);
    let wait = retry_after(
        h.tf.login("target@example.com", PASSWORD, phone)
            .await
            .map(drop),
    );
    assert!(wait <= Duration::from_secs(60), "{wait:?}");
    h.advance(TimeDelta::from_std(wait).unwrap());
    h.tf.login("target@example.com", PASSWORD, phone)
        .await
        .unwrap();
    // Now known, the phone skips the slots as well.
    h.tf.login("target@example.com", PASSWORD, phone)
        .await
        .unwrap();
    // When the failures have left the window, no address waits.
    h.advance(TimeDelta::minutes(15));
    h.tf.login("target@example.com", PASSWORD, client(151))
        .await
        .unwrap();
}

/// An unknown account answers every step of both the single-address and the distributed
/// attack exactly as a known one does: the throttle does not reveal which accounts exist.
pub async fn unknown_accounts_are_throttled_like_known_ones(store: Arc<dyn Store>) {
    let known = Harness::new(Arc::clone(&store));
    known.account("real").await;
    let real = attack_transcript(&known, "real@example.com").await;
    // A fresh handle over the same store: same clock start, and (another account) a
    // throttle record of its own.
    let unknown = Harness::new(store);
    let ghost = attack_transcript(&unknown, "nobody-here@example.com").await;
    assert_eq!(real, ghost);
    assert!(real.iter().any(|step| step.starts_with("rate_limited")));
}

/// The outcome of each step of a fixed attack on `email`: error code, and retry-after when
/// rate-limited.
async fn attack_transcript(h: &Harness, email: &str) -> Vec<String> {
    async fn step(h: &Harness, email: &str, from: Option<IpAddr>) -> String {
        match h.tf.login(email, "wrong password", from).await {
            Ok(_) => "ok".to_owned(),
            Err(Error::RateLimited { retry_after }) => format!("rate_limited {retry_after:?}"),
            Err(e) => e.code().to_string(),
        }
    }
    let mut steps = Vec::new();
    // One address past its budget, then a distributed run past the account-wide cap.
    for _ in 0..6 {
        steps.push(step(h, email, client(1)).await);
    }
    for bot in 2..=50 {
        steps.push(step(h, email, client(bot)).await);
    }
    h.advance(TimeDelta::seconds(1));
    steps.push(step(h, email, client(51)).await);
    steps.push(step(h, email, client(52)).await);
    steps
}

/// Two handles over one store (two instances) spend one throttle budget: failed logins of
/// one account from one address, alternating between the handles, count together, so the
/// sixth attempt is `rate_limited` on either handle with the same retry-after. Past the
/// account-wide cap a new address waits for the slot on both, the slot one handle gives
/// out is taken for the other, and an address that logged in through one handle skips the
/// slots on the other.
pub async fn login_throttle_is_one_budget_across_handles(store: Arc<dyn Store>) {
    let a = Harness::new(Arc::clone(&store));
    // Same clock: handle `b` reads `a`'s (its own `clock` field is not used).
    let clock = Arc::clone(&a.clock);
    let b = Harness::with(store, |builder| builder.clock(clock));
    a.account("shared").await;
    let email = "shared@example.com";
    let from = client(1);
    for i in 0..5 {
        let h = if i % 2 == 0 { &a } else { &b };
        expect_code(
            h.tf.login(email, "wrong guess", from).await,
            "unauthenticated",
        );
    }
    let on_a = retry_after(a.tf.login(email, PASSWORD, from).await.map(drop));
    let on_b = retry_after(b.tf.login(email, PASSWORD, from).await.map(drop));
    assert_eq!(on_a, Duration::from_secs(15 * 60));
    assert_eq!(on_b, on_a);
    // Another address of the owner's logs in through `b` and becomes known.
    let home = client(200);
    b.tf.login(email, PASSWORD, home).await.unwrap();
    // 45 more failures, 3 from each of 15 addresses, alternating: 50 in the window.
    for round in 0..3 {
        for bot in 0..15 {
            let h = if (round + bot) % 2 == 0 { &a } else { &b };
            expect_code(
                h.tf.login(email, "spread guess", client(10 + bot)).await,
                "unauthenticated",
            );
        }
    }
    assert_eq!(
        retry_after(a.tf.login(email, "guess", client(100)).await.map(drop)),
        Duration::from_secs(1)
    );
    assert_eq!(
        retry_after(b.tf.login(email, "guess", client(101)).await.map(drop)),
        Duration::from_secs(1)
    );
    a.tf.login(email, PASSWORD, home).await.unwrap();
    // `a` gives out the slot; on `b` the next one is 2 s away.
    a.advance(TimeDelta::seconds(1));
    expect_code(
        a.tf.login(email, "slot guess", client(102)).await,
        "unauthenticated",
    );
    assert_eq!(
        retry_after(b.tf.login(email, "too soon", client(103)).await.map(drop)),
        Duration::from_secs(2)
    );
}

/// NFC, NFD, fullwidth and upper-case spellings of one email are one account: registering
/// another spelling is a conflict, and logging in with any spelling works.
pub async fn email_variants_are_one_account(store: Arc<dyn Store>) {
    let h = Harness::new(store);
    let nfc = "jos\u{e9}@example.com";
    let variants = [
        "jose\u{301}@example.com",
        "\u{ff4a}os\u{e9}@example.com",
        "JOS\u{c9}@EXAMPLE.COM",
        "jos\u{e9}\u{ff20}\u{ff45}xample.com",
    ];
    let user =
        h.tf.register(Registration {
            email: variants[1].into(),
            ..registration("jose")
        })
        .await
        .unwrap();
    assert_eq!(user.email, nfc);
    for variant in std::iter::once(nfc).chain(variants) {
        let again = Registration {
            email: variant.into(),
            ..registration("jose")
        };
        expect_code(h.tf.register(again).await, "conflict");
        let pair = h.tf.login(variant, PASSWORD, client(1)).await.unwrap();
        assert_eq!(pair.user.id, user.id);
    }
    assert_eq!(
        h.store
            .get_user_by_email(nfc)
            .await
            .unwrap()
            .unwrap()
            .user
            .id,
        user.id
    );
}

/// The one-time normalisation of stored emails rewrites legacy un-normalised emails (which
/// then log in), reports accounts whose emails normalise alike without changing any of
/// them, reports emails that no longer normalise to a valid one, and is idempotent.
pub async fn stored_emails_are_normalised_and_collisions_reported(store: Arc<dyn Store>) {
    let h = Harness::new(store);
    let template = h.tf.register(registration("template")).await.unwrap();
    let hash = h
        .store
        .get_user(template.id)
        .await
        .unwrap()
        .unwrap()
        .password_hash;
    let plant = async |email: &str| {
        let now = h.now();
        let record = UserRecord {
            user: User {
                id: UserId::new(),
                email: email.to_owned(),
                name: "Legacy".into(),
                role: Role::user(),
                disabled: false,
                created_at: now,
                updated_at: now,
            },
            password_hash: hash.clone(),
            version: 1,
        };
        h.store.insert_user(&record).await.unwrap();
        record.user.id
    };
    let rene_nfd = plant("rene\u{301}@example.com").await;
    let max_wide = plant("\u{ff4d}ax@example.com").await;
    // Zoë registered normally, and a legacy NFD spelling of her email exists.
    let zoe =
        h.tf.register(Registration {
            email: "zo\u{eb}@example.com".into(),
            ..registration("zoe")
        })
        .await
        .unwrap()
        .id;
    let zoe_nfd = plant("zoe\u{308}@example.com").await;
    // Two legacy spellings of one address, neither normalised.
    let chloe_nfd = plant("chloe\u{301}@example.com").await;
    let chloe_wide = plant("\u{ff43}hlo\u{e9}@example.com").await;
    // An acute accent folds to a space and a combining mark: not an email any more.
    let odd = plant("\u{b4}odd@example.com").await;

    // Before the repair a legacy account cannot log in by its (normalised) email.
    expect_code(
        h.tf.login("ren\u{e9}@example.com", PASSWORD, None).await,
        "unauthenticated",
    );

    let report = crate::normalize_stored_emails(&*h.store).await.unwrap();
    let mut rewritten: Vec<(UserId, &str, &str)> = report
        .rewritten
        .iter()
        .map(|r| (r.user_id, r.from.as_str(), r.to.as_str()))
        .collect();
    rewritten.sort();
    let mut want = vec![
        (rene_nfd, "rene\u{301}@example.com", "ren\u{e9}@example.com"),
        (max_wide, "\u{ff4d}ax@example.com", "max@example.com"),
    ];
    want.sort();
    assert_eq!(rewritten, want);
    let mut collisions: Vec<(String, Vec<UserId>)> = report
        .collisions
        .iter()
        .map(|c| {
            (
                c.normalized.clone(),
                c.accounts.iter().map(|a| a.user_id).collect(),
            )
        })
        .collect();
    collisions.sort();
    let sorted = |mut ids: Vec<UserId>| {
        ids.sort();
        ids
    };
    assert_eq!(
        collisions,
        vec![
            (
                "chlo\u{e9}@example.com".to_owned(),
                sorted(vec![chloe_nfd, chloe_wide])
            ),
            (
                "zo\u{eb}@example.com".to_owned(),
                sorted(vec![zoe, zoe_nfd])
            ),
        ]
    );
    assert_eq!(
        report.invalid.iter().map(|a| a.user_id).collect::<Vec<_>>(),
        vec![odd]
    );

    // Rewritten accounts log in by their normalised email; nothing else changed.
    for (id, email) in [
        (rene_nfd, "ren\u{e9}@example.com"),
        (max_wide, "max@example.com"),
    ] {
        let stored = h.store.get_user(id).await.unwrap().unwrap();
        assert_eq!(stored.user.email, email);
        assert_eq!(stored.version, 2);
        let pair = h.tf.login(email, PASSWORD, None).await.unwrap();
        assert_eq!(pair.user.id, id);
    }
    for (id, email) in [
        (zoe, "zo\u{eb}@example.com"),
        (zoe_nfd, "zoe\u{308}@example.com"),
        (chloe_nfd, "chloe\u{301}@example.com"),
        (chloe_wide, "\u{ff43}hlo\u{e9}@example.com"),
        (odd, "\u{b4}odd@example.com"),
    ] {
        let stored = h.store.get_user(id).await.unwrap().unwrap();
        assert_eq!(stored.user.email, email, "unchanged");
        assert_eq!(stored.version, 1, "unchanged");
    }
    // Zoë's own account still logs in.
    let pair =
        h.tf.login("ZOE\u{308}@example.com", PASSWORD, None)
            .await
            .unwrap();
    assert_eq!(pair.user.id, zoe);

    // Idempotent: nothing more to rewrite, the same collisions reported.
    let again = crate::normalize_stored_emails(&*h.store).await.unwrap();
    assert!(again.rewritten.is_empty());
    assert_eq!(again.collisions, report.collisions);
    assert_eq!(again.invalid, report.invalid);
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
            h.tf.login(&record.user.email, "wrong password", None).await,
            "unauthenticated",
        );
        h.tf.login(&record.user.email, PASSWORD, None)
            .await
            .unwrap();
        let upgraded = h.store.get_user(record.user.id).await.unwrap().unwrap();
        assert!(upgraded.password_hash.starts_with("$argon2id$"));
        assert_eq!(upgraded.version, 2);
        h.tf.login(&record.user.email, PASSWORD, None)
            .await
            .unwrap();
    }
}

/// Changing the password keeps the current session, ends all others, and needs the
/// current password.
pub async fn change_password_ends_other_sessions_only(store: Arc<dyn Store>) {
    let h = Harness::new(store);
    let a = h.account("changer").await;
    let other =
        h.tf.login("changer@example.com", PASSWORD, None)
            .await
            .unwrap();
    expect_code(
        h.tf.change_password(
            &a.principal,
            "not the password",
            "a brand new password",
            None,
        )
        .await,
        "unauthenticated",
    );
    expect_invalid_fields(
        h.tf.change_password(&a.principal, PASSWORD, "short", None)
            .await,
        &["new_password"],
    );
    h.tf.change_password(&a.principal, PASSWORD, "a brand new password", None)
        .await
        .unwrap();
    h.tf.authenticate(&a.tokens.access_token).await.unwrap();
    expect_code(
        h.tf.authenticate(&other.access_token).await,
        "unauthenticated",
    );
    expect_code(h.tf.refresh(&other.refresh_token).await, "unauthenticated");
    expect_code(
        h.tf.login("changer@example.com", PASSWORD, None).await,
        "unauthenticated",
    );
    h.tf.login("changer@example.com", "a brand new password", None)
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
    h.tf.login("renamer@example.com", PASSWORD, None)
        .await
        .unwrap();
}
