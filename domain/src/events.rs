//! The inbox of company webhook events: each stored durably before Fluid is answered, once per
//! (installation, event). Every query names its installation.

use std::collections::HashMap;

use fluid::company_events::CompanyEvent;
use serde::Serialize;

use crate::{Db, DbError, db::Backend};

/// Whether a delivery was new.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stored {
    New,
    /// Already in the inbox: a redelivery.
    Duplicate,
    /// Not stored: the key it was verified with is no longer its installation's (uninstalled,
    /// reinstalled or re-sealed since that key was read). Verify it again with a fresh key.
    KeyChanged,
}

/// A stored event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct StoredEvent {
    pub id: i64,
    pub name: Option<String>,
    pub dedupe_key: String,
    pub received_at: i64,
    pub payload: String,
}

/// A verified event of an installation, to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEvent {
    pub installation_uuid: String,
    pub event: CompanyEvent,
    /// The signed body, as received.
    pub payload: String,
    /// The installation's sealed `wvt_` (as stored) whose key verified the event: the event is
    /// stored only while the installation is active and still holds exactly that value, so a key
    /// kept in memory can never store an event its installation would no longer accept.
    pub verified_with: String,
}

/// Most events in one statement: six parameters each, well inside both engines' limits.
pub const MAX_BATCH: usize = 1_000;

/// Stores verified events received at `received_at` (Unix seconds), each unless already there,
/// and says, in their order, which were new. The same event twice in `events` is new once. An
/// event is stored only while its installation is active and still holds the sealed `wvt_` it was
/// verified with ([`NewEvent::verified_with`]), checked by the statement that stores it; one that
/// is not is [`Stored::KeyChanged`]. Each stored event counts in its installation's hour of
/// `webhook_activity` (a trigger, in the same statement).
///
/// The batch is one statement per [`MAX_BATCH`] events and nothing else (no transaction of its
/// own: each event stands alone), so a batch costs one round trip to the database; telling a
/// redelivery from a changed key costs a second, only when some event was not stored.
pub async fn store_all(db: &Db, events: &[NewEvent], received_at: i64) -> Result<Vec<Stored>, DbError> {
    let mut stored = vec![Stored::Duplicate; events.len()];
    // The first occurrence of each (installation, event) is inserted; the rest are duplicates.
    let mut firsts: HashMap<(&str, &str), usize> = HashMap::new();
    for (i, new) in events.iter().enumerate() {
        firsts
            .entry((new.installation_uuid.as_str(), new.event.dedupe_key.as_str()))
            .or_insert(i);
    }
    // In key order, so that writers inserting the same events at once (several instances, on
    // PostgreSQL) wait on each other in the same order instead of deadlocking.
    let mut rows: Vec<usize> = firsts.values().copied().collect();
    rows.sort_unstable_by_key(|&i| (&events[i].installation_uuid, &events[i].event.dedupe_key));
    // On PostgreSQL the installation's row is locked until the statement ends, so an uninstall or
    // reinstall commits either before (and the event is refused) or after it.
    let lock = match db.backend() {
        Backend::Postgres => " FOR SHARE",
        Backend::Sqlite => "",
    };
    let mut not_inserted: Vec<usize> = Vec::new();
    for chunk in rows.chunks(MAX_BATCH) {
        // Past the chunk, its last event again: a second copy in one statement conflicts with
        // the first, so it inserts, returns and counts nothing.
        let written = crate::db::padded(chunk, MAX_BATCH);
        let sql = format!(
            "INSERT INTO events (installation_uuid, dedupe_key, name, payload, received_at) \
             SELECT column1, column2, column3, column4, column5 FROM (VALUES {}) AS v \
             WHERE EXISTS (SELECT 1 FROM installations i WHERE i.uuid = v.column1 \
                 AND i.status = 'active' AND i.webhook_token_sealed = v.column6{lock}) \
             ON CONFLICT (installation_uuid, dedupe_key) DO NOTHING \
             RETURNING installation_uuid, dedupe_key",
            crate::db::placeholders(written.len(), 6)
        );
        let mut query = sqlx::query_as::<_, (String, String)>(&sql);
        for &i in &written {
            let new = &events[i];
            query = query
                .bind(new.installation_uuid.as_str())
                .bind(new.event.dedupe_key.as_str())
                .bind(new.event.name.as_deref())
                .bind(new.payload.as_str())
                .bind(received_at)
                .bind(new.verified_with.as_str());
        }
        for (uuid, dedupe_key) in query.fetch_all(db.pool()).await? {
            if let Some(&i) = firsts.get(&(uuid.as_str(), dedupe_key.as_str())) {
                stored[i] = Stored::New;
            }
        }
        not_inserted.extend(chunk.iter().filter(|&&i| stored[i] != Stored::New));
    }
    // Not stored: already there and verified with its installation's current key (a
    // redelivery), else refused for its key — a redelivery with an old key is refused too, so an
    // old key learns nothing, not even which events exist.
    for chunk in not_inserted.chunks(MAX_BATCH) {
        // Past the chunk, its last event again: found twice, told apart the same way.
        let written = crate::db::padded(chunk, MAX_BATCH);
        let sql = format!(
            "SELECT e.installation_uuid, e.dedupe_key FROM (VALUES {}) AS v \
             JOIN events e ON e.installation_uuid = v.column1 AND e.dedupe_key = v.column2 \
             JOIN installations i ON i.uuid = v.column1 \
                 AND i.status = 'active' AND i.webhook_token_sealed = v.column3",
            crate::db::placeholders(written.len(), 3)
        );
        let mut query = sqlx::query_as::<_, (String, String)>(&sql);
        for &i in &written {
            query = query
                .bind(events[i].installation_uuid.as_str())
                .bind(events[i].event.dedupe_key.as_str())
                .bind(events[i].verified_with.as_str());
        }
        for &i in chunk {
            stored[i] = Stored::KeyChanged;
        }
        for (uuid, dedupe_key) in query.fetch_all(db.pool()).await? {
            if let Some(&i) = firsts.get(&(uuid.as_str(), dedupe_key.as_str())) {
                stored[i] = Stored::Duplicate;
            }
        }
    }
    // A second copy of an event in the batch shares its first copy's fate: a duplicate of one
    // stored now or before, refused with it otherwise (never a 2xx for an event not stored). One
    // verified with another key than its first copy is sent back to be verified again.
    for (i, new) in events.iter().enumerate() {
        let first = firsts[&(new.installation_uuid.as_str(), new.event.dedupe_key.as_str())];
        if first != i {
            stored[i] = match stored[first] {
                Stored::KeyChanged => Stored::KeyChanged,
                _ if new.verified_with != events[first].verified_with => Stored::KeyChanged,
                Stored::New | Stored::Duplicate => Stored::Duplicate,
            };
        }
    }
    Ok(stored)
}

/// One page of the installation's events, newest first: `limit` events after skipping `offset`.
pub async fn page(db: &Db, uuid: &str, limit: i64, offset: i64) -> Result<Vec<StoredEvent>, DbError> {
    Ok(sqlx::query_as(
        "SELECT id, name, dedupe_key, received_at, payload FROM events \
         WHERE installation_uuid = $1 ORDER BY received_at DESC, id DESC LIMIT $2 OFFSET $3",
    )
    .bind(uuid)
    .bind(limit)
    .bind(offset)
    .fetch_all(db.pool())
    .await?)
}

/// Event `id` of installation `uuid`; another installation's event is `None`, as is a missing one.
pub async fn find(db: &Db, uuid: &str, id: i64) -> Result<Option<StoredEvent>, DbError> {
    Ok(sqlx::query_as(
        "SELECT id, name, dedupe_key, received_at, payload FROM events \
         WHERE installation_uuid = $1 AND id = $2",
    )
    .bind(uuid)
    .bind(id)
    .fetch_optional(db.pool())
    .await?)
}

/// When each of the installation's events since `since` (Unix seconds) was received.
pub async fn received_since(db: &Db, uuid: &str, since: i64) -> Result<Vec<i64>, DbError> {
    let rows: Vec<(i64,)> =
        sqlx::query_as("SELECT received_at FROM events WHERE installation_uuid = $1 AND received_at >= $2")
            .bind(uuid)
            .bind(since)
            .fetch_all(db.pool())
            .await?;
    Ok(rows.into_iter().map(|(at,)| at).collect())
}

/// How many events installation `uuid` has stored.
pub async fn count(db: &Db, uuid: &str) -> Result<i64, DbError> {
    let (count,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM events WHERE installation_uuid = $1")
        .bind(uuid)
        .fetch_one(db.pool())
        .await?;
    Ok(count)
}

/// Deletes events received before `cutoff` (Unix seconds), every installation's; returns how many.
pub async fn prune(db: &Db, cutoff: i64) -> Result<u64, DbError> {
    let done = sqlx::query("DELETE FROM events WHERE received_at < $1")
        .bind(cutoff)
        .execute(db.pool())
        .await?;
    Ok(done.rows_affected())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{testing::SEALED_WVT, time};

    fn event_of(uuid: &str, key: &str, verified_with: &str) -> NewEvent {
        NewEvent {
            installation_uuid: uuid.into(),
            event: CompanyEvent {
                dedupe_key: key.into(),
                name: None,
            },
            payload: "{}".into(),
            verified_with: verified_with.into(),
        }
    }

    #[tokio::test]
    async fn an_event_verified_with_a_key_its_installation_no_longer_holds_is_not_stored() {
        let (_dir, db) = crate::testing::db_with_installation().await;
        sqlx::query("INSERT INTO installations (uuid, status, generation, webhook_token_sealed, created_at, updated_at) VALUES ('dri_b', 'active', 1, 'sealed-b', 0, 0)")
            .execute(db.pool())
            .await
            .unwrap();
        // dri_a was reinstalled (a new sealed wvt_) after its key was read; dri_b's is current.
        let stored = store_all(
            &db,
            &[
                event_of("dri_a", "1", "an-older-seal"),
                event_of("dri_b", "1", "sealed-b"),
                event_of("dri_a", "2", SEALED_WVT),
            ],
            time::now(),
        )
        .await
        .unwrap();
        use Stored::{Duplicate, KeyChanged, New};
        assert_eq!(stored, [KeyChanged, New, New]);
        assert_eq!(count(&db, "dri_a").await.unwrap(), 1);
        assert_eq!(count(&db, "dri_b").await.unwrap(), 1);
        let day = crate::activity::last_day(&db, "dri_a", time::now())
            .await
            .unwrap();
        assert_eq!(day.iter().map(|h| h.webhooks).sum::<u32>(), 1);
        // A redelivery is a duplicate only with the current key: an old one learns nothing.
        let again = store_all(
            &db,
            &[
                event_of("dri_a", "2", SEALED_WVT),
                event_of("dri_a", "2", "an-older-seal"),
            ],
            time::now(),
        )
        .await
        .unwrap();
        assert_eq!(again, [Duplicate, KeyChanged]);
        // Two copies of one event in a batch, the first refused: neither is acknowledged.
        let twice = store_all(
            &db,
            &[
                event_of("dri_a", "9", "an-older-seal"),
                event_of("dri_a", "9", SEALED_WVT),
            ],
            time::now(),
        )
        .await
        .unwrap();
        assert_eq!(twice, [KeyChanged, KeyChanged]);
        assert_eq!(count(&db, "dri_a").await.unwrap(), 1);

        // Uninstalled: even the key it held last stores nothing.
        sqlx::query("UPDATE installations SET status = 'uninstalled' WHERE uuid = 'dri_b'")
            .execute(db.pool())
            .await
            .unwrap();
        let stored = store_all(&db, &[event_of("dri_b", "2", "sealed-b")], time::now())
            .await
            .unwrap();
        assert_eq!(stored, [KeyChanged]);
        assert_eq!(count(&db, "dri_b").await.unwrap(), 1);
        let stored = store_all(&db, &[event_of("dri_a", "3", SEALED_WVT)], time::now())
            .await
            .unwrap();
        assert_eq!(stored, [New]);
    }

    #[tokio::test]
    async fn a_batch_written_with_repeated_rows_stores_and_counts_each_event_once() {
        let (_dir, db) = crate::testing::db_with_installation().await;
        // Five events are written as six rows, the fifth twice.
        assert_eq!(crate::db::statement_rows(5, MAX_BATCH), 6);
        let events: Vec<NewEvent> = (1..=5)
            .map(|key| event_of("dri_a", &key.to_string(), SEALED_WVT))
            .collect();
        use Stored::{Duplicate, KeyChanged, New};
        assert_eq!(store_all(&db, &events, time::now()).await.unwrap(), [New; 5]);
        // Again, the last with an old key: told apart in a statement of six rows too.
        let mut again = events.clone();
        again[4].verified_with = "an-older-seal".into();
        assert_eq!(
            store_all(&db, &again, time::now()).await.unwrap(),
            [Duplicate, Duplicate, Duplicate, Duplicate, KeyChanged]
        );
        assert_eq!(count(&db, "dri_a").await.unwrap(), 5);
        let day = crate::activity::last_day(&db, "dri_a", time::now())
            .await
            .unwrap();
        assert_eq!(day.iter().map(|h| h.webhooks).sum::<u32>(), 5);
    }

    #[tokio::test]
    async fn pruning_removes_only_events_older_than_the_cutoff() {
        let (_dir, db) = crate::testing::db_with_installation().await;
        for (key, received_at) in [("old", 100), ("new", time::now())] {
            sqlx::query("INSERT INTO events (installation_uuid, dedupe_key, payload, received_at) VALUES ('dri_a', $1, '{}', $2)")
                .bind(key)
                .bind(received_at)
                .execute(db.pool())
                .await
                .unwrap();
        }
        assert_eq!(prune(&db, time::now() - 30 * 86_400).await.unwrap(), 1);
        let left: Vec<String> = page(&db, "dri_a", 10, 0)
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.dedupe_key)
            .collect();
        assert_eq!(left, ["new"]);
    }

    #[tokio::test]
    async fn a_batch_stores_each_event_once_and_says_which_were_new() {
        let (_dir, db) = crate::testing::db_with_installation().await;
        sqlx::query("INSERT INTO installations (uuid, status, generation, webhook_token_sealed, created_at, updated_at) VALUES ('dri_b', 'active', 1, $1, 0, 0)")
            .bind(SEALED_WVT)
            .execute(db.pool())
            .await
            .unwrap();
        let new = |uuid: &str, key: &str| NewEvent {
            installation_uuid: uuid.into(),
            event: CompanyEvent {
                dedupe_key: key.into(),
                name: Some("order.created".into()),
            },
            payload: format!("{{\"id\": \"{key}\"}}"),
            verified_with: SEALED_WVT.into(),
        };
        assert_eq!(
            store_all(&db, &[new("dri_a", "1")], time::now()).await.unwrap(),
            [Stored::New]
        );
        let stored = store_all(
            &db,
            &[
                new("dri_a", "1"), // stored before
                new("dri_a", "2"),
                new("dri_b", "2"), // another installation's event 2
                new("dri_a", "2"), // twice in one batch
                new("dri_a", "3"),
            ],
            time::now(),
        )
        .await
        .unwrap();
        use Stored::{Duplicate, New};
        assert_eq!(stored, [Duplicate, New, New, Duplicate, New]);
        assert_eq!(count(&db, "dri_a").await.unwrap(), 3);
        assert_eq!(count(&db, "dri_b").await.unwrap(), 1);
        assert_eq!(store_all(&db, &[], time::now()).await.unwrap(), []);
        // Counted in the hour as stored: redeliveries are not.
        let day = crate::activity::last_day(&db, "dri_a", time::now())
            .await
            .unwrap();
        assert_eq!(day.iter().map(|h| h.webhooks).sum::<u32>(), 3);
    }
}
