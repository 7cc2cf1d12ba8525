//! The processes under test: started with their output in a log file, killed when dropped.

use std::{
    path::Path,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use anyhow::Context;

/// A child process, killed on drop.
pub struct Proc {
    pub child: Child,
    pub base_url: String,
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Proc {
    /// CPU time the process has used so far (user + system, every thread), from
    /// `/proc/{pid}/stat`; `None` where that cannot be read.
    pub fn cpu_secs(&self) -> Option<f64> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).ok()?;
        // Fields after the command name (which may hold spaces) start after its closing ')'.
        let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
        // utime and stime are fields 14 and 15 of the line: 12 and 13 after the name.
        let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
        // Counted in USER_HZ, which Linux fixes at 100 a second for every architecture it runs on.
        Some(ticks as f64 / 100.0)
    }

    /// Starts `program args` with `env`, output to `log`, serving at `port`.
    pub fn start(
        program: &str,
        args: &[&str],
        env: &[(&str, String)],
        log: &Path,
        port: u16,
    ) -> anyhow::Result<Self> {
        let file = std::fs::File::create(log)?;
        let mut command = Command::new(program);
        command
            .args(args)
            .stdin(Stdio::null())
            .stdout(file.try_clone()?)
            .stderr(file);
        for (name, value) in env {
            command.env(name, value);
        }
        let child = command
            .spawn()
            .with_context(|| format!("cannot start {program}"))?;
        Ok(Self {
            child,
            base_url: format!("http://127.0.0.1:{port}"),
        })
    }

    /// Resident memory now, in KiB.
    pub fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap_or_default();
        status
            .lines()
            .find_map(|line| line.strip_prefix("VmRSS:"))
            .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
            .unwrap_or(0)
    }
}

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(0)
}

/// Polls `url` every 2 ms until it answers `status`; how long that took.
pub async fn wait_for(url: &str, status: u16, within: Duration) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let client = reqwest::Client::new();
    loop {
        if let Ok(response) = client.get(url).send().await
            && response.status().as_u16() == status
        {
            return Ok(started.elapsed());
        }
        if started.elapsed() > within {
            anyhow::bail!("{url} did not answer {status} within {within:?}");
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// Runs `psql URL -c SQL`.
pub fn psql(url: &str, sql: &str) -> anyhow::Result<String> {
    let output = Command::new("psql")
        .args([url, "-Atqc", sql])
        .output()
        .context("psql")?;
    anyhow::ensure!(
        output.status.success(),
        "psql: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

/// `url` with its database name replaced by `name`.
pub fn with_database(url: &str, name: &str) -> String {
    let (base, query) = url.split_once('?').map_or((url, None), |(b, q)| (b, Some(q)));
    let authority = base.find("://").map_or(0, |i| i + 3);
    let base = base[authority..]
        .find('/')
        .map_or(base, |slash| &base[..authority + slash]);
    query.map_or_else(|| format!("{base}/{name}"), |q| format!("{base}/{name}?{q}"))
}

/// A fresh, empty PostgreSQL database named `name` on the server at `admin_url`; its URL.
pub fn fresh_database(admin_url: &str, name: &str) -> anyhow::Result<String> {
    psql(admin_url, &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))?;
    psql(admin_url, &format!("CREATE DATABASE {name}"))?;
    Ok(with_database(admin_url, name))
}
