//! BENCHMARKS.md: the machine, the commands, and each table with its ratios.

use std::{fmt::Write as _, process::Command};

use crate::scenarios::{Results, Row, Settings};

fn shell(program: &str, args: &[&str]) -> String {
    Command::new(program)
        .args(args)
        .output()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .next()
                .unwrap_or_default()
                .trim()
                .to_owned()
        })
        .unwrap_or_default()
}

fn machine(settings: &Settings) -> Vec<(&'static str, String)> {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|l| l.trim_start_matches([' ', '\t', ':']).to_owned())
        .unwrap_or_default();
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let memory = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|l| l.split_whitespace().next()?.parse::<u64>().ok())
        .map(|kib| format!("{:.1} GiB", kib as f64 / 1024.0 / 1024.0))
        .unwrap_or_default();
    let postgres = settings
        .postgres
        .as_deref()
        .and_then(|url| crate::procs::psql(url, "SHOW server_version").ok())
        .map_or_else(|| "not used".to_owned(), |v| format!("PostgreSQL {v}"));
    vec![
        ("date", shell("date", &["-u", "+%Y-%m-%d %H:%M UTC"])),
        ("CPU", format!("{cpu}, {} cores", shell("nproc", &[]))),
        ("memory", memory),
        ("kernel", shell("uname", &["-sr"])),
        ("droplet", format!("{} (release build)", settings.droplet)),
        (
            "database",
            format!("SQLite (embedded, WAL); {postgres}, local, default settings"),
        ),
        (
            "reference",
            format!(
                "Node {} with express 5.3.0, pg 8.23.1",
                shell("node", &["--version"])
            ),
        ),
        (
            "load generator",
            format!(
                "{} (Debian), 2 threads, pre-signed requests",
                shell("wrk", &["--version"]).split(" [").next().unwrap_or("wrk")
            ),
        ),
    ]
}

fn table(out: &mut String, rows: &[Row], reference: Option<usize>, ceiling: Option<usize>, stored: bool) {
    let _ = writeln!(
        out,
        "| target | requests/s | server CPU µs/request | p50 ms | p99 ms | vs reference | vs ceiling | non-2xx / errors |{}",
        if stored { " stored |" } else { "" }
    );
    let _ = writeln!(
        out,
        "|---|---:|---:|---:|---:|---:|---:|---:|{}",
        if stored { "---:|" } else { "" }
    );
    let ratio = |row: &Row, other: Option<usize>| {
        other
            .and_then(|i| rows.get(i))
            .filter(|o| o.figures.per_second() > 0.0)
            .map_or_else(
                || "—".to_owned(),
                |o| format!("{:.2}×", row.figures.per_second() / o.figures.per_second()),
            )
    };
    for row in rows {
        let f = &row.figures;
        let _ = write!(
            out,
            "| {} | {:.0} | {} | {:.2} | {:.2} | {} | {} | {} / {} |",
            row.target,
            f.per_second(),
            f.cpu_us_per_request()
                .map_or_else(|| "—".to_owned(), |us| format!("{us:.0}")),
            f.p50_ms,
            f.p99_ms,
            ratio(row, reference),
            ratio(row, ceiling),
            f.non_2xx,
            f.errors
        );
        if stored {
            let _ = write!(
                out,
                " {} |",
                row.stored.map_or_else(|| "—".to_owned(), |s| s.to_string())
            );
        }
        out.push('\n');
    }
}

/// The whole report.
pub fn markdown(settings: &Settings, results: &Results) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# Benchmarks\n");
    let _ = writeln!(
        out,
        "Written by `make bench` (`scripts/bench.sh`, driver `bench/src`) from one run; every figure below comes from that run, on this machine, with the load generator on the same machine as the service (so the figures are lower than on separate hosts, and each target pays the same tax).\n"
    );
    let _ = writeln!(out, "| | |\n|---|---|");
    for (name, value) in machine(settings) {
        let _ = writeln!(out, "| {name} | {value} |");
    }
    let _ = writeln!(
        out,
        "\nLoad: `wrk -t2 -c{} -d{}s` per row unless said otherwise; latencies are wrk's (from the client, connection reuse on). Server CPU µs/request is the serving process's CPU time (user + system, all threads, from `/proc`) over the run divided by the requests answered; on PostgreSQL the database server's own CPU is not in it.\n",
        settings.connections, settings.seconds
    );

    let _ = writeln!(out, "## Company-webhook ingest\n");
    let _ = writeln!(
        out,
        "`POST /api/webhooks/companies/{{uuid}}`: look the installation up, open its sealed `wvt_`, verify the HMAC, parse, insert the event durably (once), answer 200. Each request is a distinct signed event, so each 2xx is a real insert (`stored` counts the rows afterwards). The reference does the same work the way Fluid's docs show it (`bench/reference/server.js`: Express, the docs' `verifyWebhook`, `pg`, plaintext token); the ceiling answers a constant without reading the body.\n"
    );
    let reference = results
        .ingest
        .iter()
        .position(|r| r.target.starts_with("reference"));
    let ceiling = results
        .ingest
        .iter()
        .position(|r| r.target.starts_with("ceiling"));
    table(&mut out, &results.ingest, reference, ceiling, true);

    let _ = writeln!(out, "\n## Callback answers\n");
    let _ = writeln!(
        out,
        "`POST /api/callbacks/{{uuid}}/update_cart_shipping` with the merchant's 50 shipping options (imported through the admin UI's CSV import) and a three-item cart: verify the `cvt_` HMAC, validate the request against the definition's JSON Schema, match the options, validate the answer, record the call. The same signed request every time. The 500-option row is another company of the same droplet: its options use regions, postal prefixes and ranges, excluded regions and postal codes, per-weight, tiered, percent and per-item rates with handling and caps, and item rules, spread over states and countries as a store's would be, so that the same cart (to US-CA 94103) gets 9 of them.\n"
    );
    let ceiling = results
        .callbacks
        .iter()
        .position(|r| r.target.starts_with("ceiling"));
    table(&mut out, &results.callbacks, None, ceiling, false);

    if !results.widget.is_empty() {
        let _ = writeln!(out, "\n## Checkout widget\n");
        let _ = writeln!(
            out,
            "`GET /checkout/widget/{{key}}?token=cart_…` as Fluid's checkout frames it: the key looked up, the same 50 options, the cart read from the simulated Carts API over loopback (a real HTTP call per render, within the 1 s bound), the estimate matched and the page rendered. The same $38 cart to the US every time, with `WIDGET_CART_READS_PER_SECOND` lifted (by default an installation reads 20 carts a second per instance); every render counted as shown is checked against `droplet_checkout_widget_renders_total`.\n"
        );
        table(&mut out, &results.widget, None, None, false);
    }

    if !results.saturation.is_empty() {
        let _ = writeln!(out, "\n## Where it saturates\n");
        let _ = writeln!(
            out,
            "The callback above on SQLite at growing concurrency, 5 s each: throughput stops growing once both cores are busy (the load generator shares them), and from there more concurrency only adds queueing delay.\n"
        );
        table(&mut out, &results.saturation, None, None, false);
    }
    if let Some(shed) = &results.shedding {
        let f = &shed.figures;
        let answered = f.requests.saturating_sub(f.non_2xx);
        let stored = shed.stored.unwrap_or(0);
        let _ = writeln!(
            out,
            "\nPast `MAX_CONCURRENT_REQUESTS` (32 here, 512 by default) requests are refused at once with 503 and `Retry-After: 1` instead of queueing: ingest at 256 connections answered {:.0} requests/s, {} of {} with 503 ({:.0} %), p50 {:.2} ms, p99 {:.2} ms; wrk saw {} answered 2xx, and the droplet stored {} events and acknowledged {} duplicates (wrk sends a request again on a new connection when the droplet closed the old one after a 503, whose body it does not read; requests still in flight when wrk stops are stored but not counted by wrk): {}.",
            f.per_second(),
            f.non_2xx,
            f.requests,
            if f.requests > 0 {
                f.non_2xx as f64 * 100.0 / f.requests as f64
            } else {
                0.0
            },
            f.p50_ms,
            f.p99_ms,
            answered,
            stored,
            results.shedding_duplicates,
            if stored + results.shedding_duplicates >= answered {
                "every 2xx is accounted for".to_owned()
            } else {
                format!(
                    "⚠ {} 2xx are not accounted for",
                    answered - stored - results.shedding_duplicates
                )
            }
        );
    }

    let h = &results.handshake;
    let _ = writeln!(out, "\n## Install handshake\n");
    let _ = writeln!(
        out,
        "{} v2 installs one after another, on SQLite: a signed install webhook in, the `dex_` token claimed, exchanged with the simulated Fluid, credentials sealed and stored, registration jobs queued, `{{\"status\":\"active\"}}` out. The exchange call itself (the simulator's time plus loopback) averaged {:.2} ms (`droplet_fluid_request_duration_seconds`); it is subtracted in the second row.\n",
        h.installs, h.exchange_mean_ms
    );
    let _ = writeln!(out, "| | p50 ms | p99 ms |\n|---|---:|---:|");
    let _ = writeln!(
        out,
        "| webhook in → active (client-side) | {:.2} | {:.2} |",
        h.p50_ms, h.p99_ms
    );
    let _ = writeln!(
        out,
        "| excluding the exchange call | {:.2} | {:.2} |",
        (h.p50_ms - h.exchange_mean_ms).max(0.0),
        (h.p99_ms - h.exchange_mean_ms).max(0.0)
    );

    let _ = writeln!(out, "\n## Admin pages\n");
    let _ = writeln!(
        out,
        "Server rendering (`wrk -t1 -c4`, HTML only, SQLite), after the runs above; the overview charts the day it says: \"{}\"\n",
        results.ssr_activity
    );
    table(&mut out, &results.ssr, None, None, false);
    if !results.pages.is_empty() {
        let _ = writeln!(
            out,
            "\nIn Debian's Chromium (the end2end weight spec, release binary): everything the first load transfers, compressed, and the time until the page's islands are hydrated.\n"
        );
        let _ = writeln!(
            out,
            "| page | first load (compressed) | interactive | layout shift |\n|---|---:|---:|---:|"
        );
        for page in &results.pages {
            let _ = writeln!(
                out,
                "| `{}` | {:.1} KB | {} ms | {} |",
                page.path,
                page.bytes as f64 / 1000.0,
                page.interactive_ms,
                page.layout_shift
            );
        }
    }

    let m = &results.memory;
    let _ = writeln!(out, "\n## Memory and start-up\n");
    let _ = writeln!(out, "| | |\n|---|---:|");
    let _ = writeln!(
        out,
        "| RSS, idle after start (SQLite) | {:.1} MiB |",
        m.idle_kib as f64 / 1024.0
    );
    let _ = writeln!(
        out,
        "| RSS with {} installations and {} stored events (after the runs above; seeded in {:.0} s through the real endpoints) | {:.1} MiB |",
        m.installations,
        m.events,
        m.seed_seconds,
        m.loaded_kib as f64 / 1024.0
    );
    for (label, median, fastest) in &results.cold_start {
        let _ = writeln!(
            out,
            "| cold start to `/readyz` 200, {label}: median (fastest) of 5 | {median:.0} ms ({fastest:.0} ms) |"
        );
    }

    if !results.notes.is_empty() {
        let _ = writeln!(out, "\n## Notes\n");
        for note in &results.notes {
            let _ = writeln!(out, "- {note}");
        }
    }
    // Profiles are read by a person from `perf`, not by this run: kept in a file of their own and
    // carried into every report.
    if let Ok(profile) = std::fs::read_to_string(&settings.profile) {
        let _ = write!(out, "\n{}", profile.trim_end());
        out.push('\n');
    }
    let _ = writeln!(
        out,
        "\n## Reproduce\n\n```bash\nmake bench            # BENCH_SECONDS, BENCH_CONNECTIONS, BENCH_DATABASE_URL to vary\n```"
    );
    out
}
