//! The background worker: runs due jobs from the database until shutdown. Several instances may
//! run it against one database; each job is claimed with a lease, so it runs once.

use std::{sync::Arc, time::Duration};

use domain::{
    Db, Keyring,
    jobs::{self, ClaimedJob, JobKind},
    registrations::{self, RegistrationError},
};
use fluid::client::FluidClient;
use tokio::{
    sync::{Notify, watch},
    task::JoinHandle,
};

/// How often the worker looks for due jobs when nobody wakes it.
const POLL: Duration = Duration::from_millis(500);
/// How long a job in progress may delay shutdown.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);
/// How often old events and callback records are pruned.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);

/// What jobs need.
#[derive(Clone)]
pub struct Worker {
    pub db: Db,
    pub keyring: Arc<Keyring>,
    pub fluid: FluidClient,
    pub public_url: String,
    /// Woken when a job is queued, so it starts at once.
    pub wake: Arc<Notify>,
    /// Company events and callback records older than this are deleted.
    pub retention: Duration,
    /// How often every active installation is reconciled with Fluid; `None`: never on its own.
    pub reconcile_every: Option<Duration>,
    /// The manifest's company webhooks, subscribed for each install.
    pub company_webhooks: Arc<[domain::registrations::CompanyWebhook]>,
    /// The manifest's drop zones, kept on Fluid for each install.
    pub drop_zones: Arc<[domain::drop_zones::DropZoneSpec]>,
    /// How long a claimed job stays reserved without a renewal.
    pub lease: Duration,
    /// Job outcomes are counted here.
    pub metrics: Arc<crate::metrics::Metrics>,
    /// `Some`: a command's worker, which claims only the jobs queued under this key and does none
    /// of a service's own work (recording its configuration, queueing checks and syncs, pruning).
    pub only_key: Option<String>,
}

/// When a service's worker next does each of its own tasks; `None`: at once.
#[derive(Default)]
struct Chores {
    /// The heartbeat task, once the first heartbeat is recorded (no job is claimed before: the
    /// instance would not know yet that its configuration is the newest). Aborted with the
    /// worker: a worker that died must not keep its configuration looking alive.
    heartbeat: Option<tokio_util::task::AbortOnDropHandle<()>>,
    /// Whether a newer configuration runs, and until when that reading holds.
    superseded: Option<(bool, tokio::time::Instant)>,
    next_prune: Option<tokio::time::Instant>,
    next_reconcile: Option<tokio::time::Instant>,
    drop_zones_queued: bool,
}

impl Worker {
    /// Runs until `shutdown` turns true. A job in progress gets [`SHUTDOWN_GRACE`] to finish;
    /// past that it is left, and runs again once its lease runs out.
    pub fn spawn(self, mut shutdown: watch::Receiver<bool>) -> JoinHandle<()> {
        tokio::spawn(async move {
            let mut chores = Chores::default();
            loop {
                if *shutdown.borrow() {
                    return;
                }
                if self.only_key.is_none() && self.db.is_migrated() {
                    self.do_chores(&mut chores, &shutdown).await;
                }
                // Until the database is migrated (PostgreSQL still starting), there is nothing to
                // claim; a service's worker claims once its configuration is recorded, and not
                // while a newer one runs (it would only push each job back).
                let may_claim = match self.only_key {
                    Some(_) => true,
                    None => chores.heartbeat.is_some() && !self.superseded(&mut chores).await,
                };
                if self.db.is_migrated() && may_claim {
                    // Never raced against shutdown: a claim dropped in flight may still land in
                    // the database, leaving its job "running" until the lease runs out. A job
                    // claimed as the service stops gets the grace like any other.
                    match jobs::claim_due(&self.db, self.lease, self.only_key.as_deref()).await {
                        Ok(Some(job)) => {
                            self.run_leased(job, &mut shutdown).await;
                            continue;
                        }
                        Ok(None) => {}
                        Err(error) => tracing::warn!(%error, "could not look for due jobs"),
                    }
                }
                tokio::select! {
                    () = self.wake.notified() => {}
                    () = tokio::time::sleep(POLL) => {}
                    _ = shutdown.changed() => {}
                }
            }
        })
    }

    /// A service's own work besides jobs, each when due: saying which configuration it runs,
    /// queueing the drop zone syncs this configuration needs (once), pruning, queueing checks.
    async fn do_chores(&self, chores: &mut Chores, shutdown: &watch::Receiver<bool>) {
        let now = tokio::time::Instant::now();
        if chores.heartbeat.is_none() {
            if !self.heartbeat().await {
                return;
            }
            // On its own task: a long job must not let this configuration look gone.
            let (worker, mut shutdown) = (self.clone(), shutdown.clone());
            chores.heartbeat = Some(tokio_util::task::AbortOnDropHandle::new(tokio::spawn(
                async move {
                    loop {
                        tokio::select! {
                            () = tokio::time::sleep(domain::deployments::HEARTBEAT) => {}
                            _ = shutdown.changed() => return,
                        }
                        worker.heartbeat().await;
                    }
                },
            )));
        }
        // The drop zones are the newest configuration's to put where it wants them; asked again
        // while superseded, should this one become the newest (a rollback).
        if !chores.drop_zones_queued && !self.superseded(chores).await {
            chores.drop_zones_queued = self.queue_drop_zone_sync().await;
        }
        if chores.next_prune.is_none_or(|next| now >= next) {
            self.prune().await;
            chores.next_prune = Some(now + PRUNE_EVERY);
        }
        if let Some(every) = self.reconcile_every
            && chores.next_reconcile.is_none_or(|next| now >= next)
            && self.queue_reconcile(every).await
        {
            chores.next_reconcile = Some(now + every);
        }
    }

    /// Whether a newer configuration than this instance's runs, read at most every few seconds.
    async fn superseded(&self, chores: &mut Chores) -> bool {
        let now = tokio::time::Instant::now();
        if let Some((superseded, until)) = chores.superseded
            && now < until
        {
            return superseded;
        }
        let superseded = match domain::deployments::superseded_by(&self.db, &self.wanted().deployment()).await
        {
            Ok(newest) => newest.is_some(),
            // Unknown: claim, and let each job's own check decide.
            Err(error) => {
                tracing::warn!(%error, "could not read the newest configuration");
                false
            }
        };
        chores.superseded = Some((superseded, now + Duration::from_secs(5)));
        superseded
    }

    /// What this instance registers for every installation.
    fn wanted(&self) -> domain::reconcile::Wanted {
        domain::reconcile::Wanted::new(&self.public_url, &self.company_webhooks, &self.drop_zones)
    }

    /// Records that this instance runs its configuration now: registrations elsewhere are moved
    /// to it, and instances of an older one leave them alone. False when the database could not
    /// be asked (tried again on the next round).
    async fn heartbeat(&self) -> bool {
        match domain::deployments::seen(&self.db, &self.wanted().deployment()).await {
            Ok(()) => true,
            Err(error) => {
                tracing::warn!(%error, "could not record this instance's configuration");
                false
            }
        }
    }

    /// Queues a drop zone sync for each active install whose zones on Fluid are not what this
    /// configuration wants; `false` when the database could not be asked (tried again on the
    /// next round).
    async fn queue_drop_zone_sync(&self) -> bool {
        match domain::drop_zones::queue_stale(&self.db, &self.public_url, &self.drop_zones).await {
            Ok(0) => true,
            Ok(queued) => {
                tracing::info!(
                    installations = queued,
                    "drop zones queued for a sync with this configuration"
                );
                true
            }
            Err(error) => {
                tracing::warn!(%error, "could not queue the drop zone sync");
                false
            }
        }
    }

    /// Queues a reconcile of every active installation for the current period of `every`; the
    /// period's dedupe key makes it once across instances and restarts. The key names the
    /// configuration too (`PUBLIC_URL`, what it registers), so a deploy that changes either checks
    /// at once. False when the database could
    /// not be asked (tried again on the next round).
    async fn queue_reconcile(&self, every: Duration) -> bool {
        let period = domain::time::now() / i64::try_from(every.as_secs().max(1)).unwrap_or(i64::MAX);
        let deployment = self.wanted().deployment();
        let key = format!(
            "every-{}s-{period}-{}-{}",
            every.as_secs(),
            deployment.public_url,
            deployment.short()
        );
        match domain::reconcile::queue_all(&self.db, &key).await {
            Ok(queued) => {
                if queued > 0 {
                    tracing::info!(
                        installations = queued,
                        "registrations queued for a check against Fluid"
                    );
                    self.wake.notify_one();
                }
                true
            }
            Err(error) => {
                tracing::warn!(%error, "could not queue the reconcile of the installations");
                false
            }
        }
    }

    /// Applies the retention to company events and the hourly activity counts.
    async fn prune(&self) {
        let cutoff = domain::time::now() - i64::try_from(self.retention.as_secs()).unwrap_or(i64::MAX);
        if let Err(error) = jobs::prune_reconciles(&self.db, cutoff).await {
            tracing::warn!(%error, "pruning old reconcile jobs failed");
        }
        match (
            domain::events::prune(&self.db, cutoff).await,
            domain::activity::prune(&self.db, cutoff).await,
        ) {
            (Ok(events), Ok(activity_rows)) if events + activity_rows > 0 => {
                tracing::info!(events, activity_rows, "pruned records past the retention");
            }
            (Ok(_), Ok(_)) => {}
            (Err(error), _) | (_, Err(error)) => tracing::warn!(%error, "pruning old records failed"),
        }
    }

    /// Runs `job`, renewing its lease every third of it. The job is dropped when the lease is
    /// lost (another worker took it over), and given back when shutdown outlasts the grace.
    async fn run_leased(&self, job: ClaimedJob, shutdown: &mut watch::Receiver<bool>) {
        let run = self.run(job.clone());
        tokio::pin!(run);
        let every = self.lease / 3;
        let mut renew = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        renew.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let grace_over = tokio::time::sleep(Duration::MAX);
        tokio::pin!(grace_over);
        let mut stopping = false;
        loop {
            tokio::select! {
                () = &mut run => return,
                _ = renew.tick() => match jobs::renew(&self.db, &job, self.lease).await {
                    Ok(true) => {}
                    Ok(false) => {
                        tracing::warn!(job = job.id, "lost the job's lease to another worker; leaving it to them");
                        return;
                    }
                    Err(error) => tracing::warn!(job = job.id, %error, "could not renew the job's lease"),
                },
                _ = shutdown.changed(), if !stopping => {
                    stopping = true;
                    grace_over.as_mut().reset(tokio::time::Instant::now() + SHUTDOWN_GRACE);
                }
                () = &mut grace_over, if stopping => {
                    tracing::warn!(job = job.id, "job left unfinished at shutdown; it runs again at once elsewhere or at the next start");
                    if let Err(error) = jobs::release(&self.db, &job).await {
                        tracing::warn!(job = job.id, %error, "could not release the job; it runs again after its lease");
                    }
                    return;
                }
            }
        }
    }

    async fn run(&self, job: ClaimedJob) {
        match self.waits(&job).await {
            Ok(None) => {}
            Ok(Some((by, why))) => return self.postpone(&job, by, &why).await,
            Err(error) => {
                tracing::warn!(job = job.id, %error, "could not tell whether the job may run; it runs again after its lease");
                return;
            }
        }
        let exclusive = match jobs::exclusive(&self.db, &job).await {
            Ok(Some(exclusive)) => exclusive,
            Ok(None) => {
                let why = "another job on the installation's registrations runs elsewhere; postponed";
                return self.postpone(&job, Duration::from_secs(1), why).await;
            }
            Err(error) => {
                tracing::warn!(job = job.id, %error, "could not lock the job's installation and kind; it runs again after its lease");
                return;
            }
        };
        self.run_alone(job).await;
        exclusive.release().await;
    }

    /// Why a job waits, and how long: an instance of a newer configuration runs (a rolling
    /// deploy: this one is the old; it must neither move registrations back nor undo a manifest
    /// change), or — for a service's check against Fluid — the installation's registrations are
    /// under way (a command's check does not wait for jobs only a service would run).
    async fn waits(&self, job: &ClaimedJob) -> Result<Option<(Duration, String)>, domain::DbError> {
        let mine = self.wanted().deployment();
        if let Some(newest) = domain::deployments::superseded_by(&self.db, &mine).await? {
            let why = format!(
                "an instance of a newer configuration runs ({}, {}); the job is left to it",
                newest.public_url,
                newest.short()
            );
            return Ok(Some((Duration::from_secs(30), why)));
        }
        if job.kind == Some(JobKind::Reconcile)
            && self.only_key.is_none()
            && jobs::registering(&self.db, &job.installation_uuid).await?
        {
            let why = "registrations of the installation are under way; the check waits";
            return Ok(Some((Duration::from_secs(2), why.to_owned())));
        }
        Ok(None)
    }

    /// Logs and counts what a check of installation `uuid` found; its outcome is the first repair
    /// that failed, if one did.
    fn count(&self, uuid: &str, checked: domain::reconcile::Checked) -> Result<(), RegistrationError> {
        for (drift, outcome) in checked.found.iter().zip(&checked.outcomes) {
            let outcome = outcome.as_str();
            tracing::info!(installation = %uuid, kind = drift.kind(), outcome, "{}", drift.describe());
            self.metrics.drift(drift.kind(), outcome);
        }
        let moved = (checked.found.iter().zip(&checked.outcomes))
            .filter(|(d, o)| d.moves() && **o == domain::reconcile::Outcome::Fixed)
            .count();
        if moved > 0 {
            self.metrics.moved(moved);
            tracing::info!(installation = %uuid, moved, public_url = %self.public_url, "registrations moved to this PUBLIC_URL");
        }
        checked.failed.map_or(Ok(()), Err)
    }

    /// Gives `job` back to run again in `by`, saying why.
    async fn postpone(&self, job: &ClaimedJob, by: Duration, why: &str) {
        tracing::info!(job = job.id, "{why}");
        if let Err(error) = jobs::postpone(&self.db, job, by).await {
            tracing::warn!(job = job.id, %error, "could not postpone the job; it runs again after its lease");
        }
    }

    async fn run_alone(&self, job: ClaimedJob) {
        let uuid = job.installation_uuid.as_str();
        let result = match job.kind {
            Some(JobKind::RegisterCallbacks) => {
                registrations::register_callbacks(
                    &self.db,
                    &self.keyring,
                    &self.fluid,
                    &self.public_url,
                    &domain::callbacks::implemented(),
                    uuid,
                )
                .await
            }
            Some(JobKind::RegisterWebhooks) => {
                registrations::register_webhooks(
                    &self.db,
                    &self.keyring,
                    &self.fluid,
                    &self.public_url,
                    &self.company_webhooks,
                    uuid,
                )
                .await
            }
            Some(JobKind::RegisterDropZones) => {
                domain::drop_zones::sync(
                    &self.db,
                    &self.keyring,
                    &self.fluid,
                    &self.public_url,
                    &self.drop_zones,
                    uuid,
                )
                .await
            }
            Some(JobKind::Reconcile) => {
                domain::reconcile::fix(&self.db, &self.keyring, &self.fluid, &self.wanted(), uuid)
                    .await
                    .and_then(|checked| self.count(uuid, checked))
            }
            None => Err(RegistrationError::Permanent("unknown job kind".into())),
        };
        let kind = job.kind.map_or("unknown", JobKind::as_str);
        let outcome = match &result {
            Ok(()) => "done",
            Err(RegistrationError::NotActive) => "cancelled",
            Err(error) if jobs::retries(&job, matches!(error, RegistrationError::Permanent(_))) => "retry",
            Err(_) => "failed",
        };
        self.metrics.job(kind, outcome);
        let recorded = match result {
            Ok(()) => {
                tracing::info!(installation = %uuid, job = job.id, attempt = job.attempts, "job done");
                jobs::succeed(&self.db, &job).await
            }
            Err(RegistrationError::NotActive) => {
                jobs::cancel(&self.db, &job, "the installation is not active").await
            }
            Err(error) => {
                let permanent = matches!(error, RegistrationError::Permanent(_));
                let message = error.to_string();
                if jobs::retries(&job, permanent) {
                    tracing::warn!(installation = %uuid, job = job.id, attempt = job.attempts, error = %message, "job failed; will retry");
                } else {
                    tracing::error!(installation = %uuid, job = job.id, attempt = job.attempts, error = %message, "job failed for good");
                }
                jobs::fail(&self.db, &job, &message, permanent).await
            }
        };
        match recorded {
            Ok(true) => {}
            Ok(false) => {
                tracing::warn!(
                    job = job.id,
                    "the job's lease was lost before its outcome was recorded; its new holder's outcome counts"
                )
            }
            // The lease runs out and another worker takes the job again.
            Err(error) => tracing::error!(job = job.id, %error, "could not record a job's outcome"),
        }
    }
}
