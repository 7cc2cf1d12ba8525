//! Callback invocations are recorded in batches, off the callback path: the handler hands each
//! one to a channel and a task writes whatever has gathered in one statement, at most every
//! [`FLUSH_EVERY`]. On SQLite, whose single writer serialized one insert per callback, this
//! took a write off every answer. The chart reads them at most that much later. When the
//! channel is full (the database far behind), records are dropped and counted, never waited for.

use std::{sync::Arc, time::Duration};

use domain::{Db, activity::NewInvocation};
use tokio::{sync::mpsc, task::JoinHandle};

/// How long a record may wait before it is written.
pub const FLUSH_EVERY: Duration = Duration::from_millis(50);
/// Records waiting at most; past this, new ones are dropped.
const CAPACITY: usize = 50_000;
/// Most records written in one statement.
const BATCH: usize = 1_000;

/// Hands invocations to the writer task. Cheap to clone.
#[derive(Debug, Clone)]
pub struct ActivityRecorder {
    sender: mpsc::Sender<NewInvocation>,
    metrics: Arc<crate::metrics::Metrics>,
}

impl ActivityRecorder {
    /// Starts the writer; it ends, after a last write, once every recorder is dropped.
    pub fn start(db: Db, metrics: Arc<crate::metrics::Metrics>) -> (Self, JoinHandle<()>) {
        let (sender, receiver) = mpsc::channel(CAPACITY);
        let task = tokio::spawn(write(db, receiver));
        (Self { sender, metrics }, task)
    }

    /// Queues `invocation` for the next write.
    pub fn record(&self, invocation: NewInvocation) {
        if self.sender.try_send(invocation).is_err() {
            self.metrics.activity_dropped();
        }
    }
}

async fn write(db: Db, mut receiver: mpsc::Receiver<NewInvocation>) {
    let mut batch = Vec::with_capacity(BATCH);
    while receiver.recv_many(&mut batch, BATCH).await > 0 {
        // Let more gather, unless the batch is full already.
        if batch.len() < BATCH {
            tokio::time::sleep(FLUSH_EVERY).await;
            while batch.len() < BATCH {
                match receiver.try_recv() {
                    Ok(invocation) => batch.push(invocation),
                    Err(_) => break,
                }
            }
        }
        if let Err(error) = domain::activity::record_callbacks(&db, &batch).await {
            tracing::warn!(%error, records = batch.len(), "could not record callback invocations");
        }
        batch.clear();
    }
}
