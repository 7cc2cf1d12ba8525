//! Real `droplet serve` processes on one test database, with a simulated Fluid in this process.

use std::{path::PathBuf, process::Command, time::Duration};

use fluid::sim::{Shape, Simulator};

use super::*;

/// The droplet instances, their simulated Fluid and their one database.
pub struct Fleet {
    pub sim: Simulator,
    pub database: TestDatabase,
    binary: Binary,
    pub instances: Vec<Instance>,
    lease_secs: u64,
    /// `DROPLET_ENCRYPTION_KEY` of the instances spawned from now on.
    pub encryption_key: String,
    /// `RECONCILE_INTERVAL_MINUTES` of the instances spawned from now on ("0": off, so that no
    /// test's Fluid calls change unless it asks).
    pub reconcile_minutes: String,
    /// `PUBLIC_URL` of the instances spawned from now on; each its own address when `None`.
    pub public_url: Option<String>,
}

pub struct Instance {
    pub base_url: String,
    log: PathBuf,
    process: Option<KillOnDrop>,
}

impl Fleet {
    /// `count` instances started at once; a job's lease is `lease_secs`.
    pub async fn start(count: usize, lease_secs: u64) -> Self {
        let ports: Vec<u16> = (0..count).map(|_| free_port()).collect();
        // Fluid's lifecycle webhooks go to the first instance unless a test delivers them itself.
        let sim = simulator_for(&format!("127.0.0.1:{}", ports[0])).await;
        let mut fleet = Self {
            sim,
            database: TestDatabase::new(),
            binary: Binary::new(),
            instances: Vec::new(),
            lease_secs,
            encryption_key: key(7),
            reconcile_minutes: "0".into(),
            // One configuration, as several instances behind a load balancer run: Fluid reaches
            // them at one URL.
            public_url: Some(format!("http://127.0.0.1:{}", ports[0])),
        };
        for port in ports {
            fleet.spawn(port);
        }
        for instance in &fleet.instances {
            wait_ready(&instance.base_url).await;
        }
        fleet
    }

    pub fn spawn(&mut self, port: u16) -> usize {
        let index = self.instances.len();
        let log = self.binary.dir.path().join(format!("instance-{index}.log"));
        let file = std::fs::File::create(&log).expect("log file");
        let address = format!("127.0.0.1:{port}");
        let lease = self.lease_secs.to_string();
        let sim_url = self.sim.base_url();
        let public_url = self
            .public_url
            .clone()
            .unwrap_or_else(|| format!("http://{address}"));
        let env = [
            ("RECONCILE_INTERVAL_MINUTES", self.reconcile_minutes.as_str()),
            ("PUBLIC_URL", public_url.as_str()),
            ("DATABASE_URL", self.database.url.as_str()),
            ("LEPTOS_SITE_ADDR", address.as_str()),
            ("FLUID_API_BASE_URL", sim_url.as_str()),
            ("FLUID_WEBHOOK_SECRET", WEBHOOK_SECRET),
            ("FLUID_SESSION_TOKEN_SECRET", SESSION_TOKEN_SECRET),
            ("FLUID_APP_URL", sim_url.as_str()),
            ("FLUID_DROPLET_UUID", DROPLET_UUID),
            ("DROPLET_ENCRYPTION_KEY", self.encryption_key.as_str()),
            ("DATABASE_MAX_CONNECTIONS", "4"),
            ("JOB_LEASE_SECS", lease.as_str()),
        ];
        let child = self
            .binary
            .command(&["serve"], &env)
            .stdout(file.try_clone().expect("log file"))
            .stderr(file)
            .spawn()
            .expect("spawn droplet serve");
        self.instances.push(Instance {
            base_url: format!("http://{address}"),
            log,
            process: Some(KillOnDrop(child)),
        });
        index
    }

    /// Starts one more instance and waits until it is ready.
    pub async fn add(&mut self) -> usize {
        let index = self.spawn(free_port());
        wait_ready(&self.instances[index].base_url).await;
        index
    }

    /// `kill -9`: the instance stops at once, whatever it holds.
    pub fn kill(&mut self, index: usize) {
        let mut process = self.instances[index].process.take().expect("running");
        Command::new("kill")
            .args(["-KILL", &process.0.id().to_string()])
            .status()
            .expect("kill");
        process.0.wait().expect("wait");
    }

    pub fn url(&self, index: usize, path: &str) -> String {
        format!("{}{path}", self.instances[index].base_url)
    }

    /// What every instance logged, for failure messages and counting.
    pub fn logs(&self) -> Vec<String> {
        self.instances
            .iter()
            .map(|i| std::fs::read_to_string(&i.log).unwrap_or_default())
            .collect()
    }

    pub async fn db(&self) -> domain::Db {
        let url = self.database.url.parse().expect("url");
        domain::Db::connect_and_migrate(&url, &Default::default())
            .await
            .expect("db")
    }

    /// Every job of `dri` once none is pending or running any more.
    pub async fn settled_jobs(&self, dri: &str, within: Duration) -> Vec<domain::jobs::JobView> {
        let db = self.db().await;
        let jobs = super::settled_jobs(&db, dri, within).await;
        db.close().await;
        jobs.unwrap_or_else(|jobs| panic!("jobs did not settle: {jobs:?}\n{:#?}", self.logs()))
    }

    /// A lifecycle webhook (`installed`, `uninstalled`) signed as Fluid does, delivered to the
    /// instance at `index`; it must be answered 200.
    pub async fn lifecycle_via(&self, index: usize, kind: &str, payload: &Value) {
        let delivery = self
            .sim
            .deliver_signed(
                &self.url(index, &format!("/api/webhooks/{kind}")),
                payload.to_string().as_bytes(),
                WEBHOOK_SECRET.as_bytes(),
                &now().to_string(),
            )
            .await
            .expect("lifecycle delivery");
        assert_eq!(delivery.status, 200, "{kind}: {}", delivery.body);
    }

    /// A company installed through the instance at `index`, its jobs settled.
    pub async fn install_via(&self, index: usize, name: &str) -> fluid::sim::SimInstallation {
        let company = self.sim.create_installation(name).await;
        let dri = company.droplet_installation_uuid.clone();
        let payload = self
            .sim
            .install_payload(&dri, Shape::V2Flat)
            .await
            .expect("payload");
        self.lifecycle_via(index, "installed", &payload).await;
        company
    }
}
