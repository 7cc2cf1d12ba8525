//! SQLite's write-ahead log is copied back into the database file by a task of its own, never
//! inside a commit. By SQLite's default the commit that takes the log past 1 000 pages makes the
//! copy before it returns; at thousands of events a second that was many times a second, and each
//! time the event writer — and every webhook waiting for its commit — waited for the copy. Those
//! waits were the ingest's p99 (18 ms with them against 4 ms without, in one quick bench).
//!
//! Every [`EVERY`] a passive checkpoint copies what it can while every writer carries on. A log
//! copied while it is being written is never all copied (the writer appends meanwhile), and SQLite
//! starts it again from its beginning only once it is; so passes follow one another, each copying
//! what was appended during the previous, until little is, and once the log is past 32 MiB a last one
//! copies that little with the event writer held between two of its batches ([`LogGate`]): a few
//! milliseconds (mostly the disk's `fsync`s), at most every third round at the highest rate
//! measured. Should the log still pass [`MOST_PAGES`] (other processes
//! writing the same file keep it from ever being all copied), a restarting checkpoint waits for
//! every writer: a bounded log is worth one stall.

use std::{sync::Arc, time::Duration};

use domain::{
    Db, DbError,
    db::{Backend, CheckpointMode},
};
use tokio::{
    sync::{RwLock, RwLockReadGuard},
    task::JoinHandle,
};

/// How often the log is copied. At 20 000 events a second the log grows by about 25 MiB in
/// between, most of it the same pages written again (a checkpoint copies each page once).
pub const EVERY: Duration = Duration::from_millis(250);
/// Log pages (4 KiB each) from which a round ends with the pass that holds the writer, so that
/// the log starts again: 32 MiB. Below it the passes copy without holding anyone. Each such pass
/// costs the writer a few milliseconds (mostly the disk's `fsync`s), so not every round.
const RESTART_PAGES: i64 = 8_192;
/// Log pages past which a checkpoint waits for every writer: 256 MiB, ten rounds'
/// worth at the highest rate measured.
const MOST_PAGES: i64 = 65_536;
/// Passive passes at most per round before the last one.
const MOST_PASSES: usize = 4;
/// Pages appended during a pass under which the writer may be held for the last one: a few
/// milliseconds' copy.
const SETTLED_PAGES: i64 = 128;

/// Held shared by the event writer while it commits, alone by a checkpoint's last pass.
#[derive(Debug, Clone, Default)]
pub struct LogGate(Arc<RwLock<()>>);

impl LogGate {
    /// Held while committing: a checkpoint's last pass waits for it, and it for that pass.
    pub async fn writing(&self) -> RwLockReadGuard<'_, ()> {
        self.0.read().await
    }
}

/// On SQLite, starts the task that copies the log every [`EVERY`] (the pool's connections must
/// not do it themselves: `WalCheckpoints::Separately`); `None` on PostgreSQL.
pub fn start(db: Db, gate: LogGate) -> Option<JoinHandle<()>> {
    if db.backend() != Backend::Sqlite {
        return None;
    }
    Some(tokio::spawn(async move {
        let mut ticks = tokio::time::interval(EVERY);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            if let Err(error) = checkpoint(&db, &gate).await {
                tracing::warn!(%error, "the write-ahead log could not be copied into the database file; trying again");
            }
        }
    }))
}

/// One round: passive passes until the log grows little during one (each copies what the
/// previous left), then, once the log is past [`RESTART_PAGES`], a last pass with the event
/// writer held — one that waits for every writer
/// instead if the log was past [`MOST_PAGES`]. (A pass reports the log as it was when it began:
/// all of it copied says nothing of what was appended meanwhile.)
async fn checkpoint(db: &Db, gate: &LogGate) -> Result<(), DbError> {
    let Some(mut last) = db.checkpoint(CheckpointMode::Passive).await? else {
        return Ok(());
    };
    if last.log == 0 {
        return Ok(());
    }
    for _ in 1..MOST_PASSES {
        let Some(next) = db.checkpoint(CheckpointMode::Passive).await? else {
            return Ok(());
        };
        let appended = next.log - last.log;
        last = next;
        if appended <= SETTLED_PAGES {
            break;
        }
    }
    if last.log < RESTART_PAGES {
        return Ok(());
    }
    let mode = match last.log > MOST_PAGES {
        true => CheckpointMode::Restart,
        false => CheckpointMode::Passive,
    };
    let _alone = gate.0.write().await;
    let held = db.checkpoint(mode).await?;
    if mode == CheckpointMode::Restart {
        tracing::info!(
            ?last,
            ?held,
            "the write-ahead log had grown past its bound; copied it waiting for every writer"
        );
    }
    Ok(())
}
