//! Embeds TaskFlow in a Rust program, end to end, on the in-memory store with the moka
//! cache: register, log in, authenticate, create tasks, list, search, update with an
//! expected version, bulk-change status, read stats, rotate the token pair and log out.
//!
//! Run it with:
//!
//! ```text
//! cargo run -p taskflow-examples --example embed_memory
//! ```
//!
//! Nothing is persisted: the store lives in process memory and the JWT secret is 32 fresh
//! random bytes, so tokens from one run mean nothing to the next.

use chrono::{TimeDelta, Utc};
use taskflow_core::{
    Error, MemoryStore, MokaCache, NewTask, Page, Priority, Registration, Status, Task, TaskFlow,
    TaskPatch, TaskQuery,
};

type AnyResult<T> = Result<T, Box<dyn std::error::Error>>;

#[tokio::main]
async fn main() -> AnyResult<()> {
    // A real deployment loads its secret from a file or the environment; a throwaway
    // program can draw a fresh one. Never hard-code it.
    let mut jwt_secret = [0u8; 32];
    getrandom::fill(&mut jwt_secret)?;

    // Default PasswordParams: real argon2id (19 MiB, 2 passes), on the blocking pool.
    let tf = TaskFlow::builder()
        .store(MemoryStore::new())
        .cache(MokaCache::default())
        .jwt_secret(jwt_secret)
        .build()?;

    step("Register and log in");
    let user = tf
        .register(Registration {
            email: "  Ada@Example.com ".into(),
            password: "correct horse battery staple".into(),
            name: "Ada Lovelace".into(),
        })
        .await?;
    println!(
        "registered {} <{}> (role {}, id {})",
        user.name, user.email, user.role, user.id
    );

    let tokens = tf
        .login("ada@example.com", "correct horse battery staple", None)
        .await?;
    // Tokens are credentials: show their shape, not their value.
    println!(
        "logged in: {} access token of {} bytes (expires in {} s), refresh token of {} bytes",
        tokens.token_type,
        tokens.access_token.len(),
        tokens.expires_in,
        tokens.refresh_token.len()
    );

    match tf.login("ada@example.com", "wrong password", None).await {
        Err(e) => println!("wrong password is refused: {} ({e})", e.code()),
        Ok(_) => return Err("a wrong password was accepted".into()),
    }

    let me = tf.authenticate(&tokens.access_token).await?;
    println!(
        "access token authenticates user {} with role {}",
        me.user_id, me.role
    );

    step("Create tasks");
    let now = Utc::now();
    let release = tf
        .create_task(
            &me,
            NewTask::new("Write the release notes")
                .description("Summarise every change since 0.1 for the announcement")
                .priority(Priority::High)
                .tags(["release", "docs"])
                .due_date(now + TimeDelta::days(2)),
        )
        .await?;
    let overdue = tf
        .create_task(
            &me,
            NewTask::new("Renew the TLS certificate")
                .priority(Priority::Urgent)
                .tags(["ops"])
                .due_date(now - TimeDelta::days(1)),
        )
        .await?;
    let tests = tf
        .create_task(
            &me,
            NewTask::new("Fix the flaky release test")
                .status(Status::InProgress)
                .tags(["release", "ci"])
                .due_date(now + TimeDelta::days(5)),
        )
        .await?;
    let reading = tf
        .create_task(
            &me,
            NewTask::new("Read the Analytical Engine notes").priority(Priority::Low),
        )
        .await?;
    for task in [&release, &overdue, &tests, &reading] {
        print_task(task);
    }

    match tf
        .create_task(&me, NewTask::new("   ").tags(["Not A Tag!"]))
        .await
    {
        Err(Error::Validation(errors)) => {
            println!("invalid input is refused, every field at once:");
            for (field, messages) in errors.fields() {
                println!("  {field}: {}", messages.join("; "));
            }
        }
        other => return Err(format!("expected a validation error, got {other:?}").into()),
    }

    step("List: open tasks of high or urgent priority, soonest due first");
    let page = tf
        .list_tasks(
            &me,
            TaskQuery {
                status: vec!["todo".into(), "in_progress".into()],
                priority: vec!["high".into(), "urgent".into()],
                sort: Some("due_date".into()),
                ..TaskQuery::default()
            },
        )
        .await?;
    print_page(&page);

    step("Search: \"rel\" (word prefix over title and description)");
    let page = tf
        .list_tasks(
            &me,
            TaskQuery {
                q: Some("rel".into()),
                ..TaskQuery::default()
            },
        )
        .await?;
    print_page(&page);

    step("Update with an expected version");
    let started = tf
        .update_task(
            &me,
            release.id,
            TaskPatch::default()
                .status(Status::InProgress)
                .tags(["release", "docs", "v0-2"]),
            Some(release.version),
        )
        .await?;
    print_task(&started);
    // A writer still holding version 1 is told the task moved on instead of overwriting it.
    match tf
        .update_task(
            &me,
            release.id,
            TaskPatch::default().title("Stale edit"),
            Some(release.version),
        )
        .await
    {
        Err(Error::VersionMismatch { current }) => {
            println!(
                "stale update (expected version {}) is refused: the task is at version {current}",
                release.version
            );
        }
        other => return Err(format!("expected version_mismatch, got {other:?}").into()),
    }

    step("Bulk status change");
    let changed = tf
        .bulk_set_status(&me, &[release.id, tests.id], "done")
        .await?;
    println!("marked {changed} tasks done");
    let done = tf.get_task(&me, release.id).await?;
    print_task(&done);

    step("Stats");
    let stats = tf.task_stats(&me, None).await?;
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

    step("Refresh the token pair (rotation)");
    let rotated = tf.refresh(&tokens.refresh_token).await?;
    let me = tf.authenticate(&rotated.access_token).await?;
    println!(
        "new pair issued; the new access token authenticates user {}",
        me.user_id
    );
    // Presenting the spent refresh token again would be treated as theft and end the
    // session, so this program does not; see `TaskFlow::refresh`.

    step("Log out");
    tf.logout(&me, Some(&rotated.refresh_token)).await?;
    match tf.authenticate(&rotated.access_token).await {
        Err(e) => println!(
            "after logout the access token is refused: {} ({e})",
            e.code()
        ),
        Ok(_) => return Err("the access token still works after logout".into()),
    }
    match tf.refresh(&rotated.refresh_token).await {
        Err(e) => println!(
            "after logout the refresh token is refused: {} ({e})",
            e.code()
        ),
        Ok(_) => return Err("the refresh token still works after logout".into()),
    }

    if let Some(metrics) = tf.cache_metrics() {
        step("Cache");
        println!("hits {}, misses {}", metrics.hits(), metrics.misses());
    }
    Ok(())
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
        "  [{:<11}] {:<6} {:<34} {due}{tags} (v{})",
        task.status.as_str(),
        task.priority.as_str(),
        task.title,
        task.version
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
