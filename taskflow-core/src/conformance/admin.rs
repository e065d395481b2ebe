//! Scenarios: user administration and RBAC.

use std::sync::Arc;

use super::{Harness, PASSWORD, concurrently, expect_code, expect_invalid_fields};
use crate::{NewTask, Permission, Role, Store, TaskPatch, TaskQuery, UserQuery, UserUpdate};

fn promote(role: &str) -> UserUpdate {
    UserUpdate {
        role: Some(role.into()),
        disabled: None,
    }
}

fn disable(disabled: bool) -> UserUpdate {
    UserUpdate {
        role: None,
        disabled: Some(disabled),
    }
}

/// A plain user may not list, read or change users.
pub async fn user_administration_requires_permissions(store: Arc<dyn Store>) {
    let h = Harness::new(store);
    let a = h.account("plain").await;
    let b = h.account("other").await;
    expect_code(
        h.tf.list_users(&a.principal, UserQuery::default()).await,
        "forbidden",
    );
    expect_code(h.tf.get_user(&a.principal, b.user.id).await, "forbidden");
    expect_code(
        h.tf.update_user(&a.principal, a.user.id, promote("admin"))
            .await,
        "forbidden",
    );
    expect_code(
        h.tf.update_user(&a.principal, b.user.id, disable(true))
            .await,
        "forbidden",
    );
    assert_eq!(h.tf.me(&b.principal).await.unwrap().role, Role::user());
}

/// The admin listing filters by role and by a case-insensitive substring of email or name,
/// and pages in creation order with a total.
pub async fn list_users_filters_and_paginates(store: Arc<dyn Store>) {
    let h = Harness::new(store);
    let admin = h.admin("root").await;
    let mut ids = vec![admin.user.id];
    for name in ["alpha", "bravo", "charlie", "delta", "echo"] {
        ids.push(h.account(name).await.user.id);
    }
    h.tf.update_me(
        &h.tf
            .authenticate(
                &h.tf
                    .login("echo@example.com", PASSWORD, None)
                    .await
                    .unwrap()
                    .access_token,
            )
            .await
            .unwrap(),
        crate::ProfileUpdate {
            name: Some("Echo MIXEDcase".into()),
        },
    )
    .await
    .unwrap();
    let all =
        h.tf.list_users(&admin.principal, UserQuery::default())
            .await
            .unwrap();
    assert_eq!(all.total, Some(6));
    assert_eq!(all.page, Some(1));
    assert_eq!(all.limit, 20);
    let listed: Vec<_> = all.items.iter().map(|u| u.id).collect();
    assert_eq!(listed, ids, "sorted by creation");

    let admins =
        h.tf.list_users(
            &admin.principal,
            UserQuery {
                role: Some("admin".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(admins.total, Some(1));
    assert_eq!(admins.items[0].id, admin.user.id);

    let by_email =
        h.tf.list_users(
            &admin.principal,
            UserQuery {
                q: Some("RAV".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(by_email.items.len(), 1);
    assert_eq!(by_email.items[0].email, "bravo@example.com");
    let by_name =
        h.tf.list_users(
            &admin.principal,
            UserQuery {
                q: Some("mixedCASE".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(by_name.items.len(), 1);
    assert_eq!(by_name.items[0].email, "echo@example.com");
    let literal =
        h.tf.list_users(
            &admin.principal,
            UserQuery {
                q: Some("%".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(literal.total, Some(0), "% is matched literally");
    let underscore =
        h.tf.list_users(
            &admin.principal,
            UserQuery {
                q: Some("_".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(underscore.total, Some(0), "_ is matched literally");

    let page2 =
        h.tf.list_users(
            &admin.principal,
            UserQuery {
                limit: Some(4),
                page: Some(2),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(page2.total, Some(6));
    let listed: Vec<_> = page2.items.iter().map(|u| u.id).collect();
    assert_eq!(listed, ids[4..]);

    for bad in [
        UserQuery {
            limit: Some(0),
            ..Default::default()
        },
        UserQuery {
            limit: Some(101),
            ..Default::default()
        },
        UserQuery {
            page: Some(0),
            ..Default::default()
        },
        UserQuery {
            role: Some("wizard".into()),
            ..Default::default()
        },
        // No email or name holds a control character; PostgreSQL refuses a NUL outright.
        UserQuery {
            q: Some("ali\u{0}ce".into()),
            ..Default::default()
        },
        UserQuery {
            q: Some("line\nbreak".into()),
            ..Default::default()
        },
    ] {
        expect_code(
            h.tf.list_users(&admin.principal, bad).await,
            "validation_failed",
        );
    }
    let u = h.tf.get_user(&admin.principal, ids[1]).await.unwrap();
    assert_eq!(u.email, "alpha@example.com");
    expect_code(
        h.tf.get_user(&admin.principal, crate::UserId::new()).await,
        "not_found",
    );
}

/// Disabling a user ends every session at once (even with warm caches) and blocks
/// login; enabling lets them log in again.
pub async fn disabled_user_is_locked_out_at_once(store: Arc<dyn Store>) {
    let h = Harness::new(store);
    let admin = h.admin("boss").await;
    let a = h.account("worker").await;
    let t = h.task(&a.principal, NewTask::new("mine")).await;
    h.tf.authenticate(&a.tokens.access_token).await.unwrap();
    let u =
        h.tf.update_user(&admin.principal, a.user.id, disable(true))
            .await
            .unwrap();
    assert!(u.disabled);
    expect_code(
        h.tf.authenticate(&a.tokens.access_token).await,
        "unauthenticated",
    );
    expect_code(
        h.tf.refresh(&a.tokens.refresh_token).await,
        "unauthenticated",
    );
    expect_code(
        h.tf.login("worker@example.com", PASSWORD, None).await,
        "unauthenticated",
    );
    // Their data is kept.
    assert_eq!(h.tf.get_task(&admin.principal, t.id).await.unwrap(), t);
    h.tf.update_user(&admin.principal, a.user.id, disable(false))
        .await
        .unwrap();
    let pair =
        h.tf.login("worker@example.com", PASSWORD, None)
            .await
            .unwrap();
    h.tf.authenticate(&pair.access_token).await.unwrap();
    // Old sessions stay ended.
    expect_code(
        h.tf.authenticate(&a.tokens.access_token).await,
        "unauthenticated",
    );
}

/// A role change takes effect on the user's existing tokens at the next call.
pub async fn role_changes_apply_to_existing_tokens(store: Arc<dyn Store>) {
    let h = Harness::new(store);
    let admin = h.admin("chief").await;
    let a = h.account("rising").await;
    expect_code(
        h.tf.list_users(&a.principal, UserQuery::default()).await,
        "forbidden",
    );
    let u =
        h.tf.update_user(&admin.principal, a.user.id, promote("admin"))
            .await
            .unwrap();
    assert_eq!(u.role, Role::admin());
    let p = h.tf.authenticate(&a.tokens.access_token).await.unwrap();
    assert_eq!(p.role, Role::admin());
    h.tf.list_users(&p, UserQuery::default()).await.unwrap();
    h.tf.update_user(&admin.principal, a.user.id, promote("user"))
        .await
        .unwrap();
    let p = h.tf.authenticate(&a.tokens.access_token).await.unwrap();
    assert_eq!(p.role, Role::user());
    expect_invalid_fields(
        h.tf.update_user(&admin.principal, a.user.id, promote("wizard"))
            .await,
        &["role"],
    );
    expect_code(
        h.tf.update_user(&admin.principal, crate::UserId::new(), promote("user"))
            .await,
        "not_found",
    );
}

/// The last active admin can be neither demoted nor disabled.
pub async fn last_active_admin_cannot_be_demoted_or_disabled(store: Arc<dyn Store>) {
    let h = Harness::new(store);
    let first = h.admin("first").await;
    expect_code(
        h.tf.update_user(&first.principal, first.user.id, promote("user"))
            .await,
        "conflict",
    );
    expect_code(
        h.tf.update_user(&first.principal, first.user.id, disable(true))
            .await,
        "conflict",
    );
    let second = h.admin("second").await;
    // A disabled admin does not count as active.
    h.tf.update_user(&first.principal, second.user.id, disable(true))
        .await
        .unwrap();
    expect_code(
        h.tf.update_user(&first.principal, first.user.id, promote("user"))
            .await,
        "conflict",
    );
    h.tf.update_user(&first.principal, second.user.id, disable(false))
        .await
        .unwrap();
    let second_p =
        h.tf.authenticate(
            &h.tf
                .login("second@example.com", PASSWORD, None)
                .await
                .unwrap()
                .access_token,
        )
        .await
        .unwrap();
    h.tf.update_user(&first.principal, first.user.id, promote("user"))
        .await
        .unwrap();
    expect_code(
        h.tf.update_user(&second_p, second_p.user_id, promote("user"))
            .await,
        "conflict",
    );
    // A no-op on the last admin is fine.
    h.tf.update_user(&second_p, second_p.user_id, promote("admin"))
        .await
        .unwrap();
}

/// Two admins demoting each other at the same moment cannot leave no active admin.
pub async fn concurrent_demotions_keep_an_active_admin(store: Arc<dyn Store>) {
    let h = Arc::new(Harness::new(store));
    let a = h.admin("a-admin").await;
    let b = h.admin("b-admin").await;
    let pairs = Arc::new([
        (a.principal.clone(), b.user.id),
        (b.principal.clone(), a.user.id),
    ]);
    let results = concurrently(2, |i| {
        let h = Arc::clone(&h);
        let pairs = Arc::clone(&pairs);
        async move {
            let (who, target) = &pairs[i];
            h.tf.update_user(
                who,
                *target,
                if i == 0 {
                    promote("user")
                } else {
                    disable(true)
                },
            )
            .await
        }
    })
    .await;
    let ok = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(ok, 1, "exactly one demotion wins: {results:?}");
    let admins =
        h.tf.list_users(
            &Harness::trusted_admin(&h).await,
            UserQuery {
                role: Some("admin".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let active = admins.items.iter().filter(|u| !u.disabled).count();
    assert_eq!(active, 1);
}

impl Harness {
    /// A principal of some active admin, found through the store.
    async fn trusted_admin(h: &Harness) -> crate::Principal {
        for name in ["a-admin", "b-admin"] {
            let r = h
                .store
                .get_user_by_email(&format!("{name}@example.com"))
                .await
                .unwrap()
                .unwrap();
            if r.user.role.is_admin() && !r.user.disabled {
                return crate::Principal::trusted(r.user.id, r.user.role);
            }
        }
        panic!("no active admin left");
    }
}

/// Roles registered through the builder grant exactly their permissions.
pub async fn custom_roles_grant_exactly_their_permissions(store: Arc<dyn Store>) {
    let h = Harness::with(store, |b| {
        b.role(
            "auditor",
            [
                Permission::ReadAllTasks,
                Permission::AllStats,
                Permission::ReadUsers,
            ],
        )
    });
    let admin = h.admin("owner").await;
    let worker = h.account("worker").await;
    let auditor = h.account("auditor").await;
    let t = h.task(&worker.principal, NewTask::new("audited")).await;
    h.tf.update_user(&admin.principal, auditor.user.id, promote("auditor"))
        .await
        .unwrap();
    let p =
        h.tf.authenticate(&auditor.tokens.access_token)
            .await
            .unwrap();
    assert_eq!(p.role.as_str(), "auditor");
    assert_eq!(h.tf.get_task(&p, t.id).await.unwrap(), t);
    let page = h.tf.list_tasks(&p, TaskQuery::default()).await.unwrap();
    assert_eq!(page.items, vec![t.clone()]);
    assert_eq!(
        h.tf.task_stats(&p, Some(worker.user.id))
            .await
            .unwrap()
            .total,
        1
    );
    h.tf.list_users(&p, UserQuery::default()).await.unwrap();
    expect_code(
        h.tf.create_task(&p, NewTask::new("nope")).await,
        "forbidden",
    );
    expect_code(
        h.tf.update_task(&p, t.id, TaskPatch::default().title("x"), None)
            .await,
        "forbidden",
    );
    expect_code(h.tf.delete_task(&p, t.id, None).await, "forbidden");
    expect_code(
        h.tf.update_user(&p, worker.user.id, disable(true)).await,
        "forbidden",
    );
    assert!(h.tf.policy().knows(&Role::new("auditor")));
}
