//! wrk with pre-signed requests: a Lua script holds every request (each webhook body distinct, so
//! each one is a real insert), the threads take turns through them, and `done` prints the figures
//! as one JSON line.

use std::{fmt::Write as _, path::Path, process::Command, time::Duration};

use anyhow::Context;
use serde_json::Value;

use crate::procs::Proc;

/// One request wrk sends.
pub struct Signed {
    pub body: String,
    pub headers: Vec<(&'static str, String)>,
}

/// What one wrk run measured.
#[derive(Debug, Clone, Copy, Default)]
pub struct Figures {
    pub requests: u64,
    pub seconds: f64,
    /// Answers other than 2xx/3xx.
    pub non_2xx: u64,
    /// Connect, read, write errors and timeouts.
    pub errors: u64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    /// CPU time the server process spent during the run (user + system), when measured.
    pub server_cpu_secs: Option<f64>,
}

impl Figures {
    /// Server CPU per request, in microseconds, when measured.
    pub fn cpu_us_per_request(&self) -> Option<f64> {
        let cpu = self.server_cpu_secs?;
        (self.requests > 0).then(|| cpu * 1e6 / self.requests as f64)
    }

    pub fn per_second(&self) -> f64 {
        if self.seconds > 0.0 {
            self.requests as f64 / self.seconds
        } else {
            0.0
        }
    }
}

/// How hard wrk pushes.
#[derive(Debug, Clone, Copy)]
pub struct Load {
    pub threads: u32,
    pub connections: u32,
    pub duration: Duration,
}

const DONE: &str = r#"
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('{"requests":%d,"duration_us":%d,"non_2xx":%d,"errors":%d,"p50_us":%d,"p99_us":%d}\n',
    summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
"#;

fn lua_string(value: &str) -> String {
    format!("[==[{value}]==]")
}

/// A script POSTing `requests` in turn (thread `i` of `n` takes every `n`-th, starting at `i`).
/// The requests go to a data file beside it, one `signature<TAB>body` line each, read by every
/// wrk thread at start (a Lua chunk holds at most 65 536 constants); headers other than the
/// signature are the first request's, the same for all.
pub fn post_script(path: &Path, requests: &[Signed]) -> anyhow::Result<()> {
    let first = requests.first().context("no request to send")?;
    let data = path.with_extension("data");
    let mut lines = String::new();
    for request in requests {
        let signature = request
            .headers
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case("x-fluid-signature"))
            .map(|(_, v)| v.as_str())
            .unwrap_or_default();
        anyhow::ensure!(!request.body.contains(['\n', '\t']), "a body spans lines");
        let _ = writeln!(lines, "{signature}\t{}", request.body);
    }
    std::fs::write(&data, lines)?;
    let mut lua = String::from("local headers = {");
    for (name, value) in &first.headers {
        if !name.eq_ignore_ascii_case("x-fluid-signature") {
            let _ = write!(lua, " [ {} ] = {},", lua_string(name), lua_string(value));
        }
    }
    lua.push_str(" }\n");
    let _ = writeln!(lua, "local data = {}", lua_string(&data.display().to_string()));
    lua.push_str(
        r#"local counter = 1
setup = function(thread)
  thread:set("id", counter)
  counter = counter + 1
end
local all, step, at = {}, 1, 1
init = function(args)
  for line in io.lines(data) do
    local tab = line:find("\t", 1, true)
    all[#all + 1] = { line:sub(1, tab - 1), line:sub(tab + 1) }
  end
  step = tonumber(os.getenv("WRK_THREADS") or "1")
  at = ((id - 1) % #all) + 1
end
request = function()
  local r = all[at]
  at = at + step
  if at > #all then at = ((at - 1) % #all) + 1 end
  headers["X-Fluid-Signature"] = r[1]
  return wrk.format("POST", nil, headers, r[2])
end
"#,
    );
    lua.push_str(DONE);
    std::fs::write(path, lua)?;
    Ok(())
}

/// A script GETting the URL wrk is given.
pub fn get_script(path: &Path) -> anyhow::Result<()> {
    std::fs::write(path, DONE)?;
    Ok(())
}

/// Runs wrk against `url` with `script`, measuring the CPU time of `server` (its process and
/// threads: user + system) over the run.
pub fn wrk(url: &str, script: &Path, load: Load, server: &Proc) -> anyhow::Result<Figures> {
    let before = server.cpu_secs();
    let mut figures = run_wrk(url, script, load)?;
    figures.server_cpu_secs = before.zip(server.cpu_secs()).map(|(b, a)| a - b);
    Ok(figures)
}

fn run_wrk(url: &str, script: &Path, load: Load) -> anyhow::Result<Figures> {
    let output = Command::new("wrk")
        .env("WRK_THREADS", load.threads.to_string())
        .args([
            "-t",
            &load.threads.to_string(),
            "-c",
            &load.connections.to_string(),
            "-d",
            &format!("{}s", load.duration.as_secs()),
            "--timeout",
            "10s",
            "-s",
        ])
        .arg(script)
        .arg(url)
        .output()
        .context("wrk (Debian's wrk package)")?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout
        .lines()
        .rev()
        .find(|l| l.starts_with('{'))
        .with_context(|| {
            format!(
                "wrk printed no figures: {stdout}{}",
                String::from_utf8_lossy(&output.stderr)
            )
        })?;
    let v: Value = serde_json::from_str(line)?;
    let number = |key: &str| v[key].as_u64().unwrap_or(0);
    Ok(Figures {
        requests: number("requests"),
        seconds: number("duration_us") as f64 / 1e6,
        non_2xx: number("non_2xx"),
        errors: number("errors"),
        p50_ms: number("p50_us") as f64 / 1000.0,
        p99_ms: number("p99_us") as f64 / 1000.0,
        server_cpu_secs: None,
    })
}

/// The `p`-th percentile (nearest rank) of `samples`, in the samples' unit.
pub fn percentile(samples: &mut [f64], p: f64) -> f64 {
    if samples.is_empty() {
        return 0.0;
    }
    samples.sort_by(f64::total_cmp);
    let rank = ((p / 100.0) * samples.len() as f64).ceil() as usize;
    samples[rank.clamp(1, samples.len()) - 1]
}
