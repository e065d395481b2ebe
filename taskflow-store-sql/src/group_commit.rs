//! Group commit: concurrent single-task inserts share one transaction.
//!
//! SQLite has one writer, so concurrent creates queue behind each other and each pays a
//! whole transaction (the WAL frames of every page it touches: table, indexes, full-text
//! index). Here each caller queues its task; whoever holds the leader lock writes every
//! queued task in one transaction and hands each caller its result. Callers that arrive
//! while a batch is being written form the next batch.
//!
//! Cancellation-safe: a cancelled leader drops its batch's result senders, and each
//! follower then queues its task again. If the cancelled transaction had in fact committed,
//! the retry finds the task's id taken: ids are UUIDv7s minted by core for one create, so
//! that conflict means the earlier attempt succeeded.

use std::future::Future;
use std::sync::Mutex;

use taskflow_core::{Error, Result, Task};
use tokio::sync::oneshot;

struct Pending {
    task: Task,
    retry: bool,
    done: oneshot::Sender<Result<()>>,
}

/// The queue and the leader lock of one store.
#[derive(Default)]
pub(crate) struct GroupCommit {
    pending: Mutex<Vec<Pending>>,
    leader: tokio::sync::Mutex<()>,
}

impl GroupCommit {
    /// Inserts `task` with others queued at the same time; `write` inserts a batch in one
    /// transaction.
    pub(crate) async fn insert<W, F>(&self, task: &Task, write: W) -> Result<()>
    where
        W: Fn(Vec<Task>) -> F,
        F: Future<Output = Result<()>>,
    {
        let mut retry = false;
        loop {
            let (tx, mut rx) = oneshot::channel();
            self.queue(Pending {
                task: task.clone(),
                retry,
                done: tx,
            });
            let outcome = loop {
                tokio::select! {
                    biased;
                    result = &mut rx => break result,
                    guard = self.leader.lock() => {
                        // A previous leader sends every result before unlocking, so if ours
                        // is not ready, our task is still queued and this batch takes it.
                        let batch = std::mem::take(&mut *self.lock_pending());
                        if !batch.is_empty() {
                            Self::write_batch(batch, &write).await;
                        }
                        drop(guard);
                    }
                }
            };
            match outcome {
                Ok(result) => return result,
                // The leader holding our task was cancelled: queue it again.
                Err(_) => retry = true,
            }
        }
    }

    fn lock_pending(&self) -> std::sync::MutexGuard<'_, Vec<Pending>> {
        self.pending.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn queue(&self, pending: Pending) {
        self.lock_pending().push(pending);
    }

    async fn write_batch<W, F>(batch: Vec<Pending>, write: &W)
    where
        W: Fn(Vec<Task>) -> F,
        F: Future<Output = Result<()>>,
    {
        let tasks: Vec<Task> = batch.iter().map(|p| p.task.clone()).collect();
        if batch.len() == 1 || write(tasks).await.is_err() {
            // One failing task (a duplicate id) must not fail the others: write each alone.
            for p in batch {
                let result = write(vec![p.task.clone()]).await;
                let result = match result {
                    Err(Error::Conflict(_)) if p.retry => Ok(()),
                    other => other,
                };
                let _ = p.done.send(result);
            }
            return;
        }
        for p in batch {
            let _ = p.done.send(Ok(()));
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::Mutex as StdMutex;
    use std::time::Duration;

    use chrono::Utc;
    use taskflow_core::{Priority, Status, TaskId, UserId};

    use super::*;

    fn task(title: &str) -> Task {
        let now = Utc::now();
        Task {
            id: TaskId::new(),
            owner_id: UserId::new(),
            title: title.into(),
            description: None,
            status: Status::Todo,
            priority: Priority::Medium,
            due_date: None,
            tags: vec![],
            created_at: now,
            updated_at: now,
            completed_at: None,
            version: 1,
        }
    }

    /// A fake table: batches written (each a list of titles); "bad" fails its batch.
    #[derive(Default, Clone)]
    struct Table(Arc<StdMutex<Vec<Vec<String>>>>);

    impl Table {
        async fn write(&self, batch: Vec<Task>, delay: Duration) -> Result<()> {
            tokio::time::sleep(delay).await;
            if batch.iter().any(|t| t.title == "bad") {
                return Err(crate::error::duplicate_task_id());
            }
            self.0
                .lock()
                .unwrap()
                .push(batch.into_iter().map(|t| t.title).collect());
            Ok(())
        }

        fn titles(&self) -> Vec<String> {
            let mut all: Vec<String> = self.0.lock().unwrap().iter().flatten().cloned().collect();
            all.sort();
            all
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_inserts_share_transactions() {
        let gc = Arc::new(GroupCommit::default());
        let table = Table::default();
        let handles: Vec<_> = (0..50)
            .map(|i| {
                let (gc, table) = (gc.clone(), table.clone());
                tokio::spawn(async move {
                    gc.insert(&task(&format!("t{i:02}")), |b| {
                        let table = table.clone();
                        async move { table.write(b, Duration::from_millis(5)).await }
                    })
                    .await
                })
            })
            .collect();
        for h in handles {
            h.await.unwrap().unwrap();
        }
        let expected: Vec<String> = (0..50).map(|i| format!("t{i:02}")).collect();
        assert_eq!(table.titles(), expected, "every task written exactly once");
        let batches = table.0.lock().unwrap().len();
        assert!(
            batches < 25,
            "{batches} transactions for 50 concurrent inserts"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn one_failing_task_does_not_fail_its_batch() {
        let gc = Arc::new(GroupCommit::default());
        let table = Table::default();
        let handles: Vec<_> = ["a", "bad", "b", "c"]
            .into_iter()
            .map(|title| {
                let (gc, table) = (gc.clone(), table.clone());
                tokio::spawn(async move {
                    let r = gc
                        .insert(&task(title), |b| {
                            let table = table.clone();
                            async move { table.write(b, Duration::from_millis(5)).await }
                        })
                        .await;
                    (title, r.is_ok())
                })
            })
            .collect();
        for h in handles {
            let (title, ok) = h.await.unwrap();
            assert_eq!(ok, title != "bad", "{title}");
        }
        assert_eq!(table.titles(), vec!["a", "b", "c"]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_cancelled_leader_does_not_lose_the_others() {
        let gc = Arc::new(GroupCommit::default());
        let table = Table::default();
        let slow = |gc: Arc<GroupCommit>, table: Table, title: &'static str| {
            tokio::spawn(async move {
                gc.insert(&task(title), |b| {
                    let table = table.clone();
                    async move { table.write(b, Duration::from_millis(100)).await }
                })
                .await
            })
        };
        // The first caller leads the first batch alone; the others queue behind it and
        // form the second batch, whose leader is then cancelled mid-write.
        let first = slow(gc.clone(), table.clone(), "first");
        tokio::time::sleep(Duration::from_millis(20)).await;
        let second = slow(gc.clone(), table.clone(), "second");
        tokio::time::sleep(Duration::from_millis(10)).await;
        let others: Vec<_> = ["x", "y", "z"]
            .into_iter()
            .map(|t| slow(gc.clone(), table.clone(), t))
            .collect();
        first.await.unwrap().unwrap();
        tokio::time::sleep(Duration::from_millis(30)).await;
        second.abort();
        for o in others {
            o.await.unwrap().unwrap();
        }
        let titles = table.titles();
        for t in ["first", "x", "y", "z"] {
            assert!(titles.contains(&t.to_owned()), "{t} in {titles:?}");
        }
        assert_eq!(
            titles.len(),
            titles
                .iter()
                .collect::<std::collections::HashSet<_>>()
                .len()
        );
    }
}
