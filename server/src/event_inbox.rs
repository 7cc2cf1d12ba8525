//! Company events are stored by one writer task with group commit: each request hands its event
//! over and waits for the commit that holds it; the writer stores whatever has queued meanwhile in
//! one statement. Nothing waits to gather a batch — under light load a batch is one event — so
//! latency stays that of one insert, while under load one commit carries many events. On SQLite,
//! whose single writer made one commit per event the ingest's ceiling, this is most of the cost.
//!
//! On PostgreSQL several writers take turns at the queue: while one waits for its commit's flush,
//! the next gathers what queued meanwhile and sends it, so the flushes overlap (PostgreSQL commits
//! concurrent transactions together). SQLite has one writer whatever we do: one task there.
//!
//! The 2xx is still sent only once the event is committed. If the database refuses a batch, its
//! events are tried one by one, so that one bad event does not fail the others; if it cannot be
//! reached, the whole batch is answered 503.

use std::sync::Arc;

use domain::{
    Db, DbError,
    db::Backend,
    events::{self, NewEvent, Stored},
};
use tokio::{
    sync::{Mutex, mpsc, oneshot},
    task::{JoinHandle, JoinSet},
};

use crate::wal_checkpoints::LogGate;

/// Events queued at most; past this, requests wait for room.
const CAPACITY: usize = 4_096;
/// Most events committed together.
const BATCH: usize = 256;
/// Batches in flight at once on PostgreSQL (each holds one of the pool's connections).
const POSTGRES_WRITERS: usize = 3;

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
    /// Starts the writers; they end once every inbox is dropped and the queue is written. Each
    /// commits holding `gate` shared (a checkpoint's last pass holds it alone).
    pub fn start(db: Db, gate: LogGate) -> (Self, JoinHandle<()>) {
        let (sender, receiver) = mpsc::channel(CAPACITY);
        let receiver = Arc::new(Mutex::new(receiver));
        let writers = match db.backend() {
            Backend::Sqlite => 1,
            Backend::Postgres => POSTGRES_WRITERS,
        };
        let mut tasks = JoinSet::new();
        for _ in 0..writers {
            tasks.spawn(write(db.clone(), gate.clone(), receiver.clone()));
        }
        let all_written = tokio::spawn(async move { while tasks.join_next().await.is_some() {} });
        (Self { sender }, all_written)
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

async fn write(db: Db, gate: LogGate, queue: Arc<Mutex<mpsc::Receiver<(NewEvent, Reply)>>>) {
    let mut batch = Vec::with_capacity(BATCH);
    // The queue is held only while gathering: the next writer gathers while this one stores.
    while queue.lock().await.recv_many(&mut batch, BATCH).await > 0 {
        let (events, replies): (Vec<NewEvent>, Vec<Reply>) = batch.drain(..).unzip();
        let writing = gate.writing().await;
        let stored = events::store_all(&db, &events, domain::time::now()).await;
        drop(writing);
        match stored {
            Ok(stored) => {
                for (reply, stored) in replies.into_iter().zip(stored) {
                    // The request may be gone (timed out): its event is stored all the same.
                    let _ = reply.send(Ok(stored));
                }
            }
            Err(error) if events.len() > 1 && error.is_refusal() => {
                tracing::warn!(%error, events = events.len(), "a batch of company events failed; storing them one by one");
                for (event, reply) in events.into_iter().zip(replies) {
                    let stored =
                        events::store_all(&db, std::slice::from_ref(&event), domain::time::now()).await;
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
