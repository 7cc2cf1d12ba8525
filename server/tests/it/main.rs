//! The integration suite, one binary (one link instead of one per file): the real service over
//! real HTTP, against the simulated Fluid, on SQLite or PostgreSQL (`support`).

mod support;

mod admin_pages;
mod admin_ui;
mod callbacks;
mod checkout_widget;
mod company_webhooks;
mod config;
mod drop_zones;
mod droplet_definition;
mod faults;
mod flood;
mod install;
mod install_faults;
mod instances;
mod lifecycle;
mod limits;
mod metrics;
mod migrations;
mod ordering;
mod process;
mod readiness;
mod reconcile;
mod shipping_csv;
mod shipping_rules;
mod shipping_zones;
mod ui;
mod viewer;
