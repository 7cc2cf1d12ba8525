//! The last 24 hours as an SVG the server draws: webhooks received and callbacks answered per
//! hour, and callback latency (p50, p99) against the callback timeout on a log scale.

use leptos::prelude::*;

use crate::overview::{Activity, ActivityHour};

const WIDTH: f64 = 720.0;
const LEFT: f64 = 58.0;
const RIGHT: f64 = 8.0;
const COUNTS_TOP: f64 = 20.0;
const COUNTS_HEIGHT: f64 = 96.0;
const LATENCY_TOP: f64 = 156.0;
const LATENCY_HEIGHT: f64 = 120.0;
const HEIGHT: f64 = 306.0;
/// The bottom of the latency scale, milliseconds.
const FLOOR_MS: f64 = 0.1;

/// The activity card.
#[component]
pub fn ActivityChart(activity: Activity) -> impl IntoView {
    let hours = &activity.hours;
    let webhooks: u32 = hours.iter().map(|h| h.webhooks).sum();
    let callbacks: u32 = hours.iter().map(|h| h.callbacks).sum();
    let degraded: u32 = hours.iter().map(|h| h.degraded).sum();
    let worst_p99 = hours
        .iter()
        .filter_map(|h| h.p99_ms)
        .fold(None, |worst: Option<f64>, v| Some(worst.map_or(v, |w| w.max(v))));
    let summary = format!(
        "Last 24 hours: {webhooks} webhook(s) received, {callbacks} callback(s) answered{}{}.",
        if degraded > 0 {
            format!(" ({degraded} with the fallback or an error)")
        } else {
            String::new()
        },
        worst_p99
            .map(|p| format!(", slowest hourly p99 {}", milliseconds(p)))
            .unwrap_or_default(),
    );
    view! {
        <section class="card" aria-labelledby="activity-title">
            <h2 id="activity-title">"Activity"</h2>
            <p class="muted" data-testid="activity-summary">{summary.clone()}</p>
            <div class="chart-scroll">
            <svg
                class="chart"
                viewBox=format!("0 0 {WIDTH} {HEIGHT}")
                role="img"
                aria-label=summary
                preserveAspectRatio="xMidYMid meet"
            >
                {counts(hours)}
                {latency(hours, activity.timeout_ms)}
                {hour_labels(hours)}
            </svg>
            </div>
            <ul class="legend">
                <li><span class="swatch swatch-webhooks"></span>"Webhooks"</li>
                <li><span class="swatch swatch-callbacks"></span>"Callbacks"</li>
                <li><span class="swatch swatch-p50"></span>"p50 latency"</li>
                <li><span class="swatch swatch-p99"></span>"p99 latency"</li>
                <li><span class="swatch swatch-timeout"></span>"Timeout"</li>
            </ul>
        </section>
    }
}

fn slot(hours: usize) -> f64 {
    (WIDTH - LEFT - RIGHT) / hours.max(1) as f64
}

fn counts(hours: &[ActivityHour]) -> impl IntoView + use<> {
    let most = hours
        .iter()
        .map(|h| h.webhooks.max(h.callbacks))
        .max()
        .unwrap_or(0)
        .max(1);
    let slot = slot(hours.len());
    let bar = (slot - 4.0) / 2.0;
    let height = move |count: u32| f64::from(count) / f64::from(most) * COUNTS_HEIGHT;
    let base = COUNTS_TOP + COUNTS_HEIGHT;
    let bars = hours
        .iter()
        .enumerate()
        .map(|(i, hour)| {
            let x = LEFT + i as f64 * slot + 2.0;
            let (w, c) = (height(hour.webhooks), height(hour.callbacks));
            view! {
                <g>
                    <title>{format!("{}: {} webhook(s), {} callback(s)", hour.label, hour.webhooks, hour.callbacks)}</title>
                    <rect class="bar-webhooks" x=x y=base - w width=bar height=w/>
                    <rect class="bar-callbacks" x=x + bar y=base - c width=bar height=c/>
                </g>
            }
        })
        .collect_view();
    view! {
        <text class="panel-label" x=LEFT y=COUNTS_TOP - 2.0>"Per hour"</text>
        <text class="axis" x=LEFT - 6.0 y=COUNTS_TOP + 4.0 text-anchor="end">{most.to_string()}</text>
        <text class="axis" x=LEFT - 6.0 y=base text-anchor="end">"0"</text>
        <line class="gridline" x1=LEFT x2=WIDTH - RIGHT y1=base y2=base/>
        {bars}
    }
}

/// Where `ms` sits on the log scale from [`FLOOR_MS`] (bottom) to `timeout_ms` (top).
fn latency_y(ms: f64, timeout_ms: f64) -> f64 {
    let span = (timeout_ms / FLOOR_MS).log10();
    let share = ((ms.max(FLOOR_MS) / FLOOR_MS).log10() / span).min(1.0);
    LATENCY_TOP + LATENCY_HEIGHT * (1.0 - share)
}

fn latency(hours: &[ActivityHour], timeout_ms: f64) -> impl IntoView + use<> {
    let slot = slot(hours.len());
    let points = |read: fn(&ActivityHour) -> Option<f64>| {
        hours
            .iter()
            .enumerate()
            .filter_map(|(i, h)| {
                read(h).map(|ms| (LEFT + (i as f64 + 0.5) * slot, latency_y(ms, timeout_ms)))
            })
            .map(|(x, y)| format!("{x:.1},{y:.1}"))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let ticks = [FLOOR_MS, 1.0, 10.0, 100.0, 1_000.0, 10_000.0]
        .into_iter()
        .filter(|&ms| ms < timeout_ms)
        .map(|ms| {
            let y = latency_y(ms, timeout_ms);
            view! {
                <line class="gridline" x1=LEFT x2=WIDTH - RIGHT y1=y y2=y/>
                <text class="axis" x=LEFT - 6.0 y=y + 4.0 text-anchor="end">{milliseconds(ms)}</text>
            }
        })
        .collect_view();
    let top = latency_y(timeout_ms, timeout_ms);
    let dots = hours
        .iter()
        .enumerate()
        .filter_map(|(i, h)| Some((i, h, h.p99_ms?, h.p50_ms?)))
        .map(|(i, h, p99, p50)| {
            let x = LEFT + (i as f64 + 0.5) * slot;
            view! {
                <circle class="dot-p99" cx=x cy=latency_y(p99, timeout_ms) r="3">
                    <title>{format!("{}: p50 {}, p99 {}", h.label, milliseconds(p50), milliseconds(p99))}</title>
                </circle>
                <circle class="dot-p50" cx=x cy=latency_y(p50, timeout_ms) r="3"/>
            }
        })
        .collect_view();
    view! {
        <text class="panel-label" x=LEFT y=LATENCY_TOP - 12.0>"Callback latency"</text>
        {ticks}
        <line class="timeout" x1=LEFT x2=WIDTH - RIGHT y1=top y2=top/>
        <text class="axis" x=LEFT - 6.0 y=top + 4.0 text-anchor="end">{milliseconds(timeout_ms)}</text>
        <polyline class="line-p99" points=points(|h| h.p99_ms)/>
        <polyline class="line-p50" points=points(|h| h.p50_ms)/>
        {dots}
    }
}

fn hour_labels(hours: &[ActivityHour]) -> impl IntoView + use<> {
    let slot = slot(hours.len());
    hours
        .iter()
        .enumerate()
        .filter(|(i, _)| i % 6 == 0 || *i == hours.len() - 1)
        .map(|(i, h)| {
            view! {
                <text class="axis" x=LEFT + (i as f64 + 0.5) * slot y=HEIGHT - 6.0 text-anchor="middle">
                    {h.label.clone()}
                </text>
            }
        })
        .collect_view()
}

/// `0.42 ms`, `12 ms`, `1.5 s`.
fn milliseconds(ms: f64) -> String {
    if ms >= 1_000.0 {
        format!("{} s", trim(ms / 1_000.0))
    } else {
        format!("{} ms", trim(ms))
    }
}

fn trim(value: f64) -> String {
    let text = if value >= 10.0 {
        format!("{value:.0}")
    } else {
        format!("{value:.2}")
    };
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        text
    }
}
