//! The store conformance suite (feature `conformance`).
//!
//! Each scenario is an `async fn(Arc<dyn Store>)` that drives a [`TaskFlow`] built over the
//! store (with a [`ManualClock`] and cheap password hashing) and asserts observable
//! behaviour. [`store_conformance!`](crate::store_conformance) expands to one `#[test]` per
//! scenario; the setup function must return an **empty** store each time it is called.
//!
//! ```ignore
//! async fn setup() -> MyStore { MyStore::connect_fresh().await }
//! taskflow_core::store_conformance!(setup);
//! ```

mod accounts;
mod admin;
mod changes;
mod differential;
mod listing;
mod shared;
mod tasks;
mod tokens;

pub use accounts::*;
pub use admin::*;
pub use changes::*;
pub use differential::*;
pub use listing::*;
pub use shared::*;
pub use tasks::*;
pub use tokens::*;

use std::fmt::Debug;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};

use crate::auth::TokenPair;
use crate::{
    Error, ManualClock, NewTask, PasswordParams, Principal, Registration, Result, Store, Task,
    TaskFlow, TaskFlowBuilder, User,
};

/// The HMAC secret of the harness's TaskFlow.
pub const SECRET: &[u8] = b"conformance-suite-secret-0123456789abcdef";
/// Every user the harness creates has this password.
pub const PASSWORD: &str = "correct horse battery staple";

/// A TaskFlow over the store under test, with a clock the scenario controls.
pub struct Harness {
    /// The handle under test.
    pub tf: TaskFlow,
    /// The raw store (for contract checks below the service).
    pub store: Arc<dyn Store>,
    /// Time as the handle sees it; starts at 2030-01-01T00:00:00Z.
    pub clock: Arc<ManualClock>,
}

/// A registered, logged-in user.
pub struct Account {
    /// The user.
    pub user: User,
    /// Authenticated principal of `tokens`.
    pub principal: Principal,
    /// Tokens of the login.
    pub tokens: TokenPair,
}

impl Harness {
    /// The standard harness.
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self::with(store, |b| b)
    }

    /// A harness whose builder is adjusted by `configure` (roles, TTLs, ...).
    pub fn with(
        store: Arc<dyn Store>,
        configure: impl FnOnce(TaskFlowBuilder) -> TaskFlowBuilder,
    ) -> Self {
        let clock = Arc::new(ManualClock::new(start_time()));
        let builder = TaskFlow::builder()
            .shared_store(Arc::clone(&store))
            .jwt_secret(SECRET)
            .password_params(PasswordParams::insecure_fast_for_tests())
            .clock(clock.clone());
        let tf = configure(builder).build().expect("harness configuration");
        Self { tf, store, clock }
    }

    /// Registers `name@example.com` and logs in.
    pub async fn account(&self, name: &str) -> Account {
        let user = self
            .tf
            .register(registration(name))
            .await
            .expect("register");
        self.login(user).await
    }

    /// Creates an admin `name@example.com` and logs in.
    pub async fn admin(&self, name: &str) -> Account {
        let user = self
            .tf
            .create_admin(registration(name))
            .await
            .expect("create_admin");
        self.login(user).await
    }

    async fn login(&self, user: User) -> Account {
        let tokens = self
            .tf
            .login(&user.email, PASSWORD, None)
            .await
            .expect("login");
        let principal = self
            .tf
            .authenticate(&tokens.access_token)
            .await
            .expect("authenticate");
        Account {
            user,
            principal,
            tokens,
        }
    }

    /// Creates a task, panicking on failure.
    pub async fn task(&self, owner: &Principal, input: NewTask) -> Task {
        self.tf
            .create_task(owner, input)
            .await
            .expect("create_task")
    }

    /// Moves the clock.
    pub fn advance(&self, by: chrono::TimeDelta) {
        self.clock.advance(by);
    }

    /// The harness clock's current time.
    pub fn now(&self) -> DateTime<Utc> {
        crate::clock::Clock::now(&*self.clock)
    }
}

/// 2030-01-01T00:00:00Z, where every harness clock starts.
pub fn start_time() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2030, 1, 1, 0, 0, 0)
        .single()
        .expect("valid date")
}

/// Registration input for `name@example.com` with [`PASSWORD`].
pub fn registration(name: &str) -> Registration {
    Registration {
        email: format!("{name}@example.com"),
        password: PASSWORD.to_owned(),
        name: name.to_owned(),
    }
}

/// A client address for throttle scenarios: `203.0.113.n` (TEST-NET-3, never routed).
pub fn client(n: u8) -> Option<IpAddr> {
    Some(IpAddr::V4(Ipv4Addr::new(203, 0, 113, n)))
}

/// Asserts that `result` failed with `rate_limited`; returns its retry-after.
#[track_caller]
pub fn retry_after(result: Result<()>) -> std::time::Duration {
    match expect_code(result, "rate_limited") {
        Error::RateLimited { retry_after } => retry_after,
        other => panic!("expected a rate limit, got {other:?}"),
    }
}

/// Asserts that `result` failed with error code `code`; returns the error.
#[track_caller]
pub fn expect_code<T: Debug>(result: Result<T>, code: &str) -> Error {
    match result {
        Ok(v) => panic!("expected error {code}, got Ok({v:?})"),
        Err(e) => {
            assert_eq!(e.code(), code, "expected {code}, got {e:?}");
            e
        }
    }
}

/// Asserts a validation error that names exactly these fields.
#[track_caller]
pub fn expect_invalid_fields<T: Debug>(result: Result<T>, fields: &[&str]) {
    match expect_code(result, "validation_failed") {
        Error::Validation(v) => {
            let got: Vec<&str> = v.fields().keys().map(String::as_str).collect();
            let mut want = fields.to_vec();
            want.sort_unstable();
            assert_eq!(got, want, "invalid fields");
        }
        other => panic!("expected a validation error, got {other:?}"),
    }
}

/// Runs `n` copies of a future concurrently on the multi-threaded runtime and collects
/// their results.
pub async fn concurrently<F, Fut, T>(n: usize, make: F) -> Vec<T>
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    let barrier = Arc::new(tokio::sync::Barrier::new(n));
    let handles: Vec<_> = (0..n)
        .map(|i| {
            let fut = make(i);
            let barrier = Arc::clone(&barrier);
            tokio::spawn(async move {
                barrier.wait().await;
                fut.await
            })
        })
        .collect();
    let mut out = Vec::with_capacity(n);
    for h in handles {
        out.push(h.await.expect("scenario task panicked"));
    }
    out
}

/// One conformance scenario: its group (the file of `src/conformance/` that defines it) and
/// the name of its function, which is also the name of its test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scenario {
    /// `accounts`, `tokens`, `admin`, `tasks`, `listing`, `changes`, `shared` or
    /// `differential`.
    pub group: &'static str,
    /// The scenario function, and the test `store_conformance!` expands for it.
    pub name: &'static str,
}

// Builds `SCENARIOS` from the one list, `__conformance_scenarios!`.
macro_rules! scenario_table {
    ($($group:ident [$($name:ident),* $(,)?])*) => {
        &[$($(Scenario { group: stringify!($group), name: stringify!($name) },)*)*]
    };
}

/// Every scenario `store_conformance!` runs, in order: the same list expands both, so they
/// cannot drift, and a test of this crate keeps the crate docs' list equal to it.
pub const SCENARIOS: &[Scenario] = crate::__conformance_scenarios!([scenario_table]);

/// The conformance scenarios, written once: calls the macro named in brackets with
/// `prefix` and then `group [name, ...]` for each group. Both [`SCENARIOS`] and
/// `store_conformance!` are expanded from it; a new scenario is a function in its group's
/// file and one line here.
#[doc(hidden)]
#[macro_export]
macro_rules! __conformance_scenarios {
    ([$($callback:tt)*] $($prefix:tt)*) => {
        $($callback)*! { $($prefix)*
            accounts [
                register_normalises_and_assigns_user_role,
                register_rejects_duplicate_email_case_insensitively,
                register_reports_every_invalid_field,
                password_length_limits_hold_at_their_boundaries,
                common_passwords_are_refused,
                concurrent_registrations_of_one_email_create_one_account,
                login_fails_alike_for_unknown_email_and_wrong_password,
                login_throttles_after_five_failures,
                login_throttle_spares_the_owner_at_another_address,
                distributed_guessing_is_slowed_by_the_account_cap,
                unknown_accounts_are_throttled_like_known_ones,
                login_throttle_is_one_budget_across_handles,
                email_variants_are_one_account,
                stored_emails_are_normalised_and_collisions_reported,
                imported_bcrypt_hash_is_verified_and_upgraded,
                change_password_ends_other_sessions_only,
                update_me_changes_only_the_name,
            ]
            tokens [
                access_tokens_are_verified_strictly,
                access_tokens_expire,
                refresh_rotates_and_reuse_revokes_the_family,
                concurrent_refreshes_of_one_token_let_exactly_one_win,
                refresh_tokens_expire_and_rotation_extends_them,
                sessions_end_at_their_absolute_lifetime,
                malformed_refresh_tokens_are_rejected,
                logout_ends_the_session_and_its_access_token,
                logout_ignores_refresh_tokens_of_other_users,
                logout_all_ends_every_session,
                expired_sessions_are_purged,
            ]
            admin [
                user_administration_requires_permissions,
                list_users_filters_and_paginates,
                disabled_user_is_locked_out_at_once,
                role_changes_apply_to_existing_tokens,
                last_active_admin_cannot_be_demoted_or_disabled,
                concurrent_demotions_keep_an_active_admin,
                custom_roles_grant_exactly_their_permissions,
            ]
            tasks [
                create_task_applies_defaults_and_normalises,
                create_task_reports_every_invalid_field,
                task_field_limits_hold_at_their_boundaries,
                timestamps_round_trip_at_millisecond_precision,
                hostile_and_unicode_text_is_stored_literally,
                tasks_of_other_users_are_not_found,
                update_applies_patch_semantics,
                status_changes_set_and_clear_completed_at,
                stale_expected_versions_are_rejected,
                concurrent_updates_with_one_expected_version_let_exactly_one_win,
                concurrent_updates_without_expected_version_all_apply,
                delete_removes_the_task,
                bulk_status_is_all_or_nothing,
                bulk_status_limits_hold_at_their_boundaries,
                store_writes_are_conditional_on_version,
                batch_insert_is_visible_everywhere,
                cancelled_writes_leave_the_store_writable,
            ]
            listing [
                list_filters_by_status_priority_and_tag,
                list_filters_by_due_dates_and_overdue,
                search_matches_word_prefixes_case_insensitively,
                list_sorts_by_each_key_with_id_tie_break,
                page_mode_reports_totals_and_pages,
                keyset_pages_neither_skip_nor_repeat_under_inserts_and_deletes,
                cursors_are_bound_to_their_listing,
                list_limits_hold_at_their_boundaries,
                listing_is_scoped_by_owner,
                stats_equal_counts_over_the_data,
                stats_are_scoped_by_owner,
            ]
            changes [
                every_write_appends_its_event_in_order,
                failed_writes_append_nothing,
                reads_resume_after_a_position_within_a_scope,
                pruned_positions_ask_for_a_reset,
                task_feed_shows_what_get_shows,
                event_streams_follow_visibility_and_end_on_logout,
                event_streams_end_on_a_revocation_made_elsewhere,
                a_following_cache_honours_other_handles_writes,
                event_tickets_are_single_use,
            ]
            shared [
                shared_records_are_versioned,
                concurrent_shared_puts_let_exactly_one_win,
                expired_shared_records_are_absent_and_replaceable,
                expired_shared_records_are_purged,
            ]
            differential [
                operations_match_the_memory_reference,
            ]
        }
    };
}

/// Expands to one `#[test]` per conformance scenario, each calling `$setup().await` for a
/// fresh, empty store and running the scenario on a multi-threaded Tokio runtime.
///
/// `store_conformance!(optional setup)` takes a setup returning `Option<store>`, for
/// backends that need a server: `None` means "not configured here" and the scenario does
/// nothing (the invoking crate reports the skip, and fails under CI).
///
/// A trailing `differential_cases = N` sets how many random sequences
/// `operations_match_the_memory_reference` runs (default
/// [`DEFAULT_DIFFERENTIAL_CASES`](crate::conformance::DEFAULT_DIFFERENTIAL_CASES)), for
/// backends too slow for the default; `TASKFLOW_PROPTEST_CASES` overrides both.
///
/// The scenarios are those of [`SCENARIOS`](crate::conformance::SCENARIOS).
#[macro_export]
macro_rules! store_conformance {
    ($setup:path) => {
        $crate::store_conformance!(@suite $setup; required;
            $crate::conformance::DEFAULT_DIFFERENTIAL_CASES);
    };
    ($setup:path, differential_cases = $cases:expr) => {
        $crate::store_conformance!(@suite $setup; required; $cases);
    };
    (optional $setup:path) => {
        $crate::store_conformance!(@suite $setup; optional;
            $crate::conformance::DEFAULT_DIFFERENTIAL_CASES);
    };
    (optional $setup:path, differential_cases = $cases:expr) => {
        $crate::store_conformance!(@suite $setup; optional; $cases);
    };
    (@suite $setup:path; $mode:ident; $cases:expr) => {
        $crate::__conformance_scenarios!([$crate::store_conformance] @tests $setup; $mode; $cases;);
    };
    (@tests $setup:path; $mode:ident; $cases:expr; $($group:ident [$($name:ident),* $(,)?])*) => {
        $($(
            $crate::store_conformance!(@scenario $setup; $mode; $cases; $name);
        )*)*
    };
    // The one scenario with a parameter: how many random sequences it runs.
    (@scenario $setup:path; $mode:ident; $cases:expr; operations_match_the_memory_reference) => {
        $crate::store_conformance!(@test $setup; $mode;
            operations_match_the_memory_reference => differential_cases($cases));
    };
    (@scenario $setup:path; $mode:ident; $cases:expr; $name:ident) => {
        $crate::store_conformance!(@test $setup; $mode; $name => $name());
    };
    (@test $setup:path; $mode:ident; $name:ident => $scenario:ident($($arg:expr),*)) => {
        #[test]
        fn $name() {
            $crate::__private::tokio::runtime::Builder::new_multi_thread()
                .worker_threads(4)
                .enable_all()
                .build()
                .expect("tokio runtime")
                .block_on(async {
                    $crate::store_conformance!(@run $mode; $setup; $scenario($($arg),*));
                });
        }
    };
    (@run required; $setup:path; $scenario:ident($($arg:expr),*)) => {
        let store = $setup().await;
        $crate::conformance::$scenario(::std::sync::Arc::new(store) $(, $arg)*).await;
    };
    (@run optional; $setup:path; $scenario:ident($($arg:expr),*)) => {
        // `None`: the backend is not configured here; the crate reports the skip once.
        if let Some(store) = $setup().await {
            $crate::conformance::$scenario(::std::sync::Arc::new(store) $(, $arg)*).await;
        }
    };
}
