//! Callback invocations (and `update_cart_shipping` decisions, explained here rather than on the
//! callback's path) are recorded in batches, off the callback path: the handler hands each one to
//! a channel and a task writes whatever has gathered, at most every [`FLUSH_EVERY`]. On SQLite,
//! whose single writer serialized one insert per callback, this took a write off every answer.
//! The chart and the decision log read them at most that much later. When the channel is full
//! (the database far behind), records are dropped and counted, never waited for.

use std::{sync::Arc, time::Duration};

use domain::{Db, activity::NewInvocation, shipping::decisions::NewDecision};
use tokio::{sync::mpsc, task::JoinHandle};

/// How long a record may wait before it is written.
pub const FLUSH_EVERY: Duration = Duration::from_millis(50);
/// Records waiting at most; past this, new ones are dropped.
const CAPACITY: usize = 50_000;
/// Most records written in one statement.
const BATCH: usize = 1_000;

/// One record for the writer.
#[derive(Debug)]
enum Record {
    Invocation(NewInvocation),
    Decision(Box<NewDecision>),
}

/// Hands invocations and decisions to the writer task. Cheap to clone.
#[derive(Debug, Clone)]
pub struct ActivityRecorder {
    sender: mpsc::Sender<Record>,
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
        self.send(Record::Invocation(invocation));
    }

    /// Queues `decision` for the next write (explained then).
    pub fn record_decision(&self, decision: NewDecision) {
        self.send(Record::Decision(Box::new(decision)));
    }

    fn send(&self, record: Record) {
        if self.sender.try_send(record).is_err() {
            self.metrics.activity_dropped();
        }
    }
}

async fn write(db: Db, mut receiver: mpsc::Receiver<Record>) {
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
        let (mut invocations, mut decisions) = (Vec::new(), Vec::new());
        for record in batch.drain(..) {
            match record {
                Record::Invocation(invocation) => invocations.push(invocation),
                Record::Decision(decision) => decisions.push(*decision),
            }
        }
        if !invocations.is_empty()
            && let Err(error) = domain::activity::record_callbacks(&db, &invocations).await
        {
            tracing::warn!(%error, records = invocations.len(), "could not record callback invocations");
        }
        if let Err(error) = domain::shipping::decisions::record(&db, &decisions).await {
            tracing::warn!(%error, records = decisions.len(), "could not record shipping decisions");
        }
    }
}
