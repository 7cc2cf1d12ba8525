//! Fluid's droplet protocol, independent of any web framework or storage: how Fluid signs what it
//! sends, and the shapes of the payloads it really sends.

pub mod callbacks;
pub mod carts;
pub mod client;
pub mod company_events;
pub mod drop_zones;
pub mod droplet;
pub mod lifecycle;
pub mod secret;
pub mod signature;
#[cfg(feature = "sim")]
pub mod sim;
pub mod viewer;

pub use secret::Secret;
