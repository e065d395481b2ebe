//! Data repairs that run once after a release changes how core normalises stored values.
//! Written over the [`UserStore`] trait, so every backend gets the same repair, and
//! idempotent, so running them on every start is harmless.

use std::collections::BTreeMap;

use crate::error::{Conflict, Error, Result};
use crate::ids::UserId;
use crate::store::UserStore;
use crate::user::{UserListRequest, UserRecord, check_email, fold_email};

/// Users read per page while looking for emails to normalise.
const PAGE: u32 = 100;
/// Attempts to rewrite one email that keeps losing optimistic races.
const ATTEMPTS: usize = 5;

/// An account and the email stored for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEmail {
    /// The account.
    pub user_id: UserId,
    /// Its email as stored.
    pub email: String,
}

/// One email rewritten to its normalised form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailRewrite {
    /// The account.
    pub user_id: UserId,
    /// The email as it was stored.
    pub from: String,
    /// The normalised email now stored.
    pub to: String,
}

/// Accounts whose emails normalise to one form. None of them was changed: merging or
/// renaming accounts is a decision for an operator, not a migration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailCollision {
    /// The form they share.
    pub normalized: String,
    /// The accounts, by id.
    pub accounts: Vec<StoredEmail>,
}

/// What [`normalize_stored_emails`] did and found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EmailNormalization {
    /// Emails rewritten to their normalised form.
    pub rewritten: Vec<EmailRewrite>,
    /// Groups of accounts left unchanged because they share a normalised form.
    pub collisions: Vec<EmailCollision>,
    /// Accounts left unchanged because their normalised email is no longer a valid email
    /// (e.g. a compatibility character that folds to a space).
    pub invalid: Vec<StoredEmail>,
}

/// Rewrites every stored email that is not in its normalised form
/// ([`normalize_email`](crate::normalize_email): NFKC, lower-cased) when no other account
/// has that form; when two or more accounts share a form, changes none of them and reports
/// the collision. Idempotent: a second run rewrites nothing and reports the collisions that
/// remain. Run it after migrations, while no other writer registers accounts (the `taskflow`
/// binary's `migrate` and `serve` do); a registration racing it ends as a reported
/// collision, never as a merge.
pub async fn normalize_stored_emails<S: UserStore + ?Sized>(
    store: &S,
) -> Result<EmailNormalization> {
    let mut report = EmailNormalization::default();
    // Stored emails not in normalised form, grouped by that form.
    let mut legacy: BTreeMap<String, Vec<StoredEmail>> = BTreeMap::new();
    let mut offset = 0u64;
    loop {
        let request = UserListRequest {
            role: None,
            q: None,
            limit: PAGE,
            offset,
        };
        let (users, total) = store.list_users(&request).await?;
        for user in &users {
            if fold_email(&user.email) != user.email {
                let stored = StoredEmail {
                    user_id: user.id,
                    email: user.email.clone(),
                };
                legacy
                    .entry(fold_email(&user.email))
                    .or_default()
                    .push(stored);
            }
        }
        offset += users.len() as u64;
        if users.is_empty() || offset >= total {
            break;
        }
    }
    for (folded, mut accounts) in legacy {
        if check_email(&folded).is_err() {
            report.invalid.extend(accounts);
            continue;
        }
        let normalized = folded;
        // An account already stored in the normalised form shares it too.
        if let Some(holder) = store.get_user_by_email(&normalized).await? {
            accounts.push(StoredEmail {
                user_id: holder.user.id,
                email: holder.user.email,
            });
        }
        if let [only] = accounts.as_slice() {
            match rewrite(store, only, &normalized).await? {
                Rewritten::Done => report.rewritten.push(EmailRewrite {
                    user_id: only.user_id,
                    from: only.email.clone(),
                    to: normalized,
                }),
                Rewritten::Taken(holder) => {
                    accounts.extend(holder);
                    report.collisions.push(collision(normalized, accounts));
                }
                Rewritten::Gone => {}
            }
        } else {
            report.collisions.push(collision(normalized, accounts));
        }
    }
    Ok(report)
}

fn collision(normalized: String, mut accounts: Vec<StoredEmail>) -> EmailCollision {
    accounts.sort_by_key(|a| a.user_id);
    accounts.dedup_by_key(|a| a.user_id);
    EmailCollision {
        normalized,
        accounts,
    }
}

enum Rewritten {
    Done,
    /// Another account took the form meanwhile (the holder, if it could be read).
    Taken(Option<StoredEmail>),
    /// The account was deleted or its email changed meanwhile: nothing to do.
    Gone,
}

/// Replaces the stored email of `account` with `normalized`, conditional on its version.
async fn rewrite<S: UserStore + ?Sized>(
    store: &S,
    account: &StoredEmail,
    normalized: &str,
) -> Result<Rewritten> {
    for _ in 0..ATTEMPTS {
        let Some(current) = store.get_user(account.user_id).await? else {
            return Ok(Rewritten::Gone);
        };
        if current.user.email != account.email {
            return Ok(Rewritten::Gone);
        }
        let mut user = current.user.clone();
        user.email = normalized.to_owned();
        let next = UserRecord {
            user,
            password_hash: current.password_hash.clone(),
            version: current.version + 1,
        };
        match store.replace_user(&next, false).await {
            Ok(true) => return Ok(Rewritten::Done),
            Ok(false) => continue,
            Err(Error::Conflict(Conflict::EmailTaken)) => {
                let holder = store
                    .get_user_by_email(normalized)
                    .await?
                    .map(|h| StoredEmail {
                        user_id: h.user.id,
                        email: h.user.email,
                    });
                return Ok(Rewritten::Taken(holder));
            }
            Err(e) => return Err(e),
        }
    }
    Err(Conflict::Contended(crate::Contended::User).into())
}
