//! The operator commands besides `serve`.

pub mod installations;
pub mod keys;
pub mod migrate;
