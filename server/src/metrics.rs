//! What `GET /metrics` exposes, in Prometheus' text format: request latency per route, calls to
//! Fluid per endpoint, job outcomes, company events, shed requests and the database pool. Labels
//! are fixed names (route templates, endpoint names), never ids, so series stay few.

use std::time::Duration;

use domain::Db;
use prometheus_client::{
    encoding::EncodeLabelSet,
    metrics::{counter::Counter, family::Family, gauge::Gauge, histogram::Histogram},
    registry::Registry,
};

/// Latency buckets from 0.25 ms to about 8 s.
fn latency_histogram() -> Histogram {
    Histogram::new(prometheus_client::metrics::histogram::exponential_buckets(
        0.000_25, 2.0, 16,
    ))
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: String,
    method: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FluidLabels {
    endpoint: &'static str,
    /// The status, or `none` when no answer came.
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct JobLabels {
    kind: &'static str,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PoolLabels {
    state: &'static str,
}

/// The service's metrics. Shared by the HTTP edge, the worker and the Fluid client.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Histogram, fn() -> Histogram>,
    fluid_calls: Family<FluidLabels, Histogram, fn() -> Histogram>,
    jobs: Family<JobLabels, Counter>,
    company_events: Family<OutcomeLabels, Counter>,
    installs: Family<OutcomeLabels, Counter>,
    shed: Counter,
    activity_dropped: Counter,
    pool: Family<PoolLabels, Gauge>,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("droplet");
        let requests = Family::<RequestLabels, Histogram, fn() -> Histogram>::new_with_constructor(
            latency_histogram as fn() -> Histogram,
        );
        registry.register(
            "http_request_duration_seconds",
            "Time to answer a request, by route template, method and status",
            requests.clone(),
        );
        let fluid_calls = Family::<FluidLabels, Histogram, fn() -> Histogram>::new_with_constructor(
            latency_histogram as fn() -> Histogram,
        );
        registry.register(
            "fluid_request_duration_seconds",
            "Time Fluid's API took to answer one attempt of a call, by endpoint and status",
            fluid_calls.clone(),
        );
        let jobs = Family::default();
        registry.register("jobs", "Background job runs, by kind and outcome", jobs.clone());
        let company_events = Family::default();
        registry.register(
            "company_events",
            "Company webhook events acknowledged, stored or duplicate",
            company_events.clone(),
        );
        let installs = Family::default();
        registry.register(
            "installs",
            "Install deliveries, by outcome (active, unchanged, ignored, superseded, refused, answer_lost, bad_answer, failed_before)",
            installs.clone(),
        );
        let shed = Counter::default();
        registry.register(
            "requests_shed",
            "Requests refused with 503 because MAX_CONCURRENT_REQUESTS were in flight",
            shed.clone(),
        );
        let activity_dropped = Counter::default();
        registry.register(
            "callback_records_dropped",
            "Callback invocations not recorded because the writer was too far behind",
            activity_dropped.clone(),
        );
        let pool = Family::default();
        registry.register(
            "db_pool_connections",
            "Database connections of this instance: open, idle, and the configured max",
            pool.clone(),
        );
        Self {
            registry,
            requests,
            fluid_calls,
            jobs,
            company_events,
            installs,
            shed,
            activity_dropped,
            pool,
        }
    }
}

impl Metrics {
    /// A request to `route` (its template) answered `status` after `elapsed`.
    pub fn request(&self, route: &str, method: &str, status: u16, elapsed: Duration) {
        self.requests
            .get_or_create(&RequestLabels {
                route: route.to_owned(),
                method: method.to_owned(),
                status,
            })
            .observe(elapsed.as_secs_f64());
    }

    /// One attempt of a call to Fluid.
    pub fn fluid_call(&self, call: fluid::client::CallRecord) {
        let status = call.status.map_or_else(|| "none".to_owned(), |s| s.to_string());
        self.fluid_calls
            .get_or_create(&FluidLabels {
                endpoint: call.endpoint,
                status,
            })
            .observe(call.elapsed.as_secs_f64());
    }

    /// A job of `kind` ran to `outcome` (`done`, `retry`, `failed`, `cancelled`).
    pub fn job(&self, kind: &'static str, outcome: &'static str) {
        self.jobs.get_or_create(&JobLabels { kind, outcome }).inc();
    }

    /// A company event was acknowledged: `stored` or `duplicate`.
    pub fn company_event(&self, outcome: &'static str) {
        self.company_events
            .get_or_create(&OutcomeLabels { outcome })
            .inc();
    }

    /// An install delivery ended in `outcome` (`lifecycle::InstallOutcome::as_str`).
    pub fn install(&self, outcome: &'static str) {
        self.installs.get_or_create(&OutcomeLabels { outcome }).inc();
    }

    /// A request was shed.
    pub fn shed(&self) {
        self.shed.inc();
    }

    /// A callback invocation could not be queued for recording.
    pub fn activity_dropped(&self) {
        self.activity_dropped.inc();
    }

    /// Everything, in Prometheus' text format, the pool's figures taken now.
    pub fn render(&self, db: &Db) -> String {
        let pool = db.status();
        for (state, value) in [("open", pool.open), ("idle", pool.idle), ("max", pool.max)] {
            self.pool
                .get_or_create(&PoolLabels { state })
                .set(i64::from(value));
        }
        let mut text = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.registry);
        text
    }
}
