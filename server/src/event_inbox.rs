//! Company events are stored by one writer task with group commit: each request hands its event
//! over and waits for the commit that holds it; the writer stores whatever has queued meanwhile in
//! one statement. Nothing waits to gather a batch — under light load a batch is one event — so
//! latency stays that of one insert, while under load one commit carries many events. On SQLite,
//! whose single writer made one commit per event the ingest's ceiling, this is most of the cost.
//!
//! The writer commits holding the [`LogGate`] shared: on SQLite, a checkpoint's last pass holds it
//! alone for a few milliseconds (see `wal_checkpoints`).
//!
//! The 2xx is still sent only once the event is committed. If the database refuses a batch, its
//! events are tried one by one, so that one bad event does not fail the others; if it cannot be
//! reached, the whole batch is answered 503.

use std::sync::Arc;

use domain::{
    Db, DbError,
    events::{self, NewEvent, Stored},
};
use tokio::{
    sync::{mpsc, oneshot},
    task::JoinHandle,
};

use crate::wal_checkpoints::LogGate;

/// Events queued at most; past this, requests wait for room.
const CAPACITY: usize = 4_096;
/// Most events committed together.
const BATCH: usize = 256;

type Reply = oneshot::Sender<Result<Stored, Arc<DbError>>>;

/// Hands events to the writer task. Cheap to clone.
#[derive(Debug, Clone)]
pub struct EventInbox {
    sender: mpsc::Sender<(NewEvent, Reply)>,
}

/// Why an event was not stored.
#[derive(Debug, thiserror::Error)]
pub enum InboxError {
    #[error("{0}")]
    Database(Arc<DbError>),
    /// The writer task is gone: the service is shutting down.
    #[error("the event writer has stopped")]
    Stopped,
}

impl EventInbox {
    /// Starts the writer; it ends once every inbox is dropped and the queue is written.
    pub fn start(db: Db, gate: LogGate) -> (Self, JoinHandle<()>) {
        let (sender, receiver) = mpsc::channel(CAPACITY);
        (Self { sender }, tokio::spawn(write(db, gate, receiver)))
    }

    /// Stores `event` unless it is already there, once its commit is done.
    pub async fn store(&self, event: NewEvent) -> Result<Stored, InboxError> {
        let (reply, answer) = oneshot::channel();
        self.sender
            .send((event, reply))
            .await
            .map_err(|_| InboxError::Stopped)?;
        answer
            .await
            .map_err(|_| InboxError::Stopped)?
            .map_err(InboxError::Database)
    }
}

async fn write(db: Db, gate: LogGate, mut receiver: mpsc::Receiver<(NewEvent, Reply)>) {
    let mut batch = Vec::with_capacity(BATCH);
    while receiver.recv_many(&mut batch, BATCH).await > 0 {
        let (events, replies): (Vec<NewEvent>, Vec<Reply>) = batch.drain(..).unzip();
        match store(&db, &gate, &events).await {
            Ok(stored) => {
                for (reply, stored) in replies.into_iter().zip(stored) {
                    // The request may be gone (timed out): its event is stored all the same.
                    let _ = reply.send(Ok(stored));
                }
            }
            Err(error) if events.len() > 1 && error.is_refusal() => {
                tracing::warn!(%error, events = events.len(), "a batch of company events failed; storing them one by one");
                for (event, reply) in events.into_iter().zip(replies) {
                    let stored = store(&db, &gate, std::slice::from_ref(&event)).await;
                    let stored = stored.map_err(Arc::new);
                    let _ = reply.send(stored.map(|s| s.first().copied().unwrap_or(Stored::Duplicate)));
                }
            }
            // Unreachable or too slow: every event of the batch gets the same answer (503).
            Err(error) => {
                let error = Arc::new(error);
                for reply in replies {
                    let _ = reply.send(Err(error.clone()));
                }
            }
        }
    }
}

/// Stores `events` in one statement, holding `gate` shared while it commits.
async fn store(db: &Db, gate: &LogGate, events: &[NewEvent]) -> Result<Vec<Stored>, DbError> {
    let _writing = gate.writing().await;
    events::store_all(db, events, domain::time::now()).await
}
