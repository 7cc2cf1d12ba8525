//! What `GET /metrics` exposes, in Prometheus' text format: request latency per route, calls to
//! Fluid per endpoint, job outcomes, company events, shed requests and the database pool. Labels
//! are fixed names (route templates, endpoint names), never ids, so series stay few. What a
//! client sends can pick a label only among a fixed set: a request's method is a [`Method`], its
//! route a [`Route`], never the raw text, so invented methods or paths create no new series.

use std::{fmt::Write as _, sync::Arc, time::Duration};

use axum::extract::MatchedPath;
use domain::Db;
use prometheus_client::{
    encoding::{EncodeLabelSet, EncodeLabelValue, LabelValueEncoder},
    metrics::{counter::Counter, family::Family, gauge::Gauge, histogram::Histogram},
    registry::Registry,
};

/// A request's method as a label: one of the methods the service knows, or `other` for any
/// other token a client sends.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub enum Method {
    Get,
    Head,
    Post,
    Put,
    Patch,
    Delete,
    Options,
    /// Every other method, standard (TRACE, CONNECT) or invented.
    Other,
}

impl Method {
    /// The label of `method`.
    pub fn of(method: &http::Method) -> Self {
        match *method {
            http::Method::GET => Self::Get,
            http::Method::HEAD => Self::Head,
            http::Method::POST => Self::Post,
            http::Method::PUT => Self::Put,
            http::Method::PATCH => Self::Patch,
            http::Method::DELETE => Self::Delete,
            http::Method::OPTIONS => Self::Options,
            _ => Self::Other,
        }
    }

    /// The label's text: the method's name, or `other`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Get => "GET",
            Self::Head => "HEAD",
            Self::Post => "POST",
            Self::Put => "PUT",
            Self::Patch => "PATCH",
            Self::Delete => "DELETE",
            Self::Options => "OPTIONS",
            Self::Other => "other",
        }
    }
}

impl EncodeLabelValue for Method {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), std::fmt::Error> {
        encoder.write_str(self.as_str())
    }
}

/// A request's route as a label: the template of the route the router matched (one of the
/// router's own, such as `/api/callbacks/{uuid}/{definition}`), or `unmatched` for assets and
/// 404s. Never the request's path.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
pub struct Route(Option<Arc<str>>);

impl Route {
    /// The route the router matched, if any.
    pub fn of(matched: Option<&MatchedPath>) -> Self {
        Self(matched.map(|path| Arc::from(path.as_str())))
    }

    /// The label's text: the route template, or `unmatched`.
    pub fn as_str(&self) -> &str {
        self.0.as_deref().unwrap_or("unmatched")
    }
}

impl EncodeLabelValue for Route {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), std::fmt::Error> {
        encoder.write_str(self.as_str())
    }
}

/// The in-flight pool a request draws from (see `http::limits`): Fluid's webhooks and callbacks,
/// shoppers' checkout widget, or everything else (the admin UI, its assets, 404s).
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub enum Pool {
    Fluid,
    Ui,
    Widget,
}

impl Pool {
    /// The label's text: `fluid`, `ui` or `widget`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Fluid => "fluid",
            Self::Ui => "ui",
            Self::Widget => "widget",
        }
    }
}

impl EncodeLabelValue for Pool {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), std::fmt::Error> {
        encoder.write_str(self.as_str())
    }
}

/// Latency buckets from 0.25 ms to about 8 s.
fn latency_histogram() -> Histogram {
    Histogram::new(prometheus_client::metrics::histogram::exponential_buckets(
        0.000_25, 2.0, 16,
    ))
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: Route,
    method: Method,
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
struct DriftLabels {
    kind: &'static str,
    /// `fixed`, or `reported` when reconciling leaves it alone (another service's).
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

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ShedLabels {
    pool: Pool,
}

/// The service's metrics. Shared by the HTTP edge, the worker and the Fluid client.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Histogram, fn() -> Histogram>,
    fluid_calls: Family<FluidLabels, Histogram, fn() -> Histogram>,
    jobs: Family<JobLabels, Counter>,
    drift: Family<DriftLabels, Counter>,
    moved: Counter,
    company_events: Family<OutcomeLabels, Counter>,
    installs: Family<OutcomeLabels, Counter>,
    shed: Family<ShedLabels, Counter>,
    checkout_widget: Family<OutcomeLabels, Counter>,
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
        let drift = Family::default();
        registry.register(
            "registration_drift",
            "Differences found between what Fluid holds and what the droplet wants, by kind (callback_missing, callback_duplicate, callback_orphan, callback_wrong, callback_taken, webhook_missing, webhook_duplicate, webhook_orphan, webhook_wrong, drop_zone_missing, drop_zone_wrong, drop_zone_orphan) and outcome (fixed; failed: tried again by the next check; reported: another service's, left alone)",
            drift.clone(),
        );
        let moved = Counter::default();
        registry.register(
            "registrations_moved",
            "Registrations on Fluid moved to this instance's PUBLIC_URL from another (a deploy at a new URL)",
            moved.clone(),
        );
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
        let shed = Family::<ShedLabels, Counter>::default();
        // Both pools' series exist from the start, at 0.
        for pool in [Pool::Fluid, Pool::Ui, Pool::Widget] {
            drop(shed.get_or_create(&ShedLabels { pool }));
        }
        registry.register(
            "requests_shed",
            "Requests shed because their pool was full: fluid (MAX_CONCURRENT_REQUESTS) or ui (MAX_CONCURRENT_UI_REQUESTS), refused with 503; widget (MAX_CONCURRENT_WIDGET_REQUESTS), answered with the widget's empty page",
            shed.clone(),
        );
        let checkout_widget = Family::default();
        registry.register(
            "checkout_widget_renders",
            "Checkout widget pages served, by outcome: shown, or why the shopper saw an empty page (unknown_key, off, not_active, no_cart, no_options, cart_not_found, carts_api_unavailable, carts_api_rate_limited, timed_out, storage, nothing_chosen, shed); previews are not counted",
            checkout_widget.clone(),
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
            drift,
            moved,
            company_events,
            installs,
            shed,
            checkout_widget,
            activity_dropped,
            pool,
        }
    }
}

impl Metrics {
    /// A request to `route` with `method` answered `status` after `elapsed`.
    pub fn request(&self, route: Route, method: Method, status: u16, elapsed: Duration) {
        self.requests
            .get_or_create(&RequestLabels {
                route,
                method,
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

    /// Reconciling found drift of `kind`, and it ended `outcome` (`fixed`, `failed`, `reported`).
    pub fn drift(&self, kind: &'static str, outcome: &'static str) {
        self.drift.get_or_create(&DriftLabels { kind, outcome }).inc();
    }

    /// `count` registrations were moved to this instance's `PUBLIC_URL`.
    pub fn moved(&self, count: usize) {
        self.moved.inc_by(u64::try_from(count).unwrap_or(u64::MAX));
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

    /// A request was shed because `pool` was full.
    pub fn shed(&self, pool: Pool) {
        self.shed.get_or_create(&ShedLabels { pool }).inc();
    }

    /// A checkout widget page was served: `shown`, or why it was empty.
    pub fn checkout_widget(&self, outcome: &'static str) {
        self.checkout_widget
            .get_or_create(&OutcomeLabels { outcome })
            .inc();
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
