//! Who is calling back: for each callback request, its installation's status and settings
//! version and the sealed `cvt_` of the definition called — read from the database after the
//! request arrived, every time, so that an uninstall, a reinstall or a new registration made by
//! any instance or command is seen by the very next request. Never a kept key.
//!
//! What makes that cheap under load is that the reads are shared: one task reads for every
//! request waiting at that moment in one query (like the event inbox's group commit). Under light
//! load a read serves one request, so latency is that of one read; under load one read serves
//! many (a request arriving during a read waits for it, then for the next), and the hand-off to
//! the database per request is gone.

use std::collections::{HashMap, HashSet};

use fluid::Secret;
use tokio::sync::{mpsc, oneshot};

use crate::{
    Db, DbError, Keyring, SealContext,
    installations::{self, Access, Denied, Status},
    registrations,
};

/// Requests waiting at most; past this, a request waits for room.
const CAPACITY: usize = 4_096;
/// Most installations read in one query.
const BATCH: usize = 256;

/// An installation's row as a callback needs it.
#[derive(Debug, Clone)]
struct Row {
    status: Status,
    settings_version: i64,
    /// Sealed `cvt_` per registered definition.
    callbacks: HashMap<String, String>,
}

/// What a request gets back from the shared read: the row (`None`: no such installation), or
/// `Err` when the read failed (the request then reads alone, for an error of its own).
type Reply = oneshot::Sender<Result<Option<Row>, ()>>;

/// The verified caller of a callback: its settings version and the key that verifies it.
#[derive(Debug)]
pub struct Caller {
    /// Which shipping settings answer it (the cache's key).
    pub settings_version: i64,
    /// The definition's `cvt_`, opened.
    pub key: Secret,
}

/// Hands reads to the reader task. Cheap to clone; the task ends when every handle is dropped.
#[derive(Debug, Clone)]
pub struct Callers {
    sender: mpsc::Sender<(String, Reply)>,
}

impl Callers {
    /// Starts the reader task (on the current tokio runtime).
    pub fn start(db: Db) -> Self {
        let (sender, receiver) = mpsc::channel(CAPACITY);
        tokio::spawn(read_batches(db, receiver));
        Self { sender }
    }

    /// Installation `uuid`'s settings version and the `cvt_` that verifies its `definition`
    /// callbacks, as the database holds them now (read with the requests waiting alongside), or
    /// why it may not be called.
    pub async fn caller(
        &self,
        db: &Db,
        keyring: &Keyring,
        uuid: &str,
        definition: &str,
    ) -> Result<Access<Caller>, DbError> {
        let (reply, answer) = oneshot::channel();
        let shared = match self.sender.send((uuid.to_owned(), reply)).await {
            Ok(()) => answer.await.unwrap_or(Err(())),
            Err(_) => Err(()),
        };
        match shared {
            Ok(row) => decide(keyring, uuid, definition, row),
            // The shared read failed (or the task is gone): this request reads alone.
            Err(()) => caller_now(db, keyring, uuid, definition).await,
        }
    }
}

/// [`Callers::caller`] read alone.
pub async fn caller_now(
    db: &Db,
    keyring: &Keyring,
    uuid: &str,
    definition: &str,
) -> Result<Access<Caller>, DbError> {
    let row = read(db, &[uuid]).await?.remove(uuid);
    decide(keyring, uuid, definition, row)
}

/// The `cvt_` that verifies installation `uuid`'s `definition` callbacks, when it may be called.
pub async fn callback_token(
    db: &Db,
    keyring: &Keyring,
    uuid: &str,
    definition: &str,
) -> Result<Option<Secret>, DbError> {
    Ok(caller_now(db, keyring, uuid, definition)
        .await?
        .ok()
        .map(|caller| caller.key))
}

/// What installation `uuid`'s row (`None`: there is none) lets a `definition` callback do. A
/// `cvt_` no configured key opens is an error, never "not registered".
fn decide(
    keyring: &Keyring,
    uuid: &str,
    definition: &str,
    row: Option<Row>,
) -> Result<Access<Caller>, DbError> {
    let Some(row) = row else {
        return Ok(Err(Denied::Unknown(uuid.to_owned())));
    };
    if let Err(denied) = installations::require_active(uuid, row.status) {
        return Ok(Err(denied));
    }
    let Some(sealed) = row.callbacks.get(definition) else {
        return Ok(Err(Denied::NotRegistered(uuid.to_owned(), definition.to_owned())));
    };
    let key = keyring.open(
        sealed,
        SealContext::CallbackToken {
            installation: uuid,
            definition,
        },
    )?;
    Ok(Ok(Caller {
        settings_version: row.settings_version,
        key,
    }))
}

async fn read_batches(db: Db, mut receiver: mpsc::Receiver<(String, Reply)>) {
    let mut batch = Vec::with_capacity(BATCH);
    while receiver.recv_many(&mut batch, BATCH).await > 0 {
        let uuids: HashSet<&str> = batch.iter().map(|(uuid, _)| uuid.as_str()).collect();
        let uuids: Vec<&str> = uuids.into_iter().collect();
        match read(&db, &uuids).await {
            Ok(rows) => {
                for (uuid, reply) in batch.drain(..) {
                    // The request may be gone (timed out): nothing to answer.
                    let _ = reply.send(Ok(rows.get(&uuid).cloned()));
                }
            }
            Err(error) => {
                tracing::warn!(%error, requests = batch.len(), "a shared read of callback callers failed; each reads alone");
                for (_, reply) in batch.drain(..) {
                    let _ = reply.send(Err(()));
                }
            }
        }
    }
}

/// The rows of installations `uuids` (each named in the query), with their registered callbacks.
async fn read(db: &Db, uuids: &[&str]) -> Result<HashMap<String, Row>, DbError> {
    // Past the installations asked for, the last again (one of a few statement sizes; naming an
    // installation twice in `IN` reads it once).
    let uuids = crate::db::padded(uuids, BATCH);
    let sql = format!(
        "SELECT i.uuid, i.status, i.settings_version, r.definition_name, r.verification_token_sealed \
         FROM installations i LEFT JOIN callback_registrations r \
         ON r.installation_uuid = i.uuid AND r.status = ${} \
         WHERE i.uuid IN {}",
        uuids.len() + 1,
        crate::db::placeholders(1, uuids.len())
    );
    let mut query = sqlx::query_as::<_, (String, String, i64, Option<String>, Option<String>)>(&sql);
    for uuid in &uuids {
        query = query.bind(*uuid);
    }
    let query = query.bind(registrations::RegistrationStatus::Registered.as_str());
    let mut rows: HashMap<String, Row> = HashMap::new();
    for (uuid, status, settings_version, definition, sealed) in query.fetch_all(db.pool()).await? {
        let row = match rows.entry(uuid) {
            std::collections::hash_map::Entry::Occupied(row) => row.into_mut(),
            std::collections::hash_map::Entry::Vacant(slot) => slot.insert(Row {
                status: Status::parse(&status)?,
                settings_version,
                callbacks: HashMap::new(),
            }),
        };
        if let (Some(definition), Some(sealed)) = (definition, sealed) {
            row.callbacks.insert(definition, sealed);
        }
    }
    Ok(rows)
}
