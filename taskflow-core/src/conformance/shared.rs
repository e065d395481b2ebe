//! Scenarios: shared state, the versioned records with an expiry that every instance over
//! a store agrees on (the login throttle keeps its budgets in them).

use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};

use super::{concurrently, start_time};
use crate::{SharedRecord, Store};

/// `start_time()` plus `seconds`.
fn at(seconds: i64) -> DateTime<Utc> {
    start_time() + TimeDelta::seconds(seconds)
}

fn record(value: &str, version: u64, expires_at: DateTime<Utc>) -> Option<SharedRecord> {
    Some(SharedRecord {
        value: value.to_owned(),
        version,
        expires_at,
    })
}

/// A record is written only under its condition: `None` creates it where there is none,
/// its current version replaces it, and any other version, or `None` over a live record,
/// writes nothing. Versions start at 1 and go up by one per write, values come back
/// literally (quotes, Unicode, 16 KB), and keys are independent.
pub async fn shared_records_are_versioned(store: Arc<dyn Store>) {
    let now = at(0);
    assert_eq!(store.get_shared("k", now).await.unwrap(), None);
    // No record: only `None` writes.
    assert_eq!(
        store
            .put_shared("k", "zero", Some(1), at(60), now)
            .await
            .unwrap(),
        None
    );
    assert_eq!(store.get_shared("k", now).await.unwrap(), None);
    assert_eq!(
        store
            .put_shared("k", "one", None, at(60), now)
            .await
            .unwrap(),
        Some(1)
    );
    assert_eq!(
        store.get_shared("k", now).await.unwrap(),
        record("one", 1, at(60))
    );
    // A live record: `None` and every version but the current one write nothing.
    for expected in [None, Some(0), Some(2)] {
        assert_eq!(
            store
                .put_shared("k", "other", expected, at(90), now)
                .await
                .unwrap(),
            None,
            "{expected:?}"
        );
    }
    assert_eq!(
        store
            .put_shared("k", "two", Some(1), at(120), now)
            .await
            .unwrap(),
        Some(2)
    );
    assert_eq!(
        store.get_shared("k", now).await.unwrap(),
        record("two", 2, at(120))
    );
    // The version read once is spent.
    assert_eq!(
        store
            .put_shared("k", "stale", Some(1), at(120), now)
            .await
            .unwrap(),
        None
    );
    // Another key has its own record and versions.
    assert_eq!(
        store
            .put_shared("k:2", "first", None, at(30), now)
            .await
            .unwrap(),
        Some(1)
    );
    assert_eq!(
        store.get_shared("k", now).await.unwrap(),
        record("two", 2, at(120))
    );
    let text = format!(
        "{{\"pairs\":[[\"ab\",[1,2]]]}} 'quoted' \"double\" ; DROP TABLE shared_state; -- \
         é 👩‍💻 \\ % _ \n{}",
        "x".repeat(16 * 1024)
    );
    assert_eq!(
        store
            .put_shared("k", &text, Some(2), at(120), now)
            .await
            .unwrap(),
        Some(3)
    );
    assert_eq!(
        store.get_shared("k", now).await.unwrap(),
        record(&text, 3, at(120))
    );
    assert_eq!(
        store.get_shared("k:2", now).await.unwrap(),
        record("first", 1, at(30))
    );
}

/// Of concurrent writers with the same condition exactly one wins, and the record holds
/// its value: creating a record (`None`), replacing a version, and replacing an expired
/// record (`None` again).
pub async fn concurrent_shared_puts_let_exactly_one_win(store: Arc<dyn Store>) {
    // (round, expected version, now, expiry written, version of the winner)
    let rounds = [
        ("create", None, at(0), at(10), Some(1)),
        ("replace", Some(1), at(0), at(10), Some(2)),
        // At 10 s the record has expired.
        ("renew", None, at(10), at(20), Some(3)),
    ];
    for (round, expected, now, expires_at, won) in rounds {
        let results = concurrently(8, |i| {
            let store = Arc::clone(&store);
            async move {
                store
                    .put_shared("race", &format!("{round} {i}"), expected, expires_at, now)
                    .await
                    .unwrap()
            }
        })
        .await;
        let winners: Vec<usize> = (0..results.len())
            .filter(|&i| results[i].is_some())
            .collect();
        assert_eq!(winners.len(), 1, "{round}: {results:?}");
        assert_eq!(results[winners[0]], won, "{round}");
        let stored = store.get_shared("race", now).await.unwrap();
        assert_eq!(
            stored.map(|r| r.value),
            Some(format!("{round} {}", winners[0]))
        );
    }
}

/// A record counts as absent from its expiry on: reads at or after it miss it, a write
/// expecting its version writes nothing, and a write with `None` replaces it, one version
/// up; until then it is live.
pub async fn expired_shared_records_are_absent_and_replaceable(store: Arc<dyn Store>) {
    assert_eq!(
        store
            .put_shared("lease", "held", None, at(10), at(0))
            .await
            .unwrap(),
        Some(1)
    );
    let just_before = at(10) - TimeDelta::milliseconds(1);
    assert_eq!(
        store.get_shared("lease", just_before).await.unwrap(),
        record("held", 1, at(10))
    );
    // Still live: `None` does not replace it.
    assert_eq!(
        store
            .put_shared("lease", "taken", None, at(20), just_before)
            .await
            .unwrap(),
        None
    );
    assert_eq!(store.get_shared("lease", at(10)).await.unwrap(), None);
    assert_eq!(store.get_shared("lease", at(3600)).await.unwrap(), None);
    assert_eq!(
        store
            .put_shared("lease", "late", Some(1), at(20), at(10))
            .await
            .unwrap(),
        None
    );
    // The refused write wrote nothing.
    assert_eq!(
        store.get_shared("lease", at(0)).await.unwrap(),
        record("held", 1, at(10))
    );
    assert_eq!(
        store
            .put_shared("lease", "renewed", None, at(20), at(10))
            .await
            .unwrap(),
        Some(2)
    );
    assert_eq!(
        store.get_shared("lease", at(10)).await.unwrap(),
        record("renewed", 2, at(20))
    );
    assert_eq!(
        store
            .put_shared("lease", "extended", Some(2), at(30), at(15))
            .await
            .unwrap(),
        Some(3)
    );
    assert_eq!(
        store.get_shared("lease", at(25)).await.unwrap(),
        record("extended", 3, at(30))
    );
}

/// Purging deletes exactly the records that expired at or before the time given and
/// counts them; live records stay readable, a second purge finds nothing, and a purged key
/// starts again at version 1.
pub async fn expired_shared_records_are_purged(store: Arc<dyn Store>) {
    assert_eq!(store.purge_shared(at(0)).await.unwrap(), 0);
    for (key, expires) in [("a", 5), ("b", 10), ("c", 20)] {
        assert_eq!(
            store
                .put_shared(key, key, None, at(expires), at(0))
                .await
                .unwrap(),
            Some(1)
        );
    }
    assert_eq!(store.purge_shared(at(10)).await.unwrap(), 2);
    assert_eq!(store.purge_shared(at(10)).await.unwrap(), 0);
    assert_eq!(
        store.get_shared("c", at(10)).await.unwrap(),
        record("c", 1, at(20))
    );
    // Gone, even for a reader whose clock is behind.
    assert_eq!(store.get_shared("a", at(0)).await.unwrap(), None);
    assert_eq!(store.get_shared("b", at(0)).await.unwrap(), None);
    assert_eq!(
        store
            .put_shared("b", "again", None, at(30), at(0))
            .await
            .unwrap(),
        Some(1)
    );
    assert_eq!(store.purge_shared(at(3600)).await.unwrap(), 2);
    assert_eq!(store.get_shared("c", at(0)).await.unwrap(), None);
}
