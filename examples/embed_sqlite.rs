//! Embeds TaskFlow in a Rust program whose data outlives it: the SQLite store of
//! `taskflow-store-sql` with the moka cache in front. Opens (or creates) the database and
//! migrates it, registers an account (or, if an earlier run registered it, carries on with
//! it), logs in, says how many tasks the account already has, creates three more, lists
//! them with a filter, searches them and reads the stats.
//!
//! Run it with a database URL, or none for `taskflow-example.db` in the current directory:
//!
//! ```text
//! cargo run -p taskflow-examples --example embed_sqlite
//! cargo run -p taskflow-examples --example embed_sqlite -- sqlite:///tmp/tf-example.db
//! ```
//!
//! Run it twice on the same file: the second run finds the first run's tasks. The JWT secret
//! is 32 fresh random bytes per run, so tokens do not survive a restart, while accounts and
//! tasks do. A `postgres://` URL works as well: the program names its store only by URL
//! (a password in it is not printed).

use chrono::{TimeDelta, Utc};
use taskflow_core::{
    Error, MokaCache, NewTask, Page, Priority, Registration, Status, Task, TaskFlow, TaskQuery,
    TaskStats,
};
use taskflow_store_sql::{SqlOptions, SqlStore};

type AnyResult<T> = Result<T, Box<dyn std::error::Error>>;

const DEFAULT_URL: &str = "sqlite://taskflow-example.db";
const EMAIL: &str = "ada@example.com";
const PASSWORD: &str = "correct horse battery staple";

#[tokio::main]
async fn main() -> AnyResult<()> {
    let url = std::env::args()
        .nth(1)
        .unwrap_or_else(|| DEFAULT_URL.to_owned());

    step("Open the database");
    let store = SqlStore::open(&url, &SqlOptions::default()).await?;
    // Idempotent: the first run creates the tables, later runs find nothing to do.
    store.migrate().await?;
    println!("opened {} and applied its migrations", redacted(&url));

    // A real deployment loads its secret from a file or the environment; a throwaway
    // program can draw a fresh one. Never hard-code it.
    let mut jwt_secret = [0u8; 32];
    getrandom::fill(&mut jwt_secret)?;

    // Shared rather than moved in, so the program keeps a handle to close the pools with
    // at the end: a clean shutdown instead of connections dropped at exit.
    let tf = TaskFlow::builder()
        .shared_store(store.shared())
        .cache(MokaCache::default())
        .jwt_secret(jwt_secret)
        .build()?;

    step("Register (or find the account of an earlier run) and log in");
    let registered = tf
        .register(Registration {
            email: EMAIL.into(),
            password: PASSWORD.into(),
            name: "Ada Lovelace".into(),
        })
        .await;
    let fresh = match registered {
        Ok(user) => {
            println!(
                "registered {} <{}> (role {}, id {})",
                user.name, user.email, user.role, user.id
            );
            true
        }
        Err(e @ Error::Conflict(_)) => {
            println!("{EMAIL} is already registered ({e}): an earlier run created it");
            false
        }
        Err(e) => return Err(e.into()),
    };
    let tokens = tf.login(EMAIL, PASSWORD, None).await?;
    let me = tf.authenticate(&tokens.access_token).await?;
    println!(
        "logged in as user {} with role {} (access token of {} bytes, not shown)",
        me.user_id,
        me.role,
        tokens.access_token.len()
    );

    step("Tasks from earlier runs");
    let before = tf.task_stats(&me, None).await?;
    println!("Ada has {} task(s) on start", before.total);
    if fresh && before.total != 0 {
        return Err(format!("a new account already owns {} tasks", before.total).into());
    }
    if before.total > 0 {
        let latest = tf
            .list_tasks(
                &me,
                TaskQuery {
                    limit: Some(3),
                    ..TaskQuery::default()
                },
            )
            .await?;
        println!("the latest of them:");
        for task in &latest.items {
            print_task(task);
        }
    }

    step("Create tasks");
    let now = Utc::now();
    let stamp = format!(
        "Created by embed_sqlite at {}",
        now.format("%Y-%m-%d %H:%M:%S UTC")
    );
    let notes = tf
        .create_task(
            &me,
            NewTask::new("Write the release notes")
                .description(stamp.clone())
                .priority(Priority::High)
                .tags(["release", "docs"])
                .due_date(now + TimeDelta::days(2)),
        )
        .await?;
    let certificate = tf
        .create_task(
            &me,
            NewTask::new("Renew the TLS certificate")
                .description(stamp.clone())
                .priority(Priority::Urgent)
                .tags(["ops"])
                .due_date(now - TimeDelta::days(1)),
        )
        .await?;
    let flaky = tf
        .create_task(
            &me,
            NewTask::new("Fix the flaky release test")
                .description(stamp)
                .status(Status::InProgress)
                .tags(["release", "ci"])
                .due_date(now + TimeDelta::days(5)),
        )
        .await?;
    for task in [&notes, &certificate, &flaky] {
        print_task(task);
    }

    step("List: open tasks tagged \"release\", soonest due first");
    let page = tf
        .list_tasks(
            &me,
            TaskQuery {
                status: vec!["todo".into(), "in_progress".into()],
                tag: Some("release".into()),
                sort: Some("due_date".into()),
                limit: Some(10),
                ..TaskQuery::default()
            },
        )
        .await?;
    print_page(&page);
    let misfits = page
        .items
        .iter()
        .filter(|t| !t.status.is_open() || !t.tags.iter().any(|tag| tag == "release"))
        .count();
    if misfits > 0 || page.total.unwrap_or_default() < 2 {
        return Err(format!(
            "the filtered listing is wrong: {misfits} task(s) outside the filter, total {:?}",
            page.total
        )
        .into());
    }

    step("Search: \"cert\" (word prefix over title and description)");
    let page = tf
        .list_tasks(
            &me,
            TaskQuery {
                q: Some("cert".into()),
                limit: Some(5),
                ..TaskQuery::default()
            },
        )
        .await?;
    print_page(&page);
    // Newest first, so the task created by this run leads the results.
    if page.items.first().map(|t| t.id) != Some(certificate.id) {
        return Err("the search did not find the task this run created".into());
    }

    step("Stats");
    let stats = tf.task_stats(&me, None).await?;
    print_stats(&stats);
    if stats.total != before.total + 3 {
        return Err(format!(
            "expected {} tasks after creating 3, the stats say {}",
            before.total + 3,
            stats.total
        )
        .into());
    }

    if let Some(metrics) = tf.cache_metrics() {
        step("Cache");
        println!("hits {}, misses {}", metrics.hits(), metrics.misses());
    }

    step("Close");
    store.close().await;
    println!(
        "closed {}: run the program again and Ada will start with {} task(s)",
        redacted(&url),
        stats.total
    );
    Ok(())
}

/// The URL without its password, if it has one (`postgres://user:secret@host/db`).
fn redacted(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority = rest.split('/').next().unwrap_or_default();
    match authority.rsplit_once('@') {
        Some((userinfo, host)) if userinfo.contains(':') => {
            let user = userinfo.split(':').next().unwrap_or_default();
            let path = &rest[authority.len()..];
            format!("{scheme}://{user}:***@{host}{path}")
        }
        _ => url.to_owned(),
    }
}

fn step(title: &str) {
    println!("\n== {title} ==");
}

fn print_task(task: &Task) {
    let due = task.due_date.map_or_else(
        || "no due date".to_owned(),
        |d| format!("due {}", d.format("%Y-%m-%d")),
    );
    let tags = if task.tags.is_empty() {
        String::new()
    } else {
        format!(" #{}", task.tags.join(" #"))
    };
    println!(
        "  [{:<11}] {:<6} {:<34} {due}{tags} (v{}, created {})",
        task.status.as_str(),
        task.priority.as_str(),
        task.title,
        task.version,
        task.created_at.format("%Y-%m-%d %H:%M:%S")
    );
}

fn print_page(page: &Page<Task>) {
    println!(
        "{} of {} matching task(s):",
        page.items.len(),
        page.total.unwrap_or_default()
    );
    for task in &page.items {
        print_task(task);
    }
}

fn print_stats(stats: &TaskStats) {
    println!("total: {}", stats.total);
    println!(
        "by status: todo {}, in_progress {}, done {}, cancelled {}",
        stats.by_status.todo,
        stats.by_status.in_progress,
        stats.by_status.done,
        stats.by_status.cancelled
    );
    println!(
        "by priority: low {}, medium {}, high {}, urgent {}",
        stats.by_priority.low,
        stats.by_priority.medium,
        stats.by_priority.high,
        stats.by_priority.urgent
    );
    println!(
        "overdue: {}, completed in the last 7 days: {}",
        stats.overdue, stats.completed_last_7_days
    );
}
