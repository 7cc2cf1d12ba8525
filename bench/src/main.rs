//! `droplet-bench run`: every figure of BENCHMARKS.md from one run on this machine — company-webhook
//! ingest (droplet on SQLite and PostgreSQL, the Node reference, a bare axum ceiling), callback
//! answers, the install handshake, the admin page, memory and cold start — with wrk as the load
//! generator and pre-signed requests. `droplet-bench ceiling ADDR` is the ceiling itself.

mod ceiling;
mod load;
mod procs;
mod report;
mod scenarios;

use anyhow::Context;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("ceiling") => {
            let addr = args.get(1).context("usage: droplet-bench ceiling ADDR")?;
            ceiling::serve(addr).await
        }
        Some("run") => {
            let settings = scenarios::Settings::from_env()?;
            let results = scenarios::run(&settings).await?;
            let markdown = report::markdown(&settings, &results);
            std::fs::write(&settings.out, &markdown)
                .with_context(|| format!("cannot write {}", settings.out))?;
            println!("{markdown}");
            Ok(())
        }
        _ => anyhow::bail!("usage: droplet-bench run | droplet-bench ceiling ADDR"),
    }
}
