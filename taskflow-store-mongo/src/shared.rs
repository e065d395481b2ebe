//! [`SharedState`] on MongoDB: one document per key in `shared_state`,
//! `{_id: key, value, version, expires_ms}`, written whole (nx-27017 mangles the types of
//! `$set` fields) by single-document conditional operations.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use mongodb::bson::{Document, doc};
use taskflow_core::{Error, Result, SharedRecord, SharedState};

use crate::MongoStore;
use crate::error::is_duplicate_key;

/// Rounds of "insert, else take over the expired record" before giving up: each round
/// loses only to another writer that won, so more than a few mean heavy contention.
const TAKEOVER_ROUNDS: usize = 8;

fn record(d: &Document) -> Result<SharedRecord> {
    let corrupt = |what: &str| Error::internal(format!("shared_state: {what}"));
    let value = d.get_str("value").map_err(|_| corrupt("value"))?.to_owned();
    // Servers hand small integers back as Int32 (nx-27017 does): accept either.
    let version = crate::docs::int_of(d, "version")?;
    let expires_ms = crate::docs::int_of(d, "expires_ms")?;
    Ok(SharedRecord {
        value,
        version: u64::try_from(version).map_err(|_| corrupt("negative version"))?,
        expires_at: DateTime::from_timestamp_millis(expires_ms)
            .ok_or_else(|| corrupt("expiry out of range"))?,
    })
}

fn shared_doc(key: &str, value: &str, version: u64, expires_at: DateTime<Utc>) -> Document {
    doc! {
        "_id": key,
        "value": value,
        "version": i64::try_from(version).unwrap_or(i64::MAX),
        "expires_ms": expires_at.timestamp_millis(),
    }
}

#[async_trait]
impl SharedState for MongoStore {
    async fn get_shared(&self, key: &str, now: DateTime<Utc>) -> Result<Option<SharedRecord>> {
        let filter = doc! { "_id": key, "expires_ms": { "$gt": now.timestamp_millis() } };
        let found = self.timed(self.shared.find_one(filter)).await?;
        found.as_ref().map(record).transpose()
    }

    async fn put_shared(
        &self,
        key: &str,
        value: &str,
        expected: Option<u64>,
        expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Option<u64>> {
        let now_ms = now.timestamp_millis();
        if let Some(v) = expected {
            let filter = doc! {
                "_id": key,
                "version": i64::try_from(v).unwrap_or(i64::MAX),
                "expires_ms": { "$gt": now_ms },
            };
            let next = v + 1;
            let replaced = self
                .timed(
                    self.shared
                        .find_one_and_replace(filter, shared_doc(key, value, next, expires_at)),
                )
                .await?;
            return Ok(replaced.map(|_| next));
        }
        for _ in 0..TAKEOVER_ROUNDS {
            let fresh = shared_doc(key, value, 1, expires_at);
            match self.within_timeout(self.shared.insert_one(fresh)).await? {
                Ok(_) => return Ok(Some(1)),
                Err(e) if is_duplicate_key(&e) => {}
                Err(e) => return Err(crate::error::db(e)),
            }
            // A record is stored: only an expired one may be taken over, by the one writer
            // whose replace still finds the version it read.
            let Some(stored) = self
                .timed(self.shared.find_one(doc! { "_id": key }))
                .await?
            else {
                continue; // purged in between: insert again
            };
            let stored = record(&stored)?;
            if stored.expires_at.timestamp_millis() > now_ms {
                return Ok(None);
            }
            let filter = doc! {
                "_id": key,
                "version": i64::try_from(stored.version).unwrap_or(i64::MAX),
                "expires_ms": { "$lte": now_ms },
            };
            let next = stored.version + 1;
            let replaced = self
                .timed(
                    self.shared
                        .find_one_and_replace(filter, shared_doc(key, value, next, expires_at)),
                )
                .await?;
            return Ok(replaced.map(|_| next));
        }
        Err(Error::unavailable(
            "shared_state: the record kept changing under the write; retry",
        ))
    }

    async fn purge_shared(&self, now: DateTime<Utc>) -> Result<u64> {
        let filter = doc! { "expires_ms": { "$lte": now.timestamp_millis() } };
        let deleted = self.timed(self.shared.delete_many(filter)).await?;
        Ok(deleted.deleted_count)
    }
}
