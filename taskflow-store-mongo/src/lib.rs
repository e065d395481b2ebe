//! # taskflow-store-mongo
//!
//! A TaskFlow store on MongoDB (official `mongodb` driver, 3.x), for teams whose data already
//! lives there. Written for real MongoDB — standalone, replica set, or a sharded cluster keyed
//! by `owner_id` — and tested against `nx-27017` (a MongoDB wire-protocol server on SQLite).
//!
//! ```no_run
//! use taskflow_store_mongo::{MongoOptions, MongoStore};
//! use taskflow_core::TaskFlow;
//!
//! # async fn run() -> taskflow_core::Result<()> {
//! let store = MongoStore::open("mongodb://127.0.0.1:27017/taskflow", &MongoOptions::default()).await?;
//! let tf = TaskFlow::builder()
//!     .store(store)
//!     .jwt_secret(std::env::var("TASKFLOW_JWT_SECRET").unwrap_or_default())
//!     .build()?;
//! # Ok(()) }
//! ```
//!
//! ## How it stays correct without multi-document transactions
//! - Every user and task write is an insert or a whole-document `find_one_and_replace`
//!   filtered on `{_id, version}` (tasks also on `owner_id`): optimistic concurrency in one
//!   atomic single-document operation.
//! - Refresh rotation is one conditional whole-document replace filtered on the presented
//!   token hash, a string `state` and the expiry: of two concurrent rotations one matches.
//! - Email uniqueness is a unique index on the normalised email (duplicate key = code 11000).
//! - Bulk status changes write task by task; core retries what did not apply and treats a
//!   task deleted meanwhile as deleted after the bulk change (see `TaskStore::replace_tasks`).
//! - The last-active-admin rule: guarded writes take a lease document in `locks` (insert
//!   with a fixed `_id`; expired leases are taken over), count the *other* active admins,
//!   then write. Unguarded writes can only add admins, so the count cannot drop meanwhile.
//! - Every query on a user's tasks carries `owner_id`, the shard key, so it is routed to one
//!   shard rather than broadcast.
//! - The change log: see the next section.
//!
//! ## The change log without transactions
//! The contract ([`ChangeLog`]) asks that every acknowledged write appends its event, that
//! a failed write appends none, and that a reader resuming after the last position it saw
//! never skips one. Without multi-document transactions the record and its event cannot be
//! written in one atomic operation in two collections, so the event travels **inside the
//! record** first:
//!
//! 1. **Write.** Every write of a user, session or task document also sets its *outbox*:
//!    four string fields `pend` (the event's id, a UUIDv7), `pend_kind`, `pend_subject`
//!    and `pend_data` (what [`Change::kind`], [`Change::subject`] and [`Change::data_json`]
//!    give), in the same single-document insert, replace or `$set`; a logout-all puts one
//!    event into every session it revokes. A write's filter also requires an empty outbox
//!    (`pend: ""`), so it never overwrites an event not logged yet. A delete does not
//!    delete: a conditional replace turns the task into a *tombstone* (`deleted: 1`,
//!    `_id`, `owner_id` and the outbox), which every task query skips (`deleted: 0` is
//!    part of every task filter).
//! 2. **Append.** The writer inserts the events into `events` (`_id` = event id, `pos`,
//!    `kind`, `subject`, `data`, `at`, `at_ms`) at the next positions, in order. A
//!    position is taken by the insert itself (unique index on `pos`), so of two handles
//!    appending at once one gets it and the other moves on, and a handle appends position
//!    `p + 1` only once it knows `p` is taken (its own insert returned, or another's
//!    blocked it): positions have no holes and are inserted in order. An event whose id is
//!    already in `events` (the unique `_id`) was logged by someone else and is skipped.
//!    There is no counter: the next position is one past the newest stored (or past the
//!    horizon below, when pruning removed everything), and each handle remembers where it
//!    appended last, so normally the first insert succeeds.
//! 3. **Check.** The writer then reads the horizon (the newest pruned position, in
//!    `meta`). An event at or below it sits in a slot pruning freed, which no reader
//!    would look at (a handle that last appended before a prune tries such a slot); it is
//!    deleted and appended again higher up.
//! 4. **Clear.** The writer empties the outboxes that still hold those events (a
//!    conditional `$set` on `pend`), or removes the tombstone; then it acknowledges.
//!
//! **Nothing is lost.** Whatever step a writer dies after (a `kill -9`, a lost
//! connection, a dropped future), its events are in `events` or in an outbox, and an
//! outbox is emptied only after step 3 confirmed its event in the log. Two things log
//! what a dead writer left: every handle's readers ([`ChangeLog::read_changes`], which
//! followers and streams call) run a *recovery pass* about once a second, which appends
//! the events of outboxes older than [`MongoOptions::recovery_grace`] (oldest first) and
//! clears them ([`MongoStore::recover_pending`] runs one by hand); and the next write to
//! the same document, refused because its outbox is full, logs that event before
//! retrying, so the events of one document keep the order of its writes. Both are
//! idempotent (an event id is logged once), so racing a live writer only costs work. An
//! acknowledged write's events are in `events` before the acknowledgement, so a read that
//! begins after it sees them: `caught_up` is false only when the limit cut the batch.
//!
//! **Nothing of a failed write is logged.** A conditional write that did not match wrote
//! nothing, hence no outbox. A batch insert that fails part-way deletes the tasks it did
//! insert while their outboxes still hold its events (nobody else writes a document
//! whose outbox is full); had a recovery pass logged one meanwhile, it also logs that
//! task's deletion, so the log still tells what the store holds. A write that reported
//! an error after its document was written (a timeout, a crash) did change the store,
//! and its event is logged: the log never shows less than the documents do.
//!
//! **Nobody reads past a missing event.** A reader sees a prefix of the positions above the
//! horizon: they have no holes and each is inserted only after the one before it is
//! stored. While a deleted task's event is not logged, the tombstone already hides the
//! task, so a cache that follows the log cannot reload it after the event. Pruning
//! ([`ChangeLog::prune_changes`]) raises the horizon (`$max`) *before* deleting the old
//! events, and readers read the horizon *after* the events: a reader whose position is
//! below it gets [`Error::ResetRequired`] (with the current head), never a batch with
//! pruned events silently missing.
//!
//! A create now takes four sequential round trips (insert with the outbox, insert the
//! event, read the horizon, clear the outbox) instead of one; an update or delete the
//! same; one more (reading the newest position) after another handle appended since this
//! one last did, and a few more when a write finds another write's event in its document
//! (read the document, log and clear that event, retry). There is no lease: the unique position is the only arbiter, so a paused
//! appender cannot reorder the log when it resumes (its insert fails on a taken position).
//! The remaining gaps: with write concern `w: 1` on a replica set, a failover can roll back
//! acknowledged writes, events included (use `w: "majority"` to rule that out); and the TTL
//! index on sessions may delete an expired session before a recovery pass logged the event
//! a dead writer left in it (never one of an acknowledged write, which is logged first).
//!
//! [`ChangeLog::wait_for_changes`] returns early when this handle appended, and, on replica
//! sets and sharded clusters ([`ChangeStreams`]), when a change stream on `events` reports
//! an insert by any instance; otherwise it sleeps its timeout (the follower polls).
//!
//! Documents written by versions without the change log lack the outbox fields and
//! `deleted`; opening a store adds them (empty outbox, not deleted). Instances of such a
//! version must not write while instances of this one run.
//!
//! ## Indexes ([`MongoStore::ensure_indexes`], run at open, idempotent)
//! `users`: unique `email`; `role, disabled`; `pend`. `sessions`: `user_id`; TTL on
//! `expires_at`; `pend`.
//! `tasks`: `owner_id, status, created_ms`; `owner_id, created_ms, _id`;
//! `owner_id, updated_ms, _id`; `owner_id, has_due, due_ms, _id`;
//! `owner_id, priority_rank, _id`; `created_ms, _id`; `owner_id, tags`;
//! `owner_id, search_words` (full-text: core's `index_words`, matched by anchored prefix
//! regexes, which gives exactly the `q` semantics of the other stores; a MongoDB `text`
//! index stems and cannot match word prefixes); `pend`.
//! `events`: unique `pos` (log order, and what makes positions unique); `subject, pos`
//! (reads of one user's events, [`Scope::Owner`]); `at_ms` (pruning). The unique event id
//! is `_id`. `shared_state` (the login throttle's budgets, `_id` = key): `expires_ms`
//! (purging). The `pend` indexes serve the recovery pass (`pend` between `""` and the
//! UUIDv7 prefix of "now minus the grace") and the backfill at open.
//!
//! ## Where nx-27017 differs from MongoDB, and what this store does
//! - Binary UUIDs are stored as generic binary and then not found by `_id`: ids are UUID
//!   strings (hyphenated lower-case hex, so string order is UUID order).
//! - `$set`/`$push` change types (dates become strings, booleans 0/1, subdocuments JSON
//!   strings): tasks and users are only ever inserted or replaced whole; `$set`s write only
//!   strings (the `state` of sessions, the outbox fields), except the backfill at open of
//!   the integer `deleted: 0`, which nx-27017 keeps an integer. The outbox is four string
//!   fields rather than a subdocument for the same reason.
//! - Change streams open, but their cursor ids are 32-bit, which the driver refuses (and
//!   they answer a getMore at once instead of awaiting): [`ChangeStreams::Auto`] leaves
//!   them off there, and a refused stream falls back to sleep-polling.
//! - A date comparison inside an aggregation `$match` matches nothing: aggregations only
//!   group (by status, by priority); date-range counts use `count_documents`.
//! - Outside aggregations, date comparisons ignore milliseconds (a date 3 ms later is
//!   neither `$gt` nor unequal). Dates are kept as BSON dates for reading (and the sessions'
//!   TTL index), and every time is also stored as Unix milliseconds (`created_ms`,
//!   `updated_ms`, `due_ms`, `completed_ms`, `expires_ms`), which all filters, sorts and
//!   keyset positions compare.
//! - `null` and missing fields differ between `find` and `count_documents`: every field is
//!   always written, and no filter tests for `null`. Booleans that filters test are stored
//!   as integers (`disabled`, `has_due`).
//! - Command errors lack `code`: duplicates are recognised by code 11000 on write errors.
//! - It accepts compound indexes that contain `_id`, then fails every insert ("JSON path
//!   error near '_id'"). The store recognises nx-27017 (`buildInfo.process`) and creates
//!   those indexes without the trailing `_id` there (see [`MongoStore::ensure_indexes`]);
//!   results are the same, only the id tie-break is not served from the index.
//! - With an index on an array field, a plain equality or `$regex` on that field finds
//!   nothing (while `count_documents` still counts): array fields (`tags`, `search_words`)
//!   are always matched with `$elemMatch`, which MongoDB serves from the multikey index.
//! - The BSON regular-expression type cannot be bound: regexes use the `{"$regex": "…"}`
//!   string form.
//! - Readers accept integers returned as doubles and dates returned as RFC 3339 strings.
//! - It answers roughly 2,000 operations per second (one Python process), so timings with
//!   it measure nx-27017, not this store.
//!
//! ## Timeouts
//! Server selection and connection have timeouts ([`MongoOptions`]); every operation is
//! also bounded by [`MongoOptions::operation_timeout`], after which it fails with
//! `unavailable`.

mod changelog;
mod docs;
mod error;
mod filter;
mod shared;

use std::future::IntoFuture;
use std::time::Duration;

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use mongodb::bson::{Document, doc};
use mongodb::options::{
    ClientOptions, CollectionOptions, IndexOptions, ReadPreference, SelectionCriteria,
};
use mongodb::{Client, Collection, Database, IndexModel};
use taskflow_core::{
    Change, ChangeBatch, ChangeLog, Conflict, Error, ListRequest, LogPosition, Result, Scope,
    SessionId, SessionRecord, SessionRotation, SessionStore, StatsRequest, Store, Task, TaskId,
    TaskSlice, TaskStats, TaskStore, User, UserId, UserListRequest, UserRecord, UserStore,
};

#[cfg(feature = "fault-injection")]
pub use crate::changelog::CrashPoint;
use crate::changelog::{Coll, LogState, Outboxed, PEND, Pending, with_outbox};
use crate::docs::{ACTIVE, REVOKED, id_str, ms};
use crate::error::{db, is_duplicate_key};

/// Connection settings.
#[derive(Debug, Clone)]
pub struct MongoOptions {
    /// How long to look for a suitable server before failing with `unavailable` (default 5 s).
    pub server_selection_timeout: Duration,
    /// TCP connect timeout (default 5 s).
    pub connect_timeout: Duration,
    /// Upper bound of every operation (default 10 s).
    pub operation_timeout: Duration,
    /// Database used when the URL names none (default `taskflow`).
    pub default_database: String,
    /// How old an event left in a document's outbox must be before this handle's recovery
    /// pass logs it for a writer that did not (default 2 s; see "The change log without
    /// transactions"). Logging an event its writer is still logging is harmless (it is
    /// logged once), only wasted work.
    pub recovery_grace: Duration,
    /// Whether [`ChangeLog::wait_for_changes`] follows the `events` collection with a change
    /// stream (default [`ChangeStreams::Auto`]).
    pub change_streams: ChangeStreams,
}

impl Default for MongoOptions {
    fn default() -> Self {
        Self {
            server_selection_timeout: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(5),
            operation_timeout: Duration::from_secs(10),
            default_database: "taskflow".to_owned(),
            recovery_grace: Duration::from_secs(2),
            change_streams: ChangeStreams::Auto,
        }
    }
}

/// Whether a store handle wakes its change-log waiters from a change stream on `events`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ChangeStreams {
    /// On replica sets and sharded clusters (where MongoDB has change streams), off on
    /// standalone servers and nx-27017.
    #[default]
    Auto,
    /// Whenever the server opens one (a server that refuses, such as a standalone MongoDB
    /// or nx-27017, leaves waiters sleep-polling as with `Disabled`).
    Enabled,
    /// Never: waiters sleep until their timeout or this handle's own next append.
    Disabled,
}

/// Options of a collection always read from the primary.
fn primary() -> CollectionOptions {
    CollectionOptions::builder()
        .selection_criteria(SelectionCriteria::ReadPreference(ReadPreference::Primary))
        .build()
}

/// How long a last-admin guard lease lives if its holder dies.
const LEASE: Duration = Duration::from_secs(10);
/// `_id` of the lease document.
const ADMIN_GUARD: &str = "admin-guard";

/// A TaskFlow store on a MongoDB database.
#[derive(Clone)]
pub struct MongoStore {
    client: Client,
    db: Database,
    users: Collection<Document>,
    sessions: Collection<Document>,
    tasks: Collection<Document>,
    locks: Collection<Document>,
    events: Collection<Document>,
    meta: Collection<Document>,
    /// [`SharedState`](taskflow_core::SharedState) records (the login throttle's budgets).
    shared: Collection<Document>,
    timeout: Duration,
    log: Arc<LogState>,
}

impl MongoStore {
    /// Connects to `mongodb://…` (database from the URL path, else
    /// [`MongoOptions::default_database`]) and ensures the indexes.
    pub async fn open(url: &str, options: &MongoOptions) -> Result<Self> {
        Self::open_database(url, None, options).await
    }

    /// Like [`open`](Self::open), with the database named explicitly (overriding the URL).
    pub async fn open_database(
        url: &str,
        database: Option<&str>,
        options: &MongoOptions,
    ) -> Result<Self> {
        let mut client_options = ClientOptions::parse(url)
            .await
            .map_err(|e| Error::invalid("database_url", e.to_string()))?;
        if let Some(name) = database {
            client_options.default_database = Some(name.to_owned());
        }
        client_options.server_selection_timeout = Some(options.server_selection_timeout);
        client_options.connect_timeout = Some(options.connect_timeout);
        client_options.app_name = Some("taskflow".to_owned());
        let name = client_options
            .default_database
            .clone()
            .unwrap_or_else(|| options.default_database.clone());
        let client = Client::with_options(client_options).map_err(db)?;
        let db = client.database(&name);
        let store = Self {
            users: db.collection("users"),
            sessions: db.collection("sessions"),
            tasks: db.collection("tasks"),
            locks: db.collection("locks"),
            // The log is read where it is written: a replica's lag would hide the newest
            // positions from appenders and readers alike.
            events: db.collection_with_options("events", primary()),
            meta: db.collection_with_options("meta", primary()),
            // Conditional writes follow these reads: from the primary too.
            shared: db.collection_with_options("shared_state", primary()),
            db,
            client,
            timeout: options.operation_timeout,
            log: Arc::new(LogState::new(options.recovery_grace, false)),
        };
        store.ensure_indexes().await?;
        store.backfill_outboxes().await?;
        let nx = store.is_nx_27017().await?;
        let watch = changelog::wants_change_streams(&store, options.change_streams, nx).await?;
        let store = Self {
            log: Arc::new(LogState::new(options.recovery_grace, watch)),
            ..store
        };
        Ok(store)
    }

    /// Creates the indexes the queries need (idempotent: existing ones are kept).
    ///
    /// On nx-27017, which accepts compound indexes ending in `_id` but then fails every
    /// insert, those indexes are created without `_id`; they still serve the owner-scoped
    /// filter and sort. MongoDB gets the full key, which also covers the id tie-break.
    pub async fn ensure_indexes(&self) -> Result<()> {
        let nx = self.is_nx_27017().await?;
        let unique = IndexOptions::builder().unique(true).build();
        let ttl = IndexOptions::builder().expire_after(Duration::ZERO).build();
        let plan: [(&Collection<Document>, Document, Option<IndexOptions>); 13] = [
            (&self.users, doc! { "email": 1 }, Some(unique)),
            (&self.users, doc! { "role": 1, "disabled": 1 }, None),
            (&self.sessions, doc! { "user_id": 1 }, None),
            (&self.sessions, doc! { "expires_at": 1 }, Some(ttl)),
            (
                &self.tasks,
                doc! { "owner_id": 1, "status": 1, "created_ms": 1 },
                None,
            ),
            (
                &self.tasks,
                doc! { "owner_id": 1, "created_ms": 1, "_id": 1 },
                None,
            ),
            (
                &self.tasks,
                doc! { "owner_id": 1, "updated_ms": 1, "_id": 1 },
                None,
            ),
            (
                &self.tasks,
                doc! { "owner_id": 1, "has_due": 1, "due_ms": 1, "_id": 1 },
                None,
            ),
            (
                &self.tasks,
                doc! { "owner_id": 1, "priority_rank": 1, "_id": 1 },
                None,
            ),
            (&self.tasks, doc! { "created_ms": 1, "_id": 1 }, None),
            (&self.tasks, doc! { "owner_id": 1, "tags": 1 }, None),
            (&self.tasks, doc! { "owner_id": 1, "search_words": 1 }, None),
            (&self.shared, doc! { "expires_ms": 1 }, None),
        ];
        for (coll, mut keys, options) in plan {
            if nx && keys.len() > 1 {
                keys.remove("_id");
            }
            let model = IndexModel::builder().keys(keys).options(options).build();
            self.timed(coll.create_index(model)).await?;
        }
        for (coll, model) in changelog::indexes(self) {
            self.timed(coll.create_index(model)).await?;
        }
        Ok(())
    }

    /// Gives documents written before the change log its fields (empty outboxes; tasks are
    /// not deleted): writes require an empty outbox and readers skip tombstones, and both
    /// test fields that are always written. Idempotent; served by the `pend` indexes.
    async fn backfill_outboxes(&self) -> Result<()> {
        for coll in [Coll::Users, Coll::Sessions, Coll::Tasks] {
            let coll = self.outbox_collection(coll);
            self.timed(coll.update_many(
                doc! { PEND: { "$exists": false } },
                doc! { "$set": Pending::none() },
            ))
            .await?;
        }
        self.timed(self.tasks.update_many(
            doc! { "deleted": { "$exists": false } },
            doc! { "$set": { "deleted": 0 } },
        ))
        .await?;
        Ok(())
    }

    /// Whether the server is nx-27017 (it says so in `buildInfo.process`).
    async fn is_nx_27017(&self) -> Result<bool> {
        let info = self
            .timed(self.db.run_command(doc! { "buildInfo": 1 }))
            .await?;
        Ok(info.get_str("process") == Ok("nx_27017"))
    }

    /// The database in use.
    pub fn database(&self) -> &Database {
        &self.db
    }

    /// Closes the client's connections.
    pub async fn close(&self) {
        self.client.clone().shutdown().await;
    }

    /// Runs a driver operation under the operation timeout.
    async fn timed<T>(&self, op: impl IntoFuture<Output = mongodb::error::Result<T>>) -> Result<T> {
        self.within_timeout(op).await?.map_err(db)
    }

    /// Like [`timed`](Self::timed), leaving the driver's error to the caller to interpret.
    async fn within_timeout<T>(
        &self,
        op: impl IntoFuture<Output = mongodb::error::Result<T>>,
    ) -> Result<mongodb::error::Result<T>> {
        tokio::time::timeout(self.timeout, op.into_future())
            .await
            .map_err(|_| {
                Error::unavailable(format!("MongoDB did not answer within {:?}", self.timeout))
            })
    }

    async fn find_all(
        &self,
        coll: &Collection<Document>,
        filter: Document,
        sort: Option<Document>,
        skip: u64,
        limit: Option<i64>,
    ) -> Result<Vec<Document>> {
        let mut find = coll.find(filter).skip(skip);
        if let Some(sort) = sort {
            find = find.sort(sort);
        }
        if let Some(limit) = limit {
            find = find.limit(limit);
        }
        self.timed(async {
            let mut cursor = find.await?;
            let mut out = Vec::new();
            while cursor.advance().await? {
                out.push(cursor.deserialize_current()?);
            }
            Ok(out)
        })
        .await
    }

    async fn count(&self, coll: &Collection<Document>, filter: Document) -> Result<u64> {
        self.timed(coll.count_documents(filter)).await
    }

    /// Takes the last-admin guard lease, returning its token.
    async fn acquire_admin_guard(&self) -> Result<String> {
        let token = uuid::Uuid::now_v7().to_string();
        let deadline = tokio::time::Instant::now() + self.timeout;
        loop {
            let now = Utc::now().timestamp_millis();
            let lease = doc! {
                "_id": ADMIN_GUARD,
                "token": &token,
                "until_ms": now + LEASE.as_millis() as i64,
            };
            match self.locks.insert_one(lease).await {
                Ok(_) => return Ok(token),
                Err(e) if is_duplicate_key(&e) => {
                    // Held: take it over if its holder's lease ran out, else wait a little.
                    let held = self
                        .locks
                        .find_one(doc! { "_id": ADMIN_GUARD })
                        .await
                        .map_err(db)?;
                    if let Some(h) = held {
                        let until = h.get_i64("until_ms").unwrap_or(i64::MAX);
                        if until < now {
                            let stale = h.get_str("token").unwrap_or_default().to_owned();
                            self.locks
                                .delete_one(doc! { "_id": ADMIN_GUARD, "token": stale })
                                .await
                                .map_err(db)?;
                            continue;
                        }
                    }
                }
                Err(e) => return Err(db(e)),
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(Conflict::AdminChangeInProgress.into());
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    async fn release_admin_guard(&self, token: &str) -> Result<()> {
        self.timed(
            self.locks
                .delete_one(doc! { "_id": ADMIN_GUARD, "token": token }),
        )
        .await
        .map(drop)
    }

    async fn replace_user_doc(&self, user: &UserRecord) -> Result<bool> {
        let id = id_str(user.user.id);
        let filter = doc! {
            "_id": &id,
            "version": i64::try_from(user.version.saturating_sub(1)).unwrap_or(i64::MAX),
            PEND: "",
        };
        let pending = Pending::new(&Change::UserChanged {
            user_id: user.user.id,
        });
        let replacement = with_outbox(docs::user_doc(user), Some(&pending));
        let written = self
            .write_unless_pending(Coll::Users, doc! { "_id": &id }, || {
                let replace = self
                    .users
                    .find_one_and_replace(filter.clone(), replacement.clone())
                    .projection(doc! { "_id": 1 });
                async move {
                    match self.within_timeout(replace).await? {
                        Ok(replaced) => Ok(replaced.is_some()),
                        // The unique email index: only a normalisation changes the email.
                        Err(e) if is_duplicate_key(&e) => Err(Conflict::EmailTaken.into()),
                        Err(e) => Err(db(e)),
                    }
                }
            })
            .await?;
        if written {
            self.log_write(vec![Outboxed::user(pending, user.user.id)])
                .await?;
        }
        Ok(written)
    }

    /// Runs a conditional single-document write whose filter also requires an empty outbox
    /// (`pend: ""`, so the event of the previous write is never overwritten). When it did
    /// not apply, reads the document at `key`: if an event waits in its outbox, logs it for
    /// the writer that left it and tries again; otherwise the write's condition failed.
    async fn write_unless_pending<F, Fut>(
        &self,
        coll: Coll,
        key: Document,
        mut write: F,
    ) -> Result<bool>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<bool>>,
    {
        for _ in 0..MAX_HELPS {
            if write().await? {
                return Ok(true);
            }
            let current = self
                .timed(self.outbox_collection(coll).find_one(key.clone()))
                .await?;
            match current {
                Some(d) if self.help(coll, &d).await? => continue,
                _ => return Ok(false),
            }
        }
        // Others kept writing the document: that is a conflict like any other.
        Ok(false)
    }
}

/// Most times one write logs events that other writes left in its document and tries again
/// before it reports a conflict.
const MAX_HELPS: usize = 16;

#[async_trait]
impl UserStore for MongoStore {
    async fn insert_user(&self, user: &UserRecord) -> Result<()> {
        let pending = Pending::new(&Change::UserChanged {
            user_id: user.user.id,
        });
        let insert = self
            .users
            .insert_one(with_outbox(docs::user_doc(user), Some(&pending)));
        match self.within_timeout(insert).await? {
            Ok(_) => {}
            Err(e) if is_duplicate_key(&e) => return Err(Conflict::EmailTaken.into()),
            Err(e) => return Err(db(e)),
        }
        self.log_write(vec![Outboxed::user(pending, user.user.id)])
            .await
    }

    async fn get_user(&self, id: UserId) -> Result<Option<UserRecord>> {
        let found = self
            .timed(self.users.find_one(doc! { "_id": id_str(id) }))
            .await?;
        found.as_ref().map(docs::user_from).transpose()
    }

    async fn get_user_by_email(&self, email: &str) -> Result<Option<UserRecord>> {
        let found = self
            .timed(self.users.find_one(doc! { "email": email }))
            .await?;
        found.as_ref().map(docs::user_from).transpose()
    }

    async fn replace_user(&self, user: &UserRecord, keep_an_active_admin: bool) -> Result<bool> {
        if !keep_an_active_admin {
            return self.replace_user_doc(user).await;
        }
        let token = self.acquire_admin_guard().await?;
        let result = async {
            let others = self
                .count(
                    &self.users,
                    doc! {
                        "role": taskflow_core::Role::ADMIN,
                        "disabled": 0,
                        "_id": { "$ne": id_str(user.user.id) },
                    },
                )
                .await?;
            let stays_admin = user.user.role.is_admin() && !user.user.disabled;
            if others == 0 && !stays_admin {
                return Err(Conflict::LastActiveAdmin.into());
            }
            self.replace_user_doc(user).await
        }
        .await;
        self.release_admin_guard(&token).await?;
        result
    }

    async fn list_users(&self, request: &UserListRequest) -> Result<(Vec<User>, u64)> {
        let mut filter = Document::new();
        if let Some(role) = &request.role {
            filter.insert("role", role.as_str());
        }
        if let Some(q) = &request.q {
            // The string form of $regex: nx-27017 cannot bind the BSON regex type.
            let contains = |field: &str| doc! { field: { "$regex": filter::escape(q) } };
            filter.insert("$or", vec![contains("email"), contains("name_lower")]);
        }
        let found = self
            .find_all(
                &self.users,
                filter.clone(),
                Some(doc! { "_id": 1 }),
                request.offset,
                Some(i64::from(request.limit)),
            )
            .await?;
        let total = self.count(&self.users, filter).await?;
        let users = found
            .iter()
            .map(|d| docs::user_from(d).map(|r| r.user))
            .collect::<Result<Vec<_>>>()?;
        Ok((users, total))
    }
}

#[async_trait]
impl SessionStore for MongoStore {
    async fn insert_session(&self, session: &SessionRecord) -> Result<()> {
        let d = with_outbox(docs::session_doc(session), None);
        self.timed(self.sessions.insert_one(d)).await.map(drop)
    }

    async fn get_session(&self, id: SessionId) -> Result<Option<SessionRecord>> {
        let found = self
            .timed(self.sessions.find_one(doc! { "_id": id_str(id) }))
            .await?;
        found.as_ref().map(docs::session_from).transpose()
    }

    async fn rotate_session(&self, r: &SessionRotation<'_>) -> Result<bool> {
        let key = doc! { "_id": id_str(r.id) };
        for _ in 0..MAX_HELPS {
            let Some(found) = self.timed(self.sessions.find_one(key.clone())).await? else {
                return Ok(false);
            };
            if self.help(Coll::Sessions, &found).await? {
                continue;
            }
            let current = docs::session_from(&found)?;
            let next = SessionRecord {
                token_hash: r.new_hash.to_owned(),
                expires_at: r.new_expires_at,
                generation: current.generation + 1,
                ..current
            };
            // One conditional replace: it matches only while the presented token is current.
            let filter = doc! {
                "_id": id_str(r.id),
                "user_id": id_str(r.user_id),
                "token_hash": r.presented_hash,
                "state": ACTIVE,
                "expires_ms": { "$gt": ms(r.now) },
                PEND: "",
            };
            let pending = Pending::new(&Change::SessionsChanged {
                user_id: r.user_id,
                session_id: Some(r.id),
            });
            let replacement = with_outbox(docs::session_doc(&next), Some(&pending));
            let replaced = self
                .timed(
                    self.sessions
                        .find_one_and_replace(filter, replacement)
                        .projection(doc! { "_id": 1 }),
                )
                .await?;
            if replaced.is_some() {
                self.log_write(vec![Outboxed::sessions(pending)]).await?;
                return Ok(true);
            }
            // Not rotated: unless an event written meanwhile is why, the condition failed.
            let again = self.timed(self.sessions.find_one(key.clone())).await?;
            match again {
                Some(d) if Pending::of(&d)?.is_some() => continue,
                _ => return Ok(false),
            }
        }
        Ok(false)
    }

    async fn revoke_session(&self, user_id: UserId, id: SessionId) -> Result<()> {
        let key = doc! { "_id": id_str(id), "user_id": id_str(user_id) };
        let mut filter = key.clone();
        filter.insert("state", ACTIVE);
        filter.insert(PEND, "");
        let pending = Pending::new(&Change::SessionsChanged {
            user_id,
            session_id: Some(id),
        });
        let mut set = doc! { "state": REVOKED };
        set.extend(pending.fields());
        let update = doc! { "$set": set };
        let revoked = self
            .write_unless_pending(Coll::Sessions, key, || {
                let op = self.sessions.update_one(filter.clone(), update.clone());
                async move { Ok(self.timed(op).await?.matched_count == 1) }
            })
            .await?;
        if revoked {
            self.log_write(vec![Outboxed::sessions(pending)]).await?;
        }
        Ok(())
    }

    async fn revoke_user_sessions(
        &self,
        user_id: UserId,
        except: Option<SessionId>,
    ) -> Result<u64> {
        let mut filter = doc! { "user_id": id_str(user_id), "state": ACTIVE };
        if let Some(keep) = except {
            filter.insert("_id", doc! { "$ne": id_str(keep) });
        }
        let mut free = filter.clone();
        free.insert(PEND, "");
        let mut waiting = filter;
        waiting.insert(PEND, doc! { "$gt": "" });
        // One event for all of them, in the outbox of every session revoked.
        let pending = Pending::new(&Change::SessionsChanged {
            user_id,
            session_id: None,
        });
        let mut set = doc! { "state": REVOKED };
        set.extend(pending.fields());
        let update = doc! { "$set": set };
        let mut revoked = 0;
        for _ in 0..MAX_HELPS {
            let r = self
                .timed(self.sessions.update_many(free.clone(), update.clone()))
                .await?;
            revoked += r.modified_count;
            // Sessions skipped because an event of theirs waits: log it, then revoke them.
            let skipped = self
                .find_all(&self.sessions, waiting.clone(), None, 0, Some(100))
                .await?;
            if skipped.is_empty() {
                break;
            }
            for d in &skipped {
                self.help(Coll::Sessions, d).await?;
            }
        }
        if revoked > 0 {
            self.log_write(vec![Outboxed::sessions(pending)]).await?;
        }
        Ok(revoked)
    }

    async fn purge_expired_sessions(&self, now: DateTime<Utc>) -> Result<u64> {
        // A session whose event is not logged yet stays until it is.
        let r = self
            .timed(
                self.sessions
                    .delete_many(doc! { "expires_ms": { "$lte": ms(now) }, PEND: "" }),
            )
            .await?;
        Ok(r.deleted_count)
    }
}

impl MongoStore {
    /// The conditional replace of a task with its `task.updated` event in the outbox;
    /// returns that event when it wrote.
    async fn replace_task_doc(&self, task: &Task) -> Result<Option<Outboxed>> {
        let key = doc! { "_id": id_str(task.id), "owner_id": id_str(task.owner_id) };
        let mut filter = key.clone();
        filter.insert(
            "version",
            i64::try_from(task.version.saturating_sub(1)).unwrap_or(i64::MAX),
        );
        filter.insert("deleted", 0);
        filter.insert(PEND, "");
        let pending = Pending::new(&Change::TaskUpdated(task.clone()));
        let replacement = with_outbox(docs::task_doc(task), Some(&pending));
        let written = self
            .write_unless_pending(Coll::Tasks, key, || {
                let replace = self
                    .tasks
                    .find_one_and_replace(filter.clone(), replacement.clone())
                    .projection(doc! { "_id": 1 });
                async move { Ok(self.timed(replace).await?.is_some()) }
            })
            .await?;
        Ok(written.then(|| Outboxed::task(pending, task.id, task.owner_id)))
    }

    /// Takes back the tasks a failed batch insert did insert, so that it leaves nothing and
    /// logs nothing: those still carrying this batch's events (nobody else writes a
    /// document whose outbox is full). Should a recovery pass have logged one meanwhile
    /// (its outbox was older than the recovery grace), its deletion is logged too.
    /// Best effort: what is left (the database went away) keeps its event, which a recovery
    /// pass logs, so the log still tells what the store holds.
    async fn undo_insert(&self, tasks: &[Task], pending: &[Pending]) {
        let ids: Vec<String> = tasks.iter().map(|t| id_str(t.id)).collect();
        let eids: Vec<&str> = pending.iter().map(|p| p.eid.as_str()).collect();
        let undo = doc! { "_id": { "$in": &ids }, PEND: { "$in": &eids } };
        if self.timed(self.tasks.delete_many(undo)).await.is_err() {
            return;
        }
        let Ok(logged) = self
            .find_all(
                &self.events,
                doc! { "_id": { "$in": &eids } },
                None,
                0,
                None,
            )
            .await
        else {
            return;
        };
        for d in logged {
            let Some(i) = d
                .get_str("_id")
                .ok()
                .and_then(|eid| eids.iter().position(|e| *e == eid))
            else {
                continue;
            };
            let gone = self
                .timed(self.tasks.find_one(doc! { "_id": &ids[i] }))
                .await;
            if matches!(gone, Ok(None)) {
                let (task_id, owner_id) = (tasks[i].id, tasks[i].owner_id);
                let p = Pending::new(&Change::TaskDeleted { task_id, owner_id });
                let _ = self.log_write(vec![Outboxed::detached(p)]).await;
            }
        }
    }
}

fn task_key(scope: Scope, id: TaskId) -> Document {
    let mut filter = filter::scope(scope);
    filter.insert("_id", id_str(id));
    filter
}

#[async_trait]
impl TaskStore for MongoStore {
    async fn insert_task(&self, task: &Task) -> Result<()> {
        let pending = Pending::new(&Change::TaskCreated(task.clone()));
        let insert = self
            .tasks
            .insert_one(with_outbox(docs::task_doc(task), Some(&pending)));
        match self.within_timeout(insert).await? {
            Ok(_) => {}
            Err(e) if is_duplicate_key(&e) => return Err(Conflict::IdTaken("task").into()),
            Err(e) => return Err(db(e)),
        }
        self.log_write(vec![Outboxed::task(pending, task.id, task.owner_id)])
            .await
    }

    async fn insert_tasks(&self, tasks: &[Task]) -> Result<()> {
        if tasks.is_empty() {
            return Ok(());
        }
        let pending: Vec<Pending> = tasks
            .iter()
            .map(|t| Pending::new(&Change::TaskCreated(t.clone())))
            .collect();
        let batch = tasks
            .iter()
            .zip(&pending)
            .map(|(t, p)| with_outbox(docs::task_doc(t), Some(p)));
        let inserted = self
            .within_timeout(self.tasks.insert_many(batch).ordered(true))
            .await?;
        if let Err(e) = inserted {
            self.undo_insert(tasks, &pending).await;
            return Err(if is_duplicate_key(&e) {
                Conflict::IdTaken("task").into()
            } else {
                db(e)
            });
        }
        let items = tasks
            .iter()
            .zip(pending)
            .map(|(t, p)| Outboxed::task(p, t.id, t.owner_id))
            .collect();
        self.log_write(items).await
    }

    async fn get_task(&self, scope: Scope, id: TaskId) -> Result<Option<Task>> {
        let found = self.timed(self.tasks.find_one(task_key(scope, id))).await?;
        found.as_ref().map(docs::task_from).transpose()
    }

    async fn get_tasks(&self, scope: Scope, ids: &[TaskId]) -> Result<Vec<Task>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut filter = filter::scope(scope);
        let ids: Vec<String> = ids.iter().map(|id| id_str(*id)).collect();
        filter.insert("_id", doc! { "$in": ids });
        let found = self.find_all(&self.tasks, filter, None, 0, None).await?;
        found.iter().map(docs::task_from).collect()
    }

    async fn replace_task(&self, task: &Task) -> Result<bool> {
        let Some(item) = self.replace_task_doc(task).await? else {
            return Ok(false);
        };
        self.log_write(vec![item]).await?;
        Ok(true)
    }

    async fn replace_tasks(&self, tasks: &[Task]) -> Result<Vec<TaskId>> {
        // Task by task (no multi-document atomicity), then one append for all written.
        let mut unwritten = Vec::new();
        let mut written = Vec::new();
        for task in tasks {
            match self.replace_task_doc(task).await? {
                Some(item) => written.push(item),
                None => unwritten.push(task.id),
            }
        }
        self.log_write(written).await?;
        Ok(unwritten)
    }

    async fn delete_task(
        &self,
        owner: UserId,
        id: TaskId,
        expected_version: Option<u64>,
    ) -> Result<bool> {
        let key = doc! { "_id": id_str(id), "owner_id": id_str(owner) };
        let mut filter = key.clone();
        filter.insert("deleted", 0);
        filter.insert(PEND, "");
        if let Some(v) = expected_version {
            filter.insert("version", i64::try_from(v).unwrap_or(i64::MAX));
        }
        // First a tombstone holding the event (readers skip it), removed once it is logged.
        let pending = Pending::new(&Change::TaskDeleted {
            task_id: id,
            owner_id: owner,
        });
        let mut tombstone = key.clone();
        tombstone.insert("deleted", 1);
        let tombstone = with_outbox(tombstone, Some(&pending));
        let deleted = self
            .write_unless_pending(Coll::Tasks, key, || {
                let replace = self
                    .tasks
                    .find_one_and_replace(filter.clone(), tombstone.clone())
                    .projection(doc! { "_id": 1 });
                async move { Ok(self.timed(replace).await?.is_some()) }
            })
            .await?;
        if deleted {
            self.log_write(vec![Outboxed::tombstone(pending, id, owner)])
                .await?;
        }
        Ok(deleted)
    }

    async fn list_tasks(&self, request: &ListRequest) -> Result<TaskSlice> {
        let limit = request.limit as usize;
        let found = self
            .find_all(
                &self.tasks,
                filter::page(request),
                Some(filter::sort(request.sort)),
                request.offset(),
                Some(i64::from(request.limit) + 1),
            )
            .await?;
        let mut items = found
            .iter()
            .map(docs::task_from)
            .collect::<Result<Vec<_>>>()?;
        let has_more = items.len() > limit;
        items.truncate(limit);
        let total = if request.wants_total() {
            Some(
                self.count(&self.tasks, filter::matching(&request.filter))
                    .await?,
            )
        } else {
            None
        };
        Ok(TaskSlice {
            items,
            has_more,
            total,
        })
    }

    async fn task_stats(&self, request: &StatsRequest) -> Result<TaskStats> {
        let scope = filter::scope(request.scope);
        let mut stats = TaskStats::default();
        // Grouping-only aggregations (nx-27017 cannot compare dates inside $match).
        for (field, ranks) in [("status", false), ("priority_rank", true)] {
            let pipeline = [
                doc! { "$match": scope.clone() },
                doc! { "$group": { "_id": format!("${field}"), "n": { "$sum": 1 } } },
            ];
            let groups = self
                .timed(async {
                    let mut cursor = self.tasks.aggregate(pipeline).await?;
                    let mut out = Vec::new();
                    while cursor.advance().await? {
                        out.push(cursor.deserialize_current()?);
                    }
                    Ok(out)
                })
                .await?;
            for g in groups {
                let n = docs::count_of(&g)?;
                if ranks {
                    let rank = docs::int_of(&g, "_id")?;
                    let p = u8::try_from(rank)
                        .ok()
                        .and_then(taskflow_core::Priority::from_rank)
                        .ok_or_else(|| docs::corrupt(&g, "priority_rank"))?;
                    stats.by_priority.add(p, n);
                } else {
                    let s: taskflow_core::Status = g
                        .get_str("_id")
                        .ok()
                        .and_then(|s| s.parse().ok())
                        .ok_or_else(|| docs::corrupt(&g, "status"))?;
                    stats.by_status.add(s, n);
                    stats.total += n;
                }
            }
        }
        let mut overdue = scope.clone();
        overdue.insert("status", doc! { "$in": ["todo", "in_progress"] });
        overdue.insert("has_due", 1);
        overdue.insert("due_ms", doc! { "$lt": ms(request.as_of) });
        stats.overdue = self.count(&self.tasks, overdue).await?;
        let mut completed = scope;
        completed.insert(
            "completed_ms",
            doc! { "$gte": ms(request.as_of - taskflow_core::COMPLETED_WINDOW) },
        );
        stats.completed_last_7_days = self.count(&self.tasks, completed).await?;
        Ok(stats)
    }
}

#[async_trait]
impl Store for MongoStore {
    async fn ping(&self) -> Result<()> {
        self.timed(self.db.run_command(doc! { "ping": 1 }))
            .await
            .map(drop)
    }
}

#[async_trait]
impl ChangeLog for MongoStore {
    async fn read_changes(
        &self,
        scope: Scope,
        after: LogPosition,
        limit: usize,
    ) -> Result<ChangeBatch> {
        self.read_changes_impl(scope, after, limit).await
    }

    async fn change_head(&self) -> Result<LogPosition> {
        self.change_head_impl().await
    }

    async fn prune_changes(&self, before: DateTime<Utc>) -> Result<u64> {
        self.prune_changes_impl(before).await
    }

    async fn wait_for_changes(&self, after: LogPosition, timeout: Duration) {
        self.wait_for_changes_impl(after, timeout).await;
    }
}
