//! The droplet's domain and storage. Every function takes its dependencies explicitly (`&Db`,
//! `&Keyring`), so the HTTP edge, the admin UI's server functions, the CLI and tests all call the
//! same code. Every query that touches merchant data names its installation.

pub mod activity;
pub mod audit;
pub mod callback_test;
pub mod callbacks;
pub mod callers;
pub mod checkout_widget;
pub mod credentials;
pub mod db;
pub mod deployments;
pub mod drop_zones;
pub mod events;
pub mod exchange_claims;
pub mod fleet;
pub mod installations;
pub mod jobs;
pub mod key_rotation;
pub mod lifecycle;
pub mod page_tokens;
pub mod reconcile;
pub mod registrations;
pub mod shipping;
#[cfg(test)]
mod testing;
pub mod time;
pub mod viewer_sessions;
pub mod webhook_keys;

pub use credentials::{Keyring, SealContext};
pub use db::{DatabaseUrl, Db, DbError};
