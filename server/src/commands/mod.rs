//! The operator commands besides `serve`.

pub mod audit;
pub mod callbacks;
pub mod dev;
pub mod droplet;
pub mod events;
pub mod installations;
pub mod keys;
pub mod migrate;
pub mod reconcile;
pub mod sim;
