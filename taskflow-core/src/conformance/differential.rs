//! Scenario: random operation sequences give the same observable results on the store under
//! test as on the in-memory reference, and leave the same change log.
//!
//! Each proptest case registers fresh users on the store under test (so cases cannot see
//! each other's tasks) and on a fresh [`MemoryStore`], sets both clocks to the same
//! instant, and replays one generated sequence of operations through the public
//! [`TaskFlow`](crate::TaskFlow) API on both. Results are compared after normalisation: ids
//! (UUIDv7, different on each side) become creation indexes, cursors (which embed ids)
//! stay on their own side and only their presence is compared. A mismatch is shrunk to a
//! minimal sequence, which the failure message prints together with the seed.
//!
//! `TASKFLOW_PROPTEST_CASES` overrides the number of cases and `TASKFLOW_PROPTEST_SEED`
//! (a number) fixes the random seed, e.g. to replay a failure.

use std::collections::{BTreeMap, HashMap};
use std::fmt::{self, Write as _};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestError, TestRng, TestRunner};

use super::{Account, Harness};
use crate::{
    Change, Error, LogPosition, MemoryStore, NewTask, Page, Principal, Priority, Scope, Status,
    Store, Task, TaskId, TaskPatch, TaskQuery, TaskStats, UserId,
};

/// Cases per run when the store crate does not choose (`store_conformance!(setup,
/// differential_cases = N)`) and `TASKFLOW_PROPTEST_CASES` is unset.
pub const DEFAULT_DIFFERENTIAL_CASES: u32 = 100;

/// Random sequences of creates, patches (with and without expected versions), deletes,
/// bulk status changes, gets, listings (filters, search, sorts, page mode, cursor chains
/// walked at once or continued between other operations), stats and clock moves give the
/// same results as on [`MemoryStore`] (proptest, shrunk to a minimal failing sequence;
/// `TASKFLOW_PROPTEST_CASES`, `TASKFLOW_PROPTEST_SEED`).
pub async fn operations_match_the_memory_reference(store: Arc<dyn Store>) {
    differential_cases(store, DEFAULT_DIFFERENTIAL_CASES).await;
}

/// [`operations_match_the_memory_reference`] with `cases` cases (unless
/// `TASKFLOW_PROPTEST_CASES` says otherwise).
pub async fn differential_cases(store: Arc<dyn Store>, cases: u32) {
    let cases = env_number("TASKFLOW_PROPTEST_CASES")
        .map_or(cases, |n| u32::try_from(n).unwrap_or(u32::MAX));
    let seed = env_number("TASKFLOW_PROPTEST_SEED").unwrap_or_else(rand_seed);
    let runtime = tokio::runtime::Handle::current();
    // The runner is synchronous; it runs on the blocking pool and enters the runtime
    // once per case.
    let report = tokio::task::spawn_blocking(move || {
        let started = Instant::now();
        let under_test = Harness::new(store);
        let config = Config {
            cases,
            failure_persistence: None,
            // Each shrink step replays a whole sequence against a database.
            max_shrink_iters: 2_000,
            ..Config::default()
        };
        let mut seed_bytes = [0u8; 32];
        seed_bytes[..8].copy_from_slice(&seed.to_le_bytes());
        let rng = TestRng::from_seed(RngAlgorithm::ChaCha, &seed_bytes);
        let mut runner = TestRunner::new_with_rng(config, rng);
        // Every run (cases and shrink steps) gets its own accounts.
        let runs = AtomicU32::new(0);
        let tally = Mutex::new(BTreeMap::new());
        let result = runner.run(&sequence(), |ops| {
            let n = runs.fetch_add(1, Ordering::Relaxed);
            runtime.block_on(run_case(&under_test, n, &ops, &tally))
        });
        let tally = tally.into_inner().unwrap_or_else(|e| e.into_inner());
        (result, runs.into_inner(), started.elapsed(), tally)
    })
    .await
    .expect("the differential runner panicked");
    match report {
        (Ok(()), runs, elapsed, tally) => {
            // What the sequences exercised, so a generator that stops hitting shows.
            let ops: u64 = tally.values().sum();
            let summary: Vec<String> = tally.iter().map(|(k, n)| format!("{k}: {n}")).collect();
            eprintln!(
                "differential: {cases} cases passed ({runs} sequences, {ops} operations, \
                 {OPS_MIN}-{OPS_MAX} per sequence, seed {seed}) in {:.1} s\n  {}",
                elapsed.as_secs_f64(),
                summary.join(", ")
            );
        }
        (Err(TestError::Fail(reason, ops)), ..) => panic!(
            "the store differs from the memory reference (seed {seed}; replay with \
             TASKFLOW_PROPTEST_SEED={seed}).\n{reason}\nminimal sequence ({} ops):\n{}",
            ops.iter().flatten().count(),
            numbered(&ops)
        ),
        (Err(TestError::Abort(reason)), ..) => panic!("differential run aborted: {reason}"),
    }
}

fn env_number(name: &str) -> Option<u64> {
    let raw = std::env::var(name).ok()?;
    Some(
        raw.trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name} must be a number, got {raw:?}")),
    )
}

fn rand_seed() -> u64 {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).expect("random seed");
    u64::from_le_bytes(bytes)
}

fn numbered(ops: &[Option<Op>]) -> String {
    let mut out = String::new();
    for (i, op) in ops.iter().flatten().enumerate() {
        let _ = writeln!(out, "  {i:>2}: {op:?}");
    }
    out
}

// ---------------------------------------------------------------------------------------
// Operations and their generators. Values come from small vocabularies so that filters,
// searches, equal sort keys and version checks actually hit; invalid input is drawn
// rarely (one field in ~20), so that most operations get past validation.

const OPS_MIN: usize = 10;
const OPS_MAX: usize = 40;

const TITLES: &[&str] = &[
    "Write report",
    "report",
    "REPORTS due",
    "École maternelle",
    "ecole",
    "Straße bauen",
    "STRASSE",
    "Σίσυφος",
    "ΣΊΣΥΦΟΣ rolls",
    "déjà-vu x1",
    "42 answers",
    "  padded title  ",
    "İstanbul trip",
    "日本語のタスク",
    "'; DROP TABLE tasks; --",
    "100% _wild_ card",
];
const BAD_TITLES: &[&str] = &["", "   ", "nul\0title"];
const DESCRIPTIONS: &[&str] = &[
    "",
    "see the report",
    "Rapport über die Straße",
    "x",
    "wild % and _ chars",
    "ÉCOLE 42",
];
const BAD_DESCRIPTIONS: &[&str] = &["nul\0byte"];
const QUERIES: &[&str] = &[
    "rep",
    "REPORT",
    "report due",
    "éc",
    "ÉCOLE",
    "ecole",
    "stra",
    "straße",
    "σίσ",
    "ΣΊΣΥΦΟΣ",
    "déjà vu",
    "42",
    "x1",
    "İst",
    "ist",
    "日本",
    "zzz",
    "  Rep  ",
];
// No word: valid, and they match nothing (core answers them without the store).
const BAD_QUERIES: &[&str] = &["!!", "%", "_"];
const TAGS: &[&str] = &["work", "home", "WORK", "urgent-ish", "a_b", "x"];
const BAD_TAGS: &[&str] = &["bad tag", "ü", "%", ""];
const STATUSES: &[&str] = &["todo", "in_progress", "done", "cancelled"];
const BAD_STATUSES: &[&str] = &["Done", " todo", "open"];
const PRIORITIES: &[&str] = &["low", "medium", "high", "urgent"];
const BAD_PRIORITIES: &[&str] = &["URGENT", "3"];
const SORTS: &[&str] = &[
    "created_at",
    "-created_at",
    "updated_at",
    "-updated_at",
    "due_date",
    "-due_date",
    "priority",
    "-priority",
];
const BAD_SORTS: &[&str] = &["title", "+priority", ""];
const LIMITS: &[i64] = &[1, 1, 1, 2, 2, 3, 4, 100];
const BAD_LIMITS: &[i64] = &[0, 101];
const PAGES: &[i64] = &[1, 1, 2, 3];
const BAD_PAGES: &[i64] = &[0, -1];
/// Offsets of due dates and filter bounds from "now", in milliseconds.
const DUE_OFFSETS_MS: &[i64] = &[
    // Before 1970 (negative epoch milliseconds) and far ahead.
    -100 * 365 * DAY_MS,
    200 * 365 * DAY_MS,
    -8 * DAY_MS,
    -DAY_MS,
    -HOUR_MS,
    -1_000,
    -1,
    1,
    999,
    1_000,
    HOUR_MS,
    DAY_MS,
    8 * DAY_MS,
];
/// Clock moves, in microseconds. Mostly none or whole seconds, so that due dates, filter
/// bounds, the overdue instant (whole seconds) and the 7-day stats window meet exactly;
/// now and then below a millisecond or off the second.
const ADVANCES_US: &[i64] = &[
    1_000_000,
    60_000_000,
    HOUR_MS * 1_000,
    DAY_MS * 1_000,
    7 * DAY_MS * 1_000,
];
const ODD_ADVANCES_US: &[i64] = &[300, 1_000, 999_000, 3 * DAY_MS * 1_000 + 1_000];
const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 24 * HOUR_MS;

/// Who performs a write: one of the case's two users, or its admin (who may write any
/// task).
#[derive(Debug, Clone, Copy)]
enum Actor {
    User(usize),
    Admin,
}

/// Who lists or asks for stats.
#[derive(Debug, Clone, Copy)]
enum Viewer {
    /// A user, over their own tasks.
    User(usize),
    /// The admin, over one owner's tasks (0-1 users, 2 the admin). Never over everyone's:
    /// the store under test holds earlier cases' tasks too.
    AdminOf(usize),
    /// A user naming an owner: forbidden.
    UserNaming(usize, usize),
}

/// A task reference, resolved when the operation runs, modulo the count of candidates
/// (deleted tasks included): the n-th task the actor owns (any task for the admin), the
/// n-th task of the case whoever owns it, or an id nobody has.
#[derive(Debug, Clone, Copy)]
enum TaskRef {
    Own(usize),
    Any(usize),
    Unknown,
}

/// A due date or bound: `ms` from now, plus `sub_ms_ns` below the millisecond precision
/// stores keep.
#[derive(Debug, Clone, Copy)]
struct Due {
    ms: i64,
    sub_ms_ns: i64,
}

#[derive(Debug, Clone)]
struct TaskInput {
    title: &'static str,
    description: Option<&'static str>,
    status: Option<&'static str>,
    priority: Option<&'static str>,
    due: Option<Due>,
    tags: Option<Vec<&'static str>>,
}

#[derive(Debug, Clone)]
struct PatchInput {
    title: Option<&'static str>,
    description: Option<Option<&'static str>>,
    status: Option<&'static str>,
    priority: Option<&'static str>,
    due: Option<Option<Due>>,
    tags: Option<Vec<&'static str>>,
}

#[derive(Debug, Clone)]
struct QueryInput {
    status: Vec<&'static str>,
    priority: Vec<&'static str>,
    tag: Option<&'static str>,
    q: Option<&'static str>,
    due_before: Option<Due>,
    due_after: Option<Due>,
    overdue: Option<bool>,
    sort: Option<&'static str>,
    limit: Option<i64>,
    page: Option<i64>,
}

/// How a saved cursor is reused.
#[derive(Debug, Clone, Copy)]
enum Reuse {
    /// With the listing it came from: the next page.
    Same,
    /// With another sort: rejected.
    OtherSort,
    /// Together with a page number: rejected.
    WithPage,
}

#[derive(Debug, Clone)]
enum Op {
    Create(Actor, TaskInput),
    Update(Actor, TaskRef, PatchInput, Option<u64>),
    Delete(Actor, TaskRef, Option<u64>),
    Bulk(Actor, Vec<TaskRef>, &'static str),
    Get(Actor, TaskRef),
    /// One page; with `walk`, then every following page through the cursors.
    List {
        viewer: Viewer,
        query: QueryInput,
        walk: bool,
    },
    /// The next page of a cursor saved by an earlier listing, with the operations in
    /// between applied.
    Continue {
        slot: usize,
        reuse: Reuse,
    },
    /// An earlier listing again, exactly as it was asked (a cached store may answer it
    /// from the cache: the writes in between must show).
    Relist(usize),
    Stats(Viewer),
    Advance(i64),
}

/// Mostly a valid value, now and then an invalid one. Shrinks towards the first valid one.
fn mostly<T: Clone + fmt::Debug + 'static>(
    valid: &'static [T],
    invalid: &'static [T],
) -> impl Strategy<Value = T> {
    prop_oneof![
        20 => prop::sample::select(valid),
        1 => prop::sample::select(invalid),
    ]
}

fn actor() -> impl Strategy<Value = Actor> {
    prop_oneof![
        6 => Just(Actor::User(0)),
        2 => Just(Actor::User(1)),
        1 => Just(Actor::Admin),
    ]
}

fn viewer() -> impl Strategy<Value = Viewer> {
    prop_oneof![
        12 => Just(Viewer::User(0)),
        4 => Just(Viewer::User(1)),
        4 => (0..3usize).prop_map(Viewer::AdminOf),
        1 => (0..2usize, 0..3usize).prop_map(|(u, o)| Viewer::UserNaming(u, o)),
    ]
}

fn task_ref() -> impl Strategy<Value = TaskRef> {
    prop_oneof![
        12 => (0..OPS_MAX).prop_map(TaskRef::Own),
        3 => (0..OPS_MAX).prop_map(TaskRef::Any),
        1 => Just(TaskRef::Unknown),
    ]
}

fn due() -> impl Strategy<Value = Due> {
    (
        // Now itself (the overdue instant, when now is on the second) half of the time.
        prop_oneof![1 => Just(0i64), 1 => prop::sample::select(DUE_OFFSETS_MS)],
        prop_oneof![4 => Just(0i64), 1 => Just(400_000i64)],
    )
        .prop_map(|(ms, sub_ms_ns)| Due { ms, sub_ms_ns })
}

fn tags() -> impl Strategy<Value = Vec<&'static str>> {
    prop::collection::vec(mostly(TAGS, BAD_TAGS), 0..=3)
}

fn version() -> impl Strategy<Value = Option<u64>> {
    prop_oneof![3 => Just(None), 2 => (1..=4u64).prop_map(Some)]
}

fn task_input() -> impl Strategy<Value = TaskInput> {
    (
        mostly(TITLES, BAD_TITLES),
        prop::option::of(mostly(DESCRIPTIONS, BAD_DESCRIPTIONS)),
        prop::option::weighted(0.6, mostly(STATUSES, BAD_STATUSES)),
        prop::option::weighted(0.6, mostly(PRIORITIES, BAD_PRIORITIES)),
        prop::option::weighted(0.7, due()),
        prop::option::weighted(0.7, tags()),
    )
        .prop_map(
            |(title, description, status, priority, due, tags)| TaskInput {
                title,
                description,
                status,
                priority,
                due,
                tags,
            },
        )
}

fn patch_input() -> impl Strategy<Value = PatchInput> {
    (
        prop::option::weighted(0.2, mostly(TITLES, BAD_TITLES)),
        prop::option::weighted(
            0.2,
            prop::option::of(mostly(DESCRIPTIONS, BAD_DESCRIPTIONS)),
        ),
        prop::option::weighted(0.5, mostly(STATUSES, BAD_STATUSES)),
        prop::option::weighted(0.3, mostly(PRIORITIES, BAD_PRIORITIES)),
        prop::option::weighted(0.3, prop::option::weighted(0.8, due())),
        prop::option::weighted(0.2, tags()),
    )
        .prop_map(
            |(title, description, status, priority, due, tags)| PatchInput {
                title,
                description,
                status,
                priority,
                due,
                tags,
            },
        )
}

fn query_input() -> impl Strategy<Value = QueryInput> {
    (
        (
            prop::option::weighted(
                0.15,
                prop::collection::vec(mostly(STATUSES, BAD_STATUSES), 1..=2),
            ),
            prop::option::weighted(
                0.15,
                prop::collection::vec(mostly(PRIORITIES, BAD_PRIORITIES), 1..=2),
            ),
            prop::option::weighted(0.1, mostly(TAGS, BAD_TAGS)),
            prop::option::weighted(0.15, mostly(QUERIES, BAD_QUERIES)),
        ),
        (
            prop::option::weighted(0.08, due()),
            prop::option::weighted(0.08, due()),
            prop::option::weighted(0.2, any::<bool>()),
        ),
        (
            prop::option::weighted(0.8, mostly(SORTS, BAD_SORTS)),
            prop::option::weighted(0.9, mostly(LIMITS, BAD_LIMITS)),
            prop::option::weighted(0.2, mostly(PAGES, BAD_PAGES)),
        ),
    )
        .prop_map(
            |(
                (status, priority, tag, q),
                (due_before, due_after, overdue),
                (sort, limit, page),
            )| {
                QueryInput {
                    status: status.unwrap_or_default(),
                    priority: priority.unwrap_or_default(),
                    tag,
                    q,
                    due_before,
                    due_after,
                    overdue,
                    sort,
                    limit,
                    page,
                }
            },
        )
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (actor(), task_input()).prop_map(|(a, t)| Op::Create(a, t)),
        4 => (actor(), task_ref(), patch_input(), version())
            .prop_map(|(a, r, p, v)| Op::Update(a, r, p, v)),
        1 => (actor(), task_ref(), version()).prop_map(|(a, r, v)| Op::Delete(a, r, v)),
        2 => (
            actor(),
            prop::collection::vec(task_ref(), 0..=4),
            mostly(STATUSES, BAD_STATUSES),
        )
            .prop_map(|(a, refs, s)| Op::Bulk(a, refs, s)),
        3 => (actor(), task_ref()).prop_map(|(a, r)| Op::Get(a, r)),
        5 => (viewer(), query_input(), prop::bool::weighted(0.3))
            .prop_map(|(viewer, query, walk)| Op::List { viewer, query, walk }),
        3 => (
            0..4usize,
            prop_oneof![8 => Just(Reuse::Same), 1 => Just(Reuse::OtherSort), 1 => Just(Reuse::WithPage)],
        )
            .prop_map(|(slot, reuse)| Op::Continue { slot, reuse }),
        2 => (0..OPS_MAX).prop_map(Op::Relist),
        1 => viewer().prop_map(Op::Stats),
        2 => prop_oneof![
            2 => Just(0),
            3 => prop::sample::select(ADVANCES_US),
            1 => prop::sample::select(ODD_ADVANCES_US),
        ]
        .prop_map(Op::Advance),
    ]
}

/// A few creates first, so that most operations have tasks to work on, then anything.
///
/// Every operation is wrapped in an `Option` that is practically always `Some`: the
/// shrinker turns it into `None`, which drops the operation, so a sequence can shrink
/// below the minimum length of the generated vector.
fn sequence() -> impl Strategy<Value = Vec<Option<Op>>> {
    let create = (actor(), task_input()).prop_map(|(a, t)| Op::Create(a, t));
    let droppable = |op| prop::option::weighted(0.999, op);
    (
        prop::collection::vec(droppable(create.boxed()), 2..=8),
        prop::collection::vec(droppable(op().boxed()), OPS_MIN - 2..=OPS_MAX - 8),
    )
        .prop_map(|(mut creates, rest)| {
            creates.extend(rest);
            creates
        })
}

// ---------------------------------------------------------------------------------------
// Normalised observations: what both sides must agree on.

/// A task with ids replaced by creation indexes (`None`: not created in this case).
#[derive(Debug, PartialEq)]
struct SeenTask {
    task: Option<usize>,
    owner: Option<usize>,
    title: String,
    description: Option<String>,
    status: Status,
    priority: Priority,
    due_date: Option<DateTime<Utc>>,
    tags: Vec<String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    completed_at: Option<DateTime<Utc>>,
    version: u64,
}

#[derive(Debug, PartialEq)]
struct SeenPage {
    items: Vec<SeenTask>,
    limit: u32,
    page: Option<u32>,
    total: Option<u64>,
    has_next: bool,
}

/// An error as clients see it: code, message (which carries e.g. the current version of
/// a mismatch) and the failing fields of a validation error.
#[derive(Debug, PartialEq)]
struct SeenError {
    code: &'static str,
    message: String,
    fields: BTreeMap<String, Vec<String>>,
}

#[derive(Debug, PartialEq)]
enum Seen {
    Task(SeenTask),
    Deleted,
    Changed(u64),
    /// Pages in order: one, or a whole cursor walk.
    Pages(Vec<SeenPage>),
    Stats(TaskStats),
    /// Nothing to observe (clock moves, a continuation without a saved cursor).
    Nothing,
}

type Outcome = Result<Seen, SeenError>;

fn seen_error(e: Error) -> SeenError {
    let fields = match &e {
        Error::Validation(v) => v.fields().clone(),
        _ => BTreeMap::new(),
    };
    SeenError {
        code: e.code().as_str(),
        message: e.to_string(),
        fields,
    }
}

// ---------------------------------------------------------------------------------------
// One side of the comparison: a TaskFlow with this case's accounts and the ids it made.

/// A saved cursor and the query it belongs to (both side-specific).
struct Saved {
    viewer: Principal,
    query: TaskQuery,
    cursor: String,
}

struct Side<'h> {
    h: &'h Harness,
    users: [Account; 2],
    admin: Account,
    /// Ids in creation order, and their owners' indexes.
    tasks: Vec<TaskId>,
    owners: Vec<usize>,
    index: HashMap<TaskId, usize>,
    cursors: Vec<Saved>,
    /// Every listing asked so far, for `Relist`.
    listings: Vec<(Principal, TaskQuery)>,
    /// The change log's head once the accounts exist: the case's events follow it.
    head: LogPosition,
}

/// Cursors kept for later `Continue`s; the oldest is dropped beyond this.
const SAVED_CURSORS: usize = 4;
/// Pages followed by one walk (more than the tasks of any case at limit 1).
const MAX_WALK_PAGES: usize = OPS_MAX + 2;

impl<'h> Side<'h> {
    async fn new(h: &'h Harness, prefix: &str) -> Self {
        let users = [
            h.account(&format!("{prefix}-u0")).await,
            h.account(&format!("{prefix}-u1")).await,
        ];
        let admin = h.admin(&format!("{prefix}-admin")).await;
        Self {
            h,
            users,
            admin,
            tasks: Vec::new(),
            owners: Vec::new(),
            index: HashMap::new(),
            cursors: Vec::new(),
            listings: Vec::new(),
            head: settled_head(h).await,
        }
    }

    /// The events the case appended, with ids replaced by this side's indexes, so both
    /// sides' logs compare equal when they logged the same writes in the same order.
    async fn logged(&self) -> Vec<String> {
        let mut after = self.head;
        let mut out = Vec::new();
        loop {
            let batch = self
                .h
                .store
                .read_changes(Scope::All, after, 100)
                .await
                .expect("read_changes");
            for e in &batch.events {
                after = e.position;
                let task = |id: TaskId| self.index.get(&id).copied();
                let who = self.owner_index(e.change.subject());
                out.push(match &e.change {
                    Change::TaskCreated(t) | Change::TaskUpdated(t) => format!(
                        "{} #{:?} of {who:?} v{} {:?} {:?} {:?}",
                        e.change.kind(),
                        task(t.id),
                        t.version,
                        t.status,
                        t.priority,
                        t.title
                    ),
                    Change::TaskDeleted { task_id, .. } => {
                        format!("{} #{:?} of {who:?}", e.change.kind(), task(*task_id))
                    }
                    other => format!("{} of {who:?}", other.kind()),
                });
            }
            if batch.caught_up {
                return out;
            }
            if batch.events.is_empty() {
                // Held back by another transaction on the server (PostgreSQL): wait for it.
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            }
        }
    }

    fn owner_id(&self, owner: usize) -> UserId {
        match owner {
            0 | 1 => self.users[owner].user.id,
            _ => self.admin.user.id,
        }
    }

    fn owner_index(&self, id: UserId) -> Option<usize> {
        (0..3).find(|&i| self.owner_id(i) == id)
    }

    fn actor(&self, actor: Actor) -> &Principal {
        match actor {
            Actor::User(i) => &self.users[i].principal,
            Actor::Admin => &self.admin.principal,
        }
    }

    /// The principal and `owner_id` of a viewer.
    fn viewer(&self, viewer: Viewer) -> (&Principal, Option<UserId>) {
        match viewer {
            Viewer::User(i) => (&self.users[i].principal, None),
            Viewer::AdminOf(o) => (&self.admin.principal, Some(self.owner_id(o))),
            Viewer::UserNaming(i, o) => (&self.users[i].principal, Some(self.owner_id(o))),
        }
    }

    fn task_id(&self, actor: Actor, r: TaskRef, unknown: TaskId) -> TaskId {
        let candidates: Vec<TaskId> = match (r, actor) {
            (TaskRef::Unknown, _) => Vec::new(),
            (TaskRef::Own(_), Actor::User(i)) => self
                .tasks
                .iter()
                .zip(&self.owners)
                .filter(|(_, owner)| **owner == i)
                .map(|(id, _)| *id)
                .collect(),
            (TaskRef::Own(_) | TaskRef::Any(_), _) => self.tasks.clone(),
        };
        match r {
            TaskRef::Own(n) | TaskRef::Any(n) if !candidates.is_empty() => {
                candidates[n % candidates.len()]
            }
            _ => unknown,
        }
    }

    fn now(&self) -> DateTime<Utc> {
        self.h.now()
    }

    fn at(&self, due: Due) -> DateTime<Utc> {
        self.now() + TimeDelta::milliseconds(due.ms) + TimeDelta::nanoseconds(due.sub_ms_ns)
    }

    fn seen(&self, t: Task) -> SeenTask {
        SeenTask {
            task: self.index.get(&t.id).copied(),
            owner: self.owner_index(t.owner_id),
            title: t.title,
            description: t.description,
            status: t.status,
            priority: t.priority,
            due_date: t.due_date,
            tags: t.tags,
            created_at: t.created_at,
            updated_at: t.updated_at,
            completed_at: t.completed_at,
            version: t.version,
        }
    }

    fn seen_page(&self, page: &Page<Task>) -> SeenPage {
        SeenPage {
            items: page.items.iter().map(|t| self.seen(t.clone())).collect(),
            limit: page.limit,
            page: page.page,
            total: page.total,
            has_next: page.next_cursor.is_some(),
        }
    }

    fn query(&self, q: &QueryInput, owner_id: Option<UserId>) -> TaskQuery {
        TaskQuery {
            status: q.status.iter().map(|s| (*s).to_owned()).collect(),
            priority: q.priority.iter().map(|s| (*s).to_owned()).collect(),
            tag: q.tag.map(str::to_owned),
            q: q.q.map(str::to_owned),
            due_before: q.due_before.map(|d| self.at(d)),
            due_after: q.due_after.map(|d| self.at(d)),
            overdue: q.overdue,
            owner_id,
            sort: q.sort.map(str::to_owned),
            limit: q.limit,
            page: q.page,
            cursor: None,
        }
    }

    /// Lists, saving the next cursor for later continuations.
    async fn list(&mut self, viewer: Principal, query: TaskQuery) -> Result<SeenPage, SeenError> {
        let page = self
            .h
            .tf
            .list_tasks(&viewer, query.clone())
            .await
            .map_err(seen_error)?;
        let seen = self.seen_page(&page);
        if let Some(cursor) = page.next_cursor {
            if self.cursors.len() == SAVED_CURSORS {
                self.cursors.remove(0);
            }
            self.cursors.push(Saved {
                viewer,
                query: TaskQuery {
                    page: None,
                    ..query
                },
                cursor,
            });
        }
        Ok(seen)
    }

    async fn apply(&mut self, op: &Op, unknown: TaskId) -> Outcome {
        let tf = &self.h.tf;
        match op {
            Op::Create(actor, input) => {
                let new = NewTask {
                    title: input.title.to_owned(),
                    description: input.description.map(str::to_owned),
                    status: input.status.map(str::to_owned),
                    priority: input.priority.map(str::to_owned),
                    due_date: input.due.map(|d| self.at(d)),
                    tags: input
                        .tags
                        .as_ref()
                        .map(|t| t.iter().map(|s| (*s).to_owned()).collect()),
                };
                let task = tf
                    .create_task(self.actor(*actor), new)
                    .await
                    .map_err(seen_error)?;
                self.index.insert(task.id, self.tasks.len());
                self.tasks.push(task.id);
                self.owners.push(match actor {
                    Actor::User(i) => *i,
                    Actor::Admin => 2,
                });
                Ok(Seen::Task(self.seen(task)))
            }
            Op::Update(actor, r, p, expected) => {
                let patch = TaskPatch {
                    title: p.title.map(str::to_owned),
                    description: p.description.map(|d| d.map(str::to_owned)),
                    status: p.status.map(str::to_owned),
                    priority: p.priority.map(str::to_owned),
                    due_date: p.due.map(|d| d.map(|d| self.at(d))),
                    tags: p
                        .tags
                        .as_ref()
                        .map(|t| t.iter().map(|s| (*s).to_owned()).collect()),
                };
                let id = self.task_id(*actor, *r, unknown);
                tf.update_task(self.actor(*actor), id, patch, *expected)
                    .await
                    .map(|t| Seen::Task(self.seen(t)))
                    .map_err(seen_error)
            }
            Op::Delete(actor, r, expected) => tf
                .delete_task(
                    self.actor(*actor),
                    self.task_id(*actor, *r, unknown),
                    *expected,
                )
                .await
                .map(|()| Seen::Deleted)
                .map_err(seen_error),
            Op::Bulk(actor, refs, status) => {
                let ids: Vec<TaskId> = refs
                    .iter()
                    .map(|r| self.task_id(*actor, *r, unknown))
                    .collect();
                tf.bulk_set_status(self.actor(*actor), &ids, status)
                    .await
                    .map(Seen::Changed)
                    .map_err(seen_error)
            }
            Op::Get(actor, r) => tf
                .get_task(self.actor(*actor), self.task_id(*actor, *r, unknown))
                .await
                .map(|t| Seen::Task(self.seen(t)))
                .map_err(seen_error),
            Op::List {
                viewer,
                query,
                walk,
            } => {
                let (principal, owner_id) = self.viewer(*viewer);
                let (principal, query) = (principal.clone(), self.query(query, owner_id));
                self.listings.push((principal.clone(), query.clone()));
                let mut pages = vec![self.list(principal.clone(), query).await?];
                if *walk {
                    // Follow this listing's own cursor (the one just saved) to the end.
                    while pages.last().is_some_and(|p| p.has_next) {
                        assert!(pages.len() < MAX_WALK_PAGES, "a cursor walk does not end");
                        let saved = self.cursors.pop().expect("a saved cursor");
                        let next = TaskQuery {
                            cursor: Some(saved.cursor),
                            ..saved.query
                        };
                        pages.push(self.list(saved.viewer, next).await?);
                    }
                }
                Ok(Seen::Pages(pages))
            }
            Op::Continue { slot, reuse } => {
                if self.cursors.is_empty() {
                    return Ok(Seen::Nothing);
                }
                let saved = self.cursors.remove(slot % self.cursors.len());
                let mut query = TaskQuery {
                    cursor: Some(saved.cursor),
                    ..saved.query
                };
                match reuse {
                    Reuse::Same => {}
                    Reuse::OtherSort => {
                        query.sort = Some(
                            match query.sort.as_deref() {
                                Some("priority") => "-priority",
                                _ => "priority",
                            }
                            .to_owned(),
                        );
                    }
                    Reuse::WithPage => query.page = Some(1),
                }
                Ok(Seen::Pages(vec![self.list(saved.viewer, query).await?]))
            }
            Op::Relist(n) => {
                if self.listings.is_empty() {
                    return Ok(Seen::Nothing);
                }
                let (principal, query) = self.listings[n % self.listings.len()].clone();
                Ok(Seen::Pages(vec![self.list(principal, query).await?]))
            }
            Op::Stats(viewer) => {
                let (principal, owner_id) = self.viewer(*viewer);
                tf.task_stats(principal, owner_id)
                    .await
                    .map(Seen::Stats)
                    .map_err(seen_error)
            }
            Op::Advance(us) => {
                self.h.advance(TimeDelta::microseconds(*us));
                Ok(Seen::Nothing)
            }
        }
    }
}

/// The position after every event written so far, once they are all visible: the head
/// alone may sort before an event whose transaction was still held back (PostgreSQL).
async fn settled_head(h: &Harness) -> LogPosition {
    let mut head = h.store.change_head().await.expect("change_head");
    loop {
        let batch = super::settled(&*h.store, Scope::All, head, 1000).await;
        match batch.events.last() {
            Some(last) => head = last.position,
            None => return head,
        }
    }
}

/// Runs one sequence on the store under test and on a fresh memory store, comparing every
/// result.
async fn run_case(
    under_test: &Harness,
    n: u32,
    ops: &[Option<Op>],
    tally: &Mutex<BTreeMap<String, u64>>,
) -> Result<(), TestCaseError> {
    let reference = Harness::new(Arc::new(MemoryStore::new()));
    // Both sides start the case at the same instant: later than anything before on the
    // store under test (time only moves forward there, as caches may key on it), and on
    // the second, like the overdue instant, so that due dates can meet it exactly.
    let start = (under_test.now() + TimeDelta::days(1))
        .duration_trunc(TimeDelta::seconds(1))
        .expect("a representable time");
    under_test.clock.set(start);
    reference.clock.set(start);
    let prefix = format!("diff{n}");
    let mut a = Side::new(under_test, &prefix).await;
    let mut b = Side::new(&reference, &prefix).await;
    let unknown = TaskId::new();
    let mut trace = String::new();
    for (i, op) in ops.iter().flatten().enumerate() {
        let got = a.apply(op, unknown).await;
        let want = b.apply(op, unknown).await;
        if got != want {
            return Err(TestCaseError::fail(format!(
                "{trace}op {i}: {op:?}\n  store:     {got:?}\n  reference: {want:?}"
            )));
        }
        let _ = writeln!(trace, "op {i} -> {}", brief(&want));
        *tally
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(kind(op, &want))
            .or_default() += 1;
    }
    // The writes that succeeded, and only those, are in both logs, in the same order.
    let (got, want) = (a.logged().await, b.logged().await);
    if got != want {
        return Err(TestCaseError::fail(format!(
            "{trace}the change logs differ\n  store:     {got:#?}\n  reference: {want:#?}"
        )));
    }
    Ok(())
}

/// A one-line summary of an outcome for the failure trace.
fn brief(outcome: &Outcome) -> String {
    match outcome {
        Ok(Seen::Task(t)) => format!(
            "task #{:?} v{} {:?} {:?}",
            t.task, t.version, t.status, t.title
        ),
        Ok(Seen::Pages(pages)) => {
            let items: Vec<Vec<Option<usize>>> = pages
                .iter()
                .map(|p| p.items.iter().map(|t| t.task).collect())
                .collect();
            format!("pages {items:?}")
        }
        Ok(other) => format!("{other:?}"),
        Err(e) => format!("error {} {}", e.code, e.message),
    }
}

/// The operation's kind and how it ended, for the run's summary.
fn kind(op: &Op, outcome: &Outcome) -> String {
    let name = match op {
        Op::Create(..) => "create",
        Op::Update(..) => "update",
        Op::Delete(..) => "delete",
        Op::Bulk(..) => "bulk",
        Op::Get(..) => "get",
        Op::List { walk: false, .. } => "list",
        Op::List { walk: true, .. } => "walk",
        Op::Continue { .. } => "continue",
        Op::Relist(..) => "relist",
        Op::Stats(..) => "stats",
        Op::Advance(..) => "advance",
    };
    let how = match outcome {
        Err(e) => e.code,
        Ok(Seen::Pages(pages)) => match (pages.len(), pages[0].items.len(), pages[0].has_next) {
            (1, 0, _) => "empty",
            (1, _, false) => "last page",
            (1, _, true) => "page with more",
            _ => "several pages",
        },
        Ok(Seen::Changed(0)) => "none changed",
        Ok(Seen::Nothing) if matches!(op, Op::Continue { .. }) => "no cursor",
        Ok(Seen::Nothing) if matches!(op, Op::Relist(..)) => "no listing yet",
        Ok(_) => "ok",
    };
    format!("{name} {how}")
}
