//! `droplet reconcile`: what drifted between Fluid and what the droplet wants, per installation;
//! with `--apply`, repaired through the durable jobs (this process works them, alongside any
//! running service: a job runs once), then checked again.

use std::{sync::Arc, time::Duration};

use anyhow::Context as _;
use domain::{
    DatabaseUrl, Db, Keyring,
    db::PoolSettings,
    installations::{self, Status},
    jobs::{self, JobKind, JobStatus},
    reconcile::{self, Drift, Wanted},
};
use fluid::client::{FluidClient, RetryPolicy};
use tokio::sync::{Notify, watch};

/// How long `--apply` waits for its jobs.
const APPLY_WAIT: Duration = Duration::from_secs(120);

/// What to reconcile.
pub struct Scope<'a> {
    /// One installation, or every active one.
    pub installation: Option<&'a str>,
    /// The owner token and droplet uuid: the installations are checked against Fluid's list too.
    pub fleet: Option<(fluid::Secret, String)>,
    /// Repair, or only say.
    pub apply: bool,
}

/// Prints the drift of the installations in `scope` and, when it says `apply`, repairs it; an
/// error when Fluid could not be asked or drift remains after `--apply`.
pub async fn run(
    url: &DatabaseUrl,
    keyring: Keyring,
    fluid_api: &str,
    wanted: Wanted,
    scope: Scope<'_>,
) -> anyhow::Result<()> {
    let db = Db::connect_and_migrate(url, &PoolSettings::default()).await?;
    let keyring = Arc::new(keyring);
    let outcome = async {
        same_configuration_as_the_service(&db, &wanted, scope.apply).await?;
        // The fleet check is about every installation: not with one named.
        let gone = match (&scope.fleet, scope.installation) {
            (Some((owner_token, droplet_uuid)), None) => {
                check_fleet(
                    &db,
                    keyring.clone(),
                    fluid_api,
                    owner_token,
                    droplet_uuid,
                    scope.apply,
                )
                .await?
            }
            _ => Vec::new(),
        };
        reconcile_all(
            &db,
            keyring,
            fluid_api,
            &wanted,
            scope.installation,
            &gone,
            scope.apply,
        )
        .await
    }
    .await;
    db.close().await;
    outcome
}

/// Refuses `--apply` when the service runs another configuration than this command's (another
/// `PUBLIC_URL`, or a manifest that registers other webhooks or drop zones — run from the wrong
/// directory, say): repairing with it would move registrations back or delete what the service
/// added. Without `--apply`, a note says the plan is against this configuration.
async fn same_configuration_as_the_service(db: &Db, wanted: &Wanted, apply: bool) -> anyhow::Result<()> {
    let mine = wanted.deployment();
    let Some(running) = domain::deployments::superseded_by(db, &mine).await? else {
        return Ok(());
    };
    let differs = if running.public_url == mine.public_url {
        format!(
            "its manifest registers other webhooks or drop zones ({} here, {} there)",
            mine.short(),
            running.short()
        )
    } else {
        format!(
            "it runs at {}, this PUBLIC_URL is {}",
            running.public_url, mine.public_url
        )
    };
    anyhow::ensure!(
        !apply,
        "the service runs another configuration: {differs}; --apply would undo it: run with the service's PUBLIC_URL and DROPLET_MANIFEST"
    );
    println!("Note: the service runs another configuration: {differs}; this plan is against this one.\n");
    Ok(())
}

/// The installations against the companies Fluid lists; with `apply`, the ones Fluid confirmed
/// gone are uninstalled here. Returns those (nothing of theirs is left to reconcile).
async fn check_fleet(
    db: &Db,
    keyring: Arc<Keyring>,
    fluid_api: &str,
    owner_token: &fluid::Secret,
    droplet_uuid: &str,
    apply: bool,
) -> anyhow::Result<Vec<String>> {
    let deps = domain::lifecycle::Deps {
        db: db.clone(),
        keyring,
        fluid: FluidClient::new(fluid_api, RetryPolicy::default())?,
        droplet_uuid: droplet_uuid.to_owned(),
        installs: tokio_util::task::TaskTracker::new(),
    };
    let findings = domain::fleet::check(&deps, owner_token, droplet_uuid)
        .await
        .map_err(|error| anyhow::anyhow!("could not compare the installations with Fluid's list: {error}"))?;
    if findings.is_empty() {
        println!("Installations: as Fluid lists them");
    }
    for finding in &findings {
        println!("{}", finding.describe());
    }
    if apply {
        domain::fleet::apply(&deps, &findings).await?;
    }
    Ok(findings
        .into_iter()
        .filter_map(|finding| match finding {
            domain::fleet::Finding::UninstallMissed { uuid } => Some(uuid),
            domain::fleet::Finding::InstallMissed { .. } => None,
        })
        .collect())
}

async fn reconcile_all(
    db: &Db,
    keyring: Arc<Keyring>,
    fluid_api: &str,
    wanted: &Wanted,
    installation: Option<&str>,
    gone: &[String],
    apply: bool,
) -> anyhow::Result<()> {
    let fluid = FluidClient::new(fluid_api, RetryPolicy::default())?;
    let uuids: Vec<String> = match installation {
        Some(uuid) => {
            let found = installations::find(db, uuid).await?.with_context(|| {
                format!("no installation {uuid}; `droplet installations list` shows the known ones")
            })?;
            anyhow::ensure!(
                found.status == Status::Active,
                "installation {uuid} is {}, not active",
                found.status.as_str()
            );
            vec![uuid.to_owned()]
        }
        None => installations::list(db)
            .await?
            .into_iter()
            .filter(|i| i.status == Status::Active && !gone.contains(&i.droplet_installation_uuid))
            .map(|i| i.droplet_installation_uuid)
            .collect(),
    };
    let plans = inspect_each(db, &keyring, &fluid, wanted, &uuids).await;
    print(&plans);
    if !apply {
        return failed(&plans);
    }
    // Those that could not be asked are not repaired; the command fails for them at the end.
    let drifted: Vec<String> = plans
        .iter()
        .filter(|(_, plan)| plan.as_ref().is_ok_and(|drift| drift.iter().any(Drift::fixable)))
        .map(|(uuid, _)| uuid.clone())
        .collect();
    if drifted.is_empty() {
        return failed(&plans);
    }
    let key = format!("reconcile-{}", domain::time::now_ms());
    for uuid in &drifted {
        jobs::enqueue(db, uuid, JobKind::Reconcile, &key).await?;
    }
    work_until_done(db, keyring.clone(), fluid.clone(), wanted, &key, &drifted).await?;
    println!("\nAfter --apply:");
    let after = inspect_each(db, &keyring, &fluid, wanted, &drifted).await;
    print(&after);
    let remaining = after
        .iter()
        .filter(|(_, plan)| {
            plan.as_ref()
                .map_or(true, |drift| drift.iter().any(Drift::fixable))
        })
        .count();
    anyhow::ensure!(
        remaining == 0,
        "{remaining} installation(s) still drift; see above"
    );
    failed(&plans)
}

type Plans = Vec<(String, Result<Vec<Drift>, String>)>;

async fn inspect_each(
    db: &Db,
    keyring: &Keyring,
    fluid: &FluidClient,
    wanted: &Wanted,
    uuids: &[String],
) -> Plans {
    let mut plans = Vec::with_capacity(uuids.len());
    for uuid in uuids {
        let plan = reconcile::inspect(db, keyring, fluid, wanted, uuid)
            .await
            .map_err(|error| error.to_string());
        plans.push((uuid.clone(), plan));
    }
    plans
}

fn print(plans: &Plans) {
    if plans.is_empty() {
        println!("No active installations.");
    }
    for (uuid, plan) in plans {
        match plan {
            Ok(drift) if drift.is_empty() => println!("{uuid}: in sync with Fluid"),
            Ok(drift) => {
                println!("{uuid}: {} difference(s)", drift.len());
                for d in drift {
                    println!("  - {}", d.describe());
                }
            }
            Err(error) => println!("{uuid}: could not ask Fluid: {error}"),
        }
    }
}

fn failed(plans: &Plans) -> anyhow::Result<()> {
    let failed = plans.iter().filter(|(_, plan)| plan.is_err()).count();
    anyhow::ensure!(
        failed == 0,
        "{failed} installation(s) could not be checked; see above"
    );
    Ok(())
}

/// Works the reconcile jobs queued under `key` for `uuids` here (and no other job) until none is
/// pending or running; a running service may take some of them, which is as good.
async fn work_until_done(
    db: &Db,
    keyring: Arc<Keyring>,
    fluid: FluidClient,
    wanted: &Wanted,
    key: &str,
    uuids: &[String],
) -> anyhow::Result<()> {
    let (stop, stopped) = watch::channel(false);
    let worker = crate::worker::Worker {
        db: db.clone(),
        keyring,
        fluid,
        public_url: wanted.public_url.clone(),
        wake: Arc::new(Notify::new()),
        retention: Duration::from_secs(u64::MAX / 4),
        reconcile_every: None,
        company_webhooks: Arc::from(wanted.webhooks.clone()),
        drop_zones: Arc::from(wanted.drop_zones.clone()),
        lease: Duration::from_secs(60),
        metrics: Arc::default(),
        only_key: Some(key.to_owned()),
    }
    .spawn(stopped);
    let deadline = tokio::time::Instant::now() + APPLY_WAIT;
    let outcome = loop {
        let mut busy = false;
        for uuid in uuids {
            busy |= jobs::list_for(db, uuid).await?.iter().any(|job| {
                job.kind == JobKind::Reconcile.as_str()
                    && matches!(job.status, JobStatus::Pending | JobStatus::Running)
            });
        }
        if !busy {
            break Ok(());
        }
        if tokio::time::Instant::now() >= deadline {
            break Err(anyhow::anyhow!(
                "the reconcile jobs did not finish within {} s; they go on in the service",
                APPLY_WAIT.as_secs()
            ));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let _ = stop.send(true);
    let _ = worker.await;
    outcome
}
