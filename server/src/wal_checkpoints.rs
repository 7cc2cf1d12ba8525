//! SQLite's write-ahead log is copied back into the database file by a task of its own, never
//! inside a commit. By SQLite's default the commit that takes the log past 1 000 pages makes the
//! copy before it returns; at thousands of events a second that was many times a second, and each
//! time the event writer — and every webhook waiting for its commit — waited for the copy. Those
//! waits were the ingest's p99 (18 ms with them against 4 ms without, in one quick bench).
//!
//! Every [`EVERY`] passive passes copy what they can while every writer carries on. A log copied
//! while it is being written is never all copied (the writer appends meanwhile), and SQLite starts
//! it again from its beginning only once it is; so passes follow one another, each copying what
//! was appended during the previous, until little is, and once the log is past
//! [`HOLD_WRITER_FROM_PAGES`] a last pass copies that little with the event writer held between
//! two of its batches ([`LogGate`]): a few milliseconds, mostly the disk's `fsync`s.
//!
//! Should the log still pass [`RESTART_FROM_PAGES`] (a reader keeping an old snapshot, or another
//! process writing the same file, keeps it from ever being all copied), a restarting checkpoint
//! waits a little for every writer and reader, at most every [`RESTART_BACKOFF`]; a log it could
//! not restart is logged as a warning with its size.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use domain::{
    Db, DbError,
    db::{Checkpoint, CheckpointMode},
};
use tokio::{
    sync::{RwLock, RwLockReadGuard, RwLockWriteGuard},
    task::JoinHandle,
};

/// How often the log is copied. At 20 000 events a second the log grows by about 25 MiB in
/// between, most of it the same pages written again (a checkpoint copies each page once).
const EVERY: Duration = Duration::from_millis(250);
/// Log pages (4 KiB each) from which a round ends with a pass holding the event writer, so that
/// the log starts again: 32 MiB. Below it the passes hold no one.
const HOLD_WRITER_FROM_PAGES: i64 = 8_192;
/// Log pages past which a round ends with a restarting checkpoint: 256 MiB, ten rounds' worth at
/// the highest rate measured.
const RESTART_FROM_PAGES: i64 = 65_536;
/// The least time between two restarting checkpoints (each may keep writers waiting briefly).
const RESTART_BACKOFF: Duration = Duration::from_secs(30);
/// Passive passes at most per round before the last one.
const MOST_PASSES: usize = 4;
/// Pages appended during a pass under which the event writer may be held for the last one.
const SETTLED_PAGES: i64 = 128;

/// Held shared by the event writer while it commits, alone by a checkpoint's last pass.
#[derive(Debug, Clone, Default)]
pub struct LogGate(Arc<RwLock<()>>);

impl LogGate {
    /// Held while committing. Never take it twice in one task: a last pass waiting in between
    /// (the lock prefers it) would wait for the first hold, and the second for that pass.
    pub async fn writing(&self) -> RwLockReadGuard<'_, ()> {
        self.0.read().await
    }

    /// Held by a checkpoint's last pass: no commit of the event writer meanwhile.
    async fn alone(&self) -> RwLockWriteGuard<'_, ()> {
        self.0.write().await
    }
}

/// Starts the task that copies the log every [`EVERY`]; `None` on PostgreSQL. The pool's
/// connections must not copy it themselves (`WalCheckpoints::Separately`).
pub fn start(db: Db, gate: LogGate) -> Option<JoinHandle<()>> {
    if db.backend() != domain::db::Backend::Sqlite {
        return None;
    }
    Some(tokio::spawn(async move {
        let mut ticks = tokio::time::interval(EVERY);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last_restart: Option<Instant> = None;
        loop {
            ticks.tick().await;
            let may_restart = last_restart.is_none_or(|at| at.elapsed() >= RESTART_BACKOFF);
            match round(&db, &gate, may_restart).await {
                Ok(Ending::Restarted(held)) => {
                    last_restart = Some(Instant::now());
                    if !held.is_complete() {
                        tracing::warn!(
                            log_mib = held.log * 4 / 1024,
                            "the write-ahead log cannot be copied whole (a reader keeps an old snapshot, or another process keeps writing); it grows meanwhile"
                        );
                    }
                }
                Ok(Ending::Copied) => {}
                Err(error) => {
                    tracing::warn!(%error, "the write-ahead log could not be copied into the database file; trying again");
                }
            }
        }
    }))
}

/// How a round ended.
enum Ending {
    /// Passes only, or with the writer held for the last.
    Copied,
    /// With a restarting checkpoint, as it reported.
    Restarted(Checkpoint),
}

/// One round: a passive pass; once the log is past [`HOLD_WRITER_FROM_PAGES`], more until it
/// grows little during one, then, unless it is quiet, a last pass with the event writer held —
/// a restarting one if it is past [`RESTART_FROM_PAGES`] and `may_restart`. (A pass reports the
/// log as it was when it began: all of it copied says nothing of what was appended meanwhile.)
async fn round(db: &Db, gate: &LogGate, may_restart: bool) -> Result<Ending, DbError> {
    // The connection first: the writer is never held while a connection is waited for.
    let Some(mut copier) = db.log_copier().await? else {
        return Ok(Ending::Copied);
    };
    let mut last = copier.copy(CheckpointMode::Passive).await?;
    if last.log < HOLD_WRITER_FROM_PAGES {
        return Ok(Ending::Copied);
    }
    let mut appended = last.log;
    for _ in 1..MOST_PASSES {
        let next = copier.copy(CheckpointMode::Passive).await?;
        appended = next.log - last.log;
        last = next;
        if appended <= SETTLED_PAGES {
            break;
        }
    }
    if may_restart && last.log > RESTART_FROM_PAGES {
        let _alone = gate.alone().await;
        return Ok(Ending::Restarted(copier.copy(CheckpointMode::Restart).await?));
    }
    // All of it copied and nothing appended between the last two passes (a quiet long log):
    // the next write starts it again without anyone held.
    if last.is_complete() && appended == 0 {
        return Ok(Ending::Copied);
    }
    let _alone = gate.alone().await;
    copier.copy(CheckpointMode::Passive).await?;
    Ok(Ending::Copied)
}
