//! `taskflow.TaskFlow` (blocking, GIL released while waiting) and `taskflow.aio.TaskFlow`
//! (coroutines). Both are generated from one list of operations, so they cannot drift: each
//! operation is written once as an async body, run by `block_on` or wrapped as an awaitable.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, FixedOffset};
use pyo3::prelude::*;
use taskflow_core::{
    Error, MokaCache, NewTask, ProfileUpdate, Registration, TaskFlow, TaskPatch, TaskQuery,
    UserQuery, UserUpdate,
};
use taskflow_stores::AnyStore;

use crate::args::{Clearable, SecretArg, owner_filter, task_id, user_id, utc};
use crate::errors::TfError;
use crate::runtime::{awaitable, block_on};
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

    async fn close(&self) {
        self.store.close().await;
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

/// Expands each operation into a blocking method of [`SyncTaskFlow`] and a coroutine
/// method of [`AsyncTaskFlow`]. `$h` names the shared [`Handle`] inside the body.
macro_rules! operations {
    ($(
        $(#[doc = $doc:literal])*
        #[pyo3(signature = $sig:tt)]
        fn $name:ident($h:ident $(, $arg:ident : $ty:ty)*) -> $ret:ty $body:block
    )*) => {
        #[pymethods]
        impl SyncTaskFlow {
            /// Opens the store the URL names (`sqlite://path`, `sqlite::memory:`,
            /// `postgres://…`, `mongodb://…`) and, by default, migrates it.
            #[staticmethod]
            #[pyo3(signature = (url, jwt_secret, cache = true, access_ttl_seconds = None, refresh_ttl_seconds = None, migrate = true))]
            fn open(
                py: Python<'_>,
                url: String,
                jwt_secret: SecretArg,
                cache: bool,
                access_ttl_seconds: Option<f64>,
                refresh_ttl_seconds: Option<f64>,
                migrate: bool,
            ) -> PyResult<Self> {
                let h = block_on(py, Handle::open(url, jwt_secret.0, cache, access_ttl_seconds, refresh_ttl_seconds, migrate))?;
                Ok(Self { h: Arc::new(h) })
            }

            fn __enter__(slf: Py<Self>) -> Py<Self> {
                slf
            }

            #[pyo3(signature = (*_args))]
            fn __exit__(&self, py: Python<'_>, _args: &Bound<'_, pyo3::types::PyTuple>) -> PyResult<()> {
                let h = self.h.clone();
                block_on(py, async move {
                    h.close().await;
                    Ok(())
                })
            }

            fn __repr__(&self) -> String {
                "taskflow.TaskFlow(...)".to_owned()
            }

            $(
                $(#[doc = $doc])*
                #[pyo3(signature = $sig)]
                #[allow(clippy::too_many_arguments)]
                fn $name(&self, py: Python<'_>, $($arg: $ty),*) -> PyResult<$ret> {
                    let $h = self.h.clone();
                    block_on::<$ret, _>(py, async move $body)
                }
            )*
        }

        #[pymethods]
        impl AsyncTaskFlow {
            /// Opens the store the URL names and, by default, migrates it (a coroutine).
            #[staticmethod]
            #[pyo3(signature = (url, jwt_secret, cache = true, access_ttl_seconds = None, refresh_ttl_seconds = None, migrate = true))]
            fn open<'py>(
                py: Python<'py>,
                url: String,
                jwt_secret: SecretArg,
                cache: bool,
                access_ttl_seconds: Option<f64>,
                refresh_ttl_seconds: Option<f64>,
                migrate: bool,
            ) -> PyResult<Bound<'py, PyAny>> {
                awaitable::<AsyncTaskFlow, _>(py, async move {
                    let h = Handle::open(url, jwt_secret.0, cache, access_ttl_seconds, refresh_ttl_seconds, migrate).await?;
                    Ok(AsyncTaskFlow { h: Arc::new(h) })
                })
            }

            fn __repr__(&self) -> String {
                "taskflow.aio.TaskFlow(...)".to_owned()
            }

            $(
                $(#[doc = $doc])*
                #[pyo3(signature = $sig)]
                #[allow(clippy::too_many_arguments)]
                fn $name<'py>(&self, py: Python<'py>, $($arg: $ty),*) -> PyResult<Bound<'py, PyAny>> {
                    let $h = self.h.clone();
                    awaitable::<$ret, _>(py, async move $body)
                }
            )*
        }
    };
}

operations! {
    /// Applies pending migrations (SQL) or ensures indexes (MongoDB); idempotent.
    #[pyo3(signature = ())]
    fn migrate(h) -> () {
        h.migrate().await
    }

    /// Checks that the store answers.
    #[pyo3(signature = ())]
    fn ping(h) -> () {
        Ok(h.tf.ping().await?)
    }

    /// Closes the store's connections; later calls fail with `UnavailableError`.
    #[pyo3(signature = ())]
    fn close(h) -> () {
        h.close().await;
        Ok(())
    }

    /// Deletes expired sessions; returns how many.
    #[pyo3(signature = ())]
    fn purge_expired_sessions(h) -> u64 {
        Ok(h.tf.purge_expired_sessions().await?)
    }

    /// Creates an admin account (trusted bootstrap: no principal).
    #[pyo3(signature = (email, password, name))]
    fn create_admin(h, email: String, password: String, name: String) -> User {
        Ok(h.tf.create_admin(Registration { email, password, name }).await?.into())
    }

    /// Creates an account with role `user`.
    #[pyo3(signature = (email, password, name))]
    fn register(h, email: String, password: String, name: String) -> User {
        Ok(h.tf.register(Registration { email, password, name }).await?.into())
    }

    /// Exchanges credentials for a token pair.
    #[pyo3(signature = (email, password))]
    fn login(h, email: String, password: String) -> TokenPair {
        Ok(h.tf.login(&email, &password).await?.into())
    }

    /// Verifies an access token; returns who it belongs to.
    #[pyo3(signature = (access_token))]
    fn authenticate(h, access_token: String) -> Principal {
        Ok(Principal { inner: h.tf.authenticate(&access_token).await? })
    }

    /// Rotates a refresh token (the old one is spent; reusing it revokes the family).
    #[pyo3(signature = (refresh_token))]
    fn refresh(h, refresh_token: String) -> TokenPair {
        Ok(h.tf.refresh(&refresh_token).await?.into())
    }

    /// Ends the session of `access_token` (and the refresh family of `refresh_token`).
    #[pyo3(signature = (access_token, refresh_token = None))]
    fn logout(h, access_token: String, refresh_token: Option<String>) -> () {
        let me = h.tf.authenticate(&access_token).await?;
        Ok(h.tf.logout(&me, refresh_token.as_deref()).await?)
    }

    /// Ends every session of the caller.
    #[pyo3(signature = (me))]
    fn logout_all(h, me: Principal) -> () {
        Ok(h.tf.logout_all(&me.inner).await?)
    }

    /// Changes the caller's password; every other session ends.
    #[pyo3(signature = (me, current_password, new_password))]
    fn change_password(h, me: Principal, current_password: String, new_password: String) -> () {
        Ok(h.tf.change_password(&me.inner, &current_password, &new_password).await?)
    }

    /// The caller's account.
    #[pyo3(signature = (me))]
    fn me(h, me: Principal) -> User {
        Ok(h.tf.me(&me.inner).await?.into())
    }

    /// Changes the caller's display name.
    #[pyo3(signature = (me, name = None))]
    fn update_me(h, me: Principal, name: Option<String>) -> User {
        Ok(h.tf.update_me(&me.inner, ProfileUpdate { name }).await?.into())
    }

    /// Creates a task owned by the caller.
    #[pyo3(signature = (me, title, description = None, status = None, priority = None, due_date = None, tags = None))]
    fn create_task(
        h,
        me: Principal,
        title: String,
        description: Option<String>,
        status: Option<String>,
        priority: Option<String>,
        due_date: Option<DateTime<FixedOffset>>,
        tags: Option<Vec<String>>
    ) -> Task {
        let input = NewTask {
            title,
            description,
            status,
            priority,
            due_date: due_date.map(utc),
            tags,
        };
        Ok(h.tf.create_task(&me.inner, input).await?.into())
    }

    /// One task.
    #[pyo3(signature = (me, task_id))]
    fn get_task(h, me: Principal, task_id: String) -> Task {
        Ok(h.tf.get_task(&me.inner, self::task_id(&task_id)?).await?.into())
    }

    /// Changes the given fields; `None` clears `description` or `due_date`. With
    /// `expected_version`, only at that version (`VersionMismatchError` otherwise).
    #[pyo3(signature = (me, task_id, title = None, description = Clearable::Unset, status = None, priority = None, due_date = Clearable::Unset, tags = None, expected_version = None))]
    fn update_task(
        h,
        me: Principal,
        task_id: String,
        title: Option<String>,
        description: Clearable<String>,
        status: Option<String>,
        priority: Option<String>,
        due_date: Clearable<DateTime<FixedOffset>>,
        tags: Option<Vec<String>>,
        expected_version: Option<u64>
    ) -> Task {
        let patch = TaskPatch {
            title,
            description: description.into_patch(|d| d),
            status,
            priority,
            due_date: due_date.into_patch(utc),
            tags,
        };
        let id = self::task_id(&task_id)?;
        Ok(h.tf.update_task(&me.inner, id, patch, expected_version).await?.into())
    }

    /// Deletes a task; with `expected_version`, only at that version.
    #[pyo3(signature = (me, task_id, expected_version = None))]
    fn delete_task(h, me: Principal, task_id: String, expected_version: Option<u64>) -> () {
        Ok(h.tf.delete_task(&me.inner, self::task_id(&task_id)?, expected_version).await?)
    }

    /// Sets the status of up to 100 tasks, all or nothing; returns how many changed.
    #[pyo3(signature = (me, task_ids, status))]
    fn bulk_set_status(h, me: Principal, task_ids: Vec<String>, status: String) -> u64 {
        let ids = task_ids.iter().map(|id| self::task_id(id)).collect::<Result<Vec<_>, _>>()?;
        Ok(h.tf.bulk_set_status(&me.inner, &ids, &status).await?)
    }

    /// Lists tasks: the caller's, or all for admins (one owner's with `owner_id`).
    #[pyo3(signature = (me, status = None, priority = None, tag = None, q = None, due_before = None, due_after = None, overdue = None, owner_id = None, sort = None, limit = None, page = None, cursor = None))]
    fn list_tasks(
        h,
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
        cursor: Option<String>
    ) -> TaskPage {
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
        Ok(h.tf.list_tasks(&me.inner, query).await?.into())
    }

    /// Counts over the caller's tasks (admins: all, or one owner's).
    #[pyo3(signature = (me, owner_id = None))]
    fn task_stats(h, me: Principal, owner_id: Option<String>) -> TaskStats {
        Ok(h.tf.task_stats(&me.inner, owner_filter(owner_id)?).await?.into())
    }

    /// Lists accounts (admin only).
    #[pyo3(signature = (me, role = None, q = None, limit = None, page = None))]
    fn list_users(h, me: Principal, role: Option<String>, q: Option<String>, limit: Option<i64>, page: Option<i64>) -> UserPage {
        let query = UserQuery { role, q, limit, page };
        Ok(h.tf.list_users(&me.inner, query).await?.into())
    }

    /// One account (admin only).
    #[pyo3(signature = (me, user_id))]
    fn get_user(h, me: Principal, user_id: String) -> User {
        Ok(h.tf.get_user(&me.inner, self::user_id(&user_id)?).await?.into())
    }

    /// Changes an account's role or disabled flag (admin only).
    #[pyo3(signature = (me, user_id, role = None, disabled = None))]
    fn update_user(h, me: Principal, user_id: String, role: Option<String>, disabled: Option<bool>) -> User {
        let update = UserUpdate { role, disabled };
        Ok(h.tf.update_user(&me.inner, self::user_id(&user_id)?, update).await?.into())
    }
}
