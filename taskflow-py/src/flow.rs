//! `taskflow.TaskFlow` (blocking, GIL released while waiting) and `taskflow.aio.TaskFlow`
//! (coroutines). Each operation is written once, as an async method of [`Handle`]; the
//! [`python_methods!`] list only forwards it to both classes, so they cannot drift.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, FixedOffset};
use futures_util::StreamExt;
use pyo3::prelude::*;
use pyo3::types::PyTuple;
use taskflow_core::{
    Error, MokaCache, NewTask, ProfileUpdate, Registration, TaskFlow, TaskPatch, TaskQuery,
    UserQuery, UserUpdate,
};
use taskflow_stores::AnyStore;

use crate::args::{self, Clearable, SecretArg, owner_filter, utc};
use crate::changes::{Changes, Event};
use crate::errors::TfError;
use crate::runtime::{Forward, awaitable, block_on};
use crate::streams::Streamed;
use crate::types::{Principal, Task, TaskPage, TaskStats, TokenPair, User, UserPage};

/// What both classes hold: the core handle and its store.
pub struct Handle {
    tf: TaskFlow,
    store: AnyStore,
}

fn seconds(name: &str, value: Option<f64>) -> Result<Option<Duration>, TfError> {
    value
        .map(|s| {
            Duration::try_from_secs_f64(s)
                .ok()
                .filter(|d| !d.is_zero())
                .ok_or_else(|| {
                    TfError(Error::invalid(name, "must be a positive number of seconds"))
                })
        })
        .transpose()
}

/// The operations, each taking its Python arguments as pyo3 extracted them and returning
/// what Python gets. The argument lists mirror the Python signatures, hence the allowances
/// for long ones.
impl Handle {
    async fn open(
        url: String,
        secret: Vec<u8>,
        cache: bool,
        access_ttl: Option<f64>,
        refresh_ttl: Option<f64>,
        migrate: bool,
    ) -> Result<Self, TfError> {
        let access_ttl = seconds("access_ttl_seconds", access_ttl)?;
        let refresh_ttl = seconds("refresh_ttl_seconds", refresh_ttl)?;
        let store = AnyStore::open(&url).await?;
        let mut builder = TaskFlow::builder()
            .shared_store(store.shared())
            .jwt_secret(secret);
        if cache {
            builder = builder.cache(MokaCache::default());
        }
        if let Some(ttl) = access_ttl {
            builder = builder.access_ttl(ttl);
        }
        if let Some(ttl) = refresh_ttl {
            builder = builder.refresh_ttl(ttl);
        }
        let handle = Handle {
            tf: builder.build()?,
            store,
        };
        if migrate {
            handle.migrate().await?;
        }
        Ok(handle)
    }

    async fn migrate(&self) -> Result<(), TfError> {
        Ok(self.store.migrate().await?)
    }

    async fn ping(&self) -> Result<(), TfError> {
        Ok(self.tf.ping().await?)
    }

    async fn close(&self) -> Result<(), TfError> {
        self.store.close().await;
        Ok(())
    }

    async fn purge_expired_sessions(&self) -> Result<u64, TfError> {
        Ok(self.tf.purge_expired_sessions().await?)
    }

    async fn create_admin(
        &self,
        email: String,
        password: String,
        name: String,
    ) -> Result<User, TfError> {
        let registration = Registration {
            email,
            password,
            name,
        };
        Ok(self.tf.create_admin(registration).await?.into())
    }

    async fn register(
        &self,
        email: String,
        password: String,
        name: String,
    ) -> Result<User, TfError> {
        let registration = Registration {
            email,
            password,
            name,
        };
        Ok(self.tf.register(registration).await?.into())
    }

    async fn login(
        &self,
        email: String,
        password: String,
        client_addr: Option<IpAddr>,
    ) -> Result<TokenPair, TfError> {
        Ok(self.tf.login(&email, &password, client_addr).await?.into())
    }

    async fn authenticate(&self, access_token: String) -> Result<Principal, TfError> {
        let inner = self.tf.authenticate(&access_token).await?;
        Ok(Principal { inner })
    }

    async fn refresh(&self, refresh_token: String) -> Result<TokenPair, TfError> {
        Ok(self.tf.refresh(&refresh_token).await?.into())
    }

    async fn logout(
        &self,
        access_token: String,
        refresh_token: Option<String>,
    ) -> Result<(), TfError> {
        let me = self.tf.authenticate(&access_token).await?;
        Ok(self.tf.logout(&me, refresh_token.as_deref()).await?)
    }

    async fn logout_all(&self, me: Principal) -> Result<(), TfError> {
        Ok(self.tf.logout_all(&me.inner).await?)
    }

    async fn change_password(
        &self,
        me: Principal,
        current_password: String,
        new_password: String,
        client_addr: Option<IpAddr>,
    ) -> Result<(), TfError> {
        let tf = &self.tf;
        Ok(tf
            .change_password(&me.inner, &current_password, &new_password, client_addr)
            .await?)
    }

    async fn me(&self, me: Principal) -> Result<User, TfError> {
        Ok(self.tf.me(&me.inner).await?.into())
    }

    async fn update_me(&self, me: Principal, name: Option<String>) -> Result<User, TfError> {
        let update = ProfileUpdate { name };
        Ok(self.tf.update_me(&me.inner, update).await?.into())
    }

    #[allow(clippy::too_many_arguments)]
    async fn create_task(
        &self,
        me: Principal,
        title: String,
        description: Option<String>,
        status: Option<String>,
        priority: Option<String>,
        due_date: Option<DateTime<FixedOffset>>,
        tags: Option<Vec<String>>,
    ) -> Result<Task, TfError> {
        let input = NewTask {
            title,
            description,
            status,
            priority,
            due_date: due_date.map(utc),
            tags,
        };
        Ok(self.tf.create_task(&me.inner, input).await?.into())
    }

    async fn events(
        &self,
        me: Principal,
        last_event_id: Option<String>,
    ) -> Result<Streamed<Event>, TfError> {
        let after = last_event_id.as_deref().map(args::position).transpose()?;
        let events = self.tf.events(&me.inner, after).await?;
        Ok(Streamed::new(
            events.map(|item| item.map(Event::from).map_err(TfError::from)),
        ))
    }

    async fn task_changes(
        &self,
        me: Principal,
        since: Option<String>,
        limit: u32,
    ) -> Result<Changes, TfError> {
        let since = since.as_deref().map(args::position).transpose()?;
        Ok(self.tf.task_changes(&me.inner, since, limit).await?.into())
    }

    async fn get_task(&self, me: Principal, task_id: String) -> Result<Task, TfError> {
        let id = args::task_id(&task_id)?;
        Ok(self.tf.get_task(&me.inner, id).await?.into())
    }

    #[allow(clippy::too_many_arguments)]
    async fn update_task(
        &self,
        me: Principal,
        task_id: String,
        title: Option<String>,
        description: Clearable<String>,
        status: Option<String>,
        priority: Option<String>,
        due_date: Clearable<DateTime<FixedOffset>>,
        tags: Option<Vec<String>>,
        expected_version: Option<u64>,
    ) -> Result<Task, TfError> {
        let patch = TaskPatch {
            title,
            description: description.into_patch(|d| d),
            status,
            priority,
            due_date: due_date.into_patch(utc),
            tags,
        };
        let id = args::task_id(&task_id)?;
        let task = self.tf.update_task(&me.inner, id, patch, expected_version);
        Ok(task.await?.into())
    }

    async fn delete_task(
        &self,
        me: Principal,
        task_id: String,
        expected_version: Option<u64>,
    ) -> Result<(), TfError> {
        let id = args::task_id(&task_id)?;
        Ok(self.tf.delete_task(&me.inner, id, expected_version).await?)
    }

    async fn bulk_set_status(
        &self,
        me: Principal,
        task_ids: Vec<String>,
        status: String,
    ) -> Result<u64, TfError> {
        let ids = task_ids
            .iter()
            .map(|id| args::task_id(id))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(self.tf.bulk_set_status(&me.inner, &ids, &status).await?)
    }

    #[allow(clippy::too_many_arguments)]
    async fn list_tasks(
        &self,
        me: Principal,
        status: Option<Vec<String>>,
        priority: Option<Vec<String>>,
        tag: Option<String>,
        q: Option<String>,
        due_before: Option<DateTime<FixedOffset>>,
        due_after: Option<DateTime<FixedOffset>>,
        overdue: Option<bool>,
        owner_id: Option<String>,
        sort: Option<String>,
        limit: Option<i64>,
        page: Option<i64>,
        cursor: Option<String>,
    ) -> Result<TaskPage, TfError> {
        let query = TaskQuery {
            status: status.unwrap_or_default(),
            priority: priority.unwrap_or_default(),
            tag,
            q,
            due_before: due_before.map(utc),
            due_after: due_after.map(utc),
            overdue,
            owner_id: owner_filter(owner_id)?,
            sort,
            limit,
            page,
            cursor,
        };
        Ok(self.tf.list_tasks(&me.inner, query).await?.into())
    }

    async fn task_stats(
        &self,
        me: Principal,
        owner_id: Option<String>,
    ) -> Result<TaskStats, TfError> {
        let owner = owner_filter(owner_id)?;
        Ok(self.tf.task_stats(&me.inner, owner).await?.into())
    }

    async fn list_users(
        &self,
        me: Principal,
        role: Option<String>,
        q: Option<String>,
        limit: Option<i64>,
        page: Option<i64>,
    ) -> Result<UserPage, TfError> {
        let query = UserQuery {
            role,
            q,
            limit,
            page,
        };
        Ok(self.tf.list_users(&me.inner, query).await?.into())
    }

    async fn get_user(&self, me: Principal, user_id: String) -> Result<User, TfError> {
        let id = args::user_id(&user_id)?;
        Ok(self.tf.get_user(&me.inner, id).await?.into())
    }

    async fn update_user(
        &self,
        me: Principal,
        user_id: String,
        role: Option<String>,
        disabled: Option<bool>,
    ) -> Result<User, TfError> {
        let id = args::user_id(&user_id)?;
        let update = UserUpdate { role, disabled };
        Ok(self.tf.update_user(&me.inner, id, update).await?.into())
    }
}

/// The blocking TaskFlow handle; safe to share between threads.
#[pyclass(module = "taskflow", name = "TaskFlow", frozen)]
pub struct SyncTaskFlow {
    h: Arc<Handle>,
}

/// The asyncio TaskFlow handle (`taskflow.aio.TaskFlow`): every operation is a coroutine.
#[pyclass(module = "taskflow.aio", name = "AsyncTaskFlow", frozen)]
pub struct AsyncTaskFlow {
    h: Arc<Handle>,
}

impl From<Handle> for SyncTaskFlow {
    fn from(h: Handle) -> Self {
        Self { h: Arc::new(h) }
    }
}

impl From<Handle> for AsyncTaskFlow {
    fn from(h: Handle) -> Self {
        Self { h: Arc::new(h) }
    }
}

/// Forwards each listed [`Handle`] method to a method of [`SyncTaskFlow`] and one of
/// [`AsyncTaskFlow`], with the listed docstring and signature; [`Forward`] of the result
/// type decides how it is returned (a value or an awaitable; a blocking or an async
/// iterator). Only forwarding here: every conversion is in the [`Handle`] method.
macro_rules! python_methods {
    ($(
        $(#[doc = $doc:literal])*
        #[pyo3(signature = $sig:tt)]
        fn $name:ident($($arg:ident: $ty:ty),* $(,)?) -> $ret:ty;
    )*) => {
        #[pymethods]
        impl SyncTaskFlow {
            /// Opens the store the URL names (`sqlite://path`, `sqlite::memory:`,
            /// `postgres://…`, `mongodb://…`) and, by default, migrates it.
            #[staticmethod]
            #[pyo3(signature = (
                url, jwt_secret, cache = true, access_ttl_seconds = None,
                refresh_ttl_seconds = None, migrate = true
            ))]
            fn open(
                py: Python<'_>,
                url: String,
                jwt_secret: SecretArg,
                cache: bool,
                access_ttl_seconds: Option<f64>,
                refresh_ttl_seconds: Option<f64>,
                migrate: bool,
            ) -> PyResult<Self> {
                let (access, refresh) = (access_ttl_seconds, refresh_ttl_seconds);
                let open = Handle::open(url, jwt_secret.0, cache, access, refresh, migrate);
                block_on(py, open).map(Self::from)
            }

            fn __enter__(slf: Py<Self>) -> Py<Self> {
                slf
            }

            #[pyo3(signature = (*_args))]
            fn __exit__(&self, py: Python<'_>, _args: &Bound<'_, PyTuple>) -> PyResult<()> {
                self.close(py)
            }

            fn __repr__(&self) -> String {
                "taskflow.TaskFlow(...)".to_owned()
            }

            $(
                $(#[doc = $doc])*
                #[pyo3(signature = $sig)]
                #[allow(clippy::too_many_arguments)]
                fn $name(
                    &self,
                    py: Python<'_>,
                    $($arg: $ty),*
                ) -> PyResult<<$ret as Forward>::Blocking> {
                    let h = self.h.clone();
                    <$ret>::blocking(py, async move { h.$name($($arg),*).await })
                }
            )*
        }

        #[pymethods]
        impl AsyncTaskFlow {
            /// Opens the store the URL names and, by default, migrates it (a coroutine).
            #[staticmethod]
            #[pyo3(signature = (
                url, jwt_secret, cache = true, access_ttl_seconds = None,
                refresh_ttl_seconds = None, migrate = true
            ))]
            fn open<'py>(
                py: Python<'py>,
                url: String,
                jwt_secret: SecretArg,
                cache: bool,
                access_ttl_seconds: Option<f64>,
                refresh_ttl_seconds: Option<f64>,
                migrate: bool,
            ) -> PyResult<Bound<'py, PyAny>> {
                let (access, refresh) = (access_ttl_seconds, refresh_ttl_seconds);
                let open = Handle::open(url, jwt_secret.0, cache, access, refresh, migrate);
                awaitable(py, async move { Ok(Self::from(open.await?)) })
            }

            fn __repr__(&self) -> String {
                "taskflow.aio.TaskFlow(...)".to_owned()
            }

            $(
                $(#[doc = $doc])*
                #[pyo3(signature = $sig)]
                #[allow(clippy::too_many_arguments)]
                fn $name<'py>(
                    &self,
                    py: Python<'py>,
                    $($arg: $ty),*
                ) -> PyResult<Bound<'py, PyAny>> {
                    let h = self.h.clone();
                    <$ret>::asyncio(py, async move { h.$name($($arg),*).await })
                }
            )*
        }
    };
}

python_methods! {
    /// Applies pending migrations (SQL) or ensures indexes (MongoDB); idempotent.
    #[pyo3(signature = ())]
    fn migrate() -> ();

    /// Checks that the store answers.
    #[pyo3(signature = ())]
    fn ping() -> ();

    /// Closes the store's connections; later calls fail with `UnavailableError`.
    #[pyo3(signature = ())]
    fn close() -> ();

    /// Deletes expired sessions; returns how many.
    #[pyo3(signature = ())]
    fn purge_expired_sessions() -> u64;

    /// Creates an admin account (trusted bootstrap: no principal).
    #[pyo3(signature = (email, password, name))]
    fn create_admin(email: String, password: String, name: String) -> User;

    /// Creates an account with role `user`.
    #[pyo3(signature = (email, password, name))]
    fn register(email: String, password: String, name: String) -> User;

    /// Exchanges credentials for a token pair. `client_addr` (an IP address as `str` or
    /// `ipaddress` object) is where the attempt comes from, for the login throttle; `None`
    /// counts as one address of its own.
    #[pyo3(signature = (email, password, *, client_addr = None))]
    fn login(email: String, password: String, client_addr: Option<IpAddr>) -> TokenPair;

    /// Verifies an access token; returns who it belongs to.
    #[pyo3(signature = (access_token))]
    fn authenticate(access_token: String) -> Principal;

    /// Rotates a refresh token (the old one is spent; reusing it revokes the family).
    #[pyo3(signature = (refresh_token))]
    fn refresh(refresh_token: String) -> TokenPair;

    /// Ends the session of `access_token` (and the refresh family of `refresh_token`).
    #[pyo3(signature = (access_token, refresh_token = None))]
    fn logout(access_token: String, refresh_token: Option<String>) -> ();

    /// Ends every session of the caller.
    #[pyo3(signature = (me))]
    fn logout_all(me: Principal) -> ();

    /// Changes the caller's password; every other session ends. A wrong current password
    /// counts against the login throttle for `client_addr`.
    #[pyo3(signature = (me, current_password, new_password, *, client_addr = None))]
    fn change_password(
        me: Principal,
        current_password: String,
        new_password: String,
        client_addr: Option<IpAddr>,
    ) -> ();

    /// The caller's account.
    #[pyo3(signature = (me))]
    fn me(me: Principal) -> User;

    /// Changes the caller's display name.
    #[pyo3(signature = (me, name = None))]
    fn update_me(me: Principal, name: Option<String>) -> User;

    /// Creates a task owned by the caller.
    #[pyo3(signature = (
        me, title, description = None, status = None, priority = None, due_date = None,
        tags = None
    ))]
    fn create_task(
        me: Principal,
        title: String,
        description: Option<String>,
        status: Option<String>,
        priority: Option<String>,
        due_date: Option<DateTime<FixedOffset>>,
        tags: Option<Vec<String>>,
    ) -> Task;

    /// One task.
    #[pyo3(signature = (me, task_id))]
    fn get_task(me: Principal, task_id: String) -> Task;

    /// The caller's live task events after `last_event_id` (`None`: from now), without
    /// gaps or repeats: a blocking iterator (GIL released while waiting) or, on
    /// `taskflow.aio`, an async iterator. It ends when the session is revoked or the
    /// account disabled; a first `reset` event when `last_event_id` is older than the log
    /// keeps.
    #[pyo3(signature = (me, last_event_id = None))]
    fn events(me: Principal, last_event_id: Option<String>) -> Streamed<Event>;

    /// The caller's task changes after `since` (`None`: from now), at most `limit`
    /// (1-500); `ResetRequiredError` (`.start`) when `since` is older than the log keeps.
    #[pyo3(signature = (me, since = None, limit = 100))]
    fn task_changes(me: Principal, since: Option<String>, limit: u32) -> Changes;

    /// Changes the given fields; `None` clears `description` or `due_date`. With
    /// `expected_version`, only at that version (`VersionMismatchError` otherwise).
    #[pyo3(signature = (
        me, task_id, title = None, description = Clearable::Unset, status = None,
        priority = None, due_date = Clearable::Unset, tags = None, expected_version = None
    ))]
    fn update_task(
        me: Principal,
        task_id: String,
        title: Option<String>,
        description: Clearable<String>,
        status: Option<String>,
        priority: Option<String>,
        due_date: Clearable<DateTime<FixedOffset>>,
        tags: Option<Vec<String>>,
        expected_version: Option<u64>,
    ) -> Task;

    /// Deletes a task; with `expected_version`, only at that version.
    #[pyo3(signature = (me, task_id, expected_version = None))]
    fn delete_task(me: Principal, task_id: String, expected_version: Option<u64>) -> ();

    /// Sets the status of up to 100 tasks, all or nothing; returns how many changed.
    #[pyo3(signature = (me, task_ids, status))]
    fn bulk_set_status(me: Principal, task_ids: Vec<String>, status: String) -> u64;

    /// Lists tasks: the caller's, or all for admins (one owner's with `owner_id`).
    #[pyo3(signature = (
        me, status = None, priority = None, tag = None, q = None, due_before = None,
        due_after = None, overdue = None, owner_id = None, sort = None, limit = None,
        page = None, cursor = None
    ))]
    fn list_tasks(
        me: Principal,
        status: Option<Vec<String>>,
        priority: Option<Vec<String>>,
        tag: Option<String>,
        q: Option<String>,
        due_before: Option<DateTime<FixedOffset>>,
        due_after: Option<DateTime<FixedOffset>>,
        overdue: Option<bool>,
        owner_id: Option<String>,
        sort: Option<String>,
        limit: Option<i64>,
        page: Option<i64>,
        cursor: Option<String>,
    ) -> TaskPage;

    /// Counts over the caller's tasks (admins: all, or one owner's).
    #[pyo3(signature = (me, owner_id = None))]
    fn task_stats(me: Principal, owner_id: Option<String>) -> TaskStats;

    /// Lists accounts (admin only).
    #[pyo3(signature = (me, role = None, q = None, limit = None, page = None))]
    fn list_users(
        me: Principal,
        role: Option<String>,
        q: Option<String>,
        limit: Option<i64>,
        page: Option<i64>,
    ) -> UserPage;

    /// One account (admin only).
    #[pyo3(signature = (me, user_id))]
    fn get_user(me: Principal, user_id: String) -> User;

    /// Changes an account's role or disabled flag (admin only).
    #[pyo3(signature = (me, user_id, role = None, disabled = None))]
    fn update_user(
        me: Principal,
        user_id: String,
        role: Option<String>,
        disabled: Option<bool>,
    ) -> User;
}
