//! The change log without transactions (see the crate docs, "The change log without
//! transactions"): every write records its event in outbox fields of the document it writes,
//! in the same single-document write; the sequencer here moves those events into `events`,
//! at consecutive positions, and then clears the outbox fields.
//!
//! The invariants the code below keeps, and the crate docs argue from:
//! - **I1** A document's outbox holds at most one event, and a write that would replace it
//!   requires an empty outbox (`pend: ""`): the event of the previous write is logged first.
//! - **I2** An outbox is cleared only after its event is in `events` at a position above the
//!   horizon (the newest pruned position), as read *after* the append.
//! - **I3** A position is taken by inserting the event with that `pos` (unique index), and an
//!   appender tries `p + 1` only once it knows `p` is taken, so the positions above the
//!   horizon have no holes and become visible in order.
//! - **I4** Pruning raises the horizon before it deletes; readers read the horizon after the
//!   events, so a reader behind a prune is told to reset rather than skipping events.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use mongodb::bson::{Bson, Document, doc};
use mongodb::error::ErrorKind;
use mongodb::{Collection, IndexModel};
use taskflow_core::{Change, ChangeBatch, ChangeEvent, Error, LogPosition, Result, Scope, UserId};
use tokio::sync::Notify;

use crate::docs::{self, id_str, ms};
use crate::error::{db, is_duplicate_key};
use crate::{ChangeStreams, MongoStore};

/// The outbox fields every user, session and task document carries (empty strings when no
/// event waits): the event's id, type, subject and data.
pub(crate) const PEND: &str = "pend";
const PEND_KIND: &str = "pend_kind";
const PEND_SUBJECT: &str = "pend_subject";
const PEND_DATA: &str = "pend_data";

/// `_id` of the document in `meta` that holds the horizon (`pruned_through`).
const HORIZON: &str = "changes";
/// How often one handle looks for events left behind by writers that died.
const RECOVERY_INTERVAL: Duration = Duration::from_secs(1);
/// Most outboxes one recovery pass logs per collection.
const RECOVERY_BATCH: i64 = 500;
/// Positions taken by other appenders in a row after which an append gives up.
const MAX_CONFLICTS: u32 = 1000;
/// How long a change stream's getMore waits for an event on the server.
const WATCH_AWAIT: Duration = Duration::from_millis(500);

/// An event waiting in a document's outbox fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Pending {
    /// A UUIDv7 (time-ordered, monotonic within a process): the event's `_id` in `events`.
    pub(crate) eid: String,
    kind: String,
    subject: String,
    data: String,
}

impl Pending {
    pub(crate) fn new(change: &Change) -> Self {
        Self {
            eid: uuid::Uuid::now_v7().to_string(),
            kind: change.kind().to_owned(),
            subject: id_str(change.subject()),
            data: change.data_json(),
        }
    }

    /// The outbox fields holding this event.
    pub(crate) fn fields(&self) -> Document {
        doc! {
            PEND: &self.eid,
            PEND_KIND: &self.kind,
            PEND_SUBJECT: &self.subject,
            PEND_DATA: &self.data,
        }
    }

    /// Empty outbox fields.
    pub(crate) fn none() -> Document {
        doc! { PEND: "", PEND_KIND: "", PEND_SUBJECT: "", PEND_DATA: "" }
    }

    /// The event waiting in `d`, if any.
    pub(crate) fn of(d: &Document) -> Result<Option<Pending>> {
        let eid = match d.get(PEND) {
            None => return Ok(None),
            Some(Bson::String(s)) if s.is_empty() => return Ok(None),
            Some(Bson::String(s)) => s.clone(),
            Some(_) => return Err(docs::corrupt(d, PEND)),
        };
        let text = |field: &str| {
            d.get_str(field)
                .map(str::to_owned)
                .map_err(|_| docs::corrupt(d, field))
        };
        Ok(Some(Pending {
            eid,
            kind: text(PEND_KIND)?,
            subject: text(PEND_SUBJECT)?,
            data: text(PEND_DATA)?,
        }))
    }
}

/// A document with `doc`'s fields and the outbox fields of `pending` (or empty ones).
pub(crate) fn with_outbox(mut doc: Document, pending: Option<&Pending>) -> Document {
    doc.extend(pending.map_or_else(Pending::none, Pending::fields));
    doc
}

/// The collections whose documents carry outboxes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Coll {
    Users,
    Sessions,
    Tasks,
}

/// Where a pending event waits, which says how its outbox is cleared once it is logged.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Home {
    /// A user document: clear its outbox.
    User { id: String },
    /// Session documents (a logout-all writes one event into every session it revoked):
    /// clear the outbox of each that holds the event.
    Sessions,
    /// A task document: clear its outbox.
    Task { id: String, owner: String },
    /// A deleted task's tombstone: remove it.
    Tombstone { id: String, owner: String },
    /// No document (an event logged to correct the log after an undone write).
    Detached,
}

/// A pending event and where it waits.
#[derive(Debug, Clone)]
pub(crate) struct Outboxed {
    pending: Pending,
    home: Home,
}

impl Outboxed {
    pub(crate) fn user(pending: Pending, id: UserId) -> Self {
        let home = Home::User { id: id_str(id) };
        Self { pending, home }
    }

    pub(crate) fn sessions(pending: Pending) -> Self {
        let home = Home::Sessions;
        Self { pending, home }
    }

    pub(crate) fn detached(pending: Pending) -> Self {
        let home = Home::Detached;
        Self { pending, home }
    }

    pub(crate) fn task(pending: Pending, id: taskflow_core::TaskId, owner: UserId) -> Self {
        let (id, owner) = (id_str(id), id_str(owner));
        let home = Home::Task { id, owner };
        Self { pending, home }
    }

    pub(crate) fn tombstone(pending: Pending, id: taskflow_core::TaskId, owner: UserId) -> Self {
        let (id, owner) = (id_str(id), id_str(owner));
        let home = Home::Tombstone { id, owner };
        Self { pending, home }
    }

    /// The pending event of a document read from `coll`, if it holds one.
    fn of(coll: Coll, d: &Document) -> Result<Option<Self>> {
        let Some(pending) = Pending::of(d)? else {
            return Ok(None);
        };
        let id = || {
            d.get_str("_id")
                .map(str::to_owned)
                .map_err(|_| docs::corrupt(d, "_id"))
        };
        let home = match coll {
            Coll::Users => Home::User { id: id()? },
            Coll::Sessions => Home::Sessions,
            Coll::Tasks => {
                let owner = d
                    .get_str("owner_id")
                    .map(str::to_owned)
                    .map_err(|_| docs::corrupt(d, "owner_id"))?;
                if docs::int_of(d, "deleted")? != 0 {
                    Home::Tombstone { id: id()?, owner }
                } else {
                    Home::Task { id: id()?, owner }
                }
            }
        };
        Ok(Some(Self { pending, home }))
    }
}

/// Where an armed crash point stops a write (feature `fault-injection`): the write returns
/// an `unavailable` error at that step and does nothing more, leaving the database as a
/// process killed there would.
#[cfg_attr(not(feature = "fault-injection"), allow(dead_code))]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CrashPoint {
    /// After the document write (its event in the outbox), before anything is logged.
    DocumentWritten,
    /// After the first event of a batch was appended to `events`, before the others.
    FirstEventAppended,
    /// After the events were appended, before the outboxes are cleared (or tombstones
    /// removed).
    EventsAppended,
}

/// Whether this handle follows `events` with a change stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Watch {
    /// Not wanted, or refused by the server.
    Off,
    /// Wanted, not started yet (it starts with the first wait).
    Idle,
    /// A task is opening the change stream (or reopening it after a network error).
    Opening,
    /// A task follows the change stream.
    Open,
}

/// The change-log state of one store handle (shared by its clones).
pub(crate) struct LogState {
    /// Held while this handle appends: the newest position it knows is taken (`None`: read
    /// it from the database).
    tail: tokio::sync::Mutex<Option<i64>>,
    /// The newest position this handle appended (0: none yet).
    newest: AtomicU64,
    /// Woken after this handle appended, and by the change stream.
    appended: Notify,
    /// When this handle last ran a recovery pass.
    recovered_at: Mutex<Option<Instant>>,
    /// How old an outbox must be before a recovery pass logs it.
    recovery_grace: Duration,
    watch: Mutex<Watch>,
    #[cfg(feature = "fault-injection")]
    crash: Mutex<Option<CrashPoint>>,
}

impl LogState {
    pub(crate) fn new(recovery_grace: Duration, watch: bool) -> Self {
        Self {
            tail: tokio::sync::Mutex::new(None),
            newest: AtomicU64::new(0),
            appended: Notify::new(),
            recovered_at: Mutex::new(None),
            recovery_grace,
            watch: Mutex::new(if watch { Watch::Idle } else { Watch::Off }),
            #[cfg(feature = "fault-injection")]
            crash: Mutex::new(None),
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Whether change streams should be used with this server: asked for, or (auto) a replica
/// set member or a `mongos`, where MongoDB has them. nx-27017 answers change streams without
/// waiting on the server, so auto leaves them off there.
pub(crate) async fn wants_change_streams(
    store: &MongoStore,
    mode: ChangeStreams,
    nx: bool,
) -> Result<bool> {
    match mode {
        ChangeStreams::Enabled => Ok(true),
        ChangeStreams::Disabled => Ok(false),
        ChangeStreams::Auto if nx => Ok(false),
        ChangeStreams::Auto => {
            let hello = store
                .timed(store.db.run_command(doc! { "hello": 1 }))
                .await?;
            Ok(hello.contains_key("setName") || hello.get_str("msg") == Ok("isdbgrid"))
        }
    }
}

/// The indexes of the change log, for [`MongoStore::ensure_indexes`]: the positions (unique),
/// one subject's events, the age of events (pruning), and the outbox scan of each collection.
pub(crate) fn indexes(store: &MongoStore) -> Vec<(&Collection<Document>, IndexModel)> {
    let unique = mongodb::options::IndexOptions::builder()
        .unique(true)
        .build();
    let model = |keys: Document, options| IndexModel::builder().keys(keys).options(options).build();
    vec![
        (&store.events, model(doc! { "pos": 1 }, Some(unique))),
        (&store.events, model(doc! { "subject": 1, "pos": 1 }, None)),
        (&store.events, model(doc! { "at_ms": 1 }, None)),
        (&store.users, model(doc! { PEND: 1 }, None)),
        (&store.sessions, model(doc! { PEND: 1 }, None)),
        (&store.tasks, model(doc! { PEND: 1 }, None)),
    ]
}

/// The event document of a pending event at `pos`.
fn event_doc(p: &Pending, pos: i64, at: DateTime<Utc>) -> Document {
    doc! {
        "_id": &p.eid,
        "pos": pos,
        "kind": &p.kind,
        "subject": &p.subject,
        "data": &p.data,
        "at": docs::date(at),
        "at_ms": ms(at),
    }
}

fn event_from(d: &Document) -> Result<ChangeEvent> {
    let pos = docs::int_of(d, "pos")?;
    let at_ms = docs::int_of(d, "at_ms")?;
    let text = |field: &str| d.get_str(field).map_err(|_| docs::corrupt(d, field));
    Ok(ChangeEvent {
        position: LogPosition::from_seq(u64::try_from(pos).map_err(|_| docs::corrupt(d, "pos"))?),
        at: DateTime::from_timestamp_millis(at_ms).ok_or_else(|| docs::corrupt(d, "at_ms"))?,
        change: Change::from_parts(text("kind")?, text("data")?)?,
    })
}

/// A position as the stored `pos`: positions of this store have no major part; anything
/// larger than every stored position reads as the largest.
fn pos_of(p: LogPosition) -> i64 {
    if p.major() != 0 {
        return i64::MAX;
    }
    i64::try_from(p.minor()).unwrap_or(i64::MAX)
}

fn position(pos: i64) -> LogPosition {
    LogPosition::from_seq(u64::try_from(pos).unwrap_or(0))
}

/// The lower bound of the UUIDv7 strings minted at `t` or later: pending events whose id
/// sorts below it are older than `t`.
fn eid_bound(t: DateTime<Utc>) -> String {
    let ms = u64::try_from(t.timestamp_millis()).unwrap_or(0) & 0xffff_ffff_ffff;
    format!("{:08x}-{:04x}", ms >> 16, ms & 0xffff)
}

impl MongoStore {
    pub(crate) fn outbox_collection(&self, coll: Coll) -> &Collection<Document> {
        match coll {
            Coll::Users => &self.users,
            Coll::Sessions => &self.sessions,
            Coll::Tasks => &self.tasks,
        }
    }

    /// Stops the current write at `at` if that crash point is armed.
    #[cfg(feature = "fault-injection")]
    pub(crate) fn checkpoint(&self, at: CrashPoint) -> Result<()> {
        let mut armed = lock(&self.log.crash);
        if *armed == Some(at) {
            *armed = None;
            return Err(Error::unavailable(format!("injected crash at {at:?}")));
        }
        Ok(())
    }

    /// Stops the current write at `at` if that crash point is armed (never, without the
    /// feature `fault-injection`).
    #[cfg(not(feature = "fault-injection"))]
    #[inline(always)]
    pub(crate) fn checkpoint(&self, _at: CrashPoint) -> Result<()> {
        Ok(())
    }

    /// Arms a crash point: the next write of this handle (or of a clone) that reaches it
    /// stops there with an `unavailable` error and does nothing more, as if the process had
    /// been killed at that step.
    #[cfg(feature = "fault-injection")]
    pub fn crash_at(&self, at: CrashPoint) {
        *lock(&self.log.crash) = Some(at);
    }

    /// Logs the events of a write that has just stored them in its documents' outboxes, in
    /// order, then clears the outboxes: the write may be acknowledged once this returns.
    pub(crate) async fn log_write(&self, items: Vec<Outboxed>) -> Result<()> {
        self.checkpoint(CrashPoint::DocumentWritten)?;
        self.log_and_clear(items).await
    }

    /// Logs pending events (skipping any already logged), then clears their outboxes.
    async fn log_and_clear(&self, items: Vec<Outboxed>) -> Result<()> {
        if items.is_empty() {
            return Ok(());
        }
        self.append(&items).await?;
        self.checkpoint(CrashPoint::EventsAppended)?;
        self.clear(&items).await
    }

    /// Logs the event waiting in `d` (a document of `coll` that a conditional write did not
    /// match because of it), for whoever wrote it, so the write can be tried again.
    pub(crate) async fn help(&self, coll: Coll, d: &Document) -> Result<bool> {
        match Outboxed::of(coll, d)? {
            Some(item) => self.log_and_clear(vec![item]).await.map(|()| true),
            None => Ok(false),
        }
    }

    /// The newest pruned position (0: nothing pruned).
    async fn horizon(&self) -> Result<i64> {
        let meta = self
            .timed(self.meta.find_one(doc! { "_id": HORIZON }))
            .await?;
        match meta {
            Some(d) => docs::int_of(&d, "pruned_through"),
            None => Ok(0),
        }
    }

    /// The largest stored position (0: none).
    async fn newest_stored(&self) -> Result<i64> {
        let newest = self
            .find_all(&self.events, doc! {}, Some(doc! { "pos": -1 }), 0, Some(1))
            .await?;
        newest.first().map_or(Ok(0), |d| docs::int_of(d, "pos"))
    }

    /// The newest position taken: the largest stored, or the horizon if everything up to it
    /// was pruned. Read in that order: pruning raises the horizon before it deletes.
    async fn taken_through(&self) -> Result<i64> {
        let stored = self.newest_stored().await?;
        Ok(stored.max(self.horizon().await?))
    }

    /// Appends the events of `items` in order at the next free positions (I3), skipping
    /// those already logged, and returns once every one of them is in `events` above the
    /// horizon (I2).
    async fn append(&self, items: &[Outboxed]) -> Result<()> {
        let mut tail = self.log.tail.lock().await;
        let mut todo: Vec<&Pending> = items.iter().map(|i| &i.pending).collect();
        // Several outboxes hold one logout-all event: log it once.
        let mut seen = HashSet::new();
        todo.retain(|p| seen.insert(p.eid.clone()));
        let mut newest = 0;
        let mut conflicts = 0;
        while !todo.is_empty() {
            // Every event of `todo` that is now in `events`, with its position.
            let mut placed: Vec<(i64, &Pending)> = Vec::new();
            let mut i = 0;
            while i < todo.len() {
                let last = match *tail {
                    Some(last) => last,
                    None => self.taken_through().await?,
                };
                let at = taskflow_core::to_millis(Utc::now());
                let mut batch: Vec<Document> = todo[i..]
                    .iter()
                    .zip(last + 1..)
                    .map(|(p, pos)| event_doc(p, pos, at))
                    .collect();
                let crash = cfg!(feature = "fault-injection")
                    && batch.len() > 1
                    && self.checkpoint(CrashPoint::FirstEventAppended).is_err();
                if crash {
                    batch.truncate(1);
                }
                let n = batch.len();
                let inserted = self
                    .within_timeout(self.events.insert_many(batch).ordered(true))
                    .await?;
                match inserted {
                    Ok(_) => {
                        placed.extend((last + 1..).zip(todo[i..i + n].iter().copied()));
                        i += n;
                        *tail = Some(last + n as i64);
                    }
                    Err(e) if is_duplicate_key(&e) => {
                        let k = first_failed(&e).unwrap_or(0).min(n - 1);
                        placed.extend((last + 1..).zip(todo[i..i + k].iter().copied()));
                        i += k;
                        if k > 0 {
                            *tail = Some(last + k as i64);
                        }
                        // Either this event is logged already (by a recovery pass or a
                        // helper) or its position was taken by another appender.
                        let logged = self
                            .timed(self.events.find_one(doc! { "_id": &todo[i].eid }))
                            .await?;
                        match logged {
                            Some(d) => {
                                placed.push((docs::int_of(&d, "pos")?, todo[i]));
                                i += 1;
                            }
                            None => {
                                *tail = None;
                                conflicts += 1;
                                if conflicts > MAX_CONFLICTS {
                                    return Err(Error::unavailable(
                                        "change log: other appenders kept taking the next position",
                                    ));
                                }
                            }
                        }
                    }
                    Err(e) => {
                        *tail = None;
                        return Err(db(e));
                    }
                }
                if crash {
                    return Err(Error::unavailable("injected crash at FirstEventAppended"));
                }
            }
            // I2: a position at or below the horizon may be a pruned slot that a stale tail
            // filled; such an event is invisible to readers, so it is moved.
            let horizon = self.horizon().await?;
            let (fine, stale): (Vec<_>, Vec<_>) =
                placed.into_iter().partition(|(pos, _)| *pos > horizon);
            newest = fine.iter().map(|(pos, _)| *pos).fold(newest, i64::max);
            todo = Vec::new();
            for (pos, p) in stale {
                self.timed(self.events.delete_one(doc! { "_id": &p.eid, "pos": pos }))
                    .await?;
                *tail = None;
                todo.push(p);
            }
        }
        drop(tail);
        if newest > 0 {
            self.log
                .newest
                .fetch_max(u64::try_from(newest).unwrap_or(0), Ordering::AcqRel);
            self.log.appended.notify_waiters();
        }
        Ok(())
    }

    /// Clears the outboxes of logged events (removes tombstones), each only while it still
    /// holds that event.
    async fn clear(&self, items: &[Outboxed]) -> Result<()> {
        let blank = doc! { "$set": Pending::none() };
        let mut task_ids = Vec::new();
        let mut owners = Vec::new();
        let mut task_eids = Vec::new();
        let mut session_eids = HashSet::new();
        for item in items {
            let eid = &item.pending.eid;
            match &item.home {
                Home::User { id } => {
                    self.timed(
                        self.users
                            .update_one(doc! { "_id": id, PEND: eid }, blank.clone()),
                    )
                    .await?;
                }
                Home::Sessions => {
                    if session_eids.insert(eid.clone()) {
                        self.timed(self.sessions.update_many(doc! { PEND: eid }, blank.clone()))
                            .await?;
                    }
                }
                Home::Task { id, owner } => {
                    task_ids.push(id.clone());
                    owners.push(owner.clone());
                    task_eids.push(eid.clone());
                }
                Home::Tombstone { id, owner } => {
                    let tombstone = doc! { "_id": id, "owner_id": owner, "deleted": 1, PEND: eid };
                    self.timed(self.tasks.delete_one(tombstone)).await?;
                }
                Home::Detached => {}
            }
        }
        match task_ids.len() {
            0 => {}
            1 => {
                let key = doc! { "_id": &task_ids[0], "owner_id": &owners[0], PEND: &task_eids[0] };
                self.timed(self.tasks.update_one(key, blank)).await?;
            }
            _ => {
                owners.sort_unstable();
                owners.dedup();
                let key = doc! {
                    "owner_id": { "$in": owners },
                    "_id": { "$in": task_ids },
                    PEND: { "$in": task_eids },
                };
                self.timed(self.tasks.update_many(key, blank)).await?;
            }
        }
        Ok(())
    }

    /// Logs the events that writers left in outboxes at least `older_than` ago and did not
    /// log (they died, or lost the database, between their write and its logging); returns
    /// how many it found. Readers of this handle run it by themselves about once a second
    /// (with [`MongoOptions::recovery_grace`](crate::MongoOptions::recovery_grace)); it is
    /// idempotent and safe to run alongside live writers.
    pub async fn recover_pending(&self, older_than: Duration) -> Result<u64> {
        let cutoff = Utc::now() - chrono::Duration::from_std(older_than).unwrap_or_default();
        let bound = eid_bound(cutoff);
        let mut items = Vec::new();
        for coll in [Coll::Users, Coll::Sessions, Coll::Tasks] {
            let found = self
                .find_all(
                    self.outbox_collection(coll),
                    doc! { PEND: { "$gt": "", "$lt": &bound } },
                    Some(doc! { PEND: 1 }),
                    0,
                    Some(RECOVERY_BATCH),
                )
                .await?;
            // An unreadable outbox must not hold up the others; writes to its document
            // report it (they cannot log it either).
            items.extend(
                found
                    .iter()
                    .filter_map(|d| Outboxed::of(coll, d).ok().flatten()),
            );
        }
        // Oldest first: the order their writers (UUIDv7 ids, monotonic per process) made them.
        items.sort_by(|a, b| a.pending.eid.cmp(&b.pending.eid));
        let n = items.len() as u64;
        self.log_and_clear(items).await?;
        Ok(n)
    }

    /// Runs a recovery pass if this handle has not run one for a while. Failures are left
    /// to the next pass: the read that triggered it reports its own.
    async fn maybe_recover(&self) {
        {
            let mut at = lock(&self.log.recovered_at);
            if at.is_some_and(|t| t.elapsed() < RECOVERY_INTERVAL) {
                return;
            }
            *at = Some(Instant::now());
        }
        let _ = self.recover_pending(self.log.recovery_grace).await;
    }

    /// Starts the change-stream task on first use, where change streams are wanted.
    fn ensure_watching(&self) {
        let mut watch = lock(&self.log.watch);
        if !matches!(*watch, Watch::Idle) {
            return;
        }
        *watch = Watch::Opening;
        let state = Arc::downgrade(&self.log);
        tokio::spawn(watch_events(self.events.clone(), state));
    }

    pub(crate) async fn read_changes_impl(
        &self,
        scope: Scope,
        after: LogPosition,
        limit: usize,
    ) -> Result<ChangeBatch> {
        self.maybe_recover().await;
        let after_pos = pos_of(after);
        let mut filter = match scope {
            Scope::All => Document::new(),
            Scope::Owner(owner) => doc! { "subject": id_str(owner) },
        };
        filter.insert("pos", doc! { "$gt": after_pos });
        let want = i64::try_from(limit).unwrap_or(i64::MAX - 1) + 1;
        let found = self
            .find_all(&self.events, filter, Some(doc! { "pos": 1 }), 0, Some(want))
            .await?;
        // I4: read after the events, so a prune that ran meanwhile is seen.
        if after_pos < self.horizon().await? {
            return Err(Error::ResetRequired {
                start: self.change_head_impl().await?,
            });
        }
        let caught_up = found.len() <= limit;
        let events = found
            .iter()
            .take(limit)
            .map(event_from)
            .collect::<Result<Vec<_>>>()?;
        Ok(ChangeBatch { events, caught_up })
    }

    pub(crate) async fn change_head_impl(&self) -> Result<LogPosition> {
        self.taken_through().await.map(position)
    }

    pub(crate) async fn prune_changes_impl(&self, before: DateTime<Utc>) -> Result<u64> {
        let cutoff = ms(before);
        let newest_old = self
            .find_all(
                &self.events,
                doc! { "at_ms": { "$lt": cutoff } },
                Some(doc! { "pos": -1 }),
                0,
                Some(1),
            )
            .await?;
        let Some(newest_old) = newest_old.first() else {
            return Ok(0);
        };
        let through = docs::int_of(newest_old, "pos")?;
        // I4: the horizon first, then the deletion.
        let raise = doc! { "$max": { "pruned_through": through } };
        let mut attempt = 0;
        loop {
            let upsert = self
                .meta
                .update_one(doc! { "_id": HORIZON }, raise.clone())
                .upsert(true);
            match self.within_timeout(upsert).await? {
                Ok(_) => break,
                // Two first prunes raced to insert the document: the other one exists now.
                Err(e) if is_duplicate_key(&e) && attempt == 0 => attempt += 1,
                Err(e) => return Err(db(e)),
            }
        }
        let deleted = self
            .timed(self.events.delete_many(doc! {
                "pos": { "$lte": through },
                "at_ms": { "$lt": cutoff },
            }))
            .await?;
        Ok(deleted.deleted_count)
    }

    /// Whether this handle's waiters are woken by a change stream on `events` right now
    /// (see [`ChangeStreams`]): false before the first wait opened it, and for good once the
    /// server refused it.
    pub fn follows_change_stream(&self) -> bool {
        *lock(&self.log.watch) == Watch::Open
    }

    pub(crate) async fn wait_for_changes_impl(&self, after: LogPosition, timeout: Duration) {
        let appended = self.log.appended.notified();
        tokio::pin!(appended);
        appended.as_mut().enable();
        self.ensure_watching();
        if self.log.newest.load(Ordering::Acquire) > after.minor() && after.major() == 0 {
            return;
        }
        let _ = tokio::time::timeout(timeout, appended).await;
    }
}

/// The index of the first failed document of an ordered `insert_many`.
fn first_failed(e: &mongodb::error::Error) -> Option<usize> {
    match &*e.kind {
        ErrorKind::InsertMany(m) => m
            .write_errors
            .as_ref()
            .and_then(|errs| errs.iter().map(|w| w.index).min()),
        _ => None,
    }
}

/// Follows `events` with a change stream and wakes the handle's waiters on every insert,
/// until the handle is dropped. Reopens the stream after an error; gives up (waiters then
/// sleep-poll) when the server refuses to open one (a standalone server; nx-27017, whose
/// cursor ids the driver does not accept); asks a server that answers a getMore at once at
/// most every 50 ms.
async fn watch_events(events: Collection<Document>, state: Weak<LogState>) {
    const RETRY: Duration = Duration::from_secs(1);
    const QUICKEST: Duration = Duration::from_millis(50);
    let pipeline = [
        doc! { "$match": { "operationType": "insert" } },
        doc! { "$project": { "operationType": 1 } },
    ];
    loop {
        if state.strong_count() == 0 {
            return;
        }
        let opened = events
            .watch()
            .pipeline(pipeline.clone())
            .max_await_time(WATCH_AWAIT)
            .await;
        let mut stream = match opened {
            Ok(stream) => stream,
            Err(e) => {
                let unreachable = db(e).code() == "unavailable";
                let Some(live) = state.upgrade() else {
                    return;
                };
                if !unreachable {
                    *lock(&live.watch) = Watch::Off;
                    return;
                }
                drop(live);
                tokio::time::sleep(RETRY).await;
                continue;
            }
        };
        match state.upgrade() {
            Some(live) => *lock(&live.watch) = Watch::Open,
            None => return,
        }
        loop {
            let started = Instant::now();
            let next = tokio::time::timeout(WATCH_AWAIT * 4, stream.next_if_any()).await;
            let Some(live) = state.upgrade() else {
                return;
            };
            match next {
                Ok(Ok(Some(_))) => live.appended.notify_waiters(),
                Ok(Ok(None)) => {
                    drop(live);
                    if let Some(rest) = QUICKEST.checked_sub(started.elapsed()) {
                        tokio::time::sleep(rest).await;
                    }
                }
                // A getMore that hangs past its await time, or fails: a fresh stream.
                Err(_) | Ok(Err(_)) => {
                    *lock(&live.watch) = Watch::Opening;
                    drop(live);
                    tokio::time::sleep(RETRY).await;
                    break;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eid_bounds_split_uuid_v7_strings_by_time() {
        let t = DateTime::from_timestamp_millis(1_893_456_000_123).unwrap();
        let bound = eid_bound(t);
        let at = |ms: i64| {
            let ts = uuid::Timestamp::from_unix(
                uuid::NoContext,
                u64::try_from(ms / 1000).unwrap(),
                u32::try_from(ms % 1000).unwrap() * 1_000_000,
            );
            uuid::Uuid::new_v7(ts).to_string()
        };
        assert!(at(1_893_456_000_122) < bound);
        assert!(at(1_893_456_000_123) > bound);
        assert!(at(1_893_456_000_124) > bound);
        assert!(String::new() < bound);
    }

    #[test]
    fn outbox_fields_round_trip() {
        let change = Change::UserChanged {
            user_id: UserId::new(),
        };
        let p = Pending::new(&change);
        let d = with_outbox(doc! { "_id": "x" }, Some(&p));
        assert_eq!(Pending::of(&d).unwrap(), Some(p));
        let empty = with_outbox(doc! { "_id": "x" }, None);
        assert_eq!(Pending::of(&empty).unwrap(), None);
        assert_eq!(Pending::of(&doc! { "_id": "legacy" }).unwrap(), None);
    }

    #[test]
    fn foreign_positions_read_past_the_end() {
        assert_eq!(pos_of(LogPosition::from_seq(7)), 7);
        assert_eq!(pos_of(LogPosition::new(1, 0)), i64::MAX);
        assert_eq!(pos_of(LogPosition::from_seq(u64::MAX)), i64::MAX);
    }
}
