//! # taskflow-core
//!
//! The embeddable core of TaskFlow: users, JWT authentication with refresh-token rotation,
//! role-based access control and tasks (filters, full-text search, keyset and page
//! pagination, stats), behind pluggable [`Store`] and [`Cache`] traits. The HTTP server,
//! the Python bindings and Rust programs all drive this one [`TaskFlow`] handle, so every
//! rule (validation, permissions, token handling, error codes) is decided here, once.
//!
//! ```
//! use taskflow_core::{MemoryStore, NewTask, PasswordParams, Priority, Registration, TaskFlow, TaskQuery};
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let tf = TaskFlow::builder()
//!     .store(MemoryStore::new())
//!     .jwt_secret("an example secret of at least 32 bytes!")
//!     # .password_params(PasswordParams::insecure_fast_for_tests())
//!     .build()?;
//!
//! tf.register(Registration {
//!     email: "Ada@Example.com".into(),
//!     password: "correct horse battery".into(),
//!     name: "Ada".into(),
//! })
//! .await?;
//! // The client address feeds the login throttle; `None` when there is none.
//! let tokens = tf.login("ada@example.com", "correct horse battery", None).await?;
//! let me = tf.authenticate(&tokens.access_token).await?;
//!
//! let task = tf
//!     .create_task(&me, NewTask::new("Ship it").priority(Priority::High).tags(["release"]))
//!     .await?;
//! assert_eq!(task.version, 1);
//!
//! let page = tf.list_tasks(&me, TaskQuery { q: Some("shi".into()), ..Default::default() }).await?;
//! assert_eq!(page.items.len(), 1);
//! # Ok::<(), taskflow_core::Error>(())
//! # }).unwrap();
//! ```
//!
//! ## Map
//! - [`TaskFlow`] (built by [`TaskFlowBuilder`]): every operation.
//! - Domain: [`User`], [`Task`], [`Status`], [`Priority`], [`TaskQuery`], [`Page`],
//!   [`TaskStats`]; RBAC: [`Role`], [`Permission`], [`Policy`], [`Principal`].
//! - [`Error`]: one variant per error code of the HTTP contract ([`Error::code`]).
//! - Storage: [`Store`] = [`UserStore`] + [`TaskStore`] + [`SessionStore`] + [`ChangeLog`] +
//!   [`SharedState`] (versioned records every instance agrees on, such as the login
//!   throttle's), with [`MemoryStore`] as the reference implementation. Caching: [`Cache`],
//!   [`MokaCache`] (feature `moka`, default) and the [`Cached`] store wrapper.
//! - The change log ([`changes`]): [`ChangeLog`] (part of every [`Store`]), [`ChangeEvent`],
//!   and the [`Follower`] that keeps a cache coherent with other instances.
//! - Feature `conformance`: the `store_conformance!` test suite for store crates.
//!
//! ## Implementing your own store
//!
//! Implement the six traits; the doc comment of each method is its contract. Then run the
//! conformance suite from your crate's tests (with `taskflow-core` as a dev-dependency with
//! feature `conformance`, and `tokio`):
//!
//! ```ignore
//! async fn setup() -> MyStore { MyStore::connect("...").await.unwrap() }
//! taskflow_core::store_conformance!(setup);
//! ```
//!
//! A minimal store that delegates to the in-memory one, to show the shape:
//!
//! ```
//! use async_trait::async_trait;
//! use taskflow_core::{MemoryStore, Result, Store};
//!
//! #[derive(Default)]
//! struct MyStore(MemoryStore);
//!
//! # use taskflow_core::*;
//! # use chrono::{DateTime, Utc};
//! # #[async_trait] impl UserStore for MyStore {
//! #   async fn insert_user(&self, u: &UserRecord) -> Result<()> { self.0.insert_user(u).await }
//! #   async fn get_user(&self, id: UserId) -> Result<Option<UserRecord>> { self.0.get_user(id).await }
//! #   async fn get_user_by_email(&self, e: &str) -> Result<Option<UserRecord>> { self.0.get_user_by_email(e).await }
//! #   async fn replace_user(&self, u: &UserRecord, k: bool) -> Result<bool> { self.0.replace_user(u, k).await }
//! #   async fn list_users(&self, r: &UserListRequest) -> Result<(Vec<User>, u64)> { self.0.list_users(r).await }
//! # }
//! # #[async_trait] impl SessionStore for MyStore {
//! #   async fn insert_session(&self, s: &SessionRecord) -> Result<()> { self.0.insert_session(s).await }
//! #   async fn get_session(&self, id: SessionId) -> Result<Option<SessionRecord>> { self.0.get_session(id).await }
//! #   async fn rotate_session(&self, r: &SessionRotation<'_>) -> Result<bool> { self.0.rotate_session(r).await }
//! #   async fn revoke_session(&self, u: UserId, id: SessionId) -> Result<()> { self.0.revoke_session(u, id).await }
//! #   async fn revoke_user_sessions(&self, u: UserId, x: Option<SessionId>) -> Result<u64> { self.0.revoke_user_sessions(u, x).await }
//! #   async fn purge_expired_sessions(&self, now: DateTime<Utc>) -> Result<u64> { self.0.purge_expired_sessions(now).await }
//! # }
//! # #[async_trait] impl TaskStore for MyStore {
//! #   async fn insert_task(&self, t: &Task) -> Result<()> { self.0.insert_task(t).await }
//! #   async fn get_task(&self, s: Scope, id: TaskId) -> Result<Option<Task>> { self.0.get_task(s, id).await }
//! #   async fn get_tasks(&self, s: Scope, ids: &[TaskId]) -> Result<Vec<Task>> { self.0.get_tasks(s, ids).await }
//! #   async fn replace_task(&self, t: &Task) -> Result<bool> { self.0.replace_task(t).await }
//! #   async fn delete_task(&self, o: UserId, id: TaskId, v: Option<u64>) -> Result<bool> { self.0.delete_task(o, id, v).await }
//! #   async fn list_tasks(&self, r: &ListRequest) -> Result<TaskSlice> { self.0.list_tasks(r).await }
//! #   async fn task_stats(&self, r: &StatsRequest) -> Result<TaskStats> { self.0.task_stats(r).await }
//! # }
//! # #[async_trait] impl ChangeLog for MyStore {
//! #   async fn read_changes(&self, s: Scope, a: LogPosition, n: usize) -> Result<ChangeBatch> { self.0.read_changes(s, a, n).await }
//! #   async fn change_head(&self) -> Result<LogPosition> { self.0.change_head().await }
//! #   async fn prune_changes(&self, b: DateTime<Utc>) -> Result<u64> { self.0.prune_changes(b).await }
//! # }
//! # #[async_trait] impl SharedState for MyStore {
//! #   async fn get_shared(&self, k: &str, now: DateTime<Utc>) -> Result<Option<SharedRecord>> { self.0.get_shared(k, now).await }
//! #   async fn put_shared(&self, k: &str, v: &str, e: Option<u64>, x: DateTime<Utc>, now: DateTime<Utc>) -> Result<Option<u64>> { self.0.put_shared(k, v, e, x, now).await }
//! #   async fn purge_shared(&self, now: DateTime<Utc>) -> Result<u64> { self.0.purge_shared(now).await }
//! # }
//! // ... UserStore, SessionStore, TaskStore, ChangeLog and SharedState implemented method by
//! // method ...
//! #[async_trait]
//! impl Store for MyStore {
//!     async fn ping(&self) -> Result<()> {
//!         Ok(())
//!     }
//! }
//!
//! let tf = TaskFlow::builder()
//!     .store(MyStore::default())
//!     .jwt_secret([7u8; 32])
//!     .build()
//!     .unwrap();
//! # drop(tf);
//! ```
//!
//! ## Conformance scenarios
//! <!-- conformance-scenarios: generated by tests/conformance_docs.rs; TASKFLOW_BLESS=1 regenerates -->
//! The suite has 77 scenarios; each store crate runs all of them, raw and cached.
//!
//! - **accounts**
//!   - `register_normalises_and_assigns_user_role`: Registration trims and lower-cases the email, trims the name, and always assigns role `user`; timestamps come from the clock.
//!   - `register_rejects_duplicate_email_case_insensitively`: A second account with the same email, in any case and padding, is a conflict.
//!   - `register_reports_every_invalid_field`: Every invalid field is reported at once.
//!   - `password_length_limits_hold_at_their_boundaries`: Passwords of 8 and 128 characters are accepted; 7 and 129 are not. Characters, not bytes.
//!   - `common_passwords_are_refused`: The most common passwords are refused, in any letter case, at registration, for admins and on a password change (ASVS 5.0 6.2.4).
//!   - `concurrent_registrations_of_one_email_create_one_account`: Concurrent registrations of one email: exactly one account is created.
//!   - `login_fails_alike_for_unknown_email_and_wrong_password`: Unknown email and wrong password give the same error.
//!   - `login_throttles_after_five_failures`: Five failures in 15 minutes from one address throttle that (account, address) pair, even for the right password, with a retry-after that runs out when the oldest failure leaves the window; unknown accounts alike, other accounts not at all, and wrong current passwords in a password change count like failed logins.
//!   - `login_throttle_spares_the_owner_at_another_address`: An attacker's failures from one address do not stop the owner, who logs in at once from another address with the right password; the attacker's address stays throttled.
//!   - `distributed_guessing_is_slowed_by_the_account_cap`: A distributed guess (many addresses, each under its pair budget) is stopped by the per-account cap: past 50 failures further guesses get `rate_limited` with a retry-after of seconds that doubles per failure up to 60 s, and the slots admit one attempt at a time. The owner's known address logs in at once; a new address of the owner's waits for a slot and then logs in with the right password.
//!   - `unknown_accounts_are_throttled_like_known_ones`: An unknown account answers every step of both the single-address and the distributed attack exactly as a known one does: the throttle does not reveal which accounts exist.
//!   - `login_throttle_is_one_budget_across_handles`: Two handles over one store (two instances) spend one throttle budget: failed logins of one account from one address, alternating between the handles, count together, so the sixth attempt is `rate_limited` on either handle with the same retry-after. Past the account-wide cap a new address waits for the slot on both, the slot one handle gives out is taken for the other, and an address that logged in through one handle skips the slots on the other.
//!   - `email_variants_are_one_account`: NFC, NFD, fullwidth and upper-case spellings of one email are one account: registering another spelling is a conflict, and logging in with any spelling works.
//!   - `stored_emails_are_normalised_and_collisions_reported`: The one-time normalisation of stored emails rewrites legacy un-normalised emails (which then log in), reports accounts whose emails normalise alike without changing any of them, reports emails that no longer normalise to a valid one, and is idempotent.
//!   - `imported_bcrypt_hash_is_verified_and_upgraded`: A bcrypt hash imported from another system verifies, and the first successful login replaces it with argon2id.
//!   - `change_password_ends_other_sessions_only`: Changing the password keeps the current session, ends all others, and needs the current password.
//!   - `update_me_changes_only_the_name`: `update_me` changes the name (validated), bumps `updated_at`, and nothing else.
//! - **tokens**
//!   - `access_tokens_are_verified_strictly`: Only untampered HS256 `at+jwt` tokens of this issuer and audience, signed with this key, authenticate; the principal's role is the user's current one.
//!   - `access_tokens_expire`: Access tokens stop working after their lifetime (15 minutes by default).
//!   - `refresh_rotates_and_reuse_revokes_the_family`: Each refresh spends the presented token; presenting a spent one revokes the whole family, including the newest tokens and their access tokens.
//!   - `concurrent_refreshes_of_one_token_let_exactly_one_win`: Of concurrent refreshes with one token exactly one succeeds; the others count as reuse.
//!   - `refresh_tokens_expire_and_rotation_extends_them`: A refresh token lives 7 days; every rotation starts a new 7 days.
//!   - `sessions_end_at_their_absolute_lifetime`: Rotation slides a session's expiry, but never past its absolute lifetime (30 days by default) after the login.
//!   - `malformed_refresh_tokens_are_rejected`: Tokens of the wrong shape, unknown, or not issued by this server are refused, and a made-up token naming a real session does not end that session.
//!   - `logout_ends_the_session_and_its_access_token`: Logout ends the session: its refresh token and every access token issued from it stop working; other sessions continue.
//!   - `logout_ignores_refresh_tokens_of_other_users`: A refresh token of another user passed to logout is ignored.
//!   - `logout_all_ends_every_session`: Logout-all ends every session of the user, the current one included, and no other user's.
//!   - `expired_sessions_are_purged`: Expired sessions are purged; live ones are kept.
//! - **admin**
//!   - `user_administration_requires_permissions`: A plain user may not list, read or change users.
//!   - `list_users_filters_and_paginates`: The admin listing filters by role and by a case-insensitive substring of email or name, and pages in creation order with a total.
//!   - `disabled_user_is_locked_out_at_once`: Disabling a user ends every session at once (even with warm caches) and blocks login; enabling lets them log in again.
//!   - `role_changes_apply_to_existing_tokens`: A role change takes effect on the user's existing tokens at the next call.
//!   - `last_active_admin_cannot_be_demoted_or_disabled`: The last active admin can be neither demoted nor disabled.
//!   - `concurrent_demotions_keep_an_active_admin`: Two admins demoting each other at the same moment cannot leave no active admin.
//!   - `custom_roles_grant_exactly_their_permissions`: Roles registered through the builder grant exactly their permissions.
//! - **tasks**
//!   - `create_task_applies_defaults_and_normalises`: Defaults (todo, medium, version 1), trimming, tag normalisation, timestamps; the stored task equals the returned one.
//!   - `create_task_reports_every_invalid_field`: Every invalid field of a new task is reported at once, with indexed tag errors.
//!   - `task_field_limits_hold_at_their_boundaries`: Title 200/201, description 10,000/10,001 (characters, not bytes), 20/21 tags, 32/33-character tags, NUL characters.
//!   - `timestamps_round_trip_at_millisecond_precision`: Times are kept at millisecond precision and round-trip equal.
//!   - `hostile_and_unicode_text_is_stored_literally`: Injection strings, wildcards and Unicode edge cases are stored and returned literally.
//!   - `tasks_of_other_users_are_not_found`: Another user's task is `not_found` for every operation; an admin reaches it.
//!   - `update_applies_patch_semantics`: Patches change only what they name; `None` inside clears; every change bumps the version by one and `updated_at`; a no-op changes nothing.
//!   - `status_changes_set_and_clear_completed_at`: Entering `done` sets `completed_at`; leaving it clears it; staying keeps it.
//!   - `stale_expected_versions_are_rejected`: A stale expected version is `version_mismatch` (carrying the current version) for updates and deletes, and changes nothing.
//!   - `concurrent_updates_with_one_expected_version_let_exactly_one_win`: Concurrent updates expecting the same version: exactly one applies.
//!   - `concurrent_updates_without_expected_version_all_apply`: Concurrent updates without an expected version are all applied, one version each.
//!   - `delete_removes_the_task`: A deleted task is gone for every operation; deleting twice is `not_found`.
//!   - `bulk_status_is_all_or_nothing`: Bulk status: one invisible id fails the call and changes nothing; otherwise every task changes (version + 1, `completed_at`), unchanged ones are not counted.
//!   - `bulk_status_limits_hold_at_their_boundaries`: Bulk takes 1-100 ids and a valid status.
//!   - `store_writes_are_conditional_on_version`: Below the service: task and user writes apply only at the expected version, deletes name the owner, and batch replacement reports what it did not write.
//!   - `batch_insert_is_visible_everywhere`: A batch insert writes every task, visible to reads, listings and stats at once.
//!   - `cancelled_writes_leave_the_store_writable`: Writes cancelled at any point (a client hanging up mid-request drops its future) leave no transaction open behind them: later writes succeed, and every write that reported success is stored.
//! - **listing**
//!   - `list_filters_by_status_priority_and_tag`: Status and priority lists match any of their values; `tag` requires the tag; all criteria combine with AND.
//!   - `list_filters_by_due_dates_and_overdue`: `due_before`/`due_after` are strict and exclude tasks without a due date; `overdue` means due in the past and neither done nor cancelled (and `false` its complement).
//!   - `search_matches_word_prefixes_case_insensitively`: Every word of `q` must prefix a word of the title or description, case-insensitively; words are runs of letters and digits.
//!   - `list_sorts_by_each_key_with_id_tie_break`: Each sort key in each direction: the reference order (nulls last, then key, then id in the same direction), through both pagination modes.
//!   - `page_mode_reports_totals_and_pages`: Page mode: `page` and `total` present, pages partition the result, a page past the end is empty, `next_cursor` only while more follow.
//!   - `keyset_pages_neither_skip_nor_repeat_under_inserts_and_deletes`: Walking cursor pages while tasks are created and deleted between requests neither skips nor repeats any task that exists throughout, for every sort.
//!   - `cursors_are_bound_to_their_listing`: A cursor only works with the sort and filters it was issued for; garbage cursors and combining `page` with `cursor` are rejected.
//!   - `list_limits_hold_at_their_boundaries`: `limit` 1-100 and `page` ≥ 1.
//!   - `listing_is_scoped_by_owner`: Users list only their own tasks and may not pass `owner_id`; admins list everyone's, or one owner's.
//!   - `stats_equal_counts_over_the_data`: Stats equal counts over the data: per status, per priority, overdue, and completions in the last 7 days.
//!   - `stats_are_scoped_by_owner`: Users get their own stats and may not pass `owner_id`; admins get everything or one owner's.
//! - **changes**
//!   - `every_write_appends_its_event_in_order`: Registration, task writes (create, update, bulk, delete) and the session and account writes (logout, logout-all, password change, role change, disable) each append their event, in the order they were acknowledged, with strictly increasing positions; task events carry the task as written.
//!   - `failed_writes_append_nothing`: Writes that fail or change nothing append nothing: a stale version, a delete of a missing task, a duplicate email, a batch with a duplicate id, a bulk change with a stale member.
//!   - `reads_resume_after_a_position_within_a_scope`: Reading after any position returns exactly the later events; a scope keeps one subject's events; the limit cuts a batch short and says so; the head taken before a write sorts before that write's event.
//!   - `pruned_positions_ask_for_a_reset`: Pruning deletes old events; a reader behind them is told to reset, with the head to start from; reading from there works, and later writes are logged as before.
//!   - `task_feed_shows_what_get_shows`: The task feed shows a principal exactly the task events a get would show them, pages by `next` without gaps or repeats, and starts from the head when `since` is omitted.
//!   - `event_streams_follow_visibility_and_end_on_logout`: A stream shows its principal's task events live and from a resume position, never another user's, and ends when the session is revoked.
//!   - `event_streams_end_on_a_revocation_made_elsewhere`: A stream ends when its session is revoked through another handle (another instance), however warm the cache of the handle serving it: the stream decides from the store, not from a cache entry its own instance has yet to drop. (The handle here has a cache and no follower, so its cache keeps the live session for as long as the test runs.)
//!   - `a_following_cache_honours_other_handles_writes`: A handle with a cache that follows the log honours writes made through another handle on the same store (another instance) within the follower's bound: a revoked session, a disabled account and an updated task.
//!   - `event_tickets_are_single_use`: An event ticket opens one stream, once, on any handle over the store, as its principal; a used, expired or forged ticket, or one whose session ended, is refused.
//! - **shared**
//!   - `shared_records_are_versioned`: A record is written only under its condition: `None` creates it where there is none, its current version replaces it, and any other version, or `None` over a live record, writes nothing. Versions start at 1 and go up by one per write, values come back literally (quotes, Unicode, 16 KB), and keys are independent.
//!   - `concurrent_shared_puts_let_exactly_one_win`: Of concurrent writers with the same condition exactly one wins, and the record holds its value: creating a record (`None`), replacing a version, and replacing an expired record (`None` again).
//!   - `expired_shared_records_are_absent_and_replaceable`: A record counts as absent from its expiry on: reads at or after it miss it, a write expecting its version writes nothing, and a write with `None` replaces it, one version up; until then it is live.
//!   - `expired_shared_records_are_purged`: Purging deletes exactly the records that expired at or before the time given and counts them; live records stay readable, a second purge finds nothing, and a purged key starts again at version 1.
//! - **differential**
//!   - `operations_match_the_memory_reference`: Random sequences of creates, patches (with and without expected versions), deletes, bulk status changes, gets, listings (filters, search, sorts, page mode, cursor chains walked at once or continued between other operations), stats and clock moves give the same results as on [`MemoryStore`] (proptest, shrunk to a minimal failing sequence; `TASKFLOW_PROPTEST_CASES`, `TASKFLOW_PROPTEST_SEED`).
//! <!-- /conformance-scenarios -->

pub mod auth;
pub mod cache;
pub mod changes;
mod clock;
mod error;
mod ids;
mod memory;
mod migrate;
pub mod query;
mod rbac;
mod service;
mod stats;
pub mod store;
mod task;
mod user;

#[cfg(feature = "conformance")]
pub mod conformance;

pub use auth::{
    DEFAULT_LOGIN_ACCOUNT_MAX_FAILURES, DEFAULT_LOGIN_FIRST_DELAY, DEFAULT_LOGIN_KNOWN_ADDRESS_TTL,
    DEFAULT_LOGIN_KNOWN_ADDRESSES, DEFAULT_LOGIN_MAX_DELAY, DEFAULT_LOGIN_MAX_FAILURES,
    DEFAULT_LOGIN_WINDOW, JwtAlgorithm, LoginThrottleConfig, PasswordParams, SessionRecord,
    TokenPair,
};
pub use cache::{Cache, CacheEntry, CacheKey, CacheMetrics, CacheValue, Cached};
#[cfg(feature = "moka")]
pub use cache::{CacheConfig, MokaCache};
pub use changes::{
    Change, ChangeBatch, ChangeEvent, Follower, FollowerConfig, FollowerStatus, LogPosition,
};
pub use clock::{Clock, ManualClock, SystemClock, to_millis};
pub use error::{BoxError, Conflict, Contended, Error, ErrorCode, Result, ValidationErrors};
pub use ids::{SessionId, TaskId, UserId};
pub use memory::MemoryStore;
pub use migrate::{
    EmailCollision, EmailNormalization, EmailRewrite, StoredEmail, normalize_stored_emails,
};
pub use query::{
    ListRequest, OverdueFilter, Page, Pagination, Position, SortKey, SortValue, TaskFilter,
    TaskQuery, TaskSlice, TaskSort, index_words, search_words,
};
pub use rbac::{Permission, Policy, Principal, Role, Scope};
pub use service::{
    DEFAULT_ACCESS_TTL, DEFAULT_CHANGES_LIMIT, DEFAULT_REFRESH_TTL, EVENT_TICKET_TTL, Event,
    EventStream, EventTicket, MAX_BULK_IDS, MAX_CHANGES_LIMIT, TaskChange, TaskChangeKind,
    TaskChanges, TaskFlow, TaskFlowBuilder,
};
pub use stats::{COMPLETED_WINDOW, PriorityCounts, StatsRequest, StatusCounts, TaskStats};
pub use store::{
    ChangeLog, SessionRotation, SessionStore, SharedRecord, SharedState, Store, TaskStore,
    UserStore,
};
pub use task::{
    DESCRIPTION_MAX_CHARS, MAX_TAGS, NewTask, Priority, Status, TAG_MAX_CHARS, TITLE_MAX_CHARS,
    Task, TaskPatch,
};
pub use user::{
    EMAIL_MAX_CHARS, NAME_MAX_CHARS, PASSWORD_MAX_CHARS, PASSWORD_MIN_CHARS, ProfileUpdate,
    Registration, User, UserListRequest, UserQuery, UserRecord, UserUpdate, fold_email,
    normalize_email,
};

/// Re-exports for the `store_conformance!` macro; not part of the public API.
#[doc(hidden)]
pub mod __private {
    pub use tokio;
}
