//! Callback invocations and `update_cart_shipping` decisions are recorded in batches, off the
//! callback path: the handler hands each one to a channel and a task writes whatever has gathered,
//! at most every [`FLUSH_EVERY`]. On SQLite, whose single writer serialized one insert per
//! callback, this took a write off every answer. The chart and the decision log read them at most
//! that much later. When a channel is full (the database far behind), records are dropped and
//! counted, never waited for.
//!
//! Decisions have a queue of their own, short (each holds a cart, and only the newest
//! [`domain::shipping::decisions::KEPT`] of an installation are kept anyway), so they never take
//! room from the chart's counts; they are explained (every option of every decision, CPU only) on
//! the blocking pool, never on the threads that answer callbacks.

use std::{sync::Arc, time::Duration};

use domain::{Db, activity::NewInvocation, shipping::decisions::NewDecision};
use tokio::{sync::mpsc, task::JoinHandle};

/// How long a record may wait before it is written.
pub const FLUSH_EVERY: Duration = Duration::from_millis(50);
/// Invocations waiting at most; past this, new ones are dropped.
const CAPACITY: usize = 50_000;
/// Most invocations written in one statement.
const BATCH: usize = 1_000;
/// Decisions waiting at most, and written in one transaction.
const DECISIONS_CAPACITY: usize = 512;
const DECISIONS_BATCH: usize = 64;

/// Hands invocations and decisions to the writer tasks. Cheap to clone.
#[derive(Debug, Clone)]
pub struct ActivityRecorder {
    invocations: mpsc::Sender<NewInvocation>,
    decisions: mpsc::Sender<NewDecision>,
    metrics: Arc<crate::metrics::Metrics>,
}

impl ActivityRecorder {
    /// Starts the writers; they end, after a last write, once every recorder is dropped.
    pub fn start(db: Db, metrics: Arc<crate::metrics::Metrics>) -> (Self, JoinHandle<()>) {
        let (invocations, invocations_received) = mpsc::channel(CAPACITY);
        let (decisions, decisions_received) = mpsc::channel(DECISIONS_CAPACITY);
        let invocation_writer = tokio::spawn(write_invocations(db.clone(), invocations_received));
        let decision_writer = tokio::spawn(write_decisions(db, decisions_received));
        let task = tokio::spawn(async move {
            let _ = invocation_writer.await;
            let _ = decision_writer.await;
        });
        (
            Self {
                invocations,
                decisions,
                metrics,
            },
            task,
        )
    }

    /// Queues `invocation` for the next write.
    pub fn record(&self, invocation: NewInvocation) {
        if self.invocations.try_send(invocation).is_err() {
            self.metrics.activity_dropped();
        }
    }

    /// Queues `decision` for the next write (explained then).
    pub fn record_decision(&self, decision: NewDecision) {
        if self.decisions.try_send(decision).is_err() {
            self.metrics.activity_dropped();
        }
    }
}

/// Receives up to `most` records into `batch`, letting more gather for [`FLUSH_EVERY`] unless the
/// batch is full already; `false` once every sender is gone and nothing is left.
async fn gather<T>(receiver: &mut mpsc::Receiver<T>, batch: &mut Vec<T>, most: usize) -> bool {
    if receiver.recv_many(batch, most).await == 0 {
        return false;
    }
    if batch.len() < most {
        tokio::time::sleep(FLUSH_EVERY).await;
        while batch.len() < most {
            match receiver.try_recv() {
                Ok(record) => batch.push(record),
                Err(_) => break,
            }
        }
    }
    true
}

async fn write_invocations(db: Db, mut receiver: mpsc::Receiver<NewInvocation>) {
    let mut batch = Vec::with_capacity(BATCH);
    while gather(&mut receiver, &mut batch, BATCH).await {
        if let Err(error) = domain::activity::record_callbacks(&db, &batch).await {
            tracing::warn!(%error, records = batch.len(), "could not record callback invocations");
        }
        batch.clear();
    }
}

async fn write_decisions(db: Db, mut receiver: mpsc::Receiver<NewDecision>) {
    let mut batch = Vec::with_capacity(DECISIONS_BATCH);
    while gather(&mut receiver, &mut batch, DECISIONS_BATCH).await {
        let count = batch.len();
        let decisions = std::mem::take(&mut batch);
        let explained =
            match tokio::task::spawn_blocking(move || domain::shipping::decisions::explain_all(decisions))
                .await
            {
                Ok(explained) => explained,
                Err(error) => {
                    tracing::error!(%error, records = count, "BUG: explaining shipping decisions failed");
                    continue;
                }
            };
        if let Err(error) = domain::shipping::decisions::record(&db, &explained).await {
            tracing::warn!(%error, records = count, "could not record shipping decisions");
        }
    }
}
